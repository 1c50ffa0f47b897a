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


@dataclass(frozen=True)
class IntegrityProblem:
    """One thing `verify` (or a read) found wrong.

    Attributes:
        problem: what is wrong, as a sentence fragment ("is missing").
        dataset: the dataset it concerns, if one.
        version: the pinned version (``LANCE_BRANCH@VERSION``), if one.
        file: the file, relative to the repository's ``.tillage`` folder, if one.
        ref: the branch or tag it concerns, if one.
    """

    problem: str
    dataset: str | None = None
    version: str | None = None
    file: str | None = None
    ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: where, then what."""
        where = [
            f"dataset {self.dataset!r}" if self.dataset else "",
            f"version {self.version}" if self.version else "",
            f"ref {self.ref!r}" if self.ref else "",
        ]
        head = " ".join(w for w in where if w)
        what = f"{self.file} {self.problem}" if self.file else self.problem
        return f"{head}: {what}" if head else what


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` checked and found.

    Attributes:
        deep: every file was hashed (else only those whose modification time changed).
        commits: commits reachable from a branch or tag.
        versions: distinct dataset versions those commits pin.
        files: files those versions read, each counted once.
        hashed: files whose bytes were hashed and compared.
        unrecorded: files without a recorded checksum (written before tillage kept
            them); only their existence and size were checked.
        problems: everything found wrong; empty when the repository is intact.
    """

    deep: bool
    commits: int
    versions: int
    files: int
    hashed: int
    unrecorded: int
    problems: list[IntegrityProblem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}
