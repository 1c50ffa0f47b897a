"""The monitor: profiles, schema checks, drift and alerts for one repository.

`Repo` resolves refs and history and hands the monitor plain values (tables,
pins, commit ids); the monitor keeps profiles and alerts in the catalog and
reads schema files from the project. Ingest uses it in two steps around the
data write: `Monitor.check_batch` before anything is written (a ``block``
finding stops the commit), `Monitor.record` inside the commit's catalog
transaction (profiles, findings, alerts and the alerts' outbox rows land with
the commit or not at all). Sinks get the alerts after the commit, from the
outbox (`Monitor.deliver`, see `tillage.quality.outbox`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection, Engine

from tillage.core.commit import Commit, DatasetPin
from tillage.core.duration import parse_duration
from tillage.core.findings import Finding, Importance
from tillage.core.policy import DatasetPolicy
from tillage.errors import AlertNotAcceptableError, InputError, NoSuchAlertError, SchemaFileError
from tillage.quality import drift as drift_mod
from tillage.quality import outbox
from tillage.quality import schema as schema_mod
from tillage.quality.profile import Profile, profile_table
from tillage.quality.results import Alert
from tillage.quality.settings import QualitySettings
from tillage.quality.sinks import Sink, sinks_from_config
from tillage.quality.triage import importances, triage
from tillage.store.monitoring import MonitoringStore, OutboxRecord
from tillage.store.tables import Tables

_PROFILE_BATCH_ROWS = 1 << 20
_CACHED_BATCHES = 256


@dataclass
class BatchCheck:
    """What ingest found in one batch, before it is committed."""

    dataset: str
    profile: Profile
    findings: list[Finding]
    schema_file: str | None = None
    schema_sha256: str | None = None
    reference: str | None = None

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "block"]


class Monitor:
    """Monitoring for one repository (see the module docstring)."""

    def __init__(
        self, engine: Engine, tables: Tables, project: Path, settings: QualitySettings
    ) -> None:
        self.store = MonitoringStore(engine)
        self.tables = tables
        self.project = project
        self.settings = settings
        self._sinks: list[Sink] | None = None
        self._batches: dict[tuple[str, str], Profile] = {}
        self._windows: dict[str, _SlidingWindow] = {}
        self._schemas: dict[Path, tuple[tuple[int, int], schema_mod.Schema]] = {}

    # -- profiles -----------------------------------------------------------

    def version_profile(
        self, dataset: str, history: Iterable[Commit], executor: str = "local"
    ) -> Profile:
        """The profile of ``dataset`` at the first commit of ``history`` (its first-parent line).

        Stored profiles are used as they are. Otherwise the versions that appends
        made are rebuilt by merging their batches' profiles onto the nearest
        stored (or computed) earlier version: O(batches since then), never a scan
        of old rows. A version written any other way is profiled from its data.
        The result is stored, so the next call is one lookup.
        """
        appended: list[Profile] = []  # batches appended since ``base``, newest first
        base: Profile | None = None
        target: DatasetPin | None = None
        for c in history:
            pin = c.pins.get(dataset)
            if pin is None:
                break
            target = target or pin
            data = self.store.version_profile(dataset, pin.lance_branch, pin.version)
            if data is not None:
                base = Profile.from_bytes(data)
                break
            change = c.changes.get(dataset)
            if change is None:
                continue  # a commit that did not touch the dataset pins the same version
            batch = self.batch_profile(dataset, c.id) if change.get("op") == "append" else None
            if batch is not None:
                appended.append(batch)
                continue
            base = self._scan(dataset, pin, executor)
            break
        if target is None:
            raise InputError(f"dataset {dataset!r} is not in that commit.")
        if base is None:  # reached the dataset's first commit through appends only
            base = appended.pop()
        for batch in reversed(appended):
            base = base.merge(batch)
        self.store.put_version_profile(
            dataset, target.lance_branch, target.version, target.num_rows, base.to_bytes()
        )
        return base

    def _scan(self, dataset: str, pin: DatasetPin, executor: str = "local") -> Profile:
        """Profile a version from its data (writes other than appends), in bounded batches,
        or one Lance fragment per Ray task with ``executor="ray"``."""
        if executor == "ray":
            from tillage.quality.ray_profile import profile_on_ray

            return profile_on_ray(self.tables, dataset, pin)
        if executor != "local":
            raise InputError(f"profiles run locally or on ray, not {executor!r}.")
        ds = self.tables.open(dataset, pin)
        if pin.num_rows == 0:
            return profile_table(ds.schema.empty_table())
        prof = Profile.empty()
        for batch in ds.to_batches(batch_size=_PROFILE_BATCH_ROWS):
            prof = prof.merge(profile_table(batch))
        return prof

    def _stored_batches(self, dataset: str, commit_ids: Sequence[str]) -> list[str]:
        """Those of ``commit_ids`` with a stored batch profile, decoded into the cache."""
        missing = [c for c in commit_ids if (c, dataset) not in self._batches]
        for cid, blob in self.store.batch_profiles(missing, dataset).items():
            self._remember((cid, dataset), Profile.from_bytes(blob))
        return [c for c in commit_ids if (c, dataset) in self._batches]

    def batch_profile(self, dataset: str, commit_id: str) -> Profile | None:
        """The profile of the batch ``commit_id`` wrote into ``dataset``, if stored."""
        found = self._stored_batches(dataset, [commit_id])
        return self._batches[(commit_id, dataset)] if found else None

    def window_profile(self, dataset: str, commit_ids: Sequence[str]) -> Profile | None:
        """The merged profiles of the batches these commits wrote, newest first (None: none)."""
        found = self._stored_batches(dataset, commit_ids)
        if not found:
            return None
        window = self._windows.setdefault(dataset, _SlidingWindow())
        return window.merged(found[::-1], lambda c: self._batches[(c, dataset)])

    def _remember(self, key: tuple[str, str], prof: Profile) -> None:
        """Keep decoded batch profiles (immutable, like their commits) for the next window."""
        self._batches[key] = prof
        while len(self._batches) > _CACHED_BATCHES:
            del self._batches[next(iter(self._batches))]

    def events(self, dataset: str, pin: DatasetPin, columns: Sequence[str]) -> pa.Table:
        """``columns`` of the version ``pin`` names, read whole (a label set's events)."""
        return self.tables.open(dataset, pin).to_table(columns=list(columns))

    # -- schema -------------------------------------------------------------

    def schema_path(self, dataset: str) -> Path:
        return self.project / self.settings.schemas_dir / f"{dataset}.yaml"

    def schema(
        self, dataset: str, path: Path | None = None, columns: Sequence[str] | None = None
    ) -> schema_mod.Schema | None:
        """The dataset's schema file, parsed (None when there is none).

        With the dataset's ``columns``, a file written for another dataset or
        naming columns the dataset does not have is a `SchemaFileError`.
        """
        found = self._load_schema(dataset, path)
        if found is None or columns is None:
            return found
        source = self.relative(path or self.schema_path(dataset))
        if found.dataset != dataset:
            raise SchemaFileError(
                source,
                f"it is the schema of dataset {found.dataset!r}, not {dataset!r}",
                f"point to {dataset}'s own schema, or write one with `tillage schema infer "
                f"{dataset}`",
            )
        unknown = [n for n in found.names if n not in columns]
        if unknown:
            raise SchemaFileError(
                source,
                f"it names column(s) {', '.join(unknown)} that {dataset!r} does not have "
                f"(its columns: {', '.join(columns)})",
                "fix the names (a typo?) or remove those columns from the file",
            )
        return found

    def _load_schema(self, dataset: str, path: Path | None) -> schema_mod.Schema | None:
        p = path or self.schema_path(dataset)
        if not p.is_file():
            if path is not None:
                raise InputError(f"no schema file at {p}; write one with `tillage schema infer`.")
            return None
        stat = p.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._schemas.get(p)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        loaded = schema_mod.Schema.load(p)
        self._schemas[p] = (stamp, loaded)
        return loaded

    def relative(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.project.resolve()))
        except ValueError:
            return str(path)

    # -- findings -----------------------------------------------------------

    def ranked(self, dataset: str) -> dict[str, Importance] | None:
        """Column importances of the latest model recorded for ``dataset``."""
        models = [m for m in self.store.models(dataset=dataset) if m.importance]
        if not models:
            return None
        m = models[0]
        return importances(f"{m.name}#{m.id}", m.importance)

    def triage(self, dataset: str, findings: Sequence[Finding]) -> list[Finding]:
        return triage(
            findings,
            self.ranked(dataset),
            suppress_unimportant=self.settings.suppress_unimportant,
            min_importance=self.settings.min_importance,
        )

    def check(self, dataset: str, table: pa.Table, schema: schema_mod.Schema) -> list[Finding]:
        """Schema findings for ``table``, triaged."""
        ref = self.relative(self.schema_path(dataset))
        return self.triage(dataset, schema_mod.check(table, schema, reference=ref))

    def drift(
        self,
        dataset: str,
        current: Profile,
        reference: Profile,
        reference_name: str,
        schema: schema_mod.Schema | None,
        key: Sequence[str],
    ) -> list[Finding]:
        """Drift findings of ``current`` against ``reference``, triaged."""
        found = self._compare(dataset, current, reference, reference_name, schema, key)
        return self.triage(dataset, found)

    def _compare(
        self,
        dataset: str,
        current: Profile,
        reference: Profile,
        reference_name: str,
        schema: schema_mod.Schema | None,
        key: Sequence[str],
    ) -> list[Finding]:
        return drift_mod.compare(
            current,
            reference,
            dataset=dataset,
            reference_name=reference_name,
            settings=self.settings.drift,
            skip=_drift_skipped(schema, reference, key, dataset),
        )

    def check_batch(
        self,
        dataset: str,
        batch: pa.Table,
        reference: tuple[Profile, str] | None,
        key: Sequence[str],
        labels: Sequence[Finding] | None = None,
    ) -> BatchCheck:
        """Profile a batch about to be written, check it against the schema and reference.

        ``labels``: the batch is a label set's, and these are its label findings
        (`tillage.labels.checks`); it gets those instead of schema and drift checks.
        """
        prof = profile_table(batch)
        _ = self.sinks  # a bad sink entry stops the ingest before anything is written
        if labels is not None:
            return BatchCheck(dataset, prof, self.triage(dataset, labels))
        schema = self.schema(dataset, columns=batch.column_names)
        findings: list[Finding] = []
        result = BatchCheck(dataset, prof, findings)
        if schema is not None:
            path = self.schema_path(dataset)
            result.schema_file = self.relative(path)
            result.schema_sha256 = schema.content_hash
            findings.extend(schema_mod.check(batch, schema, reference=result.schema_file))
        if reference is not None:
            ref_prof, name = reference
            result.reference = name
            findings.extend(self._compare(dataset, prof, ref_prof, name, schema, key))
        result.findings = self.triage(dataset, findings)
        return result

    def record(
        self,
        conn: Connection,
        commit: Commit,
        branch: str,
        checked: BatchCheck,
        parent: DatasetPin | None,
        created: bool,
        private: DatasetPolicy | None = None,
    ) -> None:
        """Store a committed batch's profile, findings and alerts with its commit.

        Each open alert's event is queued in the outbox for every sink, in the
        same transaction: the sinks hear of exactly the alerts that landed. The
        alerts are stored whole (accepting one widens the schema by its values);
        the events of a ``private`` dataset carry them redacted, since the people
        a sink reaches may not see its values.
        """
        ds = checked.dataset
        data = checked.profile.to_bytes()
        MonitoringStore.put_batch_profile(conn, commit.id, ds, checked.profile.rows, data)
        self._remember((commit.id, ds), checked.profile)
        # A new dataset's version is its batch; later versions are merged when asked
        # for (`version_profile`), so an ingest pays only for its own batch.
        pin = commit.pins[ds]
        if created:
            self.store.put_version_profile(
                ds, pin.lance_branch, pin.version, pin.num_rows, data, conn
            )
        now = _now()
        numbered: list[Finding] = []
        for f in checked.findings:
            if f.suppressed or f.severity == "info":
                numbered.append(f)
                continue
            alert, new = MonitoringStore.upsert_alert(conn, branch, f.to_dict(), commit.id, now)
            numbered.append(f.with_(alert_id=alert.id))
            if alert.status == "open" and self.sinks:
                event = {
                    "event": "alert.opened" if new else "alert.updated",
                    "alert": alert.redacted(private).to_dict(),
                    "finding": numbered[-1].redacted(private).to_dict(),
                    "repo": str(self.project),
                    "commit": commit.id,
                }
                outbox.queue(conn, self.sinks, event, alert_id=alert.id, commit_id=commit.id)
        checked.findings = numbered
        MonitoringStore.put_check(
            conn,
            commit.id,
            ds,
            schema_file=checked.schema_file,
            schema_sha256=checked.schema_sha256,
            reference=checked.reference,
            findings=[f.to_dict() for f in checked.findings],
        )

    # -- alerts -------------------------------------------------------------

    @property
    def sinks(self) -> list[Sink]:
        if self._sinks is None:
            self._sinks = sinks_from_config(list(self.settings.sinks), base_dir=self.project)
        return self._sinks

    def deliver(
        self, *, budget: float | None = None, due_only: bool = True, retry_dead: bool = False
    ) -> outbox.DeliveryReport:
        """Send what the outbox holds to the sinks (see `tillage.quality.outbox.drain`).

        ``retry_dead`` first puts rows that were given up back in the queue. With
        a ``budget`` (right after a commit) a failure of the catalog itself is
        reported, not raised: the commit has landed and its events stay queued.
        """
        try:
            if retry_dead:
                self.store.revive_dead(_now())
            if not self.sinks and not self.store.outbox_counts()["pending"]:
                return outbox.DeliveryReport()
            return outbox.drain(self.store, self.sinks, budget=budget, due_only=due_only)
        except Exception as err:
            if budget is None:
                raise
            return outbox.DeliveryReport(
                errors=(
                    f"the commit landed, but its alert events could not be delivered now "
                    f"({type(err).__name__}: {err}); they stay queued for `tillage alerts "
                    "deliver` or the worker.",
                )
            )

    def deliveries(self, statuses: Sequence[str] | None = None) -> list[OutboxRecord]:
        """Outbox rows (with these statuses), oldest first."""
        return self.store.outbox(statuses)

    def alert(self, alert_id: int) -> Alert:
        found = self.store.alert(alert_id)
        if found is None:
            raise NoSuchAlertError(alert_id)
        return found

    def mute(self, alert_id: int, duration: str | None) -> Alert:
        self.alert(alert_id)
        until = (datetime.now(UTC) + parse_duration(duration)).isoformat() if duration else None
        return self.store.set_alert_status(alert_id, "muted", muted_until=until)

    def resolve(self, alert_id: int) -> Alert:
        self.alert(alert_id)
        return self.store.set_alert_status(alert_id, "resolved")

    def accept(self, alert_id: int) -> tuple[Alert, Path | None]:
        """Widen the schema so the alert's finding holds; returns the alert and the file.

        The file is edited in place (`schema.edit_file`): the user's comments and
        layout stay. A drift alert is accepted only where the schema has a rule
        it widens (a domain for new values, ``max_missing`` for more missing
        ones); otherwise accepting would change nothing, and
        `AlertNotAcceptableError` names what does (resolve, mute, the reference).
        """
        alert = self.alert(alert_id)
        finding = alert.finding
        if finding.check == "labels":
            raise AlertNotAcceptableError(
                alert_id,
                f"it is about the labels of {alert.dataset!r} ({finding.kind} of "
                f"{finding.subject}), which no schema file describes",
                f"If the change is expected, close it with `tillage alerts resolve {alert_id}` "
                f"or silence it with `tillage alerts mute {alert_id} --for 7d`.",
            )
        path: Path | None = None
        schema = self.schema(alert.dataset)
        widenable = finding.check == "schema" or finding.kind in {"new_values", "missing_ratio"}
        widened = schema_mod.widen(schema, finding) if schema is not None and widenable else None
        if finding.check != "schema" and (widened is None or widened == schema):
            raise AlertNotAcceptableError(
                alert_id,
                f"it is drift ({finding.kind} of {finding.subject} against "
                f"{finding.reference}), measured against a reference, and no rule of the "
                "schema file covers it, so accepting would change nothing",
                f"If the change is expected, close it with `tillage alerts resolve {alert_id}` "
                "(with a window reference, quality.reference: window:N, the new data becomes "
                "the reference as batches arrive) or silence it with `tillage alerts mute "
                f"{alert_id} --for 7d`; to compare with another baseline, set "
                "quality.reference in .tillage/config.yaml, or run `tillage drift "
                f"{alert.dataset} --against REF`.",
            )
        if schema is not None and widened is not None:
            path = self.schema_path(alert.dataset)
            if widened != schema:
                schema_mod.edit_file(path, schema, widened)
            else:
                path = None
        elif finding.check == "schema":
            raise InputError(
                f"alert {alert_id} is about {self.relative(self.schema_path(alert.dataset))}, "
                "which no longer exists; resolve the alert instead (`tillage alerts resolve "
                f"{alert_id}`)."
            )
        return self.store.set_alert_status(alert_id, "accepted"), path


