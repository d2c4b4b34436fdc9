"""The layers of DESIGN.md below the router (issue 10): where the config sections live,
what loading a config pulls in, and what ``make layers`` still reports.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from polyroute.config import PolyrouteConfig


def _loaded_after(code: str) -> set[str]:
    """The ``polyroute`` modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return {m for m in json.loads(out.splitlines()[-1]) if m.startswith("polyroute")}


def test_config_sections_live_in_the_config_layer() -> None:
    from polyroute.config import cost, resilience

    fields = PolyrouteConfig.model_fields
    assert fields["breaker"].annotation is resilience.BreakerConfig
    assert fields["rate_limits"].annotation is resilience.RateLimitsConfig
    assert fields["pricing"].annotation is cost.PricingConfig
    assert "budgets" in fields and cost.BudgetConfig.__module__ == "polyroute.config.cost"
    # the old homes were never documented API, and are gone rather than cycles in waiting
    assert importlib.util.find_spec("polyroute.resilience.config") is None
    assert importlib.util.find_spec("polyroute.cost.config") is None


def test_loading_a_config_imports_no_guard_layer() -> None:
    """Config sits below the guards: validating one (budgets and time zones included)
    loads neither them nor the router."""
    loaded = _loaded_after(
        "from polyroute.config import config_from_data\n"
        "config_from_data({'providers': {'openai': {'type': 'openai', 'api_key': 'sk-x'}},"
        " 'budgets': [{'scope': 'global', 'usd': 5, 'timezone': 'Europe/Paris'}],"
        " 'breaker': {'failures': 3}, 'state': {'backend': 'sqlite'}})"
    )
    above = ("polyroute.resilience", "polyroute.cost", "polyroute.budgets",
             "polyroute.routing", "polyroute.router", "polyroute.ledger",
             "polyroute.analytics", "polyroute.cache")
    assert not {m for m in loaded if m.startswith(above)}, sorted(loaded)
