"""tillage: versioned datasets and labels, actionable data monitoring, durable pipelines.

>>> import tillage
>>> repo = tillage.init("my-project")
>>> repo.ingest("flights", "day1.parquet", key="id")
"""

from tillage._version import __version__
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.findings import Finding, Importance
from tillage.core.reports import DatasetStatus, GcReport, MergeResult, Status
from tillage.errors import (
    CatalogError,
    ConcurrentUpdateError,
    InputError,
    InvalidNameError,
    KeyViolationError,
    LockTimeoutError,
    MergeConflictError,
    NoSuchAlertError,
    NoSuchDatasetError,
    NoSuchRefError,
    NotARepositoryError,
    QualityCheckError,
    RefExistsError,
    RepositoryExistsError,
    SchemaFileError,
    SchemaMismatchError,
    SinkError,
    TillageError,
    UnreadableFileError,
)
from tillage.quality.profile import Profile
from tillage.quality.schema import Schema
from tillage.repo import Repo, init, open

__all__ = [
    "CatalogError",
    "CodeVersion",
    "Commit",
    "ConcurrentUpdateError",
    "DatasetDiff",
    "DatasetPin",
    "DatasetStatus",
    "Finding",
    "GcReport",
    "Importance",
    "InputError",
    "InvalidNameError",
    "KeyViolationError",
    "LockTimeoutError",
    "MergeConflictError",
    "MergeResult",
    "NoSuchAlertError",
    "NoSuchDatasetError",
    "NoSuchRefError",
    "NotARepositoryError",
    "Profile",
    "QualityCheckError",
    "RefExistsError",
    "Repo",
    "RepositoryExistsError",
    "Schema",
    "SchemaChange",
    "SchemaFileError",
    "SchemaMismatchError",
    "SinkError",
    "Status",
    "TillageError",
    "UnreadableFileError",
    "__version__",
    "init",
    "open",
]
