"""tillage: versioned datasets and labels, actionable data monitoring, durable pipelines.

>>> import tillage
>>> repo = tillage.init("my-project")
>>> repo.ingest("flights", "day1.parquet", key="id")
"""

from tillage._version import __version__
from tillage.core.commit import CodeVersion, Commit, DatasetPin
from tillage.core.diff import DatasetDiff, SchemaChange
from tillage.core.findings import Finding, Importance
from tillage.core.reports import (
    DatasetStatus,
    GcReport,
    IntegrityProblem,
    MergeResult,
    Status,
    VerifyReport,
)
from tillage.errors import (
    CatalogDamagedError,
    CatalogError,
    CatalogMissingError,
    ConcurrentUpdateError,
    CorruptDataError,
    DiskFullError,
    InputError,
    InvalidNameError,
    KeyViolationError,
    LockTimeoutError,
    MergeConflictError,
    NondeterminismError,
    NoSuchAlertError,
    NoSuchDatasetError,
    NoSuchRefError,
    NoSuchRunError,
    NotARepositoryError,
    QualityCheckError,
    ReadOnlyRepositoryError,
    RefExistsError,
    RepositoryExistsError,
    SchemaFileError,
    SchemaMismatchError,
    SinkError,
    StorageError,
    TillageError,
    UnreadableFileError,
)
from tillage.labels.functions import ABSTAIN, labeling_function, load_functions
from tillage.pipelines.backfill import BackfillResult, backfill, partitions
from tillage.pipelines.engine import (
    Context,
    Run,
    Runs,
    StepView,
    approval,
    context,
    run,
    wait_for,
    wait_for_annotations,
    wait_until,
)
from tillage.pipelines.lineage import Graph, lineage
from tillage.pipelines.schedules import Tick, add_schedule, tick, worker
from tillage.pipelines.steps import Pipeline, Step, pipeline, step
from tillage.quality.profile import Profile
from tillage.quality.schema import Schema
from tillage.repo import Repo, init, open

__all__ = [
    "ABSTAIN",
    "BackfillResult",
    "CatalogDamagedError",
    "CatalogError",
    "CatalogMissingError",
    "CodeVersion",
    "Commit",
    "ConcurrentUpdateError",
    "Context",
    "CorruptDataError",
    "DatasetDiff",
    "DatasetPin",
    "DatasetStatus",
    "DiskFullError",
    "Finding",
    "GcReport",
    "Graph",
    "Importance",
    "InputError",
    "IntegrityProblem",
    "InvalidNameError",
    "KeyViolationError",
    "LockTimeoutError",
    "MergeConflictError",
    "MergeResult",
    "NoSuchAlertError",
    "NoSuchDatasetError",
    "NoSuchRefError",
    "NoSuchRunError",
    "NondeterminismError",
    "NotARepositoryError",
    "Pipeline",
    "Profile",
    "QualityCheckError",
    "ReadOnlyRepositoryError",
    "RefExistsError",
    "Repo",
    "RepositoryExistsError",
    "Run",
    "Runs",
    "Schema",
    "SchemaChange",
    "SchemaFileError",
    "SchemaMismatchError",
    "SinkError",
    "Status",
    "Step",
    "StepView",
    "StorageError",
    "Tick",
    "TillageError",
    "UnreadableFileError",
    "VerifyReport",
    "__version__",
    "add_schedule",
    "approval",
    "backfill",
    "context",
    "init",
    "labeling_function",
    "lineage",
    "load_functions",
    "open",
    "partitions",
    "pipeline",
    "run",
    "step",
    "tick",
    "wait_for",
    "wait_for_annotations",
    "wait_until",
    "worker",
]
