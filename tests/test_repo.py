"""The versioned repository's Python API: ingest, commits, refs, diff, merge, history, bad input.

Every test works on small generated tables (tens of rows) in a fresh repository.
Bad input must raise a specific `tillage` error whose message says what was
wrong and what to do, and must leave the repository exactly as it was
(`snapshot` captures refs, commits, every pinned dataset version's rows and the
bytes of every file under ``.tillage/tables``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lance
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import tillage
from tillage import Commit, Repo

# -- helpers and fixtures ----------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("workdir")


def table(ids: list[int], v: list[float] | None = None, s: list[str] | None = None) -> pa.Table:
    """A small table keyed by ``id``: ``v`` defaults to float(id), ``s`` to "s<id>"."""
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "v": pa.array(v if v is not None else [float(i) for i in ids], pa.float64()),
            "s": pa.array(s if s is not None else [f"s{i}" for i in ids], pa.string()),
        }
    )


def rows(repo: Repo, dataset: str = "t", ref: str | None = None) -> list[dict[str, Any]]:
    """The rows of ``dataset`` at ``ref``, sorted by ``id``."""
    return repo.read(dataset, ref).sort_by("id").to_pylist()  # type: ignore[no-any-return]


def by_id(repo: Repo, dataset: str = "t", ref: str | None = None) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in rows(repo, dataset, ref)}


@pytest.fixture
def filled(repo: Repo) -> Repo:
    """A repository whose main branch has dataset ``t`` with ids 0..9 (one commit)."""
    repo.ingest("t", table(list(range(10))), key="id", message="ten rows")
    return repo


def snapshot(repo: Repo) -> dict[str, Any]:
    """Everything a failed operation must not change.

    The current branch, branches, tags, every commit id, every dataset's key,
    the rows of every dataset version every commit pins, and the bytes of every
    file under ``.tillage/tables``.
    """
    commits = repo._storage.catalog.all_commits()
    data: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cid, commit in commits.items():
        for name, pin in commit.pins.items():
            got = repo.read(name, cid)
            assert got.num_rows == pin.num_rows
            data[(cid, name)] = got.sort_by(repo.datasets.key(name)[0]).to_pylist()
    root = repo._storage.tables.root
    files = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    return {
        "current": repo.refs.current_branch,
        "branches": repo.refs.branches(),
        "tags": repo.refs.tags(),
        "commits": sorted(commits),
        "datasets": repo._storage.catalog.list_datasets(),
        "status": repo.refs.status(),
        "data": data,
        "files": files,
    }


def lance_state(repo: Repo, dataset: str) -> tuple[list[int], list[str]]:
    """The versions of the dataset's Lance main branch, and its Lance branches."""
    ds = lance.dataset(repo._storage.tables.uri(dataset))
    return [v["version"] for v in ds.versions()], sorted(ds.branches.list())


def write_parquet(path: Path, t: pa.Table) -> Path:
    pq.write_table(t, path)
    return path


# -- ingest: inputs ----------------------------------------------------------------------


def test_ingest_pandas_round_trips(repo: Repo) -> None:
    df = pd.DataFrame(
        {
            "id": [3, 0, 1, 2],
            "name": ["c", "z", "a", "b"],
            "x": [3.5, 0.0, 1.5, None],
            "flag": [True, True, False, True],
            "ts": pd.to_datetime(["2024-01-03", "2024-01-09", "2024-01-01", "2024-01-02"]),
        }
    )
    kept = df[df["id"] > 0]  # a filtered frame: its index (0, 2, 3) is not a column
    repo.ingest("p", kept, key="id")
    back = repo.read("p").to_pandas().sort_values("id").reset_index(drop=True)
    want = kept.sort_values("id").reset_index(drop=True)
    assert back.columns.tolist() == want.columns.tolist()
    assert back["id"].tolist() == [1, 2, 3]
    assert back["name"].tolist() == ["a", "b", "c"]
    assert back["x"].iloc[0] == 1.5 and pd.isna(back["x"].iloc[1]) and back["x"].iloc[2] == 3.5
    assert back["flag"].tolist() == [False, True, True]
    assert back["ts"].tolist() == want["ts"].tolist()


def test_ingest_polars_round_trips(repo: Repo) -> None:
    df = pl.DataFrame({"id": [1, 2, 3], "name": ["a", None, "c"], "x": [0.5, 1.5, 2.5]})
    repo.ingest("p", df, key="id")
    back = pl.from_arrow(repo.read("p"))
    assert isinstance(back, pl.DataFrame)
    assert back.sort("id").equals(df)
    # Large strings from Polars are stored as plain strings.
    assert repo.datasets.schema("p").field("name").type == pa.string()


def test_ingest_arrow_table_batch_and_reader(repo: Repo) -> None:
    t = table([1, 2, 3])
    repo.ingest("t", t, key="id")
    assert repo.read("t").sort_by("id").equals(t)
    batch = table([4, 5]).to_batches()[0]
    repo.ingest("t", batch)
    reader = pa.RecordBatchReader.from_batches(t.schema, table([6]).to_batches())
    repo.ingest("t", reader)
    assert [r["id"] for r in rows(repo)] == [1, 2, 3, 4, 5, 6]
    assert len(repo.refs.log()) == 3


def _write_arrow_file(path: Path, t: pa.Table) -> None:
    with ipc.new_file(str(path), t.schema) as w:
        w.write_table(t)


def _write_arrow_stream(path: Path, t: pa.Table) -> None:
    with ipc.new_stream(str(path), t.schema) as w:
        w.write_table(t)


def _write_jsonl(path: Path, t: pa.Table) -> None:
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in t.to_pylist()))


