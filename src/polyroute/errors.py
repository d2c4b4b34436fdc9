"""One typed error hierarchy for everything polyroute raises.

```
PolyrouteError
├── ConfigError                  bad config: file, field path, fix
├── MissingSecretError           a referenced secret (env var) is not set
├── PluginError                  a plugin misbehaved (registration, bad hook)
├── MissingExtraError            an optional dependency is absent (also an ImportError)
├── StateStoreError              the shared state backend failed (which, what, fix)
├── ProviderError                a provider call failed; classified once
│   ├── AuthenticationError      401/403             retry: no   fallback: yes
│   ├── NotFoundError            404 model/route     retry: no   fallback: yes
│   ├── BadRequestError          400/422             retry: no   fallback: yes
│   │   └── ContextWindowError   prompt too long     retry: no   fallback: yes
│   ├── ContentPolicyError       refused by policy   retry: no   fallback: no*
│   ├── RateLimitError           429, retry_after    retry: yes  fallback: yes
│   │   └── QuotaExceededError   quota/spend limit   retry: no   fallback: yes
│   ├── ServerError              5xx                 retry: yes  fallback: yes
│   │   └── OverloadedError      529/503 overloaded  retry: yes  fallback: yes
│   ├── ProviderTimeoutError     connect/read/TTFT   retry: yes  fallback: yes
│   ├── ProviderConnectionError  refused, reset      retry: yes  fallback: yes
│   └── InvalidResponseError     unparseable body    retry: no   fallback: yes
│       └── StreamInterruptedError  stream cut, in-band error, no terminal event
└── RoutingError
    ├── NoRouteError             every candidate skipped or failed (with reasons)
    └── BudgetExceeded           a budget blocks the call
```
(*) content-policy refusals only follow a dedicated content-policy chain.

Every ``ProviderError`` names the provider, the model, the HTTP status (if
any), whether it is retryable, whether it may fall back, and — once the router
has handled it — what polyroute did next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "CandidateOutcome",
    "ConfigError",
    "ContentPolicyError",
    "ContextWindowError",
    "InvalidResponseError",
    "MissingExtraError",
    "MissingSecretError",
    "NoRouteError",
    "NotFoundError",
    "OverloadedError",
    "PluginError",
    "PolyrouteError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "RateLimitError",
    "RoutingError",
    "ServerError",
    "StateStoreError",
    "StateStoreUnavailable",
    "StreamInterruptedError",
]


class PolyrouteError(Exception):
    """Base of every error polyroute raises on purpose."""


class ConfigError(PolyrouteError):
    """A config is invalid. Names the file, the field path and how to fix it."""

    def __init__(
        self, message: str, *, file: str | None = None, field: str | None = None,
        fix: str | None = None, problems: Sequence[ConfigError] = (),
    ) -> None:
        self.file = file
        self.field = field
        self.fix = fix
        self.reason = message
        self.problems: tuple[ConfigError, ...] = tuple(problems) or (self,)
        """Every problem found (one error may report several); just ``self`` if one."""
        where = ", ".join(
            x for x in (f"file {file}" if file else "", f"field '{field}'" if field else "") if x
        )
        text = f"{where}: {message}" if where else message
        if fix:
            text += f" — fix: {fix}"
        super().__init__(text)


class MissingSecretError(ConfigError):
    """A secret reference (``env:NAME``) points at an unset environment variable."""


class PluginError(PolyrouteError):
    """A plugin registered something invalid or a hook failed."""


class MissingExtraError(PolyrouteError, ImportError):
    """A feature needs an optional dependency that is not installed. Names the
    package and the ``polyroute[extra]`` that brings it; still an ``ImportError``
    so ``try: import ... except ImportError`` keeps working."""

    def __init__(self, feature: str, *, package: str, extra: str, module: str) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs {package}, which is not installed"
            f" — fix: pip install 'polyroute[{extra}]'"
        )
        self.name = module


class StateStoreError(PolyrouteError):
    """The shared state backend (budgets, breakers, windows) could not answer.

    Raised instead of the backend's own error, after transient lock contention
    has been retried for the backend's timeout; a call that meets it is refused,
    never let through uncounted."""


class StateStoreUnavailable(StateStoreError):
    """The state backend could not be reached (server down, timeout, auth, a locked or
    unwritable file), as opposed to answering with a value polyroute did not write.
    Per guard, ``state.on_failure`` decides whether a call that meets it is refused
    (fail closed) or let through uncounted with a warning (fail open); a corrupt value
    always fails closed."""


class ProviderError(PolyrouteError):
    """A call to a provider failed. Subclasses fix ``retryable``/``fallbackable``."""

    retryable: bool = False
    fallbackable: bool = True

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        error_type: str | None = None,
    ) -> None:
        self.reason = message
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.request_id = request_id
        self.error_type = error_type
        self.action: str | None = None
        super().__init__(message)

    def __str__(self) -> str:
        where = "/".join(x for x in (self.provider, self.model) if x) or "provider"
        bits = [f"{where}: {self.reason}"]
        if self.status is not None:
            bits.append(f"status {self.status}")
        if self.retry_after is not None:
            bits.append(f"retry after {self.retry_after:g}s")
        if self.request_id:
            bits.append(f"request id {self.request_id}")
        text = " | ".join(bits)
        if self.action:
            text += f" → polyroute {self.action}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def with_context(self, provider: str, model: str) -> ProviderError:
        """Fill in where the error came from, if the translator left it out."""
        self.provider = self.provider or provider
        self.model = self.model or model
        return self


class AuthenticationError(ProviderError):
    """The key is missing, wrong or lacks permission. Retrying cannot help."""


class NotFoundError(ProviderError):
    """The model or endpoint does not exist for this provider."""


class BadRequestError(ProviderError):
    """The provider rejected the request as malformed or unsupported."""


class ContextWindowError(BadRequestError):
    """The prompt plus requested output does not fit the model's context window."""


