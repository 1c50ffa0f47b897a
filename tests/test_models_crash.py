"""Model state under SIGKILL: recording a model version and predicting never land by halves.

A child process records version after version of a model (each with its skops
file) and predicts every record of a 100,000-row dataset with it (one commit
each), printing a line before each step. The parent kills it with SIGKILL at
random moments. After each kill the repository must open, every recorded
version's file must load with its recorded hash, and each version's stored
predictions must be either absent or complete, with probabilities that are
that version's. The next record and predict must succeed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import tillage

pytestmark = pytest.mark.slow

ROWS = 100_000
KILLS = 6

CHILD = r"""
import sys
import numpy as np
import pyarrow as pa
from sklearn.linear_model import LogisticRegression
import tillage

repo = tillage.open(sys.argv[1])
x = repo.read("pts", columns=["x"]).to_pandas()
print("ready", flush=True)
for i in range(1000):
    # version v predicts the class "yes" where x > threshold v / 10: its predictions say which
    v = len(repo.models.recorded("clf")) + 1
    y = np.where(x["x"].to_numpy() > v / 10, "yes", "no")
    print(f"record {v}", flush=True)
    repo.models.record("clf", "pts", model=LogisticRegression().fit(x, y))
    print(f"predict {v}", flush=True)
    repo.models.predict("clf", "pts", version=v, batch_size=20_000)
print("done", flush=True)
"""


def check(repo: tillage.Repo, x: np.ndarray) -> int:
    """Every version loads, and its predictions are absent or whole; returns how many are whole."""
    whole = 0
    for m in repo.models.recorded("clf"):
        model = repo.models.load("clf", version=m.version)
        try:
            stored = repo.models.predictions("clf", "pts", version=m.version)
        except tillage.NoPredictionsError:
            continue
        assert len(stored) == ROWS, f"version {m.version}: {len(stored)} of {ROWS} predictions"
        order = np.array(stored.keys, dtype=np.int64)
        frame = pa.table({"x": x[order]}).to_pandas()
        np.testing.assert_allclose(stored.proba, model.predict_proba(frame), rtol=1e-5, atol=1e-6)
        whole += 1
    return whole


def test_killed_record_and_predict_leave_whole_versions_and_predictions(tmp_path: Path) -> None:
    path = tmp_path / "proj"
    x = np.random.default_rng(0).normal(size=ROWS)
    with tillage.init(path) as repo:
        repo.ingest("pts", pa.table({"id": np.arange(ROWS), "x": x}), key="id")
    rng = random.Random(7)
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        wanted = rng.choice(["record", "predict"])
        for line in child.stdout:  # the kill lands inside the chosen kind of step
            if line.startswith(wanted):
                break
        time.sleep(rng.uniform(0, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        with tillage.open(path) as repo:
            check(repo, x)
    with tillage.open(path) as repo:
        before = check(repo, x)
        fit = repo.models.load("clf")
        m = repo.models.record("clf", "pts", model=fit)
        repo.models.predict("clf", "pts", version=m.version)
        assert check(repo, x) == before + 1
        assert not repo.datasets.verify().problems
