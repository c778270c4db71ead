"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 01:17:22.789727
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "collector_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collector", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("video_slug", sa.String(length=80), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("posts_found", sa.Integer(), nullable=False),
        sa.Column("observations_written", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collector_runs_collector_started", ["collector", "started_at"], unique=False
        )

    op.create_table(
        "tracked_videos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("hashtags", sa.JSON(), nullable=False),
        sa.Column("urls", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_post_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matched_by", sa.Text(), nullable=False),
        sa.Column("parent_platform", sa.String(length=32), nullable=True),
        sa.Column("parent_platform_post_id", sa.String(length=255), nullable=True),
        sa.Column("relation", sa.String(length=16), nullable=True),
        sa.Column("is_gone", sa.Boolean(), nullable=False),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gone_reason", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("latest_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latest_views", sa.BigInteger(), nullable=True),
        sa.Column("latest_likes", sa.BigInteger(), nullable=True),
        sa.Column("latest_shares", sa.BigInteger(), nullable=True),
        sa.Column("latest_comments", sa.BigInteger(), nullable=True),
        sa.Column("latest_quotes", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["video_id"], ["tracked_videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "platform_post_id", name="uq_posts_platform_post"),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_parent", ["parent_platform", "parent_platform_post_id"], unique=False
        )
        batch_op.create_index(
            "ix_posts_refresh", ["platform", "is_gone", "latest_observed_at"], unique=False
        )
        batch_op.create_index("ix_posts_video_platform", ["video_id", "platform"], unique=False)

    op.create_table(
        "video_hourly",
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
    op.create_table(
        "observations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("quotes", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("post_id", "observed_at", name="uq_observations_post_time"),
    )


def downgrade() -> None:

    op.drop_table("observations")
    op.drop_table("video_hourly")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_video_platform")
        batch_op.drop_index("ix_posts_refresh")
        batch_op.drop_index("ix_posts_parent")

    op.drop_table("posts")
    op.drop_table("tracked_videos")
    with op.batch_alter_table("collector_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_collector_runs_collector_started")

    op.drop_table("collector_runs")
