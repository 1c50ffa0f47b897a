"""Mergeable per-column profiles of Arrow tables, built on Apache DataSketches.

A `Profile` summarises a table column by column. Every part of it merges, so
the profile of a dataset version is the merge of its batches' profiles and
monitoring day N costs O(rows of day N), never O(all rows)::

    day = profile_table(batch)                       # one vectorised pass
    running = running.merge(day)                     # exact stats exactly, sketches within error
    Profile.from_bytes(running.to_bytes())           # stored with the commit
    running.quantile("dep_delay", 0.95), running.share("origin", "JFK")

What a column gets depends on its kind (from its Arrow type):

========== ======================================== ===============================
kind        Arrow types                              statistics
========== ======================================== ===============================
int         int8 … uint64                            all numeric ones (below)
float       float16/32/64, decimal (as float64)      numeric, plus NaN and ±inf counts
date        date32, date64 (as days)                 numeric, in epoch days
timestamp   timestamp[unit, tz]                      numeric, in epoch ``unit``
time        time32, time64                           numeric, in ``unit`` since midnight
duration    duration[unit]                           numeric, in ``unit``
bool        bool                                     min/max, mean (share of true),
                                                     distinct, frequent items
string      string, large_string, string_view        min/max (code-point order), lengths
                                                     (characters), distinct, frequent items
other       binary, list, struct, map, …             count and nulls only
null        the Arrow ``null`` type                  count and nulls only
========== ======================================== ===============================

Numeric statistics: exact min/max, mean and variance (merged with Chan et
al.'s parallel formula), a KLL quantile sketch (quantiles at any rank, rank
and CDF of any value), a HyperLogLog distinct count and frequent items.
Dictionary-encoded columns are profiled as their value type. NaN and
infinities are counted apart from nulls and left out of every other
statistic, so min/max, mean and quantiles are always finite. Dates and times
are profiled as integers in their unit and reported back in the column's
type (nanoseconds are shown truncated to microseconds, Python's resolution).

**Frequent items** (a Misra-Gries sketch keyed by each value's text form,
exact while a column has at most `FREQUENT_CAPACITY` distinct values) are
kept for every kind above except other/null, numbers included, so that
low-cardinality numeric columns (ratings, codes, flags) get category shares.
Identifier-like and continuous columns are the exception: a batch of more
than `FREQUENT_CAPACITY` values whose first `CARDINALITY_PROBE` values are
more than `UNIQUE_RATIO` distinct does not track them (`ColumnProfile.frequent`
returns None), which also spares it counting every distinct value exactly.
Merging with a side that does not track them gives a column that does not
either, so a merged sketch always covers all its rows. Whether a column is
categorical, an identifier, a time or a measurement is not decided here, nor by
whether it has frequent items: `ColumnProfile.column_kind` asks
`tillage.core.kinds.column_kind` with the facts the sketches give.

**Merging columns whose type changed** between batches:

- same kind (int32 and int64, string and large_string, float32 and float64):
  merged fully; ``types`` lists every Arrow type seen;
- one side all-null of the Arrow ``null`` type, or without the column at all:
  the other side's statistics are kept and its rows count as nulls (reading
  the merged version gives nulls there too, after schema evolution);
- different kinds (int and string, int and float, timestamps of different
  units): the column becomes kind ``mixed`` with exact count and null counts
  only; its statistics and sketches are dropped, because they do not combine
  (a HyperLogLog hashes 5 and "5" differently, for one). Timestamps whose time
  zones differ merge, and report no time zone.

Sketch errors: KLL ranks are within `ColumnProfile.rank_error` (about 1.3%
at k=200, with 99% confidence); HyperLogLog distinct counts come with bounds
at two standard deviations (about 3.2% at lg_k=12); frequent-item counts
come with guaranteed lower and upper bounds. The sketches are randomised: two
profiles of the same rows agree within those errors, not byte for byte.
Sketch objects are never mutated once inside a profile; merging builds new ones.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.findings import REDACTED
from tillage.core.jsonable import jsonable
from tillage.core.kinds import (
    ID_MIN_DISTINCT,
    ID_UNIQUE_RATIO,
    ISO_PROBE,
    ColumnKind,
    ValueFacts,
    column_kind,
    is_time_text,
)
from tillage.errors import InputError

if TYPE_CHECKING:
    from tillage.core.policy import DatasetPolicy

#: KLL accuracy/size trade-off (DataSketches' default): ~1.3% rank error, a few KiB.
KLL_K = 200
#: HyperLogLog size: 2^12 buckets, ~1.6% relative standard error.
HLL_LG_K = 12
#: Frequent-items map size, as a power of 2; it holds 3/4 of that many items.
FREQUENT_LG_MAX_K = 10
#: Distinct values a frequent-items sketch counts exactly (768).
FREQUENT_CAPACITY = 3 * 2**FREQUENT_LG_MAX_K // 4
#: Leading values of a batch examined to decide whether it looks identifier-like.
CARDINALITY_PROBE = 16384
#: Above this share of distinct values among them, frequent items are not tracked.
UNIQUE_RATIO = 0.5
#: Standard deviations of the distinct-count bounds (2 = about 95% confidence).
DISTINCT_STD_DEVS = 2
#: Quantiles shown by `ColumnProfile.to_dict`.
QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
#: Frequent items shown by `ColumnProfile.to_dict`.
TOP_K = 10

#: Serialized form: magic and format version, then zlib-compressed: the length of
#: the JSON part, the JSON part (exact statistics), the sketches' native bytes.
FORMAT_MAGIC = b"TLPF"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sH")
_BODY_LENGTH = struct.Struct("<I")

TEMPORAL_KINDS = frozenset({"date", "timestamp", "time", "duration"})
NUMERIC_KINDS = frozenset({"int", "float"}) | TEMPORAL_KINDS
SKETCHED_KINDS = NUMERIC_KINDS | {"bool", "string"}

_EPOCH_DATE = dt.date(1970, 1, 1)
_SECONDS_PER_UNIT = {"day": 86400.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


# -- small values ----------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """An estimated quantity with lower and upper bounds."""

    value: float
    lower: float
    upper: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.value, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class FrequentItem:
    """A frequent value with its estimated count and guaranteed count bounds."""

    value: Any
    count: int
    lower: int
    upper: int


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations (M2) of some numbers; merges exactly.

    Merging uses Chan et al.'s parallel formula, written symmetrically so that
    ``a.merge(b)`` equals ``b.merge(a)`` bit for bit; regrouping changes only
    floating-point rounding.
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @staticmethod
    def of(x: np.ndarray[Any, np.dtype[np.float64]]) -> Moments:
        """Moments of a float64 array (two passes: mean, then squared deviations)."""
        if x.size == 0:
            return Moments()
        mean = float(x.mean())
        d = x - mean
        return Moments(int(x.size), mean, float(d @ d))

    def merge(self, other: Moments) -> Moments:
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        mean = (self.n * self.mean + other.n * other.mean) / n
        delta = other.mean - self.mean
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return Moments(n, mean, m2)

    @property
    def variance(self) -> float | None:
        """Population variance (divided by n), or None without values."""
        return self.m2 / self.n if self.n else None


# -- one column ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ColumnProfile:
    """The profile of one column: exact counts and statistics plus sketches.

    Attributes:
        name: the column's name.
        kind: int, float, date, timestamp, time, duration, bool, string, other,
            null, or mixed (kinds changed between merged batches; see the module doc).
        types: every Arrow type seen for the column, as strings, sorted.
        count: rows, nulls included.
        nulls: null values.
        nan / inf: NaN and ±infinite values of float columns; not among ``nulls``
            and left out of every other statistic.
        unit: the unit of temporal kinds ("day", "s", "ms", "us", "ns"), else None.
        tz: the time zone of timestamps, if any.
        raw_min / raw_max: exact extremes as stored: numbers (epoch units for
            temporal kinds), bools or strings; `min` / `max` give them typed.
        moments: count, mean and M2 of the values (epoch units for temporal
            kinds; bools as 0/1); empty for strings and unsketched kinds.
        lengths: moments of string lengths in characters (strings only).
        min_length / max_length: exact string length extremes (strings only).
        kll: KLL quantile sketch of numeric kinds (``datasketches.kll_doubles_sketch``).
        hll: HyperLogLog distinct-count sketch (``datasketches.hll_sketch``).
        frequent_sketch: frequent-items sketch keyed by text form
            (``datasketches.frequent_strings_sketch``), or None when not tracked.
        redacted: why its values were removed (see `Profile.redacted`), else None.
    """

    name: str
    kind: str
    types: tuple[str, ...]
    count: int
    nulls: int
    nan: int = 0
    inf: int = 0
    unit: str | None = None
    tz: str | None = None
    raw_min: Any = None
    raw_max: Any = None
    moments: Moments = field(default_factory=Moments)
    lengths: Moments | None = None
    min_length: int | None = None
    max_length: int | None = None
    kll: Any = None
    hll: Any = None
    frequent_sketch: Any = None
    redacted: str | None = None

    # -- counts and exact statistics --

    @property
    def type(self) -> str:
        """The Arrow type, or the types seen joined with " | " after a type change."""
        return " | ".join(self.types) if self.types else "null"

    @property
    def valid(self) -> int:
        """Values that fed the statistics: not null, not NaN, not infinite."""
        return self.count - self.nulls - self.nan - self.inf

    @property
    def null_ratio(self) -> float:
        return self.nulls / self.count if self.count else 0.0

    @property
    def min(self) -> Any:
        """The smallest value, in the column's type (None without values)."""
        return self._typed(self.raw_min)

    @property
    def max(self) -> Any:
        """The largest value, in the column's type (None without values)."""
        return self._typed(self.raw_max)

    @property
    def mean(self) -> Any:
        """Mean: a float for numbers and bools (share of true), typed for temporal kinds."""
        if self.kind not in NUMERIC_KINDS | {"bool"} or not self.moments.n:
            return None
        if self.kind in TEMPORAL_KINDS:
            return self._typed(round(self.moments.mean))
        return self.moments.mean

    @property
    def variance(self) -> float | None:
        """Population variance, in squared units of the column (epoch units for temporal)."""
        if self.kind not in NUMERIC_KINDS | {"bool"}:
            return None
        return self.moments.variance

    @property
    def stddev(self) -> Any:
        """Population standard deviation: a float, or a timedelta for temporal kinds."""
        var = self.variance
        if var is None:
            return None
        std = float(np.sqrt(var))
        if self.kind in TEMPORAL_KINDS:
            return dt.timedelta(seconds=std * _SECONDS_PER_UNIT[self.unit or "s"])
        return std

    # -- sketch queries (None when the column has no such sketch) --

    @property
    def rank_error(self) -> float | None:
        """KLL's normalized rank error for quantile, rank and CDF queries (99% confidence)."""
        return None if self.kll is None else float(self.kll.normalized_rank_error(False))

    def quantile(self, q: float) -> Any:
        """The value at normalized rank ``q`` (0..1), typed; None for non-numeric or empty."""
        out = self.quantiles([q])
        return None if out is None else out[0]

    def quantiles(self, qs: Sequence[float]) -> list[Any] | None:
        """Values at several normalized ranks, typed."""
        if self.kll is None or self.kll.is_empty():
            return None
        bad = [q for q in qs if not 0.0 <= q <= 1.0]
        if bad:
            raise InputError(f"quantile ranks must be between 0 and 1, got {bad}.")
        found = self.kll.get_quantiles([float(q) for q in qs], True)
        return [self._typed_number(x) for x in found]

    def rank(self, value: Any) -> float | None:
        """Estimated share of values ≤ ``value`` (KLL); None for non-numeric or empty."""
        out = self.cdf([value])
        return None if out is None else out[0]

    def cdf(self, values: Sequence[Any]) -> list[float] | None:
        """Estimated share of values ≤ each of ``values`` (any order), within `rank_error`."""
        if self.kll is None or self.kll.is_empty():
            return None
        points = [self._number(v) for v in values]
        if any(p != p for p in points):
            raise InputError("CDF points must not be NaN.")
        ordered = sorted(set(points))
        if not ordered:
            return []
        shares = self.kll.get_cdf(ordered, True)
        lookup = dict(zip(ordered, shares, strict=False))
        return [float(lookup[p]) for p in points]

    def distinct(self) -> Estimate | None:
        """Estimated distinct values (HyperLogLog), with bounds at `DISTINCT_STD_DEVS`."""
        if self.hll is None:
            return None
        cap = float(self.valid)
        return Estimate(
            min(float(self.hll.get_estimate()), cap),
            min(float(self.hll.get_lower_bound(DISTINCT_STD_DEVS)), cap),
            min(float(self.hll.get_upper_bound(DISTINCT_STD_DEVS)), cap),
        )

    def frequent(self, k: int = TOP_K, min_count: float = 0) -> list[FrequentItem] | None:
        """Up to ``k`` most frequent values, by estimated count; None when not tracked.

        Counts are exact while the merged column has had at most
        `FREQUENT_CAPACITY` distinct values; otherwise each count lies within
        its ``lower`` and ``upper`` bounds. ``min_count`` leaves out rarer values
        (cheaper than converting them all back to the column's type).
        """
        rows = self.frequent_rows()
        if rows is None:
            return None
        if min_count > 0:
            rows = [r for r in rows if r[1] >= min_count]
        rows.sort(key=lambda r: (-r[1], r[0]))
        return [
            FrequentItem(self._from_key(item), int(est), int(lo), int(hi))
            for item, est, lo, hi in rows[:k]
        ]

    def frequent_rows(self) -> list[tuple[str, int, int, int]] | None:
        """The sketch's rows: (key, estimate, lower bound, upper bound)."""
        rows = self._frequent_rows
        return None if rows is None else list(rows)

    @functools.cached_property
    def _frequent_rows(self) -> tuple[tuple[str, int, int, int], ...] | None:
        """Read once: the sketch never changes inside a profile, and reading it costs."""
        if self.frequent_sketch is None:
            return None
        rows: list[tuple[str, int, int, int]] = self.frequent_sketch.get_frequent_items(
            ds.frequent_items_error_type.NO_FALSE_NEGATIVES
        )
        return tuple(rows)

    def exact_counts(self) -> dict[str, int] | None:
        """Every value's key (as the sketch keeps it) with its exact count, or None when
        the profile did not count them all exactly (too many values, or not tracked).

        Keys, not values: comparing two profiles of one kind needs no conversion,
        which costs more than the comparison on columns with thousands of values.
        """
        if self.valid == 0:
            return {}
        rows = self.frequent_rows()
        if rows is None or any(lo != hi for _, _, lo, hi in rows):
            return None
        counts = {key: int(est) for key, est, _, _ in rows}
        return counts if sum(counts.values()) == self.valid else None

    def value_of(self, key: str) -> Any:
        """The column value an `exact_counts` key stands for."""
        return self._from_key(key)

    def share(self, value: Any) -> Estimate | None:
        """Estimated share of ``value`` among the valid values, with bounds.

        None when frequent items are not tracked for the column.
        """
        if self.frequent_sketch is None:
            return None
        if self.valid == 0:
            return Estimate(0.0, 0.0, 0.0)
        key = self._key(value)
        sk, n = self.frequent_sketch, self.valid
        return Estimate(
            sk.get_estimate(key) / n, sk.get_lower_bound(key) / n, sk.get_upper_bound(key) / n
        )

    # -- merging --

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """Combine with the profile of other rows of the same column (see the module doc)."""
        if other.name != self.name:
            raise InputError(
                f"cannot merge the profiles of different columns {self.name!r} and {other.name!r}."
            )
        counts: dict[str, Any] = {
            "types": tuple(sorted(set(self.types) | set(other.types))),
            "count": self.count + other.count,
            "nulls": self.nulls + other.nulls,
            "nan": self.nan + other.nan,
            "inf": self.inf + other.inf,
        }
        if other.kind == "null":
            return replace(self, **counts)
        if self.kind == "null":
            return replace(other, **counts)
        if (self.kind, self.unit) != (other.kind, other.unit) or self.kind == "mixed":
            return ColumnProfile(name=self.name, kind="mixed", **counts)
        if self.kind not in SKETCHED_KINDS:
            return ColumnProfile(name=self.name, kind=self.kind, **counts)
        return ColumnProfile(
            name=self.name,
            kind=self.kind,
            unit=self.unit,
            tz=self.tz if self.tz == other.tz else None,
            **counts,
            raw_min=_extreme(min, self.raw_min, other.raw_min),
            raw_max=_extreme(max, self.raw_max, other.raw_max),
            moments=self.moments.merge(other.moments),
            lengths=(
                self.lengths.merge(other.lengths)
                if self.lengths is not None and other.lengths is not None
                else self.lengths or other.lengths
            ),
            min_length=_extreme(min, self.min_length, other.min_length),
            max_length=_extreme(max, self.max_length, other.max_length),
            kll=_merge_kll(self.kll, other.kll),
            hll=_merge_hll(self.hll, other.hll),
            frequent_sketch=_merge_frequent(self.frequent_sketch, other.frequent_sketch),
        )

    # -- output --

    def to_dict(self, top: int = TOP_K) -> dict[str, Any]:
        """JSON-ready summary; temporal values as ISO strings, durations in seconds."""
        qs = self.quantiles(list(QUANTILES.values()))
        distinct = self.distinct()
        frequent = self.frequent(top)
        return {
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "null_ratio": self.null_ratio,
            "nan": self.nan,
            "inf": self.inf,
            "min": jsonable(self.min),
            "max": jsonable(self.max),
            "mean": jsonable(self.mean),
            "stddev": jsonable(self.stddev),
            "quantiles": (
                None if qs is None else {k: jsonable(v) for k, v in zip(QUANTILES, qs, strict=True)}
            ),
            "quantile_rank_error": self.rank_error,
            "distinct": None if distinct is None else distinct.to_dict(),
            "frequent": (
                None
                if frequent is None
                else [
                    {
                        "value": jsonable(f.value),
                        "count": f.count,
                        "lower": f.lower,
                        "upper": f.upper,
                    }
                    for f in frequent
                ]
            ),
            "length": (
                None
                if self.lengths is None or not self.lengths.n
                else {"min": self.min_length, "mean": self.lengths.mean, "max": self.max_length}
            ),
            **({"redacted": self.redacted} if self.redacted else {}),
        }

    def without_values(self, why: str) -> ColumnProfile:
        """This column's counts, nulls and distinct count only: no extremes, moments,
        lengths, quantiles or frequent values (each can show one record's value)."""
        return replace(
            self,
            raw_min=None,
            raw_max=None,
            moments=Moments(),
            lengths=None,
            min_length=None,
            max_length=None,
            kll=None,
            frequent_sketch=None,
            redacted=why,
        )

    # -- what kind of column it is --

    def value_facts(self) -> ValueFacts:
        """What the sketches say of the values, for `column_kind` (distinct: HyperLogLog's
        estimate; the top share and ISO-time probe from the frequent items, if tracked)."""
        distinct = self.distinct()
        # The top share only tells a named identifier from a measurement, which needs
        # `ID_MIN_DISTINCT` values of an int, string or timestamp column; reading the
        # frequent items costs, so other columns skip it.
        rows = (
            self.frequent_rows()
            if self.kind in ("int", "string", "timestamp")
            and distinct is not None
            and distinct.value >= ID_MIN_DISTINCT
            else None
        )
        top = max((est for _, est, _, _ in rows), default=0) if rows else None
        ends = [self.raw_min, self.raw_max]
        time_text = self.kind == "string" and self.valid > 0 and is_time_text(ends)
        if time_text:  # the ends are times: so must the frequent values be
            probe = [*ends, *(i.value for i in self.frequent(ISO_PROBE) or [])]
            time_text = is_time_text(probe)
        return ValueFacts(
            valid=self.valid,
            distinct=None if distinct is None else distinct.value,
            top_share=top / self.valid if top is not None and self.valid else None,
            low=self.raw_min,
            high=self.raw_max,
            time_text=time_text,
        )

    def column_kind(
        self,
        dataset: str | None = None,
        *,
        identifier_ratio: float = ID_UNIQUE_RATIO,
        max_categories: int = 0,
        times: bool = True,
    ) -> ColumnKind:
        """The column's kind (`tillage.core.kinds.column_kind`) from this profile."""
        return column_kind(
            self.name,
            self._family_type(),
            self.value_facts(),
            dataset=dataset,
            identifier_ratio=identifier_ratio,
            max_categories=max_categories,
            times=times,
        )

    def _family_type(self) -> pa.DataType:
        """An Arrow type of the column's kind (``mixed``, ``other``: null, no kind)."""
        if self.kind in TEMPORAL_KINDS:
            return self._arrow_type()
        simple = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
        return simple.get(self.kind, pa.string() if self.kind == "string" else pa.null())

    # -- conversions between stored numbers, keys and the column's type --

    def _arrow_type(self) -> pa.DataType:
        """The Arrow type temporal values are reported in."""
        unit = self.unit or "us"
        if self.kind == "timestamp":
            return pa.timestamp(unit, self.tz)
        if self.kind == "time":
            return pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
        if self.kind == "duration":
            return pa.duration(unit)
        return pa.date32()

    def _typed(self, raw: Any) -> Any:
        """A stored value (epoch number for temporal kinds) in the column's type."""
        if raw is None or self.kind not in TEMPORAL_KINDS:
            return raw
        if self.kind == "date":
            return _EPOCH_DATE + dt.timedelta(days=int(raw))
        typ = self._arrow_type()
        scalar = pa.scalar(int(raw), _storage_type(typ)).cast(typ)
        if self.unit == "ns":  # Python's datetime types stop at microseconds
            coarse = _with_unit(typ, "us")
            scalar = scalar.cast(coarse, safe=False)
        return scalar.as_py()

    def _typed_number(self, x: float) -> Any:
        """A number from the KLL sketch in the column's type."""
        if self.kind == "float":
            return float(x)
        if self.kind == "int":
            return round(x)
        return self._typed(round(x))

    def _raw(self, value: Any) -> int:
        """A temporal value as its stored epoch number."""
        if self.kind == "date":
            if isinstance(value, dt.datetime):
                value = value.date()
            return int((value - _EPOCH_DATE).days)
        typ = self._arrow_type()
        return int(pa.scalar(value, typ).cast(_storage_type(typ)).as_py())

    def _number(self, value: Any) -> float:
        """A query value as the number the KLL sketch holds."""
        if self.kind in TEMPORAL_KINDS:
            return float(self._raw(value))
        return float(value)

    def _key(self, value: Any) -> str:
        """A query value as its frequent-items key (the text form profiling used)."""
        if self.kind == "string":
            return str(value)
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "float":
            return str(pa.array([float(value)], pa.float64()).cast(pa.string())[0].as_py())
        if self.kind == "int":
            return str(int(value))
        return str(self._raw(value))

    def _from_key(self, key: str) -> Any:
        """A frequent-items key back in the column's type."""
        if self.kind == "string":
            return key
        if self.kind == "bool":
            return key == "true"
        if self.kind == "float":
            return float(key)
        if self.kind == "int":
            return int(key)
        return self._typed(int(key))


