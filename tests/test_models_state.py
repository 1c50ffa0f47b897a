"""Model state: model versions, their skops files, and their predictions per record.

Real repositories, real scikit-learn models fitted on a generated table of
points (two numeric features, a categorical one, a yes/no label), real skops files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tillage
from test_repo import expect_unchanged
from tillage import Repo

N = 240


def points(ids: range, seed: int = 0) -> pa.Table:
    """Points with ``x1``, ``x2``, ``group`` and ``y`` ("yes" when x1 + x2 > 0)."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return pa.table(
        {
            "id": list(ids),
            "x1": x1,
            "x2": x2,
            "group": rng.choice(["a", "b", "c"], n).tolist(),
            "y": np.where(x1 + x2 > 0, "yes", "no").tolist(),
        }
    )


def fitted(table: pa.Table) -> LogisticRegression:
    """A logistic regression fitted on a DataFrame of x1 and x2 (so it keeps their names)."""
    return LogisticRegression().fit(
        table.select(["x1", "x2"]).to_pandas(), table.column("y").to_pylist()
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = tillage.init(tmp_path / "proj")
    r.ingest("pts", points(range(N)), key="id")
    return r


@pytest.fixture
def clf(repo: Repo) -> LogisticRegression:
    return fitted(repo.read("pts"))


# -- versions -------------------------------------------------------------------------


def test_each_record_is_a_new_version_with_its_code_data_labels_and_features(
    repo: Repo, clf: LogisticRegression
) -> None:
    first = repo.models.record("clf", "pts", model=clf, code_version="abc123", metrics={"a": 1})
    data = repo.refs.commit()
    assert (first.version, first.commit_id, first.code_version) == (1, data.id, "abc123")
    assert first.features == ("x1", "x2")  # from feature_names_in_
    assert first.classes == ("no", "yes")
    assert first.labelset is None and first.labelset_commit is None

    repo.ingest("pts", points(range(N, N + 10), seed=1))
    second = repo.models.record("clf", "pts", features=["x1"], code_version="def456")
    assert second.version == 2 and second.features == ("x1",) and second.artifact is None
    assert second.commit_id == repo.refs.commit().id != first.commit_id
    assert repo.models.get("clf") == second
    assert repo.models.get("clf", version=1) == first
    assert [m.version for m in repo.models.recorded("clf")] == [2, 1]
    doc = second.to_dict()
    assert doc["version"] == 2 and doc["features"] == ["x1"] and doc["code_version"] == "def456"
    assert first.to_dict()["artifact"]["format"] == "skops"

    other = repo.record_model("other", "pts")  # the README's alias: a name of its own
    assert other.version == 1 and other.features == ()
    with pytest.raises(
        tillage.NoSuchModelError, match=r"'clf' has no version 3 \(its versions: 1, 2\)"
    ):
        repo.models.get("clf", version=3)


def test_a_label_set_is_recorded_with_the_commit_that_pins_it(
    repo: Repo, clf: LogisticRegression
) -> None:
    import yaml

    tax = {"name": "yn", "versions": [{"version": 1, "classes": {"yes": "", "no": ""}}]}
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "yn.yaml").write_text(yaml.safe_dump(tax))
    repo.labels.create("gold", records="pts", taxonomy="yn")
    labelled = repo.labels.add("gold", [0, 1], ["yes", "no"], source="test")
    m = repo.models.record("clf", "pts", model=clf, labelset="gold")
    assert m.labelset == "gold" and m.labelset_commit == labelled.id
    assert repo.refs.commit(m.labelset_commit).pins["gold"] == labelled.pins["gold"]
    with pytest.raises(tillage.NoSuchLabelSetError):
        repo.models.record("clf", "pts", labelset="nope")
    assert len(repo.models.recorded("clf")) == 1


def test_the_code_version_defaults_to_the_git_commit_or_none(
    repo: Repo, clf: LogisticRegression
) -> None:
    m = repo.models.record("clf", "pts")
    commit = repo.refs.commit()
    sha = commit.code.git_sha
    assert m.code_version == (
        None if sha is None else sha + ("+dirty" if commit.code.dirty else "")
    )


def test_features_missing_from_the_dataset_are_an_error_and_record_nothing(repo: Repo) -> None:
    other = LogisticRegression().fit(
        pa.table({"x1": [0.0, 1.0], "speed": [1.0, 0.0]}).to_pandas(), ["no", "yes"]
    )
    for action in (
        lambda: repo.models.record("clf", "pts", model=other),
        lambda: repo.models.record("clf", "pts", features=["x1", "speed", "size"]),
    ):
        err = expect_unchanged(repo, tillage.MissingFeaturesError, action, "speed", "'pts'")
        assert err.code == "missing_features"
    assert repo.models.recorded() == []
    assert not (repo.repo_dir / "models").exists()


