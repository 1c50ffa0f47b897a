"""Loops that change the training data from the model's state, round after round.

A round trains the user's model, predicts on the pool, selects records, has them
annotated (by people, or by a simulated annotator in demos and benchmarks),
and evaluates on a fixed set; `curve` keeps the learning curve and decides when
to stop. The loops run as durable pipelines, so a process may exit while people
annotate and resume days later without losing or double-counting a label.

`tillage.active_learning` labels new records (the module of that name here holds
it); `relabel_errors`, `remove_low_value` and `generate_for_weakest_slice`
(`tillage.loops.improve`) change the data on a branch that merges only when the
evaluation set says the model improved.
"""

import importlib
from typing import Any

_LAZY = {
    "generate_for_weakest_slice": "tillage.loops.improve",
    "learning_curve": "tillage.loops.active_learning",
    "loop_decisions": "tillage.loops.improve",
    "relabel_errors": "tillage.loops.improve",
    "remove_low_value": "tillage.loops.improve",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """The loops load on first use: they pull in the pipeline engine and the repository."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tillage.loops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
