"""Garbage collection: delete what no branch or tag reaches, and the data only it used.

A commit is kept if a branch or tag reaches it, or if a recorded model was
trained on it (``model:NAME`` stays a drift reference). Lance versions no kept
commit pins are cleaned up, Lance branches nothing needs are dropped (children
first: Lance refuses to drop a branch another was forked from), and datasets no
commit pins are removed. Runs under the write lock.
"""

from __future__ import annotations

import shutil

from tillage.core.reports import GcReport
from tillage.store.catalog import Catalog
from tillage.store.monitoring import MonitoringStore
from tillage.store.tables import children_first
from tillage.versioning import history as graph
from tillage.versioning.writer import Writer


def collect_garbage(catalog: Catalog, writer: Writer) -> GcReport:
    """Delete unreachable commits and the data only they used (see the module doc).

    Args:
        catalog: the repository's catalog.
        writer: its writer (for the lock, the tables and the file ledger).

    Returns:
        What was removed, and the storage used before and after.
    """
    tables = writer.tables
    monitoring = MonitoringStore(catalog.engine)
    with writer.locked():
        before = tables.size_bytes() if tables.root.exists() else 0
        # Branches, tags, and the data versions recorded models were trained on.
        roots = [cid for _, cid in catalog.list_refs().values() if cid]
        roots += monitoring.model_commits()
        dead = graph.unreachable(catalog, roots)
        monitoring.forget(dead, set())
        catalog.delete_commits(dead)
        pinned = catalog.pinned_versions()
        monitoring.forget([], pinned)
        owned = catalog.lance_branch_owners()
        keep: dict[tuple[str, str], set[int]] = {}
        for ds, lb, v in pinned:
            keep.setdefault((ds, lb), set()).add(v)
        versions_removed = branches_removed = datasets_removed = 0
        live = {ds for ds, _, _ in pinned}
        for ds in list(catalog.list_datasets()):
            if ds not in live:
                catalog.drop_dataset(ds)
        for lance_dir in sorted(tables.root.glob("*.lance")):
            ds = lance_dir.name[: -len(".lance")]
            if ds not in live:
                shutil.rmtree(lance_dir)
                datasets_removed += 1
                continue
            # Lance refuses to drop a branch another was forked from: drop children
            # first, and keep every branch a kept one descends from.
            parents = tables.lance_branch_parents(ds)
            needed: set[str] = set()
            for lb in parents:
                up: str | None = lb
                if (ds, lb) in keep or (ds, lb) in owned:
                    while up is not None and up not in needed:
                        needed.add(up)
                        up = parents.get(up)
            for lb in children_first(parents):
                if lb not in needed:
                    tables.drop_lance_branch(ds, lb)
                    branches_removed += 1
                else:
                    versions_removed += tables.cleanup(ds, lb, keep.get((ds, lb), set()))
            for folder in tables.stray_branch_folders(ds):
                shutil.rmtree(folder)
                branches_removed += 1
            versions_removed += tables.cleanup(ds, "main", keep.get((ds, "main"), set()))
        writer.ledger.forget_missing()
        after = tables.size_bytes() if tables.root.exists() else 0
    return GcReport(
        commits_removed=len(dead),
        versions_removed=versions_removed,
        lance_branches_removed=branches_removed,
        datasets_removed=datasets_removed,
        bytes_before=before,
        bytes_after=after,
    )
