"""Label sets: versioned tables of label events, with provenance, over a dataset's records.

A label set is an ordinary dataset (so commits pin it, branches, diffs and
merges work on it) with one row per label *event*: which record, which label,
who or what gave it (``kind``: ``lf``, ``annotator``, ``model``, ``aggregate``,
``import``; ``source``: the function, annotator or model), under which
taxonomy version and annotation-spec version, how confident, and when.
Nothing is overwritten: a new label is a new event. The *current* label of a
record is its latest ``aggregate`` event, else its latest event of any kind.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.commit import Commit
from tillage.core.names import check_name
from tillage.errors import InputError, NoSuchDatasetError, NoSuchLabelSetError
from tillage.labels.checks import LABEL_MODEL, current_labels
from tillage.labels.results import (
    AggregatedAnnotations,
    AppliedFunctions,
    GoldAccuracy,
    LabelSet,
    MigrationReport,
    Relabel,
    Tally,
)
from tillage.labels.taxonomy import Taxonomy
from tillage.store.annotation import AnnotationIndex, Counts, Event, Version
from tillage.store.labels import LabelStore

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from tillage.labels.functions import Votes
    from tillage.labels.issues import LabelIssues

KINDS: tuple[str, ...] = ("lf", "annotator", "model", "aggregate", "import")
EVENT_KEY = "event_id"
EVENT_SCHEMA = pa.schema(
    [
        pa.field(EVENT_KEY, pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("taxonomy_version", pa.int64(), nullable=False),
        pa.field("spec_version", pa.int64()),
        pa.field("confidence", pa.float64()),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def key_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Key values as the record ids that label sets store: Arrow's text of each value.

    One form for every key type, exact for 64-bit integers (no float round trip)
    and for timestamps (``2013-01-01 05:00:00Z``), so that ids typed by hand, read
    from a file or taken from the dataset compare equal.
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return pc.cast(values, pa.string())


def as_record_ids(values: Sequence[Any], key_type: pa.DataType, what: str) -> pa.Array:
    """``values`` (ids as given: text or Python values) in the form of `key_text`.

    Each value is read as a value of the key's type first, so ``"2013-01-01T05:00:00Z"``
    and a ``datetime`` name the same record as the stored ``2013-01-01 05:00:00Z``.
    ``what`` names the key column for the error.
    """
    values = list(values)
    if any(v is None for v in values):
        raise InputError(f"record ids must not be missing (None); give a value of {what}.")
    try:
        given = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types, above int64
        given = pa.array([str(v) for v in values], pa.string())
    try:
        return key_text(pc.cast(given, key_type))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        raise InputError(
            f"record ids must be values of {what} ({key_type}): {e}. Give the ids as "
            "`tillage labels show` or `tillage head` prints them."
        ) from None


class RepoLike(Protocol):
    """What label sets need of a repository (`tillage.Repo` has it)."""

    def ingest(
        self,
        dataset: str,
        data: Any,
        *,
        key: str | Sequence[str] | None = None,
        message: str | None = None,
        branch: str | None = None,
        on_commit: Callable[[Connection, Commit], None] | None = None,
    ) -> Commit: ...

    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pa.Table: ...

    def key(self, dataset: str) -> list[str]: ...

    def branch(self) -> str:
        """The branch writes go to by default."""
        ...

    def schema(self, dataset: str, ref: str | None = None) -> pa.Schema: ...


def events(
    record_ids: Sequence[Any],
    labels: Sequence[str | None],
    *,
    kind: str,
    source: str,
    taxonomy_version: int,
    spec_version: int | None = None,
    confidence: Sequence[float | None] | float | None = None,
) -> pa.Table:
    """Label events as a table in the label-set schema."""
    if kind not in KINDS:
        raise InputError(f"unknown label kind {kind!r}; use one of {', '.join(KINDS)}.")
    n = len(record_ids)
    if len(labels) != n:
        raise InputError(f"{n} record ids but {len(labels)} labels; give one label per record.")
    conf = (
        [confidence] * n
        if confidence is None or isinstance(confidence, float | int)
        else list(confidence)
    )
    if len(conf) != n:
        raise InputError(f"{n} records but {len(conf)} confidences.")
    now = datetime.now(UTC)
    return pa.table(
        {
            EVENT_KEY: [uuid.uuid4().hex for _ in range(n)],
            "record_id": [str(r) for r in record_ids],
            "label": list(labels),
            "kind": [kind] * n,
            "source": [source] * n,
            "taxonomy_version": [taxonomy_version] * n,
            "spec_version": [spec_version] * n,
            "confidence": [None if c is None else float(c) for c in conf],
            "created_at": [now] * n,
        },
        schema=EVENT_SCHEMA,
    )


def counts_for(tax: Taxonomy) -> Counts:
    """Whether an annotation counts towards a spec version: made under that version, or
    with a class the taxonomy map carries over unchanged to the version's taxonomy."""

    def counts(event: Event, version: Version) -> bool:
        if event.spec_version == version.spec_version:
            return True
        if event.label is None or event.taxonomy_version > version.taxonomy_version:
            return False  # labels are carried forward only
        return tax.carries_cleanly(event.label, event.taxonomy_version, version.taxonomy_version)

    return counts


