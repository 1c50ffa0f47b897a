"""`repo.select` derives what a strategy needs from the repository itself: a committee
(recorded models, or bootstrap refits of one), the label model's probabilities and
the labeling functions' conflict (from a label set's votes), and error slices; and
`tillage fairness` over `repo.models.fairness`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
from cli_runner import cli, cli_json
from test_repo import expect_unchanged
from tillage import Repo

TAXONOMY = {"name": "delay", "versions": [{"classes": {"late": "", "on_time": ""}}]}
N = 240
LABELLED = 80


def records() -> pa.Table:
    """Two numeric features whose sum decides ``truth``, with noise near the boundary."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, N)
    y = rng.normal(0, 1, N)
    truth = np.where(x + y + rng.normal(0, 0.5, N) > 0, "late", "on_time")
    return pa.table(
        {
            "id": [f"r{i:03d}" for i in range(N)],
            "x": x,
            "y": y,
            "carrier": [["AA", "UA", "DL"][i % 3] for i in range(N)],
            "truth": truth.tolist(),
        }
    )


def fit(repo: Repo, ids: list[str], c: float = 1.0) -> object:
    from sklearn.linear_model import LogisticRegression

    table = repo.read("recs").to_pandas().set_index("id").loc[ids]
    return LogisticRegression(C=c).fit(table[["x", "y"]], table["truth"])


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``recs`` (240 rows), label set ``delays`` with the first 80 labelled, and model
    ``clf`` (logistic regression on x, y) recorded with that label set."""
    r = tillage.init(tmp_path / "proj")
    table = records()
    r.ingest("recs", table, key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
    r.labels.create("delays", records="recs", taxonomy="delay")
    ids = table.column("id").to_pylist()[:LABELLED]
    r.labels.add("delays", ids, table.column("truth").to_pylist()[:LABELLED], source="import")
    r.models.record("clf", "recs", model=fit(r, ids), labelset="delays")
    yield r
    r.close()


# -- committee -----------------------------------------------------------------------


def test_a_bootstrap_committee_is_derived_from_the_model_alone(repo: Repo) -> None:
    """With only --model, the committee is the model refitted on bootstrap resamples of
    its labelled records; deterministic for a seed, and its size is recorded."""
    first = repo.select("recs", strategy="committee", model="clf", n=10, seed=3)
    assert len(first) == 10
    assert first.params == {"bootstrap": 5}
    assert first.model == "clf"
    labelled = set(repo.read("recs").column("id").to_pylist()[:LABELLED])
    assert not set(first.record_ids) & labelled  # the pool leaves the labelled out
    assert "committee of 5" in first.picks[0].reason
    again = repo.select("recs", strategy="committee", model="clf", n=10, seed=3)
    assert again.record_ids == first.record_ids
    assert repo.selection.rerun(first.id).record_ids == first.record_ids
    bigger = repo.select(
        "recs", strategy="committee", model="clf", n=10, seed=3, params={"bootstrap": 9}
    )
    assert bigger.params == {"bootstrap": 9}
    assert "committee of 9" in bigger.picks[0].reason


def test_the_bootstrap_committee_disagrees_near_the_boundary(repo: Repo) -> None:
    """Records the members split on lie nearer the decision boundary than the pool does."""
    chosen = repo.select("recs", strategy="committee", model="clf", n=15, params={"bootstrap": 7})
    table = repo.read("recs").to_pandas().set_index("id")
    picked = (
        table.loc[list(chosen.record_ids), "x"] + table.loc[list(chosen.record_ids), "y"]
    ).abs()
    pool = (table["x"] + table["y"]).abs().iloc[LABELLED:]
    assert picked.median() < pool.median()


def test_a_committee_of_recorded_models_reads_their_stored_predictions(repo: Repo) -> None:
    ids = repo.read("recs").column("id").to_pylist()
    repo.models.record("small", "recs", model=fit(repo, ids[:20], c=0.01), labelset="delays")
    repo.models.predict("clf", "recs")
    with pytest.raises(tillage.NoPredictionsError, match="tillage models predict small recs"):
        repo.select("recs", strategy="committee", committee=["clf", "small"])
    repo.models.predict("small", "recs")
    chosen = repo.select("recs", strategy="committee", committee=["clf", "small"], n=8)
    assert chosen.params == {"committee": ["clf", "small"]}
    assert "committee of 2" in chosen.picks[0].reason
    assert repo.selection.rerun(chosen.id).record_ids == chosen.record_ids
    with pytest.raises(tillage.NoSuchModelError, match="'nope'"):
        repo.select("recs", strategy="committee", committee=["clf", "nope"])


def test_a_model_without_its_file_or_its_labels_cannot_make_a_committee(repo: Repo) -> None:
    repo.models.record("bare", "recs", features=["x", "y"], labelset="delays")
    expect_unchanged(
        repo,
        tillage.NoModelArtifactError,
        lambda: repo.select("recs", strategy="committee", model="bare"),
    )
    ids = repo.read("recs").column("id").to_pylist()[:LABELLED]
    repo.models.record("nolabels", "recs", model=fit(repo, ids))
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("recs", strategy="committee", model="nolabels"),
        "--param label=COLUMN",
    )
    chosen = repo.select(
        "recs", strategy="committee", model="nolabels", n=5, params={"label": "truth"}
    )
    assert chosen.params == {"bootstrap": 5, "label": "truth"}
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("recs", strategy="committee", n=5),
        "--committee A,B",
    )
    repo.ingest("other", pa.table({"id": ["o1", "o2"], "x": [0.1, -0.2]}), key="id")
    expect_unchanged(
        repo,
        tillage.MissingFeaturesError,
        lambda: repo.select("other", strategy="committee", model="clf"),
        "model 'clf' uses column(s) y that 'other' does not have",
    )


# -- the label model and the labeling functions ------------------------------------


def weak_labels(repo: Repo) -> dict[str, list[str | None]]:
    """Label set ``weak`` over ``recs`` with the votes of three labeling functions, which
    abstain on records with |x| <= 0.3 and |y| <= 0.5; returns each record's votes."""

    def by_x(r: dict[str, float]) -> str | None:
        return None if abs(r["x"]) <= 0.3 else "late" if r["x"] > 0 else "on_time"

    def high_y(r: dict[str, float]) -> str | None:
        return "late" if r["y"] > 0.5 else None

    def low_y(r: dict[str, float]) -> str | None:
        return "on_time" if r["y"] < -0.5 else None

    lfs = [tillage.labeling_function(f) for f in (by_x, high_y, low_y)]
    repo.labels.create("weak", records="recs", taxonomy="delay")
    repo.labels.apply_functions("weak", lfs, model=False)
    rows = repo.read("recs").to_pylist()
    return {r["id"]: [f(r) for f in (by_x, high_y, low_y)] for r in rows}


