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
any version; it stops at the overlap target, which a record's answers and its
unanswered hand-outs share, also when many annotators ask at once. `Annotation.show` gives the
content of the records handed out: the columns the spec version's ``fields``
lists; without ``fields``, those its ``template`` names (``{text}``); without
either, every column. Annotations made under an
earlier spec version count towards it when the taxonomy map carries their
class over unchanged. Each submission is a label event (kind ``annotator``).

`next` and `submit` read the annotation index in the catalog
(`tillage.store.annotation`), never the label set's table, so they cost the
same with 100 or 100,000 label events. The label set stays the versioned
truth; submissions reach it as follows:

- `submit` (one annotation) records it in the index at once, durable and
  counted, and leaves it *pending*; `submit_many` (a batch) makes one commit
  of the label set with its answers and every pending one.
- Pending annotations are committed, all of a label set's in one commit, by
  `flush`, by every read of the label set through ``repo.labels`` (current
  labels, training sets, truth, label issues, aggregation, the label model's
  gold) and by the `submit` that brings them to `FLUSH_EVERY`. A plain
  ``repo.read`` of the label set shows committed events only. Each pending
  annotation is committed on the branch of the handle that submitted it
  (``repo.at(branch)``), by a handle on that branch.
- A resubmission of the same record by the same annotator is refused with
  `AnnotationConflictError` (nothing is written), as is an answer for a record
  that has all its annotations; concurrent annotators meet the same error,
  never a lost or doubled annotation.

Label sets annotated before the index existed are copied into it on first use.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from sqlalchemy import Connection

from tillage.core.commit import Commit
from tillage.core.names import check_name
from tillage.errors import (
    InputError,
    KeyViolationError,
    NoSuchDatasetError,
    NoSuchTaskError,
    UnreadableFileError,
)
from tillage.labels.results import (
    AnnotationItem,
    AnnotationProgress,
    AnnotationTask,
    LabelSet,
    Submitted,
)
from tillage.labels.sets import (
    EVENT_KEY,
    EVENT_SCHEMA,
    LabelSets,
    annotator_events,
    counts_for,
    key_text,
)
from tillage.labels.taxonomy import Taxonomy
from tillage.store.annotation import AnnotationIndex, Counts, Event, Version

T = TypeVar("T")


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


FLUSH_EVERY = 200
"""Pending annotations of a label set that make the `submit` bringing them there commit
them: a bound on what is only in the catalog, paid by one submit in this many."""


class _Raced(Exception):
    """Another session committed some of the pending events first: take them again."""


