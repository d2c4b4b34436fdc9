"""Usage analytics from the ledger, ``--recommend``, and alerts.

``usage_stats(router)`` gives the figures ``polyroute usage`` prints.
"""

from polyroute.analytics.stats import BudgetUse, GroupStats, UsageReport, usage_stats

__all__ = ["BudgetUse", "GroupStats", "UsageReport", "usage_stats"]
