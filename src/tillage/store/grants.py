"""Catalog rows of break-glass grants.

A grant's state moves by compare-and-swap (``UPDATE ... WHERE state = old``),
inside the transaction that appends its audit entry (`tillage.store.audit`),
so that two approvers (or an approver and a revoker) racing on one grant
cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from tillage.store.catalog import METADATA

ACCESS_GRANTS = Table(
    "access_grants",
    METADATA,
    Column("grant_id", String(32), primary_key=True),
    Column("principal", String(200), nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("commit_id", String(64), nullable=False),
    Column("columns", JSON, nullable=False),
    Column("predicate", Text, nullable=True),
    Column("max_rows", Integer, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_at", String(40), nullable=False),
    Column("approved_by", String(200), nullable=True),
    Column("approved_at", String(40), nullable=True),
    Column("expires_at", String(40), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Column("revoked_at", String(40), nullable=True),
)


@dataclass(frozen=True)
class GrantRecord:
    """One row of ``access_grants`` (``state``: requested, approved or revoked)."""

    grant_id: str
    principal: str
    dataset: str
    commit_id: str
    columns: list[str]
    predicate: str | None
    max_rows: int
    purpose: str
    state: str
    requested_at: str
    approved_by: str | None = None
    approved_at: str | None = None
    expires_at: str | None = None
    revoked_by: str | None = None
    revoked_at: str | None = None


def _record(row: Any) -> GrantRecord:
    return GrantRecord(**{c.name: getattr(row, c.name) for c in ACCESS_GRANTS.columns})


class GrantStore:
    """The ``access_grants`` table of a catalog."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, grant_id: str) -> GrantRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(ACCESS_GRANTS).where(ACCESS_GRANTS.c.grant_id == grant_id)
            ).first()
        return _record(row) if row is not None else None

    def all(self) -> list[GrantRecord]:
        """Every grant, oldest request first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(ACCESS_GRANTS).order_by(
                    ACCESS_GRANTS.c.requested_at, ACCESS_GRANTS.c.grant_id
                )
            ).all()
        return [_record(r) for r in rows]

    @staticmethod
    def insert(conn: Connection, record: GrantRecord) -> None:
        conn.execute(insert(ACCESS_GRANTS).values(**vars(record)))

    @staticmethod
    def move(conn: Connection, grant_id: str, expected: str, **values: Any) -> bool:
        """Set ``values`` (a new ``state`` among them) if the grant is still ``expected``."""
        done = conn.execute(
            update(ACCESS_GRANTS)
            .where(ACCESS_GRANTS.c.grant_id == grant_id, ACCESS_GRANTS.c.state == expected)
            .values(**values)
        )
        return done.rowcount == 1
