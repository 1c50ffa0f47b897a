"""DP forms of the reports that count records: labeling-function reports and slice metrics.

A person who may not read a private dataset raw still develops labeling
functions and finds where a model fails, from counts. Each report here is one
vector of counts released at once: every record turns into the *items* it
counts toward (``votes:0``, ``overlap:0``, ``slice:2:1:err``...), at most one
of each, and OpenDP's ``count_by_categories`` with discrete Laplace noise
measures the whole vector (`tillage.privacy.dp`). A record adds at most one to
each count, so when one privacy unit (``max_rows_per_unit`` records) comes or
goes the vector moves by at most ``len(categories) × max_rows_per_unit`` in L1:
that is the contributions the measurement is built with, and the ε it costs
is spent once, through the ledger, before anything is measured
(`tillage.api.privacy`). Shares and rates are ratios of two released counts,
with `tillage.privacy.dp.ratio_error`'s predicted error. Nothing here names a
record or a value of a private column: only function names, the slice
definitions the policy makes public, counts and their noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Released:
    """A vector of DP counts released by one spend, and what it cost.

    Attributes:
        counts: category -> DP count.
        error95: the predicted 95% half-width of the noise on each count.
        mechanism, scale: the OpenDP mechanism and its noise scale.
        contributions: the L1 sensitivity the measurement was built for.
        epsilon: the ε spent; budget, spent, left: the principal's budget after it.
        void: a break-glass grant voided the guarantee for this principal.
    """

    dataset: str
    commit: str
    counts: Mapping[str, int]
    error95: float
    mechanism: str
    scale: float
    contributions: int
    epsilon: float
    principal: str
    unit: str
    budget: float
    spent: float
    left: float
    void: bool
    spend_id: str

    def share(self, part: str, whole: str) -> tuple[float | None, float | None]:
        """``counts[part] / counts[whole]`` and its predicted 95% error (None when the
        DP whole is not positive)."""
        from tillage.privacy.dp import ratio_error

        num, den = self.counts[part], self.counts[whole]
        if den <= 0:
            return None, None
        ratio = num / den
        return ratio, ratio_error(self.error95, self.error95, den, ratio)

    def cost(self) -> dict[str, Any]:
        """What the release cost and how to read it, as JSON-ready values."""
        return {
            "dp": True,
            "dataset": self.dataset,
            "commit": self.commit,
            "mechanism": self.mechanism,
            "scale": self.scale,
            "contributions": self.contributions,
            "count_error95": self.error95,
            "epsilon": self.epsilon,
            "principal": self.principal,
            "unit": self.unit,
            "budget": self.budget,
            "spent": self.spent,
            "left": self.left,
            "void": self.void,
            "spend_id": self.spend_id,
        }


def flatten(items: Sequence[Sequence[str]], keep: Sequence[int] | None = None) -> list[str]:
    """The items of the rows ``keep`` (default: all), as one vector for OpenDP."""
    rows = range(len(items)) if keep is None else keep
    return [item for i in rows for item in items[i]]


# -- labeling functions -------------------------------------------------------------


def lf_categories(n_lfs: int, gold: bool) -> list[str]:
    """The counts a DP labeling-function report releases, for ``n_lfs`` functions."""
    per = ["votes", "overlap", "conflict", "errors", *(["gold", "correct"] if gold else [])]
    return [
        "records",
        "any:votes",
        "any:overlap",
        "any:conflict",
        *(f"{what}:{j}" for j in range(n_lfs) for what in per),
    ]


def lf_items(
    matrix: np.ndarray, failed: np.ndarray, gold_idx: np.ndarray | None
) -> list[list[str]]:
    """Per record, the counts of `lf_categories` it adds one to.

    Args:
        matrix: records x functions, class index or -1 (abstain or error).
        failed: records x functions, whether the function failed on the record.
        gold_idx: per record, the gold class index or -1 (None: no gold).
    """
    import numpy as np

    voted = matrix >= 0
    n_voting = voted.sum(axis=1)
    out: list[list[str]] = []
    for i in range(matrix.shape[0]):
        row = matrix[i]
        items = ["records"]
        mine = np.flatnonzero(voted[i])
        if len(mine):
            items.append("any:votes")
            if n_voting[i] > 1:
                items.append("any:overlap")
            if len(set(row[mine].tolist())) > 1:
                items.append("any:conflict")
        for j in mine.tolist():
            items.append(f"votes:{j}")
            if n_voting[i] > 1:
                items.append(f"overlap:{j}")
                if bool((row[mine] != row[j]).any()):
                    items.append(f"conflict:{j}")
            if gold_idx is not None and gold_idx[i] >= 0:
                items.append(f"gold:{j}")
                if row[j] == gold_idx[i]:
                    items.append(f"correct:{j}")
        items.extend(f"errors:{j}" for j in np.flatnonzero(failed[i]).tolist())
        out.append(items)
    return out


@dataclass(frozen=True)
class DPFunctionSummary:
    """One labeling function's DP counts, and the shares and accuracy they give.

    ``coverage``, ``overlap``, ``conflict``: DP counts over the DP record count, each
    with its predicted 95% error; ``accuracy``: DP correct votes over DP votes on
    records with a gold label (None without gold, or when that count is not positive).
    """

    name: str
    votes: int
    overlaps: int
    conflicts: int
    errors: int
    coverage: tuple[float | None, float | None]
    overlap: tuple[float | None, float | None]
    conflict: tuple[float | None, float | None]
    gold_votes: int | None
    correct: int | None
    accuracy: tuple[float | None, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "votes": self.votes,
            "overlaps": self.overlaps,
            "conflicts": self.conflicts,
            "errors": self.errors,
            "coverage": self.coverage[0],
            "coverage_error95": self.coverage[1],
            "overlap": self.overlap[0],
            "overlap_error95": self.overlap[1],
            "conflict": self.conflict[0],
            "conflict_error95": self.conflict[1],
            "gold_votes": self.gold_votes,
            "correct": self.correct,
            "accuracy": self.accuracy[0],
            "accuracy_error95": self.accuracy[1],
        }


@dataclass(frozen=True)
class DPFunctionReport:
    """A labeling-function report on a private dataset, as DP answers.

    Attributes:
        labelset: the label set; gold: the gold label set (or None).
        records: the DP count of the label set's records.
        lfs: each function's DP summary, in the order given.
        coverage, overlap, conflict: the same shares over all functions.
        released: the counts released, and what they cost.
    """

    labelset: str
    gold: str | None
    records: int
    lfs: tuple[DPFunctionSummary, ...]
    coverage: tuple[float | None, float | None]
    overlap: tuple[float | None, float | None]
    conflict: tuple[float | None, float | None]
    released: Released

    def __getitem__(self, name: str) -> DPFunctionSummary:
        for s in self.lfs:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.released.cost(),
            "labelset": self.labelset,
            "gold_labelset": self.gold,
            "records": self.records,
            "coverage": self.coverage[0],
            "coverage_error95": self.coverage[1],
            "overlap": self.overlap[0],
            "overlap_error95": self.overlap[1],
            "conflict": self.conflict[0],
            "conflict_error95": self.conflict[1],
            "lfs": [s.to_dict() for s in self.lfs],
        }


def lf_report(
    labelset: str, gold: str | None, names: Sequence[str], released: Released
) -> DPFunctionReport:
    """The DP report assembled from the counts of `lf_categories` (post-processing only)."""
    c = released.counts
    summaries = []
    for j, name in enumerate(names):
        summaries.append(
            DPFunctionSummary(
                name=name,
                votes=c[f"votes:{j}"],
                overlaps=c[f"overlap:{j}"],
                conflicts=c[f"conflict:{j}"],
                errors=c[f"errors:{j}"],
                coverage=released.share(f"votes:{j}", "records"),
                overlap=released.share(f"overlap:{j}", "records"),
                conflict=released.share(f"conflict:{j}", "records"),
                gold_votes=c[f"gold:{j}"] if gold else None,
                correct=c[f"correct:{j}"] if gold else None,
                accuracy=released.share(f"correct:{j}", f"gold:{j}") if gold else (None, None),
            )
        )
    return DPFunctionReport(
        labelset=labelset,
        gold=gold,
        records=c["records"],
        lfs=tuple(summaries),
        coverage=released.share("any:votes", "records"),
        overlap=released.share("any:overlap", "records"),
        conflict=released.share("any:conflict", "records"),
        released=released,
    )


# -- slices -------------------------------------------------------------------------


def slice_categories(sizes: Sequence[int]) -> list[str]:
    """The counts a DP slice report releases: the whole, and each slice of each column
    (``sizes[k]`` slices in column ``k``), its records and its errors."""
    return [
        "all",
        "all:err",
        *(f"{k}:{s}{e}" for k, n in enumerate(sizes) for s in range(n) for e in ("", ":err")),
    ]


def slice_items(partitions: Sequence[Sequence[np.ndarray]], wrong: np.ndarray) -> list[list[str]]:
    """Per record, the counts of `slice_categories` it adds one to (its slice in each
    column's partition, and the error counts where the model was wrong)."""
    import numpy as np

    n = len(wrong)
    which = []
    for masks in partitions:
        at = np.full(n, -1, dtype=np.int64)
        for s, mask in enumerate(masks):
            at[np.asarray(mask, dtype=bool)] = s
        which.append(at)
    out: list[list[str]] = []
    for i in range(n):
        err = bool(wrong[i])
        items = ["all", *(["all:err"] if err else [])]
        for k, at in enumerate(which):
            s = int(at[i])
            if s >= 0:
                items.append(f"{k}:{s}")
                if err:
                    items.append(f"{k}:{s}:err")
        out.append(items)
    return out


@dataclass(frozen=True)
class DPSlice:
    """One public slice's DP record and error counts, and its DP error rate."""

    column: str
    text: str
    where: str
    records: int
    errors: int
    error: float | None
    error95: float | None
    impact: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "slice": self.text,
            "where": self.where,
            "column": self.column,
            "records": self.records,
            "errors": self.errors,
            "error": self.error,
            "error_error95": self.error95,
            "impact": self.impact,
        }


