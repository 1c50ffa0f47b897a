"""What a model knows about a dataset version: its predictions and the records' vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, eq=False)
class Predictions:
    """One model version's predictions on one dataset version, aligned by record.

    Attributes:
        model: the model's name.
        version: the model's version (1 for the first recorded under ``model``).
        dataset: the dataset predicted on.
        commit: the commit whose version of ``dataset`` was predicted on.
        keys: record ids (the text of each record's key, as label sets store it).
        classes: the class names, in the order of ``proba``'s columns.
        proba: class probabilities, shape (len(keys), len(classes)); rows sum to 1.
        embedding: per-record vectors where the model has them, else None.
    """

    model: str
    version: int
    dataset: str
    commit: str
    keys: tuple[str, ...]
    classes: tuple[str, ...]
    proba: np.ndarray
    embedding: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values (not the arrays themselves)."""
        return {
            "model": self.model,
            "version": self.version,
            "dataset": self.dataset,
            "commit": self.commit,
            "records": len(self.keys),
            "classes": list(self.classes),
            "has_embedding": self.embedding is not None,
        }


@dataclass(frozen=True, eq=False)
class Features:
    """A featurizer's vectors for one dataset version, aligned by record.

    Attributes:
        dataset: the dataset featurized.
        commit: the commit whose version of ``dataset`` was featurized.
        keys: record ids, as in `Predictions.keys`.
        matrix: float32 vectors, shape (len(keys), dimensions).
        featurizer: the featurizer's fingerprint (its name and parameters), part of the
            cache key together with the data version.
    """

    dataset: str
    commit: str
    keys: tuple[str, ...]
    matrix: np.ndarray
    featurizer: str

    def __len__(self) -> int:
        return len(self.keys)

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values (not the matrix itself)."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "records": len(self.keys),
            "dimensions": int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0,
            "featurizer": self.featurizer,
        }
