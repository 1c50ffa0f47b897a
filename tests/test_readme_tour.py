"""The README's Python tour, run as written on real flights.

The tour's code block is executed in a fresh folder holding the two Parquet files
it reads (two days of NYC flights 2013) and the one name it leaves to the reader
(``fixes``: changed rows of day 1). A renamed call or a changed return type breaks
this test, so the tour cannot fall out of step with the API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def tour() -> str:
    """The fenced Python block of the README's "Five-minute tour" section."""
    text = README.read_text()
    start = text.index("\n## Five-minute tour: the Python API\n")
    end = text.find("\n## ", start + 1)
    [code] = re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)
    return code


def test_the_python_tour_runs_as_written(nycflights: pd.DataFrame, workdir: Path) -> None:
    jan = nycflights[nycflights["month"] == 1]
    day1 = jan[jan["day"] == 1].reset_index(drop=True)
    day2 = jan[jan["day"] == 2].reset_index(drop=True)
    day1.to_parquet(workdir / "day1.parquet", index=False)
    day2.to_parquet(workdir / "day2.parquet", index=False)
    fixes = day1.head(5).assign(dep_delay=day1.head(5)["dep_delay"].fillna(0) + 1)
    scope: dict[str, object] = {"fixes": fixes}

    exec(compile(tour(), "README.md", "exec"), scope)

    repo = scope["repo"]
    import tillage

    assert isinstance(repo, tillage.Repo)
    assert repo.refs.tags() == {"v1": repo.refs.resolve("main")}
    assert repo.read("flights").num_rows == len(day1) + len(day2)
    table = scope["table"]
    assert set(table.column_names) == {"carrier", "dep_delay"}  # type: ignore[attr-defined]
    assert 0 < table.num_rows < len(day1)  # type: ignore[attr-defined]
