"""first readings summed in the rollups; collector run indexes for the gap reader

Revision ID: 0060
Revises: 0055
Create Date: 2026-12-07

- `video_hourly` and `video_5min` get `<counter>_baseline`: the part of `<counter>_delta` that
  is a post's first reading of that counter (its baseline, never growth: issue 11). Measured
  growth of a bucket is then `delta - baseline`, read from the bucket alone instead of finding
  every post's first reading. Backfilled from each post's first reading of each counter, as
  the writer counted it.
- `collector_runs` gets (status, started_at) and (collector, status, started_at): the video
  page's gaps read the failing runs of a window and the first ok run after each, not every run.

Runs in the single upgrade transaction (see env.py): if any step fails nothing is left behind.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0060"
down_revision = "0055"
branch_labels = None
depends_on = None

COUNTERS = ("views", "likes", "shares", "comments", "quotes")
ROLLUPS = {"video_hourly": 60, "video_5min": 5}
POSTS_PER_BATCH = 2000


def upgrade() -> None:
    for table in ROLLUPS:
        with op.batch_alter_table(table) as batch:
            for counter in COUNTERS:
                batch.add_column(
                    sa.Column(
                        f"{counter}_baseline", sa.BigInteger(), nullable=False, server_default="0"
                    )
                )
    op.create_index("ix_collector_runs_status_started", "collector_runs", ["status", "started_at"])
    op.create_index(
        "ix_collector_runs_collector_status_started",
        "collector_runs",
        ["collector", "status", "started_at"],
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_collector_runs_collector_status_started", "collector_runs")
    op.drop_index("ix_collector_runs_status_started", "collector_runs")
    for table in ROLLUPS:
        with op.batch_alter_table(table) as batch:
            for counter in COUNTERS:
                batch.drop_column(f"{counter}_baseline")


posts = sa.table(
    "posts",
    sa.column("id", sa.Integer()),
    sa.column("video_id", sa.Integer()),
    sa.column("platform", sa.String()),
)
observations = sa.table(
    "observations",
    sa.column("post_id", sa.Integer()),
    sa.column("observed_at", sa.DateTime()),
    *(sa.column(c, sa.BigInteger()) for c in COUNTERS),
)


def _first(counter: str, what: Any) -> Any:
    """`what` of the post's earliest observation showing `counter` (one index probe)."""
    column = observations.c[counter]
    return (
        sa.select(what)
        .where(observations.c.post_id == posts.c.id, column.is_not(None))
        .order_by(observations.c.observed_at)
        .limit(1)
        .scalar_subquery()
    )


def _backfill(conn: sa.Connection) -> None:
    last_post_id = 0
    while True:
        ids = list(
            conn.execute(
                sa.select(posts.c.id)
                .where(posts.c.id > last_post_id)
                .order_by(posts.c.id)
                .limit(POSTS_PER_BATCH)
            ).scalars()
        )
        if not ids:
            return
        last_post_id = ids[-1]
        for counter in COUNTERS:
            rows = conn.execute(
                sa.select(
                    posts.c.video_id,
                    posts.c.platform,
                    _first(counter, observations.c.observed_at),
                    _first(counter, observations.c[counter]),
                ).where(posts.c.id.in_(ids))
            ).all()
            for table, minutes in ROLLUPS.items():
                _add(conn, table, counter, minutes, rows)


def _add(conn: sa.Connection, table: str, counter: str, minutes: int, rows: list[Any]) -> None:
    sums: dict[tuple[int, str, datetime], int] = {}
    for video_id, platform, at, value in rows:
        if at is None or not value:
            continue
        start = at.replace(minute=at.minute - at.minute % minutes, second=0, microsecond=0)
        key = (video_id, platform, start)
        sums[key] = sums.get(key, 0) + value
    if not sums:
        return
    rollup = sa.table(
        table,
        sa.column("video_id", sa.Integer()),
        sa.column("platform", sa.String()),
        sa.column("bucket_start", sa.DateTime()),
        sa.column(f"{counter}_baseline", sa.BigInteger()),
    )
    column = rollup.c[f"{counter}_baseline"]
    conn.execute(
        rollup.update()
        .where(
            rollup.c.video_id == sa.bindparam("v"),
            rollup.c.platform == sa.bindparam("p"),
            rollup.c.bucket_start == sa.bindparam("b"),
        )
        .values({column: column + sa.bindparam("n")}),
        [{"v": v, "p": p, "b": b, "n": n} for (v, p, b), n in sums.items()],
    )
