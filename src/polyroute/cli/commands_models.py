"""``polyroute models``: the merged model catalog — plugin entries, config overrides
and, with ``--live``, the providers' own model lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import (
    EXIT_FAILED,
    State,
    config_options,
    guarded,
    json_option,
    pass_state,
)

if TYPE_CHECKING:
    from polyroute.catalog import CatalogEntry, LiveModels
    from polyroute.router import Router

CAPABILITIES = (
    "tools", "parallel_tools", "vision", "json_mode", "json_schema", "streaming",
    "system_prompt", "reasoning", "prompt_caching",
)


@click.command()
@click.option("--provider", "-p", "providers", metavar="NAME", multiple=True,
              help="Only this provider: a configured name, a template or a provider type "
                   "(repeatable).")
@click.option("--capability", "capabilities", multiple=True, type=click.Choice(CAPABILITIES),
              help="Only models with this capability (repeatable: all must match).")
@click.option("--live", is_flag=True,
              help="Also fetch each provider's model list from its API (network): which "
                   "models the account can call, and models no catalog knows.")
@config_options
@json_option
@pass_state
@guarded
def models(
    state: State, providers: tuple[str, ...], capabilities: tuple[str, ...], live: bool,
    as_json: bool,
) -> None:
    """List the model catalog: context window, max output, capabilities, $/MTok.

    Prices are USD per million tokens, input/output. Entries from the config's
    ``models:`` section show the config as their source. With --live, every
    configured provider (or each --provider) is asked for its model list; the
    "live" column says whether it lists the model.
    """
    from polyroute.router import catalog_for

    with state.router() as router:
        catalog = catalog_for(router)
        types: set[str] = set()
        names: list[str] = []
        for p in providers:
            kind, value = _resolve(router, p)
            (types.add(value) if kind == "type" else names.append(value))
        lists: dict[str, LiveModels] = {}
        if live:
            if not names and not types:
                names = list(router.config.providers)
            if types:
                raise click.BadParameter(
                    f"--live needs provider instances, not types ({', '.join(sorted(types))}): "
                    "name a configured provider or a template", param_hint="--provider")
            if not names:
                raise click.UsageError(
                    "--live: no providers configured; name one with --provider (e.g. -p openai)")
            import asyncio

            lists = asyncio.run(catalog.alive_many(names, refresh=True))
        rows: list[CatalogEntry] = []
        if names:
            rows += catalog.entries(providers=names, capabilities=capabilities, live=lists)
        if types or not names:
            rows += [r for r in catalog.entries(capabilities=capabilities)
                     if not types or r.info.provider_type in types]
        rows = [_priced(router, r) for r in rows]
    failed = {n: v.error for n, v in lists.items() if not v.ok}
    if as_json:
        from polyroute.cli import render

        render.emit_json([_json(r) for r in rows])
    else:
        _print(rows, live=live, filtered=bool(providers or capabilities))
    if failed:
        from polyroute.cli import render

        err = render.console(stderr=True)
        for name, reason in failed.items():
            err.print(f"[yellow]live model list of '{render.safe(name)}' not fetched: "
                      f"{render.safe(reason)}[/]")
        if len(failed) == len(lists):
            raise click.exceptions.Exit(EXIT_FAILED)


def _resolve(router: Router, name: str) -> tuple[str, str]:
    """``("provider", name)`` for a configured provider or template, ``("type", name)``
    for a provider type."""
    registry = router.registry
    if name in router.config.providers or name in registry.templates:
        return "provider", name
    if name in registry.provider_types:
        return "type", name
    known = sorted({*router.config.providers, *registry.templates, *registry.provider_types})
    raise click.BadParameter(
        f"'{name}' is no configured provider, template or provider type "
        f"(known: {', '.join(known) or 'none'})", param_hint="--provider",
    )


def _print(rows: list[CatalogEntry], *, live: bool, filtered: bool) -> None:
    from polyroute.cli import render

    out = render.console()
    if not rows:
        out.print("no models match" if filtered or live else
                  "no models in the catalog (install a provider plugin)")
        return
    columns = ["provider", "provider type", "model", "context", "max output", "capabilities",
               "$ in", "$ out", "source"]
    if live:
        columns.append("live")
    table_rows = []
    for r in rows:
        info = r.info
        row: list[object] = [
            r.provider or "-", info.provider_type, info.model, _int(info.context_window),
            _int(info.max_output_tokens), ", ".join(sorted(c.value for c in info.capabilities)),
            _price(info.prices.input), _price(info.prices.output), r.source,
        ]
        if live:
            row.append("-" if r.live is None else ("yes" if r.live else "no"))
        table_rows.append(row)
    out.print(render.table("Models ($ per million tokens)", columns, table_rows))


def _priced(router: Router, row: CatalogEntry) -> CatalogEntry:
    """A provider's row at the prices its calls are charged (the router's
    ``PriceBook``: ``pricing.overrides``, catalog, then genai-prices); a provider
    type's row (no instance to charge) keeps its catalog prices."""
    from polyroute.catalog import CatalogEntry
    from polyroute.refs import Deployment
    from polyroute.types import ModelPrices

    if row.provider is None:
        return row
    p = router.price_book.prices(Deployment(row.provider, row.info.model))
    if not p.known or p.source == "catalog":
        return row
    prices = ModelPrices(input=p.input, output=p.output, cache_read=p.cache_read,
                         cache_write=p.cache_write)
    return CatalogEntry(row.info.model_copy(update={"prices": prices}), row.source,
                        row.provider, row.live)


def _int(n: int | None) -> str:
    return f"{n:,}" if n is not None else "-"


def _price(p: float | None) -> str:
    return f"{p:g}" if p is not None else "-"


def _json(entry: CatalogEntry) -> dict[str, Any]:
    data = entry.info.model_dump(mode="json")
    data["capabilities"] = sorted(data["capabilities"])
    data["source"] = entry.source
    data["provider"] = entry.provider
    data["live"] = entry.live
    return data
