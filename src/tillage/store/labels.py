"""Catalog tables for labels: which datasets are label sets, and annotation queues.

Label events themselves are rows of an ordinary dataset (versioned, diffed and
merged like any other); these tables only say what that dataset is, and which
records a task queues for which annotators (`tillage.store.annotation` writes
the queue and the assignments, with its index of annotator events).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Integer, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tillage.store.catalog import utcnow
from tillage.store.orm import Base


class LabelSetRow(Base):
    __tablename__ = "label_sets"
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    records: Mapped[str] = mapped_column(String(128))
    taxonomy: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class QueueRow(Base):
    __tablename__ = "annotation_queue"
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    labelset: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[str] = mapped_column(String(40))


class AssignmentRow(Base):
    __tablename__ = "annotation_assignments"
    task: Mapped[str] = mapped_column(String(200), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(200), primary_key=True)
    spec_version: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class LabelSetRecord:
    name: str
    records: str  # the dataset whose records it labels
    taxonomy: str
    created_at: str


class LabelStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def label_set(self, name: str) -> LabelSetRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(LabelSetRow.__table__).where(LabelSetRow.name == name)
            ).first()
        return LabelSetRecord(**row._mapping) if row else None

    def label_sets(self) -> list[LabelSetRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(LabelSetRow.__table__).order_by(LabelSetRow.name))
            return [LabelSetRecord(**r._mapping) for r in rows]

    def add_label_set(self, name: str, records: str, taxonomy: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(LabelSetRow).values(
                    name=name, records=records, taxonomy=taxonomy, created_at=utcnow()
                )
            )

    def queue(self, task: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(QueueRow.record_id)
                .where(QueueRow.task == task)
                .order_by(QueueRow.added_at, QueueRow.record_id)
            )
            return [r[0] for r in rows]
