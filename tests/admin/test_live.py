"""Live reload: a router over the registry follows committed changes, atomically."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from echo_provider import EchoResponder

from polyroute.admin import Registry
from polyroute.admin.live import LiveRouter, registry_fingerprint
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import Reply, StandinRequest, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from tests.admin.conftest import Db

SUPPORT = Path(__file__).resolve().parents[1] / "support"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ask(agent: str = "bot") -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent=agent))


def _seed(reg: Registry, primary: str, secondary: str) -> None:
    for ident, url in (("one", primary), ("two", secondary)):
        reg.create("provider", {"identifier": ident, "name": ident, "provider_type": "echo",
                                "api_endpoint": url}, actor="a")
        reg.add_model(ident, {"name": "m"}, actor="a")
    reg.create("route", {"name": "main", "tiers": [["one:m"]]}, actor="a")
    reg.create("agent", {"name": "bot", "route": "main"}, actor="a")


def _point_route_at(reg: Registry, ref: str) -> None:
    row = reg.get("route", "main")
    reg.update("route", "main", {"tiers": [[ref]]}, version=row.version, actor="a")


@pytest.fixture
def live_parts(
    reg: Registry, primary: StandinServer, secondary: StandinServer,
    echo_registry: PluginRegistry,
) -> Iterator[tuple[Registry, FakeClock, LiveRouter]]:
    _seed(reg, primary.url, secondary.url)
    clock = FakeClock()
    live = LiveRouter(reg, interval=3.0, clock=clock, plugins=echo_registry)
    yield reg, clock, live
    live.close()


def test_a_change_is_seen_once_the_interval_has_passed(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    reg, clock, live = live_parts
    assert live.chat(_ask()).provider == "one"
    _point_route_at(reg, "two:m")
    clock.now += 2.9  # inside the interval: no check yet, the old plan still serves
    assert live.chat(_ask()).provider == "one"
    clock.now += 0.1
    assert live.chat(_ask()).provider == "two"
    assert live.swaps == 1 and live.fingerprint == registry_fingerprint(reg)


def test_refresh_applies_a_change_at_once_and_is_a_no_op_without_one(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    reg, _, live = live_parts
    assert live.refresh() is False
    before = live.router
    _point_route_at(reg, "two:m")
    assert live.refresh() is True
    assert live.router is not before and [d.provider for d in live.plan(_ask()).candidates] == [
        "two"]


def test_a_started_live_router_checks_in_the_background(
    live_parts: tuple[Registry, FakeClock, LiveRouter], echo_registry: PluginRegistry,
) -> None:
    import time

    reg, _, _ = live_parts
    with LiveRouter(reg, interval=0.05, plugins=echo_registry).start() as live:
        _point_route_at(reg, "two:m")
        deadline = time.monotonic() + 60  # a guard against a hung test, not an assertion
        while live.swaps == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.swaps == 1 and live.chat(_ask()).provider == "two"
    assert live._watcher is not None and not live._watcher.is_alive()


def test_a_call_in_flight_finishes_on_the_plan_it_started_with(
    reg: Registry, secondary: StandinServer, echo_registry: PluginRegistry,
) -> None:
    arrived, release = threading.Event(), threading.Event()

    class Held(EchoResponder):
        def answer(self, request: StandinRequest) -> Reply:
            arrived.set()
            release.wait(60)  # a guard against a hung test, not a timing assertion
            return super().answer(request)

    with StandinServer(Held("held")) as held:
        _seed(reg, held.url, secondary.url)
        live = LiveRouter(reg, plugins=echo_registry)
        old = live.router
        result: dict[str, Any] = {}
        t = threading.Thread(target=lambda: result.update(r=live.chat(_ask())))
        t.start()
        assert arrived.wait(60)
        _point_route_at(reg, "two:m")
        assert live.refresh() is True
        # new calls take the new plan while the old call is still running
        assert live.chat(_ask()).provider == "two"
        assert old.transport._client is not None  # not closed under the running call
        release.set()
        t.join(60)
        assert result["r"].provider == "one" and result["r"].message.text.startswith("held says")
        assert old.transport._client is None  # closed once its last call ended
        live.close()


def test_a_stream_in_flight_keeps_its_router_until_it_ends(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    reg, _, live = live_parts
    chunks = live.stream(_ask())
    first = next(chunks)
    assert first.text
    _point_route_at(reg, "two:m")
    assert live.refresh() is True
    rest = "".join(c.text or "" for c in chunks)
    assert (first.text + rest).startswith("primary says")
    assert "".join(c.text or "" for c in live.stream(_ask())).startswith("secondary says")


async def test_async_calls_and_streams_follow_a_change(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    reg, clock, live = live_parts
    assert (await live.achat(_ask())).provider == "one"
    _point_route_at(reg, "two:m")
    clock.now += 3
    assert (await live.achat(_ask())).provider == "two"
    _point_route_at(reg, "one:m")
    clock.now += 3
    text = "".join([c.text or "" async for c in live.astream(_ask())])
    assert text.startswith("primary says")


def test_a_bad_interval_is_a_typed_error(sqlite_reg: Registry) -> None:
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="interval must be a positive number"):
            LiveRouter(sqlite_reg, interval=bad)


def test_a_bad_change_is_refused_at_write_time_and_never_applied(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    reg, _, live = live_parts
    row = reg.get("route", "main")
    with pytest.raises(ConfigError):
        reg.update("route", "main", {"tiers": []}, version=row.version, actor="a")
    assert live.refresh() is False
    assert live.chat(_ask()).provider == "one"


def test_a_registry_that_fails_to_build_keeps_the_last_good_router(
    live_parts: tuple[Registry, FakeClock, LiveRouter], caplog: pytest.LogCaptureFixture,
) -> None:
    reg, clock, live = live_parts
    good = live.router
    # valid on its own, but the credential it names is not stored: the config cannot build
    reg.create("provider", {"identifier": "three", "name": "three", "provider_type": "echo",
                            "auth_config": {"credential": "not-stored"}}, actor="a")
    with caplog.at_level(logging.WARNING, logger="polyroute.admin.live"):
        assert live.refresh() is False
    assert live.router is good and "not-stored" in str(live.last_error)
    assert "keeping the last good" in caplog.text
    assert live.chat(_ask()).provider == "one"
    clock.now += 3  # the same failing state is not rebuilt on every interval
    assert live.chat(_ask()).provider == "one"
    reg.put_credential("not-stored", "env:THREE_KEY", actor="a")  # fixed: applies
    assert live.refresh() is True and live.last_error is None


def test_a_live_router_is_a_router_for_the_adapters(
    live_parts: tuple[Registry, FakeClock, LiveRouter],
) -> None:
    langchain = pytest.importorskip("polyroute.langchain")
    reg, _, live = live_parts
    model = langchain.RoutedChatModel(router=live, agent="bot")
    assert model.invoke("hi").content.startswith("primary says")
    _point_route_at(reg, "two:m")
    live.refresh()
    assert model.invoke("hi").content.startswith("secondary says")


_CHILD = """
import sys, time
sys.path.insert(0, {support!r})
import echo_provider
from polyroute.admin import Registry, KeyRing
from polyroute.admin.live import LiveRouter
from polyroute.plugins import PluginRegistry
from polyroute.types import ChatRequest, Message, RoutingHints

