"""``Transport(async_http="pyreqwest")``: one-shot async sends over pyreqwest (the optional
extra), the same answers and the same typed failures as over aiohttp; streams stay on
aiohttp; one client serves every event loop."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest
from resilience_helpers import ask

from polyroute.errors import (
    ConfigError,
    NoRouteError,
    ProviderConnectionError,
    ProviderTimeoutError,
    ServerError,
)
from polyroute.testing.standin import Fault, StandinServer
from polyroute.transport import Transport

pytest.importorskip("pyreqwest", reason="the pyreqwest extra is not installed")

ONE = {"agents": {"bot": {"model": "primary:m1"}}, "retry": {"attempts": 1}}


@pytest.fixture
def make(make_router: Any) -> Any:
    def build(**overrides: Any) -> Any:
        router = make_router(**{**ONE, **overrides})
        router.transport = Transport(async_http="pyreqwest")
        return router
    return build


def test_answers_from_two_event_loops_and_streams_still_work(
    make: Any, primary: StandinServer,
) -> None:
    router = make()
    assert router.transport._oneshot is not None  # sends go through pyreqwest
    assert asyncio.run(router.achat(ask("one"))).message.text == "primary says: one"
    assert asyncio.run(router.achat(ask("two"))).message.text == "primary says: two"

    async def stream() -> str:
        return "".join([c.text async for c in router.astream(ask("three"))])

    assert asyncio.run(stream()).strip() == "primary says: three"
    assert len(primary.requests) == 3


def test_the_request_reaches_the_server_as_built(make: Any, primary: StandinServer) -> None:
    router = make()
    asyncio.run(router.achat(ask("héllo \u2603")))
    sent = primary.requests[-1].json()
    assert sent["prompt"] == "héllo \u2603"  # UTF-8 JSON body, as built


@pytest.mark.parametrize(("fault", "error"), [
    (Fault.status(500), ServerError),
    (Fault.reset(), ProviderConnectionError),
    (Fault.hang(3.0), ProviderTimeoutError),
], ids=["500", "reset", "read-timeout"])
def test_failures_are_typed_provider_errors(
    make: Any, primary: StandinServer, fault: Fault, error: type[Exception],
) -> None:
    router = make(timeouts={"connect": 1, "read": 0.5, "total": 30})
    primary.push(fault)
    with pytest.raises(NoRouteError) as info:
        asyncio.run(router.achat(ask()))
    assert isinstance(info.value.last_error, error)
    primary.clear()
    assert asyncio.run(router.achat(ask("after"))).message.text == "primary says: after"


def test_nothing_listens_is_a_connection_error(make: Any) -> None:
    router = make(providers={"primary": {"type": "echo", "base_url": "http://127.0.0.1:9"}})
    with pytest.raises(NoRouteError) as info:
        asyncio.run(router.achat(ask()))
    assert isinstance(info.value.last_error, ProviderConnectionError)


def test_aclose_then_close_release_the_client(make: Any) -> None:
    router = make()
    asyncio.run(router.achat(ask()))

    async def closing() -> None:
        await router.transport.aclose()

    asyncio.run(closing())
    router.transport.close()  # twice, and from sync code: no error


def test_without_the_extra_the_error_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def no_pyreqwest(name: str, *args: Any, **kw: Any) -> Any:
        if name.startswith("pyreqwest") or name == "polyroute.transport_pyreqwest":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pyreqwest)
    monkeypatch.delitem(__import__("sys").modules, "polyroute.transport_pyreqwest",
                        raising=False)
    with pytest.raises(ConfigError) as info:
        Transport(async_http="pyreqwest")
    assert "polyroute[pyreqwest]" in str(info.value.fix)
