"""Schedules and the worker: start pipelines at cron times, on new commits, on new alerts.

A schedule remembers the last thing it acted on (a time, a commit id, an alert
id). The worker checks every schedule each tick, claims a due one with a
compare-and-swap on that marker (so two workers never start the same run) and
starts the run; it also resumes waiting runs whose wait may be over (an
approval or a time is checked in the catalog, without replaying the run's
body; other conditions are checked by resuming), and delivers the alert
events waiting in the outbox.
Missed cron times fire once, not once per missed time.

The worker runs for months: it keeps no state that grows with the time it
has run or the runs it started. Each tick reads the schedules and waiting
runs afresh from the catalog; what the worker reports is totals and the ids
of the latest `KEEP_RUN_IDS` runs; the runs themselves go to ``on_tick`` and
are not kept. A cron schedule's next time is found from the clock, not by
stepping through every time missed since it last fired.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from tillage.errors import InputError, NoSuchDatasetError
from tillage.pipelines.engine import Run, Runs, _check_params
from tillage.pipelines.steps import load_pipeline
from tillage.repo import Repo
from tillage.store.runs import ScheduleRecord

KINDS = ("cron", "commit", "alert")
KEEP_RUN_IDS = 1000
"""A worker reports the ids of at most this many of the latest runs it started (and
resumed); its totals count them all."""


def add_schedule(
    repo: Repo,
    target: str,
    *,
    cron: str | None = None,
    on_commit: str | None = None,
    on_alert: str | None = None,
    params: dict[str, Any] | None = None,
    branch: str | None = None,
) -> ScheduleRecord:
    """Schedule ``target`` (``FILE.py:NAME`` or ``module:NAME``) on exactly one trigger.

    ``cron``: a cron expression in UTC (``"0 6 * * *"``); ``on_commit``: each
    new commit that changes this dataset on ``branch`` (except the one its own
    last run made, so a pipeline that writes the dataset does not trigger
    itself); ``on_alert``: each new alert of this kind (``missing``, ``range``,
    ``quantiles``, ...). Only what happens after the schedule is added triggers it.
    """
    given = [(k, v) for k, v in (("cron", cron), ("commit", on_commit), ("alert", on_alert)) if v]
    if len(given) != 1:
        raise InputError(
            "give exactly one trigger: --cron EXPR, --on-commit DATASET or --on-alert KIND."
        )
    kind, spec = given[0]
    pipe = load_pipeline(target)
    _check_params(pipe, dict(params or {}))
    store = Runs(repo).store
    if branch is not None:
        repo.refs.commit(branch)  # NoSuchRefError names it
    if kind == "cron":
        if not croniter.is_valid(spec):
            raise InputError(
                f"{spec!r} is not a cron expression; write five fields, e.g. '0 6 * * *' "
                "(06:00 UTC every day) or '*/15 * * * *'."
            )
        seen: str | None = _now().isoformat()
    elif kind == "commit":
        datasets = repo.datasets.pins(branch)
        if spec not in datasets:
            raise NoSuchDatasetError(spec, branch or repo.refs.current_branch, list(datasets))
        seen = _latest_commit(repo, spec, branch)
    else:
        alerts = repo.quality.alerts(show_all=True)
        seen = str(max((a.id for a in alerts), default=0))
    return store.add_schedule(target, kind, spec, dict(params or {}), branch, seen)


def _now() -> datetime:
    return datetime.now(UTC)


def _latest_commit(repo: Repo, dataset: str, branch: str | None) -> str | None:
    found = repo.refs.log(branch, dataset=dataset, limit=1)
    return found[0].id if found else None


def _due(repo: Repo, s: ScheduleRecord, now: datetime) -> str | None:
    """The new marker if ``s`` should fire now, else None."""
    if s.kind == "cron":
        last = datetime.fromisoformat(s.last_seen) if s.last_seen else now
        # The latest time at or before now; missed times before it fire with it, once.
        fire: datetime = croniter(s.spec, now).get_prev(datetime)
        at_now: datetime = croniter(s.spec, fire).get_next(datetime)
        if at_now <= now:  # get_prev is strictly before now; now may be a time itself
            fire = at_now
        return fire.isoformat() if fire > last else None
    if s.kind == "commit":
        latest = _latest_commit(repo, s.spec, s.branch)
        return latest if latest and latest != s.last_seen else None
    newer = [
        a.id
        for a in repo.quality.alerts(show_all=True)
        if a.kind == s.spec and a.id > int(s.last_seen or 0)
    ]
    return str(max(newer)) if newer else None


def _made_by(runs: Runs, run_id: str, commit_id: str) -> bool:
    record = runs.store.get(run_id)
    return record is not None and record.merged_commit == commit_id


def _may_go_on(runs: Runs, run: Run, now: datetime) -> bool:
    """Whether a waiting run's wait may be over: approvals and times are checked here,
    without replaying the run's body; other conditions only a resume can check."""
    on = run.waiting_on or {}
    if on.get("kind") == "approval":
        return runs.store.approval(run.id, str(on.get("name"))) is not None
    if on.get("kind") == "time" and on.get("until"):
        return now >= datetime.fromisoformat(str(on["until"]))
    return True


