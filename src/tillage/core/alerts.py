"""Alerts and recorded models: the monitoring state the catalog keeps.

Frozen values that the catalog's monitoring store builds from its rows and the
API returns as they are; each ``to_dict()`` is the JSON form the CLI's ``--json``
prints. Fields that hold mappings or findings take no part in hashing (they are
not hashable); equality compares every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tillage.core.findings import Finding


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A finding that keeps recurring on one (dataset, column, kind, branch), and its state.

    Attributes:
        id: the number that `tillage alerts accept|mute|resolve` take.
        dataset: the dataset it is about.
        column: the column, or None for the whole dataset.
        check: ``"schema"`` or ``"drift"``.
        kind: what was found (the finding's ``kind``).
        branch: the branch whose ingests raised it.
        status: ``open``, ``muted``, ``resolved`` or ``accepted``.
        severity: the latest finding's severity.
        count: how many ingests found it.
        first_seen: UTC time (ISO-8601) it opened.
        last_seen: UTC time it was last found or acted on.
        first_commit: the commit that opened it.
        last_commit: the latest commit that found it.
        muted_until: when a mute ends (None: not muted, or until resolved).
        finding: the latest finding.
    """

    id: int
    dataset: str
    column: str | None
    check: str
    kind: str
    branch: str
    status: str
    severity: str
    count: int
    first_seen: str
    last_seen: str
    first_commit: str | None
    last_commit: str | None
    muted_until: str | None
    finding: Finding = field(hash=False)

    @property
    def message(self) -> str:
        """The latest finding's sentence."""
        return self.finding.message

    @property
    def actions(self) -> tuple[str, str]:
        """The commands that accept or silence it."""
        return (f"tillage alerts accept {self.id}", f"tillage alerts mute {self.id} --for 7d")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields, then ``message`` and ``actions``."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "column": self.column,
            "check": self.check,
            "kind": self.kind,
            "branch": self.branch,
            "status": self.status,
            "severity": self.severity,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "first_commit": self.first_commit,
            "last_commit": self.last_commit,
            "muted_until": self.muted_until,
            "finding": self.finding.to_dict(),
            "message": self.message,
            "actions": list(self.actions),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A model recorded against the data version it was trained on.

    Attributes:
        id: its number; a name recorded again gets a new one.
        name: the name it is recorded under (``model:NAME`` is a drift reference).
        dataset: the dataset it was trained on.
        commit_id: the commit whose version of ``dataset`` it was trained on.
        importance: column -> feature importance (empty: none given).
        metrics: whatever was recorded with it (accuracy, the day, ...).
        created_at: UTC time (ISO-8601) it was recorded.
        principal: who recorded it.
    """

    id: int
    name: str
    dataset: str
    commit_id: str
    importance: Mapping[str, float] = field(hash=False)
    metrics: Mapping[str, Any] = field(hash=False)
    created_at: str
    principal: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "dataset": self.dataset,
            "commit_id": self.commit_id,
            "importance": dict(self.importance),
            "metrics": dict(self.metrics),
            "created_at": self.created_at,
            "principal": self.principal,
        }
