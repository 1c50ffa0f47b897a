"""Subgroup fairness: a model's metrics per group of each declared sensitive column.

`group_fairness` hands the work to fairlearn's ``MetricFrame`` (imported when
called): per-group metrics for each sensitive column on its own and, when there
are several, for their intersection (``sex x race``). What tillage adds is the
reading: for each metric, the worst and the best group and the gap between them,
as a sentence ("sex: accuracy 0.71 for female vs 0.83 for male (gap 0.12; 1,204 and
3,310 records)"), with the gaps ranked largest first.

Metrics: accuracy always; given the ``positive`` class, also the selection rate
(share predicted positive), the true positive rate and the false positive rate.
For accuracy and the true positive rate a lower value is worse; for the false
positive rate a higher one; the selection rate has no worse side, and its gap is
from the lowest to the highest (demographic parity). A group's rate is missing
(and out of the gaps) where it has no records to take it over: no true positives
for the true positive rate, no true negatives for the false positive rate.
Groups smaller than ``min_records`` are reported but kept out of the gaps.
Missing values of a sensitive column are a group of their own, ``(missing)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.errors import InputError

if TYPE_CHECKING:
    import numpy as np

#: Groups smaller than this are shown but left out of the gaps (a rate over a handful
#: of records swings by chance).
MIN_RECORDS = 30
MISSING = "(missing)"
#: Each metric, and which way is worse: -1 lower is worse, +1 higher is worse, 0 neither.
WORSE: dict[str, int] = {
    "accuracy": -1,
    "selection_rate": 0,
    "true_positive_rate": -1,
    "false_positive_rate": 1,
}
_WORDS = {
    "accuracy": "accuracy",
    "selection_rate": "selection rate",
    "true_positive_rate": "true positive rate",
    "false_positive_rate": "false positive rate",
}


@dataclass(frozen=True)
class GroupMetrics:
    """One group's metrics.

    Attributes:
        columns: the sensitive column(s) the group is of.
        group: the group's value in each of ``columns``.
        records: records in the group.
        metrics: metric name to value (NaN where the group cannot take it).
    """

    columns: tuple[str, ...]
    group: tuple[str, ...]
    records: int
    metrics: dict[str, float]

    @property
    def name(self) -> str:
        """The group as a person reads it (``female``, ``female, Black``)."""
        return ", ".join(self.group)

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON-ready values (NaN as None)."""
        return {
            "columns": list(self.columns),
            "group": list(self.group),
            "records": self.records,
            "metrics": {k: None if math.isnan(v) else v for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class Gap:
    """The spread of one metric across the groups of one sensitive column (or intersection).

    Attributes:
        columns: the sensitive column(s).
        metric: the metric.
        worst, best: the groups at the two ends (for the selection rate: lowest, highest).
        difference: ``|best - worst|``.
        ratio: the smaller value over the larger (1 is parity; NaN if both are 0).
        sentence: the gap as a sentence.
    """

    columns: tuple[str, ...]
    metric: str
    worst: GroupMetrics
    best: GroupMetrics
    difference: float
    ratio: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """The gap as JSON-ready values."""
        return {
            "columns": list(self.columns),
            "metric": self.metric,
            "worst": {
                "group": list(self.worst.group),
                "value": self.worst.metrics[self.metric],
                "records": self.worst.records,
            },
            "best": {
                "group": list(self.best.group),
                "value": self.best.metrics[self.metric],
                "records": self.best.records,
            },
            "difference": self.difference,
            "ratio": None if math.isnan(self.ratio) else self.ratio,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics for the sensitive columns, and the gaps, largest first.

    Attributes:
        sensitive: the sensitive columns.
        positive: the positive class the rates are of, or None (accuracy only).
        records: records analysed.
        overall: each metric over every record.
        groups: every group's metrics, by column(s) then group.
        gaps: for each column (and intersection) and metric, the gap; largest first.
        min_records: groups smaller than this are not in the gaps.
    """

    sensitive: tuple[str, ...]
    positive: str | None
    records: int
    overall: dict[str, float]
    groups: tuple[GroupMetrics, ...]
    gaps: tuple[Gap, ...]
    min_records: int

    def sentences(self) -> list[str]:
        """One line per gap, largest first."""
        return [g.sentence for g in self.gaps]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "sensitive": list(self.sensitive),
            "positive": self.positive,
            "records": self.records,
            "overall": {k: None if math.isnan(v) else v for k, v in self.overall.items()},
            "min_records": self.min_records,
            "groups": [g.to_dict() for g in self.groups],
            "gaps": [g.to_dict() for g in self.gaps],
        }


def group_fairness(
    table: pa.Table,
    sensitive: Sequence[str],
    *,
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    positive: Any = None,
    intersections: bool = True,
    min_records: int = MIN_RECORDS,
) -> FairnessReport:
    """Per-group metrics of a model over the ``sensitive`` columns of ``table``, and the gaps.

    Args:
        table: one row per record, holding the sensitive columns.
        sensitive: the declared sensitive columns (one or more).
        y_true: the true labels, aligned with ``table``.
        y_pred: the model's predictions, aligned with ``table``.
        positive: the positive class; given, the selection rate and the true and false
            positive rates are reported too.
        intersections: with several sensitive columns, also their intersection.
        min_records: groups smaller than this are shown but not in the gaps.

    Returns:
        A `FairnessReport`.

    Raises:
        InputError: no or unknown sensitive columns, labels not aligned with
            ``table``, or a ``positive`` class that is in neither labels nor predictions.
    """
    import numpy as np

    if not sensitive:
        raise InputError("name at least one sensitive column to compare groups by.")
    unknown = [c for c in sensitive if c not in table.column_names]
    if unknown:
        raise InputError(
            f"no sensitive column(s) named {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(table.column_names)}). Check the names."
        )
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    if len(truth) != table.num_rows or len(pred) != table.num_rows:
        raise InputError(
            f"the table has {table.num_rows:,} records, y_true {len(truth):,} and y_pred "
            f"{len(pred):,}; give one label and one prediction per record."
        )
    if table.num_rows == 0:
        raise InputError("there are no records to compare groups over.")
    if positive is not None and not ((truth == positive).any() or (pred == positive).any()):
        raise InputError(
            f"the positive class {positive!r} is neither a label nor a prediction "
            f"(labels: {', '.join(map(str, sorted(set(truth.tolist()), key=str)[:10]))})."
        )
    groups_by = {c: _group_values(table.column(c)) for c in sensitive}
    sets: list[tuple[str, ...]] = [(c,) for c in sensitive]
    if intersections and len(sensitive) > 1:
        sets.append(tuple(sensitive))
    groups: list[GroupMetrics] = []
    gaps: list[Gap] = []
    overall: dict[str, float] = {}
    for cols in sets:
        overall, rows = _by_group(truth, pred, {c: groups_by[c] for c in cols}, positive)
        these = [GroupMetrics(cols, key, size, metrics) for key, size, metrics in rows]
        groups.extend(these)
        gaps.extend(_gaps(cols, these, min_records))
    gaps.sort(key=lambda g: (-g.difference, g.columns, g.metric))
    return FairnessReport(
        sensitive=tuple(sensitive),
        positive=None if positive is None else str(positive),
        records=table.num_rows,
        overall=overall,
        groups=tuple(groups),
        gaps=tuple(gaps),
        min_records=min_records,
    )


def _group_values(column: pa.ChunkedArray) -> list[str]:
    """A sensitive column's values as group names (missing values as `MISSING`)."""
    return [MISSING if v is None else str(v) for v in column.to_pylist()]


def _by_group(
    truth: np.ndarray, pred: np.ndarray, features: dict[str, list[str]], positive: Any
) -> tuple[dict[str, float], list[tuple[tuple[str, ...], int, dict[str, float]]]]:
    """The overall metrics, and each group's key, size and metrics, from fairlearn.

    Accuracy is over the labels as they are; the rates are over "is the positive
    class", so they work for any number of classes.
    """
    import numpy as np
    import pandas as pd
    from fairlearn.metrics import MetricFrame, count
    from sklearn.metrics import accuracy_score

    sensitive = pd.DataFrame(features)
    frames = [
        MetricFrame(
            metrics={"count": count, "accuracy": accuracy_score},
            y_true=truth.astype(str),
            y_pred=pred.astype(str),
            sensitive_features=sensitive,
        )
    ]
    if positive is not None:
        frames.append(
            MetricFrame(
                metrics={
                    "selection_rate": _selection_rate,
                    "true_positive_rate": _true_positive_rate,
                    "false_positive_rate": _false_positive_rate,
                },
                y_true=(truth == positive).astype(np.int64),
                y_pred=(pred == positive).astype(np.int64),
                sensitive_features=sensitive,
            )
        )
    overall: dict[str, float] = {}
    rows: dict[tuple[str, ...], dict[str, float]] = {}
    for frame in frames:
        overall.update({str(k): float(v) for k, v in frame.overall.items()})
        for index, row in frame.by_group.iterrows():
            key = tuple(str(k) for k in (index if isinstance(index, tuple) else (index,)))
            rows.setdefault(key, {}).update({str(k): float(v) for k, v in row.items()})
    overall.pop("count", None)
    out = []
    for key, metrics in rows.items():
        size = int(metrics.pop("count"))
        out.append((key, size, metrics))
    return overall, out


def _selection_rate(t: Any, p: Any) -> float:
    from fairlearn.metrics import selection_rate

    return float(selection_rate(t, p, pos_label=1))


def _true_positive_rate(t: Any, p: Any) -> float:
    """fairlearn's true positive rate; NaN for a group without positives."""
    import numpy as np
    from fairlearn.metrics import true_positive_rate

    if not (np.asarray(t) == 1).any():
        return math.nan
    return float(true_positive_rate(t, p, pos_label=1))


def _false_positive_rate(t: Any, p: Any) -> float:
    """fairlearn's false positive rate; NaN for a group without negatives."""
    import numpy as np
    from fairlearn.metrics import false_positive_rate

    if not (np.asarray(t) == 0).any():
        return math.nan
    return float(false_positive_rate(t, p, pos_label=1))


def _gaps(cols: tuple[str, ...], groups: list[GroupMetrics], min_records: int) -> list[Gap]:
    """For each metric, the worst and best groups of ``groups`` and the gap between them."""
    out: list[Gap] = []
    big = [g for g in groups if g.records >= min_records]
    label = " x ".join(cols)
    for metric, worse in WORSE.items():
        rated = [g for g in big if metric in g.metrics and not math.isnan(g.metrics[metric])]
        if len(rated) < 2:
            continue
        rated.sort(key=lambda g: (g.metrics[metric], g.group))
        low, high = rated[0], rated[-1]
        worst, best = (high, low) if worse > 0 else (low, high)
        a, b = worst.metrics[metric], best.metrics[metric]
        difference = abs(b - a)
        big_one = max(a, b)
        ratio = min(a, b) / big_one if big_one > 0 else math.nan
        what = f"{_WORDS[metric]} {a:.2f} for {worst.name} vs {b:.2f} for {best.name}"
        out.append(
            Gap(
                columns=cols,
                metric=metric,
                worst=worst,
                best=best,
                difference=difference,
                ratio=ratio,
                sentence=(
                    f"{label}: {what} (gap {difference:.2f}; "
                    f"{worst.records:,} and {best.records:,} records)"
                ),
            )
        )
    return out