# -- files ----------------------------------------------------------------------------


def test_a_fitted_model_is_saved_with_skops_and_loads_back_checked(
    repo: Repo, clf: LogisticRegression
) -> None:
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        repo.read("pts", columns=["x1", "x2"]).to_pandas(), repo.read("pts").column("y")
    )
    m1 = repo.models.record("clf", "pts", model=clf)
    m2 = repo.models.record("clf", "pts", model=pipe)
    for m in (m1, m2):
        assert m.artifact is not None
        path = repo.repo_dir / m.artifact.path
        assert path == repo.repo_dir / "models" / "clf" / f"{m.version}.skops"
        data = path.read_bytes()
        assert data[:2] == b"PK"  # a skops zip, not a pickle
        assert m.artifact.sha256 == hashlib.sha256(data).hexdigest()
        assert m.artifact.size == len(data)
    x = repo.read("pts", columns=["x1", "x2"]).to_pandas()
    np.testing.assert_array_equal(
        repo.models.load("clf", version=1).predict_proba(x), clf.predict_proba(x)
    )
    np.testing.assert_array_equal(repo.models.load("clf").predict_proba(x), pipe.predict_proba(x))
    assert sorted(p.name for p in (repo.repo_dir / "models" / "clf").iterdir()) == [
        "1.skops",
        "2.skops",
    ]


def test_a_changed_or_missing_model_file_is_corrupt_and_names_the_file(
    repo: Repo, clf: LogisticRegression
) -> None:
    m = repo.models.record("clf", "pts", model=clf)
    assert m.artifact is not None
    path = repo.repo_dir / m.artifact.path
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(tillage.CorruptModelError, match=r"models/clf/1\.skops") as err:
        repo.models.load("clf")
    assert isinstance(err.value, tillage.CorruptDataError) and "SHA-256" in str(err.value)
    path.unlink()
    with pytest.raises(tillage.CorruptModelError, match="cannot be read"):
        repo.models.predict("clf", "pts")


def test_loading_trusts_exactly_the_types_recorded_at_save(
    repo: Repo, clf: LogisticRegression
) -> None:
    import skops.io as sio

    m = repo.models.record("clf", "pts", model=clf)
    assert m.artifact is not None
    data = (repo.repo_dir / m.artifact.path).read_bytes()
    assert list(m.artifact.trusted) == sio.get_untrusted_types(data=data)
    # a file swapped for one holding other types fails the hash before skops reads it
    swapped = sio.dumps(
        make_pipeline(StandardScaler(), LogisticRegression()).fit([[0], [1]], [0, 1])
    )
    (repo.repo_dir / m.artifact.path).write_bytes(swapped)
    with pytest.raises(tillage.CorruptModelError):
        repo.models.load("clf")


def test_what_skops_cannot_save_is_an_input_error_and_writes_nothing(
    repo: Repo, clf: LogisticRegression
) -> None:
    class Custom:
        pass

    for model, says in (
        (Custom(), "scikit-learn estimator"),
        (LogisticRegression(), "not fitted"),
    ):
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda model=model: repo.models.record("clf", "pts", model=model),
            says,
        )
    assert repo.models.recorded() == [] and not (repo.repo_dir / "models").exists()


# -- predictions ----------------------------------------------------------------------


def test_predict_stores_one_commit_of_predictions_that_read_back_aligned(
    repo: Repo, clf: LogisticRegression
) -> None:
    repo.models.record("clf", "pts", model=clf)
    data = repo.refs.commit()
    seen: list[tuple[int, int]] = []
    made = repo.models.predict(
        "clf", "pts", batch_size=50, progress=lambda d, n: seen.append((d, n))
    )
    assert seen == [(50, N), (100, N), (150, N), (200, N), (N, N)]
    x = repo.read("pts", columns=["x1", "x2"]).to_pandas()
    np.testing.assert_allclose(made.proba, clf.predict_proba(x), rtol=1e-6)
    assert made.proba.dtype == np.float32 and made.classes == ("no", "yes")
    assert made.keys == tuple(str(i) for i in range(N)) and made.commit == data.id

    head = repo.refs.commit()
    assert head.parents == (data.id,) and set(head.pins) == {"pts", "clf-predictions"}
    assert (
        head.message
        == f"predictions of model clf version 1 on pts at {data.short_id} ({N:,} records)"
    )
    assert repo.datasets.key("clf-predictions") == ["dataset", "record_id", "model_version"]

    back = repo.models.predictions("clf", "pts")
    order = np.argsort(np.array(made.keys))
    assert back.keys == tuple(np.array(made.keys)[order])
    np.testing.assert_array_equal(back.proba, made.proba[order])
    assert back.embedding is None and back.version == 1
    stored = repo.read("clf-predictions", where="record_id = '7'").to_pylist()[0]
    assert stored["label"] == clf.predict(x.iloc[[7]])[0] and stored["data_commit"] == data.id

    one = repo.models.predict("clf", "pts", batch_size=10_000)  # one batch: the same numbers
    np.testing.assert_array_equal(one.proba, made.proba)


