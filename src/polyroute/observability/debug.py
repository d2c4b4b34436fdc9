"""Per-provider debug lines: ``debug: [groq]`` in the config or
``POLYROUTE_DEBUG=groq,anthropic`` (``all`` or ``*``: every provider).

For the named providers only, each attempt logs one ``request`` line before it is
sent and one ``response`` line after, on the ``polyroute.debug`` logger: metadata,
never the prompt or the answer (model, message and tool counts, prompt characters,
parameters; status, latency, tokens, finish reason, error class and its message).
Error messages are scrubbed of secrets (``polyroute.secrets.redact``) and, when
``privacy:`` is on, of personal data. ``POLYROUTE_LOG_FORMAT=json`` (or
``observability.log_format: json``) prints one JSON object per line.

When the application configured no handler for ``polyroute``, a stderr handler is
added to ``polyroute.debug`` (asking for debug output and seeing nothing helps no one);
an application that has its own logging set up keeps full control.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from polyroute.logs import get_logger
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment
from polyroute.secrets import redact
from polyroute.types import Attempt, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from polyroute.privacy.policy import PrivacyPolicy
    from polyroute.routing.context import RouterContext

__all__ = ["DebugGuard", "JsonFormatter", "debug_guard", "debug_providers"]

logger = get_logger("debug")
_FIELDS = "polyroute"  # the LogRecord attribute holding the structured fields


def debug_providers(configured: Iterable[str], env: str | None = None) -> frozenset[str]:
    """Provider names from the config plus ``POLYROUTE_DEBUG`` (comma-separated)."""
    raw = os.environ.get("POLYROUTE_DEBUG", "") if env is None else env
    names = {n.strip() for n in raw.split(",") if n.strip()} | {n.strip() for n in configured}
    return frozenset("*" if n.lower() in ("all", "*") else n for n in names if n)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 6), "level": record.levelname.lower(),
            "logger": record.name, "message": record.getMessage(),
        }
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def _ensure_handler(fmt: str) -> None:
    root = logging.getLogger("polyroute")
    if any(not isinstance(h, logging.NullHandler) for h in root.handlers + logger.handlers):
        return
    if logging.getLogger().handlers:  # the application configured the root logger
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s polyroute.debug %(message)s"))
    logger.addHandler(handler)


class DebugGuard(Guard):
    name = "debug"

    def __init__(self, providers: frozenset[str], *, fmt: str = "text",
                 privacy: PrivacyPolicy | None = None) -> None:
        self.providers = providers
        self.all = "*" in providers
        self.fmt = fmt
        self.privacy = privacy
        if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        _ensure_handler(fmt)

    def _wanted(self, dep: Deployment) -> bool:
        return self.all or dep.provider in self.providers

    def _clean(self, text: str | None) -> str | None:
        if not text:
            return text
        text = redact(text)
        if self.privacy is not None:
            text, _ = self.privacy.mask_text(text)
        return text

    def _emit(self, event: str, fields: dict[str, Any]) -> None:
        fields = {"event": event, **{k: v for k, v in fields.items() if v is not None}}
        if self.fmt == "json":
            logger.debug("%s %s", event, fields["provider"], extra={_FIELDS: fields})
        else:
            text = " ".join(f"{k}={v}" for k, v in fields.items() if k != "event")
            logger.debug("%s %s", event, text, extra={_FIELDS: fields})

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        if not self._wanted(dep):
            return None
        p = request.params
        chars = sum(len(m.text) for m in request.messages)
        self._emit("request", {
            "provider": dep.provider, "model": dep.model, "stream": request.stream,
            "messages": len(request.messages), "prompt_chars": chars,
            "tools": len(request.tools) or None, "temperature": p.temperature,
            "max_tokens": p.max_tokens, "agent": request.routing.agent,
            "response_format": request.response_format.type if request.response_format
            else None,
        })
        return time.perf_counter()

    def after_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any,
                      attempt: Attempt, response: ChatResponse | None) -> None:
        if ticket is None:
            return
        fields: dict[str, Any] = {
            "provider": dep.provider, "model": dep.model, "ok": attempt.ok,
            "latency_ms": round(attempt.latency_ms, 1), "status": attempt.status,
        }
        if response is not None:
            fields.update(response_model=response.response_model,
                          response_id=response.response_id,
                          finish_reason=response.finish_reason,
                          input_tokens=response.usage.input_tokens,
                          output_tokens=response.usage.output_tokens)
        if not attempt.ok:
            fields.update(error=attempt.error, message=self._clean(attempt.message),
                          retry_after=attempt.retry_after)
        self._emit("response", fields)

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if ticket is not None:
            self._emit("cancelled", {"provider": dep.provider, "model": dep.model})


def debug_guard(ctx: RouterContext) -> DebugGuard | None:
    providers = debug_providers(ctx.config.debug)
    if not providers:
        return None
    fmt = (os.environ.get("POLYROUTE_LOG_FORMAT") or ctx.config.observability.log_format
           or "text").lower()
    return DebugGuard(providers, fmt="json" if fmt == "json" else "text", privacy=ctx.privacy)
