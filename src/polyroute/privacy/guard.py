"""``PrivacyGuard``: masks PII in what a provider receives, or skips the provider.

Per provider (``privacy.providers``, else ``privacy.mode``):

- ``mask``: the request that provider gets has each finding replaced by ``[EMAIL]``,
  ``[CARD]``…; the caller's request is untouched (the next candidate gets its own copy).
- ``refuse``: a prompt with PII skips that provider, with the reason; the call falls back
  (to a local model set to ``allow``, say). All refused: ``PIIRefusedError``.
- ``allow``: sent as it is.

The ledger and the cache read the same policy (``ctx.privacy``) to mask what they store.
"""

from __future__ import annotations

from polyroute.guard_base import CandidateSkipped, Guard
from polyroute.privacy.policy import PIIRefusedError, PrivacyPolicy
from polyroute.refs import Deployment
from polyroute.types import ChatRequest

__all__ = ["PrivacyGuard"]


class PrivacyGuard(Guard):
    name = "privacy"

    def __init__(self, policy: PrivacyPolicy) -> None:
        self.policy = policy

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> None:
        mode = self.policy.mode_for(dep.provider)
        if mode == "allow":
            return
        # scanned here (kept in the request's memo for ``outgoing``): a failing hook
        # raises its typed error to the caller before anything is sent
        _, counts = self.policy.scan(request)
        if counts and mode == "refuse":
            found = ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))
            raise CandidateSkipped(
                f"privacy: the prompt holds personal data ({found}) and provider "
                f"'{dep.provider}' is set to refuse it",
                error=PIIRefusedError(counts, [dep.provider]))

    def outgoing(self, dep: Deployment, request: ChatRequest) -> ChatRequest:
        if self.policy.mode_for(dep.provider) != "mask":
            return request
        masked, _ = self.policy.scan(request)
        return masked

    def outgoing_texts(self, dep: Deployment, texts: list[str]) -> list[str]:
        if self.policy.mode_for(dep.provider) != "mask":
            return texts
        masked = [self.policy.mask_text(t)[0] for t in texts]
        return texts if masked == texts else masked
