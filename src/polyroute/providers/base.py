"""The sans-IO provider contract.

A provider plugin never opens a socket. It turns a ``ChatRequest`` into an
``HttpRequest`` description, and an ``HttpResponse`` (or one ``StreamEvent``
of a stream) back into neutral types or a classified ``ProviderError``. The
core transport does the IO, so every provider works sync, async, streamed,
cached and recorded the same way, and a plugin is testable with plain bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from polyroute.errors import ConfigError, ProviderError
from polyroute.providers.bodies import load_json
from polyroute.secrets import Secret, mask_headers, mask_url, masked_repr_args, redact
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, ModelInfo

__all__ = [
    "Framing",
    "HttpRequest",
    "HttpResponse",
    "Provider",
    "ProviderSettings",
    "ProviderTemplate",
    "StreamEvent",
    "StreamParser",
]

Framing = Literal["sse", "ndjson"] | str
"""How a streamed body is cut into events. Plugins may register more framings."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What to send. ``json`` is serialised by the transport; ``content`` wins if set."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    framing: Framing | None = None
    """Set for streaming requests: how the response body is framed."""

    def __repr__(self) -> str:
        # Headers carry the key (Authorization, x-api-key, SigV4): a traceback with
        # locals, pytest --showlocals or an error reporter must not print it.
        body = (f"content=<{len(self.content)} bytes>" if self.content is not None
                else f"json={_short(self.json)}")
        return (f"HttpRequest(method={self.method!r}, url={mask_url(self.url)!r}, "
                f"headers={mask_headers(self.headers)!r}, {body}, framing={self.framing!r})")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back. ``headers`` keys are lower-case."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ``InvalidResponseError`` if it is not (bad UTF-8, too deep)."""
        return load_json(self.content, status=self.status)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        # An error body may echo the key it was sent ("Incorrect API key: sk-...").
        return (f"HttpResponse(status={self.status!r}, headers={mask_headers(self.headers)!r}, "
                f"content={_short(self.text)})")


def _short(value: Any, limit: int = 200) -> str:
    text = redact(repr(value))
    return text if len(text) <= limit else text[:limit] + "…"


class StreamEvent(NamedTuple):
    """One framed event: an SSE event (``event``/``data``/``id``) or one NDJSON line.
    Immutable; a named tuple rather than a frozen dataclass because one is made per
    event of every stream, and a frozen dataclass's ``__init__`` costs 3x as much."""

    data: str
    event: str | None = None
    id: str | None = None


class ProviderSettings(BaseModel):
    """One configured provider instance, as the config (or a template) gave it."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str
    type: str
    base_url: str | None = None
    api_key: Secret | None = None
    api_key_env: tuple[str, ...] | None = None
    """Env vars read (first set wins) when ``api_key`` is unset; ``None``: the type's own.
    Templates set it, so a Groq provider never picks up ``OPENAI_API_KEY``."""
    requires_api_key: bool | None = None
    """``False`` for servers where a key is optional; ``None``: the type's default."""
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    """Provider-type specific options (documented by each plugin)."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # headers may hold keys set by hand: never show values.
        return masked_repr_args(super().__repr_args__())


class ProviderTemplate(BaseModel):
    """A preset for a provider type: an OpenAI-compatible endpoint, say.

    ``{template: groq}`` in a config expands to these settings; anything the
    config sets explicitly wins.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    type: str
    description: str = ""
    base_url: str | None = None
    base_url_env: tuple[str, ...] = ()
    """Environment variables read (first set wins) for the base URL."""
    api_key_env: tuple[str, ...] = ()
    api_key_required: bool = True
    api_version_env: tuple[str, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    docs_url: str | None = None


class StreamParser(ABC):
    """Stateful decoder of one stream: events in, chunks out.

    ``feed`` raises a ``ProviderError`` for an in-band error event. ``close`` is
    called when the body ends and raises ``StreamInterruptedError`` if the
    provider's terminal event never came.
    """

    @abstractmethod
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]: ...

    @abstractmethod
    def close(self) -> Iterable[ChatChunk]: ...


