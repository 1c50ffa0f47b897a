"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
DP answers (`query`) read rows through it for `Purpose.AGGREGATE` and hand out
only OpenDP measurements, paid for in the persistent ledger
(`tillage.store.ledger`) before they are computed.
"""

from __future__ import annotations

import math
import os
import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tillage.access import Purpose
from tillage.api._storage import Namespace, count
from tillage.core.duration import parse_duration
from tillage.core.policy import POLICY_FILE, ColumnClass, DatasetPolicy, Policy
from tillage.errors import (
    DPQueryError,
    InputError,
    InvalidNameError,
    NoBudgetError,
    NoSuchDatasetError,
    PolicyFileError,
)
from tillage.privacy.grants import BreakGlass, Grant
from tillage.privacy.scan import DEFAULT_SAMPLE, ScanReport, merge_into_policy, proposals
from tillage.privacy.synthesize import DEFAULT_BINS, DEFAULT_DELTA
from tillage.store.audit import AuditEntry, AuditLog, AuditReport

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.core.commit import Commit
    from tillage.privacy.aggregate import AggregateView
    from tillage.privacy.dp import DPAnswer
    from tillage.privacy.dp_reports import Released
    from tillage.privacy.synthesize import SyntheticProxy
    from tillage.store.ledger import BudgetState, Ledger


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
        """The repository's policy, from ``.tillage/policy.yaml`` (empty when there is none),
        with the datasets private by derivation: label sets of private records, and
        what jobs wrote from private values (see `Policy.with_derived`).

        With ``check``, every dataset and column the file names must exist on the
        current branch.

        Raises:
            PolicyFileError: the file does not parse, or names an unknown dataset or column.
        """
        policy = self._storage.policy
        if check and not policy.empty:
            datasets = self._repo.datasets
            policy.check_names({name: datasets.schema(name).names for name in datasets.pins()})
        return self._storage.read_policy

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
        self._storage.forget_read_policy()
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
        return BreakGlass(self._catalog, self._audit, self._storage.read_policy, self._reader)

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

    def budget(self, dataset: str) -> BudgetState:
        """This principal's DP budget on ``dataset``: spent, left, and whether it is void.

        Raises:
            NoBudgetError: the policy sets no budget for ``dataset``.
        """
        dpol = self._budgeted(dataset)
        assert dpol.budget is not None
        return self._ledger.state(dpol.lineage, dpol.privacy_unit, self.principal, dpol.budget)

    def query(
        self,
        dataset: str,
        kind: str,
        column: str | None = None,
        *,
        epsilon: float,
        by: str | None = None,
        bounds: Sequence[float] | str | None = None,
        categories: Sequence[Any] | None = None,
        alpha: float = 0.5,
        ref: str | None = None,
        preview: bool = False,
    ) -> DPAnswer:
        """A differentially private count, histogram, sum, mean or quantile of ``dataset``.

        Spends ``epsilon`` of this principal's budget on the dataset (the policy's
        ``budget``) in the catalog's ledger before computing the answer; a query
        that would overspend is refused and releases nothing. A preview spends
        nothing and releases no DP value: it says which mechanisms and noise
        scales the query would use, their predicted 95% error, and for sums and
        means the clamping bias. That bias, and the row count a mean's error
        needs, are exact aggregates over the whole version, shown under the
        policy's minimum group size like `aggregate` shows a group: when fewer
        rows than that lie outside the bounds, the bias is suppressed.

        Args:
            dataset: a dataset the policy gives a budget.
            kind: ``count``, ``histogram``, ``sum``, ``mean`` or ``quantile``.
            column: the numeric column (sum, mean, quantile), or the categorical one
                (histogram; ``by`` works too).
            epsilon: the ε to spend, a number > 0.
            by: a count by this column's public categories is a histogram.
            bounds: ``(lower, upper)`` clamp bounds the caller declares public; or
                ``"estimate"`` to spend a quarter of ε on DP 1% and 99% quantiles
                over a public grid and use those. Default: the policy's bounds.
            categories: the categories of a histogram, declared public by the
                caller. Default: the policy's categories.
            alpha: the quantile, in (0, 1).
            ref: the version to measure (default: HEAD).
            preview: size the query and spend nothing.

        Raises:
            DPQueryError: ε not a number > 0, a numeric query with no bounds, a
                histogram with no categories, a missing or unfit column.
            NoBudgetError: the policy sets no budget for ``dataset``.
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was spent.
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        from tillage.privacy import dp

        eps = _epsilon(epsilon)
        kind = _kind(kind, by)
        target = by if kind == "histogram" and by is not None else column
        if target is None and kind != "count":
            raise DPQueryError(
                f"a DP {kind} needs a column",
                "Name the column (for a histogram, the categorical column, or --by).",
            )
        if kind == "quantile" and not (_number(alpha) and 0.0 < float(alpha) < 1.0):
            raise DPQueryError(
                f"alpha must be a number between 0 and 1, not {alpha!r}",
                "Pass --alpha 0.5 for the median.",
            )
        dpol = self._budgeted(dataset)
        assert dpol.budget is not None
        commit = self._commit(dataset, ref)
        names = self._repo.datasets.schema(dataset, commit.id).names
        if target is not None and target not in names:
            raise DPQueryError(
                f"{dataset!r} has no column {target!r}", f"Its columns: {', '.join(names)}."
            )
        cat_from = bounds_from = None
        cats: tuple[Any, ...] | None = None
        fixed: tuple[float, float] | None = None
        estimate = False
        if kind == "histogram":
            assert target is not None
            cats, cat_from = self._categories(dpol, dataset, target, categories)
        elif kind in dp.NUMERIC_KINDS:
            assert target is not None
            fixed, bounds_from = self._bounds(dpol, dataset, kind, target, bounds)
            estimate = bounds_from == "estimate"
            if estimate and preview:
                raise DPQueryError(
                    "a preview cannot estimate bounds: estimating them spends ε",
                    "Preview with --bounds LO,HI, or run the query without --preview.",
                )
        lineage, unit = dpol.lineage, dpol.privacy_unit
        state = self._ledger.state(lineage, unit, self.principal, dpol.budget)
        if not preview and eps > state.left + 1e-9:
            from tillage.errors import BudgetExhaustedError

            raise BudgetExhaustedError(self.principal, dataset, eps, state.spent, state.budget)

        rows = self._rows(dataset, commit, dpol, target)
        nums: list[float] = []
        values: list[Any]
        if kind in ("count", "histogram"):
            values = dp.labels(rows.column(target or rows.column_names[0]))
        else:
            assert target is not None
            if not _numeric(rows.schema.field(target).type):
                raise DPQueryError(
                    f"column {target!r} of {dataset!r} is not numeric, so it has no DP {kind}",
                    "Ask for a count or histogram of it instead.",
                )
            values = nums = dp.numbers(rows.column(target))
        contributions = dpol.max_rows_per_unit
        query_record = {
            "kind": kind,
            "column": target,
            "epsilon": eps,
            "bounds": list(fixed) if fixed else ("estimate" if estimate else None),
            "categories": list(cats) if cats else None,
            "alpha": alpha if kind == "quantile" else None,
        }

        spend_id = None
        estimated: dp.Measured | None = None
        if preview:
            assert not estimate
            plan = dp.Plan(kind, eps, contributions, values, fixed, cats, float(alpha))
            parts = dp.measure(plan, release=False)
        else:
            spend = self._ledger.spend(
                lineage=lineage,
                unit=unit,
                principal=self.principal,
                dataset=dataset,
                commit_id=commit.id,
                epsilon=eps,
                budget=dpol.budget,
                query=query_record,
            )
            spend_id = spend.spend_id
            measure_eps = eps
            if estimate:
                estimate_eps = eps * dp.ESTIMATE_SHARE
                measure_eps = eps - estimate_eps
                fixed, estimated = dp.estimate_bounds(nums, contributions, estimate_eps, spent=eps)
            plan = dp.Plan(kind, measure_eps, contributions, values, fixed, cats, float(alpha))
            parts = dp.measure(plan, release=True, spent=eps)

        clamping = None
        if kind in ("sum", "mean") and fixed is not None and preview:
            clamping = dp.clamping(nums, fixed, kind, dpol.min_group_size)
        if kind == "mean":
            value = dp.mean_of(parts)
            assert fixed is not None
            if preview:  # the exact row count and clamped mean, shown as aggregates
                big = len(nums) >= dpol.min_group_size
                n = len(nums) if big else 0
                near = (sum(min(max(x, fixed[0]), fixed[1]) for x in nums) / n) if n else None
            else:  # the answer's own DP count and mean
                n, near = int(parts[1].value or 0), value
            error = dp.mean_error(parts, n, near)
        else:
            value, error = parts[0].value, parts[0].error95
        if spend_id is not None:
            self._ledger.released(spend_id)
        after = self._ledger.state(lineage, unit, self.principal, dpol.budget)
        return dp.DPAnswer(
            dataset=dataset,
            commit=commit.id,
            kind=kind,
            column=target,
            value=value,
            preview=preview,
            epsilon=0.0 if preview else eps,
            mechanisms=[*parts, *([estimated] if estimated else [])],
            error95=error,
            clamping=clamping,
            bounds=fixed,
            bounds_from=bounds_from,
            categories=cats,
            categories_from=cat_from,
            principal=self.principal,
            unit=unit,
            budget=after.budget,
            spent=after.spent,
            left=after.left,
            void=after.void,
            spend_id=spend_id,
            alpha=float(alpha) if kind == "quantile" else None,
        )

    def aggregate(
        self,
        dataset: str,
        by: Sequence[str] = (),
        measures: Mapping[str, str | Sequence[str] | None] | None = None,
        *,
        ref: str | None = None,
    ) -> AggregateView:
        """Exact group-by counts, sums and means of ``dataset``, small groups suppressed.

        A group with fewer privacy units than the policy's ``min_group_size`` is not
        shown; the view says how many were suppressed and, unless that is itself
        below the minimum, how many rows they held. A dataset the policy does not
        name is not private: nothing is suppressed. Spends no ε.

        Args:
            dataset: the dataset.
            by: the columns to group by (none: one group, the whole version).
            measures: ``{"count": None, "sum": "income", "mean": ["income", "fee"]}``
                (default: the count; the count is always shown).
            ref: the version to read (default: HEAD).

        Raises:
            InputError: an unknown column or measure, a sum or mean of a non-numeric column.
            NoSuchDatasetError: ``ref`` has no such dataset.
        """
        from tillage.privacy.aggregate import AggregateView, aggregate, parse_measures

        pairs = parse_measures(measures)
        group_by = [by] if isinstance(by, str) else list(by)
        dpol = self.policy().private(dataset)
        commit = self._commit(dataset, ref)
        names = self._repo.datasets.schema(dataset, commit.id).names
        unit = dpol.privacy_unit if dpol is not None else "row"
        unit_col = None if unit == "row" else unit
        needed = [*group_by, *(c for _, c in pairs if c is not None)]
        unknown = [c for c in needed if c not in names]
        if unknown:
            raise InputError(
                f"unknown column(s) {', '.join(unknown)} in {dataset!r}; "
                f"its columns: {', '.join(names)}."
            )
        columns = list(dict.fromkeys([*needed, *([unit_col] if unit_col else [])]))
        if not columns:
            columns = [names[0]]
        pin = commit.pins[dataset]
        table = self._reader.table(Purpose.AGGREGATE, dataset, pin, commit.id, columns=columns)
        min_size = dpol.min_group_size if dpol is not None else 1
        groups, hidden, hidden_rows = aggregate(table, group_by, pairs, min_size, unit_col)
        return AggregateView(
            dataset=dataset,
            commit=commit.id,
            by=tuple(group_by),
            measures=pairs,
            min_group_size=min_size,
            unit=unit,
            groups=groups,
            suppressed_groups=hidden,
            suppressed_rows=hidden_rows,
            principal=self.principal,
        )

    # -- DP forms of the reports that count records (`tillage.privacy.dp_reports`) ----

    def _needs_dp(self, dataset: str) -> bool:
        """Whether this principal sees ``dataset`` only through DP answers: it is private
        and the policy does not let them read it raw."""
        policy = self._storage.policy
        return policy.private(dataset) is not None and not policy.reads_raw(self.principal)

    def _dp_ready(self, dataset: str, epsilon: float | None, what: str) -> DatasetPolicy:
        """Check, before any record is read, that ``what`` may spend ``epsilon`` on
        ``dataset``: a number > 0 that fits what is left of this principal's budget.

        Raises:
            DPQueryError: no ``epsilon``, or not a number > 0.
            NoBudgetError: the policy sets no budget for ``dataset``.
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was spent.
        """
        from tillage.errors import BudgetExhaustedError

        if epsilon is None:
            raise DPQueryError(
                f"{dataset!r} is private and {self.principal!r} may not read it raw, so "
                f"{what} comes as DP answers, which need an ε to spend",
                "Pass --epsilon (epsilon= in Python) with a positive number, e.g. "
                "--epsilon 1; `tillage privacy budget DATASET` shows what is left.",
            )
        eps = _epsilon(epsilon)
        dpol = self._budgeted(dataset)
        assert dpol.budget is not None
        state = self._ledger.state(dpol.lineage, dpol.privacy_unit, self.principal, dpol.budget)
        if eps > state.left + 1e-9:
            raise BudgetExhaustedError(self.principal, dataset, eps, state.spent, state.budget)
        return dpol

    def _release_counts(
        self,
        dataset: str,
        commit: str,
        items: Sequence[Sequence[str]],
        categories: Sequence[str],
        *,
        per_record: int,
        units: Sequence[Any] | None,
        epsilon: float,
        query: dict[str, Any],
    ) -> Released:
        """Spend ``epsilon`` once, then release DP counts of ``categories``: per record
        (``items[i]``), the categories it adds one to, distinct and at most ``per_record``.

        Each privacy unit keeps at most the policy's ``max_rows_per_unit`` records
        (``units``: each record's unit, None when the unit is the row), so the count
        vector's L1 sensitivity is ``per_record × max_rows_per_unit``.

        Raises:
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was spent.
        """
        import pyarrow as pa

        from tillage.privacy import dp
        from tillage.privacy.dp_reports import Released, flatten

        dpol = self._budgeted(dataset)
        assert dpol.budget is not None
        eps = _epsilon(epsilon)
        keep = None
        if units is not None and dpol.privacy_unit != "row":
            rows = pa.table({"row": pa.array(range(len(items)), pa.int64()), "unit": units})
            seed = zlib.crc32(f"{dataset}@{commit}".encode())
            bounded = dp.bound_contributions(rows, "unit", dpol.max_rows_per_unit, seed)
            keep = bounded.column("row").to_pylist()
        over = [
            i for i, row in enumerate(items) if len(set(row)) != len(row) or len(row) > per_record
        ]
        if over:  # a caller's bound that does not hold would void the guarantee
            raise AssertionError(f"record {over[0]} adds to more counts than {per_record}")
        values = flatten(items, keep)
        contributions = per_record * dpol.max_rows_per_unit
        lineage, unit = dpol.lineage, dpol.privacy_unit
        spend = self._ledger.spend(
            lineage=lineage,
            unit=unit,
            principal=self.principal,
            dataset=dataset,
            commit_id=commit,
            epsilon=eps,
            budget=dpol.budget,
            query=query,
        )
        plan = dp.Plan("histogram", eps, contributions, values, categories=tuple(categories))
        (part,) = dp.measure(plan, release=True, spent=eps)
        self._ledger.released(spend.spend_id)
        after = self._ledger.state(lineage, unit, self.principal, dpol.budget)
        counts = {c: int(part.value[c]) for c in categories}
        assert part.error95 is not None
        return Released(
            dataset=dataset,
            commit=commit,
            counts=counts,
            error95=part.error95,
            mechanism=part.mechanism,
            scale=part.scale,
            contributions=contributions,
            epsilon=eps,
            principal=self.principal,
            unit=unit,
            budget=after.budget,
            spent=after.spent,
            left=after.left,
            void=after.void,
            spend_id=spend.spend_id,
        )

    def synthesize(
        self,
        dataset: str,
        epsilon: float,
        *,
        name: str | None = None,
        rows: int | None = None,
        ref: str | None = None,
        seed: int = 0,
        delta: float = DEFAULT_DELTA,
        columns: Sequence[str] | None = None,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        categories: Mapping[str, Sequence[Any]] | None = None,
        bins: int = DEFAULT_BINS,
        progress: Callable[[str], None] | None = None,
    ) -> SyntheticProxy:
        """Write a differentially private synthetic proxy of ``dataset`` that people may read.

        Fits MST (`tillage.privacy.synthesize`) under (epsilon, delta)-DP, scores
        the synthetic table against the real data with 1-way and 2-way total
        variation distance beside sampling each column on its own and a bootstrap
        resample (`tillage.selection.fidelity`), and refuses a table whose 2-way
        score is worse than the independent columns'. A table that passes is
        written as one commit of ``name`` (overwriting an earlier proxy) whose
        change records the epsilon and delta spent, the source dataset and commit,
        the synthesizer's settings and the scores.

        Args:
            dataset: the dataset to imitate.
            epsilon: the epsilon of (epsilon, delta)-DP to spend (> 0) from this
                principal's budget on a private dataset; it is spent in the privacy
                ledger before any row is read, and stays spent if the table is refused.
            name: the synthetic dataset (default ``<dataset>_synthetic``).
            rows: synthetic rows (default: a noisy estimate of the real count).
            ref: the ref to read ``dataset`` at (default: HEAD).
            seed: seeds the sampling (the DP noise itself cannot be seeded).
            delta: the delta of the guarantee.
            columns: synthesize only these columns (default: all but the key, direct
                identifiers and the privacy unit).
            bounds: numeric column -> public (lower, upper), over the policy's.
            categories: column -> its public values, over the policy's.
            bins: equal-width bins per numeric column.
            progress: told of each step.

        Raises:
            PrivacyParameterError: epsilon, delta, rows, bins or bounds out of range.
            NoSuchDatasetError: ``ref`` has no such dataset.
            SynthesisDomainError: a column without public bounds or categories.
            InvalidNameError: ``name`` is the source or another private dataset.
            SyntheticFidelityError: the table was refused; nothing was written.
            PolicyFileError: the policy does not parse or names unknown columns.
            NoBudgetError: the dataset is private and the policy gives it no budget.
            BudgetExhaustedError: ``epsilon`` is more than is left; nothing was spent.
        """
        from tillage.errors import SyntheticFidelityError
        from tillage.privacy.synthesize import (
            SYNTHESIZER,
            SyntheticProxy,
            bound_contributions,
            check_parameters,
            plan_columns,
            synthesize_table,
        )
        from tillage.selection.fidelity import fidelity_gate

        check_parameters(epsilon, delta, rows)
        source = self._repo.refs.find_commit(ref)
        pins = source.pins if source else {}
        if dataset not in pins:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        assert source is not None
        target = name or f"{dataset}_synthetic"
        policy = self.policy()
        if target == dataset or policy.private(target) is not None:
            raise InvalidNameError(
                target,
                "synthetic dataset",
                "it is the source or a private dataset; a proxy may not overwrite private "
                "data. Give another --name",
            )
        private = policy.private(dataset)
        datasets = self._repo.datasets
        key = datasets.key(dataset)
        plan = plan_columns(
            dataset,
            datasets.schema(dataset, source.id),
            key,
            private,
            columns=columns,
            bounds=bounds,
            categories=categories,
            bins=bins,
        )
        if target in datasets.pins():  # an earlier proxy is replaced, with the same columns
            had = sorted(set(datasets.schema(target).names) - set(key))
            now = sorted(c.name for c in plan.codecs)
            if had != now:
                raise InputError(
                    f"{target!r} holds a proxy of columns {', '.join(had)}, not "
                    f"{', '.join(now)}; nothing was spent. Give this proxy another --name."
                )
        unit = private.privacy_unit if private is not None else "row"
        unit_rows = private.max_rows_per_unit if private is not None else 1
        spend_id = self._spend_on(
            dataset,
            source,
            epsilon,
            {"kind": "synthesize", "name": target, "synthesizer": SYNTHESIZER, "delta": delta},
        )
        unit_column = [unit] if unit != "row" else []
        wanted = list(dict.fromkeys([*key, *unit_column, *(c.name for c in plan.codecs)]))
        real = self._reader.table(
            Purpose.AGGREGATE, dataset, pins[dataset], source.id, columns=wanted
        )
        if unit != "row":
            real = bound_contributions(real, unit, unit_rows)
        if real.num_rows == 0:
            raise InputError(f"dataset {dataset!r} has no rows to imitate; ingest some first.")
        synthesis = synthesize_table(
            real,
            plan,
            epsilon=epsilon,
            delta=delta,
            unit_rows=unit_rows,
            rows=rows,
            seed=seed,
            progress=progress,
        )
        if progress is not None:
            progress("scoring fidelity")
        compared = [c.name for c in plan.codecs]
        report = fidelity_gate(
            real.select(compared), synthesis.table.select(compared), seed=seed, floor=True
        )
        two = report.two_way
        if not two.passed:
            raise SyntheticFidelityError(
                dataset, two.score, two.baseline, two.floor or 0.0, epsilon
            )
        detail = {
            "synthetic": {
                "source": dataset,
                "source_commit": source.id,
                "epsilon": epsilon,
                "delta": delta,
                "rho": synthesis.rho_spent,
                "principal": self.principal,
                "dropped": dict(plan.dropped),
                "settings": dict(synthesis.settings),
                "fidelity": _scores(report.to_dict()),
            }
        }
        commit = datasets.ingest(
            target,
            synthesis.table,
            key=key,
            mode="overwrite" if target in datasets.pins() else "append",
            message=f"synthetic proxy of {dataset} at {source.short_id} "
            f"(epsilon {epsilon:g}, delta {delta:g})",
            detail=detail,
            declassified_by="dp",
        )
        if spend_id is not None:
            self._ledger.released(spend_id)
        return SyntheticProxy(
            name=target,
            commit=commit.id,
            source=dataset,
            source_commit=source.id,
            rows=synthesis.table.num_rows,
            epsilon=epsilon,
            delta=delta,
            dropped=plan.dropped,
            settings=synthesis.settings,
            fidelity=report.to_dict(),
            seconds=synthesis.seconds,
        )

    def _spend_on(
        self, dataset: str, commit: Commit, epsilon: float, query: dict[str, Any]
    ) -> str | None:
        """Spend ``epsilon`` of this principal's budget on private ``dataset`` in the
        ledger, before anything is read; returns the spend's id (None: not private,
        nothing to spend)."""
        if self.policy().private(dataset) is None:
            return None
        dpol = self._budgeted(dataset)
        assert dpol.budget is not None
        spend = self._ledger.spend(
            lineage=dpol.lineage,
            unit=dpol.privacy_unit,
            principal=self.principal,
            dataset=dataset,
            commit_id=commit.id,
            epsilon=epsilon,
            budget=dpol.budget,
            query={**query, "epsilon": epsilon},
        )
        return spend.spend_id

    @property
    def _ledger(self) -> Ledger:
        from tillage.store.ledger import Ledger

        return Ledger(self._catalog.engine)

    def _budgeted(self, dataset: str) -> DatasetPolicy:
        dpol = self.policy().private(dataset)
        if dpol is None or dpol.budget is None:
            raise NoBudgetError(dataset)
        return dpol

    def _commit(self, dataset: str, ref: str | None) -> Commit:
        commit = self._repo.refs.find_commit(ref)
        pins = commit.pins if commit else {}
        if dataset not in pins or commit is None:
            raise NoSuchDatasetError(dataset, ref or self._repo.refs.current_branch, list(pins))
        return commit

    def _rows(
        self, dataset: str, commit: Commit, dpol: DatasetPolicy, column: str | None
    ) -> pa.Table:
        """The version's rows of ``column`` (and the unit column), each unit's contribution
        bounded to the policy's ``max_rows_per_unit``."""
        from tillage.privacy.dp import bound_contributions

        pin = commit.pins[dataset]
        unit = None if dpol.privacy_unit == "row" else dpol.privacy_unit
        columns = list(dict.fromkeys(c for c in (column, unit) if c is not None))
        if not columns:
            columns = [self._repo.datasets.schema(dataset, commit.id).names[0]]
        table = self._reader.table(Purpose.AGGREGATE, dataset, pin, commit.id, columns=columns)
        seed = zlib.crc32(f"{dataset}@{commit.id}".encode())
        return bound_contributions(table, unit, dpol.max_rows_per_unit, seed)

    def _bounds(
        self,
        dpol: DatasetPolicy,
        dataset: str,
        kind: str,
        column: str,
        bounds: Sequence[float] | str | None,
    ) -> tuple[tuple[float, float] | None, str]:
        if isinstance(bounds, str):
            if bounds != "estimate":
                raise DPQueryError(
                    f"bounds must be two numbers or 'estimate', not {bounds!r}",
                    "Pass --bounds LO,HI, or --bounds estimate to pay for a DP estimate.",
                )
            return None, "estimate"
        if bounds is not None:
            b = list(bounds)
            if len(b) != 2 or not all(_number(x) for x in b) or not float(b[0]) < float(b[1]):
                raise DPQueryError(
                    f"bounds must be two finite numbers LO < HI, not {bounds!r}",
                    "Pass --bounds LO,HI with LO < HI.",
                )
            return (float(b[0]), float(b[1])), "argument"
        declared = dpol.column(column).bounds
        if declared is not None:
            return declared, "policy"
        raise DPQueryError(
            f"a DP {kind} of {column!r} needs clamp bounds, and neither the query nor the "
            "policy gives them (they may not be taken from the data)",
            f"Pass --bounds LO,HI (public values you declare), set "
            f"datasets.{dataset}.columns.{column}.bounds in .tillage/policy.yaml, or pass "
            "--bounds estimate to spend a quarter of ε on a DP estimate.",
        )

    def _categories(
        self, dpol: DatasetPolicy, dataset: str, column: str, categories: Sequence[Any] | None
    ) -> tuple[tuple[Any, ...], str]:
        if categories is not None:
            cats = tuple(categories)
            if not cats or len({str(c) for c in cats}) != len(cats):
                raise DPQueryError(
                    "categories must be a non-empty list of distinct values",
                    "Pass --categories A,B,C.",
                )
            return cats, "argument"
        declared = dpol.column(column).categories
        if declared is not None:
            return declared, "policy"
        raise DPQueryError(
            f"a DP histogram of {column!r} needs its categories, and neither the query nor "
            "the policy gives them (they may not be taken from the data)",
            f"Pass --categories A,B,C (public values you declare), or set "
            f"datasets.{dataset}.columns.{column}.categories in .tillage/policy.yaml.",
        )


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _epsilon(epsilon: Any) -> float:
    if not _number(epsilon) or float(epsilon) <= 0:
        raise DPQueryError(
            f"epsilon must be a finite number > 0, not {epsilon!r}",
            "Pass --epsilon with a positive number, e.g. --epsilon 0.5.",
        )
    return float(epsilon)


def _kind(kind: str, by: str | None) -> str:
    from tillage.privacy.dp import KINDS

    if kind not in KINDS:
        raise DPQueryError(f"unknown DP query kind {kind!r}", f"Kinds: {', '.join(KINDS)}.")
    if kind == "count" and by is not None:
        return "histogram"
    if by is not None and kind != "histogram":
        raise DPQueryError(
            f"a DP {kind} cannot be grouped by {by!r}",
            "Group counts only (a histogram); for grouped sums and means use "
            "`tillage privacy aggregate`.",
        )
    return kind


def _numeric(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _scores(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's three numbers per measure, for a commit's record."""
    return {
        way: {k: report[way][k] for k in ("score", "baseline", "floor", "passed")}
        for way in ("one_way", "two_way")
    }
