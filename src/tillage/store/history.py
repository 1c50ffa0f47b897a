"""History queries: the commit graph walked in SQL with recursive CTEs.

A commit's parents are a JSON array in its row, so each step of a walk joins a
commit to its parents' ids (``json_each`` on SQLite, ``json_array_elements_text``
on PostgreSQL) and the database, not Python, holds the set of commits visited.
Walks use ``UNION``, so each commit is visited once however many paths reach it.
Only the commits a caller asks for are loaded, with their pins.

A parent id that names no stored commit ends the walk there, as a missing commit
would: nothing is yielded for it (``verify`` reports such parents).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Select,
    String,
    TableValuedAlias,
    and_,
    cast,
    exists,
    func,
    literal,
    select,
    true,
)

from tillage.core.commit import Commit, DatasetPin
from tillage.store.catalog import COMMITS, PINS, REFS, Catalog

_CHUNK = 500  # ids per IN list, well under every database's parameter limit
# Deeper than any history: larger step counts (``main~99999999999999999999``) would
# not fit the databases' integers, and could reach nothing anyway.
_MAX_DEPTH = 2**31 - 1


def _json_items(conn: Connection, column: Any, *, keys: bool = False) -> ColumnElement[str]:
    """The elements of a JSON array column (or the keys of an object) as a text column.

    Its FROM element (`_item_from`) must follow ``column``'s table in the join: both
    databases let a function in FROM read the columns of the tables before it.
    """
    tv: TableValuedAlias
    if conn.dialect.name == "postgresql":
        fn = func.json_object_keys if keys else func.json_array_elements_text
        tv = fn(column).table_valued("item").render_derived()
        return tv.c.item
    tv = func.json_each(column).table_valued("key", "value")
    return tv.c.key if keys else tv.c.value


def _item_from(item: ColumnElement[str]) -> Any:
    """The FROM element of a `_json_items` column, to join it (lateral) after its table."""
    return item.table


def _ancestors(conn: Connection, starts: Select[Any] | Sequence[str], name: str) -> CTE:
    """The ids of every commit reachable from ``starts`` (themselves included).

    The CTE also holds parent ids that name no stored commit; join it to the
    commits table to keep only those that exist.
    """
    seed_ids = starts if isinstance(starts, Select) else list(starts)
    # Both terms typed alike: PostgreSQL refuses VARCHAR(64) in one and text in the other.
    seed = select(cast(COMMITS.c.id, String).label("id")).where(COMMITS.c.id.in_(seed_ids))
    walk = seed.cte(name, recursive=True)
    parent = _json_items(conn, COMMITS.c.parents)
    step = (
        select(cast(parent, String).label("id"))
        .select_from(walk)
        .join(COMMITS, COMMITS.c.id == walk.c.id)
        .join(_item_from(parent), true())
    )
    return walk.union(step)


def _has_change(conn: Connection, dataset: str) -> ColumnElement[bool]:
    """True where the commit's ``changes`` name ``dataset``."""
    key = _json_items(conn, COMMITS.c.changes, keys=True)
    return exists(select(literal(1)).select_from(_item_from(key)).where(key == dataset))


def _load(conn: Connection, rows: Sequence[Any]) -> list[Commit]:
    """Commits from their rows (kept in order), with their pins."""
    ids = [r.id for r in rows]
    pins: dict[str, list[Any]] = {}
    for i in range(0, len(ids), _CHUNK):
        q = select(PINS).where(PINS.c.commit_id.in_(ids[i : i + _CHUNK]))
        for p in conn.execute(q).all():
            pins.setdefault(p.commit_id, []).append(p)
    return [Catalog._commit_from_rows(r, pins.get(r.id, [])) for r in rows]


