"""The active-learning loop every tool runs in `bench_active_learning.py`, in any venv.

It needs numpy, scipy and scikit-learn only (no tillage), so the peers' virtual
environment runs the very same loop on the very same splits: a task is a model
matrix, a feature matrix for distance-based strategies, labels and, per seed, a
test set and the first labelled records; a *selector* is the one thing that
differs between tools.

Each round: fit the model on the labelled records, score it on the test set, and
(while under budget) predict on the unlabelled pool, let the selector choose a
batch, and label it (the labels are the gold ones: a perfect simulated annotator).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone


@dataclass
class Round:
    """What a selector sees in one round; positions index ``pool`` (the unlabelled)."""

    model: Any
    x: Any
    pool: np.ndarray
    labelled: np.ndarray
    y_labelled: np.ndarray
    proba: np.ndarray
    features: np.ndarray
    n: int
    rng: np.random.Generator
    classes: tuple[str, ...]


Selector = Callable[[Round], np.ndarray]


@dataclass
class Task:
    """One data set ready for the loop (written by the benchmark, read by every venv)."""

    name: str
    model: str
    x: Any
    features: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    splits: list[dict[str, list[int]]]
    categorical: tuple[int, ...] = ()

    def save(self, where: Path) -> None:
        import scipy.sparse as sp

        where.mkdir(parents=True, exist_ok=True)
        if sp.issparse(self.x):
            sp.save_npz(where / "x.npz", sp.csr_matrix(self.x))
        else:
            np.save(where / "x.npy", self.x)
        np.save(where / "features.npy", self.features)
        np.save(where / "y.npy", self.y)
        import json

        meta = {
            "name": self.name,
            "model": self.model,
            "classes": list(self.classes),
            "splits": self.splits,
            "categorical": list(self.categorical),
        }
        (where / "task.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, where: Path) -> Task:
        import json

        import scipy.sparse as sp

        meta = json.loads((where / "task.json").read_text())
        x = sp.load_npz(where / "x.npz") if (where / "x.npz").exists() else np.load(where / "x.npy")
        return cls(
            meta["name"],
            meta["model"],
            x,
            np.load(where / "features.npy"),
            np.load(where / "y.npy"),
            tuple(meta["classes"]),
            meta["splits"],
            tuple(meta["categorical"]),
        )


def make_model(kind: str, seed: int, categorical: Any = None) -> Any:
    """The task's model, the same in every venv.

    ``logreg``: logistic regression (C=2, as the demo's tweet classifier) on the
    task's sparse TF-IDF matrix. ``hgb``: scikit-learn's histogram gradient
    boosting (LightGBM's algorithm), its defaults, categorical columns flagged.
    """
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=2.0, max_iter=1000)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        random_state=seed, categorical_features=categorical, early_stopping=False
    )


def categorical_columns(task: Task) -> Any:
    """Which columns of an ``hgb`` task's matrix are categorical, as the model takes them."""
    if task.model != "hgb" or not task.categorical:
        return None
    return np.array(task.categorical, dtype=int)


def run(
    task: Task,
    seed: int,
    selector: Selector,
    budget: int,
    batch: int,
    wrap: Callable[[Any], Any] | None = None,
    design: Any = None,
) -> dict[str, Any]:
    """One learning curve: accuracy after each batch, and each round's timings.

    ``wrap`` lets a tool put the model inside its own wrapper, fed ``design``
    instead of the task's matrix (scikit-activeml queries through
    ``SklearnClassifier`` on dense arrays: see `RowsOf`); the model underneath and
    what it is fitted on are the same.
    """
    x = task.x if design is None else design
    split = task.splits[seed]
    test = np.array(split["test"])
    labelled = np.array(split["initial"])
    is_pool = np.ones(len(task.y), dtype=bool)
    is_pool[test] = False
    is_pool[labelled] = False
    rng = np.random.default_rng(1000 + seed)
    curve: list[tuple[int, float]] = []
    fit_s: list[float] = []
    score_s: list[float] = []
    select_s: list[float] = []
    while True:
        model = make_model(task.model, seed, categorical_columns(task))
        if wrap is not None:
            model = wrap(model)
        t0 = time.perf_counter()
        model.fit(x[labelled], task.y[labelled])
        fit_s.append(time.perf_counter() - t0)
        acc = float((model.predict(x[test]) == task.y[test]).mean())
        curve.append((len(labelled), acc))
        if len(labelled) >= budget:
            break
        pool = np.flatnonzero(is_pool)
        n = min(batch, budget - len(labelled), len(pool))
        t0 = time.perf_counter()
        proba = model.predict_proba(x[pool])
        score_s.append(time.perf_counter() - t0)
        state = Round(
            model,
            x,
            pool,
            labelled,
            task.y[labelled],
            proba,
            task.features,
            n,
            rng,
            task.classes,
        )
        t0 = time.perf_counter()
        chosen = np.asarray(selector(state), dtype=int)
        select_s.append(time.perf_counter() - t0)
        if len(np.unique(chosen)) != n or chosen.min() < 0 or chosen.max() >= len(pool):
            raise RuntimeError(f"selector returned {len(chosen)} positions for a batch of {n}")
        picked = pool[chosen]
        is_pool[picked] = False
        labelled = np.concatenate([labelled, picked])
    return {"curve": curve, "fit_s": fit_s, "score_s": score_s, "select_s": select_s}


def full_pool_accuracy(task: Task, seed: int) -> float:
    """Accuracy of the model trained on every record outside the test set (gold labels)."""
    split = task.splits[seed]
    test = np.array(split["test"])
    train = np.setdiff1d(np.arange(len(task.y)), test)
    model = make_model(task.model, seed, categorical_columns(task))
    model.fit(task.x[train], task.y[train])
    return float((model.predict(task.x[test]) == task.y[test]).mean())


def row_ids(task: Task) -> np.ndarray:
    """A dense stand-in for the task's matrix: its features, then each row's id.

    The id is scaled down to 1e-9 per row, so distance-based peers (Clue's
    k-means) see the task's features, while `RowsOf` reads the id back and hands
    the model the real (sparse) rows.
    """
    ids = np.arange(len(task.y), dtype=np.float64)[:, None] * 1e-9
    return np.hstack([task.features.astype(np.float64), ids])


class RowsOf(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier fitted on rows of ``matrix`` named by `row_ids`' last column.

    Its methods name their argument ``X``: scikit-activeml's wrapper copies the
    wrapped estimator's signatures.
    """

    def __init__(self, estimator: Any = None, matrix: Any = None) -> None:
        self.estimator = estimator
        self.matrix = matrix

    def __sklearn_clone__(self) -> RowsOf:
        return RowsOf(clone(self.estimator), self.matrix)  # the matrix is shared, not copied

    def _rows(self, X: Any) -> np.ndarray:
        return np.rint(np.asarray(X)[:, -1] * 1e9).astype(int)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> RowsOf:
        self.estimator_ = clone(self.estimator).fit(self.matrix[self._rows(X)], y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        out: np.ndarray = self.estimator_.predict_proba(self.matrix[self._rows(X)])
        return out

    def predict(self, X: Any) -> np.ndarray:
        out: np.ndarray = self.estimator_.predict(self.matrix[self._rows(X)])
        return out
