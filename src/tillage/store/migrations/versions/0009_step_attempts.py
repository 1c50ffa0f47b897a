"""Each attempt of a step: steps may be retried with backoff (``@tillage.step(retries=...)``).

Steps stored before this have no attempts recorded: an empty list.

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "run_steps", sa.Column("attempts", sa.JSON, nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    with op.batch_alter_table("run_steps") as batch:
        batch.drop_column("attempts")
