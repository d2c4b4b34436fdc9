"""Config of routing intelligence: conditional ``rules:``, ``param_profiles:``, model and
provider ``status``, per-provider ``default`` models, and ``POLYROUTE_AGENT_<AGENT>_MODEL``
environment overrides.

Checked at load, so a mistake names its field: a rule's condition is parsed here (see
``conditions.py``), a rule names a route or a model (not both), at most one model per
provider is its default, an agent's ``param_profile`` exists.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from polyroute.config.conditions import Condition, RuleSyntaxError, parse_condition
from polyroute.errors import ConfigError
from polyroute.refs import parse_model_ref
from polyroute.secrets import redact

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig

__all__ = [
    "AGENT_MODEL_ENV", "RuleConfig", "Status", "agent_env_name", "apply_env_overrides",
    "check_prompt_template", "env_override_note", "resolve_extras",
]

Status = Literal["active", "inactive", "deprecated"]
"""``inactive``: never routed to (skipped with the reason); ``deprecated``: used, with a
warning logged once per process and a note in ``route --explain``."""

AGENT_MODEL_ENV = "POLYROUTE_AGENT_{}_MODEL"


class RuleConfig(BaseModel):
    """One conditional rule: when ``when`` holds, the call goes to ``route`` or ``model``.
    Rules are tried in order; the first that matches decides."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    when: str | None = None
    """The condition (see docs/rules.md); absent: always matches (a catch-all)."""
    route: str | None = None
    model: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    """The time zone ``time`` and ``weekday`` are read in (IANA name, e.g. Europe/Berlin)."""

    _condition: Condition | None = PrivateAttr(default=None)

    @property
    def condition(self) -> Condition | None:
        return self._condition

    @field_validator("when")
    @classmethod
    def _parses(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_condition(v)
            except RuleSyntaxError as exc:
                raise ValueError(f"{exc.reason} — fix: {exc.fix}") from None
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: use an IANA name such as UTC or "
                             "Europe/Berlin") from None
        return v

    @model_validator(mode="after")
    def _one_target(self) -> RuleConfig:
        if bool(self.route) == bool(self.model):
            raise ValueError("give a rule either 'route' (a routes: name) or 'model' "
                             "(provider:model), exactly one")
        if self.route and self.fallbacks:
            raise ValueError("'fallbacks' go with 'model'; a route has tiers instead")
        if self.model:
            try:
                parse_model_ref(self.model)
            except ConfigError as exc:
                raise ValueError(f"{exc.reason} — fix: {exc.fix}") from None
        self._condition = parse_condition(self.when) if self.when is not None else None
        return self


def check_prompt_template(template: str) -> str:
    """A ``string.Template`` (``$name`` / ``${name}``; ``$$`` is a dollar sign), checked."""
    tpl = string.Template(template)
    if not tpl.is_valid():
        raise ValueError("system_prompt is not a valid template: write variables as $name or "
                         "${name}, and a literal dollar sign as $$")
    return template


def resolve_extras(config: PolyrouteConfig) -> PolyrouteConfig:
    """Cross-field checks and resolutions (run by the schema's model validator):
    rule routes exist, one default model per provider, ``provider:default`` refs and
    ``param_profile`` merged under the agent's own parameters."""
    for i, rule in enumerate(config.rules):
        if rule.route and rule.route not in config.routes:
            known = ", ".join(sorted(config.routes)) or "none defined"
            raise ValueError(f"rules[{i}] ({rule.name}): route '{rule.route}' is not defined "
                             f"(routes: {known})")
    seen: dict[str, str] = {}
    for key, override in config.models.items():
        if not override.default:
            continue
        provider, model = parse_model_ref(key)
        if provider in seen:
            raise ValueError(f"provider '{provider}' has two default models, "
                             f"'{seen[provider]}' and '{model}': mark at most one default: true")
        seen[provider] = model
    config.default_models = seen
    _resolve_default_refs(config, seen)
    for name, agent in config.agents.items():
        if agent.param_profile is None:
            continue
        profile = config.param_profiles.get(agent.param_profile)
        if profile is None:
            known = ", ".join(sorted(config.param_profiles)) or "none defined"
            raise ValueError(f"agents.{name}.param_profile: profile '{agent.param_profile}' is "
                             f"not defined (param_profiles: {known})")
        for field, value in profile.model_dump(exclude_none=True).items():
            if field == "params":
                agent.params = {**value, **agent.params}
            elif getattr(agent, field) is None:
                setattr(agent, field, value)
    return config


