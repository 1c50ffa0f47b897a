"""The annotation index: catalog tables that `next` and `submit` read instead of label sets.

A label set's Lance table holds every label event, function votes included, so
reading it to hand out one record costs O(events). These tables hold only what
annotation needs, indexed for its two questions:

- ``annotation_events``: one row per annotator event (record, annotator, label,
  taxonomy and spec versions, time), with ``pending`` set while the event is in
  the catalog only and not yet in a commit of the label set (see
  `tillage.labels.annotation` for when pending events are committed) and the
  branch it is to be committed on.
- ``annotation_entries``: one row per (task, spec version, queued record): how
  many annotations count for that version, how many annotators were handed it
  and have not answered yet, and whether it is still ``open`` (the two together
  below the version's overlap), indexed by
  (task, spec version, open, position) so that "the next open record this
  annotator has not seen" is an index range scan.
- ``annotation_versions``: the (task, spec version)s that have entries, with the
  overlap and taxonomy version they were counted for.
- ``annotation_indexed``: the label sets whose existing annotator events were
  copied in (once, on first use: a migration cannot read Lance).

Every write transaction here begins with a write, so that on SQLite it holds
the write lock from its first statement (no reader-to-writer upgrade that
fails under concurrency), and checks its preconditions with conditional
updates, so that on PostgreSQL concurrent sessions serialize on the rows they
touch: no record is handed out beyond its overlap, no annotation is counted
twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    case,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tillage.errors import AnnotationConflictError
from tillage.store.catalog import utcnow
from tillage.store.labels import AssignmentRow, QueueRow
from tillage.store.orm import Base


class EventRow(Base):
    __tablename__ = "annotation_events"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    labelset: Mapped[str] = mapped_column(String(128))
    record_id: Mapped[str] = mapped_column(String(200))
    annotator: Mapped[str] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    taxonomy_version: Mapped[int] = mapped_column(Integer)
    spec_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    task: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    pending: Mapped[bool] = mapped_column(Boolean)
    branch: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (
        Index("ix_annotation_events_record", "labelset", "record_id", "annotator"),
        Index("ix_annotation_events_pending", "labelset", "pending"),
    )


class EntryRow(Base):
    __tablename__ = "annotation_entries"
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    spec_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    annotations: Mapped[int] = mapped_column(Integer)
    outstanding: Mapped[int] = mapped_column(Integer)
    open: Mapped[bool] = mapped_column(Boolean)
    __table_args__ = (
        Index("ix_annotation_entries_open", "task", "spec_version", "open", "position"),
    )


class VersionRow(Base):
    __tablename__ = "annotation_versions"
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    spec_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    labelset: Mapped[str] = mapped_column(String(128))
    overlap: Mapped[int] = mapped_column(Integer)
    taxonomy_version: Mapped[int] = mapped_column(Integer)


class IndexedRow(Base):
    __tablename__ = "annotation_indexed"
    labelset: Mapped[str] = mapped_column(String(128), primary_key=True)
    built_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class Event:
    """One annotator event as the index holds it."""

    event_id: str
    record_id: str
    annotator: str
    label: str | None
    taxonomy_version: int
    spec_version: int | None
    created_at: str


@dataclass(frozen=True)
class Version:
    """A (task, spec version) with entries: its label set, overlap and taxonomy version."""

    task: str
    spec_version: int
    labelset: str
    overlap: int
    taxonomy_version: int


Counts = Callable[[Event, Version], bool]
"""Whether an annotation counts towards a spec version (same version, or carried over)."""


def _open(overlap: int) -> object:
    """SQL: an entry is open while its annotations and unanswered hand-outs are below
    the overlap."""
    return case(
        (
            EntryRow.annotations + EntryRow.outstanding < overlap,
            True,
        ),
        else_=False,
    )


class AnnotationIndex:
    """The annotation index of one catalog (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- building -------------------------------------------------------------

    def indexed(self, labelset: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(IndexedRow.labelset).where(IndexedRow.labelset == labelset)
            ).first()
        return found is not None

    def build(self, labelset: str, events: Sequence[Event]) -> None:
        """Copy a label set's existing annotator events in, once (a second call does nothing)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(IndexedRow).values(labelset=labelset, built_at=utcnow()))
                self.add_events(conn, labelset, None, events, pending=False)
        except IntegrityError:
            pass  # another session built it first

    def version(self, task: str, spec_version: int) -> Version | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(VersionRow.__table__).where(
                    VersionRow.task == task, VersionRow.spec_version == spec_version
                )
            ).first()
        return Version(**row._mapping) if row else None

    def materialize(self, version: Version, counts: Counts) -> None:
        """Give every queued record of ``version.task`` its entry for that spec version.

        Counts the annotations that count for it and the annotators handed each
        record under it. A second call (or a concurrent one) changes nothing.
        """
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(VersionRow).values(**version.__dict__))
                queued = [
                    r[0]
                    for r in conn.execute(
                        select(QueueRow.record_id)
                        .where(QueueRow.task == version.task)
                        .order_by(QueueRow.added_at, QueueRow.record_id)
                    )
                ]
                self._add_entries(conn, version, queued, counts, start=0)
        except IntegrityError:
            pass

    def _add_entries(
        self,
        conn: Connection,
        version: Version,
        records: Sequence[str],
        counts: Counts,
        start: int,
    ) -> None:
        if not records:
            return
        made: dict[str, int] = dict.fromkeys(records, 0)
        handed: dict[str, int] = dict.fromkeys(records, 0)  # and not answered
        for chunk in _chunks(list(made)):
            answered = set()
            for e in self._events(conn, version.labelset, chunk):
                answered.add((e.record_id, e.annotator))
                if counts(e, version):
                    made[e.record_id] += 1
            rows = conn.execute(
                select(AssignmentRow.record_id, AssignmentRow.annotator).where(
                    AssignmentRow.task == version.task,
                    AssignmentRow.spec_version == version.spec_version,
                    AssignmentRow.record_id.in_(chunk),
                )
            )
            for record, annotator in rows:
                if (record, annotator) not in answered:
                    handed[record] += 1
        conn.execute(
            insert(EntryRow),
            [
                {
                    "task": version.task,
                    "spec_version": version.spec_version,
                    "record_id": r,
                    "position": start + i,
                    "annotations": made[r],
                    "outstanding": handed[r],
                    "open": made[r] + handed[r] < version.overlap,
                }
                for i, r in enumerate(made)
            ],
        )

    def enqueue(self, task: str, labelset: str, record_ids: Sequence[str], counts: Counts) -> int:
        """Queue records for a task (and give them entries); returns how many were new."""
        now = utcnow()
        with self.engine.begin() as conn:
            self._lock_task(conn, task)
            have: set[str] = set()
            for chunk in _chunks(list(dict.fromkeys(record_ids))):
                have.update(
                    r[0]
                    for r in conn.execute(
                        select(QueueRow.record_id).where(
                            QueueRow.task == task, QueueRow.record_id.in_(chunk)
                        )
                    )
                )
            new = [r for r in dict.fromkeys(record_ids) if r not in have]
            if not new:
                return 0
            conn.execute(
                insert(QueueRow),
                [
                    {"task": task, "record_id": r, "labelset": labelset, "added_at": now}
                    for r in new
                ],
            )
            for version in self._versions(conn, task=task):
                end = conn.execute(
                    select(func.max(EntryRow.position)).where(
                        EntryRow.task == task, EntryRow.spec_version == version.spec_version
                    )
                ).scalar()
                self._add_entries(conn, version, new, counts, start=(end or 0) + 1)
        return len(new)

    def _lock_task(self, conn: Connection, task: str) -> None:
        """A first statement that writes: on SQLite, the write lock for the transaction."""
        conn.execute(update(VersionRow).where(VersionRow.task == task).values(task=task))

    # -- handing out ----------------------------------------------------------

    def next(self, version: Version, annotator: str, n: int) -> list[str]:
        """Up to ``n`` open records ``annotator`` has never been handed nor annotated; assigned.

        Each one is taken with a conditional update, so that concurrent callers
        never hand a record out beyond its overlap.
        """
        task, number, overlap = version.task, version.spec_version, version.overlap
        now = utcnow()
        picked: list[str] = []
        with self.engine.begin() as conn:
            conn.execute(
                update(VersionRow)
                .where(VersionRow.task == task, VersionRow.spec_version == number)
                .values(overlap=overlap)
            )
            seen_event = exists().where(
                EventRow.labelset == version.labelset,
                EventRow.record_id == EntryRow.record_id,
                EventRow.annotator == annotator,
            )
            seen_assignment = exists().where(
                AssignmentRow.task == task,
                AssignmentRow.record_id == EntryRow.record_id,
                AssignmentRow.annotator == annotator,
            )
            skip: set[str] = set()
            while len(picked) < n:
                want = n - len(picked)
                query = (
                    select(EntryRow.record_id)
                    .where(
                        EntryRow.task == task,
                        EntryRow.spec_version == number,
                        EntryRow.open == true(),
                        ~seen_event,
                        ~seen_assignment,
                    )
                    .order_by(EntryRow.position)
                    .limit(want + len(skip))
                )
                candidates = [r[0] for r in conn.execute(query) if r[0] not in skip]
                if not candidates:
                    break
                for record in candidates[:want]:
                    taken = conn.execute(
                        update(EntryRow)
                        .where(
                            EntryRow.task == task,
                            EntryRow.spec_version == number,
                            EntryRow.record_id == record,
                            EntryRow.open == true(),
                            EntryRow.annotations + EntryRow.outstanding < overlap,
                        )
                        .values(
                            outstanding=EntryRow.outstanding + 1,
                            open=case(
                                (EntryRow.annotations + EntryRow.outstanding + 1 < overlap, True),
                                else_=False,
                            ),
                        )
                    ).rowcount
                    if not taken:
                        skip.add(record)
                        continue
                    picked.append(record)
                    conn.execute(
                        insert(AssignmentRow).values(
                            task=task,
                            record_id=record,
                            annotator=annotator,
                            spec_version=number,
                            assigned_at=now,
                        )
                    )
        return picked

    def sync_overlap(self, version: Version) -> None:
        """Re-open or close entries after the spec file changed a version's overlap."""
        with self.engine.begin() as conn:
            conn.execute(
                update(VersionRow)
                .where(
                    VersionRow.task == version.task,
                    VersionRow.spec_version == version.spec_version,
                )
                .values(overlap=version.overlap)
            )
            conn.execute(
                update(EntryRow)
                .where(
                    EntryRow.task == version.task,
                    EntryRow.spec_version == version.spec_version,
                )
                .values(open=_open(version.overlap))
            )

    # -- submitting -----------------------------------------------------------

    def unanswered(self, version: Version, annotator: str) -> list[str]:
        """Records handed to ``annotator`` under ``version`` that they have not answered,
        oldest hand-out first (`next` never hands them out to the same annotator again)."""
        answered = exists().where(
            EventRow.labelset == version.labelset,
            EventRow.record_id == AssignmentRow.record_id,
            EventRow.annotator == annotator,
        )
        query = (
            select(AssignmentRow.record_id)
            .where(
                AssignmentRow.task == version.task,
                AssignmentRow.spec_version == version.spec_version,
                AssignmentRow.annotator == annotator,
                ~answered,
            )
            .order_by(AssignmentRow.assigned_at, AssignmentRow.record_id)
        )
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def queued(self, task: str, record_ids: Iterable[str]) -> set[str]:
        """Which of ``record_ids`` are queued for ``task``."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(record_ids)):
                found.update(
                    r[0]
                    for r in conn.execute(
                        select(QueueRow.record_id).where(
                            QueueRow.task == task, QueueRow.record_id.in_(chunk)
                        )
                    )
                )
        return found

    def check(self, version: Version, annotator: str, record_ids: Sequence[str]) -> None:
        """Raise what `submit` would for these records now, without a transaction.

        `submit` checks again where it writes; this spares a batch the cost of
        staging its commit when the answer is already known.

        Raises:
            AnnotationConflictError: as `submit`.
        """
        with self.engine.connect() as conn:
            full: list[str] = []
            for chunk in _chunks(list(record_ids)):
                full.extend(
                    r[0]
                    for r in conn.execute(
                        select(EntryRow.record_id).where(
                            EntryRow.task == version.task,
                            EntryRow.spec_version == version.spec_version,
                            EntryRow.record_id.in_(chunk),
                            EntryRow.annotations >= version.overlap,
                        )
                    )
                )
            again = _answered_by(conn, version.labelset, annotator, record_ids)
        if again:
            raise AnnotationConflictError(
                version.task, sorted(set(again)), "again", annotator=annotator
            )
        if full:
            raise AnnotationConflictError(
                version.task, sorted(full), "full", overlap=version.overlap
            )

    def submit(
        self,
        conn: Connection,
        version: Version,
        annotator: str,
        events: Sequence[Event],
        counts: Counts,
        *,
        pending: bool,
        branch: str | None = None,
    ) -> None:
        """Add ``annotator``'s events for ``version`` in ``conn``'s transaction, checked;
        ``pending`` ones are to be committed on ``branch``.

        Raises:
            AnnotationConflictError: a record has all its annotations for the
                version, or ``annotator`` annotated it already; nothing is added.
        """
        task, number, overlap = version.task, version.spec_version, version.overlap
        full = []
        for e in events:
            counted = conn.execute(
                update(EntryRow)
                .where(
                    EntryRow.task == task,
                    EntryRow.spec_version == number,
                    EntryRow.record_id == e.record_id,
                    EntryRow.annotations < overlap,
                )
                .values(
                    annotations=EntryRow.annotations + 1,
                    outstanding=EntryRow.outstanding - _handed(version, e),
                )
            ).rowcount
            if not counted:
                full.append(e.record_id)
        if full:
            raise AnnotationConflictError(task, full, "full", overlap=overlap)
        self._reopen(conn, version, [e.record_id for e in events])
        again = _answered_by(conn, version.labelset, annotator, [e.record_id for e in events])
        if again:
            raise AnnotationConflictError(task, sorted(set(again)), "again", annotator=annotator)
        self.add_events(conn, version.labelset, task, events, pending=pending, branch=branch)
        # The events count towards the task's other spec versions too (and other
        # tasks over the label set), where they carry over.
        for other in self._versions(conn, labelset=version.labelset):
            if (other.task, other.spec_version) == (task, number):
                continue
            self._count(conn, other, [e for e in events if counts(e, other)])

    def add_events(
        self,
        conn: Connection,
        labelset: str,
        task: str | None,
        events: Sequence[Event],
        *,
        pending: bool,
        branch: str | None = None,
    ) -> None:
        if events:
            conn.execute(
                insert(EventRow),
                [
                    {
                        **e.__dict__,
                        "labelset": labelset,
                        "task": task,
                        "pending": pending,
                        "branch": branch,
                    }
                    for e in events
                ],
            )

    def imported(
        self, conn: Connection, labelset: str, events: Sequence[Event], counts: Counts
    ) -> None:
        """Annotator events written to the label set directly (an import): index and count."""
        if not self._built(conn, labelset):
            return  # the index copies them in when it is built
        self.add_events(conn, labelset, None, events, pending=False)
        for version in self._versions(conn, labelset=labelset):
            self._count(conn, version, [e for e in events if counts(e, version)])

    def _built(self, conn: Connection, labelset: str) -> bool:
        return (
            conn.execute(select(IndexedRow.labelset).where(IndexedRow.labelset == labelset)).first()
            is not None
        )

    def _count(self, conn: Connection, version: Version, events: Sequence[Event]) -> None:
        """Count ``events`` for ``version``: an answer, no longer an unanswered hand-out."""
        for e in events:
            conn.execute(
                update(EntryRow)
                .where(
                    EntryRow.task == version.task,
                    EntryRow.spec_version == version.spec_version,
                    EntryRow.record_id == e.record_id,
                )
                .values(
                    annotations=EntryRow.annotations + 1,
                    outstanding=EntryRow.outstanding - _handed(version, e),
                )
            )
        self._reopen(conn, version, [e.record_id for e in events])

    def _reopen(self, conn: Connection, version: Version, records: Sequence[str]) -> None:
        """Set whether each of ``records`` is open for ``version`` after its counts changed."""
        for chunk in _chunks(list(records)):
            conn.execute(
                update(EntryRow)
                .where(
                    EntryRow.task == version.task,
                    EntryRow.spec_version == version.spec_version,
                    EntryRow.record_id.in_(chunk),
                )
                .values(open=_open(version.overlap))
            )

    # -- committing pending events ----------------------------------------------

    def pending(self, labelset: str, branch: str, limit: int | None = None) -> list[Event]:
        """Events of ``labelset`` to commit on ``branch`` and not yet committed, oldest first."""
        with self.engine.connect() as conn:
            query = (
                select(*_EVENT_COLUMNS)
                .where(
                    EventRow.labelset == labelset,
                    EventRow.pending == true(),
                    EventRow.branch == branch,
                )
                .order_by(EventRow.created_at, EventRow.event_id)
            )
            if limit is not None:
                query = query.limit(limit)
            return [Event(*r) for r in conn.execute(query)]

    def pending_count(self, labelset: str, branch: str, conn: Connection | None = None) -> int:
        """How many events of ``labelset`` wait for a commit on ``branch`` (in ``conn``'s
        transaction, if given)."""
        query = select(func.count()).where(
            EventRow.labelset == labelset, EventRow.pending == true(), EventRow.branch == branch
        )
        if conn is not None:
            return int(conn.execute(query).scalar() or 0)
        with self.engine.connect() as own:
            return int(own.execute(query).scalar() or 0)

    def committed(self, conn: Connection, event_ids: Sequence[str]) -> bool:
        """Mark pending events as committed; False if another session committed some first."""
        done = 0
        for chunk in _chunks(list(event_ids)):
            done += conn.execute(
                update(EventRow)
                .where(EventRow.event_id.in_(chunk), EventRow.pending == true())
                .values(pending=False)
            ).rowcount
        return done == len(event_ids)

    # -- reading --------------------------------------------------------------

    def progress(self, task: str, spec_version: int, overlap: int) -> tuple[int, int, int]:
        """(records queued, records with all their annotations, annotations counted)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(case((EntryRow.annotations >= overlap, 1), else_=0)), 0),
                    func.coalesce(func.sum(EntryRow.annotations), 0),
                ).where(EntryRow.task == task, EntryRow.spec_version == spec_version)
            ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def _events(self, conn: Connection, labelset: str, records: Sequence[str]) -> list[Event]:
        rows = conn.execute(
            select(*_EVENT_COLUMNS).where(
                EventRow.labelset == labelset, EventRow.record_id.in_(list(records))
            )
        )
        return [Event(*r) for r in rows]

    def _versions(
        self, conn: Connection, *, task: str | None = None, labelset: str | None = None
    ) -> list[Version]:
        query = select(VersionRow.__table__)
        if task is not None:
            query = query.where(VersionRow.task == task)
        if labelset is not None:
            query = query.where(VersionRow.labelset == labelset)
        return [Version(**r._mapping) for r in conn.execute(query)]


_EVENT_COLUMNS = (
    EventRow.event_id,
    EventRow.record_id,
    EventRow.annotator,
    EventRow.label,
    EventRow.taxonomy_version,
    EventRow.spec_version,
    EventRow.created_at,
)


def _handed(version: Version, event: Event) -> Any:
    """SQL: 1 if the event's annotator was handed its record under ``version``, else 0."""
    handed = exists().where(
        AssignmentRow.task == version.task,
        AssignmentRow.spec_version == version.spec_version,
        AssignmentRow.record_id == event.record_id,
        AssignmentRow.annotator == event.annotator,
    )
    return case((handed, 1), else_=0)


def _answered_by(
    conn: Connection, labelset: str, annotator: str, record_ids: Sequence[str]
) -> list[str]:
    """Which of ``record_ids`` ``annotator`` has an event for in ``labelset`` already."""
    again: list[str] = []
    for chunk in _chunks(list(record_ids)):
        again.extend(
            r[0]
            for r in conn.execute(
                select(EventRow.record_id).where(
                    EventRow.labelset == labelset,
                    EventRow.annotator == annotator,
                    EventRow.record_id.in_(chunk),
                )
            )
        )
    return again


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """``items`` in slices small enough for one SQL ``IN (...)`` on every backend."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
