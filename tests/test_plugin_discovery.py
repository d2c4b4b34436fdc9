"""Third-party plugins: a distribution built here is discovered through its entry
point and routed to; a broken one is reported and skipped; the allow-list holds."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyroute.errors import PluginError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Reply, StandinRequest, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

PLUGIN_SOURCE = '''
from polyroute import hookimpl
from polyroute.providers import HttpRequest, Provider, error_class_for_status
from polyroute.types import ChatResponse, Message, ModelInfo, Capability

class ShoutProvider(Provider):
    """Answers in capitals; a whole provider plugin in twenty lines."""
    type_name = "shout"
    requires_api_key = False

    def build_request(self, request, model, *, stream):
        return HttpRequest("POST", self.base_url + "/shout",
                           json={"model": model, "text": request.messages[-1].text})

    def parse_response(self, response, model):
        return ChatResponse(message=Message.assistant(response.json()["text"].upper()))

    def parse_error(self, response, model):
        return error_class_for_status(response.status)(response.text, status=response.status)

    def stream_parser(self, model):
        raise NotImplementedError

@hookimpl
def polyroute_register_provider_types(register):
    register(ShoutProvider)

@hookimpl
def polyroute_register_models(register):
    register(ModelInfo(provider_type="shout", model="loud-1", context_window=1000,
                       capabilities=frozenset({Capability.SYSTEM_PROMPT})))
'''


def make_distribution(site: Path, dist: str, module: str, source: str, ep_name: str) -> None:
    """Lay a distribution out as an installer would: the module and its .dist-info."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[polyroute]\n{ep_name} = {module}\n")
    (info / "RECORD").write_text("")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    make_distribution(tmp_path, "polyroute-shout", "polyroute_shout", PLUGIN_SOURCE, "shout")
    make_distribution(
        tmp_path, "polyroute-broken", "polyroute_broken",
        "raise ImportError('needs libfoo, which is not installed')\n", "broken",
    )
    yield tmp_path
    for name in ("polyroute_shout", "polyroute_broken"):
        sys.modules.pop(name, None)


class ShoutResponder:
    def answer(self, request: StandinRequest) -> Reply:
        return Reply.json({"text": f"hello {request.json()['text']}"})

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return Reply.json({"error": message}, status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return b""


def test_third_party_distribution_is_discovered_and_routed_to(site: Path) -> None:
    registry = PluginRegistry.create()
    assert "shout" in registry.provider_types
    assert registry.provider_type_origin["shout"] == "shout"
    assert registry.model_info("shout", "loud-1") is not None
    with StandinServer(ShoutResponder()) as server:
        router = Router(
            {"providers": {"loud": {"type": "shout", "base_url": server.url}}},
            registry=registry,
        )
        resp = router.chat(ChatRequest(
            messages=[Message.user("world")], routing=RoutingHints(model="loud:loud-1")
        ))
    assert resp.message.text == "HELLO WORLD"
    assert (resp.provider, resp.model) == ("loud", "loud-1")


def test_plugin_failing_on_import_is_reported_and_skipped(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = PluginRegistry.create()
    assert [f.name for f in registry.failures] == ["broken"]
    failure = registry.failures[0]
    assert "ImportError" in failure.error and "libfoo" in failure.error
    assert "plugin 'broken'" in str(failure) and "skipped" in str(failure)
    assert "shout" in registry.provider_types  # the others still load
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_allow_list_env_limits_which_plugins_load(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "shout")
    registry = PluginRegistry.create()
    assert set(registry.provider_types) == {"shout"}
    assert registry.failures == []
    monkeypatch.setenv("POLYROUTE_PLUGINS", "")
    assert PluginRegistry.create().provider_types == {}


def test_first_party_plugins_register_through_the_same_entry_points() -> None:
    registry = PluginRegistry.create()
    assert {"openai", "anthropic"} <= set(registry.provider_types)
    assert registry.provider_type_origin["openai"] == "openai"
    assert "groq" in registry.templates


def test_two_plugins_claiming_one_type_name_is_a_plugin_error(site: Path) -> None:
    import polyroute_shout  # type: ignore[import-not-found]

    class Clash:
        @staticmethod
        def polyroute_register_provider_types(register):  # type: ignore[no-untyped-def]
            register(polyroute_shout.ShoutProvider.__class__("Other", (
                polyroute_shout.ShoutProvider,), {"type_name": "shout"}))

    from polyroute import hookimpl

    Clash.polyroute_register_provider_types = hookimpl(  # type: ignore[method-assign]
        Clash.polyroute_register_provider_types
    )
    with pytest.raises(PluginError, match="registered twice"):
        PluginRegistry.create(plugins=[Clash])