class _SlidingWindow:
    """The merge of a window of batch profiles that slides one batch per ingest.

    Profiles merge but do not un-merge, so dropping the oldest batch would mean
    merging the whole window again. Two stacks make a slide cost about three
    merges whatever the window's length: ``front`` holds the older batches with
    the merge of each one and everything newer than it in ``front``; ``back``
    the newer ones with their running merge.
    """

    def __init__(self) -> None:
        self.front: list[tuple[str, Profile]] = []  # oldest first
        self.back: list[str] = []  # oldest first
        self.back_merged: Profile | None = None

    def ids(self) -> list[str]:
        return [c for c, _ in self.front] + self.back

    def merged(self, ids: list[str], get: Callable[[str], Profile]) -> Profile:
        """The merge of the profiles of ``ids`` (oldest first)."""
        have = self.ids()
        if have and ids[:-1] == have[1:] and ids[-1] not in have:
            self._pop_oldest(get)
            self._push(ids[-1], get(ids[-1]))
        elif ids != have:
            self.front, self.back, self.back_merged = [], [], None
            for c in ids:
                self._push(c, get(c))
        if not self.front:
            self._flip(get)
        merged = self.front[0][1]
        return merged if self.back_merged is None else merged.merge(self.back_merged)

    def _push(self, cid: str, prof: Profile) -> None:
        self.back.append(cid)
        self.back_merged = prof if self.back_merged is None else self.back_merged.merge(prof)

    def _pop_oldest(self, get: Callable[[str], Profile]) -> None:
        if not self.front:
            self._flip(get)
        self.front.pop(0)

    def _flip(self, get: Callable[[str], Profile]) -> None:
        """Move ``back`` to ``front``, merging from the newest down."""
        acc: Profile | None = None
        front: list[tuple[str, Profile]] = []
        for c in reversed(self.back):
            acc = get(c) if acc is None else get(c).merge(acc)
            front.append((c, acc))
        self.front = front[::-1] + self.front
        self.back, self.back_merged = [], None


def _drift_skipped(
    schema: schema_mod.Schema | None, reference: Profile, key: Sequence[str], dataset: str
) -> set[str]:
    """Columns drift leaves alone: ``drift: false`` in the schema file, or, with no file
    yet, the keys, identifiers and time columns that inference would mark so."""
    if schema is not None:
        return schema_mod.drift_skipped(schema)
    roles = schema_mod.inferred_roles(reference, key, dataset)
    return {name for name, role in roles.items() if role != "feature"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
