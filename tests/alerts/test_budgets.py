"""The budget rule: a request budget projected to run out before its reset, from constructed
budget statuses (issue 12; the statuses come from issue 8's storage.budgets at merge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.budgets import BudgetWatch, runs_out_at
from alerts.measures import Measures
from alerts.service import build_alert_service
from tests.alerts.conftest import alerts_settings, rule

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Status:
    """The fields of storage.budgets.BudgetStatus, constructed."""

    collector: str
    budget: str
    limit: int
    spent: int
    resets_at: datetime | None


def test_spending_faster_than_the_reset_allows_is_projected():
    samples = [(NOW - timedelta(hours=1), 1000), (NOW, 1100)]  # 100 an hour, 500 left
    out_at, per_hour = runs_out_at(samples, 1600, NOW + timedelta(hours=10), NOW)
    assert out_at == NOW + timedelta(hours=5) and per_hour == 100
    assert runs_out_at(samples, 1600, NOW + timedelta(hours=4), NOW) is None  # resets first


def test_a_spent_budget_is_reported_at_once_and_no_reset_time_never():
    spent = [(NOW, 1600)]
    assert runs_out_at(spent, 1600, NOW + timedelta(hours=3), NOW) == (NOW, None)
    assert runs_out_at(spent, 1600, None, NOW) is None
    assert runs_out_at([(NOW, 10)], 1600, NOW + timedelta(hours=3), NOW) is None  # no rate yet
    flat = [(NOW - timedelta(hours=1), 10), (NOW, 10)]
    assert runs_out_at(flat, 1600, NOW + timedelta(hours=3), NOW) is None


@given(
    limit=st.integers(1, 10**6),
    first=st.integers(0, 10**6),
    grown=st.integers(0, 10**6),
    minutes=st.integers(1, 24 * 60),
    reset_minutes=st.integers(1, 7 * 24 * 60),
)
def test_a_projection_is_before_the_reset_and_lands_on_the_limit(
    limit, first, grown, minutes, reset_minutes
):
    samples = [(NOW - timedelta(minutes=minutes), first), (NOW, first + grown)]
    resets_at = NOW + timedelta(minutes=reset_minutes)
    found = runs_out_at(samples, limit, resets_at, NOW)
    spent = first + grown
    if spent >= limit:
        assert found == (NOW, None)
        return
    per_hour = grown / (minutes / 60)
    at_reset = spent + per_hour * reset_minutes / 60
    if found is None:
        assert at_reset <= limit * (1 + 1e-9)
    else:
        out_at, rate = found
        assert out_at < resets_at and rate == per_hour
        hours = (out_at - NOW).total_seconds() / 3600
        assert abs(spent + rate * hours - limit) <= max(1e-6 * limit, rate * 1e-5)


def test_the_budget_rule_alerts_once_per_budget_window(engine, clock, receiver):
    clock.now = NOW
    reset = NOW + timedelta(hours=6)
    spent = {"now": 0}
    window = {"resets_at": reset}

    def statuses(engine, now):
        return [
            Status("youtube", "units/day", 10_000, spent["now"], window["resets_at"]),
            Status("reddit", "requests/10min", 600, 5, now + timedelta(minutes=5)),
        ]

    budget = rule("budget", "budget", window_minutes=30, cooldown_minutes=0)
    service = build_alert_service(
        engine,
        alerts_settings(receiver, budget),
        clock,
        measures=Measures(budgets=BudgetWatch(statuses)),
        sleep=lambda s: None,
    )
    fired = []
    for _ in range(4):  # 1,000 units per 10 minutes: out in under 2 hours, reset in 6
        fired.append(service.run_once())
        clock.advance(minutes=10)
        spent["now"] += 1000
    assert fired == [0, 1, 0, 0]
    window["resets_at"] = reset + timedelta(days=1)  # a new day: the count starts again
    spent["now"] = 0
    clock.advance(minutes=10)
    fired = []
    for _ in range(3):
        fired.append(service.run_once())
        clock.advance(minutes=10)
        spent["now"] += 10  # slow: lasts the day
    assert fired == [0, 0, 0]
    (body,) = receiver.bodies()
    assert "a request budget will run out before it resets" in body
    assert "youtube units/day — spent 1,000, limit 10,000, per hour 6,000" in body
    assert "runs out about 2026-03-01 13:40 UTC, resets 2026-03-01 18:00 UTC" in body
    assert "reddit" not in body
