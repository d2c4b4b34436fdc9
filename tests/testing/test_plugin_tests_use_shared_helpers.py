"""Plugin tests reach HTTP only through ``polyroute.testing`` (so cassette and stand-in
replay runs the real ``Transport``) and take their sleep stand-in from it, rather than
each plugin carrying its own copy (issue 10: "plugin tests copy fixtures")."""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

PLUGIN_TESTS = sorted((Path(__file__).parents[2] / "plugins").glob("polyroute-*/tests/*.py"))


def _parse(path: Path) -> ast.Module:
    # CPython 3.11.7's ast.parse fails ("AST constructor recursion depth mismatch",
    # gh-106905) when the GC runs a finalizer in the middle of it: keep the GC out.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    finally:
        if enabled:
            gc.enable()


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _sleep_stand_ins(tree: ast.AST) -> list[str]:
    """Classes or functions that record waits instead of sleeping."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            methods = {n.name for n in node.body
                       if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            if "asleep" in methods:
                found.append(node.name)
        elif isinstance(node, ast.AsyncFunctionDef) and node.name == "asleep":
            found.append(node.name)
    return found


def test_there_are_plugin_tests_to_check() -> None:
    assert len(PLUGIN_TESTS) > 40


@pytest.mark.parametrize("path", PLUGIN_TESTS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_no_private_http_client_or_sleep_recorder(path: Path) -> None:
    tree = _parse(path)
    clients = _imports(tree) & {"httpx", "aiohttp", "requests", "urllib3"}
    assert not clients, (
        f"{path}: imports {sorted(clients)}; send through polyroute.testing.wire / drive "
        "so the request goes through polyroute's Transport")
    assert not _sleep_stand_ins(tree), (
        f"{path}: defines {_sleep_stand_ins(tree)}; use polyroute.testing.sleeps.SleepRecorder")


HOSTILE_TESTS = sorted((Path(__file__).parents[2] / "plugins").glob(
    "polyroute-*/tests/test_*_hostile.py"))


@pytest.mark.parametrize("path", HOSTILE_TESTS, ids=lambda p: p.parent.parent.name)
def test_hostile_suites_subclass_the_shared_one(path: Path) -> None:
    tree = _parse(path)
    bases = {b.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
             for b in node.bases if isinstance(b, ast.Name)}
    own = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "HostileParsers" in bases, f"{path}: subclass polyroute.testing.hostile.HostileParsers"
    assert not own & {"test_parsers_raise_only_typed_errors",
                      "test_nonsense_usage_is_an_invalid_response"}, (
        f"{path}: the hostile-body scenarios come from HostileParsers, not a copy")


def test_every_plugin_has_a_hostile_suite() -> None:
    assert len(HOSTILE_TESTS) == len(list((Path(__file__).parents[2] / "plugins").glob(
        "polyroute-*/")))
