"""Row-level differences between two versions of a table, keyed by primary key.

The comparison runs in DuckDB over Arrow tables without copying them: one hash
per row of the shared columns finds the keys that differ, and only those rows
are compared column by column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from tillage.core.diff import DatasetDiff, SchemaChange


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


def cell_changes(changes: RowChanges) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Per-column change counts, and per-row ``{"key", "changes"}`` records."""
    old_rows = changes.changed_old.select(changes.key + changes.columns).to_pylist()
    new_rows = changes.changed_new.select(changes.key + changes.columns).to_pylist()
    counts = dict.fromkeys(changes.columns, 0)
    records = []
    for o, n in zip(old_rows, new_rows, strict=True):
        diff = {c: [o[c], n[c]] for c in changes.columns if o[c] != n[c]}
        for c in diff:
            counts[c] += 1
        records.append({"key": {k: n[k] for k in changes.key}, "changes": diff})
    return {c: v for c, v in counts.items() if v}, records


def dataset_diff(
    name: str,
    key: list[str],
    old: pa.Table | None,
    new: pa.Table | None,
    sample_rows: int = 5,
) -> DatasetDiff:
    """Summarize the difference of one dataset; ``None`` means absent at that commit."""
    if old is None and new is None:
        raise ValueError("dataset_diff needs at least one side")
    if old is None or new is None:
        present = new if new is not None else old
        assert present is not None
        status = "added" if old is None else "removed"
        empty = SchemaChange()
        return DatasetDiff(
            dataset=name,
            status=status,
            key=key,
            schema=empty,
            rows_before=0 if old is None else old.num_rows,
            rows_after=0 if new is None else new.num_rows,
            added=present.num_rows if status == "added" else 0,
            removed=present.num_rows if status == "removed" else 0,
            samples={status: _jsonable(present.slice(0, sample_rows).to_pylist())},
        )
    schema = schema_change(old.schema, new.schema)
    rc = row_changes(old, new, key)
    counts, records = cell_changes(rc)
    modified = not schema.empty or rc.added.num_rows or rc.removed.num_rows or records
    return DatasetDiff(
        dataset=name,
        status="modified" if modified else "unchanged",
        key=key,
        schema=schema,
        rows_before=old.num_rows,
        rows_after=new.num_rows,
        added=rc.added.num_rows,
        removed=rc.removed.num_rows,
        changed=rc.changed_new.num_rows,
        column_changes=counts,
        samples={
            "added": _jsonable(rc.added.slice(0, sample_rows).to_pylist()),
            "removed": _jsonable(rc.removed.slice(0, sample_rows).to_pylist()),
            "changed": _jsonable(records[:sample_rows]),
        },
    )


def _jsonable(value: Any) -> Any:
    """Rows as JSON-ready values (timestamps and decimals become strings)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
