"""OpenTelemetry spans and metrics, checked with the SDK's in-memory exporter and reader.

Attribute and metric names are the GenAI semantic conventions'
(https://opentelemetry.io/docs/specs/semconv/gen-ai/, v1.41)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs opentelemetry-sdk (polyroute[otel])")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from polyroute.errors import ConfigError, NoRouteError
from polyroute.observability import otel_guard
from polyroute.observability.otel import OTelGuard, use_providers
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints


@pytest.fixture
def otel() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    use_providers(tracer_provider, MeterProvider(metric_readers=[reader]))
    yield exporter, reader
    use_providers()


def config(primary: StandinServer, secondary: StandinServer, **more: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m1", "fallbacks": ["b:m2"]}},
        "retry": {"attempts": 1},
        "models": {"a:m1": {"prices": {"input": 1.0, "output": 2.0}},
                   "b:m2": {"prices": {"input": 1.0, "output": 2.0}}},
        **more,
    }


def ask(text: str = "hello there") -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


def test_a_call_is_one_span_with_one_client_span_per_attempt(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, reader = otel
    with Router(config(primary, secondary), registry=echo_registry) as router:
        resp = router.chat(ask())
    spans = by_name(exporter.get_finished_spans())
    (call,) = spans["route bot"]
    (attempt,) = spans["chat m1"]
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    assert attempt.kind == SpanKind.CLIENT
    a = dict(attempt.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "echo"
    assert a["gen_ai.request.model"] == "m1" and a["gen_ai.response.model"] == "m1"
    assert a["gen_ai.usage.input_tokens"] == 3
    assert a["gen_ai.usage.output_tokens"] == resp.usage.output_tokens
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["server.address"] == "127.0.0.1"
    assert a["polyroute.cost_usd"] == pytest.approx(resp.cost_usd)
    c = dict(call.attributes or {})
    assert c["polyroute.agent"] == "bot" and c["polyroute.outcome"] == "ok"
    assert c["polyroute.fallback"] is False and c["polyroute.cache_hit"] is False
    assert c["polyroute.cost_usd"] == pytest.approx(resp.cost_usd)
    points = metric_points(reader)
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 1 and duration.attributes["gen_ai.request.model"] == "m1"
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
    assert tokens == {"input": 3, "output": resp.usage.output_tokens}
    (requests,) = points["polyroute.client.requests"]
    assert requests.value == 1 and requests.attributes["polyroute.outcome"] == "ok"


def test_a_fallback_says_why_on_the_call_and_marks_the_failed_attempt(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, reader = otel
    primary.push(Fault.status(500))
    with Router(config(primary, secondary), registry=echo_registry) as router:
        resp = router.chat(ask())
    assert resp.provider == "b"
    spans = by_name(exporter.get_finished_spans())
    failed, answered = spans["chat m1"][0], spans["chat m2"][0]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "ServerError"
    assert failed.attributes["http.response.status_code"] == 500
    assert answered.status.status_code != StatusCode.ERROR
    call = spans["route bot"][0]
    assert call.attributes["polyroute.fallback"] is True
    assert call.attributes["polyroute.fallback.reason"] == "ServerError"
    assert call.attributes["polyroute.attempts"] == 2
    durations = metric_points(reader)["gen_ai.client.operation.duration"]
    assert sorted(p.attributes.get("error.type", "") for p in durations) == ["", "ServerError"]


def test_a_call_that_fails_everywhere_ends_its_span_in_error(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, reader = otel
    primary.push(Fault.status(500))
    secondary.push(Fault.status(500))
    with Router(config(primary, secondary), registry=echo_registry) as router, \
            pytest.raises(NoRouteError):
        router.chat(ask())
    call = by_name(exporter.get_finished_spans())["route bot"][0]
    assert call.status.status_code == StatusCode.ERROR
    assert call.attributes["error.type"] == "NoRouteError(ServerError)"
    (requests,) = metric_points(reader)["polyroute.client.requests"]
    assert requests.attributes["polyroute.outcome"] == "error"


def test_a_cache_hit_is_a_call_span_without_attempts(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer, tmp_path: Path) -> None:
    exporter, reader = otel
    cfg = config(primary, secondary, cache={"directory": str(tmp_path / "cache")})
    with Router(cfg, registry=echo_registry) as router:
        router.chat(ask())
        hit = router.chat(ask())
    assert hit.cache_hit
    spans = by_name(exporter.get_finished_spans())
    assert len(spans["route bot"]) == 2 and len(spans["chat m1"]) == 1
    assert spans["route bot"][1].attributes["polyroute.cache_hit"] is True
    outcomes = sorted(p.attributes["polyroute.outcome"]
                      for p in metric_points(reader)["polyroute.client.requests"])
    assert outcomes == ["cache_hit", "ok"]


def test_a_stream_ends_its_spans_when_the_stream_ends(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, _ = otel
    with Router(config(primary, secondary), registry=echo_registry) as router:
        chunks = list(router.stream(ask()))
    assert chunks
    spans = by_name(exporter.get_finished_spans())
    assert spans["route bot"][0].attributes["polyroute.outcome"] == "ok"
    assert spans["chat m1"][0].attributes["gen_ai.usage.output_tokens"] > 0


async def test_async_calls_are_traced_the_same(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, _ = otel
    async with Router(config(primary, secondary), registry=echo_registry) as router:
        await router.achat(ask())
    assert set(by_name(exporter.get_finished_spans())) == {"route bot", "chat m1"}


def test_no_prompt_text_or_key_reaches_a_span(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    exporter, _ = otel
    monkeypatch.setenv("ECHO_API_KEY", "sk-test-SECRETSECRETSECRET123")
    with Router(config(primary, secondary), registry=echo_registry) as router:
        router.chat(ask("my card is 4111 1111 1111 1111"))
    dumped = "".join(str(s.to_json()) for s in exporter.get_finished_spans())
    # "4111 1111", not "4111": a random hex span id may hold "4111"
    assert "4111 1111" not in dumped and "my card" not in dumped and "SECRETSECRET" not in dumped


def test_auto_builds_no_guard_without_an_sdk_pipeline(echo_registry: PluginRegistry) -> None:
    use_providers()  # global providers: the API's proxies in this test process
    with Router({}, registry=echo_registry) as router:
        assert not any(isinstance(g, OTelGuard) for g in router.guards)
    with Router({"observability": {"otel": False}}, registry=echo_registry) as router:
        assert not any(isinstance(g, OTelGuard) for g in router.guards)


def test_otel_true_without_the_package_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import polyroute.observability as obs
    from polyroute.config.loader import config_from_data

    monkeypatch.setattr(obs, "otel_available", lambda: False)
    cfg = config_from_data({"observability": {"otel": True}})

    class Ctx:
        config = cfg

    with pytest.raises(ConfigError, match="polyroute\\[otel\\]"):
        otel_guard(Ctx())  # type: ignore[arg-type]
    cfg_auto = config_from_data({})

    class Auto:
        config = cfg_auto

    assert otel_guard(Auto()) is None  # type: ignore[arg-type]


def test_a_stream_closed_early_ends_its_spans_as_cancelled(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, reader = otel
    with Router(config(primary, secondary), registry=echo_registry) as router:
        stream = router.stream(ask("one two three four five six"))
        next(stream)
        stream.close()  # the caller walks away mid-answer
    spans = by_name(exporter.get_finished_spans())
    call = spans["route bot"][0]
    assert call.attributes["polyroute.outcome"] == "cancelled"
    assert call.attributes["error.type"] == "GeneratorExit"
    assert len(spans["chat m1"]) == 1  # the attempt span ended too
    (requests,) = metric_points(reader)["polyroute.client.requests"]
    assert requests.attributes["polyroute.outcome"] == "cancelled"


def test_refused_candidates_show_as_cancelled_attempt_spans(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], echo_registry: PluginRegistry,
        primary: StandinServer, secondary: StandinServer) -> None:
    exporter, _ = otel
    cfg = config(primary, secondary, privacy={"mode": "refuse", "providers": {"b": "allow"}})
    with Router(cfg, registry=echo_registry) as router:
        resp = router.chat(ask("mail jane@example.com"))
    assert resp.provider == "b"
    spans = by_name(exporter.get_finished_spans())
    assert spans["chat m1"][0].attributes["polyroute.attempt.cancelled"] is True
    assert spans["route bot"][0].attributes["polyroute.provider"] == "b"
