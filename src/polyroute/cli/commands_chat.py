"""``polyroute chat``: one call through the router, and who answered at what cost."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from polyroute.cli.hints import build_request, target_options
from polyroute.cli.state import State, config_options, guarded, json_option, pass_state

if TYPE_CHECKING:
    from polyroute.router import Router
    from polyroute.types import Attempt, ChatRequest, Usage


@click.command()
@click.argument("prompt")
@target_options(agent=True)
@click.option("--system", "-s", metavar="TEXT", help="A system message before the prompt.")
@click.option("--stream", is_flag=True, help="Print the answer as it arrives.")
@click.option("--temperature", type=float, help="Sampling temperature (overrides the agent's).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Cap on output tokens.")
@config_options
@json_option
@pass_state
@guarded
def chat(
    state: State, prompt: str, agent: str | None, task: str | None, model: str | None,
    fallbacks: tuple[str, ...], system: str | None, stream: bool, temperature: float | None,
    max_tokens: int | None, as_json: bool,
) -> None:
    """Send PROMPT through the router and print the answer (PROMPT "-" reads stdin).

    A dim line on stderr then says which provider/model answered, every attempt
    (error → what polyroute did), latency, tokens and cost. Exits 1 if no
    candidate answered, listing why each one did not.
    """
    from polyroute.types import GenerationParams

    if prompt == "-":
        prompt = sys.stdin.read()
    request = build_request(
        prompt, system=system, agent=agent, task=task, model=model, fallbacks=fallbacks,
        params=GenerationParams(temperature=temperature, max_tokens=max_tokens),
    )
    with state.router() as router:
        if stream:
            _stream(router, request, as_json)
        else:
            _chat(router, request, as_json)


def _chat(router: Router, request: ChatRequest, as_json: bool) -> None:
    from polyroute.cli import render

    resp = router.chat(request)
    if as_json:
        render.emit_json(resp.model_dump(mode="json"))
        return
    click.echo(resp.message.text)
    _footer(resp.provider, resp.model, resp.attempts, resp.latency_ms, resp.usage, resp.cost_usd)


def _stream(router: Router, request: ChatRequest, as_json: bool) -> None:
    t0 = time.perf_counter()
    final = None
    wrote = False
    try:
        for chunk in router.stream(request):
            if as_json:
                click.echo(chunk.model_dump_json(exclude_defaults=True))
            elif chunk.text:
                click.echo(chunk.text, nl=False)
                sys.stdout.flush()
                wrote = True
            if chunk.attempts:
                final = chunk
    finally:
        if wrote:
            click.echo()
    if final is None or as_json:
        return
    latency = (time.perf_counter() - t0) * 1000.0
    # the router priced it (its PriceBook), as it prices a non-streamed answer
    _footer(final.provider, final.model, final.attempts, latency, final.usage, final.cost_usd)


def _footer(
    provider: str, model: str, attempts: list[Attempt], latency_ms: float,
    usage: Usage | None, cost: float | None,
) -> None:
    from polyroute.cli import render

    tries = "; ".join(_attempt(a) for a in attempts) or "-"
    tokens = f"{usage.input_tokens} in / {usage.output_tokens} out" if usage else "unknown"
    price = f"${cost:.6f}" if cost is not None else "cost unknown (no known price)"
    render.console(stderr=True).print(
        f"[dim]↳ {render.safe(provider)}/{render.safe(model)} · attempts: {render.safe(tries)}"
        f" · {latency_ms:.0f} ms · tokens {tokens} · {render.safe(price)}[/]"
    )


def _attempt(a: Attempt) -> str:
    where = f"{a.provider}/{a.model}"
    if a.ok:
        return f"{where} ok"
    status = f" {a.status}" if a.status is not None else ""
    return f"{where} {a.error}{status} → {a.action.replace('_', ' ')}"
