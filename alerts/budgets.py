"""Budget exhaustion (issue 12): will a collector's request budget run out before it resets?

The statuses come from storage (issue 8's `storage.budgets.budget_statuses(engine, now)`), passed
in as a `BudgetSource`, so this module relies only on their fields (`BudgetStatus`).

Spend rate: what the budget's `spent` grew by over the samples seen in the last `window_minutes`
of the same budget window (same `resets_at`), per hour. The budget runs out at
`now + (limit - spent) / rate`; it is reported when that comes before `resets_at`. A budget
already used up before its reset is reported at once; one without a reset time never is (nothing
to race). Samples live in the evaluator's memory: after a restart, the first pass has no rate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine


class BudgetStatus(Protocol):
    """One budget of one collector (the fields of `storage.budgets.BudgetStatus`)."""

    @property
    def collector(self) -> str: ...
    @property
    def budget(self) -> str: ...
    @property
    def limit(self) -> int: ...
    @property
    def spent(self) -> int: ...
    @property
    def resets_at(self) -> datetime | None: ...


BudgetSource = Callable[[Engine, datetime], Sequence[BudgetStatus]]
Sample = tuple[datetime, int]
"""(when, spent) as one evaluation saw it."""


def no_budgets(engine: Engine, now: datetime) -> list[BudgetStatus]:
    """The source until budgets are stored: nothing to watch."""
    return []


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A budget projected to run out (or already out) before it resets."""

    collector: str
    budget: str
    limit: int
    spent: int
    resets_at: datetime
    runs_out_at: datetime
    per_hour: float | None
    """The spend rate projected; None when the budget is already used up."""


def runs_out_at(
    samples: Sequence[Sample], limit: int, resets_at: datetime | None, now: datetime
) -> tuple[datetime, float | None] | None:
    """(when the budget runs out, spend per hour) if that is before `resets_at`, else None.
    `samples` are oldest first, all from the current budget window."""
    if resets_at is None or resets_at <= now or not samples:
        return None
    last_at, spent = samples[-1]
    if spent >= limit:
        return last_at, None
    first_at, first_spent = samples[0]
    hours = (last_at - first_at).total_seconds() / 3600
    if hours <= 0 or spent <= first_spent:
        return None
    per_hour = (spent - first_spent) / hours
    out_at = now + timedelta(hours=(limit - spent) / per_hour)
    return (out_at, per_hour) if out_at < resets_at else None


class BudgetWatch:
    """Keeps each budget's recent samples between evaluations and projects them."""

    def __init__(self, source: BudgetSource = no_budgets) -> None:
        self.source = source
        self._samples: dict[tuple[str, str, datetime | None], deque[Sample]] = {}

    def shortfalls(self, engine: Engine, now: datetime, window: timedelta) -> list[Shortfall]:
        """Budgets that will run out before their reset at the rate of the last `window`."""
        found = []
        seen = set()
        for status in self.source(engine, now):
            # A new resets_at is a new budget window: its samples start afresh.
            key = (status.collector, status.budget, status.resets_at)
            seen.add(key)
            samples = self._samples.setdefault(key, deque())
            samples.append((now, status.spent))
            while len(samples) > 2 and samples[1][0] <= now - window:
                samples.popleft()  # keep one sample at or before the window's start
            projected = runs_out_at(samples, status.limit, status.resets_at, now)
            if projected is not None and status.resets_at is not None:
                out_at, per_hour = projected
                found.append(
                    Shortfall(
                        status.collector,
                        status.budget,
                        status.limit,
                        status.spent,
                        status.resets_at,
                        out_at,
                        per_hour,
                    )
                )
        for key in set(self._samples) - seen:
            del self._samples[key]  # reset or gone: its old window's samples are no use
        return found
