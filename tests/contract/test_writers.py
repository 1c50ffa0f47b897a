"""Writers on every catalog backend: processes that race, a compare-and-swap, a crash.

Writers to one repository take turns through a file lock; the catalog's
compare-and-swap on a branch head is the second line. Either way a commit
lands whole or not at all: a writer killed mid-write leaves the repository as
it was (or, killed after its catalog transaction, with the whole commit).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tillage
from contract.support import by_id, state, table
from tillage import Repo

APPENDER = r"""
import json, os, sys, time
import pyarrow as pa
import tillage

path, worker, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
repo = tillage.open(path)
while not os.path.exists(go):  # start together
    time.sleep(0.001)
for j in range(3):
    keys = [1000 * worker + 10 * j + i for i in range(10)]
    batch = pa.table({"id": pa.array(keys, pa.int64()), "v": [float(worker)] * 10,
                      "s": ["w"] * 10})
    try:
        print(json.dumps({"ok": repo.ingest("t", batch).id, "keys": keys}), flush=True)
    except tillage.TillageError as e:
        print(json.dumps({"error": type(e).__name__, "keys": keys}), flush=True)
"""

BIG_WRITE = r"""
import sys
import numpy as np
import pyarrow as pa
import tillage

repo = tillage.open(sys.argv[1])
n = 2_000_000
print("writing", flush=True)
repo.ingest("t", pa.table({"id": np.arange(100, 100 + n), "v": np.zeros(n),
                           "s": pa.array(["x"] * n)}))
print("done", flush=True)
"""


@pytest.mark.slow
def test_two_processes_appending_to_one_branch(filled: Repo, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(filled.path), str(w), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results += [json.loads(line) for line in out.splitlines()]
    landed = [r for r in results if "ok" in r]
    # A writer that loses a race may only be told so; then its rows are absent.
    assert {r["error"] for r in results if "error" in r} <= {
        "ConcurrentUpdateError",
        "LockTimeoutError",
    }
    assert landed
    log = filled.refs.log()
    for newer, older in itertools.pairwise(log):
        assert newer.parents == (older.id,)  # one chain, no lost head
    assert {r["ok"] for r in landed} <= {c.id for c in log}
    assert sorted(by_id(filled)) == sorted([*range(10), *(k for r in landed for k in r["keys"])])
    assert filled.datasets.verify().ok


def test_branch_head_compare_and_swap(filled: Repo) -> None:
    head = filled.refs.resolve("main")
    with tillage.open(filled.path) as other:
        other.ingest("t", table([10]))
        moved = other.refs.resolve("main")
    with (
        pytest.raises(tillage.ConcurrentUpdateError),
        filled._storage.catalog.transaction() as conn,
    ):
        type(filled._storage.catalog).move_branch(conn, "main", head, head or "")
    assert filled.refs.resolve("main") == moved != head


@pytest.mark.slow
def test_writer_killed_mid_write_leaves_the_repository_unchanged(filled: Repo) -> None:
    before = state(filled)
    data = filled.path / ".tillage" / "tables" / "t.lance" / "data"
    known = set(os.listdir(data))
    proc = subprocess.Popen(
        [sys.executable, "-c", BIG_WRITE, str(filled.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing", proc.stderr
    deadline = time.monotonic() + 60
    while not set(os.listdir(data)) - known and proc.poll() is None:  # Lance is writing
        assert time.monotonic() < deadline, "the writer wrote no data file"
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # closes the pipes
    assert proc.returncode == -signal.SIGKILL
    with tillage.open(filled.path) as again:
        assert state(again) == before
        assert again.datasets.verify().ok
        again.ingest("t", table([10]))  # the next write works
        assert sorted(by_id(again)) == list(range(11))
