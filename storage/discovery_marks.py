"""Discovery high-water marks: how far each (video, collector, query) has been read (issue 8).

Additive to the core schema (migration 0055). The rule that uses them is collectors/sweep.py;
this module only keeps them. A mark is saved after the posts it covers are stored, so a crash in
between reads those posts again rather than skipping them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, Engine, ForeignKey, String, Text, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from collectors.base import QueryMark
from storage.db import write_transaction
from storage.models import Base, TrackedVideo


class DiscoveryMark(Base):
    __tablename__ = "discovery_marks"

    video_id: Mapped[int] = mapped_column(
        ForeignKey("tracked_videos.id", ondelete="CASCADE"), primary_key=True
    )
    collector: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Queries can be long (URLs, OR-ed phrases): the key is their digest, the text is kept too.
    query_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    floor: Mapped[datetime | None]
    top: Mapped[datetime | None]
    resume: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


def query_key(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def _video_id(conn: Connection, slug: str) -> int | None:
    return conn.execute(select(TrackedVideo.id).where(TrackedVideo.slug == slug)).scalar()


def load(engine: Engine, video_slug: str, collector: str) -> dict[str, QueryMark]:
    """The stored marks of `collector`'s queries for the video (empty when none)."""
    query = (
        select(DiscoveryMark.query, DiscoveryMark.floor, DiscoveryMark.top, DiscoveryMark.resume)
        .join(TrackedVideo, TrackedVideo.id == DiscoveryMark.video_id)
        .where(TrackedVideo.slug == video_slug, DiscoveryMark.collector == collector)
    )
    with engine.connect() as conn:
        return {row[0]: QueryMark(row[1], row[2], row[3]) for row in conn.execute(query)}


def save(
    engine: Engine, video_slug: str, collector: str, marks: dict[str, QueryMark], now: datetime
) -> None:
    """Upsert the marks (a removed video's marks are gone with it: nothing to save)."""
    if not marks:
        return
    with write_transaction(engine) as conn:
        video_id = _video_id(conn, video_slug)
        if video_id is None:
            return
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        rows = [
            {
                "video_id": video_id,
                "collector": collector,
                "query_key": query_key(text),
                "query": text,
                "floor": mark.floor,
                "top": mark.top,
                "resume": mark.resume,
                "updated_at": now,
            }
            for text, mark in marks.items()
        ]
        statement = module.insert(DiscoveryMark)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["video_id", "collector", "query_key"],
                set_={
                    name: statement.excluded[name]
                    for name in ("floor", "top", "resume", "updated_at")
                },
            ),
            rows,
        )


def forget(conn: Connection, video_id: int) -> None:
    """Drop a video's marks (its description changed), inside the caller's transaction."""
    conn.execute(delete(DiscoveryMark).where(DiscoveryMark.video_id == video_id))
