"""Backfills: run a pipeline once per partition (a day, a number), idempotently.

A partition whose run with the same parameters already finished is skipped, so
a backfill that stopped half way (or ran before) only runs what is missing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tillage.errors import InputError
from tillage.pipelines.engine import Executor_, Run, Runs, params_key
from tillage.pipelines.steps import Pipeline, load_pipeline
from tillage.repo import Repo


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill did, partition by partition (``skipped``: already done before)."""

    pipeline: str
    param: str
    ran: list[Run]
    skipped: list[Any]

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.ran if r.status == "failed"]

    @property
    def waiting(self) -> list[Run]:
        return [r for r in self.ran if r.status == "waiting"]

    def waiting_on(self) -> dict[str, int]:
        """How many runs wait on what, most first: ``{"approval 'publish'": 3}``."""
        found = Counter(awaited(r.waiting_on or {}) for r in self.waiting)
        return dict(found.most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "param": self.param,
            "ran": [
                {"id": r.id, "params": r.params, "status": r.status, "waiting_on": r.waiting_on}
                for r in self.ran
            ],
            "skipped": self.skipped,
            "waiting_on": self.waiting_on(),
        }


def awaited(waiting_on: dict[str, Any]) -> str:
    """What a waiting run waits on, in a few words (``approval 'publish'``)."""
    kind = waiting_on.get("kind")
    if kind == "approval":
        return f"approval {waiting_on.get('name')!r}"
    if kind == "annotations":
        return f"annotation task {waiting_on.get('task')!r}"
    if kind == "time":
        return f"time {waiting_on.get('until')}"
    if kind == "condition":
        return f"condition {waiting_on.get('name')!r}"
    return str(waiting_on.get("message", "something"))


def partitions(start: str, end: str) -> list[Any]:
    """The values from ``start`` to ``end``, both included: ISO dates by day, or whole numbers."""
    if start.lstrip("-").isdigit() and end.lstrip("-").isdigit():
        i, j = int(start), int(end)
        if j < i:
            raise InputError(f"--to {end} comes before --from {start}.")
        return list(range(i, j + 1))
    try:
        a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise InputError(
            f"cannot tell what lies from {start!r} to {end!r}: give two dates "
            "(2013-01-01) or two whole numbers."
        ) from None
    if b < a:
        raise InputError(f"--to {end} comes before --from {start}.")
    return [(a + dt.timedelta(days=n)).isoformat() for n in range((b - a).days + 1)]


def backfill(
    repo: Repo,
    pipeline: Pipeline[..., Any] | str,
    param: str,
    values: Sequence[Any],
    *,
    fixed: dict[str, Any] | None = None,
    branch: str | None = None,
    executor: Executor_ = "local",
    stop_on_failure: bool = True,
    progress: Callable[[Any, Run | None], None] | None = None,
) -> BackfillResult:
    """Run ``pipeline`` with ``param`` set to each of ``values`` (and ``fixed`` params).

    Partitions already done are skipped; a waiting or failed earlier run of a
    partition is resumed rather than started again. Stops at the first failed
    partition unless ``stop_on_failure`` is False. ``progress(value, run)`` is
    called after each partition (``run`` None when skipped).
    """
    pipe = load_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    runs = Runs(repo)
    ran: list[Run] = []
    skipped: list[Any] = []
    for value in values:
        params = {**(fixed or {}), param: value}
        earlier = runs.store.runs(pipeline=pipe.name, params_key=params_key(pipe.name, params))
        if any(r.status == "done" for r in earlier):
            skipped.append(value)
            if progress:
                progress(value, None)
            continue
        unfinished = [r for r in earlier if r.status in ("waiting", "failed", "running")]
        run = (
            runs.resume(unfinished[0].id, executor=executor)
            if unfinished
            else runs.start(pipe, params, branch=branch, executor=executor)
        )
        ran.append(run)
        if progress:
            progress(value, run)
        if run.status == "failed" and stop_on_failure:
            break
    return BackfillResult(pipe.name, param, ran, skipped)
