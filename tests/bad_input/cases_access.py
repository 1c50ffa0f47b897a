"""A person's record-level reads of a private dataset: refused, naming what they can do.

The project's ``flights`` is marked private by the policy file (its ``carrier``
public); ``ana`` holds no role that reads raw. Each read fails with
``private_data`` and writes nothing (an export's target lies inside the project,
so a file left behind would change its fingerprint).
"""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case

ALTERNATIVES = [
    "ana may not see raw values of private dataset 'flights'",
    "nothing was shown",
    "tillage privacy query flights",
    "tillage privacy aggregate flights",
    "tillage privacy synthesize flights",
    "tillage grant request",
]


def _private(project: Path) -> None:
    (project / ".tillage" / "policy.yaml").write_text(
        "principals: {ana: [engineer]}\ndatasets:\n  flights:\n    columns: {carrier: public}\n"
    )


def _case(id: str, args: list[str], what: str) -> Case:
    return Case(
        id,
        args,
        says=[*ALTERNATIVES, what],
        error="private_data",
        damage=_private,
        env={"TILLAGE_PRINCIPAL": "ana"},
    )


CASES = [
    _case("private-head", ["head", "flights"], "its rows"),
    _case("private-head-at-tag", ["head", "flights", "--ref", "v1"], "its rows"),
    _case("private-export", ["export", "flights", "{project}/out.parquet"], "an export"),
    _case(
        "private-export-private-column",
        ["export", "flights", "{project}/out.csv", "--columns", "carrier,dep_delay"],
        "an export",
    ),
    _case(
        "private-filter-behind-public-column",
        ["export", "flights", "{project}/o.csv", "-c", "carrier", "--where", "dep_delay > 40"],
        "an export",
    ),
    _case(
        "private-diff-rows",
        ["diff", "HEAD~1", "HEAD", "--rows", "3"],
        "the rows that changed between two versions",
    ),
]