def test_predictions_belong_to_a_data_version(repo: Repo, clf: LogisticRegression) -> None:
    repo.models.record("clf", "pts", model=clf)
    first = repo.refs.commit()
    repo.models.predict("clf", "pts")
    repo.ingest("pts", points(range(N, N + 20), seed=2))
    err = expect_unchanged(
        repo,
        tillage.NoPredictionsError,
        lambda: repo.models.predictions("clf", "pts"),
        "tillage models predict clf pts",
    )
    assert err.code == "no_predictions"
    assert len(repo.models.predictions("clf", "pts", first.id)) == N  # still stored
    repo.models.predict("clf", "pts")
    assert len(repo.models.predictions("clf", "pts")) == N + 20
    # one row per record and model version: the older version's rows were replaced
    with pytest.raises(tillage.NoPredictionsError):
        repo.models.predictions("clf", "pts", first.id)
    repo.models.record("clf", "pts", model=clf)
    with pytest.raises(tillage.NoPredictionsError):  # version 2 has none yet
        repo.models.predictions("clf", "pts")
    assert repo.models.predictions("clf", "pts", version=1).version == 1


def test_predict_on_a_branch_commits_there(repo: Repo, clf: LogisticRegression) -> None:
    repo.models.record("clf", "pts", model=clf)
    repo.create_branch("exp")
    repo.ingest("pts", points(range(N, N + 5), seed=3), branch="exp")
    main = repo.refs.commit("main").id
    repo.models.predict("clf", "pts", "exp")
    assert repo.refs.commit("main").id == main
    assert len(repo.models.predictions("clf", "pts", "exp")) == N + 5
    with pytest.raises(tillage.NoPredictionsError):
        repo.models.predictions("clf", "pts")


def test_predict_needs_a_file_features_and_a_known_model(
    repo: Repo, clf: LogisticRegression
) -> None:
    repo.models.record("bare", "pts")
    err = expect_unchanged(
        repo,
        tillage.NoModelArtifactError,
        lambda: repo.models.predict("bare", "pts"),
        "'bare' version 1 was recorded without its fitted model",
        "record_predictions",
    )
    assert err.code == "no_model_artifact"
    repo.models.record("clf", "pts", model=clf)
    repo.ingest("other", pa.table({"id": [1, 2], "x1": [0.5, 0.1]}), key="id")
    expect_unchanged(
        repo,
        tillage.MissingFeaturesError,
        lambda: repo.models.predict("clf", "other"),
        "column(s) x2",
        "'other'",
    )
    expect_unchanged(
        repo, tillage.NoSuchModelError, lambda: repo.models.predict("nope", "pts"), "'nope'"
    )
    expect_unchanged(
        repo, tillage.NoSuchDatasetError, lambda: repo.models.predict("clf", "nope"), "'nope'"
    )
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.predict("clf", "pts", batch_size=0),
        "batch_size",
    )


def test_a_user_dataset_named_like_the_predictions_is_a_clear_error(
    repo: Repo, clf: LogisticRegression
) -> None:
    # Made before the name was reserved (new ones are refused at creation).
    repo.datasets.ingest("clf-predictions", pa.table({"id": [1]}), key="id", reserved=True)
    repo.models.record("clf", "pts", model=clf)
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.predict("clf", "pts"),
        "dataset 'clf-predictions' exists and does not hold a model's predictions",
    )


