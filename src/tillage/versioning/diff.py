"""Row-level differences between two versions of a table, keyed by primary key.

The comparison runs in DuckDB over Arrow tables without copying them: one hash
per row of the shared columns finds the keys that differ, and only those rows
are compared column by column.

Each side may be an Arrow table or an open Lance dataset (a pinned version).
Given two Lance versions, only the rows that are not physically shared are
read: Lance data files are immutable, so a row stored at the same offset of the
same data file and live on both sides is identical on both sides. Rows of data
files only one side references, and rows one side deleted from a shared file,
are the only candidates for a difference (see `unshared_rows`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.jsonable import jsonable


@dataclass(frozen=True)
class RowChanges:
    """The keyed changes from table ``old`` to table ``new``.

    ``changed_old`` and ``changed_new`` hold the same keys in the same order.
    ``columns`` are the compared (shared, same-typed, non-key) columns.
    """

    key: list[str]
    columns: list[str]
    added: pa.Table
    removed: pa.Table
    changed_old: pa.Table
    changed_new: pa.Table


def schema_change(old: pa.Schema, new: pa.Schema) -> SchemaChange:
    old_t = {f.name: str(f.type) for f in old}
    new_t = {f.name: str(f.type) for f in new}
    return SchemaChange(
        added=[(n, t) for n, t in new_t.items() if n not in old_t],
        removed=[(n, t) for n, t in old_t.items() if n not in new_t],
        retyped=[(n, old_t[n], t) for n, t in new_t.items() if n in old_t and old_t[n] != t],
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_changes(old: pa.Table, new: pa.Table, key: list[str]) -> RowChanges:
    """Compare two tables by ``key``; both must have unique, non-null keys."""
    old_types = {f.name: f.type for f in old.schema}
    columns = [
        f.name
        for f in new.schema
        if f.name not in key and f.name in old_types and old_types[f.name] == f.type
    ]
    con = duckdb.connect()
    con.register("o", old)
    con.register("n", new)
    keys = ", ".join(_q(k) for k in key)
    on = " AND ".join(f"o.{_q(k)} = n.{_q(k)}" for k in key)
    row_hash = (
        "hash(" + ", ".join(f"{{t}}.{_q(c)}" for c in columns) + ")" if columns else "0::UBIGINT"
    )
    # Changed keys: present on both sides with a different row hash.
    con.execute(
        f"""CREATE TEMP TABLE ck AS
        SELECT {", ".join(f"o.{_q(k)} AS {_q(k)}" for k in key)}
        FROM (SELECT {keys}, {row_hash.format(t="o")} AS h FROM o) o
        JOIN (SELECT {keys}, {row_hash.format(t="n")} AS h FROM n) n ON {on}
        WHERE o.h <> n.h"""
    )
    order = f"ORDER BY {keys}"
    changed_old = con.sql(f"SELECT o.* FROM o SEMI JOIN ck USING ({keys}) {order}").to_arrow_table()
    changed_new = con.sql(f"SELECT n.* FROM n SEMI JOIN ck USING ({keys}) {order}").to_arrow_table()
    added = con.sql(f"SELECT n.* FROM n ANTI JOIN o USING ({keys}) {order}").to_arrow_table()
    removed = con.sql(f"SELECT o.* FROM o ANTI JOIN n USING ({keys}) {order}").to_arrow_table()
    con.close()
    return RowChanges(key, columns, added, removed, changed_old, changed_new)


def is_table(side: Any) -> bool:
    return isinstance(side, pa.Table)


def _field_ids(ds: Any) -> dict[str, int]:
    return {f.name(): f.id() for f in ds.lance_schema.fields()}


def same_layout(*sides: Any) -> bool:
    """Whether Lance versions share one schema, column names mapped to the same field ids.

    Only then does a shared data file hold the same values under the same names.
    """
    first = sides[0]
    schema, ids = first.schema, _field_ids(first)
    return all(s.schema == schema and _field_ids(s) == ids for s in sides[1:])


def _fragments(ds: Any) -> dict[tuple[Any, ...], Any] | None:
    """The fragments of a Lance version by the identity of their data files.

    Data file names are random (UUID-based) and files are never rewritten in
    place, so the same names and field ids mean the same stored rows. None if
    two fragments of one version claim the same files (never seen; be safe).
    """
    out: dict[tuple[Any, ...], Any] = {}
    for frag in ds.get_fragments():
        ident = tuple(sorted((f.path, tuple(f.fields)) for f in frag.metadata.files))
        if ident in out:
            return None
        out[ident] = frag
    return out


def _deletions(frag: Any) -> Any:
    d = frag.metadata.deletion_file
    return None if d is None else (d.id, d.read_version, d.num_deleted_rows)


def _live_rows(ds: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Fragment id -> (row ids, physical offsets) of its live rows."""
    scan = ds.to_table(columns=[], with_row_id=True, with_row_address=True)
    addr = scan.column("_rowaddr").to_numpy()
    row_ids = scan.column("_rowid").to_numpy()
    frag_ids = addr >> np.uint64(32)
    if len(frag_ids) and np.all(frag_ids[1:] >= frag_ids[:-1]):
        # Scans come in fragment order: split at the boundaries, no sort needed.
        starts = np.concatenate(([0], np.flatnonzero(frag_ids[1:] != frag_ids[:-1]) + 1))
        groups = np.split(np.arange(len(addr)), starts[1:])
        ids = frag_ids[starts]
    else:
        order = np.argsort(frag_ids, kind="stable")
        ids, starts = np.unique(frag_ids[order], return_index=True)
        groups = np.split(order, starts[1:])
    offsets = addr & np.uint64(0xFFFFFFFF)
    return {
        int(fid): (row_ids[pos], offsets[pos])
        for fid, pos in zip(ids.tolist(), groups, strict=True)
    }


