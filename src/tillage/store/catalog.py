"""The metadata catalog: commits, refs, datasets and their Lance branches, in SQL.

SQLite by default (a file inside the repository), any SQLAlchemy URL by
configuration. The catalog schema is created and upgraded by Alembic
(`store/migrations/`), never by ``create_all``, so every release can migrate
the catalogs that earlier releases wrote.

Only ``init`` creates a catalog and only ``init`` or ``upgrade`` migrate one:
opening a repository whose SQLite file is gone or empty is an error, never a
silent fresh start that would orphan its data. A catalog this process may not
write (permissions, read-only media) is opened read-only, so reads still work.
SQLite failures that are about the environment (a full disk, a read-only or
damaged file) become the tillage errors that say so, wherever they happen.

Branch heads move by compare-and-swap (``UPDATE ... WHERE commit_id = old``) in
the same transaction that inserts the commit: a commit lands whole or not at
all, and a writer that lost a race learns it instead of overwriting.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.jsonable import jsonable
from tillage.errors import (
    CatalogDamagedError,
    CatalogError,
    CatalogMissingError,
    ConcurrentUpdateError,
    DiskFullError,
    ReadOnlyRepositoryError,
    RefExistsError,
    StorageError,
    TillageError,
)

METADATA = MetaData()
"""Every table of the catalog. Alembic's migrations create them; these describe them.

