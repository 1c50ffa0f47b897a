"""tillage: versioned datasets and labels, actionable data monitoring, durable pipelines.

>>> import tillage
>>> repo = tillage.init("my-project")
>>> repo.ingest("flights", "day1.parquet", key="id")
"""

from tillage._version import __version__
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.reports import DatasetStatus, GcReport, MergeResult, Status
from tillage.errors import (
    CatalogError,
    ConcurrentUpdateError,
    InputError,
    InvalidNameError,
    KeyViolationError,
    LockTimeoutError,
    MergeConflictError,
    NoSuchDatasetError,
    NoSuchRefError,
    NotARepositoryError,
    RefExistsError,
    RepositoryExistsError,
    SchemaMismatchError,
    TillageError,
    UnreadableFileError,
)
from tillage.repo import Repo, init, open

__all__ = [
    "CatalogError",
    "CodeVersion",
    "Commit",
    "ConcurrentUpdateError",
    "DatasetDiff",
    "DatasetPin",
    "DatasetStatus",
    "GcReport",
    "InputError",
    "InvalidNameError",
    "KeyViolationError",
    "LockTimeoutError",
    "MergeConflictError",
    "MergeResult",
    "NoSuchDatasetError",
    "NoSuchRefError",
    "NotARepositoryError",
    "RefExistsError",
    "Repo",
    "RepositoryExistsError",
    "SchemaChange",
    "SchemaMismatchError",
    "Status",
    "TillageError",
    "UnreadableFileError",
    "__version__",
    "init",
    "open",
]
