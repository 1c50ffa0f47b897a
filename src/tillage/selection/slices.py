"""Error analysis: the subgroups (slices) where a model is wrong significantly more often.

`find_error_slices` takes a table of columns and, per record, whether the model
was right, and tries every slice over one column and every pair of slices over
two columns:

- a numeric column is cut at its quantiles (``bins``, quartiles by default), each
  edge rounded to two significant digits so the condition reads as a person would
  write it (``dep_time >= 1700``, not ``dep_time >= 1713.25``); each bin is a
  slice, and so is each side of each inner edge;
- a categorical column gives one slice per value; values on fewer than
  ``min_records`` records are pooled into one slice (``carrier IN ('OO', 'YV')``);
- missing values are a slice of their own (``col IS NULL``).

Whether a column is numeric or categorical is `tillage.core.kinds.column_kind`'s
answer, with numbers of at most `MAX_NUMERIC_CATEGORIES` distinct values taken as
categories (months, ratings), as drift does. Identifiers, free text, times and
nested values are skipped (the report names them).

Significance: a slice's errors are compared with the errors of all records by a
one-sided hypergeometric test (Fisher's exact test of "errors are independent of
being in the slice"), and the p-values of every slice tried are corrected for
multiple testing by Benjamini-Hochberg at ``alpha``; a slice is reported when its
adjusted p-value is at most ``alpha``. A slice over two columns is reported only
when its error is also above that of both its one-column parents (otherwise the
parent says it already). Each slice carries a Wilson interval for its error rate
at ``confidence``. Slices are ranked by impact, size times excess error: the
errors that would go away if the slice were as good as the whole.

Every slice has a sentence ("carrier = EV and dep_time >= 1700: error 0.31 vs
0.18 overall, 4,112 records") and a row filter in the dialect that
``repo.read(..., where=)`` and ``--where`` accept (`tillage.store.filters`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.core.kinds import (
    MAX_NUMERIC_CATEGORIES,
    ColumnKind,
    column_kind,
    value_facts,
)
from tillage.errors import InputError

if TYPE_CHECKING:
    import numpy as np

#: Quantile bins per numeric column (quartiles): a slice of a quarter of the records,
#: or of one side of an edge, is one a person can act on.
BINS = 4
#: Significance level of the Benjamini-Hochberg correction across the slices tried.
ALPHA = 0.05
#: Coverage of each slice's Wilson interval.
CONFIDENCE = 0.95
#: Slices (and pooled categories) smaller than this are not tried, whatever their error.
MIN_RECORDS = 30
#: Significant digits of a numeric bin edge.
EDGE_DIGITS = 2
#: Values (records x slices) in one block of the intersection counts: 64 MiB of float32,
#: and few enough rows that float32 sums of zeros and ones stay exact.
BLOCK_VALUES = 2**24
#: The most distinct values of a public column listed as slices by `partition`.
MAX_PUBLIC_CATEGORIES = 50
_NOT_SLICED = {
    ColumnKind.IDENTIFIER: "an identifier: its values name records, not groups",
    ColumnKind.TEXT: "free text: slice by a column derived from it",
    ColumnKind.TIME: "times are not sliced yet",
    ColumnKind.OTHER: "no values of a type that can be sliced",
}
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Condition:
    """One column's part of a slice.

    Attributes:
        column: the column.
        text: as a person reads it (``carrier = EV``, ``dep_time >= 1700``).
        where: as a row filter (``carrier = 'EV'``, ``dep_time >= 1700``).
    """

    column: str
    text: str
    where: str


@dataclass(frozen=True)
class Slice:
    """A subgroup whose error is significantly above the overall error.

    Attributes:
        conditions: one or two conditions, on different columns, all of which hold.
        records: records in the slice.
        errors: of those, the ones the model got wrong.
        error: ``errors / records``.
        low, high: the Wilson interval of ``error`` at the report's confidence.
        p_value: one-sided exact p-value of the excess (before correction).
        adjusted_p: Benjamini-Hochberg adjusted p-value across every slice tried.
        impact: ``records * (error - overall error)``, the excess errors.
        sentence: the slice as a sentence a person can act on.
    """

    conditions: tuple[Condition, ...]
    records: int
    errors: int
    error: float
    low: float
    high: float
    p_value: float
    adjusted_p: float
    impact: float
    sentence: str

    @property
    def where(self) -> str:
        """The slice as one row filter (``repo.read(..., where=slice.where)``)."""
        return " AND ".join(
            c.where if len(self.conditions) == 1 else f"({c.where})" for c in self.conditions
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the slice is defined on."""
        return tuple(c.column for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """The slice as JSON-ready values."""
        return {
            "slice": " and ".join(c.text for c in self.conditions),
            "where": self.where,
            "columns": list(self.columns),
            "records": self.records,
            "errors": self.errors,
            "error": self.error,
            "interval": [self.low, self.high],
            "p_value": self.p_value,
            "adjusted_p": self.adjusted_p,
            "impact": self.impact,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class SliceReport:
    """Where a model does worst: the significant slices, by impact, and what was tried.

    Attributes:
        records: records analysed.
        errors: records the model got wrong.
        error: the overall error rate.
        slices: the significant slices, highest impact first (at most ``limit``).
        tried: slices tested (the size of the multiple-testing correction).
        significant: slices significant after correction (before dropping those whose
            excess lies in another slice, and before ``limit``).
        columns: columns sliced.
        skipped: columns not sliced, each with why.
        alpha: the significance level (Benjamini-Hochberg).
        confidence: the coverage of each slice's interval.
    """

    records: int
    errors: int
    error: float
    slices: tuple[Slice, ...]
    tried: int
    significant: int
    columns: tuple[str, ...]
    skipped: dict[str, str]
    alpha: float
    confidence: float

    def sentences(self) -> list[str]:
        """One line per slice, highest impact first."""
        return [s.sentence for s in self.slices]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "records": self.records,
            "errors": self.errors,
            "error": self.error,
            "tried": self.tried,
            "significant": self.significant,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "columns": list(self.columns),
            "skipped": dict(self.skipped),
            "slices": [s.to_dict() for s in self.slices],
        }


def find_error_slices(
    table: pa.Table,
    correct: Sequence[bool] | np.ndarray | None = None,
    *,
    y_true: Sequence[Any] | np.ndarray | None = None,
    y_pred: Sequence[Any] | np.ndarray | None = None,
    columns: Sequence[str] | None = None,
    pairs: bool = True,
    bins: int = BINS,
    min_records: int = MIN_RECORDS,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
    limit: int = 20,
) -> SliceReport:
    """The slices of ``table`` where the model's error is significantly above its overall error.

    Args:
        table: one row per record, holding the columns to slice by.
        correct: per record, whether the model was right; or give ``y_true`` and
            ``y_pred`` instead (compared with ``==``).
        y_true: the true labels, aligned with ``table``.
        y_pred: the model's predictions, aligned with ``table``.
        columns: the columns to slice by (default: every column of ``table``
            that is numeric or categorical).
        pairs: also try every pair of one-column slices on different columns.
        bins: quantile bins per numeric column.
        min_records: the smallest slice tried, and the smallest category not pooled.
        alpha: the Benjamini-Hochberg significance level across the slices tried.
        confidence: the coverage of each slice's Wilson interval.
        limit: the most slices reported (the highest impact).

    Returns:
        A `SliceReport`.

    Raises:
        InputError: ``correct`` (or the labels) missing, not aligned with ``table``,
            or unknown columns, or parameters out of range.
    """
    import numpy as np

    ok = _correctness(table.num_rows, correct, y_true, y_pred)
    if bins < 2:
        raise InputError(f"bins is {bins}; cut numeric columns into at least 2 bins.")
    if not 0 < alpha < 1 or not 0 < confidence < 1:
        raise InputError(
            f"alpha ({alpha}) and confidence ({confidence}) must lie strictly between 0 and 1."
        )
    if min_records < 1:
        raise InputError(f"min_records is {min_records}; it must be at least 1.")
    names = list(table.column_names) if columns is None else list(columns)
    unknown = [c for c in names if c not in table.column_names]
    if unknown:
        raise InputError(
            f"no column(s) named {', '.join(map(repr, unknown))} to slice by "
            f"(columns: {', '.join(table.column_names)}). Check the names."
        )
    wrong = ~ok
    n = len(ok)
    total_errors = int(wrong.sum())
    overall = total_errors / n if n else 0.0
    conditions: list[Condition] = []
    masks: list[np.ndarray] = []
    sliced: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        made = _column_slices(name, table.column(name), min_records, bins)
        if isinstance(made, str):
            skipped[name] = made
            continue
        sliced.append(name)
        for cond, mask in made:
            conditions.append(cond)
            masks.append(mask)
    candidates = _candidates(conditions, masks, wrong, pairs, min_records)
    report = SliceReport(
        records=n,
        errors=total_errors,
        error=overall,
        slices=(),
        tried=len(candidates[0]),
        significant=0,
        columns=tuple(sliced),
        skipped=skipped,
        alpha=alpha,
        confidence=confidence,
    )
    members, sizes, errs, parents = candidates
    if not len(sizes) or total_errors in (0, n):
        return report
    p = _excess_p_values(sizes, errs, n, total_errors)
    adjusted = _benjamini_hochberg(p)
    rate = errs / sizes
    keep = (adjusted <= alpha) & (rate > overall)
    cutoff = float(p[adjusted <= alpha].max(initial=0.0))
    for i in np.flatnonzero(keep):
        if any(rate[i] <= rate[j] for j in parents[i]):
            keep[i] = False
    impact = sizes * (rate - overall)
    chosen = np.flatnonzero(keep)
    chosen = chosen[np.lexsort((np.arange(len(chosen)), -impact[chosen]))]
    chosen = _without_diluted(chosen, members, masks, wrong, cutoff, limit)
    low, high = _wilson(errs, sizes, confidence)
    out: list[Slice] = []
    for i in chosen[:limit]:
        conds = tuple(conditions[j] for j in members[i])
        text = " and ".join(c.text for c in conds)
        out.append(
            Slice(
                conditions=conds,
                records=int(sizes[i]),
                errors=int(errs[i]),
                error=float(rate[i]),
                low=float(low[i]),
                high=float(high[i]),
                p_value=float(p[i]),
                adjusted_p=float(adjusted[i]),
                impact=float(impact[i]),
                sentence=(
                    f"{text}: error {rate[i]:.2f} vs {overall:.2f} overall, "
                    f"{int(sizes[i]):,} records ({confidence:.0%} interval "
                    f"{low[i]:.2f}-{high[i]:.2f})"
                ),
            )
        )
    return SliceReport(
        records=n,
        errors=total_errors,
        error=overall,
        slices=tuple(out),
        tried=len(sizes),
        significant=int(keep.sum()),
        columns=tuple(sliced),
        skipped=skipped,
        alpha=alpha,
        confidence=confidence,
    )


def _correctness(
    rows: int,
    correct: Sequence[bool] | np.ndarray | None,
    y_true: Sequence[Any] | np.ndarray | None,
    y_pred: Sequence[Any] | np.ndarray | None,
) -> np.ndarray:
    """Per record, whether the model was right, as a bool array of ``rows``."""
    import numpy as np

    if correct is None:
        if y_true is None or y_pred is None:
            raise InputError(
                "say per record whether the model was right: pass correct=, "
                "or both y_true= and y_pred=."
            )
        truth, pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
        if len(truth) != len(pred):
            raise InputError(
                f"y_true has {len(truth):,} values and y_pred {len(pred):,}; "
                "give one of each per record."
            )
        ok = truth == pred
    elif y_true is not None or y_pred is not None:
        raise InputError("pass either correct= or y_true= and y_pred=, not both.")
    else:
        ok = np.asarray(correct)
        if ok.dtype != np.bool_:
            raise InputError(
                f"correct= holds {ok.dtype} values; give True (right) or False (wrong) per record."
            )
    ok = np.asarray(ok, dtype=bool).reshape(-1)
    if len(ok) != rows:
        raise InputError(
            f"the table has {rows:,} records but correctness is given for {len(ok):,}; "
            "align them record by record."
        )
    return ok


def _column_slices(
    name: str, column: pa.ChunkedArray, min_records: int, bins: int
) -> list[tuple[Condition, np.ndarray]] | str:
    """The one-column slices of ``column`` with their masks, or why it is not sliced."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    t = column.type
    facts = value_facts(column)
    kind = column_kind(name, t, facts, max_categories=MAX_NUMERIC_CATEGORIES, times=False)
    plain_number = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if kind is ColumnKind.NUMERIC and not plain_number:
        return "dates, times and durations are not sliced yet"
    if kind not in (ColumnKind.NUMERIC, ColumnKind.CATEGORICAL):
        return _NOT_SLICED[kind]
    out: list[tuple[Condition, np.ndarray]] = []
    quoted = _quote_name(name)
    nulls = column.is_null(nan_is_null=True).to_numpy(zero_copy_only=False)
    if nulls.sum() >= min_records:
        out.append((Condition(name, f"{name} is missing", f"{quoted} IS NULL"), nulls))
    if kind is ColumnKind.NUMERIC:
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        out.extend(_numeric_slices(name, quoted, values, ~nulls, bins))
    else:
        out.extend(_categorical_slices(name, quoted, column, min_records))
    return out


def _numeric_slices(
    name: str, quoted: str, values: np.ndarray, present: np.ndarray, bins: int
) -> list[tuple[Condition, np.ndarray]]:
    """Quantile bins with readable edges, and each side of each inner edge."""
    import numpy as np

    seen = values[present]
    if not len(seen):
        return []
    raw = np.quantile(seen, np.linspace(0, 1, bins + 1)[1:-1])
    edges = sorted({_readable(float(e)) for e in raw})
    lowest, highest = float(seen.min()), float(seen.max())
    edges = [e for e in edges if lowest < e <= highest]
    if not edges:
        return []
    safe = np.where(present, values, np.nan)
    out: list[tuple[Condition, np.ndarray]] = []
    with np.errstate(invalid="ignore"):
        for e in edges:
            txt = _number(e)
            out.append(
                (Condition(name, f"{name} < {txt}", f"{quoted} < {txt}"), present & (safe < e))
            )
            out.append(
                (Condition(name, f"{name} >= {txt}", f"{quoted} >= {txt}"), present & (safe >= e))
            )
        for a, b in itertools.pairwise(edges):
            ta, tb = _number(a), _number(b)
            out.append(
                (
                    Condition(
                        name, f"{ta} <= {name} < {tb}", f"{quoted} >= {ta} AND {quoted} < {tb}"
                    ),
                    present & (safe >= a) & (safe < b),
                )
            )
    return out


def _categorical_slices(
    name: str, quoted: str, column: pa.ChunkedArray, min_records: int
) -> list[tuple[Condition, np.ndarray]]:
    """One slice per common value, and the rare values pooled into one."""
    import numpy as np
    import pyarrow.compute as pc

    counts = pc.value_counts(pc.drop_null(column))
    values = counts.field("values").to_pylist()
    tally = counts.field("counts").to_pylist()
    common = sorted((v for v, c in zip(values, tally, strict=True) if c >= min_records), key=str)
    rare = sorted((v for v, c in zip(values, tally, strict=True) if c < min_records), key=str)
    out: list[tuple[Condition, np.ndarray]] = []
    for v in common:
        mask = pc.fill_null(pc.equal(column, pa.scalar(v, column.type)), False)
        out.append(
            (
                Condition(name, f"{name} = {v}", f"{quoted} = {_literal(v)}"),
                mask.to_numpy(zero_copy_only=False).astype(bool),
            )
        )
    if rare and common and sum(c for v, c in zip(values, tally, strict=True) if v in rare):
        mask = pc.fill_null(pc.is_in(column, pa.array(rare, column.type)), False)
        pooled = mask.to_numpy(zero_copy_only=False).astype(bool)
        if pooled.sum() >= min_records:
            shown = ", ".join(map(str, rare[:5])) + (", ..." if len(rare) > 5 else "")
            out.append(
                (
                    Condition(
                        name,
                        f"{name} is one of {len(rare)} rare values ({shown})",
                        f"{quoted} IN ({', '.join(_literal(v) for v in rare)})",
                    ),
                    np.asarray(pooled),
                )
            )
    return out


def _candidates(
    conditions: list[Condition],
    masks: list[np.ndarray],
    wrong: np.ndarray,
    pairs: bool,
    min_records: int,
) -> tuple[list[tuple[int, ...]], np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    """Every slice tried: its conditions, size, errors and one-column parents."""
    import numpy as np

    if not masks:
        empty = np.zeros(0, dtype=np.int64)
        return [], empty, empty, []
    both, both_wrong = _gram(masks, wrong)
    sizes1, errs1 = np.diag(both), np.diag(both_wrong)
    members: list[tuple[int, ...]] = []
    sizes: list[int] = []
    errs: list[int] = []
    parents: list[tuple[int, ...]] = []
    single: dict[int, int] = {}
    for i in range(len(conditions)):
        if sizes1[i] >= min_records:
            single[i] = len(members)
            members.append((i,))
            sizes.append(int(sizes1[i]))
            errs.append(int(errs1[i]))
            parents.append(())
    if pairs:
        cols = [c.column for c in conditions]
        for i in range(len(conditions)):
            for j in range(i + 1, len(conditions)):
                if cols[i] == cols[j] or both[i, j] < min_records:
                    continue
                if both[i, j] in (sizes1[i], sizes1[j]):
                    continue  # the pair is one of its parents
                members.append((i, j))
                sizes.append(int(both[i, j]))
                errs.append(int(both_wrong[i, j]))
                parents.append((single[i], single[j]))
    return members, np.array(sizes, dtype=np.int64), np.array(errs, dtype=np.int64), parents


def _without_diluted(
    chosen: np.ndarray,
    members: list[tuple[int, ...]],
    masks: list[np.ndarray],
    wrong: np.ndarray,
    cutoff: float,
    limit: int,
) -> np.ndarray:
    """``chosen`` less each slice whose excess lies in another significant slice.

    ``carrier = EV`` holds every excess error of ``carrier = EV and dep_time >= 1800``
    when its other records are no worse than the whole; so does ``dep_time >= 1800 and
    distance < 1000``, which overlaps it. Such a slice says nothing the other does not,
    and more vaguely. A slice is dropped when a chosen slice of higher error overlaps it
    and the slice's records outside that one show no significant excess: the same
    one-sided test, at ``cutoff``, the largest p-value that Benjamini-Hochberg admitted
    (the rest is held to the bar the slices were).
    """
    import numpy as np

    # Only the highest-impact slices are compared (each pair costs a pass over the records);
    # the rest could not be reported unless nearly all of these were dropped.
    chosen = chosen[: max(10 * limit, 200)]
    if len(chosen) < 2:
        return chosen
    n, total = len(wrong), int(wrong.sum())
    inter, inter_wrong = _gram(
        [np.logical_and.reduce([masks[j] for j in members[i]]) for i in chosen], wrong
    )
    size = np.diag(inter)
    errs = np.diag(inter_wrong)
    rate = errs / size
    drop = np.zeros(len(chosen), dtype=bool)
    kept_count = 0
    for a in range(len(chosen)):
        if kept_count >= limit:
            drop[a:] = True  # below the report's limit: not worth the tests
            break
        others = np.flatnonzero((inter[a] > 0) & (rate > rate[a]))
        others = others[others != a]
        if len(others):
            rest = size[a] - inter[a, others]
            rest_errors = errs[a] - inter_wrong[a, others]
            flat = (rest == 0) | (rest_errors * n <= total * rest)
            p = _excess_p_values(np.maximum(rest, 1), rest_errors, n, total)
            if (flat | (p > cutoff)).any():
                drop[a] = True
                continue
        kept_count += 1
    kept: np.ndarray = chosen[~drop]
    return kept


def _gram(masks: Sequence[np.ndarray], wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Records and errors in every pairwise intersection of ``masks`` (the diagonal: in
    each), by matrix products over blocks of rows so memory stays bounded."""
    import numpy as np

    c = len(masks)
    inter = np.zeros((c, c))
    inter_wrong = np.zeros((c, c))
    n = len(wrong)
    step = max(1, min(n, BLOCK_VALUES // max(c, 1)))
    for start in range(0, n, step):
        block = np.stack([mk[start : start + step] for mk in masks], axis=1).astype(np.float32)
        inter += block.T @ block
        inter_wrong += (block * wrong[start : start + step, None]).T @ block
    return inter.round().astype(np.int64), inter_wrong.round().astype(np.int64)


def _excess_p_values(sizes: np.ndarray, errs: np.ndarray, n: int, total: int) -> np.ndarray:
    """One-sided exact p-values of "the slice holds this many errors or more by chance"."""
    from scipy.stats import hypergeom

    p: np.ndarray = hypergeom.sf(errs - 1, n, total, sizes)
    return p


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1)."""
    import numpy as np

    m = len(p)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out


def _wilson(errs: np.ndarray, sizes: np.ndarray, confidence: float) -> tuple[Any, Any]:
    """The Wilson score interval of each ``errs / sizes``."""
    import numpy as np
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    phat = errs / sizes
    denom = 1 + z * z / sizes
    centre = (phat + z * z / (2 * sizes)) / denom
    half = z * np.sqrt(phat * (1 - phat) / sizes + z * z / (4 * sizes * sizes)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _readable(x: float) -> float:
    """``x`` rounded to `EDGE_DIGITS` significant digits (1713.25 -> 1700.0)."""
    if x == 0 or not math.isfinite(x):
        return x
    digits = EDGE_DIGITS - 1 - math.floor(math.log10(abs(x)))
    return round(x, digits)


def _number(x: float) -> str:
    """A number as a filter and a sentence write it: no exponent, no trailing ``.0``."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.10f}".rstrip("0").rstrip(".")


def _literal(v: Any) -> str:
    """A value as a filter literal (strings in single quotes, quotes doubled)."""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int | float):
        return _number(float(v)) if isinstance(v, float) else str(v)
    text = str(v).replace("'", "''")
    return f"'{text}'"


def _quote_name(name: str) -> str:
    """A column name as a filter writes it (backticks unless plain; see `store.filters`)."""
    return name if _PLAIN_NAME.fullmatch(name) else f"`{name}`"


def partition(
    name: str,
    column: pa.ChunkedArray,
    *,
    categories: Sequence[Any] | None = None,
    bounds: tuple[float, float] | None = None,
    bins: int = BINS,
) -> list[tuple[Condition, np.ndarray]]:
    """Disjoint slices of ``column`` that cover every record once, cut at public values.

    With ``categories``: one slice per category, one for any other value, and one for
    missing values. With ``bounds``: ``bins`` equal-width bins over the bounds (edges
    rounded like `find_error_slices`' edges; the end bins are open, so values outside
    the bounds fall in them) and one for missing values. With neither, the column's
    own values are taken as public: its distinct values (a categorical column, at most
    `MAX_PUBLIC_CATEGORIES`), else its range (a numeric column). DP slice metrics
    (`tillage.privacy.dp_reports`) use it: each record is in exactly one of the slices,
    so one column's slice counts change by at most one per record.

    Raises:
        InputError: neither given and the column has too many values to list, or
            none to cut.
    """
    import numpy as np
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    t = column.type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if categories is None and bounds is None:
        present = pc.drop_null(column)
        if numeric and pc.count_distinct(present).as_py() > MAX_PUBLIC_CATEGORIES:
            lo, hi = pc.min(present).as_py(), pc.max(present).as_py()
            bounds = (float(lo), float(hi))
        else:
            found = pc.unique(present).to_pylist()
            if len(found) > MAX_PUBLIC_CATEGORIES:
                raise InputError(
                    f"column {name!r} has {len(found):,} distinct values, too many slices; "
                    "slice by a column with fewer values, or declare its categories."
                )
            categories = sorted(found, key=str)
    quoted = _quote_name(name)
    nulls = column.is_null(nan_is_null=True).to_numpy(zero_copy_only=False)
    out: list[tuple[Condition, np.ndarray]] = []
    if categories is not None:
        cats = list(categories)
        text = pc.cast(column, pa.string()) if not pa.types.is_string(t) else column
        shown = [str(c) for c in cats]
        for c, s in zip(cats, shown, strict=True):
            mask = pc.fill_null(pc.equal(text, s), False).to_numpy(zero_copy_only=False)
            out.append((Condition(name, f"{name} = {c}", f"{quoted} = {_literal(c)}"), mask))
        listed = pc.fill_null(pc.is_in(text, pa.array(shown, pa.string())), False)
        other = ~listed.to_numpy(zero_copy_only=False) & ~nulls
        out.append(
            (
                Condition(
                    name,
                    f"{name} is none of the {len(cats)} listed values",
                    f"NOT ({quoted} IN ({', '.join(_literal(c) for c in cats)}))",
                ),
                other,
            )
        )
    else:
        assert bounds is not None
        if not numeric:
            raise InputError(f"column {name!r} is not numeric, so it cannot be cut at bounds.")
        lo, hi = bounds
        edges = sorted(
            {_readable(lo + i * (hi - lo) / bins) for i in range(1, bins)} - {float("nan")}
        )
        values = np.where(nulls, np.nan, column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        cuts = [-math.inf, *edges, math.inf]
        with np.errstate(invalid="ignore"):
            for a, b in itertools.pairwise(cuts):
                ta, tb = (
                    _number(a) if math.isfinite(a) else None,
                    (_number(b) if math.isfinite(b) else None),
                )
                mask = ~nulls & (values >= a)
                if math.isfinite(b):
                    mask &= values < b
                if ta is None:
                    cond = Condition(name, f"{name} < {tb}", f"{quoted} < {tb}")
                elif tb is None:
                    cond = Condition(name, f"{name} >= {ta}", f"{quoted} >= {ta}")
                else:
                    cond = Condition(
                        name, f"{ta} <= {name} < {tb}", f"{quoted} >= {ta} AND {quoted} < {tb}"
                    )
                out.append((cond, mask))
    out.append((Condition(name, f"{name} is missing", f"{quoted} IS NULL"), nulls))
    return out
