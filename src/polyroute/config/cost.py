"""Config sections for pricing, budgets, the usage ledger, the response cache,
shared state and alerts. ``config/schema.py`` mounts them on ``PolyrouteConfig``.

```yaml
pricing:  {unknown: block, overrides: {"openai:gpt-4.1": {input: 2, output: 8}}}
budgets:
  - {scope: provider:openai, usd: 500, per: day, on_exceed: block, timezone: Europe/Paris}
  - {scope: global, usd: 15000, per: month, on_exceed: downgrade}
  - {scope: agent:swe_agent, usd: 0.50, per: request}
ledger:   {path: .polyroute/usage.db, retention_days: 90}
cache:    {ttl: 1h, namespace: prod}
state:    {backend: sqlite, path: .polyroute/state.db}   # or {backend: redis, url: env:REDIS_URL}
alerts:   {webhook: env:ALERT_WEBHOOK_URL, error_rate: 0.5}
```

``ledger`` and ``cache`` are off unless their section is present (``cache: {}``
turns the cache on with its defaults). Relative paths are relative to the
config file's folder.
"""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from polyroute.secrets import Secret
from polyroute.state.paths import resolve_path

__all__ = [
    "AlertsConfig",
    "BudgetConfig",
    "CacheConfig",
    "LedgerConfig",
    "PriceOverride",
    "PricingConfig",
    "SemanticCacheConfig",
    "StateConfig",
    "StoreFailureConfig",
    "parse_duration",
    "resolve_path",
    "zone",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(value: Any) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` (``None`` passes)."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a duration (use seconds or e.g. 90s, 15m, 1h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


Duration = Annotated[float | None, BeforeValidator(parse_duration)]


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The ``tzinfo`` for an IANA name; ``UTC`` needs no tz database. Here, not in
    ``budgets``, so that validating a budget's ``timezone`` imports nothing above config."""
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone '{name}' (use an IANA name such as Europe/Paris; "
            "on systems without a tz database, pip install tzdata)"
        ) from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class PriceOverride(_Strict):
    """USD per million tokens; unset classes fall back as in ``polyroute.cost``."""

    input: float | None = Field(None, ge=0)
    output: float | None = Field(None, ge=0)
    cache_read: float | None = Field(None, ge=0)
    cache_write: float | None = Field(None, ge=0)
    reasoning: float | None = Field(None, ge=0)


class PricingConfig(_Strict):
    unknown: Literal["warn", "block"] = "warn"
    """A model with no known price: ``warn`` (log once, cost recorded as unknown) or
    ``block`` (the candidate is skipped). Never priced as $0."""
    dataset: bool = True
    """Use the bundled genai-prices dataset for models the plugin catalogs do not price."""
    overrides: dict[str, PriceOverride] = Field(default_factory=dict)
    """By ``provider:model``, ``provider/model`` or bare ``model``; beat every other source."""
    default_max_output_tokens: int = Field(4096, ge=1)
    """Output tokens a reservation assumes when neither the call nor the catalog says."""


_SCOPE = re.compile(r"^(global|(provider|model|agent):.+|tag:[^=]+=.*)$")


class BudgetConfig(_Strict):
    """A spending limit on one scope over one window."""

    scope: str = "global"
    """``global``, ``provider:NAME``, ``model:PROVIDER:MODEL`` (or bare model id),
    ``agent:NAME`` or ``tag:KEY=VALUE``."""
    usd: float = Field(gt=0, allow_inf_nan=False)  # an infinite limit is no limit: say so
    per: Literal["request", "hour", "day", "week", "month", "total"] = "day"
    """Windows are calendar-aligned in ``timezone`` (weeks start on Monday);
    ``request`` caps each call's worst-case cost, ``total`` never resets."""
    on_exceed: Literal["block", "downgrade", "warn"] = "block"
    """``block`` raises ``BudgetExceeded``; ``downgrade`` serves only the route's
    cheapest candidates; ``warn`` logs and alerts but lets the call through."""
    timezone: str = "UTC"
    alerts: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])
    """Fractions of the limit at which an alert fires, once per window."""
    name: str | None = None

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        v = v.strip()
        if not _SCOPE.match(v):
            raise ValueError(
                f"scope '{v}' is not one of global, provider:NAME, model:REF, "
                "agent:NAME, tag:KEY=VALUE"
            )
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        zone(v)
        return v

    @property
    def label(self) -> str:
        return self.name or f"{self.scope}/{self.per}"


class LedgerConfig(_Strict):
    path: str = ".polyroute/usage.db"
    store_content: bool = False
    """Store prompts and answers too (off: metadata only)."""
    retention_days: float | None = Field(90, gt=0)
    queue_size: int = Field(10_000, ge=10)
    """Rows waiting for the writer thread; beyond it rows are dropped and counted."""
    sync: bool = False
    """Commit each call's row before the call returns (survives ``kill -9``; costs the
    caller one SQLite commit). Off: a writer thread commits moments after."""
    url: Secret | None = None
    """A PostgreSQL ledger shared by every worker: ``postgresql://user:pw@host/db`` or
    ``env:LEDGER_URL`` (needs ``polyroute[postgres]``). Set, it replaces ``path``."""

    @field_validator("url")
    @classmethod
    def _pg_url(cls, v: Secret | None) -> Secret | None:
        if v is not None and v.is_available():
            scheme = v.reveal(what="ledger.url").partition("://")[0]
            if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
                raise ValueError(f"ledger.url must be a postgresql:// URL, not {scheme}://"
                                 " (for SQLite use ledger.path)")
        return v

    def target(self, source: Any = None) -> str:
        """Where the ledger is: the PostgreSQL URL, or the SQLite file's path."""
        if self.url is not None:
            return self.url.reveal(what="ledger.url").replace("postgresql+psycopg://",
                                                              "postgresql://", 1)
        return str(resolve_path(self.path, source))


class SemanticCacheConfig(_Strict):
    """Near-duplicate prompts answered from the cache (docs/semantic-cache.md). Off by
    default; needs ``polyroute[semantic]`` (and ``[semantic-local]`` for the local model)."""

    enabled: bool = False
    threshold: float = Field(0.90, ge=0.5, le=1.0)
    """Least cosine similarity of a near match (the content gate must pass too)."""
    gate: bool = True
    """Require equal numbers, negations, polar words, quotes, identifiers and names.
    Off only to measure what it prevents: without it wrong answers are served."""
    embedder: str = "local"
    """``local`` (the packaged all-MiniLM-L6-v2) or ``package.module:factory``."""
    index: Literal["auto", "usearch", "numpy"] = "auto"
    deterministic_only: bool = True
    """Only calls with temperature 0 (a call opts in with tag ``semantic_cache: on``)."""
    max_candidates: int = Field(8, ge=1, le=100)
    """Near matches above the threshold tried, best first, against the gate."""


class CacheConfig(_Strict):
    enabled: bool = True
    directory: str = ".polyroute/cache"
    ttl: Duration = 3600.0
    """Default time-to-live (``None``: until evicted). Per call: tag ``cache_ttl``."""
    namespace: str = "default"
    tenant_tag: str = "tenant"
    """The routing tag whose value partitions the cache between tenants."""
    cache_tool_calls: bool = False
    """Also cache answers that call tools (off: they depend on the world)."""
    size_limit_mb: int = Field(1024, ge=1)
    retention_days: float | None = Field(None, gt=0)
    """Entries stored longer ago than this are deleted by ``polyroute purge`` and when a
    router opens the cache (``None``: kept until their TTL or eviction)."""
    wait_timeout: float = Field(60.0, gt=0)
    """How long an identical concurrent request waits for the one in flight."""
    semantic: SemanticCacheConfig = Field(default_factory=SemanticCacheConfig)
    backend: Literal["disk", "redis"] = "disk"
    """``disk``: diskcache in ``directory`` (one host); ``redis``: shared by every
    worker, with identical concurrent requests across processes made once."""
    url: Secret | None = None
    """The Redis server (``redis``); default: ``state.url`` when the state is on Redis,
    else ``redis://127.0.0.1:6379/0``. Sentinel/Cluster/TLS URLs as for ``state.url``."""
    prefix: str = "polyroute:cache:"
    """Prefix of every cache key in Redis."""


class StoreFailureConfig(_Strict):
    """What each guard does when the state store cannot be reached (docs/state.md).
    ``closed``: the call is refused with ``StateStoreUnavailable``; ``open``: the guard
    lets it through uncounted, with a warning. A corrupt value always fails closed."""

    budget: Literal["closed", "open"] = "closed"
    """Budgets and per-call cost caps: an uncounted call could overspend."""
    rate_limit: Literal["closed", "open"] = "open"
    """Rate limits and 429 cooldowns: the provider still enforces its own limits."""
    breaker: Literal["closed", "open"] = "open"
    """Circuit breakers: no circuit state means no circuit known to be open."""
    health: Literal["closed", "open"] = "open"
    """Health samples: they only rank candidates."""
    strategy: Literal["closed", "open"] = "open"
    """Routing strategies that keep state (``round_robin``; ``least_busy``,
    ``least_latency``, ``lru``, ``health`` through the health samples): ``open`` orders
    the candidates as configured for that call."""


class StateConfig(_Strict):
    backend: Literal["memory", "sqlite", "redis"] = "memory"
    """``memory``: this process; ``sqlite``: every process on this host;
    ``redis``: every process on every host that reaches the server."""
    path: str = ".polyroute/state.db"
    """The SQLite file (``sqlite``)."""
    url: Secret | None = None
    """The server (``redis``): ``redis://[:password@]host:6379/0``, ``rediss://`` for TLS,
    ``redis+sentinel://h1:26379,h2/mymaster/0``, ``redis+cluster://n1:6379,n2`` (and
    ``rediss+…`` for TLS; docs/state.md), or ``env:REDIS_URL``; default
    ``redis://127.0.0.1:6379/0``."""
    prefix: str = "polyroute:"
    """Prefix of every key (``redis``), so deployments can share a database."""
    on_failure: StoreFailureConfig = Field(default_factory=StoreFailureConfig)
    """Per guard, fail closed or open when the store cannot be reached."""
    read_cache_ms: float = Field(100.0, ge=0, le=60_000, allow_inf_nan=False)
    """(``redis``) How old a value that only steers may be: whether a circuit is open,
    a 429 cooldown runs, a limit's adaptive share. Another process's change is seen
    within this; this process's own at once. 0: read the server every time."""
    lease_calls: int = Field(16, ge=0, le=10_000)
    """(``redis``) A process reserves up to this many calls' worth of a budget window,
    or of a rate limit's window, at once and serves its next calls from it (at most an
    eighth of the room left; unused room goes back within a second, at close and at
    exit). 0: one round trip per reservation. Budgets that never reset are not
    leased. Needs ``write_behind_ms`` > 0 (what is given back is a held write)."""
    write_behind_ms: float = Field(50.0, ge=0, le=60_000, allow_inf_nan=False)
    """(``redis``) How long writes nobody waits for (settled reservations, successes
    counted, health samples) are held to go out together; this process's next
    operation on the same key sends them first. 0: send each at once."""


class AlertsConfig(_Strict):
    log: bool = True
    webhook: Secret | None = None
    """A URL (or ``env:NAME``) that receives each alert as a JSON POST, off the request path."""
    error_rate: float | None = Field(0.5, gt=0, le=1)
    """Alert when a deployment's error rate over the last ``window`` calls reaches this."""
    latency_p95_ms: float | None = Field(None, gt=0)
    window: int = Field(50, ge=5)
    min_calls: int = Field(10, ge=1)
