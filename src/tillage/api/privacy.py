"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
"""

from __future__ import annotations

from functools import cached_property

from tillage.api._storage import Namespace, count
from tillage.core.policy import Policy
from tillage.store.audit import AuditEntry, AuditLog, AuditReport


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
