"""Catalog tables of durable pipeline runs: runs, step results, map items, approvals.

Every finished step is one short transaction, so a run killed at any point
keeps every step it finished. Map items are written in small groups (see
`tillage.pipelines.engine`). Artifacts (tables, models) live as files named by
their content hash; the ``artifacts`` table lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Float,
    Integer,
    String,
    Text,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from tillage.store.catalog import json_ready, utcnow
from tillage.store.orm import Base


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(500))
    target: Mapped[str] = mapped_column(String(1000))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    params_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    branch: Mapped[str] = mapped_column(String(200))
    run_branch: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[str] = mapped_column(String(40))
    principal: Mapped[str] = mapped_column(String(256))
    code_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    code_dirty: Mapped[bool] = mapped_column(Boolean)
    # none_as_null: None is stored as SQL NULL, never as JSON null, so that
    # `RunStore.restore` writes back exactly what was there.
    waiting_on: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    merged_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    process_started: Mapped[str | None] = mapped_column(String(80), nullable=True)


class StepRow(Base):
    __tablename__ = "run_steps"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    cache_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    inputs: Mapped[list[Any]] = mapped_column(JSON)
    reads: Mapped[list[Any]] = mapped_column(JSON)
    writes: Mapped[list[Any]] = mapped_column(JSON)
    started_at: Mapped[str] = mapped_column(String(40))
    seconds: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[list[Any]] = mapped_column(JSON, server_default=text("'[]'"))


class MapItemRow(Base):
    __tablename__ = "run_map_items"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    output: Mapped[Any] = mapped_column(JSON, nullable=True)


class ApprovalRow(Base):
    __tablename__ = "run_approvals"
    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal: Mapped[str] = mapped_column(String(256))
    at: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(40))


class ScheduleRow(Base):
    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    branch: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    last_seen: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_run: Mapped[str | None] = mapped_column(String(32), nullable=True)


@dataclass(frozen=True)
class ScheduleRecord:
    """When to start a pipeline: ``kind`` cron (``spec`` a cron expression), commit
    (``spec`` a dataset) or alert (``spec`` an alert kind); ``last_seen`` is the last
    time, commit or alert id acted on."""

    id: int
    target: str
    kind: str
    spec: str
    params: dict[str, Any]
    branch: str | None
    created_at: str
    last_seen: str | None
    last_run: str | None


@dataclass(frozen=True)
class RunRecord:
    """A run as stored."""

    id: str
    pipeline: str
    target: str
    params: dict[str, Any]
    params_key: str
    status: str
    branch: str
    run_branch: str
    created_at: str
    updated_at: str
    principal: str
    code_sha: str | None
    code_dirty: bool
    waiting_on: dict[str, Any] | None
    error: str | None
    result: Any
    merged_commit: str | None
    pid: int | None = None
    host: str | None = None
    process_started: str | None = None
    """The process executing the run (see `tillage.pipelines.processes`)."""


@dataclass(frozen=True)
class StepRecord:
    """One step call of a run, in the order the pipeline body made them."""

    run_id: str
    seq: int
    name: str
    cache_key: str
    status: str
    output: Any
    inputs: list[Any]
    reads: list[Any]
    writes: list[Any]
    started_at: str
    seconds: float
    error: str | None
    attempts: list[Any] = field(default_factory=list)
    """Each execution of the step's function in this run, oldest first: ``attempt``
    (1, 2, ...), ``started_at``, ``seconds``, ``error`` (its last line; None if it
    succeeded) and ``retry_in`` (seconds waited before the next attempt; None if
    there was none). Empty for a step replayed or taken from the cache."""


class RunStore:
    """Narrow data access to the run tables of one catalog."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- runs ---------------------------------------------------------------

    def create(self, **fields: Any) -> RunRecord:
        now = utcnow()
        values = {**fields, "created_at": now, "updated_at": now}
        values["params"] = json_ready(values["params"])
        with self.engine.begin() as conn:
            conn.execute(insert(RunRow).values(**values))
        run = self.get(fields["id"])
        assert run is not None
        return run

    def get(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(RunRow.__table__).where(RunRow.id == run_id)).first()
        return RunRecord(**row._mapping) if row else None

    def status(self, run_id: str) -> str | None:
        """Only a run's stored status (a cheap check between steps)."""
        with self.engine.connect() as conn:
            return conn.execute(select(RunRow.status).where(RunRow.id == run_id)).scalar()

    def find(self, prefix: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(RunRow.id).where(RunRow.id.startswith(prefix)).limit(2))
            return [r[0] for r in rows]

    def update(self, run_id: str, *, only_if: Sequence[str] = (), **fields: Any) -> bool:
        """Change a run's fields; with ``only_if``, only while its status is one of those.

        Returns whether the run changed (False: its status was another, or it is gone).
        """
        fields.setdefault("updated_at", utcnow())
        for k in ("waiting_on", "result"):
            if k in fields and fields[k] is not None:
                fields[k] = json_ready(fields[k])
        q = update(RunRow).where(RunRow.id == run_id)
        if only_if:
            q = q.where(RunRow.status.in_(list(only_if)))
        with self.engine.begin() as conn:
            return bool(conn.execute(q.values(**fields)).rowcount)

    def restore(self, run: RunRecord) -> None:
        """Put a run's own row back as ``run`` has it (after a resume that was refused)."""
        values = dict(vars(run))
        values.pop("id")
        for k in ("params", "waiting_on", "result"):
            if values[k] is not None:
                values[k] = json_ready(values[k])
        with self.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run.id).values(**values))

    def delete(self, run_id: str) -> None:
        """Remove a run with its steps, map items and approvals, in one transaction."""
        with self.engine.begin() as conn:
            for table in (StepRow, MapItemRow, ApprovalRow):
                conn.execute(delete(table).where(table.run_id == run_id))
            conn.execute(delete(RunRow).where(RunRow.id == run_id))

    def runs(
        self,
        *,
        pipeline: str | None = None,
        statuses: Sequence[str] | None = None,
        params_key: str | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first."""
        q = select(RunRow.__table__).order_by(RunRow.created_at.desc(), RunRow.id)
        if pipeline:
            q = q.where(RunRow.pipeline == pipeline)
        if statuses:
            q = q.where(RunRow.status.in_(list(statuses)))
        if params_key:
            q = q.where(RunRow.params_key == params_key)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [RunRecord(**r._mapping) for r in conn.execute(q)]

    # -- steps --------------------------------------------------------------

    def steps(self, run_id: str) -> list[StepRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(StepRow.__table__).where(StepRow.run_id == run_id).order_by(StepRow.seq)
            )
            return [StepRecord(**r._mapping) for r in rows]

    def put_step(self, step: StepRecord) -> None:
        """Record a step (replacing a waiting or failed record of the same call)."""
        values = dict(vars(step))
        for k in ("output", "inputs", "reads", "writes", "attempts"):
            values[k] = json_ready(values[k])
        with self.engine.begin() as conn:
            conn.execute(
                delete(StepRow).where(StepRow.run_id == step.run_id, StepRow.seq == step.seq)
            )
            conn.execute(insert(StepRow).values(**values))

    def cached(self, cache_key: str) -> StepRecord | None:
        """The latest finished step, in any run, with this cache key."""
        q = (
            select(StepRow.__table__)
            .where(StepRow.cache_key == cache_key, StepRow.status.in_(("done", "cached")))
            .order_by(StepRow.started_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return StepRecord(**row._mapping) if row else None

    def steps_reading(self, commit_ids: Sequence[str]) -> list[StepRecord]:
        """Steps that read any of these commits (for lineage downstream of bad data)."""
        wanted = set(commit_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(select(StepRow.__table__).order_by(StepRow.started_at))
            found = [StepRecord(**r._mapping) for r in rows]
        return [s for s in found if any(r.get("commit") in wanted for r in s.reads)]

    # -- map items ----------------------------------------------------------

    def map_items(self, run_id: str, seq: int) -> dict[int, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(MapItemRow.idx, MapItemRow.output).where(
                    MapItemRow.run_id == run_id, MapItemRow.seq == seq
                )
            )
            return {r[0]: r[1] for r in rows}

    def put_map_items(self, run_id: str, seq: int, items: Sequence[tuple[int, Any]]) -> None:
        if not items:
            return
        with self.engine.begin() as conn:
            conn.execute(
                insert(MapItemRow),
                [
                    {"run_id": run_id, "seq": seq, "idx": i, "output": json_ready(o)}
                    for i, o in items
                ],
            )

    # -- approvals ----------------------------------------------------------

    def approval(self, run_id: str, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ApprovalRow.__table__).where(
                    ApprovalRow.run_id == run_id, ApprovalRow.name == name
                )
            ).first()
        return dict(row._mapping) if row else None

    def approve(self, run_id: str, name: str, principal: str, note: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(ApprovalRow).where(ApprovalRow.run_id == run_id, ApprovalRow.name == name)
            )
            conn.execute(
                insert(ApprovalRow).values(
                    run_id=run_id, name=name, principal=principal, at=utcnow(), note=note
                )
            )

    # -- artifacts ------------------------------------------------------------

    def add_artifact(self, sha256: str, kind: str, size: int) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(ArtifactRow.sha256).where(ArtifactRow.sha256 == sha256)
            ).first()
            if exists is None:
                conn.execute(
                    insert(ArtifactRow).values(
                        sha256=sha256, kind=kind, size=size, created_at=utcnow()
                    )
                )

    # -- schedules ------------------------------------------------------------

    def add_schedule(
        self,
        target: str,
        kind: str,
        spec: str,
        params: dict[str, Any],
        branch: str | None,
        last_seen: str | None,
    ) -> ScheduleRecord:
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(ScheduleRow)
                .values(
                    target=target,
                    kind=kind,
                    spec=spec,
                    params=json_ready(params),
                    branch=branch,
                    created_at=utcnow(),
                    last_seen=last_seen,
                    last_run=None,
                )
                .returning(ScheduleRow.id)
            ).scalar_one()
        return self.schedules(new_id)[0]

    def schedules(self, schedule_id: int | None = None) -> list[ScheduleRecord]:
        q = select(ScheduleRow.__table__).order_by(ScheduleRow.id)
        if schedule_id is not None:
            q = q.where(ScheduleRow.id == schedule_id)
        with self.engine.connect() as conn:
            return [ScheduleRecord(**r._mapping) for r in conn.execute(q)]

    def claim_schedule(self, schedule_id: int, expected: str | None, seen: str) -> bool:
        """Move a schedule from ``expected`` to ``seen`` (compare-and-swap).

        False when another worker moved it first: then that worker fires it.
        """
        cond = (
            ScheduleRow.last_seen.is_(None)
            if expected is None
            else ScheduleRow.last_seen == expected
        )
        with self.engine.begin() as conn:
            res = conn.execute(
                update(ScheduleRow)
                .where(ScheduleRow.id == schedule_id, cond)
                .values(last_seen=seen)
            )
        return bool(res.rowcount)

    def set_schedule_run(self, schedule_id: int, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(ScheduleRow).where(ScheduleRow.id == schedule_id).values(last_run=run_id)
            )

    def remove_schedule(self, schedule_id: int) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(delete(ScheduleRow).where(ScheduleRow.id == schedule_id))
        return bool(res.rowcount)
