"""Labels: label sets, annotation tasks, labeling functions and label issues given bad input.

The base project's ``flights`` has an int64 key ``id`` (0..59). Each damage
below adds what its case needs (a taxonomy, a task file, label sets) through
the public API before the repository is fingerprinted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

import tillage
from bad_input.harness import Case, Damage

TAXONOMY = {"name": "delay", "versions": [{"classes": {"late": "", "on_time": ""}}]}


def labelled(task: dict[str, Any] | None = None, labels: int = 0) -> Damage:
    """A taxonomy, label set ``delays`` over ``flights`` with ``labels`` labels
    (alternating classes), and ``task`` as ``tasks/t.yaml``."""

    def damage(project: Path) -> None:
        (project / "taxonomies").mkdir()
        (project / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
        if task is not None:
            (project / "tasks").mkdir()
            (project / "tasks" / "t.yaml").write_text(yaml.safe_dump(task))
        with tillage.open(project) as repo:
            repo.labels.create("delays", records="flights", taxonomy="delay")
            if labels:
                classes = ["late" if i % 2 else "on_time" for i in range(labels)]
                repo.labels.add("delays", list(range(labels)), classes, source="me")

    return damage


def then(*steps: Damage) -> Damage:
    def damage(project: Path) -> None:
        for step in steps:
            step(project)

    return damage


def with_repo(action: Callable[[tillage.Repo], Any]) -> Damage:
    def damage(project: Path) -> None:
        with tillage.open(project) as repo:
            action(repo)

    return damage


def lf_file(project: Path) -> None:
    (project.parent / "lfs.py").write_text(
        "import tillage\n"
        "@tillage.labeling_function()\n"
        "def aa(r):\n"
        "    return 'late' if r['carrier'] == 'AA' else None\n"
    )


TASK = {"labelset": "delays", "versions": [{"overlap": 1}]}

CASES = [
    Case(
        "labels-issues-no-labels",
        ["labels", "issues", "delays"],
        says=["delays", "at least 2 classes"],
        damage=labelled(),
    ),
    Case(
        "labels-issues-one-class",
        ["labels", "issues", "delays"],
        says=["only 'late'", "at least 2 classes"],
        damage=then(
            labelled(),
            with_repo(lambda r: r.labels.add("delays", [1, 3, 5], ["late"] * 3, source="me")),
        ),
    ),
    Case(
        "labels-create-composite-key",
        ["labels", "create", "pairs", "--records", "pairs", "--taxonomy", "delay"],
        says=["composite key", "one-column key"],
        damage=then(
            labelled(),
            with_repo(
                lambda r: r.ingest("pairs", pa.table({"a": [1, 1], "b": [1, 2]}), key=["a", "b"])
            ),
        ),
    ),
    Case(
        "annotate-enqueue-id-of-wrong-type",
        ["annotate", "enqueue", "t", "7", "seven"],
        says=["'seven'", "key column 'id'", "int64"],
        damage=labelled(TASK),
    ),
    Case(
        "annotate-enqueue-unknown-id",
        ["annotate", "enqueue", "t", "7", "99"],
        says=["'99'", "not in dataset 'flights'"],
        damage=labelled(TASK),
    ),
    Case(
        "annotate-next-unknown-field",
        ["annotate", "next", "t", "-a", "ann"],
        says=["'gate'", "columns: id, carrier", "tasks/t.yaml"],
        damage=then(
            labelled({"labelset": "delays", "versions": [{"fields": ["carrier", "gate"]}]}),
            with_repo(lambda r: r.annotation.enqueue("t", [1])),
        ),
    ),
    Case(
        "annotate-next-fields-not-a-list",
        ["annotate", "next", "t", "-a", "ann"],
        says=["fields", "list of column names"],
        damage=labelled({"labelset": "delays", "versions": [{"fields": "carrier"}]}),
    ),
    Case(
        "annotate-next-bad-template",
        ["annotate", "next", "t", "-a", "ann"],
        says=["template", "format string"],
        damage=labelled({"labelset": "delays", "versions": [{"template": "<p>{carrier</p>"}]}),
    ),
    Case(
        "lf-apply-gold-over-other-records",
        ["lf", "apply", "{tmp}/lfs.py", "delays", "--gold", "other"],
        says=["'other' labels dataset 'planes'", "'delays' labels 'flights'"],
        damage=then(
            labelled(),
            lf_file,
            with_repo(lambda r: r.ingest("planes", pa.table({"tail": ["N1", "N2"]}), key="tail")),
            with_repo(lambda r: r.labels.create("other", records="planes", taxonomy="delay")),
        ),
    ),
]
