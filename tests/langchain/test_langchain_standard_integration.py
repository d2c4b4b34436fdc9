"""langchain-tests' standard integration tests for ``RoutedChatModel``, replayed offline.

Every HTTP exchange is replayed from ``cassettes/langchain_standard_integration/``
(pytest-recording; the default record mode ``none`` never touches the network).

The cassettes are recorded by ``tests/langchain/record_cassettes.py``, which
runs this module against polyroute's OpenAI-format stand-in with
``POLYROUTE_RECORD_VIA_STANDIN=<url>``: the provider's ``base_url`` then points
at the stand-in and ``before_record_request`` rewrites each recorded URI back
to ``https://api.openai.com/v1/...`` so that replay matches. To re-record
against the real API instead::

    OPENAI_API_KEY=... pytest tests/langchain/test_langchain_standard_integration.py \\
        --record-mode=once

The one image the image tests download is served from a local file
(``_LocalImage``), so recording never needs anything but the model endpoint.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard

from polyroute.langchain import RoutedChatModel

pytestmark = pytest.mark.vcr

STANDIN_ENV = "POLYROUTE_RECORD_VIA_STANDIN"
OPENAI_ORIGIN = "https://api.openai.com"
FAKE_KEY = "sk-test-polyroute-cassettes-0000"



def _standin_url() -> str | None:
    url = os.environ.get(STANDIN_ENV, "").strip().rstrip("/")
    return url or None


def _rewrite_to_openai(request: Any) -> Any:
    """Record stand-in requests as if they went to api.openai.com (for replay matching)."""
    standin = _standin_url()
    if standin and request.uri.startswith(standin):
        origin = urlsplit(OPENAI_ORIGIN)
        parts = urlsplit(request.uri)
        request.uri = urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, ""))
        if "host" in request.headers:
            request.headers["host"] = origin.netloc
    return request


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _stable_tool_call_ids(request: Any) -> Any:
    """Replace random UUID tool-call ids (``tool_example_to_messages`` makes them) with
    ``uuid-<n>`` in order of appearance, so the same conversation matches on replay.
    vcr applies this to the recorded request and to each request being matched."""
    body = request.body
    if isinstance(body, bytes) and _UUID.search(body):
        seen: dict[bytes, bytes] = {}
        request.body = _UUID.sub(
            lambda m: seen.setdefault(m.group(0), b"uuid-%d" % len(seen)), body
        )
    return request


def _before_record_request(request: Any) -> Any:
    return _stable_tool_call_ids(_rewrite_to_openai(request))


@pytest.fixture(scope="module")
def vcr_config(vcr_config: dict[str, Any]) -> dict[str, Any]:
    # The root config (scrubbing, matching on method/host/path/body) plus the URI
    # rewrite; repeats are allowed for test_stream_time's benchmark rounds.
    return {
        **vcr_config,
        "before_record_request": _before_record_request,
        "allow_playback_repeats": True,
    }


def _png(width: int = 8, height: int = 8) -> bytes:
    """A small, valid, deterministic RGB PNG (a colour gradient)."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 32, y * 32, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    )


class _LocalImage:
    """Stands in for the ``httpx`` module inside langchain-tests' image tests.

    Those tests download a PNG from GitHub before calling the model; here the
    download is answered with ``_png()`` and every other attribute is httpx's.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(httpx, name)

    @staticmethod
    def get(url: str, **_: Any) -> httpx.Response:
        return httpx.Response(200, content=_png(), request=httpx.Request("GET", url))


@pytest.fixture(autouse=True)
def _local_image(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(standard, "httpx", _LocalImage())
    yield


class TestRoutedChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[RoutedChatModel]:
        return RoutedChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        standin = _standin_url()
        return {
            "model": "openai:gpt-4.1-mini",
            "api_key": FAKE_KEY if standin else os.environ.get("OPENAI_API_KEY", FAKE_KEY),
            "base_url": f"{standin}/v1" if standin else f"{OPENAI_ORIGIN}/v1",
            "max_retries": 0,
        }

    @property
    def model_override_value(self) -> str:
        return "gpt-4.1-nano"

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def enable_vcr_tests(self) -> bool:
        return True

