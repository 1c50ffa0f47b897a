"""Versioned tables on Lance: one Lance dataset per tillage dataset.

This module knows Lance and nothing of commits: it opens a pinned version,
prepares the Lance branch a write goes to, and performs the four kinds of
write. Every write produces a new, immutable Lance version; which version is
*visible* is decided by the catalog's commits, never by Lance's "latest". A
write that crashed before its commit landed leaves an unpinned version behind,
which the next write discards by restoring the pinned one first.

`Tables.open` is the one way to open a pinned version for reading; it runs the
repository's integrity check (`store.integrity`) on the version's files first,
and turns Lance's failures to open a damaged version into `CorruptDataError`.

Appends must not repeat a key, and checking that must cost what the batch
costs, not what the table costs. Each key column gets a Lance BTREE index,
which lives in the version's manifest (so a Lance branch or an old version
sees the index as it was then). An index covers only the fragments it was
built on; Lance scans the others. So an append leaves its rows unindexed, and
once ``_INDEX_EVERY_ROWS`` rows are not covered, the write adds an index
segment for just those rows (Lance's ``optimize_indices`` with no merge): each
row is indexed once, the scan of unindexed rows stays bounded, and segments
grow by one per ``_INDEX_EVERY_ROWS`` rows. Tables smaller than that have no
index at all: scanning their keys is cheap.

Upserts and deletes are Lance merges by key. A small merge (up to
``_INDEX_MERGE_ROWS`` rows) looks its keys up in that index: one row into
3,000,000 takes about 5 ms through it and 85 ms scanning every key. A larger one
does not use it (``use_index(False)``): through the index, Lance gathers the
candidate rows into a hash table that may not spill, and a merge failed past
Lance's memory pool (300 MB), for instance re-predicting a model version once two
million predictions were stored (500,000 rows into 2,000,000). Without it the
join streams the table's keys within the pool (1,000,000 into 4,000,000: 2.6 s),
and from about a thousand rows on it is also the faster one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tillage.core.commit import DatasetPin
from tillage.errors import CorruptDataError

# Lance and pyarrow load in the functions that use them: `status` measures the
# tables' folders and needs neither.
if TYPE_CHECKING:
    import pyarrow as pa

LANCE_MAIN = "main"
# Lance file format 2.1: per-column compression below keeps 60 small daily
# appends of NYC flights at ~1.8x the size of one Parquet file (see benchmarks).
STORAGE_VERSION: Literal["2.1"] = "2.1"
_DICT_MAX_DISTINCT_RATIO = 0.5
# Rows left out of the key index before a write indexes them; bounds the scan
# each key lookup does next to the index (about 2 ms per 100k int64 keys).
_INDEX_EVERY_ROWS = 1 << 20
# Merges (upserts, deletes) of at most this many rows use the key index; larger ones
# scan the keys (faster from about 1,000 rows on 3M generated string keys, and the
# indexed merge's hash table cannot spill). See the module docstring.
_INDEX_MERGE_ROWS = 1024
# One index lookup of a key costs about as much as scanning this many keys
# (measured on 3M generated string keys: ~20 us a lookup, ~40 ns a scanned key);
# for a batch as large as the table divided by this, a scan is cheaper.
_LOOKUP_COST_ROWS = 500
# A filter's IN list is planned as one expression (1M keys took 8 s and 1.7 GB
# on 3M rows): above this many keys the batch is joined with the table's keys,
# read in chunks of _KEY_CHUNK_ROWS, instead.
_MAX_FILTER_KEYS = 1 << 16
# Below this many rows, reading all the keys costs less than planning a filter
# (1,000 generated int64 keys against 100k rows: 9 ms join, 11 ms filter; 200k: 41, 16).
_MIN_FILTER_ROWS = 1 << 17
_KEY_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class Target:
    """Where a write goes: a Lance handle at the head of ``branch``."""

    handle: Any
    branch: str


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the new Lance version and row counts."""

    lance_branch: str
    version: int
    num_rows: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class VersionFile:
    """A file a Lance version reads: its path under the dataset's folder (absolute if
    it is elsewhere), and the size Lance's manifest records for it (None: none)."""

    path: str
    size: int | None


