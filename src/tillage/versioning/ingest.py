"""The ingest sequence: one batch into one dataset, as exactly one commit.

`prepare` turns the caller's data into a normalized Arrow table (file formats,
CSV types, column and key checks); `write_batch` stages it under the write lock
(create, append, upsert, overwrite or delete, with key checks against the
stored data) and commits. What the quality layer adds (checking the batch,
recording its findings with the commit) comes in as two callbacks, so this
service knows nothing of schemas or alerts.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import Connection

from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.names import check_dataset_name
from tillage.errors import InputError, NoSuchDatasetError
from tillage.formats import is_csv, to_table
from tillage.store.catalog import Catalog
from tillage.store.tables import Tables
from tillage.versioning import batches
from tillage.versioning import history as graph
from tillage.versioning.writer import Transaction, Writer

Mode = Literal["append", "upsert", "overwrite", "delete"]
MODES: tuple[str, ...] = ("append", "upsert", "overwrite", "delete")

#: Checks a batch before it is written (it may raise to stop the write), given the
#: open transaction and the dataset's key; returns entries for the commit's record
#: of the change (e.g. the schema file checked against), or None.
Validate = Callable[[pa.Table, Transaction, list[str]], Mapping[str, Any] | None]
#: Called inside the commit's catalog transaction with the new commit and the
#: dataset's version before it (None: the write created it on this branch).
Record = Callable[[Connection, Commit, DatasetPin | None], None]


def prepare(
    dataset: str,
    data: Any,
    *,
    key: str | Sequence[str] | None,
    mode: str,
    csv_types: Callable[[], dict[str, pa.DataType] | None],
    encoding: str | None = None,
    coerce: bool = False,
) -> tuple[list[str] | None, pa.Table]:
    """Check the names and read ``data`` into a normalized table.

    Args:
        dataset: the dataset's name.
        data: an Arrow table, a pandas or Polars frame, or file path(s).
        key: the primary-key column(s) the caller gave.
        mode: the write mode (checked here).
        csv_types: the column types to parse CSV cells as (called only for CSV).
        encoding: the CSV files' text encoding.
        coerce: convert CSV cells that do not convert exactly.

    Returns:
        The key columns (None: not given) and the table.

    Raises:
        InvalidNameError: a bad dataset name.
        InputError: a bad mode, bad columns, or no rows.
    """
    check_dataset_name(dataset)
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}.")
    key_cols = batches.key_columns(dataset, key)
    types = csv_types() if is_csv(data) else None
    raw = to_table(data, encoding=encoding, types=types, coerce=coerce)
    batches.check_columns(dataset, raw)
    table = batches.normalize(raw)
    if table.num_rows == 0:
        raise InputError(
            f"the batch for {dataset!r} has no rows; nothing to {mode}. Check the input."
        )
    return key_cols, table


def write_batch(
    catalog: Catalog,
    writer: Writer,
    dataset: str,
    table: pa.Table,
    *,
    branch: str,
    key: list[str] | None,
    mode: str,
    evolve: bool,
    message: str | None,
    code: CodeVersion | None,
    validate: Validate,
    record: Record,
) -> Commit:
    """Write ``table`` into ``dataset`` on ``branch`` and make exactly one commit.

    Runs under the write lock; the commit lands whole or not at all (see
    `tillage.versioning.writer`).

    Args:
        catalog: the repository's catalog.
        writer: its writer.
        dataset: the dataset's name.
        table: the batch, as `prepare` returned it.
        branch: the branch to commit on (checked to exist).
        key: the key columns the caller gave (None: the dataset's).
        mode: "append", "upsert", "overwrite" or "delete".
        evolve: allow new columns.
        message: the commit message (None: one describing the write).
        code: the caller's code version.
        validate: checks the batch before it is written (not for deletes).
        record: records more with the commit, in its catalog transaction.

    Returns:
        The commit.

    Raises:
        InputError: a key other than the dataset's, a missing key for a new
            dataset, or rows that break the key.
        NoSuchDatasetError: a delete from a dataset the branch does not have.
        ConcurrentUpdateError: the branch moved under us.
    """
    tables = writer.tables
    with writer.locked():
        tx = writer.begin(branch)
        known_key = catalog.dataset_key(dataset)
        if known_key is not None and key is not None and key != known_key:
            raise InputError(
                f"dataset {dataset!r} has primary key ({', '.join(known_key)}), not "
                f"({', '.join(key)}); leave --key out or give the same columns."
            )
        parent = tx.pins.get(dataset)
        extra: dict[str, Any] = {}

        def check(batch: pa.Table) -> None:
            if mode != "delete":
                extra.update(validate(batch, tx, known_key or key or []) or {})

        if dataset not in tx.pins:
            _create(catalog, tables, tx, dataset, table, key or known_key, mode, check)
        else:
            _write(tables, tx, dataset, table, known_key or [], mode, evolve, check)
        change = tx.changes[dataset]
        change.update(extra)
        default = (
            f"{change.get('op', mode)} {dataset}: +{change.get('inserted', 0)} "
            f"~{change.get('updated', 0)} -{change.get('deleted', 0)} rows"
        )

        def also(conn: Connection, commit: Commit) -> None:
            record(conn, commit, parent)

        return writer.commit(tx, message or default, code=code, also=also)


def _create(
    catalog: Catalog,
    tables: Tables,
    tx: Transaction,
    dataset: str,
    table: pa.Table,
    key: list[str] | None,
    mode: str,
    validate: Callable[[pa.Table], None],
) -> None:
    if mode == "delete":
        raise NoSuchDatasetError(dataset, tx.branch, list(tx.pins))
    if not key:
        raise InputError(
            f"dataset {dataset!r} is new: give its primary key, e.g. "
            f"--key {table.column_names[0]} (key='col' in Python)."
        )
    batches.check_keys(dataset, table, key)
    validate(table)
    if catalog.dataset_key(dataset) is not None:
        # Known elsewhere (another branch): start this branch's own history of it.
        some = next(iter(_any_pins(catalog, dataset)))
        target = tables.write_target(dataset, some, None, tx.branch)
        result = tables.overwrite(dataset, target, table, deleted=0, key=key)
        tx.record(dataset, result, {"op": "create", "key": key})
        return
    if tables.exists(dataset):
        # A create that crashed before its commit landed; nothing pins it.
        shutil.rmtree(tables.uri(dataset))
    tables.root.mkdir(parents=True, exist_ok=True)
    tx.created(dataset, key, tables.create(dataset, table, key))


def _any_pins(catalog: Catalog, dataset: str) -> list[DatasetPin]:
    return [pin] if (pin := graph.first_pin(catalog, dataset)) else []


def _write(
    tables: Tables,
    tx: Transaction,
    dataset: str,
    table: pa.Table,
    key: list[str],
    mode: str,
    evolve: bool,
    validate: Callable[[pa.Table], None],
) -> None:
    pin = tx.pins[dataset]
    schema = tables.schema(dataset, pin)
    if mode == "delete":
        batches.check_key_columns(dataset, table, key)
        conformed, _ = batches.conform(dataset, table, schema, evolve=False, only=key)
        target = tx.write_target(dataset)
        tx.record(dataset, tables.delete(dataset, target, conformed, key), {"op": mode})
        return
    batches.check_keys(dataset, table, key)
    if mode == "overwrite" and evolve:
        validate(table)
        target = tx.write_target(dataset)
        result = tables.overwrite(dataset, target, table, pin.num_rows, key)
        tx.record(dataset, result, {"op": mode})
        return
    conformed, new_fields = batches.conform(dataset, table, schema, evolve=evolve)
    if mode == "append":
        existing = tables.existing_keys(dataset, pin, conformed, key)
        batches.check_new_keys(dataset, conformed, existing, key)
    validate(conformed)
    target = tx.write_target(dataset)
    if new_fields:
        target.handle.add_columns(new_fields)
        target = tables.refresh(dataset, target)
    if mode == "append":
        result = tables.append(dataset, target, conformed, key)
    elif mode == "upsert":
        result = tables.upsert(dataset, target, conformed, key)
    else:
        result = tables.overwrite(dataset, target, conformed, pin.num_rows, key)
    change: dict[str, Any] = {"op": mode}
    if new_fields:
        change["added_columns"] = [f.name for f in new_fields]
    tx.record(dataset, result, change)
