"""``CacheGuard``: answer from the response cache, fill it, and share in-flight calls.

- ``before_call``: the key (see ``keys.py``), then a lookup; a hit comes back as a
  ``ChatResponse`` with ``cache_hit=True`` and ``cost_usd=0`` (the router replays
  it as a stream for ``stream``/``astream``) and is recorded in the ledger with
  the cost it saved. On a miss the call becomes the *leader* for its key;
  identical requests arriving meanwhile wait for it (up to ``wait_timeout``) and
  get its answer as a hit — one upstream call for all of them.
- ``after_call``: store the answer as JSON (not tool calls unless
  ``cache_tool_calls``; not refusals or errors), wake the waiters.
- ``call_failed``: wake the waiters, who then call upstream themselves.

Per call, through routing tags/hints: ``routing.cache = "no-cache"`` skips the
lookup but stores the fresh answer; ``"no-store"`` bypasses the cache entirely;
tag ``cache_ttl`` (seconds or ``90s``/``15m``/``1h``) sets the entry's TTL; tag
``tenant`` (``cache.tenant_tag``) partitions the cache. The tenant is read from the
same merged tags the ledger and budgets use — the call's tags over its agent's —
so two agents of two tenants never share an entry.

Async callers wait without blocking their loop through ``abefore_call`` when the
router awaits it; through the sync ``before_call`` inside a running loop, an
identical in-flight request is not waited for (no deadlock), just not shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from polyroute.cache.keys import cache_key
from polyroute.cache.semantic_gate import prompt_text
from polyroute.cache.store import ResponseCache
from polyroute.config.cost import CacheConfig, parse_duration
from polyroute.logs import get_logger
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment
from polyroute.types import ChatRequest, ChatResponse, GenerationParams

if TYPE_CHECKING:
    from polyroute.budgets.guard import CostGuard
    from polyroute.cache.semantic import SemanticCache
    from polyroute.cost.book import PriceBook
    from polyroute.routing.context import RouterContext

__all__ = ["CacheGuard"]

logger = get_logger("cache")
_META = "polyroute_cache"
_STORABLE_FINISH = (None, "stop", "length", "tool_calls")


@dataclass(slots=True)
class _Flight:
    key: str
    messages: Any  # pins id(request.messages) while in flight
    origin: ChatRequest | None = None  # the leader's own request, for ``call_ended``
    started: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    value: str | None = None
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=list)
    claimed: bool = False  # holds the cross-process lease (a shared cache backend)

    def finish(self, value: str | None) -> None:
        self.value = value
        self.done.set()
        for loop, fut in self.waiters:
            with contextlib.suppress(RuntimeError):  # that waiter's loop is closed
                loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Elsewhere:
    """Another process holds the request's lease: wait for its answer in the shared
    cache, as leader of this process's own waiters (``lead``)."""

    __slots__ = ("lead",)

    def __init__(self, lead: _Flight) -> None:
        self.lead = lead


_POLL = 0.02  # seconds between looks at the shared cache while another process calls