def version_label(pin: DatasetPin) -> str:
    """How messages name a pinned version: ``BRANCH@VERSION``."""
    return f"{pin.lance_branch}@{pin.version}"


# Checks a pinned version's files: (dataset, pin, files, deep); raises CorruptDataError.
Guard = Callable[[str, DatasetPin, list[VersionFile], bool], None]


def _encoding_metadata(table: pa.Table) -> pa.Schema:
    """Per-column encodings for a new dataset, chosen from its first batch.

    Low-cardinality strings get dictionary encoding; everything else zstd.
    Lance keeps field metadata in the dataset schema, so later appends use it too.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = []
    for f in table.schema:
        md = dict(f.metadata or {})
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            col = table.column(f.name)
            distinct = pc.count_distinct(col).as_py() if len(col) else 0
            if len(col) and distinct / len(col) <= _DICT_MAX_DISTINCT_RATIO:
                md[b"lance-encoding:dict-divisor"] = b"1"
            else:
                md[b"lance-encoding:compression"] = b"zstd"
        elif pa.types.is_primitive(f.type) or pa.types.is_binary(f.type):
            md[b"lance-encoding:compression"] = b"zstd"
        fields.append(f.with_metadata(md) if md else f)
    return pa.schema(fields, metadata=table.schema.metadata)


def _has_map(t: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_map(t)) or any(_has_map(t.field(i).type) for i in range(t.num_fields))


def unstorable_columns(schema: pa.Schema) -> list[str]:
    """The columns (``"name (type)"``) whose type Lance cannot store, checked without writing."""
    import pyarrow as pa
    from lance.schema import LanceSchema

    bad = []
    for f in schema:
        if _has_map(f.type):  # a valid Lance type, but not in file format 2.1
            bad.append(f"{f.name} ({f.type})")
            continue
        try:
            LanceSchema.from_pyarrow(pa.schema([f.with_name("x")]))
        except ValueError:
            bad.append(f"{f.name} ({f.type})")
    return bad


def _filterable(t: pa.DataType) -> bool:
    """Types a Lance filter can compare with a list of values (and a BTREE index can hold)."""
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return bool(t.unit != "ns")  # Lance cannot take nanosecond literals in a filter
    return bool(
        pa.types.is_signed_integer(t)
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_decimal128(t)
        or pa.types.is_date32(t)
    )


def _matching(keys: pa.Table, found: pa.Table, key: list[str]) -> pa.Table:
    """The rows of ``keys`` whose key is among ``found``'s."""
    import pyarrow.compute as pc

    if len(key) == 1:  # a set lookup: cheaper than a join, and for more types
        return keys.filter(pc.is_in(keys.column(0), value_set=found.column(0).combine_chunks()))
    return keys.join(found.select(key), keys=key, join_type="left semi")


def children_first(parents: dict[str, str | None]) -> list[str]:
    """Lance branches ordered so that every branch comes before the one it was forked from."""

    def depth(branch: str) -> int:
        n, up, seen = 0, parents.get(branch), {branch}
        while up is not None and up in parents and up not in seen:
            seen.add(up)
            n, up = n + 1, parents.get(up)
        return n

    return sorted(parents, key=lambda b: (-depth(b), b))


def strip_metadata(schema: pa.Schema) -> pa.Schema:
    """The schema users see: no Lance encoding hints."""
    import pyarrow as pa

    return pa.schema([f.remove_metadata() for f in schema])


_LANCE_FILE = re.compile(r"/?[^\s,:]+\.(?:lance|arrow|bin|manifest)\b")


def lance_message(e: BaseException) -> str:
    """Lance's error message without its source locations, on one line."""
    text = re.sub(r",\s*/\S+\.rs:\d+:\d+", "", str(e))
    return " ".join(text.split())[:300] or type(e).__name__


