"""The reviewable YAML schema of a dataset: the first monitor of every batch.

A schema states, per column, what a batch must look like: its Arrow type, how
many values may be missing, a typed range, a domain of allowed values, string
lengths, a role and whether drift comparison should look at it. It is inferred
from a `Profile`, written as YAML for people to review and edit, and checked
against every batch::

    schema = infer(profile, dataset="flights", key=["rownames"])
    schema.save("flights.schema.yaml")                  # atomic; review it, edit it
    schema = Schema.load("flights.schema.yaml")         # SchemaFileError names file, column, fix
    findings = check(batch, schema, reference="flights.schema.yaml")
    schema = widen(schema, finding)                     # what `tillage alerts accept` does

Every rule has a severity, ``block`` (stops an ingest) or ``warn`` (lands and
opens an alert). Defaults: a missing column, a type change and duplicate or
null keys block; missing ratios, ranges, domains, lengths and unexpected
columns warn. The file overrides them per column (``severity: {range: block}``,
or ``severity: block`` for all of the column's rules) or for the whole dataset
(a top-level ``severity`` mapping).

**Inference** (`infer`), from a profile of some rows:

- roles, from the column's kind (`tillage.core.kinds.column_kind`): primary-key
  columns are ``key``; identifiers (int and string columns with at least
  ``ID_MIN_VALUES`` values, near-unique, HyperLogLog distinct ≥ ``ID_UNIQUE_RATIO`` of
  the values; or hundreds of values, none common, and named like an identifier,
  as flight and tail numbers are) are ``id``; times (dates, timestamps, strings
  holding ISO dates or timestamps such as ``2013-01-01T05:00:00Z``, and int
  columns named like a date part, year, month, day, hour, minute, second, alone
  or as the last word: ``dep_hour``, whose values fit that part) are ``time``;
  the rest ``feature``. Only features are compared for drift (ids and times
  move by nature), and only features get domains and learned ranges.
- ranges, for numeric features only: the observed extremes widened on each side
  by ``margin`` of the span or by the tail's reach, whichever is wider: an
  exponential tail fitted to the `TAIL_SHARE` of values at that end says how
  far a batch as large as the profiled rows reaches with probability
  `TAIL_MISS` (`_tail_pads`; the column's comment in the file gives both
  reaches). Delays have long tails (a week of January reaches 853 minutes, the
  rest of the month 1,301), so their bounds sit far out; a column whose top
  values repeat (distances: Honolulu) gets the span margin alone. Rounded
  outward to 1% of the span, never beyond the type's bounds. The sketch's
  quantiles are randomised, so two inferences from two profiles of the same
  rows may differ by a hair; one stored profile always gives the same file.
  **Non-negative columns stay non-negative**: when
  every observed value is ≥ 0 the lower bound is clamped at 0. The margin
  crosses zero only when the data already lies within ``margin`` of the span
  from it, which is what a natural floor looks like (counts, distances,
  durations, times of day); a negative value there is a sign error worth a
  warning, and `widen` accepts it if zero was not a floor after all.
  Time columns get no learned range (a week's dates would flag every later
  week); date parts get their natural bounds (month 1-12, ...). Keys and ids
  get none (they grow).
- domains, for categorical features only: strings, bools and ints whose
  profile counted every distinct value exactly, at most `DOMAIN_MAX_DISTINCT`
  of them and at most `DOMAIN_MAX_RATIO` of the values (each value seen about
  20 times on average), and whose Good-Turing unseen share (values seen once
  over all values: how often the next row brings a value not seen yet) is at
  most `DOMAIN_MAX_UNSEEN`. An int column with a domain gets no range.
- missing values: ``max_missing`` = the observed share plus slack,
  ``max(2 × observed, observed + 0.01)``, capped at 1. Key columns are not
  nullable. Missing means null, or NaN in float columns.
- string lengths (in characters): the observed extremes widened like ranges.

**The content hash** (`Schema.content_hash`) is the SHA-256 of the schema's
normal form (`Schema.to_dict`): canonical type strings, typed bounds in ISO
form, sorted domains, every rule's effective severity, columns sorted by name,
JSON with sorted keys. Comments, layout, key order, column order, ``5`` versus
``5.0`` in a float column and spelling a default out or leaving it implied do not
change it; anything that changes what a check does changes it. Column order is
presentation (it orders findings), not content.

**Checking** (`check`) gives one `Finding` per broken rule (kinds
``column_missing``, ``type``, ``unique``, ``missing``, ``range``, ``domain``,
``length``, ``column_unexpected``), block first, then in column order. A
``warn`` range, domain or length finding about at most `FEW_ROWS` rows that are
at most `FEW_SHARE` of the batch is ``info`` instead (``details.few_rows``): in a
large batch a few stray values are what sampling brings, and an alert for each
would teach people to turn monitoring off; the same rows in a small batch warn. Types
compare without dictionary encoding and offset widths (string, large_string and
string_view alike); a column of the Arrow null type is all missing, not retyped;
after a type change within a kind (int32 for int64) the values are still checked,
across kinds (string for int64) they are not. Everything is computed with
vectorised Arrow kernels, one task per column on a small thread pool (Arrow
releases the GIL): a clean column costs a null count, a min/max pass and, for a
domain, a set lookup; violating rows are counted only when the extremes show
some; a strictly increasing key is unique without hashing. On 3.37M flights this
is faster than one hand-written DuckDB aggregate query counting the same
violations over the same Arrow table (``benchmarks/bench_validate.py``).

**Widening** (`widen`) is what accepting a finding does: the smallest change to
the schema after which the same batch no longer gives it. `edit_file` writes
the change into the user's file in place, keeping their comments and layout.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import hashlib
import io
import json
import math
import os
import re
import tempfile
import textwrap
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from tillage.core.findings import Finding, Severity
from tillage.core.jsonable import jsonable
from tillage.core.kinds import (
    DATE_PARTS,
    FEW_VALUES,
    FEW_VALUES_RATIO,
    ColumnKind,
    date_part_of,
)
from tillage.errors import InputError, SchemaFileError
from tillage.quality.drift import (
    FEW_ROWS,
    sketch_rank_error,
    unseen_share,
)
from tillage.quality.profile import FREQUENT_CAPACITY, ColumnProfile, Profile

RuleSeverity = Literal["block", "warn"]
Role = Literal["key", "id", "time", "feature"]

#: Version of the file format, written as ``tillage_schema`` at the top of the file.
FORMAT_VERSION = 1
ROLES: tuple[str, ...] = ("key", "id", "time", "feature")
RULE_SEVERITIES: tuple[str, ...] = ("block", "warn")
#: Every rule, in the order findings about one column are listed.
RULES: tuple[str, ...] = (
    "column_missing",
    "type",
    "unique",
    "missing",
    "range",
    "domain",
    "length",
    "column_unexpected",
)
#: Rules a column may override the severity of.
COLUMN_RULES: tuple[str, ...] = ("column_missing", "type", "missing", "range", "domain", "length")
DEFAULT_SEVERITY: Mapping[str, RuleSeverity] = {
    "column_missing": "block",
    "type": "block",
    "unique": "block",
    "missing": "warn",
    "range": "warn",
    "domain": "warn",
    "length": "warn",
    "column_unexpected": "warn",
}

#: Inference: categorical columns have at most this many distinct values, and at most
#: this share of distinct values among their values (`tillage.core.kinds`' few values).
DOMAIN_MAX_DISTINCT = FEW_VALUES
DOMAIN_MAX_RATIO = FEW_VALUES_RATIO
#: Inference, ranges: the top (and bottom) share of values whose spacing estimates how far
#: the tail reaches beyond the observed extreme ...
TAIL_SHARE = 0.01
#: ... and the chance that a batch as large as the profiled rows has a value beyond the
#: bound, under an exponential tail fitted there (the bound is ln(1/TAIL_MISS) tail scales
#: past the extreme). Both were chosen on random half-splits of the 2013 flights of other
#: months than June (benchmarks/bench_alerts.py), June being the month the target is met on.
TAIL_MISS = 0.01
#: Inference, domains: a column's values are closed to new ones only when the Good-Turing
#: estimate of the share of rows holding a value not seen yet (values seen once / values)
#: is at most this (chosen like TAIL_SHARE).
DOMAIN_MAX_UNSEEN = 0.001
#: Checking: a range, domain or length rule broken by at most FEW_ROWS (drift.py) rows
#: that are at most FEW_SHARE of the batch is reported as ``info`` rather than ``warn``:
#: in a large batch that many stray values are what sampling brings (chosen like TAIL_SHARE).
FEW_SHARE = 0.001
#: New values a domain finding's details carry at most (for `widen`).
DOMAIN_DETAIL_LIMIT = 1000
#: Values and examples shown in a finding's message at most.
SHOWN = 5
#: Below this many cells a batch is checked on the calling thread alone.
PARALLEL_MIN_CELLS = 200_000

_TOP_KEYS = ("tillage_schema", "dataset", "primary_key", "unique", "severity", "columns")
_COLUMN_KEYS = (
    "type",
    "nullable",
    "max_missing",
    "min",
    "max",
    "domain",
    "min_length",
    "max_length",
    "role",
    "drift",
    "severity",
)
_RANGE_KINDS = frozenset({"int", "float", "decimal", "date", "timestamp", "time", "duration"})
_DOMAIN_KINDS = frozenset({"int", "string", "bool"})
_LENGTH_KINDS = frozenset({"string"})
_TYPE_EXAMPLES = "int64, double, string, bool, date32[day], timestamp[us, tz=UTC]"


class _Bad(Exception):
    """A problem in one value of a schema file; becomes a `SchemaFileError` with its place."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


