"""Data valuation: what each training record contributes to validation accuracy.

`knn_shapley` is the closed form of Jia et al. (2019, "Efficient task-specific
data valuation for nearest neighbor algorithms"): the exact Shapley value of
each training record to the accuracy of a K-nearest-neighbour classifier on a
validation set. For one validation record, with the training records sorted by
distance (nearest first, ``a_1 .. a_N``) and ``m_i`` whether ``a_i`` has the
validation record's label::

    s(a_N) = m_N / N        (m_N / K when N < K)
    s(a_i) = s(a_{i+1}) + (m_i - m_{i+1}) / K * min(K, i) / i

and a record's value is the mean of ``s`` over the validation records. It is
computed for a block of validation records at a time (a distance matrix by one
matrix product, one sort per row, the recursion as a reversed cumulative sum),
the block sized so its arrays stay under ``memory`` bytes; ties in distance go to
the lower training index, so the values are deterministic.

Plain KNN-Shapley is a poor guide to what to remove: its lowest values go to
mislabelled records, but also to correctly labelled records near the class
boundary, which a model needs (on the tweets, removing the lowest-valued 20% of
clean records cost 5.8 points of accuracy). `data_values` therefore orders
records for removal in two tiers:

1. **likely mislabelled**: a negative KNN-Shapley value *and* a low agreement of
   the record's own label with the evidence (``agreement``: the probability of
   its label from a model that did not see it, such as out-of-fold probabilities;
   by default the share of its ``k`` nearest other training records that share
   it), below ``threshold``. These come first, lowest value first.
2. **the rest, redundant first**: records whose label the evidence agrees with
   most are the ones a model learns least from (they sit deep inside their
   class); boundary records come last.

The design was chosen on ``DAAG::spam7`` and ``Stat2Data::Kershaw`` (3 seeds
each, clean and with 10% of labels flipped; ``benchmarks/bench_valuation.py
--tune``), not on the tweets the benchmark reports: out-of-fold probabilities as
the evidence beat the neighbours' votes (on spam7's heavy-tailed numbers,
removing the 40% most redundant by neighbours cost 2 points, by out-of-fold
probabilities nothing), the threshold 0.3 beat 0.5, and the second tier's order
(redundant first, random, or highest KNN-Shapley first) mattered little.

`minimal_data` is the "least data for the best model" report: accuracy when the
x% lowest-valued records are removed, next to removing x% at random, from a
train-and-evaluate function the caller supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError

if TYPE_CHECKING:
    import numpy as np

#: Neighbours of the KNN classifier whose accuracy the values are of (Jia et al. use 1-10).
K = 10
#: A record is likely mislabelled when the evidence gives its own label less than this
#: probability (and its KNN-Shapley value is negative). Chosen from 0.3 and 0.5 on the
#: tuning data sets: at 0.5 too many correct boundary records join the first tier
#: (Kershaw with 10% flips regained 1.9 points removing 20%, against 2.7 at 0.3).
THRESHOLD = 0.3
#: Bytes the arrays of one block of validation records may take.
MEMORY = 256 * 2**20
#: Shares of the records removed in the minimal-data report.
SHARES = (0.1, 0.2, 0.4)


@dataclass(frozen=True, eq=False)
class DataValues:
    """Each training record's value, and the order to remove records in.

    Attributes:
        shapley: KNN-Shapley value per record (its contribution to validation accuracy).
        agreement: per record, the probability of its own label from the evidence.
        suspect: per record, whether it is likely mislabelled (tier 1).
        value: the removal value: lowest first is the order to remove records in;
            likely mislabelled records are below every other.
        k: neighbours of the KNN classifier.
        threshold: the agreement below which a record with negative value is suspect.
    """

    shapley: np.ndarray
    agreement: np.ndarray
    suspect: np.ndarray
    value: np.ndarray
    k: int
    threshold: float

    def __len__(self) -> int:
        return len(self.value)

    def lowest(self, share: float) -> np.ndarray:
        """Positions of the ``share`` lowest-valued records, lowest first."""
        import numpy as np

        if not 0 <= share <= 1:
            raise InputError(f"share is {share}; give a fraction between 0 and 1.")
        count = round(share * len(self))
        order: np.ndarray = np.lexsort((np.arange(len(self)), self.value))
        return order[:count]

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values (not the arrays themselves)."""
        import numpy as np

        return {
            "records": len(self),
            "k": self.k,
            "threshold": self.threshold,
            "suspect": int(self.suspect.sum()),
            "negative": int((self.shapley < 0).sum()),
            "shapley": {
                "min": float(self.shapley.min()) if len(self) else None,
                "median": float(np.median(self.shapley)) if len(self) else None,
                "max": float(self.shapley.max()) if len(self) else None,
            },
        }


