"""Catalog tables for monitoring: profiles, ingest checks, alerts, their outbox, models.

Profiles are opaque bytes here (the quality layer encodes them). A batch
profile belongs to the commit that wrote the batch; a version profile belongs
to a (dataset, Lance branch, Lance version), so every commit pinning that
version shares it. Writes that must land with a commit take the commit's
connection; the rest open their own transaction.

The outbox holds one row per (alert event, sink), inserted with the commit
that raised the alert. Drainers claim a row with a conditional UPDATE (only
one of them can move it out of ``pending``), deliver it, then mark it
``delivered``, back to ``pending`` with a later ``next_try_at``, or ``dead``.
A claim older than the lease is taken to belong to a drainer that died.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import func as sql_func
from sqlalchemy.orm import Mapped, mapped_column

from tillage.core.alerts import Alert, Model, ModelArtifact
from tillage.core.findings import Finding
from tillage.store.catalog import json_ready, utcnow
from tillage.store.orm import Base


class BatchProfileRow(Base):
    __tablename__ = "batch_profiles"
    commit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    num_rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class VersionProfileRow(Base):
    __tablename__ = "version_profiles"
    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    lance_branch: Mapped[str] = mapped_column(String(200), primary_key=True)
    lance_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    num_rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CheckRow(Base):
    __tablename__ = "checks"
    commit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    schema_file: Mapped[str | None] = mapped_column(String(500), nullable=True)
    schema_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(500), nullable=True)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(128))
    column_name: Mapped[str] = mapped_column(String(256))
    check_name: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    branch: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[str] = mapped_column(String(40))
    last_seen: Mapped[str] = mapped_column(String(40))
    first_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    muted_until: Mapped[str | None] = mapped_column(String(40), nullable=True)
    finding: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboxRow(Base):
    __tablename__ = "alert_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    commit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sink: Mapped[str] = mapped_column(String(64))
    sink_name: Mapped[str] = mapped_column(String(500))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    next_try_at: Mapped[str] = mapped_column(String(40))
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    delivered_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


OUTBOX_STATUSES = ("pending", "sending", "delivered", "dead")


class ModelRow(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    dataset: Mapped[str] = mapped_column(String(128))
    commit_id: Mapped[str] = mapped_column(String(64))
    importance: Mapped[dict[str, float]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[str] = mapped_column(String(40))
    principal: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    classes: Mapped[list[str]] = mapped_column(JSON)
    labelset: Mapped[str | None] = mapped_column(String(128), nullable=True)
    labelset_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    code_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    artifact: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


@dataclass(frozen=True)
class ModelFacts:
    """What a new model version records besides its name, data and importances."""

    features: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    labelset: str | None = None
    labelset_commit: str | None = None
    code_version: str | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """One alert event waiting for (or done with) one sink."""

    id: int
    alert_id: int | None
    commit_id: str | None
    sink: str
    sink_name: str
    event: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    created_at: str
    next_try_at: str
    delivered_at: str | None

    def to_dict(self) -> dict[str, Any]:
        """The row for ``--json`` (without the event body, which can be large)."""
        d = dict(vars(self))
        del d["event"]
        return d


def _alert(r: Any) -> Alert:
    return Alert(
        id=r.id,
        dataset=r.dataset,
        column=r.column_name or None,
        check=r.check_name,
        kind=r.kind,
        branch=r.branch,
        status=r.status,
        severity=r.severity,
        count=r.count,
        first_seen=r.first_seen,
        last_seen=r.last_seen,
        first_commit=r.first_commit,
        last_commit=r.last_commit,
        muted_until=r.muted_until,
        finding=Finding.from_dict(r.finding),
    )


def _outbox(r: Any) -> OutboxRecord:
    return OutboxRecord(
        id=r.id,
        alert_id=r.alert_id,
        commit_id=r.commit_id,
        sink=r.sink,
        sink_name=r.sink_name,
        event=dict(r.event),
        status=r.status,
        attempts=r.attempts,
        last_error=r.last_error,
        created_at=r.created_at,
        next_try_at=r.next_try_at,
        delivered_at=r.delivered_at,
    )


def _model(r: Any) -> Model:
    return Model(
        id=r.id,
        name=r.name,
        dataset=r.dataset,
        commit_id=r.commit_id,
        importance=dict(r.importance),
        metrics=dict(r.metrics),
        created_at=r.created_at,
        principal=r.principal,
        version=r.version,
        features=tuple(r.features or ()),
        classes=tuple(r.classes or ()),
        labelset=r.labelset,
        labelset_commit=r.labelset_commit,
        code_version=r.code_version,
        artifact=ModelArtifact.from_dict(r.artifact) if r.artifact else None,
    )


class MonitoringStore:
    """Narrow data access to the monitoring tables of one catalog."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- profiles -------------------------------------------------------------

    @staticmethod
    def put_batch_profile(
        conn: Connection, commit_id: str, dataset: str, num_rows: int, data: bytes
    ) -> None:
        conn.execute(
            insert(BatchProfileRow).values(
                commit_id=commit_id, dataset=dataset, num_rows=num_rows, data=data
            )
        )

    def batch_profiles(self, commit_ids: Sequence[str], dataset: str) -> dict[str, bytes]:
        """Commit id -> the profile of the batch it wrote into ``dataset`` (if stored)."""
        out: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(commit_ids), 500):
                chunk = list(commit_ids[start : start + 500])
                rows = conn.execute(
                    select(BatchProfileRow.commit_id, BatchProfileRow.data).where(
                        BatchProfileRow.dataset == dataset, BatchProfileRow.commit_id.in_(chunk)
                    )
                ).all()
                out.update({r[0]: r[1] for r in rows})
        return out

    def version_profile(self, dataset: str, lance_branch: str, version: int) -> bytes | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(VersionProfileRow.data).where(
                    VersionProfileRow.dataset == dataset,
                    VersionProfileRow.lance_branch == lance_branch,
                    VersionProfileRow.lance_version == version,
                )
            ).scalar()

    def put_version_profile(
        self,
        dataset: str,
        lance_branch: str,
        version: int,
        num_rows: int,
        data: bytes,
        conn: Connection | None = None,
    ) -> None:
        """Store a version's profile (idempotent: an existing one is kept)."""
        if conn is None:
            with self.engine.begin() as own:
                self.put_version_profile(dataset, lance_branch, version, num_rows, data, own)
            return
        exists = conn.execute(
            select(VersionProfileRow.num_rows).where(
                VersionProfileRow.dataset == dataset,
                VersionProfileRow.lance_branch == lance_branch,
                VersionProfileRow.lance_version == version,
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(VersionProfileRow).values(
                    dataset=dataset,
                    lance_branch=lance_branch,
                    lance_version=version,
                    num_rows=num_rows,
                    data=data,
                )
            )

    def forget(self, commit_ids: Sequence[str], kept_versions: set[tuple[str, str, int]]) -> None:
        """Drop what belongs to deleted commits, and profiles of versions no commit pins."""
        with self.engine.begin() as conn:
            for start in range(0, len(commit_ids), 500):
                chunk = list(commit_ids[start : start + 500])
                conn.execute(delete(BatchProfileRow).where(BatchProfileRow.commit_id.in_(chunk)))
                conn.execute(delete(CheckRow).where(CheckRow.commit_id.in_(chunk)))
            rows = conn.execute(
                select(
                    VersionProfileRow.dataset,
                    VersionProfileRow.lance_branch,
                    VersionProfileRow.lance_version,
                )
            ).all()
            for r in rows:
                if (r[0], r[1], r[2]) not in kept_versions:
                    conn.execute(
                        delete(VersionProfileRow).where(
                            VersionProfileRow.dataset == r[0],
                            VersionProfileRow.lance_branch == r[1],
                            VersionProfileRow.lance_version == r[2],
                        )
                    )

    # -- checks -------------------------------------------------------------

    @staticmethod
    def put_check(
        conn: Connection,
        commit_id: str,
        dataset: str,
        *,
        schema_file: str | None,
        schema_sha256: str | None,
        reference: str | None,
        findings: list[dict[str, Any]],
    ) -> None:
        conn.execute(
            insert(CheckRow).values(
                commit_id=commit_id,
                dataset=dataset,
                schema_file=schema_file,
                schema_sha256=schema_sha256,
                reference=reference,
                findings=json_ready(findings),
            )
        )

    def checks(self, commit_id: str) -> list[dict[str, Any]]:
        """What ingest checked and found when it made ``commit_id``, per dataset."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(CheckRow.__table__).where(CheckRow.commit_id == commit_id))
            return [
                {
                    "dataset": r.dataset,
                    "schema_file": r.schema_file,
                    "schema_sha256": r.schema_sha256,
                    "reference": r.reference,
                    "findings": list(r.findings),
                }
                for r in rows
            ]

    # -- alerts -------------------------------------------------------------

    @staticmethod
    def upsert_alert(
        conn: Connection, branch: str, finding: dict[str, Any], commit_id: str | None, now: str
    ) -> tuple[Alert, bool]:
        """Open an alert for ``finding``, or update the live one for the same column and kind.

        Returns the alert and whether it is new. A muted alert stays muted (its
        count still grows); a resolved or accepted one is not reopened: a new
        alert opens instead.
        """
        column = finding.get("column") or ""
        live = conn.execute(
            select(AlertRow.__table__).where(
                AlertRow.dataset == finding["dataset"],
                AlertRow.column_name == column,
                AlertRow.kind == finding["kind"],
                AlertRow.branch == branch,
                AlertRow.status.in_(("open", "muted")),
            )
        ).first()
        body = json_ready(finding)
        if live is not None:
            status = live.status  # (the row's ``count`` column reads through _mapping below)
            if status == "muted" and live.muted_until and live.muted_until <= now:
                status = "open"
            conn.execute(
                update(AlertRow)
                .where(AlertRow.id == live.id)
                .values(
                    count=live._mapping["count"] + 1,
                    last_seen=now,
                    last_commit=commit_id,
                    finding=body,
                    severity=finding["severity"],
                    status=status,
                )
            )
            row = conn.execute(select(AlertRow.__table__).where(AlertRow.id == live.id)).one()
            return _alert(row), False
        new_id = conn.execute(
            insert(AlertRow)
            .values(
                dataset=finding["dataset"],
                column_name=column,
                check_name=finding["check"],
                kind=finding["kind"],
                branch=branch,
                status="open",
                severity=finding["severity"],
                count=1,
                first_seen=now,
                last_seen=now,
                first_commit=commit_id,
                last_commit=commit_id,
                muted_until=None,
                finding=body,
            )
            .returning(AlertRow.id)
        ).scalar_one()
        row = conn.execute(select(AlertRow.__table__).where(AlertRow.id == new_id)).one()
        return _alert(row), True

    def alerts(
        self,
        *,
        statuses: Sequence[str] | None = None,
        dataset: str | None = None,
        commit_id: str | None = None,
    ) -> list[Alert]:
        q = select(AlertRow.__table__).order_by(AlertRow.id)
        if statuses:
            q = q.where(AlertRow.status.in_(list(statuses)))
        if dataset:
            q = q.where(AlertRow.dataset == dataset)
        if commit_id:
            q = q.where(AlertRow.last_commit == commit_id)
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(q)]

    def alert(self, alert_id: int) -> Alert | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(AlertRow.__table__).where(AlertRow.id == alert_id)).first()
        return _alert(row) if row else None

    def set_alert_status(
        self, alert_id: int, status: str, *, muted_until: str | None = None
    ) -> Alert:
        with self.engine.begin() as conn:
            conn.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(status=status, muted_until=muted_until, last_seen=utcnow())
            )
            row = conn.execute(select(AlertRow.__table__).where(AlertRow.id == alert_id)).one()
        return _alert(row)

    # -- outbox -------------------------------------------------------------

    @staticmethod
    def put_outbox(
        conn: Connection,
        *,
        alert_id: int | None,
        commit_id: str | None,
        sink: str,
        sink_name: str,
        event: dict[str, Any],
        now: str,
    ) -> None:
        """Queue ``event`` for ``sink``, in the caller's (the commit's) transaction."""
        conn.execute(
            insert(OutboxRow).values(
                alert_id=alert_id,
                commit_id=commit_id,
                sink=sink,
                sink_name=sink_name[:500],
                event=json_ready(event),
                status="pending",
                attempts=0,
                created_at=now,
                next_try_at=now,
            )
        )

    @staticmethod
    def _claimable(now: str, stale_before: str, *, due_only: bool) -> Any:
        pending = OutboxRow.status == "pending"
        if due_only:
            pending = and_(pending, OutboxRow.next_try_at <= now)
        abandoned = and_(OutboxRow.status == "sending", OutboxRow.claimed_at < stale_before)
        return or_(pending, abandoned)

    def claimable(
        self, now: str, stale_before: str, *, due_only: bool, limit: int = 500
    ) -> list[OutboxRecord]:
        """Rows a drainer may try to claim now, oldest first."""
        q = (
            select(OutboxRow.__table__)
            .where(self._claimable(now, stale_before, due_only=due_only))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_outbox(r) for r in conn.execute(q)]

    def claim(
        self, row_id: int, drainer: str, now: str, stale_before: str, *, due_only: bool
    ) -> bool:
        """Take row ``row_id`` for ``drainer`` and count the attempt; False: someone else has it.

        One conditional UPDATE: of drainers racing for the same row, exactly one
        sees it still claimable and changes it.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == row_id,
                    self._claimable(now, stale_before, due_only=due_only),
                )
                .values(
                    status="sending",
                    claimed_by=drainer,
                    claimed_at=now,
                    attempts=OutboxRow.attempts + 1,
                )
            )
        return done.rowcount == 1

    def finish(
        self,
        row_id: int,
        drainer: str,
        status: str,
        *,
        now: str,
        error: str | None = None,
        next_try_at: str | None = None,
    ) -> None:
        """Record how a claimed row's delivery ended (only while ``drainer`` still holds it)."""
        values: dict[str, Any] = {"status": status, "claimed_by": None, "claimed_at": None}
        if status == "delivered":
            values["delivered_at"] = now
        if error is not None:
            values["last_error"] = error[:4000]
        if next_try_at is not None:
            values["next_try_at"] = next_try_at
        with self.engine.begin() as conn:
            conn.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == row_id,
                    OutboxRow.claimed_by == drainer,
                    OutboxRow.status == "sending",
                )
                .values(**values)
            )

    def outbox(self, statuses: Sequence[str] | None = None) -> list[OutboxRecord]:
        """Outbox rows (with these statuses), oldest first."""
        q = select(OutboxRow.__table__).order_by(OutboxRow.id)
        if statuses:
            q = q.where(OutboxRow.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_outbox(r) for r in conn.execute(q)]

    def outbox_counts(self) -> dict[str, int]:
        """Status -> number of outbox rows, every status present."""
        q = select(OutboxRow.status, sql_func.count()).group_by(OutboxRow.status)
        with self.engine.connect() as conn:
            found = {r[0]: int(r[1]) for r in conn.execute(q)}
        return {s: found.get(s, 0) for s in OUTBOX_STATUSES}

    def revive_dead(self, now: str) -> int:
        """Put dead rows back in the queue with a fresh count of attempts; returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(OutboxRow)
                .where(OutboxRow.status == "dead")
                .values(status="pending", attempts=0, next_try_at=now)
            )
        return int(done.rowcount)

    def prune_delivered(self, before: str) -> int:
        """Forget rows delivered before ``before``; returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(OutboxRow).where(
                    OutboxRow.status == "delivered", OutboxRow.delivered_at < before
                )
            )
        return int(done.rowcount)

    # -- models -------------------------------------------------------------

    def add_model(
        self,
        name: str,
        dataset: str,
        commit_id: str,
        importance: dict[str, float],
        metrics: dict[str, Any],
        principal: str,
        facts: ModelFacts | None = None,
        artifact: Callable[[int], ModelArtifact] | None = None,
    ) -> Model:
        """Record the next version of model ``name`` (1 for the first).

        ``artifact(version)`` writes the model's file for that version and
        describes it; it runs inside the transaction that adds the row, so a
        failure of either leaves neither (the caller removes a file it wrote).
        """
        facts = facts or ModelFacts()
        with self.engine.begin() as conn:
            latest = conn.execute(
                select(sql_func.max(ModelRow.version)).where(ModelRow.name == name)
            ).scalar()
            version = int(latest or 0) + 1
            saved = artifact(version) if artifact is not None else None
            new_id = conn.execute(
                insert(ModelRow)
                .values(
                    name=name,
                    dataset=dataset,
                    commit_id=commit_id,
                    importance=json_ready(importance),
                    metrics=json_ready(metrics),
                    created_at=utcnow(),
                    principal=principal,
                    version=version,
                    features=list(facts.features),
                    classes=list(facts.classes),
                    labelset=facts.labelset,
                    labelset_commit=facts.labelset_commit,
                    code_version=facts.code_version,
                    artifact=saved.to_dict() if saved is not None else None,
                )
                .returning(ModelRow.id)
            ).scalar_one()
            row = conn.execute(select(ModelRow.__table__).where(ModelRow.id == new_id)).one()
        return _model(row)

    def set_classes(self, model_id: int, classes: Sequence[str]) -> Model:
        """Set the classes of a model version that had none (from its first predictions)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(ModelRow).where(ModelRow.id == model_id).values(classes=list(classes))
            )
            row = conn.execute(select(ModelRow.__table__).where(ModelRow.id == model_id)).one()
        return _model(row)

    def set_importance(self, model_id: int, importance: dict[str, float]) -> Model:
        with self.engine.begin() as conn:
            conn.execute(
                update(ModelRow)
                .where(ModelRow.id == model_id)
                .values(importance=json_ready(importance))
            )
            row = conn.execute(select(ModelRow.__table__).where(ModelRow.id == model_id)).one()
        return _model(row)

    def models(
        self, *, name: str | None = None, dataset: str | None = None, version: int | None = None
    ) -> list[Model]:
        """Recorded models, newest first."""
        q = select(ModelRow.__table__).order_by(ModelRow.id.desc())
        if name:
            q = q.where(ModelRow.name == name)
        if dataset:
            q = q.where(ModelRow.dataset == dataset)
        if version is not None:
            q = q.where(ModelRow.version == version)
        with self.engine.connect() as conn:
            return [_model(r) for r in conn.execute(q)]

    def model_commits(self) -> set[str]:
        """Commits that recorded models were trained on, and their label sets' (gc keeps them)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(ModelRow.commit_id, ModelRow.labelset_commit)).all()
        return {c for r in rows for c in r if c}
