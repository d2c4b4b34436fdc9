"""Where a client's CPU goes at concurrency 64, thread by thread, with context switches.

    bench/.venv/bin/python bench/threads.py                       # the default clients
    bench/.venv/bin/python bench/threads.py --only pyreqwest,polyroute_pyreqwest --calls 20000

Runs like bench/run.py (fake server pinned to one core, clients to another), all
clients in this one process, one after the other, and reads Linux's per-thread
counters (/proc/self/task/*/stat and status) around each timed run: CPU per call of
each thread (the event loop's, pyreqwest's Rust runtime, the ledger's writer) and its
voluntary (it waited: a lock, the GIL, IO) and involuntary (it was preempted) context
switches per call, and the cyclic GC's collections per generation (``gc.callbacks``).
This is what showed why polyroute over pyreqwest is slower than over aiohttp although
raw pyreqwest is the faster client, and what the GC costs at c=64 (docs/benchmark.md,
"2026-12-05 02:55"). Linux only; CPU comes in clock ticks (10 ms), so use thousands of
calls.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
from run import Server, pin_plan  # noqa: E402

DEFAULT = "aiohttp,pyreqwest,polyroute,polyroute_pyreqwest"
Counters = dict[str, tuple[str, int, int, int]]  # tid -> (name, CPU ticks, voluntary, involuntary)


def threads() -> Counters:
    out: Counters = {}
    for tid in os.listdir("/proc/self/task"):
        base = f"/proc/self/task/{tid}"
        try:
            with open(f"{base}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{base}/status") as f:
                status = f.read()
            with open(f"{base}/comm") as f:
                name = f.read().strip()
        except OSError:  # the thread ended while being read
            continue
        vol = int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
        invol = int(status.split("nonvoluntary_ctxt_switches:")[1].split()[0])
        out[tid] = (name, int(fields[11]) + int(fields[12]), vol, invol)
    return out


class GcTimes:
    """Collections and time per generation while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.runs = [[0, 0.0] for _ in range(3)]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            run = self.runs[info["generation"]]
            run[0] += 1
            run[1] += time.perf_counter() - self._t0

    def line(self, calls: int) -> str:
        parts = [f"gen{g} {int(n)} x {t / max(n, 1) * 1e6:,.0f} µs = {t / calls * 1e6:.1f} µs/call"
                 for g, (n, t) in enumerate(self.runs)]
        total = sum(t for _, t in self.runs) / calls * 1e6
        return f"  cyclic GC {total:.1f} µs/call: " + "; ".join(parts)


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def measure(name: str, base_url: str, fail_url: str, calls: int, conc: int,
                  busy_us: float = 0.0) -> list[str]:
    client = await getattr(clients, f"make_{name}")(clients.Ctx(base_url=base_url,
                                                                 fail_url=fail_url))
    per_task = max(1, calls // conc)
    busy = busy_us / 1e6

    async def worker(n: int) -> None:
        for _ in range(n):
            await client.call()
            if busy:  # the event loop's thread kept busy, as a router's own work keeps it
                _burn(busy)

    try:
        await asyncio.gather(*[worker(max(1, per_task // 10)) for _ in range(conc)])  # warm
        gc_times = GcTimes()
        gc.callbacks.append(gc_times)
        before, t0, c0 = threads(), time.perf_counter(), time.process_time()
        try:
            await asyncio.gather(*[worker(per_task) for _ in range(conc)])
        finally:
            gc.callbacks.remove(gc_times)
        wall, cpu, after = time.perf_counter() - t0, time.process_time() - c0, threads()
    finally:
        await client.aclose()
    n = per_task * conc
    tick = os.sysconf("SC_CLK_TCK")
    label = f"{name} + {busy_us:g} µs busy" if busy_us else name
    lines = [f"{label:28s} {n / wall:8,.0f} req/s   CPU/call {cpu / n * 1e6:6.1f} µs"]
    for tid, (tname, ticks, vol, invol) in sorted(after.items()):
        _, t_before, v_before, i_before = before.get(tid, (tname, 0, 0, 0))
        us = (ticks - t_before) / tick / n * 1e6
        v, i = (vol - v_before) / n, (invol - i_before) / n
        if tid == str(os.getpid()):
            tname = "(event loop)"
        if us >= 0.5 or v >= 0.05 or i >= 0.05:
            lines.append(f"  thread {tname:16s} CPU/call {us:6.1f} µs   switches/call: "
                         f"waited {v:5.2f}, preempted {i:5.2f}")
    lines.append(gc_times.line(n))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=DEFAULT, help=f"clients.py names (default {DEFAULT})")
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--busy", default="aiohttp,pyreqwest",
                    help="raw clients also measured with the loop's thread kept busy after "
                         "each call (--busy-us), to show the cost of handing the GIL over")
    ap.add_argument("--busy-us", type=float, default=200.0)
    ap.add_argument("--gc-threshold", type=int, default=None, metavar="N",
                    help="gc.set_threshold(N, 10, 10) first (CPython's default N: 700), to "
                         "measure what a worker's tuning of the cyclic GC saves")
    a = ap.parse_args()
    if not os.path.isdir("/proc/self/task"):
        sys.exit("bench/threads.py reads /proc/self/task: Linux only")
    if a.gc_threshold is not None:
        gc.set_threshold(a.gc_threshold, 10, 10)
    server_cpu, client_cpu = pin_plan()
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    server = Server(server_cpu, max_seconds=1800)
    try:
        print(f"c={a.concurrency}, {a.calls:,} calls each; server on core {server_cpu}, "
              f"clients on core {client_cpu}; ticks of {1e6 / os.sysconf('SC_CLK_TCK'):.0f} µs; "
              f"gc thresholds {gc.get_threshold()}")
        runs = [(n, 0.0) for n in a.only.split(",") if n]
        runs += [(n, a.busy_us) for n in a.busy.split(",") if n and a.busy_us > 0]
        for name, busy_us in runs:
            try:
                lines = asyncio.run(measure(name, server.base_url,
                                            f"http://127.0.0.1:{server.port}/fail/v1",
                                            a.calls, a.concurrency, busy_us))
            except clients.NotPresent as exc:
                lines = [f"{name:28s} not measured: {exc}"]
            print("\n".join(lines), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
