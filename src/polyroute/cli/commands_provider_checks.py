"""``polyroute test``: check that providers really work — connectivity, auth, the model,
a short completion, streaming and tool calling — all providers in parallel."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import EXIT_FAILED, State, config_options, guarded, pass_state

if TYPE_CHECKING:
    from polyroute.router import LiveCatalog as Catalog
    from polyroute.router import Router
    from polyroute.router.checks import ProviderResult


@click.command()
@click.argument("providers", nargs=-1, metavar="[PROVIDER]...")
@click.option("--model", "-m", "model", metavar="MODEL",
              help="Model id to test on every provider (default: one the config or the "
                   "catalog names for it).")
@click.option("--report", "report", type=click.Path(dir_okay=False, writable=True),
              metavar="FILE", help="Write a JSON report here.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds allowed for each request.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of tables.")
@config_options
@pass_state
@guarded
def test(state: State, providers: tuple[str, ...], model: str | None, report: str | None,
         timeout: float, as_json: bool) -> None:
    """Check providers for real: connectivity, auth, model availability, a short
    completion, streaming and tool calling.

    Tests every configured provider, or each PROVIDER named (a configured name,
    a template or a provider type). Providers run in parallel; each makes a few
    small requests (a model list and three tiny completions). Exits 1 if any
    check fails.
    """
    from polyroute.cli import render
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.router import LiveCatalog as Catalog
    from polyroute.router import Router

    cfg = state.load_config(required=False) or PolyrouteConfig()
    cfg = cfg.model_copy(update={
        "retry": cfg.retry.model_copy(update={"attempts": 1}),
        "timeouts": cfg.timeouts.model_copy(update={
            "read": timeout, "connect": min(timeout, cfg.timeouts.connect), "total": timeout,
        }),
    })
    names = list(dict.fromkeys(providers)) or list(cfg.providers)
    if not names:
        raise click.UsageError(
            "no providers configured; name them: polyroute test openai anthropic")
    router = Router(cfg, registry=state.registry)
    unknown = [n for n in names if router.provider(n) is None]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: not configured and no plugin type or template of that name",
            param_hint="PROVIDER")
    catalog = Catalog(router)
    started = time.perf_counter()
    when = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        results = asyncio.run(_run_all(router, catalog, names, model, quiet=as_json))
    finally:
        router.close()
    data = {
        "started_at": when,
        "duration_ms": round((time.perf_counter() - started) * 1000.0, 1),
        "ok": all(r.ok for r in results),
        "providers": [
            {"provider": r.provider, "type": r.type, "model": r.model, "ok": r.ok,
             "checks": [asdict(c) for c in r.checks]}
            for r in results
        ],
    }
    if report:
        Path(report).write_text(json.dumps(data, indent=2) + "\n")
    if as_json:
        render.emit_json(data)
    else:
        render.console().print(_table(results))
        passed = sum(r.ok for r in results)
        render.console().print(f"{passed}/{len(results)} providers passed every check"
                               + (f"; report: {render.safe(report)}" if report else ""))
    if not data["ok"]:
        raise click.exceptions.Exit(EXIT_FAILED)


# --- running ---------------------------------------------------------------------------


async def _run_all(router: Router, catalog: Catalog, names: list[str], model: str | None,
                   *, quiet: bool) -> list[ProviderResult]:
    from polyroute.cli import render
    from polyroute.router.checks import run_checks

    results = [_result(router, n, model) for n in names]
    out = render.console(stderr=True)
    if quiet or not out.is_terminal:
        async def one(r: ProviderResult) -> None:
            await run_checks(router, catalog, r)
            if not quiet:
                mark = "ok" if r.ok else "FAILED"
                out.print(f"{render.safe(r.provider)}: {mark}")

        await asyncio.gather(*(one(r) for r in results))
    else:
        from rich.live import Live

        with Live(_table(results), console=out, refresh_per_second=8, transient=True) as live:
            async def tick() -> None:
                while not all(r.done for r in results):
                    live.update(_table(results))
                    await asyncio.sleep(0.1)

            await asyncio.gather(tick(), *(run_checks(router, catalog, r) for r in results))
            live.update(_table(results))
    await router.aclose()
    return results


def _result(router: Router, name: str, model: str | None) -> ProviderResult:
    from polyroute.router.checks import ProviderResult

    provider = router.provider(name)
    assert provider is not None
    return ProviderResult(name, provider.type_name, model or _default_model(router, name))


def _default_model(router: Router, name: str) -> str | None:
    """A model to test: the first the config names for this provider, else its catalog's
    cheapest with tools (resolved again from the live list when there is one)."""
    from polyroute.cli.facts import config_refs
    from polyroute.routing.plan import parse_model_ref

    for ref, _field in config_refs(router.config):
        pname, model = parse_model_ref(ref)
        if pname == name:
            return model
    for key in router.config.models:
        pname, model = parse_model_ref(key)
        if pname == name:
            return model
    return None


def _table(results: list[ProviderResult]) -> Any:
    from rich.table import Table

    from polyroute.cli.render import safe
    from polyroute.router.checks import CHECKS

    marks = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]",
             "pending": "[yellow]…[/]"}
    t = Table(title="Provider checks", title_justify="left", title_style="bold",
              header_style="bold")
    t.add_column("provider")
    t.add_column("model")
    for name in CHECKS:
        t.add_column(name)
    t.add_column("problem", overflow="fold")
    for r in results:
        problem = next((f"{c.name}: {c.detail}" for c in r.checks if c.status == "fail"), "")
        t.add_row(safe(r.provider), safe(r.model or "-"),
                  *(marks[c.status] for c in r.checks), safe(problem))
    return t
