"""Column-kind settings: the thresholds drift passes to `tillage.core.kinds.column_kind`
are checked where the config is read, and the error names the setting and a good value."""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case, Damage


def _drift_setting(line: str) -> Damage:
    def damage(project: Path) -> None:
        config = project / ".tillage" / "config.yaml"
        config.write_text(
            config.read_text(encoding="utf-8") + f"quality:\n  drift:\n    {line}\n",
            encoding="utf-8",
        )

    return damage


def _case(id: str, line: str, says: list[str]) -> Case:
    return Case(id, ["drift", "flights", "--window", "1"], says=says, damage=_drift_setting(line))


CASES = [
    _case(
        "identifier-ratio-above-one",
        "identifier_ratio: 1.5",
        ["quality.drift.identifier_ratio", "at most 1", "e.g. 0.95"],
    ),
    _case(
        "identifier-ratio-text",
        "identifier_ratio: high",
        ["quality.drift.identifier_ratio must be a number", "e.g. 0.95"],
    ),
    _case(
        "max-categories-zero",
        "max_categories: 0",
        ["quality.drift.max_categories", "whole number of at least 1", "e.g. 20"],
    ),
    _case(
        "max-categories-fraction",
        "max_categories: 2.5",
        ["quality.drift.max_categories", "whole number", "e.g. 20"],
    ),
]
