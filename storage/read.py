"""Readers: plain typed rows for the dashboard and export. ORM objects never leave storage/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select

from storage.models import CollectorRun, Post, TrackedVideo
from storage.models import Observation as ObservationRow

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
    parent_platform: str | None
    parent_platform_post_id: str | None
    relation: str | None
    is_gone: bool
    gone_at: datetime | None
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


@dataclass(frozen=True, slots=True)
class PostFilter:
    """Which posts a query covers; every field optional."""

    video: str | None = None
    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_videos(engine: Engine) -> list[VideoRow]:
    """Every tracked video with its post count, oldest first."""
    counts = select(Post.video_id, func.count().label("n")).group_by(Post.video_id).subquery()
    videos = TrackedVideo.__table__
    query = (
        select(videos, func.coalesce(counts.c.n, 0).label("post_count"))
        .outerjoin(counts, counts.c.video_id == videos.c.id)
        .order_by(videos.c.id)
    )
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
    query = select(Post.__table__, TrackedVideo.slug.label("video_slug")).join(
        TrackedVideo, TrackedVideo.id == Post.video_id
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


def post_row(post: Any) -> PostRow:
    """A PostRow from a row of `posts` joined with its video's slug as `video_slug`."""
    return PostRow(
        id=post.id,
        video=post.video_slug,
        platform=post.platform,
        platform_post_id=post.platform_post_id,
        url=post.url,
        author=post.author,
        text=post.text,
        published_at=post.published_at,
        first_seen_at=post.first_seen_at,
        matched_by=post.matched_by,
        parent_platform=post.parent_platform,
        parent_platform_post_id=post.parent_platform_post_id,
        relation=post.relation,
        is_gone=post.is_gone,
        gone_at=post.gone_at,
        latest_observed_at=post.latest_observed_at,
        views=post.latest_views,
        likes=post.latest_likes,
        shares=post.latest_shares,
        comments=post.latest_comments,
        quotes=post.latest_quotes,
    )


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
        )
        .join(Post, Post.id == ObservationRow.post_id)
        .join(TrackedVideo, TrackedVideo.id == Post.video_id)
        .order_by(ObservationRow.post_id, ObservationRow.observed_at)
    )
    if flt.video:
        query = query.where(TrackedVideo.slug == flt.video)
    if flt.platform:
        query = query.where(Post.platform == flt.platform)
    if flt.since:
        query = query.where(ObservationRow.observed_at >= flt.since)
    if flt.until:
        query = query.where(ObservationRow.observed_at < flt.until)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for row in result:
            yield ObservationExportRow(*row)


def count_rows(engine: Engine, what: str, flt: PostFilter) -> int:
    """How many rows an export of `what` ("posts" or "observations") will write."""
    if what == "posts":
        query = select(func.count()).select_from(_post_query(flt).subquery())
    else:
        base = select(ObservationRow.id).join(Post, Post.id == ObservationRow.post_id)
        base = base.join(TrackedVideo, TrackedVideo.id == Post.video_id)
        if flt.video:
            base = base.where(TrackedVideo.slug == flt.video)
        if flt.platform:
            base = base.where(Post.platform == flt.platform)
        if flt.since:
            base = base.where(ObservationRow.observed_at >= flt.since)
        if flt.until:
            base = base.where(ObservationRow.observed_at < flt.until)
        query = select(func.count()).select_from(base.subquery())
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def latest_runs(engine: Engine) -> list[RunRow]:
    """The most recent run of each collector (any kind)."""
    newest = (
        select(CollectorRun.collector, func.max(CollectorRun.id).label("id"))
        .group_by(CollectorRun.collector)
        .subquery()
    )
    query = (
        select(CollectorRun.__table__)
        .join(newest, newest.c.id == CollectorRun.id)
        .order_by(CollectorRun.collector)
    )
    with engine.connect() as conn:
        return [
            RunRow(
                collector=r.collector,
                kind=r.kind,
                started_at=r.started_at,
                finished_at=r.finished_at,
                status=r.status,
                requests=r.requests,
                posts_found=r.posts_found,
                observations_written=r.observations_written,
                error_message=r.error_message,
                retry_at=r.retry_at,
            )
            for r in conn.execute(query)
        ]
