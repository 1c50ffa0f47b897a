"""Layers (DESIGN.md): import-linter's contracts in pyproject.toml hold, and they fail
on an import that points upward or closes a cycle.

`make lint` runs ``lint-imports``; these tests run the same checker, on the package,
on a copy of it with one bad import added, and on a tiny package of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tillage

SRC = Path(tillage.__file__).resolve().parents[1]
PYPROJECT = SRC.parent / "pyproject.toml"
LINT = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` with ``config`` on the packages found under ``path``."""
    env = {**os.environ, "PYTHONPATH": str(path), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=path,
        timeout=120,
    )


def test_the_package_keeps_its_contracts() -> None:
    proc = lint_imports(PYPROJECT, SRC)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
    assert "Layers: each layer imports only the layers below it KEPT" in proc.stdout


def test_a_lower_layer_importing_a_higher_one_fails(tmp_path: Path) -> None:
    """A tiny package with its own contract: ``core`` imports ``ui`` (relatively, inside a
    function, the forms a grep for ``^from shop`` would miss)."""
    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "ui.py").write_text("from shop import core\n\nTITLE = core.NAME.title()\n")
    (pkg / "core.py").write_text(
        textwrap.dedent(
            """\
            NAME = "shop"


            def render() -> str:
                from .ui import TITLE

                return TITLE
            """
        )
    )
    config = tmp_path / ".importlinter"
    config.write_text(
        textwrap.dedent(
            """\
            [importlinter]
            root_package = shop

            [importlinter:contract:layers]
            name = ui above core
            type = layers
            layers =
                shop.ui
                shop.core
            """
        )
    )
    proc = lint_imports(config, tmp_path)
    assert proc.returncode != 0
    assert "ui above core BROKEN" in proc.stdout
    assert "shop.core -> shop.ui (l.5)" in proc.stdout

    (pkg / "core.py").write_text('NAME = "shop"\n')
    assert lint_imports(config, tmp_path).returncode == 0


# (module under tillage/, the line added to it, what the report must name)
BAD_IMPORTS = [
    ("store/tables.py", "from tillage.repo import Repo", "tillage.store.tables -> tillage.repo"),
    (
        "versioning/diff.py",
        "from ..quality import drift",
        "tillage.versioning.diff -> tillage.quality.drift",
    ),
    (
        "quality/triage.py",
        "from tillage.labels import sets",
        "tillage.quality.triage -> tillage.labels.sets",
    ),
    (
        "pipelines/steps.py",
        "from . import engine",
        "tillage.pipelines.steps -> tillage.pipelines.engine",
    ),
    (
        "cli/monitoring.py",
        "from tillage.cli import app",
        "tillage.cli.monitoring -> tillage.cli.app",
    ),
    (
        "demo/tweets.py",
        "from tillage.store import tables",
        "tillage.demo.tweets -> tillage.store.tables",
    ),
    ("demo/pipeline.py", "from tillage.cli import output", "tillage.demo.pipeline -> tillage.cli"),
    (
        "api/quality.py",
        "from tillage.store.tables import Tables",
        "tillage.api.quality -> tillage.store.tables",
    ),
    (
        "labels/sets.py",
        "from tillage.store import tables",
        "tillage.labels.sets -> tillage.store.tables",
    ),
    ("access.py", "from tillage.api import refs", "tillage.access -> tillage.api.refs"),
    ("api/refs.py", "from tillage import repo", "tillage.api.refs -> tillage.repo"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("module", "line", "named"), BAD_IMPORTS, ids=[b[0] for b in BAD_IMPORTS])
def test_the_contracts_refuse_an_upward_or_cyclic_import(
    tmp_path: Path, module: str, line: str, named: str
) -> None:
    shutil.copytree(SRC / "tillage", tmp_path / "tillage", ignore=shutil.ignore_patterns("*.pyc"))
    target = tmp_path / "tillage" / module
    target.write_text(target.read_text() + f"\n\ndef _bad() -> None:\n    {line}  # noqa\n")
    proc = lint_imports(PYPROJECT, tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert "BROKEN" in proc.stdout
    assert named in proc.stdout, proc.stdout
