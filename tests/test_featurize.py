"""The default featurizer, and features cached by data version in a real repository."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tillage
from tillage import Repo
from tillage.selection.featurize import DefaultFeaturizer, Featurizer

WORDS = ["delay", "storm", "gate", "crew", "late", "snow", "bags", "fuel", "seat", "meal"]


def records(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    speed = rng.normal(50, 10, n)
    speed[::7] = np.nan
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "speed": speed,
            "carrier": rng.choice(["AA", "UA", "DL", "B6"], n).tolist(),
            "note": [" ".join(rng.choice(WORDS, 5)) for _ in range(n)],
            "when": [dt.datetime(2013, 1, 1) + dt.timedelta(hours=int(h)) for h in range(n)],
        }
    )


def test_each_kind_is_encoded_as_the_module_says() -> None:
    table = records(200).drop_columns(["id"])
    f = DefaultFeaturizer(max_categories=3, text_dimensions=4)
    kinds = {k: v.value for k, v in f.kinds(table).items()}
    assert kinds == {"speed": "numeric", "carrier": "categorical", "note": "text", "when": "time"}
    m = f.fit_transform(table)
    assert m.dtype == np.float32 and m.shape == (200, 2 + 4 + 4 + 1)
    speed, missing = m[:, 0], m[:, 1]
    np.testing.assert_array_equal(missing, (np.arange(200) % 7 == 0).astype(np.float32))
    assert speed[missing == 1].tolist() == [0.0] * int(missing.sum())
    present = speed[missing == 0]
    assert abs(present.mean()) < 1e-5 and abs(present.std() - 1) < 1e-4
    onehot = m[:, 2:6]
    assert onehot.sum(axis=1).tolist() == [1.0] * 200  # 3 frequent carriers and "other"
    assert (onehot[:, 3] == 1).sum() == min(
        pa.table({"c": table.column("carrier")})
        .group_by("c")
        .aggregate([("c", "count")])
        .column("c_count")
        .to_pylist()
    )
    assert np.abs(m[:, 6:10]).sum() > 0  # text reduced to 4 SVD dimensions
    when = m[:, 10]
    assert abs(when.mean()) < 1e-5 and when[1] > when[0]


def test_identifiers_are_skipped_and_nothing_usable_is_an_error() -> None:
    table = pa.table({"order_id": [f"o{i}" for i in range(300)], "v": np.arange(300.0)})
    assert DefaultFeaturizer().fit_transform(table).shape == (300, 1)
    with pytest.raises(tillage.InputError, match="can be featurized"):
        DefaultFeaturizer().fit_transform(table.select(["order_id"]))


def test_it_is_deterministic_and_its_fingerprint_names_its_parameters() -> None:
    table = records(120).drop_columns(["id"])
    a = DefaultFeaturizer().fit_transform(table)
    b = DefaultFeaturizer().fit_transform(table)
    np.testing.assert_array_equal(a, b)
    assert DefaultFeaturizer().fingerprint == DefaultFeaturizer().fingerprint
    assert DefaultFeaturizer(text_dimensions=8).fingerprint != DefaultFeaturizer().fingerprint
    assert isinstance(DefaultFeaturizer(), Featurizer)


class Counting:
    """A featurizer that counts its calls: the speed column as it is."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def fingerprint(self) -> str:
        return "counting-v1"

    def fit_transform(self, table: pa.Table) -> np.ndarray:
        self.calls += 1
        col = table.column("speed").to_numpy(zero_copy_only=False)
        return np.nan_to_num(col).reshape(-1, 1).astype(np.float32)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = tillage.init(tmp_path / "proj")
    r.ingest("recs", records(150), key="id")
    return r


def test_features_are_cached_by_data_version_and_featurizer(repo: Repo) -> None:
    counting = Counting()
    first = repo.models.features("recs", featurizer=counting, columns=["speed"])
    assert counting.calls == 1 and first.featurizer == "counting-v1"
    assert first.keys == tuple(f"r{i}" for i in range(150)) and first.matrix.shape == (150, 1)
    cache = repo.repo_dir / "cache" / "features"
    assert len(list(cache.glob("*.npz"))) == 1

    again = repo.models.features("recs", featurizer=counting, columns=["speed"])
    assert counting.calls == 1  # read from the cache
    np.testing.assert_array_equal(again.matrix, first.matrix)
    assert again.keys == first.keys
    events = [e for e in repo.access_log.events if e.purpose.value == "features"]
    assert len(events) == 2 and events[-1].columns == ("speed",)

    repo.ingest("other", pa.table({"k": [1]}), key="k")  # another dataset: same version
    repo.models.features("recs", featurizer=counting, columns=["speed"])
    assert counting.calls == 1

    repo.ingest(
        "recs", records(5, seed=1).set_column(0, "id", pa.array(["n0", "n1", "n2", "n3", "n4"]))
    )
    newer = repo.models.features("recs", featurizer=counting, columns=["speed"])
    assert counting.calls == 2 and len(newer) == 155  # a new version is computed
    assert (
        repo.models.features("recs", featurizer=counting, columns=["speed"], ref="HEAD~2").keys
        == first.keys
    )
    assert counting.calls == 2

    default = repo.models.features("recs")
    assert default.featurizer == DefaultFeaturizer().fingerprint
    assert default.matrix.shape[0] == 155 and len(list(cache.glob("*.npz"))) == 3
    np.testing.assert_array_equal(repo.models.features("recs").matrix, default.matrix)


def test_a_damaged_cache_file_is_recomputed(repo: Repo) -> None:
    counting = Counting()
    repo.models.features("recs", featurizer=counting, columns=["speed"])
    [path] = (repo.repo_dir / "cache" / "features").glob("*.npz")
    path.write_bytes(b"not a cache")
    again = repo.models.features("recs", featurizer=counting, columns=["speed"])
    assert counting.calls == 2 and again.matrix.shape == (150, 1)


def test_unknown_feature_columns_are_named(repo: Repo) -> None:
    with pytest.raises(tillage.MissingFeaturesError, match="size"):
        repo.models.features("recs", columns=["speed", "size"])
    assert not (repo.repo_dir / "cache").exists()
