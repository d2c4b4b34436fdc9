"""``RoutedLLM``: a LlamaIndex ``FunctionCallingLLM`` that routes every call through polyroute."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, SecretStr
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from polyroute.adapter_common import build_request
from polyroute.adapter_router import (
    RouterLike,
    RouterOwner,
    RouterSlot,
    from_config,
)
from polyroute.config import PolyrouteConfig, config_from_data
from polyroute.llamaindex.messages import (
    ToolCallBlock,
    to_neutral_messages,
)
from polyroute.llamaindex.outputs import _completion, _StreamState, chat_response
from polyroute.llamaindex.tools import (
    _kwargs,
    neutral_response_format,
    neutral_tool_choice,
    neutral_tools,
)
from polyroute.router import Router
from polyroute.types import Capability, ChatRequest, PortableParams

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["RoutedLLM", "RouterLike"]


class RoutedLLM(RouterOwner, FunctionCallingLLM, PortableParams):
    """A LlamaIndex LLM that lets polyroute choose the provider and model of every call.

    Route by an explicit model (with optional ``fallbacks``), or by an ``agent`` or
    ``task`` of a config::

        llm = RoutedLLM(model="openai:gpt-4.1-mini", fallbacks=["anthropic:claude-haiku-4-5"])
        llm = RoutedLLM.from_config("polyroute.yaml", agent="rag_agent")

    The portable parameters (``temperature``, ``max_tokens``, ``top_k``, ...:
    ``PortableParams``) are fields, defaults a call's own keyword arguments override.
    Every sync, async and streamed form of chat and complete is native (the
    async ones await the router; nothing runs sync code in a thread). Tool
    calling works with LlamaIndex agents (``FunctionAgent``, ``ReActAgent``).
    Responses carry token counts in ``additional_kwargs`` (``prompt_tokens``,
    ``completion_tokens``, ``total_tokens``) and, under ``polyroute``, who
    answered, the attempts, latency and cost.
    """

    model_config = ConfigDict(
        protected_namespaces=(), arbitrary_types_allowed=True, populate_by_name=True
    )

    model: str | None = Field(default=None, description="provider:model to call.")
    fallbacks: list[str] = Field(default_factory=list,
                                 description="Models tried in order when model fails.")
    agent: str | None = Field(default=None, description="An agent of the config.")
    task: str | None = Field(default=None, description="A task route of the config.")
    routing_tags: dict[str, str] = Field(default_factory=dict)
    max_cost_usd: float | None = Field(
        default=None, description="Per-call cost limit in USD; a call whose worst case is "
        "over it is refused (BudgetExceeded). A call's own max_cost_usd= overrides it.")
    max_latency_ms: float | None = Field(
        default=None, description="Skip deployments whose observed p95 latency is over this "
        "(needs health tracking). A call's own max_latency_ms= overrides it.")
    config_path: str | None = Field(default=None, description="A YAML/TOML config file.")
    config: PolyrouteConfig | dict[str, Any] | None = Field(default=None, exclude=True,
                                                            repr=False)
    config_profile: str | None = None
    router: Any = Field(default=None, exclude=True, repr=False,
                        description="An existing router (a RouterLike) to use as it is.")
    api_key: SecretStr | None = Field(default=None, exclude=True)
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None

    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific parameters passed through."
    )
    context_window: int | None = Field(
        default=None, description="Override the context window the catalog reports."
    )
    strict: bool | None = Field(default=None, description="Strict tool schemas, if set.")

    _slot: RouterSlot = PrivateAttr(default_factory=RouterSlot)

    def __init__(self, **data: Any) -> None:
        if isinstance(data.get("api_key"), str):
            data["api_key"] = SecretStr(data["api_key"])
        if isinstance(data.get("profile"), str):
            data["config_profile"] = data.pop("profile")
        if isinstance(data.get("config"), dict):
            # validated now, with its profile (see RoutedChatModel._split_config)
            data["config"] = config_from_data(data["config"], profile=data.get("config_profile"))
        super().__init__(**data)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | dict[str, Any] | PolyrouteConfig, *,
                    agent: str | None = None, task: str | None = None,
                    profile: str | None = None, **kwargs: Any) -> RoutedLLM:
        """An LLM routed by a config: a YAML/TOML file at ``path``, a dict or a
        ``PolyrouteConfig``. Validated now, like ``Router.from_config``: a missing
        file, a bad field or an unknown agent or task raises ``ConfigError`` here."""
        return from_config(cls, path, agent=agent, task=task, profile=profile, kwargs=kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "polyroute_routed_llm"

    # --- metadata ----------------------------------------------------------------

    @property
    def metadata(self) -> LLMMetadata:
        """Limits from the catalog: for a route, the smallest window among its candidates
        (any of them may answer), so prompt packing never overflows the one that does."""
        window, output, tools = self._catalog_limits()
        return LLMMetadata(
            context_window=self.context_window or window or DEFAULT_CONTEXT_WINDOW,
            num_output=self.max_tokens or output or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=tools,
            model_name=self._name(),
        )

    def _name(self) -> str:
        if self.model:
            return self.model
        if self.agent:
            return f"agent:{self.agent}"
        return f"task:{self.task}" if self.task else "polyroute"

    def _catalog_limits(self) -> tuple[int | None, int | None, bool]:
        router = self.get_router()
        if not isinstance(router, Router):
            return None, None, True
        try:
            plan = router.plan(self._request([ChatMessage(role=MessageRole.USER, content="")],
                                             {}))
        except Exception:
            return None, None, True
        infos = [router.model_info(d) for d in plan.candidates]
        windows = [i.context_window for i in infos if i is not None and i.context_window]
        outputs = [i.max_output_tokens for i in infos if i is not None and i.max_output_tokens]
        known = [i for i in infos if i is not None and i.capabilities]
        tools = not known or any(Capability.TOOLS in i.capabilities for i in known)
        return (min(windows) if windows else None, min(outputs) if outputs else None, tools)

    # --- requests ------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]
                 ) -> ChatRequest:
        return build_request(
            self, to_neutral_messages(messages), kwargs, extra=self.additional_kwargs,
            tools=neutral_tools, tool_choice=neutral_tool_choice,
            response_format=neutral_response_format, ignore=("formatted",),
        )

    # --- chat ------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return chat_response(self.get_router().chat(self._request(messages, kwargs)))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return chat_response(await self.get_router().achat(self._request(messages, kwargs)))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return _responses(self.get_router(), self._stream_request(messages, kwargs))

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any
                           ) -> ChatResponseAsyncGen:
        return _aresponses(self.get_router(), self._stream_request(messages, kwargs))

    def _stream_request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
                        ) -> ChatRequest:
        return self._request(messages, kwargs).model_copy(update={"stream": True})

    # --- complete ----------------------------------------------------------------------

    def _prompt_messages(self, prompt: str) -> list[ChatMessage]:
        messages = [ChatMessage(role=MessageRole.USER, content=prompt)]
        if self.system_prompt:
            messages.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=self.system_prompt))
        return messages

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any
                 ) -> CompletionResponse:
        resp = self.get_router().chat(self._request(self._prompt_messages(prompt), kwargs))
        return _completion(chat_response(resp))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any
                        ) -> CompletionResponse:
        request = self._request(self._prompt_messages(prompt), kwargs)
        return _completion(chat_response(await self.get_router().achat(request)))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any
                        ) -> CompletionResponseGen:
        responses = _responses(self.get_router(),
                               self._stream_request(self._prompt_messages(prompt), kwargs))
        return (_completion(r) for r in responses)

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any
                               ) -> CompletionResponseAsyncGen:
        responses = _aresponses(self.get_router(),
                                self._stream_request(self._prompt_messages(prompt), kwargs))
        return (_completion(r) async for r in responses)

    # --- tools -------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a call that may use ``tools``."""
        strict = self.strict if strict is None else strict
        specs = []
        for tool in tools:
            spec = tool.metadata.to_openai_tool(skip_length_check=True)
            if strict is not None:
                spec["function"]["strict"] = strict
            specs.append(spec)
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        if tool_choice is None and tool_required:
            tool_choice = "required"
        out: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            out["tools"] = specs
            out["parallel_tool_calls"] = allow_parallel_tool_calls
            if tool_choice is not None:
                out["tool_choice"] = tool_choice
        return out

    def _validate_chat_with_tools_response(
        self, response: ChatResponse, tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False, **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls were allowed."""
        if allow_parallel_tool_calls:
            return response
        message = response.message
        if ToolCallBlock is not None:
            seen = False
            blocks = []
            for block in message.blocks:
                if isinstance(block, ToolCallBlock):
                    if seen:
                        continue
                    seen = True
                blocks.append(block)
            message.blocks = blocks
        calls = message.additional_kwargs.get("tool_calls")
        if isinstance(calls, list) and len(calls) > 1:
            message.additional_kwargs["tool_calls"] = calls[:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of ``response`` (also of a partial, streamed one)."""
        selections: list[ToolSelection] = []
        blocks = [b for b in response.message.blocks
                  if ToolCallBlock is not None and isinstance(b, ToolCallBlock)]
        if blocks:
            for b in blocks:
                selections.append(ToolSelection(
                    tool_id=b.tool_call_id or "", tool_name=b.tool_name,
                    tool_kwargs=_kwargs(b.tool_kwargs),
                ))
        else:
            for call in response.message.additional_kwargs.get("tool_calls") or []:
                fn = call.get("function") or {} if isinstance(call, Mapping) else {}
                selections.append(ToolSelection(
                    tool_id=str(call.get("id") or "") if isinstance(call, Mapping) else "",
                    tool_name=str(fn.get("name") or ""),
                    tool_kwargs=_kwargs(fn.get("arguments")),
                ))
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return selections


# --- conversions ------------------------------------------------------------------------


# The stream as LlamaIndex responses: the state (``_StreamState``) is shared; only the
# iteration is written twice, once blocking and once awaited.
def _responses(router: RouterLike, request: ChatRequest) -> ChatResponseGen:
    state = _StreamState()
    for chunk in router.stream(request):
        out = state.feed(chunk)
        if out is not None:
            yield out
    yield state.last()


async def _aresponses(router: RouterLike, request: ChatRequest) -> ChatResponseAsyncGen:
    state = _StreamState()
    async for chunk in router.astream(request):
        out = state.feed(chunk)
        if out is not None:
            yield out
    yield state.last()
