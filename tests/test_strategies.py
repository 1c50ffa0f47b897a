"""The built-in selection strategies on small arrays whose right answer is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tillage import StrategyInputError
from tillage.selection import strategies
from tillage.selection.strategies import Candidates, Pick

PHONES = ("iphone", "android")


def run(name: str, pool: Candidates, n: int, seed: int = 0, **params: Any) -> list[Pick]:
    info = strategies.get(name)
    strategies.check(info, pool)
    return info.function(pool, n, np.random.default_rng(seed), params)


def keys(n: int) -> list[str]:
    return [f"r{i}" for i in range(n)]


def test_every_builtin_is_registered_with_a_known_action() -> None:
    names = {s.name for s in strategies.registered()}
    assert names >= {
        "random",
        "least_confidence",
        "margin",
        "entropy",
        "committee",
        "label_model_vs_classifier",
        "lf_conflict",
        "kcenter",
        "uncertain_diverse",
        "class_balanced",
        "slice_targeted",
        "label_error",
        "low_value",
    }
    assert strategies.get("label_error").action == "relabel"
    assert strategies.get("low_value").action == "remove"


@pytest.mark.parametrize("name", ["margin", "least_confidence", "entropy"])
def test_uncertainty_picks_the_close_call_before_the_sure_one(name: str) -> None:
    proba = np.array([[0.9, 0.1], [0.51, 0.49], [0.99, 0.01], [0.3, 0.7]])
    picks = run(name, Candidates(keys(4), proba=proba, classes=PHONES), 2)
    assert [p.position for p in picks] == [1, 3]
    assert picks[0].score > picks[1].score
    assert "iphone" in picks[0].reason and "android" in picks[0].reason


def test_margin_reason_names_the_classes_and_the_margin() -> None:
    proba = np.array([[0.485, 0.515], [0.9, 0.1]])
    (pick,) = run("margin", Candidates(keys(2), proba=proba, classes=PHONES), 1)
    assert pick.position == 0
    assert pick.reason.startswith("margin 0.03 between android (0.52) and iphone (0.48)")


def test_margin_and_least_confidence_differ_on_three_classes() -> None:
    # Row 0: top 0.4, but the runner-up is far (0.4 vs 0.2 ... no: 0.4/0.35/0.25);
    # row 1: top 0.5 and runner-up 0.48. Least confidence prefers row 0, margin row 1.
    proba = np.array([[0.40, 0.35, 0.25], [0.50, 0.48, 0.02]])
    pool = Candidates(keys(2), proba=proba, classes=("a", "b", "c"))
    assert run("least_confidence", pool, 1)[0].position == 0
    assert run("margin", pool, 1)[0].position == 1


def test_ties_are_broken_by_position_whatever_the_partition() -> None:
    proba = np.tile([[0.5, 0.5]], (1000, 1))
    picks = run("margin", Candidates(keys(1000), proba=proba), 5)
    assert [p.position for p in picks] == [0, 1, 2, 3, 4]


def test_committee_prefers_a_split_vote_and_kl_ranks_by_divergence() -> None:
    members = np.array(
        [
            [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4]],
            [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]],
            [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]],
        ]
    )
    pool = Candidates(keys(3), committee=members, classes=PHONES)
    votes = run("committee", pool, 3)
    # Rows 1 and 2 both split 2-1; row 1's members diverge more, so it comes first.
    assert [p.position for p in votes] == [1, 2, 0]
    assert "committee of 3 split 2 android / 1 iphone" in votes[0].reason
    kl = run("committee", pool, 1, method="kl")
    assert kl[0].position == 1 and "mean KL" in kl[0].reason


def test_label_model_vs_classifier_finds_the_disagreement() -> None:
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    lm = np.array([[0.75, 0.25], [0.95, 0.05], [np.nan, np.nan]])
    pool = Candidates(keys(3), proba=proba, classes=PHONES, extra={"label_model_proba": lm})
    picks = run("label_model_vs_classifier", pool, 3)
    assert [p.position for p in picks] == [1, 0]  # the record no function voted on is skipped
    assert picks[0].reason.startswith("label model says iphone 0.95, classifier says android 0.70")


def test_lf_conflict_skips_records_without_conflict() -> None:
    pool = Candidates(keys(4), extra={"lf_conflict": np.array([0.0, 0.5, 0.25, 0.0])})
    assert [p.position for p in run("lf_conflict", pool, 4)] == [1, 2]


def test_kcenter_picks_far_apart_points() -> None:
    rng = np.random.default_rng(3)
    corners = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    blobs = np.concatenate([c + rng.normal(0, 0.1, size=(25, 2)) for c in corners])
    picks = run("kcenter", Candidates(keys(100), features=blobs), 4)
    assert sorted({p.position // 25 for p in picks}) == [0, 1, 2, 3]
    assert picks[0].reason == "k-center: the first centre, drawn at random"
    assert picks[1].score > 5


def test_kcenter_starts_from_the_labelled_records() -> None:
    x = np.array([[0.0], [1.0], [2.0], [9.0], [10.0]])
    pool = Candidates(keys(5), features=x, labelled_features=np.array([[10.0], [0.5]]))
    picks = run("kcenter", pool, 2)
    # Nearest labelled: 0 and 1 are 0.5 away, 2 is 1.5, 9 is 1, 10 is labelled itself.
    assert [p.position for p in picks] == [2, 3]
    assert [p.score for p in picks] == pytest.approx([1.5, 1.0])
    assert picks[0].reason == "k-center: 1.50 from the nearest labelled record"
    assert picks[1].reason == "k-center: 1.00 from the nearest labelled or chosen record"


def test_uncertain_diverse_spreads_a_batch_over_clusters() -> None:
    # 200 equally uncertain near-duplicates in each of two far-apart clusters, the first
    # a hair more uncertain: margin alone takes the whole batch from it.
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 0.01, (200, 3)), rng.normal(50, 0.01, (200, 3))])
    p1 = np.concatenate([np.full(200, 0.501), np.full(200, 0.502)])
    proba = np.stack([p1, 1 - p1], axis=1)
    pool = Candidates(keys(400), proba=proba, features=x, classes=PHONES)
    assert {p.position // 200 for p in run("margin", pool, 10)} == {0}
    picks = run("uncertain_diverse", pool, 10, multiple=np.int64(40))
    assert {p.position // 200 for p in picks} == {0, 1}
    assert picks[0].position < 200  # the most uncertain leads
    assert "from the nearest other pick" in picks[1].reason


def test_class_balanced_gives_each_predicted_class_its_quota() -> None:
    rng = np.random.default_rng(2)
    top = rng.uniform(0.5, 1.0, size=300)
    cls = np.repeat([0, 1, 2], [200, 90, 10])
    proba = np.full((300, 3), 0.0)
    proba[np.arange(300), cls] = top
    proba[np.arange(300), (cls + 1) % 3] = 1 - top
    pool = Candidates(keys(300), proba=proba, classes=("a", "b", "c"))
    picks = run("class_balanced", pool, 30)
    got = np.bincount(cls[[p.position for p in picks]], minlength=3)
    assert got.tolist() == [10, 10, 10]
    # Class c has only 4 records: the rest of its quota goes to the others.
    rows = np.r_[0:100, 200:290, 290:294]
    few = Candidates(keys(len(rows)), proba=proba[rows], classes=("a", "b", "c"))
    few_picks = run("class_balanced", few, 30)
    got = np.bincount(cls[rows][[p.position for p in few_picks]], minlength=3)
    assert got.tolist() == [13, 13, 4]
    within_a = [p.score for p in few_picks if cls[rows][p.position] == 0]
    assert within_a == sorted(within_a, reverse=True)
    assert "predicted a" in few_picks[0].reason or "predicted b" in few_picks[0].reason


def test_slice_takes_the_worst_slice_first_and_is_seeded() -> None:
    err = np.repeat([0.1, 0.4, 0.2], 10)
    names = np.repeat(["x", "y", "z"], 10)
    pool = Candidates(keys(30), extra={"slice_error": err, "slice": names})
    picks = run("slice_targeted", pool, 12, seed=1)
    assert {p.position // 10 for p in picks[:10]} == {1}
    assert {p.position // 10 for p in picks[10:]} == {2}
    assert picks[0].reason == "in slice y with error 0.40"
    assert [p.position for p in run("slice_targeted", pool, 12, seed=1)] == [
        p.position for p in picks
    ]
    assert [p.position for p in run("slice_targeted", pool, 12, seed=2)] != [
        p.position for p in picks
    ]


def test_label_error_proposes_relabel_lowest_quality_first() -> None:
    quality = np.array([0.9, 0.05, 0.4])
    proba = np.array([[0.9, 0.1], [0.05, 0.95], [0.4, 0.6]])
    pool = Candidates(
        keys(3),
        proba=proba,
        classes=PHONES,
        labels=["iphone", "iphone", None],
        extra={"label_quality": quality},
    )
    picks = run("label_error", pool, 2)
    assert [(p.position, p.action) for p in picks] == [(1, "relabel"), (2, "relabel")]
    assert picks[0].reason == "label quality 0.05, labelled iphone, model says android 0.95"


def test_low_value_proposes_remove_lowest_first() -> None:
    pool = Candidates(keys(4), extra={"value": np.array([0.2, -0.1, 0.0, 0.5])})
    picks = run("low_value", pool, 2)
    assert [(p.position, p.action) for p in picks] == [(1, "remove"), (2, "remove")]
    assert picks[0].reason == "data value -0.1, the 1st lowest of 4"


def big_pool(n: int, d: int = 64, k: int = 3) -> Candidates:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(k), size=n)
    return Candidates(
        keys=[str(i) for i in range(n)],
        proba=proba,
        classes=tuple(f"c{j}" for j in range(k)),
        features=rng.normal(size=(n, d)).astype(np.float32),
        committee=np.stack([rng.dirichlet(np.ones(k), size=n) for _ in range(3)]),
        labelled_features=rng.normal(size=(50, d)).astype(np.float32),
        labels=[None] * n,
        extra={
            "label_model_proba": rng.dirichlet(np.ones(k), size=n),
            "lf_conflict": rng.random(n),
            "slice_error": rng.random(n).round(1),
            "label_quality": rng.random(n),
            "value": rng.normal(size=n),
        },
    )


@pytest.fixture(scope="module")
def pool_100k() -> Candidates:
    return big_pool(100_000)


@pytest.mark.parametrize("info", strategies.registered(), ids=lambda s: s.name)
def test_every_strategy_selects_50_from_100k_deterministically(
    info: strategies.StrategyInfo, pool_100k: Candidates
) -> None:
    a = info.function(pool_100k, 50, np.random.default_rng(9), {})
    b = info.function(pool_100k, 50, np.random.default_rng(9), {})
    assert [p.position for p in a] == [p.position for p in b]
    assert len({p.position for p in a}) == 50
    assert all(p.reason and p.action == info.action for p in a)


@pytest.mark.parametrize(
    ("name", "pool", "fragment"),
    [
        ("margin", Candidates(keys(2)), "class probabilities"),
        ("kcenter", Candidates(keys(2), proba=np.full((2, 2), 0.5)), "feature vectors"),
        ("committee", Candidates(keys(2)), "several models"),
        ("low_value", Candidates(keys(2), extra={"val": np.zeros(2)}), "extras: val"),
        ("margin", Candidates(keys(3), proba=np.full((2, 2), 0.5)), "2 rows for 3 records"),
        (
            "low_value",
            Candidates(keys(2), extra={"value": np.array(["high", "low"])}),
            "not one number per record",
        ),
        (
            "slice_targeted",
            Candidates(keys(2), extra={"slice_error": np.zeros((2, 2))}),
            "not one number per record",
        ),
        (
            "margin",
            Candidates(keys(2), proba=np.array([[0.5, np.nan], [1, 0]])),
            "NaN or infinite",
        ),
        (
            "margin",
            Candidates(keys(1), proba=np.full((1, 3), 1 / 3), classes=PHONES),
            "3 columns for 2 classes",
        ),
        (
            "kcenter",
            Candidates(keys(1), features=np.zeros((1, 2)), labelled_features=np.zeros((1, 3))),
            "labelled_features has 3 dimensions, features 2",
        ),
    ],
)
def test_candidates_that_lack_what_a_strategy_reads_are_refused(
    name: str, pool: Candidates, fragment: str
) -> None:
    info = strategies.get(name)
    with pytest.raises(StrategyInputError, match=fragment) as check:
        strategies.check(info, pool)
    with pytest.raises(StrategyInputError, match=fragment) as direct:
        info.function(pool, 1, np.random.default_rng(0), {})
    assert str(check.value) == str(direct.value)
    assert name in str(direct.value)


def test_missing_predictions_say_how_to_record_them() -> None:
    with pytest.raises(StrategyInputError, match="tillage models predict"):
        run("entropy", Candidates(keys(1)), 1)


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("margin", {"depth": 3}, "no parameter 'depth'"),
        ("uncertain_diverse", {"measure": "vibes"}, "measure 'vibes' is unknown"),
        ("uncertain_diverse", {"multiple": 0}, "multiple is 0"),
        ("uncertain_diverse", {"multiple": 2.5}, "multiple is 2.5"),
        ("committee", {"method": "borda"}, "method 'borda' is unknown"),
    ],
)
def test_bad_parameters_are_refused(name: str, params: dict[str, Any], fragment: str) -> None:
    pool = big_pool(20, d=2)
    with pytest.raises(StrategyInputError, match=fragment):
        strategies.get(name).function(pool, 5, np.random.default_rng(0), params)


def test_a_committee_of_one_and_a_negative_n_are_refused() -> None:
    one = Candidates(keys(2), committee=np.full((1, 2, 2), 0.5))
    with pytest.raises(StrategyInputError, match="committee of 1"):
        run("committee", one, 1)
    with pytest.raises(StrategyInputError, match="n is -1"):
        run("random", Candidates(keys(2)), -1)


def test_n_larger_than_the_pool_returns_the_whole_pool() -> None:
    pool = big_pool(7, d=2)
    for info in strategies.registered():
        if info.name == "lf_conflict":
            continue
        picks = info.function(pool, 50, np.random.default_rng(0), {})
        assert sorted(p.position for p in picks) == list(range(7)), info.name


def test_the_readme_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Selection strategies", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == "margin 0.02 between iphone (0.51) and android (0.49)\n"
