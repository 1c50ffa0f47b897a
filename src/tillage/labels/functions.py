"""Labeling functions: write them, apply them to Arrow tables, and see how each one does.

A labeling function (LF) is a small heuristic that either names a class for a
record or abstains. `labeling_function` turns a plain function into one, of one
record (a ``dict`` of the row) by default, or of a whole batch (an Arrow table)
with ``vectorized=True``, returning one label per row::

    @labeling_function()
    def thanks(tweet: dict[str, Any]) -> str | None:
        return "iphone" if "thank you" in tweet["text"].lower() else ABSTAIN

    @labeling_function(vectorized=True)
    def has_link(batch: pa.Table) -> list[str | None]:
        return ["iphone" if "http" in t else None for t in batch.column("text").to_pylist()]

`apply` runs the functions over a table in batches on a thread pool and returns
`Votes`: an int matrix (records x functions, ``-1`` = abstain) with the class
list, function names, record ids and every error. A function that raises on a
record is recorded for that record (its id, the function, the exception) and
counts as an abstain there; the rest of the batch goes on. A vectorised function
that raises, or returns the wrong number of labels, is called again record by
record (as one-row tables) so the failing records are named. A label that is
not one of ``classes`` is such an error too. The result does not depend on the
batch size or the number of workers.

`report` summarises the votes per function: coverage, overlap, conflict,
polarity, and empirical accuracy where gold labels are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tillage.errors import InputError

#: What a labeling function returns to say "no opinion" on a record.
ABSTAIN: Final = None
#: The vote matrix's value for an abstain (or an error).
ABSTAIN_VOTE: Final = -1
#: Rows per batch handed to the functions.
DEFAULT_BATCH_SIZE: Final = 4096
#: Errors kept per labeling function; past that they are only counted.
MAX_ERRORS_PER_LF: Final = 1000

VoteMatrix = npt.NDArray[np.int32]


# -- labeling functions ------------------------------------------------------------


@dataclass(frozen=True)
class LabelingFunction:
    """A named heuristic: one record (a dict) -> a label, or a batch (Arrow) -> labels."""

    name: str
    fn: Callable[[Any], Any]
    vectorized: bool = False

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


@overload
def labeling_function(
    fn: Callable[[Any], Any], *, name: str | None = None, vectorized: bool = False
) -> LabelingFunction: ...
@overload
def labeling_function(
    fn: None = None, *, name: str | None = None, vectorized: bool = False
) -> Callable[[Callable[[Any], Any]], LabelingFunction]: ...
def labeling_function(
    fn: Callable[[Any], Any] | None = None,
    *,
    name: str | None = None,
    vectorized: bool = False,
) -> LabelingFunction | Callable[[Callable[[Any], Any]], LabelingFunction]:
    """Make ``fn`` a labeling function, named ``name`` or after the function.

    Usable bare (``@labeling_function``) or called (``@labeling_function(name=...)``).
    With ``vectorized=True`` the function takes an Arrow table (a batch of rows)
    and returns a list or array of labels of the same length, ``None`` (or NaN)
    to abstain.
    """

    def wrap(f: Callable[[Any], Any]) -> LabelingFunction:
        if not callable(f):
            raise InputError(
                f"labeling_function decorates a function, got {type(f).__name__}; "
                "put @labeling_function() on a `def`."
            )
        lf_name = name if name is not None else getattr(f, "__name__", None)
        if not isinstance(lf_name, str) or not lf_name:
            raise InputError(
                "a labeling function needs a name; pass labeling_function(name='...')."
            )
        return LabelingFunction(name=lf_name, fn=f, vectorized=vectorized)

    return wrap(fn) if fn is not None else wrap


# -- votes -----------------------------------------------------------------------


@dataclass(frozen=True)
class LFError:
    """One labeling function failing on one record (it counts as an abstain there)."""

    lf: str
    record: Any
    row: int
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "lf": self.lf,
            "record": plain_value(self.record),
            "row": self.row,
            "error": self.error,
        }


@dataclass(frozen=True, eq=False)
class Votes:
    """Votes of labeling functions (or sources) on records.

    Attributes:
        matrix: int32, shape (n_records, n_lfs); ``matrix[i, j]`` is the index in
            ``classes`` of the label source ``j`` gave record ``i``, -1 for none.
        classes: the class labels, in index order.
        lf_names: one name per column.
        record_ids: one id per row (the key column's values, else the row numbers).
        errors: records a function failed on or gave a label outside ``classes``.
        error_counts: errors per function, including those past `MAX_ERRORS_PER_LF`.
    """

    matrix: VoteMatrix
    classes: tuple[Any, ...]
    lf_names: tuple[str, ...]
    record_ids: tuple[Any, ...]
    errors: tuple[LFError, ...] = ()
    error_counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_records(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_lfs(self) -> int:
        return int(self.matrix.shape[1])

    @classmethod
    def from_matrix(
        cls,
        matrix: Any,
        classes: Sequence[Any],
        lf_names: Sequence[str] | None = None,
        record_ids: Sequence[Any] | None = None,
    ) -> Votes:
        """Votes from a ready matrix of class indices (-1 = abstain), checked."""
        classes_t = _check_classes(classes)
        m = check_vote_matrix(matrix, len(classes_t))
        names = tuple(f"lf{j}" for j in range(m.shape[1])) if lf_names is None else tuple(lf_names)
        if len(names) != m.shape[1]:
            raise InputError(
                f"got {len(names)} labeling function name(s) for a vote matrix with "
                f"{m.shape[1]} column(s); pass one name per column."
            )
        if len(set(names)) != len(names):
            raise InputError(f"labeling function names must be unique, got {list(names)}.")
        ids = tuple(range(m.shape[0])) if record_ids is None else tuple(record_ids)
        if len(ids) != m.shape[0]:
            raise InputError(
                f"got {len(ids)} record id(s) for a vote matrix with {m.shape[0]} row(s); "
                "pass one id per row."
            )
        return cls(matrix=m, classes=classes_t, lf_names=names, record_ids=ids)

    def labels(self) -> list[list[Any]]:
        """The votes as labels (``None`` = abstain), one list per record."""
        lookup = [*self.classes, None]
        return [[lookup[v] for v in row] for row in self.matrix.tolist()]

    def errors_of(self, lf: str) -> list[LFError]:
        return [e for e in self.errors if e.lf == lf]


def check_vote_matrix(matrix: Any, n_classes: int) -> VoteMatrix:
    """``matrix`` as int32, shape (n, m), values in -1..n_classes-1; else InputError."""
    try:
        arr = np.asarray(matrix)
    except Exception as exc:  # ragged lists and the like
        raise InputError(
            f"the votes are not a matrix ({exc}); pass a 2-D array of class indices, -1 to abstain."
        ) from None
    if arr.ndim != 2:
        raise InputError(
            f"the votes must be a 2-D matrix (records x sources), got shape {arr.shape}; "
            "reshape it, e.g. votes.reshape(-1, 1) for a single source."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"the vote matrix is empty (shape {arr.shape}); "
            "it needs at least one record and one source."
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise InputError(
                "the votes must be whole class indices (-1 to abstain), got fractions or NaN; "
                "map labels to indices first (`apply` does)."
            )
    elif arr.dtype.kind not in "iub":
        raise InputError(
            f"the votes must be integer class indices, got dtype {arr.dtype}; map labels "
            "to indices 0..K-1 (-1 to abstain) first, or use `apply` with classes=[...]."
        )
    out = arr if arr.dtype == np.int32 else arr.astype(np.int32)
    bad = (out < -1) | (out >= n_classes)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise InputError(
            f"vote {int(out[i, j])} at record {i}, source {j} is not a class index: with "
            f"{n_classes} classes the votes must be -1 (abstain) or 0..{n_classes - 1}."
        )
    return out


# -- apply -----------------------------------------------------------------------


def apply(
    lfs: Sequence[LabelingFunction] | LabelingFunction,
    table: pa.Table | pa.RecordBatch,
    *,
    classes: Sequence[Any],
    key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
) -> Votes:
    """Run labeling functions over ``table``, batch by batch, in parallel threads.

    Args:
        lfs: the labeling functions (see `labeling_function`); names must be unique.
        table: the records, an Arrow table or record batch.
        classes: the class labels; any other label a function returns is an error.
        key: column whose values identify records in ``Votes.record_ids`` and in
            errors; default: the row numbers.
        batch_size: rows per batch.
        workers: threads (default: up to 4); 1 runs everything in this thread.

    Returns:
        `Votes`, identical whatever ``batch_size`` and ``workers`` are.

    Raises:
        InputError: no functions, duplicate names, not a table, empty classes,
            unknown key column, bad batch size or worker count.
    """
    lf_list = [lfs] if isinstance(lfs, LabelingFunction) else list(lfs)
    if not lf_list:
        raise InputError("no labeling functions to apply; pass a list of @labeling_function's.")
    for lf in lf_list:
        if not isinstance(lf, LabelingFunction):
            raise InputError(
                f"{lf!r} is not a labeling function; decorate it with @labeling_function()."
            )
    names = [lf.name for lf in lf_list]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"labeling function names must be unique, {dupes} repeat; "
            "rename one with labeling_function(name='...')."
        )
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise InputError(
            f"apply takes an Arrow table, got {type(table).__name__}; "
            "convert it with pyarrow.Table.from_pandas(...) or polars' .to_arrow()."
        )
    classes_t = _check_classes(classes)
    if key is not None and key not in table.column_names:
        raise InputError(
            f"key column {key!r} is not in the table (columns: {', '.join(table.column_names)}); "
            "pass one of those, or key=None for row numbers."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a whole number of at least 1, got {batch_size!r}.")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InputError(f"workers must be a whole number of at least 1, got {workers!r}.")

    n = table.num_rows
    record_ids: tuple[Any, ...] = (
        tuple(table.column(key).to_pylist()) if key is not None else tuple(range(n))
    )
    index: dict[Any, int] = {}
    for i, c in enumerate(classes_t):
        index[_hashable(c)] = i
    matrix = np.full((n, len(lf_list)), ABSTAIN_VOTE, dtype=np.int32)
    starts = list(range(0, n, batch_size))
    tasks = [(s, j) for s in starts for j in range(len(lf_list))]

    def run(task: tuple[int, int]) -> list[LFError]:
        start, j = task
        batch = table.slice(start, batch_size)
        col, errs = _run_batch(lf_list[j], batch, start, index, classes_t, record_ids)
        matrix[start : start + batch.num_rows, j] = col
        return errs

    n_workers = min(workers or 4, max(1, len(tasks)))
    if n_workers == 1:
        results = [run(t) for t in tasks]
    else:
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="tillage-lf") as pool:
            results = list(pool.map(run, tasks))
    by_lf: dict[int, list[LFError]] = {}
    for (_, j), errs in zip(tasks, results, strict=True):
        by_lf.setdefault(j, []).extend(errs)
    errors: list[LFError] = []
    counts: dict[str, int] = {}
    for j, lf in enumerate(lf_list):
        errs = sorted(by_lf.get(j, []), key=lambda e: e.row)
        counts[lf.name] = len(errs)
        errors.extend(errs[:MAX_ERRORS_PER_LF])
    errors.sort(key=lambda e: (e.row, names.index(e.lf)))
    return Votes(
        matrix=matrix,
        classes=classes_t,
        lf_names=tuple(names),
        record_ids=record_ids,
        errors=tuple(errors),
        error_counts=counts,
    )


def _run_batch(
    lf: LabelingFunction,
    batch: pa.Table,
    start: int,
    index: Mapping[Any, int],
    classes: tuple[Any, ...],
    record_ids: tuple[Any, ...],
) -> tuple[npt.NDArray[np.int32], list[LFError]]:
    """One function over one batch: its column of votes and the errors it met."""
    n = batch.num_rows
    col = np.full(n, ABSTAIN_VOTE, dtype=np.int32)
    errors: list[LFError] = []

    def error(i: int, text: str) -> None:
        errors.append(LFError(lf.name, record_ids[start + i], start + i, text))

    def encode(i: int, label: Any) -> None:
        if _is_abstain(label):
            return
        try:
            col[i] = index[_hashable(label)]
        except (KeyError, TypeError):
            error(i, f"returned {label!r}, which is not one of the classes {list(classes)}")

    if lf.vectorized:
        labels = _call_vectorized(lf, batch)
        if isinstance(labels, list) and len(labels) == n:
            for i, label in enumerate(labels):
                encode(i, label)
            return col, errors
        # Raised or misshapen: once per record, so the failing records get named.
        for i in range(n):
            one = _call_vectorized(lf, batch.slice(i, 1))
            if isinstance(one, list) and len(one) == 1:
                encode(i, one[0])
            elif isinstance(one, list):
                error(i, f"returned {len(one)} labels for a batch of 1 record")
            else:
                error(i, one)
        return col, errors
    for i, record in enumerate(batch.to_pylist()):
        try:
            label = lf.fn(record)
        except Exception as exc:
            error(i, _describe(exc))
            continue
        encode(i, label)
    return col, errors


def _call_vectorized(lf: LabelingFunction, batch: pa.Table) -> list[Any] | str:
    """The batch's labels as a list, or the error's text."""
    try:
        out = lf.fn(batch)
    except Exception as exc:
        return _describe(exc)
    if isinstance(out, pa.ChunkedArray | pa.Array):
        return list(out.to_pylist())
    if isinstance(out, np.ndarray):
        return list(out.tolist()) if out.ndim == 1 else f"returned an array of shape {out.shape}"
    if isinstance(out, str | bytes) or not hasattr(out, "__len__"):
        return f"returned {type(out).__name__}, not a list of labels (one per row)"
    try:
        return list(out)
    except Exception as exc:
        return _describe(exc)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_abstain(label: Any) -> bool:
    return label is None or (isinstance(label, float) and math.isnan(label))


def _hashable(label: Any) -> Hashable:
    """A dict key for a label: numpy scalars as Python values, bools apart from 0/1."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, bool):
        return ("bool", label)
    return label  # type: ignore[no-any-return]


def _check_classes(classes: Sequence[Any]) -> tuple[Any, ...]:
    if isinstance(classes, str | bytes) or not isinstance(classes, Sequence | np.ndarray):
        raise InputError(
            f"classes must be a list of labels, got {classes!r}; e.g. classes=['spam', 'ham']."
        )
    out = tuple(c.item() if isinstance(c, np.generic) else c for c in classes)
    if len(out) < 2:
        raise InputError(
            f"classes needs at least two labels, got {list(out)}; e.g. classes=['spam', 'ham']."
        )
    if any(_is_abstain(c) for c in out):
        raise InputError(
            f"classes {list(out)} include None/NaN, which means abstain; leave it out."
        )
    try:
        keys = [_hashable(c) for c in out]
        unique = len(set(keys)) == len(keys)
    except TypeError:
        raise InputError(
            f"classes must be hashable labels (strings, numbers), got {list(out)}."
        ) from None
    if not unique:
        raise InputError(f"classes must be distinct, got {list(out)}.")
    return out


def plain_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# -- report -----------------------------------------------------------------------


@dataclass(frozen=True)
class LFSummary:
    """How one labeling function voted.

    Attributes:
        coverage: share of records it labelled.
        overlap: share of records it labelled that another function labelled too.
        conflict: share of records it labelled that another function labelled differently.
        polarity: the classes it ever voted for.
        accuracy: share of its votes that match the gold label, over records it
            labelled that have one; None without such records.
        n_gold: how many of its votes had a gold label to check against.
        errors: records it failed on (or gave an unknown label).
    """

    name: str
    coverage: float
    overlap: float
    conflict: float
    polarity: tuple[Any, ...]
    accuracy: float | None
    n_votes: int
    n_gold: int
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "coverage": self.coverage,
            "overlap": self.overlap,
            "conflict": self.conflict,
            "polarity": [plain_value(c) for c in self.polarity],
            "accuracy": self.accuracy,
            "n_votes": self.n_votes,
            "n_gold": self.n_gold,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class LFReport:
    """Per-function summaries, and the same measures over the whole vote matrix."""

    lfs: tuple[LFSummary, ...]
    n_records: int
    classes: tuple[Any, ...]
    coverage: float
    overlap: float
    conflict: float
    n_gold: int

    def __getitem__(self, name: str) -> LFSummary:
        for s in self.lfs:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_records": self.n_records,
            "classes": [plain_value(c) for c in self.classes],
            "coverage": self.coverage,
            "overlap": self.overlap,
            "conflict": self.conflict,
            "n_gold": self.n_gold,
            "lfs": [s.to_dict() for s in self.lfs],
        }


