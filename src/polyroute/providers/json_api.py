"""Request and response plumbing every JSON-over-HTTP provider repeats.

Headers with a bearer key, the POST of a chat body (streamed or not), the GET
of a model list, the "this 2xx body is not JSON" guard and reading a model
list: small, but written the same way in every plugin, and each copy is a
place for a key to leak or a malformed body to escape untyped. Still sans-IO:
these describe requests and read bytes; the core's transport sends them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.errors_table import error_json

__all__ = [
    "answered", "bearer_headers", "get_request", "json_body", "model_items", "model_names",
    "post_json",
]


def bearer_headers(key: str | None, extra: Mapping[str, str] = {}, *,
                   accept: str | None = "application/json") -> dict[str, str]:
    """JSON request headers with ``key`` (if any) as ``Authorization: Bearer``, then
    ``extra`` (the provider's configured ``headers``, which win). Never log them."""
    headers = {"content-type": "application/json"}
    if accept:
        headers["accept"] = accept
    if key:
        headers["Authorization"] = f"Bearer {key}"
    headers.update(extra)
    return headers


def post_json(url: str, headers: Mapping[str, str], body: Any, *, stream: bool,
              framing: str = "sse", stream_accept: bool = True) -> HttpRequest:
    """The POST of a chat ``body``; a streamed one is framed by ``framing`` and, with
    ``stream_accept``, asks for ``text/event-stream``."""
    if stream and stream_accept:
        headers = {**headers, "accept": "text/event-stream"}
    return HttpRequest(method="POST", url=url, headers=dict(headers), json=body,
                       framing=framing if stream else None)


def get_request(url: str, headers: Mapping[str, str]) -> HttpRequest:
    """A GET (a model list, a health probe) with ``headers`` minus ``content-type``."""
    return HttpRequest("GET", url,
                       headers={k: v for k, v in headers.items() if k != "content-type"})


def json_body(response: HttpResponse, *, provider: str, model: str, endpoint: str,
              request_id: str | None = None) -> Any:
    """A 2xx body as JSON; ``InvalidResponseError`` ("``endpoint`` answered 200 with a
    body that is not JSON") if it is not, or is nested too deeply to read."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        raise InvalidResponseError(
            f"{endpoint} answered {response.status} with a body that is not JSON",
            provider=provider, model=model, status=response.status, request_id=request_id,
        ) from None


@contextmanager
def answered(response: HttpResponse, request_id: str | None = None) -> Iterator[None]:
    """An ``InvalidResponseError`` raised by a body parser inside the block carries the
    response's status (and ``request_id`` when it has none): the parsers see only JSON."""
    try:
        yield
    except InvalidResponseError as exc:
        exc.status = response.status
        exc.request_id = exc.request_id or request_id
        raise


def model_items(response: HttpResponse, key: str, *, provider: str,
                message: str | None = None) -> list[Any]:
    """The ``key`` array of a model-list body; ``InvalidResponseError`` (``message``, by
    default "model list has no '<key>' array") when the body has none."""
    data = error_json(response.content)
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidResponseError(message or f"model list has no '{key}' array",
                                   provider=provider, status=response.status)
    return items


def model_names(items: list[Any], field: str = "id",
                keep: Callable[[dict[str, Any]], bool] | None = None) -> list[str]:
    """The string ``field`` of each object in ``items`` that ``keep`` (if given) accepts."""
    return [item[field] for item in items
            if isinstance(item, dict) and isinstance(item.get(field), str)
            and (keep is None or keep(item))]
