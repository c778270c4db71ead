"""daemon_heartbeats: one row per daemon, beaten every interval (issues 8 and 13)

Revision ID: 0040
Revises: 0020
Create Date: 2026-12-01

Numbered 0040 so it can be rechained after migrations written alongside it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_heartbeats",
        sa.Column("daemon_id", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("daemon_id"),
    )


def downgrade() -> None:
    op.drop_table("daemon_heartbeats")
