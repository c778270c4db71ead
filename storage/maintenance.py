"""Retention and partition upkeep, run by the daemon every few hours (and safe to run from
several daemons at once: each step is its own short write transaction)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, case, delete, insert, literal, select, update

from storage import partitions
from storage.db import write_transaction
from storage.growth import COUNTERS
from storage.models import CollectorLatestRun, CollectorRun, Post, UTCDateTime
from storage.models import Observation as ObservationRow

logger = logging.getLogger("viralwatch.storage")

# Rows deleted per transaction: writers wait at most one such batch for the lock.
DELETE_BATCH = 5000
POSTS_PER_BATCH = 500


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history to keep; 0 days keeps everything."""

    collector_runs_days: int = 90
    observations_days: int = 0
    partitions_ahead_months: int = 2


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    collector_runs_deleted: int
    observations_deleted: int
    partitions_dropped: tuple[str, ...]


def maintain(engine: Engine, retention: Retention, now: datetime) -> MaintenanceReport:
    """Create partitions ahead, then apply retention to collector runs and observations."""
    partitions.create_ahead(engine, now, retention.partitions_ahead_months)
    runs = 0
    if retention.collector_runs_days:
        runs = prune_collector_runs(engine, now - timedelta(days=retention.collector_runs_days))
    rows = 0
    dropped: tuple[str, ...] = ()
    if retention.observations_days:
        rows, dropped = expire_observations(
            engine, now - timedelta(days=retention.observations_days)
        )
    return MaintenanceReport(runs, rows, dropped)


def prune_collector_runs(engine: Engine, before: datetime) -> int:
    """Delete runs started before `before`, except each collector's newest of each kind (the
    collectors table shows them however old); returns how many went."""
    kept = select(CollectorLatestRun.run_id)
    total = 0
    while True:
        with write_transaction(engine) as conn:
            ids = (
                select(CollectorRun.id)
                .where(CollectorRun.started_at < before, CollectorRun.id.not_in(kept))
                .limit(DELETE_BATCH)
            )
            batch = list(conn.execute(ids).scalars())
            if batch:
                conn.execute(delete(CollectorRun).where(CollectorRun.id.in_(batch)))
        total += len(batch)
        if len(batch) < DELETE_BATCH:
            return total


def expire_observations(engine: Engine, before: datetime) -> tuple[int, tuple[str, ...]]:
    """Drop counter history older than `before`: whole monthly partitions on PostgreSQL (those
    ending by the month of `before`), rows post by post on SQLite.

    A row whose confirmed span reaches past the boundary is carried over to the boundary (same
    counters and confirmed_until), so "unchanged until T" survives; a post whose latest row went
    gets latest_row_at NULL, so its next reading adds a row rather than confirm a missing one.
    Returns (rows deleted on SQLite, partitions dropped on PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        boundary = partitions.month_start(before)
        with write_transaction(engine) as conn:
            _carry_over(conn, boundary, None)
        return 0, tuple(partitions.detach_before(engine, boundary, drop=True))
    deleted, last_id = 0, 0
    while True:
        with write_transaction(engine) as conn:
            ids = list(
                conn.execute(
                    select(Post.id)
                    .where(Post.id > last_id)
                    .order_by(Post.id)
                    .limit(POSTS_PER_BATCH)
                ).scalars()
            )
            if not ids:
                return deleted, ()
            last_id = ids[-1]
            _carry_over(conn, before, ids)
            # One primary-key range per post, not a scan of the whole table.
            for post_id in ids:
                result = conn.execute(
                    delete(ObservationRow).where(
                        ObservationRow.post_id == post_id, ObservationRow.observed_at < before
                    )
                )
                deleted += result.rowcount


def _carry_over(conn: Connection, boundary: datetime, post_ids: list[int] | None) -> None:
    """Copy rows straddling `boundary` to it and point latest_row_at at what will remain."""
    rows = ObservationRow.__table__
    straddling = select(
        rows.c.post_id,
        literal(boundary, UTCDateTime()),
        *(rows.c[c] for c in COUNTERS),
        rows.c.confirmed_until,
    ).where(rows.c.observed_at < boundary, rows.c.confirmed_until >= boundary)
    posts = update(Post).where(Post.latest_row_at < boundary)
    if post_ids is not None:
        straddling = straddling.where(rows.c.post_id.in_(post_ids))
        posts = posts.where(Post.id.in_(post_ids))
    columns = ["post_id", "observed_at", *COUNTERS, "confirmed_until"]
    conn.execute(insert(ObservationRow).from_select(columns, straddling))
    carried = (
        select(rows.c.post_id)
        .where(rows.c.post_id == Post.id, rows.c.observed_at == boundary)
        .exists()
    )
    conn.execute(posts.values(latest_row_at=case((carried, boundary), else_=None)))
