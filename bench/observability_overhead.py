"""What the OpenTelemetry guard adds to one routed call (issue 13).

Runs the guard's hooks for one call with one attempt — ``before_call``,
``before_attempt``, ``after_attempt``, ``after_call``, ``call_ended`` — against the
OpenTelemetry SDK (a ``TracerProvider`` with an in-memory exporter, a ``MeterProvider``
with an in-memory reader), N times, and prints microseconds per call as JSON. No
network: this is the guard's own cost, what a call pays on top of its HTTP round trip.
Without the package (or with ``otel: auto`` and no SDK set up) no guard exists: zero.

Run with ``.venv/bin/python bench/observability_overhead.py``.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from polyroute.observability.otel import OTelGuard, use_providers
from polyroute.refs import Deployment
from polyroute.types import Attempt, ChatRequest, ChatResponse, Message, RoutingHints, Usage

N = 2000


def main() -> None:
    exporter = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    use_providers(tracing, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    provider = SimpleNamespace(type_name="openai",
                               settings=SimpleNamespace(base_url="https://api.openai.com/v1"))
    ctx: Any = SimpleNamespace(provider=lambda name: provider,
                               prices=SimpleNamespace(cost=lambda dep, usage: 0.0001))
    guard = OTelGuard(ctx)
    dep = Deployment("openai", "gpt-4.1-mini")
    usage = Usage(input_tokens=120, output_tokens=40)
    t_total = 0.0
    for _ in range(N):
        request = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="a"))
        response = ChatResponse(message=Message.assistant("hello"), usage=usage,
                                provider="openai", model="gpt-4.1-mini", finish_reason="stop",
                                cost_usd=0.0001)
        attempt = Attempt(provider="openai", model="gpt-4.1-mini", ok=True, latency_ms=300.0)
        response.attempts = [attempt]
        t0 = time.perf_counter()
        guard.before_call(request)
        ticket = guard.before_attempt(dep, request)
        guard.after_attempt(dep, request, ticket, attempt, response)
        guard.after_call(request, response)
        guard.call_ended(request)
        t_total += time.perf_counter() - t0
        exporter.clear()
    use_providers()
    print(json.dumps({"otel_guard_us_per_call": round(t_total / N * 1e6, 1), "calls": N,
                      "spans_per_call": 2, "sdk": "TracerProvider+SimpleSpanProcessor+"
                      "InMemorySpanExporter, MeterProvider+InMemoryMetricReader"}))


if __name__ == "__main__":
    main()
