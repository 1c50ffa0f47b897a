"""Monitoring settings: the ``quality:`` section of ``.tillage/config.yaml``.

quality:
  schemas_dir: schemas          # schema files, relative to the project folder
  reference: window:7           # what ingest compares each batch with:
                                #   window:N (the N previous batches), a ref, model:NAME, none
  suppress_unimportant: true    # hide drift on columns the model does not use
  min_importance: 0.01          # ... below this share of the total importance
  drift: {alpha: 0.01, ...}     # see tillage.quality.drift.DriftSettings
  sinks:                        # where alerts go besides the catalog
    - {type: jsonl, path: alerts.jsonl}
    - {type: webhook, url: "https://hooks.example.com/data", retries: 4}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tillage.errors import InputError
from tillage.quality.drift import DriftSettings

_KNOWN = ("schemas_dir", "reference", "suppress_unimportant", "min_importance", "drift", "sinks")


@dataclass(frozen=True)
class QualitySettings:
    schemas_dir: str = "schemas"
    reference: str = "window:7"
    suppress_unimportant: bool = True
    min_importance: float = 0.01
    drift: DriftSettings = field(default_factory=DriftSettings)
    sinks: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> QualitySettings:
        """Parse the ``quality:`` mapping; unknown keys and wrong types are errors."""
        if not raw:
            return cls()
        where = ".tillage/config.yaml, section quality"
        if not isinstance(raw, dict):
            raise InputError(f"{where} must be a mapping, got {type(raw).__name__}.")
        unknown = sorted(set(raw) - set(_KNOWN))
        if unknown:
            raise InputError(
                f"{where} has unknown setting(s) {', '.join(unknown)}; known: {', '.join(_KNOWN)}."
            )
        min_importance = raw.get("min_importance", 0.01)
        if not isinstance(min_importance, int | float) or not 0 <= min_importance <= 1:
            raise InputError(f"{where}: min_importance must be a number from 0 to 1.")
        sinks = raw.get("sinks", [])
        if not isinstance(sinks, list) or not all(isinstance(s, dict) for s in sinks):
            raise InputError(
                f"{where}: sinks must be a list of mappings, e.g. [{{type: console}}]."
            )
        reference = str(raw.get("reference", "window:7"))
        parse_reference(reference)
        return cls(
            schemas_dir=str(raw.get("schemas_dir", "schemas")),
            reference=reference,
            suppress_unimportant=bool(raw.get("suppress_unimportant", True)),
            min_importance=float(min_importance),
            drift=DriftSettings.from_dict(raw.get("drift") or {}),
            sinks=tuple(sinks),
        )


def parse_reference(spec: str) -> tuple[str, str | int | None]:
    """``window:7`` -> ("window", 7); ``model:NAME`` -> ("model", NAME); ``none``; else a ref."""
    if spec == "none":
        return "none", None
    if spec.startswith("window:"):
        n = spec.removeprefix("window:")
        if not n.isdigit() or int(n) < 1:
            raise InputError(
                f"bad reference {spec!r}: use window:N with N a positive whole number."
            )
        return "window", int(n)
    if spec.startswith("model:"):
        name = spec.removeprefix("model:")
        if not name:
            raise InputError(f"bad reference {spec!r}: use model:NAME.")
        return "model", name
    return "ref", spec
