"""Turning what users hand us into Arrow tables, and Arrow tables into files.

Accepted inputs: Parquet, CSV, JSON Lines and Arrow IPC (file or stream) files,
pandas and Polars data frames, and Arrow tables, batches and readers. A file
that is not what its extension says, is empty or is truncated gets an
`UnreadableFileError` naming the file and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from tillage.errors import InputError, UnreadableFileError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".feather": "arrow",
}
_FIX = "Check the file, or give it the extension of its real format ({})."


def file_format(path: str | os.PathLike[str]) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise UnreadableFileError(
            str(path),
            f"unknown extension {ext or '(none)'!r}",
            "Use one of: " + ", ".join(sorted(FORMATS)) + ".",
        )
    return FORMATS[ext]


def read_file(path: str | os.PathLike[str]) -> pa.Table:
    """Read one file into an Arrow table, by its extension."""
    p = Path(path)
    fmt = file_format(p)
    fix = _FIX.format(", ".join(sorted(FORMATS)))
    if not p.is_file():
        raise UnreadableFileError(str(p), "no such file", "Check the path.")
    if p.stat().st_size == 0:
        raise UnreadableFileError(str(p), "the file is empty", "Give a file with rows in it.")
    try:
        if fmt == "parquet":
            with open(p, "rb") as f:
                head = f.read(4)
                f.seek(-4, os.SEEK_END)
                tail = f.read(4)
            if head != b"PAR1":
                raise UnreadableFileError(str(p), "it is not a Parquet file", fix)
            if tail != b"PAR1":
                raise UnreadableFileError(
                    str(p), "the Parquet file is truncated (no footer)", "Write the file again."
                )
            return pq.read_table(p)
        if fmt == "csv":
            return pacsv.read_csv(p)
        if fmt == "jsonl":
            return pajson.read_json(p)
        return _read_ipc(p)
    except UnreadableFileError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        raise UnreadableFileError(str(p), f"it is not valid {fmt} ({_printable(e)})", fix) from e


def _printable(error: Exception, limit: int = 200) -> str:
    """A reader's error as one short line (it may quote the file's binary bytes)."""
    text = "".join(c if c.isprintable() else "?" for c in str(error))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_ipc(p: Path) -> pa.Table:
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic == b"ARROW1":
        with pa.memory_map(str(p)) as src:
            return ipc.open_file(src).read_all()
    with pa.memory_map(str(p)) as src:
        return ipc.open_stream(src).read_all()


def to_table(data: Any) -> pa.Table:
    """Convert any accepted in-memory object (or a path, or paths) to an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, str | os.PathLike):
        return read_file(data)
    if isinstance(data, Sequence) and data and all(isinstance(d, str | os.PathLike) for d in data):
        return concat([read_file(d) for d in data], [str(d) for d in data])
    module = type(data).__module__.split(".")[0]
    frame = type(data).__name__ == "DataFrame"  # not a Series, nor a lazy frame
    if module == "pandas" and frame:
        dups = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        if dups:
            raise InputError(
                f"the data frame has column(s) {', '.join(dups)} more than once; "
                "rename or drop the duplicates."
            )
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise InputError(
                f"cannot convert the data frame to Arrow: {e}. Give each column values of "
                "one type (e.g. df[col].astype(str))."
            ) from e
    if module == "polars" and frame:
        return data.to_arrow()
    raise InputError(
        f"cannot ingest a {type(data).__name__}: give an Arrow table, a pandas or Polars "
        "data frame, or the path of a Parquet, CSV, JSON Lines or Arrow file."
    )


def concat(tables: list[pa.Table], names: list[str]) -> pa.Table:
    """Concatenate the tables of several files, naming the first that does not fit."""
    if not tables:
        raise InputError("no input given; name at least one file.")
    first = tables[0]
    for t, name in zip(tables[1:], names[1:], strict=True):
        if set(t.column_names) != set(first.column_names):
            raise UnreadableFileError(
                name,
                f"its columns {t.column_names} differ from {names[0]}'s {first.column_names}",
                "Ingest files with the same columns together.",
            )
    try:
        return pa.concat_tables(
            [t.select(first.column_names) for t in tables], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise InputError(f"the files' column types do not agree: {e}") from e


def write_file(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write ``table`` as Parquet or CSV, by the extension of ``path``."""
    fmt = file_format(path)
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "arrow":
        with ipc.new_file(str(path), table.schema) as w:
            w.write_table(table)
    else:
        with open(path, "w", encoding="utf-8") as f:
            import json

            for row in table.to_pylist():
                f.write(json.dumps(row, default=str) + "\n")
