"""Model versions: a number per name, the features, classes, label set, code and artifact.

Models recorded before this are numbered 1, 2, ... per name in the order they
were recorded; they have no features, classes, label set, code version or
artifact.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("artifact", "code_version", "labelset_commit", "labelset", "classes", "features")


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1"))
        )
        batch.add_column(
            sa.Column("features", sa.JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(
            sa.Column("classes", sa.JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("labelset", sa.String(128), nullable=True))
        batch.add_column(sa.Column("labelset_commit", sa.String(64), nullable=True))
        batch.add_column(sa.Column("code_version", sa.String(200), nullable=True))
        batch.add_column(sa.Column("artifact", sa.JSON, nullable=True))
    op.execute(
        "UPDATE models SET version = (SELECT COUNT(*) FROM models AS earlier "
        "WHERE earlier.name = models.name AND earlier.id <= models.id)"
    )
    op.create_index("models_name_version", "models", ["name", "version"], unique=True)


def downgrade() -> None:
    op.drop_index("models_name_version", table_name="models")
    with op.batch_alter_table("models") as batch:
        for column in (*COLUMNS, "version"):
            batch.drop_column(column)
