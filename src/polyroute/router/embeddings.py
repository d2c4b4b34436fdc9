"""``Router.embed``/``aembed``: embeddings routed like chat, space by space.

One call:

1. ``routing.embed_plan`` plans it: deployments grouped by embedding space; a second
   space only with ``allow_cross_space`` (else ``CrossSpaceError`` before any IO);
   deployments whose provider has no embeddings endpoint are skipped, never sent
   to a chat endpoint.
2. The per-text cache (``embeddings.cache``) answers the texts it has in this space.
3. The rest is cut into sub-batches by the space's documented per-request limits
   (inputs and tokens) and the sub-batches run concurrently (``embeddings.concurrency``;
   threads for ``embed``, tasks for ``aembed``). Each sub-batch is its own routed
   call with the router's guards — rate limits, breakers, health, budgets, the
   ledger — on a *shadow* ``ChatRequest`` (the texts as one user message, so the
   token estimates of limits and budgets see them; tags ``embedding_space`` and
   ``embedding_route`` name the space in the ledger). It retries and fails over
   within the space; it is never dropped.
4. If a sub-batch exhausts the space and the route allows another, the whole call is
   redone in the next space (vectors of two spaces never share one answer), and the
   answer says so (``cross_space``, ``response_metadata``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from polyroute.cache.embed_cache import EmbeddingCache
from polyroute.embed_types import (
    EmbeddingSpace,
    EmbedRequest,
    EmbedResponse,
    EmbedResult,
    InputType,
)
from polyroute.errors import ConfigError, InvalidResponseError, NoRouteError, ProviderError
from polyroute.logs import get_logger
from polyroute.routing.call import Call, as_provider_error
from polyroute.routing.embed_plan import (
    EmbedPlan,
    SpaceTier,
    batch_limits,
    plan_embed,
    split_batches,
)
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Plan
from polyroute.routing.retried import tried
from polyroute.routing.steps import Send, Steps, arun, run
from polyroute.tokens import estimate_text_tokens
from polyroute.types import (
    Attempt,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    RoutingHints,
    Usage,
)

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.cost.book import PriceBook
    from polyroute.providers.base import Provider
    from polyroute.refs import Deployment
    from polyroute.resilience.core import Resilience
    from polyroute.resilience.retry import RetryPolicy
    from polyroute.transport import Timeouts, Transport

__all__ = ["EmbeddingsMixin"]

logger = get_logger("router.embeddings")
# guards that only make sense for chat: the response cache (the embedding cache is
# per text), parameter policy and context-window overflow
_CHAT_ONLY = frozenset({"CacheGuard", "ParamsGuard", "ContextOverflowGuard"})


@dataclass
class _Part:
    """One sub-batch's answer."""

    indices: list[int]
    vectors: list[list[float]]
    usage: Usage
    provider: str
    model: str
    cost: float | None
    attempts: list[Attempt]
    estimated_usage: bool


class _SpaceExhausted(Exception):
    """Every deployment of the space failed this sub-batch (may move to the next space)."""

    def __init__(self, error: Exception, attempts: list[Attempt]) -> None:
        super().__init__(str(error))
        self.error, self.attempts = error, attempts


@dataclass
class _Job:
    request: EmbedRequest
    plan: EmbedPlan
    tenant: str | None
    cache: EmbeddingCache | None
    started: float = field(default_factory=time.perf_counter)
    attempts: list[Attempt] = field(default_factory=list)
    failed_spaces: list[str] = field(default_factory=list)
    last_error: Exception | None = None


