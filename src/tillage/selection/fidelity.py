"""The fidelity gate: does a generated batch look like the real slice it imitates?

Two measures, each a total variation distance (TVD, half the L1 distance
between two distributions; 0 is identical, 1 is disjoint) between the
generated batch and the real slice, averaged:

- **1-way**: over the compared columns, each column's distribution of values;
- **2-way**: over column pairs, each pair's joint distribution. Every pair when
  there are at most `MAX_PAIRS`, else a seeded sample of that many.

Values are counted in bins fixed by the real slice: numbers (and times, as the
numbers they are stored as) in `NUMERIC_BINS` bins cut at the real values'
quantiles (fewer where values tie); categories by value, with values holding
less than `RARE_SHARE` of the real rows, or beyond the `MAX_CATEGORIES` most
frequent, pooled into one bin. Nulls (and NaN) are a bin of their own, and a
generated value the real slice never holds falls in the pooled bin, where it
counts against the batch. Columns whose values name or describe single records
(identifiers, free text, other types: `tillage.core.kinds`) are not compared,
nor the columns a caller excludes (the key).

**The baseline** is a batch of the same size that samples each real column on
its own (with replacement): right in every column, blind to every relation
between columns. A generator worth its name beats it on 2-way and matches it on
1-way. Both measures of a finite batch are noisy even when it is drawn from the
real slice itself, so the baseline is drawn `BASELINE_DRAWS` times: its score
is the mean of the draws, and a batch fails a measure when it scores above that
mean by more than `GATE_SD` standard deviations of one draw. Without that
allowance a perfect generator would fail the 1-way gate half the time, since it
can at best tie the baseline there. `GATE_SD` is the conventional three sigma,
fixed before any generator was measured.

**The floor** (asked for with ``floor=True``) is the mean score of bootstrap
resamples of the real slice, rows drawn whole: what sampling noise alone costs
a batch of that size, the best any generator can expect. It is reported, not
gated on.

A batch that fails either measure is refused: `FidelityReport.check` raises
`FidelityGateError` with the batch's score and the baseline's. The 2-way score
is a mean over pairs, so the gate refuses batches that keep the relations
between columns worse than independence does on the whole; a batch that keeps
most relations and reverses one can pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.core.kinds import ColumnKind, column_kind, value_facts
from tillage.errors import FidelityGateError, InputError

if TYPE_CHECKING:
    import numpy as np

#: Quantile bins per numeric column (deciles), fewer where the real values tie.
NUMERIC_BINS = 10
#: Categories holding less than this share of the real rows share one bin ...
RARE_SHARE = 0.01
#: ... as do those beyond this many of the most frequent.
MAX_CATEGORIES = 50
#: At most this many column pairs are compared (a seeded sample when there are more).
MAX_PAIRS = 200
#: Independent-column batches drawn for the baseline.
BASELINE_DRAWS = 30
#: A batch fails a measure when it is this many standard deviations (of one baseline
#: draw) worse than the baseline's mean.
GATE_SD = 3.0

ONE_WAY = "1-way total variation distance"
TWO_WAY = "2-way total variation distance"


@dataclass(frozen=True)
class Measure:
    """One measure of a batch against its baseline.

    Attributes:
        name: `ONE_WAY` or `TWO_WAY`.
        score: the batch's mean TVD to the real slice.
        baseline: the mean TVD of `BASELINE_DRAWS` independent-column batches.
        allowance: how far above ``baseline`` a batch may score (`GATE_SD`
            standard deviations of one baseline draw).
        floor: with ``floor=True``, the mean TVD of `BASELINE_DRAWS` bootstrap
            resamples of the real slice (rows drawn whole, with replacement, as many
            as the batch has): the score a batch drawn from the real slice itself gets
            from sampling noise alone, the best a generator can expect.
    """

    name: str
    score: float
    baseline: float
    allowance: float
    floor: float | None = None

    @property
    def passed(self) -> bool:
        """Whether the batch scores no worse than the baseline, within the allowance."""
        return self.score <= self.baseline + self.allowance

    def to_dict(self) -> dict[str, Any]:
        """The measure as JSON-ready values."""
        return {
            "name": self.name,
            "score": self.score,
            "baseline": self.baseline,
            "allowance": self.allowance,
            **({"floor": self.floor} if self.floor is not None else {}),
            "passed": self.passed,
        }


@dataclass(frozen=True)
class FidelityReport:
    """How a generated batch compares with the real slice, next to the baseline.

    Attributes:
        real_rows: rows in the real slice.
        generated_rows: rows in the generated batch.
        columns: the columns compared.
        pairs: the column pairs compared (all, or a seeded sample of `MAX_PAIRS`).
        one_way: the 1-way measure.
        two_way: the 2-way measure (score and baseline 0 with fewer than two columns).
        worst_columns: each compared column's 1-way TVD, worst first.
    """

    real_rows: int
    generated_rows: int
    columns: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    one_way: Measure
    two_way: Measure
    worst_columns: tuple[tuple[str, float], ...]

    @property
    def passed(self) -> bool:
        """Whether the batch passes both measures."""
        return self.one_way.passed and self.two_way.passed

    def check(self, where: str) -> None:
        """Refuse a batch that fails the gate.

        Args:
            where: what the batch was generated for, for the message ("class spam").

        Raises:
            FidelityGateError: the first failed measure, with the batch's score and
                the baseline's.
        """
        for m in (self.one_way, self.two_way):
            if not m.passed:
                raise FidelityGateError(m.name, m.score, m.baseline, where)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "passed": self.passed,
            "real_rows": self.real_rows,
            "generated_rows": self.generated_rows,
            "columns": list(self.columns),
            "pairs": len(self.pairs),
            "one_way": self.one_way.to_dict(),
            "two_way": self.two_way.to_dict(),
            "worst_columns": [{"column": c, "tvd": v} for c, v in self.worst_columns],
        }


def fidelity_gate(
    real: pa.Table,
    generated: pa.Table,
    *,
    seed: int,
    exclude: Sequence[str] = (),
    floor: bool = False,
) -> FidelityReport:
    """Score ``generated`` against ``real`` and against the independent-column baseline.

    Args:
        real: the real slice the batch imitates (at least one row).
        generated: the batch; it must hold every compared column of ``real``.
        seed: seeds the baseline's draws and the sample of pairs; the same inputs
            and seed give the same report.
        exclude: columns not to compare (the key, provenance).
        floor: also score bootstrap resamples of ``real`` (`Measure.floor`).

    Returns:
        The report; `FidelityReport.check` refuses a failed batch.

    Raises:
        InputError: an empty side, a compared column missing from ``generated``, or
            no column left to compare.
    """
    import numpy as np

    if real.num_rows == 0 or generated.num_rows == 0:
        raise InputError(
            f"cannot measure fidelity with {real.num_rows} real and {generated.num_rows} "
            "generated row(s); give at least one of each."
        )
    columns = comparable_columns(real, exclude)
    if not columns:
        raise InputError(
            "no column of the real slice can be compared (identifiers, free text and "
            f"excluded columns are not): {', '.join(real.column_names)}. Generate "
            "records with at least one numeric or categorical column."
        )
    missing = [c for c in columns if c not in generated.column_names]
    if missing:
        raise InputError(
            f"the generated batch lacks column(s) {', '.join(missing)} of the real slice; "
            "a generator must return the real slice's columns."
        )
    rng = np.random.default_rng(seed)
    bins = [_Bins.of(real.column(c)) for c in columns]
    real_codes = [b.codes(real.column(c)) for b, c in zip(bins, columns, strict=True)]
    gen_codes = [b.codes(generated.column(c)) for b, c in zip(bins, columns, strict=True)]
    sizes = [b.size for b in bins]
    pair_index = _pairs(len(columns), rng)

    # the real side's distributions are fixed: count them once
    real_one = [_shares(r, k) for r, k in zip(real_codes, sizes, strict=True)]
    real_two = [
        _shares(real_codes[i] * sizes[j] + real_codes[j], sizes[i] * sizes[j])
        for i, j in pair_index
    ]

    def scores(codes: list[np.ndarray]) -> tuple[np.ndarray, float]:
        one = np.array(
            [_tvd(p, _shares(c, k)) for p, c, k in zip(real_one, codes, sizes, strict=True)]
        )
        two = [
            _tvd(p, _shares(codes[i] * sizes[j] + codes[j], sizes[i] * sizes[j]))
            for p, (i, j) in zip(real_two, pair_index, strict=True)
        ]
        return one, float(np.mean(two)) if two else 0.0

    one, two = scores(gen_codes)
    n, m = real.num_rows, generated.num_rows
    base_one: list[float] = []
    base_two: list[float] = []
    for _ in range(BASELINE_DRAWS):
        draw = [r[rng.integers(0, n, m)] for r in real_codes]
        b1, b2 = scores(draw)
        base_one.append(float(b1.mean()))
        base_two.append(b2)
    floors: tuple[float | None, float | None] = (None, None)
    if floor:
        boot_one, boot_two = [], []
        for _ in range(BASELINE_DRAWS):
            rows = rng.integers(0, n, m)
            f1, f2 = scores([r[rows] for r in real_codes])
            boot_one.append(float(f1.mean()))
            boot_two.append(f2)
        floors = (float(np.mean(boot_one)), float(np.mean(boot_two)))
    worst = sorted(
        ((c, float(v)) for c, v in zip(columns, one, strict=True)), key=lambda t: (-t[1], t[0])
    )
    return FidelityReport(
        real_rows=n,
        generated_rows=m,
        columns=tuple(columns),
        pairs=tuple((columns[i], columns[j]) for i, j in pair_index),
        one_way=_measure(ONE_WAY, float(one.mean()), base_one, floors[0]),
        two_way=_measure(TWO_WAY, two, base_two, floors[1]),
        worst_columns=tuple(worst),
    )


def comparable_columns(real: pa.Table, exclude: Sequence[str] = ()) -> list[str]:
    """The columns of ``real`` that the gate compares: numeric and categorical ones.

    Kinds come from `tillage.core.kinds.column_kind` on the real values, with times
    judged as the numbers they are stored as; identifiers, free text and other types
    (binary, nested, all null) describe single records, not a distribution.
    """
    out = []
    for name in real.column_names:
        if name in exclude:
            continue
        col = real.column(name)
        kind = column_kind(name, col.type, value_facts(col), times=False)
        if kind in (ColumnKind.NUMERIC, ColumnKind.CATEGORICAL):
            out.append(name)
    return out


def _measure(name: str, score: float, draws: list[float], floor: float | None) -> Measure:
    import numpy as np

    return Measure(
        name=name,
        score=score,
        baseline=float(np.mean(draws)),
        allowance=GATE_SD * float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0,
        floor=floor,
    )


def _shares(codes: np.ndarray, size: int) -> np.ndarray:
    """The share of ``codes`` (bin numbers in ``range(size)``) in each bin."""
    import numpy as np

    return np.bincount(codes, minlength=size) / len(codes)


def _tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two distributions over the same bins."""
    import numpy as np

    return float(0.5 * np.abs(p - q).sum())


