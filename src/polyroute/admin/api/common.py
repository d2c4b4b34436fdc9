"""What every resource router shares: ETag/If-Match on the row version, pagination,
the request's actor and id, and row-to-response views."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request, Response

from polyroute.admin.api.errors import ApiError
from polyroute.admin.api.schemas import Page

__all__ = [
    "MAX_PAGE", "IfMatch", "Paging", "actor", "etag", "if_match", "page", "request_id", "set_etag",
]

T = TypeVar("T")
MAX_PAGE = 200
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


IfMatch = Annotated[str | None, Header(
    alias="If-Match", description="The ETag from a GET of this resource (required).")]


def if_match(value: str | None) -> int:
    """The version an ``If-Match`` header names: 428 without one, 412 when unreadable."""
    if value is None or not value.strip():
        raise ApiError(428, "precondition_required",
                       "a change must name the version it is based on (If-Match)",
                       field="If-Match",
                       suggestions=["GET the resource, then send its ETag as If-Match"])
    match = _ETAG.match(value.split(",")[0])
    if match is None:
        raise ApiError(412, "precondition_failed",
                       "If-Match is not an ETag this API issued (use the ETag header of a GET; "
                       "'*' is not accepted)", field="If-Match",
                       suggestions=["GET the resource, then send its ETag as If-Match"])
    return int(match.group(1))


class _Paging:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")] = 50,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1,
                                     description="Items to skip (next_offset of the last page).")
                          ] = 0,
    ) -> None:
        self.limit, self.offset = limit, offset


Paging = Annotated[_Paging, Depends()]


def page(items: Sequence[Any], paging: _Paging, view: Callable[[Any], T]) -> Page[Any]:
    chunk = items[paging.offset: paging.offset + paging.limit]
    end = paging.offset + len(chunk)
    return Page[Any](items=[view(i) for i in chunk], total=len(items), limit=paging.limit,
                   offset=paging.offset, next_offset=end if end < len(items) else None)


def listed(rows: Sequence[Any], total: int, paging: _Paging, view: Callable[[Any], T]
           ) -> Page[Any]:
    """A page the database already cut (``rows`` is the page, ``total`` the filtered count)."""
    end = paging.offset + len(rows)
    return Page[Any](items=[view(i) for i in rows], total=total, limit=paging.limit,
                   offset=paging.offset, next_offset=end if end < total else None)


def request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else None


def actor(request: Request) -> str:
    who = getattr(request.state, "principal", None)
    return str(who.name) if who is not None else "anonymous"
