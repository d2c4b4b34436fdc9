"""Load a config from YAML or TOML, apply a profile overlay, and turn every
validation problem into a ``ConfigError`` naming the file, the field and a fix."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.secrets import redact

__all__ = ["PROFILE_ENV", "config_from_data", "load_config"]

PROFILE_ENV = "POLYROUTE_PROFILE"


def load_config(path: str | os.PathLike[str], profile: str | None = None) -> PolyrouteConfig:
    """Read ``path`` (``.yaml``/``.yml``/``.toml``), overlay ``profile`` (or
    ``$POLYROUTE_PROFILE``), validate."""
    file = str(path)
    p = Path(file)
    if not p.is_file():
        raise ConfigError(
            "config file not found", file=file,
            fix="pass the path of a polyroute.yaml (see docs/config.md)",
        )
    text = p.read_text(encoding="utf-8")
    data: Any
    if p.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"not valid TOML: {exc}", file=file, fix="fix the TOML syntax"
            ) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = str(getattr(exc, "problem", None) or "")
            fix = "fix the YAML syntax (indentation, a missing ':' or quote)"
            if problem.startswith(("found undefined alias", "found undefined anchor")):
                # The "alias" is the value itself (a key starting with '*'): never echo it.
                problem = "a value starting with '*' is read as a YAML alias"
                fix = "quote the value: api_key: \"*...\""
            raise ConfigError(
                f"not valid YAML{where}: {redact(problem or 'syntax error')}", file=file,
                fix=fix,
            ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping, not {type(data).__name__}", file=file,
            fix="start with keys such as providers:, routes:, agents:",
        )
    return config_from_data(data, file=file, profile=profile)


def config_from_data(
    data: dict[str, Any], *, file: str | None = None, profile: str | None = None
) -> PolyrouteConfig:
    """Validate a config given as a dict (already parsed)."""
    profile = profile or os.environ.get(PROFILE_ENV) or None
    if profile:
        profiles = data.get("profiles") or {}
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(
                f"profile '{profile}' is not defined (profiles: {known})", file=file,
                field="profiles", fix=f"add profiles.{profile} or choose another profile",
            )
        data = _deep_merge(data, profiles[profile])
    try:
        config = PolyrouteConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, file) from None
    config.source = file
    return config


def _deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _config_error(exc: ValidationError, file: str | None) -> ConfigError:
    problems = []
    first_field = None
    first_fix = None
    for err in exc.errors():
        loc = [str(x) for x in err["loc"] if not str(x).startswith("function-")]
        field = ".".join(loc)
        msg = err["msg"].removeprefix("Value error, ")
        fix = _fix_for(err["type"], loc)
        if first_field is None:
            first_field, first_fix = field, fix
        problems.append(f"{field or '(top level)'}: {msg}" + (f" (fix: {fix})" if fix else ""))
    if len(problems) == 1:
        msg = problems[0].split(": ", 1)[1].split(" (fix: ")[0]
        return ConfigError(msg, file=file, field=first_field or None, fix=first_fix)
    return ConfigError(
        f"{len(problems)} problems:\n  " + "\n  ".join(problems), file=file, field=first_field
    )


def _fix_for(kind: str, loc: list[str]) -> str | None:
    if kind == "extra_forbidden" and loc:
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        if close:
            return f"did you mean '{close[0]}'?"
        return f"remove '{loc[-1]}'; allowed here: {', '.join(sorted(allowed))}"
    if kind == "missing" and loc:
        return f"add '{loc[-1]}'"
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type"):
        return "use a number"
    if kind in ("list_type",):
        return "use a list, e.g. [a, b]"
    if kind in ("dict_type", "model_type"):
        return "use a mapping (key: value)"
    return None


def _allowed_keys(loc: list[str]) -> list[str]:
    """Field names of the model at ``loc`` (walking dict keys of the schema)."""
    model: type[BaseModel] = PolyrouteConfig
    i = 0
    while i < len(loc):
        field = model.model_fields.get(loc[i])
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model, i = ann, i + 1
        elif nested:
            model = nested[-1]
            i += 2 if getattr(ann, "__origin__", None) is dict else 1
        else:
            return []
    return list(model.model_fields)
