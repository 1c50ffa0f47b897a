"""Break-glass access: a person reads raw records of a private dataset under a grant.

The rules, all enforced here and each decision recorded in the audit log
(`tillage.store.audit`):

- A request names a purpose (or ticket) and a scope: the dataset version (the
  commit it is pinned at), columns, a row predicate and a maximum row count.
- Another principal with the ``approver`` role approves it, with an expiry;
  the requester never approves their own request. Approval marks the
  grantee's DP guarantee on that dataset void in the ledger, in the same
  transaction (they will have seen raw rows, so later DP answers to them no
  longer protect those rows).
- Only the grantee reads, only while the grant is approved and not expired or
  revoked, and only the grant's scope, through the one read path with
  `Purpose.BREAK_GLASS`. Each read is logged with the dataset version,
  columns, predicate, the number of rows and the SHA-256 over their sorted keys
  before the rows are returned. A grant whose catalog row no longer matches its
  request and approval entries in the audit log (a scope widened, an expiry
  moved, an approval written by hand) reads nothing.
- Requests, approvals, revocations, reads and refusals (approving one's own
  request, approving without the role, reading an unapproved, expired or
  revoked grant, reading someone else's) are audit entries. Bad input (no
  purpose, an unknown column) and unknown grant ids are errors that record
  nothing: there is no decision to audit.

Times are UTC, from `now` (one function, so that tests can approve in the past).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import uuid4

from sqlalchemy import Connection

from tillage.access import Purpose, Reader
from tillage.core.policy import Policy, Role
from tillage.errors import (
    GrantRefusedError,
    GrantRequestError,
    InputError,
    NoSuchDatasetError,
    NoSuchGrantError,
)
from tillage.store.audit import AuditLog, canonical
from tillage.store.catalog import Catalog, json_ready
from tillage.store.filters import lance_filter
from tillage.store.grants import GrantRecord, GrantStore
from tillage.store.ledger import Ledger

if TYPE_CHECKING:
    import pyarrow as pa


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="microseconds")


class GrantState(StrEnum):
    """Where a grant is in its life."""

    REQUESTED = "requested"  # waiting for an approver
    APPROVED = "approved"  # its grantee may read, until it expires
    EXPIRED = "expired"  # approved, and past its expiry
    REVOKED = "revoked"  # withdrawn by its requester or an approver


@dataclass(frozen=True)
class Grant:
    """A break-glass grant: who may read what of which dataset version, why, and until when."""

    id: str
    principal: str  # the grantee, who requested it
    dataset: str
    commit: str  # the pinned dataset version: the commit it was requested at
    columns: tuple[str, ...]
    where: str | None
    max_rows: int
    purpose: str
    state: GrantState
    requested_at: str
    approved_by: str | None
    approved_at: str | None
    expires_at: str | None
    revoked_by: str | None
    revoked_at: str | None

    @classmethod
    def of(cls, r: GrantRecord, at: datetime) -> Grant:
        """The grant a catalog row holds, its state as of ``at``."""
        state = GrantState(r.state)
        if (
            state is GrantState.APPROVED
            and r.expires_at is not None
            and datetime.fromisoformat(r.expires_at) <= at
        ):
            state = GrantState.EXPIRED
        return cls(
            r.grant_id,
            r.principal,
            r.dataset,
            r.commit_id,
            tuple(r.columns),
            r.predicate,
            r.max_rows,
            r.purpose,
            state,
            r.requested_at,
            r.approved_by,
            r.approved_at,
            r.expires_at,
            r.revoked_by,
            r.revoked_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The grant as JSON-ready values."""
        return {
            "id": self.id,
            "principal": self.principal,
            "dataset": self.dataset,
            "commit": self.commit,
            "columns": list(self.columns),
            "where": self.where,
            "max_rows": self.max_rows,
            "purpose": self.purpose,
            "state": self.state.value,
            "requested_at": self.requested_at,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "expires_at": self.expires_at,
            "revoked_by": self.revoked_by,
            "revoked_at": self.revoked_at,
        }


