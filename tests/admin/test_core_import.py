"""The core never loads the registry's stack: agent builders keep a light import."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import polyroute, polyroute.langchain
from polyroute.router import Router
Router({"providers": {"o": {"type": "openai", "api_key": "env:NO_SUCH_KEY"}},
        "agents": {"a": {"model": "o:gpt-4.1-mini"}}}).close()
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("sqlalchemy", "alembic", "psycopg", "fastapi", "starlette",
                                       "uvicorn", "schemathesis")
               or m.startswith("polyroute.admin"))
print(",".join(heavy) or "none")
"""


def test_core_and_router_load_no_registry_module() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


CLI_PROBE = """
import sys
from click.testing import CliRunner
from polyroute.cli import main
assert CliRunner().invoke(main, ["--help"]).exit_code == 0
print(",".join(sorted(m for m in sys.modules
                      if m.split(".")[0] in ("fastapi", "starlette", "uvicorn", "sqlalchemy"))
               ) or "none")
"""


def test_the_cli_loads_the_admin_api_only_for_serve() -> None:
    out = subprocess.run([sys.executable, "-c", CLI_PROBE], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"
