"""Sampling parameters across providers: which ones a provider takes, and the policy
for the ones it cannot.

polyroute's neutral ``GenerationParams`` has eight portable parameters
(``PARAMS``). Each provider plugin maps them to its API — ``max_tokens`` is
``max_completion_tokens`` on OpenAI, ``maxOutputTokens`` on Gemini,
``num_predict`` on Ollama, ``seed`` is ``random_seed`` on Mistral — and
declares the ones it can take in ``Provider.supported_params`` (``None``, the
default, means all). A config may narrow or widen that per provider instance
with ``providers.NAME.extra.supported_params`` (a list of names), for
OpenAI-compatible servers that differ from OpenAI.

A parameter set on a call (or by its agent or route) that a candidate's
provider cannot take is handled by the config's ``params_policy``:

``drop``
    the parameter is left out of that provider's request, silently;
``warn`` (default)
    left out, with a warning logged once per provider and parameter, and
    listed in ``ChatResponse.provider_metadata["polyroute_dropped_params"]``;
``refuse``
    the candidate is skipped, with the reason (shown by ``polyroute route
    --explain`` and in ``NoRouteError``), so the call goes to a provider that
    honours every parameter or fails.

A provider may also refuse parameters for some of its models only
(``Provider.refused_params(model)``: OpenAI's reasoning models, o-series and
GPT-5, refuse ``temperature``, ``top_p`` and the penalties); the policy treats
those the same way, per deployment.

``for_provider`` is the request a provider should be given: the request
without what it cannot take. Provider-specific parameters (``params.extra``)
pass through as they are, except that a key may be scoped to one provider
type or instance as ``"TYPE:field"`` / ``"NAME:field"`` (``"anthropic:thinking"``,
``"openai:reasoning_effort"``): such a key reaches only that provider, as
``field``, and wins over an unscoped ``field``; the instance name wins over
the type. So one agent's fallback chain can carry each provider's own options.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from polyroute.errors import PolyrouteError
from polyroute.guard_base import Guard
from polyroute.refs import Deployment
from polyroute.types import (
    Attempt,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    PortableParams,
    request_memo,
)

if TYPE_CHECKING:
    from polyroute.providers.base import Provider

__all__ = [
    "PARAMS",
    "ParamsGuard",
    "ParamsPolicy",
    "for_provider",
    "param_verdict",
    "scoped_extra",
    "set_params",
    "supported_params",
    "unsupported_params",
]

ParamsPolicy = Literal["drop", "warn", "refuse"]
PARAMS: tuple[str, ...] = tuple(PortableParams.model_fields)
"""The portable sampling parameters, in order: the fields of ``PortableParams``, their
one definition (``GenerationParams``, the config and the adapters inherit them)."""
METADATA_KEY = "polyroute_dropped_params"
logger = logging.getLogger("polyroute.params")


def supported_params(provider: Provider) -> frozenset[str] | None:
    """What ``provider`` takes: its config's ``extra.supported_params``, else its
    class's ``supported_params``; ``None`` means every parameter."""
    override = provider.settings.extra.get("supported_params")
    if isinstance(override, Iterable) and not isinstance(override, str | bytes):
        return frozenset(str(x) for x in override)
    return type(provider).supported_params


def set_params(params: GenerationParams) -> list[str]:
    """The portable parameters ``params`` sets, in ``PARAMS`` order."""
    return [name for name in PARAMS if getattr(params, name) is not None]


def unsupported_params(provider: Provider, params: GenerationParams,
                       model: str | None = None) -> list[str]:
    """The parameters ``params`` sets that ``provider`` (serving ``model``, when
    given) cannot take."""
    supported = supported_params(provider)
    refused = provider.refused_params(model) if model is not None else None
    if supported is None and not refused:
        return []
    return [name for name in set_params(params)
            if (supported is not None and name not in supported)
            or (refused is not None and name in refused)]


