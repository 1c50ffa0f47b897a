"""The label model's class balance, dependencies, fallback to the vote, and gold as evidence."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_labels_model import lf_votes, majority_accuracy
from tillage.errors import InputError
from tillage.labels.dawid_skene import unique_rows
from tillage.labels.functions import Votes
from tillage.labels.label_model import LabelModel, _merge, _moment_balance, wilson

ROOT = Path(__file__).resolve().parents[1]


#: The most precise LFs all vote for the minority class (1); the majority's LFs are loose.
MINORITY_PRECISE = [
    (1, 0.3, 0.005),
    (1, 0.25, 0.004),
    (1, 0.2, 0.003),
    (0, 0.5, 0.3),
    (0, 0.4, 0.25),
    (0, 0.45, 0.3),
]


@pytest.mark.parametrize("share", [0.2, 0.35])
def test_the_prior_does_not_follow_the_most_precise_lfs(share: float) -> None:
    matrix, _ = lf_votes(MINORITY_PRECISE, [1 - share, share], 20000, seed=1)
    model = LabelModel().fit(matrix, classes=["neg", "pos"])
    assert abs(model.class_prior["pos"] - share) < 0.04, model.class_prior


@pytest.mark.parametrize(("share", "seed"), [(0.2, 0), (0.2, 1), (0.35, 0), (0.35, 1)])
def test_an_untrusted_fit_keeps_a_balance_that_does_not_follow_the_loudest_lfs(
    share: float, seed: int
) -> None:
    """The minority's LFs are the precise ones, and one majority LF fires more on the
    minority (worse than a guess): the fit is not trusted, and the vote's own balance,
    led by the loose majority LFs that fire most, drifts by 0.09 to 0.17 towards the
    majority. The median of the vote's, the fit's and the moments' balance does not."""
    matrix, y = lf_votes([*MINORITY_PRECISE, (0, 0.2, 0.45)], [1 - share, share], 20000, seed)
    model = LabelModel().fit(matrix, classes=["neg", "pos"])
    assert model.mode == "vote", model.reason
    assert abs(model.class_prior["pos"] - y.mean()) < 0.04, model.class_prior
    assert model.to_dict()["prior"] == pytest.approx(list(model.class_prior.values()))


def test_moment_balance_is_the_classes_skewness() -> None:
    """Conditionally independent votes: the balance from third over second moments is
    near the truth (within 0.07 on 20,000 records: a median over 20 triplets is noisy)
    whichever class has the confident LFs, and needs three sources."""
    for share in (0.2, 0.5, 0.7):
        matrix, y = lf_votes(MINORITY_PRECISE, [1 - share, share], 20000, seed=2)
        patterns, _, counts = unique_rows(matrix)
        balance = _moment_balance(patterns, counts)
        assert balance is not None and abs(balance[1] - y.mean()) < 0.07, (share, balance)
    patterns, _, counts = unique_rows(matrix[:, :2])
    assert _moment_balance(patterns, counts) is None


def test_gold_fixes_the_prior_smoothed() -> None:
    matrix, y = lf_votes(MINORITY_PRECISE, [0.7, 0.3], 5000, seed=2)
    gold = {i: int(y[i]) for i in range(40)}
    model = LabelModel().fit(matrix, classes=["neg", "pos"], gold=gold)
    n_pos = sum(gold.values())
    assert model.class_prior["pos"] == pytest.approx((n_pos + 1) / (40 + 2))
    # A partial array with -1 for unknown says the same.
    partial = np.full(len(y), -1)
    partial[:40] = y[:40]
    same = LabelModel().fit(matrix, classes=["neg", "pos"], gold=partial)
    assert np.array_equal(same.predict_proba(), model.predict_proba())


