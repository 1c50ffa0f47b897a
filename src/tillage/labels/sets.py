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
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.commit import Commit
from tillage.errors import InputError, NoSuchDatasetError
from tillage.labels.taxonomy import Taxonomy
from tillage.store.labels import LabelSetRecord, LabelStore

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
    ) -> Commit: ...

    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> pa.Table: ...

    def key(self, dataset: str) -> list[str]: ...


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


class LabelSets:
    """Label sets of one repository (see the module doc)."""

    def __init__(self, repo: RepoLike, store: LabelStore, project: Any) -> None:
        self.repo = repo
        self.store = store
        self.project = project

    def taxonomy(self, name: str) -> Taxonomy:
        return Taxonomy.load(self.project / "taxonomies" / f"{name}.yaml")

    def get(self, name: str) -> LabelSetRecord:
        found = self.store.label_set(name)
        if found is None:
            known = ", ".join(s.name for s in self.store.label_sets()) or "none yet"
            raise InputError(
                f"no label set {name!r} (label sets: {known}); create one with "
                "repo.create_labelset(name, records=DATASET, taxonomy=NAME)."
            )
        return found

    def create(self, name: str, records: str, taxonomy: str) -> LabelSetRecord:
        if self.store.label_set(name) is not None:
            raise InputError(f"label set {name!r} exists already.")
        self.repo.key(records)  # NoSuchDatasetError names it
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
        self.check_records(spec, record_ids, branch)
        table = events(
            record_ids,
            labels,
            kind=kind,
            source=source,
            taxonomy_version=version.version,
            spec_version=spec_version,
            confidence=confidence,
        )
        return self.repo.ingest(
            name,
            table,
            key=EVENT_KEY,
            message=message or f"{len(table)} label(s) from {kind} {source}",
            branch=branch,
        )

    def check_records(
        self, spec: LabelSetRecord, record_ids: Sequence[Any], ref: str | None
    ) -> None:
        key = self.repo.key(spec.records)
        if len(key) != 1:
            raise InputError(
                f"dataset {spec.records!r} has a composite key; label sets need a one-column key."
            )
        known = self.repo.read(spec.records, ref, columns=key).column(key[0])
        ids = pa.array([str(r) for r in record_ids])
        missing = pc.invert(pc.is_in(ids, value_set=pc.cast(known, pa.string())))
        unknown = ids.filter(missing).to_pylist()
        if unknown:
            shown = ", ".join(map(repr, unknown[:5]))
            raise InputError(
                f"{len(unknown)} record id(s) are not in dataset {spec.records!r}, e.g. {shown}; "
                "label records that exist (check the id column)."
            )

    def events(self, name: str, ref: str | None = None) -> pa.Table:
        """Every label event of ``name`` at ``ref`` (none yet: an empty table)."""
        self.get(name)
        try:
            return self.repo.read(name, ref)
        except NoSuchDatasetError:
            return EVENT_SCHEMA.empty_table()

    def current(self, name: str, ref: str | None = None) -> pa.Table:
        """One row per labelled record: its current label and where it came from."""
        table = self.events(name, ref)
        rows = sorted(
            table.to_pylist(),
            key=lambda r: (r["record_id"], r["kind"] == "aggregate", r["created_at"]),
        )
        latest: dict[str, dict[str, Any]] = {}
        for r in rows:
            latest[r["record_id"]] = r
        picked = list(latest.values())
        return pa.Table.from_pylist(picked, schema=EVENT_SCHEMA).drop_columns([EVENT_KEY])

    def training_set(self, dataset: str, name: str, ref: str | None = None) -> pa.Table:
        """``dataset`` at ``ref`` joined with the current labels of label set ``name``."""
        spec = self.get(name)
        if spec.records != dataset:
            raise InputError(
                f"label set {name!r} labels dataset {spec.records!r}, not {dataset!r}."
            )
        [key] = self.repo.key(dataset)
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
        data = data.append_column("__record", pc.cast(data.column(key), pa.string()))
        joined = data.join(labels, keys="__record", join_type="inner")
        return joined.drop_columns(["__record"]).sort_by(key)

    def migrate(self, name: str, to_version: int | None = None) -> dict[str, Any]:
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
        return {
            "labelset": name,
            "taxonomy": tax.name,
            "version": target,
            "carried": len(carried_rows),
            "commit": commit,
            "relabel": [{"record_id": k, "why": v} for k, v in sorted(relabel.items())],
            "rerun_labeling_functions": sorted(rerun),
        }
