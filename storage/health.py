"""Daemon heartbeats and the numbers an operator watches: is a daemon alive, how late are posts.

Additive to the core schema (issues 8 and 13): every running daemon upserts one row of
`daemon_heartbeats` every `heartbeat_seconds`, and marks it stopped on a clean exit. A killed or
stuck daemon simply stops beating, so "no fresh beat within two intervals" is what makes it
visible, on the dashboard and in `/healthz`, without the dead process having to say anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Float, Integer, String, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import SchemaNotCurrent, StorageError, check_schema
from storage.models import Base

# A daemon is alive while its last beat is younger than this many of its intervals.
MISSED_BEATS = 2


class DaemonHeartbeat(Base):
    __tablename__ = "daemon_heartbeats"

    daemon_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    interval_seconds: Mapped[float] = mapped_column(Float)
    stopped_at: Mapped[datetime | None]


@dataclass(frozen=True, slots=True)
class HeartbeatRow:
    daemon_id: str
    hostname: str
    pid: int
    started_at: datetime
    beat_at: datetime
    interval_seconds: float
    stopped_at: datetime | None

    def is_alive(self, now: datetime) -> bool:
        if self.stopped_at is not None:
            return False
        return now - self.beat_at <= timedelta(seconds=MISSED_BEATS * self.interval_seconds)


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """Whether any daemon is collecting; `since` is when the last one stopped or went quiet."""

    is_running: bool
    since: datetime | None
    daemons: list[HeartbeatRow]


def beat(engine: Engine, row: HeartbeatRow) -> None:
    """Insert or refresh this daemon's heartbeat row."""
    values = {name: getattr(row, name) for name in HeartbeatRow.__dataclass_fields__}
    with engine.begin() as conn:
        changed = conn.execute(
            update(DaemonHeartbeat)
            .where(DaemonHeartbeat.daemon_id == row.daemon_id)
            .values(beat_at=row.beat_at, interval_seconds=row.interval_seconds, stopped_at=None)
        ).rowcount
        if not changed:
            conn.execute(insert(DaemonHeartbeat).values(**values))


def mark_stopped(engine: Engine, daemon_id: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(DaemonHeartbeat)
            .where(DaemonHeartbeat.daemon_id == daemon_id)
            .values(stopped_at=at, beat_at=at)
        )


def heartbeats(engine: Engine) -> list[HeartbeatRow]:
    """Every daemon that ever beat on this database, newest beat first."""
    query = select(DaemonHeartbeat.__table__).order_by(DaemonHeartbeat.beat_at.desc())
    with engine.connect() as conn:
        return [
            HeartbeatRow(**{name: getattr(r, name) for name in HeartbeatRow.__dataclass_fields__})
            for r in conn.execute(query)
        ]


def daemon_status(engine: Engine, now: datetime) -> DaemonStatus:
    rows = heartbeats(engine)
    if any(row.is_alive(now) for row in rows):
        return DaemonStatus(True, None, rows)
    # The newest beat is when collection was last known to work (None: no daemon ever ran).
    return DaemonStatus(False, rows[0].beat_at if rows else None, rows)


def check_database(engine: Engine) -> str:
    """ "ok" when the database answers with this version's schema, else a short reason that
    names no URL (it is shown without a token)."""
    try:
        check_schema(engine)
    except SchemaNotCurrent:
        return "schema not current; run `viralwatch db upgrade`"
    except (StorageError, SQLAlchemyError):
        return "does not answer"
    return "ok"


@dataclass(frozen=True, slots=True)
class DueStats:
    """One platform's refresh backlog: posts due now, overdue (late by a whole interval more),
    and how long the longest-waiting due post has waited past its due time."""

    platform: str
    due: int
    overdue: int
    oldest_lag_seconds: float


def aware(moment: datetime) -> datetime:
    # func.min() bypasses the column type, so SQLite hands back naive UTC (or text).
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
