"""An echo stand-in whose usage over-counts the prompt: prompt tokens = its characters
(about 4x polyroute's chars/4 estimate). For the budget overspend test and bench."""

from __future__ import annotations

import echo_provider

from polyroute.testing.standin import Reply, StandinRequest


class OverCountingResponder(echo_provider.EchoResponder):
    """Echo, but the usage says prompt tokens = characters of the prompt; 3 output tokens."""

    def answer(self, request: StandinRequest) -> Reply:
        data = request.json()
        text = f"{self.name} says: ok"
        return Reply.json({"text": text, "in": len(data["prompt"]), "out": len(text.split()),
                           "model": data["model"]})
