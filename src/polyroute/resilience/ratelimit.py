"""Rate limits per deployment: requests and tokens per window, as a ``Guard``.

Three algorithms over the router's ``StateStore`` (so processes sharing a store
share the limits), each one or two atomic store operations per check:

- ``fixed_window``: a counter per window (``reserve``: add only if it fits);
- ``sliding_window``: the current window's counter plus the previous one's,
  weighted by how much of it still overlaps (the "sliding window counter");
- ``token_bucket``: capacity = one window's limit, refilled continuously;
  kept as a consumed counter that is lifted to the refill line when idle.

Tokens are estimated before the call (``polyroute.tokens``: prompt plus
``max_tokens``) and settled after it with the usage the provider reported (a
failed attempt gives its tokens back). When a limit is reached the guard
either waits — up to ``max_wait``, higher ``priority`` (routing tag) first — or
raises ``CandidateSkipped`` so the router moves to the next candidate. After a
429 the effective limit drops (``adaptive_factor``, floored) and recovers
linearly over ``recovery`` seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from polyroute.config.resilience import RateLimitsConfig
from polyroute.config.schema import ProviderConfig
from polyroute.resilience.classes import class_of_name
from polyroute.resilience.stored import corrupt, count, finite, is_finite
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.routing.steps import Sleep, Steps, arun, run
from polyroute.state import StateStore
from polyroute.tokens import prompt_tokens
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["RateLimiter", "request_priority"]

_POLL = 0.05
_PRIORITY_NAMES = {"low": -10, "normal": 0, "high": 10, "critical": 20}
_GUARD = "rate limit"


def request_priority(request: ChatRequest) -> int:
    """The ``priority`` routing tag: an integer or low/normal/high/critical (default 0)."""
    raw = request.routing.tags.get("priority")
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return _PRIORITY_NAMES.get(raw.lower(), 0)


@dataclass(frozen=True, slots=True)
class DepLimit:
    rpm: int | None
    tpm: int | None
    algorithm: str
    on_limit: str
    max_wait: float


@dataclass(slots=True)
class Ticket:
    req_key: str | None
    tok_key: str | None
    tokens: int


class _Refused(Exception):
    def __init__(self, what: str, retry_in: float) -> None:
        self.what, self.retry_in = what, retry_in


class RateLimiter(Guard):
    name = "rate_limit"

    def __init__(
        self, cfg: RateLimitsConfig, providers: dict[str, ProviderConfig], store: StateStore, *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.cfg = cfg
        self.providers = providers
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.asleep = asleep
        self.window = cfg.window
        self._limits: dict[str, DepLimit | None] = {}
        self._waiters: dict[str, list[tuple[int, int]]] = {}
        self._seq = itertools.count()
        self._lock = threading.Lock()  # waiter queues only; never held across a wait or IO

    @property
    def configured(self) -> bool:
        return bool(self.cfg.deployments) or any(
            p.rpm or p.tpm for p in self.providers.values()
        )

    def limit_for(self, dep: Deployment) -> DepLimit | None:
        key = dep.key
        if key in self._limits:
            return self._limits[key]
        c = self.cfg
        o = c.deployments.get(key) or c.deployments.get(dep.provider)
        p = self.providers.get(dep.provider)
        rpm = (o.rpm if o else None) or (p.rpm if p else None)
        tpm = (o.tpm if o else None) or (p.tpm if p else None)
        lim = None
        if rpm or tpm:
            lim = DepLimit(
                rpm, tpm, (o.algorithm if o else None) or c.algorithm,
                (o.on_limit if o else None) or c.on_limit,
                c.max_wait if o is None or o.max_wait is None else o.max_wait,
            )
        self._limits[key] = lim
        return lim

    # --- the algorithms: acquire ``amount`` under ``limit`` per window -------------------

    def _acquire(self, algorithm: str, key: str, amount: float, limit: float) -> tuple[str, float]:
        """Returns (settle key, 0) when acquired, else ("", seconds until it may fit)."""
        if amount > limit:
            return "", float("inf")
        now, window, store = self.clock(), self.window, self.store
        if algorithm == "token_bucket":
            rate = limit / window
            t0 = store.get(f"{key}:t0")
            if t0 is None:
                store.reserve(f"{key}:t0", now, now)  # set-if-absent (absent reads as 0)
                t0 = store.get(f"{key}:t0") or now
            t0 = self._start(f"{key}:t0", t0, now)
            floor = rate * (now - t0)
            used = count(store, f"{key}:c", store.get(f"{key}:c"), _GUARD)
            if used < floor:  # idle: unused tokens beyond capacity are lost
                store.reserve(f"{key}:c", floor - used, floor, floor=0)
                used = floor
            if store.reserve(f"{key}:c", amount, floor + limit, floor=0):
                return f"{key}:c", 0.0
            return "", max((used + amount - floor - limit) / rate, 0.001)
        w = int(now // window)
        cur = f"{key}:{w}"
        if algorithm == "fixed_window":
            if store.reserve(cur, amount, limit, ttl=window * 2, floor=0):
                return cur, 0.0
            return "", (w + 1) * window - now
        # sliding window counter
        frac = (now % window) / window
        # read the previous window and reserve in one step (one Redis round trip)
        done, raw = store.reserve_sliding(cur, f"{key}:{w - 1}", amount, limit, 1.0 - frac,
                                          ttl=window * 2)
        return self._slid(key, amount, limit, now, done, raw)

    def _slid(self, key: str, amount: float, limit: float, now: float, done: bool,
              raw: Any) -> tuple[str, float]:
        """``_acquire``'s answer for a sliding-window reservation made (``done``) or
        not, ``raw`` the previous window's count it read."""
        window, store = self.window, self.store
        w = int(now // window)
        cur = f"{key}:{w}"
        prev = count(store, f"{key}:{w - 1}", raw, _GUARD)  # corrupt: refused, typed
        if done:
            return cur, 0.0
        end = (w + 1) * window - now
        if prev <= 0:
            return "", end
        used = count(store, cur, store.get(cur), _GUARD)
        # the previous window's share falls linearly: when does it leave room?
        frac_ok = 1.0 - (limit - used - amount) / prev
        return "", max(min(frac_ok * window - (now - w * window), end), 0.001)

    def _start(self, key: str, t0: Any, now: float) -> float:
        """A token bucket's start time: before now (a day of clock skew allowed) and not
        before 1970, where the refill line would swamp the counter's precision."""
        t = finite(self.store, key, t0, _GUARD)
        if not 0 <= t <= now + 86400:
            raise corrupt(self.store, key, t0, "a start time before now", _GUARD)
        return t

    def factor(self, key: str) -> float:
        """The adaptive share of the configured limit in force now (1.0: all of it)."""
        at = f"rl:{key}:adapt"
        st = self.store.peek(at)
        if st is None:
            return 1.0
        # [share, when]: a share outside (0, 1] would stretch or zero the limit
        if not (type(st) is list and len(st) == 2 and is_finite(st[0]) and 0 < st[0] <= 1
                and is_finite(st[1])):
            raise corrupt(self.store, at, st, "[share in (0, 1], time]", _GUARD)
        f, t = float(st[0]), float(st[1])
        return min(1.0, f + (1.0 - f) * (self.clock() - t) / self.cfg.recovery)

    def _try(self, dep: Deployment, lim: DepLimit, tokens: int) -> Ticket:
        key = dep.key
        f = self.factor(key) if self.cfg.adaptive else 1.0
        scale = self.window / 60.0
        req_key = tok_key = None
        if lim.algorithm == "sliding_window":
            return self._try_sliding(key, lim, tokens, f)
        if lim.rpm:
            limit = max(1.0, lim.rpm * scale * f)
            req_key, retry = self._acquire(lim.algorithm, f"rl:{key}:req", 1, limit)
            if not req_key:
                raise _Refused(f"{limit:g} requests per {self.window:g}s", retry)
        if lim.tpm:
            limit = max(1.0, lim.tpm * scale * f)
            tok_key, retry = self._acquire(lim.algorithm, f"rl:{key}:tok", tokens, limit)
            if not tok_key:
                if req_key:
                    self.store.incr_later(req_key, -1)
                what = f"{limit:g} tokens per {self.window:g}s (this call needs ~{tokens})"
                raise _Refused(what, retry)
        return Ticket(req_key, tok_key, tokens)

    def _try_sliding(self, key: str, lim: DepLimit, tokens: int, f: float) -> Ticket:
        """A sliding window's requests and tokens reserved together: on Redis from
        leases (no round trip, or one to lease both); what one reserved is given back
        if the other refuses."""
        scale, window, store = self.window / 60.0, self.window, self.store
        now = self.clock()
        w = int(now // window)
        kinds: list[tuple[str, float, float]] = []  # (key, amount, limit)
        if lim.rpm:
            kinds.append((f"rl:{key}:req", 1.0, max(1.0, lim.rpm * scale * f)))
        if lim.tpm:
            limit = max(1.0, lim.tpm * scale * f)
            if tokens > limit:
                raise _Refused(self._what(limit, tokens), float("inf"))
            kinds.append((f"rl:{key}:tok", float(tokens), limit))
        got = store.reserve_sliding_leased(
            [(f"{k}:{w}", f"{k}:{w - 1}", amount, limit) for k, amount, limit in kinds],
            1.0 - (now % window) / window, ttl=window * 2)
        settle: list[str] = []
        try:
            for (k, amount, limit), (done, raw) in zip(kinds, got, strict=True):
                at, retry = self._slid(k, amount, limit, now, done, raw)
                if not at:  # the refusal's words only now: :g formats cost on every call
                    raise _Refused(self._what(limit, None if k.endswith(":req") else tokens),
                                   retry)
                settle.append(at)
        except BaseException:  # a refusal or a corrupt count: nothing stays reserved
            self._give_back(got, [f"{k}:{w}" for k, _, _ in kinds], [a for _, a, _ in kinds])
            raise
        req_key = settle[0] if lim.rpm else None
        tok_key = settle[-1] if lim.tpm else None
        return Ticket(req_key, tok_key, tokens)

    def _what(self, limit: float, tokens: int | None) -> str:
        """A sliding window's refusal: requests (``tokens`` None) or tokens."""
        if tokens is None:
            return f"{limit:g} requests per {self.window:g}s"
        return f"{limit:g} tokens per {self.window:g}s (this call needs ~{tokens})"

    def _give_back(self, got: list[tuple[bool, Any]], keys: list[str],
                   amounts: list[float]) -> None:
        for (done, _), k, amount in zip(got, keys, amounts, strict=False):
            if done:
                self.store.incr_later(k, -amount)

    def _tokens(self, request: ChatRequest) -> int:
        # prompt_tokens keeps one estimate per request and checks it against the
        # messages (a request reused after an edit is estimated again; an identity
        # memo here admitted it on the old estimate)
        return prompt_tokens(request) + (request.params.max_tokens or 0)

    # --- guard hooks ---------------------------------------------------------------------

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        got = self._admit(dep, request)
        return got if got is None or isinstance(got, Ticket) else run(got)

    def admit(self, dep: Deployment, request: ChatRequest) -> Any:
        # the call's steps run the queue's waiting steps themselves (yield from)
        return self._admit(dep, request)

    async def abefore_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        store = self.store
        if store.inline:
            got = self._admit(dep, request)
            return got if got is None or isinstance(got, Ticket) else await arun(got)
        # a store that waits on I/O: admit (and queue) off the event loop
        got = await store.offload(self._admit, dep, request)
        return got if got is None or isinstance(got, Ticket) else await arun(got, store.offload)

    def _admit(self, dep: Deployment, request: ChatRequest) -> Ticket | Steps[Ticket] | None:
        """A ticket now (``None``: no limit), else the steps that wait for one in the
        queue (``Sleep``: blocking or awaited, as the caller runs them), or
        ``CandidateSkipped``."""
        lim = self.limit_for(dep)
        if lim is None:
            return None
        tokens = self._tokens(request) if lim.tpm else 0
        prio = request_priority(request)
        if not self._queued_ahead(dep.key, prio):
            try:
                return self._try(dep, lim, tokens)
            except _Refused as r:
                self._give_up_now(dep, lim, r)
        return self._queue(dep, lim, tokens, prio)

    def _queue(self, dep: Deployment, lim: DepLimit, tokens: int, prio: int) -> Steps[Ticket]:
        waited, entry = 0.0, self._enqueue(dep.key, prio)
        try:
            while True:
                wait = self._turn(dep, lim, tokens, entry, waited)
                if isinstance(wait, Ticket):
                    return wait
                yield Sleep(wait, self.sleep, self.asleep)
                waited += wait
        finally:
            self._dequeue(dep.key, entry)

    def _give_up_now(self, dep: Deployment, lim: DepLimit, r: _Refused) -> None:
        if lim.on_limit == "skip" or r.retry_in > lim.max_wait:
            raise CandidateSkipped(
                f"rate limit: {r.what} reached for {dep.key}"
                + (f"; next slot in {r.retry_in:.1f}s" if r.retry_in != float("inf") else "")
            ) from None

    def _turn(
        self, dep: Deployment, lim: DepLimit, tokens: int, entry: tuple[int, int], waited: float
    ) -> Ticket | float:
        """Our ticket if it is our turn and there is room, else how long to sleep."""
        left = lim.max_wait - waited
        if self._is_head(dep.key, entry):
            try:
                return self._try(dep, lim, tokens)
            except _Refused as r:
                if r.retry_in > left:  # the slot comes too late: do not sleep in vain
                    raise CandidateSkipped(
                        f"rate limit: {r.what} reached for {dep.key}; waited {waited:.1f}s, "
                        f"next slot in {r.retry_in:.1f}s"
                    ) from None
                return max(0.001, r.retry_in)
        if left <= 0:
            raise CandidateSkipped(
                f"rate limit: queued behind higher-priority calls for {dep.key}; "
                f"waited {waited:.1f}s"
            )
        return max(0.001, min(_POLL, left))

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if isinstance(ticket, Ticket):
            if ticket.req_key:
                self.store.incr_later(ticket.req_key, -1)
            if ticket.tok_key:
                self.store.incr_later(ticket.tok_key, -ticket.tokens)

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        if not isinstance(ticket, Ticket):
            return
        if ticket.tok_key:
            actual = 0
            if response is not None:
                actual = response.usage.input_tokens + response.usage.output_tokens
            if actual != ticket.tokens:  # settle the estimate with the real usage
                self.store.incr_later(ticket.tok_key, actual - ticket.tokens)
        if self.cfg.adaptive and not attempt.ok and class_of_name(attempt.error) == "rate_limit":
            self.throttle(dep.key)

    def throttle(self, key: str) -> float:
        """A 429: lower ``key``'s effective limit; returns the new share."""
        f = max(self.cfg.adaptive_floor, self.factor(key) * self.cfg.adaptive_factor)
        self.store.set(f"rl:{key}:adapt", [f, self.clock()], ttl=self.cfg.recovery)
        self.store.give_back_leases(f"rl:{key}:")  # what was leased under the old share
        return f

    # --- waiters: higher priority first, then arrival order (in this process) ----------

    def _enqueue(self, key: str, prio: int) -> tuple[int, int]:
        entry = (-prio, next(self._seq))
        with self._lock:
            heapq.heappush(self._waiters.setdefault(key, []), entry)
        return entry

    def _dequeue(self, key: str, entry: tuple[int, int]) -> None:
        with self._lock:
            q = self._waiters.get(key)
            if q and entry in q:
                q.remove(entry)
                heapq.heapify(q)

    def _is_head(self, key: str, entry: tuple[int, int]) -> bool:
        q = self._waiters.get(key)
        return bool(q) and q[0] == entry  # type: ignore[index]

    def _queued_ahead(self, key: str, prio: int) -> bool:
        q = self._waiters.get(key)
        return bool(q) and q[0][0] <= -prio  # type: ignore[index]

    def status(self, dep: Deployment) -> dict[str, Any]:
        """Limits and the adaptive share in force (for health/CLI)."""
        lim = self.limit_for(dep)
        if lim is None:
            return {}
        return {"rpm": lim.rpm, "tpm": lim.tpm, "algorithm": lim.algorithm,
                "on_limit": lim.on_limit, "adaptive_share": round(self.factor(dep.key), 3)}
