"""Dawid-Skene EM: the one aggregation core for labeling functions and human annotators.

Each source ``j`` (a labeling function, an annotator) is modelled by a
confusion matrix ``theta[j, y, o]``: the probability that it outputs ``o`` on a
record whose true class is ``y``; records are independent, sources are
conditionally independent given the true class (Dawid & Skene, 1979), and the
true classes follow a class balance ``prior``. EM alternates the posterior of
each record's class (E) with the sources' matrices and the prior (M).

Choices, and why:

- **Abstains.** ``abstain="missing"`` ignores them (annotators who were not
  shown a record say nothing about it). ``abstain="informative"`` makes "no
  vote" an output of its own (column ``K`` of the matrix): a labeling function
  that fires mostly on one class is informative by firing *and* by not firing,
  and a function that only ever votes one class carries no information at all
  when abstains are ignored.
- **Parameterisation.** ``model="confusion"`` is the full matrix (K x K free
  parameters per source); ``"accuracy"`` is the one-coin model (one accuracy per
  source, errors spread evenly; with informative abstains also a firing rate per
  class), which cannot overfit a source with few votes. ``"auto"`` (default)
  gives the full matrix only to sources with at least `MIN_VOTES_PER_CELL` votes
  per cell under the majority-vote start, the one-coin model to the rest. (A
  labeling function that only ever votes one class breaks the one-coin model's
  symmetric errors: `LabelModel` uses the full matrix with informative abstains,
  where such a function has just two free rates, firing per class.)
- **Smoothing.** Dirichlet pseudo-counts (``strength`` of them per row) pull each
  row towards a source that is right ``prior_accuracy`` of the time and abstains
  at its observed rate; the class balance gets ``prior_strength`` pseudo-counts
  towards uniform. So a source with one vote, or a class no one voted for, stays
  finite and near the prior instead of collapsing to 0 or 1.
- **Start.** From the (smoothed) majority vote, which with accuracies above
  1/K puts EM in the basin where classes keep their names.
- **Speed and determinism.** No randomness. Identical vote patterns are merged
  first (a record's posterior depends only on its pattern), so the iterations
  cost O(distinct patterns x sources x classes) in numpy; 1M records of 20
  sources fit in a few seconds on 2 cores (benchmarks/bench_label_model.py).
- **Weights.** ``source_weights`` raise each source's likelihood to a power (1 =
  plain Dawid-Skene): `LabelModel` uses it to count groups of redundant sources
  once rather than many times.
- **Floor.** ``min_precision`` constrains the M-step so that every label a
  source gives is right at least that often (``P(y = c | says c)``), the exact
  constrained maximum for each violating (source, label): a source can then be
  trusted more than the floor, never less, and never becomes evidence against
  what it says. `LabelModel` uses it only when asked to.
- **Known labels.** ``observed`` clamps the posterior of rows whose class is
  known (gold) to that class in every E-step: semi-supervised EM, where the
  known rows anchor the matrices and the rest still inform them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from tillage.errors import InputError
from tillage.labels.functions import check_vote_matrix

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Abstain = Literal["missing", "informative"]
Model = Literal["confusion", "accuracy", "auto"]

#: Under ``model="auto"``, the full confusion matrix needs this many expected votes per cell.
MIN_VOTES_PER_CELL: Final = 10.0
#: Probabilities never go below this (log of zero).
_FLOOR: Final = 1e-12


@dataclass(frozen=True, eq=False)
class Fitted:
    """A fitted Dawid-Skene model.

    Attributes:
        probabilities: (n_records, K) posterior class probabilities, rows sum to 1.
        confusion: (n_sources, K, O) ``P(output o | true class y)``; O = K, or K+1
            with informative abstains (last column: abstain).
        prior: (K,) class balance.
        log_likelihood: log P(votes) under the fitted parameters (with source
            weights, the weighted pseudo-log-likelihood).
        iterations: EM iterations run.
        converged: whether the relative change of the objective fell below ``tol``.
        models: per source, ``"confusion"`` or ``"accuracy"``.
        votes_per_source: (n_sources,) how many records each source labelled.
        abstain: how abstains were treated.
    """

    probabilities: FloatArray
    confusion: FloatArray
    prior: FloatArray
    log_likelihood: float
    iterations: int
    converged: bool
    models: tuple[str, ...]
    votes_per_source: IntArray
    abstain: Abstain
    source_weights: FloatArray

    @property
    def n_classes(self) -> int:
        return int(self.prior.shape[0])

    @property
    def n_sources(self) -> int:
        return int(self.confusion.shape[0])

    def posterior(self, votes: Any) -> FloatArray:
        """Class probabilities of other records' votes under the fitted parameters (one E-step)."""
        k = self.n_classes
        m_votes = check_vote_matrix(votes, k)
        if m_votes.shape[1] != self.n_sources:
            raise InputError(
                f"the votes have {m_votes.shape[1]} source(s), the model was fitted on "
                f"{self.n_sources}; pass the same sources in the same order."
            )
        patterns, inverse, _ = unique_rows(m_votes)
        columns = np.ascontiguousarray(np.where(patterns < 0, k, patterns).T.astype(np.int64))
        post, _ = _e_step(columns, self._log_theta(), self.source_weights, self.prior)
        return np.asarray(post[inverse])

    def _log_theta(self) -> FloatArray:
        k = self.n_classes
        out = np.zeros((self.n_sources, k, k + 1))
        if self.abstain == "informative":
            out[:] = np.log(np.maximum(self.confusion, _FLOOR))
        else:
            out[:, :, :k] = np.log(np.maximum(self.confusion, _FLOOR))
        return out

    def predict(self) -> IntArray:
        """Most probable class per record; ties go to the class with the larger prior."""
        return argmax_by_prior(self.probabilities, self.prior)

    def accuracies(self) -> FloatArray:
        """Per source, P(its label is right | it labelled), under the fitted prior."""
        k = self.n_classes
        diag = np.einsum("jyy->jy", self.confusion[:, :, :k])
        voted = self.confusion[:, :, :k].sum(axis=2)
        return np.asarray((diag @ self.prior) / np.maximum(voted @ self.prior, _FLOOR))


