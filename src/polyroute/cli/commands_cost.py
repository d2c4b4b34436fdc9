"""``polyroute cost MODEL --in N --out M``: what a call would cost, and where the price is from."""

from __future__ import annotations

import click

from polyroute.cli.state import EXIT_FAILED, State, config_options, guarded, json_option, pass_state


@click.command()
@click.argument("model")
@click.option("--in", "input_tokens", type=click.IntRange(min=0), default=0, show_default=True,
              help="Prompt tokens (all of them, cached and cache-write included).")
@click.option("--out", "output_tokens", type=click.IntRange(min=0), default=0,
              show_default=True, help="Output tokens (reasoning included).")
@click.option("--cached", type=click.IntRange(min=0), default=0,
              help="Of the prompt tokens: read from the provider's prompt cache.")
@click.option("--cache-write", type=click.IntRange(min=0), default=0,
              help="Of the prompt tokens: written to the provider's prompt cache.")
@click.option("--reasoning", type=click.IntRange(min=0), default=0,
              help="Of the output tokens: reasoning / thinking tokens.")
@config_options
@json_option
@pass_state
@guarded
def cost(state: State, model: str, input_tokens: int, output_tokens: int, cached: int,
         cache_write: int, reasoning: int, as_json: bool) -> None:
    """Price a call to MODEL (``provider:model``), per token class.

    Prices come from the config's ``pricing.overrides``, then the plugin catalog
    (with ``models:`` overrides), then the bundled genai-prices dataset. A model
    with no known price exits 1: polyroute never prices it as $0.
    """
    from polyroute.cli import render
    from polyroute.routing.plan import Deployment, parse_model_ref
    from polyroute.types import Usage

    if cached + cache_write > input_tokens or reasoning > output_tokens:
        raise click.BadParameter("--cached + --cache-write must fit in --in, "
                                 "--reasoning in --out")
    provider, name = parse_model_ref(model)
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                  cache_read_tokens=cached, cache_write_tokens=cache_write,
                  reasoning_tokens=reasoning)
    with state.router() as router:
        dep = Deployment(provider, name)
        prices = router.price_book.prices(dep)
        parts = prices.breakdown(usage)
        if as_json:
            render.emit_json({
                "model": dep.key, "source": prices.source, "known": prices.known,
                "prices_usd_per_mtok": {
                    "input": prices.input, "output": prices.output,
                    "cache_read": prices.cache_read, "cache_write": prices.cache_write,
                    "reasoning": prices.reasoning,
                },
                "usage": usage.model_dump(),
                "cost_usd": None if parts is None else {
                    "input": parts.input, "cache_read": parts.cache_read,
                    "cache_write": parts.cache_write, "output": parts.output,
                    "reasoning": parts.reasoning, "total": parts.total,
                },
            })
        else:
            out = render.console()
            if parts is None:
                out.print(f"[bold red]no known price for {render.safe(dep.key)}[/] — set "
                          f"pricing.overrides['{render.safe(model)}'] in the config")
            else:
                def rate(x: float | None, fallback: str) -> str:
                    return f"${x:g}" if x is not None else f"({fallback})"

                rows = [
                    ("input", input_tokens - cached - cache_write, rate(prices.input, "-"),
                     parts.input),
                    ("cached read", cached, rate(prices.cache_read, "input rate"),
                     parts.cache_read),
                    ("cache write", cache_write, rate(prices.cache_write, "input rate"),
                     parts.cache_write),
                    ("output", output_tokens - reasoning, rate(prices.output, "-"),
                     parts.output),
                    ("reasoning", reasoning, rate(prices.reasoning, "output rate"),
                     parts.reasoning),
                ]
                out.print(render.table(
                    f"{dep.key} — prices from {prices.source} (USD per million tokens)",
                    ["tokens", "count", "$/MTok", "cost (USD)"],
                    [(k, f"{n:,}", r, f"${c:.6f}") for k, n, r, c in rows if n or k in (
                        "input", "output")],
                ))
                out.print(f"[bold]total: ${parts.total:.6f}[/]")
        if parts is None:
            click.get_current_context().exit(EXIT_FAILED)
