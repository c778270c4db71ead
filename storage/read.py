"""Readers: plain typed rows for the dashboard and export. ORM objects never leave storage/."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, Select, case, func, or_, select

# Re-exported: the dashboard reads these through storage and imports no collector.
from collectors.base import COUNTERS as COUNTERS
from collectors.base import Clock as Clock
from storage.models import (
    CollectorLatestRun,
    CollectorRun,
    Post,
    PostVideo,
    RollupColumns,
    TrackedVideo,
    Video5Min,
    VideoHourly,
)
from storage.models import Observation as ObservationRow
from storage.post_events import PostEventRow as PostEventRow
from storage.post_events import events_of
from storage.rows import row_mapper
from storage.video_posts import MatchRow as MatchRow
from storage.video_posts import join_videos, one_row_per_post, post_ids_of
from storage.video_posts import post_matches as post_matches

# Rows fetched per round trip when streaming exports: memory stays flat for any table size.
STREAM_BATCH = 5000


@dataclass(frozen=True, slots=True)
class VideoRow:
    id: int
    slug: str
    title: str
    keywords: list[str]
    hashtags: list[str]
    urls: list[str]
    started_at: datetime | None
    created_at: datetime
    is_paused: bool
    source: str
    posts: int


@dataclass(frozen=True, slots=True)
class PostRow:
    id: int
    video: str
    platform: str
    platform_post_id: str
    url: str | None
    author: str | None
    text: str | None
    published_at: datetime | None
    first_seen_at: datetime
    matched_by: str
    """How the post matched `video`: url, keyword, hashtag, manual or cascade."""
    matched_term: str
    """The video's URL, keyword or hashtag that matched ("" for the others)."""
    parent_platform: str | None
    parent_platform_post_id: str | None
    relation: str | None
    is_gone: bool
    gone_at: datetime | None
    last_error: str | None
    latest_observed_at: datetime | None
    views: int | None
    likes: int | None
    shares: int | None
    comments: int | None
    quotes: int | None


@dataclass(frozen=True, slots=True)
class ObservationExportRow:
    video: str
    platform: str
    platform_post_id: str
    url: str | None
    observed_at: datetime
    views: int | None
    likes: int | None
    shares: int | None
    comments: int | None
    quotes: int | None
    confirmed_until: datetime | None = None
    """The last time these counters were read again unchanged (None: not re-read)."""


@dataclass(frozen=True, slots=True)
class RunRow:
    collector: str
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    requests: int
    posts_found: int
    observations_written: int
    error_message: str | None
    retry_at: datetime | None


run_row = row_mapper(RunRow)
"""A `collector_runs` row as a RunRow: its columns carry the same names as the fields."""


@dataclass(frozen=True, slots=True)
class PostFilter:
    """Which posts a query covers; every field optional."""

    video: str | None = None
    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_videos(engine: Engine, slug: str | None = None) -> list[VideoRow]:
    """Every tracked video (or the one named `slug`) with its post count (reshares aside: they
    are edges, not posts with counters of their own), oldest first."""
    videos = TrackedVideo.__table__
    # A correlated count per video: one index range each, never a pass over every post.
    count = (
        select(func.count())
        .select_from(Post)
        .where(Post.id.in_(post_ids_of(videos.c.id)), _not_reshare())
        .scalar_subquery()
    )
    query = select(videos, count.label("post_count")).order_by(videos.c.id)
    if slug is not None:
        query = query.where(videos.c.slug == slug)
    with engine.connect() as conn:
        return [
            VideoRow(
                id=v.id,
                slug=v.slug,
                title=v.title,
                keywords=list(v.keywords),
                hashtags=list(v.hashtags),
                urls=list(v.urls),
                started_at=v.started_at,
                created_at=v.created_at,
                is_paused=v.is_paused,
                source=v.source,
                posts=v.post_count,
            )
            for v in conn.execute(query)
        ]


def _post_query(flt: PostFilter) -> Select[Any]:
    query = join_videos(
        select(
            Post.__table__,
            TrackedVideo.slug.label("video_slug"),
            PostVideo.matched_by,
            PostVideo.matched_term,
        )
    )
    if flt.video:
        query = query.where(TrackedVideo.slug == flt.video)
    if flt.platform:
        query = query.where(Post.platform == flt.platform)
    return query


