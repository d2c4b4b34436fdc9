"""``PrivacyPolicy``: what each provider may receive, and the masked request it gets.

The router builds one from ``privacy:`` and hands it to guards through the
``RouterContext`` (``ctx.privacy``): the privacy guard masks or refuses per
provider, the cost guard masks what the ledger stores and records the counts,
the cache guard masks what it stores. A request is scanned once: the result is
kept in its memo with the texts it came from (as ``tokens.prompt_tokens`` does).
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from polyroute.config.privacy import PrivacyConfig, PrivacyMode
from polyroute.errors import ConfigError, PolyrouteError
from polyroute.privacy.detectors import ExtraDetector, Finding, find_all, mask
from polyroute.types import (
    ChatRequest,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    request_memo,
)

__all__ = ["PIIRefusedError", "PrivacyHookError", "PrivacyPolicy", "policy_from_config",
           "redacted_content"]

_MEMO_KEY = "privacy_scan"


class PIIRefusedError(PolyrouteError):
    """Every candidate was refused because the prompt holds PII and their providers'
    privacy mode is ``refuse``. Names the kinds found (never the values)."""

    def __init__(self, counts: dict[str, int], providers: Iterable[str]) -> None:
        self.counts = dict(counts)
        self.providers = sorted(set(providers))
        found = ", ".join(f"{k} x{n}" for k, n in sorted(self.counts.items()))
        super().__init__(
            f"the prompt holds personal data ({found}) and privacy mode is 'refuse' for "
            f"{', '.join(self.providers)} — fix: remove it from the prompt, set "
            "privacy.providers.<name>: mask, or add a provider where it is allowed")


class PrivacyHookError(PolyrouteError):
    """The ``privacy.hook`` detector raised or returned something that is not
    ``(kind, start, end)`` triples. The call stops here: nothing is sent unscanned."""

    def __init__(self, hook: str, exc: Exception) -> None:
        super().__init__(f"the privacy hook '{hook}' failed ({type(exc).__name__}); the call "
                         "was stopped rather than send an unscanned prompt — fix: make it "
                         "return (kind, start, end) triples for a text")


class PrivacyPolicy:
    """Per-provider modes and the detectors of one ``privacy:`` section."""

    def __init__(self, cfg: PrivacyConfig) -> None:
        self.config = cfg
        self.kinds = tuple(cfg.detectors)
        self.extra: list[ExtraDetector] = []
        if cfg.hook:
            self._load_hook(cfg.hook)

    def _load_hook(self, ref: str) -> None:
        module, _, name = ref.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot load the privacy hook '{ref}' ({exc})",
                              field="privacy.hook",
                              fix="give 'module:function' of an importable function") from exc

        self.extra.append(fn)

    # --- modes -------------------------------------------------------------------------

    def mode_for(self, provider: str) -> PrivacyMode:
        return self.config.providers.get(provider, self.config.mode)

    # --- texts ---------------------------------------------------------------------

    def findings(self, text: str) -> list[Finding]:
        if not self.extra:
            return find_all(text, self.kinds)
        try:
            return find_all(text, self.kinds, self.extra)
        except Exception as exc:  # the hook's bug: no message (it may quote the text)
            raise PrivacyHookError(self.config.hook or "?", exc) from None

    def mask_text(self, text: str) -> tuple[str, Counter[str]]:
        found = self.findings(text)
        return (mask(text, found) if found else text), Counter(f.kind for f in found)

    # --- requests ------------------------------------------------------------------

    def scan(self, request: ChatRequest) -> tuple[ChatRequest, dict[str, int]]:
        """``(masked copy, counts by kind)`` of ``request``; the request itself when
        nothing was found. Computed once per request (kept with the messages it came
        from, so an edited request is scanned again)."""
        basis = [m.content if isinstance(m.content, str) else (*m.content,)
                 for m in request.messages]
        memo = request_memo(request)
        kept = memo.get(_MEMO_KEY)
        if kept is not None and kept[0] == basis:
            return kept[1], kept[2]
        total: Counter[str] = Counter()
        messages = [self._message(m, total) for m in request.messages]
        masked = request if not total else request.model_copy(update={"messages": messages})
        counts = dict(total)
        memo[_MEMO_KEY] = (basis, masked, counts)
        return masked, counts

    def _message(self, message: Message, total: Counter[str]) -> Message:
        if isinstance(message.content, str):
            text, n = self.mask_text(message.content)
            if not n:
                return message
            total.update(n)
            return message.model_copy(update={"content": text})
        parts: list[Any] = []
        changed = False
        for part in message.content:
            new = part
            if isinstance(part, TextPart):
                text, n = self.mask_text(part.text)
                new = part.model_copy(update={"text": text}) if n else part
            elif isinstance(part, ToolResultPart):
                text, n = self.mask_text(part.content)
                new = part.model_copy(update={"content": text}) if n else part
            elif isinstance(part, ToolCallPart):
                args, n = self._mask_json(part.arguments)
                new = part.model_copy(update={"arguments": args}) if n else part
            else:  # images are not scanned (documented)
                n = Counter()
            total.update(n)
            changed = changed or new is not part
            parts.append(new)
        return message.model_copy(update={"content": parts}) if changed else message

    def _mask_json(self, value: Any) -> tuple[Any, Counter[str]]:
        n: Counter[str] = Counter()

        def walk(v: Any) -> Any:
            if isinstance(v, str):
                text, c = self.mask_text(v)
                n.update(c)
                return text
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        return walk(value), n


def policy_from_config(cfg: PrivacyConfig | None) -> PrivacyPolicy | None:
    return PrivacyPolicy(cfg) if cfg is not None else None



def redacted_content(policy: PrivacyPolicy, request: ChatRequest, provider: str,
                     prompt: str | None, answer: str | None
                     ) -> tuple[str | None, str | None, str | None]:
    """What a ledger row keeps with privacy on: ``(prompt, answer, redactions)``. The
    stored prompt and answer are masked whatever the provider's mode (the ledger is not
    the provider); ``redactions`` is the JSON of counts by kind masked in the request
    ``provider`` received (``None``: nothing was), never a value."""
    masked, counts = policy.scan(request)
    if prompt is not None and counts:
        prompt = json.dumps([m.model_dump(mode="json") for m in masked.messages])
    if answer is not None:
        answer, _ = policy.mask_text(answer)
    sent_masked = bool(counts) and bool(provider) and policy.mode_for(provider) == "mask"
    return prompt, answer, json.dumps(counts, sort_keys=True) if sent_masked else None
