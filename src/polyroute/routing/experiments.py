"""Which variant of an experiment serves a call (config ``experiments:``).

**Sticky assignment.** A call whose routing tags carry the experiment's ``key``
(``user``, ``session``, ``tenant``...) always gets the same variant, in every
process and after restarts: the choice is weighted rendezvous hashing on
SHA-256 (never Python's ``hash()``, which is salted per process). Each variant
scores ``-ln(u) / weight`` with ``u`` drawn from the hash of (salt, experiment,
variant, key); the lowest score wins. It is consistent: adding a variant moves
only the callers the new one takes, and raising one weight moves callers only
towards it. A call without the key draws a variant at random, by weight.

**Bandit mode.** ``mode: bandit`` draws per call by Thompson sampling: each
variant's success rate is sampled from Beta(1 + successes, 1 + failures) over its
scored feedback (a score >= ``success_score`` is a success) and the highest draw
serves. A variant with better outcomes thus gets more traffic, while one with
few ratings still gets tried. The counts are read from the ledger, again after
each ``router.feedback`` and every ``refresh_every`` draws.

The assignment rewrites the request's routing (``model``/``fallbacks`` or
``route``, and parameters under the caller's own), and sets
``routing.experiment``/``routing.variant``: the planner names them in the plan
(``route --explain``), the ledger stores them, the answer carries them. A caller
who already set both (a replay, a test) keeps them.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from polyroute.config.experiments import ExperimentConfig
from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.ledger.feedback import VariantOutcomes
from polyroute.types import ChatRequest

__all__ = ["Assignment", "Experiments", "experiment_problems", "sticky_variant"]

# experiment name -> variant -> scored outcomes (from the ledger)
OutcomeSource = Callable[[str, float], Mapping[str, VariantOutcomes]]


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str
    how: str
    """``sticky (user)``, ``random (no user tag)``, ``bandit``, ``set by the caller``."""


def _unit(*parts: str) -> float:
    """A uniform number in (0, 1) from ``parts``: the same in every process."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64


def sticky_variant(name: str, cfg: ExperimentConfig, key_value: str) -> str:
    """The variant ``key_value`` gets in experiment ``name`` (weighted rendezvous hash)."""
    best, best_score = "", math.inf
    for variant, v in cfg.variants.items():
        if v.weight <= 0:
            continue
        score = -math.log(_unit(cfg.salt, name, variant, key_value)) / v.weight
        if score < best_score:
            best, best_score = variant, score
    return best