def iter_posts(engine: Engine, flt: PostFilter) -> Iterator[PostRow]:
    """Posts matching `flt` (since/until on first_seen_at), streamed in id order."""
    query = _post_query(flt).order_by(Post.id)
    if flt.since:
        query = query.where(Post.first_seen_at >= flt.since)
    if flt.until:
        query = query.where(Post.first_seen_at < flt.until)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for post in result:
            yield post_row(post)


post_row = row_mapper(
    PostRow, video="video_slug", **{counter: f"latest_{counter}" for counter in COUNTERS}
)
"""A PostRow from a row of `posts` joined with its video's slug as `video_slug` and its latest
counters as `latest_<counter>`."""


def iter_observations(engine: Engine, flt: PostFilter) -> Iterator[ObservationExportRow]:
    """Observations matching `flt` (since/until on observed_at), streamed by post then time."""
    query = (
        select(
            TrackedVideo.slug,
            Post.platform,
            Post.platform_post_id,
            Post.url,
            ObservationRow.observed_at,
            ObservationRow.views,
            ObservationRow.likes,
            ObservationRow.shares,
            ObservationRow.comments,
            ObservationRow.quotes,
            ObservationRow.confirmed_until,
        )
        .join(Post, Post.id == ObservationRow.post_id)
        .join(PostVideo, PostVideo.post_id == Post.id)
        .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        .order_by(ObservationRow.post_id, ObservationRow.observed_at)
    )
    query = _observations_where(query, flt)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for row in result:
            yield ObservationExportRow(*row)


def _observations_where(
    query: Select[*tuple[Any, ...]], flt: PostFilter
) -> Select[*tuple[Any, ...]]:
    """`query` (over observations joined to posts and videos) narrowed to `flt`."""
    if flt.video:
        query = query.where(TrackedVideo.slug == flt.video)
    if flt.platform:
        query = query.where(Post.platform == flt.platform)
    if flt.since:
        query = query.where(ObservationRow.observed_at >= flt.since)
    if flt.until:
        query = query.where(ObservationRow.observed_at < flt.until)
    return query


def count_rows(engine: Engine, what: str, flt: PostFilter) -> int:
    """How many rows an export of `what` ("posts" or "observations") will write."""
    if what == "posts":
        query = select(func.count()).select_from(_post_query(flt).subquery())
    else:
        base = select(ObservationRow.post_id).join(Post, Post.id == ObservationRow.post_id)
        base = base.join(PostVideo, PostVideo.post_id == Post.id)
        base = base.join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        base = _observations_where(base, flt)
        query = select(func.count()).select_from(base.subquery())
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def latest_runs(engine: Engine) -> list[RunRow]:
    """The most recent run of each collector and kind (discover, refresh), by collector."""
    with engine.connect() as conn:
        ids = list(conn.execute(select(CollectorLatestRun.run_id)).scalars())
        query = select(CollectorRun.__table__).where(CollectorRun.id.in_(ids))
        runs = [run_row(r) for r in conn.execute(query.order_by(CollectorRun.collector))]
    return runs


# --- dashboard readers (issue 4): aggregates, rollups and single posts -------------------------


@dataclass(frozen=True, slots=True)
class PlatformTotalsRow:
    """One video's posts on one platform: how many carry the footage (`posts`) and how many are
    reshare edges without counters (`reshares`), summed latest counters, first appearance of a
    post (reshare edges left out)."""

    video: str
    platform: str
    posts: int
    reshares: int
    views: int
    likes: int
    shares: int
    comments: int
    quotes: int
    first_appeared_at: datetime | None
    last_observed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RollupRow:
    """Counter growth in one rollup bucket (`video` summed over platforms when platform is "")."""

    video: str
    platform: str
    bucket_start: datetime
    views: int
    likes: int
    shares: int
    comments: int
    quotes: int
    observations: int
    views_baseline: int = 0
    """Of `views`, what posts' first readings brought: baselines, not growth (issue 11)."""


@dataclass(frozen=True, slots=True)
class AppearanceRow:
    """When a post carried the video: published_at, else when a collector first saw it."""

    id: int
    platform: str
    platform_post_id: str
    url: str | None
    author: str | None
    appeared_at: datetime