def _pairs(columns: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Every pair of column positions, or a seeded sample of `MAX_PAIRS`, in order."""
    pairs = [(i, j) for i in range(columns) for j in range(i + 1, columns)]
    if len(pairs) <= MAX_PAIRS:
        return pairs
    chosen = sorted(rng.choice(len(pairs), size=MAX_PAIRS, replace=False).tolist())
    return [pairs[k] for k in chosen]


@dataclass(frozen=True, eq=False)
class _Bins:
    """How one column's values fall in bins, fixed by the real values.

    Numeric: ``edges`` cut the values (``searchsorted``), bins 0..len(edges).
    Categorical: ``values`` each have a bin 0..len(values)-1, then one for the rest.
    The last bin of either holds nulls.
    """

    edges: np.ndarray | None
    values: pa.Array | None
    size: int

    @staticmethod
    def of(real: pa.ChunkedArray) -> _Bins:
        import numpy as np
        import pyarrow.compute as pc

        real = _plain(real)
        numbers = _numbers(real)
        if numbers is not None:
            present = numbers[~np.isnan(numbers)]
            if len(present) == 0:
                edges = np.array([], dtype=np.float64)
            else:
                cuts = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
                edges = np.unique(np.quantile(present, cuts))
            return _Bins(edges=edges, values=None, size=len(edges) + 2)
        counts = pc.value_counts(pc.drop_null(real))
        tally = counts.field("counts").to_numpy()
        order = np.argsort(-tally, kind="stable")[:MAX_CATEGORIES]
        keep = order[tally[order] >= RARE_SHARE * len(real)]
        values = counts.field("values").take(pa.array(keep, pa.int64()))
        return _Bins(edges=None, values=values, size=len(values) + 2)

    def codes(self, column: pa.ChunkedArray) -> np.ndarray:
        """Each value's bin, as int64."""
        import numpy as np
        import pyarrow.compute as pc

        column = _plain(column)
        null_bin = self.size - 1
        if self.edges is not None:
            numbers = _numbers(column)
            if numbers is None:  # a generated column of another type: every value misplaced
                return np.full(len(column), null_bin - 1, dtype=np.int64)
            codes = np.searchsorted(self.edges, numbers, side="right").astype(np.int64)
            codes[np.isnan(numbers)] = null_bin
            return codes
        assert self.values is not None
        try:
            found = pc.index_in(column, value_set=self.values)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            found = pa.nulls(len(column), pa.int32())
        filled = pc.fill_null(found, null_bin - 1).to_numpy(zero_copy_only=False)
        codes = np.asarray(filled, dtype=np.int64)
        codes[pc.is_null(column).to_numpy(zero_copy_only=False)] = null_bin
        return codes


def _plain(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """One chunked array with dictionaries decoded."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column


def _numbers(column: pa.ChunkedArray) -> np.ndarray | None:
    """The values as float64 with NaN for nulls, or None for a column that is not numeric."""
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_date(t):
        column = column.cast(pa.timestamp("s"))
        t = column.type
    if pa.types.is_timestamp(t) or pa.types.is_duration(t) or pa.types.is_time(t):
        column = column.cast(pa.int64())
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        return None
    import numpy as np

    floats = pc.cast(column, pa.float64(), safe=False)
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
