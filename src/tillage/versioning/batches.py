"""Checking a batch against its dataset before anything is written.

A batch must carry the dataset's columns with types that cast safely, and a
primary key with no nulls and no duplicates; appended keys must be new. Every
failure names the columns or keys at fault and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from tillage.errors import InputError, KeyViolationError, SchemaMismatchError
from tillage.store.tables import unstorable_columns

_NORMAL = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}


def key_columns(dataset: str, key: str | Sequence[str] | None) -> list[str] | None:
    """The primary key as a list of column names (None: not given); each named once."""
    if key is None:
        return None
    cols = [key] if isinstance(key, str) else list(key) if isinstance(key, Sequence) else None
    if cols is None or not all(isinstance(k, str) and k.strip() for k in cols):
        raise InputError(
            f"the key of {dataset!r} must be a column name or a list of them, not {key!r}."
        )
    dups = sorted({k for k in cols if cols.count(k) > 1})
    if dups:
        raise InputError(
            f"the key of {dataset!r} names column(s) {', '.join(dups)} more than once; "
            "name each key column once (--key a,b)."
        )
    return cols or None


def check_columns(dataset: str, table: pa.Table) -> None:
    """Column names and types that a dataset can hold (before `normalize`)."""
    names = table.column_names
    blank = [i for i, n in enumerate(names) if not n.strip()]
    if blank:
        shown = ", ".join(f"#{i + 1} ({names[i]!r})" for i in blank)
        raise InputError(
            f"the batch for {dataset!r} has column(s) with an empty name: {shown}; "
            "give every column a name (in a CSV file: the header row)."
        )
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(
            f"the batch for {dataset!r} has column(s) {', '.join(dups)} more than once; "
            "rename or drop the duplicates."
        )
    dotted = [n for n in names if "." in n]
    if dotted:
        raise InputError(
            f"the batch for {dataset!r} has column name(s) {', '.join(dotted)} with a '.', "
            "which datasets do not allow; rename them (e.g. replace '.' with '_')."
        )
    bad = unstorable_columns(table.schema)
    if bad:
        raise InputError(
            f"the batch for {dataset!r} has column(s) of a type datasets cannot store: "
            f"{', '.join(bad)}; cast them to a supported type (numbers, strings, "
            "timestamps, lists or structs) first."
        )


def normalize(table: pa.Table) -> pa.Table:
    """Plain string/binary types, no pandas metadata: one canonical form to store."""
    fields = [pa.field(f.name, _NORMAL.get(f.type, f.type), f.nullable) for f in table.schema]
    return table.cast(pa.schema(fields))


def check_key_columns(dataset: str, table: pa.Table, key: list[str]) -> None:
    missing = [k for k in key if k not in table.column_names]
    if missing:
        raise InputError(
            f"the key column(s) {', '.join(missing)} of {dataset!r} are not in the batch "
            f"(its columns: {', '.join(table.column_names)}). Name existing columns with --key."
        )
    nested = [
        f"{k} ({table.schema.field(k).type})" for k in key if table.schema.field(k).type.num_fields
    ]
    if nested:
        raise InputError(
            f"the key column(s) {', '.join(nested)} of {dataset!r} are lists, structs or maps; "
            "a primary key needs plain values (numbers, strings, dates). Choose other --key "
            "columns."
        )


def check_keys(dataset: str, table: pa.Table, key: list[str]) -> None:
    """No null and no duplicate keys inside the batch."""
    check_key_columns(dataset, table, key)
    for k in key:
        col = table.column(k)
        if col.null_count:
            rows = pc.indices_nonzero(pc.is_null(col)).to_pylist()[:5]
            raise KeyViolationError(
                dataset, key, f"null values in column {k}", [f"row {r}" for r in rows]
            )
    keys = table.select(key)
    counts = keys.group_by(key).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dup.num_rows:
        examples = dup.select(key).slice(0, 5).to_pylist()
        shown = [e[key[0]] if len(key) == 1 else e for e in examples]
        raise KeyViolationError(dataset, key, f"{dup.num_rows} duplicate key(s)", shown)


def check_new_keys(dataset: str, batch: pa.Table, existing: pa.Table, key: list[str]) -> None:
    """Appended keys must not exist yet (upsert is the mode for that)."""
    if not existing.num_rows:
        return
    if len(key) == 1:  # a set lookup: much cheaper than a join for one column
        hit = pc.is_in(batch.column(key[0]), value_set=existing.column(key[0]).combine_chunks())
        clash = batch.select(key).filter(hit)
    else:
        clash = batch.select(key).join(existing.select(key), keys=key, join_type="inner")
    if clash.num_rows:
        examples = clash.slice(0, 5).to_pylist()
        shown = [e[key[0]] if len(key) == 1 else e for e in examples]
        raise KeyViolationError(
            dataset,
            key,
            f"{clash.num_rows} key(s) that already exist",
            shown,
            fix="Use --mode upsert (mode='upsert') to update those rows, or drop them.",
        )


def conform(
    dataset: str, batch: pa.Table, schema: pa.Schema, *, evolve: bool, only: list[str] | None = None
) -> tuple[pa.Table, list[pa.Field]]:
    """Cast ``batch`` to the dataset's ``schema``.

    Returns the conformed batch (columns in dataset order, new ones last) and the
    new fields to add to the dataset (only when ``evolve``). ``only`` restricts
    the check to some columns (a delete needs only the key).
    """
    want = [f for f in schema if only is None or f.name in only]
    names = set(batch.column_names)
    missing = [f.name for f in want if f.name not in names]
    added = [n for n in batch.column_names if n not in schema.names] if only is None else []
    retyped: list[tuple[str, str, str]] = []
    cast_cols = []
    for f in want:
        if f.name not in names:
            continue
        col = batch.column(f.name)
        if col.type == f.type:
            cast_cols.append(col)
            continue
        try:
            cast = col.cast(f.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            retyped.append((f.name, str(f.type), str(col.type)))
            continue
        _check_text_to_integer(dataset, f.name, col, cast)
        cast_cols.append(cast)
    if missing or retyped or (added and not evolve):
        raise SchemaMismatchError(dataset, added=added, missing=missing, retyped=retyped)
    new_fields = [batch.schema.field(n) for n in added]
    out = pa.Table.from_arrays(
        cast_cols + [batch.column(n) for n in added],
        schema=pa.schema([pa.field(f.name, f.type) for f in want] + new_fields),
    )
    return out, new_fields


def _check_text_to_integer(
    dataset: str, column: str, text: pa.ChunkedArray, cast: pa.ChunkedArray
) -> None:
    """Text read as whole numbers must say exactly that number: ``"007"`` or ``"0x7"``
    would be stored as 7, and the value the file held would be lost."""
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return
    if not pa.types.is_integer(cast.type):
        return
    same = pc.equal(cast.cast(text.type), text)
    changed = pc.invert(pc.fill_null(same, True))
    if not pc.any(changed).as_py():
        return
    row = pc.index(changed, True).as_py()
    raise InputError(
        f"column {column!r} of the batch for {dataset!r} holds text that changes when "
        f"read as {cast.type}: {text[row].as_py()!r} (row {row}) would be stored as "
        f"{cast[row].as_py()}. Write the column as numbers in the file, or fix such values."
    )
