"""Catalog schema migrations with Alembic, run from code (no alembic.ini needed).

Alembic is imported only to migrate (`init`, `tillage upgrade`): it takes longer
to import than `tillage log` takes to run. Opening a repository only checks the
catalog's revision, with a plain query, against the migration files' names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

_SCRIPTS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
"""Where Alembic stamps a catalog's schema revision (its default name)."""


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the catalog behind ``conn`` to ``revision`` (newest by default)."""
    from alembic import command

    command.upgrade(_config(conn), revision)


def current_revision(conn: Connection) -> str | None:
    """The revision stamped in the catalog behind ``conn`` (None: no tillage tables)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    value = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return None if value is None else str(value)


def revisions() -> list[str]:
    """The schema revisions this tillage knows, oldest first.

    Each migration file is named for its revision (``0007_run_process.py`` holds
    revision ``0007``, revised from ``0006``), so the names say it without
    Alembic; a test checks that Alembic reads the same history.
    """
    names = (p.name for p in (_SCRIPTS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    return sorted(name[:4] for name in names)


def head_revision() -> str:
    """The newest schema revision: the one `init` and `upgrade` leave a catalog at."""
    return revisions()[-1]


def is_known(revision: str) -> bool:
    return revision in revisions()
