"""What each piece of polyroute's hot path costs in situ: the same run with it taken out.

    bench/.venv/bin/python bench/ablation.py              # every row, 3 rounds
    bench/.venv/bin/python bench/ablation.py base no_parse  # some rows

``Router.achat`` over an instant transport with every feature on (as
bench/components.py), pinned to one core; the figure is process CPU per call
(the ledger's writer thread included), the median of rounds run in turn. Each
row but ``base`` replaces one piece with a free stand-in (the answer parsed once
and copied, a guard left out of the attempt, no ledger row...), so "saves" is
what that piece costs where it runs, cache misses and the writer thread's share
included. A micro-benchmark (components.py) or cProfile gets those wrong by 2x
either way. The stand-ins break behaviour: this measures, it checks nothing.
Writes bench/results/ablation.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
import components  # noqa: E402

GUARDS = ("ParamsGuard", "ContextOverflowGuard", "SelectionGuard", "CircuitBreaker",
          "RateLimitCooldown", "RateLimiter", "HealthTracker", "CostGuard")
ROWS: dict[str, str] = {
    "base": "every feature on (nothing taken out)",
    "no_ledger_row": "no ledger row (CostGuard._write: the row built and the writer's insert)",
    "no_deadline": "no total deadline around the send",
    "no_parse": "the answer parsed once, then copied (provider.parse_response)",
    "no_build": "the request built once (provider.build_request)",
    "no_encode": "the request body not encoded (the transport's json.dumps)",
    **{f"no_{g}": f"{g} left out of the attempt (before/after_attempt)" for g in GUARDS},
}


async def _answer(x: Any) -> Any:
    return x


def _patch(name: str) -> list[tuple[Any, str, Any]]:
    undo: list[tuple[Any, str, Any]] = []

    def put(obj: Any, attr: str, value: Any) -> None:
        undo.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)

    if name == "no_ledger_row":
        from polyroute.budgets.guard import CostGuard

        put(CostGuard, "_write", lambda self, *a, **k: None)
    elif name == "no_deadline":
        from polyroute.routing.deadline import Deadline

        put(Deadline, "start", classmethod(lambda cls, delay: None))
    elif name in ("no_parse", "no_build"):
        from polyroute_openai.provider import OpenAIProvider

        attr = "parse_response" if name == "no_parse" else "build_request"
        real, kept = getattr(OpenAIProvider, attr), {}

        def once(self: Any, *a: Any, **k: Any) -> Any:
            if "v" not in kept:
                kept["v"] = real(self, *a, **k)
            return kept["v"].model_copy() if name == "no_parse" else kept["v"]

        put(OpenAIProvider, attr, once)
    elif name == "no_encode":
        put(components.FixedTransport, "asend",
            lambda self, req, timeouts, **kw: _answer(self.response))
    elif name.startswith("no_") and name[3:] in GUARDS:
        from polyroute.routing import call as call_mod

        real_init, gone = call_mod.Call.__init__, name[3:]

        def init(self: Any, plan: Any, request: Any, total: Any, notify: Any, guards: Any,
                 *a: Any, **k: Any) -> None:
            real_init(self, plan, request, total, notify,
                      [g for g in guards if type(g).__name__ != gone], *a, **k)

        put(call_mod.Call, "__init__", init)
    elif name != "base":
        raise SystemExit(f"unknown row {name!r}; rows: {', '.join(ROWS)}")
    return undo


async def _per_call(cfg: Any, calls: int) -> float:
    from polyroute.router import Router

    router = Router(cfg, transport=components.FixedTransport())  # type: ignore[arg-type]
    request = clients._request(agent="bench")
    for _ in range(1000):
        await router.achat(request)
    runs = []
    for _ in range(3):
        t = time.process_time()
        for _ in range(calls // 3):
            await router.achat(request)
        runs.append((time.process_time() - t) / (calls // 3) * 1e6)
    await router.aclose()
    return statistics.median(runs)


def main() -> None:
    from polyroute_features import features_config

    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    names = sys.argv[1:] or list(ROWS)
    if "base" not in names:
        names.insert(0, "base")
    ctx = clients.Ctx(base_url="http://127.0.0.1:9/v1", fail_url="http://127.0.0.1:9/fail/v1")
    cfg, _ = features_config(ctx)
    got: dict[str, list[float]] = {}
    for _ in range(3):
        for name in names:
            undo = _patch(name)
            try:
                got.setdefault(name, []).append(asyncio.run(_per_call(cfg, 15000)))
            finally:
                for obj, attr, value in reversed(undo):
                    setattr(obj, attr, value)
            print(f"  {name:24s} {got[name][-1]:7.1f} µs", file=sys.stderr)
    base = statistics.median(got["base"])
    lines = ["| taken out | process CPU per call µs | saves µs | rounds |", "|---|---|---|---|"]
    for name in names:
        med = statistics.median(got[name])
        rounds = ", ".join(f"{v:.0f}" for v in got[name])
        saves = "—" if name == "base" else f"{base - med:.1f}"
        lines.append(f"| {ROWS[name]} | {med:.1f} | {saves} | {rounds} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ablation.md").write_text(text)


if __name__ == "__main__":
    main()
