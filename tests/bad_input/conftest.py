"""A small project built once per session and copied for each bad-input case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tillage
from bad_input.harness import flights_table


@pytest.fixture(scope="session")
def _base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input-base") / "proj"
    with tillage.init(root) as repo:
        repo.ingest("flights", flights_table(range(40)), key="id", message="day 1")
        repo.ingest("flights", flights_table(range(40, 60)), message="day 2")
        repo.create_branch("dev")
        repo.create_tag("v1")
    return root


@pytest.fixture
def project(_base_project: Path, tmp_path: Path) -> Path:
    """A fresh copy: ``flights`` (60 rows, key ``id``), 2 commits, branch ``dev``, tag ``v1``."""
    dest = tmp_path / "proj"
    shutil.copytree(_base_project, dest)
    return dest
