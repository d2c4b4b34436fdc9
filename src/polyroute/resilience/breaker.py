"""A circuit breaker per deployment, as a ``Guard``.

```
CLOSED ──(N consecutive counted failures, or failure ratio ≥ r over the window
          once it holds ≥ min_requests)──► OPEN
OPEN ──(cooldown passed)──► HALF_OPEN: admits ``half_open_probes`` calls
HALF_OPEN ──probe succeeds──► CLOSED (cooldown back to its base)
HALF_OPEN ──probe fails────► OPEN, cooldown x multiplier (capped at max_cooldown)
```

Only the error classes in ``breaker.count`` count (default: server, overloaded,
timeout, connection); a 400 or 401 says nothing about the deployment's health.
State lives in the router's ``StateStore`` under ``cb:<provider/model>``, so
processes sharing a store share circuits. Per attempt the work is O(1): one
read before, one to three counter updates after.

Every transition is a compare-and-set (``StateStore.cas``) on that one record:
read it, decide, write it only if nobody changed it meanwhile, else read again.
So however many processes and hosts share the store, a circuit opens once (one
alert, one reopen count), and a half-open circuit admits exactly
``half_open_probes`` probes: the probe count lives in the record, so a probe is
never admitted under a record another process has just reopened. A probe's
admission expires with the cooldown (``probe_until``), so a process killed while
probing does not leave the circuit half-open forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from polyroute.config.resilience import BreakerConfig
from polyroute.errors import StateStoreError
from polyroute.logs import get_logger
from polyroute.resilience.classes import class_of_name
from polyroute.resilience.stored import corrupt, count, is_finite, record
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.state import StateStore
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["CircuitBreaker"]

logger = get_logger("resilience.breaker")
_GUARD = "circuit breaker"
_FAR = 366 * 86400.0
# what _open writes under cb:<dep>
_STATE = {"until": is_finite, "n": lambda v: type(v) is int and v >= 0,
          "why": lambda v: v is None or type(v) is str}
_TRIES = 32  # compare-and-set rounds: each lost round means another process moved


class _Probe:
    """A half-open probe's ticket: the open episode (its ``until``) it was admitted in."""

    __slots__ = ("episode",)

    def __init__(self, episode: float) -> None:
        self.episode = episode

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Probe) and other.episode == self.episode

    def __hash__(self) -> int:
        return hash(self.episode)

    def __repr__(self) -> str:
        return f"<probe of the circuit opened until {self.episode}>"


