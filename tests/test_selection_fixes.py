"""Defects of the selection layer, each pinned by a test that failed before its fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import tillage
from test_repo import snapshot
from tillage import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``notes``: 30 short texts keyed by ``nid``."""
    r = tillage.init(tmp_path / "proj")
    r.ingest(
        "notes",
        pa.table(
            {
                "nid": list(range(30)),
                "text": [f"the flight {i} left late from gate {i % 7}" for i in range(30)],
            }
        ),
        key="nid",
    )
    yield r
    r.close()


class _Unreadable(dict[str, Any]):
    """A record whose columns cannot be listed: iterating it raises a plain ValueError."""

    def __iter__(self) -> Iterator[str]:
        raise ValueError("columns unavailable")


def _interrupt(record: dict[str, Any]) -> dict[str, Any]:
    raise KeyboardInterrupt  # as when a person stops a long augment with Ctrl-C


def _unreadable(record: dict[str, Any]) -> dict[str, Any]:
    return _Unreadable(record)


@pytest.mark.parametrize(
    ("transform", "raised"),
    [(_interrupt, KeyboardInterrupt), (_unreadable, ValueError)],
    ids=["interrupt", "plain-error"],
)
def test_an_action_stopped_by_any_exception_leaves_no_branch(
    repo: Repo, transform: Any, raised: type[BaseException]
) -> None:
    sel = repo.select("notes", strategy="random", n=5, seed=1)
    before = snapshot(repo)
    with pytest.raises(raised):
        repo.selection.apply(sel.id, "augment", transforms={"odd": transform})
    assert f"selection/{sel.id}" not in repo.refs.branches()
    assert snapshot(repo) == before
    assert repo.selection.actions(sel.id) == []
