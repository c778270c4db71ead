"""The shapes of the JSON API's answers, for its OpenAPI document (issue 13).

The handlers build plain dicts (see app.py); these models only describe them, and the
schemathesis test checks every answer against them, so a field added, renamed or typed
differently fails the suite until the model says so too.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    detail: str


class Counters(Answer):
    views: int | None
    likes: int | None
    shares: int | None
    comments: int | None
    quotes: int | None


class VideoSummary(Counters):
    slug: str
    title: str
    is_paused: bool
    posts: int
    reshares: int
    platforms: list[str]
    growth_views_1h: int | None
    growth_views_24h: int | None
    growth_views_window: int | None
    last_observed_at: datetime | None


class VideoList(Answer):
    videos: list[VideoSummary]


class PlatformTotal(Counters):
    platform: str
    posts: int
    reshares: int
    first_appeared_at: datetime | None
    last_observed_at: datetime | None


class Appearance(Answer):
    platform: str
    appeared_at: datetime
    post_id: int
    platform_post_id: str
    author: str | None
    url: str | None


class VideoDetail(VideoSummary):
    keywords: list[str]
    hashtags: list[str]
    urls: list[str]
    started_at: datetime | None
    created_at: datetime | None
    platform_totals: list[PlatformTotal]
    first_appearances: list[Appearance]


class PostListed(Counters):
    id: int
    platform: str
    platform_post_id: str
    url: str | None
    author: str | None
    appeared_at: datetime | None
    first_seen_at: datetime | None
    latest_observed_at: datetime | None
    growth_views: int | None
    parent_platform: str | None
    parent_platform_post_id: str | None
    relation: str | None
    is_gone: bool
    text: str | None
    last_error: str | None
    matched_by: str = Field(
        description="How it matched this video: url, keyword, hashtag, "
        "manual (hand-added) or cascade (reshare of a matched post)"
    )
    matched_term: str = Field(description="The video's URL, keyword or hashtag that matched")
    matched_videos: str = Field(description="Every video it matched, space-separated slugs")


class PostList(Answer):
    total: int
    reshares: int
    reshares_listed: bool
    page: int
    limit: int
    posts: list[PostListed]


class Gap(Answer):
    collector: str
    status: str
    start: datetime
    end: datetime
    message: str | None


class GapGrowthRow(Answer):
    platform: str
    bucket_start: datetime
    since: datetime
    until: datetime
    label: str


class SeriesAnswer(Answer):
    video: str
    metric: str
    cumulative: bool
    bucket_minutes: int
    bucket_hours: float
    bucket_starts: list[datetime]
    times: list[datetime]
    platforms: dict[str, list[float | None]]
    gaps: list[Gap]
    gap_growth: list[GapGrowthRow]


class ObservationRow(Counters):
    observed_at: datetime


class PostEvent(Answer):
    at: datetime
    event: str
    """"gone" or "returned" (issue 8)."""
    reason: str | None


class ObservationList(Answer):
    post_id: int
    platform: str
    platform_post_id: str
    observations: list[ObservationRow]
    events: list[PostEvent]


class CollectorRow(Answer):
    collector: str
    state: str
    label: str
    last_run_at: datetime | None
    retry_at: datetime | None
    error_message: str | None


class CollectorList(Answer):
    collectors: list[CollectorRow]


ANSWERS: dict[str, type[Answer]] = {
    "/api/videos": VideoList,
    "/api/videos/{slug}": VideoDetail,
    "/api/videos/{slug}/posts": PostList,
    "/api/videos/{slug}/series": SeriesAnswer,
    "/api/posts/{post_id}/observations": ObservationList,
    "/api/collectors": CollectorList,
}
"""The model of each JSON route's 200 answer, by path."""
