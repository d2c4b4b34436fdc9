"""Router.achat at concurrency 64 with each state backend: memory, SQLite, Redis.

Issue 14's target: with ``state.backend: redis`` throughput stays within 20 % of the
in-memory store. Every feature is on (bench/polyroute_features.py), so each call
reads and writes the store several times (breaker, rate limit, budget, health).
Each backend runs in a fresh worker process against the same fake server, in
interleaved rounds; the median per backend is kept.

    bench/.venv/bin/python bench/state_backends.py            # alone
    make bench                                                # a row of bench/run.py

Redis: POLYROUTE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/15); keys go under
a prefix of their own, deleted after. A backend that cannot run (no Redis) is
reported as not present, never guessed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import backend_runs  # noqa: E402
from backend_runs import run_worker  # noqa: E402

BACKENDS = ("memory", "sqlite", "redis")
REDIS_ENV = "POLYROUTE_BENCH_REDIS_URL"
X = "\N{MULTIPLICATION SIGN}"


def _redis_url() -> str:
    return os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/15")


async def _worker(a: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import clients
    from polyroute_features import features_config

    from polyroute.config.cost import StateConfig
    from polyroute.router import Router

    ctx = clients.Ctx(base_url=a.base_url, fail_url=a.fail_url)
    cfg, on = features_config(ctx)
    if a.backend == "sqlite":
        state = StateConfig(backend="sqlite", path=str(Path(ctx.tmp) / "state.db"))
    elif a.backend == "redis":
        state = StateConfig.model_validate({"backend": "redis", "url": a.redis_url,
                                            "prefix": a.prefix})
    else:
        state = StateConfig()
    router = Router(cfg.model_copy(update={"state": state}))
    out = await backend_runs.drive(router, a)
    return {"backend": a.backend, "guards": [type(g).__name__ for g in router.guards],
            "features": sorted(k for k, v in on.items() if v), **out}


def _run_one(backend: str, base_url: str, fail_url: str, server_pid: int | None,
             cpu: int | None, concurrency: int, calls: int, seconds: float,
             prefix: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--backend", backend,
           "--base-url", base_url, "--fail-url", fail_url, "--concurrency", str(concurrency),
           "--calls", str(calls), "--seconds", str(seconds), "--prefix", prefix,
           "--redis-url", _redis_url()]
    return run_worker(cmd, {"backend": backend}, server_pid=server_pid, cpu=cpu,
                      seconds=seconds, env=env)


def _redis_present() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    client = redis.Redis.from_url(_redis_url(), socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis at {_redis_url()} ({type(exc).__name__}); set {REDIS_ENV}"
    finally:
        client.close()
    return None


def _cleanup(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(_redis_url())
    try:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    finally:
        client.close()


def measure(base_url: str, fail_url: str, server_pid: int | None, cpu: int | None, *,
            rounds: int = 3, concurrency: int = 64, calls: int = 3000, seconds: float = 4.0,
            env: dict[str, str] | None = None, log: Any = print) -> dict[str, Any]:
    """``{backend: median result}`` and the Redis-vs-memory target."""
    missing = {"redis": _redis_present()}
    prefix = f"polyroute-bench-{uuid.uuid4().hex[:10]}:"
    try:
        runs = backend_runs.rounds(
            BACKENDS, missing, rounds,
            lambda b: _run_one(b, base_url, fail_url, server_pid, cpu, concurrency, calls,
                               seconds, prefix, env),
            log, "state.backend")
    finally:
        if not missing["redis"]:
            _cleanup(prefix)
    out = backend_runs.medians(runs, missing)
    mem, red = out["memory"].get("rps"), out["redis"].get("rps")
    target: dict[str, Any] = {"target": "Router.achat req/s at c=64 with state.backend redis "
                                        f"≥ 0.8{X} the in-memory store (backends run in turn)"}
    if mem and red:
        target.update(measured=f"{red:.0f} vs {mem:.0f} req/s = {red / mem:.2f}{X}",
                      met=red >= 0.8 * mem, margin=f"{red / mem / 0.8:.2f} of the target")
    else:
        target.update(measured=out["redis"].get("not_present") or out["redis"].get("error")
                      or "—", met=None, margin="not measurable")
    out["target"] = target
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backend_runs.worker_args(ap)
    ap.add_argument("--backend", choices=BACKENDS, default="memory")
    ap.add_argument("--prefix", default="polyroute-bench:")
    ap.add_argument("--redis-url", default=_redis_url())
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(asyncio.run(_worker(a))), flush=True)
        return
    print(json.dumps(backend_runs.against_fake_server(measure, a), indent=1))


if __name__ == "__main__":
    main()
