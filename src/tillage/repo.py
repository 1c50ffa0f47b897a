"""`Repo`: the facade everything goes through (Python users, the CLI, the server).

A repository holds datasets (Lance tables) and a catalog of commits and refs.
Every write makes exactly one commit on a branch and lands atomically; reads
resolve a ref (branch, tag, commit id, ``HEAD``, with ``~N`` for ancestors) to
a commit and read the dataset versions it pins.
"""

from __future__ import annotations

import functools
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tillage.config import REPO_DIR, RepoConfig, find_repo_dir, repo_dir_of
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.findings import Finding
from tillage.core.names import (
    check_dataset_name,
    check_name,
    check_ref,
    check_ref_name,
    is_commit_prefix,
)
from tillage.core.reports import DatasetStatus, GcReport, MergeResult, Status, VerifyReport
from tillage.errors import (
    InputError,
    InvalidFilterError,
    MergeConflictError,
    NoSuchDatasetError,
    NoSuchModelError,
    NoSuchRefError,
    QualityCheckError,
    RepositoryExistsError,
    TillageError,
)
from tillage.store.catalog import Catalog
from tillage.store.filters import lance_filter, lance_problem
from tillage.store.fs import environment_error
from tillage.versioning.history import ancestors, is_ancestor, merge_base, split_ancestor_suffix

# Lance, pyarrow, pandas, DuckDB and the quality and label libraries load in the
# methods that use them: `log` and `status` need none of them.
if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.labels.annotation import Annotation
    from tillage.labels.sets import LabelSets
    from tillage.quality.monitor import BatchCheck, Monitor
    from tillage.quality.profile import Profile
    from tillage.quality.schema import Schema
    from tillage.store.tables import Tables
    from tillage.versioning.merge import Prefer, RowMerge
    from tillage.versioning.writer import Transaction, Writer

Mode = Literal["append", "upsert", "overwrite", "delete"]
MODES: tuple[str, ...] = ("append", "upsert", "overwrite", "delete")
MAIN = "main"
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


def _count(name: str, value: object) -> int | None:
    """``value`` as a row count for ``limit`` or ``offset``: a whole number >= 0, or None."""
    if value is None:
        return None
    index = None if isinstance(value, bool) else getattr(value, "__index__", None)
    count = int(index()) if callable(index) else -1  # ints, numpy ints; not floats or text
    if count >= 0:
        return count
    raise InputError(f"{name} must be a whole number >= 0 (or None), not {value!r}.")