def _take_rows(ds: Any, row_ids: np.ndarray) -> pa.Table:
    """Rows by stable row id, in a few threads (Lance releases the GIL).

    Not ``ds.take(positions)``: Lance 14's positional take is quadratic on
    fragments with deletions (10k rows of 3M: ~55 s).
    """
    chunks = min(os.cpu_count() or 1, 8, max(1, len(row_ids) // 4096))
    if chunks == 1:
        return ds._take_rows(row_ids.tolist())
    with ThreadPoolExecutor(chunks) as pool:
        parts = list(pool.map(lambda a: ds._take_rows(a.tolist()), np.array_split(row_ids, chunks)))
    return pa.concat_tables(parts)


def unshared_rows(old: Any, new: Any) -> tuple[pa.Table, pa.Table] | None:
    """The rows of Lance versions ``old`` and ``new`` that the other does not share.

    A keyed comparison of the two results equals one of the full versions (keys
    unique on each side): a key whose row is stored at the same place on both
    sides is equal on both and absent from both results; any other key's rows
    are in the results. None when the two versions cannot be compared this way.
    """
    if not same_layout(old, new):
        return None
    f_old, f_new = _fragments(old), _fragments(new)
    if f_old is None or f_new is None:
        return None
    out = []
    live: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}

    def live_of(ds: Any) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        if id(ds) not in live:
            live[id(ds)] = _live_rows(ds)
        return live[id(ds)]

    for ds, frags, other_ds, other in ((old, f_old, new, f_new), (new, f_new, old, f_old)):
        parts: list[pa.Table] = []
        row_ids: list[np.ndarray] = []
        for ident, frag in frags.items():
            twin = other.get(ident)
            if twin is None:
                parts.append(frag.to_table())
            elif _deletions(frag) != _deletions(twin):
                empty = (np.empty(0, np.uint64), np.empty(0, np.uint64))
                ids, mine = live_of(ds).get(frag.fragment_id, empty)
                theirs = live_of(other_ds).get(twin.fragment_id, empty)[1]
                size = int(max(mine.max(initial=0), theirs.max(initial=0))) + 1
                alive_there = np.zeros(size, dtype=bool)
                alive_there[theirs] = True
                row_ids.append(ids[~alive_there[mine]])
            # else: the same data files with the same deletions: the same live rows
        wanted = np.sort(np.concatenate(row_ids)) if row_ids else np.empty(0, np.uint64)
        if len(wanted):
            parts.append(_take_rows(ds, wanted))
        out.append(pa.concat_tables([ds.schema.empty_table(), *parts]).combine_chunks())
    return out[0], out[1]


def lance_row_changes(old: Any, new: Any, key: list[str]) -> RowChanges:
    """`row_changes` of two Lance versions, reading only their unshared rows when possible."""
    parts = unshared_rows(old, new)
    if parts is None:
        return row_changes(old.to_table(), new.to_table(), key)
    return row_changes(parts[0], parts[1], key)


def _differs(old: Any, new: Any) -> Any:
    """Per row, whether ``old != new`` as Python compares the values (None == None)."""
    try:
        ne = pc.not_equal(old, new)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return pc.or_(pc.fill_null(ne, False), pc.xor(pc.is_null(old), pc.is_null(new)))


def cell_changes(
    changes: RowChanges, limit: int | None = None
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Per-column change counts, and per-row ``{"key", "changes"}`` records.

    ``limit`` keeps only the first records (the counts always cover every row).
    """
    old_t = changes.changed_old.select(changes.key + changes.columns)
    new_t = changes.changed_new.select(changes.key + changes.columns)
    counts = dict.fromkeys(changes.columns, 0)
    slow: list[str] = []
    for c in changes.columns:
        mask = _differs(old_t.column(c), new_t.column(c))
        if mask is None:
            slow.append(c)
        else:
            counts[c] = int(pc.sum(mask).as_py() or 0)
    if slow:
        old_vals = old_t.select(slow).to_pylist()
        new_vals = new_t.select(slow).to_pylist()
        for o, n in zip(old_vals, new_vals, strict=True):
            for c in slow:
                if o[c] != n[c]:
                    counts[c] += 1
    if limit is not None:
        old_t, new_t = old_t.slice(0, limit), new_t.slice(0, limit)
    records = []
    for o, n in zip(old_t.to_pylist(), new_t.to_pylist(), strict=True):
        diff = {c: [o[c], n[c]] for c in changes.columns if o[c] != n[c]}
        records.append({"key": {k: n[k] for k in changes.key}, "changes": diff})
    return {c: v for c, v in counts.items() if v}, records


def _num_rows(side: Any) -> int:
    return int(side.num_rows) if is_table(side) else int(side.count_rows())


def _head(side: Any, n: int) -> pa.Table:
    return side.slice(0, n) if is_table(side) else side.to_table(limit=n).slice(0, n)


def dataset_diff(
    name: str,
    key: list[str],
    old: Any,
    new: Any,
    sample_rows: int = 5,
) -> DatasetDiff:
    """Summarize the difference of one dataset; ``None`` means absent at that commit.

    ``old`` and ``new`` are Arrow tables or open Lance versions; given two Lance
    versions, only the rows they do not share are read.
    """
    if old is None and new is None:
        raise ValueError("dataset_diff needs at least one side")
    if old is None or new is None:
        present = new if new is not None else old
        status = "added" if old is None else "removed"
        n = _num_rows(present)
        return DatasetDiff(
            dataset=name,
            status=status,
            key=key,
            schema=SchemaChange(),
            rows_before=0 if old is None else n,
            rows_after=0 if new is None else n,
            added=n if status == "added" else 0,
            removed=n if status == "removed" else 0,
            samples={status: rows_json(_head(present, sample_rows).to_pylist())},
        )
    if is_table(old) or is_table(new):
        old = old if is_table(old) else old.to_table()
        new = new if is_table(new) else new.to_table()
        rc = row_changes(old, new, key)
    else:
        rc = lance_row_changes(old, new, key)
    return _summary(
        name, key, old.schema, new.schema, _num_rows(old), _num_rows(new), rc, sample_rows
    )


def _summary(
    name: str,
    key: list[str],
    old_schema: pa.Schema,
    new_schema: pa.Schema,
    rows_before: int,
    rows_after: int,
    rc: RowChanges,
    sample_rows: int,
) -> DatasetDiff:
    schema = schema_change(old_schema, new_schema)
    counts, records = cell_changes(rc, limit=sample_rows)
    modified = (
        not schema.empty or rc.added.num_rows or rc.removed.num_rows or rc.changed_new.num_rows
    )
    return DatasetDiff(
        dataset=name,
        status="modified" if modified else "unchanged",
        key=key,
        schema=schema,
        rows_before=rows_before,
        rows_after=rows_after,
        added=rc.added.num_rows,
        removed=rc.removed.num_rows,
        changed=rc.changed_new.num_rows,
        column_changes=counts,
        samples={
            "added": rows_json(rc.added.slice(0, sample_rows).to_pylist()),
            "removed": rows_json(rc.removed.slice(0, sample_rows).to_pylist()),
            "changed": rows_json(records[:sample_rows]),
        },
    )


def rows_json(value: Any) -> Any:
    """Rows (or keys, or cells) as JSON data; timestamps with a space, as Python shows them."""
    return jsonable(value, time_sep=" ")
