"""The improve loops: act on a branch, merge it only when the evaluation set says the model
improved, and record each round's decision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
from test_generate import Uniform  # a generator the fidelity gate refuses
from tillage import Repo
from tillage.loops.improve import (
    generate_for_weakest_slice,
    loop_decisions,
    relabel_errors,
    remove_low_value,
)

TAXONOMY = {"name": "side", "versions": [{"classes": {"left": "", "right": ""}}]}
TRAIN = (
    "from sklearn.linear_model import LogisticRegression\n"
    "def train(X, y):\n"
    "    return LogisticRegression().fit(X, y)\n"
)


def points(n: int, seed: int, start: int = 0, bend: bool = False) -> pa.Table:
    """Two features; the class is which side of a line a point falls on. With ``bend``,
    points with x >= 1 have the other class: a slice a line cannot learn."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2))
    right = x[:, 0] + 0.5 * x[:, 1] > 0
    if bend:
        right = np.where(x[:, 0] >= 1, ~right, right)
    side = np.where(right, "right", "left")
    return pa.table({"id": list(range(start, start + n)), "x": x[:, 0], "y": x[:, 1], "side": side})


def noisy(table: pa.Table, share: float, seed: int) -> list[str]:
    """The labels of ``table`` with ``share`` of the "right" ones turned "left": noise that
    moves the line a model learns."""
    rng = np.random.default_rng(seed)
    side = np.array(table.column("side").to_pylist())
    flip = (side == "right") & (rng.random(len(side)) < share)
    side[flip] = "left"
    return side.tolist()


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """300 training points, 300 held-out points, gold for the training points."""
    r = tillage.init(tmp_path / "proj")
    pool = points(300, 1)
    r.ingest("pool", pool, key="id")
    r.ingest("gold", pool.select(["id", "side"]), key="id")
    r.ingest("heldout", points(300, 2, start=10_000), key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "side.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "sides.yaml").write_text(
        yaml.safe_dump({"labelset": "sides", "versions": [{"overlap": 1}]})
    )
    r.labels.create("sides", records="pool", taxonomy="side")
    (r.path / "train.py").write_text(TRAIN)
    yield r
    r.close()


def params(repo: Repo, **more: object) -> dict[str, object]:
    return {
        "dataset": "pool",
        "model": "clf",
        "train": f"{repo.path / 'train.py'}:train",
        "features": ["x", "y"],
        "evaluation": {"dataset": "heldout", "label": "side"},
        **more,
    }


def test_relabelling_injected_noise_with_a_simulated_annotator_merges(repo: Repo) -> None:
    pool = repo.read("pool")
    ids = pool.column("id").to_pylist()
    given = noisy(pool, 0.6, seed=3)
    repo.labels.add("sides", ids, given, source="import")
    wrong = sum(g != t for g, t in zip(given, pool.column("side").to_pylist(), strict=True))
    main_before = repo.refs.resolve("main")
    more = {
        "labelset": "sides",
        "task": "sides",
        "batch": 60,
        "rounds": 1,
        "simulate": {"dataset": "gold", "label": "side"},
    }
    run = tillage.run(repo, relabel_errors, params(repo, **more))
    assert run.status == "done", run.error
    [d] = run.result["decisions"]
    assert d["merged"] and d["after"] > d["before"] + d["min_gain"], d
    assert d["action"] == "relabel" and d["records"] == 60 and "rose" in d["why"]
    assert repo.refs.resolve("main") != main_before
    # The relabelled records' labels are now on main: fewer wrong labels, none lost.
    current = {r["record_id"]: r["label"] for r in repo.labels.current("sides").to_pylist()}
    gold = {str(r["id"]): r["side"] for r in repo.read("gold").to_pylist()}
    assert len(current) == 300
    assert sum(current[i] != gold[i] for i in gold) < wrong
    # The decision is what `loop show` shows, and the models are recorded per phase.
    shown = loop_decisions(repo, run.id)
    assert [x.to_dict() for x in shown.decisions] == run.result["decisions"]
    phases = [m.metrics["phase"] for m in repo.models.recorded("clf")]
    assert sorted(phases) == ["after", "before"]


