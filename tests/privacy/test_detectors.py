"""Built-in PII detectors on real-looking data: valid (Luhn) test card numbers of
each network, IBANs in the official format of ten countries (mod-97 valid),
international phone numbers; and what must NOT be taken for PII."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.privacy.detectors import KINDS, counts, find_all, iban_ok, luhn_ok, mask

# the networks' published test numbers (Visa, Mastercard 5- and 2-series, Amex, Discover,
# JCB, Diners 14-digit, Visa 13-digit): all pass Luhn
CARDS = ["4111 1111 1111 1111", "4012-8888-8888-1881", "5555555555554444",
         "2223 0031 2200 3222", "3782 822463 10005", "6011111111111117",
         "3530111333300000", "30569309025904", "4222222222222"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
         "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300",
         "ES9121000418450200051332", "IT60X0542811101000000123456", "BE68539007547034",
         "CH9300762011623852957", "NO9386011117947", "PL61 1090 1014 0000 0712 1981 2874"]
PHONES = ["+44 20 7946 0958", "+1 415 555 2671", "+33 1 42 68 53 00", "+49 30 901820",
          "+81 3-1234-5678", "+91 98765 43210", "0044 20 7946 0958", "+14155552671",
          "(555) 123-4567", "020 7946 0958"]
EMAILS = ["jane.doe@example.com", "j+tag@mail.example.co.uk", "o'brien@example.ie",
          "first.last-99@sub.domain.example"]
SECRETS = ["sk-proj-Abcdefghijklmnop1234567890", "AKIAIOSFODNN7EXAMPLE",
           "ghp_0123456789abcdefghijABCDEFGHIJ012345"]


def kinds_in(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start:f.end]) for f in find_all(text)]


@pytest.mark.parametrize(("kind", "values"), [
    ("card", CARDS), ("iban", IBANS), ("phone", PHONES), ("email", EMAILS),
    ("secret", SECRETS)])
def test_each_real_looking_value_is_found_whole_inside_a_sentence(kind: str,
                                                                   values: list[str]) -> None:
    for value in values:
        text = f"Please use {value}, thanks."
        assert kinds_in(text) == [(kind, value)], value
        assert value not in mask(text, find_all(text))
        assert f"[{kind.upper()}]" in mask(text, find_all(text))


@pytest.mark.parametrize("text", [
    "order 1234 5678 9012 3456 shipped",        # 16 digits, fails Luhn
    "card 4111 1111 1111 1112",                 # one digit off a valid card
    "invoice 0000 0000 0000 0000",              # Luhn-valid but all one digit
    "id 12345678901234567890123",               # too long for any card
    "released on 2024-05-01 as v1.2.3 at 12:30",
    "server 192.168.100.200 port 8443",
    "unix time 1700000000, amount 1,234,567.89",
    "IBAN-like DE89370400440532013001 (bad check digits)",
    "GB82WEST1234569876543 is one character short",
    "call me at +123",                          # too short for a phone
    "user@localhost and a@b",                   # no domain with a TLD
    "sk-short",                                 # too short for a key
])
def test_values_that_only_look_like_pii_are_left_alone(text: str) -> None:
    assert kinds_in(text) == []
    assert mask(text, find_all(text)) == text


def test_checksums() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert not luhn_ok("4111-1111") and not luhn_ok("")
    assert iban_ok("de89 3704 0044 0532 0130 00")  # case and spaces do not matter
    assert not iban_ok("DE89 3704 0044 0532 0130 0")  # Germany's IBAN is 22 characters
    assert not iban_ok("ZZ00") and not iban_ok("DE89370400440532013000\u0661")


def test_mixed_prompt_counts_each_kind_and_masks_in_place() -> None:
    text = ("Hi, I'm jane.doe@example.com (+44 20 7946 0958). Refund card 4111 1111 1111 "
            "1111 to DE89 3704 0044 0532 0130 00. My key: sk-proj-Abcdefghijklmnop1234567890")
    found = find_all(text)
    assert counts(found) == {"email": 1, "phone": 1, "card": 1, "iban": 1, "secret": 1}
    assert mask(text, found) == ("Hi, I'm [EMAIL] ([PHONE]). Refund card [CARD] to [IBAN]. "
                                 "My key: [SECRET]")


def test_a_card_is_not_reported_twice_as_a_phone() -> None:
    assert kinds_in("4111 1111 1111 1111") == [("card", "4111 1111 1111 1111")]


def test_only_the_kinds_asked_for_run() -> None:
    text = "jane@example.com +44 20 7946 0958"
    assert [f.kind for f in find_all(text, kinds=["phone"])] == ["phone"]


def test_an_extra_detector_adds_its_own_kind_and_cannot_overlap_a_builtin() -> None:
    def names(text: str) -> list[tuple[str, int, int]]:
        i = text.find("Jane Doe")
        return [("person", i, i + 8)] if i >= 0 else []

    def bad(text: str) -> list[tuple[str, int, int]]:  # overlaps the e-mail: dropped
        return [("person", 0, 4)]

    text = "jane@example.com wrote to Jane Doe"
    found = find_all(text, extra=[names, bad])
    assert [(f.kind, text[f.start:f.end]) for f in found] == [
        ("email", "jane@example.com"), ("person", "Jane Doe")]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789 +-.()@abcXYZ_\n")) | st.characters(),
               max_size=400))
def test_any_text_gives_ordered_disjoint_findings_and_a_clean_mask(text: str) -> None:
    found = find_all(text)
    assert all(f.kind in KINDS for f in found)
    assert all(0 <= f.start < f.end <= len(text) for f in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    masked = mask(text, found)
    # masking is stable: what is left holds no finding of the same value
    for f in found:
        value = text[f.start:f.end]
        if len(value) > 6:
            assert value not in masked or masked.count(value) < text.count(value)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["+1", "1 ", "a@", "@a.", " 1234", "4", "+1 2", "x" * 60 + "@",
                        "DE89", "sk-", "(1)", "00"]),
       st.integers(min_value=1_000, max_value=20_000))
def test_hostile_repetitions_never_raise(unit: str, times: int) -> None:
    # Linear time is measured in bench/privacy_scan.py (no timed asserts in tests); here:
    # the patterns that would backtrack badly finish and stay well-formed.
    text = unit * times
    found = find_all(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["mode", "providers", "detectors", "hook", "other"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              st.lists(st.text(max_size=8), max_size=3),
              st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)),
    max_size=4),
    st.dictionaries(st.sampled_from(["otel", "log_format", "x"]),
                    st.one_of(st.none(), st.booleans(), st.text(max_size=10), st.integers()),
                    max_size=2),
    st.one_of(st.lists(st.text(max_size=10), max_size=3), st.integers(), st.text(max_size=5)))
def test_any_privacy_or_observability_section_loads_or_raises_a_config_error(
        privacy: dict[str, object], observability: dict[str, object], debug: object) -> None:
    from polyroute.config.loader import config_from_data
    from polyroute.errors import ConfigError

    try:
        config_from_data({"privacy": privacy, "observability": observability, "debug": debug})
    except ConfigError as exc:
        assert exc.field  # names where the problem is
