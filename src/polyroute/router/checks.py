"""The provider checks behind ``polyroute test`` and the admin API's ``POST .../test``:
connectivity, auth, model availability, a short completion, streaming and tool calling,
each recorded as a ``Check`` on a ``ProviderResult``.

They live under the CLI (and the admin package) so both can run them: the checks go
through a ``Router`` like any call, with its transport and its error classification.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyroute.catalog import LiveModels
    from polyroute.router import LiveCatalog as Catalog
    from polyroute.router import Router

__all__ = ["CHECKS", "Check", "ProviderResult", "catalog_pick", "run_checks"]

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


def catalog_pick(catalog: Catalog, name: str, live: LiveModels | None) -> str | None:
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


async def run_checks(router: Router, catalog: Catalog, r: ProviderResult) -> None:
    """Run every check of ``r`` in order; a failed gate skips the checks after it."""
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
        r.model = catalog_pick(catalog, r.provider, listed)
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