def knn_shapley(
    train: np.ndarray,
    train_labels: Sequence[Any] | np.ndarray,
    valid: np.ndarray,
    valid_labels: Sequence[Any] | np.ndarray,
    *,
    k: int = K,
    memory: int = MEMORY,
) -> np.ndarray:
    """The exact KNN-Shapley value of each training record (Jia et al., 2019).

    Args:
        train: training vectors, shape (n, d).
        train_labels: their labels, n of them.
        valid: validation vectors, shape (m, d).
        valid_labels: their labels, m of them.
        k: neighbours of the KNN classifier.
        memory: bytes one block of validation records may take.

    Returns:
        float64 values, shape (n,): each record's mean contribution to the utility
        of Jia et al., the share of each validation record's ``k`` nearest training
        records that carry its label (a soft K-NN accuracy); they sum to that
        utility over all the training records.

    Raises:
        InputError: shapes that do not match, no records, or ``k`` below 1.
    """
    import numpy as np

    x, y, v, w = _check(train, train_labels, valid, valid_labels, k)
    n = len(x)
    ranks = np.arange(1, n, dtype=np.float64)
    weight = np.minimum(k, ranks) / ranks / k  # min(K, i) / i / K for i = 1 .. N-1
    sq_train = np.einsum("ij,ij->i", x, x)
    out = np.zeros(n)
    block = max(1, memory // (n * 8 * 6))  # six arrays of a row each
    for start in range(0, len(v), block):
        vb, wb = v[start : start + block], w[start : start + block]
        dist = sq_train[None, :] - 2.0 * (vb @ x.T)  # + |v|^2, the same along a row
        order = np.argsort(dist, axis=1, kind="stable")
        match = (y[order] == wb[:, None]).astype(np.float64)
        steps = (match[:, :-1] - match[:, 1:]) * weight
        s = np.empty_like(match)
        s[:, -1] = match[:, -1] * min(k, n) / (k * n)  # m_N / N when N >= K
        # s_i = s_N + sum_{j >= i} steps_j: a cumulative sum from the far end.
        s[:, :-1] = s[:, -1:] + np.cumsum(steps[:, ::-1], axis=1)[:, ::-1]
        back = np.empty_like(s)
        np.put_along_axis(back, order, s, axis=1)
        out += back.sum(axis=0)
    result: np.ndarray = out / len(v)
    return result


def neighbour_agreement(
    train: np.ndarray, labels: Sequence[Any] | np.ndarray, *, k: int = K, memory: int = MEMORY
) -> np.ndarray:
    """Per record, the share of its ``k`` nearest other training records that share its label.

    The evidence `data_values` uses when the caller has no model probabilities.
    Raises `InputError` as `knn_shapley` does.
    """
    import numpy as np

    x, y, _, _ = _check(train, labels, train, labels, k)
    n = len(x)
    k = min(k, n - 1)
    if k < 1:
        return np.ones(n)
    sq = np.einsum("ij,ij->i", x, x)
    out = np.empty(n)
    block = max(1, memory // (n * 8 * 3))
    for start in range(0, n, block):
        rows = np.arange(start, min(n, start + block))
        dist = sq[None, :] - 2.0 * (x[rows] @ x.T)
        dist[np.arange(len(rows)), rows] = np.inf  # not its own neighbour
        near = np.argsort(dist, axis=1, kind="stable")[:, :k]
        out[rows] = (y[near] == y[rows, None]).mean(axis=1)
    return out


def data_values(
    train: np.ndarray,
    train_labels: Sequence[Any] | np.ndarray,
    valid: np.ndarray,
    valid_labels: Sequence[Any] | np.ndarray,
    *,
    agreement: np.ndarray | None = None,
    k: int = K,
    threshold: float = THRESHOLD,
    memory: int = MEMORY,
) -> DataValues:
    """Each training record's KNN-Shapley value, and the two-tier order to remove them in.

    Args:
        train: training vectors, shape (n, d) (a featurizer's output).
        train_labels: their labels.
        valid: validation vectors, shape (m, d).
        valid_labels: their labels.
        agreement: per training record, the probability of its own label from a model
            that did not see it (out-of-fold); default `neighbour_agreement`.
        k: neighbours of the KNN classifier (and of the default agreement).
        threshold: a record with negative value whose agreement is below this is
            likely mislabelled.
        memory: bytes one block of records may take.

    Returns:
        `DataValues` (see the module doc for the order).

    Raises:
        InputError: shapes that do not match, an agreement that is not one probability
            per record, or a threshold outside [0, 1].
    """
    import numpy as np

    if not 0 <= threshold <= 1:
        raise InputError(f"threshold is {threshold}; give a probability between 0 and 1.")
    shapley = knn_shapley(train, train_labels, valid, valid_labels, k=k, memory=memory)
    if agreement is None:
        agree = neighbour_agreement(train, train_labels, k=k, memory=memory)
    else:
        agree = np.asarray(agreement, dtype=np.float64).reshape(-1)
        if len(agree) != len(shapley) or not np.all((agree >= 0) & (agree <= 1)):
            raise InputError(
                f"agreement must be one probability (0 to 1) per training record "
                f"({len(shapley):,}); got {len(agree):,} values"
                + ("" if len(agree) != len(shapley) else ", some outside 0..1")
                + "."
            )
    return tiered(shapley, agree, k=k, threshold=threshold)


def tiered(
    shapley: np.ndarray, agreement: np.ndarray, *, k: int = K, threshold: float = THRESHOLD
) -> DataValues:
    """The two-tier removal order (see the module doc) from KNN-Shapley values and the
    agreement of each record's label with the evidence (both one per record)."""
    import numpy as np

    shapley = np.asarray(shapley, dtype=np.float64)
    agree = np.asarray(agreement, dtype=np.float64)
    suspect = (shapley < 0) & (agree < threshold)
    # Tier 1 below -1 (KNN-Shapley values lie in [-1, 1]); tier 2 in [0, 1], most agreed first.
    value = np.where(suspect, shapley - 2.0, 1.0 - agree)
    return DataValues(
        shapley=shapley, agreement=agree, suspect=suspect, value=value, k=k, threshold=threshold
    )


@dataclass(frozen=True)
class Removal:
    """Accuracy with a share of the records removed, by value and at random.

    Attributes:
        share: the share removed.
        removed: records removed.
        lowest: accuracy with the lowest-valued ``removed`` records left out.
        random: mean accuracy with ``removed`` random records left out.
        random_spread: (min, max) of the random removals.
    """

    share: float
    removed: int
    lowest: float
    random: float
    random_spread: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready values."""
        return {
            "share": self.share,
            "removed": self.removed,
            "lowest": self.lowest,
            "random": self.random,
            "random_spread": list(self.random_spread),
        }


@dataclass(frozen=True)
class MinimalDataReport:
    """Accuracy on every record, and with x% removed by value beside x% at random."""

    records: int
    full: float
    removals: tuple[Removal, ...]
    repeats: int

    def sentences(self) -> list[str]:
        """One line per share removed."""
        return [
            f"without the lowest-valued {r.share:.0%} ({r.removed:,} records): accuracy "
            f"{r.lowest:.3f} ({r.lowest - self.full:+.3f}), against {r.random:.3f} "
            f"({r.random - self.full:+.3f}) removing as many at random; "
            f"{self.full:.3f} with every record"
            for r in self.removals
        ]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "records": self.records,
            "full": self.full,
            "repeats": self.repeats,
            "removals": [r.to_dict() for r in self.removals],
            "sentences": self.sentences(),
        }


def minimal_data(
    values: DataValues | np.ndarray,
    train_and_evaluate: Callable[[np.ndarray], float],
    *,
    shares: Sequence[float] = SHARES,
    repeats: int = 3,
    seed: int = 0,
) -> MinimalDataReport:
    """Accuracy when the x% lowest-valued records are removed, next to x% at random.

    Args:
        values: `DataValues`, or one value per record (lowest removed first).
        train_and_evaluate: ``f(kept_positions) -> accuracy``: trains on the records at
            those positions and returns the metric on the caller's evaluation set.
        shares: the shares to remove.
        repeats: random removals per share (their mean is reported).
        seed: seeds the random removals.

    Raises:
        InputError: a share outside [0, 1), or no records.
    """
    import numpy as np

    v = values.value if isinstance(values, DataValues) else np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        raise InputError("there are no records to remove any from.")
    bad = [s for s in shares if not 0 <= s < 1]
    if bad:
        raise InputError(f"shares {bad} are not fractions in [0, 1); give e.g. 0.1 for 10%.")
    if repeats < 1:
        raise InputError(f"repeats is {repeats}; give at least 1.")
    order = np.lexsort((np.arange(n), v))
    everything = np.arange(n)
    full = float(train_and_evaluate(everything))
    rng = np.random.default_rng(seed)
    rows = []
    for share in shares:
        count = round(share * n)
        lowest = float(train_and_evaluate(np.sort(order[count:])))
        randoms = [
            float(train_and_evaluate(np.sort(rng.permutation(n)[count:]))) for _ in range(repeats)
        ]
        rows.append(
            Removal(
                share=float(share),
                removed=count,
                lowest=lowest,
                random=float(np.mean(randoms)),
                random_spread=(min(randoms), max(randoms)),
            )
        )
    return MinimalDataReport(records=n, full=full, removals=tuple(rows), repeats=repeats)


def _check(
    train: np.ndarray,
    train_labels: Sequence[Any] | np.ndarray,
    valid: np.ndarray,
    valid_labels: Sequence[Any] | np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectors as float64 2-D arrays and labels as arrays, checked against each other."""
    import numpy as np

    if k < 1:
        raise InputError(f"k is {k}; a nearest-neighbour classifier needs at least 1.")
    x = np.asarray(train, dtype=np.float64)
    v = np.asarray(valid, dtype=np.float64)
    y = np.asarray(train_labels, dtype=object)
    w = np.asarray(valid_labels, dtype=object)
    for name, arr in (("training", x), ("validation", v)):
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise InputError(
                f"the {name} vectors must be a non-empty 2-D array (records x dimensions), "
                f"not shape {arr.shape}."
            )
        if not np.isfinite(arr).all():
            raise InputError(
                f"the {name} vectors hold NaN or infinite values; impute or drop them first."
            )
    if x.shape[1] != v.shape[1]:
        raise InputError(
            f"training vectors have {x.shape[1]} dimensions and validation vectors "
            f"{v.shape[1]}; featurize both the same way."
        )
    if len(y) != len(x) or len(w) != len(v):
        raise InputError(
            f"{len(x):,} training vectors with {len(y):,} labels, {len(v):,} validation "
            f"vectors with {len(w):,}; give one label per vector."
        )
    return x, y, v, w
