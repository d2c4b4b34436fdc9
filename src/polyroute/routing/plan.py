"""From a request to a plan: ordered tiers of deployments, and why any were skipped.

The plan comes from, in this order: an explicit ``routing.model`` (plus its
``fallbacks``), the agent's model or route, the task route, the config's
``default``. Tier structure is cached per source since the config is static;
the per-call work is filtering and the strategy's ordering.

A candidate is skipped before any call, with the reason kept for ``route
--explain`` and ``NoRouteError``, when (in this order): its provider is not
ready (no key), a guard says so (parameter policy, circuit, budget...), the
catalog says the model lacks a capability the request needs (tools, vision,
JSON mode, JSON schema), or its context window cannot hold the estimated
prompt plus the requested output (``max_tokens``). A model the catalog does
not know is never skipped for capabilities or size: unknown is not "no".

A per-call ``max_latency_ms`` skips candidates whose observed p95 latency (the
health tracker) exceeds it; it is refused with a ``ConfigError`` when it is not a
positive number or health tracking is off, never ignored. A guard may return a
``Note`` instead of a reason: the candidate is kept and the note is shown.

A guard may return a ``Deferred`` reason (a rate-limit cooldown): the candidate
is skipped while another one is usable, and kept when nothing else is, so a
single deployment is still called (its retries honour Retry-After) rather than
refused outright.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import CandidateOutcome, ConfigError, NoRouteError
from polyroute.refs import Deployment, parse_model_ref  # their old home: names kept
from polyroute.tokens import prompt_tokens
from polyroute.types import Capability, ChatRequest, GenerationParams, ModelInfo, request_memo

__all__ = [
    "LATENCY_SKIP", "Deferred", "Deployment", "Note", "Plan", "Planner", "TokenNeed",
    "parse_model_ref", "window_reason",
]

LATENCY_SKIP = "exceeds max_latency_ms"
"""In the reason of a candidate skipped for its observed latency (``max_latency_ms``)."""


class Deferred(str):
    """A skip reason that yields: the candidate is skipped only if another is usable."""

    __slots__ = ()


class Note(str):
    """Not a skip: a remark on a kept candidate (``route --explain`` shows it)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """A request's route before any candidate is filtered: its tiers, strategy,
    params, tags and content-policy chain (``Planner.source``, memoised)."""

    description: str
    tiers: tuple[tuple[Deployment, ...], ...]
    strategy: str
    params: GenerationParams
    tags: tuple[tuple[str, str], ...] = ()
    policy_chain: tuple[Deployment, ...] = ()


_Source = SourcePlan


class Plan:
    """What the router will try, tier by tier, and what it skipped up front.

    A plan the planner makes is *lazy*: candidates are filtered (and a tier ordered)
    only when a call reaches them, so a call answered by its first candidate pays for
    that candidate alone, not for a route of 1,000. ``tiers``, ``skipped``, ``notes``
    and ``candidates`` evaluate the whole plan when read (``route --explain``, a call
    that ran out of candidates); ``iter_candidates`` evaluates as it goes.
    """

    __slots__ = ("_flat", "_notes", "_pending", "_skipped", "_tiers", "description",
                 "params", "policy_chain", "strategy")

    def __init__(
        self, description: str, tiers: list[list[Deployment]], params: GenerationParams,
        strategy: str, skipped: list[CandidateOutcome] | None = None,
        policy_chain: list[Deployment] | None = None,
        notes: dict[Deployment, str] | None = None,
    ) -> None:
        self.description = description
        self.params = params
        self.strategy = strategy
        self.policy_chain: list[Deployment] = [] if policy_chain is None else policy_chain
        """Tried instead of the remaining candidates after a content-policy refusal."""
        self._tiers = tiers
        self._skipped: list[CandidateOutcome] = [] if skipped is None else skipped
        self._notes: dict[Deployment, str] = {} if notes is None else notes
        self._flat = [d for tier in tiers for d in tier]
        # advances the evaluation by at least one candidate (or ends it); None: all done
        self._pending: Iterator[None] | None = None

    @property
    def tiers(self) -> list[list[Deployment]]:
        self._finish()
        return self._tiers

    @property
    def skipped(self) -> list[CandidateOutcome]:
        self._finish()
        return self._skipped

    @property
    def notes(self) -> dict[Deployment, str]:
        """Remarks on kept candidates (too few latency observations to judge, say)."""
        self._finish()
        return self._notes

    @property
    def candidates(self) -> list[Deployment]:
        self._finish()
        return self._flat

    @property
    def evaluated(self) -> int:
        """How many candidates have been judged usable so far (the rest are pending)."""
        return len(self._flat)

    def iter_candidates(self) -> Iterator[Deployment]:
        """The candidates in order, each filtered only when the iteration reaches it."""
        i = 0
        while True:
            if i < len(self._flat):
                yield self._flat[i]
                i += 1
            elif not self._advance():
                return

    def _advance(self) -> bool:
        """Evaluate until one more candidate is usable; ``False`` when none is left."""
        pending = self._pending
        if pending is None:
            return False
        n = len(self._flat)
        try:
            for _ in pending:
                if len(self._flat) > n:
                    return True
        except BaseException:
            self._pending = None  # a failed check (a state store down) ends the plan
            raise
        self._pending = None
        return len(self._flat) > n

    def _finish(self) -> None:
        while self._advance():
            pass

    def __repr__(self) -> str:
        pending = "" if self._pending is None else ", evaluation pending"
        return (f"Plan({self.description!r}, tiers={self._tiers!r}, strategy={self.strategy!r}, "
                f"skipped={len(self._skipped)}{pending})")