def report(votes: Votes, gold: Sequence[Any] | Mapping[Any, Any] | None = None) -> LFReport:
    """Coverage, overlap, conflict, polarity and (with ``gold``) accuracy of each function.

    Args:
        votes: from `apply` (or `Votes.from_matrix`).
        gold: true labels, either one per record in order (``None`` where
            unknown) or a mapping from record id to label for the records known.

    Raises:
        InputError: ``gold`` of the wrong length, or with labels outside the classes.
    """
    if not isinstance(votes, Votes):
        raise InputError(f"report takes the Votes that apply returns, got {type(votes).__name__}.")
    m = votes.matrix
    n = votes.n_records
    gold_idx = gold_indices(votes, gold) if gold is not None else np.full(n, -1, np.int32)
    voted = m >= 0
    n_voting = voted.sum(axis=1)
    has_gold = gold_idx >= 0
    summaries = []
    for j, name in enumerate(votes.lf_names):
        col = m[:, j]
        mine = voted[:, j]
        others = n_voting - mine
        # Records where some other source gave a label other than this one's.
        disagree = np.zeros(n, dtype=bool)
        for k in range(votes.n_lfs):
            if k != j:
                disagree |= voted[:, k] & (m[:, k] != col)
        n_votes = int(mine.sum())
        checked = mine & has_gold
        n_gold = int(checked.sum())
        summaries.append(
            LFSummary(
                name=name,
                coverage=_share(n_votes, n),
                overlap=_share(int((mine & (others > 0)).sum()), n),
                conflict=_share(int((mine & disagree).sum()), n),
                polarity=tuple(votes.classes[c] for c in np.unique(col[mine]).tolist()),
                accuracy=float((col[checked] == gold_idx[checked]).mean()) if n_gold else None,
                n_votes=n_votes,
                n_gold=n_gold,
                errors=int(votes.error_counts.get(name, len(votes.errors_of(name)))),
            )
        )
    any_vote = n_voting > 0
    lo = np.where(voted, m, np.iinfo(np.int32).max).min(axis=1)
    hi = m.max(axis=1)
    return LFReport(
        lfs=tuple(summaries),
        n_records=n,
        classes=votes.classes,
        coverage=_share(int(any_vote.sum()), n),
        overlap=_share(int((n_voting > 1).sum()), n),
        conflict=_share(int((any_vote & (lo != hi)).sum()), n),
        n_gold=int(has_gold.sum()),
    )


