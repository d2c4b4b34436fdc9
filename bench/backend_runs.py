"""What bench/state_backends.py and bench/ledger_backends.py share: one worker process
per run, its JSON line read back, and the medians per backend over the rounds."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["against_fake_server", "drive", "medians", "rounds", "run_worker", "worker_args"]

KEYS = ("rps", "p50_ms", "p99_ms", "cpu_per_call_us", "errors")


def run_worker(cmd: list[str], name: dict[str, str], *, server_pid: int | None,
               cpu: int | None, seconds: float,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` (a ``--worker`` invocation) pinned to ``cpu``; its last JSON line, or
    ``name`` with an ``error``."""
    if server_pid is not None:
        cmd = [*cmd, "--server-pid", str(server_pid)]
    if cpu is not None and shutil.which("taskset") is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 60,
                           env=env)
    except subprocess.TimeoutExpired:
        return {**name, "error": "worker timed out"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)  # type: ignore[no-any-return]
    return {**name, "error": f"worker exited {p.returncode}: {p.stderr[-600:]}"}


def rounds(names: Sequence[str], missing: dict[str, str | None], n: int,
           run: Callable[[str], dict[str, Any]], log: Callable[[str], Any],
           label: str) -> dict[str, list[dict[str, Any]]]:
    """``n`` interleaved rounds of ``run(name)`` for each name not ``missing``."""
    runs: dict[str, list[dict[str, Any]]] = {b: [] for b in names}
    for r in range(n):
        for b in names:
            if missing.get(b):
                continue
            res = run(b)
            runs[b].append(res)
            tag = res.get("error") or f"{res.get('rps', 0):.0f} req/s, " \
                f"p99 {res.get('p99_ms', 0):.1f} ms, {res.get('errors', 0)} errors"
            log(f"  round {r + 1}/{n} {label} {b:8} {tag[:110]}")
    return runs


def medians(runs: dict[str, list[dict[str, Any]]],
            missing: dict[str, str | None]) -> dict[str, Any]:
    """``{name: medians of its good runs}``, or why there are none."""
    out: dict[str, Any] = {}
    for b, got in runs.items():
        good = [x for x in got if "rps" in x]
        if missing.get(b):
            out[b] = {"not_present": missing[b]}
        elif not good:
            out[b] = {"error": (got or [{}])[0].get("error", "no run")}
        else:
            out[b] = {k: statistics.median(x[k] for x in good) for k in KEYS}
            out[b]["features"] = good[0]["features"]
    return out


def worker_args(ap: Any) -> None:
    """The arguments both scripts' ``--worker`` and main runs take."""
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--base-url")
    ap.add_argument("--fail-url")
    ap.add_argument("--server-pid", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)


def against_fake_server(measure: Callable[..., dict[str, Any]], a: Any) -> dict[str, Any]:
    """``measure`` against bench/run.py's fake server, pinned as ``make bench`` pins it."""
    from run import Server, pin_plan

    server_cpu, client_cpu = pin_plan()
    server = Server(server_cpu, max_seconds=600)
    try:
        return measure(server.base_url, server.fail_url, server.proc.pid, client_cpu,
                       rounds=a.rounds, concurrency=a.concurrency, calls=a.calls,
                       seconds=a.seconds)
    finally:
        server.stop()


async def drive(router: Any, a: Any) -> dict[str, Any]:
    """A worker's run: one checked call, a warm-up, then ``a.calls`` at
    ``a.concurrency``; closes ``router``."""
    import clients
    import worker

    request = clients._request(agent="bench")

    async def call() -> Any:
        return await router.achat(request)

    try:
        first = await call()
        if not clients._pr_check(first):
            raise AssertionError(f"unexpected answer: {str(first)[:300]}")
        await worker.concurrent(call, a.concurrency, a.concurrency * 4, 2.0, None)  # warm
        out: dict[str, Any] = await worker.concurrent(call, a.concurrency, a.calls, a.seconds,
                                                      a.server_pid)
        return out
    finally:
        await router.aclose()
