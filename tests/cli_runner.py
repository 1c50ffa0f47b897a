"""Plain helpers that test modules import (fixtures live in ``conftest.py``).

``cli`` and ``cli_json`` run the CLI in-process, as a user would run it: they
check the exit code, that no traceback escaped (only Click's usage errors, exit
2, end otherwise), and that ``--json`` prints exactly one JSON document, an
``{"error": ...}`` one when the command fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from tillage.cli.app import app

runner = CliRunner()


def cli(*args: str | Path, code: int = 0) -> Result:
    """Run ``tillage ARGS`` in-process and check its exit code."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    if code != 2:  # never a traceback, only SystemExit from typer
        assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def cli_json(*args: str | Path, code: int = 0) -> Any:
    """Run ``tillage ARGS --json``; stdout must be exactly one JSON document."""
    result = cli(*args, "--json", code=code)
    doc = json.loads(result.stdout)
    if code:
        assert set(doc) == {"error"}
    return doc
