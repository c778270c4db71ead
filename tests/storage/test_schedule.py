"""Each post's stored refresh schedule and its leases (issue 8), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from collectors.base import Gone, Observation, PostError, PostRef
from storage.schedule import PostSchedule, SchedulePolicy, Scheduling, due_counts
from storage.write import StorageSink, VideoInput

POLICY = SchedulePolicy(min_interval_seconds=600, max_interval_seconds=86_400)


@pytest.fixture
def video(sink):
    sink.add_video(VideoInput("clip", "The clip", ("captured soldier",), (), ()))
    return "clip"


def ids(posts):
    return [p.platform_post_id for p in posts]


def read_all(sink, clock, counts):
    """Read every claimable post of 'x' now, with `counts[post_id]` views."""
    posts = sink.claim_refresh("x", 1000)
    sink.record_observations(
        [
            Observation("x", p.platform_post_id, clock(), views=counts[p.platform_post_id])
            for p in posts
        ]
    )
    return ids(posts)


@given(
    age_hours=st.floats(0, 24 * 400),
    growth=st.floats(0, 10),
    previous=st.integers(0, 10**7),
    moved=st.booleans(),
)
def test_the_interval_always_lies_between_the_fastest_and_daily(age_hours, growth, previous, moved):
    seconds = POLICY.next_interval(timedelta(hours=age_hours), growth, previous, moved)
    assert 600 <= seconds <= 86_400
    if growth >= POLICY.fast_growth_per_hour or age_hours <= POLICY.young_hours:
        assert seconds == 600


@given(ages=st.lists(st.floats(0, 24 * 60), min_size=2, max_size=2))
def test_older_posts_that_keep_moving_are_never_read_more_often(ages):
    young, old = sorted(ages)
    assert POLICY.next_interval(timedelta(hours=young), 0.01, 600, True) <= POLICY.next_interval(
        timedelta(hours=old), 0.01, 600, True
    )


def test_a_post_grows_slower_with_age_down_to_daily():
    assert POLICY.next_interval(timedelta(hours=1), 0.0, 600, True) == 600
    assert POLICY.next_interval(timedelta(hours=30), 0.0, 600, True) == 600 * 4
    assert POLICY.next_interval(timedelta(days=30), 0.0, 600, True) == 86_400
    # A still post backs off even while young enough to be read at the age rate.
    assert POLICY.next_interval(timedelta(hours=18), 0.0, 1200, False) == 2400


def test_new_posts_are_due_at_once_and_then_after_their_interval(sink, video, clock):
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    assert read_all(sink, clock, {"1": 10, "2": 10}) == ["1", "2"]
    clock.advance(seconds=599)
    assert sink.claim_refresh("x", 10) == []
    clock.advance(seconds=1)
    assert ids(sink.claim_refresh("x", 10)) == ["1", "2"]


def test_gone_posts_and_reshare_edges_are_never_refreshed(sink, video, clock):
    reshare = PostRef(
        "x", "r", parent_platform="x", parent_platform_post_id="1", relation="reshare"
    )
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    sink.record_posts(None, [reshare])
    sink.mark_gone([Gone("x", "2", clock())])
    assert ids(sink.claim_refresh("x", 10)) == ["1"]
    clock.advance(days=3)
    assert ids(sink.claim_refresh("x", 10)) == ["1"]  # its lease has expired: due again


def test_the_most_moving_posts_are_read_first_when_a_pass_is_bounded(sink, video, clock):
    sink.record_posts(video, [PostRef("x", str(i)) for i in range(4)])
    read_all(sink, clock, {"0": 100, "1": 100, "2": 100, "3": 100})
    clock.advance(minutes=10)
    read_all(sink, clock, {"0": 100, "1": 5000, "2": 101, "3": 900})
    sink.record_posts(video, [PostRef("x", "new")])
    clock.advance(minutes=10)
    # Never read first, then by growth per hour.
    assert ids(sink.claim_refresh("x", 3)) == ["new", "1", "3"]


def test_a_claimed_post_is_not_claimed_again_until_read_or_its_lease_expires(
    engine, sink, video, clock
):
    other = StorageSink(engine, clock)
    other.scheduling = Scheduling(owner="other", lease_seconds=900)
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    assert ids(sink.claim_refresh("x", 1)) == ["1"]
    assert ids(other.claim_refresh("x", 10)) == ["2"]
    assert other.claim_refresh("x", 10) == []
    clock.advance(seconds=601)  # the first daemon died: its lease has expired
    assert ids(other.claim_refresh("x", 10)) == ["1"]


def test_a_released_post_stays_due_and_a_failed_one_backs_off(sink, video, clock):
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    posts = sink.claim_refresh("x", 10)
    sink.release_refresh(posts[:1])
    sink.record_errors([PostError("x", "2", clock(), "HTTP 400")])
    assert ids(sink.claim_refresh("x", 10)) == ["1"]
    clock.advance(seconds=600)
    assert ids(sink.claim_refresh("x", 10)) == ["2"]  # retried after one interval
    sink.record_errors([PostError("x", "2", clock(), "HTTP 400")])
    clock.advance(seconds=600)
    assert "2" not in ids(sink.claim_refresh("x", 10))  # then after two
    clock.advance(seconds=600)
    assert "2" in ids(sink.claim_refresh("x", 10))


def test_the_schedule_survives_a_restart(engine, sink, video, clock):
    sink.record_posts(video, [PostRef("x", "1")])
    read_all(sink, clock, {"1": 1})
    clock.advance(hours=30)
    read_all(sink, clock, {"1": 1})
    with engine.connect() as conn:
        stored = conn.execute(select(PostSchedule.interval_seconds)).scalar_one()
    restarted = StorageSink(engine, clock)
    clock.advance(seconds=stored - 1)
    assert restarted.claim_refresh("x", 10) == []
    clock.advance(seconds=1)
    assert ids(restarted.claim_refresh("x", 10)) == ["1"]


def test_due_counts_show_waiting_and_overdue_posts(engine, sink, video, clock):
    start = clock()
    sink.record_posts(video, [PostRef("x", str(i)) for i in range(3)])
    read_all(sink, clock, {"0": 1, "1": 1, "2": 1})
    clock.advance(seconds=600 + 700)
    (stats,) = due_counts(engine, clock(), sink.scheduling)
    assert (stats.platform, stats.due, stats.overdue) == ("x", 3, 3)
    assert stats.oldest_lag_seconds == (clock() - start).total_seconds() - 600


def test_daemons_claiming_at_once_never_share_a_post(engine, db_url, sink, video, clock):
    if not db_url.startswith("postgresql"):
        pytest.skip("one daemon per SQLite file: the flock refuses a second")
    sink.record_posts(video, [PostRef("x", str(i)) for i in range(400)])
    claimed: list[list[str]] = []

    def claim(owner: str) -> None:
        daemon = StorageSink(engine, clock)
        daemon.scheduling = Scheduling(owner=owner)
        got: list[str] = []
        while batch := daemon.claim_refresh("x", 7):
            got += ids(batch)
        claimed.append(got)

    threads = [threading.Thread(target=claim, args=(f"d{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [post for got in claimed for post in got]
    assert sorted(every) == sorted(str(i) for i in range(400))