class CacheGuard(Guard):
    name = "cache"

    def __init__(
        self,
        ctx: RouterContext,
        cfg: CacheConfig,
        store: ResponseCache,
        *,
        book: PriceBook | None = None,
        cost: CostGuard | None = None,
        semantic: SemanticCache | None = None,
    ) -> None:
        self._source = ctx.source
        self._privacy = ctx.privacy
        self.semantic = semantic
        self.cfg = cfg
        self.store = store
        self.book = book
        self.cost = cost
        self.hits = 0
        self.misses = 0
        self.shared = 0
        self._flights: dict[str, _Flight] = {}
        self._owners: dict[int, _Flight] = {}
        self._lock = threading.Lock()
        self._routes: dict[int, tuple[Any, GenerationParams]] = {}
        self._vectors: dict[int, Any] = {}  # a missed prompt's vector, until it is stored
        self._agent_tenants = {name: a.tags.get(cfg.tenant_tag)
                               for name, a in ctx.config.agents.items()}

    # --- keys ----------------------------------------------------------------------

    def key_for(self, request: ChatRequest) -> str | None:
        """The cache key of ``request``, or ``None`` if it cannot be routed (no caching)."""
        try:
            src = self._source(request)
        except Exception:
            return None
        route = self._routes.get(id(src))
        if route is None:
            tiers = [[d.key for d in tier] for tier in src.tiers]
            route = self._routes[id(src)] = (tiers, src.params)
        return cache_key(request, namespace=self.cfg.namespace, tenant=self.tenant_of(request),
                         route=route[0], base_params=route[1])

    def tenant_of(self, request: ChatRequest) -> str | None:
        """The call's ``tenant_tag``, else its agent's (as ``CostGuard`` merges tags)."""
        routing = request.routing
        tenant = routing.tags.get(self.cfg.tenant_tag)
        if tenant is None and routing.agent:
            tenant = self._agent_tenants.get(routing.agent)
        return tenant

    # --- lookups ---------------------------------------------------------------------

    def before_call(self, request: ChatRequest) -> ChatResponse | None:
        flight = self._lookup(request)
        if isinstance(flight, _Elsewhere):
            return self._await_elsewhere(request, flight.lead)
        if not isinstance(flight, _Flight):
            return flight
        try:
            asyncio.get_running_loop()
            return None  # never block an event loop; the async path waits properly
        except RuntimeError:
            pass
        flight.done.wait(self._wait_left(flight))
        return self._shared(request, flight)

    def close(self) -> None:
        self.store.close()
        if self.semantic is not None:
            self.semantic.close()

    async def abefore_call(self, request: ChatRequest) -> ChatResponse | None:
        """``before_call`` for async callers: waits for an in-flight leader on the loop."""
        store: Any = self.store
        if self.semantic is not None:  # embedding the prompt (a model, a routed call): a thread
            flight = await asyncio.to_thread(self._lookup, request)
        elif getattr(store, "inline", True):
            flight = self._lookup(request)
        else:  # a shared (network) cache: look it up off the event loop
            flight = await store.offload(self._lookup, request)
        if isinstance(flight, _Elsewhere):
            return await self._aawait_elsewhere(request, flight.lead)
        if not isinstance(flight, _Flight):
            return flight
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if flight.done.is_set():
                fut.set_result(None)
            else:
                flight.waiters.append((loop, fut))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fut, self._wait_left(flight))
        return self._shared(request, flight)

    def _look_elsewhere(self, request: ChatRequest, lead: _Flight, t0: float
                        ) -> tuple[bool, ChatResponse | None]:
        """One look at the shared cache: ``(done, answer)``. Done when the other
        process's answer is there (a hit, shared with this process's waiters) or its
        lease is gone without one (then this call goes upstream itself)."""
        store: Any = self.store
        hit = self._shared_hit(request, lead, t0)
        if hit is not None:
            return True, hit
        if not store.leased(lead.key):
            # The leader stores its answer, then drops the lease: gone now, the answer
            # may have landed after the read above, so read once more before going
            # upstream (without this, waiters in a fleet sometimes called it again).
            return True, self._shared_hit(request, lead, t0)
        return time.monotonic() - lead.started > self.cfg.wait_timeout, None

    def _shared_hit(self, request: ChatRequest, lead: _Flight, t0: float
                    ) -> ChatResponse | None:
        """The other process's answer, if the shared cache holds it (shared with this
        process's waiters too)."""
        try:
            text = cast(Any, self.store).get(lead.key)
        except Exception:
            return None
        if text is None:
            return None
        hit = self._hit(request, text, t0)
        if hit is not None:
            self.shared += 1
            self._finish(self._take(request), text)
        return hit

    def _await_elsewhere(self, request: ChatRequest, lead: _Flight) -> ChatResponse | None:
        t0 = time.perf_counter()
        while True:
            done, hit = self._look_elsewhere(request, lead, t0)
            if done:
                return hit
            time.sleep(_POLL)

    async def _aawait_elsewhere(self, request: ChatRequest, lead: _Flight
                                ) -> ChatResponse | None:
        t0, store = time.perf_counter(), cast(Any, self.store)
        while True:
            done, hit = await store.offload(self._look_elsewhere, request, lead, t0)
            if done:
                return hit  # type: ignore[no-any-return]
            await asyncio.sleep(_POLL)

    def _lookup(self, request: ChatRequest) -> ChatResponse | _Flight | _Elsewhere | None:
        """A hit, the in-flight leader to wait for, or ``None`` (go upstream)."""
        policy = request.routing.cache
        if policy == "no-store" or not self.cfg.enabled:
            return None
        t0 = time.perf_counter()
        key = self.key_for(request)
        if key is None:
            return None
        if policy != "no-cache":
            try:
                text = self.store.get(key)
            except Exception as exc:  # an unreadable cache is a miss, not a failed call
                logger.warning("cache lookup failed, calling upstream: %s", exc)
                text = None
            if text is not None:
                return self._hit(request, text, t0)
            if self.semantic is not None:
                near = self._near(request, t0)
                if near is not None:
                    return near
        self.misses += 1
        with self._lock:
            flight = self._flights.get(key)
            stale = flight is not None and (
                flight.done.is_set() or time.monotonic() - flight.started > self.cfg.wait_timeout)
            if flight is None or stale or policy == "no-cache":
                lead = _Flight(key, request.messages, request)
                if policy != "no-cache":
                    self._flights[key] = lead
                self._owners[id(request.messages)] = lead
                if len(self._owners) > 4096:
                    self._sweep()
            else:
                return flight
        claim = getattr(self.store, "claim", None)
        if claim is not None and policy != "no-cache":
            # a shared cache: one process in the fleet calls upstream, the others wait
            if not claim(lead.key, self.cfg.wait_timeout):
                return _Elsewhere(lead)
            lead.claimed = True
        return None

    def _wait_left(self, flight: _Flight) -> float:
        return max(0.0, self.cfg.wait_timeout - (time.monotonic() - flight.started))

    def _shared(self, request: ChatRequest, flight: _Flight) -> ChatResponse | None:
        if flight.value is None:
            return None  # the leader failed, timed out or was not storable: go upstream
        self.shared += 1
        return self._hit(request, flight.value, time.perf_counter())

    def _hit(self, request: ChatRequest, text: str, t0: float) -> ChatResponse | None:
        try:
            resp = ChatResponse.model_validate_json(text)
        except ValueError:
            logger.warning("unreadable cache entry ignored")
            return None
        meta = resp.provider_metadata.get(_META) or {}
        saved = meta.get("cost_usd")
        resp.cache_hit = True
        resp.cost_usd = 0.0
        resp.latency_ms = (time.perf_counter() - t0) * 1000.0
        self.hits += 1
        if self.cost is not None:
            self.cost.record_hit(request, resp, saved if isinstance(saved, int | float) else None)
        return resp

    # --- fills --------------------------------------------------------------------------

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        flight = self._take(request)
        if request.routing.cache == "no-store" or not self.cfg.enabled:
            self._finish(flight, None)
            return
        text: str | None = None
        if self._storable(response) and not self._personal(request, response):
            key = flight.key if flight is not None else self.key_for(request)
            if key is not None:
                text = self._serialise(response)
                ttl = self._ttl(request)
                try:
                    self.store.set(key, text, ttl, tag=self.cfg.namespace)
                    if self.semantic is not None:
                        self._remember_prompt(request, key, ttl)
                except Exception as exc:  # a full disk must not fail an answered call
                    logger.warning("could not store a cache entry: %s", exc)
        self._finish(flight, text)

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        self._vectors.pop(id(request.messages), None)
        self._finish(self._take(request), None)

    def call_ended(self, request: ChatRequest) -> None:
        """Whatever way the call ended (an exception no guard saw, a cancellation, a
        stream closed early), its in-flight entry goes now, not at ``wait_timeout``:
        waiters go upstream at once."""
        with self._lock:
            flight = self._owners.get(id(request.messages))
            if flight is None or flight.origin is not request:
                return  # answered or failed already, or not this call's entry
            del self._owners[id(request.messages)]
        self._finish(flight, None)

    def _take(self, request: ChatRequest) -> _Flight | None:
        with self._lock:
            flight = self._owners.pop(id(request.messages), None)
            if flight is not None and flight.messages is not request.messages:
                return None
            return flight

    def _finish(self, flight: _Flight | None, value: str | None) -> None:
        if flight is None:
            return
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            flight.finish(value)
        if flight.claimed:  # after the answer is stored: waiters elsewhere find it
            flight.claimed = False
            cast(Any, self.store).release(flight.key)

    def _personal(self, request: ChatRequest, response: ChatResponse) -> bool:
        """With ``privacy:`` on, an exchange holding personal data (in the prompt or the
        answer) is not stored: the cache keeps no PII (docs/privacy.md)."""
        if self._privacy is None:
            return False
        if self._privacy.scan(request)[1]:
            return True
        return bool(self._privacy.findings(response.message.text))

    def _storable(self, response: ChatResponse) -> bool:
        if response.cache_hit or response.finish_reason not in _STORABLE_FINISH:
            return False
        if response.message.tool_calls and not self.cfg.cache_tool_calls:
            return False
        return bool(response.message.content)

    def _serialise(self, response: ChatResponse) -> str:
        cost = response.cost_usd
        if cost is None and self.book is not None:
            cost = self.book.cost(Deployment(response.provider, response.model), response.usage)
        meta = {**response.provider_metadata, _META: {"cost_usd": cost, "stored_at": time.time()}}
        return response.model_copy(update={"provider_metadata": meta}).model_dump_json(
            exclude={"attempts", "latency_ms", "cache_hit", "cost_usd"})

    def _ttl(self, request: ChatRequest) -> float | None:
        asked = request.routing.tags.get("cache_ttl")
        if asked:
            try:
                return parse_duration(asked)
            except ValueError:
                logger.warning("ignoring tag cache_ttl=%r: not a duration", asked)
        return self.cfg.ttl

    def _sweep(self) -> None:
        cutoff = time.monotonic() - self.cfg.wait_timeout
        for k, f in list(self._owners.items()):
            if f.started < cutoff:
                del self._owners[k]
                if self._flights.get(f.key) is f:
                    del self._flights[f.key]
                f.finish(None)

    # --- near matches (cache.semantic) -------------------------------------------------

    def _semantic_scope(self, request: ChatRequest) -> tuple[str, str] | None:
        """``(scope, prompt)`` for a request the semantic cache may answer, else ``None``."""
        cfg = self.cfg.semantic
        if not request.messages or request.messages[-1].role != "user":
            return None
        prompt = prompt_text(request.messages[-1].content)
        if not prompt or not prompt.strip():
            return None
        try:
            src = self._source(request)
        except Exception:
            return None
        params = request.params.merged_over(src.params) if src.params else request.params
        opted_in = str(request.routing.tags.get("semantic_cache", "")).lower() in ("on", "true")
        if cfg.deterministic_only and params.temperature != 0 and not opted_in:
            return None
        assert self.semantic is not None
        rest = request.model_copy(update={"messages": request.messages[:-1]})
        scope = self.key_for(rest)
        if scope is None:
            return None
        return f"{self.semantic.embedder.space}|{scope}", prompt

    def _near(self, request: ChatRequest, t0: float) -> ChatResponse | None:
        assert self.semantic is not None
        try:
            found = self._semantic_scope(request)
            if found is None:
                return None
            scope, prompt = found
            hit, vector = self.semantic.lookup(scope, prompt, tags=request.routing.tags)
            if len(self._vectors) > 4096:  # calls that ended without an answer
                self._vectors.clear()
            self._vectors[id(request.messages)] = vector
            if hit is None:
                return None
            text = self.store.get(hit.key)
            if text is None:  # the exact entry expired or was evicted: so does this one
                self.semantic.forget(scope, hit.key)
                return None
        except Exception as exc:  # like the exact cache: a broken lookup is a miss
            logger.warning("semantic cache lookup failed, calling upstream: %s", exc)
            return None
        resp = self._hit(request, text, t0)
        if resp is not None:
            resp.provider_metadata = {**resp.provider_metadata, "polyroute_semantic": {
                "similarity": round(hit.similarity, 4), "space": self.semantic.embedder.space}}
        return resp

    def _remember_prompt(self, request: ChatRequest, key: str, ttl: float | None) -> None:
        assert self.semantic is not None
        vector = self._vectors.pop(id(request.messages), None)
        found = self._semantic_scope(request)
        if found is not None:
            self.semantic.add(found[0], found[1], key, ttl, vector=vector,
                              tags=request.routing.tags)

    def stats(self) -> dict[str, Any]:
        semantic = self.semantic.stats() if self.semantic is not None else {}
        return {"hits": self.hits, "misses": self.misses, "shared_in_flight": self.shared,
                "refused_entries": self.store.refused, **semantic, **self.store.stats()}

