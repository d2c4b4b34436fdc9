"""Building the ``Router`` behind an adapter (``RoutedChatModel``, ``RoutedLLM``).

Shared by the LangChain and LlamaIndex adapters and free of either framework.
The frameworks' standard constructor parameters (``api_key``, ``base_url``,
``timeout``, ``max_retries``) are applied on top of the config:

- ``api_key`` / ``base_url`` go to the provider named by the explicit
  ``model`` (``openai`` in ``openai:gpt-4.1-mini``), whether the config
  defines that provider or it is implicit (a plugin type or template name);
- ``timeout`` is the read timeout of every provider call;
- ``max_retries`` is the number of retries of one deployment before falling
  back (``retry.attempts`` counts the first try, so it is ``max_retries + 1``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import SecretStr

from polyroute.config import PolyrouteConfig, config_from_data, load_config
from polyroute.config.providers import implicit_provider_config
from polyroute.errors import ConfigError
from polyroute.plugins.known import unknown_type_fix
from polyroute.plugins.manager import default_registry
from polyroute.router import Router
from polyroute.routing.plan import parse_model_ref
from polyroute.secrets import Secret
from polyroute.types import ChatChunk, ChatRequest, ChatResponse

__all__ = [
    "RouterFields",
    "RouterLike",
    "RouterOwner",
    "RouterSlot",
    "build_router",
    "check_target",
    "config_source",
    "from_config",
    "key_env_names",
    "provider_of",
]

A = TypeVar("A", bound="RouterOwner")
_MAX_ATTEMPTS = 20  # RetryConfig.attempts' upper bound


def provider_of(model: str | None) -> str | None:
    """The provider part of ``provider:model`` (or ``provider/model``), if there is one."""
    if not model:
        return None
    try:
        return parse_model_ref(model)[0]
    except ConfigError:
        return None


def key_env_names(provider: str) -> tuple[str, ...]:
    """The environment variables a provider reads its key from, as its plugin says."""
    try:
        registry = default_registry()
    except Exception:  # pragma: no cover - a broken plugin set must not break construction
        return ()
    cls = registry.provider_types.get(provider)
    if cls is not None:
        return tuple(cls.api_key_env)
    template = registry.templates.get(provider)
    return tuple(template.api_key_env) if template is not None else ()


def build_router(
    *,
    config: PolyrouteConfig | dict[str, Any] | None,
    config_path: str | None,
    profile: str | None,
    model: str | None,
    api_key: str | None,
    base_url: str | None,
    timeout: float | None,
    max_retries: int | None,
) -> Router:
    """A router for these settings (see the module docstring for what applies where)."""
    cfg = _load(config, config_path, profile)
    update: dict[str, Any] = {}
    if api_key is not None or base_url is not None:
        update["providers"] = _with_provider_overrides(cfg, model, api_key, base_url)
    if timeout is not None:
        update["timeouts"] = cfg.timeouts.model_copy(
            update={"read": timeout, "connect": min(cfg.timeouts.connect, timeout)}
        )
    if max_retries is not None:
        attempts = max(1, min(max_retries + 1, _MAX_ATTEMPTS))
        update["retry"] = cfg.retry.model_copy(update={"attempts": attempts})
    if update:
        cfg = cfg.model_copy(update=update)
    return Router(cfg)


@runtime_checkable
class RouterLike(Protocol):
    """What an adapter needs of a router: ``polyroute.router.Router`` or a stand-in."""

    def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def achat(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]: ...

    def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...


class RouterFields(Protocol):
    """An adapter's fields that say which router to build (see the module docstring)."""

    config: PolyrouteConfig | dict[str, Any] | None
    config_path: str | None
    config_profile: str | None
    model: str | None
    api_key: SecretStr | None
    base_url: str | None
    timeout: float | None
    max_retries: int | None


class RouterSlot:
    """The router an adapter built from its fields: built on first use (once, however
    many threads ask), then reused until the adapter closes it. A router passed to the
    adapter is the caller's and never goes in here."""

    __slots__ = ("_lock", "_router")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._router: RouterLike | None = None

    def get(self, fields: RouterFields) -> RouterLike:
        with self._lock:
            if self._router is None:
                self._router = build_router(
                    config=fields.config, config_path=fields.config_path,
                    profile=fields.config_profile, model=fields.model,
                    api_key=fields.api_key.get_secret_value() if fields.api_key else None,
                    base_url=fields.base_url, timeout=fields.timeout,
                    max_retries=fields.max_retries,
                )
            return self._router

    def close(self) -> None:
        router, self._router = self._router, None
        if isinstance(router, Router):
            router.close()

    async def aclose(self) -> None:
        router, self._router = self._router, None
        if isinstance(router, Router):
            await router.aclose()


class RouterOwner:
    """``get_router``/``close``/``aclose`` for an adapter (a pydantic model) with the
    ``RouterFields``, a ``router`` field (a router passed in, used as it is) and a
    ``_slot: RouterSlot`` private attribute (the router it builds itself)."""

    if TYPE_CHECKING:  # declared for type checkers only: pydantic must not see fields here
        router: Any
        _slot: RouterSlot

    def get_router(self) -> RouterLike:
        """The router serving this adapter (built on first use, then reused)."""
        router: RouterLike | None = self.router
        if router is not None:
            return router
        fields: RouterFields = self  # type: ignore[assignment]  # the adapter has them
        return self._slot.get(fields)

    def feedback(self, answer: Any, *, score: float | None = None, label: str | None = None,
                 comment: str | None = None, tenant: str | None = None) -> None:
        """How an answer turned out (``score`` in [0, 1] and/or a ``label``): ``answer`` is
        a LangChain message or LlamaIndex response this adapter returned, or its
        ``call_id``. Stored in the router's ledger (``Router.feedback``)."""
        _feedback_target(self.get_router()).feedback(
            call_id_of(answer), score=score, label=label, comment=comment, tenant=tenant)

    async def afeedback(self, answer: Any, *, score: float | None = None,
                        label: str | None = None, comment: str | None = None,
                        tenant: str | None = None) -> None:
        """Async ``feedback``."""
        await _feedback_target(self.get_router()).afeedback(
            call_id_of(answer), score=score, label=label, comment=comment, tenant=tenant)

    def close(self) -> None:
        """Close the router this adapter built (not one passed in as ``router``)."""
        self._slot.close()

    async def aclose(self) -> None:
        """Close the router this adapter built, from async code."""
        await self._slot.aclose()


