"""The import contracts of ``.importlinter`` (docs/architecture.md) that ``make lint`` checks.

``plugins-no-http`` and ``core-no-plugin`` hold today and must keep holding; the
``layers`` target contract is run by ``make layers`` only, until the redesign lands.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PLUGIN_PACKAGES = sorted(p.name for p in ROOT.glob("plugins/polyroute-*/src/polyroute_*")
                         if (p / "__init__.py").exists())


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _config() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    assert parser.read(CONFIG), f"{CONFIG} is missing"
    return parser


def _run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: `make lint` installs the dev extras"
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_every_plugin_is_under_both_contracts() -> None:
    """A new plugin distribution cannot slip past the contracts by not being listed."""
    config = _config()
    assert len(PLUGIN_PACKAGES) >= 7
    roots = set(_lines(config["importlinter"]["root_packages"]))
    no_http = config["importlinter:contract:plugins-no-http"]
    no_plugin = config["importlinter:contract:core-no-plugin"]
    assert set(PLUGIN_PACKAGES) <= roots
    assert set(PLUGIN_PACKAGES) <= set(_lines(no_http["source_modules"]))
    assert set(_lines(no_http["forbidden_modules"])) >= {
        "polyroute.transport", "polyroute.transport_aiohttp", "httpx", "aiohttp", "requests"}
    assert set(_lines(no_plugin["forbidden_modules"])) == set(PLUGIN_PACKAGES)
    # the contracts are fixed in code, never by listing exceptions
    assert not any("ignore_imports" in config[s] for s in config.sections())


def test_the_contracts_that_hold_today_are_kept() -> None:
    result = _run("--contract", "plugins-no-http", "--contract", "core-no-plugin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_plugin_importing_the_transport_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not vacuous: a planted plugin that imports the transport fails it."""
    planted = tmp_path / "polyroute_planted"
    planted.mkdir()
    (planted / "__init__.py").write_text("from polyroute.providers.base import HttpRequest\n")
    (planted / "sender.py").write_text("from polyroute.transport import Transport\n")
    config = _config()
    section = config["importlinter"]
    section["root_packages"] += "\npolyroute_planted"
    contract = config["importlinter:contract:plugins-no-http"]
    contract["source_modules"] += "\npolyroute_planted"
    with (tmp_path / ".importlinter").open("w") as fh:
        config.write(fh)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = _run("--contract", "plugins-no-http", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "polyroute_planted is not allowed to import polyroute.transport" in " ".join(
        result.stdout.split())


def test_the_target_contract_is_configured_and_runs() -> None:
    """``make layers`` runs (it is expected to report violations until the redesign)."""
    result = _run("--contract", "layers")
    assert "not configured correctly" not in result.stdout, result.stdout
    assert "Layers of DESIGN.md" in result.stdout
