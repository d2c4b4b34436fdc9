"""Built-in PII detectors: e-mail addresses, phone numbers, card numbers (Luhn),
IBANs (mod-97) and secret shapes (API keys, bearer tokens).

Every detector returns ``Finding`` spans; ``mask`` replaces them with ``[EMAIL]``,
``[PHONE]``… Each pattern is bounded (no nested unbounded repetition, e-mails are
found by expanding around each ``@`` at most 64/255 characters), so the scan is
linear in the text's length whatever the input: a hostile prompt cannot stall a
call (tests/privacy/test_detectors.py checks that with hypothesis and a 1 MB input).

Checksums keep the false positives down: a 16-digit order number that fails Luhn is
not a card, an IBAN-shaped string whose mod-97 is not 1 is not an IBAN.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "DETECTORS",
    "KINDS",
    "ExtraDetector",
    "Finding",
    "find_all",
    "iban_ok",
    "luhn_ok",
    "mask",
]

KINDS = ("secret", "email", "iban", "card", "phone")
"""Every built-in kind, in the order they are looked for (a span found by an earlier
kind is not reported again by a later one: a card number is not also a phone)."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int
    end: int


# --- checksums ---------------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check that every payment card number passes."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Lengths from the SWIFT IBAN registry (the countries most traffic carries; others
# are accepted between 15 and 34 characters when the mod-97 check passes).
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TR": 26, "AE": 23, "SA": 24, "BR": 29, "IL": 23,
}


def iban_ok(text: str) -> bool:
    """ISO 13616: country length (where known) and the ISO 7064 mod-97 check."""
    iban = text.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban.isalnum() or not iban.isascii():
        return False
    if not (iban[:2].isalpha() and iban[2:4].isdigit()):
        return False
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    rearranged = iban[4:] + iban[:4]
    remainder = 0
    for ch in rearranged:  # digit by digit: no 30-digit integer needed
        value = ord(ch) - 48 if ch.isdigit() else ord(ch) - 55
        remainder = (remainder * (100 if value > 9 else 10) + value) % 97
    return remainder == 1


# --- detectors -----------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOCAL = frozenset(_ALNUM + ".!#$%&'*+/=?^_`{|}~-")
_DOMAIN = frozenset(_ALNUM + ".-")


def _emails(text: str) -> Iterator[tuple[int, int]]:
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL:
            start -= 1
        end = at + 1
        while end < len(text) and end - at <= 255 and text[end] in _DOMAIN:
            end += 1
        domain = text[at + 1:end].rstrip(".-")
        end = at + 1 + len(domain)
        local = text[start:at].lstrip(".")
        start = at - len(local)
        labels = domain.split(".")
        if (local and len(labels) >= 2 and all(labels) and labels[-1].isalpha()
                and len(labels[-1]) >= 2):
            yield start, end
        at = text.find("@", at + 1)


_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# International: "+" or "00", a country code, then up to seven digit groups
# ("+33 1 42 68 53 00", "+81 3-1234-5678", "+14155552671"). National: an area code in
# brackets or 2+ separators ("(555) 123-4567", "020 7946 0958"). Possessive quantifiers
# (Python 3.11+): a digit run is never re-split, so a long failing run costs linear time.
# The digit count (8-15 international, 9-12 national) is checked after the match.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,3}+(?:[ .\-]?+\(?\d{1,6}+\)?){1,7}+(?!\w)"
    r"|(?<![\w+])(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}+(?:[ .\-]\d{2,4}+){1,4}+(?!\w)"
)
_SECRET = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{8,200}|sk-(?:proj-)?[A-Za-z0-9_\-]{16,200}|AIza[0-9A-Za-z_\-]{30,100}"
    r"|AKIA[0-9A-Z]{16}|gsk_[A-Za-z0-9]{20,200}|gh[pousr]_[A-Za-z0-9]{30,255}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,200}|(?<=Bearer )[A-Za-z0-9._\-]{16,2000}"
    r"|-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----"
)


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"[ -]", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            yield m.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        if iban_ok(m.group()):
            yield m.span()


_NOT_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,3}(?:\.\d{1,3}){3}")  # a date, an IPv4 address


def _phone_like(value: str) -> bool:
    """A national number is written with an area code in brackets or 2+ separators."""
    return "(" in value or sum(value.count(c) for c in " -.") >= 2


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for m in _PHONE.finditer(text):
        value = m.group()
        start, end = m.span()
        while value.endswith(")") and value.count(")") > value.count("("):
            value, end = value[:-1], end - 1  # "(+44 20 7946 0958)": the bracket is prose
        digits = sum(c.isdigit() for c in value)
        international = value.startswith(("+", "00"))
        # a national number needs a separator pattern typical of phones and 9+ digits,
        # so dates ("2024-05-01"), versions and amounts are left alone
        national = (9 <= digits <= 12 and _phone_like(value) and not _NOT_PHONE.fullmatch(value))
        if (8 <= digits <= 15) if international else national:
            yield start, end


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    for m in _SECRET.finditer(text):
        yield m.span()


_DIGIT = re.compile(r"\d")
_SECRET_MARKS = ("sk-", "AIza", "AKIA", "gsk_", "gh", "xox", "Bearer ", "-----BEGIN")


def _may_hold(kind: str, text: str) -> bool:
    """A cheap first look (one C-speed pass) that lets most prose skip a detector."""
    if kind == "email":
        return "@" in text
    if kind == "secret":
        return any(mark in text for mark in _SECRET_MARKS)
    return _DIGIT.search(text) is not None  # cards, IBANs and phones all hold digits


Detector = Callable[[str], Iterable[tuple[int, int]]]
DETECTORS: dict[str, Detector] = {
    "secret": _secrets, "email": _emails, "iban": _ibans, "card": _cards, "phone": _phones,
}


ExtraDetector = Callable[[str], Iterable[tuple[str, int, int]]]
"""A detector of your own (a Presidio analyzer, say): ``(kind, start, end)`` triples."""


def find_all(text: str, kinds: Iterable[str] = KINDS,
             extra: Iterable[ExtraDetector] = ()) -> list[Finding]:
    """Non-overlapping findings in ``text``, sorted by position. ``extra``: more
    detectors, run after the built-ins (a span already taken is not reported twice)."""
    found: list[tuple[str, Iterable[tuple[int, int]]]] = [
        (k, DETECTORS[k](text)) for k in kinds if _may_hold(k, text)]
    for detect in extra:
        for kind, start, end in detect(text):
            found.append((str(kind), [(int(start), int(end))]))
    taken: list[Finding] = []
    # one byte per character: checking a span costs its length (bounded by the
    # patterns), so overlap checks stay linear however many findings there are
    used = bytearray(len(text))
    for kind, spans in found:
        for start, end in spans:
            if 0 <= start < end <= len(text) and used.find(1, start, end) == -1:
                used[start:end] = b"\x01" * (end - start)
                taken.append(Finding(kind, start, end))
    taken.sort(key=lambda f: f.start)
    return taken


def mask(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each finding replaced by ``[KIND]``."""
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[pos:f.start])
        out.append(f"[{f.kind.upper()}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many of each kind (what the ledger keeps: counts, never values)."""
    return dict(Counter(f.kind for f in findings))
