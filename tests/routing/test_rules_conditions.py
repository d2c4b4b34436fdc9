"""The rule condition language: what parses, what each mistake says, and properties —
any text gives a condition or a ``RuleSyntaxError`` (nothing else), a parsed condition
re-parses from its own text to the same tree, and the parser reads each token once."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.config import conditions
from polyroute.config.conditions import (
    MAX_CONDITION_CHARS,
    And,
    Comparison,
    Not,
    Or,
    RuleSyntaxError,
    evaluate,
    parse_condition,
)
from polyroute.errors import ConfigError


def test_precedence_and_binds_tighter_than_or() -> None:
    cond = parse_condition("tenant == a or tenant == b and not prompt_tokens > 1k")
    assert isinstance(cond, Or)
    assert isinstance(cond.parts[1], And) and isinstance(cond.parts[1].parts[1], Not)
    assert cond.parts[0] == Comparison("tenant", "==", ("a",))


@pytest.mark.parametrize(("text", "values"), [
    ("prompt_tokens > 50k", (50_000.0,)),
    ("prompt_tokens >= 1.5m", (1_500_000.0,)),
    ("complexity < .3", (0.3,)),
    ("time between 22:00 and 6:00", (1320.0, 360.0)),
    ("weekday in [saturday, Sun]", ("sat", "sun")),
    ('user == "ops bot"', ("ops bot",)),
    ("tag.region not in [eu, ch]", ("eu", "ch")),
    ("param.reasoning_effort == high", ("high",)),
    ("capabilities has json_schema", ("json_schema",)),
])
def test_values_are_typed_at_parse_time(text: str, values: tuple[object, ...]) -> None:
    cond = parse_condition(text)
    assert isinstance(cond, Comparison) and cond.values == values


@pytest.mark.parametrize(("text", "says"), [
    ("tenant = free", "unexpected character '=' at position 8"),
    ("tenant > free", "field 'tenant' does not take '>'"),
    ("prompt_tokens > 1e999", "expected a number"),
    ("time > 25:00", "a time of day HH:MM"),
    ("weekday == someday", "a weekday"),
    ("capabilities has telepathy", "a capability"),
    ("capabilities == tools", "does not take '=='"),
    ("tenant in free", "'[' starting a list"),
    ("tenant in [a, b", "',' or ']'"),
    ("(tenant == a", "expected ')'"),
    ("tenant == a b", "'and', 'or' or the end"),
    ("colour == red", "unknown field 'colour'"),
    ("tag. == x", "unknown field 'tag.'"),
    ('user == "unterminated', "unterminated quoted string"),
    ("prompt_tokens == \"50\"", "a number value, not quoted text"),
    ("   ", "the condition is empty"),
    ("prompt_tokens between 50k and 1k", "between 50000 and 1000 is empty"),
    ("not " * 40 + "tenant == a", "nested more than 32 deep"),
    ("tenant == " + "a" * MAX_CONDITION_CHARS, "over the 2,000 limit"),
])
def test_each_mistake_is_a_typed_error_saying_where_and_what(text: str, says: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_condition(text)
    assert says in str(err.value)
    assert isinstance(err.value, ConfigError) and err.value.fix


def test_a_missing_value_is_false_for_tests_and_true_for_negations() -> None:
    def unset(field: str) -> object:
        return None

    assert evaluate(parse_condition("tenant == free"), unset) == (
        False, "tenant is unset: does not match tenant == free")
    assert evaluate(parse_condition("tenant != free"), unset)[0] is True
    assert evaluate(parse_condition("tag.x not in [a]"), unset)[0] is True
    assert evaluate(parse_condition("prompt_tokens > 0"), unset)[0] is False


def test_nan_and_text_never_satisfy_an_ordering() -> None:
    cond = parse_condition("param.temperature > 0.5")
    assert evaluate(cond, lambda f: math.nan)[0] is False
    assert evaluate(cond, lambda f: "hot")[0] is False
    assert evaluate(cond, lambda f: "0.9")[0] is True  # a provider param given as text


def test_or_explains_every_failed_part() -> None:
    cond = parse_condition("tenant == a or user == b")
    ok, why = evaluate(cond, {"tenant": "x", "user": "y"}.get)
    assert not ok and why == ("tenant is 'x': does not match tenant == a; "
                              "user is 'y': does not match user == b")


# --- properties --------------------------------------------------------------------

_PIECES = st.sampled_from([
    "tenant", "user", "prompt_tokens", "complexity", "time", "weekday", "capabilities",
    "tag.team", "param.temperature", "agent", "==", "!=", "<", "<=", ">", ">=", "in", "not",
    "has", "between", "and", "or", "(", ")", "[", "]", ",", "free", "50k", "0.3", "22:00",
    "sat", "tools", '"a b"', '"', "=", "1e9", "-", "nan", "inf", "é", "\n",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map(" ".join) | st.text(max_size=200))
def test_any_text_parses_or_raises_rule_syntax_error_only(text: str) -> None:
    try:
        cond = parse_condition(text)
    except RuleSyntaxError as exc:
        assert "position" in str(exc) or "condition" in str(exc)
        return
    # a condition prints as text that parses back to the same tree
    assert parse_condition(str(cond)) == cond
    # and evaluates against any values without raising
    for value in (None, "free", 0.0, math.nan, 10**9, frozenset({"tools"})):
        ok, why = evaluate(cond, lambda f, v=value: v)  # type: ignore[misc]
        assert isinstance(ok, bool) and isinstance(why, str)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=60).map(" ".join))
def test_the_parser_reads_each_token_at_most_once(text: str) -> None:
    """Linear time without a timed assert: count the parser's token reads."""
    try:
        tokens = conditions._tokens(text)
    except RuleSyntaxError:
        return
    parser = conditions._Parser(text)
    reads = 0
    take = parser.take

    def counting_take() -> conditions._Tok:
        nonlocal reads
        reads += 1
        return take()

    parser.take = counting_take  # type: ignore[method-assign]
    with contextlib.suppress(RuleSyntaxError):
        parser.condition()
    assert reads <= len(tokens)


