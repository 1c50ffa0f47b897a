"""The worked example in plain steps (examples/active_learning_steps.py) runs, waits for
people, and draws the same learning curve as the ready-made `tillage.active_learning`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

import tillage
from tillage import Repo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "active_learning_steps.py"
TRAIN = (
    "from sklearn.linear_model import LogisticRegression\n"
    "def train(X, y):\n"
    "    return LogisticRegression().fit(X, y)\n"
)


def _project(path: Path) -> Repo:
    """300 points to label (10 labelled), 200 held out, gold answers for the pool."""
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (500, 2))
    side = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "right", "left")
    table = pa.table({"id": list(range(500)), "x": x[:, 0], "y": x[:, 1], "side": side})
    repo = tillage.init(path)
    repo.ingest("pool", table.slice(0, 300).drop_columns(["side"]), key="id")
    repo.ingest("gold", table.slice(0, 300).select(["id", "side"]), key="id")
    repo.ingest("heldout", table.slice(300), key="id")
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "side.yaml").write_text(
        yaml.safe_dump({"name": "side", "versions": [{"classes": {"left": "", "right": ""}}]})
    )
    (repo.path / "tasks").mkdir()
    (repo.path / "tasks" / "sides.yaml").write_text(
        yaml.safe_dump({"labelset": "sides", "versions": [{"overlap": 1}]})
    )
    repo.labels.create("sides", records="pool", taxonomy="side")
    repo.labels.add("sides", list(range(10)), side[:10].tolist(), source="seed")
    (repo.path / "train.py").write_text(TRAIN)
    return repo


COMMON = {
    "dataset": "pool",
    "labelset": "sides",
    "task": "sides",
    "model": "clf",
    "features": ["x", "y"],
    "evaluation": {"dataset": "heldout", "label": "side"},
    "strategy": "margin",
    "batch": 20,
    "budget": 50,
}


def test_the_plain_steps_example_matches_the_ready_made_loop(tmp_path: Path) -> None:
    repo = _project(tmp_path / "plain")
    gold = {str(r["id"]): r["side"] for r in repo.read("gold").to_pylist()}
    run = tillage.run(repo, f"{EXAMPLE}:label_loop", COMMON)
    for _ in range(2):  # people answer each round's batch; the run resumes after each
        assert run.status == "waiting", run.error
        handed = repo.annotation.next("sides", "ann", n=100)
        repo.annotation.submit_many("sides", "ann", {h: gold[h] for h in handed})
        run = tillage.Runs(repo).resume(run.id)
    assert run.status == "done", run.error
    plain = [(p["labels"], p["accuracy"]) for p in run.result]
    assert [labels for labels, _ in plain] == [10, 30, 50]
    assert len(repo.labels.current("sides")) == 50
    repo.close()

    ready = _project(tmp_path / "ready")
    params = {
        **COMMON,
        "train": f"{ready.path / 'train.py'}:train",
        "simulate": {"dataset": "gold", "label": "side"},
    }
    done = tillage.run(ready, tillage.active_learning, params)
    assert done.status == "done", done.error
    assert [(p["labels"], p["metric"]) for p in done.result["points"]] == plain
    ready.close()
