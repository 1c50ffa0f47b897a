"""Learning curves: labels spent against the model's metric, and when a loop stops.

A loop records one `CurvePoint` a round, optionally with the metric a random
selection of the same number of labels reached (the baseline every report shows).
`StopRule` ends it at a label budget, a target metric, or a plateau; `render_text`
and `plot` show the curve to people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from tillage.errors import InputError


@dataclass(frozen=True)
class CurvePoint:
    """One round: labels spent so far and the metric on the evaluation set.

    Attributes:
        round: the round number (0: the model trained on the seed labels).
        labels: labelled records the model was trained on.
        metric: its metric on the evaluation set (higher is better).
        baseline: the metric of the same number of randomly chosen labels, if measured.
    """

    round: int
    labels: int
    metric: float
    baseline: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The point as JSON-ready values."""
        return {
            "round": self.round,
            "labels": self.labels,
            "metric": self.metric,
            "baseline": self.baseline,
        }


@dataclass(frozen=True)
class StopRule:
    """When a loop stops: the first of a label budget, a target metric and a plateau.

    Attributes:
        budget: stop once this many labels are spent (None: no budget).
        target: stop once the metric reaches this (None: no target).
        patience: stop after this many rounds in a row that each gain less than
            ``min_gain`` over the best metric before them (None: never on a plateau).
        min_gain: the smallest gain that counts as progress.
    """

    budget: int | None = None
    target: float | None = None
    patience: int | None = None
    min_gain: float = 0.001

    def __post_init__(self) -> None:
        if self.budget is None and self.target is None and self.patience is None:
            raise InputError(
                "a loop needs a way to stop: give a label budget, a target metric or a "
                "plateau patience."
            )
        if self.budget is not None and self.budget < 1:
            raise InputError(f"the label budget must be at least 1, not {self.budget}.")
        if self.patience is not None and self.patience < 1:
            raise InputError(f"plateau patience must be at least 1 round, not {self.patience}.")
        if self.min_gain < 0:
            raise InputError(f"min_gain must be >= 0, not {self.min_gain}.")

    def why_stop(self, points: Sequence[CurvePoint]) -> str | None:
        """Why the loop stops after ``points`` (a sentence), or None to go on."""
        if not points:
            return None
        last = points[-1]
        if self.target is not None and last.metric >= self.target:
            return (
                f"reached the target {self.target:.4g} ({last.metric:.4g}) "
                f"at {last.labels:,} labels"
            )
        if self.budget is not None and last.labels >= self.budget:
            return f"spent the label budget ({last.labels:,} of {self.budget:,})"
        if self.patience is not None and len(points) > self.patience:
            best_before = max(p.metric for p in points[: -self.patience])
            recent = points[-self.patience :]
            if all(p.metric < best_before + self.min_gain for p in recent):
                return (
                    f"no gain of {self.min_gain:.4g} or more in {self.patience} round(s) "
                    f"(best {max(p.metric for p in points):.4g})"
                )
        return None


def labels_to_reach(points: Sequence[CurvePoint], level: float) -> int | None:
    """The fewest labels at which the curve reached ``level`` (None: it never did)."""
    for p in sorted(points, key=lambda p: p.labels):
        if p.metric >= level:
            return p.labels
    return None


def area_under(points: Sequence[CurvePoint]) -> float:
    """The mean metric over the labels spent (trapezoids), a curve's summary in one number."""
    pts = sorted(points, key=lambda p: p.labels)
    if len(pts) < 2:
        return pts[0].metric if pts else 0.0
    area = sum((b.labels - a.labels) * (a.metric + b.metric) / 2 for a, b in pairwise(pts))
    span = pts[-1].labels - pts[0].labels
    return area / span if span else pts[-1].metric


def render_text(points: Sequence[CurvePoint], metric: str = "accuracy", width: int = 40) -> str:
    """The curve as lines of text: labels, metric, a bar, and the baseline where measured."""
    if not points:
        return "(no rounds yet)"
    lo = min(min(p.metric, p.baseline if p.baseline is not None else p.metric) for p in points)
    hi = max(max(p.metric, p.baseline if p.baseline is not None else p.metric) for p in points)
    span = (hi - lo) or 1.0
    has_base = any(p.baseline is not None for p in points)
    head = f"{'round':>5}  {'labels':>7}  {metric:>9}" + (f"  {'random':>9}" if has_base else "")
    lines = [head]
    for p in points:
        bar = "#" * max(1, round((p.metric - lo) / span * width))
        base = ""
        if has_base:
            base = f"  {p.baseline:9.4f}" if p.baseline is not None else f"  {'':>9}"
        lines.append(f"{p.round:>5}  {p.labels:>7,}  {p.metric:9.4f}{base}  {bar}")
    return "\n".join(lines)


def plot(
    points: Sequence[CurvePoint], path: str | Path, *, metric: str = "accuracy", title: str = ""
) -> Path:
    """Draw the curve (and the random baseline where measured) to ``path``, PNG or SVG.

    Raises:
        InputError: ``path`` ends in neither ``.png`` nor ``.svg``, or there are no points.
    """
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"write the curve to a .png or .svg file, not {out.name!r}.")
    if not points:
        raise InputError("the loop has no rounds yet: there is no curve to draw.")
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the environment says
    import matplotlib.pyplot as plt

    pts = sorted(points, key=lambda p: p.labels)
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot([p.labels for p in pts], [p.metric for p in pts], marker="o", label="selected")
        base = [(p.labels, p.baseline) for p in pts if p.baseline is not None]
        if base:
            ax.plot(
                [labels for labels, _ in base],
                [metric for _, metric in base],
                marker="s",
                linestyle="--",
                label="random",
            )
            ax.legend()
        ax.set_xlabel("labels")
        ax.set_ylabel(metric)
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format=out.suffix.lower().lstrip("."), bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


@dataclass(frozen=True)
class LearningCurve:
    """A loop's learning curve: its points, and the model and run they belong to."""

    run: str
    model: str
    points: tuple[CurvePoint, ...]
    metric: str = "accuracy"

    def text(self) -> str:
        """The curve as lines of text (`render_text`)."""
        return render_text(self.points, self.metric)

    def plot(self, path: str | Path) -> Path:
        """Draw it to ``path``, PNG or SVG (`plot`)."""
        return plot(self.points, path, metric=self.metric, title=f"{self.model} (run {self.run})")

    def labels_to_reach(self, level: float) -> int | None:
        """The fewest labels at which it reached ``level`` (None: never)."""
        return labels_to_reach(self.points, level)

    def to_dict(self) -> dict[str, Any]:
        """The curve as JSON-ready values, with its area (the mean metric over labels)."""
        return {
            "run": self.run,
            "model": self.model,
            "metric": self.metric,
            "points": [p.to_dict() for p in self.points],
            "area": area_under(self.points) if self.points else None,
        }
