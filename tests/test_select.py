"""`repo.select`: the pool, the strategy's needs, determinism, and stored selections."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
from test_repo import expect_unchanged
from tillage import Repo
from tillage.selection import strategies
from tillage.selection.results import Features, Predictions
from tillage.selection.strategies import Candidates, Pick

TAXONOMY = {"name": "delay", "versions": [{"classes": {"late": "", "on_time": ""}}]}
TASK = {"labelset": "delays", "versions": [{"overlap": 1}]}


def flights(ids: range) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "carrier": [["AA", "UA", "DL"][i % 3] for i in ids],
            "dep_delay": [float(i % 50) - 5.0 for i in ids],
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``flights`` (60 rows, key ``id``), label set ``delays`` and annotation task ``t``."""
    r = tillage.init(tmp_path / "proj")
    r.ingest("flights", flights(range(60)), key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "t.yaml").write_text(yaml.safe_dump(TASK))
    r.labels.create("delays", records="flights", taxonomy="delay")
    yield r
    r.close()


def predictions(ids: range, model: str = "clf") -> Predictions:
    """Class probabilities where record ``i`` is least certain at i = 30."""
    p_late = np.array([0.5 + abs(i - 30) / 70 for i in ids])
    return Predictions(
        model=model,
        version=3,
        dataset="flights",
        commit="c" * 40,
        keys=tuple(str(i) for i in ids),
        classes=("late", "on_time"),
        proba=np.stack([p_late, 1 - p_late], axis=1),
    )


def least_confident(
    c: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    assert c.proba is not None
    top = c.proba.max(axis=1)
    order = np.argsort(top, kind="stable")[:n]
    return [Pick(int(i), float(1 - top[i]), f"top class at {top[i]:.2f}") for i in order]


@pytest.fixture
def confident() -> Iterator[str]:
    strategies.register("test-least-confident", least_confident, needs=["proba"])
    yield "test-least-confident"
    strategies._REGISTRY.pop("test-least-confident", None)


def test_random_selection_is_stored_with_its_provenance(repo: Repo) -> None:
    head = repo.refs.commit()
    sel = repo.select("flights", strategy="random", n=10, seed=4)
    assert len(sel) == 10 and len(set(sel.record_ids)) == 10
    assert {int(i) for i in sel.record_ids} <= set(range(60))
    assert [p.rank for p in sel.picks] == list(range(1, 11))
    assert sel.pool_commit == head.id and sel.pool_size == sel.total == 60
    assert sel.strategy == "random" and sel.seed == 4 and sel.note is None
    assert sel.principal == "tester"

    stored = repo.selection.get(sel.id)
    assert stored.picks == sel.picks
    assert stored.provenance() == sel.provenance()
    assert stored.to_dict() == sel.to_dict()
    rows = repo.read("selections", where=f"selection_id = '{sel.id}'")
    assert sorted(rows.column("rank").to_pylist()) == list(range(1, 11))
    commit = repo.refs.commit()
    assert commit.id == sel.commit and commit.parents == (head.id,)
    assert "random" in commit.message and f"flights@{head.id[:12]}" in commit.message
    assert [s.id for s in repo.selection.list("flights")] == [sel.id]
    assert repo.selection.list("other") == []


def test_selection_is_deterministic_for_a_seed_and_version(repo: Repo) -> None:
    a = repo.select("flights", strategy="random", n=15, seed=1)
    b = repo.select("flights", strategy="random", n=15, seed=1, ref=a.pool_commit)
    c = repo.select("flights", strategy="random", n=15, seed=2, ref=a.pool_commit)
    assert a.id != b.id
    assert a.record_ids == b.record_ids
    assert a.record_ids != c.record_ids


def test_rerun_reproduces_a_stored_selection(repo: Repo, confident: str) -> None:
    first = repo.select("flights", strategy="random", n=8, seed=9, where="carrier = 'AA'")
    repo.ingest("flights", flights(range(60, 90)))  # a newer version does not change it
    again = repo.selection.rerun(first.id)
    assert again.id != first.id
    assert again.record_ids == first.record_ids
    assert again.provenance() == first.provenance() | {"ref": first.pool_commit}

    by_model = repo.select(
        "flights",
        strategy=confident,
        n=5,
        ref=first.pool_commit,
        predictions=predictions(range(60)),
    )
    redone = repo.selection.rerun(by_model.id, predictions=predictions(range(60)))
    assert redone.record_ids == by_model.record_ids


def test_where_and_n_larger_than_the_pool(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=500, where="carrier = 'UA'")
    assert sel.total == sel.pool_size == len(sel) == 20
    assert {int(i) % 3 for i in sel.record_ids} == {1}
    assert sel.note is not None
    assert "-n 500 is more than the 20" in sel.note and "whole pool" in sel.note
    assert repo.selection.get(sel.id).note == sel.note


def test_the_pool_leaves_out_labelled_and_queued_records(repo: Repo) -> None:
    repo.labels.add("delays", list(range(10)), ["late"] * 10, source="me")
    repo.annotation.enqueue("t", list(range(10, 15)))
    sel = repo.select("flights", strategy="random", n=60)
    assert sel.total == 60 and dict(sel.excluded) == {"labelled": 10, "queued": 5}
    assert sel.pool_size == 45 and not {int(i) for i in sel.record_ids} & set(range(15))

    named = repo.select("flights", strategy="random", n=60, labelset="delays", task="t")
    assert named.pool_size == 45
    kept = repo.select("flights", strategy="random", n=60, include_labelled=True)
    assert kept.pool_size == 55 and dict(kept.excluded) == {"labelled": 0, "queued": 5}


def test_an_empty_pool_is_an_error_and_writes_nothing(repo: Repo) -> None:
    repo.labels.add("delays", list(range(60)), ["late"] * 60, source="me")
    err = expect_unchanged(
        repo,
        tillage.EmptyPoolError,
        lambda: repo.select("flights", strategy="random"),
        "pool of 'flights' is empty",
        "60 labelled",
        "--include-labelled",
    )
    assert err.code == "empty_pool"
    expect_unchanged(
        repo,
        tillage.EmptyPoolError,
        lambda: repo.select("flights", strategy="random", where="id > 1000"),
        "0 record(s)",
    )
    assert repo.selection.list() == []


def test_unknown_strategy_and_bad_arguments_write_nothing(repo: Repo) -> None:
    expect_unchanged(
        repo,
        tillage.NoSuchStrategyError,
        lambda: repo.select("flights", strategy="psychic"),
        "'psychic'",
        "random",
    )
    expect_unchanged(
        repo, tillage.InputError, lambda: repo.select("flights", strategy="random", n=0), "n must"
    )
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("flights", strategy="random", params={"f": object()}),
        "JSON-ready",
    )
    expect_unchanged(
        repo,
        tillage.NoSuchDatasetError,
        lambda: repo.select("planes", strategy="random"),
        "'planes' does not exist",
    )
    expect_unchanged(
        repo,
        tillage.NoSuchModelError,
        lambda: repo.select("flights", strategy="random", model="clf"),
        "no model named 'clf'",
    )
    expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.select("flights", strategy="random", where="nope >"),
        "cannot filter",
    )
    assert repo.selection.list() == []


