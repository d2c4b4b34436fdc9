"""Lazy plans: a call pays for the candidates it reaches, and sees the same candidates,
in the same order, with the same skip reasons, as filtering the whole route up front.

The reference below is the eager algorithm the planner ran before plans were lazy
(filter every tier, order each usable tier, fall back to the deferred ones when
nothing else is usable), written out here independently of ``polyroute``'s code.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import CandidateOutcome, StateStoreError
from polyroute.routing.plan import Deferred, Deployment, Note, Planner
from polyroute.routing.strategies import Priority
from polyroute.types import ChatRequest, Message, ModelInfo, RoutingHints

PROVIDERS = ("p0", "p1", "p2")
MODELS = ("a", "b", "c", "d", "e")
ALL = [Deployment(p, m) for p in PROVIDERS for m in MODELS]

# what one candidate's guard says: keep, skip, skip-unless-nothing-else, keep with a note
VERDICTS = st.sampled_from([None, None, None, "circuit open", Deferred("cooling down"),
                            Note("few latency samples")])


def reverse_by_key(candidates: Sequence[Deployment], request: ChatRequest) -> list[Deployment]:
    """A plain-callable strategy that orders the whole tier (not config order)."""
    return sorted(candidates, key=lambda d: d.key, reverse=True)


STRATEGIES: dict[str, Callable[..., list[Deployment]]] = {
    "priority": Priority(), "reverse": reverse_by_key,
}


@st.composite
def routes(draw: st.DrawFn) -> list[list[Deployment]]:
    chosen = draw(st.lists(st.sampled_from(ALL), min_size=1, max_size=12, unique=True))
    cuts = sorted(draw(st.sets(st.integers(1, len(chosen) - 1), max_size=3))
                  if len(chosen) > 1 else set())
    bounds = [0, *cuts, len(chosen)]
    return [chosen[a:b] for a, b in itertools.pairwise(bounds)]


class World:
    """The state planning reads, as plain dicts a test can change between two reads."""

    def __init__(self, ready: dict[str, str | None], verdicts: dict[Deployment, str | None],
                 windows: dict[Deployment, int | None]) -> None:
        self.ready, self.verdicts, self.windows = ready, verdicts, windows
        self.checked: Counter[Deployment] = Counter()

    def readiness(self, provider: str) -> str | None:
        return self.ready[provider]

    def check(self, dep: Deployment, request: ChatRequest) -> str | None:
        self.checked[dep] += 1
        return self.verdicts.get(dep)

    def info(self, dep: Deployment) -> ModelInfo | None:
        window = self.windows.get(dep)
        if window is None:
            return None
        return ModelInfo(provider_type="openai", model=dep.model, context_window=window)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    ready = {p: draw(st.sampled_from([None, None, "no API key"])) for p in PROVIDERS}
    verdicts = {d: draw(VERDICTS) for d in ALL}
    windows = {d: draw(st.sampled_from([None, None, 1, 100_000])) for d in ALL}
    return World(ready, verdicts, windows)


def planner(tiers: list[list[Deployment]], strategy: str, world: World) -> Planner:
    config = PolyrouteConfig.model_validate({
        "providers": {p: {"type": "openai", "api_key": "sk-test"} for p in PROVIDERS},
        "routes": {"r": {"strategy": strategy,
                         "tiers": [[f"{d.provider}:{d.model}" for d in t] for t in tiers]}},
        "default": "r",
    })
    return Planner(config, readiness=world.readiness, info=world.info, strategies=STRATEGIES,
                   skip_checks=[world.check])


def ask() -> ChatRequest:
    return ChatRequest(messages=[Message.user("hello there")], routing=RoutingHints())


def eager(tiers: list[list[Deployment]], strategy: str, world: World, request: ChatRequest
          ) -> tuple[list[list[Deployment]], list[CandidateOutcome], dict[Deployment, str]]:
    """The pre-lazy planner's answer: every candidate judged before anything is tried."""
    order = STRATEGIES[strategy]
    out: list[list[Deployment]] = []
    skipped: list[CandidateOutcome] = []
    notes: dict[Deployment, str] = {}
    deferred: list[list[Deployment]] = []
    for tier in tiers:
        usable, later = [], []
        for dep in tier:
            reason = world.ready[dep.provider]
            if reason is None:
                verdict = world.verdicts.get(dep)
                window = world.windows.get(dep)
                too_small = window is not None and window < 10  # "hello there" + nothing
                if isinstance(verdict, Note):
                    notes[dep] = str(verdict)
                    verdict = None
                # a guard's hard reason first, then the catalog's, then a deferral
                if verdict is not None and not isinstance(verdict, Deferred):
                    reason = verdict
                elif too_small:
                    reason = "context window"
                else:
                    reason = verdict
            if reason is None:
                usable.append(dep)
            else:
                if isinstance(reason, Deferred):
                    later.append(dep)
                skipped.append(CandidateOutcome(dep.provider, dep.model, reason, skipped=True))
        if usable:
            out.append(order(usable, request))
        if later:
            deferred.append(later)
    if not out and deferred:
        kept = {d for t in deferred for d in t}
        skipped = [o for o in skipped if Deployment(o.provider, o.model) not in kept]
        out = [order(t, request) for t in deferred]
    return out, skipped, notes