def test_a_long_hostile_condition_is_refused_by_size_not_by_time() -> None:
    with pytest.raises(RuleSyntaxError, match="over the 2,000 limit"):
        parse_condition("(" * 100_000)
    with pytest.raises(RuleSyntaxError, match="nested more than 32"):
        parse_condition("(" * 1_000)


# --- the rules: section and the environment, as a whole ------------------------------

_TEXT = st.text(max_size=40)
_RULE = st.fixed_dictionaries(
    {"name": _TEXT},
    optional={"when": _TEXT | st.lists(_PIECES, max_size=12).map(" ".join) | st.integers(),
              "route": st.sampled_from(["r", "missing", ""]) | _TEXT,
              "model": st.sampled_from(["p:m", "p:default", "nope", ":", "p:"]) | _TEXT,
              "fallbacks": st.lists(_TEXT, max_size=2) | _TEXT,
              "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Mars/Base", ""]) | _TEXT,
              "extra": _TEXT},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_RULE, max_size=3) | st.integers() | _TEXT)
def test_any_rules_section_loads_or_raises_config_error_only(rules: object) -> None:
    from polyroute.config import config_from_data

    data = {"providers": {"p": {"type": "openai", "api_key": "env:X"}},
            "routes": {"r": {"tiers": [["p:m"]]}}, "rules": rules}
    try:
        cfg = config_from_data(data)
    except ConfigError:
        return
    for rule in cfg.rules:  # what loads is complete and parsed
        assert bool(rule.route) != bool(rule.model)
        assert (rule.when is None) == (rule.condition is None)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["POLYROUTE_AGENT_A_B_MODEL", "POLYROUTE_AGENT_X_MODEL",
                     "POLYROUTE_AGENT__MODEL", "POLYROUTE_AGENT_A_B_MODELS", "OTHER"]),
    st.text(max_size=30) | st.sampled_from(["p:m", "p:default", " p:m ", "p/m"]), max_size=3))
def test_any_environment_applies_or_raises_config_error_only(environ: dict[str, str]) -> None:
    from polyroute.config import config_from_data
    from polyroute.config.rules import apply_env_overrides

    cfg = config_from_data({"providers": {"p": {"type": "openai", "api_key": "env:X"}},
                            "agents": {"a-b": {"model": "p:other"}}})
    try:
        apply_env_overrides(cfg, environ)
    except ConfigError as exc:
        assert exc.field and exc.field.startswith("POLYROUTE_AGENT_")
        return
    if "POLYROUTE_AGENT_A_B_MODEL" in environ:
        assert cfg.agents["a-b"].model == environ["POLYROUTE_AGENT_A_B_MODEL"].strip()
        assert set(cfg.env_overrides) == {"a-b"}
