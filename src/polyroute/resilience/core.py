"""The resilience components of one router, built from its config and sharing its
``StateStore``: breaker, rate-limit cooldown, rate limiter, health (+ optional
prober), failover stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from polyroute.config.schema import PolyrouteConfig
from polyroute.resilience.breaker import CircuitBreaker
from polyroute.resilience.cooldown import RateLimitCooldown
from polyroute.resilience.failover import FailoverStats
from polyroute.resilience.health import HealthProber, HealthTracker
from polyroute.resilience.ratelimit import RateLimiter
from polyroute.routing.guards import Guard
from polyroute.state import StateStore

if TYPE_CHECKING:
    from polyroute.routing.context import RouterContext

__all__ = ["Resilience"]


class Resilience:
    def __init__(
        self, config: PolyrouteConfig, store: StateStore, *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.breaker = (
            CircuitBreaker(config.breaker, store, clock=clock) if config.breaker.enabled else None
        )
        cool = config.rate_limits.cooldown
        self.cooldown = RateLimitCooldown(cool, store, clock=clock) if cool.enabled else None
        self.limiter = RateLimiter(config.rate_limits, config.providers, store, clock=clock,
                                   sleep=sleep, asleep=asleep)
        self.health = (
            HealthTracker(config.health, store, clock=clock, breaker=self.breaker)
            if config.health.enabled else None
        )
        self.failover = FailoverStats(store)
        self.prober: HealthProber | None = None
        self._probe_interval = config.health.probe_interval

    def guards(self) -> list[Guard]:
        """In the order they run: a cheap refusal first, waiting next, bookkeeping last."""
        out: list[Guard] = []
        if self.breaker is not None:
            out.append(self.breaker)
        if self.cooldown is not None:
            out.append(self.cooldown)
        if self.limiter.configured:
            out.append(self.limiter)
        if self.health is not None:
            out.append(self.health)
        return out

    def start(self, ctx: RouterContext) -> None:
        """Wire circuit-opening alerts to the router's alert bus; start active probes
        if ``health.probe_interval`` is set (off by default)."""
        if self.breaker is not None:
            alerts = ctx.alerts

            def opened(dep: str, why: str) -> None:
                from polyroute.analytics.alerts import Alert

                alerts.emit(Alert.circuit_open(dep, reason=why))

            self.breaker.on_open = opened
        if self._probe_interval and self.prober is None:
            self.prober = HealthProber(ctx, self._probe_interval).start()

    def stop(self) -> None:
        if self.prober is not None:
            self.prober.stop()
            self.prober = None
