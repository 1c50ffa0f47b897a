"""Walking history: ``~N`` beyond any history, and parents the catalog cannot read.

History is walked in the catalog's database; a step count too large for its
integers, or a commit whose parents are not JSON, must still be a clear error.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bad_input.harness import Case

HUGE = "main~99999999999999999999"


def garble_parents(project: Path) -> None:
    """The head commit's parent list is no longer JSON (a damaged catalog)."""
    with sqlite3.connect(project / ".tillage" / "catalog.db") as conn:
        head = conn.execute("SELECT commit_id FROM refs WHERE name = 'main'").fetchone()[0]
        conn.execute("UPDATE commits SET parents = '[\"abc' WHERE id = ?", (head,))
    conn.close()


CASES = [
    *(
        Case(
            f"ancestor-beyond-any-history-{cmd[0]}",
            cmd,
            says=["fewer than 99999999999999999999"],
            error="no_such_ref",
        )
        for cmd in (
            ["log", HUGE],
            ["show", HUGE],
            ["diff", HUGE, "main"],
            ["merge", HUGE],
            ["head", "flights", "--ref", HUGE],
        )
    ),
    Case(
        "log-with-garbled-parents",
        ["log"],
        says=["catalog", "is damaged", "restore catalog.db"],
        error="catalog_damaged",
        damage=garble_parents,
    ),
]
