"""A post's lifecycle: consecutive misses, gone, and back again, each kept as an event (issue 8).

Additive to the core schema (migration 0055). A post is gone on explicit evidence (a collector's
`Gone`: 404/410, a deleted marker, a documented "not found") or after `misses_before_gone`
answers in a row left it out (`PostError(is_miss=True)`). A reading between two misses starts
the count again: `post_misses.last_miss_at` older than the post's latest reading means the
earlier misses were not consecutive, so the observation writer keeps no count. A post gone after
misses keeps its place in the refresh schedule (storage/schedule.py), backing off to daily, so it
is asked for again; a gone post that answers (a reading) or that discovery
finds again comes back. Both events stay in `post_events`, shown on the post's page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from collectors.base import Gone, PostError
from storage.models import Base, Post

# Keys per IN (...) lookup, well under SQLite's bound-parameter limit.
CHUNK = 500


class PostMiss(Base):
    __tablename__ = "post_misses"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer)
    last_miss_at: Mapped[datetime]


class PostEvent(Base):
    __tablename__ = "post_events"
    __table_args__ = (Index("ix_post_events_post_at", "post_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    """"gone" or "returned"."""
    reason: Mapped[str | None] = mapped_column(Text)


MISSING = "missing from"
"""How the reason of a post gone after misses begins."""


@dataclass(frozen=True, slots=True)
class PostEventRow:
    at: datetime
    kind: str
    reason: str | None


def _post(conn: Connection, platform: str, post_id: str) -> tuple[int, bool, datetime | None]:
    """(id, is_gone, latest_observed_at) of a stored post; raises LookupError when unknown."""
    row = conn.execute(
        select(Post.id, Post.is_gone, Post.latest_observed_at).where(
            Post.platform == platform, Post.platform_post_id == post_id
        )
    ).first()
    if row is None:
        raise LookupError(f"no post {platform}/{post_id}")
    return row[0], row[1], row[2]


def mark_gone(conn: Connection, gone: Sequence[Gone]) -> int:
    """Mark live posts gone with a "gone" event each; returns how many changed."""
    changed = 0
    for item in gone:
        try:
            post_id, is_gone, _ = _post(conn, item.platform, item.platform_post_id)
        except LookupError:
            continue
        if not is_gone:
            _set_gone(conn, post_id, item.detected_at, item.reason)
            changed += 1
    return changed


def _set_gone(conn: Connection, post_id: int, at: datetime, reason: str) -> None:
    conn.execute(
        update(Post).where(Post.id == post_id).values(is_gone=True, gone_at=at, gone_reason=reason)
    )
    conn.execute(insert(PostEvent).values(post_id=post_id, at=at, kind="gone", reason=reason))


def count_misses(conn: Connection, misses: Sequence[PostError], limit: int) -> int:
    """Count each miss; a post left out of `limit` answers in a row is gone. Returns how many
    went gone."""
    went = 0
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    for miss in misses:
        try:
            post_id, is_gone, latest_at = _post(conn, miss.platform, miss.platform_post_id)
        except LookupError:
            continue
        if is_gone:
            continue
        before = conn.execute(
            select(PostMiss.count, PostMiss.last_miss_at).where(PostMiss.post_id == post_id)
        ).first()
        # A reading since the last miss breaks the run: the count starts again.
        consecutive = before is not None and (latest_at is None or latest_at <= before[1])
        count = before[0] + 1 if consecutive and before is not None else 1
        statement = module.insert(PostMiss).values(
            post_id=post_id, count=count, last_miss_at=miss.detected_at
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["post_id"],
                set_={"count": count, "last_miss_at": miss.detected_at},
            )
        )
        if count >= limit:
            reason = f"{MISSING} {count} answers in a row ({miss.message})"
            _set_gone(conn, post_id, miss.detected_at, reason[:2000])
            went += 1
    return went


def revive(conn: Connection, keys: Sequence[tuple[str, str]], at: datetime, how: str) -> int:
    """Gone posts among `keys` that answered again (`how`): live again, with a "returned"
    event and their misses forgotten. Returns how many came back."""
    by_platform: dict[str, list[str]] = defaultdict(list)
    for platform, platform_post_id in keys:
        by_platform[platform].append(platform_post_id)
    gone: list[int] = []
    for platform, ids in by_platform.items():
        for start in range(0, len(ids), CHUNK):
            gone += conn.execute(
                select(Post.id).where(
                    Post.platform == platform,
                    Post.platform_post_id.in_(ids[start : start + CHUNK]),
                    Post.is_gone.is_(True),
                )
            ).scalars()
    return revive_ids(conn, gone, at, how)


def revive_ids(conn: Connection, gone: Sequence[int], at: datetime, how: str) -> int:
    """`revive` for posts known to be gone, by id."""
    for post_id in gone:
        conn.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(is_gone=False, gone_at=None, gone_reason=None)
        )
        conn.execute(delete(PostMiss).where(PostMiss.post_id == post_id))
        conn.execute(insert(PostEvent).values(post_id=post_id, at=at, kind="returned", reason=how))
    return len(gone)


def events_of(engine: Engine, post_id: int) -> list[PostEventRow]:
    """The post's gone and returned events, oldest first."""
    query = (
        select(PostEvent.at, PostEvent.kind, PostEvent.reason)
        .where(PostEvent.post_id == post_id)
        .order_by(PostEvent.at, PostEvent.id)
    )
    with engine.connect() as conn:
        return [PostEventRow(*row) for row in conn.execute(query)]
