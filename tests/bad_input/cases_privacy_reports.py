"""DP labeling-function reports and slice metrics on private data given bad input.

The base project's ``flights`` (id, carrier, origin, dep_delay) is made private
with a budget; the cases run as ``tester``, who may not read it raw, so the
reports come as DP answers.
"""

from __future__ import annotations

from pathlib import Path

import tillage
from bad_input.cases_labels import labelled, lf_file, then
from bad_input.cases_models import recorded
from bad_input.harness import Case

POLICY = """
datasets:
  flights:
    budget: 1.0
    columns:
      carrier: {class: quasi_identifier}
"""


def private(project: Path) -> None:
    (project / ".tillage" / "policy.yaml").write_text(POLICY)


def predicted(project: Path) -> None:
    """Model ``delay`` on ``flights`` with its predictions stored."""
    recorded()(project)
    with tillage.open(project) as repo:
        repo.models.predict("delay", "flights")


def lf_report(*args: str) -> list[str]:
    return ["lf", "report", "{tmp}/lfs.py", "delays", *args]


CASES = [
    Case(
        "dp-lf-report-without-epsilon",
        lf_report(),
        says=["'flights' is private", "DP answers", "--epsilon", "nothing was spent"],
        error="dp_query",
        damage=then(labelled(labels=4), lf_file, private),
    ),
    Case(
        "dp-lf-report-epsilon-zero",
        lf_report("--epsilon", "0"),
        says=["epsilon must be a finite number > 0, not 0", "--epsilon"],
        error="dp_query",
        damage=then(labelled(labels=4), lf_file, private),
    ),
    Case(
        "dp-lf-report-epsilon-negative",
        lf_report("--epsilon=-0.5"),
        says=["epsilon must be a finite number > 0, not -0.5"],
        error="dp_query",
        damage=then(labelled(labels=4), lf_file, private),
    ),
    Case(
        "dp-lf-report-over-budget",
        lf_report("--epsilon", "2"),
        says=["tester", "flights", "budget"],
        error="budget_exhausted",
        damage=then(labelled(labels=4), lf_file, private),
    ),
    Case(
        "dp-slices-by-a-non-public-column-without-categories",
        ["slices", "delay", "flights", "--label", "origin", "--columns", "origin", "-e", "0.5"],
        says=["would name values of non-public column(s)", "'origin'", "columns.origin.categories"],
        error="dp_query",
        damage=then(predicted, private),
    ),
    Case(
        "dp-slices-without-epsilon",
        ["slices", "delay", "flights", "--label", "origin", "--columns", "carrier"],
        says=["'flights' is private", "per-slice model metrics", "--epsilon"],
        error="dp_query",
        damage=then(predicted, private),
    ),
]