def keys_digest(keys: Sequence[Sequence[Any]]) -> str:
    """SHA-256 over the sorted keys of the rows read (each key as canonical JSON, one a line).

    A reviewer who holds the keys of the rows a grant should have returned can
    recompute it; the log itself names no record.
    """
    lines = sorted(canonical(json_ready(list(k))) for k in keys)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class BreakGlass:
    """Grants of one repository, acted on by ``reader``'s principal.

    Args:
        catalog: the repository's catalog (grants, commits, keys).
        audit: its audit log.
        policy: its privacy policy, with derived datasets (who approves; lineages).
        reader: the one read path, as the acting principal.
    """

    def __init__(self, catalog: Catalog, audit: AuditLog, policy: Policy, reader: Reader) -> None:
        self._catalog = catalog
        self._store = GrantStore(catalog.engine)
        self._audit = audit
        self._policy = policy
        self._reader = reader

    @property
    def principal(self) -> str:
        return self._reader.principal

    # -- requests and decisions --------------------------------------------------------

    def request(
        self,
        dataset: str,
        commit: str,
        dataset_columns: Sequence[str],
        *,
        purpose: str | None,
        columns: Sequence[str] | None,
        where: str | None,
        max_rows: int | None,
    ) -> Grant:
        """Record a request to read ``dataset`` at ``commit`` (whose columns are
        ``dataset_columns``).

        Raises:
            GrantRequestError: no purpose, no or unknown or repeated columns, or a
                ``max_rows`` that is not a whole number >= 1.
            InvalidFilterError: ``where`` is not one condition on the dataset's columns.
        """
        if purpose is None or not str(purpose).strip():
            raise GrantRequestError(
                "a break-glass grant needs a purpose or a ticket (why raw records must be seen)",
                "Say why, e.g. --purpose 'TICKET-123: customer reports a wrong balance'.",
            )
        cols = [columns] if isinstance(columns, str) else list(columns or [])
        if not cols:
            raise GrantRequestError(
                f"a break-glass grant on {dataset!r} must name the columns it needs",
                f"Name only those needed, e.g. --columns {','.join(dataset_columns[:2])}.",
            )
        unknown = [c for c in cols if c not in dataset_columns]
        repeated = sorted({c for c in cols if cols.count(c) > 1})
        if unknown or repeated:
            what = (
                f"unknown column(s) {', '.join(unknown)}"
                if unknown
                else f"repeated column(s) {', '.join(repeated)}"
            )
            raise GrantRequestError(
                f"{what} in the scope of a grant on {dataset!r}",
                f"Its columns: {', '.join(dataset_columns)}; name each at most once.",
            )
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise GrantRequestError(
                f"a break-glass grant needs a maximum row count (a whole number >= 1), "
                f"not {max_rows!r}",
                "Ask for as few rows as the purpose needs, e.g. --max-rows 20.",
            )
        if where is not None:
            lance_filter(where, dataset_columns)
        record = GrantRecord(
            grant_id=uuid4().hex[:12],
            principal=self.principal,
            dataset=dataset,
            commit_id=commit,
            columns=cols,
            predicate=where,
            max_rows=max_rows,
            purpose=str(purpose).strip(),
            state=GrantState.REQUESTED.value,
            requested_at=_iso(now()),
        )
        self._audit.append(
            self.principal,
            "grant.request",
            {
                "grant": record.grant_id,
                "dataset": dataset,
                "commit": commit,
                "columns": cols,
                "where": where,
                "max_rows": max_rows,
                "purpose": record.purpose,
            },
            also=lambda conn: self._store.insert(conn, record),
        )
        return Grant.of(record, now())

    def approve(self, grant_id: str, expires_in: timedelta) -> Grant:
        """Approve a requested grant until ``expires_in`` from now.

        Raises:
            InputError: ``expires_in`` is not a positive duration.
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: the approver requested it, lacks the approver role, or
                the grant is no longer waiting for approval (audited).
        """
        if not isinstance(expires_in, timedelta) or expires_in <= timedelta(0):
            raise InputError(
                f"a grant's expiry must be a positive duration, not {expires_in!r}; "
                "approve for as short a time as the purpose needs, e.g. 4h."
            )
        grant = self.get(grant_id)
        who = self.principal
        if grant.principal == who:
            self._refuse(
                grant,
                "approve",
                "it is their own request; a grant needs a second person",
                "Ask a principal with the approver role to approve it.",
            )
        if not self._policy.has_role(who, Role.APPROVER):
            approvers = sorted(
                p for p, roles in self._policy.principals.items() if Role.APPROVER in roles
            )
            self._refuse(
                grant,
                "approve",
                "they do not have the approver role in the privacy policy",
                f"Approvers: {', '.join(approvers) or 'none yet (give the role in policy.yaml)'}.",
            )
        if grant.state is not GrantState.REQUESTED:
            self._refuse(
                grant,
                "approve",
                f"it is {grant.state.value}",
                "Only a requested grant is approved.",
            )
        at = now()
        expires = at + expires_in

        def change(conn: Connection) -> None:
            if not GrantStore.move(
                conn,
                grant_id,
                GrantState.REQUESTED.value,
                state=GrantState.APPROVED.value,
                approved_by=who,
                approved_at=_iso(at),
                expires_at=_iso(expires),
            ):
                raise GrantRefusedError(
                    who, "approve", grant_id, "it changed meanwhile", "Look again (grant list)."
                )
            private = self._policy.private(grant.dataset)
            lineage = private.lineage if private is not None else grant.dataset
            Ledger.void(conn, lineage, grant.principal)

        self._audit.append(
            who,
            "grant.approve",
            {
                "grant": grant_id,
                "grantee": grant.principal,
                "dataset": grant.dataset,
                "commit": grant.commit,
                "expires_at": _iso(expires),
                "dp_guarantee_void": True,
            },
            also=change,
        )
        return self.get(grant_id)

    def revoke(self, grant_id: str, reason: str | None = None) -> Grant:
        """Withdraw a grant (its requester, or an approver); it reads nothing from then on.

        Raises:
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: the principal is neither its requester nor an approver,
                or it is revoked already (audited).
        """
        grant = self.get(grant_id)
        who = self.principal
        if who != grant.principal and not self._policy.has_role(who, Role.APPROVER):
            self._refuse(
                grant,
                "revoke",
                "only its requester or an approver may revoke it",
                "Ask one of them.",
            )
        if grant.state is GrantState.REVOKED:
            self._refuse(grant, "revoke", "it is revoked already", "Nothing needs doing.")
        stored = self._store.get(grant_id)
        assert stored is not None

        def change(conn: Connection) -> None:
            if not GrantStore.move(
                conn,
                grant_id,
                stored.state,
                state=GrantState.REVOKED.value,
                revoked_by=who,
                revoked_at=_iso(now()),
            ):
                raise GrantRefusedError(
                    who, "revoke", grant_id, "it changed meanwhile", "Look again (grant list)."
                )

        self._audit.append(
            who,
            "grant.revoke",
            {"grant": grant_id, "grantee": grant.principal, "reason": reason},
            also=change,
        )
        return self.get(grant_id)

    # -- reading ------------------------------------------------------------------------

    def read(self, grant_id: str) -> pa.Table:
        """The rows of the grant's scope, for its grantee while it is approved.

        Reads the grant's columns (and the dataset's key, to hash the keys read,
        though the key is not returned unless granted) of the pinned version,
        filtered by its predicate, at most ``max_rows``; logs the read, then
        returns the rows.

        Raises:
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: the reader is not the grantee, or the grant is not
                approved, has expired or was revoked (audited; nothing is read).
        """
        grant = self.get(grant_id)
        who = self.principal
        if who != grant.principal:
            self._refuse(
                grant,
                "read",
                f"it was granted to {grant.principal}",
                "Request a grant of your own (tillage grant request).",
            )
        if grant.state is not GrantState.APPROVED:
            fixes = {
                GrantState.REQUESTED: "it is not approved yet; ask an approver to approve it",
                GrantState.EXPIRED: f"it expired at {grant.expires_at}; request a new grant",
                GrantState.REVOKED: f"it was revoked by {grant.revoked_by}; request a new grant",
            }
            reason, _, fix = fixes[grant.state].partition("; ")
            self._refuse(grant, "read", reason, fix[0].upper() + fix[1:] + ".")
        changed = self._changed_since_logged(grant)
        if changed:
            self._refuse(
                grant,
                "read",
                f"its {changed} in the catalog differ from what the audit log recorded, so it "
                "was changed outside tillage",
                "Run `tillage audit verify`, and request a new grant.",
            )
        commit = self._catalog.get_commit(grant.commit)
        if commit is None or grant.dataset not in commit.pins:
            raise NoSuchDatasetError(
                grant.dataset, grant.commit, list(commit.pins if commit else [])
            )
        key = self._catalog.dataset_key(grant.dataset) or []
        wanted = [*grant.columns, *(k for k in key if k not in grant.columns)]
        rows = self._reader.table(
            Purpose.BREAK_GLASS,
            grant.dataset,
            commit.pins[grant.dataset],
            grant.commit,
            columns=wanted,
            where=grant.where,
            limit=grant.max_rows,
        )
        keys = list(zip(*(rows.column(k).to_pylist() for k in key), strict=True)) if key else []
        self._audit.append(
            who,
            "grant.read",
            {
                "grant": grant_id,
                "dataset": grant.dataset,
                "commit": grant.commit,
                "columns": list(grant.columns),
                "where": grant.where,
                "rows": rows.num_rows,
                "keys_sha256": keys_digest(keys),
            },
        )
        return rows.select(list(grant.columns))

    # -- listing --------------------------------------------------------------------------

    def get(self, grant_id: str) -> Grant:
        """The grant with id ``grant_id``.

        Raises:
            NoSuchGrantError: no grant has that id.
        """
        record = self._store.get(grant_id)
        if record is None:
            raise NoSuchGrantError(grant_id)
        return Grant.of(record, now())

    def all(self) -> list[Grant]:
        """Every grant, oldest request first, with its state as of now."""
        at = now()
        return [Grant.of(r, at) for r in self._store.all()]

    def _changed_since_logged(self, grant: Grant) -> str | None:
        """What of an approved grant's catalog row differs from its request and approval
        entries in the audit log (None: nothing).

        The row is what reads obey; the log is what reviewers see. Someone who edits
        the row (a wider scope, a later expiry, an approval never given, a
        revocation undone) makes them differ, and the grant then reads nothing.
        """
        logged: dict[str, dict[str, Any]] = {}
        for e in self._audit.of_actions(["grant.request", "grant.approve", "grant.revoke"]):
            if e.detail.get("grant") == grant.id:
                logged.setdefault(e.action, {**e.detail, "by": e.principal})
        request, approval = logged.get("grant.request"), logged.get("grant.approve")
        if request is None:
            return "request"
        if "grant.revoke" in logged:
            return "state (approved, where the log records its revocation)"
        scope = {
            "by": grant.principal,
            "dataset": grant.dataset,
            "commit": grant.commit,
            "columns": list(grant.columns),
            "where": grant.where,
            "max_rows": grant.max_rows,
            "purpose": grant.purpose,
        }
        if any(request.get(k) != v for k, v in scope.items()):
            return "scope and requester"
        if approval is None or (approval.get("by"), approval.get("expires_at")) != (
            grant.approved_by,
            grant.expires_at,
        ):
            return "approver and expiry"
        return None

    def _refuse(self, grant: Grant, action: str, reason: str, fix: str) -> NoReturn:
        """Record the refusal in the audit log, then raise it."""
        self._audit.append(
            self.principal,
            "grant.refused",
            {"grant": grant.id, "tried": action, "reason": reason, "state": grant.state.value},
        )
        raise GrantRefusedError(self.principal, action, grant.id, reason, fix)
