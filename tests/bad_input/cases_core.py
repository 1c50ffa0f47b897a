"""The repository API's namespaces and read path: bad names and settings met on the way.

Quality settings are read when the monitor is first used (not when the
repository opens, so that `log` stays fast); a typo there must still stop the
commands that use them, with the repository unchanged.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bad_input.harness import Case, flights_table, write_parquet


def _quality_typo(project: Path) -> None:
    config = project / ".tillage" / "config.yaml"
    doc = yaml.safe_load(config.read_text()) or {}
    doc["quality"] = {"refrence": "window:3"}
    config.write_text(yaml.safe_dump(doc))
    write_parquet(project.parent / "more.parquet", flights_table(range(1000, 1010)))


CASES = [
    Case("quality-typo-alerts", ["alerts"], says=["refrence"], damage=_quality_typo),
    Case(
        "quality-typo-ingest",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["refrence"],
        damage=_quality_typo,
    ),
    Case("quality-typo-profile", ["profile", "flights"], says=["refrence"], damage=_quality_typo),
    Case(
        "diff-unknown-dataset",
        ["diff", "HEAD", "HEAD", "--dataset", "nope"],
        says=["nope", "flights"],
        error="no_such_dataset",
    ),
    Case("profile-unknown-dataset", ["profile", "nope"], says=["nope"], error="no_such_dataset"),
    Case(
        "drift-unknown-reference",
        ["drift", "flights", "--against", "nowhere"],
        says=["nowhere"],
        error="no_such_ref",
    ),
    Case(
        "export-labels-unknown-labelset",
        ["export", "flights", "{tmp}/out.parquet", "--labels", "nope"],
        says=["nope"],
    ),
]
