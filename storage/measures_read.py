"""Read side of the measures (issue 11): the rows `analytics/` turns into velocity, bursts,
forecasts, overperformance and spread, read from the existing tables.

One rule decides what counts as growth: a post's first reading of a counter is its baseline,
never growth. The rollups add each reading's difference from the post's previous reading, and a
first reading's "difference" is its whole history, so the writer also sums first readings into
`<counter>_baseline` and every function here that sums rollups takes `delta - baseline`.
Per-post growth is the latest counter minus a baseline reading (`growth_since`), never minus 0.

Everything here is one code path for SQLite and PostgreSQL: correlated subqueries that probe the
`(post_id, observed_at)` primary key, no date arithmetic in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    Select,
    TextualSelect,
    bindparam,
    column,
    func,
    or_,
    select,
    text,
    type_coerce,
)

from storage.models import Observation, Post, PostVideo, TrackedVideo, UTCDateTime, VideoHourly
from storage.read import COUNTERS
from storage.video_posts import join_videos

MEASURED_COUNTERS = ("views", "shares", "likes")
"""The counters the measures follow (velocity per hour of each)."""


def _counter(name: str) -> Any:
    if name not in COUNTERS:
        raise ValueError(f"unknown counter {name!r}; use one of {', '.join(COUNTERS)}")
    return getattr(Observation, name)


def _hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class PlatformHour:
    """Growth of one counter on one platform in one clock hour, first readings left out."""

    platform: str
    bucket_start: datetime
    growth: int
    observations: int
    """Readings taken that hour (0: nothing measured, a gap or not collected yet)."""


def platform_hourly_growth(
    engine: Engine,
    video: str,
    counter: str = "views",
    *,
    platforms: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PlatformHour]:
    """Per platform and hour, what `counter` grew (hourly rollup minus first readings)."""
    _counter(counter)
    growth = getattr(VideoHourly, f"{counter}_delta") - getattr(VideoHourly, f"{counter}_baseline")
    query: Select[Any] = (
        select(
            VideoHourly.platform,
            VideoHourly.bucket_start,
            func.sum(growth),
            func.sum(VideoHourly.observations),
        )
        .join(TrackedVideo, TrackedVideo.id == VideoHourly.video_id)
        .where(TrackedVideo.slug == video)
        .group_by(VideoHourly.platform, VideoHourly.bucket_start)
        .order_by(VideoHourly.bucket_start, VideoHourly.platform)
    )
    if platforms:
        query = query.where(VideoHourly.platform.in_(list(platforms)))
    if since is not None:
        query = query.where(VideoHourly.bucket_start >= _hour_start(since))
    if until is not None:
        query = query.where(VideoHourly.bucket_start < until)
    with engine.connect() as conn:
        return [
            PlatformHour(platform, start, int(grown or 0), int(observations))
            for platform, start, grown, observations in conn.execute(query)
        ]


@dataclass(frozen=True, slots=True)
class PostGrowth:
    """A post's growth of one counter since a baseline reading."""

    post_id: int
    video: str
    platform: str
    author: str | None
    latest: int
    latest_at: datetime
    baseline: int
    baseline_at: datetime
    """The last reading at or before the window's start, else the first reading in it."""

    @property
    def growth(self) -> int:
        return self.latest - self.baseline

    @property
    def hours(self) -> float:
        return (self.latest_at - self.baseline_at).total_seconds() / 3600

    @property
    def per_hour(self) -> float | None:
        """Growth over the real hours between the two readings; None with one reading."""
        return self.growth / self.hours if self.hours > 0 else None


def _reading(counter: Any, what: Any, since: datetime | None, after: bool = False) -> Any:
    """`what` of `Post`'s newest reading of `counter` at or before `since` (oldest after it
    when `after`; the oldest of all when `since` is None): one probe of the primary key."""
    query = select(what).where(Observation.post_id == Post.id, counter.is_not(None))
    if since is None or after:
        if since is not None:
            query = query.where(Observation.observed_at > since)
        query = query.order_by(Observation.observed_at)
    else:
        query = query.where(Observation.observed_at <= since)
        query = query.order_by(Observation.observed_at.desc())
    return query.limit(1).correlate(Post).scalar_subquery()


