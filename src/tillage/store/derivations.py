"""The catalog's record of datasets derived from private ones (``private_derivations``).

A job may read a private dataset raw; what it writes from those values is
private too, unless the write is a declassifying release (an aggregate view or
a DP answer). Each write that read private datasets records one row per source,
in the transaction that makes its commit, so a derived dataset is never left
unmarked by a crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, String, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from tillage.store.orm import Base

DECLASSIFIERS = ("dp", "aggregate")


class DerivationRow(Base):
    __tablename__ = "private_derivations"
    dataset: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    commit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    declassified_by: Mapped[str | None] = mapped_column(String(16), nullable=True)


@dataclass(frozen=True)
class Derivation:
    """``dataset`` was written at ``commit_id`` from values of private ``source``;
    ``declassified_by`` names the release step that made it public (None: it is private)."""

    dataset: str
    source: str
    commit_id: str
    declassified_by: str | None = None


def record(conn: Connection, derivations: Iterable[Derivation]) -> None:
    """Record ``derivations`` in the open transaction ``conn``."""
    rows = [
        {
            "dataset": d.dataset,
            "source": d.source,
            "commit_id": d.commit_id,
            "declassified_by": d.declassified_by,
        }
        for d in derivations
    ]
    if rows:
        conn.execute(insert(DerivationRow), rows)


def load(engine: Engine) -> list[Derivation]:
    """Every recorded derivation."""
    with engine.connect() as conn:
        rows = conn.execute(select(DerivationRow.__table__))
        return [Derivation(**r._mapping) for r in rows]