# -- the schema ------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSchema:
    """The rules for one column.

    Attributes:
        name: the column's name.
        type: its Arrow type as a string (``int64``, ``timestamp[us, tz=UTC]``).
        nullable: whether values may be missing at all.
        max_missing: the share of rows (0..1) that may be missing; None: any share.
        min / max: allowed range, typed (int, float, date, datetime, time, timedelta).
        domain: allowed values (strings, bools or ints), sorted; None: any value.
        min_length / max_length: allowed string lengths in characters.
        role: ``key``, ``id``, ``time`` or ``feature``.
        drift: whether drift comparison looks at the column.
        severity: per-rule severity overrides, sorted by rule.
        note: a comment written above the column in the file (not content).
    """

    name: str
    type: str
    nullable: bool = True
    max_missing: float | None = None
    min: Any = None
    max: Any = None
    domain: tuple[Any, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    role: Role = "feature"
    drift: bool = True
    severity: tuple[tuple[str, RuleSeverity], ...] = ()
    note: str = field(default="", compare=False)

    @property
    def arrow_type(self) -> pa.DataType:
        """The parsed type; `InputError` for a string that is not an Arrow type."""
        try:
            return parse_type(self.type)
        except ValueError as e:
            raise InputError(f"column {self.name!r} of the schema: {e}.") from None


@dataclass(frozen=True)
class Schema:
    """The schema of one dataset: its primary key and the rules for its columns.

    Attributes:
        dataset: the dataset's name.
        primary_key: the key columns (may be empty: no uniqueness check).
        columns: the columns' rules, in file order (which orders findings).
        unique: whether keys must be unique and not null.
        severity: dataset-wide severity overrides per rule, sorted by rule.
        origin: how the schema was made, written in the file's header (not content).
    """

    dataset: str
    primary_key: tuple[str, ...]
    columns: tuple[ColumnSchema, ...]
    unique: bool = True
    severity: tuple[tuple[str, RuleSeverity], ...] = ()
    origin: str = field(default="", compare=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise InputError(
            f"the schema of {self.dataset!r} has no column {name!r} "
            f"(columns: {', '.join(self.names) or 'none'})."
        )

    def severity_for(self, rule: str, column: str | None = None) -> RuleSeverity:
        """The effective severity of ``rule``: the column's override, the dataset's, the default."""
        if column is not None:
            for c in self.columns:
                if c.name == column:
                    own = dict(c.severity).get(rule)
                    if own is not None:
                        return own
        return dict(self.severity).get(rule, DEFAULT_SEVERITY[rule])

    def with_column(self, col: ColumnSchema) -> Schema:
        """This schema with ``col`` replacing the column of its name (or appended)."""
        if col.name in self.names:
            cols = tuple(col if c.name == col.name else c for c in self.columns)
        else:
            cols = (*self.columns, col)
        return replace(self, columns=cols)

    # -- normal form and hash --

    def to_dict(self) -> dict[str, Any]:
        """The normal form: what the schema means, JSON-ready (see the module doc)."""
        columns: dict[str, Any] = {}
        for c in self.columns:
            domain = None if c.domain is None else [_jsonable(v) for v in _sorted(c.domain)]
            columns[c.name] = {
                "type": str(parse_type(c.type)),
                "nullable": c.nullable,
                "max_missing": None if c.max_missing is None else float(c.max_missing),
                "min": _jsonable(_floatish(c.min, c.type)),
                "max": _jsonable(_floatish(c.max, c.type)),
                "domain": domain,
                "min_length": c.min_length,
                "max_length": c.max_length,
                "role": c.role,
                "drift": c.drift,
                "severity": {r: self.severity_for(r, c.name) for r in COLUMN_RULES},
            }
        return {
            "tillage_schema": FORMAT_VERSION,
            "dataset": self.dataset,
            "primary_key": list(self.primary_key),
            "unique": self.unique,
            "severity": {r: self.severity_for(r) for r in ("unique", "column_unexpected")},
            "columns": columns,
        }

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the normal form; comments and layout do not change it."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    # -- YAML --

    def to_yaml(self) -> str:
        """The reviewable file: a header saying how it was made and how to edit it,
        then one block per column with its keys in a fixed order."""
        out = [
            f"# tillage schema of dataset {self.dataset!r}: the first monitor of every batch.",
        ]
        if self.origin:
            out += [f"# {line}" for line in self.origin.splitlines()]
        out += [
            "# Review and edit it; `tillage alerts accept` widens it when a finding is fine.",
            "# Per column: type (Arrow); nullable, max_missing (share of rows, 0-1); min, max;",
            "# domain (allowed values); min_length, max_length (characters);",
            "# role (key | id | time | feature); drift (compare distributions: true | false);",
            "# severity: block | warn, or per rule {column_missing, type, missing, range, domain,",
            "# length}. Defaults: column_missing, type and unique block; the others warn.",
            "# Comments and layout are free: the content hash covers the rules only.",
            f"tillage_schema: {FORMAT_VERSION}",
            f"dataset: {_flow(self.dataset)}",
            f"primary_key: {_flow(list(self.primary_key))}",
            f"unique: {_flow(self.unique)}",
        ]
        if self.severity:
            out.append(f"severity: {_flow(dict(self.severity))}")
        out.append("columns:")
        for c in self.columns:
            out.append("")
            if c.note:
                for line in c.note.splitlines():
                    out += [f"  # {part}" for part in textwrap.wrap(line, 94)]
            out.append(f"  {_flow(c.name)}:")
            for key, value in _column_items(c):
                out.append(_wrapped(f"    {key}: ", value))
        return "\n".join(out) + "\n"

    @staticmethod
    def from_yaml(text: str, *, source: str) -> Schema:
        """Parse a schema file's text; `SchemaFileError` (naming ``source``) for any problem."""
        try:
            data = yaml.load(text, Loader=_Loader)  # a SafeLoader
        except _DuplicateKeyError as e:
            raise SchemaFileError(
                source,
                f"key {e.key!r} appears twice (line {e.line})",
                "YAML keeps only the last one; merge the two into one.",
            ) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise SchemaFileError(
                source,
                f"not valid YAML{where}: {problem}",
                "Fix the syntax there (indentation, a missing colon or quote).",
            ) from None
        return _parse_schema(data, source)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Schema:
        """Read a schema file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SchemaFileError(
                str(p), "no such file", "Check the path, or infer a schema from a profile."
            ) from None
        except UnicodeDecodeError:
            raise SchemaFileError(
                str(p), "not UTF-8 text", "A schema file is YAML text; save it as UTF-8."
            ) from None
        except OSError as e:
            raise SchemaFileError(
                str(p), f"cannot be read ({e.strerror})", "Check the path and permissions."
            ) from None
        return Schema.from_yaml(text, source=str(p))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write `to_yaml` to ``path`` atomically: a temporary file beside it, then a rename."""
        _write_atomic(Path(path), self.to_yaml())


def _write_atomic(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def edit_file(path: str | os.PathLike[str], before: Schema, after: Schema) -> None:
    """Change the schema file at ``path``, which holds ``before``, so that it holds ``after``.

    Only the keys whose rules differ are written, with a round-trip YAML editor
    (ruamel.yaml): the user's comments, blank lines, key order and quoting stay
    as they were. A new column goes at the end with a comment saying so. The
    result is read back and must mean ``after``; otherwise nothing is written
    and `SchemaFileError` says what to set by hand. Written atomically.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    p = Path(path)
    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 4096
    editor.indent(mapping=2, sequence=4, offset=2)
    text = p.read_text(encoding="utf-8")
    data = editor.load(text)
    columns = data.get("columns") if isinstance(data, CommentedMap) else None
    if not isinstance(columns, CommentedMap):
        raise SchemaFileError(str(p), "it has no columns mapping", "Restore the columns: block.")
    old = {c.name: dict(_column_items(c)) for c in before.columns}
    for col in after.columns:
        items = dict(_column_items(col))
        spec = columns.get(col.name)
        if col.name not in old or not isinstance(spec, CommentedMap):
            columns[col.name] = CommentedMap((k, _round_trip(v)) for k, v in items.items())
            if col.note:
                columns.yaml_set_comment_before_after_key(col.name, before=col.note, indent=2)
            continue
        for key in _COLUMN_KEYS:
            if items.get(key) == old[col.name].get(key):
                continue
            if key not in items:
                spec.pop(key, None)
            elif key in spec:
                spec[key] = _round_trip(items[key])
            else:
                earlier = [k for k in _COLUMN_KEYS[: _COLUMN_KEYS.index(key)] if k in spec]
                at = list(spec).index(earlier[-1]) + 1 if earlier else 0
                spec.insert(at, key, _round_trip(items[key]))
    for name in old:
        if name not in after.names:
            del columns[name]
    out = io.StringIO()
    editor.dump(data, out)
    edited = out.getvalue()
    if Schema.from_yaml(edited, source=str(p)).content_hash != after.content_hash:
        raise SchemaFileError(
            str(p),
            "its layout could not be edited in place",
            f"Change it by hand to:\n{after.to_yaml()}",
        )
    _write_atomic(p, edited)


def _round_trip(value: Any) -> Any:
    """A rule's value as the round-trip editor writes it: lists and mappings in flow style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = _yaml_value(value)
    if isinstance(value, list):
        seq = CommentedSeq([_yaml_value(v) for v in value])
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, dict):
        flow = CommentedMap(value)
        flow.fa.set_flow_style()
        return flow
    return value


# -- Arrow types -----------------------------------------------------------------

_SIMPLE_TYPES: Mapping[str, pa.DataType] = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    **{f"int{w}": getattr(pa, f"int{w}")() for w in (8, 16, 32, 64)},
    **{f"uint{w}": getattr(pa, f"uint{w}")() for w in (8, 16, 32, 64)},
    "halffloat": pa.float16(),
    "float16": pa.float16(),
    "float": pa.float32(),
    "float32": pa.float32(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "utf8": pa.string(),
    "large_string": pa.large_string(),
    "large_utf8": pa.large_string(),
    "string_view": pa.string_view(),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "binary_view": pa.binary_view(),
    "date32": pa.date32(),
    "date32[day]": pa.date32(),
    "date64": pa.date64(),
    "date64[ms]": pa.date64(),
    "month_day_nano_interval": pa.month_day_nano_interval(),
}
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=(.+))?\]")
_UNIT_TYPES = {
    "time32": (pa.time32, ("s", "ms")),
    "time64": (pa.time64, ("us", "ns")),
    "duration": (pa.duration, ("s", "ms", "us", "ns")),
}
_UNIT_TYPE = re.compile(r"(time32|time64|duration)\[(\w+)\]")
_DECIMAL = re.compile(r"decimal(128|256)?\(\s*(\d+)\s*,\s*(-?\d+)\s*\)")
_FIXED_BINARY = re.compile(r"fixed_size_binary\[(\d+)\]")
_FIXED_LIST = re.compile(r"fixed_size_list<(.*)>\[(\d+)\]")
_DICTIONARY = re.compile(r"dictionary<values=(.*), indices=(\w+), ordered=([01])>")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")


