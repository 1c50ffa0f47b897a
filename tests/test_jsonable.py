"""The one JSON converter: every type results hold, as strict JSON data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from tillage.core.jsonable import jsonable


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass(frozen=True)
class Plain:
    when: dt.date
    tags: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Typed:
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "kind": "typed"}


PARIS = ZoneInfo("Europe/Paris")

CASES: list[tuple[Any, Any]] = [
    (None, None),
    (True, True),
    (np.bool_(True), True),
    (7, 7),
    ("é", "é"),
    (1.5, 1.5),
    (float("nan"), None),
    (float("-inf"), None),
    (np.float32(0.5), 0.5),
    (np.int64(2**62), 2**62),
    (np.float64("nan"), None),
    (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
    (np.array([1.0, np.inf]), [1.0, None]),
    (pa.scalar(5, pa.int8()), 5),
    (pa.scalar(None, pa.string()), None),
    (pa.scalar(dt.datetime(2013, 1, 1, 5), pa.timestamp("s")), "2013-01-01T05:00:00"),
    (dt.datetime(2013, 1, 1, 5, 0, tzinfo=PARIS), "2013-01-01T05:00:00+01:00"),
    (dt.datetime(2013, 7, 1, 5, 0, tzinfo=dt.UTC), "2013-07-01T05:00:00+00:00"),
    (dt.date(2013, 1, 1), "2013-01-01"),
    (dt.time(5, 30, tzinfo=dt.UTC), "05:30:00+00:00"),
    (dt.timedelta(minutes=90), 5400.0),
    (Decimal("1.10"), "1.10"),
    (b"\x00\xff", "AP8="),
    (Path("a/b.csv"), "a/b.csv"),
    (Colour.RED, "red"),
    (Level.HIGH, 3),
    ({3, 1, 2}, [1, 2, 3]),
    (frozenset({1, "a"}), [1, "a"]),  # unorderable: by text form
    ((1, (2, 3)), [1, [2, 3]]),
    ({1: {"x": float("nan")}}, {"1": {"x": None}}),
    (Plain(dt.date(2013, 1, 2), frozenset({"b", "a"})), {"when": "2013-01-02", "tags": ["a", "b"]}),
    (Typed(float("inf")), {"value": None, "kind": "typed"}),
    (ValueError("bad"), "bad"),  # anything else: its text
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[repr(v)[:40] for v, _ in CASES])
def test_each_type(value: Any, expected: Any) -> None:
    got = jsonable(value)
    assert got == expected
    json.dumps(got, allow_nan=False)  # strict JSON


def test_time_separator_for_text_people_read() -> None:
    when = dt.datetime(2013, 1, 1, 5, tzinfo=dt.UTC)
    assert jsonable([when], time_sep=" ") == [str(when)]
    assert jsonable(dt.date(2013, 1, 1), time_sep=" ") == "2013-01-01"


def test_nothing_left_that_json_refuses() -> None:
    row = {
        "a": np.float64(math.nan),
        "b": [np.int32(1), {np.int16(2)}],
        "c": pa.scalar([1, 2], pa.list_(pa.int64())),
    }
    assert json.loads(json.dumps(jsonable(row), allow_nan=False)) == {
        "a": None,
        "b": [1, [2]],
        "c": [1, 2],
    }


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_exports_and_diffs_are_strict_json(tmp_path: Path) -> None:
    import tillage

    rows = pa.table(
        {
            "id": [1, 2],
            "x": [1.5, float("nan")],
            "blob": [b"\x00\xff", None],
            "wait": pa.array([dt.timedelta(minutes=1), None], pa.duration("s")),
            "at": pa.array(
                [dt.datetime(2013, 1, 1, 5, tzinfo=dt.UTC), None], pa.timestamp("s", "UTC")
            ),
        }
    )
    with tillage.init(tmp_path / "p") as repo:
        repo.ingest("t", rows, key="id")
        assert repo.datasets.export("t", tmp_path / "t.jsonl") == 2
        first, second = (_strict(line) for line in (tmp_path / "t.jsonl").read_text().splitlines())
        assert first == {
            "id": 1,
            "x": 1.5,
            "blob": "AP8=",
            "wait": 60.0,
            "at": "2013-01-01 05:00:00+00:00",  # as exports always wrote it
        }
        assert second["x"] is None
        added = rows.slice(0, 1).set_column(0, "id", pa.array([3]))
        repo.ingest("t", added.set_column(1, "x", pa.array([float("nan")])))
        [changes] = repo.diff("HEAD~1", dataset="t")
    text = json.dumps(jsonable(changes), allow_nan=False)
    [row] = _strict(text)["samples"]["added"]
    assert (row["x"], row["blob"], row["at"]) == (None, "AP8=", first["at"])