def argmax_by_prior(probabilities: FloatArray, prior: FloatArray, tol: float = 1e-9) -> IntArray:
    """Row-wise argmax; among classes within ``tol`` of the best, the larger prior wins."""
    order = np.argsort(-prior, kind="stable")
    p = probabilities[:, order]
    best = p.max(axis=1, keepdims=True)
    first = np.argmax(p >= best - tol, axis=1)
    return np.asarray(order[first], dtype=np.int64)


def fit(
    votes: Any,
    n_classes: int,
    *,
    abstain: Abstain = "missing",
    model: Model = "auto",
    prior: Sequence[float] | None = None,
    prior_accuracy: float = 0.7,
    strength: float = 2.0,
    prior_strength: float = 1.0,
    source_weights: Sequence[float] | FloatArray | None = None,
    min_precision: float | None = None,
    counts: Sequence[float] | FloatArray | None = None,
    observed: Any = None,
    init: Any = None,
    max_iter: int = 200,
    tol: float = 1e-7,
) -> Fitted:
    """Fit Dawid-Skene by EM on a vote matrix.

    Args:
        votes: (n_records, n_sources) class indices 0..K-1, -1 for no vote.
        n_classes: K, at least 2.
        abstain: ``"missing"`` (no information) or ``"informative"`` (an output).
        model: ``"confusion"``, ``"accuracy"`` (one-coin) or ``"auto"`` (per source).
        prior: a known class balance (K numbers summing to 1); learned if None.
        prior_accuracy: the Dirichlet smoothing's centre: how often a source is right.
        strength: Dirichlet pseudo-counts per confusion row (0 = none).
        prior_strength: pseudo-counts per class of the class balance.
        source_weights: per source, the power of its likelihood (default all 1).
        min_precision: if given, each source's label ``c`` must be right at least
            this often: ``P(true class c | it says c) >= min_precision`` (constrained
            M-step; see `_floor_precision`). Sources then cannot turn into evidence
            against what they say.
        counts: how many identical records each row stands for (default 1 each):
            callers that fit several times merge identical rows once.
        observed: per row, its known class (0..K-1) or -1: known rows keep that
            class as a fixed, observed label in every E-step (semi-supervised EM),
            so they anchor the sources' matrices; they count in the prior only
            when it is learned.
        init: (n_records, K) starting posteriors; default: the majority vote.
        max_iter: EM iterations at most.
        tol: stop when the objective's relative change is below this.

    Returns:
        `Fitted`.

    Raises:
        InputError: an empty or malformed matrix, votes outside 0..K-1, bad options.
    """
    k = _check_int("n_classes", n_classes, 2)
    m_votes = check_vote_matrix(votes, k)
    n, m = m_votes.shape
    if abstain not in ("missing", "informative"):
        raise InputError(f"abstain must be 'missing' or 'informative', got {abstain!r}.")
    if model not in ("confusion", "accuracy", "auto"):
        raise InputError(f"model must be 'confusion', 'accuracy' or 'auto', got {model!r}.")
    if not 1.0 / k < prior_accuracy < 1.0:
        raise InputError(
            f"prior_accuracy must be between 1/K = {1 / k:.3g} and 1, got {prior_accuracy!r}; "
            "e.g. 0.7 (sources are right more often than chance)."
        )
    for name, value in (("strength", strength), ("prior_strength", prior_strength)):
        if not (isinstance(value, int | float) and np.isfinite(value) and value >= 0):
            raise InputError(f"{name} must be a number of at least 0, got {value!r}.")
    _check_int("max_iter", max_iter, 1)
    if min_precision is not None and not 0.0 < min_precision < 1.0:
        raise InputError(
            f"min_precision must be between 0 and 1 (exclusive), got {min_precision!r}; "
            "e.g. 0.6, or None for no floor."
        )
    fixed_prior = None if prior is None else _check_distribution(prior, k)
    known = None if observed is None else np.asarray(observed, dtype=np.int64)
    if known is not None and (known.shape != (n,) or known.min() < -1 or known.max() >= k):
        raise InputError(
            f"observed must be {n} class indices (0..{k - 1}, -1 unknown), one per row."
        )
    weights = np.ones(m) if source_weights is None else np.asarray(source_weights, np.float64)
    if weights.shape != (m,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputError(
            f"source_weights must be {m} non-negative numbers (one per source), "
            f"got shape {weights.shape}."
        )

    outputs = k + 1  # column K: abstain (informative) or "no vote" (log-probability 0)
    if counts is None:
        patterns, inverse, mult = unique_rows(m_votes)
    else:
        mult = np.asarray(counts, dtype=np.float64)
        if mult.shape != (n,) or not np.all(np.isfinite(mult)) or np.any(mult <= 0):
            raise InputError(
                f"counts must be {n} positive numbers (one per row), got shape {mult.shape}."
            )
        patterns, inverse = m_votes, np.arange(n, dtype=np.int64)
    if known is not None and counts is None:
        # Rows merged by pattern would mix known and unknown records: keep them apart.
        patterns, inverse, mult = m_votes, np.arange(n, dtype=np.int64), np.ones(n)
    clamp = None if known is None else known[_first_rows(inverse, len(mult))]
    codes = np.where(patterns < 0, k, patterns).astype(np.int64)  # (u, m) in 0..K
    columns = np.ascontiguousarray(codes.T)  # (m, u): one contiguous row per source
    informative = abstain == "informative"
    n_votes = ((patterns >= 0) * mult[:, None]).sum(axis=0)
    total = float(mult.sum())
    abstain_rate = 1.0 - n_votes / total

    if init is None:
        post = _majority(codes, k)
    elif counts is None:
        post = _check_init(init, n, k)[_first_rows(inverse, len(mult))]
    else:
        post = _check_init(init, n, k)
    if clamp is not None:
        post = _clamped(post, clamp)
    pseudo = _pseudo_counts(k, m, prior_accuracy, strength, abstain_rate, informative)

    # Which sources get the full matrix: enough expected votes per cell at the start.
    cell_counts = _counts(columns, mult, post, outputs)[:, :, :k]
    if model == "auto":
        full = cell_counts.sum(axis=2).min(axis=1) >= MIN_VOTES_PER_CELL * k
    else:
        full = np.full(m, model == "confusion")

    objective = -np.inf
    converged = False
    it = 0
    log_lik = -np.inf
    theta = np.empty((m, k, outputs))
    pi = np.full(k, 1.0 / k)
    while it < max_iter:
        it += 1
        # M-step
        cnt = _counts(columns, mult, post, outputs)
        theta = _m_step(cnt, pseudo, full, informative, k, prior_accuracy, strength, abstain_rate)
        if fixed_prior is not None:
            pi = fixed_prior
        else:
            mass = post.T @ mult + prior_strength
            pi = mass / mass.sum()
        if min_precision is not None:
            theta = _floor_precision(theta, cnt + pseudo, pi, min_precision, informative)
        # E-step
        log_theta = np.log(np.maximum(theta, _FLOOR))
        if not informative:
            log_theta[:, :, k] = 0.0
        post, lse = _e_step(columns, log_theta, weights, pi)
        if clamp is not None:
            rows = np.flatnonzero(clamp >= 0)
            lse[rows] += np.log(np.maximum(post[rows, clamp[rows]], _FLOOR))
            post = _clamped(post, clamp)
        log_lik = float(mult @ lse)
        new = log_lik + _log_prior(theta, pseudo, pi, prior_strength, fixed_prior is None)
        if np.isfinite(objective) and abs(new - objective) <= tol * max(1.0, abs(new)):
            objective = new
            converged = True
            break
        objective = new

    confusion = theta if informative else _renormalised(theta[:, :, :k])
    return Fitted(
        probabilities=post[inverse],
        confusion=confusion,
        prior=pi.copy(),
        log_likelihood=log_lik,
        iterations=it,
        converged=converged,
        models=tuple("confusion" if f else "accuracy" for f in full),
        votes_per_source=np.rint(n_votes).astype(np.int64),
        abstain=abstain,
        source_weights=weights,
    )


# -- pieces ------------------------------------------------------------------------


def unique_rows(
    votes: npt.NDArray[np.int32],
) -> tuple[npt.NDArray[np.int32], IntArray, FloatArray]:
    """Distinct rows of a vote matrix, each record's row among them, and how many share each.

    Row order is deterministic (sorted by the rows' values).
    """
    n, m = votes.shape
    base = int(votes.max()) + 2
    if m * np.log2(base) < 62:
        keys = np.zeros(n, dtype=np.int64)
        for j in range(m):
            keys *= base
            keys += votes[:, j] + 1
        _, first, inverse, counts = np.unique(
            keys, return_index=True, return_inverse=True, return_counts=True
        )
        patterns = votes[first]
    else:
        patterns, inverse, counts = np.unique(
            votes, axis=0, return_inverse=True, return_counts=True
        )
    return patterns, inverse.reshape(-1).astype(np.int64), counts.astype(np.float64)


def _clamped(post: FloatArray, known: IntArray) -> FloatArray:
    """Posteriors with the rows of known class set to that class."""
    rows = np.flatnonzero(known >= 0)
    if rows.size == 0:
        return post
    out = post.copy()
    out[rows] = 0.0
    out[rows, known[rows]] = 1.0
    return out


def _first_rows(inverse: IntArray, u: int) -> IntArray:
    """For each distinct pattern, the first record that has it."""
    first = np.full(u, len(inverse), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse), dtype=np.int64))
    return first


