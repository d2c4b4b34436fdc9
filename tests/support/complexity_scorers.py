"""Complexity classifiers named in test configs (``complexity_classifier: module:function``)."""

from __future__ import annotations

from polyroute.types import ChatRequest


def by_marker(request: ChatRequest) -> float:
    """1.0 when the last message says HARD, else 0.0: a scorer whose answer a test knows."""
    return 1.0 if "HARD" in request.messages[-1].text else 0.0


def broken(request: ChatRequest) -> object:
    """Returns what no score may be."""
    return float("nan")


not_callable = 3