def test_recorded_predictions_are_checked_then_stored(repo: Repo) -> None:
    repo.models.record("ext", "pts", features=["x1", "x2"])
    keys = [3, 1, 2]
    proba = [[0.1, 0.9], [0.5, 0.5], [1.0, 0.0]]
    classes = ["no", "yes"]
    bad: list[tuple[object, tuple[str, ...]]] = [
        (
            lambda: repo.models.record_predictions("ext", "pts", keys, proba[:2], classes),
            ("shape",),
        ),
        (
            lambda: repo.models.record_predictions(
                "ext", "pts", keys, [[0.1, 0.8], [0.5, 0.5], [1.0, 0.0]], classes
            ),
            ("row 0 sums to 0.9000",),
        ),
        (
            lambda: repo.models.record_predictions(
                "ext", "pts", keys, [[0.1, 0.9], [np.nan, 0.5], [1.0, 0.0]], classes
            ),
            ("NaN", "row 1"),
        ),
        (
            lambda: repo.models.record_predictions("ext", "pts", [3, 1, 9999], proba, classes),
            ("not records of 'pts'", "'9999'"),
        ),
        (
            lambda: repo.models.record_predictions("ext", "pts", [3, 1, 1], proba, classes),
            ("more than once",),
        ),
        (
            lambda: repo.models.record_predictions(
                "ext", "pts", keys, proba, classes, embedding=np.ones((2, 4))
            ),
            ("embedding",),
        ),
    ]
    for action, says in bad:
        expect_unchanged(repo, tillage.InputError, action, *says)  # type: ignore[arg-type]
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    stored = repo.models.record_predictions("ext", "pts", keys, proba, classes, embedding=vectors)
    assert stored.keys == ("3", "1", "2") and stored.classes == ("no", "yes")
    assert repo.models.get("ext").classes == ("no", "yes")
    back = repo.models.predictions("ext", "pts")
    assert back.keys == ("1", "2", "3")
    np.testing.assert_allclose(back.proba, np.array(proba, np.float32)[[1, 2, 0]])
    assert back.embedding is not None
    np.testing.assert_array_equal(back.embedding, vectors[[1, 2, 0]])
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.record_predictions("ext", "pts", keys, proba, ["yes", "no"]),
        "has classes ['no', 'yes']",
    )


def test_status_and_monitoring_treat_the_predictions_as_a_quiet_dataset(
    repo: Repo, clf: LogisticRegression
) -> None:
    repo.models.record("clf", "pts", model=clf)
    repo.models.predict("clf", "pts")
    status = repo.refs.status()
    doc = json.loads(json.dumps(status.to_dict(), default=str))
    assert "clf-predictions" in json.dumps(doc)
    assert repo.quality.alerts() == []
    assert repo.profile("clf-predictions").rows == N


# -- the catalog migration -------------------------------------------------------------


def test_models_recorded_before_versions_are_numbered_on_upgrade(tmp_path: Path) -> None:
    from alembic import command

    from tillage.store.migrate import _config, head_revision

    repo = tillage.init(tmp_path / "proj")
    repo.ingest("pts", points(range(10)), key="id")
    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0009")
        for name in ("a", "b", "a", "a"):
            conn.exec_driver_sql(
                "INSERT INTO models (name, dataset, commit_id, importance, metrics, created_at, "
                "principal) VALUES (?, 'pts', ?, '{}', '{}', '2026-01-01', 'me')",
                (name, repo.refs.commit().id),
            )
    path = repo.path
    repo.close()
    assert tillage.Repo.upgrade(path) == ("0009", head_revision())
    with tillage.open(path) as again:
        got = sorted((m.name, m.version, m.artifact) for m in again.models.recorded())
        assert got == [("a", 1, None), ("a", 2, None), ("a", 3, None), ("b", 1, None)]
        assert again.models.record("b", "pts").version == 2


# -- the CLI ---------------------------------------------------------------------------


def test_the_models_commands_list_show_and_predict(repo: Repo, clf: LogisticRegression) -> None:
    from cli_runner import cli, cli_json

    root = repo.path
    assert cli_json("-C", root, "models", "list") == {"models": []}
    assert "no models recorded yet" in cli("-C", root, "models", "list").stdout
    first = repo.models.record("clf", "pts", model=clf, metrics={"auc": 0.9})
    repo.models.record("clf", "pts", features=["x1"])
    listed = cli_json("-C", root, "models", "list", "clf")["models"]
    assert [m["version"] for m in listed] == [2, 1]
    assert listed[1] == first.to_dict()
    assert cli_json("-C", root, "models", "show", "clf", "--version", "1") == first.to_dict()
    text = cli("-C", root, "models", "show", "clf", "--version", "1").stdout
    assert "model clf version 1" in text and "models/clf/1.skops" in text and "auc" in text

    doc = cli_json("-C", root, "models", "predict", "clf", "pts", "--version", "1")
    assert doc["records"] == N and doc["version"] == 1 and doc["stored_in"] == "clf-predictions"
    assert len(repo.models.predictions("clf", "pts", version=1)) == N
    out = cli("-C", root, "models", "predict", "clf", "pts", "-v", "1").stdout
    assert f"predicted {N} record(s) of pts" in out and "clf-predictions" in out


