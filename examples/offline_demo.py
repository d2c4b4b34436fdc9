"""polyroute's offline demo: two agents, two providers, injected failures, fallbacks.

Starts loopback stand-ins that speak the OpenAI and Anthropic wire formats (the
same fault-injecting stand-ins the test suite uses), routes calls for two
agents through them, makes providers fail in different ways and prints who
answered each call, after which attempts, in how long.

    make demo                       # offline, no keys needed
    python examples/offline_demo.py --live   # use real keys / a local Ollama instead
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from polyroute.errors import PolyrouteError
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, Message, RoutingHints
from polyroute_anthropic.standin import AnthropicResponder
from polyroute_openai.standin import OpenAIResponder

console = Console(width=None if sys.stdout.isatty() else 150)


def offline_config(openai_url: str, anthropic_url: str) -> dict[str, Any]:
    return {
        "providers": {
            "openai": {"type": "openai", "base_url": f"{openai_url}/v1",
                       "api_key": "demo-key-not-secret"},
            "anthropic": {"type": "anthropic", "base_url": anthropic_url,
                          "api_key": "demo-key-not-secret"},
        },
        "routes": {
            "code_generation": {"tiers": [["openai/gpt-4.1"], ["anthropic/claude-sonnet-4-5"]]},
        },
        "agents": {
            "swe_agent": {"route": "code_generation", "temperature": 0.2},
            "pricing_agent": {"model": "anthropic:claude-haiku-4-5",
                              "fallbacks": ["openai:gpt-4.1-mini"], "max_tokens": 200},
        },
        "retry": {"attempts": 3, "initial_backoff": 0.05, "max_backoff": 0.5},
        "timeouts": {"read": 1, "total": 20},
        # high enough that each scenario shows its own fault; OpenAI's gpt-4.1 reaches it
        # on the hang scenario, and the next call skips it
        "breaker": {"failures": 10, "cooldown": 30},
    }


def live_config() -> dict[str, Any] | None:
    """Real providers for whichever keys (or a local Ollama) this machine has."""
    providers: dict[str, Any] = {}
    tiers: list[list[str]] = []
    if os.environ.get("OPENAI_API_KEY"):
        providers["openai"] = {"type": "openai"}
        tiers.append(["openai/gpt-4.1-mini"])
    if os.environ.get("ANTHROPIC_API_KEY"):
        providers["anthropic"] = {"type": "anthropic"}
        tiers.append(["anthropic/claude-haiku-4-5"])
    host = ollama_host()
    if host:
        providers["ollama"] = {"type": "ollama", "base_url": host}
        tiers.append([f"ollama/{os.environ.get('POLYROUTE_DEMO_OLLAMA_MODEL', 'llama3.1')}"])
    if not tiers:
        return None
    return {
        "providers": providers,
        "routes": {"live": {"tiers": tiers}},
        "agents": {"swe_agent": {"route": "live"}, "pricing_agent": {"route": "live"}},
    }


def ollama_host() -> str | None:
    host = os.environ.get("OLLAMA_HOST", "http://localhost:11434")
    if not host.startswith("http"):
        host = f"http://{host}"
    try:
        httpx.get(f"{host}/api/version", timeout=0.3)
    except httpx.HTTPError:
        return None
    return host


def ask(agent: str, text: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent=agent))


def describe_attempts(result: ChatResponse | ChatChunk) -> str:
    """Consecutive identical failures folded: ``openai ServerError 500 x3 → fell back``."""
    rows: list[list[Any]] = []
    for a in result.attempts:
        what = "ok" if a.ok else f"{a.error} {a.status or ''}".strip()
        if rows and rows[-1][0] == (a.provider, what):
            rows[-1][1] += 1
            rows[-1][2] = a.action
        else:
            rows.append([(a.provider, what), 1, a.action])
    out = []
    for (provider, what), count, action in rows:
        times = f" x{count}" if count > 1 else ""
        tail = "" if what == "ok" else f" → {action.replace('_', ' ')}"
        out.append(f"{provider} {what}{times}{tail}")
    return "; ".join(out)


def run_stream(router: Router, request: ChatRequest) -> tuple[str, ChatChunk, float]:
    t0 = time.perf_counter()
    text, last = "", None
    for chunk in router.stream(request):
        text += chunk.text
        last = chunk
    assert last is not None
    return text, last, (time.perf_counter() - t0) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help="use real keys / local Ollama")
    args = parser.parse_args()

    live = live_config()
    if live:
        found = ", ".join(sorted(live["providers"]))
        console.print(f"[green]Found real providers here: {found}.[/]"
                      + ("" if args.live else " Run with --live to use them instead."))
    if args.live:
        if not live:
            console.print("[red]--live: no OPENAI_API_KEY, ANTHROPIC_API_KEY or local Ollama.[/]")
            return 2
        with Router(live) as router:
            for agent in ("swe_agent", "pricing_agent"):
                resp = router.chat(ask(agent, "Say hello in five words."))
                console.print(f"{agent}: {resp.provider}/{resp.model}: {resp.message.text}")
        return 0

    table = Table(title="polyroute offline demo — every call routed through loopback stand-ins")
    for col in ("#", "agent", "what happened upstream", "answered by", "attempts",
                "latency", "tokens in/out"):
        table.add_column(col, overflow="fold")

    with StandinServer(OpenAIResponder()) as oai, StandinServer(AnthropicResponder()) as ant:
        router = Router(offline_config(oai.url, ant.url))
        scenarios = [
            ("swe_agent", "all healthy", [], [], False),
            ("pricing_agent", "all healthy", [], [], False),
            ("swe_agent", "OpenAI: 429 with Retry-After 0.2s",
             [Fault.status(429, retry_after=0.2)], [], False),
            ("swe_agent", "OpenAI: 500 three times", [Fault.status(500)] * 3, [], False),
            ("pricing_agent", "Anthropic: 529 overloaded, 3 times", [],
             [Fault.status(529)] * 3, False),
            ("pricing_agent", "Anthropic: 401 bad key", [], [Fault.status(401)], False),
            ("swe_agent", "OpenAI: malformed JSON body", [Fault.malformed()], [], False),
            ("swe_agent", "stream: OpenAI cuts before first token", [Fault.cut_stream(0)] * 3, [],
             True),
            ("swe_agent", "OpenAI: hangs past the 1s read timeout", [Fault.hang(3)] * 3, [],
             False),
            ("swe_agent", "next call: OpenAI's circuit is open", [], [], False),
        ]
        for n, (agent, label, oai_faults, ant_faults, streamed) in enumerate(scenarios, 1):
            oai.push(*oai_faults)
            ant.push(*ant_faults)
            request = ask(agent, "Write a unit test for parse_date")
            skipped = [f"{o.provider} skipped: {o.reason}" for o in router.plan(request).skipped]
            try:
                if streamed:
                    _, result, ms = run_stream(router, request)
                    usage = result.usage
                else:
                    resp = router.chat(request)
                    result, ms, usage = resp, resp.latency_ms, resp.usage
            except PolyrouteError as exc:
                table.add_row(
                    str(n), agent, label, f"[red]{type(exc).__name__}[/]", str(exc), "", ""
                )
                continue
            finally:
                oai.clear()
                ant.clear()
            table.add_row(
                str(n), agent, label + (" (streamed)" if streamed else ""),
                f"[bold]{result.provider}[/]/{result.model}",
                "; ".join([*skipped, describe_attempts(result)]),
                f"{ms:,.0f} ms",
                f"{usage.input_tokens}/{usage.output_tokens}" if usage else "",
            )
        router.close()
    console.print(table)
    console.print(
        "Each row is one routed call. Retryable errors (429, 5xx, timeouts) are retried with "
        "jittered backoff that never waits less than Retry-After; the rest fall back to the next "
        "candidate; when a deployment keeps failing (here 10 in a row, or most of its recent "
        "calls) its circuit opens and it is skipped until the cooldown ends. "
        "Config: examples/offline_demo.py · docs: docs/index.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