reg = Registry({url!r})
reg.keyring = KeyRing([{key!r}])
plugins = PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])
live = LiveRouter(reg, interval=0.05, plugins=plugins)
ask = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))
print("ready", [d.provider for d in live.plan(ask).candidates], flush=True)
deadline = time.monotonic() + 90  # a guard against a hung test, not an assertion
while time.monotonic() < deadline:
    now = [d.provider for d in live.plan(ask).candidates]
    if now == ["two"]:
        print("changed", now, live.swaps, flush=True)
        break
    time.sleep(0.02)
live.close()
"""


def test_two_processes_sharing_one_postgresql_registry_both_pick_a_change_up(
    pg_db: Db, primary: StandinServer, secondary: StandinServer,
) -> None:
    from tests.admin import conftest

    reg = pg_db.registry()
    _seed(reg, primary.url, secondary.url)
    script = _CHILD.format(support=str(SUPPORT), url=pg_db.url, key=conftest.KEY)
    children = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.startswith("ready ['one']"), line + child.stderr.read()  # type: ignore[union-attr]
        _point_route_at(reg, "two:m")
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert out.startswith("changed ['two'] 1"), (out, err)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        reg.close()


def test_keys_rotate_while_a_live_router_serves_calls_fails_no_read(
    db: Db, primary: StandinServer, echo_registry: PluginRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner
    from cryptography.fernet import Fernet

    from polyroute.admin import KeyRing
    from polyroute.cli import main
    from tests.admin import conftest

    writer = db.registry()
    for i in range(12):
        writer.put_credential(f"k{i}", f"sk-test-{i:02d}-Q7wE3rT9yU1iO5pA2sD8", actor="a")
        writer.create("provider", {"identifier": f"p{i}", "name": f"p{i}",
                                   "provider_type": "echo", "api_endpoint": primary.url,
                                   "auth_config": {"credential": f"k{i}"}}, actor="a")
        writer.add_model(f"p{i}", {"name": "m"}, actor="a")
    writer.create("route", {"name": "main", "tiers": [["p0:m"], ["p11:m"]]}, actor="a")
    writer.create("agent", {"name": "bot", "route": "main"}, actor="a")
    new = Fernet.generate_key().decode()
    # step 1 of a rotation: every process gets the new key first, the old one still decrypts
    reader = db.registry()
    live = LiveRouter(reader, keyring=KeyRing([new, conftest.KEY]), plugins=echo_registry)
    writer.keyring = KeyRing([new, conftest.KEY])
    failures: list[BaseException] = []
    calls, done = [0], threading.Event()

    def serve() -> None:
        while True:
            finished = done.is_set()  # one more full round after rotation ends
            try:
                live.refresh(force=True)  # decrypts every credential, mid-rotation too
                assert live.chat(_ask()).provider == "p0"
                calls[0] += 1
            except BaseException as exc:  # every failure is the finding
                failures.append(exc)
            if finished:
                return

    t = threading.Thread(target=serve)
    t.start()
    monkeypatch.setenv("POLYROUTE_ADMIN_KEYS", f"{new},{conftest.KEY}")
    try:  # `polyroute keys rotate`, 6 short transactions of 2
        out = CliRunner().invoke(main, ["keys", "rotate", "--batch", "2", "--registry", db.url])
    finally:
        done.set()
        t.join(120)
    assert out.exit_code == 0 and "re-encrypted 12 credential(s)" in out.output, out.output
    assert failures == [] and calls[0] >= 1
    live.close()
    # step 3: the old key is dropped; everything reads with the new one alone
    writer.keyring = KeyRing([new])
    assert writer.reveal_credential("k11").endswith("D8")
    assert writer.verify_chain().ok
    writer.close()
    reader.close()


def test_a_key_added_to_the_key_file_mid_rotation_is_picked_up_without_a_restart(
    sqlite_reg: Registry, primary: StandinServer, echo_registry: PluginRegistry,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.fernet import Fernet

    from polyroute.admin import KeyRing, write_key_file
    from tests.admin import conftest

    key_file = write_key_file(tmp_path / "admin.key", [conftest.KEY])
    for name in ("POLYROUTE_ADMIN_KEY", "POLYROUTE_ADMIN_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLYROUTE_ADMIN_KEY_FILE", str(key_file))
    sqlite_reg.put_credential("k", "sk-test-00-Q7wE3rT9yU1iO5pA2sD8", actor="a")
    sqlite_reg.create("provider", {"identifier": "p", "name": "p", "provider_type": "echo",
                                   "api_endpoint": primary.url,
                                   "auth_config": {"credential": "k"}}, actor="a")
    sqlite_reg.add_model("p", {"name": "m"}, actor="a")
    reader = Registry(sqlite_reg.sessions)  # keys from the key file, read once
    live = LiveRouter(reader, plugins=echo_registry)
    new = Fernet.generate_key().decode()
    write_key_file(key_file, [new, conftest.KEY])  # `polyroute keys add`
    sqlite_reg.keyring = KeyRing([new, conftest.KEY])
    sqlite_reg.rotate_keys(actor="ops")
    assert live.refresh() is True and live.last_error is None
    assert reader.keyring is not None and reader.keyring.count == 2
    live.close()