def gold_indices(votes: Votes, gold: Sequence[Any] | Mapping[Any, Any]) -> npt.NDArray[np.int32]:
    """Gold labels as class indices aligned with ``votes``' records, -1 where unknown."""
    index = {_hashable(c): i for i, c in enumerate(votes.classes)}
    out = np.full(votes.n_records, -1, dtype=np.int32)
    if isinstance(gold, Mapping):
        rows = {_hashable(r): i for i, r in enumerate(votes.record_ids)}
        items = [(rows.get(_hashable(r)), label, r) for r, label in gold.items()]
        unknown = [r for i, _, r in items if i is None]
        if unknown:
            raise InputError(
                f"{len(unknown)} gold record id(s) are not among the votes' records, e.g. "
                f"{unknown[:3]!r}; key gold labels by the same column passed to apply(key=...)."
            )
        pairs = [(int(i), label) for i, label, _ in items if i is not None]
    else:
        labels = list(gold)
        if len(labels) != votes.n_records:
            raise InputError(
                f"got {len(labels)} gold label(s) for {votes.n_records} record(s); pass one per "
                "record (None where unknown), or a mapping from record id to label."
            )
        pairs = list(enumerate(labels))
    bad: list[Any] = []
    for i, label in pairs:
        if _is_abstain(label):
            continue
        try:
            out[i] = index[_hashable(label)]
        except (KeyError, TypeError):
            bad.append(label)
    if bad:
        raise InputError(
            f"{len(bad)} gold label(s) are not among the classes {list(votes.classes)}, e.g. "
            f"{sorted({repr(b) for b in bad})[:3]}; fix them or add the class."
        )
    return out


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def load_functions(path: str) -> list[LabelingFunction]:
    """The labeling functions defined in a Python file, in the order they appear."""
    from tillage.core.modules import load_module

    module = load_module(path)
    found = [v for v in vars(module).values() if isinstance(v, LabelingFunction)]
    if not found:
        raise InputError(
            f"{path} defines no labeling functions; decorate them with "
            "@tillage.labeling_function()."
        )
    return found