def test_declared_dependencies_share_one_vote() -> None:
    matrix, y = lf_votes(MINORITY_PRECISE, [0.6, 0.4], 6000, seed=3)
    noisy = np.random.default_rng(4).random(len(y)) < 0.1
    near_copy = np.where(noisy, -1, matrix[:, 3])  # LF 3 again, missing 10% of its votes
    both = np.column_stack([matrix, near_copy, near_copy])
    names = [f"lf{j}" for j in range(6)] + ["copy_a", "copy_b"]
    votes = Votes.from_matrix(both, ["neg", "pos"], names)
    model = LabelModel(dependencies=[("lf3", "copy_a", "copy_b")]).fit(votes)
    for name in ("lf3", "copy_a", "copy_b"):
        assert model.weights[name] == pytest.approx(1 / 3, abs=0.02), model.weights
    assert model.weights["lf0"] == pytest.approx(1.0)
    assert model.to_dict()["dependencies"] == [["lf3", "copy_a", "copy_b"]]
    with pytest.raises(InputError, match="not among the votes' LFs"):
        LabelModel(dependencies=[("lf3", "nope")]).fit(votes)
    with pytest.raises(InputError, match="at least two different"):
        LabelModel(dependencies=[("lf3", "lf3")])
    with pytest.raises(InputError, match="pairs or groups"):
        LabelModel(dependencies=["lf3"])  # type: ignore[list-item]


def test_mutually_exclusive_lfs_are_one_function() -> None:
    """Hour windows: they never fire together, and are modelled as one multi-valued LF."""
    rng = np.random.default_rng(5)
    n = 8000
    y = rng.choice(2, size=n, p=[0.55, 0.45])
    hour = np.where(y == 0, rng.integers(0, 24, n), rng.integers(8, 20, n))
    windows = [((0, 8), 0), ((8, 14), 1), ((14, 20), 1), ((20, 24), 0)]
    cols = [np.where((hour >= lo) & (hour < hi), c, -1) for (lo, hi), c in windows]
    rates = [(0, 0.4, 0.1), (1, 0.4, 0.1), (0, 0.3, 0.1)]
    truthful = [np.where(rng.random(n) < np.where(y == c, h, f), c, -1) for c, h, f in rates]
    matrix = np.column_stack([*cols, *truthful]).astype(np.int32)
    names = ["night", "morning", "afternoon", "evening", "a", "b", "c"]
    model = LabelModel().fit(Votes.from_matrix(matrix, ["x", "z"], names))
    assert model.exclusive_groups == (("night", "morning", "afternoon", "evening"),)
    assert set(model.weights) == set(names)
    assert (model.predict() == y).mean() > majority_accuracy(matrix, y, 2)
    # Two rare LFs that merely happen not to meet are not a group.
    rare = np.full((n, 2), -1, dtype=np.int32)
    rare[:3, 0] = 0
    rare[3:6, 1] = 1
    alone = LabelModel().fit(np.column_stack([matrix[:, 4:], rare]), classes=["x", "z"])
    assert alone.exclusive_groups == ()


def test_independent_lfs_keep_the_fit_and_say_why() -> None:
    matrix, _ = lf_votes(MINORITY_PRECISE, [0.6, 0.4], 10000, seed=7)
    model = LabelModel().fit(matrix, classes=["neg", "pos"])
    assert model.mode == "independent"
    assert model.reason and "passed its checks" in model.reason
    out = json.loads(json.dumps(model.to_dict()))
    assert out["mode"] == "independent" and out["reason"] == model.reason