def test_lf_conflict_is_derived_from_the_label_sets_votes(repo: Repo) -> None:
    votes = weak_labels(repo)
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("recs", strategy="lf_conflict", include_labelled=True),
        "--labelset NAME",
    )
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("recs", strategy="lf_conflict", labelset="weak"),
        "has a vote in label set 'weak'",
        "--include-labelled",
    )
    chosen = repo.select(
        "recs", strategy="lf_conflict", labelset="weak", include_labelled=True, n=200
    )

    def conflict(record: str) -> float:
        given = [v for v in votes[record] if v is not None]
        return 1 - max(given.count("late"), given.count("on_time")) / len(given) if given else 0

    expected = sorted((r for r in votes if conflict(r) > 0), key=lambda r: -conflict(r))
    assert 0 < len(chosen) == len(expected)  # records without conflict are never chosen
    assert set(chosen.record_ids) == set(expected)
    assert [p.score for p in chosen.picks] == sorted((conflict(r) for r in expected), reverse=True)
    assert chosen.picks[0].score == pytest.approx(conflict(chosen.record_ids[0]))


def test_label_model_vs_classifier_reads_the_label_model_and_the_models_predictions(
    repo: Repo,
) -> None:
    votes = weak_labels(repo)
    repo.models.predict("clf", "recs")
    with pytest.raises(tillage.InputError, match="--model NAME"):
        repo.select("recs", strategy="label_model_vs_classifier", labelset="weak")
    chosen = repo.select(
        "recs",
        strategy="label_model_vs_classifier",
        model="clf",
        labelset="weak",
        include_labelled=True,
        n=300,
    )
    silent = {r for r, v in votes.items() if all(x is None for x in v)}
    assert silent  # some records have no vote: neutral, never chosen
    assert not set(chosen.record_ids) & silent
    assert len(chosen) == len(votes) - len(silent)
    scores = [p.score for p in chosen.picks]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.3
    assert "label model says" in chosen.picks[0].reason


