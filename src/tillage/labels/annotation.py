"""Human annotation: versioned task specs, a queue of records, assignment and submission.

A task spec is a reviewable file, ``tasks/NAME.yaml``::

    name: tweet-source
    labelset: source
    versions:
      - version: 1
        taxonomy_version: 1
        overlap: 3                 # annotators per record
        instructions: Which phone sent this tweet?
        fields: [text]             # the record's columns an annotator sees
        template: "<p>{text}</p>"  # what the annotation page shows
      - version: 2
        taxonomy_version: 2
        overlap: 3
        instructions: ...

Assignment hands an annotator queued records that still need annotations
under the current spec and that this annotator has never been shown under
any version; it stops at the overlap target. `Annotation.show` gives the
content of the records handed out: the columns the spec version's ``fields``
lists; without ``fields``, those its ``template`` names (``{text}``); without
either, every column. Annotations made under an
earlier spec version count towards it when the taxonomy map carries their
class over unchanged. Each submission is a label event (kind ``annotator``).
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from tillage.core.commit import Commit
from tillage.core.names import check_name
from tillage.errors import InputError, NoSuchTaskError
from tillage.labels.results import AnnotationItem, AnnotationProgress, AnnotationTask
from tillage.labels.sets import LabelSets, key_text


@dataclass(frozen=True)
class SpecVersion:
    version: int
    taxonomy_version: int
    overlap: int
    instructions: str
    template: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    name: str
    labelset: str
    versions: tuple[SpecVersion, ...]
    source: str

    def version(self, number: int | None = None) -> SpecVersion:
        if number is None:
            return self.versions[-1]
        for v in self.versions:
            if v.version == number:
                return v
        have = ", ".join(str(v.version) for v in self.versions)
        raise InputError(
            f"task {self.name!r} has no spec version {number} (versions: {have}); "
            f"add it to {self.source}."
        )

    @staticmethod
    def load(path: Path) -> TaskSpec:
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise NoSuchTaskError(str(path)) from None
        except yaml.YAMLError as e:
            raise InputError(f"task spec {str(path)!r} is not valid YAML: {e}") from None
        if (
            not isinstance(raw, dict)
            or not raw.get("labelset")
            or not isinstance(raw.get("versions"), list)
        ):
            raise InputError(f"task spec {str(path)!r} needs labelset and a list of versions.")
        versions = []
        for i, v in enumerate(raw["versions"]):
            if not isinstance(v, dict):
                raise InputError(f"task spec {str(path)!r}: version #{i + 1} must be a mapping.")
            overlap = v.get("overlap", 1)
            if not isinstance(overlap, int) or overlap < 1:
                raise InputError(f"task spec {str(path)!r}: overlap must be a whole number ≥ 1.")
            template = str(v.get("template", ""))
            versions.append(
                SpecVersion(
                    version=int(v.get("version", i + 1)),
                    taxonomy_version=int(v.get("taxonomy_version", 1)),
                    overlap=overlap,
                    instructions=str(v.get("instructions", "")),
                    template=template,
                    fields=_fields(path, i, v.get("fields"), template),
                )
            )
        return TaskSpec(
            str(raw.get("name") or path.stem), str(raw["labelset"]), tuple(versions), str(path)
        )


def _fields(path: Path, i: int, fields: Any, template: str) -> tuple[str, ...]:
    """The columns a spec version shows: ``fields``, else the template's ``{names}``."""
    if fields is None:
        try:
            named = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        except ValueError as e:
            raise InputError(
                f"task spec {str(path)!r}: the template of version #{i + 1} is not a valid "
                f"format string ({e}); name columns as {{column}} and write braces as {{{{ }}}}."
            ) from None
        return tuple(dict.fromkeys(named))
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise InputError(
            f"task spec {str(path)!r}: fields of version #{i + 1} must be a list of column "
            f"names, got {fields!r}; for example fields: [text, created_at]."
        )
    return tuple(dict.fromkeys(fields))


