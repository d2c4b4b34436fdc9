"""Model status and quality floors: the guard that skips a candidate before planning.

* ``status: inactive`` on a model (``models:``) or a provider (``providers:``): the
  candidate is skipped, with the reason ``route --explain`` and ``NoRouteError`` show.
* ``status: deprecated``: the candidate is used; a warning is logged once per router
  and deployment, and ``route --explain`` notes it.
* ``min_quality`` (per call, or an agent's): a candidate whose quality score (the
  catalog's ``ModelInfo.quality``, overridden by ``models: {p:m: {quality: 0-100}}``)
  is below the floor is skipped, and so is one
  whose score is unknown: a floor that cannot be checked is not met. A floor that is
  not a number from 0 to 100 is refused with a ``ConfigError``, never ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from polyroute.errors import ConfigError
from polyroute.logs import get_logger
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment, Note
from polyroute.types import ChatRequest, ModelInfo

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig

__all__ = ["SelectionGuard", "quality_of"]

logger = get_logger("routing.selection")


def quality_of(info: ModelInfo | None) -> float | None:
    """A catalog entry's quality score (``models:`` overrides applied), if any."""
    return None if info is None else info.quality


class SelectionGuard(Guard):
    """Skips inactive models and providers and those under a quality floor; notes
    deprecated ones (and warns once)."""

    name = "selection"

    def __init__(self, config: PolyrouteConfig,
                 model_info: Callable[[Deployment], ModelInfo | None]) -> None:
        self.config = config
        self._info = model_info
        self._model_status: dict[str, str] = {}
        for key, override in config.models.items():
            if override.status != "active":
                provider, _, model = key.replace("/", ":", 1).partition(":")
                self._model_status[f"{provider}/{model}"] = override.status
        self._provider_status = {n: p.status for n, p in config.providers.items()
                                 if p.status != "active"}
        self._agent_floor = {n: a.min_quality for n, a in config.agents.items()
                             if a.min_quality is not None}
        self._warned: set[str] = set()

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        note: str | None = None
        if self._model_status or self._provider_status:
            status, where = self._status(dep)
            if status == "inactive":
                return f"{where} is inactive (status: inactive)"
            if status == "deprecated":
                note = f"{where} is deprecated"
                if dep.key not in self._warned:
                    self._warned.add(dep.key)
                    logger.warning("%s is deprecated (status: deprecated) and still routed to;"
                                   " move its agents and routes to another model", where)
        floor = self._floor(request)
        if floor is not None:
            quality = quality_of(self._info(dep))
            if quality is None:
                return (f"quality unknown, min_quality {floor:g} cannot be checked (set "
                        f"models.{dep.provider}:{dep.model}.quality)")
            if quality < floor:
                return f"quality {quality:g} is below min_quality {floor:g}"
        return None if note is None else Note(note)

    def _status(self, dep: Deployment) -> tuple[str, str]:
        provider = self._provider_status.get(dep.provider)
        if provider == "inactive":
            return provider, f"provider {dep.provider}"
        model = self._model_status.get(dep.key)
        if model is not None:
            return model, f"model {dep.provider}:{dep.model}"
        if provider is not None:
            return provider, f"provider {dep.provider}"
        return "active", ""

    def _floor(self, request: ChatRequest) -> float | None:
        r = request.routing
        floor = r.min_quality
        if floor is None:
            return self._agent_floor.get(r.agent) if r.agent else None
        if (isinstance(floor, bool) or not isinstance(floor, int | float)
                or not math.isfinite(floor) or not 0 <= floor <= 100):
            raise ConfigError(
                f"min_quality must be a number from 0 to 100, got {floor!r}",
                field="routing.min_quality",
                fix="pass e.g. min_quality=60 (the models: quality scale), or None",
            )
        return float(floor)
