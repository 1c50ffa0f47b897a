"""Refs, names and filters that used to give a wrong answer with exit 0, or be accepted and break.

Each test names the input that went wrong before: a filter Lance read only in
part, a commit-id prefix matched as a LIKE pattern, an empty ref taken for HEAD,
column and key names a dataset cannot serve, argument types that ended in bare
Python errors, and taxonomy or task names that reached outside the project.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import tillage
from test_repo import expect_unchanged
from tillage import Repo

pytestmark = pytest.mark.usefixtures("workdir")


def flights(n: int = 300) -> pa.Table:
    """Flights-like rows with a column name that needs quoting and a timestamp."""
    ids = list(range(n))
    return pa.table(
        {
            "id": ids,
            "carrier": [["AA", "UA", "DL", "B6", "O'H"][i % 5] for i in ids],
            "dep_delay": pa.array([None if i % 17 == 0 else float(i % 97) - 10 for i in ids]),
            "tail num": [f"N{i % 7}" for i in ids],
            "time_hour": pa.array([i * 3_600_000_000 for i in ids], pa.timestamp("us")),
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``flights`` in two commits on main, and a branch ``dev`` at the first."""
    r = tillage.init(tmp_path / "proj")
    data = flights()
    r.ingest("flights", data.slice(0, 200), key="id", message="first")
    r.create_branch("dev")
    r.ingest("flights", data.slice(200), message="second")
    yield r
    r.close()


# -- filters -------------------------------------------------------------------------------

DATA = flights()
CARRIER, DELAY = DATA.column("carrier"), DATA.column("dep_delay")
VALID = [
    (
        "carrier = 'AA' AND dep_delay > 60",
        pc.and_kleene(pc.equal(CARRIER, "AA"), pc.greater(DELAY, 60)),
    ),
    ("carrier IN ('AA', 'UA')", pc.is_in(CARRIER, pa.array(["AA", "UA"]))),
    ("dep_delay IS NULL", pc.is_null(DELAY)),
    ("carrier = 'O''H'", pc.equal(CARRIER, "O'H")),
    (
        "NOT (carrier = 'AA') OR dep_delay < 0",
        pc.or_kleene(pc.invert(pc.equal(CARRIER, "AA")), pc.less(DELAY, 0)),
    ),
    (
        "(dep_delay > 60) AND (carrier = 'AA')",
        pc.and_kleene(pc.greater(DELAY, 60), pc.equal(CARRIER, "AA")),
    ),
    ("`tail num` = 'N3'", pc.equal(DATA.column("tail num"), "N3")),
    (
        "time_hour >= TIMESTAMP '1970-01-05 00:00:00'",
        pc.greater_equal(
            DATA.column("time_hour"), pa.scalar(96 * 3_600_000_000, pa.timestamp("us"))
        ),
    ),
]


@pytest.mark.parametrize(("where", "mask"), VALID, ids=[w for w, _ in VALID])
def test_valid_filters_keep_working(repo: Repo, where: str, mask: pa.ChunkedArray) -> None:
    got = repo.read("flights", where=where).column("id").to_pylist()
    want = DATA.filter(pc.fill_null(mask, False)).column("id").to_pylist()
    assert sorted(got) == want and want


BROKEN = [
    # each of these read a part of the filter and dropped the rest
    ("carrier = 'AA'; dep_delay > 60", "';'"),
    ("dep_delay > 60) AND (carrier = 'AA'", "not one SQL condition"),
    ("dep_delay > 60 garbage garbage", "not one SQL condition"),
    ("1=1; DROP TABLE flights", "';'"),
    ("(dep_delay > 60) garbage", "not one SQL condition"),
    ("dep_delay > 60 ORDER BY id", "more than a condition"),
    ("dep_delay > 60 LIMIT 3", "more than a condition"),
    ("dep_delay > 60 UNION SELECT * FROM t", "more than a condition"),
    ("dep_delay > 60 -- AND carrier = 'AA'", "comment"),
    ("id IN (SELECT 1)", "subquery"),
    ("id = 1 #x\n OR id = 2", "not one SQL condition"),  # '#' starts a comment for Lance
    # double quotes are a column to SQL and a string to Lance: it matched nothing
    ("\"carrier\" = 'AA'", "double quotes"),
    ("carrier = $$AA$$", "single quotes"),
    ("", "empty"),
]


@pytest.mark.parametrize(("where", "problem"), BROKEN, ids=[w for w, _ in BROKEN])
def test_a_filter_is_parsed_whole_or_refused(repo: Repo, where: str, problem: str) -> None:
    expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.read("flights", where=where),
        problem,
        "in backticks (`my col`)",
    )


