"""What a labeling-function suite is: a task on a real data set and the functions guessed for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from tillage.labels.functions import LabelingFunction


@dataclass(frozen=True)
class Suite:
    """A labeling task: records, gold classes, and the labeling functions written for it.

    ``load`` returns the records (without the gold column) and the gold labels as
    indices into ``classes``; ``lfs`` are tillage labeling functions over those records.
    """

    name: str
    dataset: str
    task: str
    classes: tuple[str, ...]
    load: Callable[[], tuple[pa.Table, np.ndarray]]
    lfs: tuple[LabelingFunction, ...]


def column(batch: pa.Table, name: str) -> np.ndarray:
    """A batch's column as a numpy array (nulls as NaN for numbers, None for objects)."""
    return batch.column(name).to_numpy(zero_copy_only=False)


def vote(mask: Any, label: str) -> np.ndarray:
    """``label`` where ``mask`` holds, abstain elsewhere (a vectorised LF's return value)."""
    return np.where(np.asarray(mask, dtype=bool), label, None).astype(object)
