"""``BedrockProvider``: the sans-IO translator for Bedrock's Converse API.

Settings (``ProviderSettings``):

- ``extra["region"]`` — else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else the
  profile's ``region`` from the AWS config file (read by botocore, no network).
- ``base_url`` — default ``https://bedrock-runtime.{region}.amazonaws.com``
  (set it for a VPC endpoint, a FIPS endpoint or a stand-in).
- ``api_key`` — a Bedrock API key, else ``AWS_BEARER_TOKEN_BEDROCK``: sent as
  ``Authorization: Bearer`` (see ``auth`` for the modes).
- ``extra["auth"]`` — ``auto`` (default), ``bearer`` or ``sigv4``;
  ``extra["aws_access_key_id"]``/``["aws_secret_access_key"]``/``["aws_session_token"]``
  (static credentials, ``env:NAME`` allowed), ``extra["profile"]``,
  ``extra["imds"] = false``.
- ``extra["control_url"]`` — the control-plane endpoint for the model list
  (default ``https://bedrock.{region}.amazonaws.com``; with a custom
  ``base_url``, that URL).
- ``headers`` — extra headers (signed with the rest).

Endpoints: ``POST /model/{modelId}/converse`` and ``.../converse-stream`` (an
AWS event stream, framing ``aws-eventstream``); the model id (or inference
profile id or ARN) is percent-encoded in the path, ``:`` included.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, ClassVar
from urllib.parse import quote

from polyroute.errors import ConfigError, ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider, ProviderSettings
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.providers.classify import request_id_from_headers
from polyroute.types import ChatRequest, ChatResponse
from polyroute_bedrock.auth import BEARER_ENV, BedrockAuth
from polyroute_bedrock.catalog import MODELS
from polyroute_bedrock.errors import error_from_body
from polyroute_bedrock.eventstream import FRAMING
from polyroute_bedrock.parse import parse_converse
from polyroute_bedrock.request import build_body
from polyroute_bedrock.stream import BedrockStreamParser

__all__ = ["BedrockProvider"]

_REGION_IN_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")


class BedrockProvider(Provider):
    """Amazon Bedrock through the Converse API."""

    type_name: ClassVar[str] = "bedrock"
    pricing_id: ClassVar[str | None] = "aws"  # id in the genai-prices dataset
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[tuple[str, ...]] = (BEARER_ENV,)
    stream_parser_type = BedrockStreamParser
    catalog = MODELS
    requires_api_key: ClassVar[bool] = False  # SigV4 credentials will do
    supported_params: ClassVar[frozenset[str] | None] = frozenset(
        {"temperature", "top_p", "top_k", "max_tokens", "stop"})
    """Converse has no frequency/presence penalty and no seed."""

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        self.auth = BedrockAuth(provider=self.name, api_key=settings.api_key,
                                extra=settings.extra)

    # --- where ---------------------------------------------------------------

    @property
    def region(self) -> str:
        region = self.settings.extra.get("region") or os.environ.get(
            "AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region and self.settings.base_url:
            match = _REGION_IN_HOST.search(self.settings.base_url)
            region = match.group(1) if match else None
        if not region:
            region = _config_file_region(self.settings.extra.get("profile"))
        if not region:
            raise ConfigError(
                f"provider '{self.name}' has no AWS region",
                field=f"providers.{self.name}.extra.region",
                fix="set extra.region, or AWS_REGION / AWS_DEFAULT_REGION")
        return str(region)

    @property
    def base_url(self) -> str:
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        return f"https://bedrock-runtime.{self.region}.amazonaws.com"

    def is_configured(self) -> str | None:
        try:
            _ = self.region
        except ConfigError as exc:
            return exc.reason
        return self.auth.problem()

    # --- chat ----------------------------------------------------------------

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        body = build_body(request, model)
        action = "converse-stream" if stream else "converse"
        url = f"{self.base_url}/model/{quote(model, safe='')}/{action}"
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            "accept": "application/vnd.amazon.eventstream" if stream else "application/json",
            **self.settings.headers,
        }
        return HttpRequest(
            method="POST",
            url=url,
            headers=self.auth.headers("POST", url, content, headers, self.region),
            json=body,
            content=content,
            framing=FRAMING if stream else None,
        )

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        request_id = request_id_from_headers(response.headers)
        data = json_api.json_body(response, provider=self.name, model=model, endpoint="Converse",
                                  request_id=request_id)
        return parse_converse(data, provider=self.name, model=model, request_id=request_id)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return error_from_body(response.content, status=response.status,
                               headers=response.headers, provider=self.name, model=model)

    # --- catalog and model list ----------------------------------------------

    def list_models_request(self) -> HttpRequest:
        """``ListFoundationModels`` (``GET /foundation-models``) on the control plane."""
        base = self.settings.extra.get("control_url") or (
            self.settings.base_url.rstrip("/") if self.settings.base_url
            else f"https://bedrock.{self.region}.amazonaws.com")
        url = f"{str(base).rstrip('/')}/foundation-models"
        headers = self.auth.headers("GET", url, b"", {"accept": "application/json"},
                                    self.region)
        return HttpRequest("GET", url, headers=headers)

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Text-output model ids from ``{"modelSummaries": [{"modelId", ...}]}``."""
        items = json_api.model_items(response, "modelSummaries", provider=self.name,
                                     message="unexpected ListFoundationModels body")
        return json_api.model_names(items, "modelId", _text_out)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} type={self.type_name!r} "
                f"auth={self.auth.mode!r}>")


def _text_out(model: dict[str, Any]) -> bool:
    outputs = model.get("outputModalities")
    return not (isinstance(outputs, list) and "TEXT" not in outputs)


def _config_file_region(profile: object) -> str | None:
    """The region of the AWS config profile (botocore reads the file; no network)."""
    try:
        from botocore.session import Session
    except ImportError:
        return None
    session = Session(profile=str(profile)) if profile else Session()
    try:
        region = session.get_config_variable("region")
    except Exception:  # a missing profile: no region from the file
        return None
    return region if isinstance(region, str) and region else None
