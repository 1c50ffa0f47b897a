"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from tillage.api._storage import Namespace, count
from tillage.core.duration import parse_duration
from tillage.core.policy import Policy
from tillage.errors import NoSuchDatasetError
from tillage.privacy.grants import BreakGlass, Grant
from tillage.store.audit import AuditEntry, AuditLog, AuditReport

if TYPE_CHECKING:
    import pyarrow as pa


class Privacy(Namespace):
    """The privacy policy of a repository (``repo.privacy``)."""

    @property
    def principal(self) -> str:
        """Who this handle reads as."""
        return self._reader.principal

    def policy(self, *, check: bool = True) -> Policy:
        """The repository's policy, from ``.tillage/policy.yaml`` (empty when there is none).

        With ``check``, every dataset and column it names must exist on the
        current branch.

        Raises:
            PolicyFileError: the file does not parse, or names an unknown dataset or column.
        """
        policy = self._storage.policy
        if check and not policy.empty:
            datasets = self._repo.datasets
            policy.check_names({name: datasets.schema(name).names for name in datasets.pins()})
        return policy

    # -- break-glass grants (`tillage.privacy.grants`) ----------------------------------

    @cached_property
    def _grants(self) -> BreakGlass:
        return BreakGlass(self._catalog, self._audit, self._storage.policy, self._reader)

    def request_grant(
        self,
        dataset: str,
        *,
        purpose: str | None = None,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        max_rows: int | None = None,
        ref: str | None = None,
    ) -> Grant:
        """Ask to read raw records: ``columns`` of the rows of ``dataset`` at ``ref`` (its
        version is pinned) that match ``where``, at most ``max_rows``, for ``purpose``.

        The request waits for another principal with the approver role
        (`approve_grant`); it is recorded in the audit log.

        Raises:
            GrantRequestError: no purpose, no, unknown or repeated columns, or no
                ``max_rows`` (a whole number >= 1).
            InvalidFilterError: ``where`` is not one condition on the dataset's columns.
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        commit = self._repo.refs.find_commit(ref)
        pins = commit.pins if commit else {}
        if commit is None or dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        names = self._tables.schema(dataset, pins[dataset]).names
        return self._grants.request(
            dataset,
            commit.id,
            names,
            purpose=purpose,
            columns=columns,
            where=where,
            max_rows=max_rows,
        )

    def approve_grant(self, grant_id: str, *, expires_in: timedelta | str) -> Grant:
        """Approve a grant someone else requested, until ``expires_in`` from now (a
        timedelta, or ``30m``, ``4h``, ``2d``).

        Approval voids the grantee's DP guarantee on the dataset in the ledger.

        Raises:
            InputError: ``expires_in`` is not a positive duration.
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: the approver requested it, lacks the approver role in the
                policy, or it is not waiting for approval (the refusal is audited).
        """
        if isinstance(expires_in, str):
            expires_in = parse_duration(expires_in)
        return self._grants.approve(grant_id, expires_in)

    def revoke_grant(self, grant_id: str, *, reason: str | None = None) -> Grant:
        """Withdraw a grant (its requester or an approver may).

        Raises:
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: neither its requester nor an approver, or revoked already.
        """
        return self._grants.revoke(grant_id, reason)

    def read_granted(self, grant_id: str) -> pa.Table:
        """The rows a grant covers, read by its grantee while it is approved.

        The read is logged (who, when, dataset version, columns, predicate, the
        number of rows and a hash of their keys) before the rows are returned.

        Raises:
            NoSuchGrantError: no grant has that id.
            GrantRefusedError: not the grantee, or the grant is not approved, has
                expired or was revoked (the refusal is audited; nothing is read).
        """
        return self._grants.read(grant_id)

    def grants(self) -> list[Grant]:
        """Every grant with its state (requested, approved, expired, revoked), oldest first."""
        return self._grants.all()

    def grant(self, grant_id: str) -> Grant:
        """One grant.

        Raises:
            NoSuchGrantError: no grant has that id.
        """
        return self._grants.get(grant_id)

    # -- the audit log --------------------------------------------------------------

    @cached_property
    def _audit(self) -> AuditLog:
        return AuditLog(self._catalog.engine, self._storage.repo_dir)

    def audit_log(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The audit log's entries, oldest first (with ``limit``: only the newest ``limit``).

        Raises:
            InputError: ``limit`` is not a whole number >= 0.
        """
        return self._audit.entries(limit=count("limit", limit))

    def audit_verify(self) -> AuditReport:
        """Check the audit log's hash chain and its anchor (``.tillage/audit.head``).

        The report names the first entry that was edited, deleted, reordered or
        inserted, or an anchor that does not match; its ``head`` is the (seq,
        hash) to keep outside the repository (see `tillage.store.audit` for what
        the anchor does and does not protect against).
        """
        return self._audit.verify()
