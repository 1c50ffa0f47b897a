"""The annotation index: annotator events, queue entries per spec version.

`annotate next` and `submit` read these instead of the label set's table (see
`tillage.store.annotation`). Existing label sets are copied in on first use,
since a migration cannot read Lance.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_events",
        sa.Column("event_id", sa.String(32), primary_key=True),
        sa.Column("labelset", sa.String(128), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("taxonomy_version", sa.Integer, nullable=False),
        sa.Column("spec_version", sa.Integer, nullable=True),
        sa.Column("task", sa.String(200), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("pending", sa.Boolean, nullable=False),
        sa.Column("branch", sa.String(200), nullable=True),
    )
    op.create_index(
        "ix_annotation_events_record",
        "annotation_events",
        ["labelset", "record_id", "annotator"],
    )
    op.create_index("ix_annotation_events_pending", "annotation_events", ["labelset", "pending"])
    op.create_table(
        "annotation_entries",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("spec_version", sa.Integer, primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("annotations", sa.Integer, nullable=False),
        sa.Column("outstanding", sa.Integer, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_annotation_entries_open",
        "annotation_entries",
        ["task", "spec_version", "open", "position"],
    )
    op.create_table(
        "annotation_versions",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("spec_version", sa.Integer, primary_key=True),
        sa.Column("labelset", sa.String(128), nullable=False),
        sa.Column("overlap", sa.Integer, nullable=False),
        sa.Column("taxonomy_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "annotation_indexed",
        sa.Column("labelset", sa.String(128), primary_key=True),
        sa.Column("built_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("annotation_indexed")
    op.drop_table("annotation_versions")
    op.drop_index("ix_annotation_entries_open", "annotation_entries")
    op.drop_table("annotation_entries")
    op.drop_index("ix_annotation_events_pending", "annotation_events")
    op.drop_index("ix_annotation_events_record", "annotation_events")
    op.drop_table("annotation_events")
