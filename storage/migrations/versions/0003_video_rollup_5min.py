"""video_5min: counter growth per video, platform and 5 minutes, backfilled from observations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The backfill replays what `StorageSink.record_observations` does live, post by post: readings in
the order they were stored (observation id), each one newer than the post's latest adding, per
counter, its value minus the previous non-null reading to its 5-minute bucket. A late reading
older than the post's latest is skipped, as the writer skips it, so the new rollup adds up to
`video_hourly` hour by hour. It runs in Python, in batches of posts, on SQLite and PostgreSQL.

FROZEN: this is a copy of the growth algorithm as it stood at 0003 (`storage/growth.py` holds
the live one). Do not edit it to follow later changes: a migration must keep doing what it did.
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTERS = ("views", "likes", "shares", "comments", "quotes")
POSTS_PER_BATCH = 500
# Buckets held in memory before they are added to the table.
FLUSH_BUCKETS = 20_000

posts = sa.table(
    "posts", sa.column("id", sa.Integer()), sa.column("video_id"), sa.column("platform")
)
observations = sa.table(
    "observations",
    sa.column("id", sa.BigInteger()),
    sa.column("post_id", sa.Integer()),
    sa.column("observed_at", sa.DateTime(timezone=True)),
    *(sa.column(c, sa.BigInteger()) for c in COUNTERS),
)


def upgrade() -> None:
    rollup = op.create_table(
        "video_5min",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("views_delta", sa.BigInteger(), nullable=False),
        sa.Column("likes_delta", sa.BigInteger(), nullable=False),
        sa.Column("shares_delta", sa.BigInteger(), nullable=False),
        sa.Column("comments_delta", sa.BigInteger(), nullable=False),
        sa.Column("quotes_delta", sa.BigInteger(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["video_id"], ["tracked_videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id", "platform", "bucket_start"),
    )
    _backfill(op.get_bind(), rollup)


def downgrade() -> None:
    op.drop_table("video_5min")


def _backfill(conn: sa.Connection, rollup: sa.Table) -> None:
    is_sqlite = conn.dialect.name == "sqlite"
    buckets: dict[tuple[int, str, datetime], list[int]] = {}
    last_post_id = 0
    while True:
        batch = conn.execute(
            sa.select(posts.c.id, posts.c.video_id, posts.c.platform)
            .where(posts.c.id > last_post_id)
            .order_by(posts.c.id)
            .limit(POSTS_PER_BATCH)
        ).all()
        if not batch:
            break
        last_post_id = batch[-1][0]
        owner = {post_id: (video_id, platform) for post_id, video_id, platform in batch}
        # Streamed (a server-side cursor on PostgreSQL): a batch may hold millions of readings.
        readings = conn.execute(
            sa.select(observations.c.post_id, observations.c.observed_at, *_counters())
            .where(observations.c.post_id.in_(list(owner)))
            .order_by(observations.c.post_id, observations.c.id),
            execution_options={"stream_results": True, "yield_per": 10_000},
        )
        current_post: int | None = None
        latest_at: datetime | None = None
        latest: list[int | None] = []
        for post_id, observed_at, *values in readings:
            if post_id != current_post:
                current_post, latest_at, latest = post_id, None, [None] * len(COUNTERS)
            at = _utc(observed_at)
            if latest_at is not None and at <= latest_at:
                continue  # stored late, after a newer reading: the writer skipped it too
            video_id, platform = owner[post_id]
            start = at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)
            key = (video_id, platform, start)
            sums = buckets.setdefault(key, [0] * (len(COUNTERS) + 1))
            for i, (new, old) in enumerate(zip(values, latest, strict=True)):
                if new is not None:
                    sums[i] += new - (old or 0)
            sums[-1] += 1
            latest = [
                new if new is not None else old for new, old in zip(values, latest, strict=True)
            ]
            latest_at = at
        if len(buckets) >= FLUSH_BUCKETS:
            _add(conn, rollup, buckets, is_sqlite)
            buckets = {}
    _add(conn, rollup, buckets, is_sqlite)


def _counters() -> list[Any]:
    return [observations.c[c] for c in COUNTERS]


def _utc(moment: datetime) -> datetime:
    # SQLite hands back the naive UTC text SQLAlchemy stored; PostgreSQL an aware datetime.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _add(
    conn: sa.Connection,
    rollup: sa.Table,
    buckets: dict[tuple[int, str, datetime], list[int]],
    is_sqlite: bool,
) -> None:
    """Add the buckets' sums to the table (a later batch of posts may share a bucket)."""
    if not buckets:
        return
    deltas = [f"{c}_delta" for c in COUNTERS]
    rows = [
        {
            "video_id": video_id,
            "platform": platform,
            # SQLite keeps naive UTC text, as the models' UTCDateTime writes it.
            "bucket_start": start.replace(tzinfo=None) if is_sqlite else start,
            **dict(zip((*deltas, "observations"), sums, strict=True)),
        }
        for (video_id, platform, start), sums in buckets.items()
    ]
    insert = (sqlite if is_sqlite else postgresql).insert(rollup)
    statement = insert.on_conflict_do_update(
        index_elements=["video_id", "platform", "bucket_start"],
        set_={
            column: rollup.c[column] + insert.excluded[column]
            for column in (*deltas, "observations")
        },
    )
    for start in range(0, len(rows), 1000):
        conn.execute(statement, rows[start : start + 1000])
