"""Results of repository operations, as plain values for the API, CLI and server."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetStatus:
    name: str
    key: list[str]
    rows: int
    lance_branch: str
    version: int
    bytes: int


@dataclass(frozen=True)
class Status:
    """Where the repository stands: current branch, its head, datasets, storage."""

    path: str
    branch: str
    head: str | None
    datasets: list[DatasetStatus]
    storage_bytes: int
    branches: int
    tags: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MergeResult:
    """How a merge went.

    Attributes:
        kind: "fast-forward", "merge" or "up-to-date".
        commit: the new head of the target branch (None if it had none).
        base: the merge base used for a three-way merge.
        datasets: dataset -> counts of what was upserted or deleted, or how it was taken.
    """

    kind: str
    source: str
    target: str
    commit: str | None
    base: str | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GcReport:
    """What `gc` removed, and storage before and after."""

    commits_removed: int
    versions_removed: int
    lance_branches_removed: int
    datasets_removed: int
    bytes_before: int
    bytes_after: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
