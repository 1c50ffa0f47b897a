"""`repo.models`: model versions, their files, their predictions per record, and features.

A model version records the code, data version and label-set version it was
trained on, its feature columns, classes and metrics. Its importances rank the
columns in findings, and ``model:NAME`` is a drift reference whose data version
gc keeps.

**Files.** A fitted scikit-learn estimator given as ``model=`` is saved with skops
(never a bare pickle) to ``.tillage/models/NAME/VERSION.skops``, written to a
temporary file and renamed, with its SHA-256 and the types skops does not trust
by default recorded in the catalog. `Models.load` checks the hash and trusts
exactly those types.

**Predictions** of model ``NAME`` are an ordinary dataset, ``NAME-predictions``
(so commits pin them, and lineage, diff and history work on them), keyed by
(``dataset``, ``record_id``, ``model_version``): one row per record and model
version, with the data commit and data version (``LANCE_BRANCH@VERSION`` of the
dataset) predicted on, the predicted class, the class probabilities
(``list<float32>``, in the order of the model version's ``classes``, kept in the
catalog) and an optional embedding. Each `predict` or `record_predictions` is one
commit, an upsert: predicting the same model version on a newer data version
replaces each record's row; the older rows stay in the dataset's history. The
dataset is written without ingest checks (its rows are outputs, not inputs to
monitor), so it raises no alerts.

**Features** (`Models.features`) are cached under ``.tillage/cache/features/``,
keyed by the dataset's version (not the commit: a commit to another dataset
reuses them), the columns and the featurizer's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from tillage.access import Purpose
from tillage.api._storage import Namespace
from tillage.core.alerts import ModelArtifact
from tillage.core.commit import Commit, DatasetPin
from tillage.core.names import check_name, predictions_dataset
from tillage.errors import (
    CorruptModelError,
    InputError,
    MissingFeaturesError,
    NoModelArtifactError,
    NoPredictionsError,
    NoSuchDatasetError,
    NoSuchModelError,
)
from tillage.quality.results import Model
from tillage.selection.results import Features, Predictions

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from tillage.privacy.dp_reports import DPSliceReport
    from tillage.selection.fairness import FairnessReport
    from tillage.selection.featurize import Featurizer
    from tillage.selection.slices import SliceReport

PREDICTION_KEY = ("dataset", "record_id", "model_version")
#: How far a row of probabilities may sum from 1 (float32 rounding of many classes).
SUM_TOLERANCE = 1e-3
MODELS_DIR = "models"
FEATURE_CACHE = Path("cache") / "features"


def _prediction_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("dataset", pa.string(), nullable=False),
            pa.field("record_id", pa.string(), nullable=False),
            pa.field("model_version", pa.int64(), nullable=False),
            pa.field("data_commit", pa.string(), nullable=False),
            pa.field("data_version", pa.string(), nullable=False),
            pa.field("label", pa.string()),
            pa.field("proba", pa.list_(pa.float32())),
            pa.field("embedding", pa.list_(pa.float32())),
        ]
    )


class Models(Namespace):
    """The models recorded in a repository (``repo.models``)."""

    # -- versions -------------------------------------------------------------

    def record(
        self,
        name: str,
        dataset: str,
        *,
        ref: str | None = None,
        model: Any = None,
        features: Sequence[str] | None = None,
        labelset: str | None = None,
        code_version: str | None = None,
        feature_importance: dict[str, float] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Model:
        """Record a new version of model ``name``, trained on ``dataset`` at ``ref``.

        Findings on the dataset then carry each column's importance rank, and
        drift on columns the model does not use is suppressed. ``model:NAME``
        becomes a drift reference, and gc keeps the data version it names.

        Args:
            name: the model's name; each call records the next version (1, 2, ...).
            dataset: the dataset it was trained on.
            ref: the ref of that data (default: HEAD); its commit also pins ``labelset``.
            model: the fitted scikit-learn estimator or pipeline, saved with skops so
                that `load` and `predict` can use it (None: record without a file).
            features: the columns it reads, in order (default: the estimator's
                ``feature_names_in_``, when it has them).
            labelset: the label set its labels came from.
            code_version: its training code's version (default: the git commit of
                the current folder, ``+dirty`` with uncommitted changes; None outside git).
            feature_importance: column -> importance.
            metrics: any metrics, as JSON-ready values.

        Returns:
            The model version's record.

        Raises:
            InvalidNameError: ``name`` cannot name a model (it names files).
            NoSuchDatasetError: ``ref`` has no such dataset.
            NoSuchLabelSetError: no such label set.
            MissingFeaturesError: features that are not columns of the dataset.
            InputError: importances name unknown columns or are not numbers; a
                ``model`` that is not a fitted estimator skops can save.
        """
        check_name(name, "model")
        commit = self._repo.refs.commit(ref)
        if dataset not in commit.pins:
            raise NoSuchDatasetError(
                dataset, ref or self._repo.refs.current_branch, list(commit.pins)
            )
        importance = self._check_importance(dataset, commit.id, feature_importance or {})
        cols = self._check_features(name, dataset, commit.id, features, model)
        labelset_commit = None
        if labelset is not None:
            self._repo.labels.sets().get(labelset)
            labelset_commit = commit.id if labelset in commit.pins else None
        saved = _dump(model) if model is not None else None
        classes = _classes(model) if model is not None else ()
        facts = _facts(cols, classes, labelset, labelset_commit, code_version)
        from tillage.store.monitoring import ModelFacts

        written: list[Path] = []

        def write(version: int) -> ModelArtifact:
            assert saved is not None
            data, trusted = saved
            rel = Path(MODELS_DIR) / name / f"{version}.skops"
            _write_atomically(self._storage.repo_dir / rel, data)
            written.append(self._storage.repo_dir / rel)
            return ModelArtifact(
                format="skops",
                path=rel.as_posix(),
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                trusted=tuple(trusted),
            )

        try:
            # The write lock: another process must not write this version's file too.
            with self._writer.locked():
                recorded = self._monitor.store.add_model(
                    name,
                    dataset,
                    commit.id,
                    importance,
                    metrics or {},
                    self._storage.config.who(),
                    ModelFacts(**facts),
                    write if saved is not None else None,
                )
            self._storage.forget_read_policy()  # its predictions' privacy follows the data
            return recorded
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise

    def get(self, name: str, *, version: int | None = None) -> Model:
        """Version ``version`` of model ``name`` (default: the latest).

        Raises:
            NoSuchModelError: no model has that name, or not that version.
        """
        models = self._monitor.store.models(name=name)
        if not models:
            raise NoSuchModelError(name, self.names())
        if version is None:
            return max(models, key=lambda m: m.version)
        for m in models:
            if m.version == version:
                return m
        have = [str(m.version) for m in sorted(models, key=lambda m: m.version)]
        raise NoSuchModelError(name, have, version)

    def set_feature_importance(self, name: str, importance: dict[str, float]) -> Model:
        """Set the feature importances of the latest model recorded as ``name``.

        Returns:
            The model's record.

        Raises:
            NoSuchModelError: no model has that name.
            InputError: importances name unknown columns or are not numbers.
        """
        m = self.get(name)
        checked = self._check_importance(m.dataset, m.commit_id, importance)
        return self._monitor.store.set_importance(m.id, checked)

    def recorded(self, name: str | None = None) -> list[Model]:
        """Recorded model versions, newest first."""
        return self._monitor.store.models(name=name)

    def predictions_dataset(self, name: str) -> str:
        """The dataset that holds model ``name``'s predictions (``NAME-predictions``)."""
        return predictions_dataset(name)

    def names(self) -> list[str]:
        """The names models are recorded under, for `NoSuchModelError`."""
        return sorted({m.name for m in self._monitor.store.models()})

    # -- files ----------------------------------------------------------------

    def load(self, name: str, *, version: int | None = None) -> Any:
        """The fitted model of version ``version`` of ``name`` (default: the latest).

        The file's SHA-256 must be the one recorded; skops loads it trusting exactly
        the types recorded when it was saved.

        Raises:
            NoSuchModelError: no such model or version.
            NoModelArtifactError: the version was recorded without its model.
            CorruptModelError: the file is missing or its bytes changed.
        """
        return self._load(self.get(name, version=version))

    def _load(self, m: Model) -> Any:
        import skops.io as sio

        if m.artifact is None:
            raise NoModelArtifactError(m.name, m.version)
        path = self._storage.repo_dir / m.artifact.path
        shown = f"{self._storage.repo_dir.name}/{m.artifact.path}"
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CorruptModelError(m.name, m.version, shown, f"cannot be read ({e})") from None
        found = hashlib.sha256(data).hexdigest()
        if found != m.artifact.sha256:
            raise CorruptModelError(
                m.name,
                m.version,
                shown,
                f"has SHA-256 {found[:12]}…, not the {m.artifact.sha256[:12]}… recorded",
            )
        return sio.loads(data, trusted=list(m.artifact.trusted))

    # -- predictions -----------------------------------------------------------

    def predict(
        self,
        name: str,
        dataset: str,
        ref: str | None = None,
        *,
        version: int | None = None,
        batch_size: int = 65_536,
        progress: Callable[[int, int], None] | None = None,
    ) -> Predictions:
        """Predict every record of ``dataset`` at ``ref`` with a model version, and store it.

        The dataset's key and the model's feature columns are read batch by batch
        (a map over the version's batches), each batch goes through the model's
        ``predict_proba``, and the result is stored as one commit on
        ``NAME-predictions`` (see the module doc).

        Args:
            name: the model.
            dataset: the dataset to predict on.
            ref: its ref (default: HEAD); the predictions are committed on this
                branch when ``ref`` is a branch, else on the current branch.
            version: the model version (default: the latest).
            batch_size: rows per batch.
            progress: called with (records done, records in all) after each batch.

        Returns:
            The predictions, aligned by record.

        Raises:
            NoSuchModelError, NoSuchDatasetError: unknown model (version) or dataset.
            NoModelArtifactError: the model version has no saved model.
            MissingFeaturesError: its features are not all columns of the dataset.
            CorruptModelError: its file changed since it was saved.
            InputError: a model without recorded features, or a dataset with a
                composite key; a ``batch_size`` that is not a positive whole number.
        """
        import numpy as np
        import pyarrow as pa

        from tillage.labels.sets import key_text

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a whole number >= 1, not {batch_size!r}.")
        m = self.get(name, version=version)
        commit, pin = self._data(dataset, ref)
        if m.artifact is None:
            raise NoModelArtifactError(m.name, m.version)
        features = self._usable_features(m, dataset, commit)
        key = self._record_key(dataset)
        estimator = self._load(m)
        if not callable(getattr(estimator, "predict_proba", None)):
            raise InputError(
                f"model {name!r} version {m.version} ({type(estimator).__name__}) has no "
                "predict_proba, so it gives no class probabilities. Record a probabilistic "
                "classifier (or wrap it in CalibratedClassifierCV), or store its scores with "
                "repo.models.record_predictions."
            )
        classes = m.classes or _classes(estimator)
        named = hasattr(estimator, "feature_names_in_")
        keys: list[pa.Array] = []
        parts: list[np.ndarray] = []
        done = 0
        columns = [key, *[c for c in features if c != key]]
        for batch in self._reader.batches(
            Purpose.PREDICT, dataset, pin, commit.id, columns=columns, batch_size=batch_size
        ):
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch]).select(list(features))
            x = table.to_pandas() if named else table.to_pandas().to_numpy()
            try:
                parts.append(np.asarray(estimator.predict_proba(x), dtype=np.float32))
            except (ValueError, TypeError) as e:  # the records do not fit what it was fitted on
                raise InputError(
                    f"model {name!r} version {m.version} cannot predict records of {dataset!r} "
                    f"at {commit.short_id}: {e}. Check that the columns hold what it was "
                    "trained on; nothing was stored."
                ) from None
            keys.append(key_text(batch.column(key)))
            done += batch.num_rows
            if progress is not None:
                progress(done, pin.num_rows)
        proba = np.concatenate(parts) if parts else np.zeros((0, len(classes)), np.float32)
        ids = pa.concat_arrays(keys) if keys else pa.array([], pa.string())
        if proba.shape[1] != len(classes):
            raise InputError(
                f"model {name!r} version {m.version} gives {proba.shape[1]} probabilities per "
                f"record but has {len(classes)} classes ({', '.join(classes)})."
            )
        return self._store(m, dataset, ref, commit, pin, ids, proba, tuple(classes), None)

    def record_predictions(
        self,
        name: str,
        dataset: str,
        keys: Sequence[Any],
        proba: Any,
        classes: Sequence[str],
        *,
        version: int | None = None,
        ref: str | None = None,
        embedding: Any = None,
    ) -> Predictions:
        """Store predictions made outside tillage for records of ``dataset`` at ``ref``.

        Args:
            name: the model (recorded with `record`).
            dataset: the dataset predicted on.
            keys: the records, by key, each once (some or all of the version's).
            proba: class probabilities, shape (len(keys), len(classes)), rows summing
                to 1, no NaN.
            classes: the class names of ``proba``'s columns; they must be the model
                version's classes where it has them already.
            version: the model version (default: the latest).
            ref: the data's ref (default: HEAD).
            embedding: per-record vectors, shape (len(keys), d), or None.

        Returns:
            The predictions as stored.

        Raises:
            NoSuchModelError, NoSuchDatasetError: unknown model (version) or dataset.
            InputError: shapes that do not match, rows not summing to 1, NaN, keys
                that are not records of that version or are repeated, other
                classes than the model's; nothing is written.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        from tillage.labels.sets import as_record_ids, key_text

        m = self.get(name, version=version)
        commit, pin = self._data(dataset, ref)
        names = tuple(str(c) for c in classes)
        if len(set(names)) != len(names) or not names:
            raise InputError(f"classes must be distinct names, at least one; got {list(names)}.")
        if m.classes and tuple(m.classes) != names:
            raise InputError(
                f"model {name!r} version {m.version} has classes {list(m.classes)}, not "
                f"{list(names)}; give the probabilities in the order of its classes."
            )
        try:
            probs = np.asarray(proba, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("proba must be an array of numbers.") from None
        n = len(keys)
        if probs.shape != (n, len(names)):
            raise InputError(
                f"proba has shape {probs.shape}, but {n} keys and {len(names)} classes need "
                f"({n}, {len(names)}): one row per key, one column per class."
            )
        if np.isnan(probs).any():
            rows = sorted({int(i) for i in np.argwhere(np.isnan(probs))[:, 0]})
            raise InputError(f"proba has NaN in {len(rows)} row(s) (first: row {rows[0]}).")
        sums = probs.sum(axis=1)
        off = np.flatnonzero((np.abs(sums - 1) > SUM_TOLERANCE) | (probs < 0).any(axis=1))
        if len(off):
            i = int(off[0])
            raise InputError(
                f"{len(off)} row(s) of proba are not probabilities (row {i} sums to "
                f"{sums[i]:.4f}); each row must be >= 0 and sum to 1 within {SUM_TOLERANCE}."
            )
        vectors = None
        if embedding is not None:
            vectors = np.asarray(embedding, dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[0] != n:
                raise InputError(
                    f"embedding has shape {vectors.shape}; it needs one row per key ({n}, d)."
                )
            if not np.isfinite(vectors).all():
                raise InputError("embedding has NaN or infinite values.")
        key = self._record_key(dataset)
        column = self._reader.table(Purpose.PREDICT, dataset, pin, commit.id, columns=[key])
        what = f"the key column {key!r} of dataset {dataset!r}"
        ids = as_record_ids(keys, column.schema.field(key).type, what)
        if len(pc.unique(ids)) != n:
            raise InputError("keys name some record more than once; give each record once.")
        unknown = ids.filter(pc.invert(pc.is_in(ids, value_set=key_text(column.column(key)))))
        if len(unknown):
            shown = ", ".join(map(repr, unknown.to_pylist()[:5]))
            raise InputError(
                f"{len(unknown)} key(s) are not records of {dataset!r} at "
                f"{commit.short_id}, e.g. {shown}; predict records of that version."
            )
        return self._store(
            m,
            dataset,
            ref,
            commit,
            pin,
            pa.array(ids, pa.string()),
            probs.astype(np.float32),
            names,
            vectors,
        )

    def predictions(
        self, name: str, dataset: str, ref: str | None = None, *, version: int | None = None
    ) -> Predictions:
        """The stored predictions of a model version on ``dataset``'s version at ``ref``.

        The predictions are read from ``NAME-predictions`` on ``ref``'s branch (the
        current branch when ``ref`` is a tag or a commit), those made on exactly
        the version of ``dataset`` that ``ref`` pins, ordered by record id.

        Raises:
            NoSuchModelError, NoSuchDatasetError: unknown model (version) or dataset.
            NoPredictionsError: none stored for that data version (the message names
                the command that makes them).
        """
        return self._predictions(name, dataset, ref, version=version)

    def _predictions(
        self,
        name: str,
        dataset: str,
        ref: str | None = None,
        *,
        version: int | None = None,
        purpose: Purpose = Purpose.PREDICT,
    ) -> Predictions:
        """`predictions`, read for ``purpose`` (a DP report reads them to measure only)."""
        import numpy as np
        import pyarrow.compute as pc

        m = self.get(name, version=version)
        commit, pin = self._data(dataset, ref)
        store = predictions_dataset(name)
        at = self._branch_of(ref)
        if store not in self._repo.datasets.pins(at):
            raise NoPredictionsError(name, dataset, commit.id)
        # Filtered here, not by Lance: on a million rows Lance's filter, even on the int
        # version alone, fetched the list column row by row (9 s against 0.1 s to read
        # every row and filter them here; `benchmarks/bench_selection_scale.py`).
        columns = ["dataset", "record_id", "model_version", "data_version", "proba", "embedding"]
        table = self._repo.datasets._read(store, at, columns=columns, purpose=purpose)
        table = table.filter(
            pc.and_(
                pc.and_(
                    pc.equal(table.column("model_version"), int(m.version)),
                    pc.equal(table.column("dataset"), dataset),
                ),
                pc.equal(table.column("data_version"), pin.version_text),
            )
        )
        if table.num_rows == 0:
            raise NoPredictionsError(name, dataset, commit.id)
        table = table.sort_by("record_id")
        k = len(m.classes)
        proba = pc.list_flatten(table.column("proba")).to_numpy().reshape(-1, k)
        embedding = None
        vectors = table.column("embedding")
        if vectors.null_count == 0:
            flat = pc.list_flatten(vectors).to_numpy()
            embedding = flat.reshape(table.num_rows, -1).astype(np.float32)
        return Predictions(
            model=name,
            version=m.version,
            dataset=dataset,
            commit=commit.id,
            keys=tuple(table.column("record_id").to_pylist()),
            classes=tuple(m.classes),
            proba=proba.astype(np.float32),
            embedding=embedding,
        )

    def _store(
        self,
        m: Model,
        dataset: str,
        ref: str | None,
        commit: Commit,
        pin: DatasetPin,
        ids: pa.Array,
        proba: np.ndarray,
        classes: tuple[str, ...],
        embedding: np.ndarray | None,
    ) -> Predictions:
        """Write predictions as one commit on ``NAME-predictions``; see the module doc."""
        import numpy as np
        import pyarrow as pa

        store = predictions_dataset(m.name)
        self._check_store(store)
        n = len(ids)
        labels = (
            pa.array(classes, pa.string()).take(pa.array(proba.argmax(axis=1)))
            if n and classes
            else pa.nulls(n, pa.string())
        )

        def same(value: object, kind: pa.DataType) -> pa.Array:
            return pa.repeat(pa.scalar(value, kind), n)

        k = proba.shape[1]
        rows = pa.ListArray.from_arrays(
            pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)),
            pa.array(proba.reshape(-1), pa.float32()),
        )
        if embedding is not None:
            d = embedding.shape[1]
            vectors = pa.ListArray.from_arrays(
                pa.array(np.arange(0, n * d + 1, d, dtype=np.int32)),
                pa.array(embedding.reshape(-1), pa.float32()),
            )
        else:
            vectors = pa.nulls(n, pa.list_(pa.float32()))
        table = pa.table(
            {
                "dataset": same(dataset, pa.string()),
                "record_id": ids,
                "model_version": same(m.version, pa.int64()),
                "data_commit": same(commit.id, pa.string()),
                "data_version": same(pin.version_text, pa.string()),
                "label": labels,
                "proba": rows,
                "embedding": vectors,
            },
            schema=_prediction_schema(),
        )
        if not m.classes:
            self._monitor.store.set_classes(m.id, classes)
        self._repo.datasets.ingest(
            store,
            table,
            key=list(PREDICTION_KEY),
            mode="upsert" if self._stored(store, dataset, m.version, ref) else "append",
            reserved=True,
            check=False,
            branch=self._branch_of(ref),
            message=(
                f"predictions of model {m.name} version {m.version} on {dataset} at "
                f"{commit.short_id} ({n:,} records)"
            ),
        )
        return Predictions(
            model=m.name,
            version=m.version,
            dataset=dataset,
            commit=commit.id,
            keys=tuple(ids.to_pylist()),
            classes=classes,
            proba=proba,
            embedding=embedding,
        )

    def _stored(self, store: str, dataset: str, version: int, ref: str | None) -> bool:
        """Whether ``store`` holds predictions of model version ``version`` on ``dataset``.

        Without any, the new rows are appended: an upsert of a million rows joined them
        against every stored row by key (5.6 s of a 12 s `predict`; the append takes
        a fraction of it, `benchmarks/bench_selection_scale.py`).
        """
        import pyarrow.compute as pc

        at = self._branch_of(ref)
        if store not in self._repo.datasets.pins(at):
            return False
        table = self._repo.datasets._read(
            store, at, columns=["dataset", "model_version"], purpose=Purpose.PREDICT
        )
        same = pc.and_(
            pc.equal(table.column("dataset"), dataset),
            pc.equal(table.column("model_version"), int(version)),
        )
        return bool(pc.any(same).as_py())

    def _check_store(self, store: str) -> None:
        """A dataset named like a model's predictions must be one (a user's is a clash)."""
        self._repo.datasets.check_owned(
            store,
            PREDICTION_KEY,
            _prediction_schema().names,
            "a model's predictions",
            "record the model under another name, or rename that dataset.",
        )

    # -- features -------------------------------------------------------------

    def features(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        featurizer: Featurizer | None = None,
        columns: Sequence[str] | None = None,
    ) -> Features:
        """Vectors for the records of ``dataset`` at ``ref``, cached by data version.

        Args:
            dataset: the dataset.
            ref: its ref (default: HEAD).
            featurizer: turns the columns into vectors (default: `DefaultFeaturizer`).
            columns: the columns to featurize (default: all but the key).

        Returns:
            The vectors, aligned with the records' ids, in the version's row order.

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset.
            MissingFeaturesError: ``columns`` the dataset does not have.
            InputError: a composite key, or no column that can be featurized.
        """
        import numpy as np

        from tillage.labels.sets import key_text
        from tillage.selection.featurize import DefaultFeaturizer

        commit, pin = self._data(dataset, ref)
        key = self._record_key(dataset)
        names = self._tables.schema(dataset, pin).names
        cols = [c for c in names if c != key] if columns is None else list(columns)
        missing = [c for c in cols if c not in names]
        if missing:
            raise MissingFeaturesError("featurizer", dataset, missing)
        chosen = featurizer if featurizer is not None else DefaultFeaturizer()
        fingerprint = chosen.fingerprint
        cache_key = json.dumps([dataset, pin.lance_branch, pin.version, cols, fingerprint])
        path = (
            self._storage.repo_dir
            / FEATURE_CACHE
            / f"{hashlib.sha256(cache_key.encode()).hexdigest()}.npz"
        )
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as cached:
                    ids, matrix = cached["keys"], cached["matrix"]
                self._reader.grant(Purpose.FEATURES, dataset, commit.id, cols)
                return Features(dataset, commit.id, tuple(ids.tolist()), matrix, fingerprint)
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is recomputed and replaced
        table = self._reader.table(Purpose.FEATURES, dataset, pin, commit.id, columns=[key, *cols])
        matrix = np.ascontiguousarray(chosen.fit_transform(table.select(cols)), dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != table.num_rows:
            raise InputError(
                f"featurizer {fingerprint!r} returned shape {matrix.shape} for "
                f"{table.num_rows} records; it must return one row per record."
            )
        ids = np.asarray(key_text(table.column(key)).to_pylist(), dtype=str)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, keys=ids, matrix=matrix)
        os.replace(tmp, path)
        return Features(dataset, commit.id, tuple(ids.tolist()), matrix, fingerprint)

    # -- checks ---------------------------------------------------------------

    # -- where the model fails -------------------------------------------------

    @overload
    def slices(
        self,
        name: str,
        dataset: str,
        *,
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        pairs: bool = True,
        limit: int = 20,
        epsilon: None = None,
    ) -> SliceReport: ...
    @overload
    def slices(
        self,
        name: str,
        dataset: str,
        *,
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        pairs: bool = True,
        limit: int = 20,
        epsilon: float | None,
    ) -> SliceReport | DPSliceReport: ...
    def slices(
        self,
        name: str,
        dataset: str,
        *,
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        version: int | None = None,
        columns: Sequence[str] | None = None,
        pairs: bool = True,
        limit: int = 20,
        epsilon: float | None = None,
    ) -> SliceReport | DPSliceReport:
        """The slices of ``dataset`` where the model's stored predictions err most.

        One- and two-column subgroups (numbers binned) whose error is significantly
        above the whole (see `tillage.selection.slices`), ranked by impact, each a
        sentence and a ``where`` filter that `Datasets.read` accepts.

        Args:
            name: the model; its predictions on ``dataset`` at ``ref`` must be stored.
            dataset: the records, with the columns to slice by.
            label: the column of ``dataset`` holding the true label; or
            labelset: a label set over ``dataset`` whose current labels are the truth.
            ref: the data version (default: HEAD).
            version: the model version (default: the latest).
            columns: the columns to slice by (default: the model's features, else every
                column but the key and the label).
            pairs: also try pairs of one-column slices.
            limit: the most slices reported.
            epsilon: the ε to spend on DP slice metrics (required for them; see below).

        When ``dataset`` is private and this principal may not read it raw, the answer
        is a `tillage.privacy.dp_reports.DPSliceReport` instead: each column is cut
        into disjoint slices at public values only (the policy's categories or bounds
        for the column, or the values of a column the policy marks public; see
        `tillage.selection.slices.partition`), and every slice's records and errors
        are DP counts released at once for ``epsilon`` (no pairs, no significance
        tests: the error rate is a ratio of two DP counts, with its predicted error).

        Raises:
            NoPredictionsError: none stored for that data version.
            InputError: neither or both of ``label`` and ``labelset``, unknown columns,
                no record with both a prediction and a label.
            DPQueryError: DP slices without ``epsilon`` (or not > 0), or by a non-public
                column whose categories or bounds the policy does not declare.
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was released.
        """
        from tillage.selection.slices import find_error_slices

        if self._repo.privacy._needs_dp(dataset):
            return self._dp_slices(
                name, dataset, label, labelset, ref, version, columns, limit, epsilon
            )
        table, truth, predicted = self._judged(
            name, dataset, label, labelset, ref, version, columns
        )
        return find_error_slices(table, y_true=truth, y_pred=predicted, pairs=pairs, limit=limit)

    def _dp_slices(
        self,
        name: str,
        dataset: str,
        label: str | None,
        labelset: str | None,
        ref: str | None,
        version: int | None,
        columns: Sequence[str] | None,
        limit: int,
        epsilon: float | None,
    ) -> DPSliceReport:
        """`slices` as DP answers (see there), read for `Purpose.AGGREGATE`."""
        import numpy as np

        from tillage.core.policy import ColumnClass
        from tillage.errors import DPQueryError
        from tillage.privacy.dp_reports import slice_categories, slice_items, slice_report
        from tillage.selection.slices import partition

        privacy = self._repo.privacy
        dpol = privacy._dp_ready(dataset, epsilon, "per-slice model metrics")
        assert epsilon is not None
        unit = None if dpol.privacy_unit == "row" else dpol.privacy_unit
        table, truth, predicted = self._judged(
            name,
            dataset,
            label,
            labelset,
            ref,
            version,
            columns,
            purpose=Purpose.AGGREGATE,
            also=[unit] if unit else [],
        )
        chosen = [c for c in table.column_names if c != unit or (columns and unit in columns)]
        hidden = [
            c
            for c in chosen
            if dpol.column(c).cls is not ColumnClass.PUBLIC
            and dpol.column(c).categories is None
            and dpol.column(c).bounds is None
        ]
        if hidden:
            first = hidden[0]
            raise DPQueryError(
                f"slices of private dataset {dataset!r} by {', '.join(map(repr, hidden))} "
                "would name values of non-public column(s), and the policy declares no "
                "public categories or bounds for them",
                f"Set datasets.{dataset}.columns.{first}.categories (or .bounds for a "
                "number) in .tillage/policy.yaml, or slice by other columns with --columns.",
            )
        conditions = []
        masks = []
        for c in chosen:
            cp = dpol.column(c)
            cut = partition(c, table.column(c), categories=cp.categories, bounds=cp.bounds)
            conditions.append([cond for cond, _ in cut])
            masks.append([mask for _, mask in cut])
        wrong = np.asarray(truth, dtype=object) != np.asarray(predicted, dtype=object)
        categories = slice_categories([len(m) for m in masks])
        released = privacy._release_counts(
            dataset,
            self._repo.refs.commit(ref).id,
            slice_items(masks, wrong),
            categories,
            # the whole and one slice per column (partitions), each its records and errors
            per_record=2 * (1 + len(chosen)),
            units=table.column(unit) if unit else None,
            epsilon=epsilon,
            query={"kind": "slices", "model": name, "columns": chosen, "counts": len(categories)},
        )
        return slice_report(chosen, conditions, released, limit)

    def fairness(
        self,
        name: str,
        dataset: str,
        *,
        sensitive: Sequence[str],
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        version: int | None = None,
        positive: Any = None,
    ) -> FairnessReport:
        """The model's metrics per group of each ``sensitive`` column, and the largest gaps.

        Arguments as for `slices`; ``positive`` names the positive class, for selection
        and true and false positive rates (fairlearn's ``MetricFrame``).
        """
        from tillage.selection.fairness import group_fairness

        table, truth, predicted = self._judged(
            name, dataset, label, labelset, ref, version, list(sensitive)
        )
        return group_fairness(
            table, list(sensitive), y_true=truth, y_pred=predicted, positive=positive
        )

    def _judged(
        self,
        name: str,
        dataset: str,
        label: str | None,
        labelset: str | None,
        ref: str | None,
        version: int | None,
        columns: Sequence[str] | None,
        *,
        purpose: Purpose = Purpose.ANALYSIS,
        also: Sequence[str] = (),
    ) -> tuple[pa.Table, list[str], list[str]]:
        """The records with a stored prediction and a true label: their columns (and the
        columns ``also``), truth and predicted class, aligned; read for ``purpose``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from tillage.labels.sets import key_text

        truth_of = self._repo.labels.truth(
            dataset, label=label, labelset=labelset, ref=ref, purpose=purpose
        )
        predictions = self._predictions(
            name,
            dataset,
            ref,
            version=version,
            purpose=Purpose.AGGREGATE if purpose is Purpose.AGGREGATE else Purpose.PREDICT,
        )
        m = self.get(name, version=predictions.version)
        key = self._record_key(dataset)
        names = self._repo.datasets.schema(dataset, ref).names
        if columns is None:
            chosen = [c for c in (m.features or names) if c not in (key, label)]
        else:
            chosen = list(columns)
        unknown = [c for c in chosen if c not in names]
        if unknown:
            raise InputError(
                f"unknown column(s) {', '.join(unknown)} in {dataset!r}; its columns: "
                f"{', '.join(names)}."
            )
        table = self._repo.datasets._read(
            dataset, ref, columns=list(dict.fromkeys([key, *chosen, *also])), purpose=purpose
        )
        ids = key_text(table.column(key))
        best = predictions.proba.argmax(axis=1)
        predicted_of = {
            k: predictions.classes[int(i)] for k, i in zip(predictions.keys, best, strict=True)
        }
        keep = [
            i
            for i, r in enumerate(ids.to_pylist())
            if truth_of.get(r) is not None and r in predicted_of
        ]
        if not keep:
            raise InputError(
                f"no record of {dataset!r} has both a prediction of {name!r} and a true "
                "label; predict on this version and label some of its records."
            )
        rows = table.take(pa.array(keep, pa.int64()))
        kept_ids = pc.take(ids, pa.array(keep, pa.int64())).to_pylist()
        truth = [str(truth_of[r]) for r in kept_ids]
        predicted = [str(predicted_of[r]) for r in kept_ids]
        return rows.select(list(dict.fromkeys([*chosen, *also]))), truth, predicted

    def _data(self, dataset: str, ref: str | None) -> tuple[Commit, DatasetPin]:
        commit = self._repo.refs.commit(ref)
        if dataset not in commit.pins:
            raise NoSuchDatasetError(
                dataset, ref or self._repo.refs.current_branch, list(commit.pins)
            )
        return commit, commit.pins[dataset]

    def _record_key(self, dataset: str) -> str:
        """The one key column whose values name records in predictions and features."""
        key = self._repo.datasets.key(dataset)
        if len(key) != 1:
            raise InputError(
                f"dataset {dataset!r} has a composite key ({', '.join(key)}); predictions "
                "and features name each record by a one-column key. Add a column that "
                "identifies each record on its own and key a dataset by it."
            )
        return key[0]

    def _branch_of(self, ref: str | None) -> str | None:
        """``ref`` when it is a branch, else None (the current branch)."""
        return ref if ref is not None and ref in self._repo.refs.branches() else None

    def _usable_features(self, m: Model, dataset: str, commit: Commit) -> tuple[str, ...]:
        if not m.features:
            raise InputError(
                f"model {m.name!r} version {m.version} has no recorded feature columns, so "
                "tillage cannot tell what to give it. Record it again with features=[...] "
                "(or fit it on a DataFrame, whose column names it keeps)."
            )
        columns = self._repo.datasets.schema(dataset, commit.id).names
        missing = [c for c in m.features if c not in columns]
        if missing:
            raise MissingFeaturesError(m.name, dataset, missing)
        return m.features

    def _check_features(
        self,
        name: str,
        dataset: str,
        commit_id: str,
        features: Sequence[str] | None,
        model: Any,
    ) -> tuple[str, ...]:
        if features is None:
            names = getattr(model, "feature_names_in_", None) if model is not None else None
            features = [str(c) for c in names] if names is not None else []
        if isinstance(features, str):
            raise InputError(f"features must be a list of column names, not the text {features!r}.")
        cols = tuple(features)
        odd = [c for c in cols if not isinstance(c, str)]
        if odd:
            raise InputError(f"feature columns are names (text); got {', '.join(map(repr, odd))}.")
        columns = self._repo.datasets.schema(dataset, commit_id).names
        missing = [c for c in cols if c not in columns]
        if missing:
            raise MissingFeaturesError(name, dataset, missing)
        return cols

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


def _facts(
    features: tuple[str, ...],
    classes: tuple[str, ...],
    labelset: str | None,
    labelset_commit: str | None,
    code_version: str | None,
) -> dict[str, Any]:
    if code_version is None:
        from tillage.versioning.writer import code_version as git_version

        found = git_version()
        if found.git_sha:
            code_version = found.git_sha + ("+dirty" if found.dirty else "")
    return {
        "features": features,
        "classes": classes,
        "labelset": labelset,
        "labelset_commit": labelset_commit,
        "code_version": code_version,
    }


def _classes(model: Any) -> tuple[str, ...]:
    """The class names of a fitted classifier (``classes_``), as text; () without them."""
    found = getattr(model, "classes_", None)
    return tuple(str(c) for c in found) if found is not None else ()


def _dump(model: Any) -> tuple[bytes, list[str]]:
    """``model`` as skops bytes and the types it holds that skops does not trust by default.

    Raises:
        InputError: not a fitted scikit-learn estimator, or one skops cannot save.
    """
    import skops.io as sio
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise InputError(
            f"model must be a fitted scikit-learn estimator or Pipeline, not "
            f"{type(model).__name__}; save other models yourself and store their "
            "predictions with repo.models.record_predictions."
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InputError(
            f"the {type(model).__name__} given as model is not fitted; fit it first."
        ) from None
    try:
        data = sio.dumps(model)
        trusted = sio.get_untrusted_types(data=data)
    except Exception as e:  # skops raises many kinds for objects it cannot save
        raise InputError(
            f"skops cannot save the {type(model).__name__} given as model ({e}); nothing "
            "was written. Use estimators skops supports, or store predictions made "
            "elsewhere with repo.models.record_predictions."
        ) from None
    return data, list(trusted)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