def _baseline(counter: Any, what: Any, since: datetime | None) -> Any:
    """`what` of the baseline reading for growth since `since`: the last reading at or before
    it, else the first one after it (both probes match the same rows, so they pair up)."""
    if since is None:
        return _reading(counter, what, None)
    return func.coalesce(_reading(counter, what, since), _reading(counter, what, since, True))


def growth_since(
    engine: Engine,
    since: datetime | None,
    counter: str = "views",
    *,
    video: str | None = None,
    post_ids: Sequence[int] | None = None,
    platforms: Sequence[str] = (),
) -> dict[int, PostGrowth]:
    """Post id -> growth of `counter` since `since` (None: since the post's first reading).

    Only posts with a reading of `counter` appear; a post read once grows 0 (its baseline).
    With `since`, only posts read after it are considered (the others did not grow). The latest
    value is the post's latest counter, as of its latest reading (`posts.latest_*`); the
    baseline costs two probes of the observations' primary key per post."""
    column = _counter(counter)
    latest = getattr(Post, f"latest_{counter}")
    query = select(
        Post.id,
        TrackedVideo.slug,
        Post.platform,
        Post.author,
        latest,
        Post.latest_observed_at,
        _baseline(column, column, since),
        _baseline(column, Observation.observed_at, since),
    )
    # One row per (post, video) it matched: a shared post grows every video it belongs to.
    query = join_videos(query.where(latest.is_not(None)))
    if video is not None:
        query = query.where(TrackedVideo.slug == video)
    if since is not None:
        query = query.where(Post.latest_observed_at > since)
    if post_ids is not None:
        query = query.where(Post.id.in_(list(post_ids)))
    if platforms:
        query = query.where(Post.platform.in_(list(platforms)))
    with engine.connect() as conn:
        return {row[0]: PostGrowth(*row) for row in conn.execute(query) if row[7] is not None}


