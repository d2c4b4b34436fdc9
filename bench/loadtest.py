"""Many workers on one Redis and one PostgreSQL (issue 14): ``make loadtest``, not part
of ``make test``.

4 worker processes, each running ``Router.achat`` at concurrency 64, share 20,000
calls against two OpenAI stand-ins (``polyroute.testing.standin``; the OpenAI wire
format of its plugin) that inject 429s (with Retry-After), 500s and hangs past the
read timeout. Budgets and rate limits live in Redis (``state.backend: redis``), the
usage ledger in PostgreSQL (``ledger.url``). It prints, as JSON lines: throughput,
p50/p99 latency, calls answered and failed by error type, budget spent vs its limit,
the primary's requests in its busiest minute vs its configured rpm, and ledger rows
vs calls (0 lost). Redis at 127.0.0.1:6379 and PostgreSQL at 127.0.0.1:5432 (user
postgres, db test) are required; the run uses a throwaway key prefix and schema.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
import uuid
from bisect import bisect_left
from collections import Counter
from datetime import UTC, datetime
from typing import Any

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
REDIS = "redis://127.0.0.1:6379/14"


class FlakyResponder:
    """An OpenAI stand-in that answers some requests with a fault: a 429 with
    Retry-After, a 500, or a hang past the client's read timeout. Every request's
    arrival time is kept (for the rpm check)."""

    def __init__(self, seed: int, p429: float, p500: float, p_hang: float, hang_s: float
                 ) -> None:
        from polyroute_openai.standin import OpenAIResponder

        self.inner = OpenAIResponder()
        self.rnd = random.Random(seed)
        self.p429, self.p500, self.p_hang, self.hang_s = p429, p500, p_hang, hang_s
        self.arrivals: list[float] = []
        self.faults: Counter[str] = Counter()
        self._lock = threading.Lock()

    def answer(self, request: Any) -> Any:
        with self._lock:
            self.arrivals.append(time.time())
            x = self.rnd.random()
        if x < self.p429:
            self.faults["429"] += 1
            reply = self.inner.error(request, 429, "Rate limit reached (injected)")
            reply.headers["retry-after"] = "0"
            return reply
        if x < self.p429 + self.p500:
            self.faults["500"] += 1
            return self.inner.error(request, 500, "injected server error")
        if x < self.p429 + self.p500 + self.p_hang:
            self.faults["hang"] += 1
            time.sleep(self.hang_s)
        return self.inner.answer(request)

    def error(self, request: Any, status: int, message: str) -> Any:
        return self.inner.error(request, status, message)

    def stream_error_event(self, request: Any, message: str) -> bytes:
        return bytes(self.inner.stream_error_event(request, message))


WORKER = r"""
import asyncio, collections, json, sys, time
from polyroute.router import Router
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

config, calls, concurrency, start_at = (json.loads(sys.argv[1]), int(sys.argv[2]),
                                        int(sys.argv[3]), float(sys.argv[4]))
router = Router(config)
outcomes, latencies, examples = collections.Counter(), [], {}

async def main():
    sem = asyncio.Semaphore(concurrency)
    async def one(i):
        async with sem:
            req = ChatRequest(messages=[Message.user(f"load {i}")],
                              params=GenerationParams(max_tokens=16),
                              routing=RoutingHints(agent="bot"))
            t0 = time.perf_counter()
            try:
                await router.achat(req)
                outcomes["answered"] += 1
            except Exception as exc:
                outcomes[type(exc).__name__] += 1
                examples.setdefault(type(exc).__name__, str(exc)[:300])
            latencies.append((time.perf_counter() - t0) * 1000)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(one(i) for i in range(calls)))

asyncio.run(main())
done = time.time()
router.close()
print(json.dumps({"outcomes": outcomes, "latencies": latencies, "done": done,
                  "examples": examples}))
