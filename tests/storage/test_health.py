"""Heartbeats and the refresh backlog (issues 8 and 13), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from collectors.base import Observation, PostRef
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


def test_due_stats_count_due_and_overdue_posts_and_the_oldest_lag(
    engine, sink, clock, tracked_sim_video
):
    start = clock()
    refs = [
        PostRef(platform="hackernews", platform_post_id=str(i), url=f"https://x/{i}")
        for i in range(3)
    ]
    sink.record_posts(tracked_sim_video.slug, refs)
    clock.advance(seconds=100)
    sink.record_observations(
        [Observation(platform="hackernews", platform_post_id="0", observed_at=clock(), views=1)]
    )
    clock.advance(seconds=150)  # posts 1 and 2 unread for 250 s, post 0 read 150 s ago
    (stats,) = health.due_stats(engine, clock(), {"hackernews": 120})
    assert (stats.due, stats.overdue) == (3, 2)
    assert stats.oldest_lag_seconds == (clock() - start - timedelta(seconds=120)).total_seconds()
