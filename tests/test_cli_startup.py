"""A fast start: `tillage --version` and `--help` load none of the data libraries.

Lance, pyarrow, pandas, DuckDB, SQLAlchemy, scikit-learn and DataSketches take
seconds to import; commands that only print text must not pay for them. Each
command runs in a fresh interpreter with ``-X importtime``, which lists every
module it imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tillage

HEAVY = ("lance", "pyarrow", "pandas", "duckdb", "sqlalchemy", "sklearn", "datasketches")
SRC = str(Path(tillage.__file__).resolve().parents[1])
ENTRY_POINT = "from tillage.cli.app import main; main()"  # what the `tillage` script runs


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The top-level modules a fresh ``python -X importtime ARGS`` imported, and its result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, proc


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["ingest", "--help"], ["labels", "--help"], ["runs", "--help"]],
    ids=" ".join,
)
def test_version_and_help_import_no_data_library(argv: list[str]) -> None:
    names, proc = imported_modules("-c", ENTRY_POINT, *argv)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tillage" in names and "typer" in names  # the listing works
    assert sorted(set(HEAVY) & names) == []
    if argv == ["--version"]:
        assert proc.stdout.strip() == f"tillage {tillage.__version__}"
    else:
        assert "Usage:" in proc.stdout


def test_import_tillage_is_light_until_an_api_is_used() -> None:
    names, proc = imported_modules("-c", "import tillage; tillage.TillageError; tillage.Commit")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(set(HEAVY) & names) == []
    names, proc = imported_modules("-c", "from tillage import Repo; print(Repo.__name__)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "Repo"
    # The repository API loads its namespaces, and their libraries, on first use.
    assert sorted(set(HEAVY) & names) == ["sqlalchemy"]


def test_opening_a_repository_and_its_log_import_no_data_library(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    with tillage.init(project) as repo:
        repo.ingest("t", _table(), key="id")
    log = f"import tillage; r = tillage.open({str(project)!r}); print(len(r.refs.log()))"
    names, proc = imported_modules("-c", log)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "1"
    assert sorted(set(HEAVY) & names) == ["sqlalchemy"]
    read = f"import tillage; print(tillage.open({str(project)!r}).read('t').num_rows)"
    names, proc = imported_modules("-c", read)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "2"
    assert {"lance", "pyarrow"} <= names


def _table() -> object:
    import pyarrow as pa

    return pa.table({"id": [1, 2]})


def test_lazy_names_are_listed_and_unknown_names_fail() -> None:
    assert set(tillage.__all__) <= set(dir(tillage))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        tillage.NoSuchThing  # noqa: B018
