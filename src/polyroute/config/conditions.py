"""The condition language of routing rules: parsed once at load, evaluated per call.

A condition is a small, typed expression, never ``eval``::

    tenant == free
    prompt_tokens > 50k and capabilities has tools
    (tag.region in [eu, ch] or user == "ops bot") and not time between 22:00 and 06:00

Grammar (keywords are lower case; ``and`` binds tighter than ``or``)::

    condition  := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | test
    test       := FIELD OP value | FIELD ["not"] "in" "[" value ("," value)* "]"
                | FIELD "has" WORD | FIELD "between" value "and" value

Fields, their kind, and where the value comes from:

* numbers: ``prompt_tokens`` (estimated), ``max_tokens``, ``messages`` (count),
  ``complexity`` (0..1, the complexity classifier), ``param.<name>`` (a sampling
  parameter of the call)
* text: ``agent``, ``task``, ``tenant`` and ``user`` (the call's tags of those names,
  else its agent's), ``tag.<key>``
* ``time`` (``HH:MM`` in the rule's time zone; ``between`` wraps midnight),
  ``weekday`` (``mon`` .. ``sun``)
* ``capabilities`` (what the request needs: ``has tools``)

Numbers take a ``k`` (thousand) or ``m`` (million) suffix. Each field accepts only the
operators and values that make sense for it, checked at parse time: a mistake is a
``RuleSyntaxError`` (a ``ConfigError``) naming the position and what was expected.
Parsing is one pass over the text (linear time), conditions are at most
``MAX_CONDITION_CHARS`` long and nest at most ``MAX_DEPTH`` deep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from polyroute.errors import ConfigError
from polyroute.types import Capability

__all__ = [
    "MAX_CONDITION_CHARS", "MAX_DEPTH", "And", "Comparison", "Condition", "Not", "Or",
    "RuleSyntaxError", "evaluate", "holds", "parse_condition",
]

MAX_CONDITION_CHARS = 2000
MAX_DEPTH = 32
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Kind = Literal["number", "text", "time", "weekday", "set"]
_FIXED_FIELDS: dict[str, Kind] = {
    "prompt_tokens": "number", "max_tokens": "number", "messages": "number",
    "complexity": "number", "agent": "text", "task": "text", "tenant": "text",
    "user": "text", "time": "time", "weekday": "weekday", "capabilities": "set",
}
_OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "number": ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "between"),
    "text": ("==", "!=", "in", "not in"),
    "time": ("<", "<=", ">", ">=", "between"),
    "weekday": ("==", "!=", "in", "not in"),
    "set": ("has",),
}
# param.<name> may be a number (temperature) or text (a provider-specific value)
_PARAM_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "between")


class RuleSyntaxError(ConfigError):
    """A routing rule's condition does not parse; names the position and what was expected."""


