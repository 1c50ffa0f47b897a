"""Making one commit: stage Lance writes, then land them in one catalog transaction.

The order is what makes a commit atomic. Data goes to new Lance versions first;
those are invisible until the catalog transaction inserts the commit, its pins
and the moved branch head together. A process killed before that transaction
leaves only unpinned Lance versions, which the next write on the branch
discards and `gc` deletes.

Before that transaction, the files the new versions added are hashed; their
checksums land in the same transaction (`store.integrity`), so a later read or
``verify`` can tell a damaged file from the one the commit wrote.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from tillage._version import __version__
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.errors import ReadOnlyRepositoryError
from tillage.store.catalog import Catalog
from tillage.store.fs import discard_new_files, environment_error
from tillage.store.integrity import FileEntry, FileLedger
from tillage.store.lock import write_lock
from tillage.store.tables import Tables, Target, WriteResult


def code_version(cwd: Path | None = None) -> CodeVersion:
    """The git commit and dirty flag of the code calling tillage, if it is in git.

    One ``git status`` call gives both (its v2 header carries the commit id).
    """
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return CodeVersion()
    if out.returncode != 0:
        return CodeVersion()
    sha, dirty = None, False
    for line in out.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            sha = None if oid == "(initial)" else oid
        elif not line.startswith("#"):
            dirty = True
    return CodeVersion(sha, dirty) if sha else CodeVersion()


@dataclass
class Transaction:
    """The writes staged for one commit on one branch."""

    catalog: Catalog
    tables: Tables
    branch: str
    head: Commit | None
    pins: dict[str, DatasetPin]
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_datasets: dict[str, list[str]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # dataset -> Lance branch

    def write_target(self, dataset: str) -> Target:
        """Where the next write of ``dataset`` on this branch goes."""
        base = self.pins[dataset]
        owned = self.owners.get(dataset) or self.catalog.lance_branch_for(dataset, self.branch)
        target = self.tables.write_target(dataset, base, owned, self.branch)
        self.owners[dataset] = target.branch
        return target

    def record(self, dataset: str, result: WriteResult, change: dict[str, Any]) -> None:
        """Pin the new version ``result`` of ``dataset`` in this commit."""
        self.pins[dataset] = DatasetPin(result.lance_branch, result.version, result.num_rows)
        self.owners[dataset] = result.lance_branch
        prior = self.changes.get(dataset, {})
        merged = {**prior, **change}
        for n in ("inserted", "updated", "deleted"):
            merged[n] = prior.get(n, 0) + getattr(result, n)
        merged["rows"] = result.num_rows
        self.changes[dataset] = merged

    def created(self, dataset: str, key: list[str], result: WriteResult) -> None:
        self.new_datasets[dataset] = key
        self.record(dataset, result, {"op": "create", "key": key})

    def drop(self, dataset: str) -> None:
        self.pins.pop(dataset, None)
        self.changes[dataset] = {"op": "drop"}


class Writer:
    """Opens transactions on a branch and lands them as commits."""

    def __init__(self, catalog: Catalog, tables: Tables, lock_path: Path, principal: str) -> None:
        self.catalog = catalog
        self.tables = tables
        self.lock_path = lock_path
        self.principal = principal
        self.ledger = FileLedger(catalog.engine, tables)
        self._staged = False
        self._started = 0  # when the current write lock was taken (ns)

    @classmethod
    def for_repository(cls, catalog: Catalog, repo_dir: Path, principal: str) -> Writer:
        """The writer of the repository in ``repo_dir``, with its tables.

        The tables' reads are guarded by the writer's file ledger: each file a
        read uses is checked against the checksums recorded when it was written.
        """
        tables = Tables(repo_dir / "tables")
        writer = cls(catalog, tables, repo_dir / "write.lock", principal)
        tables.guard = writer.ledger.guard
        return writer

    def check_writable(self) -> None:
        """Fail before any write if this process may not change the repository.

        Raises:
            ReadOnlyRepositoryError: naming what is not writable.
        """
        if self.catalog.read_only:
            raise ReadOnlyRepositoryError(str(self.catalog.path), "the catalog is not writable")
        for folder in (self.lock_path.parent, self.tables.root):
            if folder.exists() and not os.access(folder, os.W_OK):
                raise ReadOnlyRepositoryError(str(folder), "the folder is not writable")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the write lock; if the block fails, undo the files a transaction staged.

        OS failures (a full disk, a read-only file) become tillage errors here.
        """
        self.check_writable()
        with write_lock(self.lock_path):
            started = self._started = time.time_ns()
            self._staged = False
            self.tables.saved = {}
            try:
                yield
            except BaseException as e:
                if self._staged:
                    try:
                        keep = self.ledger.all_files()
                        discard_new_files(self.tables.root, started, keep, self.tables.saved)
                    except Exception:  # best effort: unpinned files are harmless, gc takes them
                        pass
                mapped = environment_error(e, self.tables.root)
                if mapped is not None:
                    raise mapped from e
                raise
            finally:
                self._staged = False
                self.tables.saved = None

    def begin(self, branch: str) -> Transaction:
        """Start a transaction at the branch's current head (call under `locked`)."""
        self._staged = True
        ref = self.catalog.get_ref(branch)
        head_id = ref[1] if ref else None
        head = self.catalog.get_commit(head_id) if head_id else None
        return Transaction(
            catalog=self.catalog,
            tables=self.tables,
            branch=branch,
            head=head,
            pins=dict(head.pins) if head else {},
        )

    def commit(
        self,
        tx: Transaction,
        message: str,
        *,
        extra_parents: tuple[str, ...] = (),
        code: CodeVersion | None = None,
        also: Callable[[Connection, Commit], None] | None = None,
    ) -> Commit:
        """Land ``tx`` as one commit; the branch head moves by compare-and-swap.

        ``also`` writes whatever must land with the commit (profiles, findings,
        alerts) in the same catalog transaction.
        """
        parents = ((tx.head.id,) if tx.head else ()) + extra_parents
        commit = Commit.make(
            parents=parents,
            pins=tx.pins,
            message=message,
            created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            principal=self.principal,
            tillage_version=__version__,
            code=code if code is not None else code_version(),
            changes=tx.changes,
        )
        before = tx.head.pins if tx.head else {}
        checksums: dict[str, list[FileEntry]] = {
            # A second of margin: file systems may stamp times from a coarser clock.
            name: self.ledger.new_entries(name, pin, self._started - 10**9)
            for name, pin in tx.pins.items()
            if before.get(name) != pin
        }
        with self.catalog.transaction() as conn:
            for name, key in tx.new_datasets.items():
                Catalog.add_dataset(conn, name, key)
            Catalog.insert_commit(conn, commit)
            for name, entries in checksums.items():
                FileLedger.insert(conn, name, entries)
            for dataset, lance_branch in tx.owners.items():
                if dataset in tx.pins:
                    Catalog.set_lance_branch(conn, dataset, tx.branch, lance_branch)
            Catalog.move_branch(conn, tx.branch, tx.head.id if tx.head else None, commit.id)
            if also is not None:
                also(conn, commit)
        self._staged = False  # landed: its files are the commit's now
        return commit
