"""tillage: versioned datasets and labels, actionable data monitoring, durable pipelines.

>>> import tillage
>>> repo = tillage.init("my-project")
>>> repo.ingest("flights", "day1.parquet", key="id")
"""

import importlib
import typing

from tillage._version import __version__
from tillage.errors import (
    AlertNotAcceptableError,
    CatalogDamagedError,
    CatalogError,
    CatalogMissingError,
    ConcurrentUpdateError,
    CorruptDataError,
    DiskFullError,
    InputError,
    InvalidFilterError,
    InvalidNameError,
    InvalidRefError,
    KeyViolationError,
    LockTimeoutError,
    MergeConflictError,
    NondeterminismError,
    NoSuchAlertError,
    NoSuchDatasetError,
    NoSuchLabelSetError,
    NoSuchModelError,
    NoSuchNameError,
    NoSuchRefError,
    NoSuchRunError,
    NoSuchScheduleError,
    NoSuchTaskError,
    NoSuchTaxonomyError,
    NotARepositoryError,
    QualityCheckError,
    ReadOnlyRepositoryError,
    RefExistsError,
    RepositoryExistsError,
    RunStateError,
    SchemaFileError,
    SchemaMismatchError,
    SinkError,
    StorageError,
    StoredValueError,
    TillageError,
    UnreadableFileError,
)

# The rest loads on first use (PEP 562): most pull in Lance, pandas, DuckDB,
# SQLAlchemy and DataSketches, which `tillage --help` and `--version` do not need,
# and even the plain value classes cost a command that does not use them.
_LAZY = {
    "ABSTAIN": "tillage.labels.functions",
    "AcceptedAlert": "tillage.quality.results",
    "AggregatedAnnotations": "tillage.labels.results",
    "Alert": "tillage.core.alerts",
    "AnnotationItem": "tillage.labels.results",
    "AnnotationProgress": "tillage.labels.results",
    "AnnotationTask": "tillage.labels.results",
    "AppliedFunctions": "tillage.labels.results",
    "BackfillResult": "tillage.pipelines.backfill",
    "CheckRecord": "tillage.quality.results",
    "CodeVersion": "tillage.core.commit",
    "Commit": "tillage.core.commit",
    "Context": "tillage.pipelines.engine",
    "DatasetDiff": "tillage.core.diff",
    "DatasetPin": "tillage.core.commit",
    "DatasetStatus": "tillage.core.reports",
    "Finding": "tillage.core.findings",
    "GcReport": "tillage.core.reports",
    "GoldAccuracy": "tillage.labels.results",
    "Graph": "tillage.pipelines.lineage",
    "Importance": "tillage.core.findings",
    "IntegrityProblem": "tillage.core.reports",
    "LabelIssue": "tillage.labels.issues",
    "LabelIssues": "tillage.labels.issues",
    "LabelSet": "tillage.labels.results",
    "MergeResult": "tillage.core.reports",
    "MigrationReport": "tillage.labels.results",
    "Model": "tillage.core.alerts",
    "Pipeline": "tillage.pipelines.steps",
    "Profile": "tillage.quality.profile",
    "Relabel": "tillage.labels.results",
    "Repo": "tillage.repo",
    "Run": "tillage.pipelines.engine",
    "Runs": "tillage.pipelines.engine",
    "Schema": "tillage.quality.schema",
    "SchemaChange": "tillage.core.diff",
    "Status": "tillage.core.reports",
    "Step": "tillage.pipelines.steps",
    "StepView": "tillage.pipelines.engine",
    "Tally": "tillage.labels.results",
    "Tick": "tillage.pipelines.schedules",
    "VerifyReport": "tillage.core.reports",
    "WorkerReport": "tillage.pipelines.schedules",
    "add_schedule": "tillage.pipelines.schedules",
    "approval": "tillage.pipelines.engine",
    "backfill": "tillage.pipelines.backfill",
    "context": "tillage.pipelines.engine",
    "init": "tillage.repo",
    "labeling_function": "tillage.labels.functions",
    "lineage": "tillage.pipelines.lineage",
    "load_functions": "tillage.labels.functions",
    "open": "tillage.repo",
    "partitions": "tillage.pipelines.backfill",
    "pipeline": "tillage.pipelines.steps",
    "run": "tillage.pipelines.engine",
    "step": "tillage.pipelines.steps",
    "tick": "tillage.pipelines.schedules",
    "wait_for": "tillage.pipelines.engine",
    "wait_for_annotations": "tillage.pipelines.engine",
    "wait_until": "tillage.pipelines.engine",
    "worker": "tillage.pipelines.schedules",
}

if typing.TYPE_CHECKING:
    from tillage.core.alerts import Alert, Model
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
    from tillage.labels.functions import ABSTAIN, labeling_function, load_functions
    from tillage.labels.issues import LabelIssue, LabelIssues
    from tillage.labels.results import (
        AggregatedAnnotations,
        AnnotationItem,
        AnnotationProgress,
        AnnotationTask,
        AppliedFunctions,
        GoldAccuracy,
        LabelSet,
        MigrationReport,
        Relabel,
        Tally,
    )
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
    from tillage.pipelines.schedules import Tick, WorkerReport, add_schedule, tick, worker
    from tillage.pipelines.steps import Pipeline, Step, pipeline, step
    from tillage.quality.profile import Profile
    from tillage.quality.results import AcceptedAlert, CheckRecord
    from tillage.quality.schema import Schema
    from tillage.repo import Repo, init, open


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tillage' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ABSTAIN",
    "AcceptedAlert",
    "AggregatedAnnotations",
    "Alert",
    "AlertNotAcceptableError",
    "AnnotationItem",
    "AnnotationProgress",
    "AnnotationTask",
    "AppliedFunctions",
    "BackfillResult",
    "CatalogDamagedError",
    "CatalogError",
    "CatalogMissingError",
    "CheckRecord",
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
    "GoldAccuracy",
    "Graph",
    "Importance",
    "InputError",
    "IntegrityProblem",
    "InvalidFilterError",
    "InvalidNameError",
    "InvalidRefError",
    "KeyViolationError",
    "LabelIssue",
    "LabelIssues",
    "LabelSet",
    "LockTimeoutError",
    "MergeConflictError",
    "MergeResult",
    "MigrationReport",
    "Model",
    "NoSuchAlertError",
    "NoSuchDatasetError",
    "NoSuchLabelSetError",
    "NoSuchModelError",
    "NoSuchNameError",
    "NoSuchRefError",
    "NoSuchRunError",
    "NoSuchScheduleError",
    "NoSuchTaskError",
    "NoSuchTaxonomyError",
    "NondeterminismError",
    "NotARepositoryError",
    "Pipeline",
    "Profile",
    "QualityCheckError",
    "ReadOnlyRepositoryError",
    "RefExistsError",
    "Relabel",
    "Repo",
    "RepositoryExistsError",
    "Run",
    "RunStateError",
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
    "StoredValueError",
    "Tally",
    "Tick",
    "TillageError",
    "UnreadableFileError",
    "VerifyReport",
    "WorkerReport",
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