WRITERS: dict[str, Callable[[Path, pa.Table], None]] = {
    "x.parquet": lambda p, t: pq.write_table(t, p),
    "x.csv": lambda p, t: pacsv.write_csv(t, p),
    "x.jsonl": _write_jsonl,
    "x.ndjson": _write_jsonl,
    "x.arrow": _write_arrow_file,
    "x.ipc": _write_arrow_stream,
    "x.feather": lambda p, t: feather.write_feather(t, str(p)),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_ingest_file_formats_round_trip(repo: Repo, tmp_path: Path, name: str) -> None:
    t = table([5, 1, 3], v=[5.5, 1.25, -3.0e-3], s=["five", "one", "three"])
    path = tmp_path / name
    WRITERS[name](path, t)
    commit = repo.ingest("t", path, key="id")
    assert rows(repo) == t.sort_by("id").to_pylist()
    assert repo.datasets.schema("t") == t.schema
    assert [c.id for c in repo.refs.log()] == [commit.id]


def test_multi_file_ingest_is_one_commit(filled: Repo, tmp_path: Path) -> None:
    before = filled.refs.commit()
    a = write_parquet(tmp_path / "a.parquet", table([10, 11]))
    b = tmp_path / "b.csv"
    pacsv.write_csv(table([12, 13, 14]), b)
    c = tmp_path / "c.jsonl"
    _write_jsonl(c, table([15]))
    commit = filled.ingest("t", [a, str(b), c], message="three files")
    assert commit.parents == (before.id,)
    assert commit.changes["t"]["inserted"] == 6
    assert [x.id for x in filled.refs.log()] == [commit.id, before.id]
    assert [r["id"] for r in rows(filled)] == list(range(16))
    assert by_id(filled)[12] == {"id": 12, "v": 12.0, "s": "s12"}


def test_each_ingest_is_exactly_one_commit(filled: Repo) -> None:
    heads = [filled.refs.commit().id]
    for op, data in [
        ("append", table([10, 11])),
        ("upsert", table([1, 12], v=[-1.0, 12.0])),
        ("delete", pa.table({"id": [0]})),
        ("overwrite", table([1, 2])),
    ]:
        c = filled.ingest("t", data, mode=op)  # type: ignore[arg-type]
        assert c.parents == (heads[-1],)
        assert filled.refs.commit().id == c.id
        heads.append(c.id)
    assert [c.id for c in filled.refs.log()] == heads[::-1]


# -- ingest: modes -----------------------------------------------------------------------


def test_append(filled: Repo) -> None:
    c = filled.ingest("t", table([10, 11]))
    assert c.changes["t"] == {
        "op": "append",
        "inserted": 2,
        "updated": 0,
        "deleted": 0,
        "rows": 12,
    }
    assert c.pins["t"].num_rows == 12
    assert [r["id"] for r in rows(filled)] == list(range(12))
    assert by_id(filled)[11] == {"id": 11, "v": 11.0, "s": "s11"}


def test_upsert(filled: Repo) -> None:
    c = filled.ingest("t", table([2, 3, 20], v=[-2.0, -3.0, 20.0]), mode="upsert")
    counts = {k: c.changes["t"][k] for k in ("inserted", "updated", "deleted", "rows")}
    assert counts == {"inserted": 1, "updated": 2, "deleted": 0, "rows": 11}
    got = by_id(filled)
    assert got[2] == {"id": 2, "v": -2.0, "s": "s2"}
    assert got[3] == {"id": 3, "v": -3.0, "s": "s3"}
    assert got[20] == {"id": 20, "v": 20.0, "s": "s20"}
    assert got[4] == {"id": 4, "v": 4.0, "s": "s4"}
    assert len(got) == 11


def test_delete(filled: Repo) -> None:
    # Only the key is needed; keys that are not there are ignored.
    c = filled.ingest("t", pa.table({"id": [1, 5, 99]}), mode="delete")
    counts = {k: c.changes["t"][k] for k in ("inserted", "updated", "deleted", "rows")}
    assert counts == {"inserted": 0, "updated": 0, "deleted": 2, "rows": 8}
    assert [r["id"] for r in rows(filled)] == [0, 2, 3, 4, 6, 7, 8, 9]
    # Whole rows work too.
    c = filled.ingest("t", table([2]), mode="delete")
    assert c.changes["t"]["deleted"] == 1


def test_overwrite(filled: Repo) -> None:
    c = filled.ingest("t", table([100, 101], s=["a", "b"]), mode="overwrite")
    counts = {k: c.changes["t"][k] for k in ("inserted", "updated", "deleted", "rows")}
    assert counts == {"inserted": 2, "updated": 0, "deleted": 10, "rows": 2}
    assert rows(filled) == table([100, 101], s=["a", "b"]).to_pylist()
    # The overwritten version is still there at the old commit.
    assert len(rows(filled, ref="HEAD~1")) == 10


def test_delete_and_merge_by_temporal_keys(repo: Repo) -> None:
    """Keys of every type delete: timestamps (with and without zone), dates, strings."""
    days = [dt.datetime(2024, 1, d) for d in range(1, 6)]
    t = pa.table(
        {
            "ts": pa.array(days, pa.timestamp("us")),
            "tz": pa.array(days, pa.timestamp("ns", tz="UTC")),
            "day": pa.array([d.date() for d in days], pa.date32()),
            "name": ["a'b", 'c"d', "e\\f", "g h", "i"],
            "v": [1, 2, 3, 4, 5],
        }
    )
    for i, key in enumerate(["ts", "tz", "day", "name"]):
        name = f"k{i}"
        repo.ingest(name, t, key=key)
        c = repo.ingest(name, t.select([key]).slice(0, 3), mode="delete")
        assert c.changes[name]["deleted"] == 3, key
        assert repo.read(name).column("v").to_pylist() == [4, 5], key
    # A three-way merge that deletes rows by a timestamp key.
    repo.create_branch("dev")
    repo.ingest("k0", t.slice(3, 1).select(["ts"]), mode="delete", branch="dev")
    repo.ingest("k0", t.slice(0, 1), mode="upsert")
    repo.merge("dev")
    assert sorted(repo.read("k0").column("v").to_pylist()) == [1, 5]


def test_composite_key(repo: Repo) -> None:
    t = pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"], "v": [1, 2, 3]})
    repo.ingest("c", t, key=["a", "b"])
    assert repo.datasets.key("c") == ["a", "b"]
    c = repo.ingest("c", pa.table({"a": [1, 3], "b": ["y", "x"], "v": [20, 4]}), mode="upsert")
    assert (c.changes["c"]["inserted"], c.changes["c"]["updated"]) == (1, 1)
    got = repo.read("c").sort_by([("a", "ascending"), ("b", "ascending")]).to_pylist()
    assert got == [
        {"a": 1, "b": "x", "v": 1},
        {"a": 1, "b": "y", "v": 20},
        {"a": 2, "b": "x", "v": 3},
        {"a": 3, "b": "x", "v": 4},
    ]
    c = repo.ingest("c", pa.table({"a": [1], "b": ["x"]}), mode="delete")
    assert c.changes["c"]["deleted"] == 1 and c.pins["c"].num_rows == 3
    with pytest.raises(tillage.KeyViolationError, match="duplicate"):
        repo.ingest("c", pa.table({"a": [9, 9], "b": ["z", "z"], "v": [0, 0]}))


def test_evolve_adds_columns(filled: Repo) -> None:
    t = table([10, 11]).append_column("w", pa.array([1, 2], pa.int32()))
    c = filled.ingest("t", t, evolve=True)
    assert c.changes["t"]["added_columns"] == ["w"]
    assert filled.datasets.schema("t").names == ["id", "v", "s", "w"]
    got = by_id(filled)
    assert got[0]["w"] is None and got[11]["w"] == 2
    # The version before still has the old schema.
    assert filled.datasets.schema("t", "HEAD~1").names == ["id", "v", "s"]
    # A batch without the new column now lacks a column.
    with pytest.raises(tillage.SchemaMismatchError, match="missing columns w"):
        filled.ingest("t", table([12]))


def test_types_are_cast_safely_to_the_dataset(filled: Repo) -> None:
    t = pa.table({"id": pa.array([10], pa.int32()), "v": [1], "s": ["x"]})
    filled.ingest("t", t)
    assert filled.datasets.schema("t").field("id").type == pa.int64()
    assert by_id(filled)[10] == {"id": 10, "v": 1.0, "s": "x"}


# -- commit metadata ---------------------------------------------------------------------


def test_commit_metadata(filled: Repo) -> None:
    first = filled.refs.commit()
    assert first.parents == ()
    assert first.message == "ten rows"
    assert first.principal == "tester"
    assert first.tillage_version == tillage.__version__
    assert first.pins == {"t": tillage.DatasetPin("main", first.pins["t"].version, 10)}
    assert first.changes["t"]["op"] == "create"
    assert first.changes["t"]["key"] == ["id"]
    second = filled.ingest("t", table([10]))
    assert second.parents == (first.id,)
    assert second.pins["t"].lance_branch == "main"
    assert second.pins["t"].version > first.pins["t"].version
    assert second.pins["t"].num_rows == 11
    assert second.message == "append t: +1 ~0 -0 rows"
    assert second.created_at > first.created_at
    # What the catalog stores is what ingest returned.
    assert filled.refs.commit(second.id) == second


def test_principal_from_env_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "pipeline-7")
    repo = tillage.init(tmp_path / "p")
    assert repo.ingest("t", table([1]), key="id").principal == "pipeline-7"
    config = tmp_path / "p" / ".tillage" / "config.yaml"
    config.write_text(config.read_text() + "principal: alice\n")
    reopened = tillage.open(tmp_path / "p")
    assert reopened.ingest("t", table([2])).principal == "alice"  # config wins over env


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_code_version_from_git(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside git: no code version.
    c0 = repo.ingest("t", table([0]), key="id")
    assert c0.code == tillage.CodeVersion(None, False)
    code = tmp_path / "code"
    code.mkdir()
    _git(code, "init", "-q")
    (code / "train.py").write_text("print(1)\n")
    _git(code, "add", "train.py")
    _git(code, "commit", "-q", "-m", "first")
    sha = _git(code, "rev-parse", "HEAD")
    monkeypatch.chdir(code)
    c1 = repo.ingest("t", table([1]))
    assert c1.code == tillage.CodeVersion(sha, False)
    (code / "notes.txt").write_text("untracked files do not make it dirty\n")
    assert repo.ingest("t", table([2])).code == tillage.CodeVersion(sha, False)
    (code / "train.py").write_text("print(2)\n")
    c3 = repo.ingest("t", table([3]))
    assert c3.code == tillage.CodeVersion(sha, True)
    assert repo.refs.commit(c3.id).code == tillage.CodeVersion(sha, True)
    # An explicit code version wins.
    given = tillage.CodeVersion("abc123", False)
    assert repo.ingest("t", table([4]), code=given).code == given


def test_commit_ids_are_content_hashes(filled: Repo) -> None:
    stored = filled.refs.commit()
    fields: dict[str, Any] = {
        "parents": stored.parents,
        "pins": stored.pins,
        "message": stored.message,
        "created_at": stored.created_at,
        "principal": stored.principal,
        "tillage_version": stored.tillage_version,
        "code": stored.code,
        "changes": stored.changes,
    }
    assert Commit.make(**fields).id == stored.id
    assert Commit.make(**fields) == Commit.make(**fields)
    assert len(stored.id) == 64 and int(stored.id, 16) >= 0
    assert Commit.make(**{**fields, "message": "other"}).id != stored.id
    assert Commit.make(**{**fields, "principal": "other"}).id != stored.id
    moved = {"t": tillage.DatasetPin("main", stored.pins["t"].version + 1, 10)}
    assert Commit.make(**{**fields, "pins": moved}).id != stored.id
    # Two identical writes at different times are different commits.
    a = filled.ingest("t", table([10]), mode="upsert")
    b = filled.ingest("t", table([10]), mode="upsert")
    assert a.id != b.id and b.parents == (a.id,)


# -- refs --------------------------------------------------------------------------------


def test_refs_resolve(filled: Repo) -> None:
    c1 = filled.refs.commit()
    c2 = filled.ingest("t", table([10]))
    c3 = filled.ingest("t", table([11]))
    filled.create_tag("v1", c2.id)
    filled.create_branch("dev", "main~1")
    assert filled.refs.resolve("main") == c3.id
    assert filled.refs.resolve("HEAD") == c3.id
    assert filled.refs.resolve() == c3.id
    assert filled.refs.resolve("main~2") == c1.id
    assert filled.refs.resolve("HEAD~") == c2.id
    assert filled.refs.resolve("v1") == c2.id
    assert filled.refs.resolve("v1~1") == c1.id
    assert filled.refs.resolve("dev") == c2.id
    assert filled.refs.resolve(c3.id) == c3.id
    assert filled.refs.resolve(c1.id[:10]) == c1.id
    assert filled.refs.branches() == {"dev": c2.id, "main": c3.id}
    assert filled.refs.tags() == {"v1": c2.id}
    assert len(rows(filled, ref="v1")) == 11
    assert len(rows(filled, ref=c1.id[:8])) == 10
    with pytest.raises(tillage.NoSuchRefError, match="fewer than 3"):
        filled.refs.resolve("main~3")
    with pytest.raises(tillage.NoSuchRefError):
        filled.refs.resolve(c1.id[:3])  # too short to be a prefix
    with pytest.raises(tillage.RefExistsError, match="pick another name"):
        filled.create_branch("dev")
    with pytest.raises(tillage.RefExistsError):
        filled.create_tag("v1")


def test_create_branch_copies_no_data(filled: Repo) -> None:
    filled.ingest("t", table([10, 11]))
    files = sorted(p for p in filled._storage.tables.root.rglob("*") if p.is_file())
    size = filled._storage.tables.size_bytes()
    versions = lance_state(filled, "t")
    start = filled.create_branch("dev")
    assert start == filled.refs.resolve("main")
    assert sorted(p for p in filled._storage.tables.root.rglob("*") if p.is_file()) == files
    assert filled._storage.tables.size_bytes() == size
    assert lance_state(filled, "t") == versions
    assert filled.datasets.pins("dev") == filled.datasets.pins("main")


def test_write_on_branch_leaves_main_alone(filled: Repo) -> None:
    main_before = filled.refs.commit("main")
    main_rows = rows(filled)
    filled.create_branch("dev")
    c = filled.ingest("t", table([3, 50], v=[-3.0, 50.0]), mode="upsert", branch="dev")
    assert c.pins["t"].lance_branch != "main"
    assert filled.refs.commit("main") == main_before
    assert rows(filled) == main_rows
    assert by_id(filled, ref="dev")[3]["v"] == -3.0
    assert len(rows(filled, ref="dev")) == 11
    # A second write on the branch continues its own Lance branch.
    c2 = filled.ingest("t", table([51]), branch="dev")
    assert c2.pins["t"].lance_branch == c.pins["t"].lance_branch
    assert c2.pins["t"].version == c.pins["t"].version + 1
    # Main moves on independently.
    filled.ingest("t", table([60]))
    assert 60 not in by_id(filled, ref="dev")
    assert 51 not in by_id(filled, ref="main")


def test_switch(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.refs.switch("dev")
    assert filled.refs.current_branch == "dev"
    c = filled.ingest("t", table([10]))  # goes to the current branch
    assert filled.refs.resolve("dev") == c.id
    assert filled.refs.resolve("HEAD") == c.id
    assert filled.refs.resolve("main") == c.parents[0]
    assert filled.refs.status().branch == "dev"
    # A new handle sees the switch.
    again = tillage.open(filled.path)
    assert again.refs.current_branch == "dev"
    filled.refs.switch("main")
    assert len(rows(filled)) == 10


def test_status(filled: Repo) -> None:
    filled.create_tag("v1")
    st = filled.refs.status()
    assert st.branch == "main"
    assert st.head == filled.refs.resolve("main")
    assert [(d.name, d.key, d.rows) for d in st.datasets] == [("t", ["id"], 10)]
    assert st.storage_bytes > 0
    assert (st.branches, st.tags) == (1, 1)


def test_empty_repository(repo: Repo) -> None:
    assert repo.refs.resolve() is None
    assert repo.refs.log() == []
    assert repo.datasets.pins() == {}
    assert repo.refs.status().head is None
    with pytest.raises(tillage.NoSuchRefError, match="no commits yet"):
        repo.refs.commit()


def test_log_filters_by_dataset(filled: Repo) -> None:
    filled.ingest("u", table([1]), key="id")
    filled.ingest("t", table([10]))
    assert len(filled.refs.log()) == 3
    assert [c.changes.keys() for c in filled.refs.log(dataset="u")] == [{"u": 0}.keys()]
    assert len(filled.refs.log(dataset="t")) == 2
    assert len(filled.refs.log(limit=1)) == 1


# -- diff --------------------------------------------------------------------------------


def test_diff_rows_and_columns(filled: Repo) -> None:
    filled.ingest("t", table([1, 2, 3], v=[-1.0, -2.0, 3.0], s=["s1", "S2", "S3"]), mode="upsert")
    filled.ingest("t", pa.table({"id": [0, 9]}), mode="delete")
    filled.ingest("t", table([10, 11]))
    (d,) = filled.diff("main~3", "main")
    assert d.dataset == "t" and d.status == "modified" and d.key == ["id"]
    assert (d.rows_before, d.rows_after) == (10, 10)
    assert (d.added, d.removed, d.changed) == (2, 2, 3)
    assert d.column_changes == {"v": 2, "s": 2}
    assert d.schema.empty
    assert d.samples["added"] == table([10, 11]).to_pylist()
    assert d.samples["removed"] == table([0, 9]).to_pylist()
    assert d.samples["changed"] == [
        {"key": {"id": 1}, "changes": {"v": [1.0, -1.0]}},
        {"key": {"id": 2}, "changes": {"v": [2.0, -2.0], "s": ["s2", "S2"]}},
        {"key": {"id": 3}, "changes": {"s": ["s3", "S3"]}},
    ]
    # Fewer samples, same counts; and the other direction.
    (small,) = filled.diff("main~3", rows=1)
    assert len(small.samples["changed"]) == 1 and small.column_changes == d.column_changes
    (back,) = filled.diff("main", "main~3")
    assert (back.added, back.removed, back.changed) == (2, 2, 3)


def test_diff_datasets_added_and_unchanged(filled: Repo) -> None:
    first = filled.refs.resolve()
    assert first is not None
    filled.ingest("u", table([1, 2]), key="id")
    diffs = {d.dataset: d for d in filled.diff(first)}
    assert diffs["t"].status == "unchanged"
    assert (diffs["t"].added, diffs["t"].removed, diffs["t"].changed) == (0, 0, 0)
    assert diffs["u"].status == "added" and diffs["u"].added == 2
    assert diffs["u"].samples["added"] == table([1, 2]).to_pylist()
    back = {d.dataset: d for d in filled.diff("HEAD", first)}
    assert back["u"].status == "removed" and back["u"].removed == 2
    # Only one dataset.
    assert [d.dataset for d in filled.diff(first, dataset="u")] == ["u"]
    with pytest.raises(tillage.NoSuchDatasetError):
        filled.diff(first, dataset="nope")
    # Same content written twice: the versions differ but nothing changed.
    filled.ingest("t", table([4]), mode="upsert")
    (same,) = filled.diff("HEAD~1", dataset="t")
    assert same.status == "unchanged" and same.changed == 0


def test_diff_schema_changes(filled: Repo) -> None:
    filled.ingest("t", table([10]).append_column("w", pa.array([7], pa.int64())), evolve=True)
    (d,) = filled.diff("HEAD~1")
    assert d.schema.added == [("w", "int64")]
    assert d.schema.removed == [] and d.schema.retyped == []
    assert d.added == 1 and d.status == "modified"
    # Retype a column (an overwrite with evolve may change the schema).
    retyped = pa.table({"id": list(range(10)), "v": [str(i) for i in range(10)], "s": ["x"] * 10})
    filled.ingest("t", retyped, mode="overwrite", evolve=True)
    (d2,) = filled.diff("HEAD~1")
    assert d2.schema.retyped == [("v", "double", "string")]
    assert d2.schema.removed == [("w", "int64")]
    assert d2.removed == 1  # id 10
    assert d2.column_changes == {"s": 10}  # v is retyped, not compared cell by cell


# -- merge -------------------------------------------------------------------------------


def test_merge_fast_forward_and_up_to_date(filled: Repo) -> None:
    filled.create_branch("dev")
    c = filled.ingest("t", table([10]), branch="dev")
    r = filled.merge("dev")
    assert (r.kind, r.commit, r.target) == ("fast-forward", c.id, "main")
    assert filled.refs.resolve("main") == c.id
    assert rows(filled) == rows(filled, ref="dev")
    again = filled.merge("dev")
    assert again.kind == "up-to-date" and again.commit == c.id
    older = filled.merge("main~1")
    assert older.kind == "up-to-date"
    assert filled.refs.resolve("main") == c.id


def test_three_way_merge_non_overlapping(filled: Repo) -> None:
    filled.create_branch("dev")
    base = filled.refs.resolve()
    # ours (main): change v of 1, s of 2, delete 3, add 20
    filled.ingest("t", table([1], v=[-1.0]), mode="upsert")
    filled.ingest("t", table([2], s=["main2"]), mode="upsert")
    filled.ingest("t", pa.table({"id": [3]}), mode="delete")
    filled.ingest("t", table([20]))
    # theirs (dev): change s of 1 (same row, other column), v of 4, delete 5, add 30
    filled.ingest("t", table([1], s=["dev1"]), mode="upsert", branch="dev")
    filled.ingest("t", table([4], v=[-4.0]), mode="upsert", branch="dev")
    filled.ingest("t", pa.table({"id": [5]}), mode="delete", branch="dev")
    filled.ingest("t", table([30]), branch="dev")
    ours, theirs = filled.refs.resolve("main"), filled.refs.resolve("dev")
    dev_rows = rows(filled, ref="dev")
    r = filled.merge("dev")
    assert r.kind == "merge" and r.base == base
    merged = filled.refs.commit()
    assert merged.id == r.commit
    assert merged.parents == (ours, theirs)
    want = {i: {"id": i, "v": float(i), "s": f"s{i}"} for i in range(10) if i not in (3, 5)}
    want[1] = {"id": 1, "v": -1.0, "s": "dev1"}
    want[2] = {"id": 2, "v": 2.0, "s": "main2"}
    want[4] = {"id": 4, "v": -4.0, "s": "s4"}
    want[20] = {"id": 20, "v": 20.0, "s": "s20"}
    want[30] = {"id": 30, "v": 30.0, "s": "s30"}
    assert by_id(filled) == want
    assert merged.pins["t"].num_rows == len(want)
    assert rows(filled, ref="dev") == dev_rows  # the source is untouched
    # Merging again is a no-op; merging main into dev now fast-forwards.
    assert filled.merge("dev").kind == "up-to-date"
    assert filled.merge("main", into="dev").kind == "fast-forward"
    assert by_id(filled, ref="dev") == want


def test_merge_conflict_writes_nothing(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([1, 2], v=[100.0, 2.0]), mode="upsert")
    filled.ingest("t", table([1, 2], v=[200.0, 2.0], s=["s1", "dev2"]), mode="upsert", branch="dev")
    before = snapshot(filled)
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    e = err.value
    assert e.conflicts == [
        {
            "dataset": "t",
            "key": {"id": 1},
            "column": "v",
            "base": 1.0,
            "ours": 100.0,
            "theirs": 200.0,
        }
    ]
    msg = str(e)
    assert "key {'id': 1} column v: base 1.0, ours 100.0, theirs 200.0" in msg
    assert "nothing was written" in msg and "--prefer ours|theirs" in msg
    assert snapshot(filled) == before


@pytest.mark.parametrize("prefer", ["ours", "theirs"])
def test_merge_prefer(filled: Repo, prefer: str) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([1], v=[100.0]), mode="upsert")
    filled.ingest("t", table([1, 2], v=[200.0, 2.0], s=["s1", "dev2"]), mode="upsert", branch="dev")
    r = filled.merge("dev", prefer=prefer)  # type: ignore[arg-type]
    assert r.kind == "merge"
    got = by_id(filled)
    assert got[1] == {"id": 1, "v": 100.0 if prefer == "ours" else 200.0, "s": "s1"}
    assert got[2] == {"id": 2, "v": 2.0, "s": "dev2"}  # non-conflicting change always taken
    assert len(got) == 10


def test_merge_delete_vs_update(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([3], v=[-3.0]), mode="upsert")
    filled.ingest("t", pa.table({"id": [3]}), mode="delete", branch="dev")
    before = snapshot(filled)
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    (c,) = err.value.conflicts
    assert (c["dataset"], c["key"], c["column"]) == ("t", {"id": 3}, "(row)")
    assert (c["ours"], c["theirs"]) == ("changed", "deleted")
    assert snapshot(filled) == before
    filled.merge("dev", prefer="ours")
    assert by_id(filled)[3]["v"] == -3.0
    filled.refs.reset("HEAD~1")
    filled.merge("dev", prefer="theirs")
    assert 3 not in by_id(filled) and len(rows(filled)) == 9
    # The other way round: ours deleted, theirs changed.
    filled.refs.reset("HEAD~1")
    filled.create_branch("dev2", "main")
    filled.ingest("t", table([4], v=[-4.0]), mode="upsert", branch="dev2")
    filled.ingest("t", pa.table({"id": [4]}), mode="delete")
    with pytest.raises(tillage.MergeConflictError) as err2:
        filled.merge("dev2")
    (c2,) = err2.value.conflicts
    assert (c2["key"], c2["ours"], c2["theirs"]) == ({"id": 4}, "deleted", "changed")


def test_merge_same_key_added_on_both_sides(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([50], v=[1.0]))
    filled.ingest("t", table([50], v=[2.0]), branch="dev")
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    (c,) = err.value.conflicts
    assert (c["key"], c["column"], c["base"], c["ours"], c["theirs"]) == (
        {"id": 50},
        "v",
        None,
        1.0,
        2.0,
    )
    # Both sides adding the very same row is no conflict.
    filled.refs.reset("HEAD~1")
    filled.ingest("t", table([50], v=[2.0]))
    filled.merge("dev")
    assert by_id(filled)[50]["v"] == 2.0


def test_merge_dataset_added_on_one_side(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("u", table([1, 2]), key="id", branch="dev")
    filled.ingest("t", table([10]))  # main moves too: a real three-way merge
    r = filled.merge("dev")
    assert r.kind == "merge"
    assert set(filled.datasets.pins()) == {"t", "u"}
    assert rows(filled, "u") == table([1, 2]).to_pylist()
    assert len(rows(filled, "t")) == 11
    # And the other way: dev has not seen "t"'s change; merging main into dev adds it.
    filled.create_branch("dev3", "main~1")
    filled.ingest("w", table([7]), key="id")
    filled.ingest("t", table([3], v=[-3.0]), mode="upsert", branch="dev3")
    filled.merge("main", into="dev3")
    assert set(filled.datasets.pins("dev3")) == {"t", "u", "w"}
    assert by_id(filled, "t", "dev3")[3]["v"] == -3.0
    assert 10 in by_id(filled, "t", "dev3")


def test_merge_dataset_added_on_both_sides(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("u", table([1]), key="id", branch="dev")
    filled.ingest("u", table([2]), key="id")
    assert rows(filled, "u") == table([2]).to_pylist()
    assert rows(filled, "u", "dev") == table([1]).to_pylist()
    before = snapshot(filled)
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    (c,) = err.value.conflicts
    assert (c["dataset"], c["column"], c["base"]) == ("u", "(dataset)", "absent")
    assert snapshot(filled) == before
    filled.merge("dev", prefer="theirs")
    assert rows(filled, "u") == table([1]).to_pylist()


def test_merge_schema_change_against_row_changes(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([10]).append_column("w", pa.array([1])), evolve=True, branch="dev")
    filled.ingest("t", table([1], v=[-1.0]), mode="upsert")
    before = snapshot(filled)
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    (c,) = err.value.conflicts
    assert (c["dataset"], c["column"]) == ("t", "(schema)")
    assert "changed the columns" in c["theirs"]
    assert snapshot(filled) == before


# -- revert, reset, gc -------------------------------------------------------------------


def test_revert_latest_commit(filled: Repo) -> None:
    before = rows(filled)
    bad = filled.ingest("t", table([1, 2, 40], v=[-1.0, -2.0, 40.0]), mode="upsert", message="oops")
    c = filled.refs.revert("HEAD")
    assert c.parents == (bad.id,)
    assert c.message.startswith(f"revert {bad.short_id}: oops")
    assert rows(filled) == before
    assert c.pins["t"].num_rows == 10


def test_revert_older_commit_keeps_later_ones(filled: Repo) -> None:
    bad = filled.ingest("t", pa.table({"id": [4, 5]}), mode="delete")
    filled.ingest("t", table([20]))
    filled.ingest("t", table([6], v=[-6.0]), mode="upsert")
    filled.refs.revert(bad.id)
    got = by_id(filled)
    assert sorted(got) == [*range(10), 20]
    assert got[4] == {"id": 4, "v": 4.0, "s": "s4"} and got[6]["v"] == -6.0
    # Reverting the delete of rows a later commit changed conflicts.
    bad2 = filled.ingest("t", table([7], v=[-7.0]), mode="upsert")
    filled.ingest("t", table([7], v=[-70.0]), mode="upsert")
    before = snapshot(filled)
    with pytest.raises(tillage.MergeConflictError):
        filled.refs.revert(bad2.id)
    assert snapshot(filled) == before


def test_revert_root_commit_drops_what_it_created(filled: Repo) -> None:
    root = filled.refs.commit()
    filled.ingest("u", table([1]), key="id")
    c = filled.refs.revert(root.id)
    assert set(c.pins) == {"u"}
    assert set(filled.datasets.pins()) == {"u"}
    with pytest.raises(tillage.NoSuchDatasetError):
        filled.read("t")
    assert len(rows(filled, ref=root.id)) == 10


def test_reset(filled: Repo) -> None:
    first = filled.refs.commit()
    later = filled.ingest("t", table([10, 11]))
    filled.ingest("t", table([12]))
    back = filled.refs.reset(first.id)
    assert back.id == first.id
    assert filled.refs.resolve("main") == first.id
    assert len(rows(filled)) == 10
    assert [c.id for c in filled.refs.log()] == [first.id]
    # Commits after it stay readable by id, also after new writes on the branch.
    assert len(rows(filled, ref=later.id)) == 12
    new = filled.ingest("t", table([30]))
    assert new.parents == (first.id,)
    assert [r["id"] for r in rows(filled)] == [*range(10), 30]
    assert [r["id"] for r in rows(filled, ref=later.id)] == list(range(12))
    assert len(rows(filled, ref=later.id[:12] + "~0")) == 12


def _all_reachable(repo: Repo) -> dict[str, Commit]:
    commits = repo._storage.catalog.all_commits()
    out: dict[str, Commit] = {}
    for head in [*repo.refs.branches().values(), *repo.refs.tags().values()]:
        stack = [head] if head else []
        while stack:
            cid = stack.pop()
            if cid in out:
                continue
            out[cid] = commits[cid]
            stack.extend(commits[cid].parents)
    return out


def test_gc_removes_unreachable_and_keeps_reachable(filled: Repo) -> None:
    # A history with branches, merges, overwrites, a tag and a deleted branch.
    filled.create_branch("dev")
    filled.ingest("t", table([1], v=[-1.0]), mode="upsert", branch="dev")
    filled.ingest("u", table([1, 2]), key="id", branch="dev")
    filled.ingest("t", table([20]))
    filled.merge("dev")
    filled.create_branch("tmp")
    filled.ingest("t", table(list(range(100, 160))), branch="tmp")
    filled.create_tag("kept", "tmp")
    filled.ingest("t", table(list(range(200, 260))), branch="tmp")
    filled.refs.delete_branch("tmp")
    filled.ingest("t", table(list(range(300, 360))))
    filled.ingest("t", table([5]), mode="overwrite")
    filled.ingest("t", table(list(range(400, 460))))
    filled.refs.reset("HEAD~2")  # the overwrite and the last append become unreachable
    reachable = _all_reachable(filled)
    expected = {
        (cid, name): rows(filled, name, cid) for cid, c in reachable.items() for name in c.pins
    }
    total = len(filled._storage.catalog.all_commits())
    report = filled.datasets.gc()
    assert report.commits_removed == total - len(reachable) == 3
    assert report.bytes_after < report.bytes_before
    assert filled._storage.tables.size_bytes() == report.bytes_after
    assert set(filled._storage.catalog.all_commits()) == set(reachable)
    for (cid, name), want in expected.items():
        assert rows(filled, name, cid) == want
        assert filled.read(name, cid).num_rows == reachable[cid].pins[name].num_rows
    # The repository keeps working, and a second gc finds nothing more to do.
    filled.ingest("t", table([999]))
    filled.ingest("t", table([1000]), branch="dev")
    again = filled.datasets.gc()
    assert again.commits_removed == 0
    assert 999 in by_id(filled) and 1000 in by_id(filled, ref="dev")
    assert len(rows(filled, ref="kept")) == len(expected[(filled.refs.resolve("kept") or "", "t")])


def test_gc_drops_data_only_unreachable_commits_used(filled: Repo) -> None:
    filled.create_branch("scratch")
    filled.ingest("big", table(list(range(500))), key="id", branch="scratch")
    filled.refs.delete_branch("scratch")
    size = filled._storage.tables.size_bytes()
    report = filled.datasets.gc()
    assert report.commits_removed == 1
    assert report.datasets_removed == 1
    assert filled._storage.tables.size_bytes() < size
    assert not (filled._storage.tables.root / "big.lance").exists()
    assert "big" not in filled._storage.catalog.list_datasets()
    assert len(rows(filled)) == 10
    # The name is free again.
    filled.ingest("big", table([1]), key="id")
    assert len(rows(filled, "big")) == 1


def test_gc_after_deleting_nested_branches(filled: Repo) -> None:
    """A branch forked from a branch: both deleted, gc drops both Lance branches."""
    filled.create_branch("feature-with-a-long-name")
    filled.ingest("t", table([10]), branch="feature-with-a-long-name")
    filled.create_branch("x", "feature-with-a-long-name")
    filled.ingest("t", table([11]), branch="x")
    filled.create_branch("y", "x")
    filled.ingest("t", table([12]), branch="y")
    assert len(filled._storage.tables.lance_branches("t")) == 3
    filled.refs.delete_branch("feature-with-a-long-name")
    filled.refs.delete_branch("x")
    report = filled.datasets.gc()  # y keeps the history of its parents alive
    assert report.commits_removed == 0
    assert [r["id"] for r in rows(filled, ref="y")] == [*range(10), 10, 11, 12]
    filled.refs.delete_branch("y")
    report = filled.datasets.gc()
    assert report.commits_removed == 3
    assert report.lance_branches_removed == 3
    assert filled._storage.tables.lance_branches("t") == []
    assert not list((Path(filled._storage.tables.uri("t")) / "tree").glob("*"))
    assert len(rows(filled)) == 10


def test_gc_on_empty_repository(repo: Repo) -> None:
    report = repo.datasets.gc()
    assert report.commits_removed == 0 and report.bytes_after == report.bytes_before


# -- bad input: specific errors, clear messages, nothing changed ---------------------------


def expect_unchanged(
    repo: Repo,
    error: type[tillage.TillageError],
    action: Callable[[], object],
    *phrases: str,
) -> tillage.TillageError:
    """Run ``action``: it must raise ``error`` naming every phrase and change nothing."""
    before = snapshot(repo)
    with pytest.raises(error) as err:
        action()
    assert type(err.value) is error, f"{type(err.value).__name__} is not {error.__name__}"
    msg = str(err.value)
    for phrase in phrases:
        assert phrase in msg, f"{phrase!r} not in {msg!r}"
    assert snapshot(repo) == before
    return err.value


def test_unknown_dataset(filled: Repo) -> None:
    e = expect_unchanged(
        filled,
        tillage.NoSuchDatasetError,
        lambda: filled.read("nope"),
        "'nope' does not exist",
        "datasets there: t",
        "Check the name, or create it",
    )
    assert e.code == "no_such_dataset"
    expect_unchanged(
        filled,
        tillage.NoSuchDatasetError,
        lambda: filled.ingest("nope", pa.table({"id": [1]}), mode="delete"),
        "'nope' does not exist",
    )
    expect_unchanged(
        filled, tillage.NoSuchDatasetError, lambda: filled.datasets.key("nope"), "Check the name"
    )


def test_new_dataset_needs_a_key(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("u", table([1])),
        "'u' is new",
        "key='col'",
    )


def test_unknown_ref_and_branch(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.NoSuchRefError,
        lambda: filled.read("t", "nope"),
        "no branch, tag or commit named 'nope'",
        "tillage log",
    )
    expect_unchanged(
        filled, tillage.NoSuchRefError, lambda: filled.refs.commit("deadbeef00"), "log"
    )
    expect_unchanged(filled, tillage.NoSuchRefError, lambda: filled.merge("nope"), "'nope'")
    expect_unchanged(
        filled, tillage.NoSuchRefError, lambda: filled.create_branch("x", "nope"), "'nope'"
    )
    for action in (
        lambda: filled.ingest("t", table([10]), branch="nope"),
        lambda: filled.refs.switch("nope"),
        lambda: filled.merge("main", into="nope"),
        lambda: filled.refs.reset("main", branch="nope"),
        lambda: filled.refs.delete_branch("nope"),
    ):
        expect_unchanged(filled, tillage.NoSuchRefError, action, "no branch named 'nope'", "--list")
    filled.create_tag("v1")
    # A tag is not a branch.
    expect_unchanged(
        filled,
        tillage.NoSuchRefError,
        lambda: filled.ingest("t", table([10]), branch="v1"),
        "no branch named 'v1'",
    )
    expect_unchanged(filled, tillage.NoSuchRefError, lambda: filled.refs.delete_tag("main"), "tag")


BAD_FILES: dict[str, tuple[bytes | None, str]] = {
    # name: (content, or None for "a real Parquet file cut in half"), phrase in the message
    "csv-as.parquet": (b"id,v,s\n1,1.0,a\n", "not a Parquet file"),
    "truncated.parquet": (None, "truncated"),
    "empty.csv": (b"", "the file is empty"),
    "empty.parquet": (b"", "the file is empty"),
    "parquet-as.jsonl": (b"PAR1\x00\x01\x02garbage", "not valid jsonl"),
    "csv-as.arrow": (b"id,v,s\n1,1.0,a\n", "not valid arrow"),
    "csv-as.feather": (b"id,v,s\n1,1.0,a\n", "not valid arrow"),
    "array.json": (b'[{"id": 1}]', "not valid jsonl"),
    "parquet-as.csv": (b"PAR1\x15\x04\x15\x00,\x00\x01\x02\n\x00\x1b\x07PAR1", "not valid csv"),
    "data.txt": (b"id,v,s\n1,1.0,a\n", "unknown extension '.txt'"),
    "data": (b"id,v,s\n1,1.0,a\n", "unknown extension '(none)'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_files(filled: Repo, tmp_path: Path, name: str) -> None:
    content, phrase = BAD_FILES[name]
    path = tmp_path / name
    if content is None:
        pq.write_table(table(list(range(50))), path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    for dataset, key in (("t", None), ("new", "id")):
        e = expect_unchanged(
            filled,
            tillage.UnreadableFileError,
            lambda d=dataset, k=key: filled.ingest(d, path, key=k),  # type: ignore[misc]
            repr(str(path)),
            phrase,
        )
        msg = str(e)
        fixes = ("extension of its real format", "Write the file again", "rows in it", "Use one")
        assert any(f in msg for f in fixes), msg
        assert msg.isprintable(), msg  # one line, no bytes of the file


def test_missing_file_and_bad_file_among_good_ones(filled: Repo, tmp_path: Path) -> None:
    good = write_parquet(tmp_path / "good.parquet", table([10]))
    expect_unchanged(
        filled,
        tillage.UnreadableFileError,
        lambda: filled.ingest("t", tmp_path / "missing.parquet"),
        "no such file",
        "Check the path",
    )
    bad = tmp_path / "bad.parquet"
    bad.write_text("id\n1\n")
    expect_unchanged(
        filled, tillage.UnreadableFileError, lambda: filled.ingest("t", [good, bad]), "bad.parquet"
    )
    other = write_parquet(tmp_path / "other.parquet", pa.table({"id": [11], "z": [1]}))
    expect_unchanged(
        filled,
        tillage.UnreadableFileError,
        lambda: filled.ingest("t", [good, other]),
        "other.parquet",
        "same columns together",
    )


def test_unsupported_object(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", {"id": [1]}),
        "cannot ingest a dict",
        "Arrow table",
    )


def test_columns_datasets_cannot_hold(filled: Repo) -> None:
    dup = pa.Table.from_arrays([pa.array([10]), pa.array([1.0]), pa.array(["x"])], ["id", "v", "v"])
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", dup),
        "column(s) v more than once",
        "rename or drop",
    )
    dotted = pa.table({"id": [1], "a.b": [1]})
    for dataset, key in (("t", None), ("new", "id")):
        expect_unchanged(
            filled,
            tillage.InputError,
            lambda d=dataset, k=key: filled.ingest(d, dotted, key=k),  # type: ignore[misc]
            "a.b with a '.'",
            "rename them",
        )
    mapped = pa.table({"id": [1], "m": pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64()))})
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("new", mapped, key="id"),
        "m (map<string, int64>)",
        "cast them",
    )
    interval = pa.table({"id": [1], "i": pa.array([pa.MonthDayNano([1, 2, 3])])})
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("new", interval, key="id"),
        "i (month_day_nano_interval)",
    )
    listed = pa.table({"id": pa.array([[1], [2]]), "v": [1, 2]})
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("new", listed, key="id"),
        "key column(s) id (list<item: int64>)",
        "Choose other --key",
    )
    mixed = pd.DataFrame({"id": [10, 11], "v": [1.0, 2.0], "s": ["a", 3]})
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", mixed),
        "cannot convert the data frame",
        "astype(str)",
    )
    # Lists and structs are fine outside the key.
    nested = pa.table({"id": [1], "l": [[1, 2]], "st": [{"a": 1}]})
    filled.ingest("nested", nested, key="id")
    assert filled.read("nested").to_pylist() == nested.to_pylist()


