"""Property-based tests of the config loader (hypothesis): whatever a file holds,
loading it returns a config or raises a ``ConfigError`` that names the file, the
field (for a field's problem) and a fix — never another exception.

The examples mix the schema's own keys and meaningful values (``env:X``,
``openai:``, ``1h``, profile names) with junk (NaN, inf, huge numbers, deep
nesting, odd keys), so most of them reach pydantic's validators instead of
stopping at the top level. 15,600 cases from 2,900 examples (most examples are
checked in several variants); derandomized so a CI run is reproducible, and no
example database on disk.
"""

from __future__ import annotations

import gc
import itertools
import math
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from polyroute.config import config_from_data, load_config
from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router

FILE_LEVEL = ("not valid YAML", "not valid TOML", "the top level must be a mapping",
              "the YAML expands", "nested too deeply", "not UTF-8")
"""Problems of the whole file, which have no field to name."""

_COUNTER = itertools.count()


def _field_names() -> list[str]:
    """Every field name anywhere in the schema (so generated keys hit real fields)."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = [PolyrouteConfig]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            names.add(name)
            stack: list[Any] = [field.annotation]
            while stack:
                ann = stack.pop()
                if isinstance(ann, type) and issubclass(ann, BaseModel):
                    todo.append(ann)
                stack.extend(getattr(ann, "__args__", ()))
    return sorted(names)


FIELDS = _field_names()
TOP = sorted(PolyrouteConfig.model_fields)
WORDS = ["echo", "openai", "production", "main", "qa", "bot", "priority", "lowest_cost",
         "env:ECHO_KEY", "env:", "openai:", ":x", "main:big", "main/small", "1h", "90s",
         "-5m", "global", "provider:main", "tag:team=a", "block", "downgrade", "UTC",
         "Mars/Olympus", "redis", "memory", "sqlite", "http://127.0.0.1:1", "tools",
         "vision", "day", "month", "../../etc/passwd", "~", ""]

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS), st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(FIELDS), st.sampled_from(WORDS), st.text(max_size=8),
                 st.integers(-3, 3), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
configs = st.dictionaries(st.one_of(st.sampled_from(TOP), keys), values, max_size=6)


def _write(tmp_path: Path, text: str | bytes, suffix: str = ".yaml") -> str:
    path = tmp_path / f"c{next(_COUNTER)}{suffix}"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def _only_typed_errors(
    path: str, profile: str | None, data: dict[Any, Any] | None = None
) -> PolyrouteConfig | None:
    """Load ``path`` (or validate ``data`` as if read from it): a config, or a
    ConfigError naming the file, the field (unless the whole file is at fault) and
    a fix. Any other exception fails the test."""
    try:
        if data is not None:
            return config_from_data(data, file=path, profile=profile)
        return load_config(path, profile=profile)
    except ConfigError as err:
        assert err.file == path, err
        assert err.fix, err
        whole_file = err.reason.startswith(FILE_LEVEL) or "profile '" in err.reason
        for problem in err.problems:
            assert problem.file == path and problem.fix, problem
            assert whole_file or problem.field, problem
        return None




def cases(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def _placements(data: dict[Any, Any]) -> list[dict[Any, Any]]:
    """``data`` as the whole config, as a profile's overlay and inside each section
    that holds models (so junk reaches the nested validators too)."""
    main = {"main": {"type": "echo"}}
    return [
        data,
        {"providers": main, "profiles": {"production": data}},
        {"providers": {"main": {"type": "echo", **data}}},
        {"providers": main, "routes": {"r": {"tiers": [["main:m"]], **data}}},
        {"providers": main, "agents": {"a": {"model": "main:m", **data}}},
        {"budgets": [{"scope": "global", "usd": 1, **data}]},
        {"cache": data, "ledger": data, "state": data, "pricing": data},
        {"retry": data, "timeouts": data, "breaker": data, "health": data,
         "rate_limits": data, "streaming": data, "strategies": data, "alerts": data},
    ]


@cases(700)
@given(data=configs)
def test_generated_configs_load_or_raise_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, data: dict[Any, Any]
) -> None:
    """Seventeen cases per example: the YAML file, then each placement of the data
    with and without the profile active."""
    path = _write(tmp_path_factory.getbasetemp(), yaml.safe_dump(data, allow_unicode=True))
    _only_typed_errors(path, None)
    for doc in _placements(data):
        for profile in (None, "production"):
            _only_typed_errors(path, profile, doc)


GOOD = """providers:
  main: {type: echo, api_key: env:ECHO_KEY, rpm: 10}
routes:
  qa: {strategy: priority, tiers: [[main:big], main/small]}
agents:
  bot: {route: qa, temperature: 0.2}
budgets:
  - {scope: global, usd: 10, per: day}
cache: {ttl: 1h}
profiles:
  production: {retry: {attempts: 5}}
"""


@cases(1500)
@given(cut=st.integers(0, len(GOOD)), junk=st.text(max_size=6))
def test_damaged_text_loads_or_raises_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, cut: int, junk: str
) -> None:
    """Two cases per example: without and with the file's profile active."""
    path = _write(tmp_path_factory.getbasetemp(), GOOD[:cut] + junk + GOOD[cut:])
    for profile in (None, "production"):
        _only_typed_errors(path, profile)


@cases(500)
@given(raw=st.binary(max_size=64), toml=st.booleans())
def test_arbitrary_bytes_load_or_raise_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes, toml: bool
) -> None:
    path = _write(tmp_path_factory.getbasetemp(), raw, ".toml" if toml else ".yaml")
    _only_typed_errors(path, None)


@cases(200)
@given(data=configs)
def test_a_loaded_config_builds_a_router_or_raises_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, echo_registry: PluginRegistry,
    data: dict[Any, Any],
) -> None:
    """What loads must also build: a router over it, or a ConfigError naming a field."""
    data = {"providers": {"main": {"type": "echo"}}, **data}
    cfg = _only_typed_errors(
        _write(tmp_path_factory.getbasetemp(), yaml.safe_dump(data)), None)
    if cfg is None:
        return
    try:
        Router(cfg, registry=echo_registry).close()
    except ConfigError as err:
        assert err.fix and all(p.field for p in err.problems), err


def _providers_yaml(n: int) -> str:
    return "providers:\n" + "".join(
        f"  p{i}: {{type: echo, base_url: 'http://127.0.0.1:{i % 60000 + 1}', rpm: {i + 1}}}\n"
        for i in range(n)
    )


def test_load_time_grows_linearly_with_the_file(tmp_path: Path) -> None:
    """16x the providers costs about 16x the CPU time, not 256x (quadratic). CPU
    time of this process (not wall time), best of three, and a bound (64x) far from
    both, so a loaded machine cannot decide the outcome."""

    def cpu(n: int) -> float:
        path = _write(tmp_path, _providers_yaml(n))
        best = math.inf
        for _ in range(3):
            # The cyclic GC's full passes scan the whole test process's heap (large after
            # a thousand tests), not the file: keep them out of what is measured.
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                assert len(load_config(path).providers) == n
                best = min(best, time.process_time() - start)
            finally:
                gc.enable()
        return best

    small, large = cpu(200), cpu(3200)
    assert large < 64 * small, (small, large)