class Annotation:
    """The annotation tasks of one repository."""

    def __init__(self, labels: LabelSets) -> None:
        self.labels = labels

    def spec(self, task: str) -> TaskSpec:
        """The task spec file ``tasks/TASK.yaml`` of the project (``task`` is checked)."""
        return TaskSpec.load(self.labels.project / "tasks" / f"{check_name(task, 'task')}.yaml")

    def enqueue(self, task: str, record_ids: Sequence[Any]) -> int:
        """Queue records for ``task`` (known records only); returns how many were new."""
        spec = self.spec(task)
        labelset = self.labels.get(spec.labelset)
        ids = self.labels.check_records(labelset, record_ids, None)
        return self.labels.store.enqueue(task, spec.labelset, ids)

    def _annotations(self, spec: TaskSpec) -> list[dict[str, Any]]:
        table = self.labels.events(spec.labelset)
        return [r for r in table.to_pylist() if r["kind"] == "annotator"]

    def _counted(
        self, spec: TaskSpec, version: SpecVersion, rows: list[dict[str, Any]]
    ) -> Counter[str]:
        """Annotations per record that count for ``version`` (earlier ones if they carry over)."""
        tax = self.labels.taxonomy(self.labels.get(spec.labelset).taxonomy)
        counts: Counter[str] = Counter()
        for r in rows:
            same = r["spec_version"] == version.version
            carried = r["label"] is not None and tax.carries_cleanly(
                r["label"], r["taxonomy_version"], version.taxonomy_version
            )
            if same or carried:
                counts[r["record_id"]] += 1
        return counts

    def next(
        self, task: str, annotator: str, n: int = 1, spec_version: int | None = None
    ) -> list[str]:
        """Up to ``n`` record ids for ``annotator`` to annotate now (they are assigned)."""
        spec = self.spec(task)
        version = spec.version(spec_version)
        self._shown(spec, version)  # a task that cannot show its records hands none out
        rows = self._annotations(spec)
        counts = self._counted(spec, version, rows)
        seen = {r for r, a, _ in self.labels.store.assignments(task) if a == annotator}
        seen |= {r["record_id"] for r in rows if r["source"] == annotator}
        open_assignments = Counter(
            r for r, a, v in self.labels.store.assignments(task) if v == version.version
        )
        picked: list[str] = []
        for record in self.labels.store.queue(task):
            if len(picked) >= n:
                break
            if record in seen:
                continue  # never the same record twice to one annotator, whatever the version
            if max(counts[record], open_assignments[record]) >= version.overlap:
                continue
            picked.append(record)
        self.labels.store.assign(task, annotator, version.version, picked)
        return picked

    def hand_out(
        self, task: str, annotator: str, n: int = 1, spec_version: int | None = None
    ) -> AnnotationTask:
        """`next`, with what ``annotator`` sees of each record (`show`) and the instructions."""
        version = self.spec(task).version(spec_version)
        picked = self.next(task, annotator, n, version.version)
        return AnnotationTask(
            task=task,
            spec_version=version.version,
            records=tuple(picked),
            items=tuple(self.show(task, picked, version.version)),
            instructions=version.instructions,
        )

    def _shown(self, spec: TaskSpec, version: SpecVersion) -> tuple[str, str, list[str]]:
        """The dataset, its key and the columns ``version`` shows (each one checked)."""
        dataset = self.labels.get(spec.labelset).records
        key = self.labels.record_key(dataset)
        columns = list(self.labels.repo.schema(dataset).names)
        unknown = [f for f in version.fields if f not in columns]
        if unknown:
            raise InputError(
                f"task {spec.name!r} version {version.version} shows column(s) "
                f"{', '.join(map(repr, unknown))} that dataset {dataset!r} does not have "
                f"(columns: {', '.join(columns)}); fix fields or the template in {spec.source}."
            )
        return dataset, key, list(version.fields) or [c for c in columns if c != key]

    def show(
        self, task: str, record_ids: Sequence[str], spec_version: int | None = None
    ) -> list[AnnotationItem]:
        """What an annotator sees of each record: its id and ``fields``, column -> value.

        The columns are the spec version's fields (see the module doc), in that
        order; the records in the order of ``record_ids`` (ids as `next` returns them).
        """
        spec = self.spec(task)
        dataset, key, shown = self._shown(spec, spec.version(spec_version))
        table = self.labels.repo.read(dataset, columns=[key, *[c for c in shown if c != key]])
        ids = key_text(table.column(key))
        wanted = table.filter(pc.is_in(ids, value_set=pa.array(list(record_ids), pa.string())))
        by_id = dict(zip(key_text(wanted.column(key)).to_pylist(), wanted.to_pylist(), strict=True))
        return [
            AnnotationItem(record_id=r, fields={c: by_id[r][c] for c in shown})
            for r in record_ids
            if r in by_id
        ]

    def submit(
        self,
        task: str,
        annotator: str,
        record_id: Any,
        label: str,
        spec_version: int | None = None,
    ) -> Commit:
        """Record one annotation (a label event with the annotator and spec version)."""
        return self.submit_many(task, annotator, {record_id: label}, spec_version)

    def submit_many(
        self,
        task: str,
        annotator: str,
        answers: Mapping[Any, str],
        spec_version: int | None = None,
    ) -> Commit:
        """Record several annotations by one annotator as one commit.

        Each answer is checked as `submit` checks one, and one bad answer refuses
        them all (nothing is written).

        Raises:
            InputError: no answers; a record not queued for the task, annotated by
                this annotator already, or with all its annotations already.
        """
        if not answers:
            raise InputError(f"no annotations to submit for task {task!r}.")
        spec = self.spec(task)
        version = spec.version(spec_version)
        records = self.labels.check_records(self.labels.get(spec.labelset), list(answers), None)
        labels = list(answers.values())
        if len(set(records)) < len(records):
            raise InputError("the answers name the same record twice; give one label a record.")
        queued = set(self.labels.store.queue(task))
        not_queued = [r for r in records if r not in queued]
        if not_queued:
            raise InputError(
                f"record {_some(not_queued)} is not queued for task {task!r}; annotate records "
                f"the task hands out (`tillage annotate next {task}`)."
            )
        rows = self._annotations(spec)
        done = {r["record_id"] for r in rows if r["source"] == annotator}
        again = [r for r in records if r in done]
        if again:
            raise InputError(f"{annotator} has annotated record {_some(again)} already.")
        counts = self._counted(spec, version, rows)
        full = [r for r in records if counts[r] >= version.overlap]
        if full:
            raise InputError(
                f"record {_some(full)} has its {version.overlap} annotation(s) already for task "
                f"{task!r}; take another with `tillage annotate next {task}`."
            )
        what = records[0] if len(records) == 1 else f"{len(records)} records"
        return self.labels.add(
            spec.labelset,
            records,
            labels,
            kind="annotator",
            source=annotator,
            taxonomy_version=version.taxonomy_version,
            spec_version=version.version,
            message=f"{annotator} annotated {what} for {task} v{version.version}",
        )

    def progress(self, task: str, spec_version: int | None = None) -> AnnotationProgress:
        """How far a task is: records queued, fully annotated, annotations made."""
        spec = self.spec(task)
        version = spec.version(spec_version)
        counts = self._counted(spec, version, self._annotations(spec))
        queued = self.labels.store.queue(task)
        done = sum(1 for r in queued if counts[r] >= version.overlap)
        return AnnotationProgress(
            task=task,
            spec_version=version.version,
            queued=len(queued),
            done=done,
            annotations=sum(counts[r] for r in queued),
        )


def _some(records: Sequence[str]) -> str:
    """The first few of ``records`` for a message: ``'7'`` or ``'7', '9' and 3 more``."""
    shown = ", ".join(map(repr, records[:3]))
    return shown if len(records) <= 3 else f"{shown} and {len(records) - 3} more"
