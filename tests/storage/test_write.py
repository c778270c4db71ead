"""The writer on real SQLite files and PostgreSQL schemas."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from collectors.base import Gone, Observation, PostRef, RunReport
from storage import read
from storage.models import Observation as ObservationRow
from storage.models import Post, Video5Min, VideoHourly
from storage.write import KeyTooLong, UnknownVideo, VideoExists, VideoInput


@pytest.fixture
def video(sink):
    sink.add_video(VideoInput("clip", "The clip", ("captured soldier",), ("tag",), ()))
    return "clip"


def obs(post_id, at, **counters):
    return Observation("mastodon", post_id, at, **counters)


def test_posts_are_unique_per_platform_and_id(sink, video, engine):
    assert sink.record_posts(video, [PostRef("mastodon", "1"), PostRef("mastodon", "1")]) == 1
    assert sink.record_posts(video, [PostRef("mastodon", "1"), PostRef("reddit", "1")]) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Post)).scalar() == 2


def test_observation_retry_is_idempotent(sink, video, engine, clock):
    sink.record_posts(video, [PostRef("mastodon", "1")])
    assert sink.record_observations([obs("1", clock(), likes=5)]) == 1
    assert sink.record_observations([obs("1", clock(), likes=5)]) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ObservationRow)).scalar() == 1


def test_hidden_counters_stay_null_not_zero(sink, video, engine, clock):
    sink.record_posts(video, [PostRef("mastodon", "1")])
    sink.record_observations([obs("1", clock(), likes=3)])
    (row,) = read.iter_observations(engine, read.PostFilter())
    assert row.likes == 3
    assert row.views is None and row.shares is None and row.comments is None


def test_latest_counters_and_hourly_rollup_follow_new_observations(sink, video, engine, clock):
    sink.record_posts(video, [PostRef("mastodon", "1"), PostRef("mastodon", "2")])
    t0 = clock()
    sink.record_observations([obs("1", t0, likes=10, shares=1), obs("2", t0, likes=4)])
    t1 = clock.advance(hours=1)
    sink.record_observations([obs("1", t1, likes=25, shares=3), obs("2", t1, likes=4)])
    # An older reading arriving late is stored but does not move the latest values back.
    sink.record_observations([obs("1", t0 + timedelta(minutes=30), likes=12)])
    posts = {p.platform_post_id: p for p in read.iter_posts(engine, read.PostFilter())}
    assert (posts["1"].likes, posts["1"].shares, posts["1"].latest_observed_at) == (25, 3, t1)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                VideoHourly.bucket_start, VideoHourly.likes_delta, VideoHourly.shares_delta
            ).order_by(VideoHourly.bucket_start)
        ).all()
    assert [(r[1], r[2]) for r in rows] == [(14, 1), (15, 2)]
    assert sum(r[1] for r in rows) == 25 + 4  # the running sum equals the current total


def test_cascade_child_joins_its_parents_video_and_orphans_are_skipped(sink, video, engine):
    sink.record_posts(video, [PostRef("reddit", "p")])
    child = PostRef(
        "reddit", "c", parent_platform="reddit", parent_platform_post_id="p", relation="crosspost"
    )
    orphan = PostRef("reddit", "o", parent_platform="reddit", parent_platform_post_id="zzz")
    assert sink.record_posts(None, [child, orphan]) == 1
    (stored,) = [p for p in read.iter_posts(engine, read.PostFilter()) if p.platform_post_id == "c"]
    assert (stored.video, stored.relation, stored.parent_platform_post_id) == (
        "clip",
        "crosspost",
        "p",
    )


def test_gone_posts_are_no_longer_refreshed(sink, video, clock):
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    assert sink.mark_gone([Gone("x", "1", clock())]) == 1
    assert sink.mark_gone([Gone("x", "1", clock())]) == 0
    assert [p.platform_post_id for p in sink.claim_refresh("x", 10)] == ["2"]


def test_refresh_skips_recently_observed_and_paused(sink, video, clock):
    sink.record_posts(video, [PostRef("x", "1"), PostRef("x", "2")])
    _, second = sink.claim_refresh("x", 10)
    sink.record_observations([Observation("x", "1", clock(), views=1)])
    sink.release_refresh([second])
    clock.advance(minutes=5)
    assert [p.platform_post_id for p in sink.claim_refresh("x", 10)] == ["2"]
    sink.set_video_paused(video, True)
    clock.advance(hours=1)
    assert sink.claim_refresh("x", 10) == []
    assert sink.active_videos() == []


def test_large_batches_stay_under_bind_parameter_limits(sink, video, engine, clock):
    refs = [PostRef("youtube", f"v{i}") for i in range(3000)]
    assert sink.record_posts(video, refs) == 3000
    written = sink.record_observations(
        [Observation("youtube", f"v{i}", clock(), views=i) for i in range(3000)]
    )
    assert written == 3000
    with engine.connect() as conn:
        total = conn.execute(select(func.sum(VideoHourly.views_delta))).scalar()
    assert total == sum(range(3000))


def test_video_add_twice_and_remove_unknown_are_clear_errors(sink, video):
    with pytest.raises(VideoExists):
        sink.add_video(VideoInput("clip", "again"))
    with pytest.raises(UnknownVideo):
        sink.remove_video("nope")
    with pytest.raises(UnknownVideo):
        sink.record_posts("nope", [PostRef("x", "1")])


def test_remove_video_deletes_its_posts_and_observations(sink, video, engine, clock):
    sink.record_posts(video, [PostRef("x", "1")])
    sink.record_observations([Observation("x", "1", clock(), views=1)])
    sink.remove_video(video)
    with engine.connect() as conn:
        for table in ("posts", "observations", "video_hourly", "video_5min", "tracked_videos"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_runs_are_recorded_and_latest_per_collector_and_kind_is_read_back(sink, engine, clock):
    sink.record_run(RunReport("x", "discover", clock(), clock(), status="failed"))
    sink.record_run(RunReport("x", "discover", clock(), clock(), status="ok"))
    sink.record_run(
        RunReport(
            "x",
            "refresh",
            clock(),
            clock(),
            status="rate_limited",
            error_message="x: rate limited",
            retry_at=clock.advance(minutes=5),
        )
    )
    discover, run = sorted(read.latest_runs(engine), key=lambda r: r.kind)
    assert (discover.kind, discover.status) == ("discover", "ok")
    assert (run.status, run.error_message, run.retry_at) == (
        "rate_limited",
        "x: rate limited",
        clock(),
    )


def test_five_minute_rollup_adds_up_to_the_hourly_one(sink, video, engine, clock):
    sink.record_posts(
        video, [PostRef("mastodon", "1"), PostRef("mastodon", "2"), PostRef("x", "3")]
    )
    t0 = clock()
    # Readings every 7 minutes for three hours, in batches of three; post 2 hides shares and
    # stops reporting likes halfway (NULL, not zero).
    batch = []
    for step in range(26):
        at = t0 + timedelta(minutes=7 * step, seconds=step)
        batch += [
            obs("1", at, likes=10 * step, shares=step),
            obs("2", at, likes=3 * step if step < 13 else None),
            Observation("x", "3", at, views=100 * step * step, quotes=step // 2),
        ]
        if step % 3 == 2:
            sink.record_observations(batch)
            batch = []
    sink.record_observations(batch)
    # A late reading older than the latest is stored but moves neither rollup.
    sink.record_observations([obs("1", t0 + timedelta(minutes=20), likes=999)])
    columns = ("views_delta", "likes_delta", "shares_delta", "quotes_delta", "observations")
    with engine.connect() as conn:
        hourly = {
            (r.platform, r.bucket_start): tuple(getattr(r, c) for c in columns)
            for r in conn.execute(select(VideoHourly))
        }
        fine = conn.execute(select(Video5Min).order_by(Video5Min.bucket_start)).all()
    summed: dict = {}
    for r in fine:
        assert r.bucket_start.minute % 5 == 0 and r.bucket_start.second == 0
        key = (r.platform, r.bucket_start.replace(minute=0))
        sums = summed.setdefault(key, [0] * len(columns))
        for i, c in enumerate(columns):
            sums[i] += getattr(r, c)
    assert {k: tuple(v) for k, v in summed.items()} == hourly
    assert len(fine) == 2 * 26  # one bucket per reading time, per platform
    first_x = next(r for r in fine if r.platform == "x" and r.views_delta)
    assert (first_x.bucket_start, first_x.views_delta) == (t0 + timedelta(minutes=5), 100)
    mastodon_likes = sum(r.likes_delta for r in fine if r.platform == "mastodon")
    assert mastodon_likes == 10 * 25 + 3 * 12  # each post's last non-null reading


def test_keys_of_2048_characters_are_stored_and_longer_ones_refused(sink, video, engine, clock):
    # Issue 7: URLs as keys broke PostgreSQL (String(255)) with a 500.
    url = "https://example.org/watch?v=" + "x" * (2048 - 28)
    assert len(url) == 2048
    child = PostRef("urls", "c" * 2048, parent_platform="urls", parent_platform_post_id=url)
    assert sink.record_posts(video, [PostRef("urls", url)]) == 1
    assert sink.record_posts(None, [child]) == 1
    assert sink.record_observations([Observation("urls", url, clock(), views=3)]) == 1
    stored = read.find_post(engine, "urls", url)
    assert stored is not None and stored.platform_post_id == url and stored.views == 3
    with pytest.raises(KeyTooLong, match="platform_post_id is 2049 characters"):
        sink.record_posts(video, [PostRef("urls", url + "y")])
    too_long_parent = PostRef(
        "urls", "d", parent_platform="urls", parent_platform_post_id="p" * 3000
    )
    with pytest.raises(ValueError, match="parent_platform_post_id"):
        sink.record_posts(None, [too_long_parent])


def test_unchanged_readings_add_no_rows_but_confirm_the_latest(sink, video, engine, clock):
    sink.record_posts(video, [PostRef("mastodon", "1")])
    t0 = clock()
    for minutes in (0, 10, 20):
        sink.record_observations([obs("1", t0 + timedelta(minutes=minutes), likes=5)])
    sink.record_observations([obs("1", t0 + timedelta(minutes=30), likes=4)])  # recounted down
    sink.record_observations([obs("1", t0 + timedelta(minutes=40), likes=4)])
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ObservationRow.observed_at, ObservationRow.likes, ObservationRow.confirmed_until
            ).order_by(ObservationRow.observed_at)
        ).all()
        likes_growth = conn.execute(select(func.sum(VideoHourly.likes_delta))).scalar()
    assert [tuple(r) for r in rows] == [
        (t0, 5, t0 + timedelta(minutes=20)),
        (t0 + timedelta(minutes=30), 4, t0 + timedelta(minutes=40)),
    ]
    assert likes_growth == 4
    post = read.find_post(engine, "mastodon", "1")
    assert post is not None and post.latest_observed_at == t0 + timedelta(minutes=40)
    # The series tells "read and unchanged until T" (a point at T) from "not read" (a gap).
    points = read.post_observations(engine, post.id)
    assert [(p.observed_at - t0, p.likes) for p in points] == [
        (timedelta(0), 5),
        (timedelta(minutes=20), 5),
        (timedelta(minutes=30), 4),
        (timedelta(minutes=40), 4),
    ]
    window = read.post_observations(engine, post.id, since=t0 + timedelta(minutes=15))
    assert [p.observed_at - t0 for p in window] == [timedelta(minutes=m) for m in (20, 30, 40)]
