"""Variant assignment: sticky by key across processes (SHA-256, not ``hash()``),
weighted, consistent when a variant is added, random without the key, Thompson
sampling on feedback in bandit mode, and config errors that name the field."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from polyroute.config import config_from_data
from polyroute.config.experiments import ExperimentConfig
from polyroute.errors import ConfigError
from polyroute.ledger.feedback import VariantOutcomes
from polyroute.routing.experiments import Experiments, sticky_variant
from polyroute.types import ChatRequest, Message, RoutingHints

USERS = [f"user-{i}" for i in range(10_000)]


def exp(**variants: float) -> ExperimentConfig:
    return ExperimentConfig(agent="bot", variants={k: {"weight": w} for k, w in variants.items()})


def req(**tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot", tags=tags))


def test_weights_split_traffic_in_proportion() -> None:
    cfg = exp(a=70, b=20, c=10)
    counts = Counter(sticky_variant("e", cfg, u) for u in USERS)
    # deterministic (a hash, no RNG): a fixed split that must sit near 70/20/10
    assert abs(counts["a"] / 10_000 - 0.70) < 0.02
    assert abs(counts["b"] / 10_000 - 0.20) < 0.02
    assert abs(counts["c"] / 10_000 - 0.10) < 0.02


def test_adding_a_variant_moves_users_only_to_it() -> None:
    before = {u: sticky_variant("e", exp(a=1, b=1), u) for u in USERS}
    after = {u: sticky_variant("e", exp(a=1, b=1, c=1), u) for u in USERS}
    moved = [u for u in USERS if before[u] != after[u]]
    assert all(after[u] == "c" for u in moved)
    assert 0.28 < len(moved) / len(USERS) < 0.39  # about a third go to the new one


def test_a_variant_with_weight_zero_is_never_served() -> None:
    assert {sticky_variant("e", exp(a=1, parked=0), u) for u in USERS[:2000]} == {"a"}


def test_salt_and_experiment_name_reshuffle() -> None:
    cfg = exp(a=1, b=1)
    salted = cfg.model_copy(update={"salt": "run-2"})
    same = sum(sticky_variant("e", cfg, u) == sticky_variant("e", salted, u) for u in USERS)
    assert 0.4 < same / len(USERS) < 0.6  # independent draws, not a copy


def test_assignment_is_the_same_in_another_process_with_another_hash_seed() -> None:
    here = [sticky_variant("e", exp(a=1, b=2, c=3), u) for u in USERS[:200]]
    code = ("from polyroute.config.experiments import ExperimentConfig as E\n"
            "from polyroute.routing.experiments import sticky_variant as s\n"
            "c = E(agent='bot', variants={'a': {'weight': 1}, 'b': {'weight': 2}, "
            "'c': {'weight': 3}})\n"
            "print(' '.join(s('e', c, f'user-{i}') for i in range(200)))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert there.stdout.split() == here


def test_a_call_without_the_key_draws_by_weight_from_the_rng() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "agents": {"bot": {"model": "a:big"}},
        "experiments": {"e": {"agent": "bot",
                              "variants": {"a": {"weight": 3}, "b": {"weight": 1}}}}})
    ex = Experiments(cfg, rng=random.Random(7))
    picks = Counter(ex.assign(req())[1].variant for _ in range(4000))  # type: ignore[union-attr]
    assert 0.70 < picks["a"] / 4000 < 0.80
    assert ex.assign(req())[1].how == "random (no user tag)"  # type: ignore[union-attr]
    sticky = {ex.assign(req(user="alice"))[1].variant for _ in range(50)}  # type: ignore[union-attr]
    assert len(sticky) == 1


def test_bandit_sends_most_traffic_to_the_variant_with_better_feedback() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "agents": {"bot": {"model": "a:big"}},
        "experiments": {"e": {"agent": "bot", "mode": "bandit",
                              "variants": {"a": {"weight": 1}, "b": {"weight": 1}}}}})
    outcomes = {"a": VariantOutcomes(scored=100, successes=30),
                "b": VariantOutcomes(scored=100, successes=80)}
    reads: list[str] = []

    def source(name: str, mark: float) -> dict[str, VariantOutcomes]:
        reads.append(name)
        return outcomes

    ex = Experiments(cfg, outcomes=source, rng=random.Random(1), refresh_every=100)
    picks = Counter(ex.assign(req(user="u"))[1].variant for _ in range(1000))  # type: ignore[union-attr]
    assert picks["b"] > 950  # Beta(81, 21) beats Beta(31, 71) nearly always
    assert len(reads) == 10  # re-read every 100 draws, not per call
    ex.invalidate("e")
    ex.assign(req())
    assert len(reads) == 11  # feedback arrived: read again at once


def test_bandit_with_no_feedback_yet_tries_every_variant() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "agents": {"bot": {"model": "a:big"}},
        "experiments": {"e": {"agent": "bot", "mode": "bandit",
                              "variants": {"a": {"weight": 1}, "b": {"weight": 1},
                                           "off": {"weight": 0}}}}})
    ex = Experiments(cfg, rng=random.Random(3))
    picks = Counter(ex.assign(req())[1].variant for _ in range(400))  # type: ignore[union-attr]
    assert set(picks) == {"a", "b"} and min(picks.values()) > 120


def test_a_call_naming_its_own_model_takes_part_in_no_experiment() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "agents": {"bot": {"model": "a:big"}},
        "experiments": {"e": {"agent": "bot", "variants": {"a": {}, "b": {}}}}})
    r = req(user="u")
    r.routing.model = "a:other"
    assert Experiments(cfg).assign(r) == (r, None)


def test_a_pinned_variant_must_exist() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "agents": {"bot": {"model": "a:big"}},
        "experiments": {"e": {"agent": "bot", "variants": {"a": {}, "b": {}}}}})
    r = req()
    r.routing.experiment, r.routing.variant = "e", "zzz"
    with pytest.raises(ConfigError, match=r"routing\.variant"):
        Experiments(cfg).assign(r)


# --- config errors -------------------------------------------------------------------

BASE: dict[str, Any] = {"providers": {"a": {"type": "openai", "api_key": "x"}},
                        "agents": {"bot": {"model": "a:big"}}, "routes": {"r": {"tiers": ["a:m"]}}}


@pytest.mark.parametrize(("experiment", "where", "says"), [
    ({"agent": "ghost", "variants": {"a": {}, "b": {}}}, "experiments.e.agent", "ghost"),
    ({"route": "nope", "variants": {"a": {}, "b": {}}}, "experiments.e.route", "nope"),
    ({"agent": "bot", "variants": {"a": {}, "b": {"route": "nope"}}},
     "experiments.e.variants.b.route", "nope"),
])
def test_an_experiment_naming_what_is_not_there_is_a_config_error(
        experiment: dict[str, Any], where: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        Experiments(config_from_data({**BASE, "experiments": {"e": experiment}}))
    assert info.value.field == where and says in str(info.value)


@pytest.mark.parametrize(("experiment", "says"), [
    ({"agent": "bot", "variants": {"only": {}}}, "at least two variants"),
    ({"agent": "bot", "route": "r", "variants": {"a": {}, "b": {}}}, "either 'agent' or 'route'"),
    ({"agent": "bot", "variants": {"a": {"weight": 0}, "b": {"weight": 0}}}, "weight > 0"),
    ({"agent": "bot", "variants": {"a": {"weight": -1}, "b": {}}}, "greater than or equal"),
    ({"agent": "bot", "variants": {"a": {"weight": float("nan")}, "b": {}}}, "weight"),
    ({"agent": "bot", "variants": {"a": {"model": "a:x", "route": "r"}, "b": {}}}, "not both"),
    ({"agent": "bot", "variants": {"a b": {}, "b": {}}}, "variant name"),
    ({"agent": "bot", "variants": {"a": {}, "b": {}}, "mode": "greedy"}, "mode"),
])
def test_bad_experiment_config_says_what_and_where(experiment: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_data({**BASE, "experiments": {"e": experiment}})
    assert says in str(info.value) and "experiments.e" in str(info.value)


def test_two_enabled_experiments_on_one_agent_are_refused() -> None:
    two = {"e1": {"agent": "bot", "variants": {"a": {}, "b": {}}},
           "e2": {"agent": "bot", "variants": {"a": {}, "b": {}}}}
    with pytest.raises(ConfigError, match="already has experiment 'e1'"):
        Experiments(config_from_data({**BASE, "experiments": two}))
    two["e2"]["enabled"] = False  # type: ignore[index]
    assert list(Experiments(config_from_data({**BASE, "experiments": two})).configs) == ["e1"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["agent", "route", "key", "variants", "mode", "salt", "success_score", "x"]),
    st.one_of(st.none(), st.text(max_size=6), st.floats(allow_nan=True), st.integers(),
              st.dictionaries(st.text(max_size=4), st.dictionaries(
                  st.sampled_from(["weight", "model", "route", "temperature"]),
                  st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.none()),
                  max_size=3), max_size=3)), max_size=6))
def test_any_experiment_section_validates_or_raises_config_error(data: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):  # valid, or refused by field: never another error
        config_from_data({**BASE, "experiments": {"e": data}})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50), st.lists(st.floats(0.01, 1e6), min_size=2, max_size=5))
def test_any_key_gets_a_served_variant(key: str, weights: list[float]) -> None:
    cfg = exp(**{f"v{i}": w for i, w in enumerate(weights)})
    assert sticky_variant("e", cfg, key) in cfg.variants


def test_variant_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        ExperimentConfig(agent="bot", variants={"a": {"wieght": 1}, "b": {}})


def test_a_route_experiment_takes_task_calls_and_agents_on_that_route() -> None:
    cfg = config_from_data({
        "providers": {"a": {"type": "openai", "api_key": "x"}},
        "routes": {"code": {"tiers": ["a:m"]}, "other": {"tiers": ["a:n"]}},
        "agents": {"coder": {"route": "code"}, "writer": {"route": "other"},
                   "solo": {"model": "a:m"}},
        "experiments": {"on_route": {"route": "code", "variants": {"a": {}, "b": {}}},
                        "on_solo": {"agent": "solo", "variants": {"x": {}, "y": {}}}}})
    ex = Experiments(cfg)

    def which(**routing: Any) -> str | None:
        found = ex.match(ChatRequest(messages=[Message.user("q")],
                                     routing=RoutingHints(**routing)))
        return None if found is None else found[0]

    assert which(task="code") == "on_route"
    assert which(agent="coder") == "on_route"
    assert which(agent="writer") is None and which(task="other") is None
    assert which(agent="solo") == "on_solo"
