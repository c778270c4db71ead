"""Heartbeats and the refresh backlog (issues 8 and 13), on SQLite and PostgreSQL."""

from __future__ import annotations

from storage import health


def beat_row(clock, daemon_id="host:1", interval=30.0):
    return health.HeartbeatRow(daemon_id, "host", 1, clock(), clock(), interval, None)


def test_a_daemon_is_running_until_it_misses_two_beats(engine, clock):
    assert health.daemon_status(engine, clock()) == health.DaemonStatus(False, None, [])
    health.beat(engine, beat_row(clock))
    last_beat = clock()
    clock.advance(seconds=60)
    assert health.daemon_status(engine, clock()).is_running
    clock.advance(seconds=1)
    status = health.daemon_status(engine, clock())
    assert (status.is_running, status.since) == (False, last_beat)


def test_a_new_beat_revives_the_row_and_a_clean_stop_ends_it(engine, clock):
    health.beat(engine, beat_row(clock))
    clock.advance(seconds=25)
    health.beat(engine, beat_row(clock))
    assert len(health.heartbeats(engine)) == 1
    stopped_at = clock.advance(seconds=5)
    health.mark_stopped(engine, "host:1", stopped_at)
    status = health.daemon_status(engine, clock())
    assert (status.is_running, status.since) == (False, stopped_at)


def test_one_live_daemon_among_dead_ones_is_enough(engine, clock):
    health.beat(engine, beat_row(clock, "dead:1"))
    clock.advance(seconds=600)
    health.beat(engine, beat_row(clock, "alive:2"))
    assert health.daemon_status(engine, clock()).is_running


def test_database_check_says_ok_for_a_current_schema(engine):
    assert health.check_database(engine) == "ok"