# -- a whole table ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Profile:
    """Profiles of a table's columns; merges across batches (see the module doc).

    Attributes:
        rows: rows profiled.
        columns: column name -> its profile, in column order. Every column's
            ``count`` equals ``rows`` (a column absent from a merged batch
            counts that batch's rows as nulls). Treat it as read-only.
    """

    rows: int
    columns: dict[str, ColumnProfile]

    @staticmethod
    def empty() -> Profile:
        """The profile of no rows: the identity of `merge`."""
        return Profile(0, {})

    def merge(self, other: Profile) -> Profile:
        """The profile of both profiles' rows together.

        Counts, nulls, min/max, mean and variance merge exactly (up to
        floating-point rounding for mean and variance); sketches within their
        error. Columns present on one side only are kept, in this profile's
        column order, then ``other``'s new ones. Associative and commutative
        up to sketch error (and column order).
        """
        columns: dict[str, ColumnProfile] = {}
        for name in [*self.columns, *(n for n in other.columns if n not in self.columns)]:
            ours = self.columns.get(name) or _absent(name, self.rows)
            theirs = other.columns.get(name) or _absent(name, other.rows)
            columns[name] = ours.merge(theirs)
        return Profile(self.rows + other.rows, columns)

    @staticmethod
    def merge_all(profiles: Iterable[Profile]) -> Profile:
        """The merge of any number of profiles (the empty profile for none)."""
        return functools.reduce(Profile.merge, profiles, Profile.empty())

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            have = ", ".join(self.columns) or "none"
            raise InputError(f"no column {name!r} in this profile (columns: {have}).") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns.values())

    # The queries later checks need, by column name; see `ColumnProfile`.

    def quantile(self, column: str, q: float) -> Any:
        return self[column].quantile(q)

    def quantiles(self, column: str, qs: Sequence[float]) -> list[Any] | None:
        return self[column].quantiles(qs)

    def rank(self, column: str, value: Any) -> float | None:
        return self[column].rank(value)

    def cdf(self, column: str, values: Sequence[Any]) -> list[float] | None:
        return self[column].cdf(values)

    def distinct(self, column: str) -> Estimate | None:
        return self[column].distinct()

    def frequent(
        self, column: str, k: int = TOP_K, min_count: float = 0
    ) -> list[FrequentItem] | None:
        return self[column].frequent(k, min_count)

    def share(self, column: str, value: Any) -> Estimate | None:
        return self[column].share(value)

    # -- output and storage --

    def redacted(self, hidden: DatasetPolicy | None) -> Profile:
        """This profile as a principal who may not see ``hidden``'s values sees it.

        Non-public columns of a private dataset keep rows, counts, nulls and
        distinct counts; their values (extremes, moments, quantiles, top values,
        lengths) are removed and each says ``redacted: private column``. Public
        columns stay whole. The result is for showing, not for merging or storing.
        """
        if hidden is None:
            return self
        private = set(hidden.private_columns(list(self.columns)))
        return Profile(
            self.rows,
            {n: c.without_values(REDACTED) if n in private else c for n, c in self.columns.items()},
        )

    def to_dict(self, top: int = TOP_K) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output: rows and a summary per column."""
        return {"rows": self.rows, "columns": {n: c.to_dict(top) for n, c in self.columns.items()}}

    def to_bytes(self) -> bytes:
        """Compact, versioned form: the exact statistics as JSON and native sketches, zlib'd.

        A profile of a year of flights (336,776 rows, 20 columns) takes about 60 KB.
        """
        blobs: list[bytes] = []
        columns = [_column_state(c, blobs) for c in self.columns.values()]
        body = json.dumps(
            {"rows": self.rows, "columns": columns, "blobs": [len(b) for b in blobs]},
            separators=(",", ":"),
            allow_nan=False,
        ).encode()
        payload = b"".join([_BODY_LENGTH.pack(len(body)), body, *blobs])
        return _HEADER.pack(FORMAT_MAGIC, FORMAT_VERSION) + zlib.compress(payload, 1)

    @staticmethod
    def from_bytes(data: bytes) -> Profile:
        """Read what `to_bytes` wrote; `InputError` for anything else or a newer format."""
        if len(data) < _HEADER.size or data[:4] != FORMAT_MAGIC:
            raise InputError(
                "these bytes are not a tillage profile (no TLPF header); "
                "profile the data again with profile_table()."
            )
        _, version = _HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            raise InputError(
                f"this profile is in format version {version}, but this tillage reads "
                f"version {FORMAT_VERSION} only; upgrade tillage, or profile the data again."
            )
        try:
            payload = zlib.decompress(data[_HEADER.size :])
            (size,) = _BODY_LENGTH.unpack_from(payload)
            start = _BODY_LENGTH.size
            state = json.loads(payload[start : start + size])
            blobs: list[bytes] = []
            offset = start + size
            for length in state["blobs"]:
                blobs.append(payload[offset : offset + length])
                offset += length
            if offset != len(payload):
                raise ValueError(f"{len(payload) - offset} bytes unaccounted for")
            columns = [_column_from_state(c, blobs) for c in state["columns"]]
            return Profile(int(state["rows"]), {c.name: c for c in columns})
        except (
            zlib.error,
            struct.error,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            RuntimeError,
        ) as e:
            raise InputError(
                f"this tillage profile is corrupt or truncated ({e}); profile the data again."
            ) from None


# -- profiling -------------------------------------------------------------------


def profile_table(table: pa.Table | pa.RecordBatch) -> Profile:
    """Profile every column of an Arrow table in one vectorised pass.

    Costs O(rows): values reach the sketches as numpy arrays (KLL) or as one
    entry per distinct value with its count (HyperLogLog, frequent items);
    only identifier-like batches feed HyperLogLog value by value.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    names = table.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"the table has duplicate column names {dupes}; rename them before profiling."
        )
    columns = {n: profile_column(n, table.column(i)) for i, n in enumerate(names)}
    return Profile(table.num_rows, columns)