def test_schema_conflicts(filled: Repo) -> None:
    e = expect_unchanged(
        filled,
        tillage.SchemaMismatchError,
        lambda: filled.ingest("t", pa.table({"id": [10], "v": ["high"], "extra": [1]})),
        "new columns extra",
        "missing columns s",
        "column v is string, dataset has double",
        "Make the batch match",
    )
    assert isinstance(e, tillage.SchemaMismatchError)
    assert (e.added, e.missing, e.retyped) == (["extra"], ["s"], [["v", "double", "string"]])
    # Only new columns: evolve is the fix, and evolve accepts them.
    t = table([10]).append_column("extra", pa.array([1]))
    expect_unchanged(
        filled,
        tillage.SchemaMismatchError,
        lambda: filled.ingest("t", t),
        "new columns extra",
        "evolve=True",
    )
    for mode in ("upsert", "overwrite"):
        expect_unchanged(
            filled,
            tillage.SchemaMismatchError,
            lambda m=mode: filled.ingest("t", t, mode=m),  # type: ignore[misc]
            "new columns extra",
        )
    filled.ingest("t", t, evolve=True)
    assert by_id(filled)[10]["extra"] == 1


def test_key_violations(filled: Repo) -> None:
    dup = table([10, 11, 10])
    for dataset, key in (("t", None), ("new", "id")):
        expect_unchanged(
            filled,
            tillage.KeyViolationError,
            lambda d=dataset, k=key: filled.ingest(d, dup, key=k),  # type: ignore[misc]
            "1 duplicate key(s)",
            "primary key (id)",
            "e.g. 10",
            "Remove or fix those rows",
        )
    expect_unchanged(
        filled,
        tillage.KeyViolationError,
        lambda: filled.ingest("t", dup, mode="upsert"),
        "duplicate",
    )
    nulls = pa.table({"id": pa.array([10, None], pa.int64()), "v": [1.0, 2.0], "s": ["a", "b"]})
    for mode in ("append", "upsert", "overwrite"):
        expect_unchanged(
            filled,
            tillage.KeyViolationError,
            lambda m=mode: filled.ingest("t", nulls, mode=m),  # type: ignore[misc]
            "null values in column id",
            "row 1",
        )
    expect_unchanged(
        filled,
        tillage.KeyViolationError,
        lambda: filled.ingest("new", nulls, key="id"),
        "null values",
    )
    e = expect_unchanged(
        filled,
        tillage.KeyViolationError,
        lambda: filled.ingest("t", table([3, 10, 4])),
        "2 key(s) that already exist",
        "mode='upsert'",
    )
    assert isinstance(e, tillage.KeyViolationError)
    assert sorted(e.examples) == [3, 4]