def from_config(
    make: Callable[..., A], config: Any, *, agent: str | None, task: str | None,
    profile: str | None, kwargs: dict[str, Any],
) -> A:
    """An adapter made by ``make`` for a config (path, dict or ``PolyrouteConfig``),
    checked now: a missing file, a bad field or an unknown agent or task raises
    ``ConfigError`` here, not at the first call (the adapters' ``from_config``)."""
    adapter = make(**config_source(config, profile), agent=agent, task=task,
                   config_profile=profile, **kwargs)
    check_target(adapter.get_router(), agent, task)
    return adapter


def _load(
    config: PolyrouteConfig | dict[str, Any] | None, path: str | None, profile: str | None
) -> PolyrouteConfig:
    if config is not None and path is not None:
        raise ConfigError("give either config or a config path, not both")
    if isinstance(config, PolyrouteConfig):
        return config
    if isinstance(config, dict):
        return config_from_data(config, profile=profile)
    if path is not None:
        return load_config(os.fspath(path), profile=profile)
    return PolyrouteConfig()


def _with_provider_overrides(
    cfg: PolyrouteConfig, model: str | None, api_key: str | None, base_url: str | None
) -> dict[str, Any]:
    provider = provider_of(model)
    if provider is None:
        raise ConfigError(
            "api_key and base_url apply to the provider of an explicit model, "
            "and no model names one",
            fix="pass model='provider:model', or set the key in the config's providers section",
        )
    pcfg = cfg.providers.get(provider) or implicit_provider_config(provider, default_registry())
    if pcfg is None:
        installed = default_registry().provider_types
        known = ", ".join(sorted(installed)) or "none installed"
        raise ConfigError(
            f"provider '{provider}' is neither configured nor an installed plugin type "
            f"or template (installed types: {known})",
            field="model",
            fix=f"{unknown_type_fix(provider, installed)}; or configure providers.{provider}",
        )
    changes: dict[str, Any] = {}
    if api_key is not None:
        changes["api_key"] = Secret(api_key)
    if base_url is not None:
        changes["base_url"] = base_url
    return {**cfg.providers, provider: pcfg.model_copy(update=changes)}


def config_source(config: Any, profile: str | None) -> dict[str, Any]:
    """The adapter fields for ``from_config``'s argument: a path, a dict or a config."""
    if isinstance(config, str | os.PathLike):
        return {"config_path": os.fspath(config)}
    if isinstance(config, dict):
        return {"config": config}  # validated by the adapter, with its profile
    if isinstance(config, PolyrouteConfig):
        if profile is not None:
            raise ConfigError(
                "a loaded PolyrouteConfig already has its profile applied", field="profile",
                fix=f"load it with load_config(path, profile={profile!r}), or pass the "
                    "path or the dict instead",
            )
        return {"config": config}
    raise ConfigError(
        f"from_config takes a file path, a dict or a PolyrouteConfig, not "
        f"{type(config).__name__}",
        fix="pass 'polyroute.yaml', or the config as a dict",
    )


def check_target(router: object, agent: str | None, task: str | None) -> None:
    """Fail now, not at the first call, if ``agent`` or ``task`` is not in the config of
    the router an adapter built (closing it then); a router passed in is the caller's."""
    if not isinstance(router, Router):
        return
    try:
        _check_target(router, agent, task)
    except ConfigError:
        router.close()
        raise


def _check_target(router: Router, agent: str | None, task: str | None) -> None:
    cfg = router.config
    for kind, name, known in (("agent", agent, cfg.agents), ("task", task, cfg.routes)):
        if name is not None and name not in known:
            section = "agents" if kind == "agent" else "routes"
            listed = ", ".join(sorted(known)) or "none defined"
            raise ConfigError(
                f"{kind} '{name}' is not defined ({section}: {listed})", file=cfg.source,
                field=section, fix=f"add {section}.{name} or pick one of those",
            )


def call_id_of(answer: Any) -> str:
    """The ledger call id of an adapter's answer: a LangChain ``AIMessage``
    (``response_metadata``), a LlamaIndex ``ChatResponse`` (``additional_kwargs``), or
    the id itself."""
    if isinstance(answer, str):
        return answer
    for attr in ("response_metadata", "additional_kwargs"):
        meta = getattr(answer, attr, None)
        if isinstance(meta, dict):
            info = meta.get("polyroute")
            if isinstance(info, dict) and isinstance(info.get("call_id"), str):
                return str(info["call_id"])
    from polyroute.ledger.feedback import FeedbackError

    raise FeedbackError(f"{type(answer).__name__} carries no polyroute call_id",
                        fix="pass the message/response the model returned (with the ledger "
                            "on: `ledger: {}`), or its call_id")


def _feedback_target(router: Any) -> Any:
    if not hasattr(router, "feedback"):
        from polyroute.ledger.feedback import FeedbackError

        raise FeedbackError(f"the router {type(router).__name__} takes no feedback",
                            fix="use a polyroute Router (with `ledger: {}`)")
    return router
