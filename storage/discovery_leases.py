"""Leases on discovery queries, so daemons sharing a database split them (issue 8).

One row per (collector, video): when its query is next due and who holds it. A daemon claims
the due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL), runs those queries and then sets their
next time; a query is thus never run by two daemons at once nor again within its interval, and
the leases of a killed daemon are taken over once they expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, ForeignKey, Integer, String, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import conflict_insert, write_transaction
from storage.models import Base, TrackedVideo


class DiscoveryLease(Base):
    __tablename__ = "discovery_leases"

    collector: Mapped[str] = mapped_column(String(32), primary_key=True)
    video_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tracked_videos.id", ondelete="CASCADE"), primary_key=True
    )
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


def claim_queries(
    engine: Engine,
    collector: str,
    owner: str,
    now: datetime,
    lease_seconds: int,
    due_by: datetime | None = None,
) -> list[str]:
    """Slugs of the active videos whose `collector` query is due (by `due_by`, default `now`),
    now leased to `owner`; queries another process holds are left to it."""
    with write_transaction(engine) as conn:
        known = select(DiscoveryLease.video_id).where(DiscoveryLease.collector == collector)
        new = select(TrackedVideo.id).where(TrackedVideo.id.not_in(known))
        rows = [
            {"collector": collector, "video_id": v, "next_run_at": now}
            for v in conn.execute(new).scalars()
        ]
        if rows:
            # Another daemon may add the same rows at once: theirs stand.
            conn.execute(conflict_insert(conn, DiscoveryLease).on_conflict_do_nothing(), rows)
        due = (
            select(DiscoveryLease.video_id, TrackedVideo.slug)
            .join(TrackedVideo, TrackedVideo.id == DiscoveryLease.video_id)
            .where(
                DiscoveryLease.collector == collector,
                DiscoveryLease.next_run_at <= (due_by or now),
                or_(DiscoveryLease.lease_until.is_(None), DiscoveryLease.lease_until < now),
                TrackedVideo.is_paused.is_(False),
            )
            .order_by(DiscoveryLease.next_run_at)
            .with_for_update(of=DiscoveryLease, skip_locked=True)
        )
        claimed = conn.execute(due).all()
        if claimed:
            conn.execute(
                update(DiscoveryLease)
                .where(
                    DiscoveryLease.collector == collector,
                    DiscoveryLease.video_id.in_([r[0] for r in claimed]),
                )
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            )
    return [r[1] for r in claimed]


def finish_queries(
    engine: Engine,
    collector: str,
    owner: str,
    slugs: Sequence[str],
    started_at: datetime,
    interval_seconds: float,
) -> None:
    """Queries run by `owner` since `started_at`: next due one interval later, lease ended."""
    if not slugs:
        return
    videos = select(TrackedVideo.id).where(TrackedVideo.slug.in_(list(slugs)))
    with write_transaction(engine) as conn:
        conn.execute(
            update(DiscoveryLease)
            .where(
                DiscoveryLease.collector == collector,
                DiscoveryLease.lease_owner == owner,
                DiscoveryLease.video_id.in_(videos),
            )
            .values(
                lease_owner=None,
                lease_until=None,
                last_run_at=started_at,
                next_run_at=started_at + timedelta(seconds=interval_seconds),
            )
        )