def test_a_remove_loop_that_does_not_help_is_left_unmerged(repo: Repo) -> None:
    """On clean labels, removing the lowest-valued records cannot gain two points."""
    pool = repo.read("pool")
    repo.labels.add(
        "sides", pool.column("id").to_pylist(), pool.column("side").to_pylist(), source="import"
    )
    main_before = repo.refs.resolve("main")
    rows_before = repo.read("pool").num_rows
    more = {"labelset": "sides", "batch": 30, "rounds": 3, "min_gain": 0.02}
    run = tillage.run(repo, remove_low_value, params(repo, **more))
    assert run.status == "done", run.error
    [d] = run.result["decisions"]  # the first round that does not merge ends the loop
    assert not d["merged"] and d["after"] is not None
    assert d["after"] - d["before"] <= 0.02 and "left unmerged" in d["why"]
    assert "did not improve" in run.result["stopped"]
    # The removal is on its branch, and only there.
    assert repo.read("pool").num_rows == rows_before
    assert repo.read("pool", d["branch"]).num_rows == rows_before - 30
    assert d["branch"] in repo.refs.branches()
    pins = repo.refs.commit("main").pins
    assert pins["pool"] == repo.refs.commit(main_before).pins["pool"]


def test_a_generated_batch_the_gate_refuses_is_a_recorded_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillage.selection import generate

    monkeypatch.setitem(generate.GENERATORS, "uniform", Uniform)
    repo = tillage.init(tmp_path / "bent")
    repo.ingest("pool", points(400, 1, bend=True), key="id")
    repo.ingest("heldout", points(400, 2, start=10_000, bend=True), key="id")
    (repo.path / "train.py").write_text(TRAIN)
    main_before = repo.refs.resolve("main")
    more = {"label": "side", "batch": 40, "n": 200, "generator": "uniform", "rounds": 2}
    run = tillage.run(repo, generate_for_weakest_slice, params(repo, **more))
    assert run.status == "done", run.error
    [d] = run.result["decisions"]
    assert not d["merged"] and d["branch"] is None and d["after"] is None
    assert "refused" in d["why"] and "Nothing was written" in d["why"]
    assert d["selection"] is not None and d["records"] > 0
    # The selection is of the weakest slice; no branch and no generated record remain.
    assert repo.refs.resolve("main") != main_before  # the selection and predictions
    assert repo.read("pool").num_rows == 400
    assert not [b for b in repo.refs.branches() if b.startswith("loop/")]
    assert "x" in repo.selection.get(d["selection"]).where
    # A generator that passes the gate: its records are on the round's branch, with an
    # after to judge them by, and on main only if they helped.
    more = {**more, "generator": "gaussian-copula"}
    run = tillage.run(repo, generate_for_weakest_slice, params(repo, **more))
    assert run.status == "done", run.error
    d = run.result["decisions"][0]
    assert d["after"] is not None and d["merged"] == (d["after"] - d["before"] > d["min_gain"])
    assert repo.read("pool", d["branch"]).num_rows == 600
    assert repo.read("pool").num_rows == (600 if d["merged"] else 400)
    made = repo.selection.derived("pool")
    assert len(made) == 200 and {m["selection_id"] for m in made} == {d["selection"]}
    repo.close()


def test_loop_show_prints_an_improve_loops_decisions(repo: Repo) -> None:
    from cli_runner import cli, cli_json

    pool = repo.read("pool")
    repo.labels.add(
        "sides", pool.column("id").to_pylist(), pool.column("side").to_pylist(), source="import"
    )
    more = {"labelset": "sides", "batch": 30, "rounds": 1, "min_gain": 0.02}
    run = tillage.run(repo, remove_low_value, params(repo, **more))
    doc = cli_json("-C", repo.path, "loop", "show", run.id)
    assert doc["workflow"] == "remove_low_value" and len(doc["decisions"]) == 1
    assert doc["decisions"][0]["merged"] is False
    text = cli("-C", repo.path, "loop", "show", run.id).stdout
    assert "left unmerged" in text and "remove" in text
    flow = repo.path / "flow.py"
    flow.write_text("import tillage\n@tillage.pipeline\ndef noop() -> int:\n    return 1\n")
    with pytest.raises(tillage.InputError, match="not an improve loop"):
        loop_decisions(repo, tillage.run(repo, f"{flow}:noop").id)