@dataclass(frozen=True, slots=True)
class CounterRow:
    """One observation of one post."""

    post_id: int
    observed_at: datetime
    views: int | None
    likes: int | None
    shares: int | None
    comments: int | None
    quotes: int | None


# Bucket size in minutes -> the rollup table write.py keeps at that size.
ROLLUPS: dict[int, type[RollupColumns]] = {5: Video5Min, 60: VideoHourly}
POST_SORTS = (*COUNTERS, "appeared", "platform", "author")


RESHARE = "reshare"


def _appeared_at() -> Any:
    return func.coalesce(Post.published_at, Post.first_seen_at)


def _is_reshare() -> Any:
    return Post.relation == RESHARE


def _not_reshare() -> Any:
    # relation is NULL for most posts, and NULL != 'reshare' is not true in SQL.
    return or_(Post.relation.is_(None), Post.relation != RESHARE)


def platform_totals(
    engine: Engine, *, video: str | None = None, platforms: Sequence[str] = ()
) -> list[PlatformTotalsRow]:
    """Per video and platform: posts and reshare edges counted apart, sums of latest counters
    (NULL counts as 0)."""
    reshares = func.coalesce(func.sum(case((_is_reshare(), 1), else_=0)), 0)
    videos = select(TrackedVideo.id, TrackedVideo.slug)
    if video is not None:
        videos = videos.where(TrackedVideo.slug == video)
    with engine.connect() as conn:
        slugs: dict[int, str] = {row[0]: row[1] for row in conn.execute(videos)}
        # Posts by video id (an index range per video), never a pass over every post.
        query = (
            select(
                PostVideo.video_id,
                Post.platform,
                func.count() - reshares,
                reshares,
                *(func.coalesce(func.sum(getattr(Post, f"latest_{c}")), 0) for c in COUNTERS),
                func.min(case((_not_reshare(), _appeared_at()))),
                func.max(Post.latest_observed_at),
            )
            .join(PostVideo, PostVideo.post_id == Post.id)
            .where(PostVideo.video_id.in_(list(slugs)))
            .group_by(PostVideo.video_id, Post.platform)
        )
        if platforms:
            query = query.where(Post.platform.in_(list(platforms)))
        rows = []
        for r in conn.execute(query):
            values: list[Any] = [slugs[r[0]], r[1], *(int(v) for v in r[2:9]), *r[9:]]
            rows.append(PlatformTotalsRow(*values))
    return sorted(rows, key=lambda row: (row.video, row.platform))


def rollup_table(bucket_minutes: int) -> type[RollupColumns]:
    """The rollup with buckets of `bucket_minutes` (a key of ROLLUPS); ValueError otherwise."""
    try:
        return ROLLUPS[bucket_minutes]
    except KeyError:
        sizes = ", ".join(str(m) for m in ROLLUPS)
        raise ValueError(f"no {bucket_minutes}-minute rollup; use one of {sizes}") from None


def _sums(table: type[RollupColumns]) -> tuple[Any, ...]:
    return (
        *(func.sum(getattr(table, f"{c}_delta")) for c in COUNTERS),
        func.sum(table.observations),
        func.sum(table.views_baseline),
    )


def rollup_deltas(
    engine: Engine,
    video: str | None = None,
    *,
    bucket_minutes: int = 60,
    platforms: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    by_platform: bool = True,
) -> list[RollupRow]:
    """Counter growth per bucket from the `bucket_minutes` rollup (5 or 60), oldest first.

    With `video` None every video is returned; with `by_platform` False platforms are summed
    (platform is then ""). `since`/`until` bound bucket_start (inclusive, exclusive). Raises
    ValueError for a size with no rollup.
    """
    table = rollup_table(bucket_minutes)
    keys: list[Any] = [TrackedVideo.slug]
    if by_platform:
        keys.append(table.platform)
    query = (
        select(*keys, table.bucket_start, *_sums(table))
        .join(TrackedVideo, TrackedVideo.id == table.video_id)
        .group_by(*keys, table.bucket_start)
        .order_by(table.bucket_start, *keys)
    )
    query = _rollup_where(query, table, video, platforms, since, until)
    rows = []
    with engine.connect() as conn:
        for r in conn.execute(query):
            platform = r[1] if by_platform else ""
            start = 2 if by_platform else 1
            rows.append(
                RollupRow(r[0], platform, r[start], *(int(v or 0) for v in tuple(r)[start + 1 :]))
            )
    return rows


