"""Budget use and waiting posts per collector, in words, for `viralwatch collectors` (issue 8)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from collectors.registry import collector_classes, stored_platform
from storage.budgets import budget_statuses
from storage.schedule import Scheduling, due_counts


def usage_lines(engine: Engine, now: datetime) -> dict[str, list[str]]:
    """Per collector name: one line per declared budget ("37/100 search.list calls this
    window, resets …") and, for the collector that refreshes a platform, its waiting posts."""
    spent = {(s.collector, s.budget): s for s in budget_statuses(engine, now)}
    waiting = {d.platform: d for d in due_counts(engine, now, Scheduling())}
    lines: dict[str, list[str]] = {}
    for name, cls in collector_classes().items():
        out = lines.setdefault(name, [])
        for quota in cls.spec.quotas:
            status = spent.get((name, quota.what[:80]))
            used = status.spent if status else 0
            resets = (
                f", resets {status.resets_at:%Y-%m-%d %H:%M} UTC"
                if status and status.resets_at
                else ""
            )
            out.append(f"budget {used:,}/{quota.requests:,} {quota.what}{resets}")
        if name == stored_platform(cls) and (due := waiting.get(name)) is not None:
            out.append(f"posts due {due.due:,}, overdue {due.overdue:,}")
    return lines
