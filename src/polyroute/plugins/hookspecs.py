"""Hook specifications: what a polyroute plugin may implement.

Registration hooks receive a ``register`` callback, so they stay cheap,
synchronous and free of IO. Built-in pieces register through the very same
hooks as third-party plugins.

A plugin is a module (or object) with functions decorated by
``polyroute.hookimpl``, exposed through the ``polyroute`` entry-point group::

    [project.entry-points.polyroute]
    myprovider = "polyroute_myprovider.plugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from polyroute._markers import hookspec

if TYPE_CHECKING:
    from polyroute.analytics.alerts import Alert
    from polyroute.errors import PolyrouteError
    from polyroute.framing import FramingDecoder
    from polyroute.providers.base import Provider, ProviderTemplate
    from polyroute.routing.strategies import Strategy
    from polyroute.secret_refs import SecretBackend
    from polyroute.types import Attempt, ChatRequest, ChatResponse, ModelInfo



@hookspec
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    """Register provider classes (subclasses of ``polyroute.providers.Provider``).

    :param register: call once per class; its ``type_name`` is what a config's
        ``type:`` selects. Registering a taken name raises ``PluginError``.
    """


@hookspec
def polyroute_register_templates(register: Callable[[ProviderTemplate], None]) -> None:
    """Register provider templates (presets such as an OpenAI-compatible endpoint).

    :param register: call once per ``ProviderTemplate``; a config entry
        ``{template: NAME}`` expands to it.
    """


@hookspec
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    """Register catalog entries: context window, max output, capabilities, prices.

    :param register: call once per ``ModelInfo``.
    """


@hookspec
def polyroute_register_strategies(register: Callable[[str, Strategy], None]) -> None:
    """Register routing strategies that order the candidates inside one tier.

    :param register: ``register(name, strategy)``; a route's ``strategy:`` picks it.
    """


@hookspec
def polyroute_register_framings(
    register: Callable[[str, Callable[[], FramingDecoder]], None],
) -> None:
    """Register stream framings beyond ``sse`` and ``ndjson`` (e.g. AWS event-stream).

    :param register: ``register(name, factory)``; a provider's
        ``HttpRequest(framing=name)`` then decodes with ``factory()``.
    """


@hookspec
def polyroute_register_secret_backends(register: Callable[[SecretBackend], None]) -> None:
    """Register secret backends: ``register(backend)`` makes ``<backend.scheme>:<ref>``
    usable wherever a config takes a secret (``api_key: my-kms:llm/openai``).

    ``backend.read(ref)`` returns the value (blocking; it is cached for
    ``backend.ttl`` seconds and re-read when a provider answers 401/403). See
    ``polyroute.secret_refs.SecretBackend`` and docs/secrets.md.
    """


@hookspec
def polyroute_on_attempt(attempt: Attempt, request: ChatRequest) -> None:
    """Observe one finished attempt (success or failure) at one deployment.

    Called on the request path: keep it fast and never raise.
    """


@hookspec
def polyroute_on_response(response: ChatResponse, request: ChatRequest) -> None:
    """Observe a routed call that answered (after all retries and fallbacks)."""


@hookspec
def polyroute_on_alert(alert: Alert) -> None:
    """Observe an alert: a budget threshold crossed, error-rate or latency degradation,
    a circuit opening (``polyroute.analytics.alerts.Alert``). Never raise; no slow IO."""


@hookspec
def polyroute_on_failure(error: PolyrouteError, request: ChatRequest) -> None:
    """Observe a routed call that failed for good (``NoRouteError`` and the like)."""
