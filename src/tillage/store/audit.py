"""The audit log: an append-only, hash-chained record of break-glass requests, decisions and reads.

Each entry is a row of the catalog's ``audit_log`` table: a sequence number
(1, 2, 3, ... with no gaps), the time, the principal, the action, a JSON
detail, the previous entry's hash and its own hash, the SHA-256 of the
canonical JSON (sorted keys, no spaces) of every other field. An entry's
hash covers its sequence number and its predecessor's hash, so editing,
deleting, reordering or inserting an entry in the middle of the log breaks
the chain at that entry, and `AuditLog.verify` names it.

A chain alone cannot show that its *last* entries were deleted, or that
entries were appended by someone writing the catalog directly. So every
append also writes an anchor outside the catalog: ``audit.head`` in the
repository folder, holding the newest entry's sequence number and hash
(replaced atomically; appenders take turns under the ``audit.lock`` file
lock, from their transaction to their anchor, and the anchor only ever moves
forward).
`verify` checks that the chain ends exactly at the anchor.

What this protects against: anyone who can change the catalog (its SQL rows)
but not the repository folder, and any accidental loss or reordering. What it
does not: someone who rewrites both the catalog and ``audit.head`` can forge a
consistent log. Against them, keep the head that ``tillage audit verify
--json`` prints somewhere they cannot write (a ticket, a mail, another
system); a later log that does not contain that (seq, hash) was rewritten.

A process killed between an entry's commit and its anchor leaves the anchor
one entry behind; `verify` reports it (it cannot tell that from an entry
inserted in the catalog), and the next append moves the anchor forward.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Connection, Engine, Integer, String, Table, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from tillage.errors import LockTimeoutError, ReadOnlyRepositoryError, StorageError
from tillage.store.catalog import METADATA, json_ready, utcnow
from tillage.store.lock import write_lock

AUDIT_LOG = Table(
    "audit_log",
    METADATA,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("principal", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

ANCHOR_FILE = "audit.head"
LOCK_FILE = "audit.lock"
GENESIS = "0" * 64  # the prev_hash of the first entry
_ATTEMPTS = 50  # appends racing for the next seq retry this often before giving up


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log."""

    seq: int
    at: str
    principal: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready values."""
        return {
            "seq": self.seq,
            "at": self.at,
            "principal": self.principal,
            "action": self.action,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class Tamper(StrEnum):
    """How a log fails verification."""

    EDITED = "edited"  # an entry's content no longer matches its hash
    DELETED = "deleted"  # entries are missing (in the middle, or after the anchor's)
    REORDERED = "reordered"  # an entry sits at another seq than the one it was written at
    INSERTED = "inserted"  # an entry that does not follow its predecessor, or past the anchor
    ANCHOR = "anchor"  # the anchor file is missing, unreadable, or names another entry


@dataclass(frozen=True)
class AuditProblem:
    """The first place where the log is not what was written: which entry, how, and why."""

    seq: int | None  # None: the log as a whole (no entry to name)
    kind: Tamper
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready values."""
        return {"seq": self.seq, "kind": self.kind.value, "message": self.message}


@dataclass(frozen=True)
class AuditReport:
    """What `AuditLog.verify` found.

    Attributes:
        entries: how many entries the log holds.
        head: the last entry's (seq, hash), or None for an empty log; keep it
            outside the repository to detect a later rewrite of log and anchor.
        anchor: the (seq, hash) in ``audit.head``, or None when there is none.
        problem: the first problem found, or None when the log verifies.
    """

    entries: int
    head: tuple[int, str] | None
    anchor: tuple[int, str] | None
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""

        def pair(p: tuple[int, str] | None) -> dict[str, Any] | None:
            return None if p is None else {"seq": p[0], "hash": p[1]}

        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": pair(self.head),
            "anchor": pair(self.anchor),
            "problem": None if self.problem is None else self.problem.to_dict(),
        }


