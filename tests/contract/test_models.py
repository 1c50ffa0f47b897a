"""Model versions and their predictions on every catalog backend (the catalog's model rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LogisticRegression

import tillage
from tillage import Repo


def test_model_versions_files_and_predictions(repo: Repo) -> None:
    x = np.linspace(-1, 1, 40)
    repo.ingest("t", pa.table({"id": list(range(40)), "x": x}), key="id")
    clf = LogisticRegression().fit(pa.table({"x": x}).to_pandas(), np.where(x > 0, "p", "n"))
    first = repo.models.record("m", "t", model=clf, code_version="v1", metrics={"acc": 1.0})
    second = repo.models.record("m", "t", features=["x"])
    assert (first.version, second.version) == (1, 2)
    assert repo.models.get("m", version=1) == first
    assert first.features == ("x",) and first.classes == ("n", "p")
    assert first.artifact is not None and first.artifact.size > 0
    assert repo.models.load("m", version=1).predict_proba(
        pa.table({"x": [0.5]}).to_pandas()
    ).shape == (1, 2)
    made = repo.models.predict("m", "t", version=1)
    assert repo.models.predictions("m", "t", version=1).keys == tuple(sorted(made.keys))
    with pytest.raises(tillage.NoPredictionsError):
        repo.models.predictions("m", "t")  # version 2 has none
