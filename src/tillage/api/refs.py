"""`repo.refs`: branches, tags, commits, history, and merging, reverting, resetting.

A ref is a branch, a tag, ``HEAD``, a commit id or a prefix of one (4 or more
hex digits), with ``~N`` for the N-th first parent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tillage.access import Purpose
from tillage.api._storage import Namespace, count
from tillage.core.commit import Commit
from tillage.core.names import check_ref, check_ref_name, is_commit_prefix
from tillage.core.reports import DatasetStatus, MergeResult, Status
from tillage.errors import InputError, NoSuchRefError, TillageError
from tillage.store.catalog import Catalog
from tillage.store.fs import environment_error
from tillage.versioning import history as graph

if TYPE_CHECKING:
    from tillage.core.policy import DatasetPolicy
    from tillage.versioning.merge import Prefer

MAIN = "main"
HEAD = "HEAD"


class Refs(Namespace):
    """Branches, tags and commits of a repository (``repo.refs``)."""

    @property
    def current_branch(self) -> str:
        """The branch reads and writes default to (``HEAD``, or the handle's own, see `at`)."""
        if self._scope.branch is not None:
            return self._scope.branch
        try:
            return (self._storage.repo_dir / HEAD).read_text().strip() or MAIN
        except FileNotFoundError:
            return MAIN

    def checked_branch(self, branch: str | None = None) -> str:
        """The name of branch ``branch`` (default: the current one), checked to exist.

        Raises:
            InvalidRefError: ``branch`` is empty or not a ref name.
            NoSuchRefError: no branch has that name.
        """
        name = self.current_branch if branch is None else check_ref(branch, "branch")
        ref = self._catalog.get_ref(name)
        if ref is None or ref[0] != "branch":
            raise NoSuchRefError(name, "branch")
        return name

    def resolve(self, ref: str | None = None) -> str | None:
        """The commit id ``ref`` names.

        Args:
            ref: a branch, a tag, ``HEAD``, a commit id or a prefix of one (4 or more
                hex digits), with ``~N`` for the N-th first parent; None means HEAD.

        Returns:
            The commit id, or None for a branch with no commits yet.

        Raises:
            InvalidRefError: ``ref`` is empty (it does not mean HEAD).
            NoSuchRefError: if nothing has that name.
        """
        catalog = self._catalog
        text = HEAD if ref is None else check_ref(ref)
        name, back = graph.split_ancestor_suffix(text)
        if name == HEAD:
            name = self.current_branch
        found = catalog.get_ref(name)
        if found is not None:
            cid = found[1]
        elif not is_commit_prefix(name):
            raise NoSuchRefError(
                text, hint=" (a commit id, or a prefix of one, is 4 or more hex digits 0-9, a-f)"
            )
        else:
            ids = catalog.find_commit_ids(name.lower())
            if len(ids) != 1:
                raise NoSuchRefError(
                    text, "branch, tag or commit" + (" (ambiguous id)" if ids else "")
                )
            cid = ids[0]
        if back:
            cid = graph.nth_first_parent(catalog, cid, back) if cid else None
            if cid is None:
                raise NoSuchRefError(text, f"ancestor ({name} has fewer than {back})")
        return cid

    def commit(self, ref: str | None = None) -> Commit:
        """The commit ``ref`` names (what `tillage show` prints).

        Raises:
            NoSuchRefError: if the ref is unknown or names an empty branch.
        """
        cid = self.resolve(ref)
        commit = self._catalog.get_commit(cid) if cid else None
        if commit is None:
            raise NoSuchRefError(ref or HEAD, "commit (the branch has no commits yet)")
        return commit

    def find_commit(self, ref: str | None = None) -> Commit | None:
        """The commit ``ref`` names, or None for a branch with no commits yet.

        Raises:
            NoSuchRefError: if the ref is unknown.
        """
        cid = self.resolve(ref)
        return self._catalog.get_commit(cid) if cid else None

    def first_parents(self, commit: Commit) -> Iterator[Commit]:
        """``commit`` and its first parents, newest first, loaded a page at a time."""
        return graph.first_parents(self._catalog, commit.id)

    def branches(self) -> dict[str, str | None]:
        """Branch name -> head commit id."""
        return {n: c for n, (_, c) in self._catalog.list_refs("branch").items()}

    def tags(self) -> dict[str, str | None]:
        """Tag name -> commit id."""
        return {n: c for n, (_, c) in self._catalog.list_refs("tag").items()}

    def create_branch(self, name: str, from_ref: str | None = None) -> str | None:
        """Create branch ``name`` at ``from_ref`` (default: HEAD). O(1) in data size.

        Returns:
            The commit id the branch starts at (None from an empty branch).

        Raises:
            InvalidNameError: ``name`` is not a valid branch name.
            RefExistsError: a branch or tag has that name.
            NoSuchRefError: ``from_ref`` names nothing.
        """
        check_ref_name(name, "branch")
        # Under the write lock: a `gc` must not delete the commit between here and the ref.
        with self._writer.locked():
            cid = self.resolve(from_ref)
            with self._catalog.transaction() as conn:
                Catalog.create_ref(conn, name, "branch", cid)
        return cid

    def delete_branch(self, name: str) -> None:
        """Delete a branch; its commits stay until `gc` (if nothing else reaches them).

        Raises:
            NoSuchRefError: no branch has that name.
            TillageError: it is the current branch.
        """
        self.checked_branch(name)
        if name == self.current_branch:
            raise TillageError(f"cannot delete {name!r}, the current branch; switch first.")
        self._catalog.delete_ref(name)

    def switch(self, name: str) -> None:
        """Make ``name`` the current branch (reads and writes of every handle default to it).

        Raises:
            NoSuchRefError: no branch has that name.
            ReadOnlyRepositoryError: the repository may not be changed.
        """
        self.checked_branch(name)
        self._writer.check_writable()
        repo_dir = self._storage.repo_dir
        tmp = repo_dir / "HEAD.tmp"
        try:
            tmp.write_text(name + "\n")
            os.replace(tmp, repo_dir / HEAD)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise environment_error(e, repo_dir) or e from None

    def create_tag(self, name: str, ref: str | None = None) -> str:
        """Tag the commit ``ref`` names (default: HEAD).

        Returns:
            The id of the commit tagged.

        Raises:
            InvalidNameError: ``name`` is not a valid tag name.
            RefExistsError: a branch or tag has that name.
            NoSuchRefError: ``ref`` names no commit.
        """
        check_ref_name(name, "tag")
        with self._writer.locked():  # see `create_branch`
            cid = self.commit(ref).id
            with self._catalog.transaction() as conn:
                Catalog.create_ref(conn, name, "tag", cid)
        return cid

    def delete_tag(self, name: str) -> None:
        """Delete a tag; its commits stay until `gc` (if nothing else reaches them).

        Raises:
            NoSuchRefError: no tag has that name.
        """
        catalog = self._catalog
        found = catalog.get_ref(check_ref(name, "tag"))
        if found is None or found[0] != "tag":
            raise NoSuchRefError(name, "tag")
        catalog.delete_ref(name)

    def log(
        self, ref: str | None = None, *, dataset: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """Commits reachable from ``ref``, newest first.

        Args:
            ref: where to start (default: HEAD).
            dataset: only commits that changed this dataset.
            limit: at most this many commits (0 or None: every commit).

        Raises:
            InputError: ``limit`` is not a whole number >= 0.
            NoSuchRefError: ``ref`` names nothing.
        """
        limit = count("limit", limit)
        cid = self.resolve(ref)
        if cid is None:
            return []
        return graph.log(self._catalog, cid, dataset=dataset, limit=limit)

    def status(self) -> Status:
        """The current branch, its head, its datasets with row counts, and storage used."""
        catalog, tables = self._catalog, self._tables
        branch = self.current_branch
        head = self.find_commit(branch)
        keys = catalog.list_datasets()
        datasets = [
            DatasetStatus(
                name=name,
                key=keys.get(name, []),
                rows=pin.num_rows,
                lance_branch=pin.lance_branch,
                version=pin.version,
                bytes=tables.size_bytes(name),
            )
            for name, pin in (head.pins.items() if head else [])
        ]
        refs = catalog.list_refs()
        return Status(
            path=str(self._storage.path),
            branch=branch,
            head=head.id if head else None,
            datasets=datasets,
            storage_bytes=tables.size_bytes() if tables.root.exists() else 0,
            branches=sum(1 for k, _ in refs.values() if k == "branch"),
            tags=sum(1 for k, _ in refs.values() if k == "tag"),
        )

    def merge(
        self,
        source: str,
        into: str | None = None,
        *,
        prefer: Prefer = None,
        message: str | None = None,
    ) -> MergeResult:
        """Merge ``source`` into branch ``into`` (default: the current branch).

        Fast-forwards when ``into`` has nothing ``source`` lacks; otherwise merges
        three-way against the merge base, key by key and cell by cell.

        Args:
            source: the ref to merge.
            into: the branch to merge into.
            prefer: "ours" or "theirs" settles conflicting cells that way.
            message: the merge commit's message.

        Raises:
            MergeConflictError: cells changed differently on both sides (and no
                ``prefer``); nothing is written, the error lists every conflict.
            NoSuchRefError: ``source`` or ``into`` names nothing.
        """
        from tillage.versioning.merge import three_way

        if prefer not in (None, "ours", "theirs"):
            raise InputError(f"prefer must be 'ours' or 'theirs', not {prefer!r}.")
        catalog, writer = self._catalog, self._writer
        target = self.checked_branch(into)
        with writer.locked():
            tx = writer.begin(target)
            src_id = self.resolve(source)
            head_id = tx.head.id if tx.head else None
            if (
                src_id is None
                or src_id == head_id
                or (head_id is not None and graph.is_ancestor(catalog, src_id, head_id))
            ):
                return MergeResult("up-to-date", source, target, head_id)
            if head_id is None or graph.is_ancestor(catalog, head_id, src_id):
                with catalog.transaction() as conn:
                    Catalog.move_branch(conn, target, head_id, src_id)
                return MergeResult("fast-forward", source, target, src_id)
            base_id = graph.merge_base(catalog, head_id, src_id)
            base = catalog.get_commit(base_id) if base_id else None
            theirs = catalog.get_commit(src_id)
            if theirs is None:  # the ref names a commit the catalog lacks (`verify` says so)
                raise NoSuchRefError(source, "commit")
            report = three_way(
                catalog, self._tables, tx, base, theirs, prefer, source, reading=self._merging
            )
            commit = writer.commit(
                tx,
                message or f"merge {source} into {target}",
                extra_parents=(src_id,),
            )
            return MergeResult("merge", source, target, commit.id, base_id, report)

    def revert(
        self,
        ref: str,
        *,
        branch: str | None = None,
        prefer: Prefer = None,
        message: str | None = None,
    ) -> Commit:
        """Make a new commit on ``branch`` that undoes the changes of commit ``ref``.

        Returns:
            The new commit.

        Raises:
            MergeConflictError: later commits changed the same cells.
            NoSuchRefError: ``ref`` or ``branch`` names nothing.
        """
        from tillage.versioning.merge import three_way

        catalog, writer = self._catalog, self._writer
        target = self.checked_branch(branch)
        bad = self.commit(ref)
        with writer.locked():
            tx = writer.begin(target)
            parent = catalog.get_commit(bad.parents[0]) if bad.parents else None
            empty = Commit("", (), {}, "", "", "", "")
            three_way(
                catalog,
                self._tables,
                tx,
                bad,
                parent or empty,
                prefer,
                f"revert of {bad.short_id}",
                reading=self._merging,
            )
            return writer.commit(
                tx, message or f"revert {bad.short_id}: {bad.message.splitlines()[0]}"
            )

    def _merging(self, dataset: str, commit: str | None) -> DatasetPolicy | None:
        """Record a merge's read of one side (conflicts name cells); the dataset's
        policy if this principal may not see the cells of its private columns."""
        if commit:
            return self._reader.grant(Purpose.MERGE, dataset, commit)
        return self._reader.hidden(dataset)

    def reset(self, ref: str, *, branch: str | None = None) -> Commit:
        """Move ``branch`` (default: current) back to the commit ``ref`` names.

        Commits after it stay readable by id until `gc` (if no other ref reaches them).

        Returns:
            The commit the branch now points at.

        Raises:
            NoSuchRefError: ``ref`` or ``branch`` names nothing.
        """
        catalog = self._catalog
        target = self.checked_branch(branch)
        commit = self.commit(ref)
        with self._writer.locked(), catalog.transaction() as conn:
            current = catalog.get_ref(target)
            Catalog.move_branch(conn, target, current[1] if current else None, commit.id)
        return commit