class Experiments:
    """Assigns variants for the experiments of one config."""

    def __init__(self, config: PolyrouteConfig, *, outcomes: OutcomeSource | None = None,
                 rng: random.Random | None = None, refresh_every: int = 200) -> None:
        problems = experiment_problems(config)
        if problems:
            raise problems[0]
        self.configs = {k: v for k, v in config.experiments.items() if v.enabled}
        # an experiment on a route also takes the calls of agents that use that route
        self._agent_routes = {name: a.route for name, a in config.agents.items() if a.route}
        self._outcomes = outcomes
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._refresh_every = refresh_every
        self._counts: dict[str, tuple[int, Mapping[str, VariantOutcomes]]] = {}

    def __bool__(self) -> bool:
        return bool(self.configs)

    def match(self, request: ChatRequest) -> tuple[str, ExperimentConfig] | None:
        """The enabled experiment on this call's agent, else on its route (the task's or
        the agent's). A call naming its own model takes part in none."""
        r = request.routing
        if r.model:
            return None
        route = r.route or (self._agent_routes.get(r.agent) if r.agent else None) or r.task
        for name, cfg in self.configs.items():
            if cfg.agent and cfg.agent == r.agent:
                return name, cfg
        for name, cfg in self.configs.items():  # the agent's own experiment comes first
            if cfg.route and cfg.route == route:
                return name, cfg
        return None

    def assign(self, request: ChatRequest) -> tuple[ChatRequest, Assignment | None]:
        """``request`` rewritten for its variant, and the assignment (``None``: no
        experiment applies and ``request`` is returned as it is)."""
        r = request.routing
        if r.experiment and r.variant:
            cfg = self.configs.get(r.experiment)
            if cfg is None or r.variant not in cfg.variants:
                raise ConfigError(
                    f"routing.variant {r.variant!r} is not a variant of an enabled experiment "
                    f"{r.experiment!r}", field="routing.variant",
                    fix="name a configured experiment and one of its variants, or set neither")
            pinned = Assignment(r.experiment, r.variant, "set by the caller")
            return self._apply(request, cfg, pinned), pinned
        found = self.match(request)
        if found is None:
            return request, None
        name, cfg = found
        if cfg.mode == "bandit":
            assignment = Assignment(name, self._thompson(name, cfg), "bandit")
        else:
            key = r.tags.get(cfg.key)
            if key:
                assignment = Assignment(name, sticky_variant(name, cfg, key),
                                        f"sticky ({cfg.key})")
            else:
                assignment = Assignment(name, self._draw(cfg), f"random (no {cfg.key} tag)")
        return self._apply(request, cfg, assignment), assignment

    def invalidate(self, experiment: str | None = None) -> None:
        """Feedback arrived: re-read the counts on the next bandit draw."""
        with self._lock:
            if experiment is None:
                self._counts.clear()
            else:
                self._counts.pop(experiment, None)

    # --- choosing -----------------------------------------------------------------

    def _draw(self, cfg: ExperimentConfig) -> str:
        names = [n for n, v in cfg.variants.items() if v.weight > 0]
        with self._lock:
            return self._rng.choices(names, [cfg.variants[n].weight for n in names])[0]

    def _thompson(self, name: str, cfg: ExperimentConfig) -> str:
        counts = self._read_counts(name, cfg)
        best, best_draw = "", -1.0
        with self._lock:
            for variant, v in cfg.variants.items():
                if v.weight <= 0:  # weight 0 parks a variant in bandit mode too
                    continue
                seen = counts.get(variant, VariantOutcomes())
                draw = self._rng.betavariate(1 + seen.successes, 1 + seen.failures)
                if draw > best_draw:
                    best, best_draw = variant, draw
        return best

    def _read_counts(self, name: str, cfg: ExperimentConfig) -> Mapping[str, VariantOutcomes]:
        with self._lock:
            uses, counts = self._counts.get(name, (self._refresh_every, {}))
            fresh = uses >= self._refresh_every
            if not fresh:
                self._counts[name] = (uses + 1, counts)
                return counts
        counts = self._outcomes(name, cfg.success_score) if self._outcomes else {}
        with self._lock:
            self._counts[name] = (1, counts)
        return counts

    # --- rewriting the request ----------------------------------------------------------

    @staticmethod
    def _apply(request: ChatRequest, cfg: ExperimentConfig, a: Assignment) -> ChatRequest:
        v = cfg.variants[a.variant]
        update: dict[str, object] = {"experiment": a.experiment, "variant": a.variant}
        if v.model:
            update |= {"model": v.model, "fallbacks": list(v.fallbacks), "route": None}
        elif v.route:
            update |= {"route": v.route}
        routing = request.routing.model_copy(update=update)
        changes: dict[str, object] = {"routing": routing}
        params = v.generation_params()
        if params.model_fields_set - {"extra"} or params.extra:
            changes["params"] = request.params.merged_over(params)  # the caller's win
        return request.model_copy(update=changes)


def experiment_problems(cfg: PolyrouteConfig) -> list[ConfigError]:
    """Experiments that name an agent or route the config lacks, or two experiments
    on the same agent or route (a call could take part in only one)."""
    problems: list[ConfigError] = []
    seen: dict[str, str] = {}
    for name, exp in cfg.experiments.items():
        where = f"experiments.{name}"
        if exp.agent and exp.agent not in cfg.agents:
            problems.append(ConfigError(
                f"agent '{exp.agent}' is not defined (agents: "
                f"{', '.join(sorted(cfg.agents)) or 'none'})", file=cfg.source,
                field=f"{where}.agent", fix="name an agent under agents:"))
        if exp.route and exp.route not in cfg.routes:
            problems.append(ConfigError(
                f"route '{exp.route}' is not defined (routes: "
                f"{', '.join(sorted(cfg.routes)) or 'none'})", file=cfg.source,
                field=f"{where}.route", fix="name a route under routes:"))
        target = f"agent {exp.agent}" if exp.agent else f"route {exp.route}"
        if exp.enabled and target in seen:
            problems.append(ConfigError(
                f"{target} already has experiment '{seen[target]}'", file=cfg.source,
                field=where, fix="run one experiment per agent or route at a time "
                                 "(set enabled: false on the other)"))
        if exp.enabled:
            seen.setdefault(target, name)
        for vname, v in exp.variants.items():
            if v.route and v.route not in cfg.routes:
                problems.append(ConfigError(
                    f"route '{v.route}' is not defined", file=cfg.source,
                    field=f"{where}.variants.{vname}.route", fix="name a route under routes:"))
    return problems
