"""Column kinds: what a column's values are, decided in one place.

Schema inference (roles, domains), drift (which test a column gets) and the
label-issue model (how a feature is encoded) all ask the same question of a
column: are its values measurements, categories, identifiers, times or free
text? `column_kind` answers it from the column's Arrow type and a few facts
about its values (`ValueFacts`): a profile's sketches give them for a version
(`ColumnProfile.value_facts`), `value_facts` computes them for an Arrow column,
exactly up to `SAMPLE_ROWS` values. The thresholds are the named constants below.

Kind         what the values are                         what follows
============ =========================================== ===============================
numeric      measurements: numbers, durations, times of   ranges, quantile (KS) drift,
             day                                          numbers in a model
categorical  a small set of values: strings, bools, and   domains, share drift, one-hot
             numbers with at most ``max_categories``
             distinct values
identifier   values that name things (near-unique, or     no range, domain or value drift;
             many, none common, named like an id)         dropped from a model
time         dates, timestamps, ISO dates/times stored    no learned range, no value drift
             as text, ints named like a date part
text         strings averaging `TEXT_MIN_WORDS` words      TF-IDF in a model
other        binary, nested, null type, no values         counts and nulls only
============ =========================================== ===============================

Text needs the words of the values, which only `value_facts` counts; from a
profile, free text is an identifier when near-unique (as in a schema: no domain,
no value drift) and categorical otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa

#: A column is an identifier when its distinct count reaches this share of its values
#: (the default of ``quality.drift.identifier_ratio``) ...
ID_UNIQUE_RATIO = 0.95
#: ... and it has at least this many values (a few rows are all distinct by chance).
ID_MIN_VALUES = 100
#: Identifiers by their spread: at least this many distinct values ...
ID_MIN_DISTINCT = 100
#: ... none of them on more than this share of the rows (a schedule's busiest minute holds
#: 2%, the commonest flight distance 3%, the busiest flight number 0.4% of a month) ...
ID_MAX_TOP_SHARE = 0.01
#: ... and a name that says so: its last word is one of these.
ID_NAME_WORDS = frozenset({"id", "ids", "uuid", "guid", "key", "no", "nr", "num", "number", "code"})
#: Few values: at most this many distinct ones (a schema closes a domain of at most this
#: many; a model one-hot encodes strings with at most this many) ...
FEW_VALUES = 50
#: ... or at most this share of distinct values among the values (each value seen about
#: 20 times on average); a schema's domain needs both, a model's one-hot encoding either.
FEW_VALUES_RATIO = 0.05
#: Numbers with at most this many distinct values are categories to drift (ratings,
#: codes); the default of ``quality.drift.max_categories``.
MAX_NUMERIC_CATEGORIES = 20
#: Strings averaging at least this many words are free text.
TEXT_MIN_WORDS = 3.0
#: Values of a string column checked for being ISO dates or times, at most.
ISO_PROBE = 100
#: `value_facts` counts values exactly up to this many; a longer column's distinct
#: count, top share and words come from a seeded uniform sample of this many values
#: (its count and extremes stay exact). Counting every value of a million made kinds
#: cost seconds, and a sample this size decides the same kinds on the project's data
#: (NYC flights' 336,776 rows, `tests/test_selection_fixes.py`).
SAMPLE_ROWS = 1 << 17
#: Date parts recognised by name: the bounds their values must fit, and whether those
#: bounds become a schema's range (not for years, which go on).
DATE_PARTS: dict[str, tuple[int, int, bool]] = {
    "year": (1, 9999, False),
    "month": (1, 12, True),
    "day": (1, 31, True),
    "hour": (0, 23, True),
    "minute": (0, 59, True),
    "second": (0, 59, True),
}

_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


class ColumnKind(StrEnum):
    """What a column's values are (see the module doc)."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    IDENTIFIER = "identifier"
    TIME = "time"
    TEXT = "text"
    OTHER = "other"


@dataclass(frozen=True)
class ValueFacts:
    """What `column_kind` needs to know of a column's values.

    Attributes:
        valid: values present (not null, not NaN).
        distinct: distinct values present, exact or estimated; None if unknown.
        top_share: share of the present values held by the most frequent one;
            None if not tracked (too many values to count).
        low / high: smallest and largest value (ints as ints); None if unknown.
        time_text: strings only: the probed values are all ISO dates or times.
        mean_words: strings only: mean number of words per value; None if not counted.
    """

    valid: int
    distinct: float | None = None
    top_share: float | None = None
    low: Any = None
    high: Any = None
    time_text: bool = False
    mean_words: float | None = None


