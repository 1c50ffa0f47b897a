"""Which process executes a run: pid, host and process start time.

A run killed with ``kill -9`` keeps the status ``running``; with these columns
a reader can tell that its process is gone and report it as crashed.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("pid", sa.Integer, nullable=True))
    op.add_column("runs", sa.Column("host", sa.String(255), nullable=True))
    op.add_column("runs", sa.Column("process_started", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("process_started")
        batch.drop_column("host")
        batch.drop_column("pid")
