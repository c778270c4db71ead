"""config_video_syncs: which version of each config-file video was last applied

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

`run` and `collect` apply a `[[videos]]` entry only when it differs from the version recorded
here, so a video removed or edited at run time stays that way until its config entry changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_video_syncs",
        sa.Column("slug", sa.String(80), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("config_video_syncs")
