"""Commands that print typed results (alerts, label sets, annotation, labeling functions)
given bad input: the error comes before any result is built, and names the fix.

The base project's ``flights`` has an int64 key ``id`` (0..59); each damage adds
what its case needs through the public API.
"""

from __future__ import annotations

from bad_input.cases_alerts import _drift_alert
from bad_input.cases_labels import TASK, labelled, lf_file, then, with_repo
from bad_input.harness import Case

CASES = [
    Case(
        "mute-with-a-bad-duration",
        ["alerts", "mute", "1", "--for", "soon"],
        says=["bad duration 'soon'", "30m, 12h, 7d or 2w"],
        damage=_drift_alert,
    ),
    Case("mute-unknown-alert", ["alerts", "mute", "9", "--for", "7d"], says=["no alert #9"]),
    Case("resolve-unknown-alert", ["alerts", "resolve", "9"], says=["no alert #9"]),
    Case(
        "annotate-progress-unknown-spec-version",
        ["annotate", "progress", "t", "--spec-version", "5"],
        says=["no spec version 5", "versions: 1", "tasks/t.yaml"],
        damage=labelled(TASK),
    ),
    Case(
        "labels-aggregate-without-annotations",
        ["labels", "aggregate", "delays"],
        says=["'delays' has no annotations to aggregate"],
        damage=then(labelled(TASK), with_repo(lambda r: r.annotation.enqueue("t", [1, 2]))),
    ),
    Case(
        "labels-create-twice",
        ["labels", "create", "delays", "--records", "flights", "--taxonomy", "delay"],
        says=["label set 'delays' exists already"],
        damage=labelled(),
    ),
    Case(
        "lf-report-unknown-gold",
        ["lf", "report", "{tmp}/lfs.py", "delays", "--gold", "nope"],
        says=["no label set 'nope'", "delays"],
        error="no_such_labelset",
        damage=then(labelled(), lf_file),
    ),
]
