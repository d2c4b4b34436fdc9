"""PII scan speed (issue 13): is ``polyroute.privacy.find_all`` linear in the text's
length on hostile inputs, and what does masking cost a typical prompt?

Run with ``.venv/bin/python bench/privacy_scan.py`` (not part of ``make test``; tests
never time anything). For each input shape it scans 10 kB, 100 kB and 1 MB and prints
nanoseconds per character: a linear scan keeps that figure flat as the size grows
(a quadratic one would grow 10x per step). JSON lines on stdout.
"""

from __future__ import annotations

import json
import platform
import time

from polyroute.config.privacy import PrivacyConfig
from polyroute.privacy import PrivacyPolicy, find_all
from polyroute.types import ChatRequest, Message

SHAPES = {
    "prose": "The quick brown fox jumps over the lazy dog. ",
    "digits": "4",
    "spaced digits": "1 ",
    "at signs": "a@",
    "local parts": "x" * 60 + "@",
    "phone-ish": "+1 2",
    "iban-ish": "DE89 ",
    "mixed pii": "mail jane@example.com card 4111 1111 1111 1111 call +44 20 7946 0958. ",
}
SIZES = (10_000, 100_000, 1_000_000)


def best_of(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print(json.dumps({"python": platform.python_version(), "machine": platform.machine()}))
    for name, unit in SHAPES.items():
        row: dict[str, object] = {"shape": name}
        for size in SIZES:
            text = (unit * (size // len(unit) + 1))[:size]
            seconds = best_of(lambda text=text: find_all(text))
            row[f"ns_per_char_{size // 1000}k"] = round(seconds / size * 1e9, 1)
        print(json.dumps(row))
    policy = PrivacyPolicy(PrivacyConfig())
    prompt = ("Hi, I'm Jane (jane.doe@example.com, +44 20 7946 0958). Please refund the "
              "charge on 4111 1111 1111 1111 to DE89 3704 0044 0532 0130 00. " * 4)
    n = 2000

    def scan_fresh() -> None:
        for _ in range(n):  # a new request each time: no memo
            policy.scan(ChatRequest(messages=[Message.user(prompt)]))

    seconds = best_of(scan_fresh)
    print(json.dumps({"typical_prompt_chars": len(prompt),
                      "scan_and_mask_us_per_request": round(seconds / n * 1e6, 1)}))


if __name__ == "__main__":
    main()
