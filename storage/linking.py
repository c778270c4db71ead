"""Linking posts to tracked videos (the writer's side of `post_videos`).

A post found again for another video gets a second link, and that video's rollups receive the
post's growth so far, replayed from its stored history into the buckets it happened in. So the
invariant of storage/growth.py holds per video: the rollup growth of every video and platform
sums to the latest counters of the posts linked to it, a shared post counted in each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from storage.db import conflict_insert
from storage.growth import COUNTERS, PostState, apply_reading, five_minute_start, hour_start
from storage.models import Observation, Post, PostVideo, Video5Min, VideoHourly
from storage.video_posts import LOOKUP_CHUNK, split_match


@dataclass(frozen=True, slots=True)
class Link:
    post_id: int
    video_id: int
    matched_by: str
    """The collector's reason as it gives it ("keyword:kyiv"), split when stored."""


def add_links(conn: Connection, links: Sequence[Link], now: datetime) -> int:
    """Store the links not stored yet, with growth for posts already read; returns how many
    were new. Call inside the writer's transaction."""
    wanted = {(link.post_id, link.video_id): link for link in links}
    stored = links_of(conn, sorted({post_id for post_id, _ in wanted}))
    new = [link for key, link in wanted.items() if key[1] not in stored.get(key[0], ())]
    if not new:
        return 0  # the common case (a discovery finding known posts again): no lock taken
    locked = sorted({link.post_id for link in new})
    _lock_posts(conn, locked)
    # Again under the locks: another writer may have linked them meanwhile (PostgreSQL).
    stored = links_of(conn, locked)
    new = [link for link in new if link.video_id not in stored.get(link.post_id, ())]
    if not new:
        return 0
    rows = [
        {
            "post_id": link.post_id,
            "video_id": link.video_id,
            "matched_by": split_match(link.matched_by)[0],
            "matched_term": split_match(link.matched_by)[1],
            "first_matched_at": now,
        }
        for link in new
    ]
    insert = conflict_insert(conn, PostVideo).on_conflict_do_nothing()
    conn.execute(insert, rows)
    for link in new:
        if stored.get(link.post_id):
            _replay_growth(conn, link.post_id, link.video_id)
    return len(new)


def links_of(conn: Connection, post_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """The video ids each post is linked to."""
    found: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(post_ids), LOOKUP_CHUNK):
        chunk = list(post_ids[start : start + LOOKUP_CHUNK])
        query = select(PostVideo.post_id, PostVideo.video_id).where(PostVideo.post_id.in_(chunk))
        for post_id, video_id in conn.execute(query.order_by(PostVideo.video_id)):
            found[post_id].append(video_id)
    return {post_id: tuple(ids) for post_id, ids in found.items()}


def _lock_posts(conn: Connection, post_ids: Sequence[int]) -> None:
    """On PostgreSQL, lock the posts in the refresh writer's order (platform, then key by code
    point) before linking them: a link row takes a key-share lock on its post, and taking those
    in another order than the writer's row locks could deadlock."""
    if conn.dialect.name != "postgresql":
        return  # BEGIN IMMEDIATE already serialises SQLite writers
    keys: list[tuple[str, str, int]] = []
    for start in range(0, len(post_ids), LOOKUP_CHUNK):
        ids = post_ids[start : start + LOOKUP_CHUNK]
        found = select(Post.platform, Post.platform_post_id, Post.id).where(Post.id.in_(ids))
        keys += [(platform, key, post_id) for platform, key, post_id in conn.execute(found)]
    ordered = [post_id for *_, post_id in sorted(keys)]  # Python sorts by code point, as "C"
    order = (Post.platform.collate("C"), Post.platform_post_id.collate("C"))
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        lock = select(Post.id).where(Post.id.in_(ordered[start : start + LOOKUP_CHUNK]))
        conn.execute(lock.order_by(*order).with_for_update()).all()


def _replay_growth(conn: Connection, post_id: int, video_id: int) -> None:
    """Add a post's growth so far to one more video's rollups: each stored row's growth in its
    bucket, its first readings as that video's baselines too (they are not growth there either),
    then whatever the history misses (a late reading that never moved the latest) at the latest
    reading, so the sums equal the post's latest counters exactly."""
    # The post is locked (_lock_posts): the refresh writer cannot move its latest meanwhile.
    latest_query = select(Post.platform, Post.latest_observed_at, *_latest())
    platform, latest_at, *latest = conn.execute(latest_query.where(Post.id == post_id)).one()
    if latest_at is None:
        return
    history = select(Observation.observed_at, *(getattr(Observation, c) for c in COUNTERS))
    history = history.where(Observation.post_id == post_id).order_by(Observation.observed_at)
    state = PostState(None, (None,) * len(COUNTERS), None)
    buckets: dict[datetime, list[int]] = {}
    for at, *values in conn.execute(history):
        step = apply_reading(state, at, tuple(values))
        if step.kind == "new":
            _add(buckets, five_minute_start(at), (*step.deltas, *step.baselines, 1))
    missing = [(new or 0) - (old or 0) for new, old in zip(latest, state.latest, strict=True)]
    if any(missing):
        # Growth the history cannot place: measured growth, so no baseline and no reading.
        _add(buckets, five_minute_start(latest_at), (*missing, *(0 for _ in COUNTERS), 0))
    hours: dict[datetime, list[int]] = {}
    for start, sums in buckets.items():
        _add(hours, hour_start(start), sums)
    for table, rows in ((Video5Min, buckets), (VideoHourly, hours)):
        _add_rollup(conn, table, video_id, platform, rows)


def _latest() -> tuple[Any, ...]:
    return tuple(getattr(Post, f"latest_{c}") for c in COUNTERS)


def _add(buckets: dict[datetime, list[int]], start: datetime, values: Sequence[int]) -> None:
    sums = buckets.setdefault(start, [0] * len(values))
    for i, value in enumerate(values):
        sums[i] += value


def _add_rollup(
    conn: Connection,
    table: type[Video5Min] | type[VideoHourly],
    video_id: int,
    platform: str,
    buckets: dict[datetime, list[int]],
) -> None:
    names = [
        *(f"{c}_delta" for c in COUNTERS),
        *(f"{c}_baseline" for c in COUNTERS),
        "observations",
    ]
    for start, sums in sorted(buckets.items()):
        values = dict(zip(names, sums, strict=True))
        insert = conflict_insert(conn, table).values(
            video_id=video_id, platform=platform, bucket_start=start, **values
        )
        increments = {name: getattr(table, name) + insert.excluded[name] for name in names}
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["video_id", "platform", "bucket_start"], set_=increments
            )
        )
