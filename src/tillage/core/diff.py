"""What changed in one dataset between two commits: schema and rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SchemaChange:
    """Columns added, removed or retyped; types are Arrow type strings."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    retyped: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retyped)


@dataclass(frozen=True)
class DatasetDiff:
    """Row-level difference of one dataset, keyed by its primary key.

    Attributes:
        dataset: the dataset's name.
        status: "added", "removed", "modified" or "unchanged".
        key: primary-key columns.
        schema: column changes.
        rows_before / rows_after: row counts at the two commits.
        added / removed / changed: numbers of keys added, removed, with changed values.
        column_changes: column -> number of changed rows in which it changed.
        samples: up to N examples of each kind: "added" and "removed" rows, and
            "changed" as ``{"key": {...}, "changes": {column: [old, new]}}``.
    """

    dataset: str
    status: str
    key: list[str]
    schema: SchemaChange
    rows_before: int
    rows_after: int
    added: int = 0
    removed: int = 0
    changed: int = 0
    column_changes: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