def profile_column(name: str, values: pa.Array | pa.ChunkedArray) -> ColumnProfile:
    """Profile one column (see the module doc for what each kind gets)."""
    if isinstance(values, pa.Array):
        values = pa.chunked_array([values], values.type)
    arrow_type = values.type
    if pa.types.is_dictionary(arrow_type):
        values = values.cast(arrow_type.value_type)
    if pa.types.is_string_view(values.type):  # few Arrow kernels take views yet
        values = values.cast(pa.large_string())
    kind, unit, tz = _family(values.type)
    base = ColumnProfile(
        name=name,
        kind=kind,
        types=(str(arrow_type),),
        count=len(values),
        nulls=values.null_count,
        unit=unit,
        tz=tz,
    )
    if kind not in SKETCHED_KINDS:
        return base
    if kind == "float":  # reads nulls as NaN, which is cheaper than dropping them
        return _profile_numbers(base, values)
    present = pc.drop_null(values) if base.nulls else values
    if kind == "bool":
        return _profile_bools(base, present)
    if kind == "string":
        return _profile_strings(base, present)
    return _profile_numbers(base, present)


def _family(t: pa.DataType) -> tuple[str, str | None, str | None]:
    """(kind, unit, time zone) of an Arrow type; kind and unit decide mergeability."""
    if pa.types.is_boolean(t):
        return "bool", None, None
    if pa.types.is_integer(t):
        return "int", None, None
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float", None, None
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string", None, None
    if pa.types.is_date(t):
        return "date", "day", None
    if pa.types.is_timestamp(t):
        return "timestamp", t.unit, t.tz
    if pa.types.is_time(t) or pa.types.is_duration(t):
        return ("time" if pa.types.is_time(t) else "duration"), t.unit, None
    if pa.types.is_null(t):
        return "null", None, None
    return "other", None, None


