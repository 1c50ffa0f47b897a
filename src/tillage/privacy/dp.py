"""Differentially private answers through OpenDP: counts, histograms, sums, means, quantiles.

Every answer comes from an OpenDP measurement built with its Context API
(``dp.unit_of(contributions=k)``, ``dp.loss_of(epsilon=ε)``): discrete Laplace
for counts and histograms, OpenDP's float-safe Laplace for clamped sums, and
its private quantile (scores over a public candidate grid) for quantiles. A
mean is a DP sum over a DP count, each with half of ε. Nothing here adds noise
by hand.

Clamp bounds and categories are public facts the caller passes in (from the
policy, the caller's arguments, or `estimate_bounds`, which pays for them);
nothing here takes them from the data. Contributions are bounded before
measuring: each privacy unit keeps at most ``max_rows_per_unit`` of its rows,
chosen by a seeded shuffle.

This module measures; the ledger (`tillage.store.ledger`) decides whether ε may
be spent, and `tillage.api.privacy` spends it before calling `release`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tillage.errors import DPQueryError

if TYPE_CHECKING:
    import pyarrow as pa

KINDS = ("count", "histogram", "sum", "mean", "quantile")
NUMERIC_KINDS = ("sum", "mean", "quantile")
ALPHA = 0.05  # predicted errors are 95% half-widths
QUANTILE_CANDIDATES = 101  # points of the public grid between the bounds

# A public, data-independent grid for estimating bounds: 0 and ±2^k, k = -10..40.
_SCALE_GRID = sorted({0.0, *(s * 2.0**k for k in range(-10, 41) for s in (-1.0, 1.0))})
ESTIMATE_SHARE = 0.25  # the share of ε that estimating bounds costs
ESTIMATE_ALPHAS = (0.01, 0.99)  # the quantiles that become the estimated bounds


@dataclass(frozen=True)
class Measured:
    """One released (or previewed) measurement.

    Attributes:
        value: the DP answer (None in a preview).
        mechanism: the OpenDP mechanism.
        scale: its noise scale.
        epsilon: the ε it spends.
        error95: the predicted 95% half-width of its noise (None: no closed form).
    """

    mechanism: str
    scale: float
    epsilon: float
    error95: float | None
    value: Any = None


@dataclass(frozen=True)
class Plan:
    """What one DP query measures, on which values, with which public facts."""

    kind: str
    epsilon: float
    contributions: int
    values: list[Any]
    bounds: tuple[float, float] | None = None
    categories: tuple[Any, ...] | None = None
    alpha: float = 0.5


def bound_contributions(table: pa.Table, unit: str | None, max_rows: int, seed: int) -> pa.Table:
    """``table`` with at most ``max_rows`` rows per value of ``unit``, chosen by a seeded shuffle.

    A row-level unit (None) keeps every row: each row is its own unit.
    """
    if unit is None:
        return table
    import numpy as np
    import pyarrow as pa

    n = table.num_rows
    order = np.random.default_rng(seed).permutation(n)
    units = table.column(unit).combine_chunks().take(pa.array(order))
    codes = np.asarray(units.dictionary_encode().indices.fill_null(-1))
    # rank of each shuffled row within its unit: stable sort by unit, then count along
    by_unit = np.argsort(codes, kind="stable")
    sorted_codes = codes[by_unit]
    starts = np.r_[0, np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[by_unit] = np.arange(n) - run_start
    keep = np.sort(order[rank < max_rows])
    return table.take(pa.array(keep))


def numbers(column: pa.ChunkedArray) -> list[float]:
    """The column's non-null, non-NaN values as floats (what sums, means and quantiles see)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = column.drop_null()
    if pa.types.is_floating(values.type):
        values = values.filter(pc.invert(pc.is_nan(values)))
    return [float(v) for v in values.to_pylist()]


def labels(column: pa.ChunkedArray) -> list[str]:
    """The column's values as text (nulls as the empty string), for histograms."""
    return ["" if v is None else str(v) for v in column.to_pylist()]


def measure(plan: Plan, *, release: bool, spent: float = 0.0) -> list[Measured]:
    """The measurements ``plan`` needs, released (``release``) or only sized (a preview).

    A preview builds the same OpenDP measurements and reads their noise scales,
    but calls none of them, so it releases nothing.

    Raises:
        DPQueryError: OpenDP cannot build a measurement for these bounds and ε
            (``spent``: what the query has spent already, said in the message).
    """
    from opendp.mod import OpenDPException

    try:
        return _measure(plan, release=release)
    except OpenDPException as e:
        problem = str(e).strip().splitlines()[-1][:300]
        raise DPQueryError(
            f"OpenDP cannot measure this {plan.kind} with bounds {plan.bounds} at "
            f"ε={plan.epsilon:g}: {problem}",
            "Use narrower bounds or a larger ε.",
            spent=spent,
        ) from None


