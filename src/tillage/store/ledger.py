"""The privacy ledger: what each principal has spent of each dataset's DP budget.

Kept in the catalog, so that no new session, process or `Repo` object starts
from zero. A spend is written before its answer is computed and released: the
budget row moves by compare-and-swap (``spent + ε <= budget`` in the UPDATE's
own WHERE clause) in the same transaction that writes the spend row, so two
processes racing for the last of a budget never overspend it, and a process
killed between spending and releasing keeps its spend (``released`` false).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Engine,
    Float,
    Index,
    String,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from tillage.errors import BudgetExhaustedError
from tillage.store.catalog import json_ready, utcnow
from tillage.store.orm import Base

# Slack for float sums of ε (ten spends of 0.1 must fit a budget of 1.0).
_SLACK = 1e-9


class BudgetRow(Base):
    __tablename__ = "privacy_budget"
    lineage: Mapped[str] = mapped_column(String(128), primary_key=True)
    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    unit: Mapped[str] = mapped_column(String(128), primary_key=True, server_default="row")
    spent: Mapped[float] = mapped_column(Float)
    void: Mapped[bool] = mapped_column(Boolean)


class SpendRow(Base):
    __tablename__ = "privacy_spends"
    __table_args__ = (Index("ix_privacy_spends_who", "lineage", "principal"),)
    spend_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    lineage: Mapped[str] = mapped_column(String(128))
    dataset: Mapped[str] = mapped_column(String(128))
    commit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    principal: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(128))
    epsilon: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[str] = mapped_column(String(40))
    released: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class BudgetState:
    """One principal's standing on one dataset lineage and privacy unit.

    ``void``: a break-glass grant let the principal read raw records of this
    lineage, so DP answers no longer protect anything from them.
    """

    lineage: str
    unit: str
    principal: str
    budget: float
    spent: float
    void: bool

    @property
    def left(self) -> float:
        return max(self.budget - self.spent, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lineage": self.lineage,
            "unit": self.unit,
            "principal": self.principal,
            "budget": self.budget,
            "spent": self.spent,
            "left": self.left,
            "void": self.void,
        }


@dataclass(frozen=True)
class Spend:
    """One recorded spend (its answer released or not)."""

    spend_id: str
    lineage: str
    dataset: str
    commit_id: str | None
    principal: str
    unit: str
    epsilon: float
    query: dict[str, Any]
    created_at: str
    released: bool


class Ledger:
    """The catalog's privacy budget rows and spends."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def state(self, lineage: str, unit: str, principal: str, budget: float) -> BudgetState:
        """What ``principal`` has spent on ``lineage`` under ``unit`` (0 if nothing yet).

        The guarantee is void if any grant voided it for this lineage, whatever the unit.
        """
        with self._engine.connect() as conn:
            spent = conn.execute(
                select(BudgetRow.spent).where(*_key(lineage, unit, principal))
            ).scalar()
            void = conn.execute(
                select(func.count())
                .select_from(BudgetRow)
                .where(
                    BudgetRow.lineage == lineage,
                    BudgetRow.principal == principal,
                    BudgetRow.void.is_(True),
                )
            ).scalar_one()
        return BudgetState(lineage, unit, principal, budget, float(spent or 0.0), bool(void))

    def spend(
        self,
        *,
        lineage: str,
        unit: str,
        principal: str,
        dataset: str,
        commit_id: str | None,
        epsilon: float,
        budget: float,
        query: dict[str, Any],
    ) -> Spend:
        """Record a spend of ``epsilon``, or refuse it if it would pass ``budget``.

        Call before computing the answer; call `released` after handing it out.

        Raises:
            BudgetExhaustedError: the spend does not fit what is left; nothing changed.
        """
        self._ensure_row(lineage, unit, principal)
        spend = Spend(
            spend_id=uuid.uuid4().hex,
            lineage=lineage,
            dataset=dataset,
            commit_id=commit_id,
            principal=principal,
            unit=unit,
            epsilon=epsilon,
            query=json_ready(query),
            created_at=utcnow(),
            released=False,
        )
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(BudgetRow)
                .where(
                    *_key(lineage, unit, principal),
                    BudgetRow.spent + epsilon <= budget + _SLACK,
                )
                .values(spent=BudgetRow.spent + epsilon)
            ).rowcount
            if moved != 1:
                spent = conn.execute(
                    select(BudgetRow.spent).where(*_key(lineage, unit, principal))
                ).scalar_one()
                raise BudgetExhaustedError(principal, dataset, epsilon, float(spent), budget)
            conn.execute(
                insert(SpendRow).values(
                    spend_id=spend.spend_id,
                    lineage=lineage,
                    dataset=dataset,
                    commit_id=commit_id,
                    principal=principal,
                    unit=unit,
                    epsilon=epsilon,
                    delta=0.0,
                    query=spend.query,
                    created_at=spend.created_at,
                    released=False,
                )
            )
        return spend

    def released(self, spend_id: str) -> None:
        """Mark a spend's answer as handed out."""
        with self._engine.begin() as conn:
            conn.execute(
                update(SpendRow).where(SpendRow.spend_id == spend_id).values(released=True)
            )

    def spends(self, lineage: str, principal: str) -> list[Spend]:
        """Every spend of ``principal`` on ``lineage``, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(*SpendRow.__table__.columns)
                .where(SpendRow.lineage == lineage, SpendRow.principal == principal)
                .order_by(SpendRow.created_at)
            ).all()
            return [
                Spend(
                    r.spend_id,
                    r.lineage,
                    r.dataset,
                    r.commit_id,
                    r.principal,
                    r.unit,
                    r.epsilon,
                    dict(r.query),
                    r.created_at,
                    r.released,
                )
                for r in rows
            ]

    @staticmethod
    def void(conn: Connection, lineage: str, principal: str) -> None:
        """Mark ``principal``'s DP guarantee on ``lineage`` void, in ``conn``'s transaction
        (a break-glass approval; a row with nothing spent if there is none yet)."""
        where = (BudgetRow.lineage == lineage) & (BudgetRow.principal == principal)
        if conn.execute(update(BudgetRow).where(where).values(void=True)).rowcount == 0:
            conn.execute(
                insert(BudgetRow).values(
                    lineage=lineage, unit="row", principal=principal, spent=0.0, void=True
                )
            )

    def _ensure_row(self, lineage: str, unit: str, principal: str) -> None:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(BudgetRow.spent).where(*_key(lineage, unit, principal))
            ).first()
        if found is not None:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(BudgetRow).values(
                        lineage=lineage, unit=unit, principal=principal, spent=0.0, void=False
                    )
                )
        except IntegrityError:
            pass  # another process made it first


def _key(lineage: str, unit: str, principal: str) -> tuple[Any, ...]:
    return (
        BudgetRow.lineage == lineage,
        BudgetRow.unit == unit,
        BudgetRow.principal == principal,
    )
