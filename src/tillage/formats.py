"""Turning what users hand us into Arrow tables, and Arrow tables into files.

Accepted inputs: Parquet, CSV, JSON Lines and Arrow IPC (file or stream) files,
pandas and Polars data frames, and Arrow tables, batches and readers. A file
that is not what its extension says, is empty or is truncated gets an
`UnreadableFileError` naming the file and the fix.

CSV is read so that a value reads back as Parquet would have given it: only
an empty, unquoted cell is null (``""`` quoted is the empty string), ISO-8601
times become timestamps with their zone, and a column gets a number type only
when every cell converts exactly (``007`` or a 20-digit number stays text).
Into an existing dataset, cells are parsed with the dataset's types; a cell
that does not convert, or would lose information (``007`` into an integer,
``1.5`` into an integer, digits a float cannot hold), is an error naming the
column, row and value, unless ``coerce`` asks for the conversion anyway.
Bytes that are not in the file's encoding are an error naming the column, the
line and the byte offset.

Every file is written to a temporary file beside its destination and renamed
into place, so a failed write leaves no file and never a partial one.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from tillage.errors import (
    CsvValueError,
    EncodingError,
    ExportError,
    InputError,
    UnreadableFileError,
)

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


def read_file(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    types: Mapping[str, pa.DataType] | None = None,
    coerce: bool = False,
) -> pa.Table:
    """Read one file into an Arrow table, by its extension.

    Args:
        encoding: the text encoding of a CSV file (default UTF-8).
        types: column types to parse a CSV file's cells as (the dataset's schema);
            other columns are inferred.
        coerce: convert CSV cells that do not fit their type exactly anyway (see
            `read_csv`).
    """
    p = Path(path)
    fmt = file_format(p)
    if encoding is not None and fmt != "csv":
        raise InputError(
            f"--encoding (encoding=) applies to CSV files only, and {str(p)!r} is {fmt}; "
            "leave it out for this file."
        )
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
            return read_csv(p, encoding=encoding or "utf-8", types=types, coerce=coerce)
        if fmt == "jsonl":
            return pajson.read_json(p)
        return _read_ipc(p)
    except InputError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as e:
        raise UnreadableFileError(str(p), f"it is not valid {fmt} ({_printable(e)})", fix) from e


def _printable(error: Exception, limit: int = 200) -> str:
    """A reader's error as one short line (it may quote the file's binary bytes)."""
    text = "".join(c if c.isprintable() else "?" for c in str(error))
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- CSV ---------------------------------------------------------------------

_CONVERT = {
    "null_values": [""],
    "strings_can_be_null": True,
    "quoted_strings_can_be_null": False,
}
_LEADING_ZERO = pa.array([f"{sign}0{d}" for sign in ("", "+", "-") for d in range(10)])
_MANY_DIGITS = 16  # float64 holds 15 significant digits exactly; check values with more
_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to ([^:]+): (.*)", re.S)
_BAD_VALUE = re.compile(r"'(.*)'")


def read_csv(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    types: Mapping[str, pa.DataType] | None = None,
    coerce: bool = False,
) -> pa.Table:
    """Read a CSV file without changing its values (see the module docstring).

    Args:
        path: the file.
        encoding: its text encoding, any Python codec name (e.g. ``"latin-1"``).
        types: types for some columns (the dataset's); the rest are inferred.
        coerce: convert cells that do not fit ``types`` exactly anyway: ``007`` to 7,
            ``1.5`` to 1 in an integer column, extra digits rounded; cells that do
            not convert at all become null.

    Raises:
        EncodingError: bytes that are not ``encoding``.
        CsvValueError: a cell that does not convert exactly (without ``coerce``).
    """
    p = Path(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}; give a Python codec name such as utf-8, "
            "latin-1 or cp1252."
        ) from None
    given = {n: t for n, t in (types or {}).items() if _parses_from_csv(t)}
    typed = dict(given)
    coerced: list[str] = []
    while True:
        try:
            table = _parse(p, encoding, typed)
            break
        except UnicodeDecodeError:
            raise _encoding_error(p, encoding) from None
        except pa.ArrowInvalid as e:
            if "invalid UTF8" in str(e):
                raise _encoding_error(p, encoding) from None
            bad = _conversion_failure(p, encoding, e)
            if bad is None:
                raise
            column, value, type_ = bad
            if not coerce or column in coerced:
                why = " as it has no zone offset (add Z or +HH:MM)" if "zone" in str(e) else ""
                raise CsvValueError(
                    str(p),
                    column,
                    _row_of(p, encoding, column, value),
                    value,
                    type_,
                    f"does not convert to {type_}{why}",
                ) from None
            coerced.append(column)
            typed[column] = pa.string()
    if encoding.replace("_", "-").lower() in {"utf-8", "utf8"} and any(
        pa.types.is_binary(f.type) for f in table.schema
    ):
        raise _encoding_error(p, encoding)
    for name in coerced:
        i = table.column_names.index(name)
        table = table.set_column(i, name, _coerce_column(table.column(name), given[name]))
    return _keep_values(p, encoding, table, given, coerce)


def _parses_from_csv(t: pa.DataType) -> bool:
    return not (pa.types.is_nested(t) or pa.types.is_dictionary(t) or pa.types.is_null(t))


def _parse(p: Path, encoding: str, types: Mapping[str, pa.DataType]) -> pa.Table:
    return pacsv.read_csv(
        p,
        read_options=pacsv.ReadOptions(encoding=encoding),
        convert_options=pacsv.ConvertOptions(column_types=dict(types), **_CONVERT),
    )


def _header(p: Path, encoding: str) -> list[str]:
    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with open(p, encoding=enc, errors="replace", newline="") as f:
        return next(csv.reader(f), [])


def _text(p: Path, encoding: str, columns: Sequence[str]) -> pa.Table:
    """The cells of ``columns`` as they are written (null only where empty)."""
    return pacsv.read_csv(
        p,
        read_options=pacsv.ReadOptions(encoding=encoding),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            include_columns=list(columns),
            **_CONVERT,
        ),
    )


def _conversion_failure(
    p: Path, encoding: str, error: pa.ArrowInvalid
) -> tuple[str, str, str] | None:
    """(column, value, type) of a CSV conversion error, or None if it is another error."""
    m = _CONVERSION.match(str(error))
    if m is None:
        return None
    names = _header(p, encoding)
    index = int(m.group(1))
    column = names[index] if index < len(names) else f"#{index}"
    v = _BAD_VALUE.search(m.group(3))
    return column, v.group(1) if v else m.group(3), m.group(2)


def _row_of(p: Path, encoding: str, column: str, value: str) -> int:
    """The 1-based data row (header not counted) where ``column`` first holds ``value``."""
    cells = _text(p, encoding, [column]).column(0)
    return int(pc.index(cells, value).as_py()) + 1


def _encoding_error(p: Path, encoding: str) -> EncodingError:
    """Where the first undecodable byte is: byte offset, line and column."""
    data = p.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as e:
        offset = e.start
    else:  # pyarrow found invalid UTF-8 that Python accepts (e.g. surrogates)
        offset = 0
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    prefix = data[line_start:offset].decode(encoding, errors="replace")
    index = len(next(csv.reader([prefix]), [""])) - 1 if line > 1 else None
    names = _header(p, encoding)
    column = names[index] if index is not None and 0 <= index < len(names) else None
    return EncodingError(str(p), encoding, offset, line, column)


def _coerce_column(cells: pa.ChunkedArray, to: pa.DataType) -> pa.Array:
    """Text cells as ``to``, with loss where they do not fit and null where they cannot."""
    out: list[Any] = []
    for v in cells.to_pylist():
        out.append(None if v is None else _coerce_value(v, to))
    return pa.array(out, type=to)


def _coerce_value(text: str, to: pa.DataType) -> Any:
    try:
        return pa.array([text]).cast(to, safe=False)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if pa.types.is_integer(to):
        try:
            return pa.array([float(text)]).cast(to, safe=False)[0].as_py()
        except (ValueError, OverflowError, pa.ArrowInvalid):
            return None
    return None


def _keep_values(
    p: Path,
    encoding: str,
    table: pa.Table,
    given: Mapping[str, pa.DataType],
    coerce: bool,
) -> pa.Table:
    """Refuse (given types) or keep as text (inferred) numbers whose conversion lost digits.

    The CSV reader reads ``007`` as 7 and ``12345678901234567890`` as a rounded float;
    Parquet would have kept both as they are.
    """
    numeric = [
        f.name
        for f in table.schema
        if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
        and not (coerce and f.name in given)
    ]
    if not numeric:
        return table
    text = _text(p, encoding, numeric)
    for name in numeric:
        cells = text.column(name)
        typ = table.schema.field(name).type
        lossy = _leading_zeros(cells)
        problem = f"would lose its leading zeros as {typ}"
        row = _first_true(lossy)
        if row is None and pa.types.is_floating(typ):
            row = _first_lost_digits(cells)
            problem = f"has more digits than {typ} holds, so it would change"
        if row is None:
            continue
        if name in given:
            raise CsvValueError(str(p), name, row + 1, str(cells[row].as_py()), str(typ), problem)
        i = table.column_names.index(name)
        table = table.set_column(i, name, cells)
    return table


def _leading_zeros(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each cell starts with a zero and another digit (``007``, ``-01``)."""
    two = pc.is_in(pc.utf8_slice_codeunits(cells, 0, 2), value_set=_LEADING_ZERO)
    three = pc.is_in(pc.utf8_slice_codeunits(cells, 0, 3), value_set=_LEADING_ZERO)
    return pc.or_(two, three)


def _first_true(mask: pa.ChunkedArray) -> int | None:
    hits = pc.indices_nonzero(pc.fill_null(mask, False))
    return int(hits[0].as_py()) if len(hits) else None


def _first_lost_digits(cells: pa.ChunkedArray) -> int | None:
    """The first cell whose decimal value a float64 does not hold exactly enough to print."""
    many = pc.greater_equal(pc.utf8_length(cells), _MANY_DIGITS)
    for i in pc.indices_nonzero(pc.fill_null(many, False)).to_pylist():
        text = str(cells[i].as_py()).strip()
        try:
            exact = Decimal(text)
            if exact.is_finite() and exact != Decimal(repr(float(text))):
                return int(i)
        except (InvalidOperation, ValueError):
            continue
    return None


def _read_ipc(p: Path) -> pa.Table:
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic == b"ARROW1":
        with pa.memory_map(str(p)) as src:
            return ipc.open_file(src).read_all()
    with pa.memory_map(str(p)) as src:
        return ipc.open_stream(src).read_all()


def to_table(
    data: Any,
    *,
    encoding: str | None = None,
    types: Mapping[str, pa.DataType] | None = None,
    coerce: bool = False,
) -> pa.Table:
    """Convert any accepted in-memory object (or a path, or paths) to an Arrow table.

    ``encoding``, ``types`` and ``coerce`` apply to CSV files (see `read_csv`).
    """
    if encoding is not None and not _paths(data):
        raise InputError("encoding= applies to CSV files only; leave it out for in-memory data.")
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    paths = _paths(data)
    if paths:
        options: dict[str, Any] = {"encoding": encoding, "types": types, "coerce": coerce}
        if isinstance(data, str | os.PathLike):
            return read_file(data, **options)
        return concat([read_file(d, **options) for d in paths], [str(d) for d in paths])
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


def _paths(data: Any) -> list[str | os.PathLike[str]]:
    """``data`` as a list of paths, or [] if it is not a path or a sequence of paths."""
    if isinstance(data, str | os.PathLike):
        return [data]
    if isinstance(data, Sequence) and data and all(isinstance(d, str | os.PathLike) for d in data):
        return list(data)
    return []


def is_csv(data: Any) -> bool:
    """Whether ``data`` is a CSV file's path (or only such paths)."""
    paths = _paths(data)
    return bool(paths) and all(Path(d).suffix.lower() == ".csv" for d in paths)


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
    """Write ``table`` as Parquet, CSV, JSON Lines or Arrow, by the extension of ``path``.

    The file appears whole or not at all: it is written beside ``path`` under a
    temporary name and renamed over ``path`` only once complete.

    Raises:
        ExportError: the table cannot be written in that format, or the folder
            cannot be written; ``path`` is as it was.
    """
    fmt = file_format(path)
    dest = Path(path)
    if fmt == "csv":
        unwritable = [f"{f.name} ({f.type})" for f in table.schema if _not_csv(f.type)]
        if unwritable:
            raise ExportError(
                str(dest),
                f"CSV cannot hold column(s) {', '.join(unwritable)}",
                "Export to .parquet or .arrow, or leave those columns out with --columns.",
            )
    try:
        with _replacing(dest) as tmp:
            _write(table, tmp, fmt)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        raise ExportError(
            str(dest), f"{fmt} cannot hold this table ({_printable(e)})", "Export to .parquet."
        ) from e
    except OSError as e:
        raise ExportError(
            str(dest), e.strerror or str(e), "Check that the folder exists and is writable."
        ) from e


def _not_csv(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_nested(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
    )


@contextmanager
def _replacing(dest: Path) -> Iterator[Path]:
    """A temporary path beside ``dest``, renamed to ``dest`` if the block succeeds."""
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    # Made with os.open so the file gets the umask's permissions, as a plain write would.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "csv":
        pacsv.write_csv(table, path)
    elif fmt == "arrow":
        with ipc.new_file(str(path), table.schema) as w:
            w.write_table(table)
    else:
        import json

        from tillage.core.jsonable import jsonable

        with open(path, "w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(jsonable(row, time_sep=" "), allow_nan=False) + "\n")
