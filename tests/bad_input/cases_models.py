"""Models: `tillage models` given unknown names, a model without its file, missing features.

The base project's ``flights`` has an int64 key ``id`` and columns ``carrier``,
``origin`` and ``dep_delay``. Each damage records what its case needs through
the public API before the repository is fingerprinted.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import tillage
from bad_input.harness import Case, Damage


def recorded(*, with_file: bool = True, other: bool = False) -> Damage:
    """Model ``delay`` (version 1) on ``flights``, fitted on ``dep_delay``; with ``other``,
    a dataset ``other`` without that column."""

    def damage(project: Path) -> None:
        from sklearn.linear_model import LogisticRegression

        with tillage.open(project) as repo:
            x = repo.read("flights", columns=["dep_delay"]).to_pandas()
            fitted = LogisticRegression().fit(x, x["dep_delay"] > 10)
            repo.models.record(
                "delay",
                "flights",
                model=fitted if with_file else None,
                features=["dep_delay"],
            )
            if other:
                repo.ingest("other", pa.table({"id": [1, 2], "carrier": ["AA", "UA"]}), key="id")

    return damage


def damaged_file(project: Path) -> None:
    """Model ``delay`` recorded, then its file overwritten."""
    recorded()(project)
    (project / ".tillage" / "models" / "delay" / "1.skops").write_bytes(b"PK junk")


CASES = [
    Case(
        "models-show-unknown",
        ["models", "show", "nope"],
        says=["no model named 'nope'", "record the model"],
        error="no_such_model",
    ),
    Case(
        "models-show-unknown-version",
        ["models", "show", "delay", "--version", "7"],
        says=["model 'delay' has no version 7", "its versions: 1", "tillage models list delay"],
        error="no_such_model",
        damage=recorded(),
    ),
    Case(
        "models-list-unknown",
        ["models", "list", "nope"],
        says=["no model named 'nope'", "models: delay"],
        error="no_such_model",
        damage=recorded(),
    ),
    Case(
        "models-predict-unknown-model",
        ["models", "predict", "nope", "flights"],
        says=["no model named 'nope'"],
        error="no_such_model",
    ),
    Case(
        "models-predict-unknown-dataset",
        ["models", "predict", "delay", "nope"],
        says=["'nope'", "flights"],
        error="no_such_dataset",
        damage=recorded(),
    ),
    Case(
        "models-predict-without-file",
        ["models", "predict", "delay", "flights"],
        says=["recorded without its fitted model", "record_predictions"],
        error="no_model_artifact",
        damage=recorded(with_file=False),
    ),
    Case(
        "models-predict-missing-features",
        ["models", "predict", "delay", "other"],
        says=["column(s) dep_delay", "'other' does not have"],
        error="missing_features",
        damage=recorded(other=True),
    ),
    Case(
        "models-predict-damaged-file",
        ["models", "predict", "delay", "flights"],
        says=["models/delay/1.skops", "SHA-256", "record the model again"],
        error="corrupt_model",
        damage=damaged_file,
    ),
]
