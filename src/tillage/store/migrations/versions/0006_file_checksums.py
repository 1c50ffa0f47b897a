"""Checksums of the files each commit added to a dataset.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_checksums",
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("blake2b", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("file_checksums")
