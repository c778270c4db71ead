"""Budgets kept in the database (issue 8): never exceeded, not reset by a restart."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.base import Quota
from storage import budgets
from storage.budgets import BudgetStatus, budget_statuses
from storage.db import make_engine

PER_MINUTE = Quota(10, timedelta(minutes=1), "requests")
SEARCH = Quota(100, timedelta(days=1), "search.list calls", reset_timezone="America/Los_Angeles")


def test_a_window_never_grants_more_than_its_limit_and_a_new_window_starts_afresh(engine, clock):
    assert budgets.reserve(engine, "reddit", PER_MINUTE, clock(), 7) == 7
    assert budgets.reserve(engine, "reddit", PER_MINUTE, clock(), 7) == 3
    assert budgets.reserve(engine, "reddit", PER_MINUTE, clock(), 1) == 0
    clock.advance(minutes=1)
    assert budgets.reserve(engine, "reddit", PER_MINUTE, clock(), 4) == 4


def test_a_daily_bucket_resets_at_midnight_in_its_time_zone(engine):
    before = datetime(2026, 3, 2, 7, 59, tzinfo=UTC)  # 23:59 in Los Angeles (PST)
    assert budgets.reserve(engine, "youtube", SEARCH, before, 100) == 100
    assert (
        budgets.reserve(
            engine, "youtube", SEARCH, before + timedelta(minutes=1) - timedelta(seconds=1), 1
        )
        == 0
    )
    assert budgets.reserve(engine, "youtube", SEARCH, before + timedelta(minutes=1), 1) == 1
    (status,) = budget_statuses(engine, before + timedelta(minutes=1))
    assert status == BudgetStatus(
        "youtube", "search.list calls", 100, 1, datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    )


def test_spend_survives_a_restart_and_an_ended_window_shows_nothing_spent(engine, db_url, clock):
    budgets.reserve(engine, "youtube", SEARCH, clock(), 60)
    engine.dispose()
    restarted = make_engine(db_url)
    assert budgets.reserve(restarted, "youtube", SEARCH, clock(), 60) == 40
    budgets.refund(restarted, "youtube", SEARCH, budgets.window(SEARCH, clock())[0], 5)
    assert [s.spent for s in budget_statuses(restarted, clock())] == [95]
    assert budget_statuses(restarted, clock() + timedelta(days=2))[0].spent == 0
    restarted.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 6), st.integers(0, 130)), max_size=25)
)
def test_reserves_and_refunds_never_take_a_window_past_its_limit(engine, steps):
    start = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=len(steps) * 3)  # fresh windows
    held: dict[datetime, int] = {}
    for is_refund, amount, seconds in steps:
        now = start + timedelta(seconds=seconds)
        window = budgets.window(PER_MINUTE, now)[0]
        if is_refund:
            back = min(amount, held.get(window, 0))
            budgets.refund(engine, "x", PER_MINUTE, window, back)
            held[window] = held.get(window, 0) - back
        else:
            held[window] = held.get(window, 0) + budgets.reserve(
                engine, "x", PER_MINUTE, now, amount
            )
        assert 0 <= held[window] <= PER_MINUTE.requests


def test_daemons_reserving_at_once_never_exceed_a_budget(engine, db_url, clock):
    if not db_url.startswith("postgresql"):
        pytest.skip("one daemon per SQLite file")
    quota = Quota(300, timedelta(minutes=5), "requests")
    granted: list[int] = []

    def spend() -> None:
        got = 0
        while step := budgets.reserve(engine, "mastodon", quota, clock(), 3):
            got += step
        granted.append(got)

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 300
