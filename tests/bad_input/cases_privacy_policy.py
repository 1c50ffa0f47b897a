"""The privacy policy file and `privacy scan`: unknown names and files that do not parse.

Each policy case writes ``.tillage/policy.yaml`` into the project copy; the
harness checks that the command fails with one JSON error naming the entry and
the fix, and that the file (like everything else) is left as it was.
"""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case, Damage

FIX = "Fix the file and try again"


def policy(text: str) -> Damage:
    """Write ``text`` as the project's policy file."""

    def damage(project: Path) -> None:
        (project / ".tillage" / "policy.yaml").write_text(text)

    return damage


UNKNOWN_DATASET = policy("datasets:\n  flight:\n    columns: {carrier: public}\n")
UNKNOWN_COLUMN = policy("# reviewed\ndatasets:\n  flights:\n    columns: {delay: sensitive}\n")
UNPARSABLE = policy("datasets:\n  flights: {columns: [carrier\n")

CASES = [
    Case(
        "privacy-scan-unknown-dataset",
        ["privacy", "scan", "flight"],
        says=["'flight' does not exist", "datasets there: flights"],
        error="no_such_dataset",
    ),
    Case(
        "privacy-scan-sample-zero",
        ["privacy", "scan", "flights", "--sample", "0"],
        says=["sample must be a whole number >= 1"],
        error="bad_input",
    ),
    Case(
        "privacy-policy-unknown-dataset",
        ["privacy", "policy"],
        says=["datasets.flight names no dataset", "datasets: flights", FIX],
        error="policy_file",
        damage=UNKNOWN_DATASET,
    ),
    Case(
        "privacy-policy-unknown-column",
        ["privacy", "policy"],
        says=["datasets.flights names column 'delay'", "its columns: id, carrier", FIX],
        error="policy_file",
        damage=UNKNOWN_COLUMN,
    ),
    Case(
        "privacy-policy-does-not-parse",
        ["privacy", "policy"],
        says=["policy.yaml", "does not parse", "line 3", FIX],
        error="policy_file",
        damage=UNPARSABLE,
    ),
    Case(
        "privacy-scan-write-over-unparsable-policy",
        ["privacy", "scan", "flights", "--write"],
        says=["does not parse", FIX],
        error="policy_file",
        damage=UNPARSABLE,
    ),
    Case(
        "privacy-scan-write-over-unknown-column",
        ["privacy", "scan", "flights", "--write"],
        says=["names column 'delay'", FIX],
        error="policy_file",
        damage=UNKNOWN_COLUMN,
    ),
]
