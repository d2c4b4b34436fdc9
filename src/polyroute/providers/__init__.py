"""The provider contract and the helpers plugins share."""

from polyroute.providers.base import (
    HttpRequest,
    HttpResponse,
    Provider,
    ProviderSettings,
    ProviderTemplate,
    StreamEvent,
    StreamParser,
)
from polyroute.providers.classify import (
    error_class_for_status,
    parse_retry_after,
    request_id_from_headers,
)

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Provider",
    "ProviderSettings",
    "ProviderTemplate",
    "StreamEvent",
    "StreamParser",
    "error_class_for_status",
    "parse_retry_after",
    "request_id_from_headers",
]
