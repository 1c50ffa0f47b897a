"""The public surface: a curated, sorted ``__all__`` and a light ``import tillage``.

Layers are import-linter contracts in pyproject.toml (tests/test_layers.py).
"""

from __future__ import annotations

import subprocess
import sys

import tillage


def test_all_is_sorted_and_complete() -> None:
    assert list(tillage.__all__) == sorted(tillage.__all__)
    for name in tillage.__all__:
        assert hasattr(tillage, name), name
    public = {n for n in vars(tillage) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(tillage, n)).__name__ == "module"}
    assert public - modules == set(tillage.__all__) - {"__version__"}


def test_every_error_is_a_tillage_error_with_a_code() -> None:
    errors = [getattr(tillage, n) for n in tillage.__all__ if n.endswith("Error")]
    codes = set()
    for err in errors:
        assert issubclass(err, tillage.TillageError)
        codes.add(err.code)
    assert len(codes) == len(errors), "each error class needs its own stable code"


def test_import_is_light() -> None:
    """``import tillage`` must not load the shells' or optional libraries (Lance needs pandas)."""
    code = (
        "import sys, tillage; "
        "heavy = [m for m in ('polars', 'typer', 'rich', 'fastapi', 'sklearn') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
