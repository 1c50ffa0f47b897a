"""Pipeline schedules: cron times, new commits of a dataset, new alerts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.String(200), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("branch", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(200), nullable=True),
        sa.Column("last_run", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("schedules")
