"""Vertex AI embeddings (``:predict``): the official ``google-genai`` SDK, in Vertex mode
(``vertexai=True``, a static OAuth token: no network, no Google auth), as the oracle.

Responses: ``client.models.embed_content`` is pointed at ``VertexEmbedResponder`` and
reads its vectors, token statistics and errors. Requests: for the same call (texts,
task type, output width, truncation), the SDK's wire path and body must be the ones
``VertexEmbedProvider`` builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

genai = pytest.importorskip("google.genai")
credentials = pytest.importorskip("google.oauth2.credentials")

from google.genai import errors, types

from polyroute.embed_types import EmbedRequest
from polyroute.providers.base import ProviderSettings
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Fault, StandinServer
from polyroute_gemini.vertex_embed import VertexEmbedProvider
from polyroute_gemini.vertex_embed_standin import VertexEmbedResponder

TOKEN = "ya29.conformance-token"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(VertexEmbedResponder()) as s:
        yield s


@pytest.fixture
def client(server: StandinServer) -> Any:
    return genai.Client(vertexai=True, project="proj-1", location="us-central1",
                        credentials=credentials.Credentials(token=TOKEN),
                        http_options=types.HttpOptions(
                            base_url=server.url, api_version="v1",
                            retry_options=types.HttpRetryOptions(attempts=1)))


CASES = {
    "plain": ({}, EmbedRequest(texts=["hello world", "two"])),
    "task, width, no truncation": (
        {"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 256, "auto_truncate": False},
        EmbedRequest(texts=["hello world", "two"], input_type="document", dimensions=256,
                     truncate="none")),
    "query, truncate at the end": (
        {"task_type": "RETRIEVAL_QUERY", "auto_truncate": True},
        EmbedRequest(texts=["where is it"], input_type="query", truncate="end")),
}


@pytest.mark.parametrize("case", CASES)
def test_the_sdk_sends_our_body_and_reads_our_answer(server: StandinServer, client: Any,
                                                     case: str) -> None:
    config, ours = CASES[case]
    model = "text-embedding-005"
    got = client.models.embed_content(model=model, contents=ours.texts,
                                      config=types.EmbedContentConfig(**config) if config
                                      else None)
    sent = server.requests[-1]
    built = VertexEmbedProvider(ProviderSettings(
        name="vx", type="vertex_gemini", api_key=TOKEN, project="proj-1",
        base_url=server.url)).build_embed_request(ours, model)
    assert sent.path == built.url.removeprefix(server.url)
    assert sent.json() == built.json
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    width = ours.dimensions or 768
    task = config.get("task_type")
    assert [e.values for e in got.embeddings] == [
        fake_vector(model, t, width, input_type=task) for t in ours.texts]
    assert [e.statistics.token_count for e in got.embeddings] == [
        len(t.split()) for t in ours.texts]


@pytest.mark.parametrize("status", [400, 401, 429, 503])
def test_the_sdk_classifies_our_errors(server: StandinServer, client: Any, status: int) -> None:
    server.push(Fault.status(status))
    with pytest.raises(errors.APIError) as info:
        client.models.embed_content(model="text-embedding-005", contents=["x"])
    assert info.value.code == status
    assert isinstance(info.value, errors.ClientError if status < 500 else errors.ServerError)
