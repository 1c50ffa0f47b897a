"""Damaged data files, a lost or damaged catalog, and a hostile environment.

Every damage here is what a disk, a careless ``rm`` or a permissions change
does to a real repository; each command must refuse with one clear error and
leave the repository as it was.
"""

from __future__ import annotations

import os
import pwd
import sqlite3
from pathlib import Path

from bad_input.harness import Case, Damage, flights_table, write_parquet


def _tables(project: Path) -> Path:
    return project / ".tillage" / "tables" / "flights.lance"


def _newest_data_file(project: Path) -> Path:
    """The data file the second commit wrote (its version is the head of main)."""
    return max((_tables(project) / "data").iterdir(), key=lambda p: p.stat().st_mtime_ns)


def _head_manifest(project: Path) -> Path:
    return _tables(project) / "_versions" / f"{(1 << 64) - 1 - 2}.manifest"


def flip_byte(project: Path) -> None:
    path = _newest_data_file(project)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def scramble_keeping_time(project: Path) -> None:
    """Change most bytes of a data file but keep its size and modification time."""
    path = _newest_data_file(project)
    st = path.stat()
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), 7):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def truncate_data_file(project: Path) -> None:
    path = _newest_data_file(project)
    path.write_bytes(path.read_bytes()[:100])


def delete_data_file(project: Path) -> None:
    _newest_data_file(project).unlink()


def delete_manifest(project: Path) -> None:
    _head_manifest(project).unlink()


def garble_manifest(project: Path) -> None:
    path = _head_manifest(project)
    path.write_bytes(b"\0" * path.stat().st_size)


def _catalog(project: Path) -> Path:
    return project / ".tillage" / "catalog.db"


def delete_catalog(project: Path) -> None:
    _catalog(project).unlink()


def empty_catalog(project: Path) -> None:
    _catalog(project).write_bytes(b"")


def garbage_catalog(project: Path) -> None:
    path = _catalog(project)
    path.write_bytes(b"this is not a database, " * 8 + path.read_bytes()[192:])