def reasons(outcomes: list[CandidateOutcome]) -> list[tuple[str, str, bool]]:
    """Who was skipped, and whether for the window (its wording is the planner's)."""
    return [(o.provider, o.model, "context window" in o.reason) for o in outcomes]


@settings(max_examples=300, deadline=None)
@given(tiers=routes(), world=worlds(), strategy=st.sampled_from(sorted(STRATEGIES)))
def test_lazy_plan_equals_the_eager_one(tiers: list[list[Deployment]], world: World,
                                        strategy: str) -> None:
    request = ask()
    want_tiers, want_skipped, want_notes = eager(tiers, strategy, world, request)
    plan = planner(tiers, strategy, world).plan(request)
    walked = list(plan.iter_candidates())
    assert walked == [d for t in want_tiers for d in t]
    assert plan.tiers == want_tiers
    assert plan.candidates == walked
    assert reasons(plan.skipped) == reasons(want_skipped)
    assert plan.notes == want_notes
    assert all(n == 1 for n in world.checked.values())  # each candidate judged once


@settings(max_examples=200, deadline=None)
@given(tiers=routes(), world=worlds())
def test_config_order_judges_only_up_to_the_first_usable_candidate(
    tiers: list[list[Deployment]], world: World,
) -> None:
    request = ask()
    want_tiers, _, _ = eager(tiers, "priority", world, request)
    plan = planner(tiers, "priority", world).plan(request)
    assert world.checked == Counter()  # nothing is judged until a call asks
    first = next(plan.iter_candidates(), None)
    flat = [d for t in tiers for d in t]
    if first is None:
        assert want_tiers == []
        return
    assert first == want_tiers[0][0]
    if world.verdicts.get(first) is not None and not isinstance(world.verdicts[first], Note):
        return  # a deferred candidate kept because nothing else was usable: all were judged
    reached = flat[:flat.index(first) + 1]
    assert set(world.checked) <= set(reached)  # nothing after the first usable one


@settings(max_examples=100, deadline=None)
@given(tiers=routes(), world=worlds())
def test_a_tier_ordered_as_a_whole_is_judged_only_when_reached(
    tiers: list[list[Deployment]], world: World,
) -> None:
    request = ask()
    want_tiers, _, _ = eager(tiers, "reverse", world, request)
    plan = planner(tiers, "reverse", world).plan(request)
    first = next(plan.iter_candidates(), None)
    if first is None:
        assert want_tiers == []
        return
    assert first == want_tiers[0][0]
    if world.verdicts.get(first) is not None and not isinstance(world.verdicts[first], Note):
        return  # a deferred candidate kept because nothing else was usable: all were judged
    reached = next(i for i, t in enumerate(tiers) if first in t)
    later = {d for t in tiers[reached + 1:] for d in t}
    assert not set(world.checked) & later


def two_tier_world() -> tuple[Planner, World, list[Deployment]]:
    deps = [Deployment("p0", "a"), Deployment("p1", "b"), Deployment("p2", "c")]
    world = World({p: None for p in PROVIDERS}, {}, {})
    return planner([[deps[0]], [deps[1], deps[2]]], "priority", world), world, deps


def test_state_that_changes_after_planning_is_seen_when_the_candidate_is_reached() -> None:
    """A later candidate is judged on the state when the call gets to it: a circuit that
    opened (or a budget spent) while the first candidate was being tried skips it."""
    planner_, world, (first, second, third) = two_tier_world()
    plan = planner_.plan(ask())
    walk = plan.iter_candidates()
    assert next(walk) == first
    world.verdicts[second] = "circuit open until 12:00:00"
    assert next(walk) == third
    assert [(o.model, o.reason) for o in plan.skipped] == [("b", "circuit open until 12:00:00")]


def test_each_plan_reads_the_state_of_its_own_call() -> None:
    """Nothing judged for one call is reused for the next: a circuit that opens between
    two calls, a provider whose key disappears, and one that comes back, all show."""
    planner_, world, (first, second, third) = two_tier_world()
    assert planner_.plan(ask()).candidates == [first, second, third]
    world.verdicts[first] = "circuit open"
    world.ready["p2"] = "no API key (env OPENAI_API_KEY is not set)"
    assert planner_.plan(ask()).candidates == [second]
    world.verdicts[first] = None
    world.ready["p2"] = None
    assert planner_.plan(ask()).candidates == [first, second, third]


def test_a_state_store_failure_while_judging_reaches_the_caller_and_ends_the_plan() -> None:
    planner_, _world, (first, second, _) = two_tier_world()

    def failing(dep: Deployment, request: ChatRequest) -> str | None:
        if dep == second:
            raise StateStoreError("redis at 127.0.0.1:6379 did not answer")
        return None

    planner_._skip_checks = (failing,)
    plan = planner_.plan(ask())
    walk = plan.iter_candidates()
    assert next(walk) == first
    with pytest.raises(StateStoreError, match="did not answer"):
        next(walk)
    assert plan.candidates == [first]  # ended, not re-judged half-way
    assert "evaluation pending" not in repr(plan)


def test_the_whole_plan_is_judged_when_read_as_a_whole() -> None:
    planner_, world, deps = two_tier_world()
    plan = planner_.plan(ask())
    assert "evaluation pending" in repr(plan)
    assert plan.evaluated == 0
    assert plan.tiers == [[deps[0]], [deps[1], deps[2]]]
    assert plan.evaluated == 3
    assert world.checked == Counter(deps)
