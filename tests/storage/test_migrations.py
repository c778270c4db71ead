"""Schema migrations with data in them, on real SQLite files and PostgreSQL schemas."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError

from collectors.base import Observation, PostRef
from storage import partitions, read
from storage.db import make_engine, upgrade
from storage.models import Observation as ObservationRow
from storage.models import Post, PostVideo, TrackedVideo, UTCDateTime, Video5Min, VideoHourly
from storage.write import StorageSink, VideoInput
from tests.conftest import FakeClock
from tests.helpers import postgres_schema_url

COLUMNS = (
    "views_delta",
    "likes_delta",
    "shares_delta",
    "comments_delta",
    "quotes_delta",
    "observations",
)
# Migration 0060: the first readings in each bucket, backfilled as the writer counts them.
BASELINES = tuple(f"{c}_baseline" for c in ("views", "likes", "shares", "comments", "quotes"))


@pytest.fixture
def live_engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A second empty database on the same backend as `db_url`, at the newest schema."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'live.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    for url in postgres_schema_url(os.environ["VIRALWATCH_TEST_POSTGRES_URL"], "t"):
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def _batches(clock: FakeClock) -> list[list[Observation]]:
    """Batches as collectors hand them over: readings every 4 to 9 minutes for five hours, a
    hidden counter, one that goes missing, and a late reading older than its post's latest."""
    start = clock()
    batches = []
    for step in range(40):
        at = start + timedelta(minutes=4 * step + step % 5, seconds=step * 7)
        batches.append(
            [
                Observation("youtube", "a", at, views=50 * step**2, likes=step * 3, comments=step),
                Observation("youtube", "b", at, views=20 * step, likes=step if step < 20 else None),
                Observation("reddit", "c", at, likes=5 * step, comments=2 * step),
                Observation("x", "d", at, views=7 * step, quotes=step // 3),
            ]
        )
    batches.append([Observation("youtube", "a", start + timedelta(minutes=33), views=1)])
    return batches


def _add_posts_live(sink: StorageSink) -> None:
    sink.add_video(VideoInput("clip", "The clip", ("clip",)))
    sink.record_posts(
        "clip",
        [
            PostRef("youtube", "a"),
            PostRef("youtube", "b"),
            PostRef("reddit", "c"),
            PostRef("x", "d"),
        ],
    )


# `posts` as revisions before 0070 have it (a post belonged to one video).
OLD_POSTS = sa.table(
    "posts",
    *(sa.column(name) for name in ("id", "video_id", "platform", "platform_post_id")),
    sa.column("first_seen_at", UTCDateTime()),
    sa.column("matched_by"),
    sa.column("is_gone"),
    sa.column("extra", sa.JSON()),
)


def _add_raw(engine: Engine, clock: FakeClock, batches: list[list[Observation]]) -> None:
    """The same videos, posts and observations in a 0002 database, without the writer: rows in
    the order the writer stores them (each batch sorted by time)."""
    with engine.begin() as conn:
        video_id = conn.execute(
            insert(TrackedVideo)
            .values(
                slug="clip",
                title="The clip",
                keywords=["clip"],
                hashtags=[],
                urls=[],
                created_at=clock(),
                is_paused=False,
                source="cli",
            )
            .returning(TrackedVideo.id)
        ).scalar_one()
        ids = {}
        for platform, key in (("youtube", "a"), ("youtube", "b"), ("reddit", "c"), ("x", "d")):
            ids[(platform, key)] = conn.execute(
                insert(OLD_POSTS)
                .values(
                    video_id=video_id,
                    platform=platform,
                    platform_post_id=key,
                    first_seen_at=clock(),
                    matched_by="",
                    is_gone=False,
                    extra={},
                )
                .returning(OLD_POSTS.c.id)
            ).scalar_one()
        for batch in batches:
            for o in sorted(batch, key=lambda o: o.observed_at):
                conn.execute(
                    insert(ObservationRow).values(
                        post_id=ids[(o.platform, o.platform_post_id)],
                        observed_at=o.observed_at,
                        views=o.views,
                        likes=o.likes,
                        shares=o.shares,
                        comments=o.comments,
                        quotes=o.quotes,
                    )
                )


def _rollup(
    engine: Engine, table: type[Video5Min] | type[VideoHourly], columns: tuple[str, ...] = COLUMNS
) -> dict:
    query = select(table.platform, table.bucket_start, *(getattr(table, c) for c in columns))
    with engine.connect() as conn:
        return {(r[0], r[1]): tuple(r[2:]) for r in conn.execute(query)}


def test_five_minute_backfill_matches_live_writing(
    db_url: str, live_engine: Engine, clock: FakeClock
) -> None:
    # From the second batch on: every post's first reading is then not zero (a baseline to sum).
    batches = _batches(clock)[1:]
    sink = StorageSink(live_engine, clock)
    _add_posts_live(sink)
    for batch in batches:
        sink.record_observations(batch)
    live = _rollup(live_engine, Video5Min, COLUMNS + BASELINES)
    assert len(live) > 80  # 3 platforms, readings 4 to 9 minutes apart
    assert any(sum(sums[len(COLUMNS) :]) for sums in live.values())

    migrated = make_engine(db_url)
    try:
        upgrade(migrated, "0002")
        _add_raw(migrated, clock, batches)
        upgrade(migrated)
        assert _rollup(migrated, Video5Min, COLUMNS + BASELINES) == live
        # The backfill only adds a table: the rows it was built from are untouched.
        with migrated.connect() as conn:
            assert (
                conn.execute(select(func.count()).select_from(ObservationRow)).scalar()
                == 4 * 39 + 1
            )
    finally:
        migrated.dispose()
    # And the live 5-minute buckets add up to the live hourly ones.
    summed: dict = {}
    for (platform, start), values in live.items():
        sums = summed.setdefault((platform, start.replace(minute=0)), [0] * len(values))
        for i, value in enumerate(values):
            sums[i] += value
    hourly = _rollup(live_engine, VideoHourly, COLUMNS + BASELINES)
    assert {k: tuple(v) for k, v in summed.items()} == hourly


def _schema(engine: Engine) -> dict:
    """Tables with their columns and indexes, and the Alembic version."""
    inspector = inspect(engine)
    tables = {
        name: (
            sorted(c["name"] for c in inspector.get_columns(name)),
            sorted(i["name"] or "" for i in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"tables": tables, "version": version}


def _set_latest_from_newest_rows(engine: Engine) -> None:
    """Latest counters as a 0003 writer leaves them (the raw rows bypassed it): the newest row's."""
    newest = (
        "(SELECT {c} FROM observations o WHERE o.post_id = posts.id "
        "ORDER BY o.observed_at DESC LIMIT 1)"
    )
    columns = ", ".join(
        f"latest_{c} = {newest.format(c=c)}"
        for c in ("views", "likes", "shares", "comments", "quotes")
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE posts SET latest_observed_at = {newest.format(c='observed_at')}, {columns}"
        )


def _fail_updates_of_posts(engine: Engine) -> None:
    """A trigger that makes any UPDATE of posts fail: 0004 dies midway, after it rebuilt
    observations and added a column, when it backfills posts.latest_row_at."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER no_updates BEFORE UPDATE ON posts "
                "BEGIN SELECT RAISE(ABORT, 'updates refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'updates refused'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER no_updates BEFORE UPDATE ON posts "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def _drop_trigger(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER no_updates")
        else:
            conn.exec_driver_sql("DROP TRIGGER no_updates ON posts")


def test_a_migration_failing_midway_changes_nothing_and_can_be_retried(
    db_url: str, clock: FakeClock
) -> None:
    # Issue 7: a failing backfill left SQLite half-migrated and the retry failed.
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0003")
        _add_raw(engine, clock, _batches(clock))
        _set_latest_from_newest_rows(engine)
        before = _schema(engine)
        _fail_updates_of_posts(engine)
        with pytest.raises(DBAPIError, match="updates refused"):
            upgrade(engine)
        assert _schema(engine) == before
        _drop_trigger(engine)
        upgrade(engine)
        after = _schema(engine)
        assert (
            after["version"] != "0003" and "confirmed_until" in after["tables"]["observations"][0]
        )
    finally:
        engine.dispose()


def test_upgrading_a_0003_database_keeps_every_reading_and_total(
    db_url: str, clock: FakeClock
) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        batches = _batches(clock)
        _add_raw(engine, clock, batches)
        upgrade(engine, "0003")
        _set_latest_from_newest_rows(engine)
        raw = sa.table(
            "observations",
            *(sa.column(c) for c in ("post_id", "observed_at", "views", "likes", "comments")),
        )
        query = select(raw).order_by(raw.c.post_id, raw.c.observed_at)
        with engine.connect() as conn:
            readings = [tuple(r) for r in conn.execute(query)]
            hourly = _rollup(engine, VideoHourly)
            fine = _rollup(engine, Video5Min)
        upgrade(engine)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(query)] == readings
            assert len(readings) == 4 * 40 + 1
            latest = conn.execute(select(Post.latest_row_at, Post.latest_observed_at)).all()
        assert _rollup(engine, VideoHourly) == hourly and _rollup(engine, Video5Min) == fine
        # Each post's newest row holds its latest counters, so it is the row readings confirm.
        assert all(row_at == latest_at and row_at is not None for row_at, latest_at in latest)
        # The writer carries on from the migrated state.
        sink = StorageSink(engine, clock)
        at = clock.advance(days=1)
        assert sink.record_observations([Observation("youtube", "a", at, views=9)]) == 1
        with engine.connect() as conn:
            assert (
                conn.execute(select(Post.latest_views).where(Post.platform_post_id == "a")).scalar()
                == 9
            )
    finally:
        engine.dispose()


def _add_raw_partitioned(engine: Engine, clock: FakeClock) -> None:
    """_add_raw on a schema whose observations are partitioned on PostgreSQL (0004 on)."""
    batches = _batches(clock)
    with engine.begin() as conn:
        partitions.ensure_partitions(conn, {o.observed_at for b in batches for o in b})
    _add_raw(engine, clock, batches)


def _posts_by_old_schema(engine: Engine, clock: FakeClock) -> dict[str, tuple[str, str]]:
    """A second video and reasons as a 0040 writer stored them (one video per post, the reason
    in posts.matched_by); returns each post's expected (video slug, reason)."""
    reasons = {"a": "url:https://youtu.be/abc", "b": "keyword:clip", "c": "manual", "d": ""}
    with engine.begin() as conn:
        for key, reason in reasons.items():
            conn.execute(
                OLD_POSTS.update()
                .where(OLD_POSTS.c.platform_post_id == key)
                .values(matched_by=reason)
            )
        other = conn.execute(
            insert(TrackedVideo)
            .values(slug="other", title="Other", keywords=["x"], hashtags=[], urls=[])
            .values(created_at=clock(), is_paused=False, source="cli")
            .returning(TrackedVideo.id)
        ).scalar_one()
        conn.execute(
            insert(OLD_POSTS).values(
                video_id=other,
                platform="bluesky",
                platform_post_id="e",
                first_seen_at=clock(),
                matched_by="hashtag:#kyiv",
                is_gone=False,
                extra={},
            )
        )
    return {
        "a": ("clip", "url", "https://youtu.be/abc"),
        "b": ("clip", "keyword", "clip"),
        "c": ("clip", "manual", ""),
        "d": ("clip", "", ""),
        "e": ("other", "hashtag", "#kyiv"),
    }


def test_upgrading_a_0040_database_links_every_post_to_its_video(
    db_url: str, clock: FakeClock
) -> None:
    # Issue 9: posts.video_id and posts.matched_by move to post_videos without loss.
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0040")
        _add_raw_partitioned(engine, clock)
        _set_latest_from_newest_rows(engine)
        expected = _posts_by_old_schema(engine, clock)
        with engine.connect() as conn:
            ids = dict(conn.execute(select(OLD_POSTS.c.platform_post_id, OLD_POSTS.c.id)).all())
            readings = conn.execute(select(func.count()).select_from(ObservationRow)).scalar()
        hourly, fine = _rollup(engine, VideoHourly), _rollup(engine, Video5Min)
        upgrade(engine)
        with engine.connect() as conn:
            links = conn.execute(
                select(
                    Post.platform_post_id,
                    Post.id,
                    TrackedVideo.slug,
                    PostVideo.matched_by,
                    PostVideo.matched_term,
                    PostVideo.first_matched_at,
                )
                .join(PostVideo, PostVideo.post_id == Post.id)
                .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
            ).all()
            assert conn.execute(select(func.count()).select_from(ObservationRow)).scalar() == (
                readings
            )
        assert {key: tuple(rest) for key, _, *rest, _ in links} == expected
        assert {key: post_id for key, post_id, *_ in links} == ids  # ids kept: history intact
        assert all(at == clock() for *_, at in links)
        assert (_rollup(engine, VideoHourly), _rollup(engine, Video5Min)) == (hourly, fine)
        assert "video_id" not in {c["name"] for c in inspect(engine).get_columns("posts")}
        # The writer carries on: a new reading grows the post's video.
        sink = StorageSink(engine, clock)
        before = sum(r.views for r in read.rollup_deltas(engine, "clip"))
        sink.record_observations([Observation("youtube", "a", clock.advance(days=1), views=10**6)])
        grown = sum(r.views for r in read.rollup_deltas(engine, "clip")) - before
        assert grown == 10**6 - 50 * 39**2  # from the newest reading stored before the upgrade
    finally:
        engine.dispose()


def test_0070_failing_midway_changes_nothing_and_can_be_retried(
    db_url: str, clock: FakeClock
) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0040")
        _add_raw_partitioned(engine, clock)
        # A view on posts.video_id: dropping the column fails, after post_videos was filled.
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE VIEW old_links AS SELECT id, video_id FROM posts")
        before = _schema(engine)
        with pytest.raises(DBAPIError):
            upgrade(engine)
        assert _schema(engine) == before
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP VIEW old_links")
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(PostVideo)).scalar() == 4
    finally:
        engine.dispose()
