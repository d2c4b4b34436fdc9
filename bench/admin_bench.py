"""Admin surfaces at scale (issue 18): the admin API over 10,000 registry rows, and the
usage summary over 1,000,000 ledger rows.

Run with ``make bench-admin`` (not part of ``make test``). The API is driven in-process
through Starlette's ``TestClient`` (an httpx client speaking ASGI to the app: no sockets,
so the figures are the app + database, not the network). PostgreSQL is the machine's
(127.0.0.1:5432, user postgres, db test) in a throwaway schema; without it that part is
skipped with a message. Figures are printed as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from polyroute.admin import KeyRing, Registry, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.admin.models import Budget, Provider
from polyroute.ledger.store import CALL_COLUMNS, connect_ledger, ensure_rollups

API = "/api/admin"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], n: int) -> dict[str, float]:
    ms = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return {"n": n, "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
            "p99_ms": round(pct(ms, 99), 2), "mean_ms": round(statistics.fmean(ms), 2)}


@contextmanager
def pg_schema() -> Iterator[str | None]:
    try:
        import psycopg

        conn = psycopg.connect(PG_ADMIN, autocommit=True)
    except Exception as exc:  # no server: say so and skip
        print(f"# PostgreSQL not reachable ({exc!s:.100}); skipping its part", file=sys.stderr)
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield PG_URL.format(schema=schema)
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


def seed_registry(reg: Registry, rows: int) -> None:
    """Providers and budgets straight into the tables (the bench measures reads/writes
    through the API, not the seeding), one transaction."""
    caps = [["tools"], ["tools", "vision"], ["embeddings"]]
    with reg.writing() as (session, _head):
        session.add_all(
            Provider(identifier=f"p{i:05d}", name=f"Provider {i}", provider_type="openai",
                     api_endpoint=f"https://api{i}.example.test/v1", auth_method="custom",
                     capabilities=caps[i % 3], status=("active", "inactive", "testing")[i % 3],
                     created_by="bench")
            for i in range(rows // 2))
        session.add_all(Budget(name=f"b{i:05d}", scope=f"agent:a{i % 50}", usd=10.0 + i,
                               created_by="bench")
                        for i in range(rows - rows // 2))


def bench_api(url: str, backend: str, rows: int, n: int) -> list[dict[str, Any]]:
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    t0 = time.perf_counter()
    seed_registry(reg, rows)
    seeded_s = time.perf_counter() - t0
    reg.create("user", {"name": "bench-admin", "role": "admin"}, actor="bench")
    token = reg.create_token("bench-admin", actor="bench")[1]
    settings = AdminSettings(keyring=reg.keyring)
    client = TestClient(create_app(registry=reg, settings=settings))
    auth = {"Authorization": f"Bearer {token}"}
    rnd = random.Random(18)

    def get(path: str) -> Any:
        r = client.get(API + path, headers=auth)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        return r

    reads = {
        "list providers (page 50, offset random)":
            lambda: get(f"/providers?limit=50&offset={rnd.randrange(0, rows // 2)}"),
        "list providers filtered (status+capability)":
            lambda: get("/providers?status=testing&capability=vision&limit=50"),
        "list budgets filtered (scope)":
            lambda: get(f"/budgets?scope=agent:a{rnd.randrange(50)}&limit=50"),
        "read one budget": lambda: get(f"/budgets/b{rnd.randrange(rows - rows // 2):05d}"),
    }
    counter = iter(range(10**9))

    def create_budget() -> None:
        r = client.post(API + "/budgets", headers=auth,
                        json={"name": f"new{next(counter)}", "usd": 5.0, "per": "day"})
        assert r.status_code == 201, r.text[:200]

    def update_budget() -> None:
        name = f"b{rnd.randrange(rows - rows // 2):05d}"
        etag = get(f"/budgets/{name}").headers["ETag"]
        t0 = time.perf_counter()
        r = client.put(API + f"/budgets/{name}", headers={**auth, "If-Match": etag},
                       json={"usd": rnd.uniform(1, 100)})
        assert r.status_code == 200, r.text[:200]
        update_ms.append((time.perf_counter() - t0) * 1000)

    out = []
    for _ in range(20):  # warm the pool and caches
        next(iter(reads.values()))()
    for name, fn in reads.items():
        out.append({"part": "api", "backend": backend, "rows": rows, "op": f"GET {name}",
                    **timed(fn, n)})
    out.append({"part": "api", "backend": backend, "rows": rows, "op": "POST create budget",
                **timed(create_budget, n)})
    update_ms: list[float] = []
    for _ in range(n):
        update_budget()
    out.append({"part": "api", "backend": backend, "rows": rows,
                "op": "PUT update budget (If-Match)", "n": n,
                "p50_ms": round(pct(update_ms, 50), 2), "p95_ms": round(pct(update_ms, 95), 2),
                "p99_ms": round(pct(update_ms, 99), 2),
                "mean_ms": round(statistics.fmean(update_ms), 2)})
    out.append({"part": "api", "backend": backend, "rows": rows, "op": "seed",
                "seconds": round(seeded_s, 2)})
    client.close()
    reg.close()
    return out


def seed_ledger(path: Path, rows: int, now: float) -> float:
    conn = connect_ledger(path)
    rnd = random.Random(18)
    providers = [("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku"), ("mistral", "small"),
                 ("gemini", "flash"), ("ollama", "llama3")]
    span = 30 * 86400.0
    t0 = time.perf_counter()

    def gen() -> Iterator[tuple[Any, ...]]:
        for i in range(rows):
            prov, model = providers[i % len(providers)]
            ok = rnd.random() > 0.03
            row = {"id": f"c{i}", "ts": now - span * (i / rows), "agent": f"agent{i % 20}",
                   "route": "default", "provider": prov, "model": model,
                   "input_tokens": 200 + i % 500, "output_tokens": 50 + i % 300,
                   "cached_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
                   "cost_usd": 0.0001 * (1 + i % 7), "cost_saved_usd": 0.0, "price_known": 1,
                   "latency_ms": 100.0 + rnd.expovariate(1 / 300), "ttft_ms": None,
                   "status": "ok" if ok else "error", "error": None if ok else "timeout",
                   "attempts": 1, "fallback": 0, "cache_hit": 0, "stream": 0, "tags": None,
                   "tenant": None, "prompt": None, "answer": None}
            yield tuple(row.get(c) for c in CALL_COLUMNS)

    with conn:
        conn.executemany(f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(CALL_COLUMNS))})", gen())
    conn.close()
    return time.perf_counter() - t0


def bench_usage(rows: int, n: int, raw_n: int = 1) -> list[dict[str, Any]]:
    from polyroute.analytics.stats import usage_stats

    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.db"
        now = time.time()
        seeded = seed_ledger(path, rows, now)
        out.append({"part": "usage", "rows": rows, "op": "seed (executemany, 1 txn)",
                    "seconds": round(seeded, 2)})
        for by in ("model", "day") if raw_n else ():  # before the rollups: a full scan
            out.append({"part": "usage", "rows": rows,
                        "op": f"usage_stats(by={by}, since=30d) raw rows (no rollups)",
                        **timed(lambda by=by: usage_stats(path, by=by, since="30d", now=now),
                                raw_n)})
        t0 = time.perf_counter()
        conn = connect_ledger(path)  # opening for writing backfills the rollups once
        assert not ensure_rollups(conn)  # ... and only once
        hours = conn.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0]
        conn.close()
        out.append({"part": "usage", "rows": rows, "op": "rollup backfill (once, on open)",
                    "seconds": round(time.perf_counter() - t0, 2), "rollup_rows": hours})
        for by in ("model", "day"):
            out.append({"part": "usage", "rows": rows,
                        "op": f"usage_stats(by={by}, since=30d) rollups + raw edges "
                              "(summary API + dashboard source)",
                        **timed(lambda by=by: usage_stats(path, by=by, since="30d", now=now),
                                n)})
        out.extend(_usage_api(Path(tmp), path, rows, n))
    return out


def _usage_api(tmp: Path, ledger: Path, rows: int, n: int) -> list[dict[str, Any]]:
    """``GET /api/admin/usage`` end to end (auth, config, the report, JSON): the one call
    the dashboard's usage page makes."""
    cfg = tmp / "polyroute.yaml"
    cfg.write_text(f"providers: {{}}\nledger: {{path: {ledger}}}\n")
    url = f"sqlite:///{tmp / 'registry.db'}"
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    reg.create("user", {"name": "viewer-user", "role": "viewer"}, actor="bench")
    token = reg.create_token("viewer-user", actor="bench")[1]
    app = create_app(registry=reg, settings=AdminSettings(keyring=reg.keyring,
                                                          config_path=str(cfg)))
    out = []
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}

        def call(by: str) -> None:
            resp = client.get(f"{API}/usage", params={"by": by, "since": "30d"},
                              headers=headers)
            assert resp.status_code == 200 and resp.json()["report"], resp.text[:200]

        for by in ("model", "day"):
            out.append({"part": "usage", "rows": rows,
                        "op": f"GET /api/admin/usage?by={by}&since=30d (the usage page's "
                              "one API call, in-process ASGI)", **timed(lambda by=by: call(by), n)})
    reg.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000, help="registry rows")
    ap.add_argument("--ledger-rows", type=int, default=1_000_000)
    ap.add_argument("-n", type=int, default=200, help="requests per API operation")
    ap.add_argument("--usage-n", type=int, default=20, help="runs of the usage summary")
    ap.add_argument("--raw-n", type=int, default=1,
                    help="runs of the raw-row scan it replaces (each takes seconds)")
    ap.add_argument("--skip-usage", action="store_true")
    ap.add_argument("--skip-api", action="store_true", help="only the usage part")
    args = ap.parse_args()
    print(json.dumps({"machine": f"{platform.node()} {platform.machine()} "
                      f"{os.cpu_count()} cpu, Python {platform.python_version()}",
                      "date": datetime.now(UTC).isoformat(timespec="seconds"),
                      "client": "in-process ASGI (fastapi.testclient.TestClient)"}))
    results: list[dict[str, Any]] = []
    if not args.skip_api:
        with pg_schema() as url:
            if url is not None:
                results += bench_api(url, "postgresql", args.rows, args.n)
        with tempfile.TemporaryDirectory() as tmp:
            results += bench_api(f"sqlite:///{tmp}/registry.db", "sqlite", args.rows, args.n)
    for r in results:
        print(json.dumps(r))
    if not args.skip_usage:
        for r in bench_usage(args.ledger_rows, args.usage_n, args.raw_n):
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
