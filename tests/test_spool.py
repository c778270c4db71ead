"""Database outages end in recovery and leave a recorded gap (issue 13).

Outages are real: another SQLite connection holding BEGIN EXCLUSIVE, and a loopback TCP proxy
between us and PostgreSQL that the test cuts (tests/tcpproxy.py).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
from prometheus_client import generate_latest
from sqlalchemy.engine import make_url

from collectors.base import Observation, PostRef, RunReport
from collectors.hackernews import HackerNewsCollector, HackerNewsSettings
from collectors.runner import CollectorRunner
from dashboard.gaps import find_gaps
from dashboard.timegrid import Window
from storage import read
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from tests.helpers import write_sim_config
from tests.tcpproxy import TcpProxy
from viralwatch.spool import SpoolingSink


def failed_run(clock, collector="hackernews"):
    now = clock()
    return RunReport(collector, "refresh", now, now, status="failed", error_message="x")


def outage_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "viralwatch.spool"]


def test_sqlite_held_by_another_writer_keeps_writes_until_it_lets_go(tmp_path, clock, caplog):
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_ms=50)
    upgrade(engine)
    sink = SpoolingSink(engine, clock, max_items=100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    caplog.set_level(logging.INFO, "viralwatch.spool")
    for _ in range(3):
        sink.record_run(failed_run(clock))
        clock.advance(seconds=60)
    assert sink.pending_items == 3 and sink.outage_started_at is not None
    assert not sink.flush()
    holder.execute("COMMIT")
    holder.close()
    assert sink.flush()
    assert len(read.runs_between(engine, None, clock() + timedelta(days=1))) == 3
    lines = outage_lines(caplog)
    assert len(lines) == 2, lines  # one when it starts, one when it ends
    assert lines[0].startswith("database unavailable (database is locked)")
    assert lines[1].startswith("database back after")
    engine.dispose()


def test_the_oldest_kept_writes_go_first_when_the_bound_is_reached(tmp_path, clock):
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_ms=20)
    upgrade(engine)
    sink = SpoolingSink(engine, clock, max_items=2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    starts = []
    for _ in range(4):
        starts.append(clock())
        sink.record_run(failed_run(clock))
        clock.advance(seconds=60)
    holder.execute("COMMIT")
    holder.close()
    assert sink.flush()
    runs = read.runs_between(engine, None, clock() + timedelta(days=1))
    assert [r.started_at for r in runs] == starts[2:]
    engine.dispose()


@pytest.fixture
def proxied(db_url):
    """(proxy, engine through it) on the PostgreSQL variant; SQLite has no server to cut."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a network outage needs a database server")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    upgrade(engine)
    yield proxy, engine
    engine.dispose()
    proxy.close()


async def test_postgres_down_records_failed_runs_and_keeps_readings(
    proxied, sim, http_client, clock, sim_video, caplog
):
    proxy, engine = proxied
    sink = SpoolingSink(engine, clock, max_items=10_000)
    sink.add_video(VideoInput.of(sim_video, source="test"))
    collector = HackerNewsCollector(
        http_client, clock, HackerNewsSettings(base_url=sim.base_url("hackernews"))
    )
    runner = CollectorRunner(collector, sink, clock, http_client)
    assert (await runner.discover([sim_video])).status == "ok"
    caplog.set_level(logging.INFO)
    clock.advance(seconds=600)
    proxy.set_mode("down")
    outage_start = clock()
    down = await runner.refresh()
    assert down.status == "failed" and down.error_message.startswith("database unavailable")
    # Readings fetched just before the database went away are kept too.
    kept = Observation("hackernews", "kept-1", clock(), views=7)
    sink.record_posts(sim_video.slug, [PostRef("hackernews", "kept-1", "https://x/kept-1")])
    sink.record_observations([kept])
    clock.advance(seconds=600)
    proxy.set_mode("forward")
    back = await runner.refresh()
    assert back.status == "ok" and back.observations_written >= 2
    runs = read.runs_between(engine, None, clock() + timedelta(seconds=1))
    (gap,) = find_gaps(runs, Window("all", None, clock()))
    assert (gap.start, gap.end) == (outage_start, back.started_at)
    assert gap.message.startswith("database unavailable")
    assert read.find_post(engine, "hackernews", "kept-1").views == 7
    lines = outage_lines(caplog)
    assert len(lines) == 2 and lines[1].startswith("database back")
    # The platform was fine: the runner logged no failure of its own for a database outage.
    assert not [r for r in caplog.records if r.name == "viralwatch.runner" and r.levelno >= 30]


async def test_daemon_jobs_during_a_postgres_outage_are_recorded_as_failed_runs(
    proxied, sim, clock, sim_video, tmp_path, caplog
):
    """Issue 13: with PostgreSQL stopped, 0 of 12 collectors showed a gap (the job lock query
    failed before any run was recorded)."""
    from viralwatch import catalog, daemon

    proxy, engine = proxied
    config = write_sim_config(tmp_path / "c.toml", sim, "sqlite:///unused.db", ["hackernews"])
    settings = catalog.load_settings(config)
    d = daemon.Daemon(settings, StorageSink(engine, clock), clock)
    d.sink.add_video(VideoInput.of(sim_video, source="test"))
    d.wiring = daemon.wire(settings, d.sink, clock, metrics=d.metrics)
    (runner,) = d.wiring.runners
    caplog.set_level(logging.INFO)
    proxy.set_mode("down")
    await d._discover(runner)
    await d._refresh(runner)
    d.beat()  # no database: the beat goes missing, nothing raises
    proxy.set_mode("forward")
    d.beat()
    await daemon.close(d.wiring)
    runs = read.runs_between(engine, None, clock() + timedelta(seconds=1))
    assert [(r.kind, r.status) for r in runs] == [("discover", "failed"), ("refresh", "failed")]
    assert all(r.error_message.startswith("database") for r in runs)
    assert health_rows(engine) == [d.daemon_id]
    assert 'viralwatch_runs_total{collector="hackernews",kind="refresh",status="failed"} 1.0' in (
        generate_latest(d.metrics.registry).decode()
    )
    assert len(outage_lines(caplog)) == 2
    assert not [r for r in caplog.records if r.exc_info]  # no tracebacks


def health_rows(engine):
    from storage import health

    return [row.daemon_id for row in health.heartbeats(engine)]
