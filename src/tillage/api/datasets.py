"""`repo.datasets`: reading, writing, diffing and exporting datasets; verify and gc.

Every write makes exactly one commit on a branch and lands atomically (see
`tillage.versioning.writer`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.access import Purpose
from tillage.api._storage import Namespace, count
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.reports import GcReport, VerifyReport
from tillage.errors import (
    InputError,
    NoSuchDatasetError,
    QualityCheckError,
    TillageError,
)
from tillage.formats import write_file
from tillage.versioning.diff import dataset_diff
from tillage.versioning.ingest import Mode

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from tillage.quality.monitor import BatchCheck
    from tillage.versioning.writer import Transaction

HEAD = "HEAD"


class _Blocked(Exception):
    """Internal: a batch check found blocking findings (raised before any write)."""

    def __init__(self, result: BatchCheck) -> None:
        self.result = result


def _read_columns(columns: str | Sequence[str] | None) -> list[str] | None:
    """The columns a read asks for, as a list (None: all); each must be a name, once."""
    if columns is None:
        return None
    cols = [columns] if isinstance(columns, str) else list(columns)
    odd = [c for c in cols if not isinstance(c, str)]
    if odd:
        raise InputError(f"column names are text; got {', '.join(map(repr, odd))}.")
    dups = sorted({c for c in cols if cols.count(c) > 1})
    if dups:
        raise InputError(
            f"column(s) {', '.join(dups)} asked for more than once; name each column once."
        )
    return cols or None


class Datasets(Namespace):
    """The datasets of a repository (``repo.datasets``)."""

    def pins(self, ref: str | None = None) -> dict[str, DatasetPin]:
        """Dataset name -> its pinned version at ``ref`` (default: HEAD).

        Raises:
            NoSuchRefError: ``ref`` names nothing.
        """
        c = self._repo.refs.find_commit(ref)
        return dict(c.pins) if c else {}

    def pin(self, dataset: str, ref: str | None = None) -> DatasetPin:
        """The version of ``dataset`` that ``ref`` pins.

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset (the error lists those it has).
        """
        pins = self.pins(ref)
        if dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        return pins[dataset]

    def key(self, dataset: str) -> list[str]:
        """The primary-key columns of ``dataset``.

        Raises:
            NoSuchDatasetError: no ref has ever had such a dataset.
        """
        catalog = self._catalog
        key = catalog.dataset_key(dataset)
        if key is None:
            raise NoSuchDatasetError(dataset, "any ref", list(catalog.list_datasets()))
        return key

    def check_owned(
        self, dataset: str, key: Sequence[str], columns: Sequence[str], holds: str, fix: str
    ) -> None:
        """Refuse to write tillage's own records into a user's dataset of the same name.

        ``dataset`` is where tillage keeps ``holds`` (keyed by ``key``, with ``columns``);
        one that exists with another key or other columns is someone else's.

        Raises:
            InputError: it exists and is not one tillage made (the message says ``fix``).
        """
        found = self._catalog.dataset_key(dataset)
        if found is None:
            return
        same = tuple(found) == tuple(key) and (
            dataset not in self.pins() or self.schema(dataset).names == list(columns)
        )
        if not same:
            raise InputError(
                f"dataset {dataset!r} exists and does not hold {holds}, but tillage keeps "
                f"{holds} there; {fix}"
            )

    def schema(self, dataset: str, ref: str | None = None) -> pa.Schema:
        """The Arrow schema of ``dataset`` at ``ref``.

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        return self._tables.schema(dataset, self.pin(dataset, ref))

    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> pa.Table:
        """Read ``dataset`` as it was at ``ref``, optionally projected and filtered.

        Args:
            dataset: the dataset's name.
            ref: the ref to read at (default: HEAD).
            columns: columns to return (default: all), each at most once.
            where: a SQL condition, e.g. ``"dep_delay > 60 AND origin = 'JFK'"``; strings
                in single quotes, column names with spaces in backticks (`` `my col` ``).
                It is parsed whole: anything but exactly one condition is refused.
            limit: at most this many rows (a whole number >= 0).
            offset: skip this many rows first (with ``limit``: one batch of a scan).

        Returns:
            The rows, as an Arrow table.

        Raises:
            InvalidFilterError: ``where`` is not one condition on this dataset's columns.
            InputError: unknown or repeated columns, or a bad ``limit`` or ``offset``.
            NoSuchDatasetError: ``ref`` has no such dataset.
            CorruptDataError: the version's files are damaged (run `verify`).
        """
        return self._read(dataset, ref, columns=columns, where=where, limit=limit, offset=offset)

    def _read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        purpose: Purpose = Purpose.ROWS,
    ) -> pa.Table:
        """`read` for ``purpose`` (recorded with the read and checked by the policy, see
        `tillage.access`): for the namespaces that read on a caller's behalf."""
        cols = _read_columns(columns)
        limit, offset = count("limit", limit), count("offset", offset)
        commit = self._repo.refs.find_commit(ref)
        pins = commit.pins if commit else {}
        if dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        assert commit is not None
        return self._reader.table(
            purpose,
            dataset,
            pins[dataset],
            commit.id,
            columns=cols,
            where=where,
            limit=limit,
            offset=offset,
        )

    def head(
        self,
        dataset: str,
        ref: str | None = None,
        n: int = 10,
        *,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The first ``n`` rows of ``dataset`` at ``ref`` (only ``columns``, if given).

        Raises:
            InputError: unknown or repeated columns, or a bad ``n``.
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        return self.read(dataset, ref, columns=columns, limit=n)

    def diff(
        self, a: str, b: str | None = None, *, dataset: str | None = None, rows: int = 5
    ) -> list[DatasetDiff]:
        """Schema and row-level changes of every dataset (or one) from ``a`` to ``b``.

        Args:
            a: the old ref.
            b: the new ref (default: HEAD).
            dataset: only this dataset.
            rows: sample rows to include per kind of change.

        Returns:
            One `DatasetDiff` per dataset, in name order.

        Raises:
            NoSuchRefError: ``a`` or ``b`` names nothing.
            NoSuchDatasetError: neither side has ``dataset``.
        """
        old = self._repo.refs.find_commit(a)
        new = self._repo.refs.find_commit(b)
        old_pins = old.pins if old else {}
        new_pins = new.pins if new else {}
        names = sorted(set(old_pins) | set(new_pins))
        if dataset is not None:
            if dataset not in names:
                raise NoSuchDatasetError(dataset, f"{a} or {b or HEAD}", names)
            names = [dataset]
        out = []
        for name in names:
            po, pn = old_pins.get(name), new_pins.get(name)
            key = self.key(name)
            if po is not None and po == pn:
                n = po.num_rows
                out.append(DatasetDiff(name, "unchanged", key, SchemaChange(), n, n))
                continue
            # Open versions, not tables: the diff reads only the rows they do not share.
            version = self._reader.version
            v_old = version(Purpose.DIFF, name, po, old.id) if po and old else None
            v_new = version(Purpose.DIFF, name, pn, new.id) if pn and new else None
            out.append(dataset_diff(name, key, v_old, v_new, rows))
        return out

    def export(
        self,
        dataset: str,
        path: str | os.PathLike[str],
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        labels: str | None = None,
    ) -> int:
        """Write ``dataset`` at ``ref`` to a Parquet, CSV, JSONL or Arrow file.

        The file is written to a temporary name and renamed, so a failed export
        leaves no file.

        Args:
            dataset: the dataset's name.
            path: the file to write; its suffix picks the format.
            ref: the ref to read at (default: HEAD).
            columns: only these columns.
            where: only rows matching this condition (see `read`).
            labels: write the training set of this label set instead: the labelled
                records with their label, confidence and provenance (`training_set`).

        Returns:
            The number of rows written.

        Raises:
            InputError: bad columns, or ``where`` with ``labels``.
            InvalidFilterError: ``where`` is not one condition on this dataset's columns.
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        columns = _read_columns(columns)
        if labels is None:
            table = self._read(dataset, ref, columns=columns, where=where, purpose=Purpose.EXPORT)
        else:
            if where is not None:
                raise InputError("--where does not combine with --labels; filter the file after.")
            table = self._repo.labels.training_set(dataset, labels, ref, purpose=Purpose.EXPORT)
            if columns:
                keep = [*columns, *[c for c in table.column_names if c.startswith("label")]]
                table = table.select(list(dict.fromkeys(keep)))
        write_file(table, path)
        return int(table.num_rows)

    def ingest(
        self,
        dataset: str,
        data: Any,
        *,
        key: str | Sequence[str] | None = None,
        mode: Mode = "append",
        message: str | None = None,
        branch: str | None = None,
        evolve: bool = False,
        code: CodeVersion | None = None,
        check: bool = True,
        encoding: str | None = None,
        coerce: bool = False,
        on_commit: Callable[[Connection, Commit], None] | None = None,
        reserved: bool = False,
        declassified_by: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Commit:
        """Write ``data`` into ``dataset`` and make exactly one commit.

        The batch is profiled, checked against the dataset's schema file (if any)
        and compared with the configured reference; ``warn`` findings open or
        update alerts with the commit, ``block`` findings stop it and keep the
        batch on a quarantine branch.

        Args:
            dataset: the dataset's name; created on first ingest (then ``key`` is required).
            data: an Arrow table, pandas or Polars frame, or file path(s) (Parquet, CSV,
                JSON Lines, Arrow IPC).
            key: primary-key column(s).
            mode: "append" (keys must be new), "upsert" (insert or update by key),
                "overwrite" (replace all rows), "delete" (remove rows with these keys).
            message: commit message (a default describes the write).
            branch: branch to commit on (default: the current branch).
            evolve: allow new columns (added to the dataset, null for existing rows).
            code: the caller's code version (default: git in the current folder).
            check: profile and check the batch (False: write it as it is).
            encoding: the text encoding of CSV files (default UTF-8), e.g. "latin-1".
            coerce: CSV cells that do not convert exactly to the dataset's column types
                are converted anyway ("007" to 7, 1.5 to 1) or, if they cannot be, stored
                as null; without it they are an error naming the column, row and value.
            on_commit: called with the catalog transaction that makes the commit, and the
                commit, so that what it records there lands with the commit or not at all.
            reserved: tillage's own writes (selections, predictions, data values) may
                create a dataset under a name it keeps for them; others may not.
            declassified_by: ``"dp"`` or ``"aggregate"`` when ``data`` is the release of
                a declassifying step (a DP answer, an aggregate view with small groups
                suppressed). Otherwise a write by a principal that read values of
                private datasets makes ``dataset`` private like them (recorded with
                the commit in ``private_derivations``).
            detail: JSON-ready facts recorded in the commit's change of ``dataset``
                (``commit.changes[dataset]``), e.g. how a synthetic proxy was made.

        Raises:
            InvalidNameError: a new dataset under a name tillage keeps for its own
                (``selections``, ``*-predictions``, ``*-values``).
            InputError: bad data (its subclasses say what exactly); nothing is written.
            QualityCheckError: the batch broke a blocking schema rule; it is on the
                quarantine branch the error names, not on ``branch``.
            NoSuchDatasetError, NoSuchRefError: unknown dataset (for delete) or branch.
            ConcurrentUpdateError: the branch moved under us (another catalog client).
        """
        from tillage.core.names import check_unreserved
        from tillage.store import derivations
        from tillage.versioning.ingest import prepare, write_batch

        if declassified_by is not None and declassified_by not in derivations.DECLASSIFIERS:
            raise InputError(
                f"declassified_by must be one of {', '.join(derivations.DECLASSIFIERS)} "
                f"(or None), not {declassified_by!r}."
            )
        sources = self._reader.private_sources(dataset)

        if not reserved and self._catalog.dataset_key(dataset) is None:
            check_unreserved(dataset, "dataset")
        observer = self._scope.observer
        if observer is not None:
            observer.writing(dataset)
        key_cols, table = prepare(
            dataset,
            data,
            key=key,
            mode=mode,
            csv_types=lambda: self.csv_types(dataset, self._repo.refs.checked_branch(branch)),
            encoding=encoding,
            coerce=coerce,
        )
        branch = self._repo.refs.checked_branch(branch)
        checked: list[BatchCheck] = []

        def validate(batch: pa.Table, tx: Transaction, key: list[str]) -> dict[str, Any] | None:
            found = checked_batch(batch, tx, key)
            return {**(found or {}), **detail} if detail else found

        def checked_batch(
            batch: pa.Table, tx: Transaction, key: list[str]
        ) -> dict[str, Any] | None:
            if not check:
                return None
            parent = tx.pins.get(dataset)
            labels = self._repo.quality.label_findings(dataset, batch, tx.head, tx.pins)
            reference = (
                self._repo.quality.ingest_reference(dataset, tx.head)
                if parent and labels is None
                else None
            )
            result = self._monitor.check_batch(dataset, batch, reference, key, labels)
            if result.blocking:
                raise _Blocked(result)
            checked.append(result)
            if not result.schema_sha256:
                return None
            return {"schema": {"file": result.schema_file, "sha256": result.schema_sha256}}

        def record(conn: Connection, commit: Commit, parent: DatasetPin | None) -> None:
            if on_commit is not None:
                on_commit(conn, commit)
            derivations.record(
                conn,
                (
                    derivations.Derivation(dataset, source, commit.id, declassified_by)
                    for source in sources
                ),
            )
            if checked:
                alerts = self._scope.alerts_on if branch == self._scope.branch else None
                private = self._storage.read_policy.private(dataset)
                self._monitor.record(
                    conn, commit, alerts or branch, checked[0], parent, parent is None, private
                )

        try:
            commit = write_batch(
                self._catalog,
                self._writer,
                dataset,
                table,
                branch=branch,
                key=key_cols,
                mode=mode,
                evolve=evolve,
                message=message,
                code=code,
                validate=validate,
                record=record,
            )
        except _Blocked as blocked:
            quarantine = self._quarantine(dataset, table, key_cols, mode, branch, evolve, code)
            raise QualityCheckError(dataset, blocked.result.blocking, quarantine) from None
        if checked:
            from tillage.quality.outbox import COMMAND_BUDGET

            for problem in self._monitor.deliver(budget=COMMAND_BUDGET).errors:
                warnings.warn(problem, stacklevel=2)
        if sources and declassified_by is None:
            self._storage.forget_read_policy()
        if observer is not None:
            observer.written(dataset, commit)
        return commit

    def csv_types(self, dataset: str, ref: str | None) -> dict[str, pa.DataType] | None:
        """The dataset's column types at ``ref``, to parse CSV cells as (None if it has none)."""
        head = self._repo.refs.find_commit(ref)
        pin = head.pins.get(dataset) if head else None
        if pin is None:
            return None
        return {f.name: f.type for f in self._tables.schema(dataset, pin)}

    def _quarantine(
        self,
        dataset: str,
        table: pa.Table,
        key: list[str] | None,
        mode: Mode,
        branch: str,
        evolve: bool,
        code: CodeVersion | None,
    ) -> str | None:
        """Keep a blocked batch on a new branch ``quarantine/DATASET-N`` off ``branch``."""
        existing = set(self._repo.refs.branches())
        n = 1
        while f"quarantine/{dataset}-{n}" in existing:
            n += 1
        name = f"quarantine/{dataset}-{n}"
        self._repo.refs.create_branch(name, branch)
        try:
            self.ingest(
                dataset,
                table,
                key=key,
                mode=mode,
                branch=name,
                evolve=evolve,
                code=code,
                check=False,
                message=f"quarantined: a batch for {dataset} that broke its schema on {branch}",
            )
        except TillageError:
            self._repo.refs.delete_branch(name)
            return None
        return name

    def verify(self, *, deep: bool = False) -> VerifyReport:
        """Check that every commit a branch or tag reaches can be read as it was written.

        Checks each pinned dataset version against the catalog (its Lance branch
        and version exist, it has the recorded rows) and each file it reads
        against Lance's manifest and the checksums recorded at commit time.
        Reads nothing but metadata and file sizes, except that files whose
        modification time changed are hashed; ``deep`` hashes every file.
        Never changes the repository.

        Args:
            deep: hash every file, not only those whose modification time changed.

        Returns:
            The report: what was checked and every problem found.
        """
        from tillage.versioning.verify import verify

        return verify(self._catalog, self._tables, self._writer.ledger, deep=deep)

    def gc(self) -> GcReport:
        """Delete commits no branch or tag reaches, and the data only they used.

        Never removes anything a branch or tag reaches: every such commit stays
        readable, and so does the data version each recorded model was trained
        on. Also removes Lance versions and branches left by crashed writes.

        Returns:
            What was removed, and the storage used before and after.

        Raises:
            LockTimeoutError: another writer holds the repository too long.
            ReadOnlyRepositoryError: the repository may not be changed.
        """
        from tillage.versioning.gc import collect_garbage

        return collect_garbage(self._catalog, self._writer)
