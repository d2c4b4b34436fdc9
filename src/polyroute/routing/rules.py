"""Conditional routing rules: the first rule whose condition holds picks the route.

``rules:`` in the config (``config/rules.py``; the condition language is in
``config/conditions.py``) are tried in order for every call that does not name an
explicit model. The first match replaces the route the call would have had (its
agent's, its task's, the default): its tiers and strategy come from the rule's
``route`` (or ``model`` + ``fallbacks``); the agent's own parameters, tags and
content-policy chain stay. No match: the call routes as it would without rules.

The decision is taken once per call and kept on the request (``request_memo``), so
the guards that read the call's source (parameter policy, cache key, budgets) see
the same route the planner used, and a call that crosses midnight does not switch.
``RuleBook.explain`` says which rule matched and why each earlier one did not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from polyroute.config.conditions import Condition, evaluate, holds
from polyroute.config.rules import RuleConfig
from polyroute.config.schema import PolyrouteConfig
from polyroute.refs import Deployment, parse_model_ref
from polyroute.routing.complexity import ComplexityScorer, load_classifier
from polyroute.tokens import prompt_tokens
from polyroute.types import ChatRequest, GenerationParams, request_memo

if TYPE_CHECKING:
    from polyroute.routing.plan import SourcePlan

__all__ = ["RuleBook", "RuleVerdict"]

_MEMO_KEY = "polyroute.rules"


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule's verdict on one call (``route --explain``)."""

    name: str
    matched: bool
    why: str
    target: str
    """``route cheap`` or ``model groq:llama-3.1-8b``."""


class RuleBook:
    """The config's rules, evaluated for one call at a time."""

    def __init__(self, config: PolyrouteConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.rules: tuple[RuleConfig, ...] = tuple(config.rules)
        # read once: a pydantic private attribute is slow to reach on every call
        self._conditions: tuple[Condition | None, ...] = tuple(r.condition for r in self.rules)
        self._clock = clock
        self._zones = {r.timezone: ZoneInfo(r.timezone) for r in self.rules}
        self._scorer: ComplexityScorer | None = None
        self._sources: dict[tuple[object, ...], SourcePlan] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    # --- deciding ------------------------------------------------------------------

    def source(self, request: ChatRequest, plain: Callable[[ChatRequest], SourcePlan]
               ) -> SourcePlan:
        """The call's source plan: the matching rule's, else ``plain(request)``."""
        base = plain(request)
        memo = request_memo(request)
        basis = self._basis(request)
        kept = memo.get(_MEMO_KEY)
        if kept is not None and kept[0] == basis:
            index: int | None = kept[1]
        else:
            index = self._first_match(request, base)
            memo[_MEMO_KEY] = (basis, index)
        if index is None:
            return base
        return self._rule_source(index, request, base)

    def explain(self, request: ChatRequest, plain: Callable[[ChatRequest], SourcePlan]
                ) -> list[RuleVerdict]:
        """Each rule up to and including the first match, with why it did (not) match.
        Empty when the call names an explicit model (rules are not consulted)."""
        if request.routing.model:
            return []
        return self._verdicts(request, plain(request), stop=True)

    def _first_match(self, request: ChatRequest, base: SourcePlan) -> int | None:
        facts = _Facts(self, request, base)
        for i, (rule, cond) in enumerate(zip(self.rules, self._conditions, strict=True)):
            if cond is None or holds(cond, facts.reader(rule)):
                return i
        return None

    def _verdicts(self, request: ChatRequest, base: SourcePlan, *, stop: bool
                  ) -> list[RuleVerdict]:
        facts = _Facts(self, request, base)
        out = []
        for rule in self.rules:
            target = f"route {rule.route}" if rule.route else f"model {rule.model}"
            if rule.condition is None:
                out.append(RuleVerdict(rule.name, True, "no condition: always matches", target))
            else:
                ok, why = evaluate(rule.condition, facts.reader(rule))
                out.append(RuleVerdict(rule.name, ok, why, target))
            if out[-1].matched and stop:
                break
        return out

    @staticmethod
    def _basis(request: ChatRequest) -> tuple[object, ...]:
        """What a kept decision was made from. The router's copies of a call's request
        (merged params) share it, so one call is decided once, even across a minute or
        midnight; a reused request object whose routing or messages changed is decided
        again."""
        r = request.routing
        return (r.agent, r.task, tuple(r.tags.items()), len(request.messages),
                id(request.messages[-1]) if request.messages else 0)

    def _rule_source(self, index: int, request: ChatRequest, base: SourcePlan) -> SourcePlan:
        from polyroute.routing.plan import SourcePlan  # plan.py builds a RuleBook

        r = request.routing
        key = (index, r.agent, r.task)
        hit = self._sources.get(key)
        if hit is not None:
            return hit
        rule = self.rules[index]
        agent = self.config.agents.get(r.agent) if r.agent else None
        own = agent.generation_params() if agent is not None else GenerationParams()
        if rule.route:
            route = self.config.routes[rule.route]
            refs = route.tiers
            strategy, params = route.strategy, own.merged_over(route.generation_params())
            target = f"route {rule.route}"
        else:
            assert rule.model is not None
            refs = [[rule.model], *([f] for f in rule.fallbacks)]
            strategy, params, target = "priority", own, f"model {rule.model}"
        tiers = tuple(tuple(Deployment(*parse_model_ref(x)) for x in tier) for tier in refs)
        src = SourcePlan(f"rule {rule.name} → {target} (instead of {base.description})",
                         tiers, strategy, params, base.tags, base.policy_chain)
        self._sources[key] = src
        return src

    def complexity(self, request: ChatRequest) -> float:
        if self._scorer is None:
            self._scorer = load_classifier(self.config.complexity_classifier)
        return self._scorer(request)

    def now(self, rule: RuleConfig) -> datetime:
        return datetime.fromtimestamp(self._clock(), self._zones[rule.timezone])


class _Facts:
    """One call's values, each read once and only when a rule's test needs it."""

    def __init__(self, book: RuleBook, request: ChatRequest, base: SourcePlan) -> None:
        self.book, self.request, self.base = book, request, base
        self._cache: dict[str, object] = {}
        self._tags: dict[str, str] | None = None

    def tags(self) -> dict[str, str]:
        if self._tags is None:  # the call's tags over its agent's
            self._tags = {**dict(self.base.tags), **self.request.routing.tags}
        return self._tags

    def reader(self, rule: RuleConfig) -> Callable[[str], object]:
        return lambda field: self.value(field, rule)

    def value(self, field: str, rule: RuleConfig) -> object:
        if field in ("time", "weekday"):
            now = self.book.now(rule)
            if field == "time":
                return float(now.hour * 60 + now.minute)
            return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[now.weekday()]
        if field not in self._cache:
            self._cache[field] = self._read(field)
        return self._cache[field]

    def _read(self, field: str) -> object:
        request, r = self.request, self.request.routing
        if field == "prompt_tokens":
            return prompt_tokens(request)
        if field == "max_tokens":
            return request.params.max_tokens or self.base.params.max_tokens
        if field == "messages":
            return len(request.messages)
        if field == "complexity":
            return self.book.complexity(request)
        if field == "agent":
            return r.agent
        if field == "task":
            return r.task
        if field == "capabilities":
            return frozenset(c.value for c in request.required_capabilities())
        if field in ("tenant", "user"):
            return self.tags().get(field)
        if field.startswith("tag."):
            return self.tags().get(field[4:])
        if field.startswith("param."):
            name = field[6:]
            params = request.params.merged_over(self.base.params)
            if name in params.extra:
                return params.extra[name]
            return getattr(params, name, None) if name in type(params).model_fields else None
        return None  # pragma: no cover - the parser admits no other field