def annotator_events(table: pa.Table) -> list[Event]:
    """The annotator events among label events (a label-set table), as the index holds them."""
    kinds = table.column("kind")
    rows = table.filter(pc.equal(kinds, "annotator")).to_pylist()
    return [
        Event(
            event_id=r[EVENT_KEY],
            record_id=r["record_id"],
            annotator=r["source"],
            label=r["label"],
            taxonomy_version=int(r["taxonomy_version"]),
            spec_version=r["spec_version"],
            created_at=r["created_at"].isoformat(timespec="microseconds"),
        )
        for r in rows
    ]


class LabelSets:
    """Label sets of one repository (see the module doc)."""

    def __init__(
        self,
        repo: RepoLike,
        store: LabelStore,
        project: Any,
        flush: Callable[[str], object] | None = None,
    ) -> None:
        """``flush(name)`` commits label set ``name``'s pending annotations (see
        `tillage.labels.annotation`); reads of the current labels call it first."""
        self.repo = repo
        self.store = store
        self.project = project
        self.flush = flush

    def taxonomy(self, name: str) -> Taxonomy:
        """The taxonomy file ``taxonomies/NAME.yaml`` of the project (``name`` is checked)."""
        return Taxonomy.load(self.project / "taxonomies" / f"{check_name(name, 'taxonomy')}.yaml")

    def get(self, name: str) -> LabelSet:
        found = self.store.label_set(name)
        if found is None:
            raise NoSuchLabelSetError(name, [s.name for s in self.store.label_sets()])
        return LabelSet.from_record(found)

    def create(self, name: str, records: str, taxonomy: str) -> LabelSet:
        if self.store.label_set(name) is not None:
            raise InputError(f"label set {name!r} exists already.")
        self.record_key(records)  # NoSuchDatasetError names it; one key column
        self.taxonomy(taxonomy)  # the file must exist and parse
        self.store.add_label_set(name, records, taxonomy)
        return self.get(name)

    def add(
        self,
        name: str,
        record_ids: Sequence[Any],
        labels: Sequence[str | None],
        *,
        kind: str,
        source: str,
        taxonomy_version: int | None = None,
        spec_version: int | None = None,
        confidence: Sequence[float | None] | float | None = None,
        message: str | None = None,
        branch: str | None = None,
    ) -> Commit:
        """Add label events (one commit); records and classes are checked first."""
        spec = self.get(name)
        tax = self.taxonomy(spec.taxonomy)
        version = tax.version(taxonomy_version)
        bad = sorted({lb for lb in labels if lb is not None and lb not in version.classes})
        if bad:
            raise InputError(
                f"label(s) {', '.join(map(repr, bad))} are not classes of taxonomy "
                f"{tax.name!r} version {version.version} ({', '.join(version.classes)})."
            )
        ids = self.check_records(spec, record_ids, branch)
        table = events(
            ids,
            labels,
            kind=kind,
            source=source,
            taxonomy_version=version.version,
            spec_version=spec_version,
            confidence=confidence,
        )
        indexed: Callable[[Connection, Commit], None] | None = None
        if kind == "annotator":  # imported annotations count for annotation tasks too
            made = annotator_events(table)

            def index(conn: Connection, _commit: Commit) -> None:
                AnnotationIndex(self.store.engine).imported(conn, name, made, counts_for(tax))

            indexed = index

        return self.repo.ingest(
            name,
            table,
            key=EVENT_KEY,
            message=message or f"{len(table)} label(s) from {kind} {source}",
            branch=branch,
            on_commit=indexed,
        )

    def record_key(self, dataset: str) -> str:
        """The one key column of ``dataset``, whose values label sets use as record ids."""
        key = self.repo.key(dataset)
        if len(key) != 1:
            raise InputError(
                f"dataset {dataset!r} has a composite key ({', '.join(key)}); label sets need "
                "a one-column key. Add a column that identifies each record on its own and "
                "label a dataset keyed by it."
            )
        return key[0]

    def check_records(
        self, spec: LabelSet, record_ids: Sequence[Any], ref: str | None
    ) -> list[str]:
        """``record_ids`` as stored record ids (`key_text`); each must name a record."""
        key = self.record_key(spec.records)
        column = self.repo.read(spec.records, ref, columns=[key]).column(key)
        what = f"the key column {key!r} of dataset {spec.records!r}"
        ids = as_record_ids(record_ids, column.type, what)
        missing = pc.invert(pc.is_in(ids, value_set=key_text(column)))
        unknown = ids.filter(missing).to_pylist()
        if unknown:
            shown = ", ".join(map(repr, unknown[:5]))
            raise InputError(
                f"{len(unknown)} record id(s) are not in dataset {spec.records!r}, e.g. {shown}; "
                "label records that exist (check the id column)."
            )
        return list(ids.to_pylist())

    def events(self, name: str, ref: str | None = None) -> pa.Table:
        """Every label event of ``name`` at ``ref`` (none yet: an empty table).

        Without ``ref``, pending annotations are committed first, so that every
        reader of labels sees every submitted annotation.
        """
        self.get(name)
        if ref is None and self.flush is not None:
            self.flush(name)
        try:
            return self.repo.read(name, ref)
        except NoSuchDatasetError:
            return EVENT_SCHEMA.empty_table()

    def current(self, name: str, ref: str | None = None) -> pa.Table:
        """One row per labelled record: its current label and where it came from."""
        return current_labels(self.events(name, ref)).drop_columns([EVENT_KEY])

    def training_set(self, dataset: str, name: str, ref: str | None = None) -> pa.Table:
        """``dataset`` at ``ref`` joined with the current labels of label set ``name``."""
        spec = self.get(name)
        if spec.records != dataset:
            raise InputError(
                f"label set {name!r} labels dataset {spec.records!r}, not {dataset!r}."
            )
        key = self.record_key(dataset)
        data = self.repo.read(dataset, ref)
        labels = self.current(name, ref).rename_columns(
            {
                "record_id": "__record",
                "label": "label",
                "kind": "label_kind",
                "source": "label_source",
                "taxonomy_version": "label_taxonomy_version",
                "spec_version": "label_spec_version",
                "confidence": "label_confidence",
                "created_at": "label_time",
            }
        )
        data = data.append_column("__record", key_text(data.column(key)))
        joined = data.join(labels, keys="__record", join_type="inner").drop_columns(["__record"])
        column = joined.column(key)
        if pa.types.is_dictionary(column.type):  # Arrow sorts no dictionary column: its values
            return joined.take(pc.sort_indices(column.cast(column.type.value_type)))
        return joined.sort_by(key)

    def issues(
        self, name: str, ref: str | None = None, *, model: Any = None, folds: int = 5, seed: int = 0
    ) -> LabelIssues:
        """Likely label errors in label set ``name`` at ``ref`` (see `tillage.Repo.label_issues`).

        The features are the records' columns but the key; each issue's ``record_id``
        is the record id as the label set stores it.
        """
        from tillage.labels.issues import find_label_issues, out_of_sample_probabilities

        spec = self.get(name)
        data = self.training_set(spec.records, name, ref)
        key = self.record_key(spec.records)
        features = data.select(
            [c for c in data.column_names if c != key and not c.startswith("label")]
        )
        labels = data.column("label").to_pylist()
        classes = sorted({lb for lb in labels if lb is not None})
        if len(classes) < 2:
            have = f"labels of only {classes[0]!r}" if classes else "no labels yet"
            raise InputError(
                f"label set {name!r} has {have}; finding label issues needs labelled records "
                "of at least 2 classes. Add labels (`tillage labels add`, `tillage lf apply`, "
                "`tillage annotate`) first."
            )
        probs = out_of_sample_probabilities(
            features, labels, classes=classes, model=model, folds=folds, seed=seed
        )
        found = find_label_issues(labels, probs, classes=classes)
        return found.of_records(name, key_text(data.column(key)).to_pylist())

    def migrate(self, name: str, to_version: int | None = None) -> MigrationReport:
        """Carry every event of an older taxonomy version to ``to_version`` (default latest).

        Carried labels are written as new events (same kind and source, the new
        taxonomy version), in one commit. Returns what could not be carried:
        the records to label again, and the labeling functions to run again
        because some of their labels were split or removed.
        """
        spec = self.get(name)
        tax = self.taxonomy(spec.taxonomy)
        target = tax.version(to_version).version
        rows = [r for r in self.events(name).to_pylist() if r["taxonomy_version"] < target]
        carried_rows: list[dict[str, Any]] = []
        relabel: dict[str, str] = {}
        rerun: set[str] = set()
        for r in rows:
            moved = tax.carry([r["label"]], r["taxonomy_version"], target)
            if moved.relabel:
                relabel[r["record_id"]] = moved.reasons[0]
                if r["kind"] == "lf":
                    rerun.add(r["source"])
                continue
            carried_rows.append({**r, "label": moved.labels[0]})
        commit = None
        if carried_rows:
            table = pa.Table.from_pylist(carried_rows, schema=EVENT_SCHEMA)
            table = table.set_column(
                0, EVENT_KEY, pa.array([uuid.uuid4().hex for _ in carried_rows], pa.string())
            )
            table = table.set_column(
                table.schema.get_field_index("taxonomy_version"),
                "taxonomy_version",
                pa.array([target] * len(carried_rows), pa.int64()),
            )
            commit = self.repo.ingest(
                name,
                table,
                key=EVENT_KEY,
                message=f"carry {len(carried_rows)} label(s) to taxonomy {tax.name} v{target}",
            ).id
        return MigrationReport(
            labelset=name,
            taxonomy=tax.name,
            version=target,
            carried=len(carried_rows),
            commit=commit,
            relabel=tuple(Relabel(record_id=k, why=v) for k, v in sorted(relabel.items())),
            rerun_labeling_functions=tuple(sorted(rerun)),
        )

    def votes(
        self, name: str, lfs: Sequence[Any], *, ref: str | None = None, gold: str | None = None
    ) -> tuple[pa.Table, Votes, list[str], list[Any] | None]:
        """The label set's records, the functions' votes on them, the records' ids, and
        (with ``gold``, a label set over the same records) each record's gold label or None.

        Raises:
            InputError: ``gold`` labels another dataset.
        """
        from tillage.labels.functions import apply

        spec = self.get(name)
        classes = list(self.taxonomy(spec.taxonomy).latest.classes)
        key = self.record_key(spec.records)
        records = self.repo.read(spec.records, ref)
        votes = apply(list(lfs), records, classes=classes, key=key)
        ids = key_text(records.column(key)).to_pylist()
        gold_labels: list[Any] | None = None
        if gold is not None:
            gold_spec = self.get(gold)
            if gold_spec.records != spec.records:
                raise InputError(
                    f"gold label set {gold!r} labels dataset {gold_spec.records!r}, but "
                    f"{name!r} labels {spec.records!r}; pass a label set over {spec.records!r}."
                )
            current = self.current(gold, ref)
            by_id = dict(
                zip(
                    current.column("record_id").to_pylist(),
                    current.column("label").to_pylist(),
                    strict=True,
                )
            )
            gold_labels = [by_id.get(i) for i in ids]
        return records, votes, ids, gold_labels

    def apply_functions(
        self,
        name: str,
        lfs: Sequence[Any],
        *,
        ref: str | None = None,
        model: bool = True,
        gold: str | None = None,
        write: bool = True,
    ) -> AppliedFunctions:
        """Run labeling functions over the records, store their votes and the label model's.

        ``write=False`` only reports (coverage, overlap, conflict, accuracy, errors).

        One commit adds an ``lf`` event per (record, function) vote and, with
        ``model``, an ``aggregate`` event per record from the label model (its
        most likely class, with that probability as confidence). Records a
        function failed on are reported by id, never dropped silently. ``gold``
        names a label set over the same records whose current labels measure
        each function's accuracy and the label model's. The label set's own
        annotator labels are the label model's gold (see `LabelModel.fit`).

        Returns the commit id (None when nothing was written), ``votes`` and
        ``labels`` (totals and per class), ``gold`` (records and the label
        model's accuracy on them), the per-function report and the errors.
        """
        from tillage.labels.functions import report
        from tillage.labels.label_model import LabelModel

        spec = self.get(name)
        tax = self.taxonomy(spec.taxonomy)
        classes = list(tax.latest.classes)
        _, votes, ids, gold_labels = self.votes(name, lfs, ref=ref, gold=gold)
        summary = report(votes, gold=gold_labels)
        parts = []
        for j, lf_name in enumerate(votes.lf_names):
            fired = [i for i in range(len(ids)) if votes.matrix[i, j] >= 0]
            if fired:
                parts.append(
                    events(
                        [ids[i] for i in fired],
                        [classes[int(votes.matrix[i, j])] for i in fired],
                        kind="lf",
                        source=lf_name,
                        taxonomy_version=tax.latest.version,
                    )
                )
        vote_count = sum(p.num_rows for p in parts)
        fitted = None
        labelled: list[str] = []
        if model and len(ids):
            fitted = LabelModel().fit(votes, gold=self._annotated(name, ref, ids, classes))
            probs = fitted.predict_proba()
            labelled = [classes[int(b)] for b in probs.argmax(axis=1)]
            parts.append(
                events(
                    ids,
                    labelled,
                    kind="aggregate",
                    source=LABEL_MODEL,
                    taxonomy_version=tax.latest.version,
                    confidence=[float(p) for p in probs.max(axis=1)],
                )
            )
        commit = None
        if parts and write:
            commit = self.repo.ingest(
                name,
                pa.concat_tables(parts),
                key=EVENT_KEY,
                message=f"votes of {len(votes.lf_names)} labeling function(s)"
                + (" and the label model" if fitted is not None else ""),
            ).id
        vote_classes = [classes[v] for v in votes.matrix[votes.matrix >= 0].tolist()]
        return AppliedFunctions(
            labelset=name,
            commit=commit,
            votes=_tally(vote_count, vote_classes, classes),
            labels=_tally(len(labelled), labelled, classes),
            gold=_gold_accuracy(gold, gold_labels, labelled),
            report=summary,
            errors=tuple(votes.errors),
            model=fitted,
        )

    def _annotated(
        self, name: str, ref: str | None, ids: Sequence[str], classes: Sequence[str]
    ) -> dict[int, int]:
        """Gold for the label model: record index -> class index, from the annotators.

        A record's gold is the class most of its annotators gave; a tie gives none.
        """
        per_record: dict[str, Counter[str]] = {}
        for a in self.annotations(name, ref):
            per_record.setdefault(a["record"], Counter())[a["label"]] += 1
        index = {c: i for i, c in enumerate(classes)}
        gold = {}
        for i, record in enumerate(ids):
            counts = per_record.get(record)
            if counts:
                (top, n), *rest = counts.most_common(2)
                if not rest or rest[0][1] < n:
                    gold[i] = index[top]
        return gold

    def annotations(
        self, name: str, ref: str | None = None, *, spec_version: int | None = None
    ) -> list[dict[str, Any]]:
        """Annotators' labels (record, annotator, label), in the latest taxonomy's classes.

        Annotations whose class does not carry to the latest taxonomy version are left out.
        """
        tax = self.taxonomy(self.get(name).taxonomy)
        version = tax.latest.version
        table = self.events(name, ref)
        annotated = table.filter(pc.equal(table.column("kind"), "annotator"))
        carried = []
        for r in annotated.to_pylist():
            if r["label"] is None:
                continue
            if spec_version is not None and r["spec_version"] != spec_version:
                continue
            label = tax.carry([r["label"]], r["taxonomy_version"], version).labels[0]
            if label is not None:
                carried.append({"record": r["record_id"], "annotator": r["source"], "label": label})
        return carried

    def aggregate_annotations(
        self, name: str, *, spec_version: int | None = None
    ) -> AggregatedAnnotations:
        """Combine annotators' labels (Dawid-Skene): one ``aggregate`` event per record.

        Returns the annotator-quality report (estimated accuracy and confusion
        matrix per annotator) and the commit.
        """
        from tillage.labels.label_model import aggregate

        tax = self.taxonomy(self.get(name).taxonomy)
        carried = self.annotations(name, spec_version=spec_version)
        if not carried:
            raise InputError(f"label set {name!r} has no annotations to aggregate yet.")
        version = tax.latest.version
        result = aggregate(carried, classes=list(tax.latest.classes))
        table = events(
            list(result.records),
            list(result.labels),
            kind="aggregate",
            source="dawid-skene",
            taxonomy_version=version,
            confidence=[float(c) for c in result.confidence],
        )
        commit = self.repo.ingest(
            name, table, key=EVENT_KEY, message=f"aggregate {len(carried)} annotation(s)"
        )
        return AggregatedAnnotations(labelset=name, commit=commit.id, result=result)


def _tally(total: int, labels: Sequence[str], classes: Sequence[str]) -> Tally:
    """A total and the count per class (every class, in taxonomy order)."""
    counts = Counter(labels)
    return Tally(total=total, per_class={c: counts.get(c, 0) for c in classes})


def _gold_accuracy(
    gold: str | None, gold_labels: Sequence[Any] | None, labelled: Sequence[str]
) -> GoldAccuracy | None:
    """The label model's accuracy on the records ``gold`` labels (None without gold)."""
    if gold is None or gold_labels is None:
        return None
    known = [i for i, g in enumerate(gold_labels) if g is not None]
    right = sum(labelled[i] == gold_labels[i] for i in known) if labelled else 0
    return GoldAccuracy(
        labelset=gold,
        records=len(known),
        model_accuracy=right / len(known) if labelled and known else None,
    )
