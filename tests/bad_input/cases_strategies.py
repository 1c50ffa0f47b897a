"""Strategies whose inputs tillage derives (committee, label model, slices) and
``fairness``, given bad input.

The base project's ``flights`` has an int64 key ``id`` (0..59) and columns
``carrier``, ``origin`` and ``dep_delay``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tillage
from bad_input.cases_labels import labelled, then, with_repo
from bad_input.harness import Case, Damage, flights_table, write_parquet


def model(name: str = "clf", *, labelset: bool = True, predict: bool = False) -> Damage:
    """A logistic regression on ``dep_delay`` recorded as ``name`` (labels of ``delays``)."""

    def damage(project: Path) -> None:
        from sklearn.linear_model import LogisticRegression

        with tillage.open(project) as repo:
            frame = repo.read("flights").to_pandas()
            late = ["late" if d > 15 else "on_time" for d in frame["dep_delay"]]
            fitted = LogisticRegression().fit(frame[["dep_delay"]], late)
            kwargs: dict[str, Any] = {"labelset": "delays"} if labelset else {}
            repo.models.record(name, "flights", model=fitted, **kwargs)
            if predict:
                repo.models.predict(name, "flights")

    return damage


def votes(project: Path) -> None:
    """Votes of two labeling functions (on the AA flights from JFK only), in ``delays``."""
    aa = tillage.labeling_function(lambda r: "late" if r["carrier"] == "AA" else None, name="aa")
    jfk = tillage.labeling_function(
        lambda r: "on_time" if r["origin"] == "JFK" else None, name="jfk"
    )
    with tillage.open(project) as repo:
        repo.labels.apply_functions("delays", [aa, jfk], model=False)


def batch(project: Path) -> None:
    write_parquet(project.parent / "batch.parquet", flights_table(range(5)))


CASES = [
    Case(
        "select-committee-member-without-predictions",
        ["select", "flights", "--strategy", "committee", "--committee", "clf,other"],
        says=["no predictions", "tillage models predict other flights"],
        error="no_predictions",
        damage=then(labelled(labels=20), model(predict=True), model("other")),
    ),
    Case(
        "select-committee-unknown-member",
        ["select", "flights", "--strategy", "committee", "--committee", "clf,ghost"],
        says=["no model named 'ghost'"],
        error="no_such_model",
        damage=then(labelled(labels=20), model(predict=True)),
    ),
    Case(
        "select-committee-nothing-to-make-it-from",
        ["select", "flights", "--strategy", "committee"],
        says=["--committee A,B", "--model NAME for a bootstrap committee"],
        error="bad_input",
    ),
    Case(
        "select-bootstrap-committee-model-without-labels",
        ["select", "flights", "--strategy", "committee", "--model", "clf"],
        says=["recorded without a label set", "--param label=COLUMN"],
        error="bad_input",
        damage=then(labelled(), model(labelset=False)),
    ),
    Case(
        "select-bootstrap-committee-model-without-file",
        ["select", "flights", "--strategy", "committee", "--model", "bare"],
        says=["bare", "recorded without its fitted model"],
        error="no_model_artifact",
        damage=then(
            labelled(),
            with_repo(
                lambda r: r.models.record(
                    "bare", "flights", features=["dep_delay"], labelset="delays"
                )
            ),
        ),
    ),
    Case(
        "select-lf-conflict-without-labelset",
        ["select", "flights", "--strategy", "lf_conflict"],
        says=["needs extra:lf_conflict", "--labelset NAME"],
        error="bad_input",
    ),
    Case(
        "select-label-model-labelset-without-votes",
        [
            "select",
            "flights",
            "--strategy",
            "label_model_vs_classifier",
            "--model",
            "clf",
            "--labelset",
            "delays",
            "--include-labelled",
        ],
        says=["no labeling function votes", "tillage lf apply FILE delays"],
        error="bad_input",
        damage=then(labelled(labels=20), model(predict=True)),
    ),
    Case(
        "select-slice-targeted-without-true-labels",
        ["select", "flights", "--strategy", "slice_targeted", "--model", "clf"],
        says=["slice_targeted", "--labelset NAME", "--param label=COLUMN"],
        error="bad_input",
        damage=then(labelled(), model(labelset=False, predict=True)),
    ),
    Case(
        "select-slice-targeted-without-predictions",
        ["select", "flights", "--strategy", "slice_targeted", "--model", "clf"],
        says=["no predictions", "tillage models predict clf flights"],
        error="no_predictions",
        damage=then(labelled(labels=30), model()),
    ),
    Case(
        "fairness-unknown-sensitive-column",
        ["fairness", "clf", "flights", "--sensitive", "colour", "--labelset", "delays"],
        says=["unknown column(s) colour", "carrier, origin"],
        error="bad_input",
        damage=then(labelled(labels=30), model(predict=True)),
    ),
    Case(
        "fairness-model-without-predictions",
        ["fairness", "clf", "flights", "--sensitive", "origin", "--labelset", "delays"],
        says=["no predictions", "tillage models predict clf flights"],
        error="no_predictions",
        damage=then(labelled(labels=30), model()),
    ),
    Case(
        "fairness-unknown-model",
        ["fairness", "clf", "flights", "--sensitive", "origin", "--label", "carrier"],
        says=["no model named 'clf'"],
        error="no_such_model",
    ),
    Case(
        "fairness-needs-sensitive",
        ["fairness", "clf", "flights"],
        says=["--sensitive"],
    ),
    *[
        Case(
            f"ingest-reserved-name-{name}",
            ["ingest", name, "{tmp}/batch.parquet", "--key", "id"],
            says=[f"{name!r} is not a valid dataset name", "tillage keeps", "choose another"],
            error="invalid_name",
            damage=batch,
        )
        for name in ("selections", "clf-predictions", "flights-values")
    ],
    Case(
        "labels-create-reserved-name",
        ["labels", "create", "flights-values", "--records", "flights", "--taxonomy", "delay"],
        says=["'flights-values' is not a valid label set name", "data values"],
        error="invalid_name",
        damage=labelled(),
    ),
    Case(
        "select-lf-conflict-every-voted-record-left-out",
        ["select", "flights", "--strategy", "lf_conflict", "--labelset", "delays"],
        says=["none of the", "has a vote in label set 'delays'", "--include-labelled"],
        error="bad_input",
        damage=then(labelled(labels=10), votes),
    ),
]