def _majority(codes: IntArray, k: int) -> FloatArray:
    """Smoothed majority-vote posteriors of each pattern (uniform where nobody voted)."""
    u, m = codes.shape
    tally = np.zeros((u, k + 1))
    np.add.at(tally, (np.repeat(np.arange(u), m), codes.ravel()), 1.0)
    tally = tally[:, :k] + 0.5
    return np.asarray(tally / tally.sum(axis=1, keepdims=True))


def _counts(columns: IntArray, counts: FloatArray, post: FloatArray, outputs: int) -> FloatArray:
    """Expected counts C[j, y, o] = sum over records of P(y) [source j output o]."""
    m = columns.shape[0]
    k = post.shape[1]
    out = np.empty((m, k, outputs))
    for y in range(k):
        w = post[:, y] * counts
        for j in range(m):
            out[j, y] = np.bincount(columns[j], weights=w, minlength=outputs)
    return out


def _pseudo_counts(
    k: int,
    m: int,
    accuracy: float,
    strength: float,
    abstain_rate: FloatArray,
    informative: bool,
) -> FloatArray:
    """Dirichlet pseudo-counts per confusion row: right ``accuracy`` of the time."""
    centre = np.full((k, k), (1.0 - accuracy) / (k - 1))
    np.fill_diagonal(centre, accuracy)
    out = np.zeros((m, k, k + 1))
    if informative:
        fire = (1.0 - abstain_rate)[:, None, None]
        out[:, :, :k] = strength * fire * centre[None]
        out[:, :, k] = strength * abstain_rate[:, None]
    else:
        out[:, :, :k] = strength * centre[None]
    return out


