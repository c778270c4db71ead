"""Each post's next refresh time, kept in the database (issue 8), and the leases on it.

A row of `post_schedule` per refreshable post (gone posts and reshare edges have none) holds
when the post is next due and the inputs of its policy: its age, its last count and how fast
that count moved. A refresh pass claims the due posts of one platform, most-moving first, under
a lease (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so daemons sharing a database split
them); the write that stores a post's reading sets its next time and ends the lease in the same
transaction, so a killed daemon's posts are due again once its leases expire, and a committed
reading is never taken again within its interval.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from collectors.base import KnownPost, Observation
from storage.db import conflict_insert, write_transaction
from storage.health import DueStats, aware
from storage.models import Base, Post, TrackedVideo
from storage.post_events import MISSING
from storage.video_posts import post_ids_of

# Keys per IN (...) list: well under SQLite's bound-parameter limit.
CHUNK = 500
# Relation of posts that are edges (a boost, a repost), not posts with counters of their own.
RESHARE = "reshare"


class PostSchedule(Base):
    __tablename__ = "post_schedule"
    __table_args__ = (Index("ix_post_schedule_due", "platform", "next_refresh_at"),)

    post_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    born_at: Mapped[datetime]
    next_refresh_at: Mapped[datetime]
    interval_seconds: Mapped[int] = mapped_column(Integer)
    last_count: Mapped[int | None] = mapped_column(BigInteger)
    last_read_at: Mapped[datetime | None]
    growth_per_hour: Mapped[float] = mapped_column(Float)
    errors: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class SchedulePolicy:
    """How often one platform's posts are read (see ScheduleSettings for the meaning)."""

    min_interval_seconds: int = 600
    max_interval_seconds: int = 86_400
    young_hours: float = 6.0
    age_doubling_hours: float = 12.0
    fast_growth_per_hour: float = 0.05

    def next_interval(
        self, age: timedelta, relative_growth_per_hour: float, previous_seconds: int, moved: bool
    ) -> int:
        """Seconds to the next reading, always within [min_interval, max_interval]."""
        low = self.min_interval_seconds
        high = max(low, self.max_interval_seconds)
        age_hours = max(0.0, age.total_seconds() / 3600)
        if relative_growth_per_hour >= self.fast_growth_per_hour or age_hours <= self.young_hours:
            return low
        doublings = min(60.0, (age_hours - self.young_hours) / self.age_doubling_hours)
        seconds = low * 2.0**doublings
        if not moved:
            # A count that did not change says the post has settled: back off further.
            seconds = max(seconds, 2.0 * previous_seconds)
        return int(min(high, max(low, seconds)))

    def error_interval(self, errors: int) -> int:
        """Backoff after `errors` failed readings in a row: the fastest interval after one,
        doubling with each further failure."""
        seconds = self.min_interval_seconds * 2.0 ** min(max(errors - 1, 0), 30)
        return int(min(max(self.max_interval_seconds, self.min_interval_seconds), seconds))


@dataclass(slots=True)
class Scheduling:
    """The policy per platform and this process's identity as a lease holder."""

    policies: Mapping[str, SchedulePolicy] = field(default_factory=dict)
    default: SchedulePolicy = SchedulePolicy()
    # The pid says which process holds a lease (an operator's question when one dies).
    owner: str = field(default_factory=lambda: f"{os.getpid()}:{uuid.uuid4().hex[:12]}")
    lease_seconds: int = 600

    def policy(self, platform: str) -> SchedulePolicy:
        return self.policies.get(platform, self.default)


def reading_count(obs: Observation) -> int | None:
    """The number whose movement drives the schedule: the sum of the counters the platform shows."""
    values = [v for v in (obs.views, obs.likes, obs.shares, obs.comments, obs.quotes) if v]
    return sum(values) if values or obs.views is not None else None


def _refreshable() -> Any:
    # A post gone after misses keeps its row (backing off to daily) so it can answer again;
    # one gone on explicit evidence (404, deleted marker) does not.
    live = or_(Post.is_gone.is_(False), Post.gone_reason.startswith(MISSING))
    return and_(live, or_(Post.relation.is_(None), Post.relation != RESHARE))


