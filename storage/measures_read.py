"""Read side of the measures (issue 11): the rows `analytics/` turns into velocity, bursts,
forecasts, overperformance and spread, read from the existing tables.

One rule decides what counts as growth: a post's first reading of a counter is its baseline,
never growth. The rollups (`video_hourly`) add each reading's difference from the post's
previous reading, and a first reading's "difference" is its whole history, so every function
here that sums rollups subtracts the first readings that fall in its buckets (`first_readings`).
Per-post growth is the latest counter minus a baseline reading (`growth_since`), never minus 0.

Everything here is one code path for SQLite and PostgreSQL: correlated subqueries that probe the
`(post_id, observed_at)` unique index, no date arithmetic in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Select, and_, func, or_, select, type_coerce, union

from storage.models import Observation, Post, PostVideo, TrackedVideo, UTCDateTime, VideoHourly
from storage.read import COUNTERS

MEASURED_COUNTERS = ("views", "shares", "likes")
"""The counters the measures follow (velocity per hour of each)."""


def _counter(name: str) -> Any:
    if name not in COUNTERS:
        raise ValueError(f"unknown counter {name!r}; use one of {', '.join(COUNTERS)}")
    return getattr(Observation, name)


def _hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class FirstReading:
    """A post's first reading of one counter: its baseline, never growth."""

    post_id: int
    video: str
    platform: str
    observed_at: datetime
    value: int


def _first_reading_at(counter: Any) -> Any:
    """When the earliest observation of `Post` with `counter` set was taken (correlated);
    observations are keyed by (post_id, observed_at)."""
    return (
        select(Observation.observed_at)
        .where(Observation.post_id == Post.id, counter.is_not(None))
        .order_by(Observation.observed_at)
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )


FirstReadingCache = dict[str, dict[tuple[int, datetime], FirstReading]]
"""Counter -> (post id, first-seen time) -> that post's first reading of the counter."""

_FIRST_READINGS: WeakKeyDictionary[Engine, FirstReadingCache] = WeakKeyDictionary()
"""Per engine and counter, the first readings already found, by post id and first-seen time (an
id SQLite reuses after a delete is another post). A first reading never changes (observations
are append-only; a late, older reading is stored but, as in write.py's rollups, does not
replace the first one counted), so each post is looked up once per process."""

PROBE_CHUNK = 500


