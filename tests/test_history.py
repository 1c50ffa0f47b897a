"""History walked in SQL gives the answers the in-memory walk gave (SQLite here;
`test_postgres.py` runs the same comparison on PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import event

import tillage
from history_walk import check_against_reference, ref_merge_base, store_graph
from tillage.core.commit import Commit
from tillage.store import history as sql
from tillage.store.catalog import Catalog
from tillage.versioning import history


def _catalog(tmp_path: Path) -> Catalog:
    repo = tillage.init(tmp_path / "proj")
    return repo._storage.catalog


@pytest.mark.parametrize("seed", range(6))
def test_sql_walks_match_the_python_walk_on_random_graphs(tmp_path: Path, seed: int) -> None:
    crisscross = check_against_reference(_catalog(tmp_path), random.Random(seed), 90)
    assert crisscross > 0, "the graph had no pair with several best common ancestors"


def _commit(cid: str, *parents: str, at: str = "2026-01-01T00:00:00+00:00") -> Commit:
    return Commit(cid, tuple(parents), {}, cid, at, "test", "0")


def test_merge_base_of_a_criss_cross_merge_is_the_one_met_first_from_the_second(
    tmp_path: Path,
) -> None:
    # r -> x, y; a1 merges (x, y) and b1 merges (y, x): both x and y are best.
    ids = {name: name.ljust(64, "0") for name in ("r", "x", "y", "a", "b", "c")}
    graph = [
        _commit(ids["r"]),
        _commit(ids["x"], ids["r"]),
        _commit(ids["y"], ids["r"]),
        _commit(ids["a"], ids["x"], ids["y"]),
        _commit(ids["b"], ids["y"], ids["x"]),
        _commit(ids["c"], ids["b"]),
    ]
    commits = {c.id: c for c in graph}
    catalog = _catalog(tmp_path)
    store_graph(catalog, commits, {"a": ids["a"]})
    assert sorted(sql.best_common_ancestors(catalog, ids["a"], ids["c"])) == [ids["x"], ids["y"]]
    assert history.merge_base(catalog, ids["a"], ids["c"]) == ids["y"]
    assert history.merge_base(catalog, ids["c"], ids["a"]) == ids["x"]
    for a, b in [("a", "c"), ("c", "a"), ("a", "b"), ("b", "a")]:
        assert history.merge_base(catalog, ids[a], ids[b]) == ref_merge_base(
            ids[a], ids[b], commits.get
        )


def test_first_parents_are_read_page_by_page_to_the_root(tmp_path: Path) -> None:
    chain = [_commit(f"{i:064x}", *([f"{i - 1:064x}"] if i else [])) for i in range(150)]
    catalog = _catalog(tmp_path)
    store_graph(catalog, {c.id: c for c in chain}, {"tip": chain[-1].id})
    walked = list(history.first_parents(catalog, chain[-1].id))
    assert [c.id for c in walked] == [c.id for c in reversed(chain)]
    assert sql.nth_first_parent(catalog, chain[-1].id, 149) == chain[0].id
    assert sql.nth_first_parent(catalog, chain[-1].id, 150) is None


def test_repo_history_calls_read_from_sql(tmp_path: Path) -> None:
    """`log`, `~N`, merge and gc on a real repository with a branch merged back."""
    repo = tillage.init(tmp_path / "proj")
    c1 = repo.ingest("t", pa.table({"id": [1, 2], "v": ["a", "b"]}), key="id")
    repo.create_branch("fix")
    c2 = repo.ingest("t", pa.table({"id": [2], "v": ["B"]}), mode="upsert", branch="fix")
    c3 = repo.ingest("u", pa.table({"id": [3]}), key="id")
    merged = repo.merge("fix")
    assert merged.kind == "merge" and merged.base == c1.id
    assert [c.id for c in repo.refs.log()] == [merged.commit, c3.id, c2.id, c1.id]
    assert [c.id for c in repo.refs.log(limit=2)] == [merged.commit, c3.id]
    assert [c.id for c in repo.refs.log(dataset="u")] == [c3.id]
    assert repo.refs.resolve("main~1") == c3.id
    assert repo.refs.resolve("main~2") == c1.id
    with pytest.raises(tillage.NoSuchRefError, match="fewer than 3"):
        repo.refs.resolve("main~3")
    assert repo.merge("fix").kind == "up-to-date"
    repo.create_branch("gone")
    repo.ingest("u", pa.table({"id": [4]}), branch="gone")
    repo.refs.delete_branch("gone")
    assert repo.datasets.gc().commits_removed == 1
    assert repo.datasets.verify().commits == 4


def test_a_dataset_made_on_two_branches_starts_from_its_oldest_version(tmp_path: Path) -> None:
    repo = tillage.init(tmp_path / "proj")
    repo.ingest("t", pa.table({"id": [1]}), key="id")
    repo.create_branch("side")
    repo.ingest("x", pa.table({"id": [1, 2], "v": ["a", "b"]}), key="id")
    repo.ingest("x", pa.table({"id": [3], "v": ["c"]}))
    assert sql.first_pin(repo._storage.catalog, "x") == repo.refs.commit("main~1").pins["x"]
    assert sql.first_pin(repo._storage.catalog, "nothing") is None
    repo.ingest("x", pa.table({"id": [9], "v": ["z"]}), key="id", branch="side")
    assert repo.read("x", "side").to_pydict() == {"id": [9], "v": ["z"]}
    assert repo.read("x").num_rows == 3


def test_log_n_reads_only_the_commits_it_shows(tmp_path: Path) -> None:
    """Whatever the history's length, `log -n 5` runs two statements and loads 5 commits."""
    chain = [_commit(f"{i:064x}", *([f"{i - 1:064x}"] if i else [])) for i in range(300)]
    catalog = _catalog(tmp_path)
    store_graph(catalog, {c.id: c for c in chain}, {"tip": chain[-1].id})
    statements: list[tuple[str, int]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, len(params or ())))

    event.listen(catalog.engine, "before_cursor_execute", seen)
    try:
        shown = sql.log(catalog, chain[-1].id, limit=5)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", seen)
    assert [c.id for c in shown] == [c.id for c in reversed(chain[-5:])]
    assert len(statements) == 2
    walk, pins = statements
    assert "LIMIT" in walk[0] and "RECURSIVE" in walk[0]
    assert pins[1] == 5  # the pins of the 5 commits shown, and nothing else


@pytest.mark.parametrize("limit", [-1, 1.5, "3", True])
def test_log_refuses_a_limit_that_is_not_a_count(tmp_path: Path, limit: Any) -> None:
    # A negative limit used to drop the oldest commit (`commits[:-1]`).
    repo = tillage.init(tmp_path / "proj")
    repo.ingest("t", pa.table({"id": [1]}), key="id")
    with pytest.raises(tillage.InputError, match="limit must be a whole number"):
        repo.refs.log(limit=limit)
