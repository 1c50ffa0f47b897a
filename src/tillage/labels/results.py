"""What the label and annotation calls return, as frozen values.

Each ``to_dict()`` is the JSON form that the CLI's ``--json`` prints. Label
issues have their own types next to the method (`tillage.labels.issues`).
Fields that hold mappings, arrays or fitted models take no part in hashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tillage.labels.functions import LFError, LFReport
    from tillage.labels.label_model import Aggregated, AnnotatorQuality, LabelModel
    from tillage.store.labels import LabelSetRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSet:
    """A label set: versioned label events over the records of one dataset.

    Attributes:
        name: the label set (a dataset of label events under that name).
        records: the dataset whose records it labels.
        taxonomy: the taxonomy, ``taxonomies/NAME.yaml`` in the project.
        created_at: UTC time (ISO-8601) it was created.
    """

    name: str
    records: str
    taxonomy: str
    created_at: str

    @staticmethod
    def from_record(record: LabelSetRecord) -> LabelSet:
        return LabelSet(
            name=record.name,
            records=record.records,
            taxonomy=record.taxonomy,
            created_at=record.created_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "records": self.records,
            "taxonomy": self.taxonomy,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Relabel:
    """A record whose label could not be carried to a newer taxonomy version, and why."""

    record_id: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "why": self.why}


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationReport:
    """What carrying a label set to a newer taxonomy version did and left to do.

    Attributes:
        labelset: the label set.
        taxonomy: its taxonomy.
        version: the taxonomy version labels were carried to.
        carried: label events carried (written anew under ``version``).
        commit: the commit that wrote them (None: nothing to carry).
        relabel: the records to label again (their class was split or removed).
        rerun_labeling_functions: functions that gave such labels, to run again.
    """

    labelset: str
    taxonomy: str
    version: int
    carried: int
    commit: str | None
    relabel: tuple[Relabel, ...]
    rerun_labeling_functions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelset": self.labelset,
            "taxonomy": self.taxonomy,
            "version": self.version,
            "carried": self.carried,
            "commit": self.commit,
            "relabel": [r.to_dict() for r in self.relabel],
            "rerun_labeling_functions": list(self.rerun_labeling_functions),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """A total and the count per class (every class of the taxonomy, in its order)."""

    total: int
    per_class: Mapping[str, int] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "per_class": dict(self.per_class)}


@dataclass(frozen=True, slots=True, kw_only=True)
class GoldAccuracy:
    """The label model's accuracy on the records a gold label set labels.

    Attributes:
        labelset: the gold label set.
        records: records it labels.
        model_accuracy: share of them the label model labelled the same (None:
            no label model labels, or no such records).
    """

    labelset: str
    records: int
    model_accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelset": self.labelset,
            "records": self.records,
            "model_accuracy": self.model_accuracy,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AppliedFunctions:
    """What applying labeling functions (and the label model) to a label set did.

    Attributes:
        labelset: the label set.
        commit: the commit of the votes and labels (None: nothing written).
        votes: the functions' votes, in total and per class.
        labels: the label model's labels, in total and per class.
        gold: the label model's accuracy on a gold label set, if one was given.
        report: coverage, overlap, conflict and accuracy of each function.
        errors: the records functions failed on.
        model: the fitted label model (None: ``model=False`` or no records).
    """

    labelset: str
    commit: str | None
    votes: Tally
    labels: Tally
    gold: GoldAccuracy | None
    report: LFReport
    errors: tuple[LFError, ...]
    model: LabelModel | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelset": self.labelset,
            "commit": self.commit,
            "votes": self.votes.to_dict(),
            "labels": self.labels.to_dict(),
            "gold": self.gold.to_dict() if self.gold is not None else None,
            "report": self.report.to_dict(),
            "errors": [e.to_dict() for e in self.errors],
            "model": self.model.to_dict() if self.model is not None else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class AggregatedAnnotations:
    """Annotators' labels combined per record (Dawid-Skene), as one commit.

    Attributes:
        labelset: the label set.
        commit: the commit of the ``aggregate`` label events.
        result: each record's label and confidence, and each annotator's quality.
    """

    labelset: str
    commit: str
    result: Aggregated

    @property
    def annotators(self) -> tuple[AnnotatorQuality, ...]:
        """Each annotator's estimated accuracy and confusion matrix, in first-seen order."""
        return self.result.annotators

    def to_dict(self) -> dict[str, Any]:
        return {"labelset": self.labelset, "commit": self.commit, **self.result.to_dict()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """Annotations recorded by `Annotation.submit`.

    Attributes:
        task: the task.
        annotator: who answered.
        spec_version: the spec version answered under.
        records: the records annotated (ids as stored).
        commit: the label-set commit that holds them, or None while they are pending
            (committed by a later flush; see `tillage.labels.annotation`).
    """

    task: str
    annotator: str
    spec_version: int
    records: tuple[str, ...]
    commit: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "annotator": self.annotator,
            "spec_version": self.spec_version,
            "records": list(self.records),
            "commit": self.commit,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotationProgress:
    """How far an annotation task is under one spec version.

    Attributes:
        task: the task.
        spec_version: the spec version counted.
        queued: records queued.
        done: queued records with all the annotations the spec's overlap asks for.
        annotations: annotations of queued records that count for this version.
    """

    task: str
    spec_version: int
    queued: int
    done: int
    annotations: int

    @property
    def message(self) -> str:
        return f"task {self.task} has {self.done}/{self.queued} records fully annotated"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "spec_version": self.spec_version,
            "queued": self.queued,
            "done": self.done,
            "annotations": self.annotations,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotationItem:
    """What an annotator sees of one record: its id and the columns the task shows."""

    record_id: str
    fields: Mapping[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "fields": dict(self.fields)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotationTask:
    """Records handed to one annotator, with what the task shows of each.

    Attributes:
        task: the task.
        spec_version: the spec version they are annotated under.
        records: the record ids handed out (now assigned to the annotator).
        items: what the annotator sees of each, in the same order.
        instructions: the spec version's instructions.
    """

    task: str
    spec_version: int
    records: tuple[str, ...]
    items: tuple[AnnotationItem, ...]
    instructions: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "spec_version": self.spec_version,
            "records": list(self.records),
            "items": [i.to_dict() for i in self.items],
            "instructions": self.instructions,
        }