def cut_catalog(project: Path) -> None:
    path = _catalog(project)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def empty_sqlite_catalog(project: Path) -> None:
    """A valid SQLite file with no tillage tables (what the old code re-created)."""
    delete_catalog(project)
    with sqlite3.connect(_catalog(project)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")


def lock_is_folder(project: Path) -> None:
    lock = project / ".tillage" / "write.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()
    (lock / "left-here").write_text("x")


def batch(project: Path) -> None:
    """A valid new batch in ``{tmp}/more.parquet``."""
    write_parquet(project.parent / "more.parquet", flights_table(range(60, 80)))


def locked_folder(project: Path) -> None:
    """``{tmp}/locked``: a folder only root may write."""
    (project.parent / "locked").mkdir(mode=0o755)


def then(*damages: Damage) -> Damage:
    """One damage made of several, done in order."""

    def both(project: Path) -> None:
        for damage in damages:
            damage(project)

    return both


def _give_to(project: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for path in [project, *project.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def tables_not_writable(project: Path) -> None:
    """The project belongs to ``nobody``, except ``tables/``, which it may only read."""
    batch(project)
    _give_to(project, "nobody")
    tables = project / ".tillage" / "tables"
    for path in [tables, *tables.rglob("*")]:
        os.chown(path, 0, 0)


def catalog_not_writable(project: Path) -> None:
    """The project belongs to ``nobody``, except ``catalog.db``, which it may only read."""
    batch(project)
    _give_to(project, "nobody")
    os.chown(_catalog(project), 0, 0)


def read_only_repository(project: Path) -> None:
    """A repository ``nobody`` may read but not write (as on read-only media)."""
    batch(project)


_DAMAGED = ["flights", "main@2", "tillage verify"]

CASES = [
    # -- damaged data files --------------------------------------------------
    Case(
        "flipped-byte-export",
        ["export", "flights", "{tmp}/out.csv"],
        says=[*_DAMAGED, "data/", "checksum differs"],
        error="corrupt_data",
        damage=flip_byte,
    ),
    Case(
        "flipped-byte-head",
        ["head", "flights"],
        says=[*_DAMAGED, "checksum differs"],
        error="corrupt_data",
        damage=flip_byte,
    ),
    Case(
        "scrambled-data-file-time-kept",
        ["export", "flights", "{tmp}/out.parquet"],
        says=[*_DAMAGED, "data/", "checksum differs"],
        error="corrupt_data",
        damage=scramble_keeping_time,
    ),
    Case(
        "truncated-data-file",
        ["export", "flights", "{tmp}/out.parquet"],
        says=[*_DAMAGED, "has 100 bytes where"],
        error="corrupt_data",
        damage=truncate_data_file,
    ),
    Case(
        "deleted-data-file",
        ["head", "flights"],
        says=[*_DAMAGED, "is missing"],
        error="corrupt_data",
        damage=delete_data_file,
    ),
    Case(
        "deleted-manifest",
        ["export", "flights", "{tmp}/out.parquet"],
        says=[*_DAMAGED, ".manifest is missing"],
        error="corrupt_data",
        damage=delete_manifest,
    ),
    Case(
        "garbled-manifest",
        ["head", "flights"],
        says=[*_DAMAGED, ".manifest"],
        error="corrupt_data",
        damage=garble_manifest,
    ),
    Case(
        "damaged-file-blocks-append",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=[*_DAMAGED, "checksum differs"],
        error="corrupt_data",
        damage=then(flip_byte, batch),
    ),
    # -- the catalog ---------------------------------------------------------
    Case(
        "catalog-deleted",
        ["status"],
        says=["catalog.db", "is missing", "backup", "only with `tillage init`"],
        error="catalog_missing",
        damage=delete_catalog,
    ),
    Case(
        "catalog-deleted-ingest",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["catalog.db", "is missing"],
        error="catalog_missing",
        damage=then(delete_catalog, batch),
    ),
    Case(
        "catalog-empty-file",
        ["log"],
        says=["catalog.db", "is empty", "backup"],
        error="catalog_missing",
        damage=empty_catalog,
    ),
    Case(
        "catalog-without-tables",
        ["head", "flights"],
        says=["catalog.db", "is empty", "no commits"],
        error="catalog_missing",
        damage=empty_sqlite_catalog,
    ),
    Case(
        "catalog-garbage-header",
        ["status"],
        says=["catalog.db", "damaged", "not a database", "backup"],
        error="catalog_damaged",
        damage=garbage_catalog,
    ),
    Case(
        "catalog-cut-short",
        ["log"],
        says=["catalog.db", "damaged", "backup"],
        error="catalog_damaged",
        damage=cut_catalog,
    ),
    # -- the environment -----------------------------------------------------
    Case(
        "write-lock-is-a-folder",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["write.lock", "is a folder", "rmdir"],
        error="storage_error",
        damage=then(lock_is_folder, batch),
    ),
    Case(
        "tables-not-writable",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["tables", "not writable", "reading", "run as a user who may write"],
        error="read_only",
        damage=tables_not_writable,
        subprocess=True,
        user="nobody",
    ),
    Case(
        "catalog-not-writable",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["catalog.db", "not writable"],
        error="read_only",
        damage=catalog_not_writable,
        subprocess=True,
        user="nobody",
    ),
    Case(
        "read-only-branch",
        ["branch", "feature"],
        says=["not writable"],
        error="read_only",
        damage=read_only_repository,
        subprocess=True,
        user="nobody",
    ),
    Case(
        "read-only-switch",
        ["switch", "dev"],
        says=["not writable"],
        error="read_only",
        damage=read_only_repository,
        subprocess=True,
        user="nobody",
    ),
    Case(
        "init-where-not-writable",
        ["init", "{tmp}/locked/new"],
        says=["locked/new", "permission denied"],
        error="read_only",
        damage=locked_folder,
        subprocess=True,
        user="nobody",
    ),
]


def fill_disk(free: int) -> Damage:
    """Fill the file system holding the project until ``free`` bytes are left (after a
    new batch in ``{tmp}/more.parquet``)."""

    def fill(project: Path) -> None:
        write_parquet(project.parent / "more.parquet", flights_table(range(60, 2000)))
        st = os.statvfs(project)
        with (project.parent / "filler").open("wb") as f:
            f.write(b"\0" * max(st.f_bavail * st.f_frsize - free, 0))

    return fill


# Run by `disk_full.py` on a small tmpfs of their own (they fill the disk they are on).
# The three free amounts reach the three places a write can find the disk full: the
# catalog's shared-memory file, Lance's new data file, and the catalog's write-ahead log.
DISK_FULL = [
    Case(
        f"disk-full-{free}",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["no space left", "nothing was committed", "free some space"],
        error="disk_full",
        damage=fill_disk(free),
        subprocess=True,
    )
    for free in (0, 40_000, 90_000)
]
