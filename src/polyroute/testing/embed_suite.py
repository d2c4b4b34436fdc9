"""``StandinEmbedSuite``: the embedding scenarios every provider plugin runs against its
stand-in (subclass it in the plugin's tests and fill the class attributes).

Two stand-ins of the plugin serve the same model, so they are one embedding space:
order and cost, splitting by the documented per-request input limit, same-space
failover after a refusal, a 429 retried, an error classified, and no request to
any endpoint but the embeddings one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from polyroute.errors import BadRequestError, NoRouteError
from polyroute.router import Router
from polyroute.testing.routers import router_for
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer

__all__ = ["StandinEmbedSuite"]


class StandinEmbedSuite:
    plugin: ClassVar[object]
    responder: ClassVar[type[Any]]
    """The stand-in responder class (built with no arguments)."""
    provider_type: ClassVar[str]
    model: ClassVar[str]
    space_prefix: ClassVar[str]
    """``EmbeddingSpace.model`` the plugin's catalog gives ``model``."""
    embed_path: ClassVar[str]
    """The path every request must go to (never a chat endpoint)."""
    max_inputs: ClassVar[int | None] = None
    priced: ClassVar[bool | None] = True
    """``True``: the catalog prices the model; ``False``: free (cost 0, a local model);
    ``None``: no per-token price is known (cost ``None``, counted as unpriced)."""
    url_suffix: ClassVar[str] = ""
    provider_extra: ClassVar[dict[str, Any]] = {}

    split_dimensions: ClassVar[int | None] = None
    """A short width for the big split test, where the model offers one (speed)."""

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        raise NotImplementedError

    # --- fixtures ----------------------------------------------------------------------

    @pytest.fixture
    def servers(self) -> Iterator[tuple[StandinServer, StandinServer]]:
        with StandinServer(self.responder()) as a, StandinServer(self.responder()) as b:
            yield a, b

    @pytest.fixture
    def sleeps(self) -> SleepRecorder:
        return SleepRecorder()

    @pytest.fixture
    def router(self, servers: tuple[StandinServer, StandinServer],
               sleeps: SleepRecorder) -> Iterator[Router]:
        a, b = servers
        cfg = {
            "providers": {
                name: {"type": self.provider_type, "base_url": s.url + self.url_suffix,
                       "api_key": f"key-{name}", **self.provider_extra}
                for name, s in (("first", a), ("second", b))},
            "embeddings": {"default": "r", "routes": {"r": {
                "deployments": [f"first/{self.model}", f"second/{self.model}"]}}},
        }
        with router_for(cfg, self.plugin, sleeps=sleeps) as router:
            yield router

    # --- scenarios ---------------------------------------------------------------------

    def test_embeds_in_input_order_with_space_and_cost(
            self, router: Router, servers: tuple[StandinServer, StandinServer]) -> None:
        texts = ["the first text", "second", "and a third one"]
        resp = router.embed(texts, input_type="document")
        assert resp.vectors == [self.expected(t, "document") for t in texts]
        assert resp.space.startswith(self.space_prefix + "@")
        assert resp.provider == "first"
        assert resp.usage.input_tokens > 0
        if self.priced is None:
            assert resp.cost_usd is None
        else:
            assert resp.cost_usd is not None
            assert (resp.cost_usd > 0) is self.priced
        assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5)
                   for v in resp.vectors)

    def test_batches_split_by_the_documented_input_limit(
            self, router: Router, servers: tuple[StandinServer, StandinServer]) -> None:
        if self.max_inputs is None:
            pytest.skip("the provider documents no per-request input limit")
        n = self.max_inputs * 2 + 1
        texts = [f"text {i}" for i in range(n)]
        dims = self.split_dimensions
        resp = router.embed(texts, dimensions=dims)
        assert len(servers[0].requests) == 3
        assert resp.vectors == [self.expected(t, None, dims) for t in texts]

    def test_same_space_failover_after_a_refusal(
            self, router: Router, servers: tuple[StandinServer, StandinServer]) -> None:
        servers[0].push(Fault.status(401))
        resp = router.embed(["hello"])
        assert resp.provider == "second"
        assert resp.vectors == [self.expected("hello", None)]
        assert [(a.provider, a.ok) for a in resp.attempts] == [("first", False),
                                                                ("second", True)]

    def test_a_rate_limit_is_retried(self, router: Router, sleeps: SleepRecorder,
                                     servers: tuple[StandinServer, StandinServer]) -> None:
        servers[0].push(Fault.status(429, retry_after=0.5))
        resp = router.embed(["hello"])
        assert resp.provider == "first" and len(sleeps.waits) == 1
        assert [a.error for a in resp.attempts] == ["RateLimitError", None]

    def test_errors_are_classified_and_never_reach_a_chat_endpoint(
            self, router: Router, servers: tuple[StandinServer, StandinServer]) -> None:
        for s in servers:
            s.push(Fault.status(400))
        with pytest.raises(NoRouteError) as info:
            router.embed(["hello"])
        assert all(isinstance(o.error, BadRequestError) for o in info.value.outcomes)
        for s in servers:
            assert [r.path.split("?")[0] for r in s.requests] == [self.embed_path]
