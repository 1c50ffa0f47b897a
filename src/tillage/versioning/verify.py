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

from tillage.core.reports import IntegrityProblem, VerifyReport
from tillage.errors import CorruptDataError
from tillage.store.catalog import Catalog
from tillage.store.history import (
    count_reachable,
    dangling_refs,
    missing_parents,
    reachable_pins,
)
from tillage.store.integrity import FileLedger
from tillage.store.tables import LANCE_MAIN, Tables, version_label


def _graph_problems(catalog: Catalog) -> list[IntegrityProblem]:
    """Refs, and parents of reachable commits, that name commits the catalog lacks."""
    problems = [
        IntegrityProblem(f"{kind} points at commit {cid}, which is missing", ref=name)
        for name, kind, cid in dangling_refs(catalog)
    ]
    problems += [
        IntegrityProblem(f"commit {cid[:12]} names parent {parent}, which is missing")
        for cid, parent in missing_parents(catalog)
    ]
    return problems


def _lance_branches(tables: Tables, dataset: str) -> set[str] | None:
    """The dataset's Lance branches; None if they cannot be listed (its Lance dataset
    is missing, or its latest manifest is damaged: the versions' checks say which)."""
    try:
        return set(tables.lance_branches(dataset))
    except (OSError, ValueError, RuntimeError):
        return None


def verify(catalog: Catalog, tables: Tables, ledger: FileLedger, *, deep: bool) -> VerifyReport:
    """Check every pinned version reachable from a ref; see the module docstring."""
    problems = _graph_problems(catalog)
    pins = reachable_pins(catalog)
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
        commits=count_reachable(catalog),
        versions=len(pins),
        files=files,
        hashed=hashed,
        unrecorded=unrecorded,
        problems=problems,
    )