def _profile_numbers(base: ColumnProfile, present: pa.ChunkedArray) -> ColumnProfile:
    """Ints, floats and temporal kinds: moments, extremes, KLL, HLL, frequent items.

    ``present`` holds no nulls, except for floats, whose nulls read as NaN.
    """
    nan = inf = 0
    if base.kind == "float":
        if not pa.types.is_floating(present.type):  # decimals
            present = present.cast(pa.float64())
        x = np.asarray(present.to_numpy(zero_copy_only=False), dtype=np.float64)
        finite = np.isfinite(x)
        bad = x.size - int(np.count_nonzero(finite))
        if bad:
            nan = int(np.count_nonzero(np.isnan(x))) - base.nulls
            inf = bad - base.nulls - nan
            x = x[finite]
        keys: np.ndarray[Any, Any] = x
        lo, hi = (float(x.min()), float(x.max())) if x.size else (None, None)
    else:
        if base.kind in TEMPORAL_KINDS:
            if base.kind == "date":
                present = present.cast(pa.date32())
            present = present.cast(_storage_type(present.type))
        native = present.to_numpy()
        lo, hi = (native.min().item(), native.max().item()) if native.size else (None, None)
        keys = native
        x = native.astype(np.float64)
    kll = ds.kll_doubles_sketch(KLL_K)
    if x.size:
        # The binding rejects read-only arrays, which is what Arrow's zero-copy gives.
        kll.update(x if x.flags.writeable else x.copy())
    hll, frequent = _distinct_and_frequent(pa.chunked_array([keys]), text=False)
    return replace(
        base,
        nan=nan,
        inf=inf,
        raw_min=lo,
        raw_max=hi,
        moments=Moments.of(x),
        kll=kll,
        hll=hll,
        frequent_sketch=frequent,
    )


