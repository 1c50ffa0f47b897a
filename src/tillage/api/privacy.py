"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tillage.access import Purpose
from tillage.api._storage import Namespace, count
from tillage.core.duration import parse_duration
from tillage.core.policy import POLICY_FILE, ColumnClass, Policy
from tillage.errors import InputError, NoSuchDatasetError, PolicyFileError
from tillage.privacy.grants import BreakGlass, Grant
from tillage.privacy.scan import DEFAULT_SAMPLE, ScanReport, merge_into_policy, proposals
from tillage.store.audit import AuditEntry, AuditLog, AuditReport

if TYPE_CHECKING:
    import pyarrow as pa


def _texts(t: Any) -> bool:
    """Whether a column of Arrow type ``t`` holds text (plain or dictionary-encoded)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


@dataclass(frozen=True)
class PolicyUpdate:
    """What `Privacy.write_scan` changed in the policy file.

    Attributes:
        path: the policy file.
        dataset: the dataset it marks private.
        created: the file did not exist before.
        added: column -> class, the proposals it added.
        kept: the proposed columns the file already listed (their entries win).
        left_public: columns proposed public, left at the dataset's default class
            until a person marks them public.
    """

    path: str
    dataset: str
    created: bool
    added: dict[str, ColumnClass]
    kept: list[str]
    left_public: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "dataset": self.dataset,
            "created": self.created,
            "added": {c: k.value for c, k in self.added.items()},
            "kept": self.kept,
            "left_public": self.left_public,
        }


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

    def scan(
        self, dataset: str, ref: str | None = None, *, sample: int = DEFAULT_SAMPLE, seed: int = 0
    ) -> ScanReport:
        """Propose a class for each column of ``dataset`` from a seeded sample of its values.

        Text columns are checked by every detector (`tillage.privacy.scan`),
        whole-number columns as card numbers, every column by its name. The
        values are read for `Purpose.AGGREGATE`: only classes, detector names,
        counts and shares come back, never a value.

        Args:
            dataset: the dataset.
            ref: the ref to scan at (default: HEAD).
            sample: how many rows to look at (a whole number >= 1; all when fewer).
            seed: the sample's seed (the same seed samples the same rows).

        Raises:
            NoSuchDatasetError: ``ref`` has no such dataset.
            InputError: ``sample`` is not a whole number >= 1.
        """
        import pyarrow as pa

        from tillage.privacy.scan import scan_column

        n = count("sample", sample)
        if not n:
            raise InputError(f"sample must be a whole number >= 1, not {sample!r}.")
        commit = self._repo.refs.find_commit(ref)
        pins = commit.pins if commit else {}
        if dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        assert commit is not None
        handle = self._reader.version(Purpose.AGGREGATE, dataset, pins[dataset], commit.id)
        schema = pa.schema([f.remove_metadata() for f in handle.schema])
        texts = [f.name for f in schema if _texts(f.type)]
        ints = [f.name for f in schema if pa.types.is_integer(f.type)]
        rows = handle.count_rows()
        picked = sorted(random.Random(seed).sample(range(rows), min(n, rows)))
        sampled = (
            handle.take(picked, columns=texts + ints).to_pydict()
            if picked and (texts or ints)
            else {name: [] for name in texts + ints}
        )
        columns = [
            scan_column(f.name, str(f.type), sampled.get(f.name), numbers=f.name in ints)
            for f in schema
        ]
        return ScanReport(dataset, commit.id, rows, len(picked), seed, tuple(columns))

    def write_scan(self, report: ScanReport) -> PolicyUpdate:
        """Merge ``report``'s proposals into ``.tillage/policy.yaml``, for a person to review.

        Marks the dataset private and lists each column proposed non-public that
        the file does not list yet (entries already there win; columns proposed
        public keep the dataset's default class, ``sensitive``). Comments and
        order in the file are kept. The file is replaced whole, and only when the
        result is a valid policy for this repository.

        Raises:
            PolicyFileError: the file does not parse, or the result does not check
                against the repository (the file is left as it was).
            InputError: the scan proposes columns the current branch's dataset lacks.
            NoSuchDatasetError: the current branch has no such dataset.
        """
        import yaml

        wanted = proposals(report)
        have = set(self._repo.datasets.schema(report.dataset).names)
        gone = [c for c in wanted if c not in have]
        if gone:
            raise InputError(
                f"the scan of {report.dataset!r} at commit {report.commit[:12]} proposes "
                f"column(s) {', '.join(gone)}, which {report.dataset!r} on the current branch "
                "does not have; scan the current branch and write that scan."
            )
        path = self._storage.repo_dir / POLICY_FILE
        before = path.read_text() if path.exists() else None
        try:
            text, added = merge_into_policy(before, report.dataset, proposals(report))
        except ValueError as e:
            raise PolicyFileError(str(path), str(e)) from None
        policy = Policy.parse(yaml.safe_load(text), str(path))
        datasets = self._repo.datasets
        policy.check_names({name: datasets.schema(name).names for name in datasets.pins()})
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        vars(self._storage).pop("policy", None)  # the cached policy is the old file's
        return PolicyUpdate(
            str(path),
            report.dataset,
            before is None,
            {c: wanted[c] for c in added},
            [c for c in wanted if c not in added],
            [c.column for c in report.columns if c.proposed is ColumnClass.PUBLIC],
        )

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
