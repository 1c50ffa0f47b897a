"""The public surface: a curated, sorted ``__all__``, and layers that import only downward."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tillage

PACKAGE = Path(tillage.__file__).parent

# Which tillage packages each layer may import (DESIGN.md, "Layers").
ALLOWED = {
    "core": {"core", "errors"},
    "store": {"core", "errors", "store"},
    "versioning": {"core", "errors", "store", "versioning", "_version"},
    "quality": {"core", "errors", "store", "quality"},
    "labels": {"core", "errors", "store", "labels"},
    "pipelines": {"core", "errors", "store", "versioning", "quality", "repo", "pipelines"},
    "demo": {"demo"},  # ``import tillage`` and its own modules: a user of the public API
}


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


def _tillage_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tillage"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "tillage" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_layers_import_only_downward() -> None:
    for layer, allowed in ALLOWED.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            bad = _tillage_imports(path) - allowed
            assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_cli_uses_only_the_public_api() -> None:
    cli = PACKAGE / "cli"
    if not cli.exists():
        return
    for path in cli.rglob("*.py"):
        bad = _tillage_imports(path) - {
            "cli",
            "errors",
            "repo",
            "core",
            "demo",
            "_version",
            "formats",
        }
        assert not bad, f"{path.relative_to(PACKAGE)} reaches below the API: {bad}"


def test_import_is_light() -> None:
    """``import tillage`` must not load the shells' or optional libraries (Lance needs pandas)."""
    code = (
        "import sys, tillage; "
        "heavy = [m for m in ('polars', 'typer', 'rich', 'fastapi', 'sklearn') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