def test_key_column_missing_from_batch(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", pa.table({"v": [1.0]}), mode="delete"),
        "key column(s) id",
        "not in the batch",
    )
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("new", table([1]), key="nope"),
        "key column(s) nope",
        "--key",
    )


def test_empty_batch(filled: Repo) -> None:
    for mode in ("append", "upsert", "overwrite", "delete"):
        expect_unchanged(
            filled,
            tillage.InputError,
            lambda m=mode: filled.ingest("t", table([]), mode=m),  # type: ignore[misc]
            "has no rows",
            "Check the input",
        )
    expect_unchanged(
        filled, tillage.InputError, lambda: filled.ingest("new", table([]), key="id"), "no rows"
    )


def test_wrong_key_on_existing_dataset(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", table([10]), key="s"),
        "has primary key (id), not (s)",
        "leave --key out",
    )
    # The same key is fine.
    filled.ingest("t", table([10]), key="id")


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a/b", "x.y", "é", "a" * 129])
def test_invalid_dataset_names(filled: Repo, name: str) -> None:
    expect_unchanged(
        filled,
        tillage.InvalidNameError,
        lambda: filled.ingest(name, table([1]), key="id"),
        "not a valid dataset name",
        "use letters, digits",
    )


@pytest.mark.parametrize(
    "name", ["", "a..b", "HEAD", "x~1", "ends/", "a.lock", "a//b", "-x", "a b", "abcdef012345"]
)
def test_invalid_ref_names(filled: Repo, name: str) -> None:
    expect_unchanged(
        filled,
        tillage.InvalidNameError,
        lambda: filled.create_branch(name),
        "not a valid branch name",
        "use letters",
    )
    expect_unchanged(
        filled, tillage.InvalidNameError, lambda: filled.create_tag(name), "not a valid tag name"
    )


