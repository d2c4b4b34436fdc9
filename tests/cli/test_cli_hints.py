"""Command-line hints for a model reference: a usable fix, never a nonsense one."""

from __future__ import annotations


def test_model_without_a_model_id_gets_a_usable_fix(run):
    result = run("route", "--model", "openai:")
    assert result.exit_code == 2
    assert "names provider 'openai' but no model" in result.stderr
    assert "e.g. openai:gpt-4.1-mini" in result.stderr
    assert "openai:openai:" not in result.output
    assert "Traceback" not in result.output