@dataclass
class Tick:
    """What one pass of the worker did."""

    started: list[Run] = field(default_factory=list)
    resumed: list[Run] = field(default_factory=list)
    delivered: int = 0
    errors: list[str] = field(default_factory=list)


def tick(repo: Repo, *, now: datetime | None = None, resume_waiting: bool = True) -> Tick:
    """Start what is due, resume waiting runs and deliver due alert events, once."""
    runs = Runs(repo)
    done = Tick()
    when = now or _now()
    for s in runs.store.schedules():
        try:
            marker = _due(repo, s, when)
            if marker is None or not runs.store.claim_schedule(s.id, s.last_seen, marker):
                continue
            if s.kind == "commit" and s.last_run and _made_by(runs, s.last_run, marker):
                continue  # the schedule's own run wrote that commit: no loop
            run = runs.start(s.target, s.params, branch=s.branch)
            runs.store.set_schedule_run(s.id, run.id)
            done.started.append(run)
        except Exception as e:  # one broken schedule must not stop the others
            done.errors.append(f"schedule {s.id} ({s.target}): {type(e).__name__}: {e}")
    if resume_waiting:
        for waiting in runs.list(status="waiting"):
            if not _may_go_on(runs, waiting, _now()):  # the engine waits by the real clock
                continue
            try:
                run = runs.resume(waiting.id)
            except Exception as e:
                done.errors.append(f"run {waiting.id}: {type(e).__name__}: {e}")
                continue
            if run.status != "waiting":
                done.resumed.append(run)
    try:
        delivery = repo.quality.deliver_alerts(due_only=True)
        done.delivered = delivery.delivered
        done.errors.extend(delivery.errors)
    except Exception as e:  # the schedules must keep running while the catalog recovers
        done.errors.append(f"alert delivery: {type(e).__name__}: {e}")
    return done


@dataclass
class WorkerReport:
    """What a worker did, in memory that does not grow with how long it ran.

    Attributes:
        ticks: how many times it checked the schedules and waiting runs.
        started, resumed: ids of the latest runs it started and resumed
            (at most `KEEP_RUN_IDS` each, oldest first).
        started_total, resumed_total, errors_total: all of them, counted.
        delivered: alert events it delivered from the outbox.
    """

    ticks: int = 0
    started: deque[str] = field(default_factory=lambda: deque(maxlen=KEEP_RUN_IDS))
    resumed: deque[str] = field(default_factory=lambda: deque(maxlen=KEEP_RUN_IDS))
    started_total: int = 0
    resumed_total: int = 0
    errors_total: int = 0
    delivered: int = 0

    def add(self, t: Tick) -> None:
        """Count what tick ``t`` did (keeping its run ids, not its runs)."""
        self.ticks += 1
        self.started.extend(r.id for r in t.started)
        self.resumed.extend(r.id for r in t.resumed)
        self.started_total += len(t.started)
        self.resumed_total += len(t.resumed)
        self.errors_total += len(t.errors)
        self.delivered += t.delivered


def worker(
    repo: Repo,
    *,
    interval: float = 30.0,
    max_seconds: float | None = None,
    max_ticks: int | None = None,
    resume_waiting: bool = True,
    on_tick: Callable[[Tick], None] | None = None,
) -> WorkerReport:
    """Run `tick` every ``interval`` seconds until ``max_seconds`` have passed or
    ``max_ticks`` ticks were made (or forever); ``on_tick`` sees each tick's runs.

    Raises:
        InputError: ``interval`` is not above 0, or ``max_ticks`` is below 1.
    """
    if interval <= 0:
        raise InputError(f"--interval must be more than 0 seconds, not {interval}.")
    if max_ticks is not None and max_ticks < 1:
        raise InputError(f"max_ticks must be 1 or more, not {max_ticks}.")
    started = time.monotonic()
    report = WorkerReport()
    while True:
        t = tick(repo, resume_waiting=resume_waiting)
        report.add(t)
        if on_tick:
            on_tick(t)
        del t  # the tick's runs (results included) are not kept
        if max_ticks is not None and report.ticks >= max_ticks:
            return report
        if max_seconds is not None and time.monotonic() - started + interval > max_seconds:
            return report
        time.sleep(interval)
