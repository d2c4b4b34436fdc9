"""Config cross-references checked when a router is built: every agent's route
exists, every strategy is registered, every model names a known provider."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from polyroute.config.loader import combined_error
from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.routing.plan import parse_model_ref

__all__ = ["check_references", "reference_problems"]


def check_references(
    cfg: PolyrouteConfig, strategies: dict[str, Any], provider: Callable[[str], object | None]
) -> None:
    """Raise ``ConfigError`` (file, field, fix) naming every dangling reference."""
    problems = reference_problems(cfg, strategies, provider)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise combined_error(problems, cfg.source)


def reference_problems(
    cfg: PolyrouteConfig, strategies: dict[str, Any], provider: Callable[[str], object | None]
) -> list[ConfigError]:
    """Every dangling reference of ``cfg``, in config order (empty if none)."""
    problems: list[ConfigError] = []
    refs: list[tuple[str, str]] = []
    for name, agent in cfg.agents.items():
        if agent.route and agent.route not in cfg.routes:
            known = ", ".join(sorted(cfg.routes)) or "none defined"
            problems.append(ConfigError(
                f"route '{agent.route}' is not defined (routes: {known})",
                file=cfg.source, field=f"agents.{name}.route",
                fix="define it under routes: or use model: instead",
            ))
        if agent.model:
            refs.append((agent.model, f"agents.{name}.model"))
        refs += [(f, f"agents.{name}.fallbacks[{i}]") for i, f in enumerate(agent.fallbacks)]
        refs += [(f, f"agents.{name}.content_policy_fallbacks[{i}]")
                 for i, f in enumerate(agent.content_policy_fallbacks)]
    for rname, route in cfg.routes.items():
        refs += [(f, f"routes.{rname}.content_policy_fallbacks[{i}]")
                 for i, f in enumerate(route.content_policy_fallbacks)]
        if route.strategy not in strategies:
            close = difflib.get_close_matches(route.strategy, sorted(strategies), n=1)
            problems.append(ConfigError(
                f"unknown strategy '{route.strategy}' "
                f"(known: {', '.join(sorted(strategies))})",
                file=cfg.source, field=f"routes.{rname}.strategy",
                fix=f"did you mean '{close[0]}'?" if close else "use one of the known strategies",
            ))
        for t, tier in enumerate(route.tiers):
            refs += [(m, f"routes.{rname}.tiers[{t}][{i}]") for i, m in enumerate(tier)]
    refs += [(f, f"content_policy_fallbacks[{i}]")
             for i, f in enumerate(cfg.content_policy_fallbacks)]
    for i, rule in enumerate(cfg.rules):  # conditional rules (routing/rules.py)
        if rule.model:
            refs.append((rule.model, f"rules[{i}].model"))
        refs += [(f, f"rules[{i}].fallbacks[{j}]") for j, f in enumerate(rule.fallbacks)]
    for ename, exp in cfg.experiments.items():
        for vname, v in exp.variants.items():
            refs += [(m, f"experiments.{ename}.variants.{vname}.{k}")
                     for k, m in [("model", v.model), *((f"fallbacks[{i}]", f) for i, f
                                                         in enumerate(v.fallbacks))] if m]
    if cfg.default and cfg.default not in cfg.routes:
        refs.append((cfg.default, "default"))
    for ref, field in refs:
        try:
            name, _ = parse_model_ref(ref)
        except ConfigError as exc:
            problems.append(ConfigError(exc.reason, file=cfg.source, field=field, fix=exc.fix))
            continue
        if provider(name) is None:
            known = ", ".join(sorted(cfg.providers)) or "none configured"
            problems.append(ConfigError(
                f"'{ref}' names provider '{name}', which is not configured "
                f"(providers: {known}) and is no installed type or template",
                file=cfg.source, field=field,
                fix=f"add providers.{name} with a type or template",
            ))
    return problems