def rollup_totals_before(
    engine: Engine, video: str, before: datetime, *, platforms: Sequence[str] = ()
) -> list[RollupRow]:
    """Per platform, the growth summed over everything before `before` (a cumulative baseline),
    which must fall on a 5-minute boundary.

    Whole hours come from the hourly rollup and the rest of the last hour from the 5-minute one
    (the two agree, and this reads at most 11 rows of the finer one per platform). Rows carry
    bucket_start = `before`. Raises ValueError when `before` is not on a 5-minute boundary.
    """
    if before.minute % 5 or before.second or before.microsecond:
        raise ValueError(f"{before.isoformat()} is not on a 5-minute boundary")
    hour = before.replace(minute=0)
    parts: list[tuple[type[RollupColumns], datetime | None, datetime]] = [(VideoHourly, None, hour)]
    if before > hour:
        parts.append((Video5Min, hour, before))
    totals: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for table, since, until in parts:
            query: Select[*tuple[Any, ...]] = (
                select(table.platform, *_sums(table))
                .join(TrackedVideo, TrackedVideo.id == table.video_id)
                .group_by(table.platform)
            )
            query = _rollup_where(query, table, video, platforms, since, until)
            for r in conn.execute(query):
                sums = totals.setdefault(r[0], [0] * (len(r) - 1))
                for i, value in enumerate(tuple(r)[1:]):
                    sums[i] += int(value or 0)
    return [RollupRow(video, p, before, *totals[p]) for p in sorted(totals)]


def _rollup_where(
    query: Select[*tuple[Any, ...]],
    table: type[RollupColumns],
    video: str | None,
    platforms: Sequence[str],
    since: datetime | None,
    until: datetime | None,
) -> Select[*tuple[Any, ...]]:
    if video is not None:
        query = query.where(TrackedVideo.slug == video)
    if platforms:
        query = query.where(table.platform.in_(list(platforms)))
    if since is not None:
        query = query.where(table.bucket_start >= since)
    if until is not None:
        query = query.where(table.bucket_start < until)
    return query


class AppearanceTime(NamedTuple):
    """When one post carried the video (the reposts chart counts these per bucket)."""

    platform: str
    appeared_at: datetime


def appearance_times(
    engine: Engine, video: str, *, platforms: Sequence[str] = ()
) -> list[AppearanceTime]:
    """When each post of `video` appeared, in no order; reshare edges left out (most carry only
    the time a collector found them, not when the reshare happened). Two columns a post: the
    chart reads every post, so nothing else is fetched."""
    query = join_videos(select(Post.platform, _appeared_at())).where(TrackedVideo.slug == video)
    query = _video_posts(query.where(_not_reshare()), platforms, None)
    with engine.connect() as conn:
        return [AppearanceTime(*r) for r in conn.execute(query)]


def first_appearances(
    engine: Engine, video: str, *, platforms: Sequence[str] = ()
) -> list[AppearanceRow]:
    """The first post of `video` on each platform (the one that carried the footage there),
    oldest first, ties by id; reshare edges left out. Ranked in SQL: one row a platform."""
    appeared = _appeared_at()
    ranked = select(
        Post.id,
        Post.platform,
        Post.platform_post_id,
        Post.url,
        Post.author,
        appeared.label("appeared_at"),
        func.row_number()
        .over(partition_by=Post.platform, order_by=(appeared, Post.id))
        .label("rank"),
    )
    ranked = join_videos(ranked).where(TrackedVideo.slug == video, _not_reshare())
    ranked = _video_posts(ranked, platforms, None)
    first = ranked.subquery()
    query = (
        select(*(first.c[name] for name in AppearanceRow.__dataclass_fields__))
        .where(first.c.rank == 1)
        .order_by(first.c.appeared_at, first.c.id)
    )
    with engine.connect() as conn:
        return [AppearanceRow(*r) for r in conn.execute(query)]