class Repo:
    """A tillage repository.

    Open one with `Repo.open` (or `tillage.open`), create one with `Repo.init`
    (or `tillage.init`). Methods that take ``ref`` default to the current branch;
    methods that write take ``branch`` and default to the current branch too.
    """

    def __init__(self, repo_dir: Path, config: RepoConfig, *, create: bool = False) -> None:
        self.repo_dir = repo_dir
        self.config = config
        self.catalog = (
            Catalog(config.catalog_url, create=create)
            if config.catalog_url
            else Catalog.sqlite(repo_dir / "catalog.db", create=create)
        )
        self._bound: str | None = None
        self._alerts_on: str | None = None

    # Storage and monitoring are built on first use, so that commands which read
    # only the catalog (`log`, `branch`, `show`) never load Lance or the quality code.

    @functools.cached_property
    def _writer(self) -> Writer:
        from tillage.store.tables import Tables
        from tillage.versioning.writer import Writer

        tables = Tables(self.repo_dir / "tables")
        writer = Writer(self.catalog, tables, self.repo_dir / "write.lock", self.config.who())
        tables.guard = writer.ledger.guard
        return writer

    @property
    def tables(self) -> Tables:
        """The repository's Lance tables (the writer's, whose ledger checks every read)."""
        return self._writer.tables

    @functools.cached_property
    def monitor(self) -> Monitor:
        """Profiles, schema checks, drift and alerts, with the ``quality:`` settings."""
        from tillage.quality.monitor import Monitor
        from tillage.quality.settings import QualitySettings

        settings = QualitySettings.from_dict(self.config.quality)
        return Monitor(self.catalog.engine, self.tables, self.path, settings)

    # -- opening ----------------------------------------------------------

    @classmethod
    def init(cls, path: str | os.PathLike[str] = ".", *, catalog_url: str | None = None) -> Repo:
        """Create a repository at ``path`` (a project folder; ``.tillage/`` goes inside).

        Raises:
            RepositoryExistsError: if one is already there.
        """
        repo_dir = repo_dir_of(Path(path).expanduser().resolve())
        if (repo_dir / "config.yaml").exists():
            raise RepositoryExistsError(str(repo_dir.parent))
        config = RepoConfig(catalog_url=catalog_url)
        repo: Repo | None = None
        try:
            (repo_dir / "tables").mkdir(parents=True, exist_ok=True)
            repo = cls(repo_dir, config, create=True)
            repo.catalog.migrate()
            with repo.catalog.transaction() as conn:
                Catalog.create_ref(conn, MAIN, "branch", None)
            (repo_dir / HEAD).write_text(MAIN + "\n")
            config.save(repo_dir)  # written last: its presence marks a finished init
        except Exception as e:
            if repo is not None:
                repo.catalog.dispose()
            shutil.rmtree(repo_dir, ignore_errors=True)
            mapped = environment_error(e, repo_dir)
            if mapped is not None:
                raise mapped from e
            raise
        return repo

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Repo:
        """Open the repository at ``path``, or the one TILLAGE_REPO or the current folder names.

        Raises:
            NotARepositoryError: if there is none.
            CatalogMissingError: if its catalog is missing or empty (only `init` makes one).
            CatalogDamagedError: if its catalog is not a readable database.
            CatalogError: if its catalog needs `upgrade`, or is newer than this tillage.
        """
        repo_dir = find_repo_dir(path)
        repo = cls(repo_dir, RepoConfig.load(repo_dir))
        try:
            repo.catalog.check_schema()
        except BaseException:
            repo.close()
            raise
        return repo

    @classmethod
    def upgrade(cls, path: str | os.PathLike[str] | None = None) -> tuple[str, str | None]:
        """Upgrade the catalog of the repository at ``path`` to this tillage's schema.

        The only way besides `init` that changes a catalog's schema; opening never
        does. Returns the schema revisions before and after.

        Raises:
            NotARepositoryError: if there is no repository.
            CatalogMissingError: if its catalog is missing or empty.
            CatalogError: if its catalog is newer than this tillage.
        """
        repo_dir = find_repo_dir(path)
        repo = cls(repo_dir, RepoConfig.load(repo_dir))
        try:
            with repo._writer.locked():
                return repo.catalog.upgrade()
        finally:
            repo.close()

    def close(self) -> None:
        self.catalog.dispose()

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The project folder (the one holding ``.tillage``)."""
        return self.repo_dir.parent if self.repo_dir.name == REPO_DIR else self.repo_dir

    def __repr__(self) -> str:
        return f"Repo({str(self.path)!r}, branch={self.current_branch!r})"

    # -- refs ---------------------------------------------------------------

    @property
    def current_branch(self) -> str:
        """The branch reads and writes default to (``HEAD``, or the one `bind` set)."""
        if self._bound is not None:
            return self._bound
        try:
            return (self.repo_dir / HEAD).read_text().strip() or MAIN
        except FileNotFoundError:
            return MAIN

    def bind(self, branch: str, *, alerts_on: str | None = None) -> None:
        """Make ``branch`` this handle's default for reads and writes (not the repository's).

        Pipelines bind their handle to the run's branch; ``switch`` changes the
        default of every handle. ``alerts_on`` files the alerts of writes to
        ``branch`` under another branch (a run's alerts belong to its target).
        """
        self._branch(branch)
        self._bound = branch
        self._alerts_on = alerts_on

    def _branch(self, branch: str | None) -> str:
        name = self.current_branch if branch is None else check_ref(branch, "branch")
        ref = self.catalog.get_ref(name)
        if ref is None or ref[0] != "branch":
            raise NoSuchRefError(name, "branch")
        return name

    def resolve(self, ref: str | None = None) -> str | None:
        """The commit id ``ref`` names; None for a branch with no commits yet.

        ``ref`` is a branch, a tag, ``HEAD``, a commit id or a prefix of one (4 or
        more hex digits), with ``~N`` for the N-th first parent; None means HEAD.

        Raises:
            InvalidRefError: ``ref`` is empty (it does not mean HEAD).
            NoSuchRefError: if nothing has that name.
        """
        text = HEAD if ref is None else check_ref(ref)
        name, back = split_ancestor_suffix(text)
        if name == HEAD:
            name = self.current_branch
        found = self.catalog.get_ref(name)
        if found is not None:
            cid = found[1]
        elif not is_commit_prefix(name):
            raise NoSuchRefError(
                text, hint=" (a commit id, or a prefix of one, is 4 or more hex digits 0-9, a-f)"
            )
        else:
            ids = self.catalog.find_commit_ids(name.lower())
            if len(ids) != 1:
                raise NoSuchRefError(
                    text, "branch, tag or commit" + (" (ambiguous id)" if ids else "")
                )
            cid = ids[0]
        for _ in range(back):
            commit = self.catalog.get_commit(cid) if cid else None
            if commit is None or not commit.parents:
                raise NoSuchRefError(text, f"ancestor ({name} has fewer than {back})")
            cid = commit.parents[0]
        return cid

    def commit(self, ref: str | None = None) -> Commit:
        """The commit ``ref`` names (what `tillage show` prints).

        Raises:
            NoSuchRefError: if the ref is unknown or names an empty branch.
        """
        cid = self.resolve(ref)
        commit = self.catalog.get_commit(cid) if cid else None
        if commit is None:
            raise NoSuchRefError(ref or HEAD, "commit (the branch has no commits yet)")
        return commit

    def _commit_or_none(self, ref: str | None) -> Commit | None:
        cid = self.resolve(ref)
        return self.catalog.get_commit(cid) if cid else None

    def branches(self) -> dict[str, str | None]:
        """Branch name -> head commit id."""
        return {n: c for n, (_, c) in self.catalog.list_refs("branch").items()}

    def tags(self) -> dict[str, str | None]:
        """Tag name -> commit id."""
        return {n: c for n, (_, c) in self.catalog.list_refs("tag").items()}

    def create_branch(self, name: str, from_ref: str | None = None) -> str | None:
        """Create branch ``name`` at ``from_ref`` (default: HEAD). O(1) in data size.

        Returns the commit id the branch starts at.
        """
        check_ref_name(name, "branch")
        # Under the write lock: a `gc` must not delete the commit between here and the ref.
        with self._writer.locked():
            cid = self.resolve(from_ref)
            with self.catalog.transaction() as conn:
                Catalog.create_ref(conn, name, "branch", cid)
        return cid

    def delete_branch(self, name: str) -> None:
        """Delete a branch; its commits stay until `gc` (if nothing else reaches them)."""
        self._branch(name)
        if name == self.current_branch:
            raise TillageError(f"cannot delete {name!r}, the current branch; switch first.")
        self.catalog.delete_ref(name)

    def switch(self, name: str) -> None:
        """Make ``name`` the current branch (reads and writes default to it)."""
        self._branch(name)
        self._writer.check_writable()
        tmp = self.repo_dir / "HEAD.tmp"
        try:
            tmp.write_text(name + "\n")
            os.replace(tmp, self.repo_dir / HEAD)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise environment_error(e, self.repo_dir) or e from None

    def create_tag(self, name: str, ref: str | None = None) -> str:
        """Tag the commit ``ref`` names (default: HEAD); returns its id."""
        check_ref_name(name, "tag")
        with self._writer.locked():  # see `create_branch`
            cid = self.commit(ref).id
            with self.catalog.transaction() as conn:
                Catalog.create_ref(conn, name, "tag", cid)
        return cid

    def delete_tag(self, name: str) -> None:
        found = self.catalog.get_ref(check_ref(name, "tag"))
        if found is None or found[0] != "tag":
            raise NoSuchRefError(name, "tag")
        self.catalog.delete_ref(name)

    # -- reading ------------------------------------------------------------

    def datasets(self, ref: str | None = None) -> dict[str, DatasetPin]:
        """Dataset name -> pinned version at ``ref``."""
        c = self._commit_or_none(ref)
        return dict(c.pins) if c else {}

    def _pin(self, dataset: str, ref: str | None) -> DatasetPin:
        pins = self.datasets(ref)
        if dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self.current_branch, list(pins))
        return pins[dataset]

    def key(self, dataset: str) -> list[str]:
        """The primary-key columns of ``dataset``."""
        key = self.catalog.dataset_key(dataset)
        if key is None:
            raise NoSuchDatasetError(dataset, "any ref", list(self.catalog.list_datasets()))
        return key

    def schema(self, dataset: str, ref: str | None = None) -> pa.Schema:
        return self.tables.schema(dataset, self._pin(dataset, ref))

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
            columns: columns to return (default: all), each at most once.
            where: a SQL condition, e.g. ``"dep_delay > 60 AND origin = 'JFK'"``; strings
                in single quotes, column names with spaces in backticks (`` `my col` ``).
                It is parsed whole: anything but exactly one condition is refused.
            limit: at most this many rows (a whole number >= 0).
            offset: skip this many rows first (with ``limit``: one batch of a scan).

        Raises:
            InvalidFilterError: ``where`` is not one condition on this dataset's columns.
            InputError: unknown or repeated columns, or a bad ``limit`` or ``offset``.
        """
        import pyarrow as pa

        cols = _read_columns(columns)
        limit, offset = _count("limit", limit), _count("offset", offset)
        pin = self._pin(dataset, ref)
        ds = self.tables.open(dataset, pin)
        if cols:
            unknown = [c for c in cols if c not in ds.schema.names]
            if unknown:
                raise InputError(
                    f"unknown column(s) {', '.join(unknown)} in {dataset!r}; "
                    f"its columns: {', '.join(ds.schema.names)}."
                )
        lance_where = None if where is None else lance_filter(where, ds.schema.names)
        try:
            table = ds.to_table(columns=cols, filter=lance_where, limit=limit, offset=offset)
        except (ValueError, OSError) as e:
            damaged = self.tables.read_error(dataset, pin, e)
            if damaged is not None:
                raise damaged from None
            if where is None:
                raise
            raise InvalidFilterError(where, lance_problem(e)) from e
        return table.cast(pa.schema([f.remove_metadata() for f in table.schema]))

    def head(
        self,
        dataset: str,
        ref: str | None = None,
        n: int = 10,
        *,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The first ``n`` rows of ``dataset`` at ``ref`` (only ``columns``, if given)."""
        return self.read(dataset, ref, columns=columns, limit=n)

    def log(
        self, ref: str | None = None, *, dataset: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """Commits reachable from ``ref``, newest first; only those touching ``dataset``."""
        cid = self.resolve(ref)
        if cid is None:
            return []
        commits = self.catalog.all_commits()
        out = sorted(ancestors(cid, commits.get), key=lambda c: (c.created_at, c.id), reverse=True)
        if dataset is not None:
            out = [c for c in out if dataset in c.changes]
        return out[:limit] if limit else out

    def status(self) -> Status:
        """The current branch, its head, its datasets with row counts, and storage used."""
        branch = self.current_branch
        head = self._commit_or_none(branch)
        keys = self.catalog.list_datasets()
        datasets = [
            DatasetStatus(
                name=name,
                key=keys.get(name, []),
                rows=pin.num_rows,
                lance_branch=pin.lance_branch,
                version=pin.version,
                bytes=self.tables.size_bytes(name),
            )
            for name, pin in (head.pins.items() if head else [])
        ]
        refs = self.catalog.list_refs()
        return Status(
            path=str(self.path),
            branch=branch,
            head=head.id if head else None,
            datasets=datasets,
            storage_bytes=self.tables.size_bytes() if self.tables.root.exists() else 0,
            branches=sum(1 for k, _ in refs.values() if k == "branch"),
            tags=sum(1 for k, _ in refs.values() if k == "tag"),
        )

    def diff(
        self, a: str, b: str | None = None, *, dataset: str | None = None, rows: int = 5
    ) -> list[DatasetDiff]:
        """Schema and row-level changes of every dataset (or one) from ``a`` to ``b``.

        Args:
            a: the old ref.
            b: the new ref (default: HEAD).
            dataset: only this dataset.
            rows: sample rows to include per kind of change.
        """
        from tillage.versioning.diff import dataset_diff

        old = self._commit_or_none(a)
        new = self._commit_or_none(b)
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
            v_old = self.tables.open(name, po) if po else None
            v_new = self.tables.open(name, pn) if pn else None
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
        """Write ``dataset`` at ``ref`` to a Parquet, CSV, JSONL or Arrow file; return rows.

        With ``labels`` (a label set), write the training set: the labelled records
        with their label, confidence and provenance (`training_set`).
        """
        from tillage.formats import write_file

        columns = _read_columns(columns)
        if labels is None:
            table = self.read(dataset, ref, columns=columns, where=where)
        else:
            if where is not None:
                raise InputError("--where does not combine with --labels; filter the file after.")
            table = self.training_set(dataset, labels, ref)
            if columns:
                keep = [*columns, *[c for c in table.column_names if c.startswith("label")]]
                table = table.select(list(dict.fromkeys(keep)))
        write_file(table, path)
        return int(table.num_rows)

    # -- writing ------------------------------------------------------------

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

        Raises:
            InputError: bad data (its subclasses say what exactly); nothing is written.
            QualityCheckError: the batch broke a blocking schema rule; it is on the
                quarantine branch the error names, not on ``branch``.
            NoSuchDatasetError, NoSuchRefError: unknown dataset (for delete) or branch.
            ConcurrentUpdateError: the branch moved under us (another catalog client).
        """
        from tillage.formats import is_csv, to_table
        from tillage.versioning import batches

        check_dataset_name(dataset)
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}.")
        key_cols = batches.key_columns(dataset, key)
        types = self._csv_types(dataset, self._branch(branch)) if is_csv(data) else None
        raw = to_table(data, encoding=encoding, types=types, coerce=coerce)
        batches.check_columns(dataset, raw)
        table = batches.normalize(raw)
        if table.num_rows == 0:
            raise InputError(
                f"the batch for {dataset!r} has no rows; nothing to {mode}. Check the input."
            )
        branch = self._branch(branch)
        checked: list[BatchCheck] = []
        try:
            with self._writer.locked():
                tx = self._writer.begin(branch)
                known_key = self.catalog.dataset_key(dataset)
                if known_key is not None and key_cols is not None and key_cols != known_key:
                    raise InputError(
                        f"dataset {dataset!r} has primary key ({', '.join(known_key)}), not "
                        f"({', '.join(key_cols)}); leave --key out or give the same columns."
                    )
                parent = tx.pins.get(dataset)

                def validate(batch: pa.Table) -> None:
                    if not check or mode == "delete":
                        return
                    reference = self._ingest_reference(dataset, tx.head) if parent else None
                    key = known_key or key_cols or []
                    result = self.monitor.check_batch(dataset, batch, reference, key)
                    if result.blocking:
                        raise _Blocked(result)
                    checked.append(result)

                if dataset not in tx.pins:
                    self._create(tx, dataset, table, key_cols or known_key, mode, validate)
                else:
                    self._write(tx, dataset, table, known_key or [], mode, evolve, validate)
                change = tx.changes[dataset]
                if checked and checked[0].schema_sha256:
                    change["schema"] = {
                        "file": checked[0].schema_file,
                        "sha256": checked[0].schema_sha256,
                    }
                default = (
                    f"{change.get('op', mode)} {dataset}: +{change.get('inserted', 0)} "
                    f"~{change.get('updated', 0)} -{change.get('deleted', 0)} rows"
                )

                def also(conn: Any, commit: Commit) -> None:
                    if checked:
                        created = parent is None
                        alerts = self._alerts_on if branch == self._bound else None
                        self.monitor.record(
                            conn, commit, alerts or branch, checked[0], parent, created
                        )

                commit = self._writer.commit(tx, message or default, code=code, also=also)
        except _Blocked as blocked:
            quarantine = self._quarantine(dataset, table, key_cols, mode, branch, evolve, code)
            raise QualityCheckError(dataset, blocked.result.blocking, quarantine) from None
        if checked:
            for problem in self.monitor.notify(checked[0], commit):
                warnings.warn(problem, stacklevel=2)
        return commit

    def _csv_types(self, dataset: str, ref: str | None) -> dict[str, pa.DataType] | None:
        """The dataset's column types at ``ref``, to parse CSV cells as (None if it has none)."""
        head = self._commit_or_none(ref)
        pin = head.pins.get(dataset) if head else None
        if pin is None:
            return None
        return {f.name: f.type for f in self.tables.schema(dataset, pin)}

    def _ingest_reference(self, dataset: str, head: Commit | None) -> tuple[Any, str] | None:
        """What ingest compares a batch with (the ``quality.reference`` setting).

        Label sets have none: each batch of label events comes from one source (an
        import, an annotator, a model), so a batch against the ones before compares
        sources, not data, and would only cry wolf.
        """
        from tillage.quality.settings import parse_reference

        kind, arg = parse_reference(self.monitor.settings.reference)
        if head is None or kind == "none" or self._is_label_set(dataset):
            return None
        if kind == "window":
            assert isinstance(arg, int)
            return self._window_reference(dataset, head.id, arg)
        return self._reference(dataset, self.monitor.settings.reference)

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
        existing = set(self.branches())
        n = 1
        while f"quarantine/{dataset}-{n}" in existing:
            n += 1
        name = f"quarantine/{dataset}-{n}"
        self.create_branch(name, branch)
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
            self.delete_branch(name)
            return None
        return name

    def _create(
        self,
        tx: Transaction,
        dataset: str,
        table: pa.Table,
        key: list[str] | None,
        mode: str,
        validate: Callable[[pa.Table], None],
    ) -> None:
        from tillage.versioning import batches

        if mode == "delete":
            raise NoSuchDatasetError(dataset, tx.branch, list(tx.pins))
        if not key:
            raise InputError(
                f"dataset {dataset!r} is new: give its primary key, e.g. "
                f"--key {table.column_names[0]} (key='col' in Python)."
            )
        batches.check_keys(dataset, table, key)
        validate(table)
        if self.catalog.dataset_key(dataset) is not None:
            # Known elsewhere (another branch): start this branch's own history of it.
            some = next(iter(self._any_pins(dataset)))
            target = self.tables.write_target(dataset, some, None, tx.branch)
            result = self.tables.overwrite(dataset, target, table, deleted=0, key=key)
            tx.record(dataset, result, {"op": "create", "key": key})
            return
        if self.tables.exists(dataset):
            # A create that crashed before its commit landed; nothing pins it.
            shutil.rmtree(self.tables.uri(dataset))
        self.tables.root.mkdir(parents=True, exist_ok=True)
        tx.created(dataset, key, self.tables.create(dataset, table, key))

    def _any_pins(self, dataset: str) -> list[DatasetPin]:
        return [c.pins[dataset] for c in self.catalog.all_commits().values() if dataset in c.pins]

    def _write(
        self,
        tx: Transaction,
        dataset: str,
        table: pa.Table,
        key: list[str],
        mode: str,
        evolve: bool,
        validate: Callable[[pa.Table], None],
    ) -> None:
        from tillage.versioning import batches

        pin = tx.pins[dataset]
        schema = self.tables.schema(dataset, pin)
        if mode == "delete":
            batches.check_key_columns(dataset, table, key)
            conformed, _ = batches.conform(dataset, table, schema, evolve=False, only=key)
            target = tx.write_target(dataset)
            tx.record(dataset, self.tables.delete(dataset, target, conformed, key), {"op": mode})
            return
        batches.check_keys(dataset, table, key)
        if mode == "overwrite" and evolve:
            validate(table)
            target = tx.write_target(dataset)
            result = self.tables.overwrite(dataset, target, table, pin.num_rows, key)
            tx.record(dataset, result, {"op": mode})
            return
        conformed, new_fields = batches.conform(dataset, table, schema, evolve=evolve)
        if mode == "append":
            existing = self.tables.existing_keys(dataset, pin, conformed, key)
            batches.check_new_keys(dataset, conformed, existing, key)
        validate(conformed)
        target = tx.write_target(dataset)
        if new_fields:
            target.handle.add_columns(new_fields)
            target = self.tables.refresh(dataset, target)
        if mode == "append":
            result = self.tables.append(dataset, target, conformed, key)
        elif mode == "upsert":
            result = self.tables.upsert(dataset, target, conformed, key)
        else:
            result = self.tables.overwrite(dataset, target, conformed, pin.num_rows, key)
        change: dict[str, Any] = {"op": mode}
        if new_fields:
            change["added_columns"] = [f.name for f in new_fields]
        tx.record(dataset, result, change)

    # -- merging, reverting, resetting ---------------------------------------

    def merge(
        self,
        source: str,
        into: str | None = None,
        *,
        prefer: Prefer = None,
        message: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` into branch ``into`` (default: the current branch).

        Fast-forwards when ``into`` has nothing ``source`` lacks; otherwise merges
        three-way against the merge base, key by key and cell by cell.

        Raises:
            MergeConflictError: cells changed differently on both sides (and no
                ``prefer``); nothing is written, the error lists every conflict.
        """
        if prefer not in (None, "ours", "theirs"):
            raise InputError(f"prefer must be 'ours' or 'theirs', not {prefer!r}.")
        target = self._branch(into)
        with self._writer.locked():
            tx = self._writer.begin(target)
            src_id = self.resolve(source)
            head_id = tx.head.id if tx.head else None
            commits = self.catalog.all_commits()
            if (
                src_id is None
                or src_id == head_id
                or (head_id is not None and is_ancestor(src_id, head_id, commits.get))
            ):
                return MergeResult("up-to-date", source, target, head_id)
            if head_id is None or is_ancestor(head_id, src_id, commits.get):
                with self.catalog.transaction() as conn:
                    Catalog.move_branch(conn, target, head_id, src_id)
                return MergeResult("fast-forward", source, target, src_id)
            base_id = merge_base(head_id, src_id, commits.get)
            base = commits.get(base_id) if base_id else None
            theirs = commits[src_id]
            report = self._three_way(tx, base, theirs, prefer, source)
            commit = self._writer.commit(
                tx,
                message or f"merge {source} into {target}",
                extra_parents=(src_id,),
            )
            return MergeResult("merge", source, target, commit.id, base_id, report)

    def revert(
        self,
        ref: str,
        *,
        branch: str | None = None,
        prefer: Prefer = None,
        message: str | None = None,
    ) -> Commit:
        """Make a new commit on ``branch`` that undoes the changes of commit ``ref``.

        Raises:
            MergeConflictError: later commits changed the same cells.
        """
        target = self._branch(branch)
        bad = self.commit(ref)
        with self._writer.locked():
            tx = self._writer.begin(target)
            parent = self.catalog.get_commit(bad.parents[0]) if bad.parents else None
            empty = Commit("", (), {}, "", "", "", "")
            self._three_way(tx, bad, parent or empty, prefer, f"revert of {bad.short_id}")
            return self._writer.commit(
                tx, message or f"revert {bad.short_id}: {bad.message.splitlines()[0]}"
            )

    def reset(self, ref: str, *, branch: str | None = None) -> Commit:
        """Move ``branch`` (default: current) back to the commit ``ref`` names.

        Commits after it stay readable by id until `gc` (if no other ref reaches them).
        """
        target = self._branch(branch)
        commit = self.commit(ref)
        with self._writer.locked(), self.catalog.transaction() as conn:
            current = self.catalog.get_ref(target)
            Catalog.move_branch(conn, target, current[1] if current else None, commit.id)
        return commit

    def _three_way(
        self,
        tx: Transaction,
        base: Commit | None,
        theirs: Commit,
        prefer: Prefer,
        source: str,
    ) -> dict[str, dict[str, Any]]:
        """Replay ``theirs``' changes since ``base`` onto ``tx``; write only if no conflict."""
        from tillage.versioning.merge import merge_rows

        base_pins = base.pins if base else {}
        ours_pins = dict(tx.pins)
        plans: dict[str, RowMerge] = {}
        taken: dict[str, DatasetPin | None] = {}
        conflicts: list[dict[str, Any]] = []
        report: dict[str, dict[str, Any]] = {}
        for name in sorted(set(base_pins) | set(ours_pins) | set(theirs.pins)):
            b, o, t = base_pins.get(name), ours_pins.get(name), theirs.pins.get(name)
            if o == t or t == b:
                continue
            if o == b or (prefer == "theirs" and (o is None or t is None or b is None)):
                taken[name] = t
                continue
            if b is None or o is None or t is None:
                if prefer is None:
                    what = {None: "absent"}
                    conflicts.append(
                        {
                            "dataset": name,
                            "key": None,
                            "column": "(dataset)",
                            "base": what.get(None) if b is None else "present",
                            "ours": "absent" if o is None else "changed",
                            "theirs": "absent" if t is None else "changed",
                        }
                    )
                continue
            key = self.key(name)
            read = self.tables.open
            try:
                plan = merge_rows(name, key, read(name, b), read(name, o), read(name, t), prefer)
            except ValueError as e:
                conflicts.append(
                    {
                        "dataset": name,
                        "key": None,
                        "column": "(schema)",
                        "base": None,
                        "ours": None,
                        "theirs": str(e),
                    }
                )
                continue
            conflicts.extend(plan.conflicts)
            plans[name] = plan
        if conflicts:
            raise MergeConflictError(source, tx.branch, conflicts)
        for name, pin in taken.items():
            if pin is None:
                tx.drop(name)
                report[name] = {"op": "drop"}
            else:
                tx.pins[name] = pin
                tx.changes[name] = {"op": "merge", "took": "theirs", "rows": pin.num_rows}
                report[name] = tx.changes[name]
        for name, plan in plans.items():
            key = self.key(name)
            if plan.upserts.num_rows:
                target = tx.write_target(name)
                tx.record(
                    name, self.tables.upsert(name, target, plan.upserts, key), {"op": "merge"}
                )
            if plan.deletes.num_rows:
                target = tx.write_target(name)
                tx.record(
                    name, self.tables.delete(name, target, plan.deletes, key), {"op": "merge"}
                )
            report[name] = {"op": "merge", **plan.counts}
        return report

    # -- monitoring ---------------------------------------------------------

    def profile(self, dataset: str, ref: str | None = None, *, executor: str = "local") -> Profile:
        """The column profile of ``dataset`` at ``ref`` (merged from its batches when it can).

        A version that must be profiled from its data (after an upsert, say) is
        read in batches here, or one Lance fragment per task on Ray with
        ``executor="ray"``.
        """
        self._pin(dataset, ref)  # NoSuchDatasetError names what exists
        history = self._first_parents(self.commit(ref))
        return self.monitor.version_profile(dataset, history, executor)

    def _first_parents(self, commit: Commit) -> Iterator[Commit]:
        """``commit`` and its first parents, newest first, loaded one at a time."""
        c: Commit | None = commit
        while c is not None:
            yield c
            c = self.catalog.get_commit(c.parents[0]) if c.parents else None

    def infer_schema(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        margin: float = 0.1,
        overwrite: bool = False,
    ) -> tuple[Schema, Path]:
        """Write a reviewable schema for ``dataset`` inferred from its data at ``ref``.

        The file goes to ``schemas/DATASET.yaml`` in the project (or ``path``);
        from then on every ingest into the dataset is checked against it.
        Returns the schema and the file written.
        """
        from tillage.quality.schema import infer as infer_schema

        prof = self.profile(dataset, ref)
        schema = infer_schema(prof, dataset=dataset, key=self.key(dataset), margin=margin)
        target = Path(path) if path else self.monitor.schema_path(dataset)
        if target.exists() and not overwrite:
            raise InputError(
                f"{target} already exists; review and edit it, or pass --force "
                "(overwrite=True) to replace it."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        schema.save(target)
        return schema, target

    def check(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        schema: str | os.PathLike[str] | None = None,
    ) -> list[Finding]:
        """Validate ``dataset`` at ``ref`` (or a data ``file``) against its schema file."""
        columns = self.schema(dataset, ref).names
        spec = self.monitor.schema(dataset, Path(schema) if schema else None, columns)
        if spec is None:
            raise InputError(
                f"dataset {dataset!r} has no schema at "
                f"{self.monitor.relative(self.monitor.schema_path(dataset))}; "
                f"write one with `tillage schema infer {dataset}`."
            )
        table = self._data(dataset, ref, file)
        return self.monitor.check(dataset, table, spec)

    def drift(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        against: str | None = None,
        window: int | None = None,
        show_all: bool = False,
    ) -> list[Finding]:
        """Compare ``dataset`` (at ``ref``, or a ``file``) with a reference.

        ``against`` is a ref (the dataset's whole version there) or ``model:NAME``
        (the version that model was trained on); ``window=N`` compares the batch
        the latest commit at ``ref`` wrote (or the file) with the N batches before
        it. Without either, the configured reference (``quality.reference``).
        Findings on columns the model does not use are left out unless ``show_all``.
        """
        from tillage.quality.profile import profile_table
        from tillage.quality.settings import parse_reference

        if against is not None and window is not None:
            raise InputError("give either --against REF or --window N, not both.")
        if window is not None and window < 1:
            raise InputError(f"--window must be a positive number of commits, not {window}.")
        if against is None and window is None:
            kind, arg = parse_reference(self.monitor.settings.reference)
            if kind == "none":
                raise InputError(
                    "no reference to compare with: pass --against REF or --window N, or set "
                    "quality.reference in .tillage/config.yaml."
                )
            if kind == "window":
                window = int(arg)  # type: ignore[arg-type]
            else:
                against = self.monitor.settings.reference
        head = self.commit(ref)
        if dataset not in head.pins:
            raise NoSuchDatasetError(dataset, ref or self.current_branch, list(head.pins))
        if window is not None:
            start: str | None = head.id
            if file is not None:
                current = profile_table(self._data(dataset, None, file))
            else:
                touched = self.log(head.id, dataset=dataset, limit=1)
                blobs = self.monitor.batch_profile(dataset, touched[0].id) if touched else None
                current = blobs if blobs is not None else self.profile(dataset, head.id)
                start = touched[0].parents[0] if touched and touched[0].parents else None
            reference = self._window_reference(dataset, start, window) if start else None
            if reference is None:
                raise InputError(
                    f"no earlier batches of {dataset!r} to compare with at {ref or 'HEAD'}; "
                    "use --against REF instead."
                )
        else:
            assert against is not None
            reference = self._reference(dataset, against)  # an unknown one caches nothing
            current = (
                profile_table(self._data(dataset, None, file))
                if file is not None
                else self.profile(dataset, head.id)
            )
        schema = self.monitor.schema(dataset)
        found = self.monitor.drift(
            dataset, current, reference[0], reference[1], schema, self.key(dataset)
        )
        return found if show_all else [f for f in found if not f.suppressed]

    def _data(self, dataset: str, ref: str | None, file: str | os.PathLike[str] | None) -> pa.Table:
        from tillage.formats import is_csv, to_table
        from tillage.versioning import batches

        if file is None:
            return self.read(dataset, ref)
        types = self._csv_types(dataset, ref) if is_csv(file) else None
        table = batches.normalize(to_table(file, types=types))
        if table.num_rows == 0:
            raise InputError(f"{file} has no rows; there is nothing to check or compare.")
        return table

    def _window_reference(
        self, dataset: str, before: str | None, n: int
    ) -> tuple[Profile, str] | None:
        """Merged profiles of the batches the last ``n`` commits up to ``before`` wrote."""
        if before is None:
            return None
        commits: list[Commit] = []
        start = self.catalog.get_commit(before)
        for c in self._first_parents(start) if start else ():
            if dataset in c.changes:
                commits.append(c)
                if len(commits) == n:
                    break
        if not commits:
            return None
        prof = self.monitor.window_profile(dataset, [c.id for c in commits])
        if prof is None:
            return None
        return prof, f"the {len(commits)} previous batch(es) up to {commits[0].short_id}"

    def _reference(self, dataset: str, spec: str) -> tuple[Profile, str]:
        from tillage.quality.settings import parse_reference

        kind, arg = parse_reference(spec)
        if kind == "model":
            models = self.monitor.store.models(name=str(arg))
            if not models:
                raise NoSuchModelError(str(arg), self._model_names())
            m = models[0]
            name = f"model {m.name} (data {m.commit_id[:12]})"
            return self.profile(dataset, m.commit_id), name
        commit = self.commit(spec)
        return self.profile(dataset, commit.id), f"{spec} ({commit.short_id})"

    def checks(self, ref: str | None = None) -> list[dict[str, Any]]:
        """What ingest checked and found when it made the commit ``ref`` names."""
        return self.monitor.store.checks(self.commit(ref).id)

    def alerts(
        self, *, show_all: bool = False, dataset: str | None = None, commit: str | None = None
    ) -> list[dict[str, Any]]:
        """Open alerts (``show_all``: also muted, resolved and accepted ones)."""
        from tillage.quality.monitor import alert_dict

        statuses = None if show_all else ["open"]
        cid = self.commit(commit).id if commit is not None else None
        found = self.monitor.store.alerts(statuses=statuses, dataset=dataset, commit_id=cid)
        return [alert_dict(a) for a in found]

    def accept_alert(self, alert_id: int) -> dict[str, Any]:
        """Accept what an alert found: widen the schema file, then re-check the data.

        Returns the alert, the schema file changed (if any) and the findings of
        the re-check on the alert's branch that are still about its column.
        """
        from tillage.quality.monitor import alert_dict

        alert, path = self.monitor.accept(alert_id)
        remaining: list[Finding] = []
        spec = self.monitor.schema(alert.dataset)
        head = self._commit_or_none(alert.branch)
        if spec is not None and head is not None and alert.dataset in head.pins:
            table = self.read(alert.dataset, head.id)
            remaining = [
                f
                for f in self.monitor.check(alert.dataset, table, spec)
                if f.column == alert.column
            ]
        return {
            "alert": alert_dict(alert),
            "schema_file": str(path) if path else None,
            "remaining": [f.to_dict() for f in remaining],
        }

    def mute_alert(self, alert_id: int, duration: str | None = None) -> dict[str, Any]:
        """Mute an alert (for a duration like ``7d``, or until unmuted by resolving it)."""
        from tillage.quality.monitor import alert_dict

        return alert_dict(self.monitor.mute(alert_id, duration))

    def resolve_alert(self, alert_id: int) -> dict[str, Any]:
        """Close an alert; the same problem later opens a new one."""
        from tillage.quality.monitor import alert_dict

        return alert_dict(self.monitor.resolve(alert_id))

    def record_model(
        self,
        name: str,
        dataset: str,
        *,
        ref: str | None = None,
        feature_importance: dict[str, float] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a model trained on ``dataset`` at ``ref``, with its feature importances.

        Findings on the dataset then carry each column's importance rank, and
        drift on columns the model does not use is suppressed. ``model:NAME``
        becomes a drift reference, and gc keeps the data version it names.
        """
        from tillage.quality.monitor import model_dict

        commit = self.commit(ref)
        if dataset not in commit.pins:
            raise NoSuchDatasetError(dataset, ref or self.current_branch, list(commit.pins))
        importance = self._check_importance(dataset, commit.id, feature_importance or {})
        rec = self.monitor.store.add_model(
            name, dataset, commit.id, importance, metrics or {}, self.config.who()
        )
        return model_dict(rec)

    def set_feature_importance(self, name: str, importance: dict[str, float]) -> dict[str, Any]:
        """Set the feature importances of the latest model recorded as ``name``."""
        from tillage.quality.monitor import model_dict

        models = self.monitor.store.models(name=name)
        if not models:
            raise NoSuchModelError(name, self._model_names())
        m = models[0]
        checked = self._check_importance(m.dataset, m.commit_id, importance)
        return model_dict(self.monitor.store.set_importance(m.id, checked))

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Recorded models, newest first."""
        from tillage.quality.monitor import model_dict

        return [model_dict(m) for m in self.monitor.store.models(name=name)]

    def _model_names(self) -> list[str]:
        """The names models are recorded under, for `NoSuchModelError`."""
        return sorted({m.name for m in self.monitor.store.models()})

    def _check_importance(
        self, dataset: str, commit_id: str, importance: dict[str, float]
    ) -> dict[str, float]:
        columns = self.schema(dataset, commit_id).names
        unknown = sorted(set(importance) - set(columns))
        if unknown:
            raise InputError(
                f"feature importance names column(s) {', '.join(unknown)} that {dataset!r} "
                f"does not have; its columns: {', '.join(columns)}."
            )
        bad = [k for k, v in importance.items() if not isinstance(v, int | float) or v != v]
        if bad:
            raise InputError(f"feature importance of {', '.join(bad)} must be a number.")
        return {k: float(v) for k, v in importance.items()}

    # -- labels ---------------------------------------------------------------

    def _is_label_set(self, dataset: str) -> bool:
        from tillage.store.labels import LabelStore

        return LabelStore(self.catalog.engine).label_set(dataset) is not None

    @property
    def _labels(self) -> LabelSets:
        from tillage.labels.sets import LabelSets
        from tillage.store.labels import LabelStore

        return LabelSets(self, LabelStore(self.catalog.engine), self.path)

    def create_labelset(self, name: str, *, records: str, taxonomy: str) -> dict[str, Any]:
        """Register a label set over dataset ``records`` with taxonomy ``taxonomies/NAME.yaml``."""
        check_name(name, "label set")
        return dict(vars(self._labels.create(name, records, taxonomy)))

    def label(
        self,
        labelset: str,
        record_ids: Sequence[Any],
        labels: Sequence[str | None],
        *,
        kind: str = "import",
        source: str,
        taxonomy_version: int | None = None,
        spec_version: int | None = None,
        confidence: Sequence[float | None] | float | None = None,
        message: str | None = None,
        branch: str | None = None,
    ) -> Commit:
        """Add label events to a label set, as one commit (records and classes are checked).

        Many annotations at once (an import from another tool, say) go in here with
        ``kind="annotator"`` and their ``spec_version``.
        """
        return self._labels.add(
            labelset,
            record_ids,
            labels,
            kind=kind,
            source=source,
            taxonomy_version=taxonomy_version,
            spec_version=spec_version,
            confidence=confidence,
            message=message,
            branch=branch,
        )

    def labels(self, labelset: str, ref: str | None = None) -> pa.Table:
        """The current label of each labelled record (latest aggregate, else latest event)."""
        return self._labels.current(labelset, ref)

    def migrate_labels(self, labelset: str, to_version: int | None = None) -> dict[str, Any]:
        """Carry labels to a newer taxonomy version; lists what must be labelled again."""
        return self._labels.migrate(labelset, to_version)

    def training_set(self, dataset: str, labelset: str, ref: str | None = None) -> pa.Table:
        """``dataset`` at ``ref`` with each record's label, confidence and provenance."""
        return self._labels.training_set(dataset, labelset, ref)

    def label_with_functions(
        self,
        labelset: str,
        functions: Sequence[Any],
        *,
        ref: str | None = None,
        model: bool = True,
        gold: str | None = None,
        write: bool = True,
    ) -> dict[str, Any]:
        """Apply labeling functions to the records and store their votes (and the label
        model's labels) in one commit; returns the commit, the votes and labels per
        class, the label model's accuracy on ``gold``, the per-function report and
        errors. ``write=False`` reports without storing anything."""
        return self._labels.apply_functions(
            labelset, functions, ref=ref, model=model, gold=gold, write=write
        )

    def aggregate_annotations(
        self, labelset: str, *, spec_version: int | None = None
    ) -> dict[str, Any]:
        """Combine annotators' labels per record (Dawid-Skene); returns annotator quality."""
        return self._labels.aggregate_annotations(labelset, spec_version=spec_version)

    def label_issues(
        self,
        labelset: str,
        ref: str | None = None,
        *,
        model: Any = None,
        folds: int = 5,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Likely label errors in a label set, by confident learning, most certain first.

        Out-of-sample probabilities come from ``folds``-fold cross-validation of
        ``model`` (default: logistic regression on the record's columns) on the
        training set at ``ref``; each issue names the record, its label and the
        suggested one.
        """
        return self._labels.issues(labelset, ref, model=model, folds=folds, seed=seed)

    @property
    def annotation(self) -> Annotation:
        """Annotation tasks: ``enqueue``, ``next``, ``submit``, ``progress``."""
        from tillage.labels.annotation import Annotation

        return Annotation(self._labels)

    # -- maintenance --------------------------------------------------------

    def verify(self, *, deep: bool = False) -> VerifyReport:
        """Check that every commit a branch or tag reaches can be read as it was written.

        Checks each pinned dataset version against the catalog (its Lance branch
        and version exist, it has the recorded rows) and each file it reads
        against Lance's manifest and the checksums recorded at commit time.
        Reads nothing but metadata and file sizes, except that files whose
        modification time changed are hashed; ``deep`` hashes every file.
        Never changes the repository.
        """
        from tillage.versioning.verify import verify

        return verify(self.catalog, self.tables, self._writer.ledger, deep=deep)

    def gc(self) -> GcReport:
        """Delete commits no branch or tag reaches, and the data only they used.

        Never removes anything a branch or tag reaches: every such commit stays
        readable. Also removes Lance versions and branches left by crashed writes.
        """
        from tillage.store.tables import children_first

        with self._writer.locked():
            before = self.tables.size_bytes() if self.tables.root.exists() else 0
            commits = self.catalog.all_commits()
            reachable: set[str] = set()
            # Branches, tags, and the data versions recorded models were trained on.
            roots = [cid for _, cid in self.catalog.list_refs().values() if cid]
            roots += [c for c in self.monitor.store.model_commits() if c in commits]
            for cid in roots:
                reachable.update(c.id for c in ancestors(cid, commits.get))
            dead = [cid for cid in commits if cid not in reachable]
            self.monitor.store.forget(dead, set())
            self.catalog.delete_commits(dead)
            pinned = self.catalog.pinned_versions()
            self.monitor.store.forget([], pinned)
            owned = self.catalog.lance_branch_owners()
            keep: dict[tuple[str, str], set[int]] = {}
            for ds, lb, v in pinned:
                keep.setdefault((ds, lb), set()).add(v)
            versions_removed = branches_removed = datasets_removed = 0
            live = {ds for ds, _, _ in pinned}
            for ds in list(self.catalog.list_datasets()):
                if ds not in live:
                    self.catalog.drop_dataset(ds)
            for lance_dir in sorted(self.tables.root.glob("*.lance")):
                ds = lance_dir.name[: -len(".lance")]
                if ds not in live:
                    shutil.rmtree(lance_dir)
                    datasets_removed += 1
                    continue
                # Lance refuses to drop a branch another was forked from: drop children
                # first, and keep every branch a kept one descends from.
                parents = self.tables.lance_branch_parents(ds)
                needed: set[str] = set()
                for lb in parents:
                    up: str | None = lb
                    if (ds, lb) in keep or (ds, lb) in owned:
                        while up is not None and up not in needed:
                            needed.add(up)
                            up = parents.get(up)
                for lb in children_first(parents):
                    if lb not in needed:
                        self.tables.drop_lance_branch(ds, lb)
                        branches_removed += 1
                    else:
                        versions_removed += self.tables.cleanup(ds, lb, keep.get((ds, lb), set()))
                for folder in self.tables.stray_branch_folders(ds):
                    shutil.rmtree(folder)
                    branches_removed += 1
                versions_removed += self.tables.cleanup(ds, "main", keep.get((ds, "main"), set()))
            self._writer.ledger.forget_missing()
            after = self.tables.size_bytes() if self.tables.root.exists() else 0
        return GcReport(
            commits_removed=len(dead),
            versions_removed=versions_removed,
            lance_branches_removed=branches_removed,
            datasets_removed=datasets_removed,
            bytes_before=before,
            bytes_after=after,
        )


def init(path: str | os.PathLike[str] = ".", *, catalog_url: str | None = None) -> Repo:
    """Create a repository at ``path``; see `Repo.init`."""
    return Repo.init(path, catalog_url=catalog_url)


def open(path: str | os.PathLike[str] | None = None) -> Repo:
    """Open a repository; see `Repo.open`."""
    return Repo.open(path)