@functools.lru_cache(maxsize=512)
def parse_type(text: str) -> pa.DataType:
    """An Arrow type from its string form (``str(t)``, plus aliases such as ``float64``).

    Raises ValueError saying what is wrong.
    """
    s = text.strip()
    if s in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[s]
    if m := _TIMESTAMP.fullmatch(s):
        tz = m.group(2)
        if tz is not None:
            tz = tz.strip()
            _timezone(tz)
        return pa.timestamp(m.group(1), tz)
    if m := _UNIT_TYPE.fullmatch(s):
        make, units = _UNIT_TYPES[m.group(1)]
        if m.group(2) not in units:
            raise ValueError(f"{m.group(1)} takes a unit among {', '.join(units)}")
        return make(m.group(2))
    if m := _DECIMAL.fullmatch(s):
        bits, precision, scale = m.group(1), int(m.group(2)), int(m.group(3))
        make_decimal = pa.decimal256 if bits == "256" or precision > 38 else pa.decimal128
        return make_decimal(precision, scale)
    if m := _FIXED_BINARY.fullmatch(s):
        return pa.binary(int(m.group(1)))
    if m := _FIXED_LIST.fullmatch(s):
        return pa.list_(_item_field(m.group(1)), int(m.group(2)))
    if m := _DICTIONARY.fullmatch(s):
        return pa.dictionary(parse_type(m.group(2)), parse_type(m.group(1)), m.group(3) == "1")
    for prefix, make_list in (("list<", pa.list_), ("large_list<", pa.large_list)):
        if s.startswith(prefix) and s.endswith(">"):
            return make_list(_item_field(s[len(prefix) : -1]))
    if s.startswith("struct<") and s.endswith(">"):
        inner = s[len("struct<") : -1]
        return pa.struct([_field(part) for part in _split_top(inner)] if inner else [])
    if s.startswith("map<") and s.endswith(">"):
        parts = _split_top(s[len("map<") : -1])
        if len(parts) == 2:
            return pa.map_(parse_type(parts[0]), _item_field(parts[1]))
    raise ValueError(f"{text!r} is not an Arrow type")


def _timezone(tz: str) -> dt.tzinfo:
    """The tzinfo of an Arrow time zone string (a name or a fixed offset)."""
    if tz.upper() in ("UTC", "Z"):
        return dt.UTC
    if _OFFSET.fullmatch(tz):
        sign = -1 if tz[0] == "-" else 1
        hours, minutes = int(tz[1:3]), int(tz[4:6])
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def _split_top(s: str) -> list[str]:
    """``s`` split at the commas outside any <...>, (...) or [...]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "<([":
            depth += 1
        elif ch in ">)]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i].strip())
            start = i + 1
    parts.append(s[start:].strip())
    return parts


def _field(s: str) -> pa.Field:
    """``name: type`` (``not null`` at the end for a non-nullable field)."""
    name, sep, rest = s.partition(": ")
    if not sep:
        raise ValueError(f"struct field {s!r} is not 'name: type'")
    rest = rest.strip()
    nullable = not rest.endswith(" not null")
    if not nullable:
        rest = rest[: -len(" not null")]
    return pa.field(name.strip(), parse_type(rest), nullable)


def _item_field(s: str) -> pa.Field | pa.DataType:
    return _field(s) if ": " in s and not s.startswith(("struct<", "map<")) else parse_type(s)


def _kind(t: pa.DataType) -> str:
    """What rules a type can have: int, float, decimal, date, timestamp, time, duration,
    bool, string, binary, null or other (dictionaries as their values)."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_duration(t):
        return "duration"
    if pa.types.is_null(t):
        return "null"
    return "other"