def ensure_scheduled(conn: Connection, platform: str, policy: SchedulePolicy) -> None:
    """Give every refreshable post of `platform` without a row one, due at once (posts new since
    the last pass, or from before the schedule existed), in one statement."""
    missing = (
        select(
            Post.id,
            Post.platform,
            func.coalesce(Post.published_at, Post.first_seen_at),
            func.coalesce(Post.latest_observed_at, Post.first_seen_at),
            literal(policy.min_interval_seconds),
            Post.latest_observed_at,
            literal(0.0),
            literal(0),
        )
        .outerjoin(PostSchedule, PostSchedule.post_id == Post.id)
        .where(Post.platform == platform, _refreshable(), PostSchedule.post_id.is_(None))
    )
    columns = [
        "post_id",
        "platform",
        "born_at",
        "next_refresh_at",
        "interval_seconds",
        "last_read_at",
        "growth_per_hour",
        "errors",
    ]
    # Daemons sharing a database may add the same post at once: the first row stands.
    insert = conflict_insert(conn, PostSchedule).from_select(columns, missing)
    conn.execute(insert.on_conflict_do_nothing())


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def claim_due(
    engine: Engine,
    scheduling: Scheduling,
    platform: str,
    now: datetime,
    limit: int,
    due_by: datetime | None = None,
) -> list[KnownPost]:
    """Lease up to `limit` due posts of `platform` to this process: never-read posts first, then
    the most-moving, then the longest waiting. Posts leased to another live process are skipped."""
    if limit <= 0:
        return []
    lease_until = now + _seconds(scheduling.lease_seconds)
    with write_transaction(engine) as conn:
        ensure_scheduled(conn, platform, scheduling.policy(platform))
        due = (
            select(PostSchedule.post_id)
            .where(
                PostSchedule.platform == platform,
                PostSchedule.next_refresh_at <= (due_by or now),
                or_(PostSchedule.lease_until.is_(None), PostSchedule.lease_until < now),
                PostSchedule.post_id.in_(_collected_posts()),
            )
            .order_by(
                case((PostSchedule.last_read_at.is_(None), 0), else_=1),
                PostSchedule.growth_per_hour.desc(),
                PostSchedule.next_refresh_at,
            )
            .limit(limit)
            # Another daemon's claim in progress: take the next rows rather than wait for it.
            .with_for_update(of=PostSchedule, skip_locked=True)
        )
        ids = list(conn.execute(due).scalars())
        if not ids:
            return []
        for chunk in _chunks(ids):
            conn.execute(
                update(PostSchedule)
                .where(PostSchedule.post_id.in_(chunk))
                .values(lease_owner=scheduling.owner, lease_until=lease_until)
            )
        posts: dict[int, KnownPost] = {}
        for chunk in _chunks(ids):
            query = select(Post.id, Post.platform, Post.platform_post_id, Post.url, Post.extra)
            for r in conn.execute(query.where(Post.id.in_(chunk))):
                posts[r[0]] = KnownPost(r[1], r[2], url=r[3], extra=r[4] or {})
    # In claim order, so a pass cut short by its budget has read the most-moving posts.
    return [posts[i] for i in ids if i in posts]


def release(engine: Engine, scheduling: Scheduling, posts: Sequence[KnownPost]) -> None:
    """End this process's leases on `posts` without reading them: they stay due, and wait."""
    with write_transaction(engine) as conn:
        for ids in _post_ids(conn, [(p.platform, p.platform_post_id) for p in posts]):
            conn.execute(
                update(PostSchedule)
                .where(PostSchedule.post_id.in_(ids), PostSchedule.lease_owner == scheduling.owner)
                .values(lease_owner=None, lease_until=None)
            )


# What a reading sets on its post's row (storage/bulk.py writes them in one statement per
# batch, in the transaction that stores the readings), and what it clears: the errors and lease.
READ_COLUMNS = (
    "next_refresh_at",
    "interval_seconds",
    "last_count",
    "last_read_at",
    "growth_per_hour",
)
READ_CONSTANTS = "errors = 0, lease_owner = NULL, lease_until = NULL"


def after_readings(
    scheduling: Scheduling, readings: Iterable[tuple[int, Observation, tuple[Any, ...]]]
) -> list[tuple[datetime, int, int | None, datetime, float, int]]:
    """The READ_COLUMNS values, then the post id, of each post read: (post id, its newest
    reading, its schedule row as (born_at, interval_seconds, last_count, last_read_at))."""
    return [_after_reading(scheduling, obs, post_id, *row) for post_id, obs, row in readings]


