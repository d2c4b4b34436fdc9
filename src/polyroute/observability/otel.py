"""``OTelGuard``: OpenTelemetry spans and metrics per the GenAI semantic conventions.

One span per routed call (``route <agent|task|model>``) and, inside it, one CLIENT
span per attempt (``chat <model>``), with the convention's attributes
(https://opentelemetry.io/docs/specs/semconv/gen-ai/, attribute names as of
semantic-conventions v1.41: ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``/``output_tokens``,
``gen_ai.response.finish_reasons``, ``gen_ai.response.id``, ``error.type``,
``server.address``) and polyroute's own under ``polyroute.*`` (cost, cache hit,
fallback reason, attempt action).

Metrics: ``gen_ai.client.operation.duration`` (s) and ``gen_ai.client.token.usage``
(``{token}``, ``gen_ai.token.type`` input/output) per attempt, with the bucket
boundaries the conventions recommend; ``polyroute.client.requests`` (one per routed
call: outcome, cache hit, fallback) and ``polyroute.client.cost`` (USD).

Only imported when ``opentelemetry-api`` is installed (``pip install polyroute[otel]``)
and ``observability.otel`` is not ``false``: without it, no guard exists and a call
pays nothing. Spans are started with an explicit parent (never attached to the
context), so the sync and async drivers and streams that outlive the call frame need
no context juggling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from polyroute.budgets.call_record import error_name, how_it_left, record_key
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment
from polyroute.types import Attempt, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from polyroute.routing.context import RouterContext

__all__ = ["OTelGuard", "pipeline_configured", "use_providers"]

_SCOPE = "polyroute"
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                     20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864]
_override: dict[str, Any] = {}


def use_providers(tracer_provider: TracerProvider | None = None,
                  meter_provider: MeterProvider | None = None) -> None:
    """Use these providers for routers built from now on, instead of OpenTelemetry's
    global ones (tests; apps that keep several pipelines). ``None`` twice: back to global."""
    _override.clear()
    if tracer_provider is not None:
        _override["tracer"] = tracer_provider
    if meter_provider is not None:
        _override["meter"] = meter_provider


def pipeline_configured() -> bool:
    """An SDK (or ``use_providers``) is in place: the global providers are no longer
    the API's proxies/no-ops, so spans and metrics go somewhere."""
    if _override:
        return True
    tracer = type(trace.get_tracer_provider()).__name__
    meter = type(metrics.get_meter_provider()).__name__
    return not (tracer in ("ProxyTracerProvider", "NoOpTracerProvider")
                and meter in ("_ProxyMeterProvider", "NoOpMeterProvider"))


@dataclass(slots=True)
class _CallSpan:
    span: Span
    started: float = field(default_factory=time.perf_counter)
    ended: bool = False