Value = float | str


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison: ``field op value`` (``values`` for in/not in/between)."""

    field: str
    op: str
    values: tuple[Value, ...]

    def __str__(self) -> str:
        shown = [_clock(v) if self.field == "time" else _show(v) for v in self.values]
        if self.op in ("in", "not in"):
            return f"{self.field} {self.op} [{', '.join(shown)}]"
        if self.op == "between":
            return f"{self.field} between {shown[0]} and {shown[1]}"
        return f"{self.field} {self.op} {shown[0]}"


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition

    def __str__(self) -> str:
        return f"not ({self.part})"


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(f"({p})" if isinstance(p, Or) else str(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Condition, ...]

    def __str__(self) -> str:
        return " or ".join(str(p) for p in self.parts)


Condition = Comparison | Not | And | Or


def _clock(v: Value) -> str:
    minutes = int(v) if isinstance(v, float) else 0
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _show(v: Value) -> str:
    if isinstance(v, float):
        return f"{v:g}" if abs(v) < 1e15 else repr(v)
    if isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_.:/@+-]+", v):
        return v
    return f'"{v}"'


# --- tokens --------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"[^"\n]*")
    | (?P<op>==|!=|<=|>=|<|>)
    | (?P<punct>[()\[\],])
    | (?P<word>[A-Za-z0-9_.:/@+-]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)([km]?)", re.IGNORECASE)
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # str, op, punct, word, end
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            out.append(_Tok("end", "", pos))
            return out
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            ch = text[pos]
            what = "unterminated quoted string" if ch == "\"" else f"character {ch!r}"
            fix = ("compare with == (equal) or != (not equal)" if ch in "=!" else
                   'use words, numbers, "quoted text", ==, !=, <, <=, >, >=, ( ) [ ] ,')
            raise _error(text, pos, f"unexpected {what}", fix)
        out.append(_Tok(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup)))
        pos = m.end()


def _error(text: str, pos: int, message: str, fix: str) -> RuleSyntaxError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return RuleSyntaxError(f"{message} at position {pos + 1} of condition {shown!r}", fix=fix)


# --- parser --------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def fail(self, tok: _Tok, expected: str) -> RuleSyntaxError:
        got = "the end" if tok.kind == "end" else repr(tok.text)
        return _error(self.text, tok.pos, f"expected {expected}, got {got}",
                      "write e.g. tenant == free and prompt_tokens > 50k")

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text == word

    def condition(self) -> Condition:
        cond = self.or_(0)
        if self.peek().kind != "end":
            raise self.fail(self.peek(), "'and', 'or' or the end of the condition")
        return cond

    def or_(self, depth: int) -> Condition:
        parts = [self.and_(depth)]
        while self.is_word("or"):
            self.take()
            parts.append(self.and_(depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, depth: int) -> Condition:
        parts = [self.unary(depth)]
        while self.is_word("and"):
            self.take()
            parts.append(self.unary(depth))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, depth: int) -> Condition:
        if depth >= MAX_DEPTH:
            raise _error(self.text, self.peek().pos, f"nested more than {MAX_DEPTH} deep",
                         "split the rule into several simpler rules")
        tok = self.peek()
        if tok.kind == "word" and tok.text == "not":
            self.take()
            return Not(self.unary(depth + 1))
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.or_(depth + 1)
            close = self.take()
            if close.text != ")" or close.kind != "punct":
                raise self.fail(close, "')'")
            return inner
        return self.test()

    def test(self) -> Comparison:
        tok = self.take()
        if tok.kind != "word":
            raise self.fail(tok, "a field such as tenant, prompt_tokens or tag.<key>")
        name, kind = tok.text, _field_kind(tok.text)
        if kind is None:
            fields = ", ".join([*_FIXED_FIELDS, "tag.<key>", "param.<name>"])
            raise _error(self.text, tok.pos, f"unknown field {name!r}",
                         f"use one of {fields}")
        op = self.operator()
        allowed = _PARAM_OPS if kind == "param" else _OPS_BY_KIND[kind]
        if op.text not in allowed:
            raise _error(self.text, op.pos, f"field {name!r} does not take {op.text!r}",
                         f"use one of {', '.join(allowed)}")
        if op.text in ("in", "not in"):
            values = self.list_(kind)
        elif op.text == "between":
            low = self.value(kind)
            if not self.is_word("and"):
                raise self.fail(self.peek(), "'and' (between LOW and HIGH)")
            self.take()
            high_tok = self.peek()
            values = (low, self.value(kind))
            if (kind != "time" and isinstance(low, float) and isinstance(values[1], float)
                    and low > values[1]):  # only time wraps (22:00 .. 06:00)
                raise _error(self.text, high_tok.pos,
                             f"between {_show(low)} and {_show(values[1])} is empty",
                             "write the lower bound first")
        else:
            values = (self.value(kind),)
        return Comparison(name, op.text, values)

    def operator(self) -> _Tok:
        tok = self.take()
        if tok.kind == "op" or (tok.kind == "word" and tok.text in ("in", "has", "between")):
            return tok
        if tok.kind == "word" and tok.text == "not":
            if self.is_word("in"):
                self.take()
                return _Tok("word", "not in", tok.pos)
            raise self.fail(self.peek(), "'in' after 'not'")
        raise self.fail(tok, "an operator (==, !=, <, <=, >, >=, in, not in, has, between)")

    def list_(self, kind: str) -> tuple[Value, ...]:
        open_ = self.take()
        if open_.text != "[" or open_.kind != "punct":
            raise self.fail(open_, "'[' starting a list such as [free, trial]")
        values = [self.value(kind)]
        while self.peek().text == "," and self.peek().kind == "punct":
            self.take()
            values.append(self.value(kind))
        close = self.take()
        if close.text != "]" or close.kind != "punct":
            raise self.fail(close, "',' or ']'")
        return tuple(values)

    def value(self, kind: str) -> Value:
        tok = self.take()
        if tok.kind == "str":
            if kind in ("number", "time", "weekday", "set"):
                raise self.fail(tok, f"a {kind} value, not quoted text")
            return tok.text[1:-1]
        if tok.kind != "word":
            raise self.fail(tok, "a value")
        if kind == "number":
            number = _number(tok.text)
            if number is None:
                raise self.fail(tok, "a number (e.g. 50k, 0.3, 2000)")
            return number
        if kind == "time":
            m = _TIME.fullmatch(tok.text)
            if m is None:
                raise self.fail(tok, "a time of day HH:MM (00:00 .. 23:59)")
            return float(int(m.group(1)) * 60 + int(m.group(2)))
        if kind == "weekday":
            day = tok.text.lower()
            if day in _FULL_DAYS:
                day = WEEKDAYS[_FULL_DAYS.index(day)]
            if day not in WEEKDAYS:
                raise self.fail(tok, "a weekday (mon, tue, wed, thu, fri, sat, sun)")
            return day
        if kind == "set":
            try:
                return Capability(tok.text).value
            except ValueError:
                known = ", ".join(c.value for c in Capability)
                raise self.fail(tok, f"a capability ({known})") from None
        if kind == "param":  # a number where it reads as one, else text
            number = _number(tok.text)
            return tok.text if number is None else number
        return tok.text


def _field_kind(name: str) -> str | None:
    if name in _FIXED_FIELDS:
        return _FIXED_FIELDS[name]
    for prefix, kind in (("tag.", "text"), ("param.", "param")):
        if name.startswith(prefix) and len(name) > len(prefix):
            return kind
    return None


def _number(text: str) -> float | None:
    m = _NUMBER.fullmatch(text)
    if m is None:
        return None
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(1).lower()]
    value = float(text[: len(text) - len(m.group(1))]) * scale
    return value if math.isfinite(value) else None


def parse_condition(text: object) -> Condition:
    """Parse a rule condition; ``RuleSyntaxError`` (a ``ConfigError``) on any mistake."""
    if not isinstance(text, str):
        raise RuleSyntaxError(f"a condition is text, not {type(text).__name__}",
                              fix="write it as a string, e.g. when: tenant == free")
    if not text.strip():
        raise RuleSyntaxError("the condition is empty",
                              fix="write e.g. when: tenant == free (no 'when': always matches)")
    if len(text) > MAX_CONDITION_CHARS:
        raise RuleSyntaxError(
            f"the condition is {len(text):,} characters, over the {MAX_CONDITION_CHARS:,} limit",
            fix="split it into several rules",
        )
    return _Parser(text).condition()


# --- evaluation ----------------------------------------------------------------

def holds(cond: Condition, value_of: Callable[[str], object]) -> bool:
    """Whether ``cond`` holds (``evaluate`` without the explanation: the per-call path)."""
    if isinstance(cond, Comparison):
        actual = value_of(cond.field)
        if cond.op == "has":
            return isinstance(actual, frozenset | set) and cond.values[0] in actual
        return _compare(cond, actual)
    if isinstance(cond, Not):
        return not holds(cond.part, value_of)
    if isinstance(cond, And):
        return all(holds(p, value_of) for p in cond.parts)
    return any(holds(p, value_of) for p in cond.parts)


def evaluate(cond: Condition, value_of: Callable[[str], object]) -> tuple[bool, str]:
    """Whether ``cond`` holds, and why (for ``route --explain``). ``value_of(field)``
    reads one field of the call; ``None`` means the call has no such value (then
    ``==``/``in``/comparisons are false and ``!=``/``not in`` true)."""
    if isinstance(cond, Comparison):
        return _test(cond, value_of(cond.field))
    if isinstance(cond, Not):
        ok, why = evaluate(cond.part, value_of)
        return (not ok), f"not ({why})"
    if isinstance(cond, And):
        reasons = []
        for part in cond.parts:
            ok, why = evaluate(part, value_of)
            if not ok:
                return False, why
            reasons.append(why)
        return True, " and ".join(reasons)
    reasons = []
    for part in cond.parts:
        ok, why = evaluate(part, value_of)
        if ok:
            return True, why
        reasons.append(why)
    return False, "; ".join(reasons)


def _test(t: Comparison, actual: object) -> tuple[bool, str]:
    if actual is None:
        shown = "unset"
    elif t.field == "time" and isinstance(actual, float):
        shown = _clock(actual)
    else:
        shown = _show_actual(actual)
    if t.op == "has":
        ok = isinstance(actual, frozenset | set) and t.values[0] in actual
        return ok, f"capabilities needed: {shown} ({'has' if ok else 'lacks'} {t.values[0]})"
    ok = _compare(t, actual)
    verdict = "matches" if ok else "does not match"
    return ok, f"{t.field} is {shown}: {verdict} {t}"


def _show_actual(actual: object) -> str:
    if isinstance(actual, frozenset | set):
        return "{" + ", ".join(sorted(str(x) for x in actual)) + "}" if actual else "none"
    if isinstance(actual, float | int) and not isinstance(actual, bool):
        return f"{actual:,.6g}" if isinstance(actual, float) else f"{actual:,}"
    return repr(str(actual)[:60])


def _compare(t: Comparison, actual: object) -> bool:
    if actual is None:
        return t.op in ("!=", "not in")
    a = _comparable(actual, t.values[0])
    values = t.values  # typed at parse time: floats for numbers and times, else text
    if t.op == "==":
        return a == values[0]
    if t.op == "!=":
        return a != values[0]
    if t.op == "in":
        return a in values
    if t.op == "not in":
        return a not in values
    if not (isinstance(a, float) and all(isinstance(v, float) for v in values)):
        return False  # an ordering of text against a number: never true
    if t.op == "between":
        low, high = values
        assert isinstance(low, float) and isinstance(high, float)
        if t.field == "time" and low > high:  # 22:00 .. 06:00 wraps midnight
            return a >= low or a < high
        return low <= a <= high if t.field != "time" else low <= a < high
    return bool({"<": a < values[0], "<=": a <= values[0],  # type: ignore[operator]
                 ">": a > values[0], ">=": a >= values[0]}[t.op])  # type: ignore[operator]


def _comparable(actual: object, like: Value) -> Value:
    """Numbers as floats (so 1 == 1.0); text as is; a number-looking text stays text
    unless compared with a number."""
    if isinstance(actual, bool):
        return str(actual).lower()
    if isinstance(actual, int | float):
        return float(actual)
    if isinstance(like, float) and isinstance(actual, str):
        number = _number(actual)
        return actual if number is None else number
    return str(actual)
