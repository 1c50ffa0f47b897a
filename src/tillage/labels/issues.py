"""Likely label errors, found with confident learning.

Two steps, kept apart so that the (costly) probabilities are computed once and
can come from any model:

1. `out_of_sample_probabilities`: every record's predicted class probabilities
   from a model that never saw it (stratified K-fold cross-validation). A model
   scoring its own training rows agrees with their labels, errors included.
2. `find_label_issues`: confident learning (Northcutt, Jiang & Chuang, "Confident
   Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021):

   - per-class thresholds ``t[j]``: the mean probability of class ``j`` over the
     records labelled ``j`` (the model's self-confidence on that class);
   - the *confident joint* ``C[i, j]``: records labelled ``i`` whose probability
     of ``j`` reaches ``t[j]`` (the largest such ``j`` when several do),
     calibrated so that each row sums to the number of records labelled ``i``;
   - prune by noise rate: for each off-diagonal cell, the ``C[i, j]`` records
     labelled ``i`` with the largest margin ``p[j] - p[i]`` are issues, unless
     the model's own prediction is the given label.

   Issues are ranked most certain first by self-confidence, the probability the
   model gives the record's label (lowest first; ties by the margin to the
   suggested label). With calibrated probabilities and errors that do not
   depend on the record beyond its class, a lower self-confidence means a
   higher chance the label is wrong, whatever the class; re-scaling each class
   by its threshold or by the estimated noise rates ranked worse in trials on
   the real data of ``benchmarks/bench_label_issues.py``.

Pure: numpy, pyarrow and scikit-learn only, nothing touches a repository.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.kinds import ColumnKind, column_kind, value_facts
from tillage.errors import InputError

#: How far a row of probabilities may sum from 1 (float32 softmax outputs pass).
SUM_TOLERANCE = 1e-3

#: Labels, one per record: a sequence, a 1-D ndarray, or an Arrow array.
Labels: TypeAlias = Sequence[Any] | np.ndarray
#: The classes, in the order of the probability columns.
Classes: TypeAlias = Sequence[Any] | np.ndarray


# -- out-of-sample probabilities --------------------------------------------------------


def out_of_sample_probabilities(
    features: pa.Table | np.ndarray,
    labels: Labels,
    *,
    classes: Classes,
    model: Any = None,
    folds: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Each record's class probabilities from a model fitted without it (stratified K-fold).

    Returns an array of shape ``(records, len(classes))``, columns in ``classes``
    order. ``model`` is any scikit-learn style classifier with ``predict_proba``,
    cloned for each fold and fitted on the class positions (0..K-1); it receives
    the rows of ``features`` as given for an ndarray, as a pandas DataFrame for an
    Arrow table (a pandas DataFrame is read as one). Without one, `default_model`
    is used. The same ``seed`` gives the same folds and, where the model (or a
    step of it) has an unset ``random_state``, the same model.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    classes_t = _classes(classes)
    y = _codes(labels, classes_t)
    n, k = len(y), len(classes_t)
    counts = np.bincount(y, minlength=k)
    _require_every_class(counts, classes_t, "labels")
    if hasattr(features, "iloc"):  # a pandas DataFrame: read as the Arrow table it is
        features = pa.Table.from_pandas(features, preserve_index=False)
    if isinstance(features, pa.Table):
        rows = features.num_rows
    else:
        features = np.asarray(features)
        if features.ndim != 2:
            raise InputError(
                f"features must be a 2-D array (records x features) or an Arrow table, got "
                f"an array of shape {features.shape}."
            )
        rows = features.shape[0]
    if rows != n:
        raise InputError(
            f"features has {rows} records but there are {n} labels; pass one label per record."
        )
    if folds < 2:
        raise InputError(f"folds must be at least 2, not {folds}.")
    few = [(classes_t[i], int(c)) for i, c in enumerate(counts) if c < folds]
    if few:
        shown = ", ".join(f"{c!r} ({m})" for c, m in few)
        raise InputError(
            f"{folds}-fold cross-validation needs at least {folds} records of every class; "
            f"too few for {shown}. Lower folds, add records of those classes, or drop them."
        )

    if model is None:
        estimator, data = default_model(features, train_rows=n - math.ceil(n / folds))
    else:
        estimator = clone(model)
        data = features.to_pandas() if isinstance(features, pa.Table) else features
    _seed(estimator, seed)

    out = np.zeros((n, k))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(np.zeros(n), y):
        fitted = clone(estimator).fit(_rows(data, train), y[train])
        probs = np.asarray(fitted.predict_proba(_rows(data, test)), dtype=np.float64)
        known = np.asarray(fitted.classes_, dtype=np.int64)
        out[np.ix_(test, known)] = probs
    sums = out.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    return np.asarray(out / sums)


def default_model(
    features: pa.Table | np.ndarray, *, train_rows: int | None = None
) -> tuple[Any, Any]:
    """The default classifier for ``features``, and the data to fit it on.

    Logistic regression on features built per column kind (read from the Arrow
    types and the values): numbers, booleans and times (as seconds) get median
    imputation with a missing flag and a quantile transform to a normal shape
    (robust to heavy tails, like counts); strings averaging three words or more
    are text (TF-IDF of words and word pairs); other strings are categories
    (one-hot, values seen fewer than 5 times pooled) unless nearly every value is
    distinct (identifiers: dropped). Other types are dropped. An ndarray is all numbers.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    rows = features.num_rows if isinstance(features, pa.Table) else len(features)
    quantiles = max(10, min(1000, train_rows or rows))

    def numeric() -> Any:
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            QuantileTransformer(n_quantiles=quantiles, output_distribution="normal"),
        )

    classifier = LogisticRegression(max_iter=5000)
    if not isinstance(features, pa.Table):
        if not (np.issubdtype(features.dtype, np.number) or features.dtype == np.bool_):
            raise InputError(
                f"the default model needs numbers in an ndarray, not {features.dtype}; pass "
                "the features as an Arrow table (text and categories are encoded by column), "
                "or pass a model that handles them."
            )
        return make_pipeline(numeric(), classifier), features

    kinds = column_kinds(features)
    used = [c for c, kind in kinds.items() if kind != "ignored"]
    if not used:
        raise InputError(
            f"none of the columns {features.column_names} can be used as features "
            "(numbers, booleans, times, text or categories); pass other columns."
        )
    parts: list[tuple[str, Any, Any]] = []
    numbers = [c for c in used if kinds[c] == "number"]
    if numbers:
        parts.append(("numbers", numeric(), numbers))
    categories = [c for c in used if kinds[c] == "category"]
    if categories:
        parts.append(
            (
                "categories",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
                categories,
            )
        )
    for c in used:
        if kinds[c] == "text":
            # a word must appear twice to count, unless there is too little text for that
            min_df = 2 if (train_rows or rows) >= 200 else 1
            text = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True)
            parts.append((f"text:{c}", text, c))
    frame = _as_frame(features, kinds)
    return make_pipeline(ColumnTransformer(parts), classifier), frame


