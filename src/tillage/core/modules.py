"""Importing a user's Python file as a module: pipelines and labeling functions live in files."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tillage.errors import InputError


def load_module(file: str) -> ModuleType:
    """Import a Python file as a module (once per process), as pipelines given as FILE.py are."""
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"no file {str(path)!r}; check the path.")
    module_name = "tillage_pipeline_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module = sys.modules.get(module_name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot load {str(path)!r} as Python.")
    module = importlib.util.module_from_spec(spec)
    module._tillage_file = True  # type: ignore[attr-defined]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[module_name]
        raise InputError(f"{path} failed to import: {type(e).__name__}: {e}") from e
    return module
