"""`Repo`: the entry point everything goes through (Python users, the CLI, the server).

A repository holds datasets (Lance tables) and a catalog of commits and refs.
Every write makes exactly one commit on a branch and lands atomically; reads
resolve a ref (branch, tag, commit id, ``HEAD``, with ``~N`` for ancestors) to
a commit and read the dataset versions it pins.

`Repo` opens repositories and delegates to namespaces, each built on first use:
``repo.refs``, ``repo.datasets``, ``repo.quality``, ``repo.models``,
``repo.labels``, ``repo.annotation``, ``repo.selection`` and ``repo.privacy``
(see `tillage.api`). The few top-level methods below are the ones the README
documents, kept as aliases.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tillage.access import AccessLog
from tillage.api._storage import HandleObserver, Scope, Storage
from tillage.api.refs import HEAD, MAIN, Refs
from tillage.config import RepoConfig, find_repo_dir, repo_dir_of
from tillage.core.commit import CodeVersion, Commit
from tillage.errors import RepositoryExistsError
from tillage.store.catalog import Catalog
from tillage.store.fs import environment_error

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.api.datasets import Datasets
    from tillage.api.labels import Labels
    from tillage.api.models import Models
    from tillage.api.privacy import Privacy
    from tillage.api.quality import Quality
    from tillage.api.selection import Selections
    from tillage.core.diff import DatasetDiff
    from tillage.core.findings import Finding
    from tillage.core.reports import MergeResult
    from tillage.labels.annotation import Annotation
    from tillage.labels.results import MigrationReport
    from tillage.quality.profile import Profile
    from tillage.quality.results import Model
    from tillage.quality.schema import Schema
    from tillage.selection.results import Features, Predictions
    from tillage.selection.selections import Selection
    from tillage.versioning.ingest import Mode
    from tillage.versioning.merge import Prefer


class Repo:
    """A tillage repository.

    Open one with `Repo.open` (or `tillage.open`), create one with `Repo.init`
    (or `tillage.init`). Methods that take ``ref`` default to the current branch;
    methods that write take ``branch`` and default to the current branch too.
    """

    def __init__(self, repo_dir: Path, config: RepoConfig, *, create: bool = False) -> None:
        self._storage = Storage(repo_dir, config, create=create)
        self._scope = Scope()

    # -- opening ----------------------------------------------------------

    @classmethod
    def init(cls, path: str | os.PathLike[str] = ".", *, catalog_url: str | None = None) -> Repo:
        """Create a repository at ``path`` (a project folder; ``.tillage/`` goes inside).

        Raises:
            RepositoryExistsError: if one is already there.
        """
        repo_dir = repo_dir_of(Path(path).expanduser().resolve())
        if (repo_dir / "config.yaml").exists():
            raise RepositoryExistsError(str(repo_dir.parent))
        config = RepoConfig(catalog_url=catalog_url)
        repo: Repo | None = None
        try:
            (repo_dir / "tables").mkdir(parents=True, exist_ok=True)
            repo = cls(repo_dir, config, create=True)
            repo._storage.catalog.migrate()
            with repo._storage.catalog.transaction() as conn:
                Catalog.create_ref(conn, MAIN, "branch", None)
            (repo_dir / HEAD).write_text(MAIN + "\n")
            config.save(repo_dir)  # written last: its presence marks a finished init
        except Exception as e:
            if repo is not None:
                repo.close()
            shutil.rmtree(repo_dir, ignore_errors=True)
            mapped = environment_error(e, repo_dir)
            if mapped is not None:
                raise mapped from e
            raise
        return repo

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Repo:
        """Open the repository at ``path``, or the one TILLAGE_REPO or the current folder names.

        Raises:
            NotARepositoryError: if there is none.
            CatalogMissingError: if its catalog is missing or empty (only `init` makes one).
            CatalogDamagedError: if its catalog is not a readable database.
            CatalogError: if its catalog needs `upgrade`, or is newer than this tillage.
        """
        repo_dir = find_repo_dir(path)
        repo = cls(repo_dir, RepoConfig.load(repo_dir))
        try:
            repo._storage.catalog.check_schema()
        except BaseException:
            repo.close()
            raise
        return repo

    @classmethod
    def upgrade(cls, path: str | os.PathLike[str] | None = None) -> tuple[str, str | None]:
        """Upgrade the catalog of the repository at ``path`` to this tillage's schema.

        The only way besides `init` that changes a catalog's schema; opening never
        does. Returns the schema revisions before and after.

        Raises:
            NotARepositoryError: if there is no repository.
            CatalogMissingError: if its catalog is missing or empty.
            CatalogError: if its catalog is newer than this tillage.
        """
        repo_dir = find_repo_dir(path)
        repo = cls(repo_dir, RepoConfig.load(repo_dir))
        try:
            with repo._storage.writer.locked():
                return repo._storage.catalog.upgrade()
        finally:
            repo.close()

    def close(self) -> None:
        """Release the catalog's connections (of every handle `at` made from this one)."""
        self._storage.close()

    def __enter__(self) -> Repo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The project folder (the one holding ``.tillage``)."""
        return self._storage.path

    @property
    def repo_dir(self) -> Path:
        """The repository's own folder (``.tillage`` in a project)."""
        return self._storage.repo_dir

    @property
    def config(self) -> RepoConfig:
        """The repository's settings (``.tillage/config.yaml``)."""
        return self._storage.config

    def __repr__(self) -> str:
        return f"Repo({str(self.path)!r}, branch={self.refs.current_branch!r})"

    def at(
        self,
        branch: str,
        *,
        alerts_on: str | None = None,
        principal: str | None = None,
        observer: HandleObserver | None = None,
    ) -> Repo:
        """A handle on the same repository whose reads and writes default to ``branch``.

        It shares this handle's catalog, tables and writer; `Refs.switch` still
        changes the default of every other handle. Pipelines run their steps on
        such a handle, bound to the run's branch and reading as the run's job.

        Args:
            branch: the branch the new handle reads and writes by default.
            alerts_on: file the alerts of writes to ``branch`` under this branch
                instead (a run's alerts belong to its target branch).
            principal: who reads through the new handle (default: this one's).
            observer: told of the new handle's reads and writes.

        Returns:
            The new handle; closing either closes both.

        Raises:
            NoSuchRefError: ``branch`` (or ``alerts_on``) is not a branch.
        """
        self.refs.checked_branch(branch)
        if alerts_on is not None:
            self.refs.checked_branch(alerts_on)
        scope = Scope(branch, alerts_on, principal or self._scope.principal, observer)
        return self._with_scope(scope)

    def _with_scope(self, scope: Scope) -> Repo:
        handle = type(self).__new__(type(self))
        handle._storage = self._storage
        handle._scope = scope
        return handle

    @property
    def access_log(self) -> AccessLog:
        """The reads of record-level values made through this repository's handles.

        ``access_log.events`` lists them (principal, purpose, dataset, commit,
        columns); ``access_log.add_listener(fn)`` calls ``fn`` with each later one.
        """
        return self._storage.access_log

    # -- namespaces -----------------------------------------------------------

    @cached_property
    def refs(self) -> Refs:
        """Branches, tags, commits, history; merge, revert, reset (`tillage.api.refs`)."""
        return Refs(self, self._storage, self._scope)

    @cached_property
    def datasets(self) -> Datasets:
        """Read, write, diff and export datasets; verify and gc (`tillage.api.datasets`)."""
        from tillage.api.datasets import Datasets

        return Datasets(self, self._storage, self._scope)

    @cached_property
    def quality(self) -> Quality:
        """Profiles, schemas, checks, drift and alerts (`tillage.api.quality`)."""
        from tillage.api.quality import Quality

        return Quality(self, self._storage, self._scope)

    @cached_property
    def models(self) -> Models:
        """Recorded models and their feature importances (`tillage.api.models`)."""
        from tillage.api.models import Models

        return Models(self, self._storage, self._scope)

    @cached_property
    def labels(self) -> Labels:
        """Label sets, labeling functions, training sets, label issues (`tillage.api.labels`)."""
        from tillage.api.labels import Labels

        return Labels(self, self._storage, self._scope)

    @cached_property
    def annotation(self) -> Annotation:
        """Annotation tasks: ``enqueue``, ``next``, ``submit``, ``progress``."""
        from tillage.access import Purpose
        from tillage.labels.annotation import Annotation

        return Annotation(self.labels.sets(Purpose.ANNOTATION))

    @cached_property
    def privacy(self) -> Privacy:
        """The policy and the views of private data people may use (`tillage.api.privacy`)."""
        from tillage.api.privacy import Privacy

        return Privacy(self, self._storage, self._scope)

    @cached_property
    def selection(self) -> Selections:
        """Selections: choose records by model state, store them, act on them."""
        from tillage.api.selection import Selections

        return Selections(self, self._storage, self._scope)

    # -- aliases the README documents ---------------------------------------

    def ingest(
        self,
        dataset: str,
        data: Any,
        *,
        key: str | Sequence[str] | None = None,
        mode: Mode = "append",
        message: str | None = None,
        branch: str | None = None,
        evolve: bool = False,
        code: CodeVersion | None = None,
        check: bool = True,
        encoding: str | None = None,
        coerce: bool = False,
    ) -> Commit:
        """Write ``data`` into ``dataset`` as one commit; see `Datasets.ingest`."""
        return self.datasets.ingest(
            dataset,
            data,
            key=key,
            mode=mode,
            message=message,
            branch=branch,
            evolve=evolve,
            code=code,
            check=check,
            encoding=encoding,
            coerce=coerce,
        )

    def read(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> pa.Table:
        """Read ``dataset`` at ``ref``; see `Datasets.read`."""
        return self.datasets.read(
            dataset, ref, columns=columns, where=where, limit=limit, offset=offset
        )

    def diff(
        self, a: str, b: str | None = None, *, dataset: str | None = None, rows: int = 5
    ) -> list[DatasetDiff]:
        """Changes from ``a`` to ``b``; see `Datasets.diff`."""
        return self.datasets.diff(a, b, dataset=dataset, rows=rows)

    def create_branch(self, name: str, from_ref: str | None = None) -> str | None:
        """Create branch ``name`` at ``from_ref``; see `Refs.create_branch`."""
        return self.refs.create_branch(name, from_ref)

    def create_tag(self, name: str, ref: str | None = None) -> str:
        """Tag the commit ``ref`` names; see `Refs.create_tag`."""
        return self.refs.create_tag(name, ref)

    def merge(
        self,
        source: str,
        into: str | None = None,
        *,
        prefer: Prefer = None,
        message: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` into ``into``; see `Refs.merge`."""
        return self.refs.merge(source, into, prefer=prefer, message=message)

    def profile(self, dataset: str, ref: str | None = None, *, executor: str = "local") -> Profile:
        """The column profile of ``dataset`` at ``ref``; see `Quality.profile`."""
        return self.quality.profile(dataset, ref, executor=executor)

    def infer_schema(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        margin: float = 0.1,
        overwrite: bool = False,
    ) -> tuple[Schema, Path]:
        """Write a schema file inferred from the data; see `Quality.infer_schema`."""
        return self.quality.infer_schema(
            dataset, ref, path=path, margin=margin, overwrite=overwrite
        )

    def drift(
        self,
        dataset: str,
        ref: str | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        against: str | None = None,
        window: int | None = None,
        show_all: bool = False,
    ) -> list[Finding]:
        """Compare ``dataset`` with a reference; see `Quality.drift`."""
        return self.quality.drift(
            dataset, ref, file=file, against=against, window=window, show_all=show_all
        )

    def record_model(
        self,
        name: str,
        dataset: str,
        *,
        ref: str | None = None,
        feature_importance: dict[str, float] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Model:
        """Record a model trained on ``dataset``; see `Models.record`."""
        return self.models.record(
            name, dataset, ref=ref, feature_importance=feature_importance, metrics=metrics
        )

    def select(
        self,
        dataset: str,
        *,
        strategy: str,
        n: int = 50,
        model: str | None = None,
        ref: str | None = None,
        where: str | None = None,
        seed: int = 0,
        params: dict[str, Any] | None = None,
        labelset: str | None = None,
        task: str | None = None,
        include_labelled: bool = False,
        predictions: Predictions | None = None,
        features: Features | None = None,
        committee: Sequence[Predictions | str] | None = None,
        extra: dict[str, dict[str, float]] | None = None,
    ) -> Selection:
        """Choose up to ``n`` records of ``dataset`` by ``strategy``; see `Selections.select`."""
        return self.selection.select(
            dataset,
            strategy=strategy,
            n=n,
            model=model,
            ref=ref,
            where=where,
            seed=seed,
            params=params,
            labelset=labelset,
            task=task,
            include_labelled=include_labelled,
            predictions=predictions,
            features=features,
            committee=committee,
            extra=extra,
        )

    def migrate_labels(self, labelset: str, to_version: int | None = None) -> MigrationReport:
        """Carry labels to a newer taxonomy version; see `Labels.migrate`."""
        return self.labels.migrate(labelset, to_version)


def init(path: str | os.PathLike[str] = ".", *, catalog_url: str | None = None) -> Repo:
    """Create a repository at ``path``; see `Repo.init`."""
    return Repo.init(path, catalog_url=catalog_url)


def open(path: str | os.PathLike[str] | None = None) -> Repo:
    """Open a repository; see `Repo.open`."""
    return Repo.open(path)
