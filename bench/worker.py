"""Measure one client in this (fresh) process; print one JSON object on stdout.

Phases, each bounded in calls and in seconds:
  setup       import the client's library and build it; one checked call
  warm-up     sequential calls, then one round at the concurrency (opens the pool)
  sequential  one call at a time: per-call latency, process CPU per call
  concurrent  ``--concurrency`` tasks share ``--calls`` calls: throughput, latency,
              CPU per call, and how busy the server's core was meanwhile
Peak RSS is the process's ``ru_maxrss`` at the end. The driver (``run.py``)
pins this process to one core and the server to another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import clients

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid``."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return None


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


async def sequential(call: Any, n: int, max_s: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    deadline = time.perf_counter() + max_s
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        try:
            await call()
        except Exception:
            errors += 1
        lat.append(time.perf_counter() - t)
        if t > deadline:
            break
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    lat.sort()
    return {
        "calls": len(lat), "errors": errors, "wall_s": wall,
        "p50_ms": pct(lat, 0.5) * 1e3, "p99_ms": pct(lat, 0.99) * 1e3,
        "mean_ms": sum(lat) / len(lat) * 1e3,
        "cpu_per_call_us": cpu / len(lat) * 1e6,
    }


async def concurrent(call: Any, conc: int, total: int, max_s: float,
                     server_pid: int | None) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_s

    async def runner() -> None:
        nonlocal issued, errors
        while issued < total and time.perf_counter() < deadline:
            issued += 1
            t = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
            lat.append(time.perf_counter() - t)

    s0 = proc_cpu(server_pid)
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(conc)))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    s1 = proc_cpu(server_pid)
    lat.sort()
    done = len(lat)
    return {
        "calls": done, "errors": errors, "wall_s": wall,
        "rps": done / wall if wall else float("nan"),
        "p50_ms": pct(lat, 0.5) * 1e3, "p99_ms": pct(lat, 0.99) * 1e3,
        "cpu_per_call_us": cpu / done * 1e6 if done else float("nan"),
        "client_core_busy": cpu / wall if wall else float("nan"),
        "server_core_busy": (s1 - s0) / wall if s0 is not None and s1 is not None and wall
        else None,
        "time_boxed": done < total,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    ctx = clients.Ctx(base_url=args.base_url, fail_url=args.fail_url)
    factory = clients.FACTORIES[args.client]
    t0 = time.perf_counter()
    client = await factory(ctx)
    setup_s = time.perf_counter() - t0
    out: dict[str, Any] = {"client": args.client, "setup_s": setup_s, "notes": client.notes}
    try:
        first = await client.call()
        if not client.check(first):
            raise AssertionError(f"unexpected answer: {str(first)[:300]}")
        # warm-up: code paths, caches, and the connection pool at full size
        await sequential(client.call, args.warmup, 1.0)
        if args.concurrency > 1:
            await concurrent(client.call, args.concurrency, args.concurrency * 4, 2.0, None)
        gc.collect()
        out["sequential"] = await sequential(client.call, args.seq, args.seq_seconds)
        if args.concurrency > 1:
            out["concurrent"] = await concurrent(
                client.call, args.concurrency, args.calls, args.conc_seconds, args.server_pid
            )
        last = await client.call()  # still the expected answer after the timed phases?
        if not client.check(last):
            raise AssertionError(f"unexpected answer after the run: {str(last)[:300]}")
    finally:
        await client.aclose()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=sorted(clients.FACTORIES))
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--fail-url", required=True)
    ap.add_argument("--seq", type=int, default=1000)
    ap.add_argument("--seq-seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--conc-seconds", type=float, default=6.0)
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--cpu", type=int, default=None)
    args = ap.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    try:
        result = asyncio.run(main_async(args))
    except clients.NotPresent as exc:
        result = {"client": args.client, "not_present": str(exc)}
    except Exception as exc:
        result = {"client": args.client, "error": f"{type(exc).__name__}: {exc}",
                  "trace": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
