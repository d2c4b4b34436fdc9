"""What conditional rules, status/quality checks and agent prompts add to one routing
decision: ``router.plan(request)`` (no IO) per call, in microseconds.

Shapes (each on a fresh request per call, as the adapters build one per call):

  no_rules        an agent with a 2-tier route of 4 deployments, no rules: the baseline
  rules_10_miss   10 rules (tags, prompt_tokens, time, capabilities), none matches
  rules_10_last   the same 10 rules, the last one matches (every earlier one evaluated)
  complexity      one rule on the built-in complexity heuristic (a ~400-token prompt)
  min_quality     no rules, a per-call min_quality floor over scored models
  agent_prompt    no rules, the agent's system prompt template rendered (Router._prepare)

Prints one JSON object: per shape, calls and the median/p95 microseconds per call.
Run: ``.venv/bin/python bench/rules_probe.py`` (a few seconds).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from polyroute.router import Router
from polyroute.types import ChatRequest, Message, RoutingHints

DEPS = [["p:a", "p:b"], ["q:c", "q:d"]]
TEN_RULES = [
    {"name": f"tenant-{i}", "when": f"tenant == t{i} and prompt_tokens > {i}k",
     "route": "other"} for i in range(7)
] + [
    {"name": "night", "when": "time between 23:59 and 23:59", "route": "other"},
    {"name": "vision", "when": "capabilities has vision", "route": "other"},
    {"name": "team", "when": "tag.team in [support, sales] or user == ops", "route": "other"},
]


def config(**extra: Any) -> dict[str, Any]:
    return {
        "providers": {"p": {"type": "openai", "api_key": "sk-bench",
                            "base_url": "http://127.0.0.1:9/v1"},
                      "q": {"type": "openai", "api_key": "sk-bench",
                            "base_url": "http://127.0.0.1:9/v1"}},
        "models": {"p:a": {"quality": 70}, "p:b": {"quality": 50}, "q:c": {"quality": 60},
                   "q:d": {"quality": 40}},
        "routes": {"main": {"tiers": DEPS}, "other": {"tiers": [["q:c"]]}},
        "agents": {"helper": {"route": "main", "system_prompt": "You help $company.",
                              "prompt_vars": {"company": "ACME"}}},
        **extra,
    }


def request(text: str = "Where is my parcel?", **hints: Any) -> Callable[[], ChatRequest]:
    def make() -> ChatRequest:
        return ChatRequest(messages=[Message.user(text)],
                           routing=RoutingHints(agent="helper", **hints))
    return make


def timed(router: Router, make: Callable[[], ChatRequest], n: int,
          step: Callable[[Router, ChatRequest], object] | None = None) -> dict[str, float]:
    run = step or (lambda r, q: r.plan(q))
    for _ in range(200):
        run(router, make())
    samples = []
    for _ in range(n):
        q = make()
        t0 = time.perf_counter_ns()
        run(router, q)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return {"calls": n, "median_us": round(statistics.median(samples), 1),
            "p95_us": round(samples[int(n * 0.95)], 1)}


def main(n: int = 3000) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Router(config()) as r:
        out["no_rules"] = timed(r, request(), n)
        out["min_quality"] = timed(r, request(min_quality=55), n)
        out["agent_prompt"] = timed(r, request(), n, lambda r, q: r._prepare(q))
    with Router(config(rules=TEN_RULES)) as r:
        out["rules_10_miss"] = timed(r, request(tags={"tenant": "acme"}), n)
        out["rules_10_last"] = timed(r, request(tags={"team": "sales"}), n)
    hard = "Please analyze and refactor this design. " * 60
    with Router(config(rules=[{"name": "easy", "when": "complexity < 0.3",
                               "route": "other"}])) as r:
        out["complexity"] = timed(r, request(hard), n)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
