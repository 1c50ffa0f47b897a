"""Accepting alerts: what accepting cannot do says so, and names the command that can."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import tillage
from bad_input.harness import Case


def _drift_alert(project: Path) -> None:
    """A day whose delays all moved by hours: alert #1 is drift no schema rule covers."""
    with tillage.open(project) as repo:
        ids = range(60, 100)
        repo.ingest(
            "flights",
            pa.table(
                {
                    "id": list(ids),
                    "carrier": [["AA", "UA", "DL"][i % 3] for i in ids],
                    "origin": [["JFK", "LGA", "EWR"][i % 3] for i in ids],
                    "dep_delay": [300.0 + i % 50 for i in ids],
                }
            ),
        )
        [alert] = [a for a in repo.quality.alerts() if a.column == "dep_delay"]
        assert alert.id == 1 and alert.finding.check == "drift"


CASES = [
    Case(
        "accept-drift-alert",
        ["alerts", "accept", "1"],
        says=["cannot be accepted", "would change nothing", "tillage alerts resolve 1"],
        error="alert_not_acceptable",
        damage=_drift_alert,
    ),
    Case("accept-unknown-alert", ["alerts", "accept", "7"], says=["no alert #7"]),
]