Commits, pins, refs and datasets are SQLAlchemy Core tables: reading history
(`tillage log`) must not pay for importing the ORM. The monitoring, run, label
and checksum stores map their tables with the ORM (`tillage.store.orm`) onto
this same metadata.
"""

DATASETS = Table(
    "datasets",
    METADATA,
    Column("name", String(128), primary_key=True),
    Column("key_columns", JSON, nullable=False),
    Column("created_at", String(40), nullable=False),
)

COMMITS = Table(
    "commits",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("parents", JSON, nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", String(40), nullable=False, index=True),
    Column("principal", String(256), nullable=False),
    Column("tillage_version", String(32), nullable=False),
    Column("code_sha", String(64), nullable=True),
    Column("code_dirty", Boolean, nullable=False, default=False),
    Column("changes", JSON, nullable=False),
)

PINS = Table(
    "pins",
    METADATA,
    Column(
        "commit_id",
        String(64),
        ForeignKey("commits.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("dataset", String(128), primary_key=True),
    Column("lance_branch", String(200), nullable=False),
    Column("lance_version", Integer, nullable=False),
    Column("num_rows", Integer, nullable=False),
)

REFS = Table(
    "refs",
    METADATA,
    Column("name", String(200), primary_key=True),
    Column("kind", String(8), nullable=False),  # "branch" | "tag"
    Column("commit_id", String(64), nullable=True),
    Column("updated_at", String(40), nullable=False),
)

LANCE_BRANCHES = Table(
    "lance_branches",
    METADATA,
    # Which Lance branch a repo branch writes a dataset to (made lazily).
    Column("dataset", String(128), primary_key=True),
    Column("repo_branch", String(200), primary_key=True),
    Column("lance_branch", String(200), nullable=False),
)


def json_ready(value: Any) -> Any:
    """A JSON-ready copy for JSON columns (`tillage.core.jsonable`); timestamps keep the
    form stored values have always had, a space between date and time."""
    return jsonable(value, time_sep=" ")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_create_pragmas(dbapi_conn: Any, record: Any) -> None:
    # WAL is a property of the file, set once by `init`: setting it on open would
    # rewrite a file that may not be a catalog at all (or may not be writable).
    dbapi_conn.cursor().execute("PRAGMA journal_mode=WAL").close()
    _sqlite_pragmas(dbapi_conn, record)


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


class Catalog:
    """Narrow data access over the catalog database; one instance per repository.

    Attributes:
        path: the SQLite file, for the default catalog (None for a URL's server).
        read_only: opened for reading only: this process may not write the file.
    """

    def __init__(
        self,
        url: str,
        *,
        path: Path | None = None,
        read_only: bool = False,
        create: bool = False,
    ) -> None:
        self.url = url
        self.path = path
        self.read_only = read_only
        try:
            self.engine: Engine = create_engine(url, future=True)
        except Exception as e:  # bad URL or missing driver
            raise CatalogError(
                f"cannot open the catalog at {_shown(url)!r}: {e}. Check `catalog_url` in "
                ".tillage/config.yaml (for PostgreSQL: pip install 'tillage[postgres]')."
            ) from e
        if self.engine.dialect.name == "sqlite":
            pragmas = _sqlite_create_pragmas if create else _sqlite_pragmas
            event.listen(self.engine, "connect", pragmas)
            event.listen(self.engine, "handle_error", self._sqlite_error)

    @classmethod
    def sqlite(cls, path: Path, *, create: bool = False) -> Catalog:
        """The SQLite catalog at ``path``; only ``create`` (``init``) may make the file.

        Raises:
            CatalogMissingError: without ``create``, if the file is missing or empty.
        """
        if create:
            return cls(f"sqlite:///{path}", path=path, create=True)
        if not path.is_file():
            raise CatalogMissingError(str(path), "is missing")
        if path.stat().st_size == 0:
            raise CatalogMissingError(str(path), "is empty")
        uri = f"file:{quote(str(path))}"
        if _writable(path):
            return cls(f"sqlite:///{uri}?mode=rw&uri=true", path=path)
        # SQLite reads a WAL database through its -shm file, which a reader that may
        # not write the folder cannot create. With no -wal file there is nothing
        # beyond the main file to read, and `immutable` reads it without one.
        wal = path.with_name(path.name + "-wal")
        options = "mode=ro" if wal.exists() and wal.stat().st_size else "mode=ro&immutable=1"
        return cls(f"sqlite:///{uri}?{options}&uri=true", path=path, read_only=True)

    def _sqlite_error(self, context: Any) -> TillageError | None:
        """The tillage error for a SQLite failure that the environment caused, if it is one."""
        message = str(context.original_exception)
        where = str(self.path or self.url)
        if "database or disk is full" in message:
            return DiskFullError(where)
        if "readonly database" in message:
            return ReadOnlyRepositoryError(where, "the catalog is not writable")
        if "file is not a database" in message or "malformed" in message:
            return CatalogDamagedError(where, message)
        if self.path is not None and "unable to open database file" in message:
            if not self.path.exists():
                return CatalogMissingError(where, "is missing")
            return StorageError(where, "cannot open the catalog", "Check its permissions.")
        if self.path is not None and "disk I/O error" in message:
            if shutil.disk_usage(self.path.parent).free < 1 << 20:
                return DiskFullError(where)
            return StorageError(
                where, f"the catalog could not be read or written ({message})", "Check the disk."
            )
        return None

    # -- schema -------------------------------------------------------------

    def migrate(self) -> None:
        """Create or upgrade the catalog schema to the newest Alembic revision."""
        from tillage.store.migrate import upgrade

        with self.engine.begin() as conn:
            upgrade(conn)

    def revision(self) -> str | None:
        """The catalog's schema revision (None: no tillage tables at all)."""
        from tillage.store.migrate import current_revision

        try:
            with self.engine.connect() as conn:
                return current_revision(conn)
        except OperationalError as e:
            why = str(e.orig or e).splitlines()[0]
            raise CatalogError(
                f"cannot reach the catalog at {_shown(self.url)!r}: {why}. Is the database "
                "server running, and is `catalog_url` in .tillage/config.yaml right?"
            ) from e

    def check_schema(self) -> None:
        """Fail clearly unless the catalog's schema is the one this tillage writes.

        Opening never creates or migrates a catalog: an empty one means the
        repository lost its catalog, and an older one is upgraded only on request.

        Raises:
            CatalogMissingError: the catalog holds no tillage tables.
            CatalogError: it was written by a newer tillage, or needs `tillage upgrade`.
        """
        from tillage.store.migrate import head_revision

        rev = self._known_revision()
        if rev != head_revision():
            raise CatalogError(
                f"the catalog at {self._where()!r} has schema revision {rev}, written by an "
                f"older tillage (this one writes {head_revision()}); run `tillage upgrade` to "
                "upgrade it in place (back up .tillage/ first)."
            )

    def upgrade(self) -> tuple[str, str | None]:
        """Upgrade an existing catalog to the newest schema; return (from, to) revisions.

        Raises:
            CatalogMissingError: the catalog holds no tillage tables (``init`` makes one).
            CatalogError: it was written by a newer tillage.
        """
        from tillage.store.migrate import head_revision

        rev = self._known_revision()
        if rev != head_revision():
            self.migrate()
        return rev, head_revision()

    def _where(self) -> str:
        return str(self.path or self.url)

    def _known_revision(self) -> str:
        """The catalog's revision, if this tillage knows it; else a clear error."""
        from tillage.store.migrate import is_known

        rev = self.revision()
        if rev is None:
            raise CatalogMissingError(
                self._where(), "is empty (it holds no commits, branches or tags)"
            )
        if not is_known(rev):
            raise CatalogError(
                f"the catalog at {self._where()!r} has schema revision {rev}, newer than this "
                "tillage knows; upgrade tillage (pip install -U tillage)."
            )
        return rev

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    # -- datasets -----------------------------------------------------------

    def dataset_key(self, name: str) -> list[str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(DATASETS.c.key_columns).where(DATASETS.c.name == name)
            ).first()
        return list(row[0]) if row else None

    def list_datasets(self) -> dict[str, list[str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(DATASETS.c.name, DATASETS.c.key_columns)).all()
        return {r[0]: list(r[1]) for r in rows}

    @staticmethod
    def add_dataset(conn: Connection, name: str, key: Sequence[str]) -> None:
        conn.execute(insert(DATASETS).values(name=name, key_columns=list(key), created_at=utcnow()))

    def drop_dataset(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(DATASETS).where(DATASETS.c.name == name))
            conn.execute(delete(LANCE_BRANCHES).where(LANCE_BRANCHES.c.dataset == name))

    # -- commits ------------------------------------------------------------

    @staticmethod
    def _commit_from_rows(row: Any, pins: Sequence[Any]) -> Commit:
        return Commit(
            id=row.id,
            parents=tuple(row.parents),
            pins={p.dataset: DatasetPin(p.lance_branch, p.lance_version, p.num_rows) for p in pins},
            message=row.message,
            created_at=row.created_at,
            principal=row.principal,
            tillage_version=row.tillage_version,
            code=CodeVersion(row.code_sha, bool(row.code_dirty)),
            changes=dict(row.changes or {}),
        )

    def get_commit(self, commit_id: str) -> Commit | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(COMMITS).where(COMMITS.c.id == commit_id)).first()
            if row is None:
                return None
            pins = conn.execute(select(PINS).where(PINS.c.commit_id == commit_id)).all()
        return self._commit_from_rows(row, pins)

    def find_commit_ids(self, prefix: str) -> list[str]:
        """Ids starting with ``prefix`` (at most 2: one is a match, two say ambiguous).

        The prefix is matched literally: ``_`` and ``%`` are not wildcards.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(COMMITS.c.id)
                .where(COMMITS.c.id.startswith(prefix, autoescape=True))
                .limit(2)
            ).all()
        return [r[0] for r in rows]

    def all_commits(self) -> dict[str, Commit]:
        """Every commit, loaded in two queries (for tests and tools: history is walked
        in SQL by `store.history`, which loads only the commits it returns)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(COMMITS)).all()
            pins = conn.execute(select(PINS)).all()
        by_commit: dict[str, list[Any]] = {}
        for p in pins:
            by_commit.setdefault(p.commit_id, []).append(p)
        return {r.id: self._commit_from_rows(r, by_commit.get(r.id, [])) for r in rows}

    @staticmethod
    def insert_commit(conn: Connection, commit: Commit) -> None:
        conn.execute(
            insert(COMMITS).values(
                id=commit.id,
                parents=list(commit.parents),
                message=commit.message,
                created_at=commit.created_at,
                principal=commit.principal,
                tillage_version=commit.tillage_version,
                code_sha=commit.code.git_sha,
                code_dirty=commit.code.dirty,
                changes=json_ready(commit.changes),
            )
        )
        if commit.pins:
            conn.execute(
                insert(PINS),
                [
                    {
                        "commit_id": commit.id,
                        "dataset": name,
                        "lance_branch": pin.lance_branch,
                        "lance_version": pin.version,
                        "num_rows": pin.num_rows,
                    }
                    for name, pin in commit.pins.items()
                ],
            )

    def delete_commits(self, ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            for chunk_start in range(0, len(ids), 500):
                chunk = list(ids[chunk_start : chunk_start + 500])
                conn.execute(delete(PINS).where(PINS.c.commit_id.in_(chunk)))
                conn.execute(delete(COMMITS).where(COMMITS.c.id.in_(chunk)))

    def pinned_versions(self) -> set[tuple[str, str, int]]:
        """Every (dataset, Lance branch, version) some stored commit pins."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(PINS.c.dataset, PINS.c.lance_branch, PINS.c.lance_version)
            ).all()
        return {(r[0], r[1], r[2]) for r in rows}

    # -- refs ---------------------------------------------------------------

    def get_ref(self, name: str) -> tuple[str, str | None] | None:
        """Return (kind, commit id) of a ref, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(REFS.c.kind, REFS.c.commit_id).where(REFS.c.name == name)
            ).first()
        return (row[0], row[1]) if row else None

    def list_refs(self, kind: str | None = None) -> dict[str, tuple[str, str | None]]:
        with self.engine.connect() as conn:
            q = select(REFS.c.name, REFS.c.kind, REFS.c.commit_id)
            if kind:
                q = q.where(REFS.c.kind == kind)
            rows = conn.execute(q.order_by(REFS.c.name)).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    @staticmethod
    def create_ref(conn: Connection, name: str, kind: str, commit_id: str | None) -> None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(REFS).values(
                        name=name, kind=kind, commit_id=commit_id, updated_at=utcnow()
                    )
                )
        except IntegrityError as e:
            existing = conn.execute(select(REFS.c.kind).where(REFS.c.name == name)).scalar()
            raise RefExistsError(name, existing or kind) from e

    @staticmethod
    def move_branch(conn: Connection, name: str, expected: str | None, new: str | None) -> None:
        """Compare-and-swap a branch head; raise `ConcurrentUpdateError` if it moved."""
        cond = REFS.c.commit_id.is_(None) if expected is None else REFS.c.commit_id == expected
        res = conn.execute(
            update(REFS)
            .where(REFS.c.name == name, REFS.c.kind == "branch", cond)
            .values(commit_id=new, updated_at=utcnow())
        )
        if res.rowcount != 1:
            found = conn.execute(select(REFS.c.commit_id).where(REFS.c.name == name)).scalar()
            raise ConcurrentUpdateError(name, expected, found)

    def delete_ref(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(REFS).where(REFS.c.name == name))
            conn.execute(delete(LANCE_BRANCHES).where(LANCE_BRANCHES.c.repo_branch == name))

    # -- Lance branch ownership -------------------------------------------

    def lance_branch_for(self, dataset: str, repo_branch: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(LANCE_BRANCHES.c.lance_branch).where(
                    LANCE_BRANCHES.c.dataset == dataset, LANCE_BRANCHES.c.repo_branch == repo_branch
                )
            ).scalar()

    def lance_branch_owners(self) -> set[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(LANCE_BRANCHES.c.dataset, LANCE_BRANCHES.c.lance_branch)
            ).all()
        return {(r[0], r[1]) for r in rows}

    @staticmethod
    def set_lance_branch(conn: Connection, dataset: str, repo_branch: str, lance: str) -> None:
        conn.execute(
            delete(LANCE_BRANCHES).where(
                LANCE_BRANCHES.c.dataset == dataset, LANCE_BRANCHES.c.repo_branch == repo_branch
            )
        )
        conn.execute(
            insert(LANCE_BRANCHES).values(
                dataset=dataset, repo_branch=repo_branch, lance_branch=lance
            )
        )


def _shown(url: str) -> str:
    """``url`` as a message may show it: with its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all, so no password to find
        return url