def test_unknown_mode_and_prefer(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.ingest("t", table([10]), mode="insert"),  # type: ignore[arg-type]
        "unknown mode 'insert'",
        "append, upsert, overwrite, delete",
    )
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.merge("main", prefer="mine"),  # type: ignore[arg-type]
        "'ours' or 'theirs'",
    )


def test_bad_read_arguments(filled: Repo) -> None:
    expect_unchanged(
        filled,
        tillage.InputError,
        lambda: filled.read("t", columns=["id", "nope"]),
        "unknown column(s) nope",
        "its columns: id, v, s",
    )
    expect_unchanged(
        filled,
        tillage.InvalidFilterError,
        lambda: filled.read("t", where="nope >"),
        "cannot filter with 'nope >'",
        "not one SQL condition",
    )


def test_open_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(tillage.NotARepositoryError) as err:
        tillage.open(plain)
    assert "no tillage repository" in str(err.value) and "tillage init" in str(err.value)
    assert list(plain.iterdir()) == []
    monkeypatch.chdir(plain)
    with pytest.raises(tillage.NotARepositoryError):
        tillage.open()
    monkeypatch.setenv("TILLAGE_REPO", str(tmp_path / "missing"))
    with pytest.raises(tillage.NotARepositoryError, match="TILLAGE_REPO"):
        tillage.open()
    assert not (tmp_path / "missing").exists()