def _video_posts(query: Select[Any], platforms: Sequence[str], author: str | None) -> Select[Any]:
    if platforms:
        query = query.where(Post.platform.in_(list(platforms)))
    if author:
        escaped = author.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Post.author).like(f"%{escaped}%", escape="\\"))
    return query


def list_posts(
    engine: Engine,
    video: str,
    *,
    platforms: Sequence[str] = (),
    author: str | None = None,
    sort: str = "views",
    descending: bool = True,
    limit: int | None = 100,
    offset: int = 0,
    reshares: bool = False,
) -> tuple[list[PostRow], int]:
    """A page of `video`'s posts sorted by `sort` (one of POST_SORTS; NULLs last), and the
    number of posts matching the filters. `author` matches case-insensitively as a substring.
    Reshare edges (no counters of their own) are left out unless `reshares`.

    Raises ValueError for an unknown sort key.
    """
    if sort not in POST_SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(POST_SORTS)}")
    special: dict[str, Any] = {
        "appeared": _appeared_at(),
        "platform": Post.platform,
        "author": func.lower(Post.author),
    }
    column = special[sort] if sort in special else getattr(Post, f"latest_{sort}")
    query = _video_posts(_post_query(PostFilter(video=video)), platforms, author)
    if not reshares:
        query = query.where(_not_reshare())
    ordered = column.desc() if descending else column.asc()
    page = query.order_by(ordered.nulls_last(), Post.id).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        return [post_row(p) for p in conn.execute(page)], int(total)


def count_reshares(
    engine: Engine, video: str, *, platforms: Sequence[str] = (), author: str | None = None
) -> int:
    """How many reshare edges of `video` match the reposts table's filters."""
    query = join_videos(select(func.count()).select_from(Post)).where(
        TrackedVideo.slug == video, _is_reshare()
    )
    with engine.connect() as conn:
        return int(conn.execute(_video_posts(query, platforms, author)).scalar_one())


def get_post(engine: Engine, post_id: int) -> PostRow | None:
    """One post by its database id, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            one_row_per_post(_post_query(PostFilter())).where(Post.id == post_id)
        ).first()
    return post_row(row) if row is not None else None


def find_post(engine: Engine, platform: str, platform_post_id: str) -> PostRow | None:
    """One post by its platform key, or None."""
    query = one_row_per_post(_post_query(PostFilter(platform=platform))).where(
        Post.platform_post_id == platform_post_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return post_row(row) if row is not None else None


def child_posts(
    engine: Engine, platform: str, platform_post_id: str, *, reshares: bool = True
) -> list[PostRow]:
    """Posts whose cascade parent is the given post, oldest first (reshare edges left out
    unless `reshares`)."""
    query = (
        one_row_per_post(_post_query(PostFilter()))
        .where(Post.parent_platform == platform, Post.parent_platform_post_id == platform_post_id)
        .order_by(Post.first_seen_at, Post.id)
    )
    if not reshares:
        query = query.where(_not_reshare())
    with engine.connect() as conn:
        return [post_row(r) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class ReshareRow:
    """One reshare edge: who reshared (Bluesky repost, Mastodon boost, retweet) and when."""

    id: int
    platform: str
    author: str | None
    url: str | None
    appeared_at: datetime


@dataclass(frozen=True, slots=True)
class ReshareGroup:
    """The reshare edges of one parent post: how many, and the oldest few of them."""

    parent_platform: str
    parent_platform_post_id: str
    total: int
    edges: list[ReshareRow]


def cascade_posts(engine: Engine, video: str) -> list[PostRow]:
    """The posts of `video` that take part in its cascade, reshare edges left out: those with
    a parent, and those that are a parent (of anything, reshares included). Oldest first."""
    child = Post.__table__.alias("child")
    is_parent = (
        select(child.c.id)
        .where(
            child.c.parent_platform == Post.platform,
            child.c.parent_platform_post_id == Post.platform_post_id,
        )
        .exists()
    )
    query = (
        _post_query(PostFilter(video=video))
        .where(_not_reshare(), or_(Post.parent_platform_post_id.is_not(None), is_parent))
        .order_by(_appeared_at(), Post.id)
    )
    with engine.connect() as conn:
        return [post_row(r) for r in conn.execute(query)]


def reshare_groups(
    engine: Engine,
    video: str | None = None,
    *,
    parent: tuple[str, str] | None = None,
    limit_per_parent: int = 200,
) -> list[ReshareGroup]:
    """Reshare edges grouped by parent post (of `video`, or of the one `parent` key): each
    group's full count and its oldest `limit_per_parent` edges, oldest first."""
    appeared = _appeared_at()
    key = (Post.parent_platform, Post.parent_platform_post_id)
    edges = select(
        Post.id,
        Post.platform,
        Post.author,
        Post.url,
        appeared.label("appeared_at"),
        *key,
        func.row_number().over(partition_by=key, order_by=(appeared, Post.id)).label("rank"),
        func.count().over(partition_by=key).label("total"),
    ).where(_is_reshare(), Post.parent_platform_post_id.is_not(None))
    if video is not None:
        edges = join_videos(edges).where(TrackedVideo.slug == video)
    if parent is not None:
        edges = edges.where(Post.parent_platform == parent[0], key[1] == parent[1])
    ranked = edges.subquery()
    query = (
        select(ranked)
        .where(ranked.c.rank <= limit_per_parent)
        .order_by(ranked.c.parent_platform, ranked.c.parent_platform_post_id, ranked.c.rank)
    )
    groups: dict[tuple[str, str], ReshareGroup] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            group_key = (r.parent_platform, r.parent_platform_post_id)
            if group_key not in groups:
                groups[group_key] = ReshareGroup(*group_key, int(r.total), [])
            groups[group_key].edges.append(
                ReshareRow(r.id, r.platform, r.author, r.url, r.appeared_at)
            )
    return list(groups.values())


