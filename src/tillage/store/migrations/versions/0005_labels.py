"""Label sets and annotation queues.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_sets",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("records", sa.String(128), nullable=False),
        sa.Column("taxonomy", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "annotation_queue",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("labelset", sa.String(128), nullable=False),
        sa.Column("added_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "annotation_assignments",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("annotator", sa.String(200), primary_key=True),
        sa.Column("spec_version", sa.Integer, nullable=False),
        sa.Column("assigned_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in ("annotation_assignments", "annotation_queue", "label_sets"):
        op.drop_table(table)