def log(
    catalog: Catalog, start: str, *, dataset: str | None = None, limit: int | None = None
) -> list[Commit]:
    """Commits reachable from ``start``, newest first (by time, then id).

    Args:
        start: the commit id to walk from.
        dataset: only commits whose changes name this dataset.
        limit: at most this many, newest first (a LIMIT in SQL: only those are
            loaded); None or 0: all.
    """
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, [start], "reach")
        q = select(COMMITS).where(COMMITS.c.id.in_(select(walk.c.id)))
        if dataset is not None:
            q = q.where(_has_change(conn, dataset))
        q = q.order_by(COMMITS.c.created_at.desc(), COMMITS.c.id.desc())
        if limit:
            q = q.limit(limit)
        return _load(conn, conn.execute(q).all())


def _first_parent(column: Any) -> ColumnElement[str]:
    return column[0].as_string()  # type: ignore[no-any-return]


def _first_parent_chain(conn: Connection, start: str, steps: int) -> CTE:
    """(id, first parent id, depth) for ``start`` and up to ``steps`` first parents."""
    seed = select(
        COMMITS.c.id,
        _first_parent(COMMITS.c.parents).label("first"),
        literal(0).label("depth"),
    ).where(COMMITS.c.id == start)
    chain = seed.cte("chain", recursive=True)
    step = (
        select(
            COMMITS.c.id,
            _first_parent(COMMITS.c.parents).label("first"),
            (chain.c.depth + 1).label("depth"),
        )
        .select_from(chain)
        .join(COMMITS, COMMITS.c.id == chain.c.first)
        .where(chain.c.depth < steps)
    )
    return chain.union_all(step)


def first_parents(catalog: Catalog, start: str, count: int) -> list[Commit]:
    """``start`` and its first parents, newest first, at most ``count`` commits."""
    if count <= 0:
        return []
    count = min(count, _MAX_DEPTH)
    with catalog.engine.connect() as conn:
        chain = _first_parent_chain(conn, start, count - 1)
        q = select(COMMITS).join(chain, chain.c.id == COMMITS.c.id).order_by(chain.c.depth)
        return _load(conn, conn.execute(q).all())


def nth_first_parent(catalog: Catalog, start: str, n: int) -> str | None:
    """The id ``n`` first-parent steps back from ``start`` (``start~n``); None if fewer.

    The commit a step lands on need not exist (its id is still returned); a
    missing commit before it ends the line.
    """
    if n > _MAX_DEPTH:
        return None
    if n <= 0:
        with catalog.engine.connect() as conn:
            found = conn.execute(select(COMMITS.c.id).where(COMMITS.c.id == start)).scalar()
        return found
    with catalog.engine.connect() as conn:
        chain = _first_parent_chain(conn, start, n - 1)
        q = select(chain.c.first).where(chain.c.depth == n - 1)
        return conn.execute(q).scalar()


def is_ancestor(catalog: Catalog, maybe: str, of: str) -> bool:
    """Whether stored commit ``maybe`` is reachable from ``of`` (itself included)."""
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, [of], "reach")
        q = select(COMMITS.c.id).where(COMMITS.c.id == maybe, COMMITS.c.id.in_(select(walk.c.id)))
        return conn.execute(q).first() is not None


def best_common_ancestors(catalog: Catalog, a: str, b: str) -> list[str]:
    """Common ancestors of ``a`` and ``b`` that are not an ancestor of another common one.

    A parent of a common ancestor is itself common, so the best are the common
    ancestors that are no common ancestor's parent: one statement, unordered.
    """
    with catalog.engine.connect() as conn:
        of_a = _ancestors(conn, [a], "of_a")
        of_b = _ancestors(conn, [b], "of_b")
        common = (
            select(COMMITS.c.id, COMMITS.c.parents)
            .where(COMMITS.c.id.in_(select(of_a.c.id)), COMMITS.c.id.in_(select(of_b.c.id)))
            .cte("common")
        )
        children = common.alias("children")
        parent = _json_items(conn, children.c.parents)
        dominated = select(parent).select_from(children).join(_item_from(parent), true())
        q = select(common.c.id).where(common.c.id.not_in(dominated))
        return [r[0] for r in conn.execute(q)]


