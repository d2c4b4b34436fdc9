"""Regenerate cassettes/llama_wire/ from the Llama API stand-in (no key, no network).

    .venv/bin/python plugins/polyroute-llama/tests/record_cassettes.py

Each cassette holds the request exactly as ``LlamaProvider.build_request`` makes it
(JSON serialised as the core transport does) and ``LlamaResponder``'s answer, with the
URL rewritten to https://api.llama.com/v1. ``make record`` against the real API with
``LLAMA_API_KEY`` replaces them; tests/conformance/test_conformance_cassettes.py checks
every cassette against llama-api-client's types either way.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from polyroute.providers.base import ProviderSettings
from polyroute.testing import drive
from polyroute.testing.chat import WEATHER, user
from polyroute.testing.standin import Fault, StandinServer
from polyroute_llama import LlamaProvider
from polyroute_llama.standin import LlamaResponder

OUT = Path(__file__).parents[3] / "cassettes" / "llama_wire"
MODEL = "Llama-4-Maverick-17B-128E-Instruct-FP8"
HEADER = """\
# Recorded from polyroute's Llama API stand-in (polyroute_llama.standin.LlamaResponder) by
# plugins/polyroute-llama/tests/record_cassettes.py, not from the live API. Shapes per
# https://llama.developer.meta.com/docs/api/chat.
# Checked against llama-api-client 0.6.0 (CreateChatCompletionResponse,
# CreateChatCompletionResponseStreamChunk, CompletionCreateParams) by
# tests/conformance/test_conformance_cassettes.py.
"""

CASES: dict[str, tuple[Any, bool, Fault | None]] = {
    "test_text_completion": (user("Hello!"), False, None),
    "test_streaming": (user("Tell me a short story about a llama"), True, None),
    "test_tool_call": (user("What is the weather in 'Menlo Park'?", tools=[WEATHER]), False,
                       None),
    "test_tool_call_streaming": (user("Weather in 'Lima'?", tools=[WEATHER]), True, None),
    "test_unauthorized_401": (user("Hello!"), False, Fault.status(401, message="Invalid API key")),
    "test_rate_limited_429": (user("Hello!"), False,
                              Fault.status(429, retry_after=7, message="Rate limit exceeded")),
    "test_server_error_500": (user("Hello!"), False,
                              Fault.status(500, message="Internal server error")),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with StandinServer(LlamaResponder()) as server:
        p = LlamaProvider(ProviderSettings(name="llama", type="llama", api_key="k-record",
                                           base_url=server.url + "/v1"))
        for name, (request, stream, fault) in CASES.items():
            if fault is not None:
                server.push(fault)
            req = p.build_request(request, MODEL, stream=stream)
            resp = drive.send(req)  # through polyroute's own Transport
            headers = {k: ["REDACTED" if k.lower() == "authorization" else v]
                       for k, v in req.headers.items()}
            doc = {"interactions": [{
                "request": {"body": json.dumps(req.json, separators=(",", ":"),
                                               ensure_ascii=False),
                            "headers": headers, "method": "POST",
                            "uri": "https://api.llama.com/v1/chat/completions"},
                "response": {"body": {"string": resp.content.decode()},
                             "headers": {k.lower(): [v] for k, v in resp.headers.items()
                                         if k.lower() in ("content-type", "x-request-id",
                                                          "retry-after")},
                             "status": {"code": resp.status,
                                        "message": HTTPStatus(resp.status).phrase}}}],
                "version": 1}
            (OUT / f"{name}.yaml").write_text(HEADER + yaml.safe_dump(
                doc, sort_keys=False, allow_unicode=True, width=10_000))


if __name__ == "__main__":
    main()