def _profile_bools(base: ColumnProfile, present: pa.ChunkedArray) -> ColumnProfile:
    """Bools: counts of true and false give every statistic exactly."""
    n = len(present)
    n_true = int(pc.sum(present).as_py() or 0)
    n_false = n - n_true
    hll = ds.hll_sketch(HLL_LG_K, ds.tgt_hll_type.HLL_8)
    frequent = ds.frequent_strings_sketch(FREQUENT_LG_MAX_K)
    for flag, weight in ((True, n_true), (False, n_false)):
        if weight:
            hll.update(int(flag))
            frequent.update("true" if flag else "false", weight)
    return replace(
        base,
        raw_min=None if not n else n_false == 0,
        raw_max=None if not n else n_true > 0,
        moments=Moments(n, n_true / n, n_true * n_false / n) if n else Moments(),
        hll=hll,
        frequent_sketch=frequent,
    )


def _profile_strings(base: ColumnProfile, present: pa.ChunkedArray) -> ColumnProfile:
    """Strings: extremes, lengths in characters, HLL, frequent items."""
    lengths = np.asarray(pc.utf8_length(present).to_numpy(), dtype=np.float64)
    extremes = pc.min_max(present)
    hll, frequent = _distinct_and_frequent(present, text=True)
    return replace(
        base,
        raw_min=extremes["min"].as_py(),
        raw_max=extremes["max"].as_py(),
        lengths=Moments.of(lengths),
        min_length=int(lengths.min()) if lengths.size else None,
        max_length=int(lengths.max()) if lengths.size else None,
        hll=hll,
        frequent_sketch=frequent,
    )


