"""The code in README.md and docs/ runs, offline, so the docs cannot drift from
behaviour:

- every YAML config shown (a block with ``providers:``) loads and builds a router;
- every ``python`` block runs, in order, one namespace per page, in a folder
  holding the page's first config as ``polyroute.yaml``; ``openai`` and
  ``anthropic`` calls go to the loopback stand-ins (fake keys, no network);
- every ``console`` block's ``$ polyroute ...`` commands run against that config
  and must exit as its ``[exit N]`` line says, printing the lines shown (numbers
  that vary — milliseconds, costs — are compared as numbers of any value; the
  folder they run in is shown as ``/srv/app``; a ``# comment`` is the shell's).

A block that cannot run offline (it needs a real key, or it is a fragment of a
larger program) is preceded by an HTML comment the reader never sees::

    <!-- docs-test: skip (needs a real OPENAI_API_KEY) -->

and the test reports it as skipped with that reason. A console block preceded
by ``<!-- docs-test: anthropic-fault 529 -->`` runs with the Anthropic stand-in
told to answer its first request with that status; one preceded by
``<!-- docs-test: with typo.yaml {providers: {...}} -->`` runs with that file
written next to the page's config.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from polyroute.config import config_from_data
from polyroute.router import Router

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(?:<!--\s*docs-test:\s*(?P<marker>.*?)\s*-->\s*\n)?"
                    r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: str
    n: int
    lang: str
    body: str
    marker: str | None

    @property
    def skip_reason(self) -> str | None:
        if self.marker and self.marker.startswith("skip"):
            return self.marker.removeprefix("skip").strip(" :()") or "marked skip"
        return None

    def __str__(self) -> str:
        return f"{self.page}#{self.lang}{self.n}"


def blocks(page: Path) -> list[Block]:
    found, counts = [], dict[str, int]()
    for m in _BLOCK.finditer(page.read_text(encoding="utf-8")):
        lang = m["lang"]
        counts[lang] = counts.get(lang, 0) + 1
        found.append(Block(page.name, counts[lang], lang, m["body"], m["marker"]))
    return found


ALL = [b for page in DOCS for b in blocks(page)]


def _config(block: Block) -> dict[str, Any] | None:
    if block.lang != "yaml":
        return None
    data = yaml.safe_load(block.body)
    return data if isinstance(data, dict) and "providers" in data else None


CONFIGS = [b for b in ALL if _config(b) is not None]
PYTHON = [b for b in ALL if b.lang == "python"]
CONSOLE = [b for b in ALL if b.lang == "console" and "$ polyroute" in b.body]


@pytest.mark.parametrize("block", CONFIGS, ids=str)
def test_documented_config_is_valid(block: Block) -> None:
    config = config_from_data(_config(block) or {}, file=str(block))
    Router(config).close()


@pytest.mark.parametrize("block", CONFIGS, ids=str)
def test_documented_config_passes_check(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``polyroute check`` finds nothing to say about a config the docs show, but
    that a key is not set on this machine."""
    import json

    from polyroute.cli import main

    path = tmp_path / "polyroute.yaml"
    path.write_text(block.body, encoding="utf-8")
    monkeypatch.delenv("POLYROUTE_PROFILE", raising=False)
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    report = json.loads(result.stdout)
    assert report["errors"] == [] and result.exit_code == 0, report["errors"]
    flagged = [w for w in report["warnings"] if "is not set" not in w["problem"]]
    assert flagged == []


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_documented_python_compiles(block: Block) -> None:
    compile(block.body, str(block), "exec", flags=_TOP_LEVEL_AWAIT)


# --- running blocks against the stand-ins -------------------------------------------

_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass
class Standins:
    openai: Any
    anthropic: Any


@pytest.fixture(scope="module")
def standins() -> Iterator[Standins]:
    standin = pytest.importorskip("polyroute.testing.standin")
    oa = pytest.importorskip("polyroute_openai.embed_standin")  # chat + /embeddings
    an = pytest.importorskip("polyroute_anthropic.standin")
    with standin.StandinServer(oa.OpenAIEmbedResponder()) as o, \
            standin.StandinServer(an.AnthropicResponder()) as a:
        yield Standins(o, a)


