"""Walking the commit graph: ref syntax, ancestry, merge bases.

The walks run in the catalog's database (`store.history`): no caller loads every
commit to follow a line of history, and each one reads only the commits it
returns.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from tillage.core.commit import Commit
from tillage.store import history as sql
from tillage.store.catalog import Catalog
from tillage.store.history import first_pin, is_ancestor, log, nth_first_parent, unreachable

__all__ = [
    "first_parents",
    "first_pin",
    "is_ancestor",
    "log",
    "merge_base",
    "nth_first_parent",
    "split_ancestor_suffix",
    "unreachable",
]

_ANCESTOR = re.compile(r"^(?P<base>.+?)~(?P<n>\d*)$")
# First parents read by the first query; each next query reads twice as many. Most
# walks (a profile, a drift window of a few batches) stop within the first page.
_FIRST_PAGE = 8


def split_ancestor_suffix(ref: str) -> tuple[str, int]:
    """``"main~3"`` -> ``("main", 3)``; ``"main~"`` means one step back."""
    m = _ANCESTOR.match(ref)
    if not m:
        return ref, 0
    return m["base"], int(m["n"] or 1)


def first_parents(catalog: Catalog, start: str) -> Iterator[Commit]:
    """``start`` and its first parents, newest first, read a page at a time as consumed
    (pages of 8, 16, 32, ... commits: a long walk takes few queries, a short one reads
    little beyond where it stops)."""
    size = _FIRST_PAGE
    page = sql.first_parents(catalog, start, size)
    while page:
        yield from page
        last = page[-1]
        if len(page) < size or not last.parents:
            return
        size *= 2
        page = sql.first_parents(catalog, last.parents[0], size)


def merge_base(catalog: Catalog, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b``: one no other common ancestor descends from.

    With several (criss-cross merges), the one a breadth-first walk from ``b``
    (parents in order) meets first. That walk reaches them through commits that
    are not ancestors of ``a`` only, so only those are read.
    """
    best = sql.best_common_ancestors(catalog, a, b)
    if len(best) <= 1:
        return best[0] if best else None
    candidates = set(best)
    between = sql.parents_outside(catalog, b, a)
    seen: set[str] = set()
    queue = deque([b])
    while queue:
        cid = queue.popleft()
        if cid in candidates:
            return cid
        if cid in seen or cid not in between:
            continue
        seen.add(cid)
        queue.extend(between[cid])
    return min(best)  # unreachable for a well-formed graph: every candidate is b's ancestor
