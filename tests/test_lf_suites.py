"""The benchmark's labeling-function suites load and apply through tillage (no accuracies here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tillage.labels.functions import apply

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SAMPLE = 500


@pytest.fixture(scope="module")
def lf_suites() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import lf_suites

        yield lf_suites
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_halves_split_the_suites(lf_suites: ModuleType) -> None:
    a, b = set(lf_suites.HALF_A), set(lf_suites.HALF_B)
    assert len(a) == len(b) == 2
    assert not a & b
    assert a | b == set(lf_suites.SUITES)
    assert len({s.dataset.split("::")[0] for s in lf_suites.SUITES.values()}) >= 3


@pytest.mark.parametrize(("name", "gold_column"), [("email", "spam"), ("churn", "churn")])
def test_the_check_suites_are_in_neither_half(
    lf_suites: ModuleType, name: str, gold_column: str
) -> None:
    assert set(lf_suites.CHECK) == {"email", "churn"}
    assert not set(lf_suites.CHECK) & set(lf_suites.SUITES)
    suite = lf_suites.CHECK[name]
    table, gold = suite.load()
    assert gold_column not in table.column_names
    assert table.num_rows == len(gold) and set(np.unique(gold)) == {0, 1}
    votes = apply(suite.lfs, table, classes=suite.classes)
    assert votes.errors == () and (votes.matrix >= 0).any(axis=0).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["flights", "loans", "spam", "tweets"])
def test_suite_loads_and_every_function_fires(lf_suites: ModuleType, name: str) -> None:
    suite = lf_suites.SUITES[name]
    table, gold = suite.load()
    assert table.num_rows == len(gold) > SAMPLE
    assert set(np.unique(gold)) == set(range(len(suite.classes)))
    assert 6 <= len(suite.lfs) <= 14
    rows = np.sort(np.random.default_rng(0).choice(table.num_rows, SAMPLE, replace=False))
    votes = apply(suite.lfs, table.take(rows), classes=suite.classes)
    assert votes.errors == ()
    assert votes.matrix.shape == (SAMPLE, len(suite.lfs))
    silent = [lf.name for j, lf in enumerate(suite.lfs) if not (votes.matrix[:, j] >= 0).any()]
    assert silent == []


@pytest.fixture(scope="module")
def bench(lf_suites: ModuleType) -> ModuleType:
    import bench_label_suites

    return bench_label_suites


def test_an_abstain_scores_as_a_coin_flip(bench: ModuleType) -> None:
    gold = np.array([0, 1, 0, 1])
    s = bench.scores(np.array([0, 1, 1, -1]), gold, 2)
    assert s["coverage"] == 0.75
    assert s["covered"] == pytest.approx(2 / 3)
    assert s["all"] == pytest.approx((2 + 0.5) / 4)


def test_vote_with_random_ties_is_the_exact_expectation(bench: ModuleType) -> None:
    # record 0: a clear vote (right); 1: a tie (half right); 2: no vote (half right).
    matrix = np.array([[0, 0, -1], [0, 1, -1], [-1, -1, -1]])
    s = bench.vote_random_ties(matrix, np.array([0, 1, 1]), 2)
    assert s["coverage"] == pytest.approx(2 / 3)
    assert s["all"] == pytest.approx(2 / 3)
    assert s["covered"] == pytest.approx(0.75)


def test_gold_weighted_vote_follows_the_functions_right_on_the_gold(bench: ModuleType) -> None:
    # Function 0 is always right, functions 1 and 2 always wrong: two wrong votes lose.
    gold = np.array([0, 1] * 20)
    matrix = np.stack([gold, 1 - gold, 1 - gold], axis=1)
    pred = bench.gold_weighted_vote(matrix, gold, np.arange(10), 2)
    assert (pred == gold).all()
    assert bench.majority_expected(matrix, gold, 2) == 0.0


def test_the_grid_only_uses_keywords_the_model_takes(bench: ModuleType) -> None:
    accepted = bench.accepted_keywords()
    grid = {"min_precision": (None, 0.7), "no_such_keyword": (1, 2)}
    points = bench.combos(grid)
    assert points[0] == {"min_precision": accepted["min_precision"]}
    assert all(set(p) == {"min_precision"} for p in points)
    assert {p["min_precision"] for p in points} == {None, 0.7, accepted["min_precision"]}