class CircuitBreaker(Guard):
    name = "circuit_breaker"

    def __init__(
        self, cfg: BreakerConfig, store: StateStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self._count = frozenset(cfg.count)
        self._ratio = cfg.failure_ratio
        self._far = max(_FAR, 2 * cfg.max_cooldown)
        self.on_open: Callable[[str, str], None] | None = None
        """Told ``(deployment, why)`` each time a circuit opens (the router's alerts)."""

    # --- reading ------------------------------------------------------------------

    def state(self, dep: Deployment | str) -> str:
        """``closed``, ``open`` or ``half_open`` (cooldown over, probing)."""
        st = self._get(f"cb:{dep}")
        if st is None:
            return "closed"
        return "open" if self.clock() < st["until"] else "half_open"

    def _get(self, key: str, *, peek: bool = False) -> dict[str, Any] | None:
        """The circuit's record; ``peek``: a recent read will do (``StateStore.peek``),
        for deciding to skip or go ahead, never for a transition."""
        st = self.store.peek(key) if peek else self.store.get(key)
        if st is None:
            return None
        st = record(self.store, key, st, _STATE, _GUARD)
        if st["until"] - self.clock() > self._far:  # no cooldown is that long: open forever
            raise corrupt(self.store, key, st, "a circuit open for less than a year", _GUARD)
        return st

    def _counted(self, key: str, value: float) -> float:
        """A counter just incremented by 1: below 1 it held a negative count, which
        would keep the circuit closed however many calls fail."""
        if value < 1:
            raise corrupt(self.store, key, value - 1, "a non-negative count", _GUARD)
        return value

    def info(self, dep: Deployment | str) -> dict[str, Any]:
        """State, reopen count, seconds left open, why it opened (for health/CLI)."""
        st = self._get(f"cb:{dep}") or {}
        left = max(0.0, st.get("until", 0.0) - self.clock()) if st else 0.0
        return {"state": self.state(dep), "opened": st.get("n", 0), "open_for_s": round(left, 3),
                "why": st.get("why")}

    def _cooldown(self, reopenings: int) -> float:
        c = self.cfg
        try:  # a corrupt or very long run of reopenings: long since at the cap
            return min(c.max_cooldown, c.cooldown * c.cooldown_multiplier ** min(reopenings, 1000))
        except OverflowError:
            return c.max_cooldown

    # --- guard hooks ----------------------------------------------------------------

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        st = self._get(f"cb:{dep}", peek=True)
        if st is None:
            return None
        return self._refusal(dep, st, probing=False)

    def _refusal(self, dep: Deployment, st: dict[str, Any], *, probing: bool) -> str | None:
        left = st["until"] - self.clock()
        if left > 0:
            until = time.strftime("%H:%M:%S", time.localtime(time.time() + left))
            return f"circuit open until {until} ({left:.1f}s more; {st.get('why')})"
        if probing:
            return None
        if self._probes(f"cb:{dep}", st) >= self.cfg.half_open_probes:
            return "circuit half-open: probe in flight"
        return None

    def _probes(self, key: str, st: dict[str, Any]) -> int:
        """Probes admitted and not yet ended in this half-open episode; admissions past
        ``probe_until`` were abandoned (a killed process) and count no more."""
        used = st.get("probes", 0)
        if type(used) is not int or used < 0 or (used and not is_finite(st.get("probe_until"))):
            raise corrupt(self.store, key, st, "a record with probes >= 0 and probe_until",
                          _GUARD)
        return used if used and st["probe_until"] > self.clock() else 0

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        key = f"cb:{dep}"
        if self._get(key, peek=True) is None:
            return None  # closed (as of a recent read): the common case, no round trip
        for _ in range(_TRIES):
            st = self._get(key)
            if st is None:
                return None
            reason = self._refusal(dep, st, probing=True)
            if reason is not None:
                raise CandidateSkipped(reason)
            used = self._probes(key, st)
            if used >= self.cfg.half_open_probes:
                raise CandidateSkipped("circuit half-open: probe in flight")
            admitted = {**st, "probes": used + 1,
                        "probe_until": self.clock() + self._cooldown(int(st["n"]))}
            if self.store.cas(key, st, admitted):
                return _Probe(st["until"])
        raise CandidateSkipped("circuit half-open: other processes are probing")

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if isinstance(ticket, _Probe):
            self._change(dep, ticket, lambda key, st: {
                **st, "probes": max(0, self._probes(key, st) - 1)})

    def _change(self, dep: Deployment | str, ticket: _Probe,
                make: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> bool:
        """``cas`` the record to ``make(key, record)`` while it is still in the probe's
        episode; ``False`` once another process closed or reopened it (then it is theirs
        to have moved, and this probe's outcome is moot)."""
        key = f"cb:{dep}"
        for _ in range(_TRIES):
            st = self._get(key)
            if st is None or st["until"] != ticket.episode:
                return False
            if self.store.cas(key, st, make(key, st)):
                return True
        logger.warning("circuit for %s: gave up updating it after %d contended tries",
                       dep, _TRIES)
        return False

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        counted = not attempt.ok and class_of_name(attempt.error) in self._count
        if isinstance(ticket, _Probe):
            if counted:
                self._reopen(dep, ticket, f"half-open probe failed with {attempt.error}")
            elif self._change(dep, ticket, lambda key, st: None):
                self._cleared(dep)
            return
        self.record(dep, ok=not counted, counted=attempt.ok or counted, error=attempt.error)

    def record(self, dep: Deployment | str, *, ok: bool, counted: bool = True,
               error: str | None = None) -> None:
        """One outcome in CLOSED state (``counted=False``: neither success nor failure).

        A corrupt counter fails closed: the circuit opens (its reason names the key),
        the counters start over, and the ``StateStoreError`` is raised for this call.
        A store that cannot answer raises from ``_open`` as it did here."""
        if not counted:
            return
        try:
            self._record(dep, ok, error)
        except StateStoreError as exc:
            key, w = f"cb:{dep}", int(self.clock() // self.cfg.window)
            for k in (f"{key}:f", f"{key}:w{w}:n", f"{key}:w{w}:f", f"{key}:w{w - 1}:n",
                      f"{key}:w{w - 1}:f"):
                self.store.delete(k)
            self._open(dep, f"corrupt breaker state ({exc})")
            raise

    def _record(self, dep: Deployment | str, ok: bool, error: str | None) -> None:
        key = f"cb:{dep}"
        store = self.store
        ratio = self._ratio
        window = self.cfg.window
        w = int(self.clock() // window)
        if ok:  # nobody waits for these: a networked store sends them together
            if ratio is not None:
                store.incr_later(f"{key}:w{w}:n", 1, ttl=window * 2)
            store.delete_later(f"{key}:f")
            return
        if ratio is not None:
            n = self._counted(f"{key}:w{w}:n", store.incr(f"{key}:w{w}:n", 1, ttl=window * 2))
        fails = self._counted(f"{key}:f", store.incr(f"{key}:f", 1))
        if fails >= self.cfg.failures:
            self._open(dep, f"{int(fails)} consecutive failures, last {error}")
            return
        if ratio is not None:
            f = self._counted(f"{key}:w{w}:f", store.incr(f"{key}:w{w}:f", 1, ttl=window * 2))
            # Sliding estimate: the current window plus the previous one's share.
            frac = (self.clock() % window) / window
            pn, pf = f"{key}:w{w - 1}:n", f"{key}:w{w - 1}:f"
            prev_n = count(store, pn, store.get(pn), _GUARD)
            prev_f = count(store, pf, store.get(pf), _GUARD)
            total = n + prev_n * (1 - frac)
            failed = f + prev_f * (1 - frac)
            if total >= self.cfg.min_requests and failed / total >= ratio:
                self._open(dep, f"{failed / total:.0%} of {total:.0f} recent requests failed, "
                                f"last {error}")

    # --- transitions --------------------------------------------------------------------

    def _open(self, dep: Deployment | str, why: str) -> None:
        """Closed -> open, once: if another process opened it first (or it is half-open,
        where its probe decides), nothing happens here."""
        key = f"cb:{dep}"
        for _ in range(_TRIES):
            if self._get(key) is not None:
                return  # already open or half-open
            cooldown = self._cooldown(0)
            if self.store.cas(key, None, {"until": self.clock() + cooldown, "n": 0, "why": why}):
                self._opened(dep, cooldown, why)
                return

    def _reopen(self, dep: Deployment | str, ticket: _Probe, why: str) -> None:
        """Half-open -> open after a failed probe: once per episode, cooldown grown."""
        new: dict[str, Any] = {}

        def reopened(key: str, st: dict[str, Any]) -> dict[str, Any]:
            n = int(st["n"]) + 1
            new.update(until=self.clock() + self._cooldown(n), n=n, why=why)
            return dict(new)

        if self._change(dep, ticket, reopened):
            self._opened(dep, self._cooldown(new["n"]), why)

    def _opened(self, dep: Deployment | str, cooldown: float, why: str) -> None:
        self.store.delete(f"cb:{dep}:f")
        logger.warning("circuit for %s opened for %.1fs: %s", dep, cooldown, why)
        if self.on_open is not None:
            self.on_open(str(dep), why)

    def _cleared(self, dep: Deployment | str) -> None:
        """The record is gone (closed): clear the counters too."""
        key = f"cb:{dep}"
        w = int(self.clock() // self.cfg.window)
        for k in (f"{key}:probes", f"{key}:f", f"{key}:w{w}:n", f"{key}:w{w}:f",
                  f"{key}:w{w - 1}:n", f"{key}:w{w - 1}:f"):
            self.store.delete(k)  # a fresh start: old failures do not reopen it
        logger.info("circuit for %s closed", dep)

    def reset(self, dep: Deployment | str) -> None:
        """Close the circuit by hand, whatever state it is in."""
        self.store.delete(f"cb:{dep}")
        self._cleared(dep)