def _distinct_and_frequent(values: pa.ChunkedArray, *, text: bool) -> tuple[Any, Any]:
    """A HyperLogLog sketch of ``values`` and a frequent-items sketch (None if not tracked).

    DataSketches' Python HLL and frequent-items sketches take one value per
    call, so the values are first counted by Arrow (one entry per distinct
    value, with its count) and only those reach Python. Identifier-like
    batches, where that count would cost more than it saves, feed HLL value by
    value and do not track frequent items (see the module doc).
    """
    hll = ds.hll_sketch(HLL_LG_K, ds.tgt_hll_type.HLL_8)
    if _looks_unique(values):
        for chunk in values.chunks:
            _feed(hll.update, _python_values(chunk))
        return hll, None
    frequent = ds.frequent_strings_sketch(FREQUENT_LG_MAX_K)
    if len(values) == 0:
        return hll, frequent
    counted = pc.value_counts(values)
    distinct = counted.field("values")
    _feed(hll.update, _python_values(distinct))
    keys = distinct if text else distinct.cast(pa.string())
    _feed(frequent.update, _python_values(keys), counted.field("counts").to_pylist())
    return hll, frequent


def _looks_unique(values: pa.ChunkedArray) -> bool:
    """Whether a batch looks identifier-like: over `UNIQUE_RATIO` distinct in its first rows.

    A contiguous run of rows, not a spread-out sample: it measures how much
    values repeat whatever the row order (a time column sorted by time repeats
    within a run; a sample spread over a year would look unique), and a table
    repeated end to end does not fool it the way evenly spaced positions do.
    """
    n = len(values)
    if n <= FREQUENT_CAPACITY:
        return False
    probe = values.slice(0, CARDINALITY_PROBE)
    return bool(pc.count_distinct(probe).as_py() > UNIQUE_RATIO * len(probe))