def _m_step(
    cnt: FloatArray,
    pseudo: FloatArray,
    full: npt.NDArray[np.bool_],
    informative: bool,
    k: int,
    accuracy: float,
    strength: float,
    abstain_rate: FloatArray,
) -> FloatArray:
    """Confusion matrices from expected counts: full rows, or one-coin where ``full`` is off."""
    m = cnt.shape[0]
    if not informative:
        cnt = cnt.copy()
        cnt[:, :, k] = 0.0
    smoothed = cnt + pseudo
    theta: FloatArray = smoothed / np.maximum(smoothed.sum(axis=2, keepdims=True), _FLOOR)
    if full.all():
        return theta
    # One-coin: one accuracy per source over all classes, errors spread evenly.
    diag = np.einsum("jyy->j", cnt[:, :, :k])
    labelled = cnt[:, :, :k].sum(axis=(1, 2))
    acc = (diag + strength * accuracy) / (labelled + strength)
    coin = np.empty((m, k, k + 1))
    coin[:, :, :k] = ((1.0 - acc) / (k - 1))[:, None, None]
    idx = np.arange(k)
    coin[:, idx, idx] = acc[:, None]
    if informative:
        # Firing rate per true class, smoothed towards the observed rate.
        rows = cnt.sum(axis=2)
        rate = (cnt[:, :, k] + strength * abstain_rate[:, None]) / (rows + strength)
        coin[:, :, :k] *= (1.0 - rate)[:, :, None]
        coin[:, :, k] = rate
    else:
        coin[:, :, k] = 0.0
    return np.where(full[:, None, None], theta, coin)


