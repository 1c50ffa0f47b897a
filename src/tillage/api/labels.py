"""`repo.labels`: label sets, label events, labeling functions, training sets, label issues.

`tillage.labels.sets.LabelSets` does the work; it reads and writes through
``repo.datasets``, so label events are commits like any other write, and every
read it makes is recorded with the purpose of the call that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tillage.access import Purpose
from tillage.api._storage import Namespace
from tillage.core.commit import Commit
from tillage.core.names import check_name, check_unreserved
from tillage.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.api.datasets import Datasets
    from tillage.labels.issues import LabelIssues
    from tillage.labels.results import (
        AggregatedAnnotations,
        AppliedFunctions,
        LabelSet,
        MigrationReport,
    )
    from tillage.labels.sets import LabelSets
    from tillage.privacy.dp_reports import DPFunctionReport


class _ReadsFor:
    """``repo.datasets`` as label sets use it, with every read made for ``purpose``."""

    def __init__(self, datasets: Datasets, purpose: Purpose, branch: Callable[[], str]) -> None:
        self._datasets = datasets
        self._purpose = purpose
        self.ingest = datasets.ingest
        self.key = datasets.key
        self.schema = datasets.schema
        self.branch = branch

    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        return self._datasets._read(
            dataset, ref, columns=columns, limit=limit, purpose=self._purpose
        )


class Labels(Namespace):
    """The label sets of a repository (``repo.labels``)."""

    def sets(self, purpose: Purpose = Purpose.LABELS) -> LabelSets:
        """The label sets' service, reading records for ``purpose``."""
        from tillage.labels.annotation import Annotation
        from tillage.labels.sets import LabelSets

        refs = self._repo.refs
        reads = _ReadsFor(self._repo.datasets, purpose, lambda: refs.current_branch)
        sets = LabelSets(
            reads,
            self._storage.label_store,
            self._storage.path,
            flush=lambda name: Annotation(sets).flush_labelset(name),
        )
        return sets

    def create(self, name: str, *, records: str, taxonomy: str) -> LabelSet:
        """Register a label set over a dataset's records.

        Args:
            name: the label set's name (a dataset name).
            records: the dataset whose records it labels (by primary key).
            taxonomy: the taxonomy file ``taxonomies/NAME.yaml`` of its classes.

        Returns:
            The label set's record.

        Raises:
            InvalidNameError: a bad name.
            NoSuchDatasetError, NoSuchTaxonomyError: unknown records or taxonomy.
        """
        check_unreserved(check_name(name, "label set"), "label set")
        created = self.sets().create(name, records, taxonomy)
        self._storage.forget_read_policy()  # labels of private records are private
        return created

    def add(
        self,
        labelset: str,
        record_ids: Sequence[Any],
        labels: Sequence[str | None],
        *,
        kind: str = "import",
        source: str,
        taxonomy_version: int | None = None,
        spec_version: int | None = None,
        confidence: Sequence[float | None] | float | None = None,
        message: str | None = None,
        branch: str | None = None,
    ) -> Commit:
        """Add label events to a label set, as one commit (records and classes are checked).

        Many annotations at once (an import from another tool, say) go in here with
        ``kind="annotator"`` and their ``spec_version``.

        Args:
            labelset: the label set.
            record_ids: the records labelled, by key.
            labels: one class (or None: no label) per record.
            kind: "import", "annotator", "function", "model" or "aggregate".
            source: who or what labelled them.
            taxonomy_version: the taxonomy version of the classes (default: latest).
            spec_version: the annotation task-spec version, for annotators.
            confidence: one per record, or one for all.
            message: the commit message.
            branch: the branch to commit on.

        Returns:
            The commit.

        Raises:
            InputError: unknown records or classes, or mismatched lengths.
            NoSuchLabelSetError: no such label set.
        """
        return self.sets().add(
            labelset,
            record_ids,
            labels,
            kind=kind,
            source=source,
            taxonomy_version=taxonomy_version,
            spec_version=spec_version,
            confidence=confidence,
            message=message,
            branch=branch,
        )

    def current(self, labelset: str, ref: str | None = None) -> pa.Table:
        """The current label of each labelled record (latest aggregate, else latest event).

        Raises:
            NoSuchLabelSetError: no such label set.
        """
        return self.sets().current(labelset, ref)

    def truth(
        self,
        dataset: str,
        *,
        label: str | None = None,
        labelset: str | None = None,
        ref: str | None = None,
        purpose: Purpose = Purpose.LABELS,
    ) -> dict[str, str]:
        """Record id -> true label: a column of ``dataset`` (``label``), or the current
        labels of a label set over it (``labelset``); records without one are left out.

        Raises:
            InputError: neither or both given, or an unknown column.
        """
        from tillage.labels.sets import key_text

        if (label is None) == (labelset is None):
            raise InputError(
                "say where the true labels are: label=COLUMN (a column of the dataset) or "
                "labelset=NAME (its current labels), one of them."
            )
        if labelset is not None:
            current = self.current(labelset, ref)
            pairs = zip(
                current.column("record_id").to_pylist(),
                current.column("label").to_pylist(),
                strict=True,
            )
        else:
            assert label is not None
            key = self._repo.datasets.key(dataset)
            if len(key) != 1:
                raise InputError(
                    f"dataset {dataset!r} has a composite key; true labels name each record "
                    "by a one-column key."
                )
            table = self._repo.datasets._read(
                dataset, ref, columns=[key[0], label], purpose=purpose
            )
            pairs = zip(
                key_text(table.column(key[0])).to_pylist(),
                table.column(label).to_pylist(),
                strict=True,
            )
        return {str(r): str(v) for r, v in pairs if v is not None}

    def migrate(self, labelset: str, to_version: int | None = None) -> MigrationReport:
        """Carry labels to a newer taxonomy version; lists what must be labelled again.

        Raises:
            NoSuchLabelSetError: no such label set.
            InputError: no such taxonomy version.
        """
        return self.sets().migrate(labelset, to_version)

    def training_set(
        self,
        dataset: str,
        labelset: str,
        ref: str | None = None,
        *,
        purpose: Purpose = Purpose.TRAINING_SET,
    ) -> pa.Table:
        """``dataset`` at ``ref`` with each record's label, confidence and provenance.

        Args:
            dataset: the records.
            labelset: the label set over them.
            ref: the ref to read both at (default: HEAD).
            purpose: what the rows are read for (recorded, see `tillage.access`).

        Raises:
            NoSuchDatasetError, NoSuchLabelSetError: unknown dataset or label set.
        """
        return self.sets(purpose).training_set(dataset, labelset, ref)

    def apply_functions(
        self,
        labelset: str,
        functions: Sequence[Any],
        *,
        ref: str | None = None,
        model: bool = True,
        gold: str | None = None,
        write: bool = True,
    ) -> AppliedFunctions:
        """Apply labeling functions to the records and store their votes in one commit.

        The label model takes the label set's annotator labels as gold (each
        record's majority label): they set the class balance, anchor the
        functions' accuracies and choose between the fit and the weighted vote.
        ``result.model.mode`` and ``.reason`` say which labelled the records and why.

        Args:
            labelset: the label set.
            functions: labeling functions (``@tillage.labeling_function``).
            ref: the records' ref.
            model: also store the label model's labels.
            gold: a CSV of known labels to report the label model's accuracy on.
            write: False reports without storing anything.

        Returns:
            The commit, the votes and labels per class, the accuracy on ``gold``,
            the per-function report and errors.
        """
        return self.sets().apply_functions(
            labelset, functions, ref=ref, model=model, gold=gold, write=write
        )

    def report_functions(
        self,
        labelset: str,
        functions: Sequence[Any],
        *,
        ref: str | None = None,
        gold: str | None = None,
        epsilon: float | None = None,
    ) -> AppliedFunctions | DPFunctionReport:
        """How labeling functions do on the label set's records; writes nothing.

        When the records' dataset is private and this principal may not read it raw,
        the report comes as DP answers (`tillage.privacy.dp_reports.DPFunctionReport`):
        each function's coverage, overlap, conflict and errors as DP counts, and with
        ``gold`` its accuracy as a ratio of two DP counts, all released at once for
        ``epsilon`` from this principal's budget; no record id or value appears in it.
        Otherwise it is the exact report of ``apply_functions(..., write=False)``.

        Args:
            labelset: the label set.
            functions: labeling functions (``@tillage.labeling_function``).
            ref: the records' ref.
            gold: a label set over the same records, to measure accuracy against.
            epsilon: the ε to spend on a DP report (required for one; ignored otherwise).

        Raises:
            DPQueryError: a DP report without ``epsilon``, or not a number > 0.
            NoBudgetError: the policy sets the private dataset no budget.
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was released.
            NoSuchLabelSetError: no such label set.
        """
        records = self.sets().get(labelset).records
        privacy = self._repo.privacy
        if not privacy._needs_dp(records):
            return self.apply_functions(labelset, functions, ref=ref, gold=gold, write=False)
        import numpy as np

        from tillage.labels.functions import gold_indices
        from tillage.privacy.dp_reports import lf_categories, lf_items, lf_report

        what = f"the labeling-function report on {labelset!r}"
        dpol = privacy._dp_ready(records, epsilon, what)
        assert epsilon is not None
        commit = self._repo.refs.commit(ref).id
        table, votes, _, gold_labels = self.sets(Purpose.AGGREGATE).votes(
            labelset, functions, ref=ref, gold=gold
        )
        failed = np.zeros(votes.matrix.shape, dtype=bool)
        for e in votes.errors:
            failed[e.row, votes.lf_names.index(e.lf)] = True
        gold_idx = gold_indices(votes, gold_labels) if gold_labels is not None else None
        categories = lf_categories(votes.n_lfs, gold is not None)
        unit = dpol.privacy_unit
        released = privacy._release_counts(
            records,
            commit,
            lf_items(votes.matrix, failed, gold_idx),
            categories,
            per_record=len(categories),  # each count at most once per record
            units=table.column(unit) if unit != "row" else None,
            epsilon=epsilon,
            query={
                "kind": "lf_report",
                "labelset": labelset,
                "gold": gold,
                "functions": list(votes.lf_names),
                "counts": len(categories),
            },
        )
        return lf_report(labelset, gold, votes.lf_names, released)

    def aggregate_annotations(
        self, labelset: str, *, spec_version: int | None = None
    ) -> AggregatedAnnotations:
        """Combine annotators' labels per record (Dawid-Skene); returns annotator quality.

        Raises:
            NoSuchLabelSetError: no such label set.
        """
        return self.sets().aggregate_annotations(labelset, spec_version=spec_version)

    def issues(
        self,
        labelset: str,
        ref: str | None = None,
        *,
        model: Any = None,
        folds: int = 5,
        seed: int = 0,
    ) -> LabelIssues:
        """Likely label errors in a label set, by confident learning, most certain first.

        Out-of-sample probabilities come from ``folds``-fold cross-validation of
        ``model`` (default: logistic regression on the record's columns) on the
        training set at ``ref``.

        Returns:
            The issues, each naming the record, its label and the suggested one.

        Raises:
            NoSuchLabelSetError: no such label set.
            InputError: too few labelled records for ``folds``.
        """
        return self.sets(Purpose.LABEL_ISSUES).issues(
            labelset, ref, model=model, folds=folds, seed=seed
        )
