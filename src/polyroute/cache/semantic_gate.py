"""The content gate of the semantic cache: two prompts may share an answer only if
they agree on the tokens that change what is asked.

Embedding similarity alone cannot tell "how do I enable X" from "how do I disable
X", "retry 3 times" from "retry 5 times", or "Paris" from "Lyon": those pairs score
above any threshold that still lets paraphrases through (docs/semantic-cache.md
measures it). So a near match must also have, on both sides, the same

- **numbers** (digits and number words, normalised: "3", "3.0" and "three" agree);
- **negation** (the count of not/no/never/…n't/without markers);
- **polar words**: for each antonym pair (enable/disable, add/remove, before/after…)
  the same side, if either prompt uses one;
- **quoted strings** and **code identifiers** (backticks, snake_case, camelCase,
  dotted.names, call()s, --flags, paths);
- **names**: capitalised words other than a sentence's first, acronyms, and words
  with digits in them (case-insensitive), in the same order ("from Paris to Lyon"
  is not "from Lyon to Paris").

It errs on the side of a miss: a paraphrase that changes a name's spelling or
spells a number differently costs one upstream call, never a wrong answer. Linear
in the length of the text (a few regular expressions, one pass each).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = ["ContentTokens", "content_tokens", "gate", "prompt_text"]

_WORD_NUMBERS = {
    w: str(i) for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen", "twenty"])
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
     "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000",
     "million": "1000000", "billion": "1000000000", "half": "0.5", "double": "x2",
     "twice": "x2", "triple": "x3", "once": "x1", "first": "#1", "third": "#3",
     "last": "#-1"}  # not "second": a unit as often as an ordinal
_NEGATIONS = frozenset(
    ["not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot",
     "nowhere", "isnt", "arent", "wasnt", "werent", "dont", "doesnt", "didnt", "wont",
     "wouldnt", "cant", "couldnt", "shouldnt", "hasnt", "havent", "hadnt", "mustnt", "neednt"])
_NOT_NAMES = _NEGATIONS | {"i", "im", "ive", "id", "ill", "ok", "okay"}
_ANTONYMS = [
    ("enable", "disable"), ("enabled", "disabled"), ("on", "off"), ("add", "remove"),
    ("add", "delete"), ("insert", "delete"), ("create", "delete"), ("create", "destroy"),
    ("increase", "decrease"), ("raise", "lower"), ("more", "less"), ("more", "fewer"),
    ("max", "min"), ("maximum", "minimum"), ("largest", "smallest"), ("biggest", "smallest"),
    ("highest", "lowest"), ("best", "worst"), ("faster", "slower"), ("fastest", "slowest"),
    ("before", "after"), ("above", "below"), ("start", "stop"), ("start", "end"),
    ("begin", "end"), ("open", "close"), ("show", "hide"), ("allow", "deny"),
    ("allow", "block"), ("accept", "reject"), ("include", "exclude"), ("import", "export"),
    ("upload", "download"), ("push", "pull"), ("encrypt", "decrypt"),
    ("compress", "decompress"), ("lock", "unlock"), ("install", "uninstall"),
    ("connect", "disconnect"), ("mount", "unmount"), ("subscribe", "unsubscribe"),
    ("follow", "unfollow"), ("true", "false"), ("yes", "no"), ("always", "never"),
    ("all", "none"), ("up", "down"), ("in", "out"), ("left", "right"), ("top", "bottom"),
    ("upper", "lower"), ("uppercase", "lowercase"), ("ascending", "descending"),
    ("asc", "desc"), ("sync", "async"), ("synchronous", "asynchronous"),
    ("public", "private"), ("read", "write"), ("input", "output"), ("client", "server"),
    ("buy", "sell"), ("win", "lose"), ("gain", "loss"), ("profit", "loss"),
    ("positive", "negative"), ("inside", "outside"), ("internal", "external"),
    ("minimum", "maximum"), ("first", "last"), ("old", "new"), ("older", "newer"),
    ("oldest", "newest"), ("earliest", "latest"), ("cheap", "expensive"),
    ("hot", "cold"), ("warm", "cool"), ("heavy", "light"),
    ("long", "short"), ("longer", "shorter"), ("longest", "shortest"), ("wide", "narrow"),
    ("big", "small"), ("large", "small"), ("good", "bad"), ("safe", "unsafe"),
    ("valid", "invalid"), ("legal", "illegal"), ("possible", "impossible"),
    ("same", "different"), ("equal", "unequal"), ("include", "omit"), ("keep", "drop"),
    ("keep", "discard"), ("send", "receive"), ("encode", "decode"), ("serialize",
                                                                      "deserialize"),
    ("north", "south"), ("east", "west"), ("day", "night"), ("morning", "evening"),
    ("love", "hate"), ("like", "dislike"), ("pros", "cons"), ("advantages", "disadvantages"),
    ("benefits", "drawbacks"), ("strengths", "weaknesses"), ("success", "failure"),
    ("succeed", "fail"), ("pass", "fail"), ("arrive", "depart"),
    ("arrival", "departure"), ("inbound", "outbound"),
    ("ingress", "egress"), ("upgrade", "downgrade"), ("undo", "redo"),
]
_POLES: dict[str, list[tuple[int, int]]] = {}
for _i, (_a, _b) in enumerate(_ANTONYMS):
    _POLES.setdefault(_a, []).append((_i, 0))
    _POLES.setdefault(_b, []).append((_i, 1))

_QUOTED = re.compile(r'"([^"\n]{1,200})"|\'([^\'\n]{1,200})\'|“([^”\n]{1,200})”|`([^`\n]{1,200})`')
_WORD = re.compile("[A-Za-z][A-Za-z0-9_'\u2019.\\-]*[A-Za-z0-9_]|[A-Za-z]|\\d[\\d,]*(?:\\.\\d+)?%?")
_IDENTIFIER = re.compile(
    r"(?:(?<![\w-])--?[a-z][\w-]*|[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+(?:\(\))?|[A-Za-z_]\w*\(\)"
    r"|[a-z]+(?:_[a-z0-9]+)+|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*|(?:~|\.{1,2})?/[\w./-]+"
    r"|\w+\.(?:py|js|ts|go|rs|java|rb|yaml|yml|json|toml|md|txt|csv|sql|sh|c|h|cpp))")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


@dataclass(frozen=True, slots=True)
class ContentTokens:
    """What a prompt asks about beyond its wording."""

    numbers: tuple[tuple[str, int], ...]
    negations: int
    poles: frozenset[tuple[int, int]]
    quoted: frozenset[str]
    identifiers: frozenset[str]
    names: tuple[str, ...]
    """In order of first appearance: "from Paris to Lyon" is not "from Lyon to Paris"."""


def _number(token: str) -> str | None:
    t = token.lower().rstrip("%")
    if t in _WORD_NUMBERS:
        return _WORD_NUMBERS[t]
    if t[:1].isdigit():
        t = t.replace(",", "")
        try:
            value = float(t)
        except ValueError:
            return t
        return f"{value:g}" + ("%" if token.endswith("%") else "")
    return None


def content_tokens(text: str) -> ContentTokens:
    """The tokens ``gate`` compares, from one prompt."""
    quoted = frozenset(next(g for g in m.groups() if g is not None).strip().lower()
                       for m in _QUOTED.finditer(text))
    identifiers = frozenset(m.group(0).strip("`").lower() for m in _IDENTIFIER.finditer(text))
    numbers: Counter[str] = Counter()
    negations = 0
    poles: set[tuple[int, int]] = set()
    names: dict[str, None] = {}  # ordered, de-duplicated
    sentence_start = True
    for match in _WORD.finditer(text):
        token = match.group(0)
        lower = token.lower().replace("\u2019", "'")
        number = _number(token)
        if number is not None:
            numbers[number] += 1
        bare = lower.replace("'", "")
        if bare in _NEGATIONS or lower.endswith("n't"):
            negations += 1
        poles.update(_POLES.get(bare, ()))
        if (not sentence_start and token[0].isupper() and bare not in _NOT_NAMES) or (
                len(token) > 1 and token.isupper()) or (
                any(c.isdigit() for c in token) and any(c.isalpha() for c in token)):
            names.setdefault(bare)
        sentence_start = bool(_SENTENCE_END.search(text[match.end(): match.end() + 2]))
    return ContentTokens(tuple(sorted(numbers.items())), negations, frozenset(poles),
                         quoted, identifiers, tuple(names))


def gate(a: str, b: str) -> str | None:
    """``None`` when ``a`` and ``b`` agree on content, else what differs (a reason)."""
    ta, tb = content_tokens(a), content_tokens(b)
    if ta.numbers != tb.numbers:
        return "numbers differ"
    if ta.negations != tb.negations:
        return "negation differs"
    if ta.poles != tb.poles:
        # an antonym pair both prompts touch, from different sides ("enable" / "disable");
        # a polar word only one of them uses is wording ("turn on" / "enable")
        for index in {i for i, _ in ta.poles} & {i for i, _ in tb.poles}:
            if {s for i, s in ta.poles if i == index} != {s for i, s in tb.poles if i == index}:
                return "opposite words"
    if ta.quoted != tb.quoted:
        return "quoted strings differ"
    if ta.identifiers != tb.identifiers:
        return "code identifiers differ"
    if ta.names != tb.names:
        return "names differ"
    return None


def prompt_text(message_content: Any) -> str | None:
    """The text of a user message, or ``None`` when it is not plain text (images...)."""
    if isinstance(message_content, str):
        return message_content
    if isinstance(message_content, list):
        parts = []
        for part in message_content:
            text = getattr(part, "text", None) if not isinstance(part, dict) else part.get("text")
            kind = getattr(part, "type", None) if not isinstance(part, dict) else part.get("type")
            if kind not in (None, "text") or not isinstance(text, str):
                return None
            parts.append(text)
        return "\n".join(parts)
    return None
