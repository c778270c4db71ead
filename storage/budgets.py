"""Budgets spent per collector and window, kept in the database (issue 8).

A collector declares its platform's documented quotas (`collectors.base.Quota`). Every request
it makes first takes its cost from each quota it falls under, through `reserve`, which grants
only what is left in the current window: a quota is never exceeded, by one daemon or several,
and a restart finds what was already spent (YouTube's search bucket stays spent until midnight
Pacific). Each row carries its limit and reset time, so `budget_statuses` needs no registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Integer, String, and_, case, func, select, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from collectors.base import Quota
from storage.db import conflict_insert, write_transaction
from storage.models import Base

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BudgetSpend(Base):
    __tablename__ = "budget_spend"

    collector: Mapped[str] = mapped_column(String(32), primary_key=True)
    budget: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    spent: Mapped[int] = mapped_column(Integer)
    budget_limit: Mapped[int] = mapped_column(Integer)
    resets_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget now: `spent` of `limit` in the window that ends at `resets_at` (None: nothing
    spent in the current window)."""

    collector: str
    budget: str
    limit: int
    spent: int
    resets_at: datetime | None


def window(quota: Quota, now: datetime) -> tuple[datetime, datetime]:
    """The fixed window of `quota` holding `now`: whole days from midnight in the quota's time
    zone, shorter windows counted from the Unix epoch."""
    day = timedelta(days=1)
    if quota.per >= day and quota.per % day == timedelta(0):
        zone = ZoneInfo(quota.reset_timezone)
        local = now.astimezone(zone)
        # Midnight local to local midnight: a Pacific day is 23 or 25 hours when clocks change.
        start = datetime.combine(local.date(), time(0), tzinfo=zone)
        end = datetime.combine(local.date() + quota.per // day * day, time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)
    # Epoch-aligned, so every daemon computes the same window start without talking.
    elapsed = (now - EPOCH) // quota.per
    start = EPOCH + elapsed * quota.per
    return start, start + quota.per


def budget_name(quota: Quota) -> str:
    # The description is the key (the budget column is 80 characters): renaming a quota's
    # `what` starts a fresh budget.
    return quota.what[:80]


def reserve(engine: Engine, collector: str, quota: Quota, now: datetime, amount: int) -> int:
    """Take up to `amount` units of `quota` in the window holding `now`; returns how many were
    granted (less than asked when the window is nearly spent, 0 when it is spent)."""
    start, end = window(quota, now)
    key = {"collector": collector, "budget": budget_name(quota), "window_start": start}
    with write_transaction(engine) as conn:
        # Create-if-missing first: SELECT ... FOR UPDATE cannot lock a row that does not exist.
        fresh = {**key, "spent": 0, "budget_limit": quota.requests, "resets_at": end}
        conn.execute(conflict_insert(conn, BudgetSpend).values(fresh).on_conflict_do_nothing())
        row = _row(key)
        # Locked until commit, so daemons sharing a database take turns on one budget.
        spent = conn.execute(select(BudgetSpend.spent).where(row).with_for_update()).scalar_one()
        granted = max(0, min(amount, quota.requests - spent))
        if granted:
            conn.execute(update(BudgetSpend).where(row).values(spent=BudgetSpend.spent + granted))
    return granted


def spend_at_least(engine: Engine, collector: str, quota: Quota, now: datetime, spent: int) -> None:
    """What the platform says is left (its rate-limit headers) is the truth: record at least
    `spent` in the window holding `now`, never less than already counted."""
    start, end = window(quota, now)
    key = {"collector": collector, "budget": budget_name(quota), "window_start": start}
    # Headers may report more than the declared quota (a shared IP): never store past the limit.
    spent = min(spent, quota.requests)
    with write_transaction(engine) as conn:
        fresh = {**key, "spent": spent, "budget_limit": quota.requests, "resets_at": end}
        conn.execute(conflict_insert(conn, BudgetSpend).values(fresh).on_conflict_do_nothing())
        conn.execute(
            update(BudgetSpend).where(_row(key), BudgetSpend.spent < spent).values(spent=spent)
        )


def refund(
    engine: Engine, collector: str, quota: Quota, window_start: datetime, amount: int
) -> None:
    """Give back reserved units that were not used (never below zero)."""
    if amount <= 0:
        return
    # The window the units were reserved in, even when a new one has begun since.
    key = {"collector": collector, "budget": budget_name(quota), "window_start": window_start}
    with write_transaction(engine) as conn:
        conn.execute(
            update(BudgetSpend)
            .where(_row(key))
            .values(spent=case((BudgetSpend.spent > amount, BudgetSpend.spent - amount), else_=0))
        )


def _row(key: dict[str, Any]) -> ColumnElement[bool]:
    return and_(
        BudgetSpend.collector == key["collector"],
        BudgetSpend.budget == key["budget"],
        BudgetSpend.window_start == key["window_start"],
    )


def budget_statuses(engine: Engine, now: datetime) -> list[BudgetStatus]:
    """Every budget ever spent, as it stands at `now`: the current window's spend, or 0 (and
    no reset time) when its last window has ended."""
    newest = (
        select(
            BudgetSpend.collector,
            BudgetSpend.budget,
            func.max(BudgetSpend.window_start).label("window_start"),
        )
        .group_by(BudgetSpend.collector, BudgetSpend.budget)
        .subquery()
    )
    query = (
        select(
            BudgetSpend.collector,
            BudgetSpend.budget,
            BudgetSpend.budget_limit,
            BudgetSpend.spent,
            BudgetSpend.window_start,
            BudgetSpend.resets_at,
        )
        .join(
            newest,
            and_(
                newest.c.collector == BudgetSpend.collector,
                newest.c.budget == BudgetSpend.budget,
                newest.c.window_start == BudgetSpend.window_start,
            ),
        )
        .order_by(BudgetSpend.collector, BudgetSpend.budget)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    statuses = []
    for collector, budget, limit, spent, start, resets_at in rows:
        current = start <= now < resets_at
        statuses.append(
            BudgetStatus(
                collector, budget, limit, spent if current else 0, resets_at if current else None
            )
        )
    return statuses