def _python_values(arr: pa.Array) -> Iterable[Any]:
    """An Arrow array's values as Python objects for the sketches, the fastest way."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
    values = arr.to_numpy()
    if values.dtype == np.uint64:
        # The binding hashes a Python int as an int64, but one above 2^63 silently
        # as a float; reinterpreting the bits keeps distinct values distinct.
        values = values.view(np.int64)
    return values.tolist()  # type: ignore[no-any-return]


def _feed(update: Callable[..., Any], *columns: Iterable[Any]) -> None:
    """Call a sketch's ``update`` once per row of ``columns`` at C speed (no Python loop)."""
    deque(map(update, *columns), maxlen=0)


# -- merging and storing sketches ------------------------------------------------


def _absent(name: str, rows: int) -> ColumnProfile:
    """A column missing from a batch: its rows count as nulls."""
    return ColumnProfile(name=name, kind="null", types=(), count=rows, nulls=rows)


def _extreme(pick: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)


def _merge_kll(a: Any, b: Any) -> Any:
    out = ds.kll_doubles_sketch(KLL_K)
    for sk in (a, b):
        if sk is not None:
            out.merge(sk)
    return out


def _merge_hll(a: Any, b: Any) -> Any:
    union = ds.hll_union(HLL_LG_K)
    for sk in (a, b):
        if sk is not None:
            union.update(sk)
    return union.get_result(ds.tgt_hll_type.HLL_8)