@pytest.mark.parametrize(
    ("pipe", "more", "fragment"),
    [
        (remove_low_value, {"batch": 0, "labelset": "sides"}, "batch size"),
        (remove_low_value, {"rounds": 0, "labelset": "sides"}, "rounds"),
        (remove_low_value, {"min_gain": -1.0, "labelset": "sides"}, "min_gain"),
        (remove_low_value, {}, "where the training labels are"),
        (remove_low_value, {"labelset": "sides", "label": "side"}, "where the training labels"),
        (remove_low_value, {"labelset": "sides", "features": []}, "feature columns"),
        (remove_low_value, {"label": "colour"}, "label column 'colour'"),
    ],
)
def test_an_improve_loop_that_cannot_work_fails_with_a_clear_error(
    repo: Repo, pipe: object, more: dict[str, object], fragment: str
) -> None:
    main_before = repo.refs.resolve("main")
    run = tillage.run(repo, pipe, params(repo, **more))  # type: ignore[arg-type]
    assert run.status == "failed"
    assert run.error is not None and fragment in run.error
    assert repo.refs.resolve("main") == main_before


def test_the_readme_improve_section_runs_as_written(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_labels_readme import blocks, section

    pool = repo.read("pool")
    repo.labels.add("sides", pool.column("id").to_pylist(), noisy(pool, 0.3, 5), source="import")
    monkeypatch.chdir(repo.path)
    [python] = [
        body
        for lang, body in blocks(
            section("Improve loops: change the data on a branch, merge only if the model improves")
        )
        if lang == "python"
    ]
    scope: dict[str, object] = {"repo": repo, "tillage": tillage}
    exec(compile(python, "README.md", "exec"), scope)
    run = scope["run"]
    assert run.status == "done", run.error  # type: ignore[attr-defined]
    assert run.result["decisions"]  # type: ignore[attr-defined]


def test_a_round_killed_inside_its_action_leaves_no_branch_behind_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action fails after its branch was made (as a kill would); on resume the gate
    refuses the batch, and no branch of the round is left."""
    from tillage.selection import generate

    monkeypatch.setitem(generate.GENERATORS, "uniform", Uniform)
    repo = tillage.init(tmp_path / "bent")
    repo.ingest("pool", points(400, 1, bend=True), key="id")
    repo.ingest("heldout", points(400, 2, start=10_000, bend=True), key="id")
    (repo.path / "train.py").write_text(TRAIN)
    real = generate.generate

    def killed(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the process was killed here")

    monkeypatch.setattr(generate, "generate", killed)
    more = {"label": "side", "batch": 40, "n": 200, "generator": "uniform", "rounds": 1}
    run = tillage.run(repo, generate_for_weakest_slice, params(repo, **more))
    assert run.status == "failed" and "killed here" in (run.error or "")
    # An exception takes the action's new branch with it; a kill leaves it, empty.
    assert not [b for b in repo.refs.branches() if b.startswith("loop/")]
    repo.refs.create_branch(f"loop/{run.id}/0")
    monkeypatch.setattr(generate, "generate", real)
    done = tillage.Runs(repo).resume(run.id)
    assert done.status == "done", done.error
    [d] = done.result["decisions"]
    assert "refused" in d["why"] and d["branch"] is None
    assert not [b for b in repo.refs.branches() if b.startswith("loop/")]
    assert len(repo.selection.list("pool")) == 1
    repo.close()


def test_a_remove_round_killed_after_its_commit_removes_once(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action step stops right after its commit (as a kill would); on resume the round
    finds the removal it made and decides on it, never removing a second batch."""
    from tillage.api.selection import Selections

    pool = repo.read("pool")
    repo.labels.add("sides", pool.column("id").to_pylist(), noisy(pool, 0.3, 5), source="import")
    real = Selections.apply

    def killed_after(self: Selections, *args: object, **kwargs: object) -> object:
        real(self, *args, **kwargs)
        raise RuntimeError("the process was killed here")

    monkeypatch.setattr(Selections, "apply", killed_after)
    more = {"labelset": "sides", "batch": 30, "rounds": 1}
    run = tillage.run(repo, remove_low_value, params(repo, **more))
    assert run.status == "failed" and "killed here" in (run.error or "")
    monkeypatch.setattr(Selections, "apply", real)
    done = tillage.Runs(repo).resume(run.id)
    assert done.status == "done", done.error
    [d] = done.result["decisions"]
    assert [a["action"] for a in repo.selection.actions(d["selection"])] == ["remove"]
    assert repo.read("pool", d["branch"]).num_rows == 270
    assert len(repo.selection.list("pool")) == 1