def _floor_precision(
    theta: FloatArray, smoothed: FloatArray, pi: FloatArray, floor: float, informative: bool
) -> FloatArray:
    """Constrained M-step: ``pi_c theta[j,c,c] >= floor * sum_y pi_y theta[j,y,c]``.

    For each violating (source j, label c), the column ``b_y = theta[j, y, c]`` is
    the maximiser of the binomial expected log-likelihood ``sum_y n_y log b_y +
    (N_y - n_y) log(1 - b_y)`` under that linear constraint (KKT: one multiplier,
    found by bisection; each ``b_y`` is then a root of a quadratic), and the rest
    of each row is rescaled to keep its shape. That is the exact constrained MLE
    for one label of a source; sources rarely violate it for more than one.
    """
    k = theta.shape[1]
    theta = theta.copy()
    outputs = slice(None) if informative else slice(0, k)
    cols = np.arange(k)
    for c in range(k):
        col = theta[:, :, c]  # (m, K): P(says c | y)
        mass = col @ pi
        ok = pi[c] * col[:, c] >= floor * mass * (1 - 1e-9)
        bad = np.flatnonzero(~ok & (mass > 0))
        if bad.size == 0:
            continue
        n = smoothed[bad][:, :, c]  # (b, K) expected "says c" counts per true class
        total = smoothed[bad][:, :, outputs].sum(axis=2)
        a = np.where(cols == c, (1.0 - floor) * pi[c], -floor * pi)[None, :]

        def solve(
            lam: FloatArray, n: FloatArray = n, total: FloatArray = total, a: FloatArray = a
        ) -> FloatArray:
            la = lam[:, None] * a
            disc = np.sqrt(np.maximum((total - la) ** 2 + 4.0 * la * n, 0.0))
            return np.asarray(2.0 * n / np.maximum(total - la + disc, _FLOOR))

        def gap(b: FloatArray, a: FloatArray = a) -> FloatArray:
            return np.asarray((b * a).sum(axis=1))

        lo = np.zeros(bad.size)
        hi = np.ones(bad.size)
        for _ in range(200):  # grow until feasible
            short = gap(solve(hi)) < 0
            if not short.any():
                break
            hi = np.where(short, hi * 4.0, hi)
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            feasible = gap(solve(mid)) >= 0
            hi = np.where(feasible, mid, hi)
            lo = np.where(feasible, lo, mid)
        b = np.clip(solve(hi), _FLOOR, 1.0 - _FLOOR)
        old = theta[bad][:, :, c]
        rows = theta[bad]
        scale = (1.0 - b) / np.maximum(1.0 - old, _FLOOR)
        rows *= scale[:, :, None]
        rows[:, :, c] = b
        if not informative:
            rows[:, :, k] = 0.0
        theta[bad] = rows
    return theta