def test_a_label_set_without_votes_is_a_clear_error(repo: Repo) -> None:
    repo.models.predict("clf", "recs")
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select(
            "recs",
            strategy="label_model_vs_classifier",
            model="clf",
            labelset="delays",
            include_labelled=True,
        ),
        "no labeling function votes",
        "tillage lf apply FILE delays",
    )


# -- error slices --------------------------------------------------------------------


def test_slice_targeted_reads_the_models_worst_slices(tmp_path: Path) -> None:
    """A model that errs on carrier EV: with only --model (and the labels it was recorded
    with), the unlabelled EV records come first, the reason naming the slice."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    n = 600
    carrier = np.array(["AA", "UA", "EV"])[rng.integers(0, 3, n)]
    delay = rng.normal(0, 10, n)
    late = delay > 0
    late[carrier == "EV"] = rng.random(int((carrier == "EV").sum())) < 0.5  # noise on EV
    ids = [f"f{i:03d}" for i in range(n)]
    r = tillage.init(tmp_path / "p")
    r.ingest("fl", pa.table({"id": ids, "carrier": carrier, "delay": delay}), key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
    r.labels.create("delays", records="fl", taxonomy="delay")
    classes = np.where(late, "late", "on_time")
    r.labels.add("delays", ids[:400], classes[:400].tolist(), source="import")
    frame = r.read("fl").to_pandas()
    fitted = LogisticRegression().fit(frame[["delay"]][:400], classes[:400])
    r.models.record("clf", "fl", model=fitted, labelset="delays")
    r.models.predict("clf", "fl")

    chosen = r.select("fl", strategy="slice_targeted", model="clf", n=20, seed=1)
    picked = frame.set_index("id").loc[list(chosen.record_ids), "carrier"]
    assert set(picked) == {"EV"}
    assert all(i not in ids[:400] for i in chosen.record_ids)
    assert chosen.picks[0].reason.startswith("in slice carrier = EV")
    assert "with error" in chosen.picks[0].reason
    everything = r.select("fl", strategy="slice_targeted", model="clf", n=200, seed=1)
    assert "none of the worst slices" in everything.picks[-1].reason
    assert r.selection.rerun(chosen.id).record_ids == chosen.record_ids

    r.models.record("bare", "fl", model=fitted)
    r.models.predict("bare", "fl")
    expect_unchanged(
        r,
        tillage.InputError,
        lambda: r.select("fl", strategy="slice_targeted", model="bare"),
        "--labelset NAME",
        "--param label=COLUMN",
    )
    with_labels = r.select(
        "fl", strategy="slice_targeted", model="bare", labelset="delays", n=5, seed=1
    )
    assert with_labels.record_ids == chosen.record_ids[:5]
    r.close()


# -- fairness ------------------------------------------------------------------------


def test_the_fairness_command_shows_the_groups_and_the_largest_gap(repo: Repo) -> None:
    """``carrier`` is no feature of ``clf``, so its groups differ by chance; the command
    shows what `repo.models.fairness` computes, in text and JSON."""
    repo.models.predict("clf", "recs")
    expected = repo.models.fairness(
        "clf", "recs", sensitive=["carrier"], label="truth", positive="late"
    )
    doc = cli_json(
        "-C",
        repo.path,
        "fairness",
        "clf",
        "recs",
        "--sensitive",
        "carrier",
        "--label",
        "truth",
        "--positive",
        "late",
    )
    assert doc == expected.to_dict()
    assert {tuple(g["group"]) for g in doc["groups"]} == {("AA",), ("UA",), ("DL",)}
    assert doc["records"] == N
    text = cli(
        "-C", repo.path, "fairness", "clf", "recs", "-s", "carrier", "--labelset", "delays"
    ).stdout
    assert f"clf on recs: {LABELLED:,} records; accuracy" in text
    assert expected.gaps[0].sentence.split(" (")[0].split(": ")[0] in text
    unknown = cli_json(
        "-C", repo.path, "fairness", "clf", "recs", "-s", "colour", "--label", "truth", code=1
    )
    assert "colour" in unknown["error"]["message"]


# -- names tillage keeps for its own datasets ------------------------------------------


@pytest.mark.parametrize("name", ["selections", "clf-predictions", "recs-values"])
def test_a_user_dataset_or_label_set_under_a_reserved_name_is_refused(
    repo: Repo, name: str
) -> None:
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.ingest(name, pa.table({"id": ["a"]}), key="id"),
        f"{name!r} is not a valid dataset name",
        "tillage keeps",
        "choose another name",
    )
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.labels.create(name, records="recs", taxonomy="delay"),
        "label set name",
    )


def test_tillage_never_writes_into_a_user_dataset_of_a_reserved_name(repo: Repo) -> None:
    """Datasets made under these names before they were reserved stay the user's."""
    for name in ("selections", "recs-values"):
        repo.datasets.ingest(name, pa.table({"id": ["a"]}), key="id", reserved=True)
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("recs", strategy="random", n=3),
        "dataset 'selections' exists and does not hold the stored selections",
    )
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.value("recs", label="truth", columns=["x", "y"]),
        "dataset 'recs-values' exists and does not hold the data values of 'recs'",
    )


