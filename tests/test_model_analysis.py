"""Where a recorded model fails, and which records matter, through the repository:
`repo.models.slices`, `repo.models.fairness`, `repo.selection.value` and their commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tillage
from cli_runner import cli, cli_json
from tillage import Repo

FEATURES = ["dep_delay", "hour", "carrier", "distance"]


@pytest.fixture(scope="module")
def flights(nycflights_table: pa.Table) -> pa.Table:
    """3,000 flights of 2013 that flew, with ``late`` (arrival delay over 15 minutes)."""
    flew = nycflights_table.filter(pc.is_valid(nycflights_table.column("arr_delay")))
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(flew.num_rows, 3000, replace=False))
    sample = flew.take(pa.array(rows)).select(["rownames", *FEATURES, "arr_delay"])
    late = np.where(
        sample.column("arr_delay").to_numpy(zero_copy_only=False) > 15, "late", "on_time"
    )
    noisy = late.copy()
    flipped = rng.random(len(late)) < 0.1  # one label in ten is wrong
    noisy[flipped] = np.where(late[flipped] == "late", "on_time", "late")
    sample = sample.drop_columns(["arr_delay"]).append_column("late", pa.array(late))
    return sample.append_column("noisy", pa.array(noisy))


@pytest.fixture
def repo(tmp_path: Path, flights: pa.Table) -> Iterator[Repo]:
    """The flights and a model that sees only the carrier and the hour, recorded and predicted."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    r = tillage.init(tmp_path / "proj")
    r.ingest("flights", flights, key="rownames")
    frame = flights.to_pandas()
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["carrier", "hour"])],
        ),
        LogisticRegression(max_iter=500),
    ).fit(frame[["carrier", "hour"]], frame["late"])
    r.models.record("blind", "flights", model=model, features=["carrier", "hour"])
    r.models.predict("blind", "flights")
    yield r
    r.close()


def test_slices_name_where_the_model_errs_and_their_filters_read(repo: Repo) -> None:
    report = repo.models.slices(
        "blind", "flights", label="late", columns=["dep_delay", "carrier", "distance"]
    )
    assert report.records == 3000 and 0.1 < report.error < 0.4
    assert report.slices, "a model blind to the departure delay errs on delayed flights"
    top = report.slices[0]
    assert "dep_delay" in top.sentence and "vs" in top.sentence
    hit = repo.read("flights", where=top.where)  # each slice is a filter the repo accepts
    assert hit.num_rows == top.records
    with pytest.raises(tillage.InputError, match="one of them"):
        repo.models.slices("blind", "flights")
    with pytest.raises(tillage.InputError, match="unknown column"):
        repo.models.slices("blind", "flights", label="late", columns=["colour"])


def test_fairness_compares_the_groups_of_a_sensitive_column(repo: Repo) -> None:
    report = repo.models.fairness("blind", "flights", sensitive=["carrier"], label="late")
    doc = report.to_dict()
    assert doc["groups"] and doc["gaps"]
    assert {g["group"][0] for g in doc["groups"]} >= {"UA", "EV"}


def test_values_are_stored_and_drive_the_low_value_strategy(repo: Repo) -> None:
    with pytest.raises(tillage.InputError, match="tillage value flights"):
        repo.selection.values("flights")
    found = repo.selection.value("flights", label="noisy", columns=FEATURES)
    wrong = {
        str(r["rownames"]) for r in repo.read("flights").to_pylist() if r["late"] != r["noisy"]
    }
    suspects = {r for r, s in zip(found.keys, found.values.suspect, strict=True) if s}
    assert len(found.keys) == 3000 and len(suspects) >= 30
    assert len(suspects & wrong) / len(suspects) > 0.5  # most suspects are the flipped labels
    stored = repo.selection.values("flights")
    assert len(stored) == 3000
    first = found.lowest(5)
    assert all(stored[r] == pytest.approx(v) for r, v, _ in first)
    chosen = repo.select("flights", strategy="low_value", n=5, include_labelled=True)
    assert chosen.record_ids == tuple(r for r, _, _ in first) or set(chosen.record_ids) == {
        r for r, _, _ in first
    }
    assert {p.action for p in chosen.picks} == {"remove"}


def test_the_commands_slice_and_value(repo: Repo) -> None:
    doc = cli_json(
        "-C", repo.path, "slices", "blind", "flights", "--label", "late", "--columns", "dep_delay"
    )
    assert doc["slices"] and doc["records"] == 3000
    text = cli("-C", repo.path, "slices", "blind", "flights", "--label", "late").stdout
    assert "--where" in text
    valued = cli_json(
        "-C", repo.path, "value", "flights", "--label", "noisy", "--columns", ",".join(FEATURES)
    )
    assert valued["records"] == 3000 and len(valued["lowest"]) == 10
    error = cli_json("-C", repo.path, "slices", "nobody", "flights", "--label", "late", code=1)
    assert error["error"]["code"] == "no_such_model"