@dataclass(frozen=True)
class DPSliceReport:
    """Per-slice model metrics on a private dataset, as DP answers.

    Every slice of every column's public partition is measured (their definitions
    are public, so none is chosen by looking at the data); ``slices`` holds the
    ``limit`` with the largest DP impact (records × excess error rate).
    """

    records: int
    errors: int
    error: float | None
    error95: float | None
    slices: tuple[DPSlice, ...]
    tried: int
    columns: tuple[str, ...]
    released: Released

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.released.cost(),
            "records": self.records,
            "errors": self.errors,
            "error": self.error,
            "error_error95": self.error95,
            "tried": self.tried,
            "columns": list(self.columns),
            "slices": [s.to_dict() for s in self.slices],
        }


def slice_report(
    columns: Sequence[str],
    conditions: Sequence[Sequence[Any]],
    released: Released,
    limit: int,
) -> DPSliceReport:
    """The DP slice report assembled from the counts of `slice_categories`.

    ``conditions[k]``: the `tillage.selection.slices.Condition` of each slice of column k.
    """
    c = released.counts
    overall, overall_err = released.share("all:err", "all")
    found = []
    for k, conds in enumerate(conditions):
        for s, cond in enumerate(conds):
            rate, err = released.share(f"{k}:{s}:err", f"{k}:{s}")
            size = c[f"{k}:{s}"]
            impact = None if rate is None or overall is None else size * (rate - overall)
            found.append(
                DPSlice(
                    columns[k], cond.text, cond.where, size, c[f"{k}:{s}:err"], rate, err, impact
                )
            )
    ranked = sorted(found, key=lambda s: -(s.impact if s.impact is not None else -float("inf")))
    return DPSliceReport(
        records=c["all"],
        errors=c["all:err"],
        error=overall,
        error95=overall_err,
        slices=tuple(ranked[:limit]),
        tried=len(found),
        columns=tuple(columns),
        released=released,
    )
