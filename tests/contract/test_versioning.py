"""Versioning on every catalog backend: ingest, reads, refs, history, diff, merge, gc, verify."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

import tillage
from contract.support import by_id, state, table
from tillage import Repo


def test_init_and_open_use_the_catalog_given_at_init(
    tmp_path: Path, catalog_url: str | None
) -> None:
    path = tmp_path / "proj"
    with tillage.init(path, catalog_url=catalog_url) as repo:
        first = repo.ingest("t", table(range(3)), key="id", message="first")
    with pytest.raises(tillage.RepositoryExistsError):
        tillage.init(path, catalog_url=catalog_url)
    with tillage.open(path) as reopened:
        assert reopened.config.catalog_url == catalog_url
        assert [c.id for c in reopened.refs.log()] == [first.id]
        assert sorted(by_id(reopened)) == [0, 1, 2]
    # SQLite keeps the catalog in the repository; a server-side catalog leaves no file.
    assert (path / ".tillage" / "catalog.db").exists() == (catalog_url is None)


def test_ingest_creates_appends_and_upserts_by_key(repo: Repo) -> None:
    created = repo.ingest("t", table(range(3)), key="id")
    assert created.changes["t"] and repo.datasets.key("t") == ["id"]
    repo.ingest("t", table([3, 4]))
    upserted = repo.ingest("t", table([1, 5], v=[-1.0, 5.0]), mode="upsert")
    assert upserted.message == "upsert t: +1 ~1 -0 rows"
    assert by_id(repo) == {
        0: {"id": 0, "v": 0.0, "s": "s0"},
        1: {"id": 1, "v": -1.0, "s": "s1"},
        2: {"id": 2, "v": 2.0, "s": "s2"},
        3: {"id": 3, "v": 3.0, "s": "s3"},
        4: {"id": 4, "v": 4.0, "s": "s4"},
        5: {"id": 5, "v": 5.0, "s": "s5"},
    }
    assert upserted.pins["t"].num_rows == 6
    # An append of a key that exists is refused, and nothing changes.
    before = state(repo)
    with pytest.raises(tillage.KeyViolationError, match="1"):
        repo.ingest("t", table([1, 9]))
    assert state(repo) == before


def test_read_and_head_with_where_and_columns(filled: Repo) -> None:
    first = filled.refs.resolve()
    filled.ingest("t", table([10, 11], s=["x", "y"]))
    got = filled.read("t", where="v >= 5 AND s <> 's7'", columns=["id", "s"])
    assert got.column_names == ["id", "s"]
    assert sorted(got.column("id").to_pylist()) == [5, 6, 8, 9, 10, 11]
    assert filled.read("t", first, where="id > 7").num_rows == 2
    assert filled.datasets.head("t", n=3).num_rows == 3
    assert filled.datasets.head("t", first, n=100).num_rows == 10
    with pytest.raises(tillage.InvalidFilterError):
        filled.read("t", where="v > 1; DROP TABLE t")


def test_branches_and_tags(filled: Repo) -> None:
    main = filled.refs.resolve("main")
    assert filled.create_branch("dev") == main
    filled.ingest("t", table([10]), branch="dev")
    assert filled.create_tag("v1", "dev") == filled.refs.resolve("dev")
    assert set(filled.refs.branches()) == {"main", "dev"} and set(filled.refs.tags()) == {"v1"}
    with pytest.raises(tillage.RefExistsError):
        filled.create_branch("dev")
    filled.refs.switch("dev")
    assert filled.refs.current_branch == "dev" and len(filled.read("t")) == 11
    filled.refs.switch("main")
    filled.refs.delete_branch("dev")
    assert set(filled.refs.branches()) == {"main"}
    # The tag still reaches the commit the branch had.
    assert len(filled.read("t", "v1")) == 11
    filled.refs.delete_tag("v1")
    assert filled.refs.tags() == {}
    with pytest.raises(tillage.NoSuchRefError):
        filled.read("t", "v1")


def test_log_and_ancestor_refs(filled: Repo) -> None:
    c1 = filled.refs.resolve()
    c2 = filled.ingest("t", table([10])).id
    c3 = filled.ingest("u", table([1]), key="id").id
    c4 = filled.ingest("t", table([11])).id
    assert [c.id for c in filled.refs.log()] == [c4, c3, c2, c1]
    assert [c.id for c in filled.refs.log(dataset="t")] == [c4, c2, c1]
    assert len(filled.refs.log(limit=2)) == 2
    assert filled.refs.resolve("main~3") == c1 and filled.refs.resolve("HEAD~2") == c2
    with pytest.raises(tillage.NoSuchRefError):
        filled.refs.resolve("main~4")


def test_status(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.create_tag("v1")
    status = filled.refs.status()
    assert (status.branch, status.head) == ("main", filled.refs.resolve())
    assert (status.branches, status.tags) == (2, 1)
    [t] = status.datasets
    assert (t.name, t.key, t.rows) == ("t", ["id"], 10)
    assert status.storage_bytes > 0


def test_diff_of_schema_and_rows(filled: Repo) -> None:
    filled.ingest("t", table([1], v=[-1.0]), mode="upsert")
    filled.ingest("t", pa.table({"id": [2]}), mode="delete")
    filled.ingest("t", table([10]).append_column("w", pa.array([7], pa.int64())), evolve=True)
    (d,) = filled.diff("main~3", "main")
    assert d.status == "modified" and d.schema.added == [("w", "int64")]
    assert (d.added, d.removed, d.changed) == (1, 1, 1)
    assert d.column_changes == {"v": 1}
    assert (d.rows_before, d.rows_after) == (10, 10)


def test_merge_fast_forward(filled: Repo) -> None:
    filled.create_branch("dev")
    c = filled.ingest("t", table([10]), branch="dev")
    r = filled.merge("dev")
    assert (r.kind, r.commit) == ("fast-forward", c.id)
    assert filled.refs.resolve("main") == c.id
    assert filled.merge("dev").kind == "up-to-date"


def test_three_way_merge(filled: Repo) -> None:
    filled.create_branch("dev")
    base = filled.refs.resolve()
    filled.ingest("t", table([1], v=[-1.0]), mode="upsert")
    filled.ingest("t", table([20]))
    filled.ingest("t", table([1], s=["dev1"]), mode="upsert", branch="dev")
    filled.ingest("t", pa.table({"id": [5]}), mode="delete", branch="dev")
    ours, theirs = filled.refs.resolve("main"), filled.refs.resolve("dev")
    r = filled.merge("dev")
    assert (r.kind, r.base) == ("merge", base)
    assert filled.refs.commit().parents == (ours, theirs)
    got = by_id(filled)
    assert sorted(got) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 20]
    assert got[1] == {"id": 1, "v": -1.0, "s": "dev1"}


def test_merge_conflict_writes_nothing(filled: Repo) -> None:
    filled.create_branch("dev")
    filled.ingest("t", table([1], v=[100.0]), mode="upsert")
    filled.ingest("t", table([1], v=[200.0]), mode="upsert", branch="dev")
    before = state(filled)
    with pytest.raises(tillage.MergeConflictError) as err:
        filled.merge("dev")
    assert err.value.conflicts == [
        {
            "dataset": "t",
            "key": {"id": 1},
            "column": "v",
            "base": 1.0,
            "ours": 100.0,
            "theirs": 200.0,
        }
    ]
    assert state(filled) == before


def test_revert_and_reset(filled: Repo) -> None:
    ten = by_id(filled)
    bad = filled.ingest("t", table([1, 40], v=[-1.0, 40.0]), mode="upsert", message="oops")
    undone = filled.refs.revert(bad.id)
    assert undone.parents == (bad.id,) and by_id(filled) == ten
    filled.ingest("t", table([50]))
    assert filled.refs.reset("main~3").id == filled.refs.resolve() != undone.id
    assert by_id(filled) == ten
    # The commits after it stay readable by id until gc.
    assert sorted(by_id(filled, ref=bad.id)) == [*range(10), 40]


def test_gc_removes_only_what_no_ref_reaches(filled: Repo) -> None:
    filled.create_branch("scratch")
    filled.ingest("big", table(range(500)), key="id", branch="scratch")
    filled.create_branch("kept")
    kept = filled.ingest("t", table([10]), branch="kept")
    filled.refs.delete_branch("scratch")
    before = {b: by_id(filled, ref=b) for b in ("main", "kept")}
    report = filled.datasets.gc()
    assert (report.commits_removed, report.datasets_removed) == (1, 1)
    assert report.bytes_after < report.bytes_before
    assert {b: by_id(filled, ref=b) for b in ("main", "kept")} == before
    assert filled.refs.resolve("kept") == kept.id
    assert filled.datasets.gc().commits_removed == 0


def test_verify_finds_a_changed_byte(filled: Repo) -> None:
    filled.ingest("t", table([10]))
    assert filled.datasets.verify(deep=True).ok
    victim = next((filled.path / ".tillage" / "tables" / "t.lance" / "data").glob("*"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = filled.datasets.verify(deep=True)
    assert not report.ok
    assert any(victim.name in str(p.file) for p in report.problems)


def test_an_unreachable_catalog_server_is_named_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "proj"
    tillage.init(path).close()
    config = path / ".tillage" / "config.yaml"
    url = "postgresql+psycopg://tillage:s3cret@/catalog?host=/nonexistent-tillage&port=5"
    config.write_text(config.read_text() + f"catalog_url: '{url}'\n")
    with pytest.raises(tillage.CatalogError) as err:
        tillage.open(path)
    message = str(err.value)
    assert "tillage:***@/catalog" in message and "s3cret" not in message
    assert "Is the database server running" in message


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2))
def test_history_walks_match_the_python_walk(repo: Repo, seed: int) -> None:
    """The recursive CTEs give the in-memory walk's answers on every backend."""
    from history_walk import check_against_reference

    assert check_against_reference(repo._storage.catalog, random.Random(seed), 90) > 0