def _merge_frequent(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    out = ds.frequent_strings_sketch(FREQUENT_LG_MAX_K)
    out.merge(a)
    out.merge(b)
    return out


_SKETCHES: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    # attribute: (serializer method, deserializer)
    "kll": ("serialize", ds.kll_doubles_sketch.deserialize),
    "hll": ("serialize_compact", ds.hll_sketch.deserialize),
    "frequent_sketch": ("serialize", ds.frequent_strings_sketch.deserialize),
}
_EXACT = ("name", "kind", "types", "count", "nulls", "nan", "inf", "unit", "tz")
_OPTIONAL = ("raw_min", "raw_max", "min_length", "max_length")


def _column_state(col: ColumnProfile, blobs: list[bytes]) -> dict[str, Any]:
    """A column's JSON state; its sketches go to ``blobs`` and are referred to by index."""
    state: dict[str, Any] = {k: getattr(col, k) for k in (*_EXACT, *_OPTIONAL)}
    state["types"] = list(col.types)
    state["moments"] = [col.moments.n, col.moments.mean, col.moments.m2]
    state["lengths"] = (
        None if col.lengths is None else [col.lengths.n, col.lengths.mean, col.lengths.m2]
    )
    for attr, (method, _) in _SKETCHES.items():
        sketch = getattr(col, attr)
        if sketch is None:
            state[attr] = None
        else:
            state[attr] = len(blobs)
            blobs.append(getattr(sketch, method)())
    return state


def _column_from_state(state: dict[str, Any], blobs: list[bytes]) -> ColumnProfile:
    values: dict[str, Any] = {k: state[k] for k in (*_EXACT, *_OPTIONAL)}
    values["types"] = tuple(state["types"])
    values["moments"] = _moments(state["moments"])
    values["lengths"] = None if state["lengths"] is None else _moments(state["lengths"])
    for attr, (_, load) in _SKETCHES.items():
        index = state[attr]
        values[attr] = None if index is None else load(blobs[index])
    return ColumnProfile(**values)


def _moments(triple: list[Any]) -> Moments:
    n, mean, m2 = triple
    return Moments(int(n), float(mean), float(m2))


# -- Arrow helpers ---------------------------------------------------------------


def _storage_type(t: pa.DataType) -> pa.DataType:
    """The integer type a temporal type is stored as (date32, time32: 32 bits)."""
    return pa.int32() if t.bit_width == 32 else pa.int64()


def _with_unit(t: pa.DataType, unit: str) -> pa.DataType:
    if pa.types.is_timestamp(t):
        return pa.timestamp(unit, t.tz)
    if pa.types.is_time(t):
        return pa.time64(unit)
    return pa.duration(unit)