def test_a_strategy_reads_the_models_predictions_aligned_by_record(
    repo: Repo, confident: str
) -> None:
    shuffled = predictions(range(60))
    order = np.random.default_rng(0).permutation(60)
    shuffled = Predictions(
        model="clf",
        version=3,
        dataset="flights",
        commit="c" * 40,
        keys=tuple(shuffled.keys[i] for i in order),
        classes=shuffled.classes,
        proba=shuffled.proba[order],
    )
    sel = repo.select("flights", strategy=confident, n=3, predictions=shuffled)
    assert sel.record_ids[0] == "30" and set(sel.record_ids) == {"29", "30", "31"}
    assert sel.picks[0].reason == "top class at 0.50" and sel.picks[0].action == "label"
    assert sel.model == "clf" and sel.model_version == 3
    repo.record_model("clf", "flights")
    named = repo.select("flights", strategy="random", n=2, model="clf")
    assert named.model == "clf" and named.model_version is None


def test_a_strategy_without_what_it_needs_is_a_clear_error(repo: Repo, confident: str) -> None:
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("flights", strategy=confident),
        "needs proba",
        "--model NAME",
    )
    err = expect_unchanged(
        repo,
        tillage.NoPredictionsError,
        lambda: repo.select("flights", strategy=confident, predictions=predictions(range(50))),
        "model 'clf' has no predictions for 10 of the 60 pool record(s)",
        "tillage models predict clf flights",
    )
    assert err.code == "no_predictions"


