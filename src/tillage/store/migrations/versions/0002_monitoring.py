"""Monitoring: column profiles, ingest findings, alerts, recorded models.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_profiles",
        sa.Column(
            "commit_id",
            sa.String(64),
            sa.ForeignKey("commits.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("num_rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "version_profiles",
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("lance_branch", sa.String(200), primary_key=True),
        sa.Column("lance_version", sa.Integer, primary_key=True),
        sa.Column("num_rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "checks",
        sa.Column(
            "commit_id",
            sa.String(64),
            sa.ForeignKey("commits.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("schema_file", sa.String(500), nullable=True),
        sa.Column("schema_sha256", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(500), nullable=True),
        sa.Column("findings", sa.JSON, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(128), nullable=False, index=True),
        sa.Column("column_name", sa.String(256), nullable=False),
        sa.Column("check_name", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.Column("first_commit", sa.String(64), nullable=True),
        sa.Column("last_commit", sa.String(64), nullable=True),
        sa.Column("muted_until", sa.String(40), nullable=True),
        sa.Column("finding", sa.JSON, nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("dataset", sa.String(128), nullable=False, index=True),
        sa.Column("commit_id", sa.String(64), nullable=False),
        sa.Column("importance", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in ("models", "alerts", "checks", "version_profiles", "batch_profiles"):
        op.drop_table(table)