def test_export_with_a_broken_filter_writes_no_file(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.datasets.export("flights", out, where="carrier = 'AA'; dep_delay > 60"),
    )
    assert not out.exists()


def test_column_names_with_spaces_are_quoted_with_backticks(repo: Repo) -> None:
    assert repo.read("flights", where="`tail num` = 'N3'").num_rows == 43
    expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.read("flights", where="tail num = 'N3'"),
        "write column 'tail num' as `tail num`",
    )
    expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.read("flights", where="\"tail num\" = 'N3'"),
        "quote column names with backticks",
    )
    e = expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.read("flights", where="tailnum = 'N3'"),
        "no column(s) named 'tailnum'",
        "tail num",
        "backticks (`my col`)",
    )
    assert e.code == "invalid_filter"


def test_a_filter_the_table_cannot_evaluate_says_so_without_source_paths(repo: Repo) -> None:
    e = expect_unchanged(
        repo,
        tillage.InvalidFilterError,
        lambda: repo.read("flights", where="time_hour > '1970-01-05'"),
        "TIMESTAMP '2013-01-01 05:00:00'",
    )
    assert ".rs:" not in str(e)


# -- commit ids ------------------------------------------------------------------------------


def test_commit_id_prefixes_are_hex_and_literal(repo: Repo) -> None:
    first = repo.refs.log()[-1].id
    for prefix in [first[:3] + "_", first[:2] + "%", "%%%%", "____"]:
        expect_unchanged(
            repo, tillage.NoSuchRefError, lambda p=prefix: repo.refs.reset(p), "hex digits"
        )
    assert repo._storage.catalog.find_commit_ids(first[:3] + "_") == []
    assert repo._storage.catalog.find_commit_ids("%") == []
    assert repo.refs.resolve(first[:8]) == first
    assert repo.refs.resolve(first[:8].upper()) == first


def test_a_branch_or_tag_named_like_a_pattern_still_resolves(repo: Repo) -> None:
    repo.create_tag("acb_", "dev")
    assert repo.refs.resolve("acb_") == repo.refs.resolve("dev")


# -- empty refs ------------------------------------------------------------------------------

EMPTY_REF_CALLS = {
    "resolve": lambda r, e: r.refs.resolve(e),
    "commit": lambda r, e: r.refs.commit(e),
    "log": lambda r, e: r.refs.log(e),
    "read": lambda r, e: r.read("flights", e),
    "head": lambda r, e: r.datasets.head("flights", e),
    "export": lambda r, e: r.datasets.export("flights", "x.parquet", e),
    "diff-a": lambda r, e: r.diff(e),
    "diff-b": lambda r, e: r.diff("dev", e),
    "revert": lambda r, e: r.refs.revert(e),
    "reset": lambda r, e: r.refs.reset(e),
    "reset-branch": lambda r, e: r.refs.reset("dev", branch=e),
    "merge": lambda r, e: r.merge(e),
    "merge-into": lambda r, e: r.merge("dev", e),
    "branch-from": lambda r, e: r.create_branch("x", e),
    "tag-ref": lambda r, e: r.create_tag("x", e),
    "tag-delete": lambda r, e: r.refs.delete_tag(e),
    "switch": lambda r, e: r.refs.switch(e),
    "delete-branch": lambda r, e: r.refs.delete_branch(e),
    "ingest-branch": lambda r, e: r.ingest("flights", flights(301).slice(300), branch=e),
    "alerts-commit": lambda r, e: r.quality.alerts(commit=e),
    "datasets": lambda r, e: r.datasets.pins(e),
    "schema": lambda r, e: r.datasets.schema("flights", e),
    "profile": lambda r, e: r.profile("flights", e),
    "checks": lambda r, e: r.quality.checks(e),
    "at": lambda r, e: r.at(e),
    "at-alerts-on": lambda r, e: r.at("main", alerts_on=e),
}


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("call", sorted(EMPTY_REF_CALLS))
def test_an_empty_ref_is_an_error_not_head(repo: Repo, call: str, blank: str) -> None:
    e = expect_unchanged(
        repo,
        tillage.InvalidRefError,
        lambda: EMPTY_REF_CALLS[call](repo, blank),
        "is empty",
    )
    assert e.code == "invalid_ref"
    assert not Path("x.parquet").exists()


def test_a_ref_that_is_not_text_is_an_error(repo: Repo) -> None:
    expect_unchanged(
        repo,
        tillage.InvalidRefError,
        lambda: repo.refs.resolve(5),  # type: ignore[arg-type]
        "not text (int)",
    )