@dataclass(frozen=True, slots=True)
class TokenNeed:
    """What one call needs of a context window: the estimated prompt plus the output asked for."""

    prompt: int
    output: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.output

    @classmethod
    def of(cls, request: ChatRequest, params: GenerationParams | None = None) -> TokenNeed:
        """The need of ``request``; its ``max_tokens``, else ``params``' (agent or route)."""
        max_tokens = request.params.max_tokens
        if max_tokens is None and params is not None:
            max_tokens = params.max_tokens
        return cls(prompt_tokens(request), max_tokens or 0)


def window_reason(info: ModelInfo | None, need: TokenNeed) -> str | None:
    """Why ``info``'s context window cannot hold ``need``, or ``None`` if it can (or is unknown)."""
    if info is None or not info.context_window or need.total <= info.context_window:
        return None
    asked = f"~{need.prompt:,} prompt"
    if need.output:
        asked += f" + {need.output:,} max output"
    return f"context window {info.context_window:,} tokens cannot hold {asked} tokens"


# (provider name) -> None if ready, else the reason it cannot be called
ReadinessCheck = Callable[[str], "str | None"]
# (deployment) -> catalog entry, if known
InfoLookup = Callable[[Deployment], "ModelInfo | None"]


class Planner:
    def __init__(
        self,
        config: PolyrouteConfig,
        *,
        readiness: ReadinessCheck,
        info: InfoLookup,
        strategies: dict[str, Callable[..., list[Deployment]]],
        skip_checks: Sequence[Callable[[Deployment, ChatRequest], str | None]] = (),
        clock: Callable[[], float] | None = None,
    ) -> None:
        from polyroute.routing.rules import RuleBook  # rules.py builds SourcePlans

        self.config = config
        self.rules = RuleBook(config, clock) if clock else RuleBook(config)
        self._skip_checks = tuple(skip_checks)
        self._readiness = readiness
        self._info = info
        self._strategies = strategies
        self._sources: dict[tuple[object, ...], _Source] = {}

    # --- sources ---------------------------------------------------------------

    def source(self, request: ChatRequest) -> _Source:
        if self.rules and not request.routing.model:  # conditional rules (routing/rules.py)
            return self.rules.source(request, self.plain_source)
        return self.plain_source(request)

    def plain_source(self, request: ChatRequest) -> _Source:
        """The source without conditional rules: model, agent, task, default."""
        r = request.routing
        key = (r.model, tuple(r.fallbacks), r.agent, r.task, r.route, r.experiment, r.variant)
        src = self._sources.get(key)
        if src is None:
            src = self._build_source(request)
            if r.experiment:  # route --explain says which experiment arm decided
                src = replace(src, description=f"{src.description}; experiment {r.experiment}"
                                               f" variant {r.variant}")
            chain = self._policy_refs(request)
            if chain:
                src = replace(src, policy_chain=tuple(Deployment(*parse_model_ref(x))
                                                      for x in chain))
            self._sources[key] = src
        return src

    def _policy_refs(self, request: ChatRequest) -> list[str]:
        """The most specific content-policy chain: agent, then its route or the task's,
        then the config's."""
        cfg, r = self.config, request.routing
        agent = cfg.agents.get(r.agent) if r.agent else None
        if agent is not None and agent.content_policy_fallbacks:
            return agent.content_policy_fallbacks
        route_name = (agent.route if agent is not None else None) or r.task
        route = cfg.routes.get(route_name) if route_name else None
        if route is not None and route.content_policy_fallbacks:
            return route.content_policy_fallbacks
        return cfg.content_policy_fallbacks

    def _build_source(self, request: ChatRequest) -> _Source:
        r = request.routing
        cfg = self.config
        if r.model:
            refs = [r.model, *r.fallbacks]
            base = GenerationParams()
            if r.agent and r.agent in cfg.agents:
                base = cfg.agents[r.agent].generation_params()
            return _Source(f"model {r.model}", _tiers([[x] for x in refs]), "priority", base)
        if r.route:  # replaces the agent's model or route (an experiment's variant)
            route = self._route(r.route, "routing.route")
            params, what = route.generation_params(), f"route {r.route}"
            tags: tuple[tuple[str, str], ...] = ()
            if r.agent and r.agent in cfg.agents:
                agent_cfg = cfg.agents[r.agent]
                params = agent_cfg.generation_params().merged_over(params)
                tags, what = tuple(sorted(agent_cfg.tags.items())), f"agent {r.agent} ({what})"
            return _Source(what, _tiers(route.tiers), route.strategy, params, tags)
        if r.agent:
            agent = cfg.agents.get(r.agent)
            if agent is None:
                known = ", ".join(sorted(cfg.agents)) or "none configured"
                raise NoRouteError(f"agent '{r.agent}' is not configured (agents: {known})")
            params = agent.generation_params()
            tags = tuple(sorted(agent.tags.items()))
            if agent.model:
                refs = [agent.model, *agent.fallbacks]
                return _Source(
                    f"agent {r.agent} (model {agent.model})", _tiers([[x] for x in refs]),
                    "priority", params, tags,
                )
            assert agent.route is not None
            route = self._route(agent.route, f"agents.{r.agent}.route")
            return _Source(
                f"agent {r.agent} (route {agent.route})", _tiers(route.tiers), route.strategy,
                params.merged_over(route.generation_params()), tags,
            )
        if r.task:
            route = self._route(r.task, "task")
            return _Source(
                f"task {r.task}", _tiers(route.tiers), route.strategy, route.generation_params()
            )
        if cfg.default:
            if cfg.default in cfg.routes:
                route = cfg.routes[cfg.default]
                return _Source(
                    f"default route {cfg.default}", _tiers(route.tiers), route.strategy,
                    route.generation_params(),
                )
            return _Source(
                f"default model {cfg.default}", _tiers([[cfg.default]]), "priority",
                GenerationParams(),
            )
        raise NoRouteError(
            "the request names no model, agent or task, and the config has no 'default'"
        )

    def _route(self, name: str, where: str):  # type: ignore[no-untyped-def]
        route = self.config.routes.get(name)
        if route is None:
            known = ", ".join(sorted(self.config.routes)) or "none configured"
            raise NoRouteError(f"{where}: route '{name}' is not configured (routes: {known})")
        return route

    # --- the per-call plan -----------------------------------------------------

    def plan(self, request: ChatRequest) -> Plan:
        """The plan for ``request``: lazy (see ``Plan``); hints and the source are
        checked now, so a bad ``max_latency_ms`` or an unknown agent raises here."""
        self._check_hints(request)
        src = self.source(request)
        # made now, so the router's copies of the request share what the lazy
        # evaluation derives (the prompt-token estimate) instead of deriving it again
        request_memo(request)
        strategy = self._strategies[src.strategy]
        chain = ([d for d in src.policy_chain if self._readiness(d.provider) is None]
                 if src.policy_chain else [])
        plan = Plan(src.description, [], src.params, src.strategy, [], chain, {})
        # the evaluation holds the plan's lists, not the plan: a plan left half
        # evaluated (a call answered by its first candidate) is then freed at once
        # instead of waiting in a cycle for the garbage collector
        plan._pending = self._evaluate(plan._tiers, plan._flat, plan._skipped, plan._notes,
                                       src, request, strategy)
        return plan

    def _evaluate(
        self, tiers: list[list[Deployment]], flat: list[Deployment],
        skipped: list[CandidateOutcome], notes: dict[Deployment, str], src: SourcePlan,
        request: ChatRequest, strategy: Callable[..., list[Deployment]],
    ) -> Iterator[None]:
        """Fill a plan's lists tier by tier, yielding whenever candidates were added. Config
        order (``priority``) needs no look at the rest of a tier, so each candidate is
        handed out as soon as it passes; any other strategy orders a whole tier, so
        that tier is filtered first. Same candidates, same order as filtering all up
        front; only a tier's round-robin turn now moves when the call reaches it."""
        needed = request.required_capabilities()
        need = _LazyNeed(request, src.params)
        one_by_one = getattr(strategy, "one_by_one", False) is True
        ready: dict[str, str | None] = {}  # readiness once per provider per plan

        def readiness(name: str) -> str | None:
            if name not in ready:
                ready[name] = self._readiness(name)
            return ready[name]

        deferred: list[list[Deployment]] = []
        for tier in src.tiers:
            usable: list[Deployment] = []
            later: list[Deployment] = []
            for dep in tier:
                reason = self._skip(dep, needed, request, need, readiness, notes)
                if reason is None:
                    if one_by_one:
                        if not usable:
                            tiers.append(usable)
                        usable.append(dep)
                        flat.append(dep)
                        yield
                    else:
                        usable.append(dep)
                else:
                    if isinstance(reason, Deferred):
                        later.append(dep)
                    skipped.append(CandidateOutcome(dep.provider, dep.model, reason, skipped=True))
            if usable and not one_by_one:
                ordered = strategy(usable, request) if len(usable) > 1 else usable
                tiers.append(ordered)
                flat.extend(ordered)
                yield
            if later:
                deferred.append(later)
        if not tiers and deferred:  # nothing else can serve: the deferred ones may
            kept = {d for tier in deferred for d in tier}
            skipped[:] = [o for o in skipped if Deployment(o.provider, o.model) not in kept]
            for later in deferred:
                ordered = strategy(later, request) if len(later) > 1 else later
                tiers.append(ordered)
                flat.extend(ordered)
            yield

    def _check_hints(self, request: ChatRequest) -> None:
        """A per-call constraint is applied or refused, never ignored."""
        limit = request.routing.max_latency_ms
        if limit is None:
            return
        if not (isinstance(limit, int | float) and math.isfinite(limit) and limit > 0):
            raise ConfigError(
                f"max_latency_ms must be a positive number of milliseconds, got {limit!r}",
                field="routing.max_latency_ms", fix="pass e.g. max_latency_ms=2000, or None",
            )
        if not self.config.health.enabled:
            raise ConfigError(
                "max_latency_ms is judged on observed latency, and health tracking is off",
                field="health.enabled",
                fix="set health.enabled: true (the default), or drop max_latency_ms "
                    "(timeouts.total bounds a call's time)",
            )

    def skip_reason(
        self, dep: Deployment, needed: set[Capability], request: ChatRequest,
        need: TokenNeed | Callable[[], TokenNeed] | None = None,
    ) -> str | None:
        """Why ``dep`` cannot serve ``request`` (``None``: it can). ``need`` is the
        context-window need; ``None`` estimates it from ``request`` alone."""
        return self._skip(dep, needed, request, need, self._readiness)

    def _skip(
        self, dep: Deployment, needed: set[Capability], request: ChatRequest,
        need: TokenNeed | Callable[[], TokenNeed] | None,
        readiness: Callable[[str], str | None],
        notes: dict[Deployment, str] | None = None,
    ) -> str | None:
        reason = readiness(dep.provider)
        if reason is not None:
            return reason
        deferred: Deferred | None = None  # only if no hard reason follows
        for check in self._skip_checks:
            reason = check(dep, request)
            if reason is None:
                continue
            if isinstance(reason, Note):
                if notes is not None:
                    notes[dep] = f"{notes[dep]}; {reason}" if dep in notes else str(reason)
                continue
            if not isinstance(reason, Deferred):
                return reason
            deferred = deferred or reason
        return self._catalog_reason(dep, needed, request, need) or deferred

    def _catalog_reason(
        self, dep: Deployment, needed: set[Capability], request: ChatRequest,
        need: TokenNeed | Callable[[], TokenNeed] | None,
    ) -> str | None:
        info = self._info(dep)
        if info is None:
            return None
        if needed and info.capabilities:
            missing = needed - set(info.capabilities)
            if missing:
                names = ", ".join(sorted(c.value for c in missing))
                return f"lacks capability {names}"
        if not info.context_window:
            return None
        if need is None:
            need = TokenNeed.of(request)
        return window_reason(info, need if isinstance(need, TokenNeed) else need())


class _LazyNeed:
    """The token need, estimated once and only if some candidate's window is known."""

    __slots__ = ("_need", "_params", "_request")

    def __init__(self, request: ChatRequest, params: GenerationParams) -> None:
        self._request, self._params = request, params
        self._need: TokenNeed | None = None

    def __call__(self) -> TokenNeed:
        if self._need is None:
            self._need = TokenNeed.of(self._request, self._params)
        return self._need


def _tiers(refs: list[list[str]]) -> tuple[tuple[Deployment, ...], ...]:
    return tuple(tuple(Deployment(*parse_model_ref(x)) for x in tier) for tier in refs)
