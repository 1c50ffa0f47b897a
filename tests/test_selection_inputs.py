"""`repo.select` derives what a strategy needs from the repository itself: a committee
(recorded models, or bootstrap refits of one), the label model's probabilities and
the labeling functions' conflict (from a label set's votes), and error slices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
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