def test_none_still_means_head(repo: Repo) -> None:
    assert repo.refs.resolve(None) == repo.refs.resolve("HEAD") == repo.refs.log()[0].id
    assert repo.read("flights", None).num_rows == 300


# -- column and key names ---------------------------------------------------------------------


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_column_without_a_name_is_refused_at_ingest(repo: Repo, tmp_path: Path) -> None:
    arrow = pa.table({"id": [1], "": [2]})
    pq.write_table(arrow, tmp_path / "blank.parquet")
    inputs = [
        arrow,
        pa.table({"id": [1], " ": [2]}),
        tmp_path / "blank.parquet",
        _csv(tmp_path / "blank.csv", "id,,x\n1,2,3\n"),
    ]
    for data in inputs:
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda data=data: repo.ingest("other", data, key="id"),
            "empty name",
            "#2",
        )


def test_duplicate_columns_and_keys_are_input_errors(repo: Repo) -> None:
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.ingest("other", pd.DataFrame([[1, 2]], columns=["id", "id"]), key="id"),
        "id more than once",
    )
    for key in [["id", "id"], ("id", "id")]:
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda key=key: repo.ingest("other", pa.table({"id": [1, 2]}), key=key),
            "names column(s) id more than once",
        )
    for key in [5, [""], ["id", None]]:
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda key=key: repo.ingest("other", pa.table({"id": [1, 2]}), key=key),
            "must be a column name",
        )
    expect_unchanged(
        repo,
        tillage.InputError,
        lambda: repo.read("flights", columns=["id", "id"]),
        "id asked for more than once",
    )
    assert repo.read("flights", columns="carrier").column_names == ["carrier"]


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"limit": -1}, "limit must be a whole number"),
        ({"offset": -1}, "offset must be a whole number"),
        ({"limit": "3"}, "not '3'"),
        ({"limit": 2.5}, "not 2.5"),
        ({"limit": True}, "not True"),
        ({"columns": [1]}, "column names are text"),
    ],
)
def test_bad_read_arguments_are_input_errors(
    repo: Repo, kwargs: dict[str, object], says: str
) -> None:
    expect_unchanged(repo, tillage.InputError, lambda: repo.read("flights", **kwargs), says)


def test_numpy_integers_are_row_counts(repo: Repo) -> None:
    import numpy as np

    assert repo.read("flights", limit=np.int64(3), offset=np.int32(1)).num_rows == 3


def test_wrong_types_for_ingest_are_tillage_errors(repo: Repo) -> None:
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.ingest(None, flights(1), key="id"),  # type: ignore[arg-type]
        "not a valid dataset name",
    )
    others = [pd.Series([1]), pl.Series([1]), pl.DataFrame({"id": [1]}).lazy()]
    for data in [None, 5, {"id": [1]}, [{"id": 1}], b"id\n1\n", pa.array([1]), *others]:
        expect_unchanged(
            repo,
            tillage.InputError,
            lambda data=data: repo.ingest("other", data, key="id"),
            "cannot ingest a",
        )


# -- taxonomy and task names -------------------------------------------------------------------


def test_taxonomy_and_task_names_stay_inside_the_project(repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text(
        yaml.safe_dump({"name": "evil", "versions": [{"version": 1, "classes": ["a"]}]})
    )
    (outside / "evil.yaml").chmod(0o644)
    for name in ["../../outside/evil", "../outside/evil", "a/b", "", ".hidden"]:
        expect_unchanged(
            repo,
            tillage.InvalidNameError,
            lambda name=name: repo.labels.create("s", records="flights", taxonomy=name),
            "not a valid taxonomy name",
        )
        expect_unchanged(
            repo,
            tillage.InvalidNameError,
            lambda name=name: repo.annotation.next(name, "ann"),
            "not a valid task name",
        )


def test_the_where_help_says_how_to_quote() -> None:
    from typer.testing import CliRunner

    from tillage.cli.app import app

    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())  # unwrap Rich's panel
    assert "parsed whole" in text and "in backticks (`tail num` = 'N3')" in text


def test_a_label_set_name_is_checked_as_a_label_set_name(repo: Repo) -> None:
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.labels.create("../x", records="flights", taxonomy="t"),
        "'../x' is not a valid label set name",
    )


def test_a_name_with_a_trailing_newline_is_refused(repo: Repo) -> None:
    # `$` in the name patterns matched before a final newline
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.ingest("other\n", flights(1), key="id"),
        "not a valid dataset name",
    )
    expect_unchanged(
        repo,
        tillage.InvalidNameError,
        lambda: repo.create_branch("feature\n"),
        "not a valid branch name",
    )
