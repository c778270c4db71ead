"""posts: an index for overperformance peers, a platform's posts by publication time (issue 7)

Revision ID: 0090
Revises: 0080
Create Date: 2026-12-08

The leaderboard asks for the newest peers of 20 posts per page; without this index each ask
sorted every post of the platform to keep 50.
"""

from alembic import op

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_posts_platform_published", "posts", ["platform", "published_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_posts_platform_published", table_name="posts")
