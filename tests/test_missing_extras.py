"""Without an optional dependency, polyroute says which extra to install: a typed
``MissingExtraError`` (still an ``ImportError``), never a bare ModuleNotFoundError
or an "internal error". Absence is simulated (a ``sys.meta_path`` blocker in a
fresh interpreter, or ``sys.modules[name] = None``); nothing is uninstalled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.plugins import PluginRegistry

BLOCKER = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == {blocked!r} or name.startswith({blocked!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
try:
    import {target}
except ImportError as exc:
    from polyroute.errors import MissingExtraError, PolyrouteError
    assert isinstance(exc, MissingExtraError) and isinstance(exc, PolyrouteError), type(exc)
    print(exc)
else:
    raise SystemExit("imported without " + {blocked!r})
"""


@pytest.mark.parametrize(
    ("target", "blocked", "extra", "package"),
    [
        ("polyroute.langchain", "langchain_core", "langchain", "langchain-core"),
        ("polyroute.llamaindex", "llama_index", "llamaindex", "llama-index-core"),
    ],
)
def test_adapter_import_without_its_extra_names_the_extra(
    target: str, blocked: str, extra: str, package: str
) -> None:
    code = BLOCKER.format(blocked=blocked, target=target)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        f"{target} needs {package}, which is not installed"
        f" — fix: pip install 'polyroute[{extra}]'"
    )


def test_usage_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, echo_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyroute.ledger import Ledger

    db = tmp_path / "usage.db"
    Ledger(db).close()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    png = tmp_path / "usage.png"
    result = CliRunner().invoke(main, ["usage", "--ledger", str(db), "--plot", str(png)],
                                obj=echo_registry)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert "please report it" not in result.output
    assert "usage --plot needs matplotlib" in result.output
    assert "pip install 'polyroute[plot]'" in result.output
    assert not png.exists()
