"""The one read path for record-level values: who reads them, and for what.

Every read that returns record-level values to a caller (rows and cells,
profile top values and example values in findings, domains inferred from the
data, drift and alert texts, label issues, annotation content, training sets)
goes through a `Reader`. The reader knows its principal (a person, from the
repository's config or ``TILLAGE_PRINCIPAL``, by default the local user; a
pipeline run reads as ``job:<run id>``) and each read names its `Purpose`.

Today every read is allowed and recorded: in the repository's `AccessLog` (an
in-process list the caller can inspect) and by its listeners. `Reader.grant` is
the single place where the privacy work will decide between raw values,
aggregates, differentially private answers and refusal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tillage.core.commit import DatasetPin
from tillage.errors import InputError, InvalidFilterError

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.store.tables import Tables


class Purpose(StrEnum):
    """What a read of record-level values is for."""

    ROWS = "rows"  # read, head
    EXPORT = "export"
    DIFF = "diff"  # row changes between versions
    MERGE = "merge"  # rows replayed by a three-way merge or revert
    PROFILE = "profile"  # profiles: top values, quantiles
    SCHEMA = "schema"  # domains and ranges inferred from the data
    CHECK = "check"  # schema checks: findings name example values
    DRIFT = "drift"  # drift findings name values and shares
    ALERT = "alert"  # alert texts and re-checks
    LABELS = "labels"  # label events, current labels, labeling functions
    LABEL_ISSUES = "label_issues"
    ANNOTATION = "annotation"  # task content shown to annotators
    TRAINING_SET = "training_set"
    ANALYSIS = "analysis"  # where a model fails (slices, fairness) and data values
    SELECT = "select"  # the pool a selection strategy chooses records from
    PREDICT = "predict"  # a model's inputs, and the predictions it stored
    FEATURES = "features"  # a featurizer's inputs, and its cached vectors
    AGGREGATE = "aggregate"  # inputs of aggregates and DP releases; no value leaves raw


@dataclass(frozen=True)
class ReadEvent:
    """One read: who read which dataset at which commit, for what, and which columns."""

    principal: str
    purpose: Purpose
    dataset: str
    commit: str | None  # None: a file given by the caller, not the repository's data
    columns: tuple[str, ...] | None = None  # None: every column

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values."""
        return {
            "principal": self.principal,
            "purpose": self.purpose.value,
            "dataset": self.dataset,
            "commit": self.commit,
            "columns": list(self.columns) if self.columns is not None else None,
        }


ReadListener = Callable[[ReadEvent], None]

# Told of every read in this process, through any repository (see `listen`).
_LISTENERS: list[ReadListener] = []


def listen(listener: ReadListener) -> Callable[[], None]:
    """Call ``listener`` with every later read in this process, through any repository.

    For callers that do not hold the `Repo` (a CLI command, a server request).
    Returns a function that removes it.
    """
    _LISTENERS.append(listener)

    def remove() -> None:
        if listener in _LISTENERS:
            _LISTENERS.remove(listener)

    return remove


class AccessLog:
    """The reads made through one open repository, and listeners told of each.

    Keeps the latest ``keep`` events (a long-lived worker must not grow without
    bound); listeners see every one.
    """

    def __init__(self, keep: int = 10_000) -> None:
        self._events: deque[ReadEvent] = deque(maxlen=keep)
        self._listeners: list[ReadListener] = []

    @property
    def events(self) -> list[ReadEvent]:
        """The kept events, oldest first."""
        return list(self._events)

    def add_listener(self, listener: ReadListener) -> Callable[[], None]:
        """Call ``listener`` with every later read; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def record(self, event: ReadEvent) -> None:
        """Keep ``event`` and tell every listener."""
        self._events.append(event)
        for listener in [*self._listeners, *_LISTENERS]:
            listener(event)


class Reader:
    """The reads of one repository handle, as ``principal``.

    Args:
        tables: a callable returning the repository's tables (made on first use).
        log: where reads are recorded.
        principal: who reads.
        listener: also told of this handle's reads (a pipeline run's lineage).
    """

    def __init__(
        self,
        tables: Callable[[], Tables],
        log: AccessLog,
        principal: str,
        listener: ReadListener | None = None,
    ) -> None:
        self._tables = tables
        self.log = log
        self.principal = principal
        self._listener = listener

    def grant(
        self,
        purpose: Purpose,
        dataset: str,
        commit: str | None,
        columns: Sequence[str] | None = None,
    ) -> None:
        """Allow and record one read (the place where a policy will decide).

        Every path that hands record-level values to a caller calls this first,
        directly or through `table` and `version`.
        """
        event = ReadEvent(
            self.principal,
            purpose,
            dataset,
            commit,
            tuple(columns) if columns is not None else None,
        )
        self.log.record(event)
        if self._listener is not None:
            self._listener(event)

    def table(
        self,
        purpose: Purpose,
        dataset: str,
        pin: DatasetPin,
        commit: str | None,
        *,
        columns: list[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> pa.Table:
        """The rows of a pinned version, projected and filtered (see `Datasets.read`).

        Raises:
            InvalidFilterError: ``where`` is not one condition on the dataset's columns.
            InputError: unknown columns.
            CorruptDataError: the version's files are damaged.
        """
        import pyarrow as pa

        from tillage.store.filters import lance_filter, lance_problem

        tables = self._tables()
        ds = tables.open(dataset, pin)
        if columns:
            unknown = [c for c in columns if c not in ds.schema.names]
            if unknown:
                raise InputError(
                    f"unknown column(s) {', '.join(unknown)} in {dataset!r}; "
                    f"its columns: {', '.join(ds.schema.names)}."
                )
        lance_where = None if where is None else lance_filter(where, ds.schema.names)
        self.grant(purpose, dataset, commit, columns)
        try:
            table = ds.to_table(columns=columns, filter=lance_where, limit=limit, offset=offset)
        except (ValueError, OSError) as e:
            damaged = tables.read_error(dataset, pin, e)
            if damaged is not None:
                raise damaged from None
            if where is None:
                raise
            raise InvalidFilterError(where, lance_problem(e)) from e
        return table.cast(pa.schema([f.remove_metadata() for f in table.schema]))

    def batches(
        self,
        purpose: Purpose,
        dataset: str,
        pin: DatasetPin,
        commit: str | None,
        *,
        columns: list[str],
        batch_size: int,
    ) -> Iterator[pa.RecordBatch]:
        """The rows of a pinned version, ``columns`` only, as batches of at most ``batch_size``.

        For the readers that map over a whole version without holding it (a model
        predicting on every record).

        Raises:
            InputError: unknown columns.
            CorruptDataError: the version's files are damaged.
        """
        tables = self._tables()
        ds = tables.open(dataset, pin)
        unknown = [c for c in columns if c not in ds.schema.names]
        if unknown:
            raise InputError(
                f"unknown column(s) {', '.join(unknown)} in {dataset!r}; "
                f"its columns: {', '.join(ds.schema.names)}."
            )
        self.grant(purpose, dataset, commit, columns)
        try:
            yield from ds.to_batches(columns=columns, batch_size=batch_size)
        except (ValueError, OSError) as e:
            damaged = tables.read_error(dataset, pin, e)
            if damaged is not None:
                raise damaged from None
            raise

    def version(self, purpose: Purpose, dataset: str, pin: DatasetPin, commit: str | None) -> Any:
        """The pinned version opened for reading (a Lance dataset), after `grant`.

        For the readers that scan only part of a version (diff and merge read
        only the rows two versions do not share).
        """
        handle = self._tables().open(dataset, pin)
        self.grant(purpose, dataset, commit)
        return handle
