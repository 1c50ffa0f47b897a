"""A catalog at a schema revision this tillage does not write, and settings read late.

Opening a repository reads the catalog's schema revision with a plain query
(Alembic loads only to migrate), and a repository builds its monitor, with the
``quality:`` settings, only when a command first needs it. Neither may let a
command go on with a catalog it cannot read or a write with settings it cannot use.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bad_input.harness import Case, flights_table, write_parquet


def _stamp(project: Path, revision: str | None) -> None:
    with sqlite3.connect(project / ".tillage" / "catalog.db") as conn:
        conn.execute("DELETE FROM alembic_version")
        if revision is not None:
            conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (revision,))


def newer_revision(project: Path) -> None:
    _stamp(project, "9999")


def older_revision(project: Path) -> None:
    _stamp(project, "0005")


def no_revision(project: Path) -> None:
    _stamp(project, None)


def bad_quality_settings(project: Path) -> None:
    """A ``quality:`` section with a setting that does not exist, and a batch to ingest."""
    config = project / ".tillage" / "config.yaml"
    config.write_text(config.read_text() + "quality:\n  no_such_setting: 1\n")
    write_parquet(project.parent / "more.parquet", flights_table(range(60, 80)))


CASES = [
    Case(
        "catalog-newer-revision",
        ["log"],
        says=["catalog.db", "revision 9999", "newer than this tillage", "upgrade tillage"],
        error="catalog_error",
        damage=newer_revision,
    ),
    Case(
        "catalog-older-revision",
        ["status"],
        says=["catalog.db", "revision 0005", "tillage upgrade", "back up"],
        error="catalog_error",
        damage=older_revision,
    ),
    Case(
        "catalog-revision-table-empty",
        ["log"],
        says=["catalog.db", "is empty"],
        error="catalog_missing",
        damage=no_revision,
    ),
    Case(
        "quality-settings-unknown-on-ingest",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["config.yaml, section quality", "no_such_setting", "known:"],
        error="bad_input",
        damage=bad_quality_settings,
    ),
    Case(
        "quality-settings-unknown-on-check",
        ["check", "flights"],
        says=["config.yaml, section quality", "no_such_setting"],
        error="bad_input",
        damage=bad_quality_settings,
    ),
]
