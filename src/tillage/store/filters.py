"""Row filters (``where=``, ``--where``): parsed whole, then handed to Lance so nothing is dropped.

Lance parses a filter with DataFusion's SQL parser, which stops at the end of
the first complete expression and silently ignores the rest:
``carrier = 'AA'; dep_delay > 60`` reads as ``carrier = 'AA'``, and
``1=1; DROP TABLE flights`` as ``1=1``. So a filter is first parsed by DuckDB
as the WHERE clause of ``SELECT * FROM t WHERE <filter>``; the statement must
be exactly one, and equal to ``SELECT * FROM t WHERE TRUE`` but for its WHERE
clause (no ORDER BY, LIMIT, UNION, GROUP BY...). Lance then gets the filter in
parentheses: its parser must read up to the closing one, so a part it cannot
read is an error, never dropped.

The two dialects read a few things differently; those are refused rather than
guessed at. Double quotes make an identifier for DuckDB but a string for Lance
(``"carrier" = 'AA'`` would match nothing), so column names are quoted with
backticks, which both read as identifiers. Comments, ``;``, and strings that are
not in single quotes (``E'..'``, ``$$..$$``) are refused too.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

from tillage.errors import InvalidFilterError

_PREFIX = "SELECT * FROM t WHERE "
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Where a Lance error names the Rust source line: noise to a user.
_RUST_LOCATION = re.compile(r",?\s*/\S+\.rs:\d+:\d+")


def lance_filter(where: str, columns: Sequence[str]) -> str:
    """Check ``where`` against a table with ``columns``; return the text to give Lance.

    Raises:
        InvalidFilterError: the filter is empty, not exactly one condition, uses
            quoting the two parsers read differently, or names an unknown column.
    """
    if not isinstance(where, str):
        raise InvalidFilterError(repr(where), f"a filter is text, not a {type(where).__name__}")
    if not where.strip():
        raise InvalidFilterError(where, "it is empty (leave the filter out to read every row)")
    _check_tokens(where)
    condition = _where_clause(where, columns)
    for node in _nodes(condition):
        if node.get("class") == "SUBQUERY":
            raise InvalidFilterError(where, "it holds a subquery, which a row filter cannot run")
        if node.get("class") == "PARAMETER":
            raise InvalidFilterError(where, "it holds a parameter ($1, ?); write the value in")
    known = {c.lower() for c in columns}
    unknown = sorted(
        {
            names[0]
            for node in _nodes(condition)
            if node.get("class") == "COLUMN_REF"
            and (names := node.get("column_names") or [""])[0].lower() not in known
        }
    )
    if unknown:
        raise InvalidFilterError(
            where,
            f"no column(s) named {', '.join(map(repr, unknown))} (columns: {', '.join(columns)})",
        )
    return f"({where})"


def lance_problem(error: BaseException) -> str:
    """Lance's complaint about a filter, without the Rust source locations."""
    return _RUST_LOCATION.sub("", str(error)).strip()


def _check_tokens(where: str) -> None:
    import duckdb

    for position, kind in duckdb.tokenize(where):
        text = where[position:]
        if kind == duckdb.token_type.comment:
            raise InvalidFilterError(where, "it holds a comment; remove it")
        if kind == duckdb.token_type.operator and text.startswith(";"):
            raise InvalidFilterError(
                where, "it holds a ';', which ends a statement; join conditions with AND or OR"
            )
        if kind == duckdb.token_type.identifier and text.startswith('"'):
            raise InvalidFilterError(
                where,
                "it holds double quotes, which mean a string to the table's reader and a "
                "column to SQL; quote column names with backticks and strings with single quotes",
            )
        if kind == duckdb.token_type.string_const and not text.startswith("'"):
            raise InvalidFilterError(where, "it holds a string that is not in single quotes")


@functools.cache
def _parser(pid: int) -> Any:
    """One in-memory DuckDB connection per process (not shared across a fork), for its
    parser only: connecting costs ~50 ms."""
    import duckdb

    return duckdb.connect()


def _serialize(sql: str) -> dict[str, Any]:
    # A cursor per call: a connection must not be used by two threads at once.
    with _parser(os.getpid()).cursor() as cursor:
        row = cursor.execute("SELECT json_serialize_sql($1::VARCHAR)", [sql]).fetchone()
    assert row is not None
    doc: dict[str, Any] = json.loads(row[0])
    return doc


@functools.cache
def _canonical() -> dict[str, Any]:
    """The statement every filter must equal but for its WHERE clause."""
    return _without_where(_serialize(_PREFIX + "TRUE")["statements"][0])


def _without_where(statement: dict[str, Any]) -> dict[str, Any]:
    node = dict(statement.get("node") or {})
    node.pop("where_clause", None)
    return {**statement, "node": node}


def _where_clause(where: str, columns: Sequence[str]) -> dict[str, Any]:
    """DuckDB's syntax tree of the filter, if it is the whole WHERE clause and nothing else."""
    doc = _serialize(_PREFIX + where)
    if doc.get("error"):
        message = str(doc.get("error_message") or "it does not parse")
        # A likely cause worth naming: a column name that needs quoting, written bare.
        bare = [
            c
            for c in columns
            if not _PLAIN_NAME.fullmatch(c) and c in where and f"`{c}`" not in where
        ]
        hint = "".join(f"; write column {c!r} as `{c}`" for c in bare)
        raise InvalidFilterError(where, f"it is not one SQL condition ({message}){hint}")
    statements = doc.get("statements") or []
    if len(statements) != 1 or _without_where(statements[0]) != _canonical():
        raise InvalidFilterError(
            where,
            "it holds more than a condition (ORDER BY, LIMIT, GROUP BY, UNION...), "
            "which a row filter cannot have",
        )
    condition: dict[str, Any] = statements[0]["node"]["where_clause"]
    return condition


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every expression node of a DuckDB syntax tree."""
    if isinstance(tree, dict):
        if "class" in tree:
            yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)
