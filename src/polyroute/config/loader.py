"""Load a config from YAML or TOML, apply a profile overlay, and turn every
validation problem into a ``ConfigError`` naming the file, the field and a fix."""

from __future__ import annotations

import difflib
import functools
import json
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.secrets import redact

__all__ = ["PROFILE_ENV", "combined_error", "config_from_data", "load_config"]

PROFILE_ENV = "POLYROUTE_PROFILE"

# libyaml's parser when PyYAML was built with it (about 5x faster), same safe constructor
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config(path: str | os.PathLike[str], profile: str | None = None) -> PolyrouteConfig:
    """Read ``path`` (``.yaml``/``.yml``/``.toml``), overlay ``profile`` (or
    ``$POLYROUTE_PROFILE``), validate."""
    file = os.fspath(path)
    p = Path(file)
    if not p.is_file():
        raise ConfigError(
            "config file not found", file=file,
            fix="pass the path of a polyroute.yaml (see docs/config.md)",
        )
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", file=file,
            fix="save the file as UTF-8 (a config is YAML or TOML text)",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the file: {exc.strerror or exc}", file=file,
            fix="check the path and its permissions",
        ) from None
    data = _parse(text, file, toml=p.suffix == ".toml")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping, not {type(data).__name__}", file=file,
            fix="start with keys such as providers:, routes:, agents:",
        )
    return config_from_data(data, file=file, profile=profile)


def _parse(text: str, file: str, *, toml: bool) -> Any:
    deep = ConfigError(
        "nested too deeply to read", file=file,
        fix="a config is a few levels deep; check for runaway brackets or indentation",
    )
    if toml:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"not valid TOML: {exc}", file=file, fix="fix the TOML syntax"
            ) from None
        except RecursionError:
            raise deep from None
    try:
        data = yaml.load(text, Loader=_SafeLoader)
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
            f"not valid YAML{where}: {redact(problem or 'syntax error')}", file=file, fix=fix,
        ) from None
    except RecursionError:
        raise deep from None
    if _expanded_size(data) > MAX_NODES:
        # YAML aliases share one object, so a few lines can stand for billions of
        # values: everything downstream (validation, JSON, the CLI) would walk them.
        raise ConfigError(
            f"the YAML expands to more than {MAX_NODES:,} values (aliases repeated "
            "inside aliases)", file=file,
            fix="write the repeated parts out, or use fewer nested '*' aliases",
        )
    return data


MAX_NODES = 1_000_000
"""Values a config may expand to once YAML aliases are followed."""


def _expanded_size(root: Any) -> int:
    """How many values ``root`` stands for with aliases expanded, stopping past
    ``MAX_NODES`` (a cycle counts as too many). Each distinct container is
    visited once, so this is linear in the document."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    # iterative post-order walk: a deep document must not exhaust the stack
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list) or id(node) in sizes:
            continue
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        if not done:
            if id(node) in open_:
                return MAX_NODES + 1  # an alias inside itself: endless
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if isinstance(c, dict | list))
            continue
        total = 1
        for c in children:
            if isinstance(c, dict | list):
                if id(c) not in sizes:
                    return MAX_NODES + 1  # reached again while still open: a cycle
                total += sizes[id(c)]
            else:
                total += 1
            if total > MAX_NODES:
                return total
        open_.discard(id(node))
        sizes[id(node)] = total
    return sizes.get(id(root), 1)


def config_from_data(
    data: dict[str, Any], *, file: str | None = None, profile: str | None = None
) -> PolyrouteConfig:
    """Validate a config given as a dict (already parsed)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"a config must be a mapping, not {type(data).__name__}", file=file,
            fix="pass a dict with keys such as providers:, routes:, agents:",
        )
    profile = profile or os.environ.get(PROFILE_ENV) or None
    try:
        if profile:
            data = _deep_merge(data, _profile_overlay(data, profile, file))
        config = PolyrouteConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, file) from None
    except RecursionError:
        raise ConfigError(
            "nested too deeply to validate", file=file,
            fix="a config is a few levels deep; check for self-referencing aliases",
        ) from None
    config.source = file
    # 12-factor: POLYROUTE_AGENT_<AGENT>_MODEL points an agent at another model
    from polyroute.config.rules import apply_env_overrides

    apply_env_overrides(config, os.environ)
    return config


def _profile_overlay(data: dict[str, Any], profile: str, file: str | None) -> dict[str, Any]:
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ConfigError(
            f"'profiles' must be a mapping of profile name to overlay, not "
            f"{type(profiles).__name__}", file=file, field="profiles",
            fix=f"write profiles: {{{profile}: {{retry: {{attempts: 5}}}}}}",
        )
    if profile not in profiles:
        known = ", ".join(sorted(str(k) for k in profiles)) or "none defined"
        raise ConfigError(
            f"profile '{profile}' is not defined (profiles: {known})", file=file,
            field="profiles", fix=f"add profiles.{profile} or choose another profile",
        )
    overlay = profiles[profile]
    if not isinstance(overlay, dict):
        raise ConfigError(
            # the value itself is not echoed: a misplaced literal key must not leak
            f"profile '{profile}' must be a mapping of the keys it overrides, not "
            f"{type(overlay).__name__}", file=file,
            field=f"profiles.{profile}",
            fix=f"write profiles: {{{profile}: {{retry: {{attempts: 5}}}}}}",
        )
    return overlay


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
    for err in exc.errors():
        raw = [x for x in err["loc"] if not str(x).startswith("function-")]
        loc = [str(x) for x in raw]
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg, has_fix, own_fix = msg.partition(" — fix: ")  # a validator that names its fix
        problems.append(ConfigError(
            msg, file=file, field=_field_path(raw) or "(top level)",
            fix=(own_fix if has_fix else _fix_for(err["type"], loc))
            or "see docs/config.md for this field",
        ))
    return problems[0] if len(problems) == 1 else combined_error(problems, file)


def combined_error(problems: list[ConfigError], file: str | None) -> ConfigError:
    """One error that lists several (each stays in ``.problems``)."""
    listed = "\n  ".join(
        f"{p.field or '(top level)'}: {p.reason} (fix: {p.fix})" for p in problems
    )
    return ConfigError(
        f"{len(problems)} problems:\n  {listed}", file=file, field=problems[0].field,
        fix="fix each problem listed", problems=problems,
    )


def _field_path(loc: list[int | str]) -> str:
    """``providers.main.api_key``; a key that is empty or holds a dot or a space is
    quoted (``providers["a.b"]``) so the path still points at one place."""
    out = ""
    for part in loc:
        text = str(part)
        if isinstance(part, str) and (not text or not text.isprintable()
                                      or any(c in text for c in '.[]" ')):
            out += f"[{json.dumps(text)}]"
        else:
            out += f".{text}" if out else text
    return out


def _fix_for(kind: str, loc: list[str]) -> str | None:
    if kind == "extra_forbidden" and loc:
        allowed = _allowed_keys(tuple(loc[:-1]))
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


@functools.lru_cache(maxsize=512)  # a file with many typos asks for the same places
def _allowed_keys(loc: tuple[str, ...]) -> list[str]:
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
    return [name for name in model.model_fields if name != "source"]
