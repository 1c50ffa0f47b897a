"""The commit-graph walks as they were written in Python, and random graphs to compare.

`tillage.store.history` walks history in SQL. This module keeps the in-memory
walks that it replaced (a `get` callback over every commit) as the reference,
a seeded generator of random commit graphs with merges, criss-cross merges,
several roots, tied timestamps and missing parents, and one function that
checks every SQL walk against the reference on a real catalog.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator

from tillage.core.commit import Commit, DatasetPin
from tillage.store import history as sql
from tillage.store.catalog import Catalog
from tillage.versioning import history

Get = Callable[[str], Commit | None]
_EMPTY = Commit("", (), {}, "", "", "", "")
DATASETS = ("a", "b", "c")


# -- the reference: the walks before they moved into SQL ----------------------


def ref_ancestors(start: str, get: Get) -> Iterator[Commit]:
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


def ref_merge_base(a: str, b: str, get: Get) -> str | None:
    of_a = {c.id for c in ref_ancestors(a, get)}
    common = [c.id for c in ref_ancestors(b, get) if c.id in of_a]
    if not common:
        return None
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


def ref_is_ancestor(maybe: str, of: str, get: Get) -> bool:
    return any(c.id == maybe for c in ref_ancestors(of, get))


def ref_log(start: str, get: Get, dataset: str | None, limit: int | None) -> list[str]:
    out = sorted(ref_ancestors(start, get), key=lambda c: (c.created_at, c.id), reverse=True)
    if dataset is not None:
        out = [c for c in out if dataset in c.changes]
    return [c.id for c in (out[:limit] if limit else out)]


def ref_first_parents(start: str, get: Get) -> list[str]:
    out: list[str] = []
    c = get(start)
    while c is not None:
        out.append(c.id)
        c = get(c.parents[0]) if c.parents else None
    return out


def ref_nth_first_parent(start: str, n: int, get: Get) -> str | None:
    cid: str | None = start
    for _ in range(n):
        commit = get(cid) if cid else None
        if commit is None or not commit.parents:
            return None
        cid = commit.parents[0]
    return cid


# -- random graphs ------------------------------------------------------------


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def random_graph(rng: random.Random, size: int) -> tuple[dict[str, Commit], dict[str, str]]:
    """``size`` commits with merges (two or three parents), several roots, tied and
    out-of-order times, and a few parents that name no commit; and refs to some."""
    commits: dict[str, Commit] = {}
    order: list[str] = []
    for i in range(size):
        roll = rng.random()
        if not order or roll < 0.05:
            parents: list[str] = []
        elif roll < 0.6:
            parents = [order[max(0, len(order) - 1 - int(rng.expovariate(0.5)))]]
        else:
            k = 3 if roll > 0.95 else 2
            parents = rng.sample(order[-12:], min(k, len(order[-12:])))
        if parents and rng.random() < 0.03:
            parents.append(_hex(rng))  # a parent that is not stored
        changed = [d for d in DATASETS if rng.random() < 0.4]
        pinned = [d for d in DATASETS if rng.random() < 0.7]
        c = Commit(
            id=_hex(rng),
            parents=tuple(parents),
            pins={d: DatasetPin(f"lb{rng.randrange(3)}", rng.randrange(5), 10) for d in pinned},
            message=f"commit {i}",
            # Few distinct times, some running backwards: ties are broken by id.
            created_at=f"2026-01-01T00:{(i // 3 + rng.randrange(-2, 3)) % 60:02d}:00+00:00",
            principal="test",
            tillage_version="0",
            changes={d: {"op": "append"} for d in changed},
        )
        commits[c.id] = c
        order.append(c.id)
    refs = {f"r{i}": rng.choice(order) for i in range(rng.randrange(1, 5))}
    return commits, refs


def store_graph(catalog: Catalog, commits: dict[str, Commit], refs: dict[str, str]) -> None:
    with catalog.transaction() as conn:
        for c in commits.values():
            Catalog.insert_commit(conn, c)
        for name, cid in refs.items():
            Catalog.create_ref(conn, name, "branch", cid)
        Catalog.create_ref(conn, "dangling", "tag", _hex(random.Random(len(commits))))


# -- the comparison -------------------------------------------------------------


def check_against_reference(catalog: Catalog, rng: random.Random, size: int) -> int:
    """Store a random graph in ``catalog`` and check every SQL walk against the reference.

    Returns how many merge-base pairs had more than one best common ancestor,
    so that callers can require criss-cross cases to have been compared.
    """
    commits, refs = random_graph(rng, size)
    store_graph(catalog, commits, refs)
    get = commits.get
    ids = list(commits)
    missing = _hex(rng)
    probes = [*rng.sample(ids, min(12, len(ids))), ids[-1], missing]

    for start in probes:
        assert [c.id for c in sql.log(catalog, start)] == ref_log(start, get, None, None)
        for limit in (1, 3):
            for ds in (None, "a"):
                got = [c.id for c in sql.log(catalog, start, dataset=ds, limit=limit)]
                assert got == ref_log(start, get, ds, limit)
        firsts = list(history.first_parents(catalog, start))
        assert [c.id for c in firsts] == ref_first_parents(start, get)
        assert all(c == commits[c.id] for c in firsts)  # pins and all come back whole
        for n in range(1, len(firsts) + 2, max(1, len(firsts) // 5)):
            assert sql.nth_first_parent(catalog, start, n) == ref_nth_first_parent(start, n, get)

    crisscross = 0
    pairs = [(rng.choice(ids), rng.choice(ids)) for _ in range(60)]
    pairs += [(ids[-1], missing), (missing, ids[0])]
    for a, b in pairs:
        assert history.merge_base(catalog, a, b) == ref_merge_base(a, b, get), (a, b)
        assert sql.is_ancestor(catalog, a, b) == ref_is_ancestor(a, b, get)
        crisscross += len(sql.best_common_ancestors(catalog, a, b)) > 1

    roots = [*refs.values(), rng.choice(ids), missing]
    reachable = {c.id for r in roots for c in ref_ancestors(r, get)}
    assert sorted(sql.unreachable(catalog, roots)) == sorted(set(ids) - reachable)

    from_refs = {c.id: c for r in refs.values() for c in ref_ancestors(r, get)}
    assert sql.count_reachable(catalog) == len(from_refs)
    pins = sql.reachable_pins(catalog)
    assert len(pins) == len(set(pins))
    assert set(pins) == {(d, p) for c in from_refs.values() for d, p in c.pins.items()}
    assert sorted(sql.missing_parents(catalog)) == sorted(
        (c.id, p) for c in from_refs.values() for p in c.parents if p not in commits
    )
    assert [name for name, _, _ in sql.dangling_refs(catalog)] == ["dangling"]
    return crisscross
