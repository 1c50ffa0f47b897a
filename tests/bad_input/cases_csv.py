"""CSV files that are not in their encoding or whose cells would change, and failed exports."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import tillage
from bad_input.harness import Case, Damage, write_parquet

HEADER = "id,carrier,origin,dep_delay\n"


def _file(name: str, text: str, encoding: str = "utf-8") -> Damage:
    def damage(project: Path) -> None:
        (project.parent / name).write_bytes(text.encode(encoding))

    return damage


def _latin1(project: Path) -> None:
    (project.parent / "latin.csv").write_bytes(
        (HEADER + "100,AA,JFK,1.0\n101,AA,Montr\xe9al,2.0\n").encode("latin-1")
    )


def _binary_dataset(project: Path) -> None:
    with tillage.open(project) as repo:
        repo.ingest("blobs", pa.table({"id": [1, 2], "blob": [b"\xff\x00", b"ok"]}), key="id")


def _parquet(project: Path) -> None:
    write_parquet(project.parent / "more.parquet", pa.table({"id": [100]}))


CASES = [
    Case(
        "csv-latin1-new-dataset",
        ["ingest", "cities", "{tmp}/latin.csv", "--key", "id"],
        says=["column 'origin'", "line 3", "byte offset 55", "--encoding latin-1"],
        error="bad_encoding",
        damage=_latin1,
    ),
    Case(
        "csv-latin1-append",
        ["ingest", "flights", "{tmp}/latin.csv"],
        says=["column 'origin'", "line 3", "byte offset", "--encoding"],
        error="bad_encoding",
        damage=_latin1,
    ),
    Case(
        "csv-unknown-encoding",
        ["ingest", "flights", "{tmp}/latin.csv", "--encoding", "klingon"],
        says=["unknown encoding 'klingon'", "latin-1"],
        damage=_latin1,
    ),
    Case(
        "csv-encoding-for-parquet",
        ["ingest", "flights", "{tmp}/more.parquet", "--encoding", "latin-1"],
        says=["CSV files only"],
        damage=_parquet,
    ),
    Case(
        "csv-leading-zeros-into-int",
        ["ingest", "flights", "{tmp}/zeros.csv"],
        says=["column 'id'", "row 2", "'007'", "leading zeros", "--coerce"],
        error="csv_value",
        damage=_file("zeros.csv", HEADER + "100,AA,JFK,1.0\n007,AA,JFK,1.0\n"),
    ),
    Case(
        "csv-fraction-into-int",
        ["ingest", "flights", "{tmp}/frac.csv"],
        says=["column 'id'", "row 1", "'1.5'", "does not convert to int64", "--coerce"],
        error="csv_value",
        damage=_file("frac.csv", HEADER + "1.5,AA,JFK,1.0\n"),
    ),
    Case(
        "csv-digits-a-float-cannot-hold",
        ["ingest", "flights", "{tmp}/digits.csv", "--mode", "upsert"],
        says=["column 'dep_delay'", "row 1", "more digits than double holds"],
        error="csv_value",
        damage=_file("digits.csv", HEADER + "100,AA,JFK,12345678901234567891\n"),
    ),
    Case(
        "csv-text-into-float",
        ["ingest", "flights", "{tmp}/text.csv", "--mode", "upsert"],
        says=["column 'dep_delay'", "row 1", "'late'", "does not convert to double"],
        error="csv_value",
        damage=_file("text.csv", HEADER + "100,AA,JFK,late\n"),
    ),
    Case(
        "export-binary-to-csv",
        ["export", "blobs", "{tmp}/blobs.csv"],
        says=["blob (binary)", "nothing was written", ".parquet"],
        error="export_failed",
        damage=_binary_dataset,
    ),
    Case(
        "head-unknown-column",
        ["head", "flights", "--columns", "id,nope"],
        says=["nope", "its columns"],
    ),
]
