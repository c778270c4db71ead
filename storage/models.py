"""SQLAlchemy 2 typed models. Every change here needs an Alembic migration in migrations/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Longest key a platform produces (URLs as keys, e.g. the `urls` collector): the writer refuses
# longer ones with a clear message rather than letting the database truncate or fail.
MAX_KEY_LENGTH = 2048


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class TrackedVideo(Base):
    __tablename__ = "tracked_videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    hashtags: Mapped[list[str]] = mapped_column(default=list)
    urls: Mapped[list[str]] = mapped_column(default=list)
    started_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="cli")
    """Where it was added: config, cli or dashboard (see ConfigVideoSync for who owns what)."""


class ConfigVideoSync(Base):
    """The version of each config-file video last applied to `tracked_videos`.

    `run` and `collect` apply a `[[videos]]` entry only when its fingerprint differs from the one
    stored here: the last edit wins, wherever it was made, and nothing is silently undone.
    """

    __tablename__ = "config_video_syncs"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime]


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "platform_post_id", name="uq_posts_platform_post"),
        # Not on latest_observed_at: the writer updates it on every reading, and on PostgreSQL an
        # update touching no indexed column is HOT (no index writes at all).
        Index("ix_posts_refresh", "platform", "is_gone"),
        Index("ix_posts_parent", "parent_platform", "parent_platform_post_id"),
        # Overperformance peers: a platform's most recently published posts, newest first, read
        # from the index in order (published_at never changes: the writer's updates stay HOT).
        Index("ix_posts_platform_published", "platform", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_post_id: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    parent_platform: Mapped[str | None] = mapped_column(String(32))
    parent_platform_post_id: Mapped[str | None] = mapped_column(String(MAX_KEY_LENGTH))
    relation: Mapped[str | None] = mapped_column(String(16))
    is_gone: Mapped[bool] = mapped_column(Boolean, default=False)
    gone_at: Mapped[datetime | None]
    gone_reason: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    """Why the last refresh could not read this post (cleared by the next good reading)."""
    last_error_at: Mapped[datetime | None]
    # Latest counters, kept by write.py so overview pages never scan observations.
    latest_observed_at: Mapped[datetime | None]
    latest_views: Mapped[int | None] = mapped_column(BigInteger)
    latest_likes: Mapped[int | None] = mapped_column(BigInteger)
    latest_shares: Mapped[int | None] = mapped_column(BigInteger)
    latest_comments: Mapped[int | None] = mapped_column(BigInteger)
    latest_quotes: Mapped[int | None] = mapped_column(BigInteger)
    latest_row_at: Mapped[datetime | None]
    """observed_at of the observation row holding the latest counters (an unchanged reading
    extends that row's confirmed_until instead of adding a row)."""


class PostVideo(Base):
    """Which tracked videos a post carries, and why: a post shared by two videos counts in both.

    `matched_by` is how the post matched: url, keyword, hashtag, manual (added by hand) or
    cascade (a reshare or crosspost of a matched post); `matched_term` the video's URL, keyword
    or hashtag that matched ("" for the others). Keyed by video first: every per-video read is an
    index range.
    """

    __tablename__ = "post_videos"
    __table_args__ = (
        Index("ix_post_videos_post", "post_id"),
        Index("ix_post_videos_matched_by", "matched_by"),
    )

    video_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_videos.id", ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    matched_by: Mapped[str] = mapped_column(Text, default="")
    matched_term: Mapped[str] = mapped_column(Text, default="")
    first_matched_at: Mapped[datetime]


class Observation(Base):
    """Counter readings, one row per change. NULL = the platform does not expose that counter.

    A reading equal to the post's latest adds no row: it moves that row's `confirmed_until`
    forward, so a series tells "read and unchanged until T" from "not read". Keyed by
    (post_id, observed_at), no surrogate id. On PostgreSQL the table is range-partitioned by
    observed_at, one partition per month (see storage/partitions.py and migration 0004).
    """

    __tablename__ = "observations"
    __table_args__ = (
        {"sqlite_with_rowid": False, "postgresql_partition_by": "RANGE (observed_at)"},
    )

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE", name="fk_observations_post"), primary_key=True
    )
    observed_at: Mapped[datetime] = mapped_column(primary_key=True)
    confirmed_until: Mapped[datetime | None]
    views: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    quotes: Mapped[int | None] = mapped_column(BigInteger)


class RollupColumns:
    """Per video, platform and time bucket: how much each counter grew (sum of per-post deltas).

    Shared by the hourly and 5-minute rollups, which write.py keeps consistent: the 5-minute
    buckets of an hour add up to that hour's row.
    """

    video_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_videos.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    views_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    likes_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    shares_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    comments_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    quotes_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    # The part of each delta that is posts' first readings (baselines, never growth: issue 11).
    views_baseline: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    likes_baseline: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    shares_baseline: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    comments_baseline: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    quotes_baseline: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    observations: Mapped[int] = mapped_column(Integer, default=0)


class VideoHourly(RollupColumns, Base):
    """Counter growth per video, platform and hour.

    A running sum over hours gives the cumulative totals the charts draw, in milliseconds, without
    touching the raw observations.
    """

    __tablename__ = "video_hourly"
    # Time ranges of one video (all platforms), and of every video (the overview).
    __table_args__ = (
        Index("ix_video_hourly_video_bucket", "video_id", "bucket_start"),
        Index("ix_video_hourly_bucket", "bucket_start"),
    )


class Video5Min(RollupColumns, Base):
    """Counter growth per video, platform and 5 minutes: the short ranges' charts (up to 288
    points a day) and the exact "last hour" growth."""

    __tablename__ = "video_5min"
    __table_args__ = (
        Index("ix_video_5min_video_bucket", "video_id", "bucket_start"),
        Index("ix_video_5min_bucket", "bucket_start"),
    )


class CollectorRun(Base):
    __tablename__ = "collector_runs"
    __table_args__ = (
        Index("ix_collector_runs_collector_started", "collector", "started_at"),
        Index("ix_collector_runs_started", "started_at"),
        # The gap reader: failing runs of a window, then each one's next ok run.
        Index("ix_collector_runs_status_started", "status", "started_at"),
        Index("ix_collector_runs_collector_status_started", "collector", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collector: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    video_slug: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    posts_found: Mapped[int] = mapped_column(Integer, default=0)
    observations_written: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]


class CollectorLatestRun(Base):
    """The newest run of each collector and kind, kept by write.py so the collectors table reads
    a handful of rows however long `collector_runs` grows."""

    __tablename__ = "collector_latest_runs"

    collector: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)


# --- alerts (issue 12): appended, additive only -------------------------------------------------


class Alert(Base):
    """One fired alert: a rule's message about one video ("" for collection health).

    `dedupe_key` makes firing an insert guarded by a unique key, so daemons sharing a database
    fire each alert once (alerts/ derives it from the previous alert of the same rule and video).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "video_slug", "dedupe_key", name="uq_alerts_rule_video_dedupe"),
        Index("ix_alerts_fired_at", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    video_slug: Mapped[str] = mapped_column(String(80), default="")
    dedupe_key: Mapped[str] = mapped_column(String(200))
    fired_at: Mapped[datetime]
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What happened: summary, numbers, items (posts, platforms, collectors), link."""


class AlertDelivery(Base):
    """Delivery of one alert to one target. `target` is the masked label, never the URL."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "target_name", name="uq_alert_deliveries_alert_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    target_name: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending, sent or failed (after the last try)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
