"""End to end through ``polyroute.router.Router`` against the Bedrock stand-in (SigV4 verified)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from polyroute.testing.router_suite import FallbackPair, PairSetup
from polyroute.testing.routers import trail
from polyroute.testing.standin import Fault, Responder, StandinServer
from polyroute_bedrock import plugin as bedrock_plugin
from polyroute_bedrock.standin import BedrockResponder

pytestmark = pytest.mark.standin
AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"


class TestRouter(FallbackPair):
    plugin = bedrock_plugin
    model = HAIKU
    backup_model = NOVA
    names = ("east", "west")
    greeting = "Hello from the Bedrock stand-in: "
    min_retry_wait = 0.5

    def responder(self) -> Responder:
        return BedrockResponder(credentials=(AKID, SECRET))  # verifies the SigV4 signature

    def backup_responder(self) -> Responder:
        return BedrockResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        if name == "east":
            return {"type": "bedrock", "base_url": server.url, "extra": {
                "region": "us-east-1", "aws_access_key_id": AKID, "aws_secret_access_key": SECRET}}
        return {"type": "bedrock", "base_url": server.url,
                "api_key": "ABSK-west-key-0123456789", "extra": {"region": "us-west-2"}}

    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_signed_answer_with_cost(self, setup: PairSetup, mode: str) -> None:
        router = setup.router
        resp = router.chat(self.ask()) if mode == "sync" else asyncio.run(router.achat(self.ask()))
        assert trail(resp) == [("east", None, "answered")]
        assert resp.cost_usd is not None and resp.cost_usd > 0  # priced from the catalog
        assert setup.main.responder.auth_failures == []

    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_streamed_through_registered_framing(self, setup: PairSetup, mode: str) -> None:
        async def collect() -> list[Any]:
            return [c async for c in setup.router.astream(self.ask())]

        chunks = list(setup.router.stream(self.ask())) if mode == "sync" else asyncio.run(collect())
        assert "".join(c.text for c in chunks) == self.greeting + self.question
        assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None

    def test_model_not_ready_retried_then_falls_back(self, setup: PairSetup) -> None:
        not_ready = Fault.status(429, message="Model is not ready for inference.", headers={
            "x-amzn-errortype": "ModelNotReadyException:http://internal.amazon.com/coral/"})
        setup.main.push(not_ready, not_ready)
        resp = setup.router.chat(self.ask())
        assert (resp.provider, resp.model) == ("west", NOVA)
        assert trail(resp) == [("east", "OverloadedError", "retried"),
                               ("east", "OverloadedError", "fell_back"), ("west", None, "answered")]
        assert setup.backup.requests[-1].headers["authorization"].startswith("Bearer ")

    def test_in_stream_exception_before_output_is_retried_then_falls_back(
        self, setup: PairSetup,
    ) -> None:
        setup.main.push(Fault.in_band_error(after_chunks=0, message="stream failed"))
        chunks = list(setup.router.stream(self.ask()))
        assert "".join(c.text for c in chunks).startswith(self.greeting)
        assert trail(chunks[-1]) == [("east", "ServerError", "retried"),
                                     ("east", None, "answered")]
        setup.main.push(*[Fault.in_band_error(after_chunks=0, message="stream failed")] * 2)
        chunks = list(setup.router.stream(self.ask()))
        assert chunks[-1].provider == "west"
        assert trail(chunks[-1])[-1] == ("west", None, "answered")
