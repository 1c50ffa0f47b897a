"""`repo.models`: recorded models, their data version and feature importances.

A model's importances rank the columns in findings, and ``model:NAME`` is a
drift reference whose data version gc keeps.
"""

from __future__ import annotations

from typing import Any

from tillage.api._storage import Namespace
from tillage.errors import InputError, NoSuchDatasetError, NoSuchModelError
from tillage.quality.results import Model


class Models(Namespace):
    """The models recorded in a repository (``repo.models``)."""

    def record(
        self,
        name: str,
        dataset: str,
        *,
        ref: str | None = None,
        feature_importance: dict[str, float] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Model:
        """Record a model trained on ``dataset`` at ``ref``, with its feature importances.

        Findings on the dataset then carry each column's importance rank, and
        drift on columns the model does not use is suppressed. ``model:NAME``
        becomes a drift reference, and gc keeps the data version it names.

        Args:
            name: the model's name (recording it again makes a newer version).
            dataset: the dataset it was trained on.
            ref: the ref of that data (default: HEAD).
            feature_importance: column -> importance.
            metrics: any metrics, as JSON-ready values.

        Returns:
            The model's record.

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset.
            InputError: importances name unknown columns or are not numbers.
        """
        commit = self._repo.refs.commit(ref)
        if dataset not in commit.pins:
            raise NoSuchDatasetError(
                dataset, ref or self._repo.refs.current_branch, list(commit.pins)
            )
        importance = self._check_importance(dataset, commit.id, feature_importance or {})
        rec = self._monitor.store.add_model(
            name, dataset, commit.id, importance, metrics or {}, self._storage.config.who()
        )
        return rec

    def set_feature_importance(self, name: str, importance: dict[str, float]) -> Model:
        """Set the feature importances of the latest model recorded as ``name``.

        Returns:
            The model's record.

        Raises:
            NoSuchModelError: no model has that name.
            InputError: importances name unknown columns or are not numbers.
        """
        models = self._monitor.store.models(name=name)
        if not models:
            raise NoSuchModelError(name, self.names())
        m = models[0]
        checked = self._check_importance(m.dataset, m.commit_id, importance)
        return self._monitor.store.set_importance(m.id, checked)

    def recorded(self, name: str | None = None) -> list[Model]:
        """Recorded models, newest first."""
        return self._monitor.store.models(name=name)

    def names(self) -> list[str]:
        """The names models are recorded under, for `NoSuchModelError`."""
        return sorted({m.name for m in self._monitor.store.models()})

    def _check_importance(
        self, dataset: str, commit_id: str, importance: dict[str, float]
    ) -> dict[str, float]:
        columns = self._repo.datasets.schema(dataset, commit_id).names
        unknown = sorted(set(importance) - set(columns))
        if unknown:
            raise InputError(
                f"feature importance names column(s) {', '.join(unknown)} that {dataset!r} "
                f"does not have; its columns: {', '.join(columns)}."
            )
        bad = [k for k, v in importance.items() if not isinstance(v, int | float) or v != v]
        if bad:
            raise InputError(f"feature importance of {', '.join(bad)} must be a number.")
        return {k: float(v) for k, v in importance.items()}
