"""The router: plan a call, try deployments tier by tier, retry, fall back.

``chat``/``achat`` return a ``ChatResponse``; ``stream``/``astream`` (in
``router.streaming``) yield ``ChatChunk``s under the streaming failure
policy. Retries, circuit breakers, rate limits and health are in
``polyroute.resilience``; they take part through guards and share ``state``. Every
answer says which provider and model answered, every attempt made, the total
latency and the cost. Failures raise typed errors: ``NoRouteError`` (with the
reason each candidate was skipped or failed) or, for a content-policy refusal,
the ``ContentPolicyError`` itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

from polyroute.analytics.alerts import Alerts
from polyroute.config.loader import config_from_data, load_config
from polyroute.config.providers import implicit_provider_config, provider_settings
from polyroute.config.schema import PolyrouteConfig, ProviderConfig
from polyroute.cost.book import PriceBook
from polyroute.errors import AuthenticationError, ContentPolicyError, PolyrouteError, ProviderError
from polyroute.logs import get_logger
from polyroute.params import for_provider
from polyroute.plugins.manager import PluginRegistry, default_registry
from polyroute.privacy.policy import policy_from_config
from polyroute.providers.base import Provider
from polyroute.resilience.core import Resilience
from polyroute.resilience.retry import RetryPolicy
from polyroute.router.embeddings import EmbeddingsMixin
from polyroute.router.outcomes import OutcomesMixin
from polyroute.router.streaming import Opened, StreamingMixin
from polyroute.router.views import ViewsMixin
from polyroute.routing.builtin_guards import builtin_guards
from polyroute.routing.call import Call, as_provider_error
from polyroute.routing.context import RouterContext
from polyroute.routing.experiments import Experiments
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment, Planner
from polyroute.routing.prompts import with_agent_prompt
from polyroute.routing.references import check_references
from polyroute.routing.retried import tried
from polyroute.routing.steps import (
    ASYNC_BEFORE_CALL,
    BeforeCall,
    CloseStream,
    OpenStream,
    Send,
    Steps,
    arun,
    run,
)
from polyroute.routing.strategies import (
    StrategyContext,
    bind_strategies,
    with_builtin_strategies,
)
from polyroute.routing.streams import Source
from polyroute.state import StateStore, state_from_config
from polyroute.transport import Timeouts, Transport
from polyroute.types import ChatRequest, ChatResponse, ModelInfo, assign

__all__ = ["Router"]

logger = get_logger("router")
Y = TypeVar("Y")
R = TypeVar("R")
_CONTENT_POLICY_NOTE = "gave up: content-policy refusals do not fall back"
# the models: override fields that change a catalog entry (status and default do not)
_CATALOG_FIELDS = {"context_window", "max_output_tokens", "capabilities", "prices", "quality"}


class Router(StreamingMixin, OutcomesMixin, EmbeddingsMixin, ViewsMixin):
    """Routes chat requests across the providers of one config.

    :param config: a ``PolyrouteConfig``, a dict in the config's shape, a path
        to a YAML/TOML file, or ``None`` (explicit ``provider:model`` calls only).
    :param registry: the plugins to use (default: every installed plugin).
    :param transport: the HTTP transport (default: pooled httpx clients).
    :param guards: components that take part in every call (see ``routing.guards``),
        after the built-in ones the config asks for.
    :param state: where shared state lives (default: in this process).
    :param clock: wall-clock seconds for breakers, rate-limit windows and health
        (tests inject a fake one; ``sleep``/``asleep`` should then advance it).
    """

    def __init__(
        self,
        config: PolyrouteConfig | dict[str, Any] | str | os.PathLike[str] | None = None,
        *,
        registry: PluginRegistry | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Any] = asyncio.sleep,
        guards: Sequence[Guard] = (),
        state: StateStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if config is None:
            config = PolyrouteConfig()
        elif isinstance(config, dict):
            config = config_from_data(config)
        elif not isinstance(config, PolyrouteConfig):
            config = load_config(config)
        self.config = config
        self.registry = with_builtin_strategies(registry or default_registry())
        self.transport = transport or Transport()
        self._sleep = sleep
        self._asleep = asleep
        t = config.timeouts
        self.timeouts = Timeouts(t.connect, t.read, t.total, t.first_token, t.chunk)
        self.retry_policy = RetryPolicy(config.retry)
        self._providers: dict[str, Provider] = {}
        self._info_cache: dict[Deployment, ModelInfo | None] = {}
        for name, pcfg in config.providers.items():
            self._providers[name] = self._build_provider(name, pcfg)
        self._check_references()
        hook = self.registry.pm.hook
        self._notify = (
            (lambda a, r: hook.polyroute_on_attempt(attempt=a, request=r))
            if hook.polyroute_on_attempt.get_hookimpls() else None
        )
        self._observe_responses = bool(hook.polyroute_on_response.get_hookimpls())
        self._observe_failures = bool(hook.polyroute_on_failure.get_hookimpls())
        self.state: StateStore = state or state_from_config(config)
        self._owns_state = state is None  # a store passed in is the caller's to close
        self.resilience = Resilience(config, self.state, clock=clock, sleep=sleep, asleep=asleep)
        self.health = self.resilience.health
        self.price_book = PriceBook.for_config(config, self.model_info, self.provider)
        self.alerts = Alerts.from_config(config.alerts,
                                         getattr(hook, "polyroute_on_alert", None),
                                         transport=self.transport)
        # what every guard and component gets instead of the router (routing/context.py)
        self.context = RouterContext(
            config=config, state=self.state, provider=self.provider,
            model_info=self.model_info, prices=self.price_book,
            source=lambda request: self.planner.source(request), alerts=self.alerts,
            transport=self.transport, health=self.health, clock=clock,
            privacy=policy_from_config(config.privacy),
            embed=lambda texts, **kw: self.embed(texts, **kw),
        )
        self.guards: list[Guard] = [*builtin_guards(self.context, self.resilience.guards()),
                                    *guards]
        # most guards keep no per-call state: only those that do are told a call ended
        self._ending = [g for g in self.guards if type(g).call_ended is not Guard.call_ended]
        # guards that change what a provider receives (privacy masking), in guard order
        self._outgoing = [g.outgoing for g in self.guards
                          if type(g).outgoing is not Guard.outgoing]
        self.strategies = bind_strategies(self.registry.strategies, StrategyContext(
            self.state, config.strategies, self.model_info, self.health, clock,
            self.price_book.prices,
            config.state.on_failure.strategy if config.state is not None else "open",
        ))
        self.planner = Planner(
            config, readiness=self._readiness, info=self.model_info,
            strategies=self.strategies,
            # only guards that filter candidates are called for each one
            skip_checks=[g.skip_reason for g in self.guards
                         if type(g).skip_reason is not Guard.skip_reason],
            clock=clock,
        )
        self.experiments = Experiments(config, outcomes=self._variant_outcomes)
        self.resilience.start(self.context)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], profile: str | None = None,
                    **kwargs: Any) -> Router:
        return cls(load_config(path, profile=profile), **kwargs)

    # --- providers and catalog ---------------------------------------------------

    def _build_provider(self, name: str, pcfg: ProviderConfig) -> Provider:
        settings = provider_settings(name, pcfg, self.registry, file=self.config.source)
        return self.registry.provider_types[settings.type](settings)

    def provider(self, name: str) -> Provider | None:
        """The provider instance called ``name`` (built on first use if implicit)."""
        provider = self._providers.get(name)
        if provider is None:
            implicit = implicit_provider_config(name, self.registry)
            if implicit is None:
                return None
            provider = self._providers[name] = self._build_provider(name, implicit)
        return provider

    @property
    def providers(self) -> dict[str, Provider]:
        return dict(self._providers)

    def model_info(self, dep: Deployment) -> ModelInfo | None:
        """The catalog entry for ``dep``, config overrides applied (cached: both are static)."""
        try:
            return self._info_cache[dep]
        except KeyError:
            info = self._info_cache[dep] = self._model_info(dep)
            return info

    def _model_info(self, dep: Deployment) -> ModelInfo | None:
        provider = self.provider(dep.provider)
        if provider is None:
            return None
        info = self.registry.model_info(provider.type_name, dep.model)
        override = self.config.models.get(dep.key) or self.config.models.get(
            f"{dep.provider}:{dep.model}"
        )
        if override is None:
            return info
        data = override.model_dump(exclude_none=True, include=_CATALOG_FIELDS)
        if not data:  # only status/default: the catalog entry (or its absence) stands
            return info
        base = info or ModelInfo(provider_type=provider.type_name, model=dep.model)
        if "capabilities" in data:
            data["capabilities"] = frozenset(data["capabilities"])
        if "prices" in data:
            data["prices"] = override.prices
        return base.model_copy(update=data)

    def _readiness(self, name: str) -> str | None:
        provider = self.provider(name)
        if provider is None:
            return f"provider '{name}' is not configured and no plugin or template has that name"
        return provider.is_configured()

    def _check_references(self) -> None:
        check_references(self.config, self.registry.strategies, self.provider)

    # --- planning (plan, rankings: router/views.py) ---------------------------------

    def _prepare(self, request: ChatRequest) -> tuple[Call, ChatRequest]:
        request = with_agent_prompt(request, self.config)  # its system prompt, if any
        plan = self.planner.plan(request)
        if plan.params.model_fields_set or plan.params.extra:
            request = request.model_copy(update={"params": request.params.merged_over(plan.params)})
        call = Call(plan, request, self.timeouts.total, self._notify, self.guards,
                    self.resilience.failover)
        return call, request

    # --- call-level guards and results ---------------------------------------------

    def _cached(self, request: ChatRequest) -> Steps[ChatResponse | None]:
        for guard in self.guards:
            if ASYNC_BEFORE_CALL[type(guard)]:  # it may wait (an identical call in flight)
                hit = yield BeforeCall(guard, request)
            else:
                hit = guard.before_call(request)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
        return None

    def _finish(self, call: Call, dep: Deployment, resp: ChatResponse) -> ChatResponse:
        routing = call.request.routing
        assign(resp, provider=dep.provider, model=dep.model, attempts=call.attempts,
               latency_ms=call.elapsed_ms(), cost_usd=self.price_book.cost(dep, resp.usage),
               experiment=routing.experiment, variant=routing.variant)
        for guard in self.guards:
            guard.after_call(call.request, resp)
        if self._observe_responses:
            self.registry.pm.hook.polyroute_on_response(response=resp, request=call.request)
        return resp

    def _fail(
        self, call: Call, exc: ProviderError | None = None, *, final: bool = False
    ) -> Exception:
        """The error to raise, after telling guards and observers. ``final``: raise
        ``exc`` itself even though it could fall back (``streaming.on_failure: fail``)."""
        err: Exception
        call.gave_up()
        if exc is not None and (final or not exc.fallbackable):
            exc.action = (_CONTENT_POLICY_NOTE if isinstance(exc, ContentPolicyError) else
                          "gave up (streaming.on_failure: fail)" if exc.fallbackable else
                          "gave up")
            err = exc
        else:
            err = call.no_route()
        for guard in self.guards:
            guard.call_failed(call.request, err)
        if self._observe_failures:
            self.registry.pm.hook.polyroute_on_failure(error=err, request=call.request)
        logger.warning("%s", err)
        return err

    # --- the call: steps (routing.steps) run by a blocking or an awaiting driver ------

    def _call_ended(self, request: ChatRequest) -> None:
        """Every exit of a call (exceptions of any kind, cancellation, a stream closed
        early) reaches here, so no guard keeps per-call state past it."""
        for guard in self._ending:
            try:
                guard.call_ended(request)
            except Exception:  # one guard's bug must not hide the call's own outcome
                logger.exception("guard %s failed in call_ended", guard.name)

    def _ended(self, steps: Generator[Y, Any, R], request: ChatRequest) -> Generator[Y, Any, R]:
        try:
            return (yield from steps)
        finally:
            self._call_ended(request)

    def chat(self, request: ChatRequest) -> ChatResponse:
        """Route ``request`` and return the first answer (retrying and falling back)."""
        return run(self._chat(request))

    async def achat(self, request: ChatRequest) -> ChatResponse:
        """Async ``chat``: the same steps, their I/O awaited."""
        # a store that waits on I/O (SQLite, Redis): the steps advance off the loop
        return await arun(self._chat(request),
                          None if self.state.inline else self.state.offload)

    def _assigned(self, request: ChatRequest) -> ChatRequest:
        """``request`` as its experiment's variant would send it (if one applies)."""
        return self.experiments.assign(request)[0] if self.experiments else request

    def _chat(self, request: ChatRequest) -> Steps[ChatResponse]:
        request = self._assigned(request)  # before everything: guards see the variant
        # most routers have no guard with per-call state: they skip the try/finally
        steps = self._route(request)
        return self._ended(steps, request) if self._ending else steps

    def _route(self, request: ChatRequest) -> Steps[ChatResponse]:
        if self.guards and (hit := (yield from self._cached(request))) is not None:
            hit.experiment, hit.variant = request.routing.experiment, request.routing.variant
            return hit
        call, request = self._prepare(request)
        try:
            for dep in call.candidates():
                try:
                    resp: ChatResponse = yield from self._try(  # type: ignore[assignment]
                        call, dep, request, stream=False)
                    return self._finish(call, dep, resp)
                except CandidateSkipped as skip:
                    call.skipped(dep, skip)
                except ProviderError as exc:
                    call.candidate_failed(dep, exc)
                    if not exc.fallbackable and not call.follow_policy_chain(exc):
                        raise self._fail(call, exc) from exc
            raise self._fail(call) from (call.outcomes[-1].error if call.outcomes else None)
        finally:
            call.release()

    def _try(self, call: Call, dep: Deployment, request: ChatRequest, *,
             stream: bool) -> Steps[ChatResponse | Opened]:
        """One deployment's tries (``routing.retried.tried``)."""
        return (yield from tried(
            lambda: self._attempt(call, dep, request, stream),
            lambda failure: isinstance(failure, AuthenticationError) and self._key_rotated(dep),
            self.retry_policy, call, self._sleep, self._asleep))

    def _key_rotated(self, dep: Deployment) -> bool:
        """After a 401/403: did the provider's key change in its secret backend?"""
        provider = self.provider(dep.provider)
        try:
            return provider is not None and provider.refresh_credentials()
        except PolyrouteError as exc:  # the backend is down: the 401 stands
            logger.warning("could not re-read provider '%s' api_key after a refusal: %s",
                        dep.provider, exc)
            return False

    def _attempt(self, call: Call, dep: Deployment, request: ChatRequest,
                 stream: bool) -> Steps[ChatResponse | Opened]:
        """One attempt: the answer, or (``stream``) the stream opened up to its first
        content. A failure is recorded, settled with the guards and raised as a
        ``ProviderError``; an interruption is settled and propagates as it is."""
        tickets = (yield from call.before_attempt(dep)) if call.guards else None
        t0 = call.begin(dep)
        provider = self._providers[dep.provider]
        handle = None
        try:
            remaining = call.check_deadline(dep)
            for outgoing in self._outgoing:
                request = outgoing(dep, request)
            http = provider.build_request(
                for_provider(request, provider, dep.model), dep.model, stream=stream
            )
            if stream:
                handle, raw, events = yield OpenStream(
                    self.transport, http, self.timeouts, dep, remaining
                )
            else:
                raw = yield Send(self.transport, http, self.timeouts, dep, remaining)
            if raw is not None and raw.status >= 400:
                raise provider.parse_error(raw, dep.model)
            if stream:
                source = Source(provider.stream_parser(dep.model), events)
                yield from source.until_content()
            else:
                resp = provider.parse_response(raw, dep.model)
        except Exception as exc:
            err = as_provider_error(exc, dep)
            # settled before closing the stream: an interruption there must not skip it
            call.after_attempt(dep, tickets, call.failed(dep, t0, err), None)
            if handle is not None:
                yield CloseStream(handle)
            if err is exc:  # already classified: `from exc` would make it its own cause
                raise
            raise err from exc
        except BaseException as exc:  # KeyboardInterrupt, CancelledError: settle, go on
            call.interrupted(dep, tickets, exc, t0=t0)
            raise
        if stream:
            self._first_token(call, dep, t0)
            return Opened(handle, source, tickets)
        call.after_attempt(dep, tickets, call.succeeded(dep, t0), resp)
        return resp

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop probes, flush and close guards (the ledger), close connection pools
        and the state store the config made."""
        self.resilience.stop()
        for guard in self.guards:
            guard.close()
        self.transport.close()
        if self._owns_state:
            self.state.close()

    async def aclose(self) -> None:
        self.resilience.stop()
        for guard in self.guards:
            guard.close()
        await self.transport.aclose()
        if self._owns_state:
            await self.state.aclose()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Router providers={sorted(self._providers)} source={self.config.source!r}>"

