"""Neutral, provider-independent types.

Every provider plugin translates *to* and *from* these models; the router,
the adapters and the CLI only ever see them. They are plain pydantic models
so they validate user input once, serialise to JSON for caches and ledgers,
and carry no provider vocabulary.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_USAGE_TOKENS",
    "SIGNATURES_KEY",
    "Attempt",
    "Capability",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "FinishReason",
    "GenerationParams",
    "ImagePart",
    "Message",
    "ModelInfo",
    "ModelPrices",
    "NamedToolChoice",
    "Part",
    "PortableParams",
    "ResponseFormat",
    "Role",
    "RoutingHints",
    "TextPart",
    "ToolCallDelta",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "ToolSpec",
    "Usage",
    "signatures_kwargs",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Capability(StrEnum):
    """What a model can do; routing skips candidates lacking a needed one."""

    TOOLS = "tools"
    PARALLEL_TOOLS = "parallel_tools"
    VISION = "vision"
    JSON_MODE = "json_mode"
    JSON_SCHEMA = "json_schema"
    STREAMING = "streaming"
    SYSTEM_PROMPT = "system_prompt"
    REASONING = "reasoning"
    PROMPT_CACHING = "prompt_caching"
    EMBEDDINGS = "embeddings"


# --- message parts -----------------------------------------------------------


class TextPart(_Model):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Model):
    """An image given by URL (``https:`` or ``data:``) or as base64 ``data``."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class ToolCallPart(_Model):
    """A model's request to call a tool; ``arguments`` is already parsed JSON."""

    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    signature: str | None = None
    """Opaque state the provider attached to this call, as ``family:data``
    (``gemini:`` + Gemini's ``thoughtSignature``; ``anthropic-thinking:`` + the
    thinking blocks before Claude's ``tool_use``). Keep it in the history: the
    provider family that made it needs it back to resume its reasoning (Gemini 3
    and Claude with extended thinking refuse a tool step without it); every other
    provider ignores it."""


SIGNATURES_KEY = "polyroute_tool_call_signatures"
"""Where the framework adapters keep ``{tool call id: signature}`` on a message
(LangChain's and LlamaIndex's ``additional_kwargs``): their tool-call shapes have
no room for ``ToolCallPart.signature``, and the signature must come back with
the history."""


def signatures_kwargs(calls: list[ToolCallPart]) -> dict[str, Any]:
    """``{SIGNATURES_KEY: {id: signature}}`` for the signed ``calls`` (empty if none)."""
    signed = {c.id: c.signature for c in calls if c.signature}
    return {SIGNATURES_KEY: signed} if signed else {}


class ToolResultPart(_Model):
    """The result of a tool call, sent back to the model."""

    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    content: str
    name: str | None = None
    is_error: bool = False


Part = Annotated[
    TextPart | ImagePart | ToolCallPart | ToolResultPart, Field(discriminator="type")
]
Role = Literal["system", "user", "assistant", "tool"]


class Message(_Model):
    """One chat message. ``content`` is a string or a list of typed parts.

    Tool results travel as ``role="tool"`` messages holding ``ToolResultPart``
    items; an assistant's tool calls are ``ToolCallPart`` items in its content.
    """

    role: Role
    content: str | list[Part] = ""
    name: str | None = None

    @property
    def parts(self) -> list[Part]:
        if isinstance(self.content, str):
            return [TextPart(text=self.content)] if self.content else []
        return self.content

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        if isinstance(self.content, str):
            return []
        return [p for p in self.content if isinstance(p, ToolCallPart)]

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", content=text)

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls(role="assistant", content=text)


# --- tools and output format -------------------------------------------------


class ToolSpec(_Model):
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool | None = None


