"""`repo.quality`: profiles, schema inference and checks, drift, and alerts.

`tillage.quality.monitor.Monitor` does the work on plain values; this namespace
resolves refs and history and hands it tables and profiles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tillage.access import Purpose
from tillage.api._storage import Namespace
from tillage.core.commit import Commit, DatasetPin
from tillage.core.findings import Finding, redact
from tillage.errors import (
    InputError,
    LabelSetNotDataError,
    NoSuchDatasetError,
    NoSuchModelError,
)
from tillage.formats import is_csv, to_table
from tillage.quality import reference as reference_mod
from tillage.quality.profile import Profile, profile_table
from tillage.quality.results import AcceptedAlert, Alert, CheckRecord
from tillage.quality.schema import Schema
from tillage.quality.schema import infer as infer_schema
from tillage.quality.settings import parse_reference
from tillage.versioning import batches

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.quality.outbox import DeliveryReport
    from tillage.store.monitoring import OutboxRecord


class Quality(Namespace):
    """Data quality of a repository's datasets (``repo.quality``)."""

    def profile(self, dataset: str, ref: str | None = None, *, executor: str = "local") -> Profile:
        """The column profile of ``dataset`` at ``ref`` (merged from its batches when it can).

        A version that must be profiled from its data (after an upsert, say) is
        read in batches here, or one Lance fragment per task on Ray with
        ``executor="ray"``.

        Args:
            dataset: the dataset's name.
            ref: the ref (default: HEAD).
            executor: "local" or "ray".

        Returns:
            The profile: per-column sketches (quantiles, distinct counts, top values).

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset.
            NoSuchRefError: ``ref`` names nothing.
        """
        profile = self._profile(Purpose.PROFILE, dataset, ref, executor)
        return profile.redacted(self._reader.hidden(dataset))

    def _profile(
        self, purpose: Purpose, dataset: str, ref: str | None, executor: str = "local"
    ) -> Profile:
        self._repo.datasets.pin(dataset, ref)  # NoSuchDatasetError names what exists
        commit = self._repo.refs.commit(ref)
        self._reader.grant(purpose, dataset, commit.id)
        return self._monitor.version_profile(
            dataset, self._repo.refs.first_parents(commit), executor
        )

    def infer_schema(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        margin: float = 0.1,
        overwrite: bool = False,
    ) -> tuple[Schema, Path]:
        """Write a reviewable schema for ``dataset`` inferred from its data at ``ref``.

        The file goes to ``schemas/DATASET.yaml`` in the project (or ``path``);
        from then on every ingest into the dataset is checked against it.

        Args:
            dataset: the dataset's name.
            ref: the ref whose data to infer from (default: HEAD).
            path: where to write the file (default: ``schemas/DATASET.yaml``).
            margin: the least relative margin around observed ranges.
            overwrite: replace an existing file.

        Returns:
            The schema and the file written.

        Raises:
            InputError: the file exists and ``overwrite`` is not given.
            NoSuchDatasetError: ``ref`` has no such dataset.
            LabelSetNotDataError: ``dataset`` is a label set (it has label checks).
        """
        self._data_only(dataset, "a schema inferred from them")
        # A person inferring a private dataset's schema gets no domains or ranges
        # of its private columns: the file would show their values.
        prof = self._profile(Purpose.SCHEMA, dataset, ref).redacted(self._reader.hidden(dataset))
        schema = infer_schema(
            prof, dataset=dataset, key=self._repo.datasets.key(dataset), margin=margin
        )
        target = Path(path) if path else self._monitor.schema_path(dataset)
        if target.exists() and not overwrite:
            raise InputError(
                f"{target} already exists; review and edit it, or pass --force "
                "(overwrite=True) to replace it."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        schema.save(target)
        return schema, target

    def check(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        schema: str | os.PathLike[str] | None = None,
    ) -> list[Finding]:
        """Validate ``dataset`` at ``ref`` (or a data ``file``) against its schema file.

        Args:
            dataset: the dataset's name.
            ref: the ref to check (default: HEAD).
            file: check this data file instead of the stored data.
            schema: use this schema file instead of ``schemas/DATASET.yaml``.

        Returns:
            The findings, most severe first.

        Raises:
            InputError: the dataset has no schema file.
            SchemaFileError: the schema file is not valid.
            NoSuchDatasetError: ``ref`` has no such dataset.
            LabelSetNotDataError: ``dataset`` is a label set (it has label checks).
        """
        self._data_only(dataset, "checking them against a schema")
        columns = self._repo.datasets.schema(dataset, ref).names
        spec = self._monitor.schema(dataset, Path(schema) if schema else None, columns)
        if spec is None:
            raise InputError(
                f"dataset {dataset!r} has no schema at "
                f"{self._monitor.relative(self._monitor.schema_path(dataset))}; "
                f"write one with `tillage schema infer {dataset}`."
            )
        table = self._data(Purpose.CHECK, dataset, ref, file)
        return redact(self._monitor.check(dataset, table, spec), self._reader.hidden(dataset))

    def drift(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        against: str | None = None,
        window: int | None = None,
        show_all: bool = False,
    ) -> list[Finding]:
        """Compare ``dataset`` (at ``ref``, or a ``file``) with a reference.

        ``against`` is a ref (the dataset's whole version there) or ``model:NAME``
        (the version that model was trained on); ``window=N`` compares the batch
        the latest commit at ``ref`` wrote (or the file) with the N batches before
        it. Without either, the configured reference (``quality.reference``).
        Findings on columns the model does not use are left out unless ``show_all``.

        Args:
            dataset: the dataset's name.
            ref: the ref to compare (default: HEAD).
            file: compare this data file instead.
            against: the reference: a ref or ``model:NAME``.
            window: compare with the N batches before.
            show_all: keep findings on columns no model uses.

        Returns:
            The findings.

        Raises:
            InputError: both or neither reference given (and none configured), or
                no earlier batches to compare with.
            NoSuchDatasetError, NoSuchRefError, NoSuchModelError: unknown names.
            LabelSetNotDataError: ``dataset`` is a label set (it has label checks).
        """
        self._data_only(dataset, "drift")
        drift = Purpose.DRIFT
        chosen = reference_mod.choose(against, window, self._monitor.settings.reference)
        against, window = chosen.against, chosen.window
        head = self._repo.refs.commit(ref)
        if dataset not in head.pins:
            raise NoSuchDatasetError(
                dataset, ref or self._repo.refs.current_branch, list(head.pins)
            )
        if window is not None:
            start: str | None = head.id
            if file is not None:
                current = profile_table(self._data(drift, dataset, None, file))
            else:
                touched = self._repo.refs.log(head.id, dataset=dataset, limit=1)
                if touched:
                    self._reader.grant(drift, dataset, touched[0].id)
                blobs = self._monitor.batch_profile(dataset, touched[0].id) if touched else None
                current = blobs if blobs is not None else self._profile(drift, dataset, head.id)
                start = touched[0].parents[0] if touched and touched[0].parents else None
            reference = self._window_reference(drift, dataset, start, window) if start else None
            if reference is None:
                raise InputError(
                    f"no earlier batches of {dataset!r} to compare with at {ref or 'HEAD'}; "
                    "use --against REF instead."
                )
        else:
            assert against is not None
            reference = self._reference(drift, dataset, against)  # an unknown one caches nothing
            current = (
                profile_table(self._data(drift, dataset, None, file))
                if file is not None
                else self._profile(drift, dataset, head.id)
            )
        schema = self._monitor.schema(dataset)
        found = self._monitor.drift(
            dataset, current, reference[0], reference[1], schema, self._repo.datasets.key(dataset)
        )
        found = redact(found, self._reader.hidden(dataset))
        return found if show_all else [f for f in found if not f.suppressed]

    def _data(
        self,
        purpose: Purpose,
        dataset: str,
        ref: str | None,
        file: str | os.PathLike[str] | None,
    ) -> pa.Table:
        if file is None:
            return self._repo.datasets._read(dataset, ref, purpose=purpose)
        types = self._repo.datasets.csv_types(dataset, ref) if is_csv(file) else None
        table = batches.normalize(to_table(file, types=types))
        if table.num_rows == 0:
            raise InputError(f"{file} has no rows; there is nothing to check or compare.")
        return table

    def _window_reference(
        self, purpose: Purpose, dataset: str, before: str | None, n: int
    ) -> tuple[Profile, str] | None:
        """Merged profiles of the batches the last ``n`` commits up to ``before`` wrote."""
        start = self._catalog.get_commit(before) if before is not None else None
        if start is None:
            return None
        commits = reference_mod.window_commits(dataset, self._repo.refs.first_parents(start), n)
        if not commits:
            return None
        for c in commits:
            self._reader.grant(purpose, dataset, c.id)
        prof = self._monitor.window_profile(dataset, [c.id for c in commits])
        if prof is None:
            return None
        return prof, reference_mod.window_name(commits)

    def _reference(self, purpose: Purpose, dataset: str, spec: str) -> tuple[Profile, str]:
        """The profile of the version ``spec`` (a ref or ``model:NAME``) names."""
        kind, arg = parse_reference(spec)
        if kind == "model":
            models = self._monitor.store.models(name=str(arg))
            if not models:
                raise NoSuchModelError(str(arg), self._repo.models.names())
            m = models[0]
            name = reference_mod.model_name(m.name, m.commit_id)
            return self._profile(purpose, dataset, m.commit_id), name
        commit = self._repo.refs.commit(spec)
        return self._profile(purpose, dataset, commit.id), reference_mod.version_name(spec, commit)

    def ingest_reference(self, dataset: str, head: Commit | None) -> tuple[Any, str] | None:
        """The profile and name of what ingest compares a batch of data with (see
        `tillage.quality.reference.for_ingest`); None for nothing."""
        if head is None:
            return None
        chosen = reference_mod.for_ingest(self._monitor.settings.reference)
        if chosen is None:
            return None
        if chosen.window is not None:
            return self._window_reference(Purpose.ALERT, dataset, head.id, chosen.window)
        assert chosen.against is not None
        return self._reference(Purpose.ALERT, dataset, chosen.against)

    def _data_only(self, dataset: str, what: str) -> None:
        """Refuse ``what`` (a data check) for a label set: it gets label checks."""
        if self._storage.label_store.label_set(dataset) is not None:
            raise LabelSetNotDataError(dataset, what)

    def label_findings(
        self, dataset: str, batch: pa.Table, head: Commit | None, pins: Mapping[str, DatasetPin]
    ) -> list[Finding] | None:
        """What writing ``batch`` does to label set ``dataset`` (None: it is no label set).

        A label set gets the label checks of `tillage.labels.checks` instead of the
        data checks, comparing its version at ``head`` (``pins``) with the write.
        """
        spec = self._storage.label_store.label_set(dataset)
        if spec is None:
            return None
        from tillage.labels import checks

        parent = pins.get(dataset)
        if head is None or parent is None or not checks.wants_check(batch):
            return []
        self._reader.grant(Purpose.ALERT, dataset, head.id)
        records = pins.get(spec.records)
        return checks.compare(
            self._monitor.events(dataset, parent, checks.COLUMNS),
            batch,
            labelset=dataset,
            records=records.num_rows if records is not None else 0,
            reference=f"{dataset} at {head.short_id}",
        )

    def checks(self, ref: str | None = None) -> list[CheckRecord]:
        """What ingest checked and found when it made the commit ``ref`` names.

        Returns:
            Per dataset written: the schema file, the reference and the findings.

        Raises:
            NoSuchRefError: ``ref`` names no commit.
        """
        commit = self._repo.refs.commit(ref)
        found = self._monitor.store.checks(commit.id)
        records = []
        for check in found:
            hidden = self._reader.grant(Purpose.CHECK, check["dataset"], commit.id)
            record = CheckRecord.from_dict(check)
            if hidden is not None:
                record = replace(record, findings=tuple(redact(record.findings, hidden)))
            records.append(record)
        return records

    def alerts(
        self, *, show_all: bool = False, dataset: str | None = None, commit: str | None = None
    ) -> list[Alert]:
        """Open alerts, newest first.

        Args:
            show_all: also muted, resolved and accepted ones.
            dataset: only this dataset's.
            commit: only those this ref's commit opened or updated.

        Raises:
            NoSuchRefError: ``commit`` names nothing.
        """
        statuses = None if show_all else ["open"]
        cid = self._repo.refs.commit(commit).id if commit is not None else None
        found = self._monitor.store.alerts(statuses=statuses, dataset=dataset, commit_id=cid)
        hidden = {
            (ds, last): self._reader.grant(Purpose.ALERT, ds, last)
            for ds, last in dict.fromkeys((a.dataset, a.last_commit) for a in found)
        }
        return [a.redacted(hidden[a.dataset, a.last_commit]) for a in found]

    def deliver_alerts(self, *, retry_dead: bool = False, due_only: bool = False) -> DeliveryReport:
        """Send the alert events the outbox holds to the sinks now.

        Args:
            retry_dead: also those given up after too many tries.
            due_only: only those whose wait after a failed try is over (what the
                worker sends).

        Returns:
            How many were delivered, failed, given up or left for later.
        """
        return self._monitor.deliver(due_only=due_only, retry_dead=retry_dead)

    def alert_deliveries(self, *, show_all: bool = False) -> list[OutboxRecord]:
        """Alert events not delivered yet, and those given up (``show_all``: every one kept)."""
        return self._monitor.deliveries(None if show_all else ["pending", "sending", "dead"])

    def accept_alert(self, alert_id: int) -> AcceptedAlert:
        """Accept what an alert found: widen the schema file, then re-check the data.

        Returns:
            The alert, the schema file changed (if any) and the findings of the
            re-check on the alert's branch that are still about its column.

        Raises:
            NoSuchAlertError: no alert has that id.
            AlertNotAcceptableError: no schema rule covers what it found.
        """
        alert, path = self._monitor.accept(alert_id)
        remaining: list[Finding] = []
        spec = self._monitor.schema(alert.dataset)
        head = self._repo.refs.find_commit(alert.branch)
        if spec is not None and head is not None and alert.dataset in head.pins:
            table = self._repo.datasets._read(alert.dataset, head.id, purpose=Purpose.ALERT)
            remaining = redact(
                (
                    f
                    for f in self._monitor.check(alert.dataset, table, spec)
                    if f.column == alert.column
                ),
                self._reader.hidden(alert.dataset),
            )
        return AcceptedAlert(
            alert=self._shown(alert),
            schema_file=str(path) if path else None,
            remaining=tuple(remaining),
        )

    def mute_alert(self, alert_id: int, duration: str | None = None) -> Alert:
        """Mute an alert (for a duration like ``7d``, or until unmuted by resolving it).

        Returns:
            The alert.

        Raises:
            NoSuchAlertError: no alert has that id.
            InputError: a bad duration.
        """
        return self._shown(self._monitor.mute(alert_id, duration))

    def resolve_alert(self, alert_id: int) -> Alert:
        """Close an alert; the same problem later opens a new one.

        Returns:
            The alert.

        Raises:
            NoSuchAlertError: no alert has that id.
        """
        return self._shown(self._monitor.resolve(alert_id))

    def _shown(self, alert: Alert) -> Alert:
        """The alert as its callers see it (its text names values: a read for alerts)."""
        hidden = self._reader.grant(Purpose.ALERT, alert.dataset, alert.last_commit)
        return alert.redacted(hidden)
