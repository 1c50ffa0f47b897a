"""Selections: a strategy's picks from a pool, as values, and the pure steps that make them.

`align` lines a model's (or featurizer's) rows up with the pool by record id;
`choose` runs a strategy on `Candidates` with a seeded generator and checks what
it returns. The repository's ``repo.selection`` namespace reads the pool and the
model state, calls these, and stores the result as rows of the ``selections``
dataset (`PICKS_SCHEMA`), keyed by (selection id, rank).

A selection is deterministic for a strategy, its parameters, the seed and the
data version: the pool is read at one commit and ordered by key, and the
strategy's only source of randomness is ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.errors import InputError
from tillage.selection.strategies import ACTIONS, Candidates, Pick, StrategyInfo

if TYPE_CHECKING:
    import numpy as np

SELECTIONS = "selections"
"""The dataset that holds every selection's picks."""

PICKS_KEY = ("selection_id", "rank")
PICKS_SCHEMA = pa.schema(
    [
        pa.field("selection_id", pa.string(), nullable=False),
        pa.field("rank", pa.int64(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("score", pa.float64()),
        pa.field("reason", pa.string()),
        pa.field("action", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class SelectedRecord:
    """One record of a selection: its rank (1 = best), id, score, reason and proposed action."""

    rank: int
    record_id: str
    score: float
    reason: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        """The pick as JSON-ready values."""
        return {
            "rank": self.rank,
            "record_id": self.record_id,
            "score": self.score if math.isfinite(self.score) else None,
            "reason": self.reason,
            "action": self.action,
        }


@dataclass(frozen=True)
class Selection:
    """An ordered set of records chosen from a pool by a strategy, with its provenance.

    Attributes:
        id: the selection's id (``repo.selection.get(id)``).
        dataset: the dataset the pool is drawn from.
        ref: the ref the pool was read at, as given (None: the current branch).
        pool_commit: the commit whose version of ``dataset`` is the pool.
        where: the filter applied to the pool, if any.
        strategy: the strategy's name; ``params`` its parameters.
        model: the model whose state the strategy read, and ``model_version`` its version.
        seed: the seed of the strategy's random generator.
        n: the batch size asked for.
        total: records that matched ``where`` before exclusions.
        excluded: records left out, by reason (``labelled``, ``queued``).
        pool_size: records the strategy chose from.
        labelset: the label set whose labelled records were left out (None: every one
            over ``dataset``); ``task`` likewise for queued records.
        include_labelled: whether labelled records stayed in the pool.
        picks: the chosen records, best first.
        note: a remark a person should see (``n`` larger than the pool).
        commit: the commit that stored the picks in the ``selections`` dataset.
        principal: who made it; ``created_at`` when (ISO 8601, UTC).
    """

    id: str
    dataset: str
    ref: str | None
    pool_commit: str
    where: str | None
    strategy: str
    params: Mapping[str, Any]
    model: str | None
    model_version: int | None
    seed: int
    n: int
    total: int
    excluded: Mapping[str, int]
    pool_size: int
    labelset: str | None
    task: str | None
    include_labelled: bool
    picks: tuple[SelectedRecord, ...]
    note: str | None = None
    commit: str | None = None
    principal: str | None = None
    created_at: str | None = None

    def __len__(self) -> int:
        return len(self.picks)

    @property
    def record_ids(self) -> list[str]:
        """The chosen records' ids, best first."""
        return [p.record_id for p in self.picks]

    def provenance(self) -> dict[str, Any]:
        """How the selection was made: what `repo.selection.rerun` needs to make it again."""
        return {
            "dataset": self.dataset,
            "ref": self.ref,
            "pool_commit": self.pool_commit,
            "where": self.where,
            "strategy": self.strategy,
            "params": dict(self.params),
            "model": self.model,
            "model_version": self.model_version,
            "seed": self.seed,
            "n": self.n,
            "total": self.total,
            "excluded": dict(self.excluded),
            "pool_size": self.pool_size,
            "labelset": self.labelset,
            "task": self.task,
            "include_labelled": self.include_labelled,
            "note": self.note,
        }

    def to_dict(self) -> dict[str, Any]:
        """The selection as JSON-ready values."""
        return {
            "id": self.id,
            **self.provenance(),
            "commit": self.commit,
            "principal": self.principal,
            "created_at": self.created_at,
            "picks": [p.to_dict() for p in self.picks],
        }

    def proposed_actions(self) -> list[str]:
        """The actions the picks propose, each once, in the order first proposed."""
        return list(dict.fromkeys(p.action for p in self.picks))


@dataclass(frozen=True)
class ActionResult:
    """What applying an action to a selection did.

    Attributes:
        selection: the selection's id.
        action: ``label``, ``relabel`` or ``remove``.
        records: how many records it acted on.
        branch: the branch the action committed on (``remove``), else None.
        commit: the commit it made (``remove``), else None.
        task: the annotation task the records were queued in (``label``, ``relabel``).
        spec_version: that task's spec version when they were queued.
        queued: how many of them were new to the task's queue.
        note: a remark a person should see.
        made: how many new records ``augment`` or ``generate`` made.
        detail: what else the action reports (the fidelity gate's numbers, the
            records each transform made), as JSON-ready values.
    """

    selection: str
    action: str
    records: int
    branch: str | None = None
    commit: str | None = None
    task: str | None = None
    spec_version: int | None = None
    queued: int | None = None
    note: str | None = None
    made: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {
            "made": self.made,
            "detail": self.detail,
            "selection": self.selection,
            "action": self.action,
            "records": self.records,
            "branch": self.branch,
            "commit": self.commit,
            "task": self.task,
            "spec_version": self.spec_version,
            "queued": self.queued,
            "note": self.note,
        }


@dataclass(frozen=True)
class Alignment:
    """Where each wanted record sits among a source's rows (-1: not there)."""

    rows: np.ndarray
    missing: list[str] = field(default_factory=list)


def align(source: Sequence[str], wanted: Sequence[str]) -> Alignment:
    """The row of each of ``wanted`` in ``source`` (record ids), and those it lacks."""
    import numpy as np
    import pyarrow.compute as pc

    if len(source) == len(wanted) and list(source) == list(wanted):
        return Alignment(np.arange(len(wanted), dtype=np.int64))
    found = pc.index_in(
        pa.array(list(wanted), pa.string()), value_set=pa.array(list(source), pa.string())
    )
    rows = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    missing = [wanted[i] for i in np.flatnonzero(rows < 0)[:5]]
    return Alignment(rows, missing)


def missing_needs(info: StrategyInfo, candidates: Candidates) -> list[str]:
    """The needs of ``info`` that ``candidates`` lacks, in `StrategyInfo.needs` order."""
    have = {
        "proba": candidates.proba is not None,
        "features": candidates.features is not None,
        "committee": candidates.committee is not None,
        "labelled_features": candidates.labelled_features is not None,
        "labels": candidates.labels is not None,
    }
    lacking = []
    for need in sorted(info.needs):
        if need.startswith("extra:"):
            if need.removeprefix("extra:") not in candidates.extra:
                lacking.append(need)
        elif not have.get(need, False):
            lacking.append(need)
    return lacking


def choose(
    info: StrategyInfo,
    candidates: Candidates,
    n: int,
    seed: int,
    params: Mapping[str, Any],
) -> tuple[list[SelectedRecord], str | None]:
    """Run ``info``'s strategy for ``n`` records (at most the pool) and check its picks.

    A pick proposes its own action, or the strategy's (`StrategyInfo.action`) where
    it keeps `Pick`'s default.

    Returns:
        The picks, ranked from 1, and a note when ``n`` is larger than the pool.

    Raises:
        InputError: the strategy returned picks outside the pool, repeated records,
            more than asked for, or an action that is not one of `ACTIONS`.
    """
    import numpy as np

    size = len(candidates)
    note = None
    if n > size:
        note = (
            f"-n {n} is more than the {size:,} record(s) in the pool; "
            f"the whole pool is selected ({size:,})."
        )
    want = min(n, size)
    picks: list[Pick] = list(info.function(candidates, want, np.random.default_rng(seed), params))
    positions = [p.position for p in picks]
    problem = None
    if len(picks) > want:
        problem = f"returned {len(picks)} picks for a batch of {want}"
    elif any(not 0 <= int(i) < size for i in positions):
        problem = f"picked positions outside the pool of {size}"
    elif len(set(positions)) != len(positions):
        problem = "picked the same record more than once"
    elif any(p.action not in ACTIONS for p in picks):
        bad = sorted({p.action for p in picks if p.action not in ACTIONS})
        problem = f"proposed action(s) {', '.join(bad)}, not one of {', '.join(ACTIONS)}"
    if problem is not None:
        raise InputError(
            f"strategy {info.name!r} {problem}; fix the strategy function "
            "(it returns at most n Picks, each a distinct position in the candidates)."
        )
    keys = candidates.keys
    chosen = [
        SelectedRecord(
            rank=r + 1,
            record_id=str(keys[int(p.position)]),
            score=float(p.score),
            reason=p.reason,
            # `Pick.action` defaults to "label": a pick left at it proposes the strategy's.
            action=info.action if p.action == "label" else p.action,
        )
        for r, p in enumerate(picks)
    ]
    return chosen, note


def picks_table(selection_id: str, picks: Sequence[SelectedRecord]) -> pa.Table:
    """The picks as rows of the ``selections`` dataset."""
    return pa.table(
        {
            "selection_id": [selection_id] * len(picks),
            "rank": [p.rank for p in picks],
            "record_id": [p.record_id for p in picks],
            "score": [p.score for p in picks],
            "reason": [p.reason for p in picks],
            "action": [p.action for p in picks],
        },
        schema=PICKS_SCHEMA,
    )


def picks_of(table: pa.Table) -> tuple[SelectedRecord, ...]:
    """Rows of the ``selections`` dataset (one selection's) as picks, by rank."""
    rows = sorted(table.to_pylist(), key=lambda r: r["rank"])
    return tuple(
        SelectedRecord(
            rank=int(r["rank"]),
            record_id=r["record_id"],
            score=float(r["score"]) if r["score"] is not None else float("nan"),
            reason=r["reason"] or "",
            action=r["action"],
        )
        for r in rows
    )
