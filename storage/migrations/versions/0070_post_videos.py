"""post_videos: a post can carry several tracked videos, each counting it (issue 9)

Revision ID: 0070
Revises: 0060
Create Date: 2026-12-07

- `post_videos` (video_id, post_id, matched_by, matched_term, first_matched_at) gets one row per
  existing post: its `posts.video_id`, its `posts.matched_by` split into the kind (url, keyword,
  hashtag, manual, cascade) and the term ("keyword:kyiv" -> keyword, kyiv), and its
  first_seen_at as the time it matched.
- `posts.video_id` and `posts.matched_by` are dropped with their indexes (on SQLite the table
  is rebuilt, with foreign keys off inside the upgrade transaction, see env.py; ids are kept).
- The rollups are untouched: each post had one video, whose rollups already hold its growth.

Runs in the single upgrade transaction (see env.py): if any step fails nothing is left behind.
"""

import sqlalchemy as sa
from alembic import op

from storage.video_posts import split_match

revision = "0070"
down_revision = "0060"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_videos",
        sa.Column("video_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("matched_by", sa.Text(), nullable=False),
        sa.Column("matched_term", sa.Text(), nullable=False),
        sa.Column("first_matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["video_id"], ["tracked_videos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id", "post_id"),
    )
    op.execute(
        "INSERT INTO post_videos (video_id, post_id, matched_by, matched_term, first_matched_at) "
        "SELECT video_id, id, matched_by, '', first_seen_at FROM posts"
    )
    # A handful of distinct reasons (one per video term): split each in Python, one UPDATE
    # apiece, the same way on both backends.
    conn = op.get_bind()
    reasons = conn.execute(sa.text("SELECT DISTINCT matched_by FROM post_videos")).scalars()
    for raw in list(reasons):
        kind, term = split_match(raw)
        if (kind, term) != (raw, ""):
            conn.execute(
                sa.text(
                    "UPDATE post_videos SET matched_by = :kind, matched_term = :term "
                    "WHERE matched_by = :raw"
                ),
                {"kind": kind, "term": term, "raw": raw},
            )
    op.create_index("ix_post_videos_post", "post_videos", ["post_id"])
    op.create_index("ix_post_videos_matched_by", "post_videos", ["matched_by"])
    with op.batch_alter_table("posts") as batch:
        batch.drop_index("ix_posts_video_platform")
        batch.drop_index("ix_posts_matched_by")
        batch.drop_column("video_id")
        batch.drop_column("matched_by")


def downgrade() -> None:
    raise NotImplementedError("0070 is not reversible: restore a backup taken before upgrading")
