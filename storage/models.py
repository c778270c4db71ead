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
        Index("ix_posts_video_platform", "video_id", "platform"),
        Index("ix_posts_refresh", "platform", "is_gone", "latest_observed_at"),
        Index("ix_posts_parent", "parent_platform", "parent_platform_post_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("tracked_videos.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    platform_post_id: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    matched_by: Mapped[str] = mapped_column(Text, default="")
    parent_platform: Mapped[str | None] = mapped_column(String(32))
    parent_platform_post_id: Mapped[str | None] = mapped_column(String(255))
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


class Observation(Base):
    """Append-only counter readings. NULL = the platform does not expose that counter."""

    __tablename__ = "observations"
    __table_args__ = (UniqueConstraint("post_id", "observed_at", name="uq_observations_post_time"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime]
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
    observations: Mapped[int] = mapped_column(Integer, default=0)


class VideoHourly(RollupColumns, Base):
    """Counter growth per video, platform and hour.

    A running sum over hours gives the cumulative totals the charts draw, in milliseconds, without
    touching the raw observations.
    """

    __tablename__ = "video_hourly"


class Video5Min(RollupColumns, Base):
    """Counter growth per video, platform and 5 minutes: the short ranges' charts (up to 288
    points a day) and the exact "last hour" growth."""

    __tablename__ = "video_5min"


class CollectorRun(Base):
    __tablename__ = "collector_runs"
    __table_args__ = (Index("ix_collector_runs_collector_started", "collector", "started_at"),)

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
