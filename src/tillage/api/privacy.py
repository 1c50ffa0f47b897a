"""`repo.privacy`: the privacy policy, and the views of private data that people may use.

The policy (`tillage.core.policy`) says which datasets and columns are private
and who may read them raw; the one read path (`tillage.access`) enforces it.
"""

from __future__ import annotations

from tillage.api._storage import Namespace
from tillage.core.policy import Policy


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
