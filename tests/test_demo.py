"""The demo on real NYC flights: what it builds must hold up when read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

import tillage
from tillage.demo.flights import load_days, run_demo


def test_load_days_splits_by_date() -> None:
    days = load_days(3)
    assert [d for d, _ in days] == ["2013-01-01", "2013-01-02", "2013-01-03"]
    for date, batch in days:
        month, day = int(date[5:7]), int(date[8:10])
        assert pc.all(pc.equal(batch.column("month"), month)).as_py()
        assert pc.all(pc.equal(batch.column("day"), day)).as_py()
    assert str(days[0][1].schema.field("time_hour").type) == "timestamp[s, tz=UTC]"


def test_demo_builds_a_repository_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = run_demo(path, days=3)
    ingested = sum(b.num_rows for _, b in load_days(3))
    assert summary["rows_ingested"] == ingested
    assert summary["cancelled_removed"] > 0
    assert summary["rows"] == ingested - summary["cancelled_removed"]
    assert summary["merge"] == "merge"  # day 3 landed on main while the fix was made
    assert summary["commits"] == 3 + 2  # one per day, the fix, the merge

    with tillage.open(path) as repo:
        assert repo.resolve("v1") == repo.resolve("main") == summary["head"]
        final = repo.read("flights", "v1")
        assert final.num_rows == summary["rows"]
        # Days 1-2 were fixed on the branch: no cancelled flight is left there.
        fixed = repo.read("flights", "v1", where="day < 3 AND dep_time IS NULL")
        assert fixed.num_rows == 0
        # Day 3 arrived on main after the branch was made: the merge keeps all of it.
        day3 = repo.read("flights", "v1", where="day = 3")
        assert day3.num_rows == load_days(3)[2][1].num_rows
        # The pre-fix history is still there.
        first = repo.log("main")[-1]
        assert repo.read("flights", first.id).num_rows == load_days(1)[0][1].num_rows


def test_demo_refuses_to_clobber(tmp_path: Path) -> None:
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(tillage.InputError, match="not a tillage repository"):
        run_demo(other, days=1)
    assert (other / "notes.txt").read_text() == "keep me"

    path = tmp_path / "demo"
    run_demo(path, days=1)
    with pytest.raises(tillage.RepositoryExistsError, match="--force"):
        run_demo(path, days=1)
    assert run_demo(path, days=2, force=True)["days"] == 2


def test_demo_monitors_every_day_after_the_first_week(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = run_demo(path, days=16)
    schema_file = path / "schemas" / "flights.yaml"
    assert schema_file.is_file()
    assert summary["alerts_opened"] >= 1 and summary["batches_blocked"] == 0
    with tillage.open(path) as repo:
        [model] = repo.models("delay-model")
        assert set(model["importance"]) >= {"dep_delay", "distance"}
        # Days 8.. were checked against the schema file: each commit records its hash.
        checked = [c for c in repo.log("main") if "schema" in c.changes.get("flights", {})]
        assert len(checked) >= 8
        # The week of 10-16 January has the cancellations of the 13th and 16th:
        # the missing-value rule on dep_time fired and stays one alert.
        dep_time = [
            a for a in repo.alerts() if a["column"] == "dep_time" and a["kind"] == "missing"
        ]
        assert len(dep_time) == 1 and dep_time[0]["count"] >= 2
