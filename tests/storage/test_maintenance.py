"""Retention and partitions (issue 7): collector runs and old history expire; PostgreSQL keeps
observations in monthly partitions made ahead of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from collectors.base import Observation, PostRef, RunReport
from storage import partitions, read
from storage.maintenance import Retention, expire_observations, maintain, prune_collector_runs
from storage.models import CollectorRun
from storage.models import Observation as ObservationRow
from storage.write import VideoInput

JAN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_old_collector_runs_go_but_each_collectors_last_ones_stay(sink, engine):
    for day in range(0, 200, 10):
        at = JAN + timedelta(days=day)
        sink.record_run(RunReport("reddit", "discover", at, at, status="ok"))
    sink.record_run(RunReport("bluesky", "refresh", JAN, JAN, status="failed"))
    now = JAN + timedelta(days=200)
    deleted = prune_collector_runs(engine, now - timedelta(days=90))
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(CollectorRun.started_at)).scalars())
    assert deleted == 11  # reddit runs of days 0..100
    assert kept[0] == JAN  # bluesky's only run, the newest of its kind, however old
    assert kept[1:] == [JAN + timedelta(days=d) for d in range(110, 200, 10)]
    assert {(r.collector, r.status) for r in read.latest_runs(engine)} == {
        ("reddit", "ok"),
        ("bluesky", "failed"),
    }


def test_expired_history_goes_and_the_next_reading_starts_a_new_row(sink, engine):
    sink.add_video(VideoInput("clip", "The clip"))
    sink.record_posts("clip", [PostRef("x", "old"), PostRef("x", "busy")])
    for month in range(3):
        at = JAN + timedelta(days=31 * month)
        sink.record_observations(
            [Observation("x", "old", at, views=5), Observation("x", "busy", at, views=month)]
        )
    cutoff = datetime(2026, 3, 1, tzinfo=UTC)
    deleted, dropped = expire_observations(engine, cutoff)
    if engine.dialect.name == "postgresql":
        assert dropped == ("observations_p202601", "observations_p202602")
    else:
        assert deleted == 3  # old: its one row (Jan); busy: Jan and Feb
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ObservationRow.observed_at, ObservationRow.views, ObservationRow.confirmed_until
            ).order_by(ObservationRow.post_id)
        ).all()
    # old: read unchanged from January into March, carried over to the boundary; busy: March.
    march = JAN + timedelta(days=62)
    assert [tuple(r) for r in rows] == [(cutoff, 5, march), (march, 2, None)]
    at = march + timedelta(days=1)
    assert sink.record_observations([Observation("x", "old", at, views=5)]) == 1
    old = read.find_post(engine, "x", "old")
    points = read.post_observations(engine, old.id)
    assert [(p.observed_at, p.views) for p in points] == [(cutoff, 5), (at, 5)]  # confirmed again


def test_maintenance_makes_partitions_ahead_on_postgresql(engine):
    now = datetime(2027, 11, 20, tzinfo=UTC)
    report = maintain(engine, Retention(partitions_ahead_months=2), now)
    assert report.collector_runs_deleted == 0
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        names = partitions.existing_partitions(conn)
        assert {"observations_p202711", "observations_p202712", "observations_p202801"} <= names
        bounds = conn.execute(
            text(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                "WHERE c.relname = 'observations_p202801'"
            )
        ).scalar()
    assert "2028-01-01" in bounds and "2028-02-01" in bounds
