"""Monthly range partitions of `observations` on PostgreSQL (SQLite keeps one plain table).

Partitions are named `observations_pYYYYMM` and cover one calendar month of observed_at (UTC).
The daemon creates them ahead of time; the writer creates any missing one a batch needs (a late
or back-dated reading), so a write never fails for want of a partition. Old partitions can be
detached (and dropped) whole: expiring a month is a catalogue change, not a DELETE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

# Serialises partition DDL between writers and daemons (pg_advisory_xact_lock key).
PARTITION_LOCK_KEY = 0x76697262
_NAME = re.compile(r"^observations_p(\d{4})(\d{2})$")


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def partition_name(start: datetime) -> str:
    return f"observations_p{start.year:04d}{start.month:02d}"


def existing_partitions(conn: Connection) -> set[str]:
    """Names of the partitions attached to `observations` in the current schema."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'observations'::regclass"
    )
    return {row[0] for row in rows}


def ensure_partitions(conn: Connection, moments: Iterable[datetime]) -> None:
    """Create the monthly partitions holding `moments` that do not exist yet (PostgreSQL only;
    runs in the caller's transaction)."""
    if conn.dialect.name != "postgresql":
        return
    starts = {month_start(m) for m in moments}
    if not starts:
        return
    present = existing_partitions(conn)
    missing = sorted(s for s in starts if partition_name(s) not in present)
    if not missing:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK_KEY})
    for start in missing:
        # Names and bounds come from datetimes, never from input text.
        conn.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {partition_name(start)} PARTITION OF observations "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{next_month(start).isoformat()}')"
        )


def create_ahead(engine: Engine, now: datetime, months_ahead: int = 2) -> None:
    """Make sure this month's and the next `months_ahead` months' partitions exist."""
    if engine.dialect.name != "postgresql":
        return
    start = month_start(now)
    months = [start]
    for _ in range(months_ahead):
        months.append(next_month(months[-1]))
    with engine.begin() as conn:
        ensure_partitions(conn, months)


def detach_before(engine: Engine, cutoff: datetime, *, drop: bool = False) -> list[str]:
    """Detach (and with `drop`, drop) every partition whose month ends at or before `cutoff`;
    returns their names. On SQLite there are no partitions: returns []."""
    if engine.dialect.name != "postgresql":
        return []
    done = []
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PARTITION_LOCK_KEY})
        for name in sorted(existing_partitions(conn)):
            match = _NAME.match(name)
            if match is None:
                continue
            start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            if next_month(start) > cutoff:
                continue
            conn.exec_driver_sql(f"ALTER TABLE observations DETACH PARTITION {name}")
            if drop:
                conn.exec_driver_sql(f"DROP TABLE {name}")
            done.append(name)
    return done