def parents_outside(catalog: Catalog, start: str, other: str) -> dict[str, tuple[str, ...]]:
    """Parent ids of each commit reachable from ``start`` but not from ``other``."""
    with catalog.engine.connect() as conn:
        of_start = _ancestors(conn, [start], "of_start")
        of_other = _ancestors(conn, [other], "of_other")
        q = select(COMMITS.c.id, COMMITS.c.parents).where(
            COMMITS.c.id.in_(select(of_start.c.id)),
            COMMITS.c.id.not_in(select(of_other.c.id)),
        )
        return {r.id: tuple(r.parents) for r in conn.execute(q)}


def unreachable(catalog: Catalog, roots: Iterable[str]) -> list[str]:
    """Ids of the stored commits that no commit in ``roots`` reaches."""
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, sorted(set(roots)), "reach")
        q = select(COMMITS.c.id).where(COMMITS.c.id.not_in(select(walk.c.id)))
        return [r[0] for r in conn.execute(q)]


def _ref_roots() -> Select[Any]:
    return select(REFS.c.commit_id).where(REFS.c.commit_id.is_not(None))


def count_reachable(catalog: Catalog) -> int:
    """How many stored commits a branch or tag reaches."""
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, _ref_roots(), "reach")
        q = select(func.count()).where(COMMITS.c.id.in_(select(walk.c.id)))
        return int(conn.execute(q).scalar_one())


def reachable_pins(catalog: Catalog) -> list[tuple[str, DatasetPin]]:
    """Each (dataset, pin) that a commit some branch or tag reaches pins, once.

    Ordered by the time of the first commit that pins it, then by dataset name.
    """
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, _ref_roots(), "reach")
        first = func.min(COMMITS.c.created_at)
        q = (
            select(PINS.c.dataset, PINS.c.lance_branch, PINS.c.lance_version, PINS.c.num_rows)
            .join(COMMITS, COMMITS.c.id == PINS.c.commit_id)
            .where(PINS.c.commit_id.in_(select(walk.c.id)))
            .group_by(PINS.c.dataset, PINS.c.lance_branch, PINS.c.lance_version, PINS.c.num_rows)
            .order_by(first, PINS.c.dataset, PINS.c.lance_branch, PINS.c.lance_version)
        )
        return [(r[0], DatasetPin(r[1], r[2], r[3])) for r in conn.execute(q)]


def first_pin(catalog: Catalog, dataset: str) -> DatasetPin | None:
    """The version of ``dataset`` that the oldest commit pinning it pins; None if none does."""
    with catalog.engine.connect() as conn:
        q = (
            select(PINS.c.lance_branch, PINS.c.lance_version, PINS.c.num_rows)
            .join(COMMITS, COMMITS.c.id == PINS.c.commit_id)
            .where(PINS.c.dataset == dataset)
            .order_by(COMMITS.c.created_at, COMMITS.c.id)
            .limit(1)
        )
        row = conn.execute(q).first()
    return DatasetPin(row[0], row[1], row[2]) if row else None


def dangling_refs(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(name, kind, commit id) of each ref whose commit is not stored."""
    with catalog.engine.connect() as conn:
        q = (
            select(REFS.c.name, REFS.c.kind, REFS.c.commit_id)
            .where(REFS.c.commit_id.is_not(None))
            .where(REFS.c.commit_id.not_in(select(COMMITS.c.id)))
            .order_by(REFS.c.name)
        )
        return [(r[0], r[1], r[2]) for r in conn.execute(q)]


def missing_parents(catalog: Catalog) -> list[tuple[str, str]]:
    """(commit id, parent id) for each parent, named by a reachable commit, that is not stored."""
    with catalog.engine.connect() as conn:
        walk = _ancestors(conn, _ref_roots(), "reach")
        parent = _json_items(conn, COMMITS.c.parents)
        stored = COMMITS.alias("stored")
        q = (
            select(COMMITS.c.id, parent)
            .select_from(COMMITS)
            .join(_item_from(parent), true())
            .where(
                and_(
                    COMMITS.c.id.in_(select(walk.c.id)),
                    parent.not_in(select(stored.c.id)),
                )
            )
            .order_by(COMMITS.c.created_at, COMMITS.c.id)
        )
        return [(r[0], r[1]) for r in conn.execute(q)]
