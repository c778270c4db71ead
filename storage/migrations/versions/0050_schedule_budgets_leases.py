"""post_schedule, discovery_leases and budget_spend: the daemon's plan, kept in the database

Revision ID: 0050
Revises: 0040
Create Date: 2026-12-07

Issue 8: each post's next refresh time and the inputs of its policy, the leases several daemons
take on due posts and discovery queries, and the budget each collector has spent per window, so
that a restart resumes the schedule and never grants a fresh quota.
"""

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0040"
branch_labels = None
depends_on = None


def _lease_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "post_schedule",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("born_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_refresh_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("last_count", sa.BigInteger(), nullable=True),
        sa.Column("last_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("growth_per_hour", sa.Float(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        *_lease_columns(),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id"),
    )
    op.create_index("ix_post_schedule_due", "post_schedule", ["platform", "next_refresh_at"])
    op.create_table(
        "discovery_leases",
        sa.Column("collector", sa.String(length=32), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        *_lease_columns(),
        sa.ForeignKeyConstraint(["video_id"], ["tracked_videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("collector", "video_id"),
    )
    op.create_table(
        "budget_spend",
        sa.Column("collector", sa.String(length=32), nullable=False),
        sa.Column("budget", sa.String(length=80), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent", sa.Integer(), nullable=False),
        sa.Column("budget_limit", sa.Integer(), nullable=False),
        sa.Column("resets_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("collector", "budget", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("budget_spend")
    op.drop_table("discovery_leases")
    op.drop_index("ix_post_schedule_due", table_name="post_schedule")
    op.drop_table("post_schedule")
