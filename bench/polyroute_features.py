"""The polyroute config the benchmark runs with: every feature in the tree turned on.

Features land over time (breakers, rate limits, budgets, the ledger, the
cache), so this module does not hard-code their config shapes. For each
feature it looks at ``PolyrouteConfig``'s fields at run time and tries a few
plausible shapes for the section (the first that validates wins). Limits are
set far above what the benchmark can reach, so features do their bookkeeping
on every call but never block one. A feature whose section is not in the
schema is reported as "not present", and the guards the router actually built
are listed in the results, so what was on is never guessed.

To pin a shape (say a section was renamed), put it in ``bench/features.json``:
``{"breaker": {"section": "circuit_breakers", "value": {...}}}``; ``{tmp}`` in a
string becomes the run's scratch folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

HUGE = 10**12

# feature -> (candidate config sections, candidate values, tried in order)
_CANDIDATES: dict[str, tuple[list[str], list[Any]]] = {
    "breaker": (
        ["breaker", "breakers", "circuit_breaker", "circuit_breakers", "circuit"],
        [{"enabled": True}, {"default": {}}, {}],
    ),
    "rate_limit": (
        ["rate_limits", "rate_limit", "limits", "ratelimits"],
        [
            {"deployments": {"bench": {"rpm": HUGE, "tpm": HUGE},
                             "flaky": {"rpm": HUGE, "tpm": HUGE}}},
            {"bench:gpt-4.1-mini": {"rpm": HUGE, "tpm": HUGE}},
            {"bench/gpt-4.1-mini": {"rpm": HUGE, "tpm": HUGE}},
            {"bench": {"rpm": HUGE, "tpm": HUGE}},
            [{"deployment": "bench:gpt-4.1-mini", "rpm": HUGE, "tpm": HUGE}],
            [{"scope": "bench", "rpm": HUGE, "tpm": HUGE}],
            {"default": {"rpm": HUGE, "tpm": HUGE}},
            {"rpm": HUGE, "tpm": HUGE},
            {"requests": HUGE, "tokens": HUGE, "per": "minute"},
        ],
    ),
    "health": (
        ["health"],
        [{"enabled": True}, {}],
    ),
    "budget": (
        ["budgets", "budget"],
        [
            [{"scope": "global", "usd": HUGE, "per": "day", "on_exceed": "block"}],
            [{"scope": "global", "usd": HUGE, "per": "day"}],
            {"global": {"usd": HUGE, "per": "day"}},
        ],
    ),
    "ledger": (
        ["ledger", "usage_ledger", "usage"],
        [
            {"enabled": True, "path": "{tmp}/ledger.db"},
            {"path": "{tmp}/ledger.db"},
            {"enabled": True, "directory": "{tmp}"},
            {"enabled": True},
            "{tmp}/ledger.db",
        ],
    ),
    "cache": (
        ["cache", "response_cache"],
        [
            {"enabled": True, "ttl": "1h", "directory": "{tmp}/cache"},
            {"ttl": "1h", "directory": "{tmp}/cache"},
            {"enabled": True, "ttl": 3600, "directory": "{tmp}/cache"},
            {"ttl": 3600, "directory": "{tmp}/cache"},
            {"enabled": True, "ttl": "1h", "path": "{tmp}/cache"},
            {"ttl": "1h", "path": "{tmp}/cache"},
            {"enabled": True, "ttl": "1h"},
            {"ttl": "1h"},
        ],
    ),
}
# Per-provider fields some designs use for rate limits (DESIGN.md: ``rpm: 5000``).
_PROVIDER_LIMITS = {"rpm": HUGE, "tpm": HUGE}

FEATURES = ("routing", "breaker", "rate_limit", "health", "budget", "ledger", "cache")


def _subst(value: Any, tmp: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", tmp)
    if isinstance(value, list):
        return [_subst(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, tmp) for k, v in value.items()}
    return value


def base_config(ctx: Any) -> dict[str, Any]:
    model = "gpt-4.1-mini"
    return {
        "providers": {
            "bench": {"type": "openai", "base_url": ctx.base_url, "api_key": "sk-bench"},
            "flaky": {"type": "openai", "base_url": ctx.fail_url, "api_key": "sk-bench"},
        },
        "agents": {
            "bench": {"model": f"bench:{model}"},
            "failover": {"model": f"flaky:{model}", "fallbacks": [f"bench:{model}"]},
            "failing": {"model": f"flaky:{model}"},
        },
        # One attempt per deployment: the failover scenario measures falling back,
        # not backoff sleeps.
        "retry": {"attempts": 1},
    }


def _validates(data: dict[str, Any]) -> bool:
    from polyroute.config.loader import config_from_data

    try:
        config_from_data(data)
    except Exception:
        return False
    return True


def features_config(ctx: Any, *, cache: bool = False,
                    failover: bool = False) -> tuple[Any, dict[str, Any]]:
    """``(config, what_is_on)`` for the benchmark's router."""
    from polyroute.config.loader import config_from_data
    from polyroute.config.schema import PolyrouteConfig, ProviderConfig

    data = base_config(ctx)
    fields = set(PolyrouteConfig.model_fields)
    on: dict[str, Any] = {"routing": "agent -> model (+ fallbacks)"}
    pinned: dict[str, Any] = {}
    pin_file = Path(__file__).with_name("features.json")
    if pin_file.exists():
        pinned = json.loads(pin_file.read_text())

    wanted = [f for f in _CANDIDATES if f != "cache" or cache]
    for feature in wanted:
        if feature in pinned:
            section, value = pinned[feature]["section"], _subst(pinned[feature]["value"], ctx.tmp)
            trial = {**data, section: value}
            if _validates(trial):
                data, on[feature] = trial, {section: value}
                continue
        sections, values = _CANDIDATES[feature]
        present = [s for s in sections if s in fields]
        for section in present:
            for value in values:
                value = _subst(value, ctx.tmp)
                trial = {**data, section: value}
                if _validates(trial):
                    data, on[feature] = trial, {section: value}
                    break
            if feature in on:
                break
        if feature not in on and present:
            on[feature] = f"section {present[0]!r} exists but no known shape validated"
        elif feature not in on:
            on[feature] = None

    if failover and isinstance(on.get("breaker"), dict):
        # The failover scenario measures falling back on every call: a breaker that opened
        # after a few 500s would skip the failing deployment instead. Keep it on, never open.
        (section, value), = on["breaker"].items()
        for extra in ({"failures": HUGE, "failure_ratio": None}, {"failures": HUGE},
                      {"enabled": False}):
            trial = {**data, section: {**value, **extra}}
            if _validates(trial):
                data = trial
                on["breaker"] = {section: trial[section], "note": "never opens (failover run)"}
                break

    if on.get("rate_limit") is None:
        pfields = set(ProviderConfig.model_fields)
        limits = {k: v for k, v in _PROVIDER_LIMITS.items() if k in pfields}
        if limits:
            for p in data["providers"].values():
                p.update(limits)
            on["rate_limit"] = {"providers.*": limits}

    os.makedirs(ctx.tmp, exist_ok=True)
    return config_from_data(data), on
