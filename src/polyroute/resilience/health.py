"""Health per deployment: passive from traffic, optional active probes.

Per attempt (a ``Guard``): in-flight count and last use before; success or
error, a latency histogram bucket and a latency EWMA after; time to first token
for streams (the router reports it). Samples go to the router's ``StateStore``
in windows of ``health.window`` seconds, ``health.history`` windows kept, so
history is bounded and processes sharing a store share health.

``snapshot()`` gives success and error rate, latency p50/p95 (from the
histogram), mean time to first token, uptime (share of windows with traffic in
which the deployment mostly answered), in-flight calls, circuit state and a
``score`` in 0..1 that the ``health`` and ``score`` strategies use.
``HealthProber`` sends each configured deployment its cheapest request (one
token) every ``health.probe_interval`` seconds on a background thread; it is off
unless configured.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from polyroute.config.resilience import HealthConfig
from polyroute.errors import StateStoreError
from polyroute.logs import get_logger
from polyroute.resilience.stored import Advisory, is_count
from polyroute.routing.guards import Guard
from polyroute.routing.plan import LATENCY_SKIP, Deployment, Note
from polyroute.state import StateStore
from polyroute.state.base import Counter
from polyroute.types import Attempt, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.resilience.breaker import CircuitBreaker
    from polyroute.routing.context import RouterContext

__all__ = ["HealthProber", "HealthTracker", "named_deployments"]

logger = get_logger("resilience.health")

# Upper bounds (ms) of the latency histogram's buckets; the last is open-ended.
BOUNDS_MS: tuple[float, ...] = (
    25, 50, 100, 200, 350, 500, 750, 1000, 1500, 2000, 3000, 5000, 8000, 12000, 20000,
    30000, 60000, float("inf"),
)


class HealthTracker(Guard):
    name = "health"

    def __init__(
        self, cfg: HealthConfig, store: StateStore, *, clock: Callable[[], float] = time.time,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self.breaker = breaker
        self._ttl = cfg.window * cfg.history
        self._alpha = cfg.ewma_alpha
        self._data = Advisory(store, logger, "health")
        self.known: dict[str, None] = {}
        """Deployments seen or configured (ordered set), for ``snapshot``."""

    def _w(self) -> int:
        return int(self.clock() // self.cfg.window)

    # --- guard hooks (the hot path: O(1) store operations) -----------------------------

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        key = dep.key
        # nobody waits for these: one step of the store, or held and sent together
        self._data.bump_later([(f"h:{key}:busy", 1, None)],
                              sets=[(f"h:{key}:last", self.clock())])
        return None

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        self._data.bump(f"h:{dep.key}:busy", -1)

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        self._record(dep.key, attempt.ok, attempt.latency_ms, [(f"h:{dep.key}:busy", -1, None)])

    def record(self, key: str, ok: bool, latency_ms: float) -> None:
        """One outcome (also used by probes)."""
        self._record(key, ok, latency_ms, [])

    def _record(self, key: str, ok: bool, latency_ms: float, counters: list[Counter]) -> None:
        # every write of one outcome in one step of the store (one Redis round trip)
        if key not in self.known:
            self.known[key] = None
        ttl, w = self._ttl, self._w()
        if not ok:
            counters.append((f"h:{key}:{w}:err", 1, ttl))
            self._data.bump_later(counters)
            return
        counters.append((f"h:{key}:{w}:ok", 1, ttl))
        counters.append((f"h:{key}:{w}:b{bisect_left(BOUNDS_MS, latency_ms)}", 1, ttl))
        self._data.bump_later(counters, ewma=(f"h:{key}:ewma", latency_ms, self._alpha))

    def first_token(self, dep: Deployment, ms: float) -> None:
        """A stream's time to first token."""
        w = self._w()
        self._data.bump(f"h:{dep.key}:{w}:tt", ms, ttl=self._ttl)
        self._data.bump(f"h:{dep.key}:{w}:ttn", 1, ttl=self._ttl)

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        """``max_latency_ms``: skip ``dep`` if its recent p95 is above it; with too few
        recent calls to judge, keep it and say so (a ``Note``)."""
        limit = request.routing.max_latency_ms
        if limit is None:
            return None
        p95, n = self.recent_p95(dep.key)
        need = self.cfg.latency_min_samples
        if p95 is None or n < need:
            return Note(f"max_latency_ms not judged: {n} recent successful calls, "
                        f"{need} needed")
        if p95 > limit:
            return (f"observed p95 latency {p95:,.0f} ms (last {n} calls) {LATENCY_SKIP} "
                    f"{limit:g}")
        return None

    # --- reading (strategies: a few reads per candidate) ---------------------------------

    def recent_p95(self, key: str) -> tuple[float | None, int]:
        """(p95 latency in ms, successful calls) over the current and previous window."""
        w, g = self._w(), self._data.number
        buckets = [0.0] * len(BOUNDS_MS)
        for i in (w - 1, w):
            for b in range(len(BOUNDS_MS)):
                buckets[b] += g(f"h:{key}:{i}:b{b}")
        return _quantile(buckets, 0.95), int(sum(buckets))

    def latency(self, key: str) -> float | None:
        """EWMA of successful attempts' latency (ms), ``None`` if never measured."""
        v = self._data.get(f"h:{key}:ewma", is_count)
        return None if v is None else float(v)

    def in_flight(self, key: str) -> int:
        return int(self._data.number(f"h:{key}:busy"))

    def last_used(self, key: str) -> float | None:
        v = self._data.get(f"h:{key}:last", self._past)
        return None if v is None else float(v)

    def _past(self, v: Any) -> bool:
        """A time of last use: not after now (a day of clock skew allowed); the LRU
        strategy would otherwise never pick it."""
        return is_count(v) and v <= self.clock() + 86400

    def recent(self, key: str) -> tuple[float, float]:
        """(ok, errors) over the current and the previous window."""
        w, g = self._w(), self._data.number
        ok = sum(g(f"h:{key}:{i}:ok") for i in (w, w - 1))
        err = sum(g(f"h:{key}:{i}:err") for i in (w, w - 1))
        return ok, err

    def score(self, key: str, latency_reference_ms: float = 2000.0) -> float:
        """0..1: smoothed recent success rate (80%) and latency (20%); 0 if the circuit
        is open. An unmeasured deployment scores high, so it gets traffic."""
        if self.breaker is not None:
            try:
                if self.breaker.state(key) == "open":
                    return 0.0
            except StateStoreError:  # the breaker refuses the call itself; rank it last
                return 0.0
        ok, err = self.recent(key)
        success = (ok + 1.0) / (ok + err + 1.0)
        lat = self.latency(key)
        speed = 1.0 if lat is None else 1.0 / (1.0 + lat / latency_reference_ms)
        return round(0.8 * success + 0.2 * speed, 4)

    # --- export ---------------------------------------------------------------------------

    def snapshot(self, keys: Iterable[str] = (), *, history: bool = False) -> dict[str, Any]:
        """Health of ``keys`` (default: every known deployment), JSON-ready."""
        out: dict[str, Any] = {}
        for key in dict.fromkeys([*keys, *self.known]):
            out[key] = self._one(key, history)
        return out

    def _one(self, key: str, with_history: bool) -> dict[str, Any]:
        g = self._data.number
        w = self._w()
        ok = err = tt = ttn = 0.0
        buckets = [0.0] * len(BOUNDS_MS)
        windows: list[dict[str, Any]] = []
        traffic = good = 0
        for i in range(w - self.cfg.history + 1, w + 1):
            wok = g(f"h:{key}:{i}:ok")
            werr = g(f"h:{key}:{i}:err")
            if not wok and not werr:
                continue
            ok, err = ok + wok, err + werr
            tt += g(f"h:{key}:{i}:tt")
            ttn += g(f"h:{key}:{i}:ttn")
            wb = [g(f"h:{key}:{i}:b{b}") for b in range(len(BOUNDS_MS))]
            buckets = [x + y for x, y in zip(buckets, wb, strict=True)]
            traffic += 1
            good += wok >= werr
            if with_history:
                windows.append({"start": i * self.cfg.window, "ok": int(wok), "errors": int(werr),
                                "p50_ms": _quantile(wb, 0.5), "p95_ms": _quantile(wb, 0.95)})
        total = ok + err
        lat = self.latency(key)
        snap: dict[str, Any] = {
            "requests": int(total),
            "success_rate": round(ok / total, 4) if total else None,
            "error_rate": round(err / total, 4) if total else None,
            "latency_p50_ms": _quantile(buckets, 0.5),
            "latency_p95_ms": _quantile(buckets, 0.95),
            "latency_ewma_ms": None if lat is None else round(lat, 1),
            "ttft_ms": round(tt / ttn, 1) if ttn else None,
            "uptime": round(good / traffic, 4) if traffic else None,
            "in_flight": self.in_flight(key),
            "circuit": self.breaker.info(key) if self.breaker is not None else None,
            "score": self.score(key),
        }
        if with_history:
            snap["history"] = windows
        return snap


