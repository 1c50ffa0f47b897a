"""Names that name nothing: each kind has its own error code and the CLI exits with its status.

The base project has one dataset, ``flights``, and no models, label sets,
taxonomies, annotation tasks or schedules until a damage below adds some
through the public API.
"""

from __future__ import annotations

from pathlib import Path

import yaml

import tillage
from bad_input.harness import Case
from tillage.errors import EXIT_STATUS

PIPELINE = """\
import tillage


@tillage.pipeline
def daily():
    pass
"""


def _scheduled(project: Path) -> None:
    """One schedule (number 1) of a pipeline file beside the project."""
    path = project.parent / "daily.py"
    path.write_text(PIPELINE)
    with tillage.open(project) as repo:
        tillage.add_schedule(repo, f"{path}:daily", cron="0 6 * * *")


def _modelled(project: Path) -> None:
    """A model ``delay-model`` trained on ``flights``."""
    with tillage.open(project) as repo:
        repo.record_model("delay-model", "flights")


def _label_set(project: Path) -> None:
    """Taxonomy ``delay`` and label set ``delays`` over ``flights``."""
    taxonomy = {"name": "delay", "versions": [{"classes": {"late": "", "on_time": ""}}]}
    (project / "taxonomies").mkdir()
    (project / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(taxonomy))
    with tillage.open(project) as repo:
        repo.labels.create("delays", records="flights", taxonomy="delay")


CASES = [
    Case(
        "no-such-labelset-show",
        ["labels", "show", "nope"],
        says=["no label set 'nope'", "label sets: delays", "tillage labels create"],
        error="no_such_labelset",
        damage=_label_set,
        code=EXIT_STATUS["no_such_labelset"],
    ),
    Case(
        "no-such-labelset-none-yet",
        ["labels", "issues", "nope"],
        says=["no label set 'nope'", "none yet", "tillage labels create"],
        error="no_such_labelset",
    ),
    Case(
        "no-such-taxonomy",
        ["labels", "create", "x", "--records", "flights", "--taxonomy", "nope"],
        says=["no taxonomy file", "nope.yaml", "write that file"],
        error="no_such_taxonomy",
        code=EXIT_STATUS["no_such_taxonomy"],
    ),
    Case(
        "no-such-task",
        ["annotate", "next", "nope", "--annotator", "me"],
        says=["no annotation task spec", "nope.yaml", "write that file"],
        error="no_such_task",
        damage=_label_set,
        code=EXIT_STATUS["no_such_task"],
    ),
    Case(
        "no-such-schedule",
        ["schedule", "remove", "7"],
        says=["no schedule 7", "schedules: 1", "tillage schedule list"],
        error="no_such_schedule",
        damage=_scheduled,
        code=EXIT_STATUS["no_such_schedule"],
    ),
    Case(
        "no-such-model",
        ["drift", "flights", "--against", "model:nope"],
        says=["no model named 'nope'", "models: delay-model", "repo.record_model("],
        error="no_such_model",
        damage=_modelled,
        code=EXIT_STATUS["no_such_model"],
    ),
]