def canonical(value: Any) -> str:
    """``value`` as canonical JSON: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(seq: int, at: str, principal: str, action: str, detail: Any, prev_hash: str) -> str:
    """The SHA-256 (hex) of an entry's canonical JSON, its predecessor's hash included."""
    row = {
        "seq": seq,
        "at": at,
        "principal": principal,
        "action": action,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(row).encode()).hexdigest()


def _retryable(e: Exception) -> bool:
    """Another appender took the seq (unique key), or held the database lock too long."""
    return isinstance(e, IntegrityError) or (
        isinstance(e, OperationalError) and "locked" in str(e.orig or e)
    )


class AuditLog:
    """The ``audit_log`` table of a catalog, anchored by ``repo_dir/audit.head``."""

    def __init__(self, engine: Engine, repo_dir: Path) -> None:
        self._engine = engine
        self.anchor_path = repo_dir / ANCHOR_FILE
        self._lock_path = repo_dir / LOCK_FILE

    def append(
        self,
        principal: str,
        action: str,
        detail: Mapping[str, Any],
        *,
        also: Callable[[Connection], None] | None = None,
    ) -> AuditEntry:
        """Append one entry, in one catalog transaction with ``also`` (the change it records).

        Concurrent appenders never fork the chain: the seq is the table's key, so
        of two appenders that read the same last entry one commits and the other
        retries from its new last entry (``also`` runs again in the retry).

        Raises:
            LockTimeoutError: other appenders won every one of many attempts.
        """
        stored = json.loads(canonical(json_ready(dict(detail))))  # what the JSON column returns
        with write_lock(self._lock_path):
            for attempt in range(_ATTEMPTS):
                try:
                    with self._engine.begin() as conn:
                        if also is not None:
                            also(conn)
                        entry = self._insert(conn, principal, action, stored)
                except (IntegrityError, OperationalError) as e:
                    if not _retryable(e) or attempt == _ATTEMPTS - 1:
                        if _retryable(e):
                            raise LockTimeoutError(
                                "other processes kept appending to the audit log; nothing was "
                                "recorded. Run the command again."
                            ) from e
                        raise
                    time.sleep(random.uniform(0.001, 0.02) * (1 + attempt))
                    continue
                self._move_anchor(entry)
                return entry
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _insert(conn: Connection, principal: str, action: str, detail: Any) -> AuditEntry:
        last = conn.execute(
            select(AUDIT_LOG.c.seq, AUDIT_LOG.c.hash).order_by(AUDIT_LOG.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
        at = utcnow()
        digest = entry_hash(seq, at, principal, action, detail, prev)
        conn.execute(
            insert(AUDIT_LOG).values(
                seq=seq,
                at=at,
                principal=principal,
                action=action,
                detail=detail,
                prev_hash=prev,
                hash=digest,
            )
        )
        return AuditEntry(seq, at, principal, action, detail, prev, digest)

    # -- the anchor -------------------------------------------------------------

    def anchor(self) -> tuple[int, str] | None:
        """The (seq, hash) in ``audit.head``, or None when there is no such file.

        Raises:
            StorageError: the file is there but does not hold a (seq, hash).
        """
        try:
            text = self.anchor_path.read_text()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StorageError(
                str(self.anchor_path), f"cannot read the audit anchor ({e.strerror})", "Check it."
            ) from None
        try:
            doc = json.loads(text)
            seq, digest = doc["seq"], doc["hash"]
            if not isinstance(seq, int) or not isinstance(digest, str):
                raise TypeError(doc)
        except (ValueError, KeyError, TypeError):
            raise StorageError(
                str(self.anchor_path),
                "the audit anchor does not hold a seq and a hash",
                "Compare the log with a head kept elsewhere (`tillage audit verify --json`).",
            ) from None
        return seq, digest

    def _move_anchor(self, entry: AuditEntry) -> None:
        """Point the anchor at ``entry`` unless it already names a later one (an appender on
        another machine, sharing the catalog and the folder, may have been faster)."""
        try:
            current = self.anchor()
        except StorageError:
            current = None  # a damaged anchor is replaced; verify has reported it
        if current is not None and current[0] >= entry.seq:
            return
        tmp = self.anchor_path.with_name(f"{ANCHOR_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(canonical({"seq": entry.seq, "hash": entry.hash}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.anchor_path)

    # -- reading and verifying ----------------------------------------------------

    def entries(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The entries, oldest first (with ``limit``: the newest ``limit`` of them)."""
        newest = AUDIT_LOG.c.seq.desc()
        query = select(AUDIT_LOG).order_by(AUDIT_LOG.c.seq if limit is None else newest)
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        entries = [
            AuditEntry(int(r.seq), r.at, r.principal, r.action, r.detail, r.prev_hash, r.hash)
            for r in rows
        ]
        return sorted(entries, key=lambda e: e.seq)

    def of_actions(self, actions: Sequence[str]) -> list[AuditEntry]:
        """The entries whose action is one of ``actions``, oldest first."""
        query = select(AUDIT_LOG).where(AUDIT_LOG.c.action.in_(actions)).order_by(AUDIT_LOG.c.seq)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(int(r.seq), r.at, r.principal, r.action, r.detail, r.prev_hash, r.hash)
            for r in rows
        ]

    def verify(self) -> AuditReport:
        """Check every entry's hash and link, and that the chain ends at the anchor.

        Returns the first problem (see `Tamper`) in a report; raises nothing for a
        damaged log, since saying what is damaged is the point. Holds the append
        lock where it can, so that an append in flight (committed, its anchor not
        yet written) is not mistaken for an insertion.
        """
        if self._lock_path.exists():
            try:
                with write_lock(self._lock_path, timeout=30.0):
                    return self._verify()
            except ReadOnlyRepositoryError:
                pass  # a reader that may not lock: appends are not its to wait for
        return self._verify()

    def _verify(self) -> AuditReport:
        entries = self.entries()
        head = (entries[-1].seq, entries[-1].hash) if entries else None
        try:
            anchor = self.anchor()
        except StorageError as e:
            return AuditReport(len(entries), head, None, AuditProblem(None, Tamper.ANCHOR, str(e)))
        problem = _chain_problem(entries) or _anchor_problem(entries, anchor, self.anchor_path)
        return AuditReport(len(entries), head, anchor, problem)