def _after_reading(
    scheduling: Scheduling,
    obs: Observation,
    post_id: int,
    born_at: datetime,
    previous_seconds: int,
    last_count: int | None,
    last_read_at: datetime | None,
) -> tuple[datetime, int, int | None, datetime, float, int]:
    """(next refresh time, interval, count, read at, growth per hour, post id) after `obs`."""
    policy = scheduling.policy(obs.platform)
    count = reading_count(obs)
    growth = relative = 0.0
    moved = last_read_at is None
    if count is not None and last_count is not None and last_read_at is not None:
        hours = max((obs.observed_at - last_read_at).total_seconds() / 3600, 1 / 3600)
        growth = max(0, count - last_count) / hours
        relative = growth / max(last_count, 1)
        moved = count != last_count
    if last_read_at is None:
        # One reading says nothing of growth: the next comes soon, to measure it.
        interval = policy.min_interval_seconds
    else:
        interval = policy.next_interval(
            obs.observed_at - born_at, relative, previous_seconds, moved
        )
    next_at = obs.observed_at + _seconds(interval)
    kept_count = count if count is not None else last_count
    return (next_at, interval, kept_count, obs.observed_at, growth, post_id)


def _update_by_id() -> Any:
    return (
        update(PostSchedule)
        .where(PostSchedule.post_id == bindparam("key"))
        .values(lease_owner=None, lease_until=None)
    )


def record_failures(
    conn: Connection, scheduling: Scheduling, keys: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Posts that could not be read: retried later, each failure in a row doubling the wait."""
    for ids in _post_ids(conn, keys):
        rows = conn.execute(
            select(PostSchedule.post_id, PostSchedule.platform, PostSchedule.errors).where(
                PostSchedule.post_id.in_(ids)
            )
        ).all()
        changes = [
            {
                "key": post_id,
                "errors": errors + 1,
                "next_refresh_at": now
                + _seconds(scheduling.policy(platform).error_interval(errors + 1)),
            }
            for post_id, platform, errors in rows
        ]
        if changes:
            conn.execute(_update_by_id(), changes)


def unschedule(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Gone posts are never refreshed: drop their rows (a post that comes back gets a new one)."""
    for ids in _post_ids(conn, keys):
        conn.execute(delete(PostSchedule).where(PostSchedule.post_id.in_(ids)))


def _collected_posts() -> Select[Any]:
    # A post shared by several videos is due once, while any of them is collected.
    return post_ids_of(TrackedVideo.id).where(TrackedVideo.is_paused.is_(False))


def due_counts(engine: Engine, now: datetime, scheduling: Scheduling) -> list[DueStats]:
    """Due and overdue posts per platform (overdue: a whole interval past the due time). A post
    without a row yet (found since the last pass) is due since it was first seen."""
    query = (
        select(
            Post.platform,
            func.coalesce(PostSchedule.next_refresh_at, Post.first_seen_at),
            PostSchedule.interval_seconds,
        )
        .outerjoin(PostSchedule, PostSchedule.post_id == Post.id)
        .where(
            _refreshable(),
            Post.id.in_(_collected_posts()),
            or_(PostSchedule.next_refresh_at.is_(None), PostSchedule.next_refresh_at <= now),
        )
    )
    counts: dict[str, list[float]] = {}
    with engine.connect() as conn:
        for platform, due_at, interval in conn.execute(query):
            lag = (now - aware(due_at)).total_seconds()
            if lag < 0:
                continue
            minimum = interval or scheduling.policy(platform).min_interval_seconds
            entry = counts.setdefault(platform, [0, 0, 0.0])
            entry[0] += 1
            entry[1] += lag >= minimum
            entry[2] = max(entry[2], lag)
    return [DueStats(p, int(e[0]), int(e[1]), e[2]) for p, e in sorted(counts.items())]


def _post_ids(conn: Connection, keys: Sequence[tuple[str, str]]) -> Iterable[list[int]]:
    """Post ids of (platform, platform_post_id) keys, a chunk at a time."""
    for chunk in _chunks(list(dict.fromkeys(keys))):
        by_platform: dict[str, list[str]] = {}
        for platform, post_id in chunk:
            by_platform.setdefault(platform, []).append(post_id)
        condition = or_(
            *(
                and_(Post.platform == platform, Post.platform_post_id.in_(ids))
                for platform, ids in by_platform.items()
            )
        )
        ids = list(conn.execute(select(Post.id).where(condition)).scalars())
        if ids:
            yield ids


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def interval_promise(policy: SchedulePolicy, tick_seconds: int) -> float:
    """The longest a fast-growing post waits between readings: its interval plus one tick."""
    return float(policy.min_interval_seconds + tick_seconds)
