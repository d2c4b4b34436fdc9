"""``RoutedChatModel``: a LangChain chat model that routes every call through polyroute."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from polyroute.adapter_common import build_request
from polyroute.adapter_router import (
    RouterLike,
    RouterOwner,
    RouterSlot,
    from_config,
    key_env_names,
    provider_of,
)
from polyroute.config import PolyrouteConfig, config_from_data
from polyroute.langchain.messages import to_neutral_messages
from polyroute.langchain.outputs import StreamState, chat_result
from polyroute.langchain.tools import (
    StructuredMethod,
    ToolLike,
    bind_tool_kwargs,
    neutral_response_format,
    neutral_tool_choice,
    neutral_tools,
    structured_output,
)
from polyroute.params import PARAMS
from polyroute.types import ChatRequest, PortableParams

__all__ = ["RoutedChatModel", "RouterLike"]

_KEY_ENV_FALLBACK = "POLYROUTE_API_KEY"


class RoutedChatModel(RouterOwner, BaseChatModel, PortableParams):
    """A chat model that lets polyroute choose the provider and model of every call.

    Route by an explicit model (``model="openai:gpt-4.1-mini"`` with optional
    ``fallbacks``), or by an ``agent`` or ``task`` of a config::

        llm = RoutedChatModel(model="openai:gpt-4.1-mini", fallbacks=["anthropic:claude-haiku-4-5"])
        llm = RoutedChatModel.from_config("polyroute.yaml", agent="swe_agent")
        llm = RoutedChatModel(router=my_router, task="code_generation")

    A per-call ``model=`` overrides the routed model; a bare model id keeps
    the provider of ``model``. The portable parameters (``temperature``,
    ``max_tokens``, ``stop`` or ``stop_sequences``, ...: ``PortableParams``) are
    fields, defaults a call's own keyword arguments override. Router errors
    propagate as typed polyroute errors (``NoRouteError``, ``ProviderError``
    subclasses, ...).
    """

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    model: str | None = Field(default=None, alias="model_name")
    """``provider:model`` to call; ``None`` routes by ``agent``/``task``/config default."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models tried, in order, when ``model`` fails in a way that may fall back."""
    agent: str | None = None
    """An agent of the config: its model or route, parameters and fallbacks."""
    task: str | None = None
    """A task route of the config."""
    routing_tags: dict[str, str] = Field(default_factory=dict)
    """Tags passed to the router (for observers, ledgers and budgets)."""
    max_cost_usd: float | None = None
    """Per-call cost limit in USD (a call whose worst case is over it is refused with
    ``BudgetExceeded``); a call's own ``max_cost_usd=`` overrides it."""
    max_latency_ms: float | None = None
    """Skip deployments whose observed p95 latency is over this (needs health tracking);
    a call's own ``max_latency_ms=`` overrides it."""
    config_path: str | None = None
    """A YAML/TOML config file (``from_config``); serialisable, unlike ``config``."""
    config: PolyrouteConfig | dict[str, Any] | None = Field(default=None, exclude=True, repr=False)
    """A config object or dict. Not serialised: it may hold literal keys."""
    config_profile: str | None = None
    """The config profile overlay (development, staging, production...). ``profile=`` with
    a string is accepted too (LangChain's own ``profile`` field is a model profile dict)."""
    router: RouterLike | None = Field(default=None, exclude=True, repr=False)
    """An existing router to use as it is (then ``config``/``api_key``/... are ignored)."""

    api_key: SecretStr | None = None
    """Key for the provider of ``model``; read from that provider's usual env var if unset."""
    base_url: str | None = None
    """Endpoint for the provider of ``model`` (an OpenAI-compatible server, a proxy...)."""
    timeout: float | None = None
    """Read timeout of each provider call, in seconds (default: the config's)."""
    max_retries: int | None = None
    """Retries of one deployment before falling back (default: the config's)."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific parameters passed through as they are."""
    streaming: bool = False
    """Use the streaming API for ``invoke`` too."""

    _slot: RouterSlot = PrivateAttr(default_factory=RouterSlot)

    # --- construction ------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _split_config(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("config"), str | os.PathLike):
            data["config_path"] = os.fspath(data.pop("config"))
        if isinstance(data.get("profile"), str):
            data["config_profile"] = data.pop("profile")
        if "stop_sequences" in data:  # Anthropic's name for it, as ChatAnthropic takes
            data.setdefault("stop", data.pop("stop_sequences"))
        if isinstance(data.get("config"), dict):
            # validated now, with its profile: pydantic would otherwise turn a valid dict
            # into a PolyrouteConfig with no profile applied
            data["config"] = config_from_data(data["config"], profile=data.get("config_profile"))
        return data

    @model_validator(mode="after")
    def _key_from_env(self) -> RoutedChatModel:
        # Like ChatOpenAI's ``secret_from_env``: an explicit model with no config
        # reads its provider's usual key variable (the router would too).
        if self.api_key is None and not self._has_own_config():
            provider = provider_of(self.model)
            for name in key_env_names(provider) if provider else ():
                value = from_env(name, default=None)()
                if value:
                    self.api_key = SecretStr(value)
                    break
        return self

    def _has_own_config(self) -> bool:
        return self.router is not None or self.config is not None or self.config_path is not None

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | dict[str, Any] | PolyrouteConfig,
        *,
        agent: str | None = None,
        task: str | None = None,
        profile: str | None = None,
        **kwargs: Any,
    ) -> RoutedChatModel:
        """A model routed by a config: a YAML/TOML file at ``path``, a dict or a
        ``PolyrouteConfig``. Validated now, like ``Router.from_config``: a missing
        file, a bad field or an unknown agent or task raises ``ConfigError`` here,
        not at the first call."""
        return from_config(cls, path, agent=agent, task=task, profile=profile, kwargs=kwargs)

    # --- LangChain identity ------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "polyroute"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {
            "model": self.model, "fallbacks": self.fallbacks, "agent": self.agent,
            "task": self.task, "config_path": self.config_path,
            "config_profile": self.config_profile,
            "base_url": self.base_url, **{name: getattr(self, name) for name in PARAMS},
            "model_kwargs": self.model_kwargs,
        }
        return {k: v for k, v in params.items() if v not in (None, [], {})}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="polyroute", ls_model_name=self._trace_name(kwargs.get("model")),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, int | float):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        if stop := (stop or self.stop):
            params["ls_stop"] = stop
        return params

    def _trace_name(self, override: Any) -> str:
        if isinstance(override, str) and override:
            return override
        if self.model:
            return self.model
        if self.agent:
            return f"agent:{self.agent}"
        return f"task:{self.task}" if self.task else "default"

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["polyroute", "langchain"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        provider = provider_of(self.model)
        names = key_env_names(provider) if provider else ()
        return {"api_key": names[0] if names else _KEY_ENV_FALLBACK}

    # --- tools and structured output --------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (functions, ``BaseTool``, pydantic classes, JSON schemas, OpenAI dicts).

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"`` (call some
        tool), a tool name, ``True`` (the only bound tool) or an OpenAI/Anthropic dict.
        """
        bound = bind_tool_kwargs(
            tools, tool_choice=tool_choice, strict=strict,
            parallel_tool_calls=parallel_tool_calls,
        )
        return self.bind(**bound, **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type,
        *,
        method: StructuredMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Answers parsed into ``schema``, by a forced tool call (default), a JSON schema
        response format (``json_schema``) or JSON mode (``json_mode``)."""
        if kwargs:
            raise ValueError(f"unexpected arguments: {sorted(kwargs)}")
        return structured_output(
            self, self.bind_tools, schema, method=method, include_raw=include_raw,
            strict=strict,
        )

    # --- requests ------------------------------------------------------------------

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatRequest:
        return build_request(
            self, to_neutral_messages(messages), kwargs, extra=self.model_kwargs,
            tools=neutral_tools, tool_choice=neutral_tool_choice,
            response_format=neutral_response_format, stop=stop,
        )

    # --- calls ---------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        return chat_result(self.get_router().chat(request))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        return chat_result(await self.get_router().achat(request))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs).model_copy(update={"stream": True})
        state = StreamState()
        for chunk in self.get_router().stream(request):
            out = state.feed(chunk)
            if out is not None:
                if run_manager is not None:
                    run_manager.on_llm_new_token(out.text, chunk=out)
                yield out
        last = state.last()
        if run_manager is not None:
            run_manager.on_llm_new_token("", chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs).model_copy(update={"stream": True})
        state = StreamState()
        async for chunk in self.get_router().astream(request):
            out = state.feed(chunk)
            if out is not None:
                if run_manager is not None:
                    await run_manager.on_llm_new_token(out.text, chunk=out)
                yield out
        last = state.last()
        if run_manager is not None:
            await run_manager.on_llm_new_token("", chunk=last)
        yield last
