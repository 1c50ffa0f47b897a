"""Selections and the actions applied to them.

The picks of each selection are rows of the ``selections`` dataset (versioned
like any other); these tables hold each selection's provenance, the actions
taken on it, and where each generated or augmented record came from.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selections",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("ref", sa.String(200), nullable=True),
        sa.Column("pool_commit", sa.String(64), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=False),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_selections_dataset", "selections", ["dataset"])
    op.create_table(
        "selection_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("selection_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_selection_actions_selection", "selection_actions", ["selection_id"])
    op.create_table(
        "derived_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("record_id", sa.String(512), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=False),
        sa.Column("derived_from", sa.String(512), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("selection_id", sa.String(40), nullable=False),
        sa.Column("how", sa.String(200), nullable=False),
    )
    op.create_index("ix_derived_records_dataset", "derived_records", ["dataset", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_derived_records_dataset", "derived_records")
    op.drop_table("derived_records")
    op.drop_index("ix_selection_actions_selection", "selection_actions")
    op.drop_table("selection_actions")
    op.drop_index("ix_selections_dataset", "selections")
    op.drop_table("selections")
