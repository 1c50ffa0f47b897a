"""Every bad-input case of every ``cases_*.py`` module: a clear error, no traceback, no change."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bad_input.harness import Case, check


def _cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        module = importlib.import_module(f"bad_input.{path.stem}")
        cases.extend(module.CASES)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "bad-input case ids must be unique"
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.id)
def test_bad_input(case: Case, project: Path, tmp_path: Path) -> None:
    check(case, project, tmp_path)
