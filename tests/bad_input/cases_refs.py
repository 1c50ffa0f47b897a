"""Refs, names and filters that gave a wrong answer with exit 0, or were accepted and then broke.

Filters that Lance read only in part, commit-id prefixes matched as LIKE
patterns, empty refs taken for HEAD, columns and keys a dataset cannot serve,
and taxonomy or task names that reached outside the project.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import yaml

import tillage
from bad_input.harness import Case, Damage, write_parquet

QUOTING = "in backticks (`my col`)"

FILTERS = {
    "semicolon": "carrier = 'AA'; dep_delay > 60",
    "unbalanced": "dep_delay > 60) AND (carrier = 'AA'",
    "trailing-words": "dep_delay > 60 garbage garbage",
    "drop-table": "1=1; DROP TABLE flights",
    "order-by": "dep_delay > 10 ORDER BY id",
    "comment": "dep_delay > 10 -- AND carrier = 'AA'",
    "double-quoted-column": "\"carrier\" = 'AA'",
    "unquoted-space": "dep delay > 10",
    "unknown-column": "delay > 10",
    "hash-comment": "id = 1 #x\n OR id = 2",
    "empty": "",
}


def _filter_cases() -> list[Case]:
    return [
        Case(
            f"where-{name}",
            ["export", "flights", "{tmp}/out.parquet", "--where", where],
            says=["cannot filter with", QUOTING],
            error="invalid_filter",
        )
        for name, where in FILTERS.items()
    ]


# Commands that take a ref or a branch, with "" where the ref goes.
EMPTY_REF = {
    "revert": ["revert", ""],
    "reset": ["reset", ""],
    "reset-branch": ["reset", "dev", "--branch", ""],
    "show": ["show", ""],
    "log": ["log", ""],
    "diff-a": ["diff", ""],
    "diff-b": ["diff", "dev", ""],
    "head-ref": ["head", "flights", "--ref", ""],
    "export-ref": ["export", "flights", "{tmp}/out.parquet", "--ref", ""],
    "merge": ["merge", ""],
    "merge-into": ["merge", "dev", "--into", ""],
    "branch-from": ["branch", "new", "--from", ""],
    "branch-delete": ["branch", "--delete", ""],
    "tag-ref": ["tag", "new", ""],
    "tag-delete": ["tag", "--delete", ""],
    "switch": ["switch", ""],
    "switch-blank": ["switch", "  "],
    "ingest-branch": ["ingest", "flights", "{tmp}/more.parquet", "--branch", ""],
    "run-branch": ["run", "{tmp}/flow.py:flow", "--branch", ""],
}

FLOW = """
import tillage

@tillage.step
def one() -> int:
    return 1

@tillage.pipeline
def flow() -> int:
    return one()
"""


def _more_rows(project: Path) -> None:
    write_parquet(
        project.parent / "more.parquet",
        pa.table(
            {"id": [100], "carrier": ["AA"], "origin": ["JFK"], "dep_delay": [1.0]},
        ),
    )


def _flow(project: Path) -> None:
    (project.parent / "flow.py").write_text(FLOW)


def _empty_ref_cases() -> list[Case]:
    return [
        Case(
            f"empty-ref-{name}",
            args,
            says=["is empty"],
            error="invalid_ref",
            damage={"ingest-branch": _more_rows, "run-branch": _flow}.get(name),
        )
        for name, args in EMPTY_REF.items()
    ]


def _planes(project: Path) -> None:
    with tillage.open(project) as repo:
        repo.ingest("planes", pa.table({"id": [1, 2], "tail num": ["N1", "N2"]}), key="id")


def _csv(name: str, text: str) -> Damage:
    def damage(project: Path) -> None:
        (project.parent / name).write_text(text)

    return damage


def _parquet_with_blank_column(project: Path) -> None:
    write_parquet(project.parent / "blank.parquet", pa.table({"id": [1], "": [2]}))


def _outside_taxonomy(project: Path) -> None:
    outside = project.parent / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text(
        yaml.safe_dump({"name": "evil", "versions": [{"version": 1, "classes": ["a", "b"]}]})
    )


def _outside_task(project: Path) -> None:
    outside = project.parent / "outside"
    outside.mkdir()
    (outside / "evil.yaml").write_text(
        yaml.safe_dump({"labelset": "s", "versions": [{"version": 1, "taxonomy_version": 1}]})
    )


CASES = [
    *_filter_cases(),
    Case(
        "where-column-with-a-space",
        ["export", "planes", "{tmp}/out.parquet", "--where", "tail num = 'N1'"],
        says=["write column 'tail num' as `tail num`"],
        error="invalid_filter",
        damage=_planes,
    ),
    *_empty_ref_cases(),
    # commit-id prefixes are hex and literal: '_' and '%' were LIKE wildcards
    *[
        Case(f"prefix-{name}", ["reset", prefix], says=["hex digits"], error="no_such_ref")
        for name, prefix in [("underscores", "____"), ("percent", "%%%%"), ("mixed", "ab_%")]
    ],
    # columns and keys a dataset cannot serve
    Case(
        "blank-column-csv",
        ["ingest", "other", "{tmp}/blank.csv", "--key", "id"],
        says=["empty name", "#2"],
        error="bad_input",
        damage=_csv("blank.csv", "id,,x\n1,2,3\n"),
    ),
    Case(
        "blank-column-parquet",
        ["ingest", "other", "{tmp}/blank.parquet", "--key", "id"],
        says=["empty name"],
        error="bad_input",
        damage=_parquet_with_blank_column,
    ),
    Case(
        "repeated-key",
        ["ingest", "other", "{tmp}/k.csv", "--key", "id,id"],
        says=["id more than once"],
        error="bad_input",
        damage=_csv("k.csv", "id,x\n1,2\n"),
    ),
    Case(
        "repeated-export-columns",
        ["export", "flights", "{tmp}/out.parquet", "--columns", "id,id"],
        says=["id asked for more than once"],
        error="bad_input",
    ),
    # names that reached files outside the project
    Case(
        "taxonomy-outside",
        ["labels", "create", "s", "--records", "flights", "--taxonomy", "../../outside/evil"],
        says=["not a valid taxonomy name"],
        error="invalid_name",
        damage=_outside_taxonomy,
    ),
    Case(
        "task-outside",
        ["annotate", "next", "../../outside/evil", "--annotator", "ann"],
        says=["not a valid task name"],
        error="invalid_name",
        damage=_outside_task,
    ),
]
