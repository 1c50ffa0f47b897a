"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tillage.access import Purpose
from tillage.api._storage import Namespace
from tillage.core.policy import Policy
from tillage.errors import InputError, InvalidNameError, NoSuchDatasetError
from tillage.privacy.synthesize import DEFAULT_BINS, DEFAULT_DELTA

if TYPE_CHECKING:
    from tillage.privacy.synthesize import SyntheticProxy


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
            epsilon: the epsilon of (epsilon, delta)-DP to spend (> 0); it is spent
                before any noise is drawn, and stays spent if the table is refused.
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
        unit = private.privacy_unit if private is not None else "row"
        unit_rows = private.max_rows_per_unit if private is not None else 1
        self._spend(dataset, self.principal, epsilon, delta, f"synthesize {target} ({SYNTHESIZER})")
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
        )
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

    def _spend(
        self, dataset: str, principal: str, epsilon: float, delta: float, query: str
    ) -> None:
        """Charge (epsilon, delta) of ``dataset``'s budget to ``principal`` for ``query``.

        The one place every DP release of this namespace spends its budget, before
        any noise is drawn or any value released; the catalog's privacy ledger
        plugs in here and raises when the spend would pass the policy's budget.
        Until then nothing is charged.
        """


def _scores(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's three numbers per measure, for a commit's record."""
    return {
        way: {k: report[way][k] for k in ("score", "baseline", "floor", "passed")}
        for way in ("one_way", "two_way")
    }
