"""Cassette scrubbing for vcrpy / pytest-recording: what the repo's ``vcr_config`` uses.

Request headers carrying credentials are replaced by ``REDACTED``; so are response
headers naming the account. Bodies are scrubbed too, both ways: a 401 body often
echoes the key it was sent ("Incorrect API key provided: sk-..."), and
``polyroute.secrets.redact`` masks every key polyroute revealed during the run and
every key-shaped token. Binary bodies (AWS event streams) are left as recorded:
masking inside a CRC-checked frame would corrupt it; the repo's cassette scan
(tests/test_secrets.py) checks them instead.
"""

from __future__ import annotations

from typing import Any

from polyroute.secrets import mask_url, redact

__all__ = [
    "SCRUB_REQUEST_HEADERS", "SCRUB_RESPONSE_HEADERS", "scrub_body", "scrub_request",
    "scrub_response", "vcr_config",
]

SCRUB_REQUEST_HEADERS = [
    "authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie",
    "openai-organization", "openai-project", "x-amz-security-token", "x-amz-date",
    "x-amz-content-sha256",
]
SCRUB_RESPONSE_HEADERS = {
    "set-cookie", "openai-organization", "openai-project", "anthropic-organization-id",
    "x-amz-id-2", "cf-ray",
}


def scrub_body(body: Any) -> Any:
    """A recorded body (``bytes`` or ``str``) with secrets masked; binary left alone."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        clean = redact(text)
        return body if clean == text else clean.encode("utf-8")
    if isinstance(body, str):
        return redact(body)
    return body


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response``: account headers replaced, every header value and
    the body scrubbed of secrets."""
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() in SCRUB_RESPONSE_HEADERS:
            headers[name] = ["REDACTED"]
        else:
            values = headers[name]
            headers[name] = ([redact(str(v)) for v in values] if isinstance(values, list)
                             else redact(str(values)))
    body = response.get("body")
    if isinstance(body, dict) and "string" in body:
        body["string"] = scrub_body(body["string"])
    return response


def scrub_request(request: Any) -> Any:
    """``before_record_request``: a key pasted into the body or the URL is masked too
    (``filter_headers`` only covers the named headers)."""
    if getattr(request, "body", None) is not None:
        request.body = scrub_body(request.body)
    if isinstance(getattr(request, "uri", None), str):
        request.uri = mask_url(request.uri)
    return request


def vcr_config() -> dict[str, Any]:
    """The ``vcr_config`` fixture's value (no ``record_mode``: the command line decides)."""
    return {
        "filter_headers": [(h, "REDACTED") for h in SCRUB_REQUEST_HEADERS],
        "filter_query_parameters": [("key", "REDACTED")],
        "decode_compressed_response": True,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
    }
