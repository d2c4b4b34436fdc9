"""Config sections for privacy (PII redaction) and observability (OpenTelemetry,
log format). ``config/schema.py`` mounts them on ``PolyrouteConfig``.

```yaml
privacy:
  mode: mask                 # default for every provider: mask | refuse | allow
  providers: {local: allow}  # per provider: send PII unmasked to the local model
  detectors: [email, phone, card, iban, secret]
observability: {otel: auto, log_format: json}
debug: [groq]                # request/response metadata of these providers on the log
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ObservabilityConfig", "PrivacyConfig", "PrivacyMode"]

PrivacyMode = Literal["mask", "refuse", "allow"]
DetectorKind = Literal["secret", "email", "iban", "card", "phone"]
_ALL_KINDS: tuple[DetectorKind, ...] = ("secret", "email", "iban", "card", "phone")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrivacyConfig(_Strict):
    """Redaction of personal data before a request leaves and before anything is stored.
    Off unless the section is present (``privacy: {}`` masks everything, everywhere)."""

    mode: PrivacyMode = "mask"
    """What a provider gets when the prompt holds PII: ``mask`` (each value replaced by
    ``[EMAIL]``, ``[CARD]``…), ``refuse`` (that provider is skipped, the call falls back)
    or ``allow`` (sent as it is)."""
    providers: dict[str, PrivacyMode] = Field(default_factory=dict)
    """Per provider name, overriding ``mode`` (e.g. ``{local: allow}``)."""
    detectors: list[DetectorKind] = Field(
        default_factory=lambda: list(_ALL_KINDS))
    """The built-in detectors to run (all by default)."""
    hook: str | None = None
    """``module:function`` returning extra findings for a text (a Presidio analyzer, say):
    ``f(text) -> iterable of (kind, start, end)``. See docs/privacy.md."""

    @field_validator("hook")
    @classmethod
    def _hook_shape(cls, v: str | None) -> str | None:
        if v is not None and (v.count(":") != 1 or not all(v.split(":"))):
            raise ValueError(f"hook '{v}' is not 'module:function' (e.g. myapp.pii:find)")
        return v


class ObservabilityConfig(_Strict):
    otel: bool | Literal["auto"] = "auto"
    """OpenTelemetry spans and metrics: ``auto`` when ``opentelemetry-api`` is installed
    (``pip install polyroute[otel]``), ``true`` to require it, ``false`` never."""
    log_format: Literal["text", "json"] | None = None
    """Debug lines as text or one JSON object per line (``POLYROUTE_LOG_FORMAT`` wins)."""
