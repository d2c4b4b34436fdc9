"""``polyroute test``: check that providers really work — connectivity, auth, the model,
a short completion, streaming and tool calling — all providers in parallel."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import EXIT_FAILED, State, config_options, guarded, pass_state

if TYPE_CHECKING:
    from polyroute.catalog import LiveModels
    from polyroute.router import LiveCatalog as Catalog
    from polyroute.router import Router

CHECKS = ("config", "connectivity", "auth", "model", "completion", "streaming", "tools")
PROMPT = "Reply with one word: pong"
_TOOL_NAME = "get_time"


@dataclass
class Check:
    name: str
    status: str = "pending"
    """``pass``, ``fail``, ``skip`` (not applicable or blocked by an earlier failure)."""
    detail: str = ""
    latency_ms: float | None = None
    error_type: str | None = None
    status_code: int | None = None


@dataclass
class ProviderResult:
    provider: str
    type: str
    model: str | None
    checks: list[Check] = field(default_factory=lambda: [Check(n) for n in CHECKS])

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    @property
    def done(self) -> bool:
        return all(c.status != "pending" for c in self.checks)


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

    results = [_result(router, n, model) for n in names]
    out = render.console(stderr=True)
    if quiet or not out.is_terminal:
        async def one(r: ProviderResult) -> None:
            await _run(router, catalog, r)
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

            await asyncio.gather(tick(), *(_run(router, catalog, r) for r in results))
            live.update(_table(results))
    await router.aclose()
    return results


def _result(router: Router, name: str, model: str | None) -> ProviderResult:
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


def _catalog_pick(catalog: Catalog, name: str, live: LiveModels | None) -> str | None:
    from polyroute.types import Capability

    entries = catalog.provider_entries(name)
    if live is not None and live.ok:
        listed = set(live.ids)
        entries = [e for e in entries if e.info.model in listed]
    if entries:
        def cost(e: Any) -> tuple[int, float]:
            tools = Capability.TOOLS in e.info.capabilities
            return (0 if tools else 1, e.info.prices.input or 0.0)

        return min(entries, key=cost).info.model
    if live is not None and live.ok and live.ids:
        return live.ids[0]
    return None


async def _run(router: Router, catalog: Catalog, r: ProviderResult) -> None:
    from polyroute.errors import NoRouteError, ProviderError

    provider = router.provider(r.provider)
    assert provider is not None
    not_ready = provider.is_configured()
    if not_ready is not None:
        _fail(r.check("config"), not_ready)
        _skip_rest(r, "config")
        return
    _pass(r.check("config"), "key and settings present")

    # connectivity, auth and the model, from the live model list
    t0 = time.perf_counter()
    live = await catalog.alive_models(r.provider, refresh=True)
    ms = (time.perf_counter() - t0) * 1000.0
    listed: LiveModels | None = None
    if live.ok:
        listed = live
        _pass(r.check("connectivity"), f"model list: {len(live.ids)} models", ms)
        _pass(r.check("auth"), "accepted", ms)
    elif live.error and live.error.startswith("unsupported"):
        r.check("model").detail = "the API has no model list"
    else:
        kind = (live.error or "").split(":", 1)[0]
        if kind in ("ProviderConnectionError", "ProviderTimeoutError"):
            _fail(r.check("connectivity"), live.error or "", ms, kind)
            _skip_rest(r, "connectivity")
            return
        _pass(r.check("connectivity"), "reached the API", ms)
        if kind == "AuthenticationError":
            _fail(r.check("auth"), live.error or "", ms, kind, _status(live.error))
            _skip_rest(r, "auth")
            return
        r.check("model").detail = f"model list failed: {live.error}"
    if r.model is None:
        r.model = _catalog_pick(catalog, r.provider, listed)
    if r.model is None:
        _fail(r.check("model"), "no model to test: pass --model or add one to the config")
        _skip_rest(r, "model")
        return
    model_check = r.check("model")
    if listed is not None:
        if r.model in listed.ids:
            _pass(model_check, f"{r.model} is listed")
        else:
            _fail(model_check, f"{r.model} is not in the provider's model list")
    else:
        model_check.status = "skip"
        model_check.detail = model_check.detail or "not listed; checked by the completion"

    ref = f"{r.provider}:{r.model}"
    info = catalog.info(r.provider, r.model)
    try:
        await _completion(router, ref, r)
        await _streaming(router, ref, r, info)
        await _tools(router, ref, r, info)
    except (ProviderError, NoRouteError):  # pragma: no cover - each step records its own
        pass


def _request(ref: str, **kwargs: Any) -> Any:
    from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

    return ChatRequest(messages=[Message.user(kwargs.pop("prompt", PROMPT))],
                       params=GenerationParams(max_tokens=kwargs.pop("max_tokens", 16)),
                       routing=RoutingHints(model=ref, cache="no-store"), **kwargs)


async def _completion(router: Router, ref: str, r: ProviderResult) -> None:
    t0 = time.perf_counter()
    try:
        resp = await router.achat(_request(ref))
    except Exception as exc:
        _from_error(r, r.check("completion"), exc, t0)
        return
    ms = (time.perf_counter() - t0) * 1000.0
    _mark_reached(r, ms)
    text = resp.message.text.strip()
    if text or resp.message.tool_calls:
        _pass(r.check("completion"), f"{text[:40]!r} ({resp.usage.total_tokens} tokens)", ms)
    else:
        _fail(r.check("completion"), "empty answer", ms)


async def _streaming(router: Router, ref: str, r: ProviderResult, info: Any) -> None:
    from polyroute.types import Capability

    check = r.check("streaming")
    if info is not None and info.capabilities and Capability.STREAMING not in info.capabilities:
        check.status, check.detail = "skip", "the catalog says this model does not stream"
        return
    t0 = time.perf_counter()
    pieces = 0
    text = ""
    try:
        async for chunk in router.astream(_request(ref, stream=True)):
            if chunk.text:
                pieces += 1
                text += chunk.text
    except Exception as exc:
        _from_error(r, check, exc, t0)
        return
    ms = (time.perf_counter() - t0) * 1000.0
    if pieces:
        _pass(check, f"{pieces} chunks: {text.strip()[:30]!r}", ms)
    else:
        _fail(check, "the stream carried no text", ms)


async def _tools(router: Router, ref: str, r: ProviderResult, info: Any) -> None:
    from polyroute.types import Capability, ToolSpec

    check = r.check("tools")
    if info is not None and info.capabilities and Capability.TOOLS not in info.capabilities:
        check.status, check.detail = "skip", "the catalog says this model has no tools"
        return
    tool = ToolSpec(name=_TOOL_NAME, description="The current time in a city.",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"]})
    t0 = time.perf_counter()
    try:
        resp = await router.achat(_request(
            ref, prompt="What time is it in Paris? Use the tool.", max_tokens=64,
            tools=[tool], tool_choice="required"))
    except Exception as exc:
        _from_error(r, check, exc, t0)
        return
    ms = (time.perf_counter() - t0) * 1000.0
    calls = resp.message.tool_calls
    if calls and calls[0].name == _TOOL_NAME:
        _pass(check, f"called {_TOOL_NAME}({json.dumps(calls[0].arguments)[:40]})", ms)
    else:
        _fail(check, "asked to call a tool, the model answered in text", ms)


# --- bookkeeping -------------------------------------------------------------------------


def _pass(check: Check, detail: str, ms: float | None = None) -> None:
    check.status, check.detail = "pass", detail
    check.latency_ms = round(ms, 1) if ms is not None else None


def _fail(check: Check, detail: str, ms: float | None = None, error_type: str | None = None,
          status_code: int | None = None) -> None:
    from polyroute.secrets import redact

    check.status, check.detail = "fail", redact(detail)
    check.latency_ms = round(ms, 1) if ms is not None else None
    check.error_type, check.status_code = error_type, status_code


def _skip_rest(r: ProviderResult, after: str) -> None:
    for c in r.checks[CHECKS.index(after) + 1:]:
        if c.status == "pending":
            c.status, c.detail = "skip", f"blocked: {after} failed"


def _mark_reached(r: ProviderResult, ms: float) -> None:
    """A provider with no model list is reachable and authorised once it answers."""
    for name in ("connectivity", "auth"):
        if r.check(name).status == "pending":
            _pass(r.check(name), "answered a completion", ms)


def _status(text: str | None) -> int | None:
    if text and "(status " in text:
        try:
            return int(text.rsplit("(status ", 1)[1].rstrip(")"))
        except ValueError:
            return None
    return None


def _from_error(r: ProviderResult, check: Check, exc: Exception, t0: float) -> None:
    from polyroute.errors import (
        AuthenticationError,
        NoRouteError,
        ProviderConnectionError,
        ProviderError,
        ProviderTimeoutError,
    )

    ms = (time.perf_counter() - t0) * 1000.0
    err: Exception = exc
    if isinstance(exc, NoRouteError) and exc.last_error is not None:
        err = exc.last_error
    reason = getattr(err, "reason", None) or str(err)
    if isinstance(exc, NoRouteError) and exc.last_error is None and exc.outcomes:
        reason = "; ".join(o.reason for o in exc.outcomes)
    status = err.status if isinstance(err, ProviderError) else None
    kind = type(err).__name__
    for name, cls in (("connectivity", (ProviderConnectionError, ProviderTimeoutError)),
                      ("auth", (AuthenticationError,))):
        gate = r.check(name)
        if gate.status == "pending":
            if isinstance(err, cls):
                _fail(gate, reason, ms, kind, status)
                check.status, check.detail = "skip", f"blocked: {name} failed"
                return
            if isinstance(err, ProviderError):
                _pass(gate, "reached the API", ms)
    _fail(check, reason, ms, kind, status)


def _table(results: list[ProviderResult]) -> Any:
    from rich.table import Table

    from polyroute.cli.render import safe

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
