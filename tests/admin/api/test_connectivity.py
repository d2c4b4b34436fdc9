"""``POST /providers/{id}/test`` and ``/models/{id}/test`` against OpenAI stand-ins on
loopback (so these apps allow private endpoints): the checks of ``polyroute test``,
stored as last_tested/test_result, limited per provider, and never run, with the key,
against an endpoint the SSRF guard refuses."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from admin_api_support import Api, error_shape

from polyroute.admin import Registry
from polyroute.testing.standin import StandinServer
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin
KEY = "sk-right-0123456789-abcd"


@pytest.fixture
def healthy() -> Iterator[StandinServer]:
    with StandinServer(OpenAIResponder(require_api_key=KEY)) as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local(sqlite_reg: Registry, make_api: Callable[..., Api], clock: Clock) -> Api:
    return make_api(sqlite_reg, allow_private_endpoints=True, tests_per_window=2,
                    test_window_s=60.0, clock=clock, test_timeout_s=10.0)


def add(api: Api, server: StandinServer, name: str = "acme", key: str = KEY) -> int:
    r = api.post("/providers", {"identifier": name, "provider_type": "openai",
                                "api_endpoint": server.url + "/v1", "api_key": key})
    assert r.status_code == 201, r.json()
    m = api.post(f"/providers/{name}/models", {"name": "gpt-4.1-mini", "is_default": True})
    return int(m.json()["id"])


def statuses(result: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["name"]: c["status"] for c in result["checks"]}


def test_a_healthy_provider_passes_and_the_result_is_stored(local: Api,
                                                            healthy: StandinServer) -> None:
    add(local, healthy)
    r = local.post("/providers/acme/test", role="operator")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["ok"] is True and body["model"] == "gpt-4.1-mini"
    assert set(statuses(body).values()) == {"pass"}
    stored = local.get("/providers/acme").json()
    assert stored["last_tested"] is not None
    assert stored["test_result"]["ok"] is True and stored["version"] == 2
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in healthy.requests)


def test_a_wrong_key_fails_the_auth_check(local: Api, healthy: StandinServer) -> None:
    add(local, healthy, key="sk-wrong-0123456789-zzzz")
    body = local.post("/providers/acme/test").json()
    assert body["ok"] is False
    checks = statuses(body)
    assert checks["connectivity"] == "pass" and checks["auth"] == "fail"
    assert "sk-wrong" not in str(body)


def test_a_model_test_uses_that_model_and_is_stored_on_it(local: Api,
                                                          healthy: StandinServer) -> None:
    add(local, healthy)
    other = local.post("/providers/acme/models", {"name": "gpt-4o-mini"}).json()["id"]
    assert local.get(f"/models/{other}").json()["last_tested"] is None
    body = local.post(f"/models/{other}/test").json()
    assert body["model"] == "gpt-4o-mini" and body["ok"] is True
    asked = [r.json()["model"] for r in healthy.requests if r.method == "POST"]
    assert asked and set(asked) == {"gpt-4o-mini"}
    stored = local.get(f"/models/{other}").json()
    assert stored["last_tested"] is not None and stored["test_result"]["ok"] is True
    assert stored["test_result"]["model"] == "gpt-4o-mini" and stored["version"] == 2
    assert local.get("/providers/acme").json()["last_tested"] is None  # the model's, not its


def test_tests_are_rate_limited_per_provider(local: Api, healthy: StandinServer,
                                             clock: Clock) -> None:
    add(local, healthy, "one")
    add(local, healthy, "two")
    assert local.post("/providers/one/test").status_code == 200
    assert local.post("/providers/one/test").status_code == 200
    r = local.post("/providers/one/test")
    assert r.status_code == 429
    error_shape(r.json())
    assert int(r.headers["Retry-After"]) >= 1
    assert local.post("/providers/two/test").status_code == 200  # its own budget
    clock.now += 61
    assert local.post("/providers/one/test").status_code == 200


def test_the_key_never_goes_to_an_endpoint_the_guard_refuses(local: Api,
                                                             healthy: StandinServer) -> None:
    add(local, healthy)
    local.settings.allow_private_endpoints = False  # the operator turned the setting off
    r = local.post("/providers/acme/test")
    assert r.status_code == 422 and r.json()["error"]["field"] == "api_endpoint"
    assert healthy.requests == []
    assert local.get("/providers/acme").json()["last_tested"] is None


def test_unknown_provider_or_model_is_404(local: Api) -> None:
    assert local.post("/providers/nope/test").status_code == 404
    assert local.post("/models/999/test").status_code == 404