def _measure(plan: Plan, *, release: bool) -> list[Measured]:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    kind = plan.kind
    unit = dp.unit_of(contributions=plan.contributions)
    if kind in ("count", "histogram"):
        str_domain = dp.vector_domain(dp.atom_domain(T=str))
        ctx = dp.Context.compositor(
            data=plan.values,
            privacy_unit=unit,
            privacy_loss=dp.loss_of(epsilon=plan.epsilon),
            split_evenly_over=1,
            domain=str_domain,
        )
        if kind == "count":
            q = ctx.query().count().laplace()
        else:
            cats = [str(c) for c in plan.categories or ()]
            q = ctx.query().count_by_categories(categories=cats).laplace()
        scale = float(q.param())
        err = float(dp.discrete_laplacian_scale_to_accuracy(scale, ALPHA))
        value: Any = None
        if release:
            out = q.release()
            value = (
                int(out)
                if kind == "count"
                else {
                    **{c: int(v) for c, v in zip(plan.categories or (), out[:-1], strict=True)},
                    "(other)": int(out[-1]),
                }
            )
        return [Measured("discrete Laplace", scale, plan.epsilon, err, value)]

    assert plan.bounds is not None
    lo, hi = plan.bounds
    float_domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    if kind == "quantile":
        ctx = dp.Context.compositor(
            data=plan.values,
            privacy_unit=unit,
            privacy_loss=dp.loss_of(epsilon=plan.epsilon),
            split_evenly_over=1,
            domain=float_domain,
        )
        q = (
            ctx.query()
            .clamp((lo, hi))
            .private_quantile(dp.max_divergence(), quantile_candidates(lo, hi), plan.alpha)
        )
        scale = float(q.param())
        value = float(q.release()) if release else None
        return [Measured("private quantile (report noisy max)", scale, plan.epsilon, None, value)]

    weights = [1.0] if kind == "sum" else [0.5, 0.5]
    ctx = dp.Context.compositor(
        data=plan.values,
        privacy_unit=unit,
        privacy_loss=dp.loss_of(epsilon=plan.epsilon),
        split_by_weights=weights,
        domain=float_domain,
    )
    qs = ctx.query().clamp((lo, hi)).sum().laplace()
    s_scale = float(qs.param())
    s_err = float(dp.laplacian_scale_to_accuracy(s_scale, ALPHA))
    s_eps = plan.epsilon * weights[0]
    if kind == "sum":
        s_value = float(qs.release()) if release else None
        return [Measured("Laplace (float-safe)", s_scale, s_eps, s_err, s_value)]
    qc = ctx.query().count().laplace()
    c_scale = float(qc.param())
    c_err = float(dp.discrete_laplacian_scale_to_accuracy(c_scale, ALPHA))
    s_value = float(qs.release()) if release else None
    c_value = int(qc.release()) if release else None
    return [
        Measured("Laplace (float-safe)", s_scale, s_eps, s_err, s_value),
        Measured("discrete Laplace", c_scale, plan.epsilon - s_eps, c_err, c_value),
    ]


def quantile_candidates(lo: float, hi: float) -> list[float]:
    """The public grid a private quantile chooses from: evenly spaced over the bounds."""
    step = (hi - lo) / (QUANTILE_CANDIDATES - 1)
    return [lo + i * step for i in range(QUANTILE_CANDIDATES)]


def mean_of(parts: Sequence[Measured]) -> float | None:
    """The DP mean from its DP sum and DP count (None when the count is not positive)."""
    total, count = parts[0].value, parts[1].value
    if total is None or count is None or count <= 0:
        return None
    return float(total) / float(count)


def mean_error(parts: Sequence[Measured], n: int, mean: float | None) -> float | None:
    """The predicted 95% half-width of a DP mean of ``n`` rows near ``mean`` (a
    `ratio_error` of the DP sum over the DP count)."""
    return ratio_error(parts[0].error95, parts[1].error95, n, mean)


def ratio_error(
    num_error95: float | None, den_error95: float | None, den: float, ratio: float | None
) -> float | None:
    """The predicted 95% half-width of a ratio of two DP answers, ``ratio`` = num / den.

    To first order the ratio's noise is (num noise - ratio × den noise) / den; the two
    noises are independent, so their 95% half-widths add in quadrature (a close
    approximation for Laplace noise, exact for Gaussian). None when ``den`` is not
    positive or a part has no closed-form error.
    """
    if den <= 0 or ratio is None or num_error95 is None or den_error95 is None:
        return None
    return math.hypot(num_error95, ratio * den_error95) / den


