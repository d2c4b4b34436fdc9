"""Privacy through the router: what each provider receives (the stand-in records it),
refusals that fall back, and what the ledger keeps (counts, never values)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.privacy import PIIRefusedError
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints, TextPart, ToolResultPart

PROMPT = ("Refund card 4111 1111 1111 1111 for jane.doe@example.com, "
          "call +44 20 7946 0958")
VALUES = ("4111 1111 1111 1111", "jane.doe@example.com", "+44 20 7946 0958")


def config(primary: StandinServer, secondary: StandinServer,
           privacy: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "providers": {"external": {"type": "echo", "base_url": primary.url},
                      "local": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "external:m", "fallbacks": ["local:m"]}},
        "retry": {"attempts": 1},
        **more,
    }
    if privacy is not None:
        cfg["privacy"] = privacy
    return cfg


def ask(text: str = PROMPT) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def sent(server: StandinServer) -> list[str]:
    return [r.json()["prompt"] for r in server.requests]


def test_mask_replaces_each_value_in_what_the_provider_receives(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    with Router(config(primary, secondary, {}), registry=echo_registry) as router:
        request = ask()
        resp = router.chat(request)
    assert sent(primary) == ["Refund card [CARD] for [EMAIL], call [PHONE]"]
    assert resp.provider == "external"
    assert request.messages[0].text == PROMPT  # the caller's request is untouched


def test_without_a_privacy_section_nothing_is_changed(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    with Router(config(primary, secondary, None), registry=echo_registry) as router:
        router.chat(ask())
    assert sent(primary) == [PROMPT]


def test_refuse_for_the_external_provider_falls_back_to_the_allowed_local_one(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    privacy = {"mode": "refuse", "providers": {"local": "allow"}}
    with Router(config(primary, secondary, privacy), registry=echo_registry) as router:
        resp = router.chat(ask())
        clean = router.chat(ask("What is the capital of France?"))
    assert primary.requests[0].json()["prompt"] == "What is the capital of France?"
    assert len(primary.requests) == 1  # the PII prompt never reached it
    assert sent(secondary) == [PROMPT]
    assert resp.provider == "local" and clean.provider == "external"


def test_refused_everywhere_raises_a_typed_error_naming_kinds_not_values(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    with Router(config(primary, secondary, {"mode": "refuse"}),
                registry=echo_registry) as router, pytest.raises(PIIRefusedError) as info:
        router.chat(ask())
    assert primary.requests == [] and secondary.requests == []
    message = str(info.value)
    assert "card x1" in message and "email x1" in message and "phone x1" in message
    assert not any(v in message for v in VALUES)
    assert info.value.counts == {"card": 1, "email": 1, "phone": 1}


def test_a_streamed_call_is_masked_too(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    with Router(config(primary, secondary, {}), registry=echo_registry) as router:
        text = "".join(c.text for c in router.stream(ask()))
    assert "[CARD]" in text and not any(v in text for v in VALUES)


async def test_an_async_call_is_masked_too(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    async with Router(config(primary, secondary, {}), registry=echo_registry) as router:
        await router.achat(ask())
    assert sent(primary) == ["Refund card [CARD] for [EMAIL], call [PHONE]"]


def test_parts_and_tool_results_are_scanned(echo_registry: PluginRegistry) -> None:
    from polyroute.config.privacy import PrivacyConfig
    from polyroute.privacy import PrivacyPolicy

    policy = PrivacyPolicy(PrivacyConfig())
    request = ChatRequest(messages=[
        Message(role="user", content=[TextPart(text="mail jane@example.com")]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="1",
                                                     content="IBAN GB82WEST12345698765432")]),
    ])
    masked, counts = policy.scan(request)
    assert counts == {"email": 1, "iban": 1}
    dumped = masked.model_dump_json()
    assert "jane@example.com" not in dumped and "GB82WEST" not in dumped
    assert policy.scan(request)[0] is masked  # scanned once per request


def test_ledger_keeps_counts_and_masked_content_never_values(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    cfg = config(primary, secondary, {"providers": {"local": "allow"}},
                 ledger={"path": str(db), "store_content": True, "sync": True})
    with Router(cfg, registry=echo_registry) as router:
        router.chat(ask())
    with sqlite3.connect(db) as conn:
        redactions, prompt, answer = conn.execute(
            "SELECT redactions, prompt, answer FROM calls").fetchone()
        everything = "\n".join(str(v) for row in conn.execute("SELECT * FROM calls")
                               for v in row)
    assert json.loads(redactions) == {"card": 1, "email": 1, "phone": 1}
    assert "[CARD]" in prompt and "[EMAIL]" in answer
    assert not any(v in everything for v in VALUES)


def test_an_older_ledger_without_the_column_gets_it(tmp_path: Path) -> None:
    from polyroute.ledger.store import connect_ledger

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, ts REAL NOT NULL)")
        conn.execute("INSERT INTO calls VALUES ('a', 1.0)")
    conn = connect_ledger(db)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(calls)")}
    conn.close()
    assert "redactions" in cols


@pytest.mark.parametrize(("privacy", "field"), [
    ({"mode": "redact"}, "privacy.mode"),
    ({"providers": {"local": "maybe"}}, "privacy.providers.local"),
    ({"detectors": ["ssn"]}, "privacy.detectors.0"),
    ({"hook": "no-colon"}, "privacy.hook"),
])
def test_bad_privacy_config_names_the_field(privacy: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Router({"privacy": privacy})
    assert field in str(info.value)


def test_a_hook_that_cannot_be_imported_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"privacy\.hook"):
        Router({"privacy": {"hook": "no_such_module_xyz:find"}})


def test_the_cache_stores_no_exchange_holding_pii(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cfg = config(primary, secondary, {"providers": {"external": "allow"}},
                 cache={"directory": str(cache)})
    with Router(cfg, registry=echo_registry) as router:
        router.chat(ask())
        second = router.chat(ask())
        router.chat(ask("What is the capital of France?"))
        clean = router.chat(ask("What is the capital of France?"))
    assert not second.cache_hit and clean.cache_hit
    stored = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    assert not any(v.encode() in stored for v in VALUES)


def broken_hook(text: str) -> list[tuple[str, int, int]]:
    raise RuntimeError(f"boom on {text}")


def names_hook(text: str) -> list[tuple[str, int, int]]:
    i = text.find("Jane Doe")
    return [("person", i, i + 8)] if i >= 0 else []


def test_a_hook_adds_its_kind_to_what_is_masked(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    privacy = {"hook": f"{__name__}:names_hook"}
    with Router(config(primary, secondary, privacy), registry=echo_registry) as router:
        router.chat(ask("Jane Doe wrote from jane@example.com"))
    assert sent(primary) == ["[PERSON] wrote from [EMAIL]"]


def test_a_failing_hook_stops_the_call_and_sends_nothing(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    from polyroute.privacy import PrivacyHookError

    privacy = {"hook": f"{__name__}:broken_hook"}
    with Router(config(primary, secondary, privacy), registry=echo_registry) as router, \
            pytest.raises(PrivacyHookError) as info:
        router.chat(ask())
    assert primary.requests == [] and secondary.requests == []
    assert "4111 1111" not in str(info.value) and "boom" not in str(info.value)


def test_the_langchain_adapter_gets_the_same_masking(
        echo_registry: PluginRegistry, primary: StandinServer,
        secondary: StandinServer) -> None:
    pytest.importorskip("langchain_core")
    from polyroute.langchain import RoutedChatModel

    with Router(config(primary, secondary, {}), registry=echo_registry) as router:
        answer = RoutedChatModel(router=router, agent="bot").invoke(PROMPT)
    assert sent(primary) == ["Refund card [CARD] for [EMAIL], call [PHONE]"]
    assert not any(v in str(answer.content) for v in VALUES)
