"""Error classes: the names config uses for kinds of failure (``retry.by_error``,
``breaker.count``, failover reasons)."""

from __future__ import annotations

from polyroute import errors as e

__all__ = ["class_of_name", "error_class"]

# Most specific first: a subclass is matched before its parent.
_ORDER: tuple[tuple[type[e.ProviderError], str], ...] = (
    (e.QuotaExceededError, "quota"),
    (e.RateLimitError, "rate_limit"),
    (e.OverloadedError, "overloaded"),
    (e.ServerError, "server"),
    (e.ProviderTimeoutError, "timeout"),
    (e.ProviderConnectionError, "connection"),
    (e.StreamInterruptedError, "stream"),
    (e.InvalidResponseError, "invalid_response"),
    (e.AuthenticationError, "auth"),
    (e.NotFoundError, "not_found"),
    (e.ContextWindowError, "context_window"),
    (e.BadRequestError, "bad_request"),
    (e.ContentPolicyError, "content_policy"),
)
_BY_TYPE: dict[type[BaseException], str] = {}
_BY_NAME: dict[str, str] = {cls.__name__: name for cls, name in _ORDER}


def error_class(exc: BaseException) -> str:
    """``RateLimitError`` → ``rate_limit`` … (``other`` for anything unclassified)."""
    t = type(exc)
    name = _BY_TYPE.get(t)
    if name is None:
        name = next((n for cls, n in _ORDER if isinstance(exc, cls)), "other")
        _BY_TYPE[t] = name
    return name


def class_of_name(error_name: str | None) -> str:
    """The class of an ``Attempt.error`` (an exception class name)."""
    if error_name is None:
        return "ok"
    name = _BY_NAME.get(error_name)
    if name is None:
        cls = getattr(e, error_name, None)
        name = (
            next((n for c, n in _ORDER if issubclass(cls, c)), "other")
            if isinstance(cls, type) else "other"
        )
        _BY_NAME[error_name] = name
    return name
