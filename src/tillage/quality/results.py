"""What the monitoring calls return: alerts, recorded models, ingest checks, an accepted alert.

Frozen values for the API, the CLI and the server. Each ``to_dict()`` is the
JSON form that the CLI's ``--json`` prints. `Alert` and `Model` live in
`tillage.core.alerts`, since the catalog's monitoring store builds them.
Fields that hold mappings or findings take no part in hashing (they are not
hashable); equality compares every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tillage.core.alerts import Alert, Model
from tillage.core.findings import Finding

__all__ = ["AcceptedAlert", "Alert", "CheckRecord", "Model"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AcceptedAlert:
    """What accepting an alert did.

    Attributes:
        alert: the alert, now ``accepted``.
        schema_file: the schema file widened (None: none needed a change).
        remaining: findings of the re-check that are still about the alert's column.
    """

    alert: Alert
    schema_file: str | None
    remaining: tuple[Finding, ...] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert": self.alert.to_dict(),
            "schema_file": self.schema_file,
            "remaining": [f.to_dict() for f in self.remaining],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRecord:
    """What ingest checked and found in one dataset when it made a commit.

    Attributes:
        dataset: the dataset written.
        schema_file: the schema file checked against, relative to the project (None: none).
        schema_sha256: that file's content hash when it was checked.
        reference: what drift compared the batch with (None: no drift check).
        findings: everything found, suppressed and ``info`` findings included.
    """

    dataset: str
    schema_file: str | None
    schema_sha256: str | None
    reference: str | None
    findings: tuple[Finding, ...] = field(hash=False)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CheckRecord:
        """A check back from its `to_dict` form (as the catalog stores it)."""
        return CheckRecord(
            dataset=d["dataset"],
            schema_file=d["schema_file"],
            schema_sha256=d["schema_sha256"],
            reference=d["reference"],
            findings=tuple(Finding.from_dict(f) for f in d["findings"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "schema_file": self.schema_file,
            "schema_sha256": self.schema_sha256,
            "reference": self.reference,
            "findings": [f.to_dict() for f in self.findings],
        }