def _e_step(
    columns: IntArray, log_theta: FloatArray, weights: FloatArray, pi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Posteriors per pattern, and each pattern's log-likelihood (log-sum-exp)."""
    log_joint = _log_joint(columns, log_theta, weights, pi)
    top = log_joint.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
    return np.exp(log_joint - lse[:, None]), lse


def _log_joint(
    columns: IntArray, log_theta: FloatArray, weights: FloatArray, pi: FloatArray
) -> FloatArray:
    """log P(y) + sum_j w_j log P(v_j | y), per pattern and class.

    ``columns`` is the (m, u) transposed pattern matrix, so every gather is a
    contiguous 1-D `np.take` from a source's (class, output) row.
    """
    m, k, _ = log_theta.shape
    out = np.empty((k, columns.shape[1]))
    out[:] = np.log(np.maximum(pi, _FLOOR))[:, None]
    for j in range(m):
        if weights[j] == 0.0:
            continue
        for y in range(k):
            out[y] += np.take(weights[j] * log_theta[j, y], columns[j])
    return np.ascontiguousarray(out.T)


def _log_prior(
    theta: FloatArray, pseudo: FloatArray, pi: FloatArray, prior_strength: float, learned: bool
) -> float:
    """Log density of the Dirichlet priors (up to constants), for the EM objective."""
    total = float((pseudo * np.log(np.maximum(theta, _FLOOR))).sum())
    if learned:
        total += float(prior_strength * np.log(np.maximum(pi, _FLOOR)).sum())
    return total


def _renormalised(theta: FloatArray) -> FloatArray:
    return np.asarray(theta / np.maximum(theta.sum(axis=2, keepdims=True), _FLOOR))


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name} must be a whole number of at least {low}, got {value!r}.")
    return int(value)


def _check_distribution(values: Sequence[float], k: int) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (k,) or not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise InputError(
            f"prior must be {k} non-negative numbers, one per class, got {list(values)!r}; "
            "e.g. [0.5, 0.5], or leave it out to learn the class balance."
        )
    return np.asarray(arr / arr.sum())


def _check_init(init: Any, n: int, k: int) -> FloatArray:
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (n, k) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(
            f"init must be an ({n}, {k}) array of class probabilities, got shape {arr.shape}."
        )
    sums = arr.sum(axis=1, keepdims=True)
    return np.asarray(np.where(sums > 0, arr / np.where(sums > 0, sums, 1.0), 1.0 / k))
