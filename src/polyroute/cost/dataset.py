"""Prices from the bundled ``genai-prices`` dataset (pydantic's maintained price list).

The dataset ships inside the package as Python data, so a lookup never touches
the network; we never start its optional auto-updater. Importing it takes about
0.1 s, so it is imported on the first lookup, not with polyroute, and each
``(provider, model)`` is looked up once per process.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from polyroute.cost.pricing import Prices
from polyroute.logs import get_logger

__all__ = ["dataset_prices", "dataset_version"]

logger = get_logger("cost")
_lock = threading.Lock()

def dataset_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("genai-prices")
    except Exception:
        return None


@lru_cache(maxsize=1024)
def dataset_prices(provider_ids: tuple[str, ...], model: str) -> Prices | None:
    """Prices for ``model`` at the first of ``provider_ids`` the dataset knows, else
    ``None``. Ids come from each provider's ``pricing_id`` (see ``Provider``), else
    its configured name, template and type."""
    with _lock:  # the dataset's own lookup caches are plain dicts
        try:
            from genai_prices import data_snapshot
        except ImportError:
            return None
        snapshot = data_snapshot.get_snapshot()
        for pid in provider_ids:
            if not pid:
                continue
            try:
                _, info = snapshot.find_provider_model(model, None, pid, None)
            except LookupError:
                continue
            except Exception as exc:  # a malformed entry must never break a call
                logger.debug("genai-prices lookup %s/%s failed: %s", pid, model, exc)
                continue
            return _convert(info.get_prices(datetime.now(tz=UTC)))
    return None


def _convert(price: Any) -> Prices | None:
    def rate(*names: str) -> float | None:
        for name in names:
            value = getattr(price, name, None)
            if value is None:
                continue
            base = getattr(value, "base", value)  # tiered: the base tier
            if isinstance(base, Decimal | int | float):
                return float(base)
        return None

    prices = Prices(
        input=rate("input_mtok", "input_text_mtok"),
        output=rate("output_mtok", "output_text_mtok"),
        cache_read=rate("cache_read_mtok", "cache_text_read_mtok"),
        cache_write=rate("cache_write_mtok", "cache_text_write_mtok"),
        reasoning=rate("output_reasoning_mtok", "output_text_reasoning_mtok"),
        source="dataset",
    )
    return prices if prices.known else None
