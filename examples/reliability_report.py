"""The reliability report: the whole fault matrix against loopback stand-ins.

    make reliability     # or: .venv/bin/python examples/reliability_report.py [--markdown]

Each scenario gets its own pair of stand-ins speaking the OpenAI and Anthropic
wire formats (from the first-party plugins ``polyroute-openai`` and
``polyroute-anthropic``, which must be installed), scripts a fault, routes one
call — scenarios run concurrently — and checks the outcome: who answered,
after which attempts, in how long, and that every failure was a typed
polyroute error. Waits and timeouts are scaled down so the matrix takes seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from polyroute.errors import PolyrouteError
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, Message, RoutingHints

__all__ = ["SCENARIOS", "Outcome", "Scenario", "main", "run_matrix"]

MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5"}
_RESPONDERS = {
    "openai": ("polyroute_openai.standin", "OpenAIResponder"),
    "anthropic": ("polyroute_anthropic.standin", "AnthropicResponder"),
}
KEY = "standin-key-0000"


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: tuple[Fault, ...]
    expect: str
    """Who should answer (``openai``/``anthropic``) or the error class expected."""
    primary: str = "openai"
    mode: str = "chat"  # chat | achat | stream | astream
    config: dict[str, Any] = field(default_factory=dict)
    calls: int = 1
    """Calls made; faults apply to the first, the outcome is the last call's."""
    check: Callable[[Outcome], str | None] | None = None
    """Extra check: ``None`` if fine, else what is wrong."""


@dataclass
class Outcome:
    scenario: str
    answered_by: str | None
    error: str | None
    attempts: list[str]
    seconds: float
    ok: bool = False
    note: str = ""
    typed: bool = True
    detail: Any = None


def _cut_at(primary: str) -> int:
    # past the preamble events (OpenAI: role chunk; Anthropic: message_start,
    # content_block_start, ping) and into the text
    return 3 if primary == "openai" else 5


def _waited_at_least(seconds: float) -> Callable[[Outcome], str | None]:
    def check(o: Outcome) -> str | None:
        return None if o.seconds >= seconds else f"answered in {o.seconds:.2f}s < {seconds}s asked"
    return check


def _continued(o: Outcome) -> str | None:
    d = o.detail
    if not isinstance(d, ChatChunk) or d.usage is None:
        return "no final chunk"
    cut = [a for a in d.attempts if a.error == "StreamInterruptedError"]
    if not cut or "continued" not in (cut[0].message or "") or cut[0].action != "fell_back":
        return "the cut attempt is not flagged as continued"
    if d.provider == cut[0].provider:
        return "not continued by another model"
    return None


def _scenarios() -> list[Scenario]:
    cut = _cut_at("openai")
    st = {"streaming": {"on_failure": "continue"}}
    return [
        Scenario("healthy", (), "openai"),
        Scenario("429 Retry-After 0.3s", (Fault.status(429, retry_after=0.3),), "openai",
                 check=_waited_at_least(0.3)),
        Scenario("429 retry-after-ms 250", (Fault.status(429, retry_after_ms=250),), "openai",
                 check=_waited_at_least(0.25)),
        Scenario("429 Retry-After 1h (too long)", (Fault.status(429, retry_after=3600),),
                 "anthropic"),
        Scenario("500 x3", (Fault.status(500),) * 3, "anthropic"),
        Scenario("502 x3", (Fault.status(502),) * 3, "anthropic"),
        Scenario("503 x3", (Fault.status(503),) * 3, "anthropic"),
        Scenario("529 overloaded x3 (Anthropic)", (Fault.status(529),) * 3, "openai",
                 primary="anthropic"),
        Scenario("401 (no retry)", (Fault.status(401),), "anthropic"),
        Scenario("hang past read timeout x3", (Fault.hang(2),) * 3, "anthropic"),
        Scenario("connection reset once", (Fault.reset(),), "openai"),
        Scenario("malformed JSON", (Fault.malformed(),), "anthropic"),
        Scenario("async: 500 then ok", (Fault.status(500),), "openai", mode="achat"),
        Scenario("stream: slow first token", (Fault.slow_first_chunk(2),) * 3, "anthropic",
                 mode="stream"),
        Scenario("stream: cut before first token", (Fault.cut_stream(0),) * 3, "anthropic",
                 mode="stream"),
        Scenario("stream: in-band error before content", (Fault.in_band_error(0),) * 3,
                 "anthropic", mode="stream"),
        Scenario("stream: cut mid-way (fallback policy)", (Fault.cut_stream(cut),),
                 "StreamInterruptedError", mode="stream"),
        Scenario("stream: cut mid-way (fail policy)", (Fault.cut_stream(cut),),
                 "StreamInterruptedError", mode="stream",
                 config={"streaming": {"on_failure": "fail"}}),
        Scenario("stream: cut mid-way (continue policy)", (Fault.cut_stream(cut),), "anthropic",
                 mode="stream", config=st, check=_continued),
        Scenario("stream: truncated SSE (no terminal event)", (Fault.truncate_stream(cut),),
                 "StreamInterruptedError", mode="stream"),
        Scenario("stream: in-band error mid-way (continue)", (Fault.in_band_error(cut),),
                 "anthropic", mode="astream", config=st, check=_continued),
        Scenario("stream: stall between chunks", (Fault.stall(cut, 2),),
                 "StreamInterruptedError", mode="astream"),
        Scenario("circuit opens after 500s, next call skips", (Fault.status(500),) * 2,
                 "anthropic", calls=2, config={"breaker": {"failures": 2}},
                 check=lambda o: None if len(o.attempts) == 1 else "primary was not skipped"),
        Scenario("rate limit 1 rpm reached: skip", (), "anthropic", calls=2,
                 config={"rate_limits": {"on_limit": "skip",
                                         "deployments": {"openai": {"rpm": 1}}}}),
        Scenario("both fail", (Fault.status(401),), "NoRouteError",
                 config={"_both": True}),
    ]


