"""Helpers of the contract suite: small tables, rows by key, a repository's visible state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from tillage import Repo


def table(ids: Iterable[int], v: list[float] | None = None, s: list[str] | None = None) -> pa.Table:
    """Rows keyed by ``id``: ``v`` defaults to float(id), ``s`` to "s<id>"."""
    keys = list(ids)
    return pa.table(
        {
            "id": pa.array(keys, pa.int64()),
            "v": pa.array(v if v is not None else [float(i) for i in keys], pa.float64()),
            "s": pa.array(s if s is not None else [f"s{i}" for i in keys], pa.string()),
        }
    )


def by_id(repo: Repo, dataset: str = "t", ref: str | None = None) -> dict[int, dict[str, Any]]:
    """The rows of ``dataset`` at ``ref``, by ``id``."""
    return {r["id"]: r for r in repo.read(dataset, ref).to_pylist()}


def state(repo: Repo) -> dict[str, Any]:
    """What a user can see of a repository through the public API.

    The current branch, branches and tags, the history of every branch, and the
    rows of every dataset at every commit of that history: a failed operation
    must leave all of it as it was.
    """
    branches = repo.refs.branches()
    history = {b: [c.id for c in repo.refs.log(b)] for b in branches}
    data = {
        (cid, name): sorted(repo.read(name, cid).to_pylist(), key=repr)
        for ids in history.values()
        for cid in ids
        for name in repo.refs.commit(cid).pins
    }
    return {
        "current": repo.refs.current_branch,
        "branches": branches,
        "tags": repo.refs.tags(),
        "history": history,
        "data": data,
    }
