"""Alerts: budget thresholds, error-rate and latency degradation, circuits opening.

Producers call ``alerts_for(router).emit(Alert(...))``; sinks receive each alert.
Built-in sinks: the log (``polyroute.alerts`` logger) and a webhook (JSON POST
from a background thread — never on the request path; a full queue drops the
alert and counts it), sent through the router's ``Transport`` like every other
request the core makes. Plugins see every alert through the
``polyroute_on_alert(alert)`` plugin hook.

Circuits opening reach the bus through ``CircuitBreaker.on_open``, which the
router wires at start (``resilience/core.py``).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from polyroute.config.cost import AlertsConfig
from polyroute.logs import get_logger

if TYPE_CHECKING:
    from polyroute.transport import Transport

__all__ = ["Alert", "Alerts", "DegradationMonitor", "LogSink", "WebhookSink", "alerts_for"]

logger = get_logger("alerts")
Severity = Literal["info", "warning", "critical"]
AlertSink = Callable[["Alert"], None]


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    """``budget_threshold``, ``budget_exceeded``, ``error_rate``, ``latency``, ``circuit_open``."""
    subject: str
    """What it is about: a budget label or a deployment ``provider/model``."""
    message: str
    severity: Severity = "warning"
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def circuit_open(cls, deployment: str, reason: str = "", **data: Any) -> Alert:
        text = f"circuit opened for {deployment}" + (f": {reason}" if reason else "")
        return cls("circuit_open", deployment, text, "critical", dict(data))


class LogSink:
    """Each alert as one log record on ``polyroute.alerts`` (critical → ERROR)."""

    def __call__(self, alert: Alert) -> None:
        level = 40 if alert.severity == "critical" else 30 if alert.severity == "warning" else 20
        logger.log(level, "[%s] %s", alert.kind, alert.message)


class WebhookSink:
    """POSTs each alert as JSON from a daemon thread; the caller only enqueues.

    The POST goes through ``transport`` (the router's): one HTTP client, one set of
    pools and proxies for the whole core. ``post`` replaces the sending (tests).
    """

    def __init__(self, url: str, *, max_queue: int = 1000, timeout: float = 5.0,
                 post: Callable[[str, dict[str, Any]], Any] | None = None,
                 transport: Transport | None = None) -> None:
        self.url = url
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[Alert | None] = queue.Queue(max_queue)
        self._timeout = timeout
        self._post = post
        self._transport = transport
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="polyroute-alert-webhook", daemon=True
                )
                self._thread.start()

    def _send(self, url: str, body: dict[str, Any]) -> None:
        from polyroute.providers.base import HttpRequest
        from polyroute.transport import Timeouts, Transport

        if self._transport is None:  # a sink built on its own, outside a router
            self._transport = Transport(max_connections=1, max_keepalive_connections=1)
        t = self._timeout
        raw = self._transport.send(
            HttpRequest("POST", url, {"content-type": "application/json"},
                        content=json.dumps(body, default=str).encode()),
            Timeouts(t, t, t), provider="alerts", model="webhook",
        )
        if raw.status >= 400:
            raise RuntimeError(f"the webhook answered status {raw.status}")

    def _run(self) -> None:
        post = self._post or self._send
        while True:
            alert = self._queue.get()
            if alert is None:
                break
            try:
                post(self.url, {"source": "polyroute", **alert.as_dict()})
                self.sent += 1
            except Exception as exc:
                logger.warning("alert webhook failed: %s", type(exc).__name__)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout``) until queued alerts are sent. For tests and shutdown."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)


class Alerts:
    """Fans alerts out to sinks (and the ``polyroute_on_alert`` hook, if registered)."""

    def __init__(self, sinks: list[AlertSink] | None = None,
                 hook: Callable[..., Any] | None = None) -> None:
        self.sinks: list[AlertSink] = list(sinks or [])
        self._hook = hook
        self.history: deque[Alert] = deque(maxlen=100)

    @classmethod
    def from_config(cls, cfg: AlertsConfig, hook: Callable[..., Any] | None = None, *,
                    transport: Transport | None = None) -> Alerts:
        """The bus ``cfg`` asks for; a webhook sends through ``transport``."""
        sinks: list[AlertSink] = []
        if cfg.log:
            sinks.append(LogSink())
        if cfg.webhook is not None and cfg.webhook.is_available():
            sinks.append(WebhookSink(cfg.webhook.reveal(what="alerts.webhook"),
                                     transport=transport))
        return cls(sinks, hook)

    def add_sink(self, sink: AlertSink) -> None:
        self.sinks.append(sink)

    def emit(self, alert: Alert) -> None:
        self.history.append(alert)
        for sink in self.sinks:
            try:
                sink(alert)
            except Exception as exc:  # an alert sink must never fail a call
                logger.warning("alert sink %r failed: %s", sink, exc)
        if self._hook is not None:
            try:
                self._hook(alert=alert)
            except Exception as exc:
                logger.warning("polyroute_on_alert hook failed: %s", exc)


class _HasAlerts(Protocol):
    @property
    def alerts(self) -> Alerts: ...


def alerts_for(owner: _HasAlerts) -> Alerts:
    """The alert bus of a router (or of its ``RouterContext``): the router builds it
    from its ``alerts:`` config, once."""
    return owner.alerts


class DegradationMonitor:
    """Error rate and p95 latency per deployment over its last ``window`` calls.

    O(1) per call for the error rate; the p95 is recomputed every few calls.
    Fires once when a threshold is crossed and again only after recovery.
    """

    def __init__(self, cfg: AlertsConfig, alerts: Alerts) -> None:
        self.cfg = cfg
        self.alerts = alerts
        self._outcomes: dict[str, deque[tuple[bool, float]]] = {}
        self._errors: dict[str, int] = {}
        self._firing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._tick = 0

    def record(self, deployment: str, ok: bool, latency_ms: float) -> None:
        cfg = self.cfg
        with self._lock:
            window = self._outcomes.get(deployment)
            if window is None:
                window = self._outcomes[deployment] = deque(maxlen=cfg.window)
                self._errors[deployment] = 0
            if len(window) == window.maxlen and not window[0][0]:
                self._errors[deployment] -= 1
            window.append((ok, latency_ms))
            if not ok:
                self._errors[deployment] += 1
            n = len(window)
            if n < cfg.min_calls:
                return
            rate = self._errors[deployment] / n
            self._tick += 1
            p95 = None
            if cfg.latency_p95_ms is not None and self._tick % 5 == 0:
                lat = sorted(x for good, x in window if good)
                p95 = lat[int(0.95 * (len(lat) - 1))] if lat else None
        # the words are made only on an edge: formatting them cost ~2 µs on every call
        firing = self._firing
        if cfg.error_rate is not None and (
                (rate >= cfg.error_rate) != ((deployment, "error_rate") in firing)):
            self._edge(deployment, "error_rate", rate >= cfg.error_rate,
                       f"{deployment}: error rate {rate:.0%} over the last {n} calls "
                       f"(threshold {cfg.error_rate:.0%})", {"error_rate": rate, "calls": n})
        if p95 is not None and cfg.latency_p95_ms is not None and (
                (p95 >= cfg.latency_p95_ms) != ((deployment, "latency") in firing)):
            self._edge(deployment, "latency", p95 >= cfg.latency_p95_ms,
                       f"{deployment}: p95 latency {p95:.0f} ms over the last {n} calls "
                       f"(threshold {cfg.latency_p95_ms:.0f} ms)", {"p95_ms": p95, "calls": n})

    def _edge(self, dep: str, kind: str, bad: bool, message: str, data: dict[str, Any]) -> None:
        key = (dep, kind)
        if bad and key not in self._firing:
            self._firing.add(key)
            self.alerts.emit(Alert(kind, dep, message, "warning", data))
        elif not bad and key in self._firing:
            self._firing.discard(key)
