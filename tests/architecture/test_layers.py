"""The layers of DESIGN.md (issue 10): where the config sections live, what loading a
config pulls in, and that the layers contract (``make lint``) holds.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polyroute.config import PolyrouteConfig

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


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


def test_names_moved_down_keep_their_old_homes() -> None:
    from polyroute import guard_base, refs
    from polyroute.routing import guards, plan

    assert plan.Deployment is refs.Deployment
    assert plan.parse_model_ref is refs.parse_model_ref
    assert guards.Guard is guard_base.Guard
    assert guards.CandidateSkipped is guard_base.CandidateSkipped


def test_routing_is_a_light_package() -> None:
    """``routing/`` has an ``__init__.py`` (so the contracts see it) that imports nothing:
    ``import polyroute`` still loads no routing, and the plan loads no strategy."""
    assert not {m for m in _loaded_after("import polyroute") if m.startswith(
        ("polyroute.routing", "polyroute.config", "polyroute.resilience"))}
    loaded = _loaded_after("import polyroute.routing.plan")
    assert "polyroute.routing" in loaded
    assert "polyroute.routing.strategies" not in loaded


def test_a_plugin_framing_reaches_the_decoder_through_the_seam() -> None:
    from polyroute import hookimpl
    from polyroute.framing import SSEDecoder, decoder_for
    from polyroute.plugins import PluginRegistry

    class Planted(SSEDecoder):
        pass

    class Plugin:
        @hookimpl
        def polyroute_register_framings(self, register: Any) -> None:
            register("planted-layers-test", Planted)

    assert "polyroute.framing" not in _loaded_after("import polyroute.plugins.manager")
    PluginRegistry.create(load_entrypoints=False, plugins=[Plugin()])
    assert isinstance(decoder_for("planted-layers-test"), Planted)
    assert isinstance(decoder_for("sse"), SSEDecoder)
    with pytest.raises(ValueError, match=r"unknown stream framing 'nope'.*planted-layers-test"):
        decoder_for("nope")


def _violations() -> set[str]:
    result = subprocess.run([str(LINT_IMPORTS), "--no-cache", "--contract", "layers"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    text = " ".join(result.stdout.split())
    assert "Layers of DESIGN.md" in text, result.stdout + result.stderr
    return set(re.findall(r"- (polyroute[\w.]* -> polyroute[\w.]*) \(l\.", text))


def test_the_layers_contract_holds() -> None:
    """No import runs up the layers (docs/architecture.md): ``make lint`` checks it too."""
    assert _violations() == set()


def test_no_guard_layer_module_imports_the_router() -> None:
    """Not even for type checkers: a guard or component gets ``RouterContext``."""
    below = ["routing", "resilience", "cost", "budgets", "ledger", "analytics", "cache",
             "catalog", "config", "state", "plugins"]
    src = ROOT / "src" / "polyroute"
    files = [src / "params.py", *(p for d in below for p in (src / d).rglob("*.py"))]
    offenders = [str(f.relative_to(ROOT)) for f in files
                 if "polyroute.router" in f.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_seam_leaves_the_strategies_to_whoever_routes() -> None:
    """The plugin seam registers no built-in strategy; the router adds them, under the
    plugin name ``polyroute.strategies``, and a plugin's own strategy still registers."""
    from polyroute import hookimpl
    from polyroute.plugins import PluginRegistry
    from polyroute.router import Router

    def mine(candidates: Any, request: Any) -> list[Any]:
        return list(reversed(candidates))

    class Plugin:
        @hookimpl
        def polyroute_register_strategies(self, register: Any) -> None:
            register("reversed", mine)

    assert "polyroute.routing" not in " ".join(_loaded_after("import polyroute.plugins.manager"))
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[Plugin()])
    assert set(registry.strategies) == {"reversed"}
    with Router(registry=registry) as router:
        assert {"priority", "lowest_cost", "score", "reversed"} <= set(router.strategies)
    assert registry.pm.has_plugin("polyroute.strategies")
    Router(registry=registry).close()  # a second router adds nothing twice
    assert sum(n == "polyroute.strategies" for n, _ in registry.pm.list_name_plugin()) == 1
