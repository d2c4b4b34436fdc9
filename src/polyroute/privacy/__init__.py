"""PII redaction: built-in detectors, the per-provider policy and its guard.

``privacy:`` in the config turns it on (docs/privacy.md). The detectors
(``polyroute.privacy.detectors``) are usable alone: ``find_all(text)``, ``mask``.
"""

from polyroute.privacy.detectors import Finding, find_all, iban_ok, luhn_ok, mask
from polyroute.privacy.policy import PIIRefusedError, PrivacyHookError, PrivacyPolicy

__all__ = ["Finding", "PIIRefusedError", "PrivacyHookError", "PrivacyPolicy", "find_all",
           "iban_ok", "luhn_ok", "mask"]
