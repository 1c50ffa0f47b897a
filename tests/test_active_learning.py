"""The active-learning loop as a durable run: rounds, stopping, people in the loop, resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
from tillage import Repo
from tillage.loops.active_learning import active_learning, learning_curve

TAXONOMY = {"name": "side", "versions": [{"classes": {"left": "", "right": ""}}]}
TRAIN = (
    "from sklearn.linear_model import LogisticRegression\n"
    "def train(X, y):\n"
    "    return LogisticRegression().fit(X, y)\n"
)


def points(n: int, seed: int, start: int = 0) -> pa.Table:
    """Two features; the class is which side of a line a point falls on (5% noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2))
    side = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "right", "left")
    flip = rng.random(n) < 0.05
    side[flip] = np.where(side[flip] == "right", "left", "right")
    return pa.table({"id": list(range(start, start + n)), "x": x[:, 0], "y": x[:, 1], "side": side})


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """A pool of 300 points with 10 seed labels, 200 held-out points, gold for the pool."""
    r = tillage.init(tmp_path / "proj")
    pool = points(300, 1)
    r.ingest("pool", pool.drop_columns(["side"]), key="id")
    r.ingest("gold", pool.select(["id", "side"]), key="id")
    r.ingest("heldout", points(200, 2, start=10_000), key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "side.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "sides.yaml").write_text(
        yaml.safe_dump({"labelset": "sides", "versions": [{"overlap": 1}]})
    )
    r.labels.create("sides", records="pool", taxonomy="side")
    seed = pool.slice(0, 10)
    r.labels.add(
        "sides", seed.column("id").to_pylist(), seed.column("side").to_pylist(), source="seed"
    )
    (r.path / "train.py").write_text(TRAIN)
    yield r
    r.close()


def params(repo: Repo, **more: object) -> dict[str, object]:
    return {
        "dataset": "pool",
        "labelset": "sides",
        "task": "sides",
        "model": "clf",
        "train": f"{repo.path / 'train.py'}:train",
        "features": ["x", "y"],
        "evaluation": {"dataset": "heldout", "label": "side"},
        "strategy": "random",
        "batch": 20,
        **more,
    }


def test_a_simulated_loop_runs_to_its_budget_and_keeps_its_curve(repo: Repo) -> None:
    sim = {"dataset": "gold", "label": "side", "accuracy": 1.0}
    run = tillage.run(repo, active_learning, params(repo, budget=70, simulate=sim, baseline=True))
    assert run.status == "done", run.error
    curve = run.result["points"]
    assert [p["labels"] for p in curve] == [10, 30, 50, 70]
    assert "budget" in run.result["stopped"]
    assert curve[-1]["metric"] > 0.8  # a line is easy to learn from 70 points
    assert all(p["baseline"] is not None for p in curve)
    assert curve[0]["baseline"] == curve[0]["metric"]  # round 0 trains on the seed alone
    # The curve is kept with the model versions the run recorded.
    kept = learning_curve(repo, run.id)
    assert [p.labels for p in kept.points] == [10, 30, 50, 70]
    assert kept.model == "clf" and kept.to_dict()["area"] > 0.5
    assert kept.labels_to_reach(0.0) == 10
    with pytest.raises(tillage.NoSuchRunError):
        learning_curve(repo, "nosuchrun")
    # A round killed after recording its model records it again on resume: the later counts.
    again = {"accuracy": 0.5, "labels": 30, "round": 1, "run": run.id}
    repo.models.record("clf", "pool", metrics=again)
    redone = learning_curve(repo, run.id).points
    assert [p.labels for p in redone] == [10, 30, 50, 70] and redone[1].metric == 0.5
    assert [m.version for m in repo.models.recorded("clf")] == [5, 4, 3, 2, 1]  # one redone
    # Every label the loop made is an annotation, then an aggregate, on the target branch.
    current = repo.labels.current("sides").to_pylist()
    assert len(current) == 70
    assert sum(1 for r in current if r["kind"] == "aggregate") == 60
    assert len(repo.selection.list("pool")) == 3


def test_people_answer_while_the_loop_waits_and_it_resumes_without_double_counting(
    repo: Repo,
) -> None:
    more = {"budget": 50, "strategy": "uncertain_diverse", "strategy_params": {"multiple": 3}}
    run = tillage.run(repo, active_learning, params(repo, **more))
    assert run.status == "waiting"
    assert run.waiting_on is not None and "0/20" in run.waiting_on["message"]
    gold = {r["id"]: r["side"] for r in repo.read("gold").to_pylist()}
    handed = repo.annotation.next("sides", "ann", n=50)
    assert len(handed) == 20
    repo.annotation.submit_many("sides", "ann", {h: gold[int(h)] for h in handed[:12]})
    again = tillage.Runs(repo).resume(run.id)
    assert again.status == "waiting"  # 12 of 20: still waiting
    repo.annotation.submit_many("sides", "ann", {h: gold[int(h)] for h in handed[12:]})
    again = tillage.Runs(repo).resume(run.id)
    assert again.status == "waiting" and "20/40" in again.waiting_on["message"]  # round 2
    handed = repo.annotation.next("sides", "ann", n=50)
    repo.annotation.submit_many("sides", "ann", {h: gold[int(h)] for h in handed})
    done = tillage.Runs(repo).resume(run.id)
    assert done.status == "done", done.error
    assert [p["labels"] for p in done.result["points"]] == [10, 30, 50]
    assert len(repo.labels.current("sides")) == 50