def _logical(t: pa.DataType) -> pa.DataType:
    """The type a check compares: dictionaries as their values, string and binary
    offsets and views alike (they hold the same values)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    return t


def _int_bounds(t: pa.DataType) -> tuple[int, int]:
    if pa.types.is_dictionary(t):
        t = t.value_type
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


# -- typed values ----------------------------------------------------------------


def _coerce(raw: Any, t: pa.DataType, what: str) -> Any:
    """A value from a schema file (or a finding's details) as the column's Python type.

    ``what`` names the key in messages. Raises `_Bad`.
    """
    kind = _kind(t)
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _Bad(
                f"{what} must be a whole number for a {t} column, not {_shown(raw)}",
                f"Write it as a plain integer, such as {what}: 0." + _number_hint(raw),
            )
        lo, hi = _int_bounds(t)
        if not lo <= raw <= hi:
            raise _Bad(f"{what} {raw} is outside the range of {t} ({lo} to {hi})", "Fix it.")
        return raw
    if kind in ("float", "decimal"):
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
            raise _Bad(
                f"{what} must be a number for a {t} column, not {_shown(raw)}",
                f"Write it as a plain number, such as {what}: 0.5." + _number_hint(raw),
            )
        return float(raw)
    if kind == "date":
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            return raw
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                pass
        raise _Bad(
            f"{what} must be a date for a {t} column, not {_shown(raw)}",
            f"Write it as YYYY-MM-DD, such as {what}: 2013-01-01.",
        )
    if kind == "timestamp":
        value: dt.datetime | None = None
        if isinstance(raw, dt.datetime):
            value = raw
        elif isinstance(raw, dt.date):
            value = dt.datetime(raw.year, raw.month, raw.day)
        elif isinstance(raw, str):
            try:
                value = dt.datetime.fromisoformat(raw)
            except ValueError:
                value = None
        if value is None:
            raise _Bad(
                f"{what} must be a timestamp for a {t} column, not {_shown(raw)}",
                f"Write it as YYYY-MM-DD HH:MM:SS, such as {what}: 2013-01-01 05:00:00"
                + ("+00:00." if t.tz else "."),
            )
        if t.tz is None:
            if value.tzinfo is not None:
                raise _Bad(
                    f"{what} {value.isoformat(sep=' ')} has a time zone, but the column has none",
                    "Write the time without an offset.",
                )
            return value
        zone = _timezone(t.tz)
        if value.tzinfo is None:  # read in the column's time zone
            return value.replace(tzinfo=zone)
        return value.astimezone(zone)
    if kind == "time":
        if isinstance(raw, dt.time):
            return raw
        if isinstance(raw, str):
            try:
                return dt.time.fromisoformat(raw)
            except ValueError:
                pass
        raise _Bad(
            f"{what} must be a time of day for a {t} column, not {_shown(raw)}",
            f"Write it quoted as 'HH:MM:SS', such as {what}: '05:30:00' "
            "(YAML reads unquoted 12:30:00 as a number).",
        )
    if kind == "duration":
        if isinstance(raw, dt.timedelta):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool) and raw == raw:
            return dt.timedelta(seconds=raw)
        raise _Bad(
            f"{what} must be a duration in seconds for a {t} column, not {_shown(raw)}",
            f"Write it as a number of seconds, such as {what}: 90.",
        )
    if kind == "string":
        if not isinstance(raw, str):
            raise _Bad(
                f"{what} must be text for a {t} column, not {_shown(raw)}",
                "Quote it, as in 'NO' rather than NO: YAML reads unquoted yes, no, on, off, "
                "true and false as booleans, and digits as numbers.",
            )
        return raw
    if kind == "bool":
        if not isinstance(raw, bool):
            raise _Bad(
                f"{what} must be true or false for a {t} column, not {_shown(raw)}",
                "Write true or false, unquoted.",
            )
        return raw
    raise _Bad(f"{what} is not allowed for a {t} column", "Remove it.")


def _number_hint(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            float(raw)
        except ValueError:
            return ""
        return f" YAML reads {raw} as text; write {float(raw)!r}, unquoted."
    return ""


def _shown(raw: Any) -> str:
    return repr(raw) if isinstance(raw, str) else _plain(raw)


def _plain(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    return str(raw)


def _floatish(value: Any, type_text: str) -> Any:
    """Bounds of float columns as floats (``5`` and ``5.0`` mean the same)."""
    floats = ("float", "decimal")
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and _kind(parse_type(type_text)) in floats
    ):
        return float(value)
    return value


def _jsonable(v: Any) -> Any:
    """A value as JSON data, timestamps with a space as schema files write them."""
    return jsonable(v, time_sep=" ")


def _sorted(values: Sequence[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


# -- writing YAML ----------------------------------------------------------------


def _column_items(c: ColumnSchema) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = [("type", c.type), ("nullable", c.nullable)]
    if c.max_missing is not None:
        items.append(("max_missing", c.max_missing))
    for key in ("min", "max"):
        value = getattr(c, key)
        if value is not None:
            items.append((key, _yaml_value(value)))
    if c.domain is not None:
        items.append(("domain", list(c.domain)))
    for key in ("min_length", "max_length"):
        if getattr(c, key) is not None:
            items.append((key, getattr(c, key)))
    items += [("role", c.role), ("drift", c.drift)]
    if c.severity:
        items.append(("severity", dict(c.severity)))
    return items


def _yaml_value(v: Any) -> Any:
    """Values as YAML writes them back readably: times of day quoted, durations in seconds."""
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, dt.time):
        return v.isoformat()
    return v


def _flow(value: Any) -> str:
    """One value in YAML flow style, on one line, quoted where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**30, allow_unicode=True)
    lines = [ln for ln in text.splitlines() if ln != "..."]
    return " ".join(lines).strip()


def _wrapped(prefix: str, value: Any, width: int = 96) -> str:
    """``prefix`` and ``value``; long lists wrap, their lines indented under the key."""
    if not isinstance(value, list):
        return prefix + _flow(value)
    items = [_flow([v])[1:-1] for v in value]  # each quoted as a flow sequence needs
    lines, line = [], prefix + "["
    indent = " " * (len(prefix) + 1)
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "]")
        if len(line) + len(piece) + 1 > width and not line.endswith("["):
            lines.append(line)
            line = indent + piece
        else:
            line += ("" if line.endswith("[") else " ") + piece
    if not items:
        line += "]"
    lines.append(line)
    return "\n".join(lines)


# -- reading YAML ----------------------------------------------------------------


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line


# libyaml's parser when PyYAML has it (ten times faster: ingest reads the schema each time).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML's safe loader, refusing duplicate keys (which it would silently drop)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        try:
            if key in seen:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        except TypeError:  # an unhashable key: let the constructor say so
            break
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _unknown_key(key: Any, known: Sequence[str], where: str) -> _Bad:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return _Bad(
        f"unknown key {key!r} {where}",
        f"Known keys: {', '.join(known)}.{hint}",
    )


