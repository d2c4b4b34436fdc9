"""Figures the Budgets and Health pages draw: the month's burn-down with its forecast,
and each deployment's health timeline. Pure functions over what the API returned."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["burndown", "timeline"]

MAX_CELLS = 60


def burndown(report: dict[str, Any], budgets: list[dict[str, Any]], today: date
             ) -> dict[str, Any]:
    """This month's spend, day by day and added up, with a straight-line forecast to the
    month's end at the report's burn rate (mean cost per day over the last 7 days), against
    the registry's global monthly budgets.

    ``actual`` and ``forecast`` are cumulative USD per day of the month (``None`` where
    the line does not run); ``exceeds`` names, per limit, the first day the forecast
    reaches it.
    """
    first = today.replace(day=1)
    n_days = calendar.monthrange(today.year, today.month)[1]
    days = [first + timedelta(days=i) for i in range(n_days)]
    per_day = {d["day"]: sum((d.get("cost_by_provider") or {}).values())
               for d in report.get("daily") or []}
    rate = float(report.get("burn_rate_usd_per_day") or 0.0)
    actual: list[float | None] = []
    forecast: list[float | None] = []
    total = 0.0
    for d in days:
        if d <= today:
            total += per_day.get(d.isoformat(), 0.0)
            actual.append(round(total, 6))
        else:
            actual.append(None)
        forecast.append(round(total + rate * (d - today).days, 6) if d >= today else None)
    end = forecast[-1] if forecast[-1] is not None else total
    limits = {b["name"]: float(b["usd"]) for b in budgets
              if b.get("scope") == "global" and b.get("per") == "month"
              and b.get("usd") is not None}
    line = [a if a is not None else f for a, f in zip(actual, forecast, strict=True)]
    exceeds: dict[str, str | None] = {}
    for name, usd in limits.items():
        hit = next((d for d, v in zip(days, line, strict=True) if v is not None and v >= usd),
                   None)
        exceeds[name] = hit.isoformat() if hit else None
    return {"days": [d.isoformat() for d in days], "actual": actual, "forecast": forecast,
            "limits": limits, "month_to_date": round(total, 6), "forecast_end": round(end, 6),
            "burn_rate": rate, "exceeds": exceeds, "month": first.strftime("%B %Y")}


def _status(ok: int, errors: int) -> str:
    if not ok and not errors:
        return "idle"
    if errors > ok:
        return "outage"
    return "degraded" if errors else "ok"


def timeline(snapshot: dict[str, Any], window_s: float, history: int, now: float
             ) -> dict[str, Any]:
    """Per deployment: the tracker's last ``history`` windows as at most ``MAX_CELLS``
    cells (idle, ok, degraded: some errors, outage: more errors than successes), and its
    circuit as it is now (openings are kept as a count and the current reason only)."""
    w_now = int(now // window_s)
    first = w_now - history + 1
    span = max(1, -(-history // MAX_CELLS))  # windows per cell, rounded up
    rows = []
    for key, h in snapshot.items():
        seen = {int(x["start"] // window_s): x for x in h.get("history") or []}
        cells = []
        for start in range(first, w_now + 1, span):
            ws = [seen[i] for i in range(start, min(start + span, w_now + 1)) if i in seen]
            ok, err = sum(x["ok"] for x in ws), sum(x["errors"] for x in ws)
            cells.append({"status": _status(ok, err), "ok": ok, "errors": err,
                          "at": datetime.fromtimestamp(start * window_s, UTC).strftime("%H:%M")})
        circuit = h.get("circuit") if isinstance(h.get("circuit"), dict) else {}
        rows.append({
            "key": key, "cells": cells,
            "outages": sum(c["status"] == "outage" for c in cells),
            "degraded": sum(c["status"] == "degraded" for c in cells),
            "busy": sum(c["status"] != "idle" for c in cells),
            "circuit": (circuit or {}).get("state") or "closed",
            "openings": int((circuit or {}).get("opened") or 0),
            "why": (circuit or {}).get("why"),
            "open_for_s": (circuit or {}).get("open_for_s") or 0,
        })
    return {"rows": rows, "window_s": window_s, "history": history, "span": span,
            "minutes": round(window_s * history / 60)}