SCENARIOS = _scenarios()


def _responder(kind: str) -> Any:
    module, name = _RESPONDERS[kind]
    return getattr(importlib.import_module(module), name)()


def _request() -> ChatRequest:
    return ChatRequest(messages=[Message.user("What is 2+2?")],
                       routing=RoutingHints(agent="bot"))


def _trail(attempts: list[Any]) -> list[str]:
    out = []
    for a in attempts:
        if a.ok:
            out.append(f"{a.provider} ok")
        else:
            status = f" {a.status}" if a.status else ""
            out.append(f"{a.provider} {a.error}{status} → {a.action.replace('_', ' ')}")
    return out


def run_scenario(sc: Scenario) -> Outcome:
    from polyroute.router import Router

    secondary = "anthropic" if sc.primary == "openai" else "openai"
    with StandinServer(_responder(sc.primary)) as first, \
            StandinServer(_responder(secondary)) as second:
        urls = {sc.primary: first.url, secondary: second.url}
        extra = dict(sc.config)
        both = extra.pop("_both", False)
        config: dict[str, Any] = {
            "providers": {
                "openai": {"type": "openai", "base_url": urls["openai"] + "/v1", "api_key": KEY},
                "anthropic": {"type": "anthropic", "base_url": urls["anthropic"], "api_key": KEY},
            },
            "agents": {"bot": {"model": f"{sc.primary}:{MODELS[sc.primary]}",
                               "fallbacks": [f"{secondary}:{MODELS[secondary]}"]}},
            "retry": {"attempts": 3, "initial_backoff": 0.02, "max_backoff": 0.1,
                      "max_retry_after": 5},
            "timeouts": {"connect": 1, "read": 0.4, "first_token": 0.4, "chunk": 0.4,
                         "total": 20},
            **extra,
        }
        first.push(*sc.faults)
        if both:
            second.push(*sc.faults)
        t0 = time.perf_counter()
        outcome = Outcome(sc.name, None, None, [], 0.0)
        with Router(config) as router:
            for _ in range(sc.calls):
                t0 = time.perf_counter()
                try:
                    result = _call(router, sc.mode)
                    outcome = Outcome(sc.name, result.provider, None, _trail(result.attempts),
                                      0.0, detail=result)
                except PolyrouteError as exc:
                    outcome = Outcome(sc.name, None, type(exc).__name__,
                                      _trail(getattr(exc, "attempts", []) or []), 0.0)
                    outcome.note = str(exc).splitlines()[0][:120]
                except Exception as exc:  # an untyped exception is a failed scenario
                    outcome = Outcome(sc.name, None, type(exc).__name__, [], 0.0, typed=False)
                    outcome.note = f"untyped: {exc!r}"[:120]
                outcome.seconds = time.perf_counter() - t0
    got = outcome.answered_by or outcome.error
    problem = None if got == sc.expect else f"expected {sc.expect}, got {got}"
    if problem is None and sc.check is not None:
        problem = sc.check(outcome)
    outcome.ok = problem is None and outcome.typed
    if problem:
        outcome.note = problem
    return outcome


def _call(router: Any, mode: str) -> ChatResponse | ChatChunk:
    if mode == "chat":
        return router.chat(_request())  # type: ignore[no-any-return]
    if mode == "achat":
        return asyncio.run(router.achat(_request()))  # type: ignore[no-any-return]
    if mode == "stream":
        chunks = list(router.stream(_request()))
        return chunks[-1]  # type: ignore[no-any-return]

    async def collect() -> list[ChatChunk]:
        return [c async for c in router.astream(_request())]

    return asyncio.run(collect())[-1]


def run_matrix(
    scenarios: list[Scenario] | None = None, *, workers: int = 8
) -> list[Outcome]:
    """Run ``scenarios`` (default: all) concurrently; outcomes in scenario order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_scenario, scenarios or SCENARIOS))


def as_rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    return [
        (o.scenario, o.answered_by or f"raised {o.error}", "; ".join(o.attempts) or "-",
         f"{o.seconds * 1000:,.0f} ms", "pass" if o.ok else f"FAIL: {o.note}")
        for o in outcomes
    ]


def markdown(outcomes: list[Outcome]) -> str:
    head = "| scenario | outcome | attempts | time | check |\n|---|---|---|---|---|\n"
    return head + "\n".join("| " + " | ".join(r) + " |" for r in as_rows(outcomes))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="examples/reliability_report.py",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    outcomes = run_matrix(workers=args.workers)
    wall = time.perf_counter() - t0
    if args.markdown:
        print(markdown(outcomes))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="polyroute reliability: fault matrix against stand-ins")
        for col in ("scenario", "outcome", "attempts", "time", "check"):
            table.add_column(col)
        for row in as_rows(outcomes):
            table.add_row(*row)
        Console(width=180).print(table)
    passed = sum(o.ok for o in outcomes)
    print(f"{passed}/{len(outcomes)} scenarios as expected in {wall:.1f}s "
          f"({args.workers} concurrent)")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