"""


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(q * (len(s) - 1)))], 1)


def busiest_minute(arrivals: list[float]) -> int:
    s = sorted(arrivals)
    return max((bisect_left(s, t + 60.0) - i for i, t in enumerate(s)), default=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rpm", type=int, default=600, help="the primary's configured rpm")
    ap.add_argument("--budget", type=float, default=10.0, help="global budget, USD")
    args = ap.parse_args()

    import psycopg
    import redis

    from polyroute.testing.standin import StandinServer

    r = redis.Redis.from_url(REDIS)
    r.ping()
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    schema = f"loadtest_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    prefix = f"polyroute-load-{uuid.uuid4().hex[:8]}:"
    ledger_url = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    primary_r = FlakyResponder(1, p429=0.04, p500=0.03, p_hang=0.003, hang_s=6.0)
    secondary_r = FlakyResponder(2, p429=0.0, p500=0.01, p_hang=0.0, hang_s=0.0)
    primary, secondary = StandinServer(primary_r), StandinServer(secondary_r)
    price = {"input": 50.0, "output": 50.0}  # USD per million tokens: the budget binds
    config = {
        "providers": {
            "primary": {"type": "openai", "base_url": f"{primary.url}/v1", "api_key": "sk-load",
                        "rpm": args.rpm},
            "secondary": {"type": "openai", "base_url": f"{secondary.url}/v1",
                          "api_key": "sk-load"},
        },
        "agents": {"bot": {"model": "primary:gpt-4o-mini",
                           "fallbacks": ["secondary:gpt-4o-mini"]}},
        "pricing": {"overrides": {"primary:gpt-4o-mini": price,
                                  "secondary:gpt-4o-mini": price}},
        "budgets": [{"scope": "global", "usd": args.budget, "per": "total"}],
        "state": {"backend": "redis", "url": REDIS, "prefix": prefix},
        "ledger": {"url": ledger_url, "retention_days": None},
        "retry": {"attempts": 2, "initial_backoff": 0.01, "max_backoff": 0.05},
        "timeouts": {"connect": 15.0, "read": 5.0, "total": 30.0},
    }
    from polyroute.ledger.postgres import connect_pg_ledger

    connect_pg_ledger(ledger_url).close()  # the schema, once, before the workers race
    share = [args.calls // args.workers + (w < args.calls % args.workers)
             for w in range(args.workers)]
    try:
        with primary, secondary:
            start_at = time.time() + 4.0  # every worker imported and built by then
            procs = [subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(config), str(n),
                 str(args.concurrency), str(start_at)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in share]
            results = []
            for p in procs:
                out, err = p.communicate(timeout=1800)
                if p.returncode != 0:
                    raise SystemExit(f"a worker failed:\n{err[-3000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
        wall = max(x["done"] for x in results) - start_at
        outcomes: Counter[str] = Counter()
        for x in results:
            outcomes.update(x["outcomes"])
        lat = [v for x in results for v in x["latencies"]]
        with psycopg.connect(ledger_url) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
            spent = conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM calls").fetchone()[0]
            drops = conn.execute("SELECT COALESCE(SUM(rows), 0) FROM ledger_drops").fetchone()[0]
        from polyroute.state.redis import RedisStore

        held = RedisStore(REDIS, prefix=prefix).get("budget:global:total")
        out = [
            {"machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, "
                        f"Python {platform.python_version()}",
             "date": datetime.now(UTC).isoformat(timespec="seconds"),
             "workers": args.workers, "concurrency": args.concurrency, "calls": args.calls},
            {"throughput_calls_per_s": round(args.calls / wall, 1), "wall_s": round(wall, 1),
             "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99)},
            {"outcomes": dict(outcomes.most_common()),
             "example_errors": {k: v for x in results for k, v in x["examples"].items()}},
            {"injected": {"primary": dict(primary_r.faults),
                          "secondary": dict(secondary_r.faults)},
             "requests": {"primary": len(primary_r.arrivals),
                          "secondary": len(secondary_r.arrivals)}},
            {"budget_limit_usd": args.budget, "spent_usd_ledger": round(float(spent), 6),
             "spent_usd_redis": None if held is None else round(float(held), 6),
             "within_limit": float(spent) <= args.budget + 1e-9},
            {"primary_rpm_configured": args.rpm,
             "primary_busiest_60s_requests": busiest_minute(primary_r.arrivals),
             "run_shorter_than_a_minute": wall < 60.0},
            {"ledger_rows": rows, "calls": args.calls, "lost": args.calls - rows,
             "ledger_drops": int(drops)},
        ]
        for line in out:
            print(json.dumps(line), flush=True)
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
        for key in r.scan_iter(f"{prefix}*"):
            r.delete(key)


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