def test_features_committee_labels_and_extra_reach_the_strategy(repo: Repo) -> None:
    seen: dict[str, Any] = {}

    def spy(c: Candidates, n: int, rng: np.random.Generator, p: Mapping[str, Any]) -> list[Pick]:
        seen.update(features=c.features, committee=c.committee, labelled=c.labelled_features, c=c)
        return [Pick(0, 1.0, "first", "relabel")]

    needs = ["features", "committee", "labelled_features", "labels", "extra:value"]
    strategies.register("test-spy", spy, needs=needs, action="relabel")
    try:
        repo.labels.add("delays", [3, 5], ["late", "on_time"], source="me")
        feats = Features(
            "flights",
            "c" * 40,
            tuple(str(i) for i in range(60)),
            np.arange(120, dtype=np.float32).reshape(60, 2),
            "test",
        )
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda: repo.select("flights", strategy="test-spy", features=feats),
            "needs committee, extra:value",
            "committee=",
            "extra={'value'",
        )
        sel = repo.select(
            "flights",
            strategy="test-spy",
            n=1,
            include_labelled=True,
            features=feats,
            committee=[predictions(range(60), "a"), predictions(range(60), "b")],
            extra={"value": {"7": 0.5}},
        )
        c = seen["c"]
        assert seen["committee"].shape == (2, 60, 2)
        assert seen["features"][7].tolist() == [14.0, 15.0]
        assert seen["labelled"].tolist() == [[6.0, 7.0], [10.0, 11.0]]
        assert c.labels[3] == "late" and c.labels[4] is None
        assert c.extra["value"][7] == 0.5 and np.isnan(c.extra["value"][8])
        assert sel.picks[0].action == "relabel"
    finally:
        strategies._REGISTRY.pop("test-spy", None)


def test_a_strategy_that_picks_outside_the_pool_is_refused(repo: Repo) -> None:
    def bad(c: Candidates, n: int, rng: np.random.Generator, p: Mapping[str, Any]) -> list[Pick]:
        return [Pick(0, 1.0, "x"), Pick(0, 1.0, "x")]

    strategies.register("test-bad", bad)
    try:
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda: repo.select("flights", strategy="test-bad", n=2),
            "'test-bad' picked the same record more than once",
        )
    finally:
        strategies._REGISTRY.pop("test-bad", None)


def test_unknown_selection(repo: Repo) -> None:
    err = expect_unchanged(
        repo, tillage.NoSuchSelectionError, lambda: repo.selection.get("abc"), "tillage selection"
    )
    assert err.code == "no_such_selection"


def test_selecting_reads_the_pool_for_select(repo: Repo) -> None:
    before = len(repo.access_log.events)
    repo.select("flights", strategy="random", n=2)
    purposes = {(e.dataset, e.purpose.value) for e in repo.access_log.events[before:]}
    assert ("flights", "select") in purposes


def test_a_dataset_with_a_composite_key_is_refused(repo: Repo) -> None:
    repo.ingest("legs", pa.table({"a": [1, 1], "b": [1, 2]}), key=["a", "b"])
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.select("legs", strategy="random"),
        "composite key (a, b)",
        "one-column key",
    )


def test_a_selection_made_in_a_run_is_in_its_lineage(repo: Repo, tmp_path: Path) -> None:
    flow = tmp_path / "select_flow.py"
    flow.write_text(
        "import tillage\n"
        "@tillage.step\n"
        "def choose() -> str:\n"
        "    return tillage.context().repo.select('flights', strategy='random', n=5).id\n"
        "@tillage.pipeline\n"
        "def pick() -> str:\n"
        "    return choose()\n"
    )
    head = repo.refs.resolve("main")
    run = tillage.run(repo, f"{flow}:pick")
    sel = repo.selection.get(run.result)
    assert sel.pool_commit == head and len(sel) == 5
    [step] = run.steps
    assert {r["dataset"]: r["commit"] for r in step.reads}["flights"] == head
    assert [w["dataset"] for w in step.writes] == ["selections"]
    up, _ = tillage.lineage(repo, "main")
    assert any(run.id in node for node in up.nodes)


def test_a_catalog_from_before_selections_upgrades(repo: Repo) -> None:
    from alembic import command

    from tillage.store.migrate import _config, head_revision

    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0009")
    path = repo.path
    repo.close()
    with pytest.raises(tillage.CatalogError, match="tillage upgrade"):
        tillage.open(path)
    assert tillage.Repo.upgrade(path) == ("0009", head_revision())
    with tillage.open(path) as again:
        sel = again.select("flights", strategy="random", n=3)
        assert again.selection.get(sel.id).record_ids == sel.record_ids


