"""Learning curves and the simulated annotator: stop rules, summaries, drawings, answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tillage.errors import InputError
from tillage.loops.curve import (
    CurvePoint,
    StopRule,
    area_under,
    labels_to_reach,
    plot,
    render_text,
)
from tillage.loops.simulate import SimulatedAnnotator


def curve(*metrics: float, step: int = 50) -> list[CurvePoint]:
    return [CurvePoint(i, 50 + i * step, m) for i, m in enumerate(metrics)]


def test_stops_at_the_budget_the_target_or_a_plateau() -> None:
    assert StopRule(budget=200).why_stop(curve(0.6, 0.7, 0.75)) is None
    assert "budget" in (StopRule(budget=200).why_stop(curve(0.6, 0.7, 0.75, 0.8)) or "")
    assert "target" in (StopRule(target=0.7).why_stop(curve(0.6, 0.71)) or "")
    plateau = StopRule(patience=2, min_gain=0.01)
    assert plateau.why_stop(curve(0.6, 0.7, 0.705)) is None  # one flat round is not enough
    assert "no gain" in (plateau.why_stop(curve(0.6, 0.7, 0.705, 0.708)) or "")
    assert plateau.why_stop(curve(0.6, 0.7, 0.705, 0.72)) is None  # progress again
    assert StopRule(budget=10).why_stop([]) is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "a way to stop"),
        ({"budget": 0}, "at least 1"),
        ({"patience": 0}, "at least 1 round"),
        ({"budget": 5, "min_gain": -1.0}, "min_gain"),
    ],
)
def test_stop_rules_that_cannot_work_are_refused(kwargs: dict[str, float], fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        StopRule(**kwargs)  # type: ignore[arg-type]


def test_labels_to_reach_and_area() -> None:
    points = curve(0.5, 0.7, 0.9)
    assert labels_to_reach(points, 0.7) == 100
    assert labels_to_reach(points, 0.95) is None
    assert area_under(points) == pytest.approx((0.6 * 50 + 0.8 * 50) / 100)
    assert area_under(curve(0.4)) == 0.4


def test_text_shows_every_round_and_the_baseline() -> None:
    points = [CurvePoint(0, 50, 0.6, 0.6), CurvePoint(1, 100, 0.8, 0.65)]
    text = render_text(points)
    lines = text.splitlines()
    assert "random" in lines[0] and len(lines) == 3
    assert "0.8000" in lines[2] and "0.6500" in lines[2]
    assert lines[2].count("#") > lines[1].count("#")
    assert render_text([]) == "(no rounds yet)"


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_an_image(tmp_path: Path, suffix: str) -> None:
    points = [CurvePoint(0, 50, 0.6, 0.58), CurvePoint(1, 100, 0.8, 0.66)]
    out = plot(points, tmp_path / f"curve{suffix}", title="tweets")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:2000]


def test_plot_refuses_other_formats_and_empty_curves(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plot(curve(0.5), tmp_path / "curve.jpg")
    with pytest.raises(InputError, match="no rounds"):
        plot([], tmp_path / "curve.png")
    assert list(tmp_path.iterdir()) == []


def test_the_simulated_annotator_is_right_as_often_as_asked_and_repeatable() -> None:
    gold = {str(i): ("a" if i % 3 else "b") for i in range(4000)}
    sim = SimulatedAnnotator(gold, ["a", "b", "c"], accuracy=0.8, seed=3)
    answers = sim.answers(list(gold))
    right = sum(answers[r] == gold[r] for r in gold) / len(gold)
    assert 0.77 < right < 0.83
    assert all(a in {"a", "b", "c"} for a in answers.values())
    # the same answer whatever the order it is asked in
    backwards = sim.answers(list(reversed(list(gold))))
    assert backwards == answers
    other_seed = SimulatedAnnotator(gold, ["a", "b", "c"], accuracy=0.8, seed=4).answers(list(gold))
    assert other_seed != answers
    perfect = SimulatedAnnotator(gold, ["a", "b", "c"], accuracy=1.0)
    assert perfect.answers(list(gold)) == gold


def test_the_simulated_annotator_refuses_what_it_cannot_do() -> None:
    with pytest.raises(InputError, match="between 0 and 1"):
        SimulatedAnnotator({"1": "a"}, ["a", "b"], accuracy=1.5)
    with pytest.raises(InputError, match="two classes"):
        SimulatedAnnotator({"1": "a"}, ["a"])
    with pytest.raises(InputError, match="not among the classes"):
        SimulatedAnnotator({"1": "z"}, ["a", "b"])
    with pytest.raises(InputError, match="no gold label for record '9'"):
        SimulatedAnnotator({"1": "a"}, ["a", "b"]).answer("9")
