"""Initial catalog: datasets, commits, pins, refs, Lance branch ownership.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("key_columns", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("parents", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False, index=True),
        sa.Column("principal", sa.String(256), nullable=False),
        sa.Column("tillage_version", sa.String(32), nullable=False),
        sa.Column("code_sha", sa.String(64), nullable=True),
        sa.Column("code_dirty", sa.Boolean, nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_table(
        "pins",
        sa.Column(
            "commit_id",
            sa.String(64),
            sa.ForeignKey("commits.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("lance_branch", sa.String(200), nullable=False),
        sa.Column("lance_version", sa.Integer, nullable=False),
        sa.Column("num_rows", sa.Integer, nullable=False),
    )
    op.create_table(
        "refs",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "lance_branches",
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("repo_branch", sa.String(200), primary_key=True),
        sa.Column("lance_branch", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in ("lance_branches", "refs", "pins", "commits", "datasets"):
        op.drop_table(table)
