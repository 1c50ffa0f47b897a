"""`verify`: check that every commit a ref reaches can still be read as it was written.

For each dataset version pinned by a commit reachable from a branch or tag, it
checks the catalog against Lance (the dataset, its Lance branch and version
exist, and the version has the rows the commit recorded) and the version's
files against Lance's manifest and the checksums recorded at commit time
(`store.integrity`). Each file is checked once however many versions share it.
The catalog's own references are checked too: refs and parents that name
missing commits, datasets the catalog does not know.
"""

from __future__ import annotations

from tillage.core.commit import Commit, DatasetPin
from tillage.core.reports import IntegrityProblem, VerifyReport
from tillage.errors import CorruptDataError
from tillage.store.catalog import Catalog
from tillage.store.integrity import FileLedger
from tillage.store.tables import LANCE_MAIN, Tables, version_label
from tillage.versioning.history import ancestors


def _reachable(
    catalog: Catalog, commits: dict[str, Commit], problems: list[IntegrityProblem]
) -> dict[str, Commit]:
    found: dict[str, Commit] = {}
    for name, (kind, cid) in catalog.list_refs().items():
        if cid is None:
            continue
        if cid not in commits:
            problems.append(
                IntegrityProblem(f"{kind} points at commit {cid}, which is missing", ref=name)
            )
            continue
        for c in ancestors(cid, commits.get):
            found[c.id] = c
    for c in list(found.values()):
        for parent in c.parents:
            if parent not in commits:
                problems.append(
                    IntegrityProblem(f"commit {c.id[:12]} names parent {parent}, which is missing")
                )
    return found


def _lance_branches(tables: Tables, dataset: str) -> set[str] | None:
    """The dataset's Lance branches; None if they cannot be listed (its Lance dataset
    is missing, or its latest manifest is damaged: the versions' checks say which)."""
    try:
        return set(tables.lance_branches(dataset))
    except (OSError, ValueError, RuntimeError):
        return None


def verify(catalog: Catalog, tables: Tables, ledger: FileLedger, *, deep: bool) -> VerifyReport:
    """Check every pinned version reachable from a ref; see the module docstring."""
    problems: list[IntegrityProblem] = []
    commits = catalog.all_commits()
    reachable = _reachable(catalog, commits, problems)
    pins: dict[tuple[str, DatasetPin], None] = {}
    for c in sorted(reachable.values(), key=lambda c: c.created_at):
        for name, pin in c.pins.items():
            pins[(name, pin)] = None
    known = catalog.list_datasets()
    files = hashed = unrecorded = 0
    digests: dict[str, dict[str, str]] = {}
    seen: dict[str, set[str]] = {}
    branches: dict[str, set[str] | None] = {}
    for name, pin in pins:
        label = version_label(pin)
        if name not in known:
            problems.append(
                IntegrityProblem("is pinned by a commit but missing from the catalog", name)
            )
        if name not in branches:
            branches[name] = _lance_branches(tables, name) if tables.exists(name) else None
        lance_branches = branches[name]
        if not tables.exists(name):
            problems.append(
                IntegrityProblem("has no Lance dataset", name, label, f"tables/{name}.lance", None)
            )
            continue
        if (
            pin.lance_branch != LANCE_MAIN
            and lance_branches is not None
            and pin.lance_branch not in lance_branches
        ):
            problems.append(
                IntegrityProblem(f"Lance branch {pin.lance_branch!r} is missing", name, label)
            )
            continue
        try:
            handle = tables.open(name, pin, check=False)
        except CorruptDataError as e:
            problems.append(IntegrityProblem(e.problem, name, label, e.file))
            continue
        rows = handle.count_rows()
        if rows != pin.num_rows:
            problems.append(
                IntegrityProblem(
                    f"has {rows:,} rows where its commit recorded {pin.num_rows:,}", name, label
                )
            )
        version_files = tables.version_files(name, pin, handle)
        done = seen.setdefault(name, set())
        fresh = [f for f in version_files if f.path not in done]
        done.update(f.path for f in fresh)
        found = ledger.check(
            name, pin, fresh, deep=deep, hashed=digests.setdefault(name, {}), self_contained=True
        )
        problems.extend(found.problems)
        files += found.files
        hashed += found.hashed
        unrecorded += found.unrecorded
    for dataset, lance_branch in sorted(catalog.lance_branch_owners()):
        have = branches.get(dataset)
        if have is not None and lance_branch != LANCE_MAIN and lance_branch not in have:
            problems.append(
                IntegrityProblem(f"the catalog's Lance branch {lance_branch!r} is missing", dataset)
            )
    return VerifyReport(
        deep=deep,
        commits=len(reachable),
        versions=len(pins),
        files=files,
        hashed=hashed,
        unrecorded=unrecorded,
        problems=problems,
    )