def new_lance_branch_name(repo_branch: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", repo_branch)[:60]
    return f"{safe}-{uuid.uuid4().hex[:8]}"


class Tables:
    """The Lance datasets under ``root`` (the repository's ``tables/`` folder)."""

    def __init__(self, root: Path, guard: Guard | None = None) -> None:
        self.root = root
        self.guard = guard
        self._checked: set[tuple[str, str, int]] = set()
        # While a write is staged: the Lance files it may rewrite in place, as they were.
        self.saved: dict[Path, bytes] | None = None

    def uri(self, dataset: str) -> str:
        return str(self.root / f"{dataset}.lance")

    def exists(self, dataset: str) -> bool:
        return (self.root / f"{dataset}.lance" / "_versions").is_dir()

    def _open_branch(self, dataset: str, lance_branch: str, version: int | None) -> Any:
        import lance

        if lance_branch == LANCE_MAIN:
            # Straight to the version: a damaged later manifest must not block it.
            return lance.dataset(self.uri(dataset), version=version)
        return lance.dataset(self.uri(dataset)).checkout_version((lance_branch, version))

    def _open_pinned(self, dataset: str, pin: DatasetPin) -> Any:
        """A pinned version for reading, opened from its own branch's folder: a damaged
        manifest of another branch (Lance main's latest, say) does not block it."""
        import lance

        if pin.lance_branch == LANCE_MAIN:
            return self._open_branch(dataset, LANCE_MAIN, pin.version)
        folder = self.root / f"{dataset}.lance" / self.branch_root(pin.lance_branch)
        return lance.dataset(str(folder), version=pin.version)

    def open(self, dataset: str, pin: DatasetPin, *, check: bool = True) -> Any:
        """Open the pinned version (read-only use), checked by the guard once per process.

        Raises:
            CorruptDataError: the version's manifest or a file it reads is missing,
                cannot be opened, or differs from what was written.
        """
        try:
            handle = self._open_pinned(dataset, pin)
        except (OSError, ValueError, RuntimeError) as e:
            manifest = self.manifest_path(dataset, pin)
            exists = (self.root / f"{dataset}.lance" / manifest).is_file()
            raise CorruptDataError(
                dataset,
                version_label(pin),
                f"tables/{dataset}.lance/{manifest}",
                f"cannot be opened ({lance_message(e)})" if exists else "is missing",
            ) from None
        key = (dataset, pin.lance_branch, pin.version)
        if check and self.guard is not None and key not in self._checked:
            self.guard(dataset, pin, self.version_files(dataset, pin, handle), False)
            self._checked.add(key)
        return handle

    def read_error(
        self, dataset: str, pin: DatasetPin, exc: BaseException
    ) -> CorruptDataError | None:
        """The `CorruptDataError` for Lance failing to read a version's files, if it is one.

        Lance fails in many ways on a damaged file, so every file of the version is
        hashed and compared with its checksum (only now, after a failure); failing
        that, Lance's I/O errors are damage, the file named where Lance names it.
        """
        if self.guard is not None:
            handle = self._open_pinned(dataset, pin)
            try:
                self.guard(dataset, pin, self.version_files(dataset, pin, handle), True)
            except CorruptDataError as e:
                return e
        message = str(exc)
        if "LanceError(IO)" not in message:
            return None
        found = _LANCE_FILE.search(message)
        folder = self.root / f"{dataset}.lance"
        file = f"tables/{dataset}.lance (one of the version's files)"
        if found is not None:  # Lance sometimes drops the leading "/"
            path = Path("/" + found.group(0).lstrip("/"))
            inside = path.is_relative_to(folder)
            file = f"tables/{dataset}.lance/{path.relative_to(folder)}" if inside else str(path)
        return CorruptDataError(
            dataset, version_label(pin), file, f"cannot be read ({lance_message(exc)})"
        )

    def branch_root(self, lance_branch: str) -> str:
        """Where a Lance branch keeps its own files, relative to the dataset's folder."""
        return "" if lance_branch == LANCE_MAIN else f"tree/{lance_branch}/"

    def manifest_path(self, dataset: str, pin: DatasetPin) -> str:
        """The manifest file of a version, relative to the dataset's folder."""
        versions = self.branch_root(pin.lance_branch) + "_versions/"
        v2 = f"{versions}{(1 << 64) - 1 - pin.version}.manifest"  # Lance's V2 naming
        v1 = f"{versions}{pin.version}.manifest"
        return v1 if (self.root / f"{dataset}.lance" / v1).is_file() else v2

    def version_files(self, dataset: str, pin: DatasetPin, handle: Any) -> list[VersionFile]:
        """Every file the version reads: its manifest, data, deletion and index files.

        Read from the open version's manifest (and a folder listing per index): files of a Lance
        branch live under ``tree/BRANCH/``, files it shares with the branch it
        was forked from under that branch's base path.
        """
        folder = self.root / f"{dataset}.lance"
        own = self.branch_root(pin.lance_branch)
        bases: dict[int, str] = {}
        roots: dict[int, str] = {}
        for base_id, base in handle.base_paths().items():
            # Lance records base paths as absolute paths: in a repository copied or
            # moved elsewhere they still name the old place, which is what Lance reads.
            where = Path(str(base.path))
            rel = where.relative_to(folder).as_posix() if where.is_relative_to(folder) else None
            prefix = str(where) + "/" if rel is None else "" if rel == "." else rel + "/"
            roots[base_id] = prefix
            bases[base_id] = prefix + ("data/" if base.is_dataset_root else "")
        files = [VersionFile(self.manifest_path(dataset, pin), None)]
        for fragment in handle.get_fragments():
            meta = fragment.metadata
            for f in meta.files:
                under = bases[f.base_id] if f.base_id is not None else own + "data/"
                files.append(VersionFile(under + f.path, f.file_size_bytes or None))
            deletion = meta.deletion_file
            if deletion is not None:
                prefix = own if deletion.base_id is None else bases[deletion.base_id]
                prefix = prefix.removesuffix("data/")
                files.append(VersionFile(prefix + deletion.path(fragment.fragment_id), None))
        for index in handle.list_indices():
            base_id = index.get("base_id")
            under = f"{own if base_id is None else roots[base_id]}_indices/{index['uuid']}/"
            try:
                names = sorted(p.name for p in (folder / under).iterdir() if p.is_file())
            except FileNotFoundError:  # reported as missing by whoever checks the files
                names = [""]
            files += [VersionFile(under + name, None) for name in names]
        return files

    def latest(self, dataset: str, lance_branch: str) -> Any:
        return self._open_branch(dataset, lance_branch, None)

    def schema(self, dataset: str, pin: DatasetPin) -> pa.Schema:
        return strip_metadata(self.open(dataset, pin).schema)

    # -- preparing where a write goes ------------------------------------

    def create(self, dataset: str, table: pa.Table, key: list[str]) -> WriteResult:
        """Create the Lance dataset with ``table`` as its first version on Lance main."""
        import lance

        table = table.cast(_encoding_metadata(table))
        lance.write_dataset(
            table,
            self.uri(dataset),
            mode="create",
            data_storage_version=STORAGE_VERSION,
            enable_stable_row_ids=True,
        )
        self._index_keys(dataset, LANCE_MAIN, key)
        return self._result(dataset, LANCE_MAIN, inserted=table.num_rows)

    def write_target(
        self, dataset: str, base: DatasetPin, owned: str | None, repo_branch: str
    ) -> Target:
        """Return where the next write of ``dataset`` on a repo branch should go.

        If the repo branch owns ``base.lance_branch``, the write goes there, after
        restoring ``base`` if a crashed or reset write left later versions on it.
        Otherwise a new Lance branch is forked from ``base`` (copy-on-write, O(1)).
        """
        import lance

        if owned == base.lance_branch:
            self._save_hint(dataset, owned)
            head = self.latest(dataset, owned)
            if head.version != base.version:
                self._open_branch(dataset, base.lance_branch, base.version).restore()
                head = self.latest(dataset, owned)
            return Target(head, owned)
        name = new_lance_branch_name(repo_branch)
        ds = lance.dataset(self.uri(dataset))
        ref: Any = (None if base.lance_branch == LANCE_MAIN else base.lance_branch, base.version)
        return Target(ds.create_branch(name, ref), name)

    def _save_hint(self, dataset: str, lance_branch: str) -> None:
        """Keep the branch's latest-version hint, which Lance rewrites, to undo a failed write."""
        if self.saved is None:
            return
        hint = self.root / f"{dataset}.lance" / self.branch_root(lance_branch) / "_versions"
        hint = hint / "latest_version_hint.json"
        if hint not in self.saved and hint.is_file():
            self.saved[hint] = hint.read_bytes()

    def refresh(self, dataset: str, target: Target) -> Target:
        """The same target at its branch's current head (after a schema change)."""
        return Target(self.latest(dataset, target.branch), target.branch)

    # -- the four writes ----------------------------------------------------

    def _result(self, dataset: str, lance_branch: str, **counts: int) -> WriteResult:
        head = self.latest(dataset, lance_branch)
        return WriteResult(lance_branch, head.version, head.count_rows(), **counts)

    def append(self, dataset: str, target: Target, table: pa.Table, key: list[str]) -> WriteResult:
        import lance

        lance.write_dataset(table, target.handle, mode="append")
        self._index_keys(dataset, target.branch, key)
        return self._result(dataset, target.branch, inserted=table.num_rows)

    def overwrite(
        self, dataset: str, target: Target, table: pa.Table, deleted: int, key: list[str]
    ) -> WriteResult:
        import lance

        lance.write_dataset(table.cast(_encoding_metadata(table)), target.handle, mode="overwrite")
        self._index_keys(dataset, target.branch, key)  # an overwrite drops Lance's indexes
        return self._result(dataset, target.branch, inserted=table.num_rows, deleted=deleted)

    def upsert(self, dataset: str, target: Target, table: pa.Table, key: list[str]) -> WriteResult:
        stats = (
            target.handle.merge_insert(key)
            .use_index(table.num_rows <= _INDEX_MERGE_ROWS)  # see the module docstring
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(table)
        )
        self._index_keys(dataset, target.branch, key)
        return self._result(
            dataset,
            target.branch,
            inserted=int(stats["num_inserted_rows"]),
            updated=int(stats["num_updated_rows"]),
        )

    def delete(self, dataset: str, target: Target, keys: pa.Table, key: list[str]) -> WriteResult:
        """Delete the rows whose key appears in ``keys`` (typed like the dataset's key).

        A keyed merge, not a SQL filter: keys of any type match (SQL string
        literals do not compare with timestamp or date columns), and many
        composite keys need no huge OR expression.
        """
        before = target.handle.count_rows()
        if keys.num_rows:
            # Each target row may match one source row only: one row per key.
            unique = keys.select(key).group_by(key, use_threads=False).aggregate([])
            indexed = unique.num_rows <= _INDEX_MERGE_ROWS
            target.handle.merge_insert(key).use_index(indexed).when_matched_delete().execute(unique)
        res = self._result(dataset, target.branch)
        return WriteResult(target.branch, res.version, res.num_rows, deleted=before - res.num_rows)

    # -- keys -----------------------------------------------------------------

    def existing_keys(
        self, dataset: str, pin: DatasetPin, batch: pa.Table, key: list[str]
    ) -> pa.Table:
        """The keys of ``batch`` (its ``key`` columns) that the pinned version already holds.

        A batch up to ``_MAX_FILTER_KEYS`` keys is looked up with a Lance filter,
        through the key index where there is one (see the module docstring); a
        larger one, or any batch into a small table, is joined with the table's
        keys read in chunks. Either way memory stays bounded by the batch and a
        chunk, never the whole key column of a large table.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = batch.select(key)
        if pin.num_rows == 0:
            return keys.slice(0, 0)
        ds = self.open(dataset, pin)
        usable = [k for k in key if _filterable(keys.schema.field(k).type)]
        if usable and keys.num_rows <= _MAX_FILTER_KEYS and pin.num_rows >= _MIN_FILTER_ROWS:
            where = pc.field(usable[0]).isin(pc.unique(keys.column(usable[0])))
            for k in usable[1:]:
                where = where & pc.field(k).isin(pc.unique(keys.column(k)))
            use_index = keys.num_rows * _LOOKUP_COST_ROWS <= pin.num_rows
            found = ds.to_table(columns=key, filter=where, use_scalar_index=use_index)
            return _matching(keys, found, key)
        chunks = ds.to_batches(columns=key, batch_size=_KEY_CHUNK_ROWS)
        parts = [_matching(keys, pa.Table.from_batches([c]), key) for c in chunks]
        return pa.concat_tables(parts) if parts else keys.slice(0, 0)

    def _index_keys(self, dataset: str, lance_branch: str, key: list[str]) -> None:
        """Index the key columns' rows that no index covers, once there are enough of them."""
        head = self.latest(dataset, lance_branch)
        indexes = {
            d.field_names[0]: d.name
            for d in head.describe_indices()
            if d.index_type == "BTree" and len(d.field_names) == 1
        }
        for k in key:
            if not _filterable(head.schema.field(k).type):
                continue
            name = indexes.get(k)
            if name is None:
                if head.count_rows() >= _INDEX_EVERY_ROWS:
                    head.create_scalar_index(k, "BTREE")
            elif head.stats.index_stats(name)["num_unindexed_rows"] >= _INDEX_EVERY_ROWS:
                head.optimize.optimize_indices(index_names=[name], num_indices_to_merge=0)

    def restore(self, dataset: str, pin: DatasetPin) -> None:
        self._open_branch(dataset, pin.lance_branch, pin.version).restore()

    # -- maintenance --------------------------------------------------------

    def cleanup(self, dataset: str, lance_branch: str, keep: set[int]) -> int:
        """Delete the versions of one Lance branch that no commit pins; return how many."""
        handle = self.latest(dataset, lance_branch)
        drop = [v["version"] for v in handle.versions() if v["version"] not in keep]
        drop = [v for v in drop if v != handle.version]
        # Run even with nothing to drop (Lance never removes the current version):
        # it also deletes the files of writes killed before they made a version.
        handle.cleanup_old_versions(
            versions=drop or [handle.version],
            error_if_tagged_old_versions=False,
            delete_unverified=True,
        )
        return len(drop)

    def lance_branches(self, dataset: str) -> list[str]:
        import lance

        return list(lance.dataset(self.uri(dataset)).branches.list())

    def lance_branch_parents(self, dataset: str) -> dict[str, str | None]:
        """Lance branch -> the branch it was forked from (None: Lance main)."""
        import lance

        branches = lance.dataset(self.uri(dataset)).branches.list()
        return {name: info.get("parent_branch") for name, info in branches.items()}

    def drop_lance_branch(self, dataset: str, lance_branch: str) -> None:
        import lance

        lance.dataset(self.uri(dataset)).branches.delete(lance_branch)

    def stray_branch_folders(self, dataset: str) -> list[Path]:
        """Folders under ``tree/`` that belong to no Lance branch.

        A process killed while Lance created or deleted a branch leaves one.
        """
        tree = self.root / f"{dataset}.lance" / "tree"
        if not tree.is_dir():
            return []
        names = self.lance_branches(dataset)
        return [
            d
            for d in sorted(tree.iterdir())
            if not any(n == d.name or n.startswith(d.name + "/") for n in names)
        ]

    def size_bytes(self, dataset: str | None = None) -> int:
        root = self.root / f"{dataset}.lance" if dataset else self.root
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
