"""The one read path for record-level values: who reads them, and for what.

Every read that returns record-level values to a caller (rows and cells,
profile top values and example values in findings, domains inferred from the
data, drift and alert texts, label issues, annotation content, training sets)
goes through a `Reader`. The reader knows its principal (a person, from the
repository's config or ``TILLAGE_PRINCIPAL``, by default the local user; a
pipeline run reads as ``job:<run id>``) and each read names its `Purpose`.

`Reader.grant` is the single place that decides, from the repository's
privacy policy (`tillage.core.policy`), whether a read may go ahead:

- a dataset the policy does not make private, and a principal the policy lets
  read raw (by default only ``job:`` principals), read everything;
- any other principal asking for record-level values of a private dataset
  (`RECORD_LEVEL` purposes: rows, exports, row diffs, label events, annotation
  content, training sets, model inputs, ...) gets `PrivateDataError`, which
  names what they can do instead;
- summaries computed from the data (`SUMMARY` purposes: profiles, inferred
  schemas, check, drift and alert findings, merge conflict reports) are not
  refused: `grant` returns the dataset's policy and the caller shows the
  summary's redacted form (counts, shares, distances and numbers of distinct
  values; no values of non-public columns);
- `Purpose.AGGREGATE` and `Purpose.BREAK_GLASS` are let through for anyone,
  because the code that asks for them gates the release itself: aggregate and
  DP views release only suppressed or noised statistics, and a break-glass
  read runs under a grant that the grants code has checked and audits.

A read that is allowed is recorded in the repository's `AccessLog` (an
in-process list the caller can inspect) and told to its listeners. The check is
a dict lookup on a policy loaded once per open repository.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tillage.core.commit import DatasetPin
from tillage.core.policy import DatasetPolicy, Policy
from tillage.errors import InputError, InvalidFilterError, PrivateDataError

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
    AGGREGATE = "aggregate"  # aggregate and DP views: release only suppressed or noised stats
    BREAK_GLASS = "break_glass"  # a read under an approved, audited break-glass grant


# Summaries computed from the data: a person gets their redacted form, not a refusal.
SUMMARY = frozenset(
    {Purpose.PROFILE, Purpose.SCHEMA, Purpose.CHECK, Purpose.DRIFT, Purpose.ALERT, Purpose.MERGE}
)
# Gated by the code that asks for them (see the module docstring).
EXEMPT = frozenset({Purpose.AGGREGATE, Purpose.BREAK_GLASS})
# Everything else hands out record-level values: refused to a person on private data.
RECORD_LEVEL = frozenset(Purpose) - SUMMARY - EXEMPT

_WHAT = {
    Purpose.ROWS: "its rows",
    Purpose.EXPORT: "an export of its rows",
    Purpose.DIFF: "the rows that changed between two versions",
    Purpose.LABELS: "the labels of its records",
    Purpose.LABEL_ISSUES: "the records with label issues",
    Purpose.ANNOTATION: "an annotation task's records",
    Purpose.TRAINING_SET: "a training set of its records",
    Purpose.ANALYSIS: "per-record values behind a slice or fairness analysis",
    Purpose.SELECT: "records chosen from it",
    Purpose.PREDICT: "a model's inputs or per-record predictions",
    Purpose.FEATURES: "a featurizer's inputs or vectors",
}


def instead(purpose: Purpose, dataset: str) -> str:
    """What a person refused a record-level read of private ``dataset`` can do instead."""
    views = (
        f"`tillage privacy aggregate {dataset}` or `tillage privacy query {dataset}` for "
        f"aggregate and differentially private answers, `tillage privacy synthesize {dataset}` "
        "for a synthetic proxy people may read, or `tillage grant request` for audited "
        "break-glass access"
    )
    if purpose is Purpose.ANNOTATION:
        return (
            f"The task's dataset {dataset!r} is private: its records may not be shown to "
            f"annotators. Apply labeling functions to it in a pipeline run (jobs read raw), "
            f"or use {views}."
        )
    if purpose in (Purpose.PREDICT, Purpose.FEATURES, Purpose.TRAINING_SET, Purpose.SELECT):
        return (
            f"Run it in a pipeline (jobs read raw and what they write stays private), or use "
            f"{views}."
        )
    return f"Use {views}."


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
        self._values_read: dict[str, set[str]] = {}

    def values_read(self, principal: str) -> set[str]:
        """The datasets ``principal`` read values of (not only summaries) through it."""
        return self._values_read.get(principal, set())

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
        if event.purpose not in SUMMARY:
            self._values_read.setdefault(event.principal, set()).add(event.dataset)
        for listener in [*self._listeners, *_LISTENERS]:
            listener(event)


class Reader:
    """The reads of one repository handle, as ``principal``.

    Args:
        tables: a callable returning the repository's tables (made on first use).
        log: where reads are recorded.
        principal: who reads.
        listener: also told of this handle's reads (a pipeline run's lineage).
        policy: a callable returning the repository's privacy policy, with the
            datasets private by derivation (default: no private datasets).
    """

    def __init__(
        self,
        tables: Callable[[], Tables],
        log: AccessLog,
        principal: str,
        listener: ReadListener | None = None,
        policy: Callable[[], Policy] | None = None,
    ) -> None:
        self._tables = tables
        self.log = log
        self.principal = principal
        self._listener = listener
        self._policy = policy or Policy

    def hidden(self, dataset: str) -> DatasetPolicy | None:
        """``dataset``'s policy if its values are hidden from this principal, else None."""
        policy = self._policy()
        dp = policy.datasets.get(dataset)
        if dp is None or policy.reads_raw(self.principal):
            return None
        return dp

    def private_sources(self, dataset: str) -> list[str]:
        """The private datasets other than ``dataset`` whose values this principal read
        through this repository: what a write to ``dataset`` now is derived from."""
        policy = self._policy()
        if policy.empty:
            return []
        read = self.log.values_read(self.principal)
        return sorted(d for d in read if d != dataset and d in policy.datasets)

    def grant(
        self,
        purpose: Purpose,
        dataset: str,
        commit: str | None,
        columns: Sequence[str] | None = None,
        *,
        filtered: bool = False,
    ) -> DatasetPolicy | None:
        """Decide and record one read; every read of values from the data calls it first.

        Every path that hands record-level values to a caller calls this first,
        directly or through `table` and `version`.

        Returns:
            None when the values may be shown as they are; for a `SUMMARY` purpose
            on a dataset hidden from this principal, the dataset's policy: the
            caller shows the summary's redacted form (no values of its non-public
            columns).

        Args:
            purpose: what the values are for.
            dataset: the dataset read.
            commit: the commit read (None: a file given by the caller).
            columns: the columns read (None: every column).
            filtered: the rows are chosen by a filter, which may test any column (so a
                read of public columns only is no longer harmless).

        Raises:
            PrivateDataError: a record-level read of a private dataset by a principal
                the policy does not let read raw (reading only public columns, without a
                filter, is allowed).
        """
        hidden = None if purpose in EXEMPT else self.hidden(dataset)
        if hidden is not None and purpose in RECORD_LEVEL:
            if columns is None or filtered or hidden.private_columns(columns):
                raise PrivateDataError(
                    self.principal, dataset, _WHAT[purpose], instead(purpose, dataset)
                )
            hidden = None
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
        return hidden

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
        self.grant(purpose, dataset, commit, columns, filtered=where is not None)
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
