"""The response cache: diskcache holding JSON only, keyed by the sha256 of what affects
the answer, with per-call bypass, streamed replay and single-flight for identical calls."""

from polyroute.cache.keys import cache_key, canonical_json
from polyroute.cache.store import PickledEntryError, ResponseCache

__all__ = ["PickledEntryError", "ResponseCache", "cache_key", "canonical_json"]