class OTelGuard(Guard):
    name = "otel"

    def __init__(self, ctx: RouterContext) -> None:
        self._provider = ctx.provider
        self._prices = ctx.prices
        tracer_provider = _override.get("tracer")
        meter_provider = _override.get("meter")
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS)
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            description="Measures number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS)
        self.requests = meter.create_counter(
            "polyroute.client.requests", unit="{request}",
            description="Routed calls, by outcome, cache hit and fallback")
        self.cost = meter.create_counter(
            "polyroute.client.cost", unit="USD", description="Spend of answered calls")
        self._calls: dict[tuple[int, int], _CallSpan] = {}
        self._lock = threading.Lock()

    # --- the call ------------------------------------------------------------------

    def before_call(self, request: ChatRequest) -> None:
        r = request.routing
        label = r.agent or r.task or r.model or "default"
        attrs: dict[str, Any] = {"gen_ai.operation.name": "chat"}
        for key, value in (("polyroute.agent", r.agent), ("polyroute.task", r.task),
                           ("gen_ai.request.model", r.model), ("gen_ai.agent.name", r.agent)):
            if value:
                attrs[key] = value
        if request.params.temperature is not None:
            attrs["gen_ai.request.temperature"] = request.params.temperature
        if request.params.max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = request.params.max_tokens
        span = self.tracer.start_span(f"route {label}", kind=SpanKind.INTERNAL,
                                      attributes=attrs)
        with self._lock:
            self._calls[record_key(request)] = _CallSpan(span)
        return None

    def _call(self, request: ChatRequest) -> _CallSpan | None:
        with self._lock:
            return self._calls.get(record_key(request))

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        call = self._call(request)
        if call is None:
            return
        failed = [a for a in response.attempts if not a.ok]
        fallback = len({(a.provider, a.model) for a in response.attempts}) > 1
        attrs: dict[str, Any] = {  # one set_attributes: the SDK locks once per call
            "polyroute.provider": response.provider,
            "gen_ai.response.model": response.response_model or response.model,
            "gen_ai.usage.input_tokens": response.usage.input_tokens,
            "gen_ai.usage.output_tokens": response.usage.output_tokens,
            "polyroute.attempts": len(response.attempts),
            "polyroute.fallback": fallback,
            "polyroute.cache_hit": response.cache_hit,
        }
        if failed:
            attrs["polyroute.fallback.reason" if fallback else "polyroute.retry.reason"] = (
                failed[-1].error or "unknown")
        if response.cost_usd is not None:
            attrs["polyroute.cost_usd"] = response.cost_usd
            self.cost.add(response.cost_usd, {"polyroute.provider": response.provider})
        call.span.set_attributes(attrs)
        self._end_call(request, call, "ok", fallback=fallback)

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        call = self._call(request)
        if call is None:
            return
        name = error_name(error) or type(error).__name__
        call.span.set_attribute("error.type", name)
        call.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self._end_call(request, call, "error", error=name)

    def call_ended(self, request: ChatRequest) -> None:
        with self._lock:
            call = self._calls.pop(record_key(request), None)
        if call is None or call.ended:
            return
        status, err = how_it_left()
        if err is None and status == "cancelled":
            # left normally without an answer through the router: a cache guard answered
            call.span.set_attribute("polyroute.cache_hit", True)
            self._end_call(request, call, "cache_hit")
            return
        call.span.set_attribute("error.type", err or status)
        call.span.set_status(Status(StatusCode.ERROR, status))
        self._end_call(request, call, status, error=err or status)

    def _end_call(self, request: ChatRequest, call: _CallSpan, outcome: str, *,
                  fallback: bool = False, error: str | None = None) -> None:
        if call.ended:
            return
        call.ended = True
        call.span.set_attribute("polyroute.outcome", outcome)
        attrs: dict[str, Any] = {"polyroute.outcome": outcome, "polyroute.fallback": fallback,
                                 "polyroute.cache_hit": outcome == "cache_hit"}
        if request.routing.agent:
            attrs["polyroute.agent"] = request.routing.agent
        if error:
            attrs["error.type"] = error
        self.requests.add(1, attrs)
        call.span.end()

    # --- each attempt ----------------------------------------------------------------

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        call = self._call(request)
        provider = self._provider(dep.provider)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider.type_name if provider else dep.provider,
            "gen_ai.request.model": dep.model,
            "polyroute.provider": dep.provider,
        }
        if provider is not None and provider.settings.base_url:
            from urllib.parse import urlsplit

            host = urlsplit(provider.settings.base_url)
            if host.hostname:
                attrs["server.address"] = host.hostname
            if host.port:
                attrs["server.port"] = host.port
        parent = trace.set_span_in_context(call.span) if call is not None else None
        span = self.tracer.start_span(f"chat {dep.model}", context=parent,
                                      kind=SpanKind.CLIENT, attributes=attrs)
        return span, time.perf_counter(), attrs

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if ticket is None:
            return
        span, _, _ = ticket
        span.set_attribute("polyroute.attempt.cancelled", True)
        span.end()

    def after_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any,
                      attempt: Attempt, response: ChatResponse | None) -> None:
        if ticket is None:
            return
        span, t0, base = ticket
        metric_attrs = {k: base[k] for k in ("gen_ai.operation.name", "gen_ai.provider.name",
                                             "gen_ai.request.model") if k in base}
        if "server.address" in base:
            metric_attrs["server.address"] = base["server.address"]
        attrs: dict[str, Any] = {"polyroute.attempt.action": attempt.action}
        if response is not None:
            model = response.response_model or dep.model
            attrs["gen_ai.response.model"] = metric_attrs["gen_ai.response.model"] = model
            if response.response_id:
                attrs["gen_ai.response.id"] = response.response_id
            if response.finish_reason:
                attrs["gen_ai.response.finish_reasons"] = [response.finish_reason]
            usage = response.usage
            attrs["gen_ai.usage.input_tokens"] = usage.input_tokens
            attrs["gen_ai.usage.output_tokens"] = usage.output_tokens
            cost = self._prices.cost(dep, usage)
            if cost is not None:
                attrs["polyroute.cost_usd"] = cost
            for kind, n in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                self.tokens.record(n, {**metric_attrs, "gen_ai.token.type": kind})
        if not attempt.ok:
            attrs["error.type"] = metric_attrs["error.type"] = attempt.error or "unknown"
            if attempt.status is not None:
                attrs["http.response.status_code"] = attempt.status
            span.set_status(Status(StatusCode.ERROR, attempt.error or "failed"))
        span.set_attributes(attrs)
        self.duration.record(time.perf_counter() - t0, metric_attrs)
        span.end()

    def close(self) -> None:
        with self._lock:  # calls still open when the router closes: end their spans
            calls, self._calls = list(self._calls.values()), {}
        for call in calls:
            if not call.ended:
                call.span.end()