class EmbeddingsMixin:
    """``embed``/``aembed`` of ``Router``."""

    _embed_cache: EmbeddingCache | None = None
    _embed_guard_list: list[Guard] | None = None
    _embed_outgoing: list[Guard] | None = None

    if TYPE_CHECKING:
        config: PolyrouteConfig
        guards: list[Guard]
        transport: Transport
        timeouts: Timeouts
        retry_policy: RetryPolicy
        resilience: Resilience
        price_book: PriceBook
        _sleep: Callable[[float], None]
        _asleep: Callable[[float], Any]
        _notify: Callable[[Attempt, ChatRequest], Any] | None

        def provider(self, name: str) -> Provider | None: ...
        def _readiness(self, name: str) -> str | None: ...
        def _key_rotated(self, dep: Deployment) -> bool: ...

    # --- public API --------------------------------------------------------------------

    def embed(self, texts: Sequence[str], *, agent: str | None = None,
              input_type: InputType | None = None, dimensions: int | None = None,
              **options: Any) -> EmbedResponse:
        """One vector per text, in order (see the module doc). ``options``: the other
        ``EmbedRequest`` fields (``route``, ``model``, ``fallbacks``, ``tags``,
        ``truncate``, ``cache``)."""
        return self.embed_request(EmbedRequest(texts=list(texts), agent=agent,
                                               input_type=input_type, dimensions=dimensions,
                                               **options))

    async def aembed(self, texts: Sequence[str], *, agent: str | None = None,
                     input_type: InputType | None = None, dimensions: int | None = None,
                     **options: Any) -> EmbedResponse:
        """Async ``embed``: sub-batches as concurrent tasks."""
        return await self.aembed_request(EmbedRequest(texts=list(texts), agent=agent,
                                                      input_type=input_type,
                                                      dimensions=dimensions, **options))

    def embed_plan(self, request: EmbedRequest) -> EmbedPlan:
        """What ``embed`` would try, grouped by space (``CrossSpaceError`` if refused)."""
        return plan_embed(self.config, request, self.provider, self._readiness)

    # Both drivers let go of the sub-batches' outcomes before an error leaves them:
    # the error's traceback holds their frame, whose locals would hold the error again
    # (through ``outcomes``, ``done`` or ``job.last_error``): a reference cycle per
    # failed call, left for the cyclic GC (tests/embeddings/test_embed_no_cycles.py).

    def embed_request(self, request: EmbedRequest) -> EmbedResponse:
        job = self._embed_job(request)
        outcomes: list[_Part | BaseException] | None = None
        done: EmbedResponse | BaseException | None = None
        try:
            for tier in job.plan.tiers:
                cached, parts = self._embed_parts(job, tier)
                if not parts:
                    return self._embed_answer(job, tier, cached, [])
                outcomes = self._embed_threads(job, tier, parts)
                done = self._embed_settle(job, tier, cached, outcomes)
                if isinstance(done, EmbedResponse):
                    return done
                if done is not None:
                    raise done
            raise self._embed_no_route(job)
        finally:
            outcomes = done = job.last_error = None

    async def aembed_request(self, request: EmbedRequest) -> EmbedResponse:
        job = self._embed_job(request)
        outcomes: list[_Part | BaseException] | None = None
        done: EmbedResponse | BaseException | None = None
        try:
            for tier in job.plan.tiers:
                cached, parts = self._embed_parts(job, tier)
                if not parts:
                    return self._embed_answer(job, tier, cached, [])
                outcomes = await self._embed_tasks(job, tier, parts)
                done = self._embed_settle(job, tier, cached, outcomes)
                if isinstance(done, EmbedResponse):
                    return done
                if done is not None:
                    raise done
            raise self._embed_no_route(job)
        finally:
            outcomes = done = job.last_error = None

    def _embed_threads(self, job: _Job, tier: SpaceTier, parts: list[list[int]]
                       ) -> list[_Part | BaseException]:
        def one(indices: list[int]) -> _Part | BaseException:
            try:
                return run(self._embed_part(job, tier, indices))
            except Exception as exc:  # settled per sub-batch by _embed_settle
                return exc

        workers = min(self.config.embeddings.concurrency, len(parts))
        if workers == 1:
            return [one(p) for p in parts]
        with ThreadPoolExecutor(workers, thread_name_prefix="polyroute-embed") as pool:
            return list(pool.map(one, parts))

    async def _embed_tasks(self, job: _Job, tier: SpaceTier, parts: list[list[int]]
                           ) -> list[_Part | BaseException]:
        gate = asyncio.Semaphore(self.config.embeddings.concurrency)

        async def one(indices: list[int]) -> _Part | BaseException:
            async with gate:
                try:
                    return await arun(self._embed_part(job, tier, indices))
                except Exception as exc:
                    return exc

        return list(await asyncio.gather(*(one(p) for p in parts)))

    # --- one call ----------------------------------------------------------------------

    def _embed_job(self, request: EmbedRequest) -> _Job:
        plan = self.embed_plan(request)
        cache: EmbeddingCache | None = None
        emb = self.config.embeddings
        tenant = request.tags.get(self.config.cache.tenant_tag) if self.config.cache else None
        if tenant is None and request.agent and self.config.cache is not None:
            agent = self.config.agents.get(request.agent)
            tenant = agent.tags.get(self.config.cache.tenant_tag) if agent else None
        if emb.cache and request.cache != "no-store":
            cache = self._embedding_cache()
        return _Job(request, plan, tenant, cache)

    def _embedding_cache(self) -> EmbeddingCache:
        if self._embed_cache is not None:
            return self._embed_cache
        cfg = self.config.cache
        store = next((getattr(g, "store", None) for g in self.guards
                      if type(g).__name__ == "CacheGuard"), None)
        if cfg is None or not cfg.enabled or store is None:
            raise ConfigError("embeddings.cache is on but there is no response cache to "
                              "keep the vectors in", field="embeddings.cache",
                              fix="add a cache: section (cache: {ttl: 30d}) or set "
                                  "embeddings.cache: false")
        ttl = self.config.embeddings.cache_ttl or cfg.ttl
        cache = EmbeddingCache(store, namespace=cfg.namespace, ttl=ttl)
        self._embed_cache = cache
        return cache

    def _embed_parts(self, job: _Job, tier: SpaceTier
                     ) -> tuple[dict[int, list[float]], list[list[int]]]:
        """Vectors the cache has in ``tier``'s space, and the sub-batches for the rest."""
        texts = job.request.texts
        cached: dict[int, list[float]] = {}
        if job.cache is not None and job.request.cache == "default":
            found = job.cache.get_many(tier.space, texts, job.plan.input_type, job.tenant)
            cached = {i: v for i, v in enumerate(found) if v is not None}
        missing = [i for i in range(len(texts)) if i not in cached]
        tokens = [estimate_text_tokens(texts[i]) for i in missing]
        batches = split_batches(tokens, batch_limits(tier))
        return cached, [[missing[j] for j in batch] for batch in batches]

    def _embed_settle(self, job: _Job, tier: SpaceTier, cached: dict[int, list[float]],
                      outcomes: Sequence[_Part | BaseException]
                      ) -> EmbedResponse | BaseException | None:
        """The answer; or the error to raise (not fallbackable: a content refusal, a
        budget, a config error), returned so that no frame that holds it raises it;
        or ``None``: the space is exhausted, try the next."""
        parts: list[_Part] = []
        exhausted: _SpaceExhausted | None = None
        for out in outcomes:
            if isinstance(out, _Part):
                parts.append(out)
                job.attempts += out.attempts
            elif isinstance(out, _SpaceExhausted):
                job.attempts += out.attempts
                exhausted = exhausted or out
            else:
                return out
        if exhausted is None:
            return self._embed_answer(job, tier, cached, parts)
        job.failed_spaces.append(tier.space.id)
        job.last_error = exhausted.error
        if tier is not job.plan.tiers[-1]:
            logger.warning("embedding space %s failed (%s); the route allows another space",
                           tier.space, exhausted.error)
        return None

    def _embed_no_route(self, job: _Job) -> Exception:
        if job.last_error is not None:
            return job.last_error
        return NoRouteError(f"no usable candidate for {job.plan.description}",
                            job.plan.skipped)

    def _embed_answer(self, job: _Job, tier: SpaceTier, cached: dict[int, list[float]],
                      parts: list[_Part]) -> EmbedResponse:
        vectors: list[list[float] | None] = [None] * len(job.request.texts)
        for i, vec in cached.items():
            vectors[i] = vec
        usage = Usage()
        costs: list[float | None] = []
        for part in parts:
            for i, vec in zip(part.indices, part.vectors, strict=True):
                vectors[i] = vec
            usage = usage + part.usage
            costs.append(part.cost)
        if any(v is None for v in vectors):  # a bug, never a silent gap
            raise InvalidResponseError("an embedding sub-batch came back short")
        out = cast(list[list[float]], vectors)
        width = len(out[0]) if out else tier.space.dimensions
        space = EmbeddingSpace(tier.space.model, width, tier.space.normalized)
        if job.cache is not None and parts:
            new = [i for p in parts for i in p.indices]
            job.cache.put_many(space, [job.request.texts[i] for i in new],
                               [out[i] for i in new], job.plan.input_type, job.tenant)
            if space != tier.space:  # looked up under the planned space: keep both keys
                job.cache.put_many(tier.space, [job.request.texts[i] for i in new],
                                   [out[i] for i in new], job.plan.input_type, job.tenant)
        last = parts[-1] if parts else None
        cross = tier.space != job.plan.first_space
        meta: dict[str, Any] = {"embedding_space": space.id, "route": job.plan.route,
                                "sub_batches": len(parts)}
        if cross:
            first = job.plan.first_space
            meta["cross_space_from"] = job.failed_spaces or ([first.id] if first else [])
        if any(p.estimated_usage for p in parts):
            meta["usage_estimated"] = True
        return EmbedResponse(
            vectors=out, space=space.id, usage=usage,
            provider=last.provider if last else "", model=last.model if last else "",
            attempts=job.attempts, latency_ms=(time.perf_counter() - job.started) * 1000.0,
            cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            cache_hits=len(cached), cross_space=cross, response_metadata=meta,
        )

    # --- one sub-batch: steps, driven by run (threads) or arun (tasks) -------------------

    def _embed_guards(self) -> list[Guard]:
        if self._embed_guard_list is None:
            self._embed_guard_list = [g for g in self.guards
                                      if type(g).__name__ not in _CHAT_ONLY]
            # guards that change what a provider receives (privacy masking)
            self._embed_outgoing = [g for g in self._embed_guard_list
                                    if type(g).outgoing_texts is not Guard.outgoing_texts]
        return self._embed_guard_list

    def _embed_part(self, job: _Job, tier: SpaceTier, indices: list[int]) -> Steps[_Part]:
        texts = [job.request.texts[i] for i in indices]
        sub = job.request.model_copy(update={"texts": texts, "dimensions": job.plan.dimensions,
                                             "input_type": job.plan.input_type})
        tags = {**job.request.tags, "embedding_space": tier.space.id,
                "embedding_route": job.plan.route}
        shadow = ChatRequest(
            messages=[Message.user("\n".join(texts))],
            params=GenerationParams(max_tokens=1),  # an embedding has no output tokens
            routing=RoutingHints(agent=job.request.agent, task=f"embed:{job.plan.route}",
                                 tags=tags),
        )
        plan = Plan(job.plan.description, [list(tier.deployments)], GenerationParams(),
                    "priority", skipped=list(job.plan.skipped))
        guards = self._embed_guards()
        call = Call(plan, shadow, self.timeouts.total, self._notify, guards,
                    self.resilience.failover)
        try:
            for dep in call.candidates():
                try:
                    result = yield from self._embed_try(call, dep, sub, tier)
                except CandidateSkipped as skip:
                    call.skipped(dep, skip)
                    continue
                except ProviderError as exc:
                    call.candidate_failed(dep, exc)
                    if not exc.fallbackable:
                        self._embed_failed(call, shadow, exc)
                        raise
                    continue
                return self._embed_done(call, dep, shadow, indices, result)
            # made in another frame: a local here would hold the error, whose
            # outcomes' tracebacks hold this frame (a reference cycle per failure)
            raise self._embed_exhausted(call, shadow)
        finally:
            call.release()  # no reference cycle through its failures (Call.release)
            for guard in guards:
                try:
                    guard.call_ended(shadow)
                except Exception:
                    logger.exception("guard %s failed in call_ended", guard.name)

    def _embed_exhausted(self, call: Call, shadow: ChatRequest) -> _SpaceExhausted:
        err = call.no_route()
        self._embed_failed(call, shadow, err)
        return _SpaceExhausted(err, call.attempts)

    def _embed_failed(self, call: Call, shadow: ChatRequest, err: Exception) -> None:
        call.gave_up()
        for guard in call.guards:
            guard.call_failed(shadow, err)

    def _embed_done(self, call: Call, dep: Deployment, shadow: ChatRequest,
                    indices: list[int], result: EmbedResult) -> _Part:
        cost = self.price_book.cost(dep, result.usage)
        resp = ChatResponse(message=Message.assistant(""), usage=result.usage,
                            provider=dep.provider, model=dep.model,
                            response_model=result.response_model, attempts=call.attempts,
                            latency_ms=call.elapsed_ms(), cost_usd=cost)
        for guard in call.guards:
            guard.after_call(shadow, resp)  # the ledger row, with the space in its tags
        return _Part(indices, result.vectors, result.usage, dep.provider, dep.model,
                     resp.cost_usd, list(call.attempts), result.usage_estimated)

    def _embed_try(self, call: Call, dep: Deployment, sub: EmbedRequest,
                   tier: SpaceTier) -> Steps[EmbedResult]:
        """One deployment's tries (``routing.retried.tried``, as ``_try``)."""
        return (yield from tried(
            lambda: self._embed_attempt(call, dep, sub, tier),
            lambda failure: failure.status in (401, 403) and self._key_rotated(dep),
            self.retry_policy, call, self._sleep, self._asleep))

    def _embed_attempt(self, call: Call, dep: Deployment, sub: EmbedRequest,
                       tier: SpaceTier) -> Steps[EmbedResult]:
        tickets = (yield from call.before_attempt(dep)) if call.guards else None
        t0 = call.begin(dep)
        provider = self.provider(dep.provider)
        try:
            remaining = call.check_deadline(dep)
            if self._embed_outgoing:
                texts = sub.texts
                for guard in self._embed_outgoing:
                    texts = guard.outgoing_texts(dep, texts)
                if texts is not sub.texts:  # this provider's copy; the next gets the original
                    sub = sub.model_copy(update={"texts": texts})
            http = provider.build_embed_request(sub, dep.model)  # type: ignore[union-attr]
            raw = yield Send(self.transport, http, self.timeouts, dep, remaining)
            if raw.status >= 400:
                raise provider.parse_error(raw, dep.model)  # type: ignore[union-attr]
            result: EmbedResult = provider.parse_embed_response(  # type: ignore[union-attr]
                raw, dep.model, sub)
            _check_width(result, tier.space, dep)
        except Exception as exc:
            err = as_provider_error(exc, dep)
            call.after_attempt(dep, tickets, call.failed(dep, t0, err), None)
            if err is exc:  # already classified: `from exc` would make it its own cause
                raise
            raise err from exc
        except BaseException as exc:  # KeyboardInterrupt, CancelledError: settle, go on
            call.interrupted(dep, tickets, exc, t0=t0)
            raise
        if result.usage.input_tokens == 0:  # not reported (Gemini): price the estimate
            result.usage = Usage(input_tokens=sum(estimate_text_tokens(t) for t in sub.texts))
            result.usage_estimated = True
        shadow = ChatResponse(message=Message.assistant(""), usage=result.usage,
                              provider=dep.provider, model=dep.model)
        call.after_attempt(dep, tickets, call.succeeded(dep, t0), shadow)
        return result


def _check_width(result: EmbedResult, space: EmbeddingSpace, dep: Deployment) -> None:
    if space.dimensions is None:
        return
    for vec in result.vectors:
        if len(vec) != space.dimensions:
            raise InvalidResponseError(
                f"answered {len(vec)}-dimensional vectors in space {space.id}: not that "
                "space, refused (a model swapped behind the endpoint, or a wrong catalog entry)",
                provider=dep.provider, model=dep.model)
