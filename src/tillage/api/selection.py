"""`repo.selection`: choose records from a pool by a strategy over model state, and act on them.

`select` reads the pool (a dataset version, filtered, without the records
already labelled or waiting for annotation) through the access layer, lines the
model's predictions and the featurizer's vectors up with it, and runs a
registered strategy (`tillage.selection.strategies`) with a seeded generator.
The picks are stored as rows of the ``selections`` dataset, one commit per
selection, and the provenance in the catalog, so `get` shows a selection as it
was made and `rerun` makes it again. `apply` acts on a selection: ``label`` and
``relabel`` queue its records in an annotation task; ``remove`` deletes them by
key, ``augment`` adds records made from them by named transforms and
``generate`` adds synthetic records like them (refused unless they pass the
fidelity gate), each in one commit on a branch of their own (merge it to make
the change real; `Refs.revert` undoes it). Where each new record came from is
recorded in the same transaction (`derived`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from tillage.access import Purpose
from tillage.api._storage import Namespace
from tillage.errors import (
    EmptyPoolError,
    InputError,
    NoPredictionsError,
    NoSuchActionError,
    NoSuchDatasetError,
    NoSuchModelError,
    NoSuchSelectionError,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from sqlalchemy import Connection

    from tillage.core.commit import Commit
    from tillage.labels.sets import LabelSets
    from tillage.selection.augment import Transform
    from tillage.selection.featurize import Featurizer
    from tillage.selection.results import Features, Predictions
    from tillage.selection.selections import ActionResult, SelectedRecord, Selection
    from tillage.selection.strategies import Candidates, StrategyInfo
    from tillage.selection.valuation import DataValues
    from tillage.store.selections import SelectionRecord, SelectionStore


VALUES_SUFFIX = "-values"
"""``DATASET-values`` holds the data values `Selections.value` stores."""
BOOTSTRAP_MEMBERS = 5
"""Members of a bootstrap committee when ``params`` does not say (``bootstrap``)."""


@dataclass(frozen=True, eq=False)
class Valuation:
    """The values `Selections.value` computed and stored.

    Attributes:
        dataset: the records valued.
        commit: the data version valued.
        stored: the commit that stored the values in ``DATASET-values``.
        keys: record ids, aligned with ``values``.
        values: the values (`tillage.selection.valuation.DataValues`).
    """

    dataset: str
    commit: str
    stored: str
    keys: tuple[str, ...]
    values: DataValues

    def lowest(self, count: int) -> list[tuple[str, float, bool]]:
        """The ``count`` records first out: (record id, value, likely mislabelled)."""
        order = self.values.value.argsort(kind="stable")[:count]
        return [
            (self.keys[i], float(self.values.value[i]), bool(self.values.suspect[i])) for i in order
        ]

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values, with the ten records first out."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "stored": self.stored,
            **self.values.to_dict(),
            "lowest": [{"record_id": r, "value": v, "suspect": s} for r, v, s in self.lowest(10)],
        }


class Selections(Namespace):
    """Selections of a repository (``repo.selection``; ``repo.select`` is `select`)."""

    @cached_property
    def _store(self) -> SelectionStore:
        from tillage.store.selections import SelectionStore

        return SelectionStore(self._catalog.engine)

    def _labels(self) -> LabelSets:
        return self._repo.labels.sets(Purpose.SELECT)

    def strategies(self) -> list[StrategyInfo]:
        """Every registered strategy, with what it needs and the action it proposes."""
        from tillage.selection import strategies

        return strategies.registered()

    # -- which records ------------------------------------------------------------

    def select(
        self,
        dataset: str,
        *,
        strategy: str,
        n: int = 50,
        model: str | None = None,
        ref: str | None = None,
        where: str | None = None,
        seed: int = 0,
        params: Mapping[str, Any] | None = None,
        labelset: str | None = None,
        task: str | None = None,
        include_labelled: bool = False,
        predictions: Predictions | None = None,
        features: Features | None = None,
        committee: Sequence[Predictions | str] | None = None,
        extra: Mapping[str, Mapping[str, float]] | None = None,
    ) -> Selection:
        """Choose up to ``n`` records of ``dataset`` by ``strategy`` and store the choice.

        The pool is ``dataset`` at ``ref``, filtered by ``where``, ordered by key,
        without the records that have a current label (in ``labelset``, or in any
        label set over ``dataset``) unless ``include_labelled``, and without the
        records queued for annotation (in ``task``, or in any task over
        ``dataset``). The strategy reads what its ``needs`` name: ``model``'s
        predictions on that version (or ``predictions``), the featurizer's
        vectors (or ``features``), ``committee``, the current labels, ``extra``.

        Args:
            dataset: the dataset to choose from (a one-column key).
            strategy: a registered strategy (``strategies()`` lists them).
            n: how many records; more than the pool selects the whole pool, with a note.
            model: the recorded model whose predictions the strategy reads.
            ref: the version to choose from (default: HEAD).
            where: one SQL condition on the dataset's columns.
            seed: the seed of the strategy's random generator.
            params: the strategy's parameters (JSON-ready values).
            labelset: leave out (and give the strategy) the labels of this label set.
            task: leave out the records queued in this annotation task.
            include_labelled: keep labelled records in the pool (to relabel them).
            predictions: a model's predictions, instead of ``model``'s recorded ones.
            features: record vectors, instead of the default featurizer's.
            committee: several models' predictions, or the names of recorded models
                whose predictions on the pool's version are stored, for disagreement
                strategies. Without it, a strategy that needs a committee gets one made
                from ``model``: its estimator refitted on ``params["bootstrap"]``
                (default 5) bootstrap resamples of the labelled records it was trained
                on (`tillage.selection.committee`), seeded by ``seed``.
            extra: per-record values by name (record id -> value), for ``extra:NAME``.
                What tillage can derive itself it does: ``value`` (stored data
                values), ``label_quality`` (``labelset``'s label issues),
                ``label_model_proba`` and ``lf_conflict`` (``labelset``'s labeling
                function votes), ``slice_error`` (``model``'s error slices).

        Returns:
            The selection, stored with its provenance (one commit on the current branch).

        Raises:
            NoSuchStrategyError: no strategy of that name.
            NoSuchDatasetError, NoSuchRefError: unknown dataset or ref.
            InvalidFilterError: ``where`` is not one condition on the dataset's columns.
            EmptyPoolError: no record is left once filtered and excluded.
            NoSuchModelError: no model is recorded as ``model``.
            NoPredictionsError: the model has no predictions for (all of) the pool.
            InputError: a need the strategy has that nothing supplies, or bad arguments.
        """
        from tillage.selection import strategies

        info = strategies.get(strategy)
        n = _whole(n, "n", 1)
        seed = _whole(seed, "seed", 0)
        checked_params = _json_params(params)
        commit = self._repo.refs.commit(ref)
        if dataset not in commit.pins:
            raise NoSuchDatasetError(
                dataset, ref or self._repo.refs.current_branch, list(commit.pins)
            )
        key = self._record_key(dataset)
        pool_table = self._repo.datasets._read(
            dataset, commit.id, columns=[key], where=where, purpose=Purpose.SELECT
        ).sort_by(key)
        ids = _record_ids(pool_table.column(key))
        total = len(ids)

        sets = self._label_sets(dataset, labelset)
        current = self._current_labels(sets, commit.id)
        excluded = {"labelled": 0, "queued": 0}
        if not include_labelled:
            kept = [i for i in ids if i not in current]
            excluded["labelled"] = len(ids) - len(kept)
            ids = kept
        queued = self._queued(dataset, task)
        kept = [i for i in ids if i not in queued]
        excluded["queued"] = len(ids) - len(kept)
        ids = kept
        if not ids:
            raise EmptyPoolError(dataset, total, excluded)

        inputs = {k: checked_params.pop(k) for k in _input_params(info) if k in checked_params}
        candidates, preds, derived = self._candidates(
            info,
            ids,
            dataset,
            commit.id,
            model=model,
            labelled=current,
            predictions=predictions,
            features=features,
            committee=committee,
            extra=extra,
            labelset=labelset,
            inputs=inputs,
            seed=seed,
        )
        from tillage.selection.selections import choose

        picks, note = choose(info, candidates, n, seed, checked_params)
        return self._store_selection(
            dataset=dataset,
            ref=ref,
            pool_commit=commit.id,
            where=where,
            strategy=info.name,
            params={**checked_params, **derived},
            model=preds.model if preds is not None else model,
            model_version=preds.version if preds is not None else None,
            seed=seed,
            n=n,
            total=total,
            excluded=excluded,
            pool_size=len(ids),
            labelset=labelset,
            task=task,
            include_labelled=include_labelled,
            picks=tuple(picks),
            note=note,
        )

    def _record_key(self, dataset: str) -> str:
        """The one key column of ``dataset``: picks name records by it, as label sets do."""
        key = self._repo.datasets.key(dataset)
        if len(key) != 1:
            raise InputError(
                f"dataset {dataset!r} has a composite key ({', '.join(key)}); selections name "
                "records by a one-column key. Add a column that identifies each record on its "
                "own and select from a dataset keyed by it."
            )
        return key[0]

    def _label_sets(self, dataset: str, labelset: str | None) -> list[str]:
        """The label sets whose labels leave records out: ``labelset``, else all of ``dataset``."""
        if labelset is None:
            return self._store.labelsets(dataset)
        spec = self._labels().get(labelset)
        if spec.records != dataset:
            raise InputError(
                f"label set {labelset!r} labels dataset {spec.records!r}, not {dataset!r}; "
                f"pass a label set over {dataset!r} (or none: every label set over it)."
            )
        return [labelset]

    def _current_labels(self, sets: Sequence[str], commit: str) -> dict[str, str]:
        """Record id -> current label in ``sets`` at ``commit`` (the first set's label wins)."""
        labels: dict[str, str] = {}
        for name in reversed(sets):
            table = self._labels().current(name, commit)
            for record, label in zip(
                table.column("record_id").to_pylist(),
                table.column("label").to_pylist(),
                strict=True,
            ):
                if label is not None:
                    labels[record] = label
        return labels

    def _queued(self, dataset: str, task: str | None) -> set[str]:
        """Records waiting in ``task`` (checked), else in any task over ``dataset``."""
        if task is None:
            return self._store.queued(dataset)
        spec = self._repo.annotation.spec(task)
        records = self._labels().get(spec.labelset).records
        if records != dataset:
            raise InputError(
                f"annotation task {task!r} labels dataset {records!r}, not {dataset!r}; "
                f"pass a task over {dataset!r} (or none: every task over it)."
            )
        return self._store.queued(dataset, task)

    def _candidates(
        self,
        info: StrategyInfo,
        ids: list[str],
        dataset: str,
        commit: str,
        *,
        model: str | None,
        labelled: Mapping[str, str],
        predictions: Predictions | None,
        features: Features | None,
        committee: Sequence[Predictions | str] | None,
        extra: Mapping[str, Mapping[str, float]] | None,
        labelset: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> tuple[Candidates, Predictions | None, dict[str, Any]]:
        """The pool as `Candidates`, with what ``info`` needs lined up by record id, and
        the parameters of the inputs tillage derived (recorded with the selection)."""
        import numpy as np

        from tillage.selection.selections import align, missing_needs
        from tillage.selection.strategies import Candidates

        needs = info.needs
        inputs = dict(inputs or {})
        derived: dict[str, Any] = {}
        if model is not None and model not in self._repo.models.names():
            raise NoSuchModelError(model, self._repo.models.names())
        if predictions is None and model is not None and "proba" in needs:
            predictions = self._predictions(model, dataset, commit)
        proba = None
        classes: tuple[str, ...] = ()
        if predictions is not None:
            proba = _aligned(predictions, ids, dataset, commit)
            classes = tuple(predictions.classes)
        stacked = None
        if committee is None and "committee" in inputs:
            committee = _names(inputs.pop("committee"), "committee")
        if committee is not None:
            if "bootstrap" in inputs:
                raise InputError(
                    "bootstrap= makes a committee from --model alone; with a committee given "
                    "(--committee), leave it out."
                )
            members = list(committee)
            named = [m for m in members if isinstance(m, str)]
            if named:
                derived["committee"] = named
            resolved = [
                self._predictions(self._model_named(m), dataset, commit)
                if isinstance(m, str)
                else m
                for m in members
            ]
            if not resolved:
                raise InputError("committee is empty; give at least two models' predictions.")
            if any(tuple(m.classes) != tuple(resolved[0].classes) for m in resolved):
                raise InputError(
                    "committee members predict different classes; give members with the same "
                    "classes in the same order."
                )
            stacked = np.stack([_aligned(m, ids, dataset, commit) for m in resolved])
            classes = classes or tuple(resolved[0].classes)
        elif "committee" in needs and model is not None:
            stacked, member_classes, made = self._bootstrap(
                model, dataset, commit, ids, inputs, seed
            )
            classes = classes or member_classes
            derived.update(made)
        vectors = labelled_vectors = None
        if features is None and ({"features", "labelled_features"} & needs):
            features = self._features(dataset, commit)
        if features is not None:
            found = align(features.keys, ids)
            if found.missing:
                raise InputError(
                    f"the features of {dataset!r} lack {int((found.rows < 0).sum())} record(s) "
                    f"of the pool, e.g. {', '.join(map(repr, found.missing))}; compute them on "
                    f"the pool's version (commit {commit[:12]})."
                )
            vectors = features.matrix[found.rows]
            rows = align(features.keys, list(labelled)).rows
            labelled_vectors = features.matrix[rows[rows >= 0]]
        extra = dict(extra or {})
        if "extra:value" in needs and "value" not in extra:
            # Without stored values, the strategy's missing need is the error, below.
            with contextlib.suppress(InputError):
                extra["value"] = self.values(dataset, commit)  # stored by `value`
        if "extra:label_quality" in needs and "label_quality" not in extra and labelset:
            extra["label_quality"] = self._label_quality(labelset, ids, commit)
        extras: dict[str, np.ndarray] = {}
        for name, values in extra.items():
            extras[name] = np.array([float(values.get(i, np.nan)) for i in ids], dtype=np.float64)
        voted = {"extra:label_model_proba", "extra:lf_conflict"} & needs
        if labelset and any(n.removeprefix("extra:") not in extras for n in voted):
            lm, conflict = self._votes(labelset, ids, commit, classes)
            extras.setdefault("label_model_proba", lm)
            extras.setdefault("lf_conflict", conflict)
            classes = classes or tuple(self._taxonomy_classes(labelset))
        if "extra:slice_error" in needs and "slice_error" not in extras and model is not None:
            extras["slice_error"], extras["slice"], made = self._slices(
                model, dataset, commit, ids, labelset, inputs
            )
            derived.update(made)
        has_labels = bool(labelled) or "labels" in needs
        candidates = Candidates(
            keys=ids,
            proba=proba,
            classes=classes,
            features=vectors,
            committee=stacked,
            labelled_features=labelled_vectors,
            labels=[labelled.get(i) for i in ids] if has_labels else None,
            extra=extras,
        )
        lacking = missing_needs(info, candidates)
        if lacking:
            raise InputError(
                f"strategy {info.name!r} needs {', '.join(lacking)}, which this call does not "
                f"supply; {_supply(lacking)}"
            )
        if voted and labelset and bool(np.isnan(extras["label_model_proba"]).all()):
            raise InputError(
                f"none of the {len(ids):,} record(s) in the pool has a vote in label set "
                f"{labelset!r}, so there is nothing to compare. A vote counts as a label: "
                "pass --include-labelled to keep the records with votes in the pool."
            )
        return candidates, predictions, derived

    def _slices(
        self,
        model: str,
        dataset: str,
        commit: str,
        ids: Sequence[str],
        labelset: str | None,
        inputs: Mapping[str, Any],
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Each pool record's slice and its error, from ``model``'s error slices on
        ``dataset`` at ``commit`` (`Models.slices` over every column but the key and
        the label, ranked by impact).

        The true labels are ``labelset``'s, else the label set the model was recorded
        with, else the column ``inputs["label"]``. A record in several slices takes
        the one of highest impact; a record in none gets the overall error and an
        empty name.

        Returns:
            The errors and slices (their conditions) aligned with ``ids``, and the parameters
            to record (``label``).
        """
        import numpy as np

        label = inputs.get("label")
        if label is not None and not isinstance(label, str):
            raise InputError(f"label must name a column, not {label!r}.")
        truth = labelset or (None if label is not None else self._repo.models.get(model).labelset)
        if truth is None and label is None:
            raise InputError(
                f"slice_targeted finds the slices where model {model!r} errs against true "
                f"labels; pass --labelset NAME (a label set over {dataset!r}) or --param "
                "label=COLUMN (a column holding them), or record the model with labelset=."
            )
        key = self._record_key(dataset)
        # Every column, not only the model's features: a slice on a column the model
        # does not read is as much a place to collect records as one it reads.
        columns = [
            c for c in self._repo.datasets.schema(dataset, commit).names if c not in (key, label)
        ]
        report = self._repo.models.slices(
            model, dataset, label=label, labelset=truth, ref=commit, columns=columns
        )
        position = {r: i for i, r in enumerate(ids)}
        error = np.full(len(ids), report.error, dtype=np.float64)
        names = np.full(len(ids), "", dtype=object)
        placed = np.zeros(len(ids), dtype=bool)
        for found in report.slices:
            inside = self._repo.datasets._read(
                dataset, commit, columns=[key], where=found.where, purpose=Purpose.SELECT
            )
            rows = [position[r] for r in _record_ids(inside.column(key)) if r in position]
            rows = [i for i in rows if not placed[i]]
            error[rows] = found.error
            names[rows] = " and ".join(c.text for c in found.conditions)
            placed[rows] = True
        return error, names.astype(str), ({"label": label} if label is not None else {})

    def _taxonomy_classes(self, labelset: str) -> list[str]:
        sets = self._labels()
        return [str(c) for c in sets.taxonomy(sets.get(labelset).taxonomy).latest.classes]

    def _votes(
        self, labelset: str, ids: Sequence[str], commit: str, classes: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The label model's probabilities and the labeling functions' conflict per pool
        record, from ``labelset``'s votes at ``commit`` (each function's latest vote).

        The label model (`tillage.labels.label_model.LabelModel`) is fitted on every
        record with a vote. Its columns follow ``classes`` (the classifier's; default:
        the taxonomy's), renormalized when the taxonomy has classes the classifier
        lacks. Conflict is the share of a record's votes against its majority vote.
        A record no function voted on is neutral: NaN probabilities and conflict 0,
        which the strategies never choose.

        Raises:
            InputError: the label set has no votes, or the classifier predicts a class
                the taxonomy does not have.
        """
        import numpy as np
        import pyarrow.compute as pc

        from tillage.labels.functions import Votes
        from tillage.labels.label_model import LabelModel

        events = self._labels().events(labelset, commit)
        events = events.filter(pc.equal(events.column("kind"), "lf"))
        events = events.filter(pc.is_valid(events.column("label")))
        if events.num_rows == 0:
            raise InputError(
                f"label set {labelset!r} holds no labeling function votes to fit a label model "
                f"on; apply functions first (`tillage lf apply FILE {labelset}`), or pass "
                "another label set with --labelset."
            )
        taxonomy = self._taxonomy_classes(labelset)
        chosen = list(classes) or taxonomy
        unknown = [c for c in chosen if c not in taxonomy]
        if unknown:
            raise InputError(
                f"the model predicts class(es) {', '.join(unknown)} that label set "
                f"{labelset!r}'s taxonomy lacks ({', '.join(taxonomy)}); compare a model "
                "over the same classes."
            )
        latest: dict[tuple[str, str], str] = {}
        order = events.sort_by("created_at")
        for record, source, label in zip(
            order.column("record_id").to_pylist(),
            order.column("source").to_pylist(),
            order.column("label").to_pylist(),
            strict=True,
        ):
            latest[(record, source)] = label
        records = sorted({r for r, _ in latest})
        sources = sorted({s for _, s in latest})
        row = {r: i for i, r in enumerate(records)}
        col = {s: j for j, s in enumerate(sources)}
        index = {c: k for k, c in enumerate(taxonomy)}
        matrix = np.full((len(records), len(sources)), -1, dtype=np.int32)
        for (record, source), label in latest.items():
            k = index.get(label)
            if k is not None:
                matrix[row[record], col[source]] = k
        votes = Votes.from_matrix(matrix, taxonomy, sources, records)
        proba = LabelModel().fit(votes).predict_proba()[:, [index[c] for c in chosen]]
        proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
        counts = np.stack([(matrix == k).sum(axis=1) for k in range(len(taxonomy))], axis=1)
        total = counts.sum(axis=1)
        share = np.where(total > 0, 1.0 - counts.max(axis=1) / np.maximum(total, 1), 0.0)
        lm = np.full((len(ids), len(chosen)), np.nan)
        conflict = np.zeros(len(ids))
        for i, record in enumerate(ids):
            r = row.get(record)
            if r is not None:
                lm[i] = proba[r]
                conflict[i] = share[r]
        return lm, conflict

    def _model_named(self, name: str) -> str:
        """``name``, checked to be a recorded model."""
        if name not in self._repo.models.names():
            raise NoSuchModelError(name, self._repo.models.names())
        return name

    def _bootstrap(
        self,
        model: str,
        dataset: str,
        commit: str,
        ids: Sequence[str],
        inputs: Mapping[str, Any],
        seed: int,
    ) -> tuple[np.ndarray, tuple[str, ...], dict[str, Any]]:
        """A committee of ``model``'s estimator refitted on bootstrap resamples of its
        labelled training records, predicting the pool (``ids``); see
        `tillage.selection.committee`.

        The training records are the model's dataset at the commit it was recorded
        against, labelled by the column ``inputs["label"]`` names, else by the label
        set the model was recorded with.

        Returns:
            The members' probabilities (members, pool, classes), the classes, and the
            parameters to record (``bootstrap``: the number of members; ``label``).
        """
        import pyarrow as pa

        from tillage.errors import MissingFeaturesError
        from tillage.selection.committee import bootstrap_committee
        from tillage.selection.selections import align

        members = _whole(inputs.get("bootstrap", BOOTSTRAP_MEMBERS), "bootstrap", 2)
        label = inputs.get("label")
        if label is not None and not isinstance(label, str):
            raise InputError(f"label must name a column, not {label!r}.")
        m = self._repo.models.get(model)
        estimator = self._repo.models.load(model, version=m.version)
        if not m.features:
            raise InputError(
                f"model {model!r} version {m.version} has no recorded feature columns, so "
                "tillage cannot refit it. Record it again with features=[...], or give a "
                "committee of recorded models (--committee A,B)."
            )
        if label is not None:
            truth = self._repo.labels.truth(
                m.dataset, label=label, ref=m.commit_id, purpose=Purpose.SELECT
            )
        elif m.labelset is not None:
            truth = self._repo.labels.truth(
                m.dataset,
                labelset=m.labelset,
                ref=m.labelset_commit or m.commit_id,
                purpose=Purpose.SELECT,
            )
        else:
            raise InputError(
                f"model {model!r} was recorded without a label set, so tillage cannot tell "
                "which labels it was trained on to refit it on resamples of them. Pass "
                f"--param label=COLUMN (the column of {m.dataset!r} holding them), record "
                "the model with labelset=, or give a committee of recorded models "
                "(--committee A,B)."
            )
        features = list(m.features)
        train_key = self._record_key(m.dataset)
        train = self._repo.datasets._read(
            m.dataset,
            m.commit_id,
            columns=list(dict.fromkeys([train_key, *features])),
            purpose=Purpose.SELECT,
        )
        train_ids = _record_ids(train.column(train_key))
        rows = [i for i, r in enumerate(train_ids) if truth.get(r) is not None]
        if not rows:
            raise InputError(
                f"no record of {m.dataset!r} at {m.commit_id[:12]} has a label to refit model "
                f"{model!r} on; label some, or give a committee of recorded models."
            )
        key = self._record_key(dataset)
        names = self._repo.datasets.schema(dataset, commit).names
        missing = [c for c in features if c not in names]
        if missing:
            raise MissingFeaturesError(model, dataset, missing)
        pool = self._repo.datasets._read(
            dataset, commit, columns=list(dict.fromkeys([key, *features])), purpose=Purpose.SELECT
        )
        found = align(_record_ids(pool.column(key)), list(ids))
        pool = pool.take(pa.array(found.rows, pa.int64()))
        named = hasattr(estimator, "feature_names_in_")

        def x(table: pa.Table) -> Any:
            frame = table.select(features).to_pandas()
            return frame if named else frame.to_numpy()

        classes = tuple(m.classes) or tuple(str(c) for c in getattr(estimator, "classes_", ()))
        stacked = bootstrap_committee(
            estimator,
            x(train.take(pa.array(rows, pa.int64()))),
            [str(truth[train_ids[i]]) for i in rows],
            x(pool),
            classes,
            members=members,
            seed=seed,
        )
        made: dict[str, Any] = {"bootstrap": members}
        if label is not None:
            made["label"] = label
        return stacked, classes, made

    def _label_quality(self, labelset: str, ids: Sequence[str], commit: str) -> dict[str, float]:
        """Each pool record's label quality from ``labels issues``: the out-of-sample
        probability of its label where confident learning flags it, 1 elsewhere."""
        found = self._repo.labels.issues(labelset, commit)
        flagged = {i.record_id: i.given_probability for i in found.issues if i.record_id}
        return {r: float(flagged.get(r, 1.0)) for r in ids}

    def _predictions(self, model: str, dataset: str, commit: str) -> Predictions:
        """``model``'s recorded predictions on ``dataset`` at ``commit``."""
        return self._repo.models.predictions(model, dataset, commit)

    def _features(self, dataset: str, commit: str) -> Features:
        """The default featurizer's vectors of ``dataset`` at ``commit``."""
        return self._repo.models.features(dataset, commit)

    def _store_selection(self, **fields: Any) -> Selection:
        """Commit the picks to the ``selections`` dataset and the provenance to the catalog."""
        from tillage.selection.selections import (
            PICKS_KEY,
            PICKS_SCHEMA,
            SELECTIONS,
            Selection,
            picks_table,
        )

        selection_id = uuid4().hex[:12]
        principal = self._scope.principal or self._storage.config.who()
        created_at = datetime.now(UTC).isoformat()
        selection = Selection(id=selection_id, principal=principal, created_at=created_at, **fields)
        where = f" where {selection.where}" if selection.where else ""

        def record(conn: Connection, commit: Commit) -> None:
            self._store.add(
                conn,
                selection_id,
                dataset=selection.dataset,
                ref=selection.ref,
                pool_commit=selection.pool_commit,
                commit_id=commit.id,
                provenance=selection.provenance(),
                principal=principal,
                created_at=created_at,
            )

        self._repo.datasets.check_owned(
            SELECTIONS,
            PICKS_KEY,
            PICKS_SCHEMA.names,
            "the stored selections",
            f"rename that dataset (tillage keeps its selections in {SELECTIONS!r}).",
        )
        commit = self._repo.datasets.ingest(
            SELECTIONS,
            picks_table(selection_id, selection.picks),
            key=list(PICKS_KEY),
            reserved=True,
            message=(
                f"selection {selection_id}: {len(selection.picks)} of {selection.pool_size} "
                f"record(s) of {selection.dataset}@{selection.pool_commit[:12]}{where} "
                f"by {selection.strategy} (seed {selection.seed})"
            ),
            check=False,
            on_commit=record,
        )
        return replace(selection, commit=commit.id)

    # -- stored selections ------------------------------------------------------------

    def get(self, selection_id: str) -> Selection:
        """The stored selection ``selection_id``, picks and provenance as they were made.

        Raises:
            NoSuchSelectionError: no selection has that id.
        """
        record = self._record(selection_id)
        from tillage.selection.selections import SELECTIONS, picks_of

        # Its picks name records by key: values of the dataset's key columns.
        key = self._repo.datasets.key(record.dataset)
        self._reader.grant(Purpose.SELECT, record.dataset, record.commit_id, key)
        table = self._repo.datasets._read(
            SELECTIONS,
            record.commit_id,
            where=f"selection_id = '{record.id}'",
            purpose=Purpose.SELECT,
        )
        return _selection(record, picks_of(table))

    def rerun(
        self,
        selection_id: str,
        *,
        predictions: Predictions | None = None,
        features: Features | None = None,
        committee: Sequence[Predictions] | None = None,
        extra: Mapping[str, Mapping[str, float]] | None = None,
    ) -> Selection:
        """Make selection ``selection_id`` again from its provenance, as a new selection.

        The pool is read at the stored pool commit, with the same filter, strategy,
        parameters, seed and exclusions; give again what the first call was given
        directly (``predictions``, ``features``, ``committee``, ``extra``).

        Raises:
            NoSuchSelectionError: no selection has that id.
        """
        p = self._record(selection_id).provenance
        return self.select(
            p["dataset"],
            strategy=p["strategy"],
            n=p["n"],
            model=p["model"] if predictions is None and committee is None else None,
            ref=p["pool_commit"],
            where=p["where"],
            seed=p["seed"],
            params=p["params"],
            labelset=p["labelset"],
            task=p["task"],
            include_labelled=p["include_labelled"],
            predictions=predictions,
            features=features,
            committee=committee,
            extra=extra,
        )

    def _record(self, selection_id: str) -> SelectionRecord:
        record = self._store.get(selection_id) if isinstance(selection_id, str) else None
        if record is None:
            raise NoSuchSelectionError(str(selection_id))
        return record

    # -- what to do with them ---------------------------------------------------------

    def apply(
        self,
        selection_id: str,
        action: str | None = None,
        *,
        branch: str | None = None,
        task: str | None = None,
        transforms: Mapping[str, Any] | Sequence[Transform | str] | None = None,
        generator: str = "gaussian-copula",
        n: int | None = None,
        seed: int = 0,
    ) -> ActionResult:
        """Act on the records of a stored selection.

        ``label`` and ``relabel`` queue them in annotation ``task`` (default: the
        selection's) under its current spec version; ``label`` refuses records that
        already have a label there, ``relabel`` takes them. The other actions make
        one commit on ``branch`` (default: a new branch ``selection/ID`` off the
        current branch); merging that branch makes the change real and reverting
        its commit undoes it: ``remove`` deletes the records by key; ``augment``
        adds, for each of ``transforms`` and each record, a transformed copy with a
        fresh key; ``generate`` adds ``n`` synthetic records learnt from the
        selected ones by ``generator``, refused (nothing written) when they fit the
        selected records worse than sampling each column on its own does. The
        action, and where each new record came from, are recorded with the commit.

        Args:
            selection_id: the selection.
            action: ``label``, ``relabel``, ``remove``, ``augment`` or ``generate``
                (default: the one its picks propose).
            branch: where ``remove``, ``augment`` and ``generate`` commit (created
                off the current branch if new).
            task: the annotation task for ``label`` and ``relabel``.
            transforms: for ``augment``: `tillage.selection.augment.Transform`
                values or ``NAME:COLUMN`` of one that ships (``word-dropout:text``,
                ``swap-words:text``), or name -> ``function(record) -> record``.
            generator: for ``generate``: ``gaussian-copula`` or ``smote-nc``.
            n: for ``generate``: how many records (default: as many as selected).
            seed: seeds ``augment``'s and ``generate``'s random draws.

        Returns:
            What was done: records, branch and commit, or task and spec version.

        Raises:
            NoSuchSelectionError: no selection has that id.
            NoSuchActionError: an action that does not exist.
            FidelityGateError: generated records failed the fidelity gate.
            InputError: no task for ``label``, records already labelled, a task over
                another dataset, picks proposing several actions, options that do
                not belong to the action, no transforms for ``augment``.
        """
        from tillage.selection.strategies import ACTIONS

        selection = self.get(selection_id)
        if action is None:
            proposed = selection.proposed_actions()
            if len(proposed) != 1:
                raise InputError(
                    f"the picks of selection {selection.id} propose {', '.join(proposed)}; "
                    "say which to apply with --action (action= in Python)."
                )
            action = proposed[0]
        if action not in ACTIONS:
            raise NoSuchActionError(str(action), ACTIONS)
        principal = self._scope.principal or self._storage.config.who()
        if transforms is not None and action != "augment":
            raise InputError(f"transforms are for augment, not {action}.")
        if n is not None and action != "generate":
            raise InputError(f"n (how many records to generate) is for generate, not {action}.")
        if action in ("remove", "augment", "generate"):
            if task is not None:
                raise InputError(f"--task is for label and relabel; {action} takes --branch.")
            if action == "remove":
                return self._remove(selection, branch, principal)
            return self._derive(
                selection, action, branch, principal, transforms, generator, n, seed
            )
        if branch is not None:
            raise InputError(
                f"--branch is for remove; {action} queues records in an annotation task "
                "(--task), which no branch holds."
            )
        result = self._enqueue(selection, action, task)
        self._store.add_action(selection.id, action, result.to_dict(), principal)
        return result

    def actions(self, selection_id: str) -> list[dict[str, Any]]:
        """The actions applied to a selection, oldest first, as JSON-ready values."""
        self._record(selection_id)
        return [
            {
                "action": a.action,
                "principal": a.principal,
                "created_at": a.created_at,
                **a.detail,
            }
            for a in self._store.actions(selection_id)
        ]

    def _enqueue(self, selection: Selection, action: str, task: str | None) -> ActionResult:
        from tillage.selection.selections import ActionResult

        task = task or selection.task
        if task is None:
            raise InputError(
                f"{action} queues records in an annotation task; name it with --task "
                "(task= in Python)."
            )
        spec = self._repo.annotation.spec(task)
        labelset = self._labels().get(spec.labelset)
        if labelset.records != selection.dataset:
            raise InputError(
                f"annotation task {task!r} labels dataset {labelset.records!r}, but selection "
                f"{selection.id} is of {selection.dataset!r}; pick a task over "
                f"{selection.dataset!r}."
            )
        ids = selection.record_ids
        if action == "label":
            current = self._current_labels([spec.labelset], self._repo.refs.commit().id)
            have = [i for i in ids if i in current]
            if have:
                raise InputError(
                    f"{len(have)} record(s) of selection {selection.id} are labelled in "
                    f"{spec.labelset!r} already, e.g. {', '.join(map(repr, have[:5]))}; "
                    "apply relabel to label them again."
                )
        version = spec.version().version
        added = self._repo.annotation.enqueue(task, ids)
        note = None
        if added < len(ids):
            note = f"{len(ids) - added} record(s) were queued in {task} already."
        return ActionResult(
            selection=selection.id,
            action=action,
            records=len(ids),
            task=task,
            spec_version=version,
            queued=added,
            note=note,
        )

    def _remove(self, selection: Selection, branch: str | None, principal: str) -> ActionResult:
        """Delete the records in one commit on ``branch``; the action is recorded with it."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from tillage.selection.selections import ActionResult

        with self._branch_for(selection, branch) as target:
            key = self._record_key(selection.dataset)
            rows = self._repo.datasets._read(
                selection.dataset, target, columns=[key], purpose=Purpose.SELECT
            )
            wanted = pa.array(selection.record_ids, pa.string())
            keys = rows.filter(pc.is_in(_record_ids_array(rows.column(key)), value_set=wanted))
            if keys.num_rows == 0:
                raise InputError(
                    f"none of the {len(selection)} record(s) of selection {selection.id} are in "
                    f"{selection.dataset!r} on branch {target!r}; nothing to remove."
                )
            gone = len(selection) - keys.num_rows
            results: list[ActionResult] = []

            def record(conn: Connection, commit: Commit) -> None:
                result = ActionResult(
                    selection=selection.id,
                    action="remove",
                    records=keys.num_rows,
                    branch=target,
                    commit=commit.id,
                    note=(
                        f"{gone} record(s) of the selection were not on {target} any more."
                        if gone
                        else None
                    ),
                )
                self._store.add_action(selection.id, "remove", result.to_dict(), principal, conn)
                results.append(result)

            self._repo.datasets.ingest(
                selection.dataset,
                keys,
                key=key,
                mode="delete",
                branch=target,
                message=(
                    f"remove {keys.num_rows} record(s) of {selection.dataset} chosen by "
                    f"selection {selection.id} ({selection.strategy})"
                ),
                on_commit=record,
            )
        return results[-1]

    def _derive(
        self,
        selection: Selection,
        action: str,
        branch: str | None,
        principal: str,
        transforms: Mapping[str, Any] | Sequence[Transform | str] | None,
        generator: str,
        n: int | None,
        seed: int,
    ) -> ActionResult:
        """Add records made from the selected ones (``augment``, ``generate``) in one commit."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from tillage.selection.selections import ActionResult

        if action == "augment" and not transforms:
            raise InputError(
                "augment needs transforms: NAME:COLUMN of one that ships (word-dropout:text, "
                "swap-words:text), or in Python name -> function(record) -> record."
            )
        count_ = len(selection) if n is None else _whole(n, "n", 1)
        with self._branch_for(selection, branch) as target:
            key = self._record_key(selection.dataset)
            wanted = pa.array(selection.record_ids, pa.string())
            rows = self._repo.datasets._read(selection.dataset, target, purpose=Purpose.SELECT)
            keys = rows.column(key)
            chosen = rows.filter(pc.is_in(_record_ids_array(rows.column(key)), value_set=wanted))
            if chosen.num_rows == 0:
                raise InputError(
                    f"none of the {len(selection)} record(s) of selection {selection.id} are in "
                    f"{selection.dataset!r} on branch {target!r}; nothing to {action} from."
                )
            made: Any
            if action == "augment":
                from tillage.selection.augment import augment

                assert transforms is not None
                made = augment(chosen, transforms, key=key, seed=seed, taken=[keys])
                how = "transform"
            else:
                from tillage.selection.generate import generate, generator_named

                made = generate(
                    chosen,
                    count_,
                    generator_named(generator),
                    key=key,
                    seed=seed,
                    taken=[keys],
                    where=f"the {chosen.num_rows:,} records of selection {selection.id}",
                )
                how = "generator"
            provenance = made.provenance.to_pylist()
            results: list[ActionResult] = []

            def record(conn: Connection, commit: Commit) -> None:
                result = ActionResult(
                    selection=selection.id,
                    action=action,
                    records=chosen.num_rows,
                    branch=target,
                    commit=commit.id,
                    made=len(made),
                    detail=made.to_dict(),
                )
                self._store.add_action(selection.id, action, result.to_dict(), principal, conn)
                self._store.add_derived(
                    conn,
                    [
                        {
                            "dataset": selection.dataset,
                            "record_id": str(p[key]),
                            "commit_id": commit.id,
                            "derived_from": p["derived_from"],
                            "action": action,
                            "selection_id": selection.id,
                            "how": p[how],
                        }
                        for p in provenance
                    ],
                )
                results.append(result)

            self._repo.datasets.ingest(
                selection.dataset,
                made.records,
                key=key,
                mode="append",
                branch=target,
                message=(
                    f"{action}: {len(made)} record(s) of {selection.dataset} made from the "
                    f"{chosen.num_rows} chosen by selection {selection.id} ({selection.strategy})"
                ),
                on_commit=record,
            )
        return results[-1]

    def derived(
        self, dataset: str, record_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Where ``dataset``'s generated and augmented records came from, oldest first.

        Each: ``record_id``, the ``commit_id`` that added it, ``derived_from`` (the
        source record's id, or None for a generated record), ``action``,
        ``selection_id`` and ``how`` (the transform or generator).
        """
        return self._store.derived(dataset, None if record_ids is None else list(record_ids))

    # -- data values -----------------------------------------------------------

    def value(
        self,
        dataset: str,
        *,
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        folds: int = 5,
        seed: int = 0,
        featurizer: Featurizer | None = None,
        columns: Sequence[str] | None = None,
    ) -> Valuation:
        """Each labelled record's value to a model's accuracy, stored as ``DATASET-values``.

        KNN-Shapley on the featurizer's vectors (`tillage.selection.valuation`), each
        fold of the labelled records in turn the validation set of the rest, and the
        agreement of each record's label with out-of-fold probabilities (the label
        issues' default model on the same columns); the removal order puts likely mislabelled
        records first and the boundary records a model needs last. The values are
        one commit on ``DATASET-values`` (keyed by record id, with the data commit),
        which the ``low_value`` strategy reads.

        Args:
            dataset: the records.
            label: a column of ``dataset`` holding the labels; or
            labelset: a label set over it whose current labels count.
            ref: the data version (default: HEAD).
            folds: validation folds (2 or more).
            seed: shuffles the folds.
            featurizer: your own (default: `tillage.selection.featurize.DefaultFeaturizer`).
            columns: the columns the featurizer reads (default: all but the key and
                ``label``: a record's own label must not place it among its neighbours).

        Raises:
            InputError: neither or both of ``label`` and ``labelset``; fewer labelled
                records than folds, or one class only.
        """
        import numpy as np
        import pyarrow as pa
        from sklearn.model_selection import StratifiedKFold

        from tillage.labels.issues import out_of_sample_probabilities
        from tillage.selection.valuation import knn_shapley, tiered

        folds = _whole(folds, "folds", 2)
        truth = self._repo.labels.truth(
            dataset, label=label, labelset=labelset, ref=ref, purpose=Purpose.ANALYSIS
        )
        commit = self._repo.refs.commit(ref)
        if columns is None:
            skip = {*self._repo.datasets.key(dataset), label}
            columns = [
                c for c in self._repo.datasets.schema(dataset, commit.id).names if c not in skip
            ]
        features = self._repo.models.features(
            dataset, commit.id, featurizer=featurizer, columns=columns
        )
        rows = [i for i, r in enumerate(features.keys) if r in truth]
        ids = [features.keys[i] for i in rows]
        y = np.array([truth[r] for r in ids])
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2 or counts.min() < folds:
            have = dict(zip(classes.tolist(), counts.tolist(), strict=True))
            raise InputError(
                f"valuing records needs at least {folds} labelled records of each of two or "
                f"more classes; {dataset!r} has {have}."
            )
        x = features.matrix[rows].astype(np.float64)
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        records = self._repo.datasets._read(
            dataset, commit.id, columns=list(columns), purpose=Purpose.ANALYSIS
        ).take(pa.array(rows, pa.int64()))
        probs = out_of_sample_probabilities(
            records, y.tolist(), classes=classes.tolist(), folds=folds, seed=seed
        )
        agreement = probs[np.arange(len(y)), np.searchsorted(classes, y)]
        total = np.zeros(len(y))
        seen = np.zeros(len(y))
        for train, valid in split.split(x, y):
            total[train] += knn_shapley(x[train], y[train], x[valid], y[valid])
            seen[train] += 1
        values = tiered(total / np.maximum(seen, 1), agreement)
        store = f"{dataset}{VALUES_SUFFIX}"
        pin = commit.pins[dataset]
        table = pa.table(
            {
                "record_id": pa.array(ids, pa.string()),
                "data_commit": pa.array([commit.id] * len(ids), pa.string()),
                "data_version": pa.array([pin.version_text] * len(ids), pa.string()),
                "value": pa.array(values.value),
                "shapley": pa.array(values.shapley),
                "agreement": pa.array(values.agreement),
                "suspect": pa.array(values.suspect),
            }
        )
        self._repo.datasets.check_owned(
            store,
            ["record_id"],
            table.schema.names,
            f"the data values of {dataset!r}",
            f"rename that dataset (tillage keeps {dataset!r}'s values in {store!r}).",
        )
        made = self._repo.datasets.ingest(
            store,
            table,
            key=["record_id"],
            reserved=True,
            mode="upsert",
            check=False,
            message=(
                f"values of {len(ids):,} records of {dataset} at {commit.short_id} "
                f"(KNN-Shapley, {folds} folds)"
            ),
        )
        return Valuation(dataset, commit.id, made.id, tuple(ids), values)

    def values(self, dataset: str, ref: str | None = None) -> dict[str, float]:
        """Record id -> removal value (lowest first out) stored by `value` for this data
        version of ``dataset``.

        Raises:
            InputError: none stored for it (the message names the command).
        """
        import pyarrow.compute as pc

        commit = self._repo.refs.commit(ref)
        store = f"{dataset}{VALUES_SUFFIX}"
        pin = commit.pins.get(dataset)
        again = (
            f"compute them with `tillage value {dataset} --labelset NAME` (repo.selection.value)"
        )
        if store not in commit.pins or pin is None:
            raise InputError(f"{dataset!r} has no stored data values; {again}.")
        table = self._repo.datasets._read(
            store,
            commit.id,
            columns=["record_id", "data_version", "value"],
            purpose=Purpose.ANALYSIS,
        )
        table = table.filter(pc.equal(table.column("data_version"), pin.version_text))
        if table.num_rows == 0:
            raise InputError(
                f"the stored values of {dataset!r} are of an earlier version than commit "
                f"{commit.short_id}'s; {again}."
            )
        return dict(
            zip(
                table.column("record_id").to_pylist(),
                table.column("value").to_pylist(),
                strict=True,
            )
        )

    @contextlib.contextmanager
    def _branch_for(self, selection: Selection, branch: str | None) -> Iterator[str]:
        """``branch``, else ``selection/ID``, made off the current branch if new; a new one
        is deleted again when the action stops, by any exception (a user's transform, an
        interrupt), before committing to it, so a failed action leaves no branch."""
        target = branch or f"selection/{selection.id}"
        created = target not in self._repo.refs.branches()
        head = self._repo.refs.create_branch(target) if created else None
        try:
            yield target
        except BaseException:
            # The original exception is what the caller must see, not a failed cleanup.
            if created and self._repo.refs.branches().get(target, head) == head:
                with contextlib.suppress(Exception):
                    self._repo.refs.delete_branch(target)
            raise

    def list(self, dataset: str | None = None) -> list[Selection]:
        """Stored selections, newest first (of ``dataset`` only, if given), without their picks."""
        return [_selection(r, ()) for r in self._store.selections(dataset)]


def _whole(value: object, name: str, least: int) -> int:
    """``value`` as a whole number >= ``least`` (bools and floats are refused)."""
    index = None if isinstance(value, bool) else getattr(value, "__index__", None)
    if callable(index) and int(index()) >= least:
        return int(index())
    raise InputError(f"{name} must be a whole number >= {least}, not {value!r}.")


def _input_params(info: StrategyInfo) -> tuple[str, ...]:
    """The parameters that say how tillage derives ``info``'s inputs (not the strategy's own):
    recorded with the selection, never passed to the strategy."""
    names: list[str] = []
    if "committee" in info.needs:
        names += ["committee", "bootstrap", "label"]
    if "extra:slice_error" in info.needs:
        names += ["label"]
    return tuple(dict.fromkeys(names))


def _names(value: object, name: str) -> list[str]:
    """``value`` as a list of model names (a list, or one text of comma-separated names)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{name} must list model names, not {value!r}.")
    return value


def _json_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` as a plain dict of JSON-ready values (they are stored as provenance)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise InputError(f"params must map names to values, not {params!r}.")
    out = dict(params)
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"params must be JSON-ready values (numbers, text, lists, mappings): {e}."
        ) from None
    return out


def _record_ids_array(values: pa.ChunkedArray | pa.Array) -> pa.Array | pa.ChunkedArray:
    from tillage.labels.sets import key_text

    return key_text(values)


def _record_ids(values: pa.ChunkedArray | pa.Array) -> list[str]:
    return [str(v) for v in _record_ids_array(values).to_pylist()]


def _aligned(predictions: Predictions, ids: list[str], dataset: str, commit: str) -> np.ndarray:
    """``predictions.proba`` lined up with ``ids``; every one of them must have a row."""
    from tillage.selection.selections import align

    found = align(predictions.keys, ids)
    if found.missing:
        lacking = int((found.rows < 0).sum())
        raise NoPredictionsError(
            predictions.model,
            dataset,
            commit,
            needs=(
                f"predictions for {lacking} of the {len(ids)} pool record(s) "
                f"(e.g. {', '.join(map(repr, found.missing))})"
            ),
        )
    proba: np.ndarray = predictions.proba[found.rows]
    return proba


def _supply(lacking: Sequence[str]) -> str:
    """How to supply each of ``lacking`` needs, as one sentence."""
    how = {
        "proba": "pass --model NAME (model= or predictions= in Python)",
        "committee": "pass --committee A,B (recorded models with predictions on this "
        "version; committee= in Python), or --model NAME for a bootstrap committee of it",
        "features": "pass features= (a featurizer's vectors)",
        "labelled_features": "pass --labelset NAME with labelled records, and features",
        "labels": "pass --labelset NAME (labelset=) with labelled records",
        "extra:label_quality": "pass --labelset NAME (its label issues give each record's "
        "label quality), or extra={'label_quality': {record id: value}}",
        "extra:label_model_proba": "pass --labelset NAME (the label model is fitted on its "
        "labeling functions' votes)",
        "extra:lf_conflict": "pass --labelset NAME (its labeling functions' votes give each "
        "record's conflict)",
        "extra:slice_error": "pass --model NAME (its error slices, against the labels of "
        "--labelset NAME or --param label=COLUMN)",
        "extra:value": "pass extra={'value': {record id: value}}, or store data values first "
        "with `tillage value DATASET --labelset NAME`",
    }
    parts = [
        how.get(need, f"pass extra={{{need.removeprefix('extra:')!r}: {{record id: value}}}}")
        for need in lacking
    ]
    return "; ".join(parts) + "."


def _selection(record: SelectionRecord, picks: tuple[SelectedRecord, ...]) -> Selection:
    from tillage.selection.selections import Selection

    p = record.provenance
    return Selection(
        id=record.id,
        dataset=record.dataset,
        ref=record.ref,
        pool_commit=record.pool_commit,
        where=p.get("where"),
        strategy=p["strategy"],
        params=p.get("params") or {},
        model=p.get("model"),
        model_version=p.get("model_version"),
        seed=int(p["seed"]),
        n=int(p["n"]),
        total=int(p["total"]),
        excluded=p.get("excluded") or {},
        pool_size=int(p["pool_size"]),
        labelset=p.get("labelset"),
        task=p.get("task"),
        include_labelled=bool(p.get("include_labelled")),
        picks=picks,
        note=p.get("note"),
        commit=record.commit_id,
        principal=record.principal,
        created_at=record.created_at,
    )
