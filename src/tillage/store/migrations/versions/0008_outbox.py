"""The alert outbox: one row per (alert event, sink), written with the commit.

A commit that opens or updates alerts writes their events here in its own
catalog transaction; drainers deliver them afterwards, so a sink that is slow
or down never holds up the commit, and a crash between the commit and the
delivery loses nothing.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=True),
        sa.Column("commit_id", sa.String(64), nullable=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("sink_name", sa.String(500), nullable=False),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("next_try_at", sa.String(40), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.String(40), nullable=True),
        sa.Column("delivered_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_alert_outbox_status", "alert_outbox", ["status", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_status", table_name="alert_outbox")
    op.drop_table("alert_outbox")
