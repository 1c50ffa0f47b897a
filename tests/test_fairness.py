"""Subgroup fairness: per-group metrics from fairlearn, and the largest gaps as sentences."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from tillage.errors import InputError
from tillage.selection.fairness import group_fairness


def people(seed: int, n: int = 4000) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Records with a sex and a region; the model is wrong 30% of the time for women in
    the north, 10% elsewhere; on the positive class it misses more for women."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n)
    region = rng.choice(["north", "south"], size=n)
    truth = rng.choice(["approve", "deny"], size=n)
    error = np.where((sex == "female") & (region == "north"), 0.3, 0.1)
    wrong = rng.random(n) < error
    pred = np.where(wrong, np.where(truth == "approve", "deny", "approve"), truth)
    table = pa.table({"sex": sex, "region": region})
    return table, truth, pred


def test_groups_match_a_direct_count_and_the_largest_gap_comes_first() -> None:
    table, truth, pred = people(1)
    report = group_fairness(table, ["sex", "region"], y_true=truth, y_pred=pred)
    sex = np.array(table.column("sex").to_pylist())
    female = next(g for g in report.groups if g.columns == ("sex",) and g.group == ("female",))
    assert female.records == int((sex == "female").sum())
    assert female.metrics["accuracy"] == pytest.approx((truth == pred)[sex == "female"].mean())
    assert report.overall["accuracy"] == pytest.approx((truth == pred).mean())
    # The intersection holds the largest gap: women in the north against men in the south.
    top = report.gaps[0]
    assert top.columns == ("sex", "region") and top.metric == "accuracy"
    assert top.worst.group == ("female", "north")
    assert top.difference == pytest.approx(
        top.best.metrics["accuracy"] - top.worst.metrics["accuracy"]
    )
    assert 0.15 < top.difference < 0.25
    assert top.sentence.startswith("sex x region: accuracy 0.")
    assert f"for female, north vs {top.best.metrics['accuracy']:.2f}" in top.sentence
    differences = [g.difference for g in report.gaps]
    assert differences == sorted(differences, reverse=True)
    assert [g.columns for g in report.gaps].count(("sex",)) == 1  # accuracy only


def test_rates_of_the_positive_class_and_missing_groups() -> None:
    table, truth, pred = people(2)
    sex = table.column("sex").to_pylist()
    sex[:40] = [None] * 40
    table = table.set_column(0, "sex", pa.array(sex))
    report = group_fairness(
        table, ["sex"], y_true=truth, y_pred=pred, positive="approve", intersections=False
    )
    metrics = {g.metric for g in report.gaps}
    assert metrics == {"accuracy", "selection_rate", "true_positive_rate", "false_positive_rate"}
    missing = next(g for g in report.groups if g.group == ("(missing)",))
    assert missing.records == 40
    female = next(g for g in report.groups if g.group == ("female",))
    s = np.array(sex, dtype=object)
    mask = s == "female"
    positives = mask & (truth == "approve")
    assert female.metrics["true_positive_rate"] == pytest.approx(
        (pred[positives] == "approve").mean()
    )
    assert female.metrics["selection_rate"] == pytest.approx((pred[mask] == "approve").mean())
    fpr = next(g for g in report.gaps if g.metric == "false_positive_rate")
    assert fpr.worst.metrics["false_positive_rate"] >= fpr.best.metrics["false_positive_rate"]
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["positive"] == "approve" and len(doc["groups"]) == 3


def test_small_groups_are_shown_but_not_in_the_gaps() -> None:
    table = pa.table({"group": ["a"] * 100 + ["b"] * 100 + ["c"] * 5})
    truth = np.array(["x"] * 205)
    pred = truth.copy()
    pred[200:] = "y"  # group c is always wrong, but has 5 records
    pred[100:110] = "y"
    report = group_fairness(table, ["group"], y_true=truth, y_pred=pred)
    assert {g.group for g in report.groups} == {("a",), ("b",), ("c",)}
    (gap,) = report.gaps
    assert gap.worst.group == ("b",) and math.isclose(gap.difference, 0.1)


def test_bad_input_is_a_clear_error() -> None:
    table, truth, pred = people(3, n=50)
    with pytest.raises(InputError, match="at least one sensitive column"):
        group_fairness(table, [], y_true=truth, y_pred=pred)
    with pytest.raises(InputError, match=r"no sensitive column\(s\) named 'gender'.*sex, region"):
        group_fairness(table, ["gender"], y_true=truth, y_pred=pred)
    with pytest.raises(InputError, match="50 records, y_true 49 and y_pred 50"):
        group_fairness(table, ["sex"], y_true=truth[:49], y_pred=pred)
    with pytest.raises(InputError, match="positive class 'yes' is neither"):
        group_fairness(table, ["sex"], y_true=truth, y_pred=pred, positive="yes")
