"""Bedrock authentication: a Bedrock API key (bearer) or AWS SigV4 through botocore.

Modes (``settings.extra["auth"]``, default ``"auto"``):

``bearer``
    A Bedrock API key — ``settings.api_key``, else ``AWS_BEARER_TOKEN_BEDROCK``
    (the variable the AWS SDKs read) — sent as ``Authorization: Bearer``.
    Needs no botocore.
``sigv4``
    Signature Version 4 with botocore's own signer (``botocore.auth.SigV4Auth``
    on a ``botocore.awsrequest.AWSRequest``), service ``bedrock``. Credentials:
    static ones in ``settings.extra`` (``aws_access_key_id``,
    ``aws_secret_access_key``, optional ``aws_session_token``; each may be
    ``env:NAME``), else ``extra["profile"]``, else the usual AWS chain via
    ``botocore.session.Session().get_credentials()`` (env vars, shared
    credentials/config files, SSO, web identity, container and instance roles).
``auto``
    ``bearer`` when a Bedrock API key is available, else ``sigv4``.

Signing runs in ``build_request``, which stays sans-IO in the sense that it
only computes headers. **IMDS caveat**: when nothing else provides
credentials, botocore's chain ends with the EC2 instance-metadata service —
an HTTP call to 169.254.169.254 (with a one-second timeout and retries) the
first time credentials are resolved. Give static credentials (tests do), set
``AWS_EC2_METADATA_DISABLED=true``, or ``extra["imds"] = false`` (drops the
instance-role provider from the chain) where that must not happen.
Credentials are resolved once per provider and refreshed by botocore when
they expire (STS/SSO refreshes are network calls too, by nature).

Secrets (keys, session tokens, the bearer token and each signature) are
registered with ``polyroute.secrets.remember`` so error messages and logs
scrub them; nothing here puts them in a ``repr``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from polyroute.errors import ConfigError, MissingSecretError
from polyroute.secrets import Secret, remember

if TYPE_CHECKING:
    from botocore.credentials import Credentials

__all__ = ["BEARER_ENV", "AuthMode", "BedrockAuth", "sigv4_available"]

BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"
SIGNING_NAME = "bedrock"
AuthMode = Literal["auto", "bearer", "sigv4"]


def sigv4_available() -> bool:
    try:
        import botocore.auth  # noqa: F401
    except ImportError:
        return False
    return True


class BedrockAuth:
    """Resolves credentials lazily and signs one request at a time."""

    def __init__(self, *, provider: str, api_key: Secret | None, extra: Mapping[str, Any]) -> None:
        self.provider = provider
        self._api_key = api_key
        self._extra = extra
        mode = str(extra.get("auth", "auto"))
        if mode not in ("auto", "bearer", "sigv4"):
            raise ConfigError(
                f"unknown auth mode {mode!r}", field=f"providers.{provider}.extra.auth",
                fix="use auto, bearer or sigv4")
        self.mode: str = mode
        self._credentials: Credentials | None = None
        self._lock = threading.Lock()

    # --- which mode ----------------------------------------------------------

    def bearer_token(self) -> str | None:
        key = self._api_key
        if key is not None and key.is_available():
            return key.reveal(what=f"provider '{self.provider}' api_key")
        return None

    def effective_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "bearer" if self.bearer_token() else "sigv4"

    def problem(self) -> str | None:
        """Why this provider cannot sign (for ``is_configured``), without resolving creds."""
        mode = self.effective_mode()
        if mode == "bearer":
            return None if self.bearer_token() else f"no Bedrock API key ({BEARER_ENV} is not set)"
        if not sigv4_available():
            return (f"SigV4 needs botocore (pip install 'polyroute-bedrock[sigv4]'), "
                    f"or set {BEARER_ENV}")
        return None

    # --- headers -------------------------------------------------------------

    def headers(self, method: str, url: str, body: bytes, headers: Mapping[str, str],
                region: str) -> dict[str, str]:
        """``headers`` plus authentication for this exact request."""
        if self.effective_mode() == "bearer":
            token = self.bearer_token()
            if not token:
                raise MissingSecretError(
                    f"provider '{self.provider}' uses a Bedrock API key but none is set",
                    fix=f"export {BEARER_ENV}=... or set api_key")
            return {**headers, "Authorization": f"Bearer {token}"}
        return self._sign(method, url, body, headers, region)

    def _sign(self, method: str, url: str, body: bytes, headers: Mapping[str, str],
              region: str) -> dict[str, str]:
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
        except ImportError:
            raise ConfigError(
                f"provider '{self.provider}' signs with SigV4, which needs botocore",
                fix=f"pip install 'polyroute-bedrock[sigv4]', or use a Bedrock API key "
                    f"({BEARER_ENV})") from None
        creds = self.credentials().get_frozen_credentials()
        for secret in (creds.secret_key, creds.token):
            if secret:
                remember(secret)
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(creds, SIGNING_NAME, region).add_auth(request)
        signed = {str(k): str(v) for k, v in request.headers.items()}
        remember(signed.get("Authorization", ""))
        return signed

    def credentials(self) -> Credentials:
        """The botocore credentials (resolved once; see the IMDS caveat above)."""
        with self._lock:
            if self._credentials is None:
                self._credentials = self._resolve()
            return self._credentials

    def _resolve(self) -> Credentials:
        from botocore.credentials import Credentials
        from botocore.session import Session

        static = {k: _value(self._extra.get(k)) for k in
                  ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")}
        if static["aws_access_key_id"] or static["aws_secret_access_key"]:
            if not (static["aws_access_key_id"] and static["aws_secret_access_key"]):
                raise ConfigError(
                    "give both aws_access_key_id and aws_secret_access_key",
                    field=f"providers.{self.provider}.extra")
            return Credentials(static["aws_access_key_id"], static["aws_secret_access_key"],
                               static["aws_session_token"])
        profile = self._extra.get("profile")
        session = Session(profile=str(profile)) if profile else Session()
        if self._extra.get("imds") is False:
            resolver = session.get_component("credential_provider")
            resolver.remove("iam-role")
        creds = session.get_credentials()
        if creds is None:
            raise ConfigError(
                f"provider '{self.provider}': no AWS credentials found in the chain "
                "(env, shared files, SSO, roles)",
                field=f"providers.{self.provider}.extra",
                fix=f"configure AWS credentials, set extra.aws_access_key_id/"
                    f"aws_secret_access_key, or use a Bedrock API key ({BEARER_ENV})")
        return creds

    def __repr__(self) -> str:
        return f"<BedrockAuth {self.provider!r} mode={self.mode!r}>"


def _value(raw: object) -> str | None:
    """A plain string, or the value of an ``env:NAME`` reference."""
    if raw is None:
        return None
    if isinstance(raw, Secret):
        return raw.reveal(what="AWS credential") if raw.is_available() else None
    text = str(raw)
    if text.startswith("env:"):
        return os.environ.get(text[4:].strip()) or None
    return text