def _parse_schema(data: Any, source: str) -> Schema:
    def fail(bad: _Bad, column: str | None = None) -> SchemaFileError:
        return SchemaFileError(source, bad.problem, bad.fix, column)

    if not isinstance(data, dict):
        got = "empty" if data is None else f"a {type(data).__name__}"
        raise SchemaFileError(
            source,
            f"the file is {got}, not a mapping of keys to values",
            f"A schema file is a YAML mapping with keys {', '.join(_TOP_KEYS)}.",
        )
    try:
        for key in data:
            if key not in _TOP_KEYS:
                raise _unknown_key(key, _TOP_KEYS, "at the top level")
        version = data.get("tillage_schema", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise _Bad(f"tillage_schema must be a version number, not {_shown(version)}", "Fix it.")
        if version > FORMAT_VERSION:
            raise _Bad(
                f"the file is in schema format {version}, this tillage reads {FORMAT_VERSION}",
                "Upgrade tillage.",
            )
        dataset = data.get("dataset")
        if not isinstance(dataset, str) or not dataset:
            raise _Bad(
                f"dataset must be the dataset's name, not {_shown(dataset)}",
                "Add a line such as dataset: flights.",
            )
        key = _string_list(data.get("primary_key", []), "primary_key")
        unique = _bool(data.get("unique", True), "unique")
        severity = _severities(data.get("severity", {}), RULES, "at the top level")
        raw_columns = data.get("columns")
        if not isinstance(raw_columns, dict) or not raw_columns:
            raise _Bad(
                "columns must be a mapping of column names to their rules",
                "Add a columns: block with one entry per column, each with at least a type.",
            )
        for name in raw_columns:
            if not isinstance(name, str):
                raise _Bad(
                    f"column name {_plain(name)} is not text",
                    f"Quote it: '{_plain(name)}':.",
                )
        missing_key = [k for k in key if k not in raw_columns]
        if missing_key:
            raise _Bad(
                f"primary_key names {', '.join(missing_key)}, not among the columns",
                "Add those columns, or fix primary_key.",
            )
    except _Bad as bad:
        raise fail(bad) from None
    columns = []
    for name, spec in raw_columns.items():
        try:
            columns.append(_parse_column(name, spec, name in key))
        except _Bad as bad:
            raise fail(bad, name) from None
    return Schema(dataset, tuple(key), tuple(columns), unique, severity)


def _parse_column(name: str, spec: Any, in_key: bool) -> ColumnSchema:
    if not isinstance(spec, dict):
        raise _Bad(
            f"its rules must be a mapping, not {_shown(spec)}",
            "Write at least type: under the column's name, indented.",
        )
    for key in spec:
        if key not in _COLUMN_KEYS:
            raise _unknown_key(key, _COLUMN_KEYS, "in the column")
    if "type" not in spec:
        raise _Bad("it has no type", f"Add its Arrow type, such as type: int64 ({_TYPE_EXAMPLES}).")
    raw_type = spec["type"]
    if not isinstance(raw_type, str):
        raise _Bad(f"type must be text, not {_shown(raw_type)}", f"Use one of {_TYPE_EXAMPLES}.")
    try:
        t = parse_type(raw_type)
    except ValueError as e:
        close = difflib.get_close_matches(raw_type.strip(), list(_SIMPLE_TYPES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise _Bad(
            f"unknown type: {e}", f"Use an Arrow type such as {_TYPE_EXAMPLES}.{hint}"
        ) from None
    kind = _kind(t)
    nullable = _bool(spec.get("nullable", not in_key), "nullable")
    max_missing = spec.get("max_missing")
    if max_missing is not None:
        if isinstance(max_missing, bool) or not isinstance(max_missing, int | float):
            raise _Bad(
                f"max_missing must be a share between 0 and 1, not {_shown(max_missing)}",
                "Write it as a number, such as max_missing: 0.05 for 5% of rows.",
            )
        if not 0 <= max_missing <= 1:
            raise _Bad(
                f"max_missing {max_missing} is not a share between 0 and 1",
                "Write 5% as max_missing: 0.05.",
            )
        if not nullable:
            raise _Bad(
                "max_missing is set but nullable is false",
                "Remove max_missing (no value may be missing), or set nullable: true.",
            )
        max_missing = float(max_missing)
    bounds: dict[str, Any] = {}
    for key in ("min", "max"):
        if spec.get(key) is not None:
            if kind not in _RANGE_KINDS:
                raise _Bad(
                    f"{key} is set, but a {t} column has no range",
                    "Remove it; ranges are for numbers, dates, times and durations.",
                )
            bounds[key] = _coerce(spec[key], t, key)
    if len(bounds) == 2 and bounds["min"] > bounds["max"]:
        raise _Bad(
            f"min {_fmt(bounds['min'])} is greater than max {_fmt(bounds['max'])}",
            "Swap them, or fix the one that is wrong.",
        )
    domain = None
    if spec.get("domain") is not None:
        raw_domain = spec["domain"]
        if kind not in _DOMAIN_KINDS:
            raise _Bad(
                f"domain is set, but a {t} column cannot have one",
                "Remove it; domains are for strings, bools and integers (use min/max here).",
            )
        if not isinstance(raw_domain, list) or not raw_domain:
            raise _Bad(
                f"domain must be a non-empty list of allowed values, not {_shown(raw_domain)}",
                "Write it as domain: [a, b, c], or remove it to allow any value.",
            )
        domain = tuple(
            _sorted(list(dict.fromkeys(_coerce(v, t, "a domain value") for v in raw_domain)))
        )
    lengths: dict[str, int] = {}
    for key in ("min_length", "max_length"):
        raw = spec.get(key)
        if raw is None:
            continue
        if kind not in _LENGTH_KINDS:
            raise _Bad(f"{key} is set, but a {t} column has no length", "Remove it.")
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise _Bad(
                f"{key} must be a whole number of characters, not {_shown(raw)}",
                f"Write it as {key}: 10.",
            )
        lengths[key] = raw
    if len(lengths) == 2 and lengths["min_length"] > lengths["max_length"]:
        raise _Bad(
            f"min_length {lengths['min_length']} is greater than "
            f"max_length {lengths['max_length']}",
            "Swap them, or fix the one that is wrong.",
        )
    role = spec.get("role", "key" if in_key else "feature")
    if role not in ROLES:
        raise _Bad(f"role {_shown(role)} is unknown", f"Use one of {', '.join(ROLES)}.")
    if (role == "key") != in_key:
        raise _Bad(
            "role key is for primary-key columns only"
            if role == "key"
            else f"it is in primary_key, but its role is {role}",
            "Make primary_key and the key roles agree (or leave role out).",
        )
    drift = _bool(spec.get("drift", role == "feature"), "drift")
    severity = _severities(spec.get("severity", {}), COLUMN_RULES, "in the column")
    return ColumnSchema(
        name=name,
        type=str(t),
        nullable=nullable,
        max_missing=max_missing,
        min=bounds.get("min"),
        max=bounds.get("max"),
        domain=domain,
        min_length=lengths.get("min_length"),
        max_length=lengths.get("max_length"),
        role=cast(Role, role),
        drift=drift,
        severity=severity,
    )


def _bool(raw: Any, what: str) -> bool:
    if not isinstance(raw, bool):
        raise _Bad(f"{what} must be true or false, not {_shown(raw)}", "Write true or false.")
    return raw


def _string_list(raw: Any, what: str) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise _Bad(
            f"{what} must be a list of column names, not {_shown(raw)}",
            f"Write it as {what}: [a, b].",
        )
    if len(set(raw)) != len(raw):
        raise _Bad(f"{what} names a column twice", "Name each column once.")
    return list(raw)


def _severities(raw: Any, rules: Sequence[str], where: str) -> tuple[tuple[str, RuleSeverity], ...]:
    """A severity mapping (or one severity for every rule) as sorted (rule, severity) pairs."""
    if isinstance(raw, str):
        raw = dict.fromkeys(rules, raw)
    if not isinstance(raw, dict):
        raise _Bad(
            f"severity must be block or warn, or a mapping of rules to them, not {_shown(raw)}",
            "Write severity: block, or severity: {range: block}.",
        )
    out: dict[str, RuleSeverity] = {}
    for rule, sev in raw.items():
        if rule not in rules:
            raise _unknown_key(rule, rules, f"under severity {where}")
        if sev not in RULE_SEVERITIES:
            raise _Bad(
                f"severity {_shown(sev)} for {rule} is unknown",
                "Use block (stops an ingest) or warn (lands and opens an alert).",
            )
        out[rule] = sev
    return tuple(sorted(out.items()))


# -- inference -------------------------------------------------------------------


def infer(profile: Profile, *, dataset: str, key: Sequence[str], margin: float = 0.1) -> Schema:
    """A schema from a profile of some rows (see the module doc for what it infers)."""
    keys = [key] if isinstance(key, str) else list(key)
    if not 0 <= margin < math.inf:
        raise InputError(f"margin must be a share ≥ 0 of each range's span, not {margin}.")
    absent = [k for k in keys if k not in profile]
    if absent:
        raise InputError(
            f"key column(s) {', '.join(absent)} are not in the profile "
            f"(columns: {', '.join(profile.columns)})."
        )
    columns = tuple(_infer_column(c, c.name in keys, margin, dataset) for c in profile)
    origin = (
        f"Inferred from a profile of {profile.rows:,} rows: ranges widened on each side by "
        f"{margin:.0%} of their span\nor by the tail's reach (an exponential tail fitted to "
        f"the {TAIL_SHARE:.0%} of values at that end,\nexceeded by a batch of as many rows "
        f"with probability {TAIL_MISS:.0%}), whichever is wider; domains for\ncategorical "
        f"columns whose unseen share (values seen once / values) is at most "
        f"{DOMAIN_MAX_UNSEEN:.1%};\nmissing shares with slack. A range, domain or length "
        "rule broken by a few stray rows of a\nlarge batch is reported as info, not an alert."
    )
    return Schema(dataset, tuple(keys), columns, True, (), origin)


def _infer_column(col: ColumnProfile, in_key: bool, margin: float, dataset: str) -> ColumnSchema:
    if col.kind == "mixed":
        raise InputError(
            f"column {col.name!r} changed type between the profiled batches ({col.type}); "
            "infer a schema from a profile of one version, or make the batches agree."
        )
    t = _pick_type(col.types)
    kind = _kind(t)
    missing = col.nulls + col.nan
    ratio = missing / col.count if col.count else 0.0
    notes = [f"{_pct(ratio)} missing"] if missing else []
    role = _role(col, in_key, dataset)
    rules: dict[str, Any] = {}
    if col.valid and col.redacted is not None:  # no value of it may reach the file
        distinct = col.distinct()
        if distinct is not None:
            notes.append(f"~{round(distinct.value):,} distinct")
        notes.append(f"no domain or range inferred ({col.redacted})")
    elif col.valid:
        if kind in _RANGE_KINDS:
            show = str if role == "time" and kind == "int" else _fmt  # years without commas
            notes.insert(0, f"observed {show(col.min)} to {show(col.max)}")
        distinct = col.distinct()
        if distinct is not None:
            notes.append(f"~{round(distinct.value):,} distinct")
        if role == "feature":
            domain = _infer_domain(col, kind)
            if domain is not None:
                rules["domain"] = domain
            elif kind in _RANGE_KINDS:
                rules.update(_infer_range(col, t, margin))
                if kind in ("int", "float") and "min" in rules:
                    low, high = _tail_pads(col)
                    notes.append(
                        f"tail reach {_fmt(float(f'{low:.3g}'))} below, "
                        f"{_fmt(float(f'{high:.3g}'))} above"
                    )
        elif role == "time" and kind == "int":
            lo, hi, bounded = DATE_PARTS[_date_part(col)]
            if bounded:
                rules.update(min=lo, max=hi)
        if kind == "string" and col.min_length is not None and col.max_length is not None:
            span = col.max_length - col.min_length
            rules["min_length"] = max(0, math.floor(col.min_length - margin * span))
            rules["max_length"] = math.ceil(col.max_length + margin * span)
            notes.append(f"lengths {col.min_length} to {col.max_length}")
    if role != "feature":
        reason = _ROLE_REASONS[role]
        if role == "time" and kind == "int":
            bounded = DATE_PARTS[_date_part(col)][2]
            reason = "a date part by name: " + ("its natural bounds" if bounded else "no range")
        notes.append(f"role {role} ({reason}, no drift)")
    return ColumnSchema(
        name=col.name,
        type=str(t),
        nullable=not in_key,
        max_missing=None if in_key else _slack(ratio),
        role=role,
        drift=role == "feature",
        note="; ".join(notes),
        **rules,
    )


_ROLE_REASONS = {
    "key": "the primary key",
    "id": "near-unique: no range or domain",
    "time": "moves with the calendar: no range",
}


def _pick_type(types: Sequence[str]) -> pa.DataType:
    """The type of a column seen with several types of one kind: the widest."""
    parsed = [parse_type(s) for s in types] or [pa.null()]
    if len(parsed) == 1:
        return parsed[0]
    return max(parsed, key=lambda t: (getattr(t, "bit_width", 0) if _fixed(t) else 2**20, str(t)))


def _fixed(t: pa.DataType) -> bool:
    try:
        return bool(t.bit_width)
    except ValueError:
        return False


def _role(col: ColumnProfile, in_key: bool, dataset: str | None = None) -> Role:
    if in_key:
        return "key"
    kind = col.column_kind(dataset)
    if kind is ColumnKind.TIME:
        return "time"
    return "id" if kind is ColumnKind.IDENTIFIER else "feature"


def _date_part(col: ColumnProfile) -> str:
    """The date part an int column of role ``time`` holds (`tillage.core.kinds.DATE_PARTS`)."""
    part = date_part_of(col.name, col.raw_min, col.raw_max)
    assert part is not None, col.name
    return part


def _infer_domain(col: ColumnProfile, kind: str) -> tuple[Any, ...] | None:
    """All values of a categorical column, when the profile counted every one exactly."""
    if kind not in _DOMAIN_KINDS or col.valid == 0:
        return None
    items = col.frequent(FREQUENT_CAPACITY)
    if items is None or len(items) > DOMAIN_MAX_DISTINCT:
        return None
    exact = all(i.lower == i.upper for i in items) and sum(i.count for i in items) == col.valid
    if not exact or len(items) > DOMAIN_MAX_RATIO * col.valid:
        return None
    if unseen_share(col) > DOMAIN_MAX_UNSEEN:
        return None
    return tuple(_sorted([i.value for i in items]))


def _tail_pads(col: ColumnProfile) -> tuple[float, float]:
    """How far below the minimum and above the maximum a same-sized batch may reach.

    An exponential tail is fitted to each end: with ``k`` = `TAIL_SHARE` of the ``n``
    values (at least 2) beyond the quantile ``q``, the extreme lies on average
    ``H(k)`` tail scales from ``q`` (``H``: harmonic number), so the scale is
    ``(extreme - q) / H(k)``; a batch of ``n`` values then passes ``extreme + pad``
    with probability ``exp(-pad / scale)`` = `TAIL_MISS`. The quantile is read
    ``rank_error`` further in than its rank, which can only widen the estimate.
    """
    n = col.valid
    if col.kll is None or col.kll.is_empty() or n < 2:
        return 0.0, 0.0
    k = max(2.0, TAIL_SHARE * n)
    harmonic = sum(1.0 / i for i in range(1, math.floor(k) + 1))
    inward = min(0.5, k / n + sketch_rank_error(col))
    low_q, high_q = col.kll.get_quantiles([inward, 1.0 - inward], True)
    reach = math.log(1.0 / TAIL_MISS)
    low = max(0.0, float(low_q) - float(col.raw_min)) / harmonic * reach
    high = max(0.0, float(col.raw_max) - float(high_q)) / harmonic * reach
    return low, high


def _infer_range(col: ColumnProfile, t: pa.DataType, margin: float) -> dict[str, Any]:
    """The observed extremes widened by ``margin`` of the span or by the tail's reach
    (`_tail_pads`), whichever is wider, within natural bounds."""
    kind = _kind(t)
    lo, hi = col.min, col.max
    if kind == "time":  # seconds since midnight, within the day
        lo_s, hi_s = _seconds_of_day(lo), _seconds_of_day(hi)
        pad = margin * (hi_s - lo_s)
        return {
            "min": _time_of_day(max(0.0, lo_s - pad)),
            "max": _time_of_day(min(86399.999999, hi_s + pad)),
        }
    if kind == "duration":
        pad_d = (hi - lo) * margin
        low = lo - pad_d
        if lo >= dt.timedelta(0):
            low = max(low, dt.timedelta(0))
        return {"min": low, "max": hi + pad_d}
    if kind in ("date", "timestamp"):  # only time columns have these, and they get none
        return {}
    span = float(hi) - float(lo)
    tail_low, tail_high = _tail_pads(col)
    step = 10.0 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.0
    low_f = float(lo) - max(margin * span, tail_low)
    high_f = float(hi) + max(margin * span, tail_high)
    if step:
        low_f = math.floor(round(low_f / step, 9)) * step
        high_f = math.ceil(round(high_f / step, 9)) * step
    if lo >= 0:
        low_f = max(low_f, 0.0)
    if kind == "int":
        bound_lo, bound_hi = _int_bounds(t)
        return {
            "min": max(bound_lo, math.floor(round(low_f, 9))),
            "max": min(bound_hi, math.ceil(round(high_f, 9))),
        }
    digits = max(0, 2 - math.floor(math.log10(span))) if span > 0 else 12
    return {"min": round(low_f, digits), "max": round(high_f, digits)}


def _seconds_of_day(t: dt.time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _time_of_day(seconds: float) -> dt.time:
    micros = round(seconds * 1e6)
    return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()


def _slack(ratio: float) -> float:
    """An observed missing share plus slack, rounded up to 4 decimals, at most 1."""
    wide = min(1.0, max(2 * ratio, ratio + 0.01))
    return min(1.0, math.ceil(round(wide * 10_000, 6)) / 10_000)


# -- checking ----------------------------------------------------------------------

_KIND_ORDER = {k: i for i, k in enumerate(RULES)}
_FEW_ROWS_KINDS = frozenset({"range", "domain", "length"})
_SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}


def check(table: pa.Table | pa.RecordBatch, schema: Schema, *, reference: str) -> list[Finding]:
    """Validate a batch against a schema: findings sorted block first, then by column.

    ``reference`` names the schema in the findings (a file, a ref and hash). Only
    ``check="schema"`` findings; an empty list means the batch passes.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"the batch has duplicate column names {dupes}; rename them first.")
    ctx = _Context(schema, reference, table.num_rows)
    present = set(names)
    tasks: list[Callable[[], list[_Ranked]]] = []
    found: list[_Ranked] = []
    for pos, col in enumerate(schema.columns):
        if col.name not in present:
            found.append(
                ctx.finding(
                    pos,
                    col.name,
                    "column_missing",
                    f"{col.name}: the batch lacks this column of the schema ({col.type}); "
                    "send it, or remove it from the schema if it is gone for good",
                    rows=ctx.rows,
                    details={"type": col.type},
                )
            )
            continue
        tasks.append(functools.partial(_check_column, ctx, pos, col, table.column(col.name)))
    key = list(schema.primary_key)
    if schema.unique and key and all(k in present for k in key):
        tasks.append(functools.partial(_check_key, ctx, table.select(key)))
    for i, name in enumerate(names):
        if name not in schema.names:
            found.append(_unexpected(ctx, len(schema.columns) + i, name, table.schema.field(name)))
    workers = min(len(tasks), os.cpu_count() or 1)
    if workers > 1 and table.num_rows * len(tasks) >= PARALLEL_MIN_CELLS:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(lambda task: task(), tasks):
                found += part
    else:
        for task in tasks:
            found += task()
    found.sort(key=lambda r: (_SEVERITY_ORDER[r.finding.severity], r.position, r.order))
    return [r.finding for r in found]


@dataclass(frozen=True)
class _Ranked:
    position: int  # -1: the dataset; then schema columns; then unexpected batch columns
    order: tuple[int, int]  # the rule's place, then min before max
    finding: Finding


@dataclass(frozen=True)
class _Context:
    schema: Schema
    reference: str
    rows: int

    def finding(
        self,
        position: int,
        column: str | None,
        kind: str,
        message: str,
        *,
        rule: str | None = None,
        rows: int | None = None,
        details: dict[str, Any] | None = None,
        side: int = 0,
    ) -> _Ranked:
        severity: Severity = self.schema.severity_for(rule or kind, column)
        if (
            severity == "warn"
            and kind in _FEW_ROWS_KINDS
            and rows is not None
            and rows <= FEW_ROWS
            and rows <= FEW_SHARE * self.rows
        ):
            severity = "info"
            details = {**(details or {}), "few_rows": True}
        return _Ranked(
            position,
            (_KIND_ORDER[kind], side),
            Finding(
                dataset=self.schema.dataset,
                column=column,
                check="schema",
                kind=kind,
                message=message,
                reference=self.reference,
                severity=severity,
                effect=(rows / self.rows if rows is not None and self.rows else 0.0),
                rows=rows,
                details=details or {},
            ),
        )


def _unexpected(ctx: _Context, position: int, name: str, f: pa.Field) -> _Ranked:
    return ctx.finding(
        position,
        name,
        "column_unexpected",
        f"{name}: a column the schema lacks ({f.type}); add it to the schema, "
        "or drop it from the batch",
        rows=ctx.rows,
        details={"type": str(f.type)},
    )


def _check_column(
    ctx: _Context, pos: int, col: ColumnSchema, values: pa.ChunkedArray
) -> list[_Ranked]:
    """Every rule of one column present in the batch."""
    out: list[_Ranked] = []
    expected = col.arrow_type
    found = values.type
    n = ctx.rows
    comparable = True
    if pa.types.is_null(found):  # all missing: a missing-value matter, not a type change
        comparable = False
    elif _logical(found) != _logical(expected):
        comparable = _kind(found) == _kind(expected) and (
            _kind(found) != "timestamp" or (found.tz is None) == (expected.tz is None)
        )
        out.append(
            ctx.finding(
                pos,
                col.name,
                "type",
                f"{col.name}: type {found}, the schema says {expected}"
                + ("" if comparable else "; its other rules were not checked"),
                rows=n,
                details={"expected": str(expected), "found": str(found)},
            )
        )
    work = values
    if pa.types.is_dictionary(work.type):
        work = work.cast(work.type.value_type)
    if pa.types.is_string_view(work.type):  # few kernels take views yet
        work = work.cast(pa.large_string())
    kind = _kind(work.type)
    missing = work.null_count
    if kind == "float" and n:
        missing += int(pc.sum(pc.is_nan(work)).as_py() or 0)
    key_checked = ctx.schema.unique and col.name in ctx.schema.primary_key
    if not key_checked:
        out += _check_missing(ctx, pos, col, missing)
    if not comparable or n == missing:
        return out
    values_n = n - missing
    if col.min is not None or col.max is not None:
        out += _check_range(ctx, pos, col, work, expected, values_n)
    if col.domain is not None:
        out += _check_domain(ctx, pos, col, work, expected)
    if col.min_length is not None or col.max_length is not None:
        out += _check_length(ctx, pos, col, work, values_n)
    return out


def _check_missing(ctx: _Context, pos: int, col: ColumnSchema, missing: int) -> list[_Ranked]:
    n = ctx.rows
    limit = 0.0 if not col.nullable else col.max_missing
    if limit is None or not n or missing / n <= limit:
        return []
    ratio = missing / n
    allowed = "allows none" if not col.nullable else f"allows at most {_pct(limit)}"
    return [
        ctx.finding(
            pos,
            col.name,
            "missing",
            f"{col.name}: {_pct(ratio)} missing, the schema {allowed} — {_rows(missing)}",
            rows=missing,
            details={
                "missing": missing,
                "ratio": ratio,
                "max_missing": limit,
                "nullable": col.nullable,
            },
        )
    ]


def _scalar(value: Any, work_type: pa.DataType, expected: pa.DataType) -> pa.Scalar:
    """A bound as an Arrow scalar the column's values compare with."""
    if _kind(work_type) == "decimal" or _kind(expected) == "decimal":
        return pa.scalar(float(value), pa.float64())
    try:
        return pa.scalar(value, work_type)
    except (pa.ArrowInvalid, OverflowError, TypeError):
        return pa.scalar(value, expected)


def _check_range(
    ctx: _Context,
    pos: int,
    col: ColumnSchema,
    work: pa.ChunkedArray,
    expected: pa.DataType,
    values_n: int,
) -> list[_Ranked]:
    if _kind(work.type) == "decimal":
        work = work.cast(pa.float64())
    if pa.types.is_duration(work.type):  # min_max has no duration kernel: use the storage
        ints = pc.min_max(work.cast(pa.int64()))
        extremes = {k: ints[k].cast(work.type) for k in ("min", "max")}
    else:
        extremes = pc.min_max(work)
    out = []
    sides = (
        ("min", col.min, extremes["min"], pc.less, "below the schema minimum", "smallest"),
        ("max", col.max, extremes["max"], pc.greater, "above the schema maximum", "largest"),
    )
    for i, (side, bound, extreme, beyond, words, which) in enumerate(sides):
        if bound is None or not extreme.is_valid:
            continue
        limit = _scalar(bound, work.type, expected)
        if not beyond(extreme, limit).as_py():
            continue
        count = int(pc.sum(beyond(work, limit)).as_py() or 0)
        observed = _typed_scalar(extreme, expected)
        out.append(
            ctx.finding(
                pos,
                col.name,
                "range",
                f"{col.name}: {_pct(count / values_n)} of values ({_rows(count)}) {words} "
                f"{_fmt(bound)} ({which} {_fmt(observed)})",
                rows=count,
                details={
                    "side": side,
                    "limit": _jsonable(bound),
                    "observed": _jsonable(observed),
                    "count": count,
                    "share_of_values": count / values_n,
                },
                side=i,
            )
        )
    return out


def _typed_scalar(s: pa.Scalar, expected: pa.DataType) -> Any:
    """A scalar as a Python value in the schema's type (nanoseconds cut to microseconds)."""
    t = s.type
    if pa.types.is_timestamp(t) and t.unit == "ns":
        s = s.cast(pa.timestamp("us", t.tz), safe=False)
    elif (pa.types.is_time64(t) or pa.types.is_duration(t)) and t.unit == "ns":
        s = s.cast(pa.time64("us") if pa.types.is_time64(t) else pa.duration("us"), safe=False)
    value = s.as_py()
    aware = isinstance(value, dt.datetime) and value.tzinfo is not None
    if pa.types.is_timestamp(expected) and expected.tz and aware:
        value = value.astimezone(_timezone(expected.tz))
    return value


def _check_domain(
    ctx: _Context, pos: int, col: ColumnSchema, work: pa.ChunkedArray, expected: pa.DataType
) -> list[_Ranked]:
    assert col.domain is not None
    try:
        allowed = pa.array(list(col.domain), work.type)
    except (pa.ArrowInvalid, OverflowError, TypeError):
        allowed = pa.array(list(col.domain), expected)
    inside = pc.is_in(work, value_set=allowed)
    bad = len(work) - work.null_count - int(pc.sum(inside).as_py() or 0)
    if bad <= 0:
        return []
    outside = pc.filter(work, pc.invert(pc.fill_null(inside, True)))
    counted = pc.value_counts(outside)
    pairs = sorted(
        zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True),
        key=lambda vc: (-vc[1], repr(vc[0])),
    )
    shown = ", ".join(f"{_fmt(v)} ({_rows(c)})" for v, c in pairs[:SHOWN])
    more = f", and {len(pairs) - SHOWN:,} more" if len(pairs) > SHOWN else ""
    noun = "value" if len(pairs) == 1 else "values"
    return [
        ctx.finding(
            pos,
            col.name,
            "domain",
            f"{col.name}: {len(pairs):,} {noun} not in the schema's domain: {shown}{more}",
            rows=bad,
            details={
                "values": [
                    {"value": _jsonable(v), "rows": c} for v, c in pairs[:DOMAIN_DETAIL_LIMIT]
                ],
                "distinct": len(pairs),
                "truncated": len(pairs) > DOMAIN_DETAIL_LIMIT,
            },
        )
    ]


def _check_length(
    ctx: _Context, pos: int, col: ColumnSchema, work: pa.ChunkedArray, values_n: int
) -> list[_Ranked]:
    lengths = pc.utf8_length(work)
    extremes = pc.min_max(lengths)
    out = []
    sides = (
        ("min", col.min_length, extremes["min"], pc.less, "shorter than", "min_length", "shortest"),
        (
            "max",
            col.max_length,
            extremes["max"],
            pc.greater,
            "longer than",
            "max_length",
            "longest",
        ),
    )
    for i, (side, bound, extreme, beyond, words, key, which) in enumerate(sides):
        if bound is None or not extreme.is_valid or not beyond(extreme, bound).as_py():
            continue
        count = int(pc.sum(beyond(lengths, bound)).as_py() or 0)
        observed = int(extreme.as_py())
        out.append(
            ctx.finding(
                pos,
                col.name,
                "length",
                f"{col.name}: {_pct(count / values_n)} of values ({_rows(count)}) {words} the "
                f"schema's {key} {bound} ({which} {observed})",
                rows=count,
                details={"side": side, "limit": bound, "observed": observed, "count": count},
                side=i,
            )
        )
    return out


def _check_key(ctx: _Context, keys: pa.Table) -> list[_Ranked]:
    """Null and duplicate keys: a strictly increasing single key is unique at a glance."""
    names = keys.column_names
    label = names[0] if len(names) == 1 else f"({', '.join(names)})"
    column = names[0] if len(names) == 1 else None
    position = ctx.schema.names.index(names[0]) if column else -1
    out = []
    if len(names) == 1:
        nulls = keys.column(0).null_count
    else:
        nulls = keys.num_rows - keys.drop_null().num_rows
    if nulls:
        out.append(
            ctx.finding(
                position,
                column,
                "unique",
                f"{label}: {_rows(nulls)} with a null key; every row needs a key",
                rows=nulls,
                details={"problem": "null", "key": names, "rows": nulls},
            )
        )
    valid = keys.drop_null() if nulls else keys
    n = valid.num_rows
    if n < 2:
        return out
    if len(names) == 1:
        k = valid.column(0)
        if (
            _kind(k.type) in ("int", "string", "date", "timestamp")
            and pc.all(pc.greater(k.slice(1), k.slice(0, n - 1))).as_py()
        ):
            return out
        if int(pc.count_distinct(k).as_py()) == n:
            return out
    counts = valid.group_by(names).aggregate([([], "count_all")])
    if counts.num_rows == n:
        return out
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    dup = dup.sort_by([(name, "ascending") for name in names])
    dup_rows = int(pc.sum(dup.column("count_all")).as_py())
    examples = [
        r[names[0]] if column else tuple(r[x] for x in names)
        for r in dup.slice(0, SHOWN).select(names).to_pylist()
    ]
    shown = ", ".join(_fmt(_jsonable(e)) for e in examples)
    out.append(
        ctx.finding(
            position,
            column,
            "unique",
            f"{label}: {dup.num_rows:,} duplicate key{'' if dup.num_rows == 1 else 's'} "
            f"({_rows(dup_rows)}), e.g. {shown}",
            rows=dup_rows,
            details={
                "problem": "duplicate",
                "key": names,
                "duplicate_keys": dup.num_rows,
                "rows": dup_rows,
                "examples": [_jsonable(e) if column else list(e) for e in examples],
            },
        )
    )
    return out


# -- accepting findings ----------------------------------------------------------


def widen(schema: Schema, finding: Finding) -> Schema:
    """The schema relaxed just enough that ``finding`` goes away on the same batch.

    What ``tillage alerts accept`` does: a range reaches the observed extreme, a
    domain gains the new values, ``max_missing`` covers the observed share (with
    slack), a length bound the observed length; an unexpected column is added
    (type only) and a missing one removed. A type change or key violation cannot
    be accepted this way (`InputError` says what to do instead). Drift findings
    ``new_values`` and ``missing_ratio`` widen the column's domain and
    ``max_missing`` where it has them (and leave the schema as it is otherwise).
    """
    if finding.dataset != schema.dataset:
        raise InputError(
            f"the finding is about dataset {finding.dataset!r}, the schema about "
            f"{schema.dataset!r}; widen that dataset's schema."
        )
    kind, d = finding.kind, finding.details
    if finding.check == "drift" and kind in ("new_values", "missing_ratio"):
        return _widen_for_drift(schema, finding)
    if finding.check != "schema":
        raise InputError(
            f"a {finding.check} finding of kind {kind} does not widen a schema; "
            "mute it, or refresh the drift reference instead."
        )
    if kind == "type":
        raise InputError(
            f"{finding.subject}: a type change ({d.get('expected')} to {d.get('found')}) cannot "
            "be accepted by widening. Fix the batch to send the schema's type; or, if the "
            f"change is meant, edit the column's type in the schema file to {d.get('found')} "
            "and review its other rules."
        )
    if kind == "unique":
        raise InputError(
            f"{finding.subject}: duplicate or null keys cannot be accepted by widening. "
            "Deduplicate the batch (or ingest it with --mode upsert) and give every row a key; "
            "if the key is wrong, change primary_key in the schema file."
        )
    if finding.column is None:
        raise InputError(f"a {kind} finding names no column; nothing to widen.")
    if kind == "column_unexpected":
        if finding.column in schema.names:
            return schema
        type_text = str(parse_type(str(d["type"])))
        return schema.with_column(
            ColumnSchema(finding.column, type_text, note="accepted as a new column")
        )
    col = schema.column(finding.column)
    if kind == "column_missing":
        if col.name in schema.primary_key:
            raise InputError(
                f"{finding.subject}: a primary-key column cannot go missing; send it, or change "
                "primary_key in the schema file."
            )
        return replace(schema, columns=tuple(c for c in schema.columns if c.name != col.name))
    t = col.arrow_type
    try:
        if kind == "missing":
            limit = max(_slack(float(d["ratio"])), col.max_missing or 0.0)
            return schema.with_column(replace(col, nullable=True, max_missing=limit))
        if kind == "range":
            observed = _coerce(d["observed"], t, "the observed value")
            if d["side"] == "min":
                low = observed if col.min is None else min(col.min, observed)
                return schema.with_column(replace(col, min=low))
            high = observed if col.max is None else max(col.max, observed)
            return schema.with_column(replace(col, max=high))
        if kind == "domain":
            if d.get("truncated"):
                raise InputError(
                    f"{finding.subject}: {d.get('distinct')} new values are too many to list; "
                    "remove the column's domain from the schema file if any value is fine."
                )
            new = [_coerce(v["value"], t, "a new value") for v in d["values"]]
            domain = tuple(_sorted(list(dict.fromkeys([*(col.domain or ()), *new]))))
            return schema.with_column(replace(col, domain=domain))
        if kind == "length":
            observed_len = int(d["observed"])
            if d["side"] == "min":
                return schema.with_column(
                    replace(col, min_length=min(col.min_length or observed_len, observed_len))
                )
            return schema.with_column(
                replace(col, max_length=max(col.max_length or observed_len, observed_len))
            )
    except (_Bad, KeyError, TypeError, ValueError) as e:
        problem = e.problem if isinstance(e, _Bad) else f"missing or bad detail {e}"
        raise InputError(
            f"{finding.subject}: this {kind} finding's details cannot widen the schema "
            f"({problem}); check the batch again and accept the new finding."
        ) from None
    raise InputError(f"{finding.subject}: a {kind} finding cannot be accepted by widening.")


def _widen_for_drift(schema: Schema, finding: Finding) -> Schema:
    """Accepting a drift finding the schema would also flag: new values join the column's
    domain, a higher missing share its ``max_missing``. Unchanged when the schema has no
    such rule for the column."""
    if finding.column is None or finding.column not in schema.names:
        return schema
    col = schema.column(finding.column)
    d = finding.details
    try:
        if finding.kind == "new_values":
            if col.domain is None:
                return schema
            new = [_coerce(v["value"], col.arrow_type, "a new value") for v in d["values"]]
            domain = tuple(_sorted(list(dict.fromkeys([*col.domain, *new]))))
            return schema.with_column(replace(col, domain=domain))
        ratio = float(d["to"])
    except (_Bad, KeyError, TypeError, ValueError) as e:
        problem = e.problem if isinstance(e, _Bad) else f"missing or bad detail {e}"
        raise InputError(
            f"{finding.subject}: this drift finding's details cannot widen the schema "
            f"({problem}); edit the schema file instead."
        ) from None
    limit = 0.0 if not col.nullable else col.max_missing
    if limit is None or ratio <= limit:
        return schema
    return schema.with_column(replace(col, nullable=True, max_missing=_slack(ratio)))


def drift_skipped(schema: Schema) -> set[str]:
    """The columns drift comparison leaves out (``drift: false``: keys, ids, times)."""
    return {c.name for c in schema.columns if not c.drift}


def inferred_roles(
    profile: Profile, key: Sequence[str], dataset: str | None = None
) -> dict[str, Role]:
    """Each column's role as `infer` would give it, without inferring the rest (cheap)."""
    roles: dict[str, Role] = {}
    for col in profile:
        if col.kind == "mixed":
            roles[col.name] = "feature"
            continue
        roles[col.name] = _role(col, col.name in key, dataset)
    return roles


# -- formatting ------------------------------------------------------------------


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _pct(x: float) -> str:
    """A share as a percentage, with enough digits to tell a few rows from none."""
    if x == 0 or x >= 0.001:
        return f"{x:.1%}"
    return f"{x * 100:.2g}%"


def _fmt(v: Any) -> str:
    """A value as people read it in messages."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:,.6g}"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)
