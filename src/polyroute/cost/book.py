"""``PriceBook``: the prices of each deployment, from the best source, looked up once.

Sources, first match wins:
1. ``pricing.overrides`` in the config (``provider:model``, ``provider/model`` or ``model``);
2. the model catalog — plugin entries with the config's ``models:`` overrides on top;
3. the bundled genai-prices dataset (by provider name, template, then type).

A price is "known" when both input and output rates are; otherwise the
deployment is unpriced and ``pricing.unknown`` decides (``warn``/``block``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from polyroute.config.cost import PricingConfig
from polyroute.cost.pricing import Prices
from polyroute.logs import get_logger
from polyroute.refs import Deployment
from polyroute.types import ModelInfo, Usage

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.providers.base import Provider

__all__ = ["UNKNOWN", "PriceBook"]

logger = get_logger("cost")
UNKNOWN = Prices(source="unknown")


class PriceBook:
    """Resolves and memoises ``Prices`` per deployment (a dict lookup after the first)."""

    def __init__(
        self,
        pricing: PricingConfig,
        info: Callable[[Deployment], ModelInfo | None],
        provider_ids: Callable[[Deployment], tuple[str, ...]] = lambda d: (d.provider,),
    ) -> None:
        self.pricing = pricing
        self._info = info
        self._provider_ids = provider_ids
        self._memo: dict[Deployment, Prices] = {}
        self._warned: set[Deployment] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_config(
        cls,
        config: PolyrouteConfig,
        info: Callable[[Deployment], ModelInfo | None],
        provider_of: Callable[[str], Provider | None],
    ) -> PriceBook:
        """The book of one router: its ``pricing:`` section, its catalog lookup
        (``info``) and its providers (for the dataset's provider ids)."""
        pricing: PricingConfig = getattr(config, "pricing", None) or PricingConfig()

        def ids(dep: Deployment) -> tuple[str, ...]:
            provider = provider_of(dep.provider)
            if provider is not None:
                pid = provider.settings.extra.get("pricing_id", provider.pricing_id)
                if pid is not None:
                    return (str(pid),) if pid else ()
            names = [dep.provider]
            pcfg = config.providers.get(dep.provider)
            if pcfg is not None and pcfg.template:
                names.append(pcfg.template)
            if provider is not None:
                names.append(provider.type_name)
            return tuple(dict.fromkeys(names))

        return cls(pricing, info, ids)

    def prices(self, dep: Deployment) -> Prices:
        found = self._memo.get(dep)
        if found is None:
            found = self._resolve(dep)
            with self._lock:
                self._memo[dep] = found
        return found

    def info(self, dep: Deployment) -> ModelInfo | None:
        return self._info(dep)

    def cost(self, dep: Deployment, usage: Usage) -> float | None:
        return self.prices(dep).cost(usage)

    def warn_unknown(self, dep: Deployment) -> None:
        """Log once per deployment that its cost is unknown (``pricing.unknown: warn``)."""
        if dep in self._warned:
            return
        with self._lock:
            self._warned.add(dep)
        logger.warning(
            "no known price for %s: its cost is recorded as unknown, not $0, and budgets "
            "cannot count it — set pricing.overrides['%s:%s'] or pricing.unknown: block",
            dep.key, dep.provider, dep.model,
        )

    def _resolve(self, dep: Deployment) -> Prices:
        o = self.pricing.overrides
        override = (o.get(f"{dep.provider}:{dep.model}") or o.get(dep.key) or o.get(dep.model))
        info = self._info(dep)
        base = Prices.of(info.prices) if info is not None else UNKNOWN
        if override is not None:
            merged = Prices(
                input=override.input if override.input is not None else base.input,
                output=override.output if override.output is not None else base.output,
                cache_read=override.cache_read if override.cache_read is not None
                else base.cache_read,
                cache_write=override.cache_write if override.cache_write is not None
                else base.cache_write,
                reasoning=override.reasoning,
                source="config",
            )
            if merged.known:
                return merged
        if base.known:
            return base
        if self.pricing.dataset:
            from polyroute.cost.dataset import dataset_prices

            found = dataset_prices(self._provider_ids(dep), dep.model)
            if found is not None:
                return found
        return UNKNOWN
