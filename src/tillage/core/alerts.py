"""Alerts and recorded models: the monitoring state the catalog keeps.

Frozen values that the catalog's monitoring store builds from its rows and the
API returns as they are; each ``to_dict()`` is the JSON form the CLI's ``--json``
prints. Fields that hold mappings or findings take no part in hashing (they are
not hashable); equality compares every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tillage.core.findings import Finding

if TYPE_CHECKING:
    from tillage.core.policy import DatasetPolicy


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

    def redacted(self, hidden: DatasetPolicy | None) -> Alert:
        """This alert as a principal who may not see ``hidden``'s values sees it."""
        finding = self.finding.redacted(hidden)
        return self if finding is self.finding else replace(self, finding=finding)

    @property
    def message(self) -> str:
        """The latest finding's sentence."""
        return self.finding.message

    @property
    def actions(self) -> tuple[str, str]:
        """The commands that accept (or resolve) or silence it, as its finding names them."""
        first, second = self.finding.with_(alert_id=self.id).actions
        return (first, second)

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
class ModelArtifact:
    """A model's saved file: its format, where it lies and what it must hash to.

    Attributes:
        format: ``skops``.
        path: the file, relative to the repository folder (``models/NAME/VERSION.skops``).
        sha256: the hash of its bytes when it was written; loading checks it.
        size: its size in bytes.
        trusted: the types skops would not load by default that this file holds, as
            recorded when it was saved; loading trusts exactly these.
    """

    format: str
    path: str
    sha256: str
    size: int
    trusted: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "trusted": list(self.trusted),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelArtifact:
        return cls(
            format=str(d["format"]),
            path=str(d["path"]),
            sha256=str(d["sha256"]),
            size=int(d["size"]),
            trusted=tuple(d.get("trusted") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """A model version, recorded against the code, data and labels it was trained on.

    Attributes:
        id: its number in the catalog.
        name: the name it is recorded under (``model:NAME`` is a drift reference).
        version: 1 for the first recorded under ``name``, then 2, 3, ...
        dataset: the dataset it was trained on.
        commit_id: the commit whose version of ``dataset`` it was trained on.
        importance: column -> feature importance (empty: none given).
        metrics: whatever was recorded with it (accuracy, the day, ...).
        created_at: UTC time (ISO-8601) it was recorded.
        principal: who recorded it.
        features: the columns it reads, in order (empty: not known).
        classes: the classes its probabilities are over, in order (empty: not known).
        labelset: the label set its labels came from (None: none named).
        labelset_commit: the commit whose version of ``labelset`` it was trained on.
        code_version: its training code's version (a git SHA, a file hash, or as given).
        artifact: its saved file (None: recorded without one).
    """

    id: int
    name: str
    dataset: str
    commit_id: str
    importance: Mapping[str, float] = field(hash=False)
    metrics: Mapping[str, Any] = field(hash=False)
    created_at: str
    principal: str
    version: int = 1
    features: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    labelset: str | None = None
    labelset_commit: str | None = None
    code_version: str | None = None
    artifact: ModelArtifact | None = None

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
            "version": self.version,
            "features": list(self.features),
            "classes": list(self.classes),
            "labelset": self.labelset,
            "labelset_commit": self.labelset_commit,
            "code_version": self.code_version,
            "artifact": self.artifact.to_dict() if self.artifact is not None else None,
        }
