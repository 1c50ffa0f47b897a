"""Walking the commit graph: ref syntax, ancestry, merge bases."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator

from tillage.core.commit import Commit

_EMPTY = Commit("", (), {}, "", "", "", "")
_ANCESTOR = re.compile(r"^(?P<base>.+?)~(?P<n>\d*)$")


def split_ancestor_suffix(ref: str) -> tuple[str, int]:
    """``"main~3"`` -> ``("main", 3)``; ``"main~"`` means one step back."""
    m = _ANCESTOR.match(ref)
    if not m:
        return ref, 0
    return m["base"], int(m["n"] or 1)


def ancestors(start: str, get: Callable[[str], Commit | None]) -> Iterator[Commit]:
    """Every commit reachable from ``start`` (itself included), breadth first."""
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        cid = queue.popleft()
        if cid in seen:
            continue
        seen.add(cid)
        c = get(cid)
        if c is None:
            continue
        yield c
        queue.extend(c.parents)


def merge_base(a: str, b: str, get: Callable[[str], Commit | None]) -> str | None:
    """The best common ancestor of ``a`` and ``b``: one no other common ancestor descends from."""
    of_a = {c.id for c in ancestors(a, get)}
    common = [c.id for c in ancestors(b, get) if c.id in of_a]
    if not common:
        return None
    # One walk from the parents of every common ancestor finds those that are
    # ancestors of another common one; what remains are the best candidates.
    dominated: set[str] = set()
    queue = deque(p for cid in common for p in (get(cid) or _EMPTY).parents)
    while queue:
        cid = queue.popleft()
        if cid in dominated:
            continue
        dominated.add(cid)
        queue.extend((get(cid) or _EMPTY).parents)
    best = [cid for cid in common if cid not in dominated]
    return best[0] if best else common[0]


def is_ancestor(maybe: str, of: str, get: Callable[[str], Commit | None]) -> bool:
    return any(c.id == maybe for c in ancestors(of, get))