def column_kinds(table: pa.Table) -> dict[str, str]:
    """How `default_model` uses each column: ``number``, ``category``, ``text`` or ``ignored``.

    From the column's kind (`tillage.core.kinds.column_kind`, exact on these values):
    numbers, bools and times stored as such are numbers; categorical strings are
    categories, free text is text; identifiers, times as text and columns without
    values or of other types are ignored.
    """
    out: dict[str, str] = {}
    for name in table.column_names:
        col = table.column(name)
        kind = column_kind(name, col.type, value_facts(col))
        t = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        textual = pa.types.is_string(t) or pa.types.is_large_string(t)
        if kind in (ColumnKind.IDENTIFIER, ColumnKind.OTHER) or (
            textual and kind is ColumnKind.TIME
        ):
            out[name] = "ignored"
        elif kind is ColumnKind.TEXT:
            out[name] = "text"
        elif textual:
            out[name] = "category"
        else:
            out[name] = "number"
    return out


def _as_frame(table: pa.Table, kinds: dict[str, str]) -> Any:
    """The used columns as a pandas DataFrame: numbers as floats, strings with nulls as ""."""
    columns: dict[str, Any] = {}
    for name, kind in kinds.items():
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if kind == "number":
            t = col.type
            if pa.types.is_temporal(t):
                col = _seconds(col)
            columns[name] = _floats(col)
        elif kind in ("category", "text"):
            columns[name] = pc.fill_null(col.cast(pa.string()), "")
    return pa.table(columns).to_pandas()