def bench() -> Any:
    """benchmarks/bench_label_model.py: the tuning suite (the project's tweet LFs)."""
    spec = importlib.util.spec_from_file_location(
        "bench_label_model", ROOT / "benchmarks" / "bench_label_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def test_a_fit_that_turns_an_lf_against_its_votes_falls_back_to_the_vote() -> None:
    """The real tweets: LF clusters (Trump's style, the hour) make a latent variable that
    is not the phone; the fit reads some LFs' votes as evidence against them."""
    b = bench()
    votes, gold = b.tweet_votes()
    model = LabelModel().fit(votes)
    assert model.mode == "vote", model.reason
    assert model.reason and "evidence against it" in model.reason
    assert model.exclusive_groups == (("early_morning", "afternoon", "late_night"),)
    assert np.allclose(model.predict_proba().sum(axis=1), 1.0)
    assert np.array_equal(model.predict(votes), model.predict())
    assert (model.predict() == gold).mean() > majority_accuracy(votes.matrix, gold, 2)
    assert json.loads(json.dumps(model.to_dict()))["mode"] == "vote"
    # The vote decides where one class has the most votes; the fit labels the rest.
    matrix = votes.matrix
    tally = np.stack([(matrix == c).sum(axis=1) for c in range(2)], axis=1)
    decided = tally[:, 0] != tally[:, 1]
    assert np.array_equal(model.predict()[decided], tally[decided].argmax(axis=1))
    groups = [tuple(votes.lf_names.index(n) for n in g) for g in model.exclusive_groups]
    alone = [(j,) for j in range(votes.n_lfs) if not any(j in g for g in groups)]
    merged = _merge(matrix, sorted(groups + alone))
    fit = model.fitted.posterior(merged).argmax(axis=1)
    assert (model.predict()[~decided] == fit[~decided]).all()
    # The vote's own balance drifts less than the fit's towards the confident LFs' class.
    share = float((gold == 0).mean())
    assert abs(model.class_prior[b.ANDROID] - share) < abs(model.fitted.prior[0] - share)
    # Leaving any one LF out, the model still beats majority vote.
    for j in range(votes.n_lfs):
        if (matrix[:, j] >= 0).any():
            sub = np.delete(matrix, j, axis=1)
            pred = LabelModel().fit(sub, classes=votes.classes).predict()
            assert (pred == gold).mean() > majority_accuracy(sub, gold, 2), votes.lf_names[j]
    # Three gold labels are too few to cross-validate: the fit is checked as without gold.
    few = LabelModel().fit(votes, gold={i: int(gold[i]) for i in range(3)})
    assert few.mode == "vote" and few.cross_validation is None
    assert np.array_equal(few.predict()[decided], tally[decided].argmax(axis=1))
    # 50 gold labels: precisions measured on them; the vote wins the cross-validation.
    picked = np.random.default_rng(12).choice(len(gold), 50, replace=False)
    taught = LabelModel().fit(votes, gold={int(i): int(gold[i]) for i in picked})
    assert taught.mode == "vote" and "held out in 5 folds" in (taught.reason or "")
    rest = np.setdiff1d(np.arange(len(gold)), picked)
    assert (taught.predict()[rest] == gold[rest]).mean() > (model.predict() == gold).mean() + 0.03


def test_gold_chooses_by_cross_validation_and_nears_the_best_possible() -> None:
    """50 gold labels on votes drawn from the tuning suite's per-class rates: on average
    over five draws within 4 points of the Bayes-optimal accuracy (the true rates),
    itself 0.90 there, and on no draw much worse than the model without gold."""
    b = bench()
    votes, gold = b.tweet_votes()
    matrix, y = b.sampled_votes(votes, gold, 8614, 12, seed=3)
    live = [j for j in range(votes.n_lfs) if (votes.matrix[:, j] >= 0).any()]
    real = votes.matrix[:, live]
    rates = np.array([[(real[gold == c, j] >= 0).mean() for j in range(12)] for c in range(2)])
    rates = np.clip(rates, 1e-9, 1 - 1e-9)
    fires = (matrix >= 0).astype(np.float64)
    score = fires @ np.log(rates.T) + (1 - fires) @ np.log(1 - rates.T)
    bayes = float(((score + np.log(np.bincount(gold) / len(gold))).argmax(axis=1) == y).mean())
    blind = LabelModel().fit(matrix, classes=["android", "iphone"]).predict()
    accuracies = []
    for draw in range(10, 15):
        picked = np.random.default_rng(draw).choice(len(y), 50, replace=False)
        known = {int(i): int(y[i]) for i in picked}
        model = LabelModel().fit(matrix, classes=["android", "iphone"], gold=known)
        assert model.cross_validation is not None and model.cross_validation["records"] == 50
        assert "held out in 5 folds" in (model.reason or "")
        rest = np.setdiff1d(np.arange(len(y)), picked)
        accuracies.append((model.predict()[rest] == y[rest]).mean())
        # Never worse than ignoring the gold by more than the choice's noise on 50 records.
        assert accuracies[-1] >= (blind[rest] == y[rest]).mean() - 0.03, model.cross_validation
    assert np.mean(accuracies) >= bayes - 0.04, (bayes, accuracies)
    evidence = model.gold_evidence
    assert evidence["lf0"][0] == int((matrix[picked, 0] >= 0).sum())
    entry = model.to_dict()["lfs"][0]
    assert entry["gold_votes"] == evidence["lf0"][0]
    assert entry["interval"] == wilson(evidence["lf0"][1], evidence["lf0"][0])


def test_bad_gold() -> None:
    matrix, _ = lf_votes(MINORITY_PRECISE, [0.6, 0.4], 200, seed=11)
    with pytest.raises(InputError, match="not record indices"):
        LabelModel().fit(matrix, classes=["a", "b"], gold={500: 1})
    with pytest.raises(InputError, match="not a class index"):
        LabelModel().fit(matrix, classes=["a", "b"], gold={3: 2})
    with pytest.raises(InputError, match=r"outside 0\.\.1"):
        LabelModel().fit(matrix, classes=["a", "b"], gold=np.full(200, 5))
    with pytest.raises(InputError, match="one per record"):
        LabelModel().fit(matrix, classes=["a", "b"], gold=[0, 1])
    with pytest.raises(InputError, match="folds"):
        LabelModel(folds=1)


def test_wilson_interval() -> None:
    assert wilson(0, 0) is None
    lo, hi = wilson(9, 10)  # type: ignore[misc]
    assert 0.59 < lo < 0.6 and 0.98 < hi < 0.99  # the textbook 0.596..0.982
    lo, hi = wilson(10, 10)  # type: ignore[misc]
    assert hi == pytest.approx(1.0) and 0.72 < lo < 0.73


def nuisance_votes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Twelve weak LFs, half of them also fired together by a nuisance unrelated to the class.

    The fit explains the co-firing by the class, so anchoring it on a little gold
    can make it worse than the vote that ignores the gold (the loans suite's case).
    """
    rng = np.random.default_rng(seed)
    y = rng.choice(2, size=n, p=[0.55, 0.45])
    nuisance = rng.random(n) < 0.4
    cols = []
    for j in range(12):
        base = np.where(y == j % 2, 0.22, 0.15)
        fire = np.where(nuisance & (j < 6), base + 0.35, base)
        cols.append(np.where(rng.random(n) < fire, j % 2, -1))
    return np.stack(cols, axis=1).astype(np.int32), y


def test_gold_never_chooses_worse_than_ignoring_it() -> None:
    """The model without gold is a candidate of the cross-validation on the gold: here the
    gold-anchored fit is right on fewer held-out gold records than it, and worse on the rest."""
    matrix, y = nuisance_votes(6000, seed=0)
    blind = LabelModel().fit(matrix, classes=["a", "b"])
    picked = np.random.default_rng(100).choice(len(y), 50, replace=False)
    rest = np.setdiff1d(np.arange(len(y)), picked)
    model = LabelModel().fit(matrix, classes=["a", "b"], gold={int(i): int(y[i]) for i in picked})
    cv = model.cross_validation
    assert cv is not None and set(cv) == {"records", "no gold", "fit", "vote"}
    assert cv["no gold"] >= max(cv["fit"], cv["vote"])
    assert np.array_equal(model.predict(), blind.predict())
    assert (model.predict()[rest] == y[rest]).mean() == (blind.predict()[rest] == y[rest]).mean()
    assert model.mode == blind.mode and "the gold is not used" in (model.reason or "")
    assert model.to_dict()["gold"] == 50 and model.gold_evidence["lf0"][0] > 0


def test_an_lf_no_better_than_a_guess_does_not_make_the_fit_untrusted() -> None:
    """Conditionally independent votes drawn from the tuning suite's per-class rates: one
    LF's precision equals the class prior within the noise of its votes, which is no
    contradiction of the fit; the fit is trusted and beats the vote."""
    b = bench()
    votes, gold = b.tweet_votes()
    matrix, y = b.sampled_votes(votes, gold, 8614, 12, seed=3)
    model = LabelModel().fit(matrix, classes=["android", "iphone"])
    assert model.mode == "independent", model.reason
    assert (model.predict() == y).mean() > majority_accuracy(matrix, y, 2) + 0.05
