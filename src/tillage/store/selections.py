"""Catalog tables for selections: each selection's provenance, and the actions taken on it.

The picks themselves are rows of the ``selections`` dataset (versioned, so a
selection is in the history and lineage like any other write); these tables say
how each selection was made and what was done with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Integer, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tillage.store.catalog import json_ready, utcnow
from tillage.store.labels import LabelSetRow, QueueRow
from tillage.store.orm import Base


class SelectionRow(Base):
    __tablename__ = "selections"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128), index=True)
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pool_commit: Mapped[str] = mapped_column(String(64))
    commit_id: Mapped[str] = mapped_column(String(64))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    principal: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class SelectionActionRow(Base):
    __tablename__ = "selection_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    selection_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    principal: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class DerivedRecordRow(Base):
    __tablename__ = "derived_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(128))
    record_id: Mapped[str] = mapped_column(String(512))
    commit_id: Mapped[str] = mapped_column(String(64))
    derived_from: Mapped[str | None] = mapped_column(String(512), nullable=True)
    action: Mapped[str] = mapped_column(String(40))
    selection_id: Mapped[str] = mapped_column(String(40))
    how: Mapped[str] = mapped_column(String(200))


@dataclass(frozen=True)
class SelectionRecord:
    """One selection's catalog row: where its picks were committed, and how it was made."""

    id: str
    dataset: str
    ref: str | None
    pool_commit: str
    commit_id: str
    provenance: dict[str, Any]
    principal: str
    created_at: str


@dataclass(frozen=True)
class ActionRecord:
    """One action applied to a selection."""

    id: int
    selection_id: str
    action: str
    detail: dict[str, Any]
    principal: str
    created_at: str


class SelectionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def add(
        conn: Connection,
        selection_id: str,
        *,
        dataset: str,
        ref: str | None,
        pool_commit: str,
        commit_id: str,
        provenance: dict[str, Any],
        principal: str,
        created_at: str,
    ) -> None:
        """Record a selection in the open transaction ``conn`` (the one committing its picks)."""
        conn.execute(
            insert(SelectionRow).values(
                id=selection_id,
                dataset=dataset,
                ref=ref,
                pool_commit=pool_commit,
                commit_id=commit_id,
                provenance=json_ready(provenance),
                principal=principal,
                created_at=created_at,
            )
        )

    def get(self, selection_id: str) -> SelectionRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SelectionRow.__table__).where(SelectionRow.id == selection_id)
            ).first()
        return SelectionRecord(**row._mapping) if row else None

    def selections(self, dataset: str | None = None) -> list[SelectionRecord]:
        """Selections, newest first (of ``dataset`` only, if given)."""
        query = select(SelectionRow.__table__).order_by(
            SelectionRow.created_at.desc(), SelectionRow.id
        )
        if dataset is not None:
            query = query.where(SelectionRow.dataset == dataset)
        with self.engine.connect() as conn:
            return [SelectionRecord(**r._mapping) for r in conn.execute(query)]

    def add_action(
        self,
        selection_id: str,
        action: str,
        detail: dict[str, Any],
        principal: str,
        conn: Connection | None = None,
    ) -> None:
        """Record an action on a selection (in the open transaction ``conn``, if given)."""
        row = insert(SelectionActionRow).values(
            selection_id=selection_id,
            action=action,
            detail=json_ready(detail),
            principal=principal,
            created_at=utcnow(),
        )
        if conn is not None:
            conn.execute(row)
            return
        with self.engine.begin() as own:
            own.execute(row)

    def actions(self, selection_id: str) -> list[ActionRecord]:
        """The actions applied to a selection, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(SelectionActionRow.__table__)
                .where(SelectionActionRow.selection_id == selection_id)
                .order_by(SelectionActionRow.id)
            )
            return [ActionRecord(**r._mapping) for r in rows]

    @staticmethod
    def add_derived(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Record where new records came from, in the transaction committing them."""
        if rows:
            conn.execute(insert(DerivedRecordRow), list(rows))

    def derived(
        self, dataset: str, record_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The provenance of ``dataset``'s generated and augmented records, oldest first."""
        query = (
            select(DerivedRecordRow.__table__)
            .where(DerivedRecordRow.dataset == dataset)
            .order_by(DerivedRecordRow.id)
        )
        if record_ids is not None:
            query = query.where(DerivedRecordRow.record_id.in_(list(record_ids)))
        with self.engine.connect() as conn:
            return [{k: v for k, v in r._mapping.items() if k != "id"} for r in conn.execute(query)]

    def queued(self, dataset: str, task: str | None = None) -> set[str]:
        """Record ids waiting in annotation tasks over ``dataset`` (in ``task`` only, if given)."""
        query = (
            select(QueueRow.record_id)
            .join(LabelSetRow, LabelSetRow.name == QueueRow.labelset)
            .where(LabelSetRow.records == dataset)
        )
        if task is not None:
            query = query.where(QueueRow.task == task)
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(query)}

    def labelsets(self, dataset: str) -> list[str]:
        """The label sets over ``dataset``, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(LabelSetRow.name)
                .where(LabelSetRow.records == dataset)
                .order_by(LabelSetRow.name)
            )
            return [r[0] for r in rows]
