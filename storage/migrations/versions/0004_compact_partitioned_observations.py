"""observations keyed by (post_id, observed_at) with confirmed_until, partitioned on PostgreSQL;
2,048-character keys; collector run indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- `observations` is rebuilt without its surrogate id: primary key (post_id, observed_at), a
  WITHOUT ROWID table on SQLite (one b-tree instead of two), a table range-partitioned by month
  on PostgreSQL. Every existing row is copied as it is; `confirmed_until` starts NULL.
- `posts.latest_row_at` names the row holding the latest counters; every reading was a row
  until now, so it starts equal to latest_observed_at (NULL where that row hides a counter).
- `posts.platform_post_id` and `parent_platform_post_id` take 2,048 characters (a no-rewrite
  change on PostgreSQL; SQLite does not enforce VARCHAR lengths).
- `collector_runs` gets an index on started_at, and `collector_latest_runs` the newest run of
  each collector and kind (backfilled); the rollups get time-range indexes, posts one on
  matched_by (the manual posts list); ix_posts_refresh drops latest_observed_at so the
  writer's updates of posts touch no index (HOT updates on PostgreSQL, fillfactor 70).

Runs in the single upgrade transaction (see env.py): if any step fails nothing is left behind.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage import partitions

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COUNTERS = ("views", "likes", "shares", "comments", "quotes")


def upgrade() -> None:
    conn = op.get_bind()
    is_postgres = conn.dialect.name == "postgresql"
    _rebuild_observations(conn, is_postgres)
    if is_postgres:
        for column in ("platform_post_id", "parent_platform_post_id"):
            op.alter_column("posts", column, type_=sa.String(2048), existing_type=sa.String(255))
    op.add_column("posts", sa.Column("latest_row_at", sa.DateTime(timezone=True), nullable=True))
    # The latest row is the one at latest_observed_at, if it holds the latest counters (not when
    # it hides a counter an older reading showed): only then can a reading confirm it.
    same = "IS" if not is_postgres else "IS NOT DISTINCT FROM"
    matches = " AND ".join(f"o.{c} {same} posts.latest_{c}" for c in COUNTERS)
    op.execute(
        "UPDATE posts SET latest_row_at = latest_observed_at WHERE EXISTS (SELECT 1 FROM "
        "observations o WHERE o.post_id = posts.id AND o.observed_at = posts.latest_observed_at "
        f"AND {matches})"
    )
    op.create_index("ix_collector_runs_started", "collector_runs", ["started_at"])
    op.create_index("ix_posts_matched_by", "posts", ["matched_by"])
    # The writer updates latest_* on every reading: with no index on them, PostgreSQL updates
    # posts in place (HOT), given room in each page.
    op.drop_index("ix_posts_refresh", "posts")
    op.create_index("ix_posts_refresh", "posts", ["platform", "is_gone"])
    if is_postgres:
        op.execute("ALTER TABLE posts SET (fillfactor = 70)")
    for table in ("video_hourly", "video_5min"):
        op.create_index(f"ix_{table}_video_bucket", table, ["video_id", "bucket_start"])
        op.create_index(f"ix_{table}_bucket", table, ["bucket_start"])
    op.create_table(
        "collector_latest_runs",
        sa.Column("collector", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("collector", "kind"),
    )
    op.execute(
        "INSERT INTO collector_latest_runs (collector, kind, run_id) "
        "SELECT collector, kind, max(id) FROM collector_runs GROUP BY collector, kind"
    )


def _rebuild_observations(conn: sa.Connection, is_postgres: bool) -> None:
    kwargs = {"postgresql_partition_by": "RANGE (observed_at)"} if is_postgres else {}
    if not is_postgres:
        kwargs["sqlite_with_rowid"] = False
    op.create_table(
        "observations_new",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(c, sa.BigInteger(), nullable=True) for c in COUNTERS),
        sa.Column("confirmed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], ondelete="CASCADE", name="fk_observations_post"
        ),
        sa.PrimaryKeyConstraint("post_id", "observed_at", name="pk_observations"),
        **kwargs,
    )
    columns = ", ".join(("post_id", "observed_at", *COUNTERS))
    if is_postgres:
        bounds = conn.exec_driver_sql(
            "SELECT min(observed_at), max(observed_at) FROM observations"
        ).one()
        _create_partitions(conn, bounds[0], bounds[1])
    op.execute(f"INSERT INTO observations_new ({columns}) SELECT {columns} FROM observations")
    op.drop_table("observations")
    op.rename_table("observations_new", "observations")  # partitions stay attached


def _create_partitions(conn: sa.Connection, first: datetime | None, last: datetime | None) -> None:
    now = datetime.now(UTC)
    start = partitions.month_start(first or now)
    end = partitions.month_start(max(last or now, now))
    months = [start]
    while months[-1] < end:
        months.append(partitions.next_month(months[-1]))
    months.append(partitions.next_month(months[-1]))
    for month in months:
        conn.exec_driver_sql(
            f"CREATE TABLE {partitions.partition_name(month)} PARTITION OF observations_new "
            f"FOR VALUES FROM ('{month.isoformat()}') TO "
            f"('{partitions.next_month(month).isoformat()}')"
        )


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: restore a backup taken before upgrading")
