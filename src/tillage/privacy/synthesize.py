"""Differentially private synthetic proxies of a dataset (MST over `mbi`, noise from OpenDP).

A synthetic proxy is a table people may read in place of a private one. It is
made by MST (McKenna, Miklau and Sheldon, "Winning the NIST Contest", 2021):

1. measure every column's 1-way marginal with Gaussian noise, and pool the
   cells whose noisy count is below `RARE_SIGMAS` noise deviations: rare
   categories into one cell (as MST does), rare numeric bins with their
   neighbours (so that fine bins adapt to where the rows are); a pooled cell's
   synthetic values are drawn back among its cells in proportion to their noisy
   counts;
2. choose a maximum spanning tree of column pairs, each edge by the exponential
   mechanism scored on how far the pair's true 2-way marginal is from the
   independence estimate of the noisy 1-way marginals;
3. measure the tree's 2-way marginals with Gaussian noise;
4. fit a graphical model to all the noisy marginals with `mbi` (Private-PGM's
   successor by the same authors) and sample the synthetic rows from it.

`mbi` 2.0 ships the estimation, not the mechanisms, so the noise comes from
OpenDP, never from hand-rolled samplers: its discrete Gaussian mechanism
(``make_gaussian`` on integer counts) for the marginals and its
report-noisy-max with Gumbel noise (``make_noisy_max``, the exponential
mechanism) for the tree. Each is built under zero-concentrated DP (zCDP), and
OpenDP's own privacy maps give each one's rho; the three steps get a third of
the budget each, and the rhos add up (zCDP composes by summing). The epsilon a
caller gives is (epsilon, delta)-DP, approximate DP: it is turned into the
largest rho whose zCDP-to-approximate-DP conversion (OpenDP's
``make_zCDP_to_approxDP``) stays within epsilon at ``delta``. Neighbouring
datasets differ by adding or removing one privacy unit: a row, or a person who
contributes at most ``max_rows_per_unit`` rows (the rest of their rows are left
out before anything is measured).

Every column is discretized with public facts only, never with domains read
from the data: a numeric column needs bounds (values are clamped to them, then
cut into ``bins`` equal-width bins, or one bin per whole number for integers
with at most ``bins`` values), a text or other column needs its categories
(values outside them count as missing); booleans are their two values. Facts
come from the policy (`tillage.core.policy.ColumnPolicy`) or from the caller.
A column without them is refused (`SynthesisDomainError`), naming the fix.
Every column also has one more code for null. Columns of class
``direct_identifier`` and the privacy-unit column are never synthesized; key
columns are regenerated as fresh numbers or names.

The noise is drawn from OpenDP's cryptographic generator and cannot be seeded;
``seed`` fixes the rest (sampling the rows and their values within bins).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.core.policy import ColumnClass, DatasetPolicy
from tillage.errors import PrivacyParameterError, SynthesisDomainError

if TYPE_CHECKING:
    import numpy as np

#: Equal-width bins of a numeric column: of 10, 20 and 40, the one whose proxies of
#: ISLR::Wage kept 2-way marginals best at epsilon 1 (benchmarks/bench_synthesize.py --tune).
DEFAULT_BINS = 10
#: delta of (epsilon, delta)-DP when the caller gives none.
DEFAULT_DELTA = 1e-9
#: Mirror-descent iterations of the graphical model fit.
FIT_ITERS = 1000
#: A 1-way cell whose noisy count is below this many noise deviations is pooled before
#: the 2-way step (MST's rule).
RARE_SIGMAS = 3.0
SYNTHESIZER = "mst"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ColumnCodec:
    """How one column's values become codes ``0..size-1`` and back, from public facts.

    Attributes:
        name: the column.
        type: its Arrow type.
        bounds: numeric columns: the public [lower, upper] values are clamped to.
        categories: other columns: the public values; anything else is coded as null.
        edges: numeric columns: the bin edges (``len(edges) - 1`` bins).
        whole: numeric columns: one bin per whole number (integers with a small range).
    """

    name: str
    type: pa.DataType
    bounds: tuple[float, float] | None
    categories: tuple[Any, ...] | None
    edges: tuple[float, ...] = ()
    whole: bool = False

    @property
    def size(self) -> int:
        """Codes: one per bin or category, and one for null."""
        if self.categories is not None:
            return len(self.categories) + 1
        bins = self._span if self.whole else len(self.edges) - 1
        return bins + 1

    @property
    def _span(self) -> int:
        assert self.bounds is not None
        return int(self.bounds[1]) - int(self.bounds[0]) + 1

    @property
    def null_code(self) -> int:
        return self.size - 1

    def facts(self) -> dict[str, Any]:
        """The public facts used, as JSON-ready values."""
        if self.categories is not None:
            return {"categories": [_plain_value(c) for c in self.categories]}
        assert self.bounds is not None
        return {
            "bounds": list(self.bounds),
            "bins": self._span if self.whole else len(self.edges) - 1,
        }

    def encode(self, column: pa.ChunkedArray) -> np.ndarray:
        """Each value's code (int64)."""
        import numpy as np
        import pyarrow.compute as pc

        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if self.categories is not None:
            found = pc.index_in(column, value_set=_category_array(self, column.type))
            codes = pc.fill_null(found, self.null_code).to_numpy(zero_copy_only=False)
            return np.asarray(codes, dtype=np.int64)
        assert self.bounds is not None
        values = np.asarray(
            pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
        missing = np.isnan(values)
        clamped = np.clip(np.where(missing, self.bounds[0], values), *self.bounds)
        if self.whole:
            codes = np.rint(clamped - self.bounds[0]).astype(np.int64)
        else:
            inner = np.asarray(self.edges[1:-1])
            codes = np.searchsorted(inner, clamped, side="right").astype(np.int64)
        codes[missing] = self.null_code
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pa.Array:
        """Values for ``codes``: categories as they are, numbers drawn within their bin."""
        import numpy as np

        null = codes == self.null_code
        if self.categories is not None:
            values = _category_array(self, self.type).take(
                pa.array(np.where(null, 0, codes), pa.int64())
            )
            out = pa.array(values.to_pylist(), values.type, mask=null)
            return _cast(out, self.type)
        assert self.bounds is not None
        safe = np.where(null, 0, codes)
        if self.whole:
            numbers = self.bounds[0] + safe.astype(np.float64)
        else:
            edges = np.asarray(self.edges)
            low, high = edges[safe], edges[safe + 1]
            numbers = low + rng.random(len(codes)) * (high - low)
            if pa.types.is_integer(self.type):
                numbers = np.clip(np.floor(numbers), self.bounds[0], self.bounds[1])
        return _cast(pa.array(numbers, pa.float64(), mask=null), self.type)


def _category_array(codec: ColumnCodec, to: pa.DataType) -> pa.Array:
    assert codec.categories is not None
    values = pa.array(list(codec.categories))
    if pa.types.is_dictionary(to):
        to = to.value_type
    try:
        return values.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise SynthesisDomainError(
            [codec.name],
            f"its categories {list(codec.categories)!r} are not values of its type {to}",
        ) from None


def _cast(values: pa.Array, to: pa.DataType) -> pa.Array:
    try:
        return values.cast(to, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return values


def _plain_value(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class Plan:
    """Which columns a synthesis keeps, regenerates or drops, and how it codes them.

    Attributes:
        codecs: the synthesized columns, in the dataset's order.
        key: the key columns, regenerated.
        dropped: column -> why it is not in the synthetic table.
    """

    codecs: tuple[ColumnCodec, ...]
    key: tuple[str, ...]
    dropped: Mapping[str, str]


def plan_columns(
    dataset: str,
    schema: pa.Schema,
    key: Sequence[str],
    policy: DatasetPolicy | None,
    *,
    columns: Sequence[str] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    categories: Mapping[str, Sequence[Any]] | None = None,
    bins: int = DEFAULT_BINS,
) -> Plan:
    """Decide, from the schema and public facts only, how each column is synthesized.

    Args:
        dataset: the dataset (for messages).
        schema: its schema.
        key: its key columns (regenerated, never synthesized).
        policy: its privacy policy, if private (classes, bounds, categories).
        columns: synthesize only these (default: every column not dropped).
        bounds: numeric column -> (lower, upper), over the policy's.
        categories: column -> its values, over the policy's.
        bins: equal-width bins per numeric column.

    Raises:
        SynthesisDomainError: a column to synthesize has no public bounds or
            categories, or a fact given for a column that is not there.
        PrivacyParameterError: ``bins`` below 1, or bounds that are not lower < upper.
    """
    bounds, categories = dict(bounds or {}), dict(categories or {})
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise PrivacyParameterError("bins", bins, "a whole number >= 1")
    names = schema.names
    unknown = [c for c in [*(columns or []), *bounds, *categories] if c not in names]
    if unknown:
        raise SynthesisDomainError(
            sorted(set(unknown)),
            f"{dataset!r} has no such column (its columns: {', '.join(names)})",
        )
    dropped: dict[str, str] = {}
    codecs: list[ColumnCodec] = []
    lacking: list[str] = []
    unit = policy.privacy_unit if policy is not None else "row"
    for field in schema:
        name = field.name
        cls = policy.column(name).cls if policy is not None else None
        if name in key:
            continue
        if cls is ColumnClass.DIRECT_IDENTIFIER:
            dropped[name] = "direct identifier: never synthesized"
        elif name == unit:
            dropped[name] = "privacy unit: never synthesized"
        elif columns is not None and name not in columns:
            dropped[name] = "not asked for"
        else:
            declared = policy.column(name) if policy is not None else None
            codec = _codec(
                field,
                bounds.get(name, declared.bounds if declared else None),
                categories.get(name, declared.categories if declared else None),
                bins,
            )
            if codec is None:
                lacking.append(name)
            else:
                codecs.append(codec)
    if lacking:
        raise SynthesisDomainError(
            lacking, "it has no public bounds (numbers) or categories (other values)"
        )
    if not codecs:
        raise SynthesisDomainError(
            [], f"no column of {dataset!r} is left to synthesize ({_reasons(dropped)})"
        )
    return Plan(tuple(codecs), tuple(key), dropped)


def _reasons(dropped: Mapping[str, str]) -> str:
    return "; ".join(f"{c}: {why}" for c, why in dropped.items()) or "it has only key columns"


def _codec(
    field: pa.Field,
    bounds: tuple[float, float] | None,
    categories: Sequence[Any] | None,
    bins: int,
) -> ColumnCodec | None:
    t = field.type
    value_type = t.value_type if pa.types.is_dictionary(t) else t
    if pa.types.is_boolean(value_type) and categories is None:
        categories = (False, True)
    if categories is not None:
        return ColumnCodec(field.name, t, None, tuple(categories))
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if bounds is None or not numeric:
        return None
    low, high = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise PrivacyParameterError(f"bounds of {field.name}", bounds, "two numbers, lower < upper")
    if pa.types.is_integer(t) and low.is_integer() and high.is_integer() and high - low < bins:
        return ColumnCodec(field.name, t, (low, high), None, whole=True)
    step = (high - low) / bins
    edges = (*(low + i * step for i in range(bins)), high)
    return ColumnCodec(field.name, t, (low, high), None, edges=edges)


@dataclass(frozen=True)
class Synthesis:
    """A synthetic table and how it was made.

    Attributes:
        table: the synthetic rows (regenerated key, then the synthesized columns).
        epsilon: the (epsilon, delta)-DP guarantee spent.
        delta: its delta.
        rho: the zCDP budget that guarantee allows, and ``rho_spent`` what OpenDP's
            maps say the measurements used (at most ``rho``).
        settings: the synthesizer and its settings, as JSON-ready values.
        seconds: how long the fit and sampling took.
    """

    table: pa.Table
    epsilon: float
    delta: float
    rho: float
    rho_spent: float
    settings: Mapping[str, Any]
    seconds: float


def _opendp() -> Any:
    """OpenDP's prelude, with its mechanisms enabled (typed loosely: its stubs are partial)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def rho_for(epsilon: float, delta: float) -> float:
    """The largest zCDP rho whose conversion to approximate DP is within (epsilon, delta).

    Uses OpenDP's ``make_zCDP_to_approxDP`` on a Gaussian mechanism whose rho is
    set by its scale, and searches the scale.
    """
    dp = _opendp()
    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)

    def gaussian(scale: float) -> Any:
        return dp.m.make_gaussian(*space, scale=scale)

    def within(scale: float) -> bool:
        try:
            profile = dp.c.make_zCDP_to_approxDP(gaussian(scale)).map(1.0)
            return bool(profile.epsilon(delta) <= epsilon)
        except dp.OpenDPException:  # a rho so large its epsilon overflows
            return False

    scale = dp.binary_search(within, bounds=(1e-3, 1e9))
    return float(gaussian(scale).map(1.0))


def mst(
    codes: Mapping[str, np.ndarray],
    codecs: Sequence[ColumnCodec],
    *,
    epsilon: float,
    delta: float,
    unit_rows: int,
    rows: int | None,
    seed: int,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any], float, float]:
    """Fit MST to ``codes`` under (epsilon, delta)-DP and sample synthetic codes.

    Args:
        codes: column -> the real rows' codes (`ColumnCodec.encode`).
        codecs: the columns' codecs (their sizes are the domain).
        epsilon: the approximate-DP epsilon; delta: its delta.
        unit_rows: the most rows one privacy unit contributes (the sensitivity).
        rows: synthetic rows (None: the model's noisy estimate of the real count).
        seed: seeds the sampling.
        progress: told of each step.

    Returns:
        The synthetic codes per column, the settings, rho allowed and rho spent.
    """
    import itertools
    import os
    import warnings

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import networkx as nx
    import numpy as np

    config: Any = jax.config
    config.update("jax_enable_x64", True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mbi import Dataset, Domain, LinearMeasurement, estimation

    dp = _opendp()
    say = progress or (lambda _: None)
    names = [c.name for c in codecs]
    domain = Domain(names, [c.size for c in codecs])
    data = Dataset({n: codes[n] for n in names}, domain)
    rho = rho_for(epsilon, delta)
    spent = 0.0
    counts = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int)

    def measure(table: Any, cliques: list[tuple[str, ...]], share: float) -> list[Any]:
        nonlocal spent
        each = share / len(cliques)
        scale = dp.binary_search_param(
            lambda s: dp.m.make_gaussian(*counts, scale=s), d_in=unit_rows, d_out=each
        )
        mechanism = dp.m.make_gaussian(*counts, scale=scale)
        out = []
        for clique in cliques:
            x = np.asarray(table.project(clique).datavector(), dtype=np.int64)
            y = np.asarray(mechanism(x.tolist()), dtype=np.float64)
            spent += float(mechanism.map(unit_rows))
            out.append(LinearMeasurement(y, clique, stddev=float(scale)))
        return out

    say("measuring 1-way marginals")
    one = measure(data, [(n,) for n in names], rho / 3)
    sigma = float(one[0].stddev)
    # pool rare cells, judged on the noisy counts (post-processing): a category joins
    # the column's other rare ones, as MST does; a numeric bin joins its neighbours
    ordered = {c.name for c in codecs if c.categories is None}
    fine = {m.clique[0]: np.asarray(m.noisy_measurement, dtype=np.float64) for m in one}
    mapping: dict[str, np.ndarray] = {}
    for name, y in fine.items():
        pooled = _pool(y, RARE_SIGMAS * sigma, name in ordered)
        if pooled is not None:
            mapping[name] = pooled
    # the noisy count of rows: each 1-way marginal sums to it, so average their sums
    total = max(1.0, float(np.mean([np.sum(m.noisy_measurement) for m in one])))
    small = data.compress(mapping) if mapping else data
    # each column's share of rows, fitted to its noisy 1-way counts (pooled as above)
    shares = {
        m.clique[0]: _simplex(
            np.bincount(mapping[m.clique[0]], weights=np.asarray(m.noisy_measurement))
            if m.clique[0] in mapping
            else np.asarray(m.noisy_measurement, dtype=np.float64),
            total,
        )
        for m in one
    }
    one = [m.compress(mapping, domain) for m in one]
    fit = estimation.MirrorDescent()
    pairs = list(itertools.combinations(names, 2))
    edges: list[tuple[str, ...]] = []
    if pairs:
        say("choosing column pairs")
        # how far each pair is from what the noisy 1-way marginals say under independence
        error = {
            (a, b): float(
                np.abs(
                    np.asarray(small.project((a, b)).datavector())
                    - total * np.outer(shares[a], shares[b]).ravel()
                ).sum()
            )
            for a, b in pairs
        }
        rounds = len(names) - 1
        scores = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.linf_distance(T=float)
        zcdp = dp.zero_concentrated_divergence()
        scale = dp.binary_search_param(
            lambda s: dp.m.make_noisy_max(*scores, zcdp, scale=s),
            d_in=float(unit_rows),
            d_out=rho / 3 / rounds,
        )
        choose = dp.m.make_noisy_max(*scores, zcdp, scale=scale)
        tree = nx.Graph()
        tree.add_nodes_from(names)
        for _ in range(rounds):
            open_pairs = [p for p in pairs if not nx.has_path(tree, *p)]
            picked = open_pairs[choose([error[p] for p in open_pairs])]
            spent += float(choose.map(float(unit_rows)))
            tree.add_edge(*picked)
        edges = [tuple(sorted(e, key=names.index)) for e in tree.edges]
        say("measuring 2-way marginals")
        two = measure(small, edges, rho / 3)  # on the pooled cells, as MST does
    else:
        two = []
    say("fitting the graphical model")
    model = fit.estimate(small.domain, one + two, known_total=total, iters=FIT_ITERS)
    say("sampling rows")
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        synthetic = model.synthetic_data(rows or max(1, round(total)))
    finally:
        np.random.set_state(state)
    rng = np.random.default_rng(seed)
    out = {}
    for n in names:
        drawn = np.asarray(synthetic.data[n], dtype=np.int64)
        out[n] = _unpool(drawn, mapping[n], fine[n], rng) if n in mapping else drawn
    settings = {
        "synthesizer": SYNTHESIZER,
        "estimator": "mbi.MirrorDescent",
        "iters": FIT_ITERS,
        "tree": [list(e) for e in edges],
        "mechanisms": "OpenDP discrete Gaussian (marginals), noisy max with Gumbel noise "
        "(tree), under zCDP",
        "budget_split": [1 / 3, 1 / 3, 1 / 3],
        "unit_rows": unit_rows,
    }
    return out, settings, rho, spent


def _pool(counts: np.ndarray, least: float, ordered: bool) -> np.ndarray | None:
    """Map each cell of a column to a pooled cell so that no pooled cell is rare.

    ``counts`` are the column's noisy counts, null last. Unordered: every cell below
    ``least`` goes to one shared cell (MST's rule). Ordered (numeric bins): runs of
    neighbouring bins are joined until each holds at least ``least``; null keeps its
    own cell. Returns None when nothing is pooled.
    """
    import numpy as np

    if not ordered:
        common = counts >= least
        if common.all() or not common.any():
            return None
        index = np.cumsum(common) - 1
        index[~common] = int(common.sum())
        return np.asarray(index, dtype=np.int64)
    bins = counts[:-1]
    index = np.zeros(len(counts), dtype=np.int64)
    group, held = 0, 0.0
    for i, c in enumerate(bins):
        index[i] = group
        held += float(c)
        if held >= least and i < len(bins) - 1:
            group, held = group + 1, 0.0
    if held < least and group > 0:  # a rare last run joins the one before it
        index[: len(bins)][index[: len(bins)] == group] = group - 1
        group -= 1
    index[-1] = group + 1
    return None if group + 2 == len(counts) else index


def _unpool(
    codes: np.ndarray, mapping: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Codes of the original cells for pooled ``codes``: each drawn among its pool's
    cells in proportion to their noisy ``counts`` (clipped at zero; evenly if none)."""
    import numpy as np

    out = np.empty_like(codes)
    weight = np.clip(counts, 0.0, None)
    for pool in np.unique(codes):
        members = np.flatnonzero(mapping == pool)
        at = np.flatnonzero(codes == pool)
        w = weight[members]
        p = w / w.sum() if w.sum() > 0 else None
        out[at] = rng.choice(members, size=len(at), p=p)
    return out


def _simplex(counts: np.ndarray, total: float) -> np.ndarray:
    """The distribution nearest (least squares) to ``counts / total``: the projection
    onto the probability simplex (Duchi et al., 2008), as mbi's estimate of 1-way
    measurements alone would find."""
    import numpy as np

    v = counts / total
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    k = np.arange(1, len(v) + 1)
    last = int(np.flatnonzero(u - cumulative / k > 0)[-1])
    return np.asarray(np.maximum(v - cumulative[last] / (last + 1), 0.0))


def synthesize_table(
    real: pa.Table,
    plan: Plan,
    *,
    epsilon: float,
    delta: float = DEFAULT_DELTA,
    unit_rows: int = 1,
    rows: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Synthesis:
    """A synthetic table of ``real``'s planned columns under (epsilon, delta)-DP.

    Args:
        real: the real rows, one privacy unit contributing at most ``unit_rows``.
        plan: `plan_columns`' answer for ``real``'s dataset.
        epsilon, delta: the guarantee; both are spent here whatever follows.
        unit_rows: the most rows of one privacy unit in ``real``.
        rows: synthetic rows (None: a noisy estimate of ``real``'s count).
        seed: seeds the sampling.
        progress: told of each step.

    Raises:
        PrivacyParameterError: epsilon, delta or rows out of range.
    """
    import numpy as np

    check_parameters(epsilon, delta, rows)
    started = time.perf_counter()
    codes = {c.name: c.encode(real.column(c.name)) for c in plan.codecs}
    synthetic, settings, rho, spent = mst(
        codes,
        plan.codecs,
        epsilon=epsilon,
        delta=delta,
        unit_rows=unit_rows,
        rows=rows,
        seed=seed,
        progress=progress,
    )
    rng = np.random.default_rng(seed)
    n = len(next(iter(synthetic.values())))
    arrays: dict[str, pa.Array] = {}
    for name in plan.key:
        t = real.schema.field(name).type
        ids = pa.array(np.arange(n, dtype=np.int64))
        arrays[name] = (
            _cast(ids, t)
            if pa.types.is_integer(t)
            else pa.array([f"synthetic-{i}" for i in range(n)])
        )
    for codec in plan.codecs:
        arrays[codec.name] = codec.decode(synthetic[codec.name], rng)
    settings = {
        **settings,
        "bins": {c.name: c.facts() for c in plan.codecs},
        "seed": seed,
    }
    return Synthesis(
        table=pa.table(arrays),
        epsilon=epsilon,
        delta=delta,
        rho=rho,
        rho_spent=spent,
        settings=settings,
        seconds=time.perf_counter() - started,
    )


def check_parameters(epsilon: Any, delta: Any, rows: Any) -> None:
    """Refuse an epsilon or delta out of range, or a row count that is not a whole number > 0.

    Raises:
        PrivacyParameterError: naming the parameter, its value and the range.
    """
    if not _number(epsilon) or epsilon <= 0:
        raise PrivacyParameterError("epsilon", epsilon, "a number > 0")
    if not _number(delta) or not 0 < delta < 1:
        raise PrivacyParameterError("delta", delta, "a number between 0 and 1, exclusive")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise PrivacyParameterError("rows", rows, "a whole number >= 1")


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def bound_contributions(real: pa.Table, unit: str, most: int) -> pa.Table:
    """``real`` with at most ``most`` rows of each value of ``unit`` (its first ones)."""
    import numpy as np
    import pyarrow.compute as pc

    ids = pc.dictionary_encode(real.column(unit)).combine_chunks().indices
    codes = np.asarray(pc.fill_null(ids, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    ranked = np.empty(len(codes), dtype=np.int64)
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    run = np.arange(len(codes)) - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    ranked[order] = run
    return real.filter(pa.array(ranked < most))


@dataclass(frozen=True)
class SyntheticProxy:
    """A synthetic proxy written to the repository, with its guarantee and fidelity.

    Attributes:
        name: the synthetic dataset.
        commit: the commit that wrote it.
        source: the private dataset it imitates, and ``source_commit`` the commit read.
        rows: synthetic rows written.
        epsilon, delta: the (epsilon, delta)-DP guarantee spent on ``source``.
        dropped: column -> why it is not in the proxy (direct identifiers, ...).
        settings: the synthesizer and its settings.
        fidelity: the fidelity report (`FidelityReport.to_dict`, with floors).
        seconds: time spent fitting and sampling.
    """

    name: str
    commit: str
    source: str
    source_commit: str
    rows: int
    epsilon: float
    delta: float
    dropped: Mapping[str, str]
    settings: Mapping[str, Any]
    fidelity: Mapping[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The proxy's facts as JSON-ready values."""
        return {
            "name": self.name,
            "commit": self.commit,
            "source": self.source,
            "source_commit": self.source_commit,
            "rows": self.rows,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "dropped": dict(self.dropped),
            "settings": dict(self.settings),
            "fidelity": dict(self.fidelity),
            "seconds": self.seconds,
        }
