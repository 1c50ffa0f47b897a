"""Atomicity under SIGKILL: a writer killed at any moment leaves a working repository.

A child process ingests into a repository in a loop (a new dataset, then
append, upsert and delete of batches of keys) and prints a line before each
operation. The parent kills it with SIGKILL at many moments: right as an
operation starts, a few milliseconds into it, and at random delays, on the
main branch and on another branch, during big and small writes. tillage has
no crash hook, so the moments come from timing; the big first batch and the
steady loop make kills land inside Lance writes and between a Lance write and
its catalog commit.

After each kill the repository must open, report its status, and hold only
complete commits: each pins dataset versions that read back with exactly the
pinned number of rows, the number of commits that landed matches the data
(every batch is in one of the states a whole operation leaves), and the next
ingest and `gc` succeed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import lance
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tillage
from tillage import Repo

pytestmark = pytest.mark.slow

ROUND = 100_000_000  # key space of one round
STRIDE = 1_000_000  # key space of one batch
BIG = 200_000  # the first batch of a round: a long write
SMALL = 3_000
DSIZE = 100_000  # rows of the dataset each round creates first

CHILD = r"""
import json, sys
import numpy as np
import pyarrow as pa
import tillage

path, branch, rnd, cfg = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
repo = tillage.open(path)
print("ready", flush=True)
op = 0

def step():
    global op
    print(f"op {op}", flush=True)
    op += 1

