"""The daemon's heartbeat interval follows its data clock, and a stall never stretches it
(issue 13: a stuck daemon must show within two intervals)."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import health
from storage.db import make_engine, upgrade
from storage.write import StorageSink
from tests.conftest import FakeClock
from viralwatch import catalog, daemon


def test_heartbeat_interval_scales_with_a_fast_clock_but_not_with_a_stall(tmp_path):
    url = f"sqlite:///{tmp_path / 'beat.db'}"
    engine = make_engine(url)
    upgrade(engine)
    data, wall = FakeClock(), FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    settings = catalog.load_settings(None, storage={"url": url}, daemon={"heartbeat_seconds": 30})
    d = daemon.Daemon(settings, StorageSink(engine, data), data, schedule_clock=wall)

    def interval():
        d.beat()
        (row,) = health.heartbeats(engine)
        return row.interval_seconds

    assert interval() == 30
    data.advance(seconds=30 * 120)  # a demo at 120x: one wall interval is an hour of data
    wall.advance(seconds=30)
    assert interval() == 30 * 120
    data.advance(seconds=3600)  # stuck for an hour in real time too
    wall.advance(seconds=3600)
    assert interval() == 30
    engine.dispose()