def test_a_selection_whose_provenance_cannot_be_recorded_is_not_committed(repo: Repo) -> None:
    import uuid
    from unittest import mock

    from sqlalchemy.exc import IntegrityError

    first = repo.select("flights", strategy="random", n=3)
    head = repo.refs.commit().id
    taken = "0123456789ab"  # a catalog row with this id already: the catalog refuses another
    store = repo.selection._store
    with store.engine.begin() as conn:
        store.add(conn, taken, dataset="flights", ref=None, pool_commit=head, commit_id=head,
                  provenance=first.provenance(), principal="x", created_at="2026")  # fmt: skip
    with (
        mock.patch("tillage.api.selection.uuid4", return_value=uuid.UUID(taken + "0" * 20)),
        pytest.raises(IntegrityError),
    ):
        repo.select("flights", strategy="random", n=5, seed=1)
    assert repo.refs.commit().id == head
    assert repo.read("selections").num_rows == 3
    assert first.id in [s.id for s in repo.selection.list()]


def test_a_recorded_models_predictions_and_features_drive_a_selection(
    repo: Repo, confident: str
) -> None:
    """Record a real model, predict on the pool, and select by its uncertainty and by the
    default featurizer's vectors, without handing tillage any arrays."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train = repo.read("flights").to_pandas()
    late = np.where(train["dep_delay"] > 15, "late", "on_time")
    model = make_pipeline(
        ColumnTransformer([("carrier", OneHotEncoder(), ["carrier"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(train[["carrier", "dep_delay"]], late)

    repo.models.record("clf", "flights", model=model, features=["carrier", "dep_delay"])
    with pytest.raises(tillage.NoPredictionsError, match="tillage models predict clf flights"):
        repo.select("flights", strategy=confident, model="clf")
    predicted = repo.models.predict("clf", "flights")
    chosen = repo.select("flights", strategy=confident, model="clf", n=5, seed=1)
    assert chosen.model == "clf" and chosen.model_version == predicted.version
    top = predicted.proba.max(axis=1)
    by_id = dict(zip(predicted.keys, top, strict=True))
    picked = [by_id[r] for r in chosen.record_ids]
    assert max(picked) <= sorted(top)[4] + 1e-9  # the five least confident records

    spread = repo.select("flights", strategy="random", n=3, seed=2, model="clf")
    assert len(spread) == 3

    def far_apart(
        c: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
    ) -> list[Pick]:
        assert c.features is not None and c.features.shape[0] == len(c)
        norms = np.linalg.norm(c.features, axis=1)
        order = np.argsort(-norms, kind="stable")[:n]
        return [Pick(int(i), float(norms[i]), "far out") for i in order]

    strategies.register("test-far", far_apart, needs=["features"])
    try:
        by_features = repo.select("flights", strategy="test-far", n=4)
    finally:
        strategies._REGISTRY.pop("test-far", None)
    assert len(by_features) == 4


def test_label_errors_from_label_issues_are_proposed_for_relabelling(tmp_path: Path) -> None:
    """`label_error` reads each record's label quality from the label set's issues."""
    rng = np.random.default_rng(0)
    n = 400
    truth = np.where(rng.random(n) < 0.5, "late", "on_time")
    x = np.where(truth == "late", 1.0, -1.0) + rng.normal(0, 0.4, n)
    repo = tillage.init(tmp_path / "p")
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
    ids = [f"r{i}" for i in range(n)]
    repo.ingest("recs", pa.table({"id": ids, "x": x, "y": rng.normal(0, 1, n)}), key="id")
    repo.labels.create("delays", records="recs", taxonomy="delay")
    given = truth.copy()
    flipped = rng.choice(n, 20, replace=False)
    given[flipped] = np.where(truth[flipped] == "late", "on_time", "late")
    repo.labels.add("delays", ids, list(given), source="import")

    with pytest.raises(tillage.InputError, match="--labelset NAME"):
        repo.select("recs", strategy="label_error", include_labelled=True)
    chosen = repo.select(
        "recs", strategy="label_error", labelset="delays", include_labelled=True, n=15
    )
    assert {p.action for p in chosen.picks} == {"relabel"}
    assert len(set(chosen.record_ids) & {ids[i] for i in flipped}) >= 12
    assert "label quality" in chosen.picks[0].reason
    repo.close()
