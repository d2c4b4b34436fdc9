"""polyroute's pytest plugin: replay polyroute calls offline in your own test suite.

Installed with polyroute (the ``pytest11`` entry point ``polyroute``); every fixture
and option is prefixed ``polyroute_`` so nothing clashes with yours:

- ``polyroute_standin(name_or_responder, port=0)``: starts a loopback stand-in of a
  provider (``"openai"``, ``"anthropic"``… — the plugin's own ``standin`` responder —
  or any responder object) for the test, stops it after; use ``server.url``.
- ``polyroute_cassette(name=None)``: a context manager that records or replays the
  HTTP of the calls inside it with vcrpy and polyroute's scrubbing rules
  (``polyroute.testing.cassettes``: key headers replaced, bodies scrubbed of keys).
  Cassettes go to ``<polyroute_cassette_dir>/<test module>/<test name>.yaml``.
- record mode ``none`` by default (``--polyroute-record-mode=once|new_episodes|all``,
  or the ``polyroute_record_mode`` ini key): CI never reaches a network; a missing
  cassette fails the call with vcrpy's ``CannotOverwriteExistingCassetteException``.
- every cassette written during the run is scanned for secret shapes (API keys, bearer
  tokens, key headers that escaped scrubbing) at the end of its test: the test fails
  naming the file and the line, never printing the secret itself.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["scan_cassette"]

_MODES = ("none", "once", "new_episodes", "all")
# key-shaped tokens polyroute.secrets masks, plus credential headers left unredacted
_SECRET = re.compile(
    r"sk-ant-[A-Za-z0-9_\-]{10,}|sk-[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{30,}"
    r"|AKIA[0-9A-Z]{16}|gsk_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|Bearer [A-Za-z0-9._\-]{16,}"
    r"|(?i:(?:authorization|x-api-key|api-key|x-goog-api-key)['\"]?\s*:\s*\[?\s*['\"]?"
    r"(?!REDACTED)[A-Za-z0-9])"
)


def scan_cassette(path: str | Path) -> list[str]:
    """``file:line`` of each secret-shaped value in a cassette (the value is not
    returned: a report must not leak what it found)."""
    found = []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        if "REDACTED" in line and not _SECRET.search(line.replace("REDACTED", "")):
            continue
        m = _SECRET.search(line)
        if m is not None:
            found.append(f"{path}:{n} ({m.group(0)[:6]}…)")
    return found


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("polyroute", "polyroute cassettes and stand-ins")
    group.addoption("--polyroute-record-mode", choices=_MODES, default=None,
                    help="vcrpy record mode of polyroute_cassette (default: none = replay "
                         "only, never the network)")
    parser.addini("polyroute_record_mode", "default record mode of polyroute_cassette",
                  default="none")
    parser.addini("polyroute_cassette_dir", "where polyroute_cassette keeps cassettes "
                  "(relative to the rootdir)", default="cassettes")


def _record_mode(config: pytest.Config) -> str:
    mode = config.getoption("--polyroute-record-mode") or config.getini("polyroute_record_mode")
    if mode not in _MODES:
        raise pytest.UsageError(f"polyroute_record_mode = {mode!r}: use one of "
                                f"{', '.join(_MODES)}")
    return str(mode)


@pytest.fixture
def polyroute_record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode in force (``none`` unless the command line or ini says)."""
    return _record_mode(request.config)


def _responder(what: Any) -> Any:
    if not isinstance(what, str):
        return what
    module_name = f"polyroute_{what.replace('-', '_')}.standin"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise pytest.UsageError(
            f"polyroute_standin({what!r}): no stand-in (needs the polyroute-{what} plugin "
            f"installed, with a {module_name} module) — or pass a responder object") from exc
    classes = [v for k, v in vars(module).items()
               if k.endswith("Responder") and isinstance(v, type) and v.__module__ == module_name]
    if len(classes) != 1:
        raise pytest.UsageError(f"{module_name} has no single *Responder class: pass one")
    return classes[0]()


@pytest.fixture
def polyroute_standin() -> Iterator[Callable[..., Any]]:
    """``polyroute_standin("openai")`` → a started ``StandinServer`` (stopped after)."""
    from polyroute.testing.standin import StandinServer

    servers: list[StandinServer] = []

    def start(what: Any, *, port: int = 0) -> StandinServer:
        server = StandinServer(_responder(what), port=port).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def polyroute_cassette(request: pytest.FixtureRequest, polyroute_record_mode: str
                       ) -> Iterator[Callable[..., AbstractContextManager[Any]]]:
    """``with polyroute_cassette():`` records/replays the HTTP inside; then scans what
    was written for secrets."""
    import vcr  # type: ignore[import-untyped]

    from polyroute.testing.cassettes import vcr_config

    root = Path(str(request.config.rootpath)) / request.config.getini("polyroute_cassette_dir")
    module = request.node.module.__name__.rpartition(".")[2] if request.node.module else "tests"
    written: list[Path] = []

    @contextmanager
    def use(name: str | None = None, **overrides: Any) -> Iterator[Any]:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or request.node.name)
        path = root / module / f"{safe}.yaml"
        before = path.stat().st_mtime_ns if path.exists() else None
        recorder = vcr.VCR(**{**vcr_config(), "record_mode": polyroute_record_mode,
                              **overrides})
        with recorder.use_cassette(str(path)) as cassette:
            yield cassette
        if path.exists() and path.stat().st_mtime_ns != before:
            written.append(path)

    yield use
    leaks = [hit for path in written for hit in scan_cassette(path)]
    if leaks:
        pytest.fail("polyroute: secret-shaped values in new cassettes (scrub them, then "
                    "record again): " + "; ".join(leaks), pytrace=False)
