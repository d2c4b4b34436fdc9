"""Repository-wide pytest setup: cassette location and secret scrubbing.

Cassettes live in the top-level ``cassettes/<test module>/`` folder. Record
mode comes from the command line only (``--record-mode``; default ``none``),
so CI never touches the network.
"""

from __future__ import annotations

import ast
import gc
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from polyroute.testing import cassettes

ROOT = Path(__file__).parent

# CPython 3.11.7's AST constructor fails ("SystemError: AST constructor recursion depth
# mismatch", gh-106905) when a garbage collection runs a finalizer in the middle of
# ast.parse — which pytest's assertion rewriting and hypothesis's strategy reprs call at
# arbitrary moments of a long test run. A parse is short and allocates nothing that
# outlives it: running it with the collector paused removes that failure everywhere.
_parse = ast.parse


def _parse_without_gc(*args: Any, **kwargs: Any) -> Any:
    paused = gc.isenabled()
    gc.disable()
    try:
        return _parse(*args, **kwargs)
    finally:
        if paused:
            gc.enable()


ast.parse = _parse_without_gc
CASSETTES = ROOT / "cassettes"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    # Shipped so plugin authors scrub the same way: headers, bodies both ways, URL keys.
    return cassettes.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    name = request.module.__name__.rsplit(".", 1)[-1]
    return str(CASSETTES / name.removeprefix("test_"))


# Hypothesis: no example database in the repo, no per-example deadline (a loaded CI
# machine is not a bug). The parser suites set their own example counts
# (``polyroute.testing.fuzz.per_family``: 10,000 cases per parser family, docs/testing.md).
settings.register_profile(
    "ci", deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _secrets_a_test_revealed_are_forgotten_after_it() -> Any:
    # Secrets are remembered for the process so logs and errors scrub them. A test that
    # reveals generated values (the config fuzz suites: hypothesis also draws string
    # constants from our code, e.g. "rate_limit_exceeded") would otherwise mask that text
    # in every later test's output: CI once failed on exactly that.
    from polyroute import secrets

    before = secrets.remembered()
    yield
    if len(secrets.remembered()) != len(before):
        secrets.forget_all_but(before)
