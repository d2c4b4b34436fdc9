"""The routing decision alone: ``router.plan(request)`` with 1,000 deployments configured.

20 OpenAI-type providers x 50 models = 1,000 deployments (no server is
called: planning does no IO). The decision is what a call needs before its
first attempt: the plan and its first candidate (``next(plan.iter_candidates())``;
a tree from before lazy plans has no ``iter_candidates`` and evaluates
everything in ``plan``, so the same measurement compares both). Timed call by call:

  route_1000       one route naming all 1,000 deployments (10 tiers of 100, priority)
  route_1000_cost  the same route with ``strategy: lowest_cost``: the first tier (100)
                   is filtered and priced before anything is tried
  route_1000_full  the priority route with every candidate evaluated (``plan.candidates``):
                   what ``route --explain`` and a call that exhausts the route pay
  agent_10         one of 100 agents, each with its own route of 10 (2 tiers of 5), in
                   the same 1,000-deployment config: the common case

Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

N_PROVIDERS, N_MODELS = 20, 50


def config(tmp: str) -> dict[str, Any]:
    from polyroute_features import features_config

    class Ctx:
        base_url = "http://127.0.0.1:9/v1"
        fail_url = "http://127.0.0.1:9/fail/v1"

    Ctx.tmp = tmp  # type: ignore[attr-defined]
    cfg, on = features_config(Ctx)
    data = cfg.model_dump(exclude_none=True, mode="json")
    deps = [f"p{p}:m{m}" for p in range(N_PROVIDERS) for m in range(N_MODELS)]
    data["providers"] = {
        f"p{p}": {"type": "openai", "base_url": f"http://127.0.0.1:9/p{p}/v1",
                  "api_key": "sk-bench"}
        for p in range(N_PROVIDERS)
    }
    for name in ("rate_limits", "rate_limit"):  # per-deployment limit sections name old ids
        data.pop(name, None)
    data["routes"] = {"all": {"tiers": [deps[i:i + 100] for i in range(0, 1000, 100)]}}
    for a in range(100):
        mine = deps[a * 10:(a + 1) * 10]
        data["routes"][f"r{a}"] = {"tiers": [mine[:5], mine[5:]]}
    data["agents"] = {f"a{a}": {"route": f"r{a}"} for a in range(100)}
    data["routes"]["all_cost"] = {"strategy": "lowest_cost",
                                  "tiers": data["routes"]["all"]["tiers"]}
    data["agents"]["big"] = {"route": "all"}
    data["agents"]["big_cost"] = {"route": "all_cost"}
    return {"data": data, "features": on}


def timeit(fn: Any, n: int, max_s: float) -> dict[str, float]:
    for _ in range(min(200, n)):
        fn()
    gc.collect()
    samples: list[int] = []
    deadline = time.perf_counter() + max_s
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t)
        if time.perf_counter() > deadline:
            break
    samples.sort()
    return {
        "calls": len(samples),
        "p50_us": samples[len(samples) // 2] / 1e3,
        "p99_us": samples[int(len(samples) * 0.99)] / 1e3,
    }


def main() -> None:
    if hasattr(os, "sched_setaffinity") and len(sys.argv) > 1:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(sys.argv[1])})
    from polyroute.router import Router
    from polyroute.types import ChatRequest, Message, RoutingHints

    built = config(tempfile.mkdtemp(prefix="polyroute-bench-plan-"))
    router = Router(built["data"])
    msgs = [Message(role="user", content="hi")]
    big = ChatRequest(messages=msgs, routing=RoutingHints(agent="big"))
    small = ChatRequest(messages=msgs, routing=RoutingHints(agent="a42"))
    big_cost = ChatRequest(messages=msgs, routing=RoutingHints(agent="big_cost"))
    plan = router.plan(big)

    def decide(request: ChatRequest) -> Any:
        p = router.plan(request)
        lazy = getattr(p, "iter_candidates", None)
        return next(lazy()) if lazy is not None else p.candidates[0]

    out = {
        "deployments": N_PROVIDERS * N_MODELS,
        "route_1000": timeit(lambda: decide(big), 20000, 5.0),
        "route_1000_cost": timeit(lambda: decide(big_cost), 3000, 5.0),
        "route_1000_full": timeit(lambda: router.plan(big).candidates, 3000, 5.0),
        "agent_10": timeit(lambda: decide(small), 20000, 3.0),
        "route_1000_candidates": sum(len(t) for t in plan.tiers),
        "guards": [type(g).__name__ for g in router.guards],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
