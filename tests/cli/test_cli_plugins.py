from __future__ import annotations

import json

from polyroute.plugins.manager import PluginLoadFailure


def test_lists_plugins_with_what_they_registered(run):
    result = run("plugins")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    echo = next(line for line in lines if "echo_provider" in line)
    assert "registered in code" in echo and "echo" in echo
    builtin = next(line for line in lines if "polyroute.strategies" in line)
    assert "built-in" in builtin and "priority" in builtin
    assert "no plugin failed to load" in result.stdout


def test_counts_templates_and_models_per_plugin(run):
    data = json.loads(run("plugins", "--json").stdout)
    by_name = {p["provider_types"][0]: p for p in data["plugins"] if p["provider_types"]}
    assert by_name["keyed_echo"]["templates"] == 1
    assert by_name["keyed_echo"]["models"] == 4
    assert by_name["echo"]["models"] == 0
    assert data["failures"] == []


def test_failures_are_shown_and_exit_0(run, registry):
    registry.failures.append(
        PluginLoadFailure("broken", "polyroute_broken.plugin", "ImportError: no module named x")
    )
    result = run("plugins")
    assert result.exit_code == 0
    assert "Failed to load" in result.stdout
    assert "broken" in result.stdout and "ImportError: no module named x" in result.stdout
    data = json.loads(run("plugins", "--json").stdout)
    assert data["failures"] == [{"name": "broken", "entry_point": "polyroute_broken.plugin",
                                 "error": "ImportError: no module named x"}]