def test_open_finds_repository(filled: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = filled.path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    found = tillage.open()
    assert found.repo_dir == filled.repo_dir
    assert rows(found) == rows(filled)
    assert tillage.open(filled.repo_dir).path == filled.path


def test_init_twice(filled: Repo) -> None:
    e = expect_unchanged(
        filled,
        tillage.RepositoryExistsError,
        lambda: tillage.init(filled.path),
        "already exists",
        "open it instead",
    )
    assert e.code == "repository_exists"
    assert rows(tillage.open(filled.path)) == rows(filled)


def test_delete_current_branch_is_refused(filled: Repo) -> None:
    before = snapshot(filled)
    with pytest.raises(tillage.TillageError, match="switch first"):
        filled.refs.delete_branch("main")
    assert snapshot(filled) == before


def test_text_read_as_whole_numbers_must_say_that_number(filled: Repo) -> None:
    """ "12" into an int64 key is 12; "012" or "+12" would lose what the file held."""
    batch = pa.table({"id": ["10", "11"], "v": [1.0, 2.0], "s": ["a", "b"]})
    filled.ingest("t", batch)
    assert filled.read("t", where="id >= 10").column("id").to_pylist() == [10, 11]
    for bad in ("012", "0x0c"):
        expect_unchanged(
            filled,
            tillage.InputError,
            lambda b=bad: filled.ingest(  # type: ignore[misc]
                "t", pa.table({"id": ["13", b], "v": [1.0, 2.0], "s": ["a", "b"]})
            ),
            "column 'id'",
            f"{bad!r} (row 1) would be stored as 12",
        )
