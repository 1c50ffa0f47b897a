"""A bootstrap committee: one fitted model refitted on resamples of its training records.

The ``committee`` strategy reads several models' class probabilities on the pool.
When only one model is recorded, `bootstrap_committee` makes the others: each
member is a fresh copy of the model's estimator (``sklearn.base.clone``, same
hyperparameters, unfitted) fitted on a bootstrap resample (records drawn with
replacement, as many as there are) of the labelled records it was trained on.
Members disagree where the training data leave the decision open, which is what
query-by-committee asks about (Seung et al., 1992; bagging: Breiman, 1996).

The draws come from one generator seeded by ``seed``, so a committee is the same
for the same seed, records and estimator. A resample that holds a single class
is drawn again (a classifier cannot be fitted on one class); a member that never
saw a class gives it probability 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError

if TYPE_CHECKING:
    import numpy as np

#: Draws of a resample before giving up on one that holds two or more classes.
MAX_REDRAWS = 20


def bootstrap_committee(
    estimator: Any,
    x_train: Any,
    y_train: Sequence[str],
    x_pool: Any,
    classes: Sequence[str],
    *,
    members: int,
    seed: int,
) -> np.ndarray:
    """Class probabilities on ``x_pool`` of ``members`` refits of ``estimator``.

    Args:
        estimator: a scikit-learn estimator or pipeline with ``predict_proba`` (fitted
            or not; only its parameters are used).
        x_train: the training records (a DataFrame or an array, rows as records).
        y_train: their labels, as text.
        x_pool: the records to predict, in the same form as ``x_train``.
        classes: the class names, in the order of the output's last axis.
        members: how many refits (2 or more).
        seed: seeds the resamples.

    Returns:
        float32 array of shape (members, len(x_pool), len(classes)).

    Raises:
        InputError: fewer than two members, fewer than two classes in ``y_train``,
            or an estimator that cannot be refitted on the records.
    """
    import numpy as np
    from sklearn.base import clone

    if members < 2:
        raise InputError(f"a bootstrap committee needs 2 or more members, not {members}.")
    y = np.asarray([str(v) for v in y_train])
    if len(np.unique(y)) < 2:
        raise InputError(
            f"the model's training records hold {len(np.unique(y))} class(es); a bootstrap "
            "committee needs labelled records of two or more classes."
        )
    column = {str(c): j for j, c in enumerate(classes)}
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.zeros((members, _rows(x_pool), len(classes)), dtype=np.float32)
    for m in range(members):
        rows = rng.integers(0, n, n)
        for _ in range(MAX_REDRAWS):
            if len(np.unique(y[rows])) >= 2:
                break
            rows = rng.integers(0, n, n)
        member = clone(estimator)
        try:
            member.fit(_take(x_train, rows), y[rows])
            proba = np.asarray(member.predict_proba(x_pool), dtype=np.float32)
        except (ValueError, TypeError) as e:
            raise InputError(
                f"refitting the model on a bootstrap resample of its training records failed: "
                f"{e}. Give a committee of recorded models instead (--committee A,B)."
            ) from None
        for j, c in enumerate(member.classes_):
            k = column.get(str(c))
            if k is not None:
                out[m, :, k] = proba[:, j]
    return out


def _rows(x: Any) -> int:
    return int(x.shape[0])


def _take(x: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of a DataFrame or an array."""
    iloc = getattr(x, "iloc", None)
    return iloc[rows] if iloc is not None else x[rows]
