"""Three-way, key-level, cell-level merge of one dataset.

Given the merge base, ours (the target branch) and theirs (the source), the
changes theirs made since the base are replayed onto ours, key by key and cell
by cell. A cell both sides changed to different values is a conflict; so is a
row one side deleted and the other changed. Conflicts are reported, never
silently resolved, unless the caller prefers one side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa

from tillage.core.commit import Commit, DatasetPin
from tillage.core.findings import REDACTED
from tillage.errors import MergeConflictError
from tillage.versioning.diff import (
    RowChanges,
    is_table,
    row_changes,
    rows_json,
    same_layout,
    schema_change,
    unshared_rows,
)

if TYPE_CHECKING:
    from tillage.core.policy import DatasetPolicy
    from tillage.store.catalog import Catalog
    from tillage.store.tables import Tables
    from tillage.versioning.writer import Transaction

Prefer = Literal["ours", "theirs"] | None
ROW = "(row)"  # the pseudo-column of a conflict about a whole row


@dataclass
class RowMerge:
    """What to write onto ours: rows to upsert and keys to delete, plus conflicts."""

    upserts: pa.Table
    deletes: pa.Table
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _key_of(row: dict[str, Any], key: list[str]) -> tuple[Any, ...]:
    return tuple(row[k] for k in key)


def merge_rows(
    dataset: str,
    key: list[str],
    base: Any,
    ours: Any,
    theirs: Any,
    prefer: Prefer = None,
) -> RowMerge:
    """Replay theirs' changes since ``base`` onto ``ours``.

    The three sides are Arrow tables or open Lance versions. Given three Lance
    versions with one layout, only the rows ours and theirs do not share with
    the base are read (see `tillage.versioning.diff.unshared_rows`).

    Raises:
        ValueError: if both sides changed the schema differently (caller reports it).
    """
    if not (is_table(base) or is_table(ours) or is_table(theirs)):
        plan = _merge_lance(dataset, key, base, ours, theirs, prefer)
        if plan is not None:
            return plan
    base, ours, theirs = (t if is_table(t) else t.to_table() for t in (base, ours, theirs))
    ours_schema = schema_change(base.schema, ours.schema)
    theirs_schema = schema_change(base.schema, theirs.schema)
    if not theirs_schema.empty and not ours_schema.empty and ours.schema != theirs.schema:
        raise ValueError(f"both sides changed the columns of {dataset!r}")
    if not theirs_schema.empty:
        raise ValueError(
            f"the source changed the columns of {dataset!r} while the target changed its rows"
        )
    d_ours = row_changes(base, ours, key)
    d_theirs = row_changes(base, theirs, key)
    return _replay(dataset, key, ours, d_ours, d_theirs, prefer)


def _merge_lance(
    dataset: str, key: list[str], base: Any, ours: Any, theirs: Any, prefer: Prefer
) -> RowMerge | None:
    """`merge_rows` over the rows ours and theirs do not share with the base; None if n/a."""
    if not same_layout(base, ours, theirs):
        return None  # schemas differ: the table path checks and reports them
    parts_ours = unshared_rows(base, ours)
    parts_theirs = unshared_rows(base, theirs)
    if parts_ours is None or parts_theirs is None:
        return None
    d_ours = row_changes(*parts_ours, key)
    d_theirs = row_changes(*parts_theirs, key)
    # Ours' row for a key theirs changed: from ours' unshared rows if it is there,
    # otherwise ours stores the base's very row, which theirs' diff already holds.
    ours_moved = parts_ours[1]
    con = duckdb.connect()
    con.register("m", ours_moved)
    con.register("b", d_theirs.changed_old)
    cols = ", ".join('"' + k.replace('"', '""') + '"' for k in key)
    kept = con.sql(f"SELECT b.* FROM b ANTI JOIN m USING ({cols})").to_arrow_table()
    con.close()
    lookup = pa.concat_tables([ours_moved, kept.cast(ours_moved.schema)])
    return _replay(dataset, key, lookup, d_ours, d_theirs, prefer)


def _replay(
    dataset: str,
    key: list[str],
    ours: pa.Table,
    d_ours: RowChanges,
    d_theirs: RowChanges,
    prefer: Prefer,
) -> RowMerge:
    conflicts: list[dict[str, Any]] = []
    o_added = {_key_of(r, key): r for r in d_ours.added.to_pylist()}
    o_removed = {_key_of(r, key) for r in d_ours.removed.select(key).to_pylist()}
    o_changed_new = {_key_of(r, key): r for r in d_ours.changed_new.to_pylist()}
    o_changed_old = {_key_of(r, key): r for r in d_ours.changed_old.to_pylist()}

    def conflict(k: tuple[Any, ...], column: str, base: Any, o: Any, t: Any) -> None:
        conflicts.append(
            {
                "dataset": dataset,
                "key": rows_json(dict(zip(key, k, strict=True))),
                "column": column,
                "base": rows_json(base),
                "ours": rows_json(o),
                "theirs": rows_json(t),
            }
        )

    upserts: dict[tuple[Any, ...], dict[str, Any]] = {}
    deletes: list[tuple[Any, ...]] = []
    needs_ours_row: dict[tuple[Any, ...], dict[str, Any]] = {}  # key -> theirs' cell changes

    for row in d_theirs.added.to_pylist():
        k = _key_of(row, key)
        if k in o_added:
            mine = o_added[k]
            differs = [c for c in row if c in mine and row[c] != mine[c]]
            for c in differs:
                if prefer is None:
                    conflict(k, c, None, mine[c], row[c])
            if differs and prefer == "theirs":
                upserts[k] = {**mine, **{c: row[c] for c in row if c in mine}}
        elif k in o_removed or k in o_changed_new:
            # Cannot happen: theirs added a key the base did not have.
            continue
        else:
            upserts[k] = row

    for row in d_theirs.removed.select(key).to_pylist():
        k = _key_of(row, key)
        if k in o_removed:
            continue
        if k in o_changed_new:
            if prefer is None:
                conflict(k, ROW, "present", "changed", "deleted")
            elif prefer == "theirs":
                deletes.append(k)
        else:
            deletes.append(k)

    t_old = d_theirs.changed_old.to_pylist()
    t_new = d_theirs.changed_new.to_pylist()
    for old, new in zip(t_old, t_new, strict=True):
        k = _key_of(new, key)
        t_cells = {c: new[c] for c in d_theirs.columns if old[c] != new[c]}
        if k in o_removed:
            if prefer is None:
                conflict(k, ROW, "present", "deleted", "changed")
            elif prefer == "theirs":
                upserts[k] = new
            continue
        if k in o_changed_new:
            mine = dict(o_changed_new[k])
            mine_old = o_changed_old[k]
            for c, v in t_cells.items():
                if c not in mine:
                    continue
                ours_changed = mine_old.get(c) != mine[c]
                if ours_changed and mine[c] != v:
                    if prefer is None:
                        conflict(k, c, old[c], mine[c], v)
                    elif prefer == "theirs":
                        mine[c] = v
                else:
                    mine[c] = v
            if mine != o_changed_new[k]:
                upserts[k] = mine
        else:
            needs_ours_row[k] = t_cells

    if needs_ours_row:
        for row in _rows_by_key(ours, key, list(needs_ours_row)):
            k = _key_of(row, key)
            upserts[k] = {**row, **{c: v for c, v in needs_ours_row[k].items() if c in row}}

    schema = ours.schema
    upsert_table = pa.Table.from_pylist(list(upserts.values()), schema=schema)
    key_schema = pa.schema([schema.field(k) for k in key])
    delete_table = pa.Table.from_pylist(
        [dict(zip(key, k, strict=True)) for k in deletes], schema=key_schema
    )
    return RowMerge(
        upserts=upsert_table,
        deletes=delete_table,
        conflicts=conflicts,
        counts={
            "upserted": upsert_table.num_rows,
            "deleted": delete_table.num_rows,
            "conflicts": len(conflicts),
        },
    )


def _rows_by_key(
    table: pa.Table, key: list[str], keys: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    wanted = pa.Table.from_pylist(
        [dict(zip(key, k, strict=True)) for k in keys],
        schema=pa.schema([table.schema.field(k) for k in key]),
    )
    con = duckdb.connect()
    con.register("t", table)
    con.register("w", wanted)
    cols = ", ".join('"' + k.replace('"', '""') + '"' for k in key)
    out = con.sql(f"SELECT t.* FROM t SEMI JOIN w USING ({cols})").to_arrow_table()
    con.close()
    return out.to_pylist()  # type: ignore[no-any-return]


def redact_conflicts(
    conflicts: list[dict[str, Any]], key: list[str], hidden: DatasetPolicy | None
) -> list[dict[str, Any]]:
    """``conflicts`` as a principal who may not see ``hidden``'s values sees them: the
    cells of non-public columns, and keys with a non-public column, say so instead."""
    if hidden is None:
        return conflicts
    key_private = bool(hidden.private_columns(key))
    shown = []
    for c in conflicts:
        c = dict(c)
        if key_private:
            c["key"] = REDACTED
        if hidden.private_columns([str(c["column"])]):
            c.update(base=REDACTED, ours=REDACTED, theirs=REDACTED)
        shown.append(c)
    return shown


def three_way(
    catalog: Catalog,
    tables: Tables,
    tx: Transaction,
    base: Commit | None,
    theirs: Commit,
    prefer: Prefer,
    source: str,
    *,
    reading: Callable[[str, str | None], DatasetPolicy | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Replay ``theirs``' changes since ``base`` onto the transaction ``tx``.

    Each dataset both sides changed is merged row by row (`merge_rows`); one
    only ``theirs`` changed takes ``theirs``' version. Nothing is written unless
    no dataset conflicts.

    Args:
        catalog: the catalog (for the datasets' keys).
        tables: the Lance tables the pins name.
        tx: the open transaction on the target branch ("ours").
        base: the merge base (None: no common history).
        theirs: the commit whose changes are replayed.
        prefer: settle conflicting cells for "ours" or "theirs" (None: report them).
        source: what is merged, for the error message.
        reading: called with a dataset and a commit id before that side's rows are
            read (conflicts report their cells); the repository records it, and
            returns the dataset's policy when the cells of its non-public columns
            must not be shown (`redact_conflicts`).

    Returns:
        Per dataset, what the merge did (``op`` and row counts).

    Raises:
        MergeConflictError: listing every conflict; ``tx`` is left unwritten.
    """
    base_pins = base.pins if base else {}
    ours_pins = dict(tx.pins)
    plans: dict[str, RowMerge] = {}
    taken: dict[str, DatasetPin | None] = {}
    conflicts: list[dict[str, Any]] = []
    report: dict[str, dict[str, Any]] = {}
    keys: dict[str, list[str]] = {}
    for name in sorted(set(base_pins) | set(ours_pins) | set(theirs.pins)):
        b, o, t = base_pins.get(name), ours_pins.get(name), theirs.pins.get(name)
        if o == t or t == b:
            continue
        if o == b or (prefer == "theirs" and (o is None or t is None or b is None)):
            taken[name] = t
            continue
        if b is None or o is None or t is None:
            if prefer is None:
                conflicts.append(
                    {
                        "dataset": name,
                        "key": None,
                        "column": "(dataset)",
                        "base": "absent" if b is None else "present",
                        "ours": "absent" if o is None else "changed",
                        "theirs": "absent" if t is None else "changed",
                    }
                )
            continue
        keys[name] = key = catalog.dataset_key(name) or []
        hidden = None
        if reading is not None:
            ours = tx.head.id if tx.head else None
            for commit in dict.fromkeys((base.id if base else None, ours, theirs.id)):
                hidden = reading(name, commit or None) or hidden
        read = tables.open
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
        conflicts.extend(redact_conflicts(plan.conflicts, key, hidden))
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
        key = keys[name]
        if plan.upserts.num_rows:
            target = tx.write_target(name)
            tx.record(name, tables.upsert(name, target, plan.upserts, key), {"op": "merge"})
        if plan.deletes.num_rows:
            target = tx.write_target(name)
            tx.record(name, tables.delete(name, target, plan.deletes, key), {"op": "merge"})
        report[name] = {"op": "merge", **plan.counts}
    return report