def _floats(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Numbers as float64, rounded where they need more than 53 bits (ids, nanoseconds).

    A feature only needs the nearest float; Arrow's checked cast refuses such values.
    """
    return pc.cast(col, pa.float64(), safe=False)


def _seconds(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date, time, timestamp or duration column as seconds (float)."""
    t = col.type
    if pa.types.is_date(t):
        col = col.cast(pa.timestamp("s"))
        t = col.type
    if pa.types.is_timestamp(t):
        col = col.cast(pa.timestamp(t.unit)) if t.tz is not None else col
        per = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
        return pc.divide(_floats(col.cast(pa.int64())), per)
    if pa.types.is_time(t) or pa.types.is_duration(t):
        per = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
        return pc.divide(_floats(col.cast(pa.int64())), per)
    return _floats(col)


def _rows(data: Any, index: np.ndarray) -> Any:
    return data.iloc[index] if hasattr(data, "iloc") else data[index]


def _seed(estimator: Any, seed: int) -> None:
    """Set every unset ``random_state`` of ``estimator`` (and its parts) to ``seed``."""
    if not hasattr(estimator, "get_params"):
        return
    unset = {
        name: seed
        for name, value in estimator.get_params(deep=True).items()
        if (name == "random_state" or name.endswith("__random_state")) and value is None
    }
    if unset:
        estimator.set_params(**unset)


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelIssue:
    """One record whose given label is likely wrong.

    Attributes:
        index: the record's position in the labels (and features) passed in.
        given: the label it has.
        suggested: the label the model believes (its most probable class).
        score: how sure the method is that ``given`` is wrong, in (0, 1]: one minus
            the model's probability of the given label (its self-confidence).
            Issues are sorted by it, highest first (ties: larger margin
            ``suggested_probability - given_probability`` first, then lower index).
        given_probability: the model's probability of the given label (self-confidence).
        suggested_probability: the model's probability of the suggested label.
        record_id: the record's id in a label set (None for labels passed in as such).
    """

    index: int
    given: Any
    suggested: Any
    score: float
    given_probability: float
    suggested_probability: float
    record_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (numpy scalars as Python values, probabilities to 6 places)."""
        doc = {
            "index": self.index,
            "given": _plain(self.given),
            "suggested": _plain(self.suggested),
            "score": round(self.score, 6),
            "given_probability": round(self.given_probability, 6),
            "suggested_probability": round(self.suggested_probability, 6),
        }
        return doc if self.record_id is None else {**doc, "record_id": self.record_id}


@dataclass(frozen=True, slots=True, eq=False)
class LabelIssues:
    """What confident learning found in one labelled set of records.

    Attributes:
        classes: the classes, in the order of the probability columns.
        issues: the likely label errors, most certain first.
        records: how many records were examined.
        label_counts: records per given label, in ``classes`` order.
        thresholds: per-class confidence thresholds ``t`` (mean self-confidence).
        confident_joint: calibrated counts, ``[given, true]``; rows sum to
            ``label_counts``, off-diagonal cells are the estimated errors.
        noise_matrix: estimated ``P(given = i | true = j)`` at ``[i, j]``; each
            column sums to 1, the diagonal is how often a class keeps its label.
        labelset: the label set the labels came from (None for labels passed in as such).

    Equality is identity: the arrays have no single truth value to compare by.
    """

    classes: tuple[Any, ...]
    issues: tuple[LabelIssue, ...]
    records: int
    label_counts: np.ndarray
    thresholds: np.ndarray
    confident_joint: np.ndarray
    noise_matrix: np.ndarray
    labelset: str | None = None

    def __len__(self) -> int:
        return len(self.issues)

    @property
    def indices(self) -> np.ndarray:
        """The issues' record indices, most certain first."""
        return np.array([i.index for i in self.issues], dtype=np.int64)

    @property
    def estimated_errors(self) -> int:
        """Errors the calibrated confident joint estimates (its off-diagonal total)."""
        cj = self.confident_joint
        return int(cj.sum() - np.trace(cj))

    def of_records(self, labelset: str, record_ids: Sequence[str]) -> LabelIssues:
        """These issues as found in ``labelset``: each names its record, ``record_ids[index]``."""
        issues = tuple(replace(i, record_id=record_ids[i.index]) for i in self.issues)
        return replace(self, issues=issues, labelset=labelset)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain lists, ints, floats and strings only."""
        classes = [_plain(c) for c in self.classes]
        named = {} if self.labelset is None else {"labelset": self.labelset}
        return {
            **named,
            "classes": classes,
            "records": self.records,
            "issues": [i.to_dict() for i in self.issues],
            "issue_count": len(self.issues),
            "estimated_errors": self.estimated_errors,
            "label_counts": {
                str(c): int(n) for c, n in zip(classes, self.label_counts, strict=True)
            },
            "thresholds": {
                str(c): round(float(t), 6) for c, t in zip(classes, self.thresholds, strict=True)
            },
            "confident_joint": self.confident_joint.astype(int).tolist(),
            "noise_matrix": np.round(self.noise_matrix, 6).tolist(),
            "noise_matrix_axes": "[given][true]: P(given label | true label)",
        }


# -- confident learning -----------------------------------------------------------


def find_label_issues(labels: Labels, pred_probs: Any, *, classes: Classes) -> LabelIssues:
    """Records whose given label is likely wrong, by confident learning (prune by noise rate).

    ``pred_probs[r, k]`` is the out-of-sample probability that record ``r`` is
    ``classes[k]`` (see `out_of_sample_probabilities`); ``labels[r]`` its given label.
    Raises `InputError` on mismatched shapes, labels outside ``classes``, rows that
    are not probabilities, or a class without records.
    """
    classes_t = _classes(classes)
    y = _codes(labels, classes_t)
    probs = _probabilities(pred_probs, len(y), classes_t)
    k = len(classes_t)
    counts = np.bincount(y, minlength=k)
    _require_every_class(counts, classes_t, "labels")

    thresholds = _thresholds(probs, y, k)
    joint = _confident_joint(probs, y, thresholds, counts)
    flagged = _prune_by_noise_rate(probs, y, joint)

    given_p = probs[flagged, y[flagged]]
    suggested = _best_other(probs[flagged], y[flagged])
    suggested_p = probs[flagged, suggested]
    score = 1.0 - given_p
    order = np.lexsort((flagged, given_p - suggested_p, -score))  # highest score first
    issues = tuple(
        LabelIssue(
            index=int(flagged[o]),
            given=classes_t[y[flagged[o]]],
            suggested=classes_t[suggested[o]],
            score=float(score[o]),
            given_probability=float(given_p[o]),
            suggested_probability=float(suggested_p[o]),
        )
        for o in order
    )
    return LabelIssues(
        classes=classes_t,
        issues=issues,
        records=len(y),
        label_counts=counts,
        thresholds=thresholds,
        confident_joint=joint,
        noise_matrix=_noise_matrix(joint),
    )


def _thresholds(probs: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """``t[j]``: mean probability of ``j`` over the records labelled ``j``."""
    sums = np.zeros(k)
    np.add.at(sums, y, probs[np.arange(len(y)), y])
    return sums / np.bincount(y, minlength=k)


def _confident_joint(
    probs: np.ndarray, y: np.ndarray, thresholds: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Calibrated confident joint, integer counts ``[given, true]``, rows summing to ``counts``.

    A record counts in ``[given, j]`` for the most probable ``j`` whose probability
    reaches ``t[j]``; records confident of no class are left out. Each row is then
    rescaled to the number of records with that label (rounded keeping the row total).
    A label none of whose records is confident of any class is assumed clean.
    """
    k = len(counts)
    confident = probs >= thresholds - 1e-9
    anyone = confident.any(axis=1)
    guess = np.where(confident, probs, -1.0).argmax(axis=1)
    raw = np.zeros((k, k))
    np.add.at(raw, (y[anyone], guess[anyone]), 1.0)
    rows = raw.sum(axis=1)
    empty = rows == 0
    raw[empty, :] = 0.0
    raw[empty, np.flatnonzero(empty)] = 1.0
    rows[empty] = 1.0
    calibrated = raw / rows[:, None] * counts[:, None]
    return np.vstack(
        [_round_keeping_total(r, int(n)) for r, n in zip(calibrated, counts, strict=True)]
    )


def _prune_by_noise_rate(probs: np.ndarray, y: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Record indices pruned by noise rate, excluding records the model predicts as labelled.

    For each off-diagonal cell ``[i, j]``, the ``joint[i, j]`` records labelled ``i``
    with the largest margin ``p[j] - p[i]``.
    """
    mask = np.zeros(len(y), dtype=bool)
    off = joint.copy()
    np.fill_diagonal(off, 0)
    for i in np.flatnonzero(off.sum(axis=1)):
        members = np.flatnonzero(y == i)
        for j in np.flatnonzero(off[i]):
            margin = probs[members, j] - probs[members, i]
            # stable sort: ties go to the earlier record, so the result is deterministic
            top = np.argsort(-margin, kind="stable")[: int(off[i, j])]
            mask[members[top]] = True
    # the model agrees when no class is more probable than the label (ties agree)
    agree = probs[np.arange(len(y)), y] >= probs.max(axis=1)
    mask &= ~agree
    return np.flatnonzero(mask)


def _best_other(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each row, the most probable class other than its label."""
    masked = probs.copy()
    masked[np.arange(len(y)), y] = -np.inf
    return np.asarray(masked.argmax(axis=1))


def _noise_matrix(joint: np.ndarray) -> np.ndarray:
    """``P(given = i | true = j)`` from the calibrated joint: each column normalised."""
    cols = joint.sum(axis=0).astype(float)
    out = np.zeros(joint.shape)
    nonzero = cols > 0
    out[:, nonzero] = joint[:, nonzero] / cols[nonzero]
    # a class no record is believed to truly be keeps its label
    for j in np.flatnonzero(~nonzero):
        out[j, j] = 1.0
    return out


def _round_keeping_total(row: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder rounding of ``row`` to integers that sum to ``total``."""
    floor: np.ndarray = np.floor(row).astype(np.int64)
    short = total - int(floor.sum())
    if short > 0:
        order = np.argsort(-(row - floor), kind="stable")
        floor[order[:short]] += 1
    return floor


# -- input checks -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _classes(classes: Classes) -> tuple[Any, ...]:
    values = classes.tolist() if isinstance(classes, np.ndarray) else list(classes)
    values = [_plain(c) for c in values]
    if len(values) < 2:
        raise InputError(
            f"classes must name at least 2 classes, got {values!r}; pass every class the "
            "labels can take, in the order of the probability columns."
        )
    repeated = [c for c, n in Counter(values).items() if n > 1]
    if repeated:
        raise InputError(
            f"classes lists {_show(repeated)} more than once; pass each class once, "
            "in the order of the probability columns."
        )
    return tuple(values)


def _codes(labels: Labels, classes: tuple[Any, ...]) -> np.ndarray:
    """Each label's position in ``classes``; `InputError` for a missing or unknown label."""
    if isinstance(labels, pa.ChunkedArray | pa.Array):
        values = labels.to_pylist()
    elif isinstance(labels, np.ndarray):
        if labels.ndim != 1:
            raise InputError(
                f"labels must be one label per record (1-D), got an array of shape "
                f"{labels.shape}; pass the class values, not one-hot rows or probabilities."
            )
        values = labels.tolist()
    elif isinstance(labels, str | bytes):
        raise InputError("labels must be a sequence of labels, one per record, not a string.")
    else:
        values = [_plain(v) for v in labels]
    position = {c: i for i, c in enumerate(classes)}
    codes = np.fromiter((position.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        unknown = Counter(values[i] for i in bad)
        shown = ", ".join(
            f"{v!r} ({n} record{'s' if n > 1 else ''})" for v, n in list(unknown.most_common(5))
        )
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(
            f"{len(bad)} of {len(values)} labels are not among the classes "
            f"{_show(list(classes))}: {shown}{more} (first at record {int(bad[0])}). "
            "Add them to classes (with a probability column each), fix them, or drop those "
            "records; a missing label (None) cannot be checked, so drop it."
        )
    return codes


def _probabilities(pred_probs: Any, n: int, classes: tuple[Any, ...]) -> np.ndarray:
    """``pred_probs`` as a float array of shape ``(n, len(classes))`` whose rows sum to 1."""
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"pred_probs must be a numeric array of probabilities ({e}); pass "
            "`model.predict_proba(...)` or `out_of_sample_probabilities(...)`."
        ) from e
    k = len(classes)
    if probs.ndim != 2 or probs.shape != (n, k):
        raise InputError(
            f"pred_probs has shape {probs.shape}, but there are {n} labels and {k} classes: "
            f"it needs one row per label and one column per class, in the order of classes "
            f"{_show(list(classes))}."
        )
    if not np.isfinite(probs).all():
        row = int(np.flatnonzero(~np.isfinite(probs).all(axis=1))[0])
        raise InputError(
            f"pred_probs has missing or infinite values (first in row {row}); "
            "recompute the probabilities for those records or drop them."
        )
    if (probs < -SUM_TOLERANCE).any() or (probs > 1 + SUM_TOLERANCE).any():
        outside = (probs < -SUM_TOLERANCE) | (probs > 1 + SUM_TOLERANCE)
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        raise InputError(
            f"pred_probs must hold probabilities in [0, 1]; row {row} is "
            f"{np.round(probs[row], 4).tolist()}. Pass `predict_proba` output, or apply a "
            "softmax to raw scores first."
        )
    sums = probs.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
    if len(off):
        row = int(off[0])
        raise InputError(
            f"each row of pred_probs must sum to 1, but {len(off)} of {n} do not (row {row} "
            f"sums to {sums[row]:.4g}). Pass one column for every class in classes, from "
            "`predict_proba` or a softmax, not scores or one-vs-rest probabilities."
        )
    return np.clip(probs, 0.0, 1.0)


def _require_every_class(counts: np.ndarray, classes: tuple[Any, ...], where: str) -> None:
    empty = [classes[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise InputError(
            f"{'classes' if len(empty) > 1 else 'class'} {_show(empty)} "
            f"{'have' if len(empty) > 1 else 'has'} no records among the {where}; confident "
            "learning needs at least one record of every class. Drop it from classes (and "
            "its probability column, renormalising the rows), or add records labelled with it."
        )


def _show(values: Iterable[Any], limit: int = 8) -> str:
    values = list(values)
    shown = ", ".join(repr(_plain(v)) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"