def test_the_readme_models_section_runs_as_written(tmp_path: Path) -> None:
    import os
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("\n## Models: versions, files and predictions per record\n")
    end = readme.find("\n## ", start + 1)
    [code] = re.findall(r"```python\n(.*?)```", readme[start:end], flags=re.S)
    scope: dict[str, object] = {}
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), scope)
    finally:
        os.chdir(here)
    repo = scope["repo"]
    assert isinstance(repo, Repo)
    try:
        assert len(repo.models.predictions("clf", "pts")) == 200
        assert scope["features"].matrix.shape == (200, 1)  # type: ignore[attr-defined]
    finally:
        repo.close()


def test_a_composite_key_is_refused_with_what_to_do(repo: Repo, clf: LogisticRegression) -> None:
    table = points(range(20)).append_column("part", pa.array([i % 2 for i in range(20)]))
    repo.ingest("two", table, key=["id", "part"])
    repo.models.record("clf", "pts", model=clf)
    for action in (
        lambda: repo.models.predict("clf", "two"),
        lambda: repo.models.features("two"),
        lambda: repo.models.record_predictions("clf", "two", [1], [[0.5, 0.5]], ["no", "yes"]),
    ):
        expect_unchanged(
            repo, tillage.InputError, action, "composite key (id, part)", "predictions and features"
        )


@pytest.mark.slow
def test_writers_recording_one_model_at_once_get_distinct_versions_and_files(
    repo: Repo,
) -> None:
    import subprocess
    import sys

    child = (
        "import sys, tillage\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "repo = tillage.open(sys.argv[1])\n"
        "x = repo.read('pts', columns=['x1', 'x2']).to_pandas()\n"
        "y = (x['x1'] > float(sys.argv[2])).to_numpy()\n"
        "fit = LogisticRegression().fit(x, y)\n"
        "repo.models.record('warm', 'pts')\n"
        "while len(repo.models.recorded('warm')) < 2:\n"  # both ready: start together
        "    pass\n"
        "for _ in range(12):\n"
        "    repo.models.record('clf', 'pts', model=fit)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", child, str(repo.path), t]) for t in ("-0.5", "0.5")
    ]
    assert [p.wait(timeout=240) for p in procs] == [0, 0]
    versions = sorted(m.version for m in repo.models.recorded("clf"))
    assert versions == list(range(1, 25))
    for v in versions:
        repo.models.load("clf", version=v)  # each file is the one its version recorded


def test_a_model_that_cannot_give_probabilities_or_fails_on_the_records_is_an_input_error(
    repo: Repo,
) -> None:
    from sklearn.svm import LinearSVC

    x = repo.read("pts", columns=["x1", "x2"]).to_pandas()
    y = repo.read("pts").column("y").to_pylist()
    repo.models.record("svm", "pts", model=LinearSVC().fit(x, y))
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.predict("svm", "pts"),
        "(LinearSVC) has no predict_proba",
        "record_predictions",
    )
    groups = repo.read("pts", columns=["x1", "group"]).to_pandas().assign(group=1.0)
    repo.models.record("by_group", "pts", model=LogisticRegression().fit(groups, y))
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.predict("by_group", "pts"),
        "cannot predict records of 'pts'",
        "nothing was stored",
    )


def test_a_model_fitted_on_an_array_predicts_from_the_recorded_feature_columns(
    repo: Repo,
) -> None:
    table = repo.read("pts")
    x = np.column_stack([table.column("x2").to_numpy(), table.column("x1").to_numpy()])
    arr = LogisticRegression().fit(x, table.column("y").to_pylist())
    repo.models.record("arr", "pts", model=arr, features=["x2", "x1"])
    made = repo.models.predict("arr", "pts")  # no feature-name warning: it gets an array
    np.testing.assert_allclose(made.proba, arr.predict_proba(x), rtol=1e-6)
    repo.models.record("nofeatures", "pts", model=arr)
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.models.predict("nofeatures", "pts"),
        "no recorded feature columns",
        "features=[...]",
    )
