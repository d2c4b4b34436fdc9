"""Registry rows to the config objects a file produces, validated the same way.

The write path uses these to refuse a bad change before it is stored; the config
source uses them to build the router's config. Every problem becomes a
``RegistryValidationError`` naming the table, the row and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from polyroute.admin.errors import RegistryValidationError
from polyroute.admin.models import Agent, Budget, Model, Provider, Route
from polyroute.config.cost import BudgetConfig
from polyroute.config.schema import AgentConfig, ModelOverride, ProviderConfig, RouteConfig
from polyroute.secrets import Secret

__all__ = [
    "agent_config",
    "budget_config",
    "check_choice",
    "check_headers",
    "model_override",
    "provider_config",
    "route_config",
]

T = TypeVar("T", bound=BaseModel)
_PLACEHOLDER = re.compile(r"\{\{\s*(apiKey|credential:[\w.\-]+)\s*\}\}")
# Header names whose value is a credential: it must be a template, never a literal.
_AUTH_HEADER = re.compile(r"(?i)^(authorization|proxy-authorization|x-api-key|api-key|.*token.*)$")


def _build(model: type[T], data: dict[str, Any], where: str) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise RegistryValidationError(
            msg + more, file="registry", field=f"{where}.{loc}" if loc else where,
            fix="correct the field and send the change again",
        ) from None


def check_choice(value: Any, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        raise RegistryValidationError(
            f"'{value}' is not one of {', '.join(choices)}", file="registry", field=field,
            fix=f"use one of {', '.join(choices)}",
        )


OAUTH2_KEYS = ("token_url", "client_id", "scope", "audience")
AWS_IAM_KEYS = ("access_key_id", "secret_access_key", "session_token")
"""``auth_config`` of an ``aws_iam`` provider: credential names (or ``env:NAME``), handed
to the provider type as ``extra["aws_<key>"]``, the AWS SDKs' own names; with none of
them the provider type's own AWS credential chain (profile, role) signs."""


def check_aws_iam(auth: Mapping[str, Any], field: str) -> None:
    """Static AWS keys come in pairs, and name credentials, never hold them."""
    for key in AWS_IAM_KEYS:
        value = auth.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise RegistryValidationError(
                f"auth_config.{key} must name a stored credential or an env:NAME reference",
                file="registry", field=f"{field}.{key}",
                fix="store the value with put_credential(NAME, ...) and give NAME here")
    has = [k for k in AWS_IAM_KEYS[:2] if auth.get(k)]
    if len(has) == 1 or (auth.get("session_token") and not has):
        raise RegistryValidationError(
            "an aws_iam provider needs both access_key_id and secret_access_key (or neither, "
            "to sign with the AWS profile or role of the host)", file="registry",
            field=f"{field}.{'secret_access_key' if has == ['access_key_id'] else 'access_key_id'}",
            fix="name both stored credentials, or remove the one given")


def check_oauth2(auth: Mapping[str, Any], field: str) -> None:
    """Client-credentials settings: the token endpoint, the client id, the secret's name."""
    for key, fix in (("token_url", "the token endpoint, e.g. https://login.example/oauth2/token"),
                     ("client_id", "the OAuth2 client id"),
                     ("credential", "the name of the stored client secret")):
        if not isinstance(auth.get(key), str) or not auth[key].strip():
            raise RegistryValidationError(
                f"an oauth2 provider needs auth_config.{key}", file="registry",
                field=f"{field}.{key}", fix=f"set it to {fix}",
            )
    url = urlsplit(auth["token_url"])
    if url.scheme not in ("https", "http") or not url.netloc or url.username or url.password:
        raise RegistryValidationError(
            "token_url must be an http(s) URL without credentials in it", file="registry",
            field=f"{field}.token_url", fix="e.g. https://login.example/oauth2/token; the "
            "client secret is stored as a credential",
        )
    for name, value in (auth.get("headers") or {}).items():
        if isinstance(value, str) and "apiKey" in value:
            raise RegistryValidationError(
                "an oauth2 provider sends its access token where the provider type puts "
                "its API key; a {{apiKey}} header would send the client secret",
                file="registry", field=f"{field}.headers.{name}",
                fix="remove the header (OpenAI-compatible types send Authorization: Bearer)",
            )


def check_headers(headers: Any, field: str) -> dict[str, str]:
    """Header templates: auth headers must reference the credential, never hold it."""
    if not isinstance(headers, Mapping):
        raise RegistryValidationError(
            "headers must be a mapping of header name to template", file="registry",
            field=field, fix='e.g. {"Authorization": "Bearer {{apiKey}}"}',
        )
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(value, str):
            raise RegistryValidationError(
                "a header value must be a string", file="registry", field=f"{field}.{name}",
                fix='e.g. "Bearer {{apiKey}}"',
            )
        if _AUTH_HEADER.match(str(name)) and not _PLACEHOLDER.search(value):
            raise RegistryValidationError(
                "an auth header holds a literal value; it would be stored in clear",
                file="registry", field=f"{field}.{name}",
                fix="store the key as a credential and write the header as "
                '"Bearer {{apiKey}}" (or {{credential:NAME}})',
            )
        out[str(name)] = value
    return out


