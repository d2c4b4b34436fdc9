"""The router's outcome API and batch entry points (a mixin of ``Router``).

``feedback``/``afeedback`` store how a call turned out in the ledger's
``feedback`` table (``polyroute.ledger.feedback``) and make bandit experiments
re-read their counts; ``batch``/``abatch`` answer many requests
(``polyroute.router.batch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyroute.errors import ConfigError
from polyroute.ledger.feedback import VariantOutcomes, record_feedback, variant_outcomes
from polyroute.ledger.queued import QueuedLedger
from polyroute.ledger.reader import is_postgres, open_writer
from polyroute.ledger.store import Ledger
from polyroute.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.guard_base import Guard
    from polyroute.routing.experiments import Experiments

__all__ = ["OutcomesMixin"]


class OutcomesMixin:
    if TYPE_CHECKING:
        config: PolyrouteConfig
        guards: list[Guard]
        experiments: Experiments

    def feedback(self, call_id: str, *, score: float | None = None, label: str | None = None,
                 comment: str | None = None, tenant: str | None = None) -> None:
        """Record how a call turned out: ``score`` in [0, 1] and/or a ``label``, for
        ``polyroute usage --experiment`` and bandit experiments. ``call_id`` is the
        answer's ``call_id``; with ``tenant``, a call of another tenant is refused as
        unknown. Raises ``FeedbackError`` (a bad value, an unknown call) or
        ``ConfigError`` (no ledger to store it in)."""
        target = self._flush_ledger()  # the call's row may still be queued
        if target is None:
            raise ConfigError("feedback is stored in the usage ledger, which is off",
                              field="ledger", fix="add `ledger: {}` to the config")
        with open_writer(target) as (conn, ph):
            record_feedback(conn, call_id, score=score, label=label, comment=comment,
                            tenant=tenant, ph=ph)
            row = conn.execute(f"SELECT experiment FROM calls WHERE id = {ph}",
                               (call_id,)).fetchone()
        if row and row[0]:
            self.experiments.invalidate(row[0])

    async def afeedback(self, call_id: str, *, score: float | None = None,
                        label: str | None = None, comment: str | None = None,
                        tenant: str | None = None) -> None:
        """``feedback`` off the event loop (it writes to the ledger file)."""
        await asyncio.to_thread(self.feedback, call_id, score=score, label=label,
                                comment=comment, tenant=tenant)

    def _variant_outcomes(self, experiment: str, success_score: float
                          ) -> Mapping[str, VariantOutcomes]:
        target = self._flush_ledger()
        if target is None or (not is_postgres(target) and not Path(target).exists()):
            return {}  # no ledger, no feedback: the bandit starts from flat priors
        return variant_outcomes(target, experiment, success_score)

    def _flush_ledger(self) -> str | None:
        """Flush the ledger's queue; where the ledger is (the file it opened, whatever
        the working directory is now, or its PostgreSQL URL), or ``None`` without one."""
        for guard in self.guards:
            ledger = getattr(guard, "ledger", None)
            if isinstance(ledger, Ledger):
                ledger.flush()
                return str(ledger.path)
            if isinstance(ledger, QueuedLedger):
                ledger.flush()
                break
        cfg = self.config
        return None if cfg.ledger is None else cfg.ledger.target(cfg.source)

    # --- batch ---------------------------------------------------------------------------

    def batch(self, requests: Iterable[ChatRequest], **options: Any
              ) -> Sequence[ChatResponse | Exception]:
        """Answer many requests with bounded concurrency; one failure never stops the
        rest: one ``ChatResponse`` or typed error per request, in order. Options:
        ``polyroute.router.batch.run_batch``."""
        from polyroute.router.batch import run_batch

        return run_batch(self, list(requests), **options)  # type: ignore[arg-type]

    async def abatch(self, requests: Iterable[ChatRequest], **options: Any
                     ) -> Sequence[ChatResponse | Exception]:
        """Async ``batch`` (``polyroute.router.batch.arun_batch``)."""
        from polyroute.router.batch import arun_batch

        return await arun_batch(self, list(requests), **options)  # type: ignore[arg-type]