def _written_at(entry: AuditEntry, seqs: Sequence[int]) -> int | None:
    """The seq among ``seqs`` that ``entry``'s hash was computed with, if any."""
    for seq in seqs:
        if seq != entry.seq and entry.hash == entry_hash(
            seq, entry.at, entry.principal, entry.action, entry.detail, entry.prev_hash
        ):
            return seq
    return None


def _chain_problem(entries: Sequence[AuditEntry]) -> AuditProblem | None:
    """The first entry that is not where, or what, it was written."""
    candidates = range(1, (entries[-1].seq if entries else 0) + 2)
    prev = GENESIS
    for expected, entry in enumerate(entries, 1):
        if entry.seq != expected:
            missing = f"{expected}" if entry.seq == expected + 1 else f"{expected}..{entry.seq - 1}"
            return AuditProblem(
                expected,
                Tamper.DELETED,
                f"entry {missing} is missing from the audit log (the entries before and after "
                "it are there): it was deleted",
            )
        actual = entry_hash(
            entry.seq, entry.at, entry.principal, entry.action, entry.detail, entry.prev_hash
        )
        if actual != entry.hash:
            moved = _written_at(entry, candidates)
            if moved is not None:
                return AuditProblem(
                    entry.seq,
                    Tamper.REORDERED,
                    f"entry {entry.seq} ({entry.action} by {entry.principal}) was written as "
                    f"entry {moved}: entries were reordered or renumbered",
                )
            return AuditProblem(
                entry.seq,
                Tamper.EDITED,
                f"entry {entry.seq} ({entry.action} by {entry.principal}) does not match its "
                "hash: it was edited after it was written",
            )
        if entry.prev_hash != prev:
            return AuditProblem(
                entry.seq,
                Tamper.INSERTED,
                f"entry {entry.seq} ({entry.action} by {entry.principal}) does not follow entry "
                f"{entry.seq - 1}: it was inserted, or an entry before it was replaced",
            )
        prev = entry.hash
    return None


def _anchor_problem(
    entries: Sequence[AuditEntry], anchor: tuple[int, str] | None, path: Path
) -> AuditProblem | None:
    """Whether an intact chain ends exactly where the anchor says."""
    last = entries[-1].seq if entries else 0
    if anchor is None:
        if not entries:
            return None
        return AuditProblem(
            None,
            Tamper.ANCHOR,
            f"the audit anchor {path} is missing, so deleted last entries cannot be ruled out; "
            "compare the head with one kept elsewhere",
        )
    seq, digest = anchor
    if seq > last:
        return AuditProblem(
            last + 1,
            Tamper.DELETED,
            f"the anchor says the log ends at entry {seq}, but it ends at entry {last}: "
            f"entries {last + 1}..{seq} were deleted",
        )
    if entries[seq - 1].hash != digest if seq >= 1 else digest != GENESIS:
        return AuditProblem(
            seq,
            Tamper.ANCHOR,
            f"entry {seq} is not the one the anchor recorded: the log was rewritten from there on",
        )
    if seq < last:
        return AuditProblem(
            seq + 1,
            Tamper.INSERTED,
            f"entries {seq + 1}..{last} come after the anchor's entry {seq}: they were inserted "
            "into the catalog (or a process stopped between writing them and the anchor; the "
            "next append moves the anchor on)",
        )
    return None