def post_readings(
    engine: Engine, post_id: int, counter: str = "views"
) -> list[tuple[datetime, float | None]]:
    """One post's readings of `counter`, oldest first (None where the platform hid it)."""
    column = _counter(counter)
    query = (
        select(Observation.observed_at, column)
        .where(Observation.post_id == post_id)
        .order_by(Observation.observed_at)
    )
    with engine.connect() as conn:
        return [(at, None if value is None else float(value)) for at, value in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class PeerReadings:
    """A comparable post with its readings nearest to one age (at most one on each side)."""

    post_id: int
    platform: str
    published_at: datetime
    readings: list[tuple[datetime, float | None]]


def peer_readings_at_age(
    engine: Engine,
    platform: str,
    age_hours: float,
    counter: str = "views",
    *,
    exclude_post_id: int | None = None,
    before: datetime | None = None,
    limit: int = 200,
) -> list[PeerReadings]:
    """Up to `limit` posts of `platform` (most recently published first, at least `age_hours`
    old by `before`), each with its last reading at or before that age and its first after.

    Those two readings are all the overperformance method needs: the bracketing pair, and
    whichever of them is closer when they are too far apart."""
    _counter(counter)
    age = timedelta(hours=age_hours)
    peers_query = select(Post.id, Post.published_at).where(
        Post.platform == platform, Post.published_at.is_not(None)
    )
    if exclude_post_id is not None:
        peers_query = peers_query.where(Post.id != exclude_post_id)
    if before is not None:
        peers_query = peers_query.where(Post.published_at <= before - age)
    # Both descending, so one backward pass over ix_posts_platform_published serves it.
    peers_query = peers_query.order_by(Post.published_at.desc(), Post.id.desc()).limit(limit)
    with engine.connect() as conn:
        peers: list[tuple[int, datetime]] = [(i, at) for i, at in conn.execute(peers_query) if at]
        if not peers:
            return []
        found: dict[int, list[tuple[datetime, float | None]]] = defaultdict(list)
        # Every statement probes the same number of peers (the last chunk repeats its final
        # peer; UNION drops the repeated rows): one statement per number of peers made the
        # engine and each SQLite connection cache hundreds of them, megabytes each, while a
        # dashboard was open (issue 13).
        targets = [(post_id, published_at + age) for post_id, published_at in peers]
        targets += [targets[-1]] * (-len(targets) % PEERS_PER_STATEMENT)
        query = _bracketing_readings(counter)
        for start in range(0, len(targets), PEERS_PER_STATEMENT):
            params: dict[str, Any] = {}
            for n, (post_id, target) in enumerate(targets[start : start + PEERS_PER_STATEMENT]):
                params[f"p{n}"] = post_id
                params[f"t{n}"] = target
            for post_id, observed_at, value in conn.execute(query, params):
                found[post_id].append((observed_at, float(value)))
    return [
        PeerReadings(post_id, platform, published_at, sorted(found[post_id]))
        for post_id, published_at in peers
        if found[post_id]
    ]


PEERS_PER_STATEMENT = 50
"""Peers one statement reads (two selects each; SQLite allows 500 in a compound select)."""


@cache
def _bracketing_readings(counter: str) -> TextualSelect:
    """Per post n (`:p<n>`), its last reading of `counter` at or before `:t<n>` and its first
    after: two probes of the primary key each. Plain SQL text, built once per counter: the same
    union as Core objects cost more to build than to run."""
    probes = []
    for n in range(PEERS_PER_STATEMENT):
        for op, order in (("<=", "DESC"), (">", "ASC")):
            probes.append(
                f"SELECT * FROM (SELECT post_id, observed_at, {counter} FROM observations "
                f"WHERE post_id = :p{n} AND {counter} IS NOT NULL AND observed_at {op} :t{n} "
                f"ORDER BY observed_at {order} LIMIT 1) AS q{n}{order}"
            )
    times = [bindparam(f"t{n}", type_=UTCDateTime()) for n in range(PEERS_PER_STATEMENT)]
    return (
        text(" UNION ".join(probes))
        .bindparams(*times)
        .columns(
            column("post_id", Integer()),
            column("observed_at", UTCDateTime()),
            column(counter, BigInteger()),
        )
    )


@dataclass(frozen=True, slots=True)
class PlatformPickup:
    platform: str
    first_at: datetime
    """The earliest publication time (else first-seen time) of the platform's posts."""
    posts: int


def platform_pickups(
    engine: Engine, video: str, platforms: Sequence[str] = ()
) -> list[PlatformPickup]:
    """Per platform, when `video`'s first post there appeared and how many posts it has
    (reshare edges left out: they carry no footage of their own)."""
    appeared = func.coalesce(Post.published_at, Post.first_seen_at)
    query = (
        join_videos(
            select(Post.platform, type_coerce(func.min(appeared), UTCDateTime()), func.count())
        )
        .where(TrackedVideo.slug == video, or_(Post.relation.is_(None), Post.relation != "reshare"))
        .group_by(Post.platform)
    )
    if platforms:
        query = query.where(Post.platform.in_(list(platforms)))
    with engine.connect() as conn:
        return [PlatformPickup(platform, at, int(n)) for platform, at, n in conn.execute(query)]


def data_version(engine: Engine, video: str) -> tuple[int, ...]:
    """Numbers that change whenever `video`'s measures could: its id, its linked posts, and
    its hourly rollup's rows, readings and growth summed (every stored reading, changed or
    confirming, adds a reading there; a link replays its post's growth and adds a post).
    One index range over the video's rollup and one over its links."""
    video_id = select(TrackedVideo.id).where(TrackedVideo.slug == video).scalar_subquery()
    sums = [func.count(), func.sum(VideoHourly.observations)]
    for name in COUNTERS:
        sums += [func.sum(getattr(VideoHourly, f"{name}_delta"))]
        sums += [func.sum(getattr(VideoHourly, f"{name}_baseline"))]
    rollup = select(*sums).where(VideoHourly.video_id == video_id)
    links = select(func.count()).select_from(PostVideo).where(PostVideo.video_id == video_id)
    with engine.connect() as conn:
        found = conn.execute(select(video_id)).scalar()
        summed = conn.execute(rollup).one()
        linked = conn.execute(links).scalar_one()
    return (found or 0, int(linked), *(int(v or 0) for v in summed))