@pytest.fixture
def offline(standins: Standins, monkeypatch: pytest.MonkeyPatch) -> Standins:
    """Fake keys, and the OpenAI/Anthropic provider types pointed at the stand-ins."""
    from polyroute_anthropic.provider import AnthropicProvider
    from polyroute_openai.provider import OpenAIProvider

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, "sk-docs-test-not-a-key")
    for name in ("GROQ_API_KEY", "POLYROUTE_CONFIG", "POLYROUTE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(OpenAIProvider, "default_base_url", standins.openai.url + "/v1")
    monkeypatch.setattr(AnthropicProvider, "default_base_url", standins.anthropic.url)
    standins.openai.clear()
    standins.anthropic.clear()
    return standins


DEFAULT_CONFIG = """
providers:
  openai:    {type: openai, api_key: env:OPENAI_API_KEY}
  anthropic: {type: anthropic, api_key: env:ANTHROPIC_API_KEY}
routes:
  code_generation:
    tiers: [[openai/gpt-4.1, anthropic/claude-sonnet-4-5]]
agents:
  swe_agent:     {route: code_generation, temperature: 0.2}
  pricing_agent: {model: openai:gpt-4.1-mini, fallbacks: [anthropic:claude-haiku-4-5]}
profiles:
  production: {retry: {attempts: 2}}
"""
"""The config of a page that shows none (the quickstart's agents and route)."""


def _stand_in_urls(text: str, standins: Standins) -> str:
    return (text.replace("http://127.0.0.1:8765", standins.openai.url)
            .replace("http://127.0.0.1:8766", standins.anthropic.url))


def _page_dir(page: str, tmp_path: Path, standins: Standins) -> Path:
    """A folder with the page's first config (or ``DEFAULT_CONFIG``) as
    polyroute.yaml, the docs' loopback base URLs rewritten to the stand-ins'."""
    text = next((b.body for b in CONFIGS if b.page == page), DEFAULT_CONFIG)
    (tmp_path / "polyroute.yaml").write_text(_stand_in_urls(text, standins), encoding="utf-8")
    return tmp_path


_NAMESPACES: dict[str, dict[str, Any]] = {}


def _skip_unless_runnable(block: Block) -> None:
    if block.skip_reason:
        pytest.skip(block.skip_reason)


def _write_with_file(block: Block, folder: Path) -> None:
    """``with NAME {yaml flow}``: that file next to the page's config (``with
    polyroute.yaml {...}`` replaces the config for this block)."""
    if block.marker and block.marker.startswith("with "):
        name, text = block.marker.removeprefix("with ").split(" ", 1)
        (folder / name).write_text(yaml.safe_dump(yaml.safe_load(text)), encoding="utf-8")


_HOMES: dict[str, str] = {}


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_documented_python_runs(
    block: Block, offline: Standins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_unless_runnable(block)
    folder = _page_dir(block.page, tmp_path, offline)
    monkeypatch.chdir(folder)
    # a page that writes under ~ writes into its first block's folder, read by the next
    monkeypatch.setenv("HOME", _HOMES.setdefault(block.page, str(folder)))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    # A page's blocks build on each other in one namespace. Under pytest-xdist (make
    # test) the earlier ones may have run in another worker's process: run those here
    # first, in order, as a serial run would have.
    ran = _RAN.setdefault(block.page, set())
    for earlier in PYTHON:
        if (earlier.page == block.page and earlier.n < block.n and earlier.n not in ran
                and earlier.skip_reason is None):
            _run_block(earlier, folder, offline)
            ran.add(earlier.n)
    _run_block(block, folder, offline)
    ran.add(block.n)


_RAN: dict[str, set[int]] = {}
"""The blocks of each page run in this process (so in its namespace)."""


def _run_block(block: Block, folder: Path, standins: Standins) -> None:
    _page_dir(block.page, folder, standins)  # a block's `with polyroute.yaml` is its own
    _write_with_file(block, folder)
    namespace = _NAMESPACES.setdefault(block.page, {"__name__": "__docs__"})
    code = compile(block.body, str(block), "exec", flags=_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # the docs page's own code
    if asyncio.iscoroutine(result):
        asyncio.run(result)


_PROMPT = re.compile(r"^\$ (polyroute .*)$")
_EXIT = re.compile(r"^\[exit (\d+)\]$")
_VARIES = re.compile(r"\d+ ms|\$\d+\.\d+")


_BORDER = re.compile(r"^[┏┡└┓┩┘━─┳╇┴ ]*$")


def _normal(line: str) -> str | tuple[str, ...] | None:
    """A line as compared: numbers that vary masked; a table row as its cells (so
    column widths do not matter); a table border as nothing."""
    line = _VARIES.sub(lambda m: "N ms" if m[0].endswith("ms") else "$N", line.rstrip())
    if line[:1] in ("┃", "│"):
        return tuple(c.strip() for c in re.split(r"[┃│]", line)[1:-1])
    if line[:1] in ("┏", "┡", "└") and _BORDER.match(line):
        return None
    return line


def _commands(body: str) -> list[tuple[str, list[str], int]]:
    """``(command, expected output lines, expected exit code)`` for each ``$ `` line."""
    out: list[tuple[str, list[str], int]] = []
    for line in body.splitlines():
        if m := _PROMPT.match(line):
            out.append((m[1], [], 0))
        elif out and (e := _EXIT.match(line)):
            out[-1] = (out[-1][0], out[-1][1], int(e[1]))
        elif out:
            out[-1][1].append(line)
    return out


@pytest.mark.parametrize("block", CONSOLE, ids=str)
def test_documented_commands_run(
    block: Block, offline: Standins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polyroute.cli import main
    from polyroute.testing.standin import Fault

    _skip_unless_runnable(block)
    folder = _page_dir(block.page, tmp_path, offline)
    monkeypatch.chdir(folder)
    if block.marker and block.marker.startswith("anthropic-fault"):
        offline.anthropic.push(Fault.status(int(block.marker.split()[1])))
    _write_with_file(block, folder)
    monkeypatch.setenv("COLUMNS", "400")
    for command, expected, code in _commands(block.body):
        result = CliRunner().invoke(main, shlex.split(command, comments=True)[1:])
        printed = (result.stdout + result.stderr).replace(str(folder), "/srv/app").splitlines()
        shown = {_normal(x) for x in printed}
        assert result.exit_code == code, f"{command}: {result.output}"
        wanted = [_normal(_stand_in_urls(e, offline)) for e in expected]
        missing = [str(x) for x in wanted if x is not None and x not in shown]
        assert not missing, f"{command} did not print:\n" + "\n".join(missing) + (
            "\n--- it printed:\n" + "\n".join(printed))


_EXTRAS = {"polyroute.langchain": "langchain", "polyroute.llamaindex": "llamaindex"}


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_install_lines_bring_what_the_page_imports(page: Path) -> None:
    """A page that says ``pip install polyroute...`` and then imports an adapter
    must install that adapter's extra, or its first snippet fails to import."""
    page_blocks = blocks(page)
    installs = [line for b in page_blocks if b.lang in ("bash", "sh", "console")
                for line in b.body.splitlines() if re.search(r"pip install .*polyroute", line)]
    if not installs:
        return
    imported = {m for b in page_blocks if b.lang == "python" for m in _EXTRAS
                if f"from {m} import" in b.body or f"import {m}" in b.body}
    for module in sorted(imported):
        extra = _EXTRAS[module]
        assert any(re.search(rf"polyroute\[[^\]]*\b{extra}\b", line) for line in installs), (
            f"{page.name} imports {module} but installs without polyroute[{extra}]: {installs}")


def test_docs_name_no_machine_path() -> None:
    """A path from the machine the docs were written on means nothing to a reader."""
    pattern = re.compile(r"/(?:home|Users|root|tmp/pytest-of-|work)/\w+")
    found = [f"{p.name}: {m[0]}" for p in DOCS
             for m in pattern.finditer(p.read_text(encoding="utf-8"))]
    assert not found, found

