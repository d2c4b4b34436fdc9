"""``RoutedChatModel.from_config`` and ``RoutedLLM.from_config`` validate the config
when they are built (like ``Router.from_config``), not at the first call, and take
a config held in code (a dict) as well as a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import ConfigError

pytest.importorskip("polyroute_openai")

CONFIG: dict[str, Any] = {
    "providers": {"openai": {"type": "openai", "api_key": "env:POLYROUTE_TEST_UNSET_KEY"}},
    "agents": {"pricing_agent": {"model": "openai:gpt-4.1-mini", "temperature": 0.1}},
    "profiles": {"staging": {"retry": {"attempts": 2}}},
}


def _adapter(kind: str) -> Any:
    if kind == "langchain":
        return pytest.importorskip("polyroute.langchain").RoutedChatModel
    return pytest.importorskip("polyroute.llamaindex").RoutedLLM


ADAPTERS = ["langchain", "llamaindex"]


@pytest.mark.parametrize("kind", ADAPTERS)
def test_missing_file_fails_at_construction(kind: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        _adapter(kind).from_config(missing)
    assert info.value.file == str(missing)


@pytest.mark.parametrize("kind", ADAPTERS)
def test_invalid_config_fails_at_construction(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "polyroute.yaml"
    path.write_text("providers:\n  openai: {type: openia}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        _adapter(kind).from_config(path)
    assert info.value.field == "providers.openai.type"
    assert info.value.fix == "did you mean 'openai'?"


@pytest.mark.parametrize("kind", ADAPTERS)
@pytest.mark.parametrize(("target", "section"), [("agent", "agents"), ("task", "routes")])
def test_unknown_agent_or_task_fails_at_construction(
    kind: str, target: str, section: str
) -> None:
    with pytest.raises(ConfigError, match=f"{target} 'ghost' is not defined") as info:
        _adapter(kind).from_config(CONFIG, **{target: "ghost"})
    assert info.value.field == section and info.value.fix


@pytest.mark.parametrize("kind", ADAPTERS)
def test_from_config_takes_a_dict_and_a_profile(kind: str) -> None:
    model = _adapter(kind).from_config(CONFIG, agent="pricing_agent", profile="staging")
    try:
        cfg = model.get_router().config
        assert cfg.retry.attempts == 2
        assert cfg.agents["pricing_agent"].temperature == 0.1
        assert model.config_path is None
    finally:
        model.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_from_config_takes_a_config_object(kind: str) -> None:
    from polyroute.config import config_from_data

    model = _adapter(kind).from_config(config_from_data(CONFIG), agent="pricing_agent")
    try:
        assert "pricing_agent" in model.get_router().config.agents
    finally:
        model.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_from_config_rejects_other_types_with_a_config_error(kind: str) -> None:
    with pytest.raises(ConfigError, match="takes a file path, a dict or a PolyrouteConfig"):
        _adapter(kind).from_config(42)


@pytest.mark.parametrize("kind", ADAPTERS)
def test_a_profile_with_a_loaded_config_is_refused_not_ignored(kind: str) -> None:
    from polyroute.config import config_from_data

    with pytest.raises(ConfigError, match="already has its profile applied"):
        _adapter(kind).from_config(config_from_data(CONFIG), profile="staging")


@pytest.mark.parametrize("kind", ADAPTERS)
def test_constructor_with_a_dict_applies_its_profile(kind: str) -> None:
    model = _adapter(kind)(config=CONFIG, profile="staging", agent="pricing_agent")
    try:
        assert model.get_router().config.retry.attempts == 2
    finally:
        model.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_constructor_with_a_bad_dict_raises_a_config_error(kind: str) -> None:
    with pytest.raises(ConfigError) as info:
        _adapter(kind)(config={"providerz": {}})
    assert info.value.field == "providerz" and info.value.fix
