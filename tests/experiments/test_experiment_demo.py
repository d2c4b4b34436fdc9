"""The experiment example runs offline: two variants on a stand-in, feedback sent, the
``usage --experiment`` table printed and the plot saved."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from experiment_demo import run

pytestmark = pytest.mark.standin


def test_experiment_demo_prints_the_variant_table_and_saves_the_plot(tmp_path: Path) -> None:
    pytest.importorskip("polyroute_openai")
    png = tmp_path / "img" / "experiment.png"
    table = run(png, tmp_path, users=40)
    lines = {line.split("│")[1].strip(): line for line in table.splitlines()
             if line.startswith("│")}
    assert set(lines) == {"control", "mini"}
    calls = [int(line.split("│")[2]) for line in lines.values()]
    assert sum(calls) == 40 and min(calls) > 0
    scored = [int(line.split("│")[9]) for line in lines.values()]
    assert scored == calls  # every call got its feedback
    assert "[" in lines["mini"].split("│")[10]  # an interval, not just a mean
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {png}" in table


def test_the_shipped_plot_is_in_the_docs() -> None:
    shipped = Path(__file__).resolve().parents[2] / "docs" / "img" / "experiment_demo.png"
    assert shipped.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
