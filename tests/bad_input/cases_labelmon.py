"""Label alerts and record ids of every key type, given bad input.

The base project's ``flights`` (60 rows, int64 key ``id``) is labelled through
the public API by each damage below, before the repository is fingerprinted.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import tillage
from bad_input.cases_labels import labelled, then, with_repo
from bad_input.harness import Case, Damage


def _coverage_alert(project: Path) -> None:
    """Two runs of labeling function ``aa``, the second firing on 1 record: alert #1."""
    from tillage.labels.sets import events

    with tillage.open(project) as repo:
        for fired in (40, 1):
            votes = events(
                list(range(fired)), ["late"] * fired, kind="lf", source="aa", taxonomy_version=1
            )
            repo.ingest("delays", votes, key="event_id")
        [alert] = repo.quality.alerts(dataset="delays")
        assert alert.id == 1 and alert.finding.kind == "lf_coverage"


def _big_ids(project: Path) -> None:
    """Dataset ``big`` keyed by uint64 ids beyond int64, and label set ``b`` over it."""
    ids = pa.array([2**64 - 1 - i for i in range(10)], pa.uint64())
    with tillage.open(project) as repo:
        repo.ingest("big", pa.table({"id": ids, "x": list(range(10))}), key="id")
        repo.labels.create("b", records="big", taxonomy="delay")


def _labels_file(ids: list[str]) -> Damage:
    """``labels.csv`` beside the project: these record ids, each labelled late."""

    def damage(project: Path) -> None:
        rows = "".join(f"{i},late\n" for i in ids)
        (project.parent / "labels.csv").write_text("record_id,label\n" + rows)

    return damage


CASES = [
    Case(
        "accept-label-alert",
        ["alerts", "accept", "1"],
        says=["cannot be accepted", "about the labels of 'delays'", "tillage alerts resolve 1"],
        error="alert_not_acceptable",
        damage=then(labelled(), _coverage_alert),
    ),
    Case(
        "labels-add-id-beyond-uint64",
        ["labels", "add", "b", "{tmp}/labels.csv", "--source", "me"],
        says=["18446744073709551616", "uint64"],
        damage=then(labelled(), _big_ids, _labels_file(["18446744073709551615", str(2**64)])),
    ),
    Case(
        "labels-add-negative-id-for-uint64",
        ["labels", "add", "b", "{tmp}/labels.csv", "--source", "me"],
        says=["-1", "uint64"],
        damage=then(labelled(), _big_ids, _labels_file(["-1"])),
    ),
    Case(
        "labels-issues-uint64-one-class",
        ["labels", "issues", "b"],
        says=["only 'late'", "at least 2 classes"],
        damage=then(
            labelled(),
            _big_ids,
            with_repo(
                lambda r: r.labels.add("b", [2**64 - 1, 2**64 - 2], ["late"] * 2, source="me")
            ),
        ),
    ),
]

CASES += [
    Case(
        f"label-set-{'-'.join(args[:2])}",
        args,
        says=["'delays' is a label set", what, "tillage labels show delays"],
        error="label_set_not_data",
        damage=labelled(labels=20),
    )
    for args, what in [
        (["schema", "infer", "delays"], "a schema inferred from them"),
        (["check", "delays"], "checking them against a schema"),
        (["drift", "delays", "--window", "1"], "drift"),
    ]
]