step()
d = pa.table({"id": np.arange(cfg["dsize"]), "v": np.zeros(cfg["dsize"])})
repo.ingest(f"d{rnd}", d, key="id", branch=branch)
base = rnd * cfg["round"]
for b in range(200):
    n = cfg["big"] if b == 0 else cfg["small"]
    ids = np.arange(base + b * cfg["stride"], base + b * cfg["stride"] + n, dtype=np.int64)
    step()
    repo.ingest("t", pa.table({"id": ids, "v": np.zeros(n)}), branch=branch)
    step()
    repo.ingest("t", pa.table({"id": ids, "v": np.ones(n)}), mode="upsert", branch=branch)
    step()
    repo.ingest("t", pa.table({"id": ids[: n // 2]}), mode="delete", branch=branch)
print("done", flush=True)
"""


def batch_size(b: int) -> int:
    return BIG if b == 0 else SMALL


def t_deltas(ops: int) -> list[int]:
    """Row count change of ``t`` after each of the child's first ``ops`` operations on it."""
    out = [0]
    for k in range(ops):
        n = batch_size(k // 3)
        out.append(out[-1] + (n if k % 3 == 0 else 0 if k % 3 == 1 else -(n // 2)))
    return out


def check_t(table: pa.Table) -> None:
    """Every child batch in ``t`` is in a state whole operations leave it in.

    Absent; appended (all n keys, v=0); upserted (all n keys, v=1); or deleted
    from (the upper half of the keys, v=1). Negative keys are the parent's.
    """
    ids = table.column("id")
    assert pc.count_distinct(ids).as_py() == table.num_rows, "duplicate keys"
    child = table.filter(pc.greater_equal(ids, 0))
    if not child.num_rows:
        return
    ids_np = child.column("id").to_numpy()
    grouped = pa.table(
        {
            "batch": ids_np // STRIDE,
            "off": ids_np % STRIDE,
            "v": child.column("v"),
        }
    ).group_by("batch")
    stats = grouped.aggregate(
        [("off", "count"), ("off", "min"), ("off", "max"), ("v", "min"), ("v", "max")]
    )
    for row in stats.to_pylist():
        n = batch_size(int(row["batch"]) % (ROUND // STRIDE))
        state = (row["off_count"], row["off_min"], row["off_max"], row["v_min"], row["v_max"])
        allowed = {
            (n, 0, n - 1, 0.0, 0.0),
            (n, 0, n - 1, 1.0, 1.0),
            (n - n // 2, n // 2, n - 1, 1.0, 1.0),
        }
        assert state in allowed, f"batch {row['batch']} is half-written: {state}"


def check_commit(repo: Repo, commit: tillage.Commit) -> dict[str, pa.Table]:
    """Every pinned dataset version reads back whole; ``t`` holds only whole batches."""
    out = {}
    for name, pin in commit.pins.items():
        table = repo.read(name, commit.id)
        assert table.num_rows == pin.num_rows, (commit.short_id, name)
        out[name] = table
    if "t" in out:
        check_t(out["t"])
    return out


def leftovers(repo: Repo) -> int:
    """Lance versions beyond what the branches' heads pin: traces of a killed write."""
    pins: dict[tuple[str, str], int] = {}
    for cid in repo.refs.branches().values():
        for name, p in repo.refs.commit(cid).pins.items() if cid else ():
            pins[(name, p.lance_branch)] = max(p.version, pins.get((name, p.lance_branch), 0))
    extra = 0
    for (name, lb), version in pins.items():
        extra += max(0, repo._storage.tables.latest(name, lb).version - version)
    return extra


def unreferenced_files(repo: Repo, dataset: str) -> list[str]:
    """Data files of ``dataset`` no version of any Lance branch uses: traces of a killed write."""
    root = Path(repo._storage.tables.uri(dataset))
    ds = lance.dataset(str(root))
    used: set[str] = set()
    for lb in [None, *ds.branches.list()]:
        head = ds if lb is None else ds.checkout_version((lb, None))
        for v in head.versions():
            at = ds.checkout_version(v["version"] if lb is None else (lb, v["version"]))
            used.update(
                Path(f.path).name for frag in at.get_fragments() for f in frag.metadata.files
            )
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.parent.name == "data" and p.name not in used
    )


def start_child(path: Path, branch: str, rnd: int, env: dict[str, str]) -> subprocess.Popen[str]:
    cfg = {"round": ROUND, "stride": STRIDE, "big": BIG, "small": SMALL, "dsize": DSIZE}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), branch, str(rnd), json.dumps(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=env["CODE_DIR"],
    )


def wait_for(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    while True:
        got = proc.stdout.readline()
        if not got:
            assert proc.stderr is not None
            pytest.fail(f"child ended before {line!r}: {proc.stderr.read()}")
        if got.strip() == line:
            return


def new_file(ds_dir: Path, kind: str, known: set[str] | None = None) -> set[str] | str:
    """Files of a Lance dataset: data and deletion files, or version manifests.

    With ``known``, the name of a file not in it (or "" if none yet).
    """
    subdirs = ("data", "_deletions") if kind == "data" else ("_versions",)
    found: set[str] = set()
    for root in [ds_dir, *ds_dir.glob("tree/*")]:
        for sub in subdirs:
            try:
                entries = os.scandir(root / sub)
            except FileNotFoundError:
                continue
            with entries:
                for e in entries:
                    if kind == "data" or e.name.endswith(".manifest"):
                        found.add(f"{root.name}/{sub}/{e.name}")
    if known is None:
        return found
    return next(iter(found - known), "")


def kill_when(proc: subprocess.Popen[str], ds_dir: Path, trigger: str, delay: float) -> None:
    """SIGKILL the child ``delay`` s after ``trigger``: its line, or a new data file or version.

    tillage has no crash hook, so mid-write moments are found by watching the
    files Lance writes: a new data file means a write is under way, a new
    manifest means Lance made a version the catalog has not pinned yet.
    """
    if trigger != "line":
        known = new_file(ds_dir, trigger)
        assert isinstance(known, set)
        deadline = time.monotonic() + 10
        while not new_file(ds_dir, trigger, known) and time.monotonic() < deadline:
            time.sleep(0.0005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)


def test_sigkill_at_many_moments_leaves_a_working_repository(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TILLAGE_PRINCIPAL": "crash-test",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    env.pop("TILLAGE_REPO", None)
    # The child runs in a git work tree, as pipelines do: each commit records its code.
    code = tmp_path / "code"
    code.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=code, check=True, env=env)
    (code / "pipeline.py").write_text("print('ingest')\n")
    subprocess.run([*git, "add", "."], cwd=code, check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline"], cwd=code, check=True, env=env)
    env["CODE_DIR"] = str(code)
    path = tmp_path / "proj"
    repo = tillage.init(path)
    repo.ingest("t", pa.table({"id": [-1_000_000], "v": [2.0]}), key="id")
    repo.create_branch("side")
    rng = random.Random(20240601)
    # (operation, trigger, delay): the child's operations are 0: create d<round>,
    # then on t: 1 big append, 2 big upsert, 3 delete, 4 small append, ...
    # Rounds alternate between main and another branch (its own Lance branch).
    schedule: list[tuple[int, str, float]] = [
        (0, "line", 0.0),  # before anything is written
        (0, "data", 0.0),  # while the new dataset's first data file is written
        (0, "manifest", 0.0),  # its Lance version exists, its commit does not
        (1, "data", 0.0),  # mid big append, on the other branch's first write (a fork)
        (1, "manifest", 0.0),
        (2, "data", 0.002),  # mid big upsert
        (2, "manifest", 0.0),
        (3, "data", 0.0),  # mid delete (deletion files)
        (3, "manifest", 0.0),
    ]
    schedule += [(rng.randrange(1, 12), "line", rng.uniform(0.0, 0.06)) for _ in range(3)]
    parent_keys: dict[str, set[int]] = {"main": {-1_000_000}, "side": {-1_000_000}}
    traces = {"versions": 0, "files": 0, "kills that left traces": 0}
    started = time.monotonic()
    for rnd, (target, trigger, delay) in enumerate(schedule):
        branch = "main" if rnd % 2 == 0 else "side"
        before = repo.refs.commit(branch)
        rows_before = before.pins["t"].num_rows
        ds_dir = Path(repo._storage.tables.uri(f"d{rnd}" if target == 0 else "t"))
        proc = start_child(path, branch, rnd, env)
        try:
            wait_for(proc, "ready")
            wait_for(proc, f"op {target}")
            kill_when(proc, ds_dir, trigger, delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the child finished before it was killed"

        # The repository opens, reports status, and its head is a whole commit.
        repo.close()
        repo = tillage.open(path)
        status = repo.refs.status()
        assert status.branch == "main"
        head = repo.refs.commit(branch)
        log = repo.refs.log(branch)
        ids = [c.id for c in log]
        assert before.id in ids, "the branch lost commits"
        new = log[: ids.index(before.id)]
        chain = head.id
        for c in new:  # a linear chain back to the old head
            assert c.id == chain and len(c.parents) == 1
            chain = c.parents[0]
        assert chain == before.id
        for c in new:
            check_commit(repo, c)
        tables = check_commit(repo, head)
        landed = len(new)
        # The data matches the number of operations that landed, and nothing else.
        assert (f"d{rnd}" in head.pins) == (landed >= 1)
        if landed:
            assert tables[f"d{rnd}"].num_rows == DSIZE
        deltas = t_deltas(max(0, landed - 1))
        assert head.pins["t"].num_rows == rows_before + deltas[-1]
        parents_rows = tables["t"].filter(pc.less(tables["t"]["id"], 0))
        assert parent_keys[branch] <= set(parents_rows["id"].to_pylist())
        versions_left = leftovers(repo)
        files_left = len(unreferenced_files(repo, "t"))
        if ds_dir.name != "t.lance" and ds_dir.exists() and not landed:
            files_left += 1  # a dataset directory no commit knows
        traces["versions"] += versions_left
        traces["files"] += files_left
        traces["kills that left traces"] += bool(versions_left or files_left)

        # The next writes succeed, on top of the head; then gc succeeds.
        key = -(rnd + 1)
        c1 = repo.ingest("t", pa.table({"id": [key], "v": [2.0]}), branch=branch)
        assert c1.parents == (head.id,)
        parent_keys[branch].add(key)
        d = pa.table({"id": [10**7], "v": [2.0]})
        c2 = repo.ingest(f"d{rnd}", d, key="id", branch=branch)
        assert c2.pins[f"d{rnd}"].num_rows == (DSIZE + 1 if landed else 1)
        report = repo.datasets.gc()
        assert report.commits_removed == 0
        # Nothing of the killed write is left: no unpinned version, no unused file.
        assert leftovers(repo) == 0
        for name in repo.datasets.pins(branch):
            assert unreferenced_files(repo, name) == [], name
            assert repo._storage.tables.stray_branch_folders(name) == [], name
        pinned = repo._storage.catalog.pinned_versions()
        for name in ("t", f"d{rnd}"):
            lance_branches = {lb for ds, lb, _ in pinned if ds == name} - {"main"}
            assert set(repo._storage.tables.lance_branches(name)) <= lance_branches
        check_commit(repo, repo.refs.commit(branch))

    # Every commit still reads whole after all the kills and collections.
    for branch in ("main", "side"):
        for c in repo.refs.log(branch, dataset="t")[:6]:
            check_commit(repo, c)
    elapsed = time.monotonic() - started
    print(f"{len(schedule)} kills in {elapsed:.1f} s; traces they left: {traces}")
    # The kills did land inside writes (else this test would prove little).
    assert traces["kills that left traces"] >= 3, traces


GC_CHILD = r"""
import sys
import tillage

repo = tillage.open(sys.argv[1])
print("gc", flush=True)
repo.datasets.gc()
print("done", flush=True)
"""


def files_under(folder: Path) -> set[str]:
    """Files below ``folder`` (which another process may be deleting)."""
    return {os.path.join(root, f) for root, _, files in os.walk(folder) for f in files}


def test_sigkill_during_gc_keeps_everything_reachable(tmp_path: Path) -> None:
    """Kill `gc` before it starts, while it deletes an unused dataset, while it drops a Lance
    branch, and at short delays: reachable data stays whole, and the next gc finishes."""
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    env.pop("TILLAGE_REPO", None)
    path = tmp_path / "proj"
    repo = tillage.init(path)
    n = 20_000
    repo.ingest("t", pa.table({"id": range(n), "v": [0.0] * n}), key="id")
    repo.create_branch("keep")
    repo.ingest("t", pa.table({"id": range(n, 2 * n), "v": [1.0] * n}), branch="keep")
    repo.create_tag("v1", "keep")
    schedule = [("line", 0.0), ("dataset", 0.0), ("branch", 0.0), ("line", 0.01), ("line", 0.02)]
    partial = 0
    for rnd, (trigger, delay) in enumerate(schedule):
        # Garbage for gc: a deleted branch with its own Lance branch and a dataset only
        # it had, and main moved back over commits only it reached.
        junk = f"junk{rnd}"
        repo.create_branch(junk)
        for k in range(3):
            ids = range((rnd + 3) * 10 * n + k * n, (rnd + 3) * 10 * n + (k + 1) * n)
            repo.ingest("t", pa.table({"id": ids, "v": [2.0] * n}), branch=junk)
        repo.ingest(f"scratch{rnd}", pa.table({"id": range(n)}), key="id", branch=junk)
        junk_lance = (
            Path(repo._storage.tables.uri("t"))
            / "tree"
            / repo.datasets.pins(junk)["t"].lance_branch
        )
        scratch = Path(repo._storage.tables.uri(f"scratch{rnd}"))
        repo.refs.delete_branch(junk)
        head = repo.refs.resolve("main")
        repo.ingest("t", pa.table({"id": [-1 - rnd], "v": [3.0]}), mode="upsert")
        repo.ingest("t", pa.table({"id": [-1 - rnd]}), mode="delete")
        assert head is not None
        repo.refs.reset(head)
        reachable = {
            c.id: {name: repo.read(name, c.id).to_pylist() for name in c.pins}
            for ref in ("main", "keep", "v1")
            for c in repo.refs.log(ref)
        }
        watched = {"dataset": scratch, "branch": junk_lance}.get(trigger)
        before = files_under(watched) if watched else set()
        proc = subprocess.Popen(
            [sys.executable, "-c", GC_CHILD, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        try:
            wait_for(proc, "gc")
            deadline = time.monotonic() + 10
            while watched and files_under(watched) == before and time.monotonic() < deadline:
                time.sleep(0.0005)  # until gc starts deleting it
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "gc finished before it was killed"

        repo.close()
        repo = tillage.open(path)
        repo.refs.status()
        garbage = set(repo._storage.catalog.all_commits()) - set(reachable)
        partial += not garbage and (scratch.exists() or junk_lance.exists())
        for cid, tables in reachable.items():
            for name, want in tables.items():
                assert repo.read(name, cid).to_pylist() == want, (rnd, cid[:8], name)
        # The next writes and a whole gc succeed, and gc finishes what was killed.
        repo.ingest("t", pa.table({"id": [-100 - rnd], "v": [4.0]}))
        repo.ingest("t", pa.table({"id": [-200 - rnd], "v": [4.0]}), branch="keep")
        repo.datasets.gc()
        assert not scratch.exists() and not junk_lance.exists()
        assert set(repo.datasets.pins("main")) == {"t"}
        assert repo._storage.tables.lance_branches("t") == [
            repo.datasets.pins("keep")["t"].lance_branch
        ]
        assert unreferenced_files(repo, "t") == []
        alive = {c.id for ref in ("main", "keep", "v1") for c in repo.refs.log(ref)}
        assert set(repo._storage.catalog.all_commits()) == alive
    # Some kills stopped gc half-way (commits gone, their files not yet).
    assert partial >= 1