def manual_posts(engine: Engine) -> list[PostRow]:
    """Post URLs added by hand (dashboard or `viralwatch posts add`), per video, oldest first."""
    query = (
        _post_query(PostFilter())
        .where(PostVideo.matched_by == "manual")
        .order_by(TrackedVideo.slug, Post.first_seen_at, Post.id)
    )
    with engine.connect() as conn:
        return [post_row(r) for r in conn.execute(query)]


def post_observations(
    engine: Engine,
    post_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CounterRow]:
    """One post's readings in [since, until), oldest first: each stored row, and where its
    counters were read again unchanged, a point at the last such time (`confirmed_until`). A
    gap between points is a time the post was not read."""
    columns = (ObservationRow.observed_at, *_observation_counters(), ObservationRow.confirmed_until)
    query = select(*columns).where(ObservationRow.post_id == post_id)
    if until is not None:
        query = query.where(ObservationRow.observed_at < until)
    rows: list[Any] = []
    with engine.connect() as conn:
        if since is not None:
            # The row before the window may have been confirmed inside it.
            before = query.where(ObservationRow.observed_at < since)
            rows += conn.execute(before.order_by(ObservationRow.observed_at.desc()).limit(1)).all()
            query = query.where(ObservationRow.observed_at >= since)
        rows += conn.execute(query.order_by(ObservationRow.observed_at)).all()
    points = []
    for observed_at, *counters, confirmed_until in rows:
        if since is None or observed_at >= since:
            points.append(CounterRow(post_id, observed_at, *counters))
        inside = since is None or confirmed_until is None or confirmed_until >= since
        if confirmed_until is not None and inside and (until is None or confirmed_until < until):
            points.append(CounterRow(post_id, confirmed_until, *counters))
    return points


def counters_at(engine: Engine, post_ids: Sequence[int], at: datetime) -> dict[int, CounterRow]:
    """For each post, its newest observation at or before `at` (absent when there is none)."""
    found: dict[int, CounterRow] = {}
    ids = list(dict.fromkeys(post_ids))
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            newest = (
                select(ObservationRow.post_id, func.max(ObservationRow.observed_at).label("at"))
                .where(ObservationRow.post_id.in_(chunk), ObservationRow.observed_at <= at)
                .group_by(ObservationRow.post_id)
                .subquery()
            )
            query = select(
                ObservationRow.post_id, ObservationRow.observed_at, *_observation_counters()
            ).join(
                newest,
                (newest.c.post_id == ObservationRow.post_id)
                & (newest.c.at == ObservationRow.observed_at),
            )
            for r in conn.execute(query):
                found[r[0]] = CounterRow(*r)
    return found


