"""Concurrent writers: real processes and threads with their own `Repo` handles.

Writers to one repository take turns through a file lock (README, "How it
works"), so concurrent ingests into one branch must all land, one after the
other, in one linear history, and no update may be lost. A writer that loses
a race may only fail with `ConcurrentUpdateError` or `LockTimeoutError`, and
then its data must be absent; the file lock means that should not happen at
all here, and the tests say so.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import tillage
from tillage import Repo

pytestmark = pytest.mark.slow

WORKER = r"""
import json, os, sys, time
import pyarrow as pa
import tillage

path, branch, go = sys.argv[1], sys.argv[4], sys.argv[5]
worker, commits = int(sys.argv[2]), int(sys.argv[3])
repo = tillage.open(path)
while not os.path.exists(go):  # start together
    time.sleep(0.001)
for j in range(commits):
    if j % 3 == 2:  # update this writer's earlier keys
        keys = [worker * 1000 + (j - 1) * 10 + i for i in range(10)]
        op, v = "upsert", float(100 + j)
    else:
        keys = [worker * 1000 + j * 10 + i for i in range(10)]
        op, v = "append", float(worker)
    batch = pa.table({"id": keys, "v": [v] * len(keys), "w": [worker] * len(keys)})
    try:
        c = repo.ingest("t", batch, key="id", mode=op, branch=branch)
        out = {"ok": c.id, "op": op, "keys": keys, "v": v}
    except tillage.TillageError as e:
        out = {"error": type(e).__name__, "message": str(e), "op": op, "keys": keys, "v": v}
    print(json.dumps(out), flush=True)
"""

GC_LOOP = r"""
import os, sys, time
import tillage

path, go, stop = sys.argv[1], sys.argv[2], sys.argv[3]
repo = tillage.open(path)
while not os.path.exists(go):
    time.sleep(0.001)
runs = 0
while not os.path.exists(stop) or runs == 0:
    repo.datasets.gc()
    runs += 1
print(runs, flush=True)
"""


def run_together(
    tmp_path: Path, scripts: list[list[str]], env: dict[str, str] | None = None
) -> list[str]:
    """Start the scripts as processes, release them at once, return their stdout."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path), **(env or {})},
        )
        for args in scripts
    ]
    time.sleep(0.05)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def check_linear(repo: Repo, branch: str) -> list[tillage.Commit]:
    """The branch's history is one chain: every commit has one parent, the next in the log."""
    log = repo.refs.log(branch)
    for newer, older in itertools.pairwise(log):
        assert newer.parents == (older.id,)
    assert log[-1].parents == ()
    return log