@pytest.mark.parametrize(
    ("more", "fragment"),
    [
        ({"batch": 0}, "batch size"),
        ({"budget": None}, "a way to stop"),
        ({"evaluation": {"dataset": "heldout"}}, "evaluation names"),
        ({"baseline": True}, "needs gold labels"),
        ({"simulate": {"dataset": "gold"}}, "simulate names"),
        ({"train": "nowhere.py"}, "FILE.py:NAME"),
        ({"features": ["x", "colour"]}, "colour"),
    ],
)
def test_a_loop_that_cannot_work_fails_with_a_clear_error(
    repo: Repo, more: dict[str, object], fragment: str
) -> None:
    run = tillage.run(repo, active_learning, params(repo, **more))
    assert run.status == "failed"
    assert run.error is not None and fragment in run.error
    assert repo.models.recorded("clf") == [] or "colour" in fragment


def test_loop_show_prints_the_curve_and_draws_it(repo: Repo, tmp_path: Path) -> None:
    from cli_runner import cli, cli_json

    sim = {"dataset": "gold", "label": "side"}
    run = tillage.run(repo, active_learning, params(repo, budget=50, simulate=sim, baseline=True))
    doc = cli_json("-C", repo.path, "loop", "show", run.id, "--plot", tmp_path / "curve.svg")
    assert [p["labels"] for p in doc["points"]] == [10, 30, 50]
    assert doc["model"] == "clf" and b"<svg" in (tmp_path / "curve.svg").read_bytes()[:2000]
    text = cli("-C", repo.path, "loop", "show", run.id).stdout
    assert "random" in text.splitlines()[0] and len(text.splitlines()) == 4
    error = cli_json("-C", repo.path, "loop", "show", "nosuchrun", code=1)
    assert error["error"]["code"] == "no_such_run"
    flow = tmp_path / "flow.py"
    flow.write_text("import tillage\n@tillage.pipeline\ndef noop() -> int:\n    return 1\n")
    other = tillage.run(repo, f"{flow}:noop")
    error = cli_json("-C", repo.path, "loop", "show", other.id, code=1)
    assert "not an active-learning loop" in error["error"]["message"]


def test_the_readme_loop_section_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's loop example, on 160 small tweets: it stops when the pool runs out."""
    from test_labels_readme import blocks, section

    rng = np.random.default_rng(0)
    words = {"android": ["crooked", "fake", "news", "sad"], "iphone": ["join", "tickets", "live"]}

    def tweets(n: int, start: int) -> pa.Table:
        source = rng.choice(["android", "iphone"], n)
        text = [" ".join(rng.choice(words[s], 4)) for s in source]
        return pa.table(
            {
                "id": [str(start + i) for i in range(n)],
                "text": text,
                "hour_et": rng.integers(0, 24, n),
                "source": source,
            }
        )

    pool, heldout = tweets(160, 0), tweets(60, 1000)
    monkeypatch.chdir(tmp_path)
    repo = tillage.init(tmp_path)
    repo.ingest("tweets", pool.drop_columns(["source"]), key="id")
    repo.ingest("tweets-heldout", heldout, key="id")
    repo.ingest("tweet-answers", pool.select(["id", "source"]), key="id")
    (tmp_path / "taxonomies").mkdir()
    (tmp_path / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "tweet-source.yaml").write_text(
        yaml.safe_dump({"labelset": "source", "versions": [{"overlap": 1}]})
    )
    repo.labels.create("source", records="tweets", taxonomy="source")
    repo.labels.add(
        "source", ["0", "1", "2", "3"], pool.column("source").to_pylist()[:4], source="seed"
    )
    (tmp_path / "train.py").write_text(
        "from sklearn.compose import make_column_transformer\n"
        "from sklearn.feature_extraction.text import TfidfVectorizer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "def train(X, y):\n"
        "    words = make_column_transformer((TfidfVectorizer(), 'text'))\n"
        "    return make_pipeline(words, LogisticRegression()).fit(X, y)\n"
    )
    [python] = [
        body
        for lang, body in blocks(section("The loop: the model decides what to label next"))
        if lang == "python"
    ]
    scope: dict[str, object] = {"repo": repo, "tillage": tillage}
    exec(compile(python, "README.md", "exec"), scope)
    run = scope["run"]
    assert run.status == "done", run.error  # type: ignore[attr-defined]
    assert "pool is empty" in run.result["stopped"]  # type: ignore[attr-defined]
    assert len(repo.labels.current("source")) == 160
    repo.close()


def test_a_round_that_fails_after_queueing_its_batch_does_not_queue_another(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The select step stops after its batch is queued (as a kill would); on resume the
    round queues that same batch, not a second one."""
    from tillage.labels.annotation import Annotation

    real = Annotation.progress
    calls = {"n": 0}

    def fails_once(self: Annotation, task: str, spec_version: int | None = None) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the process was killed here")
        return real(self, task, spec_version)

    monkeypatch.setattr(Annotation, "progress", fails_once)
    run = tillage.run(repo, active_learning, params(repo, budget=50))
    assert run.status == "failed" and "killed here" in (run.error or "")
    resumed = tillage.Runs(repo).resume(run.id)
    assert resumed.status == "waiting", resumed.error
    assert repo.annotation.progress("sides").queued == 20  # one batch, not two
    assert len(repo.selection.list("pool")) == 1
