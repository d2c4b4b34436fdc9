"""``polyroute batch in.jsonl -o out.jsonl``: a JSONL batch that survives a crash.

Each input line is one request::

    {"id": "q1", "prompt": "Summarise ...", "agent": "support_agent"}
    {"id": "q2", "messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 50}}

Keys: ``id`` (a string or number; default ``line-N``), ``prompt`` or ``messages``,
``system``, ``agent``, ``task``, ``model``, ``params`` (temperature, max_tokens...),
``tags`` and ``priority``. Each output line is one finished row::

    {"id": "q1", "ok": true, "answer": "...", "provider": "openai", "model": "gpt-4.1", ...}
    {"id": "q7", "ok": false, "error": {"type": "RateLimitError", "message": "..."}}

**Resuming.** The output is append-only and each line is written whole and
``fsync``'d before the next row is counted as done. On start the rows already in
the output (by ``id``) are skipped; a line torn by a kill mid-write is cut off
first. So a ``kill -9`` followed by the same command again sends only the rows
not yet written: none is duplicated in the output, none is missing. (A row whose
answer arrived but was not yet written when the process died is sent again.)

A bad input line (not JSON, unknown key, no prompt) becomes that row's error,
``BatchInputError``; two lines with one ``id`` refuse the whole batch up front,
since a resume could not tell them apart.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from polyroute.errors import NoRouteError, PolyrouteError
from polyroute.router.batch import NotSent, Outcome, check_estimate, estimate_batch, run_batch
from polyroute.secrets import redact
from polyroute.types import ChatRequest, ChatResponse, GenerationParams, Message, RoutingHints

if TYPE_CHECKING:
    from polyroute.router.batch import BatchEstimate
    from polyroute.router.core import Router

__all__ = ["BatchInputError", "BatchSummary", "parse_rows", "read_done", "run_file"]

_KEYS = {"id", "prompt", "messages", "system", "agent", "task", "model", "params", "tags",
         "priority"}
_MAX_ID = 200


class BatchInputError(PolyrouteError):
    """An input row that cannot be sent (or ids that make the batch unresumable)."""


@dataclass
class Row:
    id: str
    line: int
    request: ChatRequest | None = None
    error: BatchInputError | None = None


@dataclass
class BatchSummary:
    total: int
    skipped_done: int
    answered: int = 0
    failed: int = 0
    not_sent: int = 0
    spent_usd: float = 0.0
    estimate: BatchEstimate | None = None
    errors: dict[str, int] = field(default_factory=dict)
    """Failed rows per error type."""


def _row_id(data: Mapping[str, Any], line: int) -> str:
    raw = data.get("id")
    if raw is None:
        return f"line-{line}"
    if isinstance(raw, bool) or not isinstance(raw, str | int) or not str(raw).strip():
        raise BatchInputError(f"line {line}: 'id' must be a non-empty string or a whole "
                              f"number, got {raw!r:.60}")
    if len(str(raw)) > _MAX_ID:
        raise BatchInputError(f"line {line}: 'id' is longer than {_MAX_ID} characters")
    return str(raw)


def _request(data: Mapping[str, Any], line: int, defaults: Mapping[str, Any]) -> ChatRequest:
    unknown = set(data) - _KEYS
    if unknown:
        raise BatchInputError(f"line {line}: unknown key(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(_KEYS))})")
    targets = ("agent", "task", "model")
    if any(data.get(k) for k in targets):  # a row that names its target keeps it whole
        defaults = {k: v for k, v in defaults.items() if k not in targets}
    merged = {**defaults, **data}
    messages: list[Message] = []
    if merged.get("system") is not None:
        messages.append(Message(role="system", content=str(merged["system"])))
    if "messages" in data:
        raw = data["messages"]
        if not isinstance(raw, list) or not raw:
            raise BatchInputError(f"line {line}: 'messages' must be a non-empty list")
        messages += [Message.model_validate(m) for m in raw]
    elif isinstance(data.get("prompt"), str) and data["prompt"]:
        messages.append(Message(role="user", content=data["prompt"]))
    else:
        raise BatchInputError(f"line {line}: give 'prompt' (a non-empty string) or 'messages'")
    tags = merged.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise BatchInputError(f"line {line}: 'tags' must map names to strings")
    tags = dict(tags)
    if merged.get("priority") is not None:
        tags["priority"] = str(merged["priority"])
    routing = RoutingHints(agent=merged.get("agent"), task=merged.get("task"),
                           model=merged.get("model"), tags=tags)
    params = GenerationParams.model_validate(merged.get("params") or {})
    return ChatRequest(messages=messages, params=params, routing=routing)


def parse_rows(lines: list[str], defaults: Mapping[str, Any] | None = None) -> list[Row]:
    """Input lines as rows; a bad line is a row with an ``error``. Raises
    ``BatchInputError`` when two rows share an id."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise BatchInputError(f"line {n}: a row is a JSON object, got "
                                      f"{type(data).__name__}")
        except (ValueError, BatchInputError) as exc:
            err = exc if isinstance(exc, BatchInputError) else BatchInputError(
                f"line {n}: not JSON ({exc})")
            rows.append(Row(f"line-{n}", n, error=err))
            continue
        try:
            rid = _row_id(data, n)
        except BatchInputError as exc:
            rows.append(Row(f"line-{n}", n, error=exc))
            continue
        if rid in seen:
            raise BatchInputError(f"lines {seen[rid]} and {n} share the id {rid!r}: a resumed "
                                  "batch could not tell them apart — give each row its own id")
        seen[rid] = n
        try:
            rows.append(Row(rid, n, request=_request(data, n, defaults or {})))
        except BatchInputError as exc:
            rows.append(Row(rid, n, error=exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            rows.append(Row(rid, n, error=BatchInputError(
                f"line {n}: {where or 'row'}: {first['msg']}")))
    return rows


def read_done(path: Path) -> set[str]:
    """Ids already in the output; a torn last line (a kill mid-write) is cut off."""
    if not path.exists():
        return set()
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):  # the torn tail was never counted as done: drop it
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    done: set[str] = set()
    for n, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            done.add(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            raise BatchInputError(f"{path}: line {n} is not a batch output row; refusing to "
                                  "append to a file this command did not write") from None
    return done


def outcome_row(row_id: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, ChatResponse):
        return {
            "id": row_id, "ok": True, "answer": outcome.message.text,
            "provider": outcome.provider, "model": outcome.model,
            "finish_reason": outcome.finish_reason, "cost_usd": outcome.cost_usd,
            "latency_ms": round(outcome.latency_ms, 3), "cache_hit": outcome.cache_hit,
            "usage": {"input_tokens": outcome.usage.input_tokens,
                      "output_tokens": outcome.usage.output_tokens},
            "attempts": len(outcome.attempts), "call_id": outcome.call_id,
            "experiment": outcome.experiment, "variant": outcome.variant,
        }
    error = {"type": type(outcome).__name__, "message": redact(str(outcome))}
    cause = outcome.last_error if isinstance(outcome, NoRouteError) else None
    if cause is not None:  # what the last candidate failed with, for grouping by kind
        error["cause"] = type(cause).__name__
    return {"id": row_id, "ok": False, "error": error}


class _Writer:
    """Appends whole lines, each flushed and fsync'd before the row counts as done."""

    def __init__(self, f: IO[str]) -> None:
        self._f = f
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()
            os.fsync(self._f.fileno())


def run_file(router: Router, in_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
             *, concurrency: int = 8, priority: str | int = "low",
             max_cost_usd: float | None = None, defaults: Mapping[str, Any] | None = None,
             on_start: Callable[[BatchSummary], None] | None = None,
             on_row: Callable[[BatchSummary], None] | None = None) -> BatchSummary:
    """Run the JSONL batch ``in_path`` into ``out_path`` (resuming it if it exists).
    ``on_start`` sees the summary before any call, ``on_row`` after each row."""
    lines = Path(in_path).read_text(encoding="utf-8").splitlines()
    rows = parse_rows(lines, defaults)
    out = Path(out_path)
    done = read_done(out)
    pending = [r for r in rows if r.id not in done]
    summary = BatchSummary(total=len(rows), skipped_done=len(rows) - len(pending))
    sendable = [r for r in pending if r.request is not None]
    requests = [r.request for r in sendable if r.request is not None]
    summary.estimate = (check_estimate(router, requests, max_cost_usd)
                        or estimate_batch(router, requests))
    if on_start is not None:
        on_start(summary)
    lock = threading.Lock()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        writer = _Writer(f)

        def finish(row_id: str, outcome: Outcome) -> None:
            if isinstance(outcome, NotSent):  # left for a later run: not written, not done
                with lock:
                    summary.not_sent += 1
                return
            writer.write(outcome_row(row_id, outcome))
            with lock:
                if isinstance(outcome, ChatResponse):
                    summary.answered += 1
                    summary.spent_usd += outcome.cost_usd or 0.0
                else:
                    summary.failed += 1
                    name = type(outcome).__name__
                    summary.errors[name] = summary.errors.get(name, 0) + 1
            if on_row is not None:
                on_row(summary)

        for r in pending:
            if r.error is not None:
                finish(r.id, r.error)
        run_batch(router, requests, concurrency=concurrency, priority=priority,
                  max_cost_usd=max_cost_usd,
                  on_result=lambda i, outcome: finish(sendable[i].id, outcome))
    return summary