def column_kind(
    name: str,
    arrow_type: pa.DataType,
    facts: ValueFacts,
    *,
    dataset: str | None = None,
    identifier_ratio: float = ID_UNIQUE_RATIO,
    max_categories: int = 0,
    times: bool = True,
) -> ColumnKind:
    """The kind of column ``name`` (of ``dataset``, whose name can say what an id is).

    ``max_categories``: numbers with at most this many distinct values are
    categorical (drift compares ratings and codes as categories); 0 keeps every
    number numeric (schemas and models treat them as numbers).
    ``times=False`` judges dates, timestamps and date parts by their values, as the
    numbers they are stored as (drift compares the time columns a caller does not
    skip); times stored as text stay times (they compare as neither).
    """
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    instant = pa.types.is_date(t) or pa.types.is_timestamp(t)
    if instant and times:
        return ColumnKind.TIME
    textual = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    numeric = (
        instant
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_time(t)
        or pa.types.is_duration(t)
    )
    if facts.valid == 0 or not (textual or numeric or pa.types.is_boolean(t)):
        return ColumnKind.OTHER
    if pa.types.is_boolean(t):
        return ColumnKind.CATEGORICAL
    if textual:
        if facts.time_text:
            return ColumnKind.TIME
        if _identifier(name, facts, dataset, identifier_ratio, unique=False):
            return ColumnKind.IDENTIFIER
        distinct = facts.distinct
        if distinct is not None and (
            distinct <= FEW_VALUES or distinct <= FEW_VALUES_RATIO * facts.valid
        ):
            return ColumnKind.CATEGORICAL
        if facts.mean_words is not None and facts.mean_words >= TEXT_MIN_WORDS:
            return ColumnKind.TEXT
        if _identifier(name, facts, dataset, identifier_ratio, named=False):
            return ColumnKind.IDENTIFIER
        return ColumnKind.CATEGORICAL
    if pa.types.is_integer(t):
        if times and date_part_of(name, facts.low, facts.high) is not None:
            return ColumnKind.TIME
        if _identifier(name, facts, dataset, identifier_ratio):
            return ColumnKind.IDENTIFIER
    stamps = pa.types.is_timestamp(t)
    if stamps and _identifier(name, facts, dataset, identifier_ratio, named=False):
        return ColumnKind.IDENTIFIER
    if facts.distinct is not None and facts.distinct <= max_categories + 0.5:
        return ColumnKind.CATEGORICAL
    return ColumnKind.NUMERIC


def _identifier(
    name: str,
    facts: ValueFacts,
    dataset: str | None,
    ratio: float,
    *,
    unique: bool = True,
    named: bool = True,
) -> bool:
    """Whether an int or string column's values name things rather than measure them.

    Two ways, both needing `ID_MIN_VALUES` values: **near-unique** (distinct at least
    ``ratio`` of the values); or **many values, none common, and named like an
    identifier**: at least `ID_MIN_DISTINCT` distinct values, none holding more than
    `ID_MAX_TOP_SHARE` of the rows, and a name that says so (`names_an_identifier`).
    Flight and tail numbers are the second kind: thousands of values, each a few dozen
    rows. The data alone cannot tell them from a schedule time such as
    ``sched_arr_time`` (as many values, as flat), so the name breaks the tie; a column
    with a common value (``distance``, ``hour``) is a measurement whatever its name.
    ``unique`` and ``named`` say which ways count.
    """
    distinct = facts.distinct
    if distinct is None or facts.valid < ID_MIN_VALUES:
        return False
    if unique and distinct >= ratio * facts.valid:
        return True
    if not named or distinct < ID_MIN_DISTINCT:
        return False
    if facts.top_share is not None and facts.top_share > ID_MAX_TOP_SHARE:
        return False
    return names_an_identifier(name, dataset)


