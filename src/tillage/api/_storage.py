"""The storage of one open repository, shared by every handle on it (see `Repo.at`),
and the base of the namespaces that use it.

The catalog is opened at once (every command reads it); the Lance tables, the
writer and the monitor are made on first use, so that `Repo.open` and
`repo.refs.log` import neither Lance nor the quality code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tillage.access import AccessLog, Reader, ReadEvent
from tillage.config import REPO_DIR, RepoConfig
from tillage.core.commit import Commit
from tillage.core.policy import Policy
from tillage.errors import InputError
from tillage.store.catalog import Catalog

if TYPE_CHECKING:
    from tillage.quality.monitor import Monitor
    from tillage.repo import Repo
    from tillage.store.labels import LabelStore
    from tillage.store.tables import Tables
    from tillage.versioning.writer import Writer


class Storage:
    """Catalog, tables, writer and monitor of the repository in ``repo_dir``."""

    def __init__(self, repo_dir: Path, config: RepoConfig, *, create: bool = False) -> None:
        self.repo_dir = repo_dir
        self.config = config
        self.catalog = (
            Catalog(config.catalog_url, create=create)
            if config.catalog_url
            else Catalog.sqlite(repo_dir / "catalog.db", create=create)
        )
        self.access_log = AccessLog()

    @property
    def path(self) -> Path:
        """The project folder (the one holding ``.tillage``)."""
        return self.repo_dir.parent if self.repo_dir.name == REPO_DIR else self.repo_dir

    @cached_property
    def writer(self) -> Writer:
        """The writer: the write lock, staging and the atomic commit."""
        from tillage.versioning.writer import Writer

        return Writer.for_repository(self.catalog, self.repo_dir, self.config.who())

    @property
    def tables(self) -> Tables:
        """The Lance tables (made with the writer, whose file ledger guards their reads)."""
        return self.writer.tables

    @cached_property
    def monitor(self) -> Monitor:
        """Profiles, schema checks, drift, alerts and models."""
        from tillage.quality.monitor import Monitor
        from tillage.quality.settings import QualitySettings

        settings = QualitySettings.from_dict(self.config.quality)
        return Monitor(self.catalog.engine, self.tables, self.path, settings)

    @cached_property
    def policy(self) -> Policy:
        """The privacy policy in ``.tillage/policy.yaml`` (empty when there is none)."""
        return Policy.load(self.repo_dir)

    @cached_property
    def read_policy(self) -> Policy:
        """The policy reads are checked against: the file's, with the datasets private
        by derivation (label sets of private records, the predictions of models
        trained on private data, jobs' writes from private values)."""
        policy = self.policy
        if policy.empty:  # nothing is private, so nothing derived is: no catalog query
            return policy
        from tillage.core.names import predictions_dataset
        from tillage.store import derivations
        from tillage.store.monitoring import MonitoringStore

        models = MonitoringStore(self.catalog.engine).models()
        derived = [(s.name, s.records) for s in self.label_store.label_sets()]
        derived += [(predictions_dataset(m.name), m.dataset) for m in models]
        derived += [
            (d.dataset, d.source)
            for d in derivations.load(self.catalog.engine)
            if d.declassified_by is None
        ]
        return policy.with_derived(derived)

    def forget_read_policy(self) -> None:
        """Look up `read_policy` again on next use (a write derived a dataset)."""
        self.__dict__.pop("read_policy", None)

    @cached_property
    def label_store(self) -> LabelStore:
        """The catalog's label-set records."""
        from tillage.store.labels import LabelStore

        return LabelStore(self.catalog.engine)

    def close(self) -> None:
        """Release the catalog's connections."""
        self.catalog.dispose()


class HandleObserver(Protocol):
    """Told of what one handle reads and writes (a pipeline run's lineage, say)."""

    def read(self, event: ReadEvent) -> None:
        """Called after each read is granted, before its values are returned."""

    def writing(self, dataset: str) -> None:
        """Called before a write to ``dataset`` starts."""

    def written(self, dataset: str, commit: Commit) -> None:
        """Called after a write to ``dataset`` made ``commit``."""


@dataclass(frozen=True)
class Scope:
    """What a handle defaults to and who it is (see `Repo.at`).

    Attributes:
        branch: the branch it reads and writes (None: the repository's ``HEAD``).
        alerts_on: where the alerts of its writes to ``branch`` go (None: ``branch``).
        principal: who reads (None: the repository config's user, ``TILLAGE_PRINCIPAL``
            or the local user).
        observer: told of its reads and writes.
    """

    branch: str | None = None
    alerts_on: str | None = None
    principal: str | None = None
    observer: HandleObserver | None = None


class Namespace:
    """Base of the namespaces: the handle they belong to, its storage and its scope."""

    def __init__(self, repo: Repo, storage: Storage, scope: Scope) -> None:
        self._repo = repo
        self._storage = storage
        self._scope = scope

    @cached_property
    def _reader(self) -> Reader:
        """This handle's reads of record-level values (`tillage.access`)."""
        storage, observer = self._storage, self._scope.observer
        principal = self._scope.principal or storage.config.who()
        return Reader(
            lambda: storage.tables,
            storage.access_log,
            principal,
            observer.read if observer is not None else None,
            lambda: storage.read_policy,
        )

    @property
    def _catalog(self) -> Catalog:
        return self._storage.catalog

    @property
    def _tables(self) -> Tables:
        return self._storage.tables

    @property
    def _writer(self) -> Writer:
        return self._storage.writer

    @property
    def _monitor(self) -> Monitor:
        return self._storage.monitor


def count(name: str, value: object) -> int | None:
    """``value`` as a row count for ``limit`` or ``offset``: a whole number >= 0, or None."""
    if value is None:
        return None
    index = None if isinstance(value, bool) else getattr(value, "__index__", None)
    n = int(index()) if callable(index) else -1  # ints, numpy ints; not floats or text
    if n >= 0:
        return n
    raise InputError(f"{name} must be a whole number >= 0 (or None), not {value!r}.")
