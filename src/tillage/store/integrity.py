"""Checksums of the files commits add, and the checks that compare files with them.

Lance records each data file's size in its manifest but no checksum of its
content, so a changed byte in a data file is read as if it were data. When a
commit lands, the ledger records the size, modification time and BLAKE2b hash
of each file its dataset versions read that no earlier commit recorded: an
append hashes only the files it wrote, never the table's older ones.

Two depths of check use the ledger:

- every read (`FileLedger.guard`, once per version per process): each file
  exists, has the size Lance and the ledger recorded, and the recorded
  modification time; only a file whose time differs is hashed again. A flipped
  byte changes the time, so it is caught at the cost of a ``stat`` per file.
- ``verify --deep``: every file is hashed and compared, whatever its time says.

Files written before the ledger existed (catalogs upgraded from schema 0005)
have no entry: their sizes are still checked against Lance's manifest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import BigInteger, Connection, Engine, String, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tillage.core.commit import DatasetPin
from tillage.core.reports import IntegrityProblem
from tillage.errors import CorruptDataError
from tillage.store.catalog import utcnow
from tillage.store.orm import Base
from tillage.store.tables import Tables, VersionFile, version_label

_CHUNK = 500


class FileChecksumRow(Base):
    __tablename__ = "file_checksums"
    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    blake2b: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class FileEntry:
    """What the ledger knows of one file (path relative to the dataset's folder)."""

    path: str
    size: int
    mtime_ns: int
    blake2b: str


@dataclass(frozen=True)
class FileCheck:
    """What checking one version's files found."""

    problems: list[IntegrityProblem]
    files: int
    hashed: int
    unrecorded: int


# Lance names the files a branch shares with the branch it was forked from by
# absolute path, so a copied or moved repository still reads them where they were.
_OUTSIDE = (
    "lies outside this repository: Lance names the files a branch shares with its "
    "parent by absolute path, so this repository was copied or moved from there and "
    "reads of this version use that file. Keep the original in place (or move this "
    "repository back); copying a repository with branches is not supported yet"
)


def _problem(dataset: str, version: str, file: str, problem: str) -> IntegrityProblem:
    return IntegrityProblem(problem, dataset=dataset, version=version, file=file)


def file_hash(path: Path) -> str:
    """The BLAKE2b-256 hex digest of a file's bytes."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=32)).hexdigest()


class FileLedger:
    """The ``file_checksums`` table and the checks against it."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.tables = tables
        # Files a read's check passed in this process, with the (size, mtime) they
        # had: a version shares most files with the one before, so each new version
        # costs a stat per file and a lookup only for its new ones.
        self._passed: dict[tuple[str, str], tuple[int, int]] = {}

    def _folder(self, dataset: str) -> Path:
        return self.tables.root / f"{dataset}.lance"

    def recorded(self, dataset: str, paths: Iterable[str]) -> dict[str, FileEntry]:
        """The ledger's entries for ``paths`` of ``dataset``."""
        wanted = list(paths)
        out: dict[str, FileEntry] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                rows = conn.execute(
                    select(FileChecksumRow.__table__).where(
                        FileChecksumRow.dataset == dataset,
                        FileChecksumRow.path.in_(wanted[i : i + _CHUNK]),
                    )
                ).all()
                for r in rows:
                    out[r.path] = FileEntry(r.path, r.size, r.mtime_ns, r.blake2b)
        return out

    # -- at commit time -------------------------------------------------------

    def new_entries(self, dataset: str, pin: DatasetPin, since_ns: int = 0) -> list[FileEntry]:
        """Hash the files of a just-written version that the ledger does not know yet.

        Only files modified at or after ``since_ns`` (when the write began, less a
        margin for coarse file clocks) can be new: older ones are never hashed
        again, nor looked up, so an append costs a ``stat`` per file of the version
        and a hash of the files it wrote.
        """
        handle = self.tables.open(dataset, pin, check=False)
        stats: dict[str, os.stat_result] = {}
        for f in self.tables.version_files(dataset, pin, handle):
            try:
                st = (self._folder(dataset) / f.path).stat()
            except FileNotFoundError:  # a file elsewhere (a moved repository's branch)
                continue
            if st.st_mtime_ns >= since_ns:
                stats[f.path] = st
        known = self.recorded(dataset, stats)
        return [
            FileEntry(p, st.st_size, st.st_mtime_ns, file_hash(self._folder(dataset) / p))
            for p, st in stats.items()
            if p not in known
        ]

    @staticmethod
    def insert(conn: Connection, dataset: str, entries: Sequence[FileEntry]) -> None:
        """Record ``entries`` in the commit's transaction (skipping any already there)."""
        if not entries:
            return
        paths = [e.path for e in entries]
        present: set[str] = set()
        for i in range(0, len(paths), _CHUNK):
            present.update(
                conn.execute(
                    select(FileChecksumRow.path).where(
                        FileChecksumRow.dataset == dataset,
                        FileChecksumRow.path.in_(paths[i : i + _CHUNK]),
                    )
                ).scalars()
            )
        rows = [
            {**asdict(e), "dataset": dataset, "recorded_at": utcnow()}
            for e in entries
            if e.path not in present
        ]
        if rows:
            conn.execute(insert(FileChecksumRow), rows)

    def all_files(self) -> set[Path]:
        """Every recorded file: what landed commits wrote."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(FileChecksumRow.dataset, FileChecksumRow.path)).all()
        return {self._folder(d) / p for d, p in rows}

    def forget_missing(self) -> int:
        """Drop the entries of files that no longer exist (after `gc`); return how many."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(FileChecksumRow.dataset, FileChecksumRow.path)).all()
        gone = [(d, p) for d, p in rows if not (self._folder(d) / p).exists()]
        with self.engine.begin() as conn:
            for d, p in gone:
                conn.execute(
                    delete(FileChecksumRow).where(
                        FileChecksumRow.dataset == d, FileChecksumRow.path == p
                    )
                )
        return len(gone)

    # -- checking -------------------------------------------------------------

    def check(
        self,
        dataset: str,
        pin: DatasetPin,
        files: Sequence[VersionFile],
        *,
        deep: bool = False,
        hashed: dict[str, str] | None = None,
        self_contained: bool = False,
    ) -> FileCheck:
        """Compare a version's files with Lance's manifest and the ledger.

        Args:
            deep: hash every recorded file (else only those whose time changed).
            hashed: digests already computed in this run, by path (filled in).
            self_contained: a file outside the repository is a problem too (`verify`:
                the repository must hold everything it reads).
        """
        label = version_label(pin)
        known = self.recorded(dataset, (f.path for f in files))
        problems: list[IntegrityProblem] = []
        n_hashed = unrecorded = 0
        for f in files:
            path = self._folder(dataset) / f.path
            outside = f.path.startswith("/")
            shown = f.path if outside else f"tables/{dataset}.lance/{f.path}"
            if outside and self_contained:
                problems.append(_problem(dataset, label, shown, _OUTSIDE))
            try:
                st = path.stat()
            except FileNotFoundError:
                missing = "is missing" + (f"; it {_OUTSIDE}" if outside else "")
                problems.append(_problem(dataset, label, shown, missing))
                continue
            except OSError as e:
                problems.append(_problem(dataset, label, shown, f"cannot be read ({e})"))
                continue
            entry = known.get(f.path)
            expected = entry.size if entry is not None else f.size
            if expected is not None and st.st_size != expected:
                problems.append(
                    _problem(
                        dataset,
                        label,
                        shown,
                        f"has {st.st_size:,} bytes where {expected:,} were written",
                    )
                )
                continue
            if entry is None:
                unrecorded += 1
                continue
            if not deep and st.st_mtime_ns == entry.mtime_ns:
                continue
            digest = hashed.get(f.path) if hashed is not None else None
            if digest is None:
                try:
                    digest = file_hash(path)
                except OSError as e:
                    problems.append(_problem(dataset, label, shown, f"cannot be read ({e})"))
                    continue
                n_hashed += 1
                if hashed is not None:
                    hashed[f.path] = digest
            if digest != entry.blake2b:
                problems.append(
                    _problem(
                        dataset,
                        label,
                        shown,
                        "has changed since it was written (its checksum differs)",
                    )
                )
        return FileCheck(problems, len(files), n_hashed, unrecorded)

    def guard(self, dataset: str, pin: DatasetPin, files: list[VersionFile], deep: bool) -> None:
        """The check `Tables` runs before a version is read (and, ``deep``, after Lance
        failed to read it).

        Raises:
            CorruptDataError: for the first damaged file.
        """
        if not deep:
            files = [f for f in files if not self._still_passes(dataset, f)]
        found = self.check(dataset, pin, files, deep=deep)
        if found.problems:
            p = found.problems[0]
            raise CorruptDataError(dataset, str(p.version), str(p.file), p.problem)
        for f in files:
            seen = self._stat(f, dataset)
            if seen is not None:
                self._passed[(dataset, f.path)] = seen

    def _still_passes(self, dataset: str, f: VersionFile) -> bool:
        """Whether ``f`` passed a check in this process and has not changed since."""
        passed = self._passed.get((dataset, f.path))
        return passed is not None and passed == self._stat(f, dataset)

    def _stat(self, f: VersionFile, dataset: str) -> tuple[int, int] | None:
        try:
            st = (self._folder(dataset) / f.path).stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns
