"""Annotation submissions given bad input: one answer or a batch, and nothing is written.

The base project's ``flights`` has an int64 key ``id`` (0..59); each damage adds
the taxonomy, label set ``delays`` and task ``t`` (overlap 1) with records 7 and
9 queued, and whatever answers the case needs, before the repository is
fingerprinted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bad_input.cases_labels import labelled, then, with_repo
from bad_input.harness import Case, Damage

TASK = {"labelset": "delays", "versions": [{"overlap": 1}]}


def queued(*answers: tuple[str, dict[int, str]]) -> Damage:
    """Task ``t`` with records 7 and 9 queued, then each (annotator, answers) submitted."""

    def act(repo: Any) -> None:
        repo.annotation.enqueue("t", [7, 9])
        repo.annotation.progress("t")  # the index, as any earlier use leaves it
        for annotator, given in answers:
            repo.annotation.submit_many("t", annotator, given)

    return then(labelled(TASK), with_repo(act))


def answers_file(*lines: str) -> Callable[[Path], None]:
    def damage(project: Path) -> None:
        (project.parent / "answers.jsonl").write_text("\n".join(lines) + "\n")

    return damage


GOOD = json.dumps({"record_id": 7, "label": "late"})

CASES = [
    Case(
        "annotate-submit-unknown-task",
        ["annotate", "submit", "nope", "7", "late", "-a", "ann"],
        says=["no annotation task spec", "nope.yaml"],
        error="no_such_task",
        damage=queued(),
    ),
    Case(
        "annotate-submit-label-outside-taxonomy",
        ["annotate", "submit", "t", "7", "early", "-a", "ann"],
        says=["'early'", "not classes of taxonomy 'delay'", "late, on_time"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-record-not-queued",
        ["annotate", "submit", "t", "8", "late", "-a", "ann"],
        says=["record '8' is not queued for task 't'", "annotate next t"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-record-not-in-dataset",
        ["annotate", "submit", "t", "99", "late", "-a", "ann"],
        says=["'99'", "not in dataset 'flights'"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-again",
        ["annotate", "submit", "t", "7", "on_time", "-a", "ann"],
        says=["ann has annotated record '7' already", "nothing was submitted"],
        error="annotation_conflict",
        damage=queued(("ann", {7: "late"})),
    ),
    Case(
        "annotate-submit-record-full",
        ["annotate", "submit", "t", "--answer", "9=late", "--answer", "7=late", "-a", "ann"],
        says=["record '7' has its 1 annotation(s) already", "annotate next t"],
        error="annotation_conflict",
        damage=queued(("bob", {7: "late"})),
    ),
    Case(
        "annotate-submit-batch-not-json",
        ["annotate", "submit", "t", "-a", "ann", "--file", "{tmp}/answers.jsonl"],
        says=["answers.jsonl line 2 is not json", "one object a line"],
        damage=then(queued(), answers_file(GOOD, '{"record_id": 9, "label": late}')),
    ),
    Case(
        "annotate-submit-batch-line-without-label",
        ["annotate", "submit", "t", "-a", "ann", "--file", "{tmp}/answers.jsonl"],
        says=["answers.jsonl line 3 needs record_id and a label", '"record_id": 9'],
        damage=then(queued(), answers_file(GOOD, "", json.dumps({"record_id": 9}))),
    ),
    Case(
        "annotate-submit-batch-record-twice",
        ["annotate", "submit", "t", "-a", "ann", "--file", "{tmp}/answers.jsonl"],
        says=["record '7' is answered twice"],
        damage=then(queued(), answers_file(GOOD, GOOD)),
    ),
    Case(
        "annotate-submit-batch-one-bad-answer-refuses-all",
        ["annotate", "submit", "t", "-a", "ann", "--file", "{tmp}/answers.jsonl"],
        says=["'soon'", "not classes"],
        damage=then(queued(), answers_file(GOOD, json.dumps({"record_id": 9, "label": "soon"}))),
    ),
    Case(
        "annotate-submit-batch-file-missing",
        ["annotate", "submit", "t", "-a", "ann", "--file", "{tmp}/nowhere.jsonl"],
        says=["nowhere.jsonl", "no such file"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-answer-not-record-label",
        ["annotate", "submit", "t", "-a", "ann", "--answer", "7late"],
        says=["'7late' is not record=label", "--answer 7=iphone"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-record-without-label",
        ["annotate", "submit", "t", "7", "-a", "ann"],
        says=["record '7' has no label"],
        damage=queued(),
    ),
    Case(
        "annotate-submit-nothing",
        ["annotate", "submit", "t", "-a", "ann"],
        says=["no answers to submit", "--file"],
        damage=queued(),
    ),
]