# -- predictions at scale ----------------------------------------------------------------


def test_each_model_versions_predictions_are_kept_beside_the_others(repo: Repo) -> None:
    """A version without stored predictions is appended (no upsert), one with them is
    replaced; each version and dataset reads back its own rows."""
    ids = repo.read("recs").column("id").to_pylist()
    first = repo.models.predict("clf", "recs")
    repo.models.record("clf", "recs", model=fit(repo, ids[:20], c=0.01), labelset="delays")
    second = repo.models.predict("clf", "recs")
    assert repo.read("clf-predictions").num_rows == 2 * N
    for made in (first, second):
        back = repo.models.predictions("clf", "recs", version=made.version)
        order = np.argsort(np.array(made.keys))
        assert back.keys == tuple(np.array(made.keys)[order])
        assert np.allclose(back.proba, made.proba[order])
    assert not np.allclose(first.proba, second.proba)
    again = repo.models.predict("clf", "recs")  # the same version again: replaced
    assert repo.read("clf-predictions").num_rows == 2 * N
    assert np.allclose(again.proba, second.proba)


def test_the_select_command_takes_a_committee_or_makes_one(repo: Repo) -> None:
    ids = repo.read("recs").column("id").to_pylist()
    repo.models.record("small", "recs", model=fit(repo, ids[:20], c=0.01), labelset="delays")
    for name in ("clf", "small"):
        repo.models.predict(name, "recs")
    args = ["-C", repo.path, "select", "recs", "--strategy", "committee", "-n", "4"]
    named = cli_json(*args, "--committee", "clf,small")
    assert named["params"] == {"committee": ["clf", "small"]} and len(named["picks"]) == 4
    made = cli_json(*args, "--model", "clf", "--param", "bootstrap=3", "--seed", "2")
    assert made["params"] == {"bootstrap": 3} and made["seed"] == 2
    again = repo.select(
        "recs", strategy="committee", model="clf", n=4, seed=2, params={"bootstrap": 3}
    )
    assert [p["record_id"] for p in made["picks"]] == list(again.record_ids)
    text = cli(*args, "--model", "clf").stdout
    assert "committee of 5 split" in text