class ContentPolicyError(ProviderError):
    """The provider refused on content-policy (safety) grounds."""

    fallbackable = False


class RateLimitError(ProviderError):
    """429: too many requests or tokens. ``retry_after`` is seconds, if the provider said."""

    retryable = True


class QuotaExceededError(RateLimitError):
    """429 for an exhausted quota or spend limit: waiting will not help, another provider may."""

    retryable = False


class ServerError(ProviderError):
    """The provider failed (5xx)."""

    retryable = True


class OverloadedError(ServerError):
    """The provider is overloaded (e.g. 529, 503)."""


class ProviderTimeoutError(ProviderError):
    """Connect, read, first-token or total timeout."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The connection was refused, reset or dropped."""

    retryable = True


class InvalidResponseError(ProviderError):
    """The provider answered with a body polyroute cannot parse."""


class StreamInterruptedError(InvalidResponseError):
    """A stream broke: cut mid-way, an in-band error event, or no terminal event."""


class RoutingError(PolyrouteError):
    """The router could not serve the request."""


@dataclass(frozen=True, slots=True)
class CandidateOutcome:
    """Why one candidate did not answer: skipped before the call, or failed."""

    provider: str
    model: str
    reason: str
    skipped: bool
    error: ProviderError | None = None

    def __str__(self) -> str:
        verb = "skipped" if self.skipped else "failed"
        return f"{self.provider}/{self.model} {verb}: {self.reason}"


class NoRouteError(RoutingError):
    """No candidate could answer. ``outcomes`` says why, one line per candidate."""

    def __init__(self, message: str, outcomes: Sequence[CandidateOutcome] = ()) -> None:
        self.outcomes = list(outcomes)
        self.reason = message
        lines = [message] + [f"  - {o}" for o in self.outcomes]
        super().__init__("\n".join(lines))

    @property
    def last_error(self) -> ProviderError | None:
        for outcome in reversed(self.outcomes):
            if outcome.error is not None:
                return outcome.error
        return None


def _usd(x: float) -> str:
    return f"${x:.4f}" if x == 0 or abs(x) >= 0.0001 else f"${x:.2g}"


class BudgetExceeded(RoutingError):
    """A budget with ``on_exceed: block`` (or a call's ``max_cost_usd``) stops the call.

    ``spent_usd`` is what calls have actually cost in the window; ``reserved_usd`` is
    what is held for calls still in flight (settled to their actual cost when they
    end); ``needed_usd`` is this call's worst case and ``basis`` what it rests on."""

    def __init__(
        self, scope: str, spent_usd: float, limit_usd: float, resets_at: str | None = None,
        *, reserved_usd: float = 0.0, needed_usd: float | None = None,
        basis: str | None = None, fix: str | None = None, per_request: bool = False,
    ) -> None:
        self.scope = scope
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.resets_at = resets_at
        self.reserved_usd = reserved_usd
        self.needed_usd = needed_usd
        self.basis = basis
        self.fix = fix
        if per_request and needed_usd is None:
            text = (f"budget '{scope}' cannot be checked for this call, so it is refused; "
                    "nothing was spent")
        elif per_request and needed_usd is not None:
            text = (f"budget '{scope}' exceeded: this call's worst case ${needed_usd:.4f} is "
                    f"over the {_usd(limit_usd)} limit per call; nothing was spent")
        else:
            text = f"budget '{scope}' exceeded: spent ${spent_usd:.4f}"
            if reserved_usd:
                text += f" and ${reserved_usd:.4f} reserved for calls in flight"
            text += f", of {_usd(limit_usd)}"
            if needed_usd is not None:
                text += f"; this call needs up to ${needed_usd:.4f}"
        if basis:
            text += f" ({basis})"
        if resets_at:
            text += f"; resets at {resets_at}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)