def param_verdict(request: ChatRequest, provider: Provider, model: str | None = None,
                  params: GenerationParams | None = None) -> list[str]:
    """``unsupported_params(provider, params, model)`` (``params``: the request's own by
    default), computed once per request, provider instance, model and set of parameters:
    planning, the params guard and ``for_provider`` ask it for every candidate."""
    params = request.params if params is None else params
    names = tuple(set_params(params))
    key = ("params", provider.name, model, names)
    memo = request_memo(request)
    kept = memo.get(key)
    if kept is not None and kept[0] is provider:  # not another router's namesake
        return list(kept[1])
    verdict = unsupported_params(provider, params, model)
    memo[key] = (provider, tuple(verdict))
    return verdict


def scoped_extra(extra: dict[str, Any], provider: Provider) -> dict[str, Any] | None:
    """``extra`` as ``provider`` gets it, or ``None`` when no key is scoped."""
    if not any(":" in key for key in extra):
        return None
    out = {k: v for k, v in extra.items() if ":" not in k}
    for scope in (provider.type_name, provider.name):  # the instance is more specific
        cut = len(scope) + 1
        out.update({k[cut:]: v for k, v in extra.items() if k.startswith(scope + ":")})
    return out


def for_provider(request: ChatRequest, provider: Provider,
                 model: str | None = None) -> ChatRequest:
    """``request`` without the parameters ``provider`` (serving ``model``) cannot take
    and with only the pass-through parameters meant for it (itself if nothing changes)."""
    params = request.params
    dropped = param_verdict(request, provider, model)
    extra = scoped_extra(params.extra, provider) if params.extra else None
    if not dropped and extra is None:
        return request
    update: dict[str, Any] = dict.fromkeys(dropped)
    if extra is not None:
        update["extra"] = extra
    return request.model_copy(update={"params": params.model_copy(update=update)})


class ParamsGuard(Guard):
    """Enforces ``params_policy`` for every candidate of every call.

    ``refuse``: ``skip_reason`` skips a candidate whose provider cannot take a
    parameter the call sets (the call's own, or its agent's or route's).
    ``warn``: logs, once per provider and parameter, what is dropped, and
    names it on the response.
    """

    name = "params"

    def __init__(
        self,
        policy: ParamsPolicy,
        provider: Callable[[str], Provider | None],
        source_params: Callable[[ChatRequest], GenerationParams],
    ) -> None:
        """``provider``: the provider instance called ``name``; ``source_params``: the
        parameters a request's agent or route adds (raises ``PolyrouteError`` when the
        request has no route: the planner reports that itself)."""
        self.policy: ParamsPolicy = policy
        self._provider = provider
        self._source_params = source_params
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _unsupported(self, dep: Deployment, request: ChatRequest,
                     params: GenerationParams | None = None) -> list[str]:
        provider = self._provider(dep.provider)
        return [] if provider is None else param_verdict(request, provider, dep.model, params)

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        if self.policy != "refuse":
            return None
        params = request.params
        with contextlib.suppress(PolyrouteError):  # no source: the planner says so itself
            # the agent's or route's params apply too
            params = params.merged_over(self._source_params(request))
        dropped = self._unsupported(dep, request, params)
        if not dropped:
            return None
        provider = self._provider(dep.provider)
        ptype = provider.type_name if provider is not None else dep.provider
        by_model = provider is not None and not param_verdict(request, provider, None, params)
        who = f"{ptype} model {dep.model}" if by_model else ptype
        return (
            f"cannot take parameter {', '.join(dropped)} "
            f"({who} does not support it; params_policy: refuse)"
        )

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        dropped = self._unsupported(dep, request)
        if not dropped:
            return None
        if self.policy == "warn":
            with self._lock:
                fresh = [p for p in dropped if (dep.key, p) not in self._warned]
                self._warned.update((dep.key, p) for p in fresh)
            if fresh:
                logger.warning(
                    "provider '%s' cannot take %s for model %s: dropped from its requests "
                    "(set params_policy: refuse to skip such candidates instead)",
                    dep.provider, ", ".join(fresh), dep.model,
                )
        else:
            logger.debug("provider '%s': dropped %s", dep.provider, ", ".join(dropped))
        return dropped

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        if ticket and response is not None and self.policy == "warn":
            response.provider_metadata[METADATA_KEY] = list(ticket)
