"""Data valuation: exact KNN-Shapley, the two-tier removal order, and the minimal-data report."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from tillage.errors import InputError
from tillage.selection.valuation import (
    DataValues,
    data_values,
    knn_shapley,
    minimal_data,
    neighbour_agreement,
)


def brute_force_shapley(
    x: np.ndarray, y: np.ndarray, v: np.ndarray, w: np.ndarray, k: int
) -> np.ndarray:
    """Shapley values of the K-NN validation accuracy by every permutation (tiny n only)."""
    n = len(x)

    def utility(subset: list[int]) -> float:
        total = 0.0
        for j in range(len(v)):
            near = sorted(subset, key=lambda i: float(((x[i] - v[j]) ** 2).sum()))[:k]
            total += sum(y[i] == w[j] for i in near) / k
        return total / len(v)

    phi = np.zeros(n)
    for perm in itertools.permutations(range(n)):
        seen: list[int] = []
        before = 0.0
        for i in perm:
            seen.append(i)
            after = utility(seen)
            phi[i] += after - before
            before = after
    return phi / math.factorial(n)


@pytest.mark.parametrize(("seed", "k"), [(0, 1), (1, 3), (2, 10)])
def test_knn_shapley_is_the_exact_shapley_value(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x, v = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    y, w = rng.integers(0, 2, 6), rng.integers(0, 2, 5)
    expected = brute_force_shapley(x, y, v, w, k)
    np.testing.assert_allclose(knn_shapley(x, y, v, w, k=k), expected, atol=1e-12)
    # In blocks of one validation record at a time: the same values.
    np.testing.assert_allclose(knn_shapley(x, y, v, w, k=k, memory=1), expected, atol=1e-12)


def blobs(seed: int, n: int = 400, flip: float = 0.1) -> tuple[np.ndarray, ...]:
    """Two well-separated classes; ``flip`` of the training labels moved to the other."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + 3.0 * y[:, None]
    yv = rng.integers(0, 2, n // 2)
    xv = rng.normal(size=(n // 2, 2)) + 3.0 * yv[:, None]
    flipped = rng.choice(n, size=round(flip * n), replace=False)
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    return x, noisy, xv, yv, flipped


def test_flipped_labels_get_the_lowest_values_and_come_first() -> None:
    x, y, xv, yv, flipped = blobs(3)
    values = data_values(x, y, xv, yv)
    lowest = values.lowest(0.1)
    assert len(lowest) == 40
    assert np.isin(lowest, flipped).mean() >= 0.85
    suspects = int(values.suspect.sum())
    assert suspects >= 30 and np.isin(np.flatnonzero(values.suspect), flipped).mean() >= 0.9
    assert values.suspect[values.lowest(suspects / len(y))].all()
    assert values.value[values.suspect].max() < values.value[~values.suspect].min()
    # Deterministic: the same input gives the same values, bit for bit.
    again = data_values(x, y, xv, yv)
    np.testing.assert_array_equal(values.value, again.value)
    assert json.loads(json.dumps(values.to_dict()))["suspect"] == int(values.suspect.sum())


def test_after_the_suspects_the_most_redundant_records_go_first() -> None:
    x, y, xv, yv, _ = blobs(4, flip=0.0)
    values = data_values(x, y, xv, yv)
    rest = values.lowest(0.5)[values.suspect.sum() :]
    kept = np.setdiff1d(np.arange(len(y)), values.lowest(0.5))
    # Records removed after the suspects agree with their neighbours at least as much as
    # any record kept: the boundary records stay.
    assert values.agreement[rest].min() >= values.agreement[kept].max() - 1e-12


def test_agreement_from_a_model_replaces_the_neighbours() -> None:
    x, y, xv, yv, flipped = blobs(5)
    agreement = np.full(len(y), 0.9)
    agreement[flipped[:10]] = 0.05
    values = data_values(x, y, xv, yv, agreement=agreement)
    assert set(np.flatnonzero(values.suspect)) <= set(flipped[:10].tolist())
    with pytest.raises(InputError, match=r"one probability .* per training record"):
        data_values(x, y, xv, yv, agreement=agreement[:-1])
    with pytest.raises(InputError, match=r"some outside 0\.\.1"):
        data_values(x, y, xv, yv, agreement=agreement * 2)


def test_neighbour_agreement_leaves_the_record_itself_out() -> None:
    # 0.2's nearest other is 0.1 (an "a"); 5.0's is 0.2 (a "b", like it).
    x = np.array([[0.0], [0.1], [0.2], [5.0]])
    y = np.array(["a", "a", "b", "b"])
    got = neighbour_agreement(x, y, k=1)
    np.testing.assert_array_equal(got, [1.0, 1.0, 0.0, 1.0])


def test_minimal_data_compares_removing_the_lowest_with_random() -> None:
    values = np.arange(100, dtype=np.float64)  # record i has value i
    calls: list[np.ndarray] = []

    def train_and_evaluate(kept: np.ndarray) -> float:
        calls.append(kept)
        return float(kept.mean()) / 100  # rises when low records go

    report = minimal_data(values, train_and_evaluate, shares=(0.1, 0.4), repeats=2, seed=1)
    assert report.full == pytest.approx(0.495)
    first = report.removals[0]
    assert first.removed == 10
    assert first.lowest == pytest.approx(np.arange(10, 100).mean() / 100)
    assert first.random < first.lowest
    assert first.random_spread[0] <= first.random <= first.random_spread[1]
    assert len(calls) == 1 + 2 * (1 + 2)
    assert report.sentences()[1].startswith("without the lowest-valued 40% (40 records)")
    assert json.loads(json.dumps(report.to_dict()))["removals"][1]["share"] == 0.4


def test_minimal_data_reads_data_values() -> None:
    x, y, xv, yv, _ = blobs(6, n=100)
    values = data_values(x, y, xv, yv)
    assert isinstance(values, DataValues)
    lowest = set(values.lowest(0.2).tolist())
    report = minimal_data(
        values, lambda kept: float(len(lowest & set(kept.tolist())) == 0), shares=(0.2,)
    )
    assert report.removals[0].lowest == 1.0


def test_bad_input_is_a_clear_error() -> None:
    x, y, xv, yv, _ = blobs(7, n=20)
    with pytest.raises(InputError, match="2 dimensions and validation vectors 3"):
        knn_shapley(x, y, np.ones((4, 3)), yv[:4])
    with pytest.raises(InputError, match="20 training vectors with 19 labels"):
        knn_shapley(x, y[:-1], xv, yv)
    with pytest.raises(InputError, match="NaN or infinite"):
        knn_shapley(np.full((20, 2), np.nan), y, xv, yv)
    with pytest.raises(InputError, match="non-empty 2-D array"):
        knn_shapley(np.ones(20), y, xv, yv)
    with pytest.raises(InputError, match="k is 0"):
        knn_shapley(x, y, xv, yv, k=0)
    with pytest.raises(InputError, match=r"threshold is 1\.5"):
        data_values(x, y, xv, yv, threshold=1.5)
    with pytest.raises(InputError, match=r"shares \[1.0\]"):
        minimal_data(np.ones(3), lambda kept: 1.0, shares=(1.0,))
    with pytest.raises(InputError, match="no records"):
        minimal_data(np.ones(0), lambda kept: 1.0)


def test_memory_stays_within_the_budget() -> None:
    import tracemalloc

    rng = np.random.default_rng(8)
    x, v = rng.normal(size=(4000, 8)), rng.normal(size=(1000, 8))
    y, w = rng.integers(0, 2, 4000), rng.integers(0, 2, 1000)
    whole = knn_shapley(x, y, v, w)
    budget = 4 * 2**20
    tracemalloc.start()
    try:
        blocked = knn_shapley(x, y, v, w, memory=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One full block would be 1000 x 4000 x 8 bytes = 32 MB an array.
    assert peak < 2 * budget
    np.testing.assert_allclose(blocked, whole, atol=1e-12)
