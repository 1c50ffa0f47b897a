"""The contract suite's repositories, one per catalog backend (see ``catalog_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tillage
from contract.support import table
from tillage import Repo


@pytest.fixture
def repo(tmp_path: Path, catalog_url: str | None) -> Iterator[Repo]:
    """An empty repository in ``tmp_path/proj`` whose catalog is SQLite or PostgreSQL."""
    r = tillage.init(tmp_path / "proj", catalog_url=catalog_url)
    yield r
    r.close()


@pytest.fixture
def filled(repo: Repo) -> Repo:
    """``repo`` with dataset ``t`` (key ``id``, ids 0..9) in one commit on main."""
    repo.ingest("t", table(range(10)), key="id", message="ten rows")
    return repo
