"""Durable pipeline runs: runs, their steps, map items, approvals, artifacts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(500), nullable=False, index=True),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("params_key", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("run_branch", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("code_sha", sa.String(64), nullable=True),
        sa.Column("code_dirty", sa.Boolean, nullable=False),
        sa.Column("waiting_on", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("merged_commit", sa.String(64), nullable=True),
    )
    op.create_table(
        "run_steps",
        sa.Column(
            "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("cache_key", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", sa.JSON, nullable=True),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("reads", sa.JSON, nullable=False),
        sa.Column("writes", sa.JSON, nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "run_map_items",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("output", sa.JSON, nullable=True),
    )
    op.create_table(
        "run_approvals",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_table(
        "artifacts",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in ("artifacts", "run_approvals", "run_map_items", "run_steps", "runs"):
        op.drop_table(table)
