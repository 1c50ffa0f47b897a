"""Selections: ``select`` and ``selection show|apply`` given bad input.

The base project's ``flights`` has an int64 key ``id`` (0..59). Cases that act
on a stored selection make it in their damage, under the fixed id `SELECTION`
(the id is random otherwise, and a command line cannot name it in advance).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import tillage
from bad_input.cases_labels import TASK, labelled, then, with_repo
from bad_input.harness import Case, Damage

SELECTION = "5e1ec7105e1e"


def selected(**kwargs: Any) -> Damage:
    """A stored selection of ``flights`` with id `SELECTION` (``repo.select(**kwargs)``)."""

    def damage(project: Path) -> None:
        fixed = uuid.UUID(SELECTION + "0" * 20)
        with (
            mock.patch("tillage.api.selection.uuid4", return_value=fixed),
            tillage.open(project) as repo,
        ):
            repo.select("flights", **{"strategy": "random", "n": 5, **kwargs})

    return damage


CASES = [
    Case(
        "select-unknown-strategy",
        ["select", "flights", "--strategy", "psychic"],
        says=["'psychic'", "strategies: class_balanced", "random", "register"],
        error="no_such_strategy",
    ),
    Case(
        "select-needs-dataset-and-strategy",
        ["select"],
        says=["needs a DATASET and --strategy", "select --list"],
        error="bad_input",
    ),
    Case(
        "select-unknown-dataset",
        ["select", "planes", "--strategy", "random"],
        says=["'planes' does not exist", "flights"],
        error="no_such_dataset",
    ),
    Case(
        "select-empty-pool-after-where",
        ["select", "flights", "--strategy", "random", "--where", "id > 1000"],
        says=["pool of 'flights' is empty", "0 record(s)", "Widen --where"],
        error="empty_pool",
    ),
    Case(
        "select-empty-pool-all-labelled",
        ["select", "flights", "--strategy", "random"],
        says=["pool of 'flights' is empty", "60 labelled", "--include-labelled"],
        error="empty_pool",
        damage=labelled(labels=60),
    ),
    Case(
        "select-empty-pool-all-queued",
        ["select", "flights", "--strategy", "random", "--include-labelled"],
        says=["60 queued"],
        error="empty_pool",
        damage=then(
            labelled(TASK, labels=0),
            with_repo(lambda r: r.annotation.enqueue("t", list(range(60)))),
        ),
    ),
    Case(
        "select-unknown-model",
        ["select", "flights", "--strategy", "random", "--model", "clf"],
        says=["no model named 'clf'", "models: none yet"],
        error="no_such_model",
    ),
    Case(
        "select-bad-where",
        ["select", "flights", "--strategy", "random", "--where", "id >"],
        says=["cannot filter with 'id >'"],
        error="invalid_filter",
    ),
    Case(
        "select-n-zero",
        ["select", "flights", "--strategy", "random", "-n", "0"],
        says=["n must be a whole number >= 1", "0"],
    ),
    Case(
        "select-bad-param",
        ["select", "flights", "--strategy", "random", "--param", "oops"],
        says=["--param 'oops' is not NAME=VALUE"],
    ),
    Case(
        "select-unknown-labelset",
        ["select", "flights", "--strategy", "random", "--labelset", "nope"],
        says=["no label set 'nope'"],
        error="no_such_labelset",
    ),
    Case(
        "select-unknown-task",
        ["select", "flights", "--strategy", "random", "--task", "nope"],
        says=["nope.yaml"],
        error="no_such_task",
    ),
    Case(
        "selection-show-unknown",
        ["selection", "show", "0123abcd"],
        says=["no selection '0123abcd'", "tillage selection list"],
        error="no_such_selection",
    ),
    Case(
        "selection-apply-unknown-action",
        ["selection", "apply", SELECTION, "--action", "burn"],
        says=["no action named 'burn'", "label, relabel, remove"],
        error="no_such_action",
        damage=selected(),
    ),
    Case(
        "selection-apply-augment-without-transforms",
        ["selection", "apply", SELECTION, "--action", "augment"],
        says=["augment needs transforms", "word-dropout:text"],
        error="bad_input",
        damage=selected(),
    ),
    Case(
        "selection-apply-label-without-task",
        ["selection", "apply", SELECTION],
        says=["name it with --task"],
        damage=selected(),
    ),
    Case(
        "selection-apply-label-labelled-records",
        ["selection", "apply", SELECTION, "--action", "label", "--task", "t"],
        says=["labelled in 'delays' already", "relabel"],
        damage=then(labelled(TASK, labels=60), selected(n=3, include_labelled=True)),
    ),
    Case(
        "selection-apply-branch-with-label",
        ["selection", "apply", SELECTION, "--branch", "x"],
        says=["--branch is for remove"],
        damage=selected(),
    ),
    Case(
        "selection-apply-remove-records-gone",
        ["selection", "apply", SELECTION, "--action", "remove"],
        says=["none of the 5 record(s)", "nothing to remove"],
        damage=then(
            selected(),
            with_repo(
                lambda r: r.ingest(
                    "flights", r.read("flights", columns=["id"]), mode="delete", check=False
                )
            ),
        ),
    ),
]