class NamedToolChoice(_Model):
    """Force the model to call this tool."""

    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class ResponseFormat(_Model):
    """``json_object`` asks for any JSON; ``json_schema`` for JSON matching ``json_schema``."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    json_schema: dict[str, Any] | None = None
    strict: bool | None = None


# --- request -----------------------------------------------------------------


class PortableParams(BaseModel):
    """The portable sampling parameters: the one definition of their names, types,
    bounds and meanings. ``GenerationParams``, the config's agents and routes, and
    the LangChain and LlamaIndex adapters all inherit these fields, and
    ``polyroute.params.PARAMS`` lists them; so a new portable parameter is one field
    here (plus each plugin's mapping to its API). ``None`` means "provider default".

    Bounds are only those true for every provider (a probability is at most 1);
    provider-specific ranges (temperature up to 1 or 2, penalties) are the
    provider's to check.
    """

    temperature: float | None = Field(
        None, ge=0, description="Sampling temperature; higher is more random.")
    top_p: float | None = Field(
        None, ge=0, le=1, description="Nucleus sampling: the probability mass to sample from.")
    top_k: int | None = Field(
        None, ge=1, description="Sample from the k most likely tokens only.")
    max_tokens: int | None = Field(
        None, ge=1, description="Upper bound on the tokens the answer may take.")
    stop: list[str] | None = Field(
        None, description="Sequences at which the model stops generating.")
    frequency_penalty: float | None = Field(
        None, description="Penalise tokens by how often they already appeared.")
    presence_penalty: float | None = Field(
        None, description="Penalise tokens that already appeared at all.")
    seed: int | None = Field(
        None, description="Seed for sampling, for (best-effort) repeatable answers.")


class GenerationParams(PortableParams, _Model):
    """Sampling parameters (``PortableParams``). ``None`` means "provider default";
    ``extra`` passes through."""

    extra: dict[str, Any] = Field(default_factory=dict)

    def merged_over(self, base: GenerationParams) -> GenerationParams:
        """These params, with unset fields taken from ``base``."""
        data = base.model_dump(exclude_none=True)
        mine = self.model_dump(exclude_none=True)
        extra = {**data.pop("extra", {}), **mine.pop("extra", {})}
        data.update(mine)
        return GenerationParams(**data, extra=extra)


class RoutingHints(_Model):
    """How the router should choose: by agent, task route or explicit model."""

    agent: str | None = None
    task: str | None = None
    model: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    capabilities: set[Capability] = Field(default_factory=set)
    max_cost_usd: float | None = None
    max_latency_ms: float | None = None
    min_quality: float | None = None
    """Skip candidates whose quality score (config ``models:``) is below this (0-100)."""
    prompt_vars: dict[str, str] = Field(default_factory=dict)
    """Values of the agent's ``system_prompt`` variables for this call."""
    cache: Literal["default", "no-cache", "no-store"] = "default"
    tags: dict[str, str] = Field(default_factory=dict)
    route: str | None = None
    """A route that replaces the agent's model or route (an experiment's variant sets it)."""
    experiment: str | None = None
    """Set by the router: the experiment this call took part in, and its ``variant``."""
    variant: str | None = None


class RequestMemo(dict[Hashable, Any]):
    """Values derived from one request and computed once (the prompt-token estimate,
    each deployment's parameter verdict): see ``request_memo``. Never part of the
    request's value: any two memos are equal, and a deep copy or a pickle starts empty."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestMemo)

    __hash__ = None

    def __deepcopy__(self, _memo: dict[int, Any]) -> RequestMemo:
        return RequestMemo()

    def __reduce__(self) -> tuple[type[RequestMemo], tuple[()]]:
        return RequestMemo, ()


class ChatRequest(_Model):
    messages: list[Message]
    params: GenerationParams = Field(default_factory=GenerationParams)
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    routing: RoutingHints = Field(default_factory=RoutingHints)

    def required_capabilities(self) -> set[Capability]:
        """Capabilities implied by the request plus those asked for explicitly."""
        needed = set(self.routing.capabilities)
        if self.tools:
            needed.add(Capability.TOOLS)
        if self.response_format is not None:
            if self.response_format.type == "json_schema":
                needed.add(Capability.JSON_SCHEMA)
            elif self.response_format.type == "json_object":
                needed.add(Capability.JSON_MODE)
        for m in self.messages:
            if not isinstance(m.content, str) and any(
                isinstance(p, ImagePart) for p in m.content
            ):
                needed.add(Capability.VISION)
                break
        return needed


_MEMO = "_polyroute_memo"


def assign(target: BaseModel, /, **values: Any) -> None:
    """Set fields of a model polyroute built, to values of their types: what pydantic's
    ``__setattr__`` does for a model that validates no assignment (the value into
    ``__dict__``, the name into ``model_fields_set``), in one step instead of a
    dispatch per field. The router stamps seven fields on every answer."""
    target.__dict__.update(values)
    target.__pydantic_fields_set__.update(values)


def request_memo(request: ChatRequest) -> RequestMemo:
    """Where values derived from ``request`` are kept for its lifetime (and its shallow
    copies'): a value that depends on fields a copy may change must be stored with
    what it was computed from, and checked (``polyroute.tokens.prompt_tokens``)."""
    # Kept in the instance __dict__ beside the fields, as pydantic keeps a
    # cached_property: no field, so validation, dumps, repr and equality ignore it,
    # constructing a request costs nothing more (a PrivateAttr would, on every one),
    # and model_copy's shallow copy of __dict__ shares it with the router's copies.
    fields = request.__dict__
    memo: RequestMemo | None = fields.get(_MEMO)
    if memo is None:
        memo = fields[_MEMO] = RequestMemo()
    return memo


# --- response ----------------------------------------------------------------

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "other"]


MAX_USAGE_TOKENS = 1_000_000_000
"""Upper bound of one usage count a provider may report for one response: far above
any context window. Checked at the parse boundary (``providers.bodies.token_count``)."""

_Count = Annotated[int, Field(ge=0, le=2**53)]
# Never negative (it would price as a credit). The model's own bound is looser than
# MAX_USAGE_TOKENS: sums over attempts and what-if estimates (`polyroute cost --in`)
# may exceed one response's, but must stay exact as floats.


class Usage(_Model):
    """Token counts. ``input_tokens`` includes cached-read and cache-write tokens.

    Counts are whole, non-negative numbers: a negative count would price as a credit.
    Plugins check provider values with ``polyroute.providers.bodies.token_count`` (also
    at most ``MAX_USAGE_TOKENS``) so a bad one is an ``InvalidResponseError``.
    """

    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_read_tokens: _Count = 0
    cache_write_tokens: _Count = 0
    reasoning_tokens: _Count = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


class Attempt(_Model):
    """One try at one deployment, as the router saw it."""

    provider: str
    model: str
    ok: bool
    latency_ms: float
    error: str | None = None
    """Error class name, e.g. ``RateLimitError``."""
    status: int | None = None
    message: str | None = None
    action: Literal["answered", "retried", "fell_back", "gave_up"] = "answered"
    retry_after: float | None = None
    """Seconds the provider asked to wait (``Retry-After``), if it did."""


class ChatResponse(_Model):
    message: Message
    finish_reason: FinishReason | None = None
    usage: Usage = Field(default_factory=Usage)
    provider: str = ""
    """Name of the configured provider that answered."""
    model: str = ""
    """Model id as routed (what was sent)."""
    response_model: str | None = None
    """Model id as the provider reported it."""
    response_id: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    latency_ms: float = 0.0
    cost_usd: float | None = None
    cache_hit: bool = False
    provider_metadata: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = None
    """The usage ledger's id of this call (``router.feedback(call_id, ...)``), if a ledger is on."""
    experiment: str | None = None
    """The experiment this call took part in, and the ``variant`` that answered it."""
    variant: str | None = None


class ToolCallDelta(_Model):
    """A fragment of a streamed tool call; fragments with one ``index`` join up."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    signature: str | None = None
    """``ToolCallPart.signature``, on the fragment that carries it."""


class ChatChunk(_Model):
    """One streamed increment. The last chunk carries usage and the finish reason."""

    text: str = ""
    tool_calls: list[ToolCallDelta] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    response_id: str | None = None
    response_model: str | None = None
    provider: str = ""
    model: str = ""
    attempts: list[Attempt] = Field(default_factory=list)
    """Filled on the final chunk by the router, like the three fields below."""
    latency_ms: float | None = None
    cost_usd: float | None = None
    cache_hit: bool = False
    continued: bool = False
    call_id: str | None = None
    """Final chunk: the ledger id of the call, and its ``experiment``/``variant`` (see
    ``ChatResponse``)."""
    experiment: str | None = None
    variant: str | None = None
    """The stream was cut mid-way and the next model continued it
    (``streaming.on_failure: continue``); ``attempts`` say who and where."""


# --- catalog -----------------------------------------------------------------


class ModelPrices(_Model):
    """USD per million tokens."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None


class ModelInfo(_Model):
    """What a provider type says about one model: limits, capabilities, prices."""

    provider_type: str
    model: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: frozenset[Capability] = frozenset()
    prices: ModelPrices = Field(default_factory=ModelPrices)
    aliases: tuple[str, ...] = ()
    quality: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    """A 0-100 quality score ``min_quality`` is judged against (a catalog may give one;
    ``models:`` overrides it). Say in the catalog which public scale and date it is."""
