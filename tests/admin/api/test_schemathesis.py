"""Runs ``schemathesis_run.py`` (schemathesis over the admin API's own OpenAPI) in a
fresh interpreter; see that file for why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("schemathesis")

RUN = Path(__file__).with_name("schemathesis_run.py")


def test_the_admin_api_matches_its_own_openapi() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "--no-header", "-p", "no:cacheprovider",
         str(RUN)],
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[3],
    )
    tail = "\n".join(out.stdout.splitlines()[-40:])
    assert out.returncode == 0, tail + out.stderr[-2000:]
    assert " passed" in tail and "failed" not in tail
