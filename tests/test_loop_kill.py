"""A loop killed at any point resumes without losing or double-counting a label.

A child process runs a loop with one method of tillage wrapped so that the child
kills itself (SIGKILL) right before or right after its n-th call: a named point
such as "after the select step queued its batch" or "inside the annotation
submission, once its commit landed". A fresh process then resumes the run to the
end. The label set must hold exactly the labels the loop spent, each record
annotated once, one selection a round, and an improve loop the same decisions as
a run that was never killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage

pytestmark = pytest.mark.slow

CHILD = r"""
import importlib, json, os, signal, sys
import tillage

path, loop, params, point = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
if point != "none":
    where, when, nth = point.split(":")
    module, cls, attr = where.rsplit(".", 2)
    owner = getattr(importlib.import_module(module), cls)
    real = getattr(owner, attr)
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        due = calls["n"] == int(nth)
        if due and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(*args, **kwargs)
        if due and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    setattr(owner, attr, wrapped)
repo = tillage.open(path)
run = tillage.run(repo, getattr(tillage, loop), params)
print(json.dumps({"status": run.status, "error": run.error}))
"""

RESUME = r"""
import json, sys
import tillage

repo = tillage.open(sys.argv[1])
[run] = tillage.Runs(repo).list(pipeline=sys.argv[2])
done = tillage.Runs(repo).resume(run.id)
print(json.dumps({"status": done.status, "error": done.error, "run": done.id}))
"""

TRAIN = (
    "from sklearn.linear_model import LogisticRegression\n"
    "def train(X, y):\n"
    "    return LogisticRegression().fit(X, y)\n"
)


def _points(n: int, seed: int, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2))
    side = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "right", "left")
    return pa.table({"id": list(range(start, start + n)), "x": x[:, 0], "y": x[:, 1], "side": side})


def _project(path: Path, noisy: bool) -> dict[str, Any]:
    """A pool of 200 points, held-out points, gold answers, a label set and a task.

    Without ``noisy``: 10 seed labels (active learning). With it: every record
    labelled, a third of the "right" ones as "left" (relabelling)."""
    repo = tillage.init(path)
    pool = _points(200, 1)
    repo.ingest("pool", pool.drop_columns(["side"]), key="id")
    repo.ingest("gold", pool.select(["id", "side"]), key="id")
    repo.ingest("heldout", _points(200, 2, start=10_000), key="id")
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "side.yaml").write_text(
        yaml.safe_dump({"name": "side", "versions": [{"classes": {"left": "", "right": ""}}]})
    )
    (repo.path / "tasks").mkdir()
    (repo.path / "tasks" / "sides.yaml").write_text(
        yaml.safe_dump({"labelset": "sides", "versions": [{"overlap": 1}]})
    )
    repo.labels.create("sides", records="pool", taxonomy="side")
    ids = pool.column("id").to_pylist()
    side = np.array(pool.column("side").to_pylist())
    if noisy:
        flip = (side == "right") & (np.random.default_rng(3).random(len(side)) < 0.35)
        side[flip] = "left"
        repo.labels.add("sides", ids, side.tolist(), source="import")
    else:
        repo.labels.add("sides", ids[:10], side[:10].tolist(), source="seed")
    (repo.path / "train.py").write_text(TRAIN)
    common = {
        "dataset": "pool",
        "labelset": "sides",
        "task": "sides",
        "model": "clf",
        "train": f"{repo.path / 'train.py'}:train",
        "features": ["x", "y"],
        "evaluation": {"dataset": "heldout", "label": "side"},
        "batch": 20,
        "simulate": {"dataset": "gold", "label": "side"},
    }
    repo.close()
    if noisy:
        return {**common, "rounds": 2, "min_gain": 0.0}
    return {**common, "strategy": "margin", "budget": 50}


def _child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _run_killed(path: Path, loop: str, params: dict[str, Any], point: str) -> dict[str, Any]:
    """Run ``loop`` in a child killed at ``point``, then resume it in a fresh process."""
    first = _child(CHILD, str(path), loop, json.dumps(params), point)
    if point != "none":
        assert first.returncode == -signal.SIGKILL, (point, first.stdout, first.stderr)
        resumed = _child(RESUME, str(path), loop)
        assert resumed.returncode == 0, resumed.stderr
        out: dict[str, Any] = json.loads(resumed.stdout.strip().splitlines()[-1])
    else:
        assert first.returncode == 0, first.stderr
        out = json.loads(first.stdout.strip().splitlines()[-1])
    assert out["status"] == "done", out
    return out


def _annotated_once(repo: tillage.Repo) -> Counter[str]:
    events = repo.labels.sets().events("sides").to_pylist()
    per_record = Counter(r["record_id"] for r in events if r["kind"] == "annotator")
    assert per_record and max(per_record.values()) == 1, per_record.most_common(3)
    return per_record


AL_POINTS = [
    "tillage.api.selection.Selections.apply:after:1",  # the select step queued its batch
    "tillage.api.selection.Selections.select:after:2",  # round 1 selected, nothing queued
    "tillage.labels.annotation.Annotation._commit:before:1",  # the annotation commit not yet made
    "tillage.labels.annotation.Annotation.submit_many:after:2",  # inside it, committed
    "tillage.labels.sets.LabelSets.aggregate_annotations:after:1",  # after aggregate
    "tillage.api.models.Models.record:after:2",  # round 1's model recorded, not returned
]


@pytest.mark.parametrize("point", AL_POINTS)
def test_active_learning_killed_at_a_point_resumes_without_losing_a_label(
    tmp_path: Path, point: str
) -> None:
    params = _project(tmp_path / "proj", noisy=False)
    _run_killed(tmp_path / "proj", "active_learning", params, point)
    repo = tillage.open(tmp_path / "proj")
    [run] = tillage.Runs(repo).list(pipeline="active_learning")
    result = tillage.Runs(repo).show(run.id).result
    assert [p["labels"] for p in result["points"]] == [10, 30, 50]
    current = repo.labels.current("sides").column("record_id").to_pylist()
    assert len(current) == len(set(current)) == 50  # the labels spent, none twice
    assert len(_annotated_once(repo)) == 40  # each selected record annotated once
    assert len(repo.selection.list("pool")) == 2  # one batch a round, never a second
    assert repo.annotation.progress("sides").queued == 40
    repo.close()


IMPROVE_POINTS = [
    "tillage.api.selection.Selections.select:after:1",  # selected, not yet queued
    "tillage.api.selection.Selections.apply:after:1",  # queued on the round's branch
    "tillage.labels.annotation.Annotation.submit_many:after:1",  # answers committed
    "tillage.labels.sets.LabelSets.aggregate_annotations:after:2",  # round 1 aggregated
    "tillage.api.refs.Refs.merge:after:1",  # round 0 merged, the decision not stored
]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The decisions of a relabel loop that is never killed."""
    path = tmp_path_factory.mktemp("straight") / "proj"
    params = _project(path, noisy=True)
    _run_killed(path, "relabel_errors", params, "none")
    repo = tillage.open(path)
    [run] = tillage.Runs(repo).list(pipeline="relabel_errors")
    decisions: list[dict[str, Any]] = tillage.Runs(repo).show(run.id).result["decisions"]
    repo.close()
    assert [d["merged"] for d in decisions] == [True, True], decisions
    return decisions


@pytest.mark.parametrize("point", IMPROVE_POINTS)
def test_an_improve_loop_killed_at_a_point_resumes_to_the_same_decisions(
    tmp_path: Path, point: str, straight: list[dict[str, Any]]
) -> None:
    params = _project(tmp_path / "proj", noisy=True)
    _run_killed(tmp_path / "proj", "relabel_errors", params, point)
    repo = tillage.open(tmp_path / "proj")
    [run] = tillage.Runs(repo).list(pipeline="relabel_errors")
    decisions = tillage.Runs(repo).show(run.id).result["decisions"]
    same = ("round", "records", "before", "after", "merged")
    assert [{k: d[k] for k in same} for d in decisions] == [
        {k: d[k] for k in same} for d in straight
    ]
    assert [d.to_dict() for d in tillage.loop_decisions(repo, run.id).decisions] == decisions
    current = repo.labels.current("sides").column("record_id").to_pylist()
    assert len(current) == len(set(current)) == 200  # relabelled, never a label added
    assert len(_annotated_once(repo)) == 40
    assert len(repo.selection.list("pool")) == 2
    repo.close()