def _observation_counters() -> tuple[Any, ...]:
    return tuple(getattr(ObservationRow, c) for c in COUNTERS)


def runs_between(engine: Engine, since: datetime | None, until: datetime) -> list[RunRow]:
    """Collector runs started in [since, until), plus each collector's last run before `since`
    (so a failure already under way when the window opens is known), oldest first."""
    columns = select(CollectorRun.__table__)
    query = columns.where(CollectorRun.started_at < until)
    if since is not None:
        query = query.where(CollectorRun.started_at >= since)
    queries = [query]
    if since is not None:
        queries.append(columns.where(CollectorRun.id.in_(_last_runs_before(since))))
    return _runs(engine, queries)


def _last_runs_before(since: datetime) -> Select[Any]:
    """Ids of each collector's last run before `since`: per collector (a handful, from
    collector_latest_runs), one step down its index."""
    collectors = select(CollectorLatestRun.collector).distinct().subquery()
    last_before = (
        select(CollectorRun.id)
        .where(CollectorRun.collector == collectors.c.collector)
        .where(CollectorRun.started_at < since)
        .order_by(CollectorRun.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(last_before.label("id")).select_from(collectors)


def _runs(engine: Engine, queries: Sequence[Select[Any]]) -> list[RunRow]:
    """The runs the queries find (by `collector_runs` rows), each once, oldest first."""
    runs = CollectorRun.__table__
    fields = [runs.c.id, *(runs.c[name] for name in RunRow.__dataclass_fields__)]
    rows: dict[int, RunRow] = {}
    with engine.connect() as conn:
        for q in queries:
            # Only RunRow's columns, in its field order: thousands of runs are built positionally.
            narrowed = q.with_only_columns(*fields)
            rows.update((r[0], RunRow(*r[1:])) for r in conn.execute(narrowed))
    return sorted(rows.values(), key=lambda run: (run.started_at, run.collector))


def post_events(engine: Engine, post_id: int) -> list[PostEventRow]:
    """A post's gone and returned events, oldest first (issue 8)."""
    return events_of(engine, post_id)


def first_data_at(engine: Engine) -> datetime | None:
    """The start of the oldest hour any video has readings in (one step down an index)."""
    with engine.connect() as conn:
        return conn.execute(select(func.min(VideoHourly.bucket_start))).scalar()


def gap_runs(
    engine: Engine, since: datetime | None, until: datetime, failing: Sequence[str]
) -> list[RunRow]:
    """The runs that open, extend or close a gap in [since, until): each failing run (status in
    `failing`) started there, each collector's last run before `since` when it failed, and for
    each of those the collector's first "ok" run after it (before `until`).

    Gaps read from these are the gaps read from every run of the window (the runs between a
    failing run and the next ok one change nothing), for work per failure, not per run: by the
    (status, started_at) and (collector, status, started_at) indexes."""
    runs = CollectorRun.__table__
    ok = runs.alias("ok")
    next_ok = (
        select(ok.c.id)
        .where(ok.c.collector == runs.c.collector, ok.c.status == "ok")
        .where(ok.c.started_at > runs.c.started_at, ok.c.started_at < until)
        .order_by(ok.c.started_at)
        .limit(1)
        .correlate(runs)
        .scalar_subquery()
    )
    failed = select(runs.c.id, next_ok.label("next_ok")).where(runs.c.status.in_(list(failing)))
    queries = [failed.where(runs.c.started_at < until)]
    if since is not None:
        queries[0] = queries[0].where(runs.c.started_at >= since)
        queries.append(failed.where(runs.c.id.in_(_last_runs_before(since))))
    ids: set[int] = set()
    with engine.connect() as conn:
        for query in queries:
            for run_id, closing in conn.execute(query):
                ids.update(i for i in (run_id, closing) if i is not None)
    chunks = sorted(ids)
    return _runs(
        engine,
        [
            select(runs).where(runs.c.id.in_(chunks[start : start + 500]))
            for start in range(0, len(chunks), 500)
        ],
    )
