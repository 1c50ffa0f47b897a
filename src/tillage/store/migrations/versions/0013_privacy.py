"""Privacy: the DP budget ledger, break-glass grants and the audit log.

``privacy_budget`` holds what each principal has spent on each dataset lineage
and privacy unit, and whether a break-glass grant made their guarantee void; it is
moved by compare-and-swap so that concurrent spenders never overspend;
``privacy_spends`` holds every spend (written before its answer is released).
``access_grants`` holds break-glass requests, approvals and revocations;
``audit_log`` is the append-only, hash-chained record of them, of refusals and
of reads under them (see `tillage.store.audit`). ``private_derivations`` holds,
per commit, the private datasets a write was derived from (a job that read them
raw), and the declassifying step (``dp``, ``aggregate``) if it was a release.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_budget",
        sa.Column("lineage", sa.String(128), primary_key=True),
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("unit", sa.String(128), primary_key=True, server_default="row"),
        sa.Column("spent", sa.Float, nullable=False),
        sa.Column("void", sa.Boolean, nullable=False),
    )
    op.create_table(
        "privacy_spends",
        sa.Column("spend_id", sa.String(32), primary_key=True),
        sa.Column("lineage", sa.String(128), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(128), nullable=False),
        sa.Column("epsilon", sa.Float, nullable=False),
        sa.Column("delta", sa.Float, nullable=False),
        sa.Column("query", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("released", sa.Boolean, nullable=False),
    )
    op.create_index("ix_privacy_spends_who", "privacy_spends", ["lineage", "principal"])
    op.create_table(
        "access_grants",
        sa.Column("grant_id", sa.String(32), primary_key=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("commit_id", sa.String(64), nullable=False),
        sa.Column("columns", sa.JSON, nullable=False),
        sa.Column("predicate", sa.Text, nullable=True),
        sa.Column("max_rows", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.String(40), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", sa.String(40), nullable=True),
        sa.Column("expires_at", sa.String(40), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "private_derivations",
        sa.Column("dataset", sa.String(128), primary_key=True),
        sa.Column("source", sa.String(128), primary_key=True),
        sa.Column("commit_id", sa.String(64), primary_key=True),
        sa.Column("declassified_by", sa.String(16), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("private_derivations")
    op.drop_table("audit_log")
    op.drop_table("access_grants")
    op.drop_index("ix_privacy_spends_who", "privacy_spends")
    op.drop_table("privacy_spends")
    op.drop_table("privacy_budget")