def _quantile(buckets: list[float], q: float) -> float | None:
    total = sum(buckets)
    if not total:
        return None
    target, seen = q * total, 0.0
    for i, n in enumerate(buckets):
        if n and seen + n >= target:
            lo = BOUNDS_MS[i - 1] if i else 0.0
            hi = BOUNDS_MS[i] if BOUNDS_MS[i] != float("inf") else lo * 2
            return round(lo + (hi - lo) * (target - seen) / n, 1)
        seen += n
    return None  # pragma: no cover


def named_deployments(cfg: PolyrouteConfig) -> list[Deployment]:
    """Every deployment ``cfg`` names (routes, agents and their fallbacks, default)."""
    from polyroute.routing.plan import parse_model_ref

    refs: list[str] = []
    for route in cfg.routes.values():
        refs += [m for tier in route.tiers for m in tier]
    for agent in cfg.agents.values():
        refs += [agent.model] if agent.model else []
        refs += agent.fallbacks
    if cfg.default and cfg.default not in cfg.routes:
        refs.append(cfg.default)
    return [Deployment(*parse_model_ref(r)) for r in dict.fromkeys(refs)]


class HealthProber:
    """Active probes: every ``interval`` seconds, one cheapest request per deployment,
    sent through the router's transport (``ctx.transport``)."""

    def __init__(self, ctx: RouterContext, interval: float) -> None:
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deployments(self) -> list[Deployment]:
        return named_deployments(self.ctx.config)

    def probe_once(self) -> dict[str, bool]:
        """Probe every deployment once; ``{provider/model: answered}``."""
        from polyroute.transport import Timeouts
        from polyroute.types import GenerationParams, Message

        ctx = self.ctx
        health = ctx.health
        t = ctx.config.health.probe_timeout
        results: dict[str, bool] = {}
        request = ChatRequest(messages=[Message.user(ctx.config.health.probe_prompt)],
                              params=GenerationParams(max_tokens=1))
        for dep in self.deployments():
            provider = ctx.provider(dep.provider)
            if provider is None or provider.is_configured() is not None:
                continue
            t0 = time.perf_counter()
            try:
                http = provider.build_request(request, dep.model, stream=False)
                raw = ctx.transport.send(http, Timeouts(t, t, t), provider=dep.provider,
                                         model=dep.model)
                ok = raw.status < 400
            except Exception as exc:  # a probe failure is data, never an error
                logger.info("probe of %s failed: %s", dep, exc)
                ok = False
            if health is not None:
                health.record(dep.key, ok, (time.perf_counter() - t0) * 1000.0)
            results[dep.key] = ok
        return results

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.probe_once()
            except Exception:  # pragma: no cover - keep probing
                logger.exception("health probe round failed")

    def start(self) -> HealthProber:
        self._thread = threading.Thread(target=self._run, name="polyroute-health-probe",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