def writer_results(
    outs: list[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    results = [json.loads(line) for out in outs for line in out.splitlines()]
    ok = [r for r in results if "ok" in r]
    failed = [r for r in results if "error" in r]
    return ok, failed


def test_writers_on_one_branch_all_land(tmp_path: Path) -> None:
    path = tmp_path / "proj"
    tillage.init(path)  # "t" does not exist: the first writer creates it
    writers, commits = 3, 6
    scripts = [
        [WORKER, str(path), str(w), str(commits), "main", str(tmp_path / "go")]
        for w in range(writers)
    ]
    outs = run_together(tmp_path, scripts)
    ok, failed = writer_results(outs)
    assert len(ok) + len(failed) == writers * commits
    repo = tillage.open(path)
    log = check_linear(repo, "main")
    table = repo.read("t")
    got = {r["id"]: r for r in table.to_pylist()}
    # A loser may only fail clearly, and then its write is absent.
    for r in failed:
        assert r["error"] in ("ConcurrentUpdateError", "LockTimeoutError"), r
        assert "again" in r["message"], r
        if r["op"] == "append":
            assert not set(r["keys"]) & set(got), r
    # Every commit that was reported landed, with all its rows.
    assert {r["ok"] for r in ok} == {c.id for c in log}
    expected: dict[int, float] = {}
    for r in ok:  # each writer's results are in its own order
        for k in r["keys"]:
            expected[k] = r["v"]
    assert {k: got[k]["v"] for k in expected} == expected
    assert table.num_rows == len(expected) == len(set(table.column("id").to_pylist()))
    # The file lock makes writers take turns: none lost.
    assert failed == [], failed
    assert len(log) == writers * commits
    assert table.num_rows == writers * (commits - commits // 3) * 10
    # Each commit's pinned version reads back whole.
    for c in log:
        assert repo.read("t", c.id).num_rows == c.pins["t"].num_rows


def test_writers_on_different_branches_and_gc_at_once(tmp_path: Path) -> None:
    path = tmp_path / "proj"
    repo = tillage.init(path)
    repo.ingest("t", pa.table({"id": [-1], "v": [0.0], "w": [-1]}), key="id")
    repo.create_branch("a")
    repo.create_branch("b")
    # Something for gc to collect while the writers run.
    repo.create_branch("junk")
    repo.ingest("t", pa.table({"id": [-2], "v": [0.0], "w": [-1]}), branch="junk")
    repo.refs.delete_branch("junk")
    go, stop = str(tmp_path / "go"), str(tmp_path / "stop")
    commits = 5
    scripts = [
        [WORKER, str(path), "1", str(commits), "a", go],
        [WORKER, str(path), "2", str(commits), "b", go],
        [WORKER, str(path), "3", str(commits), "main", go],
    ]
    gc = subprocess.Popen(
        [sys.executable, "-c", GC_LOOP, str(path), go, stop],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        outs = run_together(tmp_path, scripts)
    finally:
        Path(stop).touch()
        gc_out, gc_err = gc.communicate(timeout=120)
    assert gc.returncode == 0, gc_err
    assert int(gc_out) >= 1
    ok, failed = writer_results(outs)
    assert failed == []
    repo = tillage.open(path)
    for branch, worker in (("a", 1), ("b", 2), ("main", 3)):
        log = check_linear(repo, branch)
        assert len(log) == commits + 1
        ids = set(repo.read("t", branch).column("id").to_pylist())
        mine = {k for r in ok if r["keys"][0] // 1000 == worker for k in r["keys"]}
        assert ids == mine | {-1}
        for c in log:  # gc kept everything the branches reach
            assert repo.read("t", c.id).num_rows == c.pins["t"].num_rows
    assert repo.datasets.gc().commits_removed == 0


def race(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads released at the same moment; re-raise the first error."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = actions[i]()
        except BaseException as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_merge_and_ingest_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    path = tmp_path / "proj"
    setup = tillage.init(path)
    setup.ingest("t", pa.table({"id": list(range(10)), "v": [0.0] * 10}), key="id")
    a, b = tillage.open(path), tillage.open(path)
    kinds = set()
    for i in range(6):
        branch = f"dev{i}"
        setup.create_branch(branch)
        setup.ingest(
            "t", pa.table({"id": [i], "v": [float(100 + i)]}), mode="upsert", branch=branch
        )
        if i % 2:  # main moves too: the merge is three-way
            setup.ingest("t", pa.table({"id": [50 + i], "v": [1.0]}))
        head_before = setup.refs.resolve("main")
        dev_head = setup.refs.resolve(branch)
        merged, ingested = race(
            lambda br=branch: a.merge(br, into="main"),  # type: ignore[misc]
            lambda i=i: b.ingest("t", pa.table({"id": [100 + i], "v": [2.0]})),  # type: ignore[misc]
        )
        assert isinstance(merged, tillage.MergeResult), merged
        assert isinstance(ingested, tillage.Commit), ingested
        kinds.add(merged.kind)
        rows = {r["id"]: r["v"] for r in setup.read("t").to_pylist()}
        assert rows[i] == 100 + i  # the merge landed
        assert rows[100 + i] == 2.0  # and so did the ingest
        for j in range(i):
            assert rows[j] == 100 + j and rows[100 + j] == 2.0  # earlier rounds too
        log = {c.id for c in setup.refs.log()}
        assert {head_before, dev_head, ingested.id} <= log
        if merged.kind != "fast-forward":
            assert merged.commit in log
        head = setup.refs.commit()
        assert setup.read("t").num_rows == head.pins["t"].num_rows
    # Both orders happened across the rounds, or at least the merge did real work.
    assert kinds <= {"fast-forward", "merge"}
    assert "merge" in kinds


def test_same_branch_name_created_twice_at_once(tmp_path: Path) -> None:
    path = tmp_path / "proj"
    setup = tillage.init(path)
    setup.ingest("t", pa.table({"id": [1], "v": [0.0]}), key="id")
    handles = [tillage.open(path) for _ in range(3)]
    results = race(*[lambda h=h: h.create_branch("x") for h in handles])
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(isinstance(e, tillage.RefExistsError) for e in lost), lost
    assert setup.refs.branches() == {
        "main": setup.refs.resolve("main"),
        "x": setup.refs.resolve("main"),
    }


def test_refs_created_while_gc_runs_keep_their_commits(tmp_path: Path) -> None:
    """A tag or branch made at an unreachable commit during `gc`: either it is refused
    (the commit is gone) or the commit stays; never a ref to a deleted commit."""
    path = tmp_path / "proj"
    setup = tillage.init(path)
    setup.ingest("t", pa.table({"id": [0], "v": [0.0]}), key="id")
    collector, tagger = tillage.open(path), tillage.open(path)
    outcomes: set[str] = set()
    for i in range(24):
        lost = setup.ingest("t", pa.table({"id": [i + 1], "v": [1.0]}))
        for j in range(3):
            setup.ingest("t", pa.table({"id": [1000 * (i + 1) + j], "v": [1.0]}))
        setup.refs.reset(lost.parents[0])  # `lost` and the commits after it are unreachable

        def make_ref(i: int = i, cid: str = lost.id) -> str | None:
            time.sleep(0.0005 * (i % 12))
            if i % 2:
                return tagger.create_branch(f"keep{i}", cid)
            return tagger.create_tag(f"keep{i}", cid)

        report, made = race(collector.datasets.gc, make_ref)
        assert isinstance(report, tillage.GcReport), report
        if isinstance(made, BaseException):
            assert isinstance(made, tillage.NoSuchRefError), made
            assert report.commits_removed == 4
            assert setup._storage.catalog.get_commit(lost.id) is None
            outcomes.add("refused")
        else:
            assert made == lost.id
            assert setup.read("t", f"keep{i}").num_rows == lost.pins["t"].num_rows
            outcomes.add("kept")
    assert outcomes  # at least one round ran; which order won is up to the scheduler
    # A later gc keeps everything the new refs reach.
    setup.datasets.gc()
    for name, cid in {**setup.refs.tags(), **setup.refs.branches()}.items():
        assert cid is not None
        pinned = setup.refs.commit(cid).pins["t"].num_rows
        assert setup.read("t", name).num_rows == pinned
