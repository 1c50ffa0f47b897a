"""Row-level diff and three-way merge over Lance versions, checked against a model.

The engines read only the rows two Lance versions do not share (see
`tillage.versioning.diff.unshared_rows`). Each test here builds real branches by
random upserts, deletes and appends, then checks the engines' answers against a
plain-Python model of the rows and against the same engines fed whole tables.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import tillage
from tillage.versioning.diff import dataset_diff, lance_row_changes, row_changes, unshared_rows
from tillage.versioning.merge import RowMerge, merge_rows

Rows = dict[int, dict[str, Any]]
SCHEMA = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("b", pa.string()), ("c", pa.int64())])


def table(rows: Rows) -> pa.Table:
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=SCHEMA)


def start(n: int) -> Rows:
    return {i: {"id": i, "a": i / 2, "b": f"s{i % 7}", "c": i} for i in range(n)}


def edit(repo: tillage.Repo, branch: str, rows: Rows, rng: random.Random, keys: list[int]) -> Rows:
    """Change, delete and add rows among ``keys`` on ``branch``, in three commits."""
    rows = {k: dict(v) for k, v in rows.items()}
    live = list(dict.fromkeys(k for k in keys if k in rows))
    rng.shuffle(live)
    third = max(1, len(live) // 3)
    changed, deleted = live[:third], live[third : 2 * third]
    ups = []
    for k in changed:
        col = rng.choice(["a", "b", "c", "ab"])
        row = dict(rows[k])
        if "a" in col:
            row["a"] = None if rng.random() < 0.2 else rng.random()
        if "b" in col:
            row["b"] = f"x{rng.randrange(1000)}"
        if col == "c":
            row["c"] = -row["c"] - 1
        rows[k] = row
        ups.append(row)
    fresh = [k for k in keys if k not in rows and k >= 10_000][: third or 1]
    for k in fresh:
        rows[k] = {"id": k, "a": 0.5, "b": "new", "c": k}
    repo.ingest("t", pa.Table.from_pylist(ups, schema=SCHEMA), mode="upsert", branch=branch)
    delete = pa.table({"id": pa.array(deleted, pa.int64())})
    repo.ingest("t", delete, mode="delete", branch=branch)
    if fresh:
        added = pa.Table.from_pylist([rows[k] for k in fresh], schema=SCHEMA)
        repo.ingest("t", added, branch=branch)
    for k in deleted:
        del rows[k]
    return rows


def expected_diff(old: Rows, new: Rows) -> tuple[set[int], set[int], set[int], dict[str, int]]:
    added = set(new) - set(old)
    removed = set(old) - set(new)
    changed = {k for k in set(old) & set(new) if old[k] != new[k]}
    counts: dict[str, int] = {}
    for k in changed:
        for c in ("a", "b", "c"):
            if old[k][c] != new[k][c]:
                counts[c] = counts.get(c, 0) + 1
    return added, removed, changed, counts


@pytest.fixture
def repo(tmp_path: Path) -> tillage.Repo:
    r = tillage.init(tmp_path / "p")
    r.ingest("t", table(start(300)), key="id")
    # Several fragments, so edits hit some and leave others shared.
    r.ingest("t", table({k: v for k, v in start(600).items() if k >= 300}))
    return r


@pytest.mark.parametrize("seed", range(4))
def test_diff_reads_only_unshared_rows_and_matches_the_model(repo: tillage.Repo, seed: int) -> None:
    rng = random.Random(seed)
    base_rows = start(600)
    base = repo.refs.resolve("main")
    assert base is not None
    repo.create_branch("b")
    keys = rng.sample(range(600), 90) + list(range(10_000, 10_030))
    new_rows = edit(repo, "b", base_rows, rng, keys)

    [d] = repo.diff(base, "b", rows=1000)
    added, removed, changed, counts = expected_diff(base_rows, new_rows)
    assert (d.added, d.removed, d.changed) == (len(added), len(removed), len(changed))
    assert d.column_changes == counts
    assert {r["id"] for r in d.samples["added"]} == added
    assert {r["id"] for r in d.samples["removed"]} == removed
    for rec in d.samples["changed"]:
        k = rec["key"]["id"]
        assert rec["changes"] == {
            c: [base_rows[k][c], new_rows[k][c]]
            for c in ("a", "b", "c")
            if base_rows[k][c] != new_rows[k][c]
        }

    # Only rows not shared by the two versions were read: far fewer than all.
    old_v = repo._storage.tables.open("t", repo.datasets.pins(base)["t"])
    new_v = repo._storage.tables.open("t", repo.datasets.pins("b")["t"])
    parts = unshared_rows(old_v, new_v)
    assert parts is not None
    assert parts[0].num_rows < 300 and parts[1].num_rows < 300
    via_tables = row_changes(old_v.to_table(), new_v.to_table(), ["id"])
    via_lance = lance_row_changes(old_v, new_v, ["id"])
    for part in ("added", "removed", "changed_old", "changed_new"):
        assert getattr(via_lance, part).to_pylist() == getattr(via_tables, part).to_pylist()


def test_diff_of_identical_content_in_different_files_is_empty(repo: tillage.Repo) -> None:
    """Rewritten but equal rows live in new files: read, compared, and found equal."""
    before = repo.refs.resolve("main")
    repo.ingest("t", table(start(600)), mode="upsert")  # same values, new data files
    [d] = repo.diff(before or "", "main")
    assert (d.status, d.added, d.removed, d.changed) == ("unchanged", 0, 0, 0)


def test_diff_across_a_schema_change_falls_back_to_full_tables(repo: tillage.Repo) -> None:
    before = repo.refs.resolve("main")
    extra = table(start(3)).append_column("d", pa.array(["x", "y", "z"]))
    repo.ingest("t", extra, mode="upsert", evolve=True)
    [d] = repo.diff(before or "", "main")
    assert d.schema.added == [("d", "string")]
    assert d.changed == 0  # the new column is not compared; the old ones did not change
    old_v = repo._storage.tables.open("t", repo.datasets.pins(before)["t"])
    new_v = repo._storage.tables.open("t", repo.datasets.pins("main")["t"])
    assert unshared_rows(old_v, new_v) is None
    assert dataset_diff("t", ["id"], old_v, new_v).rows_after == 600


def _canonical(plan: RowMerge) -> tuple[list[Any], list[Any], list[Any]]:
    ups = sorted(plan.upserts.to_pylist(), key=lambda r: r["id"])
    dels = sorted(plan.deletes.column("id").to_pylist())
    conflicts = sorted(plan.conflicts, key=lambda c: (c["key"]["id"], c["column"]))
    return ups, dels, conflicts


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("prefer", [None, "ours", "theirs"])
def test_lance_merge_plan_equals_the_full_table_plan(
    repo: tillage.Repo, seed: int, prefer: Any
) -> None:
    """Overlapping edits on both sides: same upserts, deletes and conflicts either way."""
    rng = random.Random(100 + seed)
    base_rows = start(600)
    base = repo.refs.resolve("main")
    repo.create_branch("theirs")
    shared = rng.sample(range(600), 40)
    edit(repo, "main", base_rows, rng, shared + rng.sample(range(600), 40))
    edit(repo, "theirs", base_rows, rng, shared + list(range(10_000, 10_010)))
    pins = [repo.datasets.pins(r)["t"] for r in (base, "main", "theirs")]
    b, o, t = (repo._storage.tables.open("t", p) for p in pins)
    assert unshared_rows(b, o) is not None and unshared_rows(b, t) is not None  # the fast path
    fast = merge_rows("t", ["id"], b, o, t, prefer)
    slow = merge_rows("t", ["id"], b.to_table(), o.to_table(), t.to_table(), prefer)
    assert _canonical(fast) == _canonical(slow)
    assert fast.counts == slow.counts


@pytest.mark.parametrize("seed", range(3))
def test_three_way_merge_of_disjoint_edits_equals_the_model(repo: tillage.Repo, seed: int) -> None:
    rng = random.Random(200 + seed)
    base_rows = start(600)
    repo.create_branch("theirs")
    keys = list(range(600))
    rng.shuffle(keys)
    ours = edit(repo, "main", base_rows, rng, keys[:120] + list(range(10_000, 10_020)))
    theirs = edit(repo, "theirs", base_rows, rng, keys[120:240] + list(range(20_000, 20_020)))

    result = repo.merge("theirs")
    assert result.kind == "merge"
    want = dict(ours)
    for k in set(base_rows) | set(theirs):
        if k not in theirs:
            want.pop(k, None)
        elif base_rows.get(k) != theirs[k]:
            want[k] = theirs[k]
    got = repo.read("t").to_pylist()
    assert sorted(got, key=lambda r: r["id"]) == [want[k] for k in sorted(want)]
    assert len(repo.refs.commit().parents) == 2


def test_conflicting_merge_lists_each_cell_and_writes_nothing(repo: tillage.Repo) -> None:
    repo.create_branch("theirs")
    one = {"id": 1, "a": 9.0, "b": "s1", "c": 1}
    repo.ingest("t", pa.Table.from_pylist([one], schema=SCHEMA), mode="upsert")
    two = {"id": 1, "a": 7.0, "b": "s1", "c": 1}
    repo.ingest("t", pa.Table.from_pylist([two], schema=SCHEMA), mode="upsert", branch="theirs")
    repo.ingest("t", pa.table({"id": pa.array([2], pa.int64())}), mode="delete")
    three = {"id": 2, "a": 1.0, "b": "z", "c": 2}
    repo.ingest("t", pa.Table.from_pylist([three], schema=SCHEMA), mode="upsert", branch="theirs")
    head = repo.refs.resolve("main")
    with pytest.raises(tillage.MergeConflictError) as err:
        repo.merge("theirs")
    got = {
        (c["key"]["id"], c["column"]): (c["base"], c["ours"], c["theirs"])
        for c in err.value.conflicts
    }
    assert got == {
        (1, "a"): (0.5, 9.0, 7.0),
        (2, "(row)"): ("present", "deleted", "changed"),
    }
    assert repo.refs.resolve("main") == head
    merged = repo.merge("theirs", prefer="theirs")
    assert merged.kind == "merge"
    rows = {r["id"]: r for r in repo.read("t", where="id < 3").to_pylist()}
    assert rows[1]["a"] == 7.0 and rows[2] == three