def names_an_identifier(name: str, dataset: str | None = None) -> bool:
    """Whether a column's name says it holds identifiers: its last word is one of
    `ID_NAME_WORDS` (``flight_id``, ``order no``, ``userId``), it ends in ``num``
    (``tailnum``), or it names the thing a row of ``dataset`` is (``flight`` in
    ``flights``). ``paid`` or ``bid`` are words of their own, not ids."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    if not words:
        return False
    last = words[-1]
    if last in ID_NAME_WORDS or last.endswith("num"):
        return True
    if dataset:
        entity = dataset.lower()
        return last in (entity, entity.removesuffix("s"), entity.removesuffix("es"))
    return False


def date_part_of(name: str, low: Any = None, high: Any = None) -> str | None:
    """The date part (`DATE_PARTS`) an int column's name says it holds, the name or its
    last word (``month``, ``dep_hour``), when its values ``low``..``high`` fit that part."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    part = words[-1] if words and words[-1] in DATE_PARTS else None
    if part is None or low is None or high is None:
        return None
    lo, hi, _ = DATE_PARTS[part]
    return part if lo <= low and high <= hi else None


def is_time_text(values: Iterable[Any]) -> bool:
    """Whether every one of ``values`` is an ISO 8601 date or timestamp as text
    (``2013-01-01``, ``2013-01-01T05:00:00Z``) naming a real day; False if none."""
    seen = False
    for value in values:
        m = _ISO_TIME.fullmatch(value) if isinstance(value, str) else None
        if m is None:
            return False
        try:
            dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return False
        seen = True
    return seen


def value_facts(values: pa.Array | pa.ChunkedArray) -> ValueFacts:
    """`ValueFacts` of an Arrow column, for feature tables (whole datasets have profiles).

    Exact up to `SAMPLE_ROWS` present values. Beyond, the count of values and the
    smallest and largest stay exact, and the rest comes from a uniform sample of
    `SAMPLE_ROWS` values drawn with a fixed seed (the same column gives the same
    facts): the top share and mean words are the sample's, the distinct count is
    extrapolated from the sample's (`_distinct_from_sample`), which is exact for
    columns whose values are equally frequent, unique or few, and low for skewed
    ones; a kind can only change where a column lies near a threshold.
    """
    import pyarrow.compute as pc

    if isinstance(values, pa.Array):
        values = pa.chunked_array([values])
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    present = pc.drop_null(values)
    if pa.types.is_floating(present.type):
        present = present.filter(pc.invert(pc.is_nan(present)))
    n = len(present)
    t = present.type
    if not (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_temporal(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    ):
        return ValueFacts(valid=n)  # nothing `column_kind` reads beyond the count
    if n == 0:
        return ValueFacts(valid=0)
    sample = present if n <= SAMPLE_ROWS else present.take(_sample_rows(n, SAMPLE_ROWS))
    counts = pc.value_counts(sample)
    tally = counts.field("counts")
    order = pc.sort_indices(tally, sort_keys=[("", "descending")])
    top = counts.take(order[:ISO_PROBE]).field("values").to_pylist()
    textual = pa.types.is_string(t) or pa.types.is_large_string(t)
    low = high = None
    if pa.types.is_integer(t) or textual:
        extremes = pc.min_max(present)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
    words = None
    if textual:
        words = pc.mean(pc.list_value_length(pc.utf8_split_whitespace(sample))).as_py()
    distinct = (
        len(counts) if n <= SAMPLE_ROWS else _distinct_from_sample(len(counts), len(sample), n)
    )
    return ValueFacts(
        valid=n,
        distinct=distinct,
        top_share=pc.max(tally).as_py() / len(sample),
        low=low,
        high=high,
        time_text=textual and is_time_text([low, high, *top]),
        mean_words=words,
    )


def _sample_rows(n: int, size: int) -> pa.Array:
    """``size`` distinct row numbers below ``n``, in order, the same for the same ``n``."""
    import numpy as np

    return pa.array(np.sort(np.random.default_rng(0).choice(n, size, replace=False)))


def _distinct_from_sample(seen: int, size: int, n: int) -> float:
    """The distinct values among ``n`` when a uniform sample of ``size`` of them shows
    ``seen``: the ``d`` whose values, equally frequent (``n / d`` rows each), a sample
    would show as many of, ``d * (1 - (1 - size / n) ** (n / d)) = seen`` (solved by
    bisection; it rises with ``d``). A sample of distinct values gives ``n``."""
    if seen >= size:
        return float(n)
    missed = 1.0 - size / n
    lo, hi = float(seen), float(n)
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid * (1.0 - missed ** (n / mid)) < seen:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