def first_readings(
    engine: Engine,
    counter: str = "views",
    *,
    video: str | None = None,
    platforms: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[FirstReading]:
    """Each post's first reading of `counter` taken in [since, until), oldest first."""
    column = _counter(counter)
    posts = (
        select(Post.id, Post.first_seen_at)
        .join(PostVideo, PostVideo.post_id == Post.id)
        .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        .where(Post.latest_observed_at.is_not(None))
    )
    if video is not None:
        posts = posts.where(TrackedVideo.slug == video)
    if platforms:
        posts = posts.where(Post.platform.in_(list(platforms)))
    if since is not None:
        # A post read last before `since` cannot have its first reading after it.
        posts = posts.where(Post.latest_observed_at >= since)
    known = _FIRST_READINGS.setdefault(engine, {}).setdefault(counter, {})
    with engine.connect() as conn:
        keys: list[tuple[int, datetime]] = [(i, seen) for i, seen in conn.execute(posts)]
        missing = [post_id for post_id, seen in keys if (post_id, seen) not in known]
        for start in range(0, len(missing), PROBE_CHUNK):
            query = (
                select(
                    Post.first_seen_at,
                    Post.id,
                    TrackedVideo.slug,
                    Post.platform,
                    Observation.observed_at,
                    column,
                )
                .join(PostVideo, PostVideo.post_id == Post.id)
                .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
                .join(
                    Observation,
                    and_(
                        Observation.post_id == Post.id,
                        Observation.observed_at == _first_reading_at(column),
                    ),
                )
                .where(Post.id.in_(missing[start : start + PROBE_CHUNK]))
            )
            for seen, *row in conn.execute(query):
                known[(row[0], seen)] = FirstReading(*row)
    found = [
        first
        for key in keys
        if (first := known.get(key)) is not None
        and (since is None or first.observed_at >= since)
        and (until is None or first.observed_at < until)
    ]
    return sorted(found, key=lambda f: (f.observed_at, f.post_id))


@dataclass(frozen=True, slots=True)
class PlatformHour:
    """Growth of one counter on one platform in one clock hour, first readings left out."""

    platform: str
    bucket_start: datetime
    growth: int
    observations: int
    """Readings taken that hour (0: nothing measured, a gap or not collected yet)."""
    baselines: int
    """First readings that hour: counted as baselines, not as growth."""


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
    delta = getattr(VideoHourly, f"{counter}_delta")
    query: Select[Any] = (
        select(
            VideoHourly.platform,
            VideoHourly.bucket_start,
            func.sum(delta),
            func.sum(VideoHourly.observations),
        )
        .join(TrackedVideo, TrackedVideo.id == VideoHourly.video_id)
        .where(TrackedVideo.slug == video)
        .group_by(VideoHourly.platform, VideoHourly.bucket_start)
    )
    if platforms:
        query = query.where(VideoHourly.platform.in_(list(platforms)))
    hour_since = _hour_start(since) if since else None
    if hour_since is not None:
        query = query.where(VideoHourly.bucket_start >= hour_since)
    if until is not None:
        query = query.where(VideoHourly.bucket_start < until)
    with engine.connect() as conn:
        rollup = conn.execute(query).all()
    baselines: dict[tuple[str, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for first in first_readings(
        engine, counter, video=video, platforms=platforms, since=hour_since, until=until
    ):
        found = baselines[(first.platform, _hour_start(first.observed_at))]
        found[0] += first.value
        found[1] += 1
    rows = []
    for platform, start, growth, observations in rollup:
        value, count = baselines.get((platform, start), (0, 0))
        rows.append(
            PlatformHour(platform, start, int(growth or 0) - value, int(observations), count)
        )
    return sorted(rows, key=lambda r: (r.bucket_start, r.platform))


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


def _baseline_at(counter: Any, since: datetime | None) -> Any:
    """When `Post`'s baseline reading for growth since `since` was taken (correlated)."""
    first_in_window = select(Observation.observed_at).where(
        Observation.post_id == Post.id, counter.is_not(None)
    )
    if since is None:
        return _first_reading_at(counter)
    before = (
        first_in_window.where(Observation.observed_at <= since)
        .order_by(Observation.observed_at.desc())
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )
    after = (
        first_in_window.where(Observation.observed_at > since)
        .order_by(Observation.observed_at)
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )
    return func.coalesce(before, after)


def _latest_reading_at(counter: Any) -> Any:
    return (
        select(Observation.observed_at)
        .where(Observation.post_id == Post.id, counter.is_not(None))
        .order_by(Observation.observed_at.desc())
        .limit(1)
        .correlate(Post)
        .scalar_subquery()
    )


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
    With `since`, only posts read after it are considered (the others did not grow)."""
    column = _counter(counter)
    base = Observation.__table__.alias("base")
    latest = Observation.__table__.alias("latest")
    query = (
        select(
            Post.id,
            TrackedVideo.slug,
            Post.platform,
            Post.author,
            latest.c[counter],
            latest.c.observed_at,
            base.c[counter],
            base.c.observed_at,
        )
        .join(PostVideo, PostVideo.post_id == Post.id)
        .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        .join(
            latest,
            and_(latest.c.post_id == Post.id, latest.c.observed_at == _latest_reading_at(column)),
        )
        .join(
            base,
            and_(base.c.post_id == Post.id, base.c.observed_at == _baseline_at(column, since)),
        )
    )
    if since is not None:
        query = query.where(Post.latest_observed_at > since)
    if video is not None:
        query = query.where(TrackedVideo.slug == video)
    if post_ids is not None:
        query = query.where(Post.id.in_(list(post_ids)))
    if platforms:
        query = query.where(Post.platform.in_(list(platforms)))
    with engine.connect() as conn:
        return {row[0]: PostGrowth(*row) for row in conn.execute(query)}


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


PEERS_PER_STATEMENT = 25
"""Peers one statement reads (two selects each; SQLite allows 500 in a compound select)."""


def _bracket(column: Any, post_id: int, target: datetime) -> list[Select[Any]]:
    """Selects of the post's last reading at or before `target` and its first after."""
    near = select(Observation.post_id, Observation.observed_at, column).where(
        Observation.post_id == post_id, column.is_not(None)
    )
    earlier = near.where(Observation.observed_at <= target)
    later = near.where(Observation.observed_at > target)
    return [
        select(*earlier.order_by(Observation.observed_at.desc()).limit(1).subquery().c),
        select(*later.order_by(Observation.observed_at).limit(1).subquery().c),
    ]


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
    column = _counter(counter)
    age = timedelta(hours=age_hours)
    peers_query = select(Post.id, Post.published_at).where(
        Post.platform == platform, Post.published_at.is_not(None)
    )
    if exclude_post_id is not None:
        peers_query = peers_query.where(Post.id != exclude_post_id)
    if before is not None:
        peers_query = peers_query.where(Post.published_at <= before - age)
    peers_query = peers_query.order_by(Post.published_at.desc(), Post.id).limit(limit)
    with engine.connect() as conn:
        peers: list[tuple[int, datetime]] = [(i, at) for i, at in conn.execute(peers_query) if at]
        if not peers:
            return []
        # Every statement probes the same number of peers (the last repeats its final peer;
        # UNION drops the repeated rows), so there is one statement whatever the number of
        # peers: one per number made the engine and each SQLite connection cache hundreds of
        # statements of megabytes while a dashboard was open (issue 13).
        targets = [(post_id, published_at + age) for post_id, published_at in peers]
        targets += [targets[-1]] * (-len(targets) % PEERS_PER_STATEMENT)
        found: dict[int, list[tuple[datetime, float | None]]] = defaultdict(list)
        for start in range(0, len(targets), PEERS_PER_STATEMENT):
            chunk = targets[start : start + PEERS_PER_STATEMENT]
            probes = [probe for post_id, at in chunk for probe in _bracket(column, post_id, at)]
            for post_id, observed_at, value in conn.execute(union(*probes)):
                found[post_id].append((observed_at, float(value)))
    return [
        PeerReadings(post_id, platform, published_at, sorted(found[post_id]))
        for post_id, published_at in peers
        if found[post_id]
    ]


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
        select(Post.platform, type_coerce(func.min(appeared), UTCDateTime()), func.count())
        .join(PostVideo, PostVideo.post_id == Post.id)
        .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        .where(TrackedVideo.slug == video, or_(Post.relation.is_(None), Post.relation != "reshare"))
        .group_by(Post.platform)
    )
    if platforms:
        query = query.where(Post.platform.in_(list(platforms)))
    with engine.connect() as conn:
        return [PlatformPickup(platform, at, int(n)) for platform, at, n in conn.execute(query)]
