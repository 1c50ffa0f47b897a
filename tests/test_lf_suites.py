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