class Annotation:
    """The annotation tasks of one repository."""

    def __init__(self, labels: LabelSets) -> None:
        self.labels = labels
        self.index = AnnotationIndex(labels.store.engine)
        # Parsed spec and taxonomy files, and the checked fields of each spec version,
        # by the file's identity and modification: parsing YAML would cost `next` and
        # `submit` more than their queries.
        self._files: dict[Path, tuple[tuple[int, int, int], Any]] = {}
        self._checked_fields: set[tuple[str, int, tuple[int, int, int]]] = set()
        self._ready_versions: set[tuple[Version, tuple[int, int, int]]] = set()
        self._labelsets: dict[str, LabelSet] = {}

    def _load(self, path: Path, load: Callable[[Path], T]) -> T:
        try:
            st = path.stat()
        except OSError:
            return load(path)  # says what is wrong with the path
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == stamp:
            return cast(T, cached[1])
        loaded = load(path)
        self._files[path] = (stamp, loaded)
        return loaded

    def spec(self, task: str) -> TaskSpec:
        """The task spec file ``tasks/TASK.yaml`` of the project (``task`` is checked)."""
        path = self.labels.project / "tasks" / f"{check_name(task, 'task')}.yaml"
        return self._load(path, TaskSpec.load)

    def _taxonomy(self, labelset: str | LabelSet) -> Taxonomy:
        found = self._labelset(labelset) if isinstance(labelset, str) else labelset
        name = check_name(found.taxonomy, "taxonomy")
        return self._load(self.labels.project / "taxonomies" / f"{name}.yaml", Taxonomy.load)

    def _counts(self, labelset: str | LabelSet) -> Counts:
        return counts_for(self._taxonomy(labelset))

    def _built(self, labelset: str) -> None:
        """Copy the label set's annotator events into the index, the first time."""
        if self.index.indexed(labelset):
            return
        try:
            table = self.labels.repo.read(labelset)
        except NoSuchDatasetError:
            table = EVENT_SCHEMA.empty_table()
        self.index.build(labelset, annotator_events(table))

    def _ready(self, task: str, spec_version: int | None) -> tuple[TaskSpec, Version]:
        """The task's spec and the index's entries for the spec version, made if need be."""
        spec = self.spec(task)
        sv = spec.version(spec_version)
        wanted = Version(task, sv.version, spec.labelset, sv.overlap, sv.taxonomy_version)
        ready = (wanted, self._files[Path(spec.source)][0])
        if ready in self._ready_versions:
            return spec, wanted
        have = self.index.version(task, sv.version)
        if have is None:
            self._built(spec.labelset)
            self.index.materialize(wanted, self._counts(spec.labelset))
        elif have.overlap != wanted.overlap:
            self.index.sync_overlap(wanted)
        self._ready_versions.add(ready)
        return spec, wanted

    def _labelset(self, name: str) -> LabelSet:
        """The label set ``name`` (a label set never changes what it labels, nor its taxonomy)."""
        found = self._labelsets.get(name)
        if found is None:
            found = self._labelsets[name] = self.labels.get(name)
        return found

    def enqueue(self, task: str, record_ids: Sequence[Any]) -> int:
        """Queue records for ``task`` (known records only); returns how many were new."""
        spec = self.spec(task)
        labelset = self.labels.get(spec.labelset)
        ids = self.labels.check_records(labelset, record_ids, None)
        self._built(spec.labelset)
        return self.index.enqueue(task, spec.labelset, ids, self._counts(spec.labelset))

    def next(
        self, task: str, annotator: str, n: int = 1, spec_version: int | None = None
    ) -> list[str]:
        """Up to ``n`` record ids for ``annotator`` to annotate now (they are assigned).

        Concurrent callers never get a record beyond its overlap between them.
        """
        spec = self.spec(task)
        number = spec.version(spec_version).version
        # A task that cannot show its records hands none out (checked once per spec file):
        # its fields must exist, and its record ids may be read by this principal (a
        # read of no rows, which the privacy policy refuses for private keys).
        checked = (spec.source, number, self._files[Path(spec.source)][0])
        if checked not in self._checked_fields:
            dataset, key, _ = self._shown(spec, spec.version(number))
            self.labels.repo.read(dataset, columns=[key], limit=0)
            self._checked_fields.add(checked)
        _, version = self._ready(task, number)
        return self.index.next(version, annotator, n)

    def unanswered(self, task: str, annotator: str, spec_version: int | None = None) -> list[str]:
        """Records `next` handed to ``annotator`` that they have not answered yet.

        `next` never hands a record to the same annotator twice, so an annotator whose
        session ended between `next` and `submit` finds their records here.
        """
        _, version = self._ready(task, self.spec(task).version(spec_version).version)
        return self.index.unanswered(version, annotator)

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
    ) -> Submitted:
        """Record one annotation in the index; it is committed to the label set later.

        Fast (no commit of the label set): see the module doc for when pending
        annotations are committed. Raises as `submit_many` does.
        """
        spec, version, events, counts = self._checked(
            task, annotator, {record_id: label}, spec_version
        )
        branch = self.labels.repo.branch()
        with self.index.engine.begin() as conn:
            self.index.submit(conn, version, annotator, events, counts, pending=True, branch=branch)
            pending = self.index.pending_count(spec.labelset, branch, conn)
        commit = self.flush_labelset(spec.labelset) if pending >= FLUSH_EVERY else None
        return Submitted(
            task=task,
            annotator=annotator,
            spec_version=version.spec_version,
            records=tuple(e.record_id for e in events),
            commit=commit.id if commit is not None else None,
        )

    def submit_many(
        self,
        task: str,
        annotator: str,
        answers: Mapping[Any, str],
        spec_version: int | None = None,
    ) -> Commit:
        """Record several annotations by one annotator as one commit of the label set.

        The commit holds the label set's pending annotations too (see the module
        doc). Each answer is checked as `submit` checks one, and one bad answer
        refuses them all (nothing is written).

        Raises:
            InputError: no answers; a record not queued for the task; a class not in
                the taxonomy version.
            AnnotationConflictError: a record annotated by this annotator already, or
                with all its annotations already.
        """
        spec, version, events, _ = self._checked(task, annotator, answers, spec_version)
        self.index.check(version, annotator, [e.record_id for e in events])
        what = events[0].record_id if len(events) == 1 else f"{len(events)} records"
        message = f"{annotator} annotated {what} for {task} v{version.spec_version}"
        commit = self._commit(spec.labelset, message, (version, annotator, events))
        assert commit is not None
        return commit

    def flush(self, task: str) -> Commit | None:
        """Commit the pending annotations of ``task``'s label set; None if there were none."""
        labelset = self.spec(task).labelset
        return self.flush_labelset(labelset)

    def flush_labelset(self, labelset: str) -> Commit | None:
        """Commit the pending annotations of ``labelset`` (one commit); None if none."""
        if not self.index.pending_count(labelset, self.labels.repo.branch()):
            return None
        return self._commit(labelset, None, None)

    def _commit(
        self,
        labelset: str,
        message: str | None,
        batch: tuple[Version, str, list[Event]] | None,
    ) -> Commit | None:
        """One commit of ``labelset`` with ``batch`` (checked and indexed with the commit)
        and every pending annotation (marked committed with it, exactly once)."""
        counts = self._counts(labelset)
        branch = self.labels.repo.branch()
        for attempt in range(4):
            # After races with other sessions committing the same pending events, a
            # batch is committed on its own: pending ones are theirs to commit.
            pending = self.index.pending(labelset, branch) if attempt < 3 or batch is None else []
            new = batch[2] if batch else []
            if not pending and not new:
                return None

            def record(conn: Connection, _commit: Commit, pending: list[Event] = pending) -> None:
                if batch is not None:
                    self.index.submit(conn, batch[0], batch[1], batch[2], counts, pending=False)
                if not self.index.committed(conn, [e.event_id for e in pending]):
                    raise _Raced

            if message is None:
                who = len({e.annotator for e in pending})
                text = f"{len(pending)} annotation(s) by {who} annotator(s)"
            else:
                text = message + (f", with {len(pending)} pending" if pending else "")
            try:
                return self.labels.repo.ingest(
                    labelset,
                    _event_table([*new, *pending]),
                    key=EVENT_KEY,
                    message=text,
                    branch=branch,
                    on_commit=record,
                )
            except _Raced:
                continue
            except KeyViolationError:
                if not pending:
                    raise
                continue  # another session committed some pending events before us
        return None

    def _checked(
        self,
        task: str,
        annotator: str,
        answers: Mapping[Any, str],
        spec_version: int | None,
    ) -> tuple[TaskSpec, Version, list[Event], Counts]:
        """The answers as index events, after the checks that need no transaction, and
        what counts towards which spec version."""
        if not answers:
            raise InputError(f"no annotations to submit for task {task!r}.")
        spec = self.spec(task)
        wanted = spec.version(spec_version)
        labelset = self._labelset(spec.labelset)
        labels = list(answers.values())
        tax = self._taxonomy(labelset).version(wanted.taxonomy_version)
        bad = sorted({str(lb) for lb in labels if lb not in tax.classes})
        if bad:
            raise InputError(
                f"label(s) {', '.join(map(repr, bad))} are not classes of taxonomy "
                f"{labelset.taxonomy!r} version {tax.version} ({', '.join(tax.classes)}); "
                "answer with one of those."
            )
        records = [str(r) for r in answers]
        queued = self.index.queued(task, records)
        if len(queued) < len(set(records)):  # ids not as stored (7 for "7", a datetime): read them
            records = self.labels.check_records(labelset, list(answers), None)
            queued = self.index.queued(task, records)
        if len(set(records)) < len(records):
            raise InputError("the answers name the same record twice; give one label a record.")
        not_queued = [r for r in records if r not in queued]
        if not_queued:
            raise InputError(
                f"record {_some(not_queued)} is not queued for task {task!r}; annotate records "
                f"the task hands out (`tillage annotate next {task}`)."
            )
        spec, version = self._ready(task, wanted.version)  # the checks above write nothing
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        events = [
            Event(
                event_id=uuid.uuid4().hex,
                record_id=r,
                annotator=annotator,
                label=lb,
                taxonomy_version=version.taxonomy_version,
                spec_version=version.spec_version,
                created_at=now,
            )
            for r, lb in zip(records, labels, strict=True)
        ]
        return spec, version, events, counts_for(self._taxonomy(labelset))

    def progress(self, task: str, spec_version: int | None = None) -> AnnotationProgress:
        """How far a task is: records queued, fully annotated, annotations made."""
        _, version = self._ready(task, spec_version)
        queued, done, annotations = self.index.progress(task, version.spec_version, version.overlap)
        return AnnotationProgress(
            task=task,
            spec_version=version.spec_version,
            queued=queued,
            done=done,
            annotations=annotations,
        )

    @staticmethod
    def parse_answers(answers: Sequence[str]) -> list[tuple[str, str]]:
        """``RECORD=LABEL`` texts as (record, label) pairs (the record may contain ``=``)."""
        pairs = []
        for text in answers:
            record, sep, label = text.rpartition("=")
            if not sep or not record or not label:
                raise InputError(
                    f"answer {text!r} is not RECORD=LABEL; write it as, e.g., --answer 7=iphone."
                )
            pairs.append((record, label))
        return pairs

    @staticmethod
    def read_answers(path: Path) -> list[tuple[str, str]]:
        """The (record, label) answers of a JSON lines file: one object a line with
        ``record_id`` and ``label`` (blank lines are skipped).

        Raises:
            UnreadableFileError: no such file, or not text.
            InputError: a line that is not such an object (the error says which line).
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UnreadableFileError(str(path), "no such file", "Check the path.") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UnreadableFileError(
                str(path), f"it is not a UTF-8 text file ({e})", "Give a JSON lines file."
            ) from None
        pairs = []
        example = '{"record_id": "7", "label": "iphone"}'
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(
                    f"{path} line {n} is not JSON ({e.msg}); write one object a line, e.g. "
                    f"{example}. Nothing was submitted."
                ) from None
            record = row.get("record_id") if isinstance(row, dict) else None
            label = row.get("label") if isinstance(row, dict) else None
            if record is None or isinstance(record, dict | list) or not isinstance(label, str):
                raise InputError(
                    f"{path} line {n} needs record_id and a label (text), got {line.strip()[:80]}; "
                    f"write one object a line, e.g. {example}. Nothing was submitted."
                )
            pairs.append((str(record), label))
        return pairs


def _event_table(events: Sequence[Event]) -> pa.Table:
    """Index events as label events (kind ``annotator``) in the label-set schema."""
    return pa.table(
        {
            EVENT_KEY: [e.event_id for e in events],
            "record_id": [e.record_id for e in events],
            "label": [e.label for e in events],
            "kind": ["annotator"] * len(events),
            "source": [e.annotator for e in events],
            "taxonomy_version": [e.taxonomy_version for e in events],
            "spec_version": [e.spec_version for e in events],
            "confidence": [None] * len(events),
            "created_at": [datetime.fromisoformat(e.created_at) for e in events],
        },
        schema=EVENT_SCHEMA,
    )


def _some(records: Sequence[str]) -> str:
    """The first few of ``records`` for a message: ``'7'`` or ``'7', '9' and 3 more``."""
    shown = ", ".join(map(repr, records[:3]))
    return shown if len(records) <= 3 else f"{shown} and {len(records) - 3} more"