def _resolve_default_refs(config: PolyrouteConfig, defaults: Mapping[str, str]) -> None:
    """``groq:default`` names the model marked ``default: true`` for provider groq."""

    def resolve(ref: str, where: str) -> str:
        head, sep, tail = ref.partition(":")
        if sep and tail == "default":
            if head not in defaults:
                raise ValueError(f"{where}: '{ref}' asks for provider '{head}''s default "
                                 f"model, and none is marked (models: {{'{head}:<model>': "
                                 "{default: true}})")
            return f"{head}:{defaults[head]}"
        return ref

    for name, agent in config.agents.items():
        if agent.model:
            agent.model = resolve(agent.model, f"agents.{name}.model")
        agent.fallbacks = [resolve(f, f"agents.{name}.fallbacks") for f in agent.fallbacks]
    for rname, route in config.routes.items():
        route.tiers = [[resolve(m, f"routes.{rname}.tiers") for m in tier]
                       for tier in route.tiers]
    for rule in config.rules:
        if rule.model:
            rule.model = resolve(rule.model, f"rules.{rule.name}.model")
        rule.fallbacks = [resolve(f, f"rules.{rule.name}.fallbacks") for f in rule.fallbacks]
    if config.default:
        config.default = resolve(config.default, "default")


# --- environment overrides -----------------------------------------------------

_NOT_NAME = re.compile(r"[^A-Z0-9]")
_ENV_PATTERN = re.compile(r"POLYROUTE_AGENT_(.+)_MODEL")


def agent_env_name(agent: str) -> str:
    """The variable overriding ``agent``'s model: upper case, every character other
    than A-Z and 0-9 (a dash, a dot, a space) becomes ``_``. ``swe-agent`` →
    ``POLYROUTE_AGENT_SWE_AGENT_MODEL``."""
    return AGENT_MODEL_ENV.format(_NOT_NAME.sub("_", agent.upper()))


def apply_env_overrides(config: PolyrouteConfig, environ: Mapping[str, str]) -> None:
    """Point each agent named by a set ``POLYROUTE_AGENT_<AGENT>_MODEL`` at that model
    (a route agent becomes a model agent; a model agent keeps its fallbacks), and
    record ``config.env_overrides[agent] = variable``. A variable naming no agent, two
    agents sharing one variable name, or a value that is no ``provider:model``: a
    ``ConfigError`` naming the variable."""
    wanted = {k: v for k, v in environ.items() if _ENV_PATTERN.fullmatch(k)}
    if not wanted:
        return
    by_var: dict[str, list[str]] = {}
    for name in config.agents:
        by_var.setdefault(agent_env_name(name), []).append(name)
    for var, value in sorted(wanted.items()):
        agents = by_var.get(var)
        if not agents:
            known = ", ".join(f"{agent_env_name(a)} ({a})" for a in sorted(config.agents))
            raise ConfigError(
                f"environment variable {var} names no configured agent",
                file=config.source, field=var,
                fix=f"unset it, or use one of: {known or 'no agents are configured'}",
            )
        if len(agents) > 1:
            raise ConfigError(
                f"environment variable {var} would override several agents "
                f"({', '.join(agents)}): their names differ only in punctuation",
                file=config.source, field=var, fix="rename one of those agents",
            )
        value = value.strip()
        try:
            provider, model = parse_model_ref(value)
        except ConfigError as exc:  # a key pasted into the wrong variable stays masked
            raise ConfigError(f"environment variable {var}: {redact(exc.reason)}",
                              file=config.source, field=var,
                              fix=redact(exc.fix or "write it as provider:model")) from None
        if model == "default":
            if provider not in config.default_models:
                raise ConfigError(f"environment variable {var}: provider '{provider}' has "
                                  "no model marked default: true", file=config.source,
                                  field=var, fix="name the model, e.g. groq:llama-3.3-70b")
            value = f"{provider}:{config.default_models[provider]}"
        agent = config.agents[agents[0]]
        if agent.route:
            agent.route = None
            agent.fallbacks = []
        agent.model = value
        config.env_overrides[agents[0]] = f"{var}={value}"


def env_override_note(config: PolyrouteConfig, agent: str | None) -> str | None:
    """``"model from POLYROUTE_AGENT_X_MODEL=groq:m"`` if ``agent``'s model came from the
    environment."""
    if agent is None:
        return None
    hit = config.env_overrides.get(agent)
    return None if hit is None else f"model from environment {hit}"
