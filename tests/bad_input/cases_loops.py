"""Loops: ``run`` of an improve loop and ``loop show`` given bad input.

Cases that show a stored run make it in their damage under the fixed id `RUN`
(run ids are random otherwise, and a command line cannot name one in advance).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from unittest import mock

import tillage
from bad_input.harness import Case, Damage

RUN = "100b5e1ec7ed0001"


def improve_run(loop: str) -> Damage:
    """A failed run of improve loop ``loop`` (its batch size is 0) with id `RUN`."""

    def damage(project: Path) -> None:
        fixed = uuid.UUID(RUN + "0" * 16)
        params = {
            "dataset": "flights",
            "label": "carrier",
            "model": "m",
            "train": "train.py:train",
            "features": ["dep_delay"],
            "evaluation": {"dataset": "flights", "label": "carrier"},
            "batch": 0,
        }
        with (
            mock.patch("tillage.pipelines.engine.uuid.uuid4", return_value=fixed),
            tillage.open(project) as repo,
        ):
            run = tillage.run(repo, getattr(tillage, loop), params)
        assert run.id == RUN and run.status == "failed"

    return damage


CASES = [
    Case(
        "loop-improve-params-missing",
        ["run", "tillage.loops.improve:remove_low_value", "-p", "dataset=flights"],
        says=["remove_low_value", "takes (dataset, model, train, features, evaluation"],
        error="bad_input",
    ),
    Case(
        "loop-show-improve-plot",
        ["loop", "show", RUN, "--plot", "{tmp}/curve.png"],
        says=["improve loop has decisions, not a learning curve", "leave out --plot"],
        error="bad_input",
        damage=improve_run("remove_low_value"),
    ),
    Case(
        "loop-show-no-such-run",
        ["loop", "show", "0000feedbeef0000"],
        says=["0000feedbeef0000"],
        error="no_such_run",
    ),
]