def render_headers(headers: Mapping[str, str], resolve: Callable[[str], str]) -> dict[str, str]:
    """Fill ``{{apiKey}}`` / ``{{credential:NAME}}`` through ``resolve``."""
    return {h: _PLACEHOLDER.sub(lambda m: resolve(m.group(1)), v) for h, v in headers.items()}


def provider_config(
    row: Provider, *, api_key: Secret | None, headers: dict[str, str] | None = None,
    extra_secrets: Mapping[str, Secret] | None = None,
) -> ProviderConfig:
    where = f"providers.{row.identifier}"
    check_choice(row.auth_method, ("api_key", "oauth2", "aws_iam", "custom"),
                 f"{where}.auth_method")
    check_choice(row.status, ("active", "inactive", "testing"), f"{where}.status")
    auth = row.auth_config or {}
    allowed = {"credential", "headers"} | (
        set(OAUTH2_KEYS) if row.auth_method == "oauth2"
        else set(AWS_IAM_KEYS) if row.auth_method == "aws_iam" else set())
    unknown = set(auth) - allowed
    if unknown:
        raise RegistryValidationError(
            f"unknown auth_config key(s): {', '.join(sorted(unknown))}", file="registry",
            field=f"{where}.auth_config", fix=f"use {', '.join(sorted(allowed))}",
        )
    if row.auth_method == "oauth2":
        check_oauth2(auth, f"{where}.auth_config")
    if row.auth_method == "aws_iam":
        check_aws_iam(auth, f"{where}.auth_config")
    check_headers(auth.get("headers", {}), f"{where}.auth_config.headers")
    _no_secret_names(row.settings or {}, f"{where}.settings")
    data: dict[str, Any] = dict(row.settings or {})
    for key in ("type", "template", "base_url", "api_key", "headers"):
        if key in data:
            raise RegistryValidationError(
                f"'{key}' belongs in its own column, not in settings", file="registry",
                field=f"{where}.settings.{key}", fix="set provider_type, template, "
                "api_endpoint, auth_config.credential or auth_config.headers instead",
            )
    data.update(type=row.provider_type, template=row.template, base_url=row.api_endpoint,
                api_key=api_key, headers=headers or {})
    if extra_secrets:  # Secret values: revealed only by the provider, when it signs
        data["extra"] = {**(data.get("extra") or {}), **extra_secrets}
    return _build(ProviderConfig, data, where)


_SECRET_NAME = re.compile(r"(?i)(secret|token|password|passwd|credential|(^|_)key$)")


def _no_secret_names(value: Any, field: str) -> None:
    """Settings are stored in clear: a secret-named entry there must be a credential."""
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if _SECRET_NAME.search(str(name)) and not (
                isinstance(inner, str) and inner.startswith("env:")
            ) and not isinstance(inner, int | float):
                raise RegistryValidationError(
                    f"'{name}' looks like a secret; settings are stored in clear",
                    file="registry", field=f"{field}.{name}",
                    fix="store it with put_credential, or give an env:NAME reference",
                )
            _no_secret_names(inner, f"{field}.{name}")


def _finite(value: Any, field: str, *, positive: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise RegistryValidationError(
            f"{value!r} is not a finite {'positive' if positive else 'non-negative'} number",
            file="registry", field=field, fix="use a plain number such as 2.5",
        )


def model_override(row: Model, provider: str) -> ModelOverride:
    where = f"models.{provider}:{row.name}"
    check_choice(row.status, ("active", "inactive", "deprecated"), f"{where}.status")
    if row.context_length is not None:
        _finite(row.context_length, f"{where}.context_length", positive=True)
    for name, value in (row.pricing_info or {}).items():
        _finite(value, f"{where}.pricing_info.{name}")
    return _build(ModelOverride, {
        "context_window": row.context_length, "max_output_tokens": row.max_output_tokens,
        "capabilities": row.capabilities, "prices": row.pricing_info,
    }, where)


def route_config(row: Route) -> RouteConfig:
    tiers = [[m.model_ref for m in t.members] for t in row.tiers]
    return _build(RouteConfig, {**(row.params or {}), "strategy": row.strategy,
                                "tiers": [t for t in tiers if t]}, f"routes.{row.name}")


def agent_config(row: Agent) -> AgentConfig:
    return _build(AgentConfig, {
        **(row.params or {}), "model": row.model, "route": row.route, "tags": row.tags or {},
        "fallbacks": [f.model_ref for f in row.fallbacks],
    }, f"agents.{row.name}")


def budget_config(row: Budget) -> BudgetConfig:
    where = f"budgets.{row.name}"
    _finite(row.usd, f"{where}.usd", positive=True)
    return _build(BudgetConfig, {
        "name": row.name, "scope": row.scope, "usd": row.usd, "per": row.per,
        "on_exceed": row.on_exceed, "timezone": row.timezone, "alerts": row.alerts,
    }, where)