@dataclass(frozen=True)
class Clamping:
    """What clamping to the bounds does to a sum or mean: an exact aggregate.

    Attributes:
        rows: the rows measured.
        below, above: how many values lie outside the bounds.
        bias: clamped minus true (sum or mean); None when suppressed.
        suppressed: the clamped rows are fewer than the minimum group size, so the
            bias would say too much about them and is not shown.
    """

    rows: int
    below: int | None
    above: int | None
    bias: float | None
    suppressed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "below": self.below,
            "above": self.above,
            "bias": self.bias,
            "suppressed": self.suppressed,
        }


def clamping(
    values: Sequence[float], bounds: tuple[float, float], kind: str, min_group_size: int
) -> Clamping:
    """The clamping bias of a sum or mean over ``values``, as an aggregate view would show it.

    The rows outside the bounds form a group: when it is not empty and smaller than
    ``min_group_size``, its size and the bias are suppressed (like any small group
    of `tillage.privacy.aggregate`), since the bias of one clamped row is its value.
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    lo, hi = bounds
    below, above = int((x < lo).sum()), int((x > hi).sum())
    n = len(x)
    if 0 < below + above < min_group_size:
        return Clamping(n, None, None, None, True)
    diff = float((np.clip(x, lo, hi) - x).sum())
    bias = diff if kind == "sum" else (diff / n if n else 0.0)
    return Clamping(n, below, above, bias, False)


def estimate_bounds(
    values: list[float], contributions: int, epsilon: float, *, spent: float
) -> tuple[tuple[float, float], Measured]:
    """Bounds for ``values`` estimated with DP: the 1% and 99% private quantiles over a
    public grid of 0 and ±2^k, with ``epsilon`` split evenly between the two; and the
    measurement that released them (to be listed with the answer's).

    Raises:
        DPQueryError: the estimate is not an interval (``spent`` says the ε is gone).
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    lo_grid, hi_grid = _SCALE_GRID[0], _SCALE_GRID[-1]
    ctx = dp.Context.compositor(
        data=values,
        privacy_unit=dp.unit_of(contributions=contributions),
        privacy_loss=dp.loss_of(epsilon=epsilon),
        split_evenly_over=2,
        domain=dp.vector_domain(dp.atom_domain(T=float, nan=False)),
    )
    queries = [
        ctx.query().clamp((lo_grid, hi_grid)).private_quantile(dp.max_divergence(), _SCALE_GRID, a)
        for a in ESTIMATE_ALPHAS
    ]
    scale = float(queries[0].param())
    found = [float(q.release()) for q in queries]
    lo, hi = found
    if not lo < hi or not all(math.isfinite(b) for b in found):
        raise DPQueryError(
            f"the DP estimate of the bounds, [{lo:g}, {hi:g}], is not an interval",
            "Pass bounds you know to be public (--bounds LO,HI), or spend a larger ε.",
            spent=spent,
        )
    step = Measured("private quantile (bounds estimate)", scale, epsilon, None, [lo, hi])
    return (lo, hi), step


@dataclass(frozen=True)
class DPAnswer:
    """A DP answer, or its preview: the value, what it cost, and how far to trust it.

    Attributes:
        value: the answer (a number; a mapping category -> count for a histogram;
            None in a preview).
        epsilon: the ε this query spent (0 in a preview).
        mechanisms: each OpenDP measurement: mechanism, noise scale, ε.
        error95: the predicted 95% half-width of the noise on ``value``.
        clamping: for sums and means, what clamping to the bounds changes.
        bounds_from / categories_from: ``policy``, ``argument`` or ``estimate`` (paid).
        budget, spent, left: the principal's budget on the dataset after this query.
        void: a break-glass grant let this principal read raw rows of the dataset,
            so the DP guarantee no longer holds against them.
    """

    dataset: str
    commit: str
    kind: str
    column: str | None
    value: Any
    preview: bool
    epsilon: float
    mechanisms: list[Measured]
    error95: float | None
    clamping: Clamping | None
    bounds: tuple[float, float] | None
    bounds_from: str | None
    categories: tuple[Any, ...] | None
    categories_from: str | None
    principal: str
    unit: str
    budget: float
    spent: float
    left: float
    void: bool
    spend_id: str | None = None
    alpha: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready values."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "kind": self.kind,
            "column": self.column,
            "alpha": self.alpha,
            "value": self.value,
            "preview": self.preview,
            "epsilon": self.epsilon,
            "mechanisms": [
                {"mechanism": m.mechanism, "scale": m.scale, "epsilon": m.epsilon}
                for m in self.mechanisms
            ],
            "error95": self.error95,
            "clamping": self.clamping.to_dict() if self.clamping else None,
            "bounds": list(self.bounds) if self.bounds else None,
            "bounds_from": self.bounds_from,
            "categories": list(self.categories) if self.categories else None,
            "categories_from": self.categories_from,
            "principal": self.principal,
            "unit": self.unit,
            "budget": self.budget,
            "spent": self.spent,
            "left": self.left,
            "void": self.void,
            "spend_id": self.spend_id,
        }