class Provider(ABC):
    """Translate between neutral types and one provider's HTTP API. No IO.

    Subclasses set ``type_name`` and, optionally, ``default_base_url`` and
    ``api_key_env`` (environment variables tried, in order, when the config
    gives no key).
    """

    type_name: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[tuple[str, ...]] = ()
    requires_api_key: ClassVar[bool] = True
    supported_params: ClassVar[frozenset[str] | None] = None
    """Sampling parameters (``GenerationParams`` field names) this provider maps;
    ``None``: all of them. Others are dropped or refused by the ``params_policy``."""
    stream_parser_type: ClassVar[Callable[..., StreamParser] | None] = None
    """What the default ``stream_parser`` builds: ``stream_parser_type(provider=name,
    model=model)``. Set it, or override ``stream_parser``."""
    catalog: ClassVar[Sequence[ModelInfo]] = ()
    """The bundled catalog entries the default ``models()`` returns."""
    pricing_id: ClassVar[str | None] = None
    """This provider's id in the bundled price dataset (genai-prices), when it is not
    ``type_name``; ``""`` for servers whose models cost nothing per token (local ones).
    ``settings.extra["pricing_id"]`` overrides it per instance (templates set it)."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.key_env_names: tuple[str, ...] = (
            self.api_key_env if settings.api_key_env is None else settings.api_key_env
        )
        self.key_required: bool = (
            self.requires_api_key if settings.requires_api_key is None
            else settings.requires_api_key
        )
        if settings.api_key is None and self.key_env_names:
            # An unset variable stays a reference so ``is_configured`` can name it.
            settings.api_key = Secret.from_env(*self.key_env_names) or Secret(
                env=self.key_env_names[0]
            )

    def refused_params(self, model: str) -> frozenset[str] | None:
        """The sampling parameters ``model`` refuses although the provider maps them
        (OpenAI's reasoning models and ``temperature``); ``None``: none. Applied on
        top of ``supported_params`` by the ``params_policy``."""
        return None

    @property
    def base_url(self) -> str:
        url = self.settings.base_url or self.default_base_url
        if not url:
            raise ConfigError(
                f"provider '{self.name}' has no base_url", field=f"providers.{self.name}.base_url",
                fix="set base_url (this provider type has no default endpoint)",
            )
        return url.rstrip("/")

    def api_key(self) -> str | None:
        """The revealed key, or ``None`` if this provider needs none.

        Raises ``MissingSecretError`` when a required key's env var is unset.
        """
        key = self.settings.api_key
        if key is None or (not self.key_required and not key.is_available()):
            return None
        return key.reveal(what=f"provider '{self.name}' api_key")

    def refresh_credentials(self) -> bool:
        """Re-read the key from its secret backend after a 401/403 (``True``: it changed,
        so one more attempt is worth it). Literal and ``env:`` keys never change here."""
        key = self.settings.api_key
        return key is not None and key.refresh(what=f"provider '{self.name}' api_key")

    def is_configured(self) -> str | None:
        """``None`` if ready to call, else why not (shown by ``route --explain``)."""
        key = self.settings.api_key
        if self.key_required and (key is None or not key.is_available()):
            names = (key.env_name if key is not None else None) or " or ".join(self.key_env_names)
            return f"no API key ({names} is not set)" if names else "no API key configured"
        return None

    # --- translation ---------------------------------------------------------

    @abstractmethod
    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        """The HTTP request for ``request`` against ``model``."""

    @abstractmethod
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        """A 2xx body as a ``ChatResponse``. Raise ``InvalidResponseError`` if malformed."""

    @abstractmethod
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        """A non-2xx response as a classified ``ProviderError`` (returned, not raised)."""

    def stream_parser(self, model: str) -> StreamParser:
        """A fresh parser for one streamed response (``stream_parser_type``'s, by default)."""
        if self.stream_parser_type is None:
            raise NotImplementedError(
                f"{type(self).__name__} sets neither stream_parser_type nor stream_parser")
        return self.stream_parser_type(provider=self.name, model=model)

    # --- optional ------------------------------------------------------------

    def models(self) -> list[ModelInfo]:
        """Catalog entries this instance knows without a network call (``catalog``)."""
        return list(self.catalog)

    def list_models_request(self) -> HttpRequest | None:
        """Request for the live model list, if the API has one."""
        return None

    def parse_models(self, response: HttpResponse) -> list[str]:
        """Model ids from the live model list response."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name!r}>"
