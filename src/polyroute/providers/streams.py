"""A base for stream parsers whose events each carry one JSON object.

Anthropic, Bedrock, Cohere, Gemini and Ollama streams differ in their event
types, but each parser holds the same state (provider, model, the response's
id and model, whether the terminal event came), reads each event's JSON the
same way, and reports a broken stream the same way. OpenAI-shaped streams
have their own, fuller base: ``openai_compat.ChatCompletionsStreamParser``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from polyroute.errors import StreamInterruptedError
from polyroute.providers.base import StreamParser
from polyroute.providers.bodies import loads
from polyroute.types import ChatChunk

__all__ = ["JsonEventParser"]


class JsonEventParser(StreamParser):
    """State and helpers for one stream of JSON events; subclasses write ``feed``/``close``.

    ``label`` names the stream in errors (``"Cohere stream: event data is not JSON"``).
    ``done`` is set once the terminal event (or an in-band error) has been seen.
    """

    label: ClassVar[str] = "stream"

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.done = False

    def load(self, data: str, what: str = "event data") -> Any:
        """``data`` as JSON; a ``StreamInterruptedError`` naming ``what`` if it is not."""
        try:
            return loads(data)
        except (ValueError, RecursionError):
            raise self.broken(f"{what} is not JSON: {data[:120]!r}") from None

    def load_object(self, data: str, what: str = "event data") -> dict[str, Any]:
        """``data`` as a JSON object; a ``StreamInterruptedError`` if it is anything else."""
        value = self.load(data, what)
        if not isinstance(value, dict):
            raise self.broken(f"{what} is not a JSON object")
        return value

    def chunk(self, **fields: Any) -> ChatChunk:
        """A chunk of this stream: ``fields`` plus the provider, model and response ids."""
        return ChatChunk(response_id=self.response_id, response_model=self.response_model,
                         provider=self.provider, model=self.model, **fields)

    def broken(self, why: str) -> StreamInterruptedError:
        """The error for a stream that cannot go on (``"<label>: <why>"``)."""
        return StreamInterruptedError(f"{self.label}: {why}", provider=self.provider,
                                      model=self.model)
