"""Commits and the dataset versions they pin.

A commit is an immutable, content-identified value: its id is the SHA-256 of its
canonical JSON form, so two catalogs that hold the same history agree on ids.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetPin:
    """One dataset's state in a commit: a version of a Lance branch.

    Attributes:
        lance_branch: Lance branch holding the version ("main" is Lance's default).
        version: Lance version number on that branch.
        num_rows: rows in that version (kept so `status` needs no scan).
    """

    lance_branch: str
    version: int
    num_rows: int

    @property
    def version_text(self) -> str:
        """The version as one text value (``main@3``): what tables derived from a dataset
        version (predictions, data values) store to say which version they are of."""
        return f"{self.lance_branch}@{self.version}"


@dataclass(frozen=True)
class CodeVersion:
    """The caller's code: git SHA and whether the work tree had changes."""

    git_sha: str | None = None
    dirty: bool = False


@dataclass(frozen=True)
class Commit:
    """A repository-wide snapshot: every dataset pinned to one version.

    Attributes:
        id: content hash (64 hex digits) of all other fields.
        parents: ids of parent commits; two for a merge, none for the root.
        pins: dataset name -> pinned version.
        message: what the commit did, in the user's words.
        created_at: UTC time as ISO-8601.
        principal: the human or job that made it.
        tillage_version: version of tillage that made it.
        code: the caller's code version.
        changes: dataset name -> short summary of the change (operation, counts).
    """

    id: str
    parents: tuple[str, ...]
    pins: dict[str, DatasetPin]
    message: str
    created_at: str
    principal: str
    tillage_version: str
    code: CodeVersion = field(default_factory=CodeVersion)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form, used for `--json` output and hashing."""
        d = asdict(self)
        d["parents"] = list(self.parents)
        return d

    @staticmethod
    def make(
        *,
        parents: tuple[str, ...],
        pins: dict[str, DatasetPin],
        message: str,
        created_at: str,
        principal: str,
        tillage_version: str,
        code: CodeVersion,
        changes: dict[str, dict[str, Any]],
    ) -> Commit:
        """Build a commit and derive its id from its content."""
        draft = Commit(
            id="",
            parents=parents,
            pins=dict(sorted(pins.items())),
            message=message,
            created_at=created_at,
            principal=principal,
            tillage_version=tillage_version,
            code=code,
            changes=changes,
        )
        body = draft.to_dict()
        del body["id"]
        digest = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
        ).hexdigest()
        return Commit(**{**draft.__dict__, "id": digest})
