"""discovery_marks, post_misses, post_events: discovery high-water marks and the gone/miss
lifecycle (issue 8)

Revision ID: 0055
Revises: 0040
Create Date: 2026-12-07

Numbered 0055 so it can be rechained after migrations written alongside it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0055"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovery_marks",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("collector", sa.String(length=32), nullable=False),
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("floor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("top", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["video_id"], ["tracked_videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id", "collector", "query_key"),
    )
    op.create_table(
        "post_misses",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_miss_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id"),
    )
    op.create_table(
        "post_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_post_events_post_at", "post_events", ["post_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_post_events_post_at", table_name="post_events")
    op.drop_table("post_events")
    op.drop_table("post_misses")
    op.drop_table("discovery_marks")
