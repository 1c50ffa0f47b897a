"""Durable runs: execute a pipeline body, store every step, replay, pause, resume.

How a run works:

- `run` records the run and makes its own branch ``runs/ID`` off the target
  branch; steps read and write through ``tillage.context().repo``, which is
  bound to that branch. When the body returns, the run branch is merged into
  the target, so a failed or paused run never shows half its writes there.
- Executing the body numbers each step call (1, 2, ...). A call whose number
  has a stored result with the same step and inputs is replayed from it; a
  different step or different inputs at a stored number is non-determinism and
  fails the run, naming both. A new call runs the step (or reuses a result
  with the same cache key from any run: same code, same inputs) and stores it
  in its own transaction before the body goes on.
- The cache key holds the step's code (`tillage.pipelines.codehash`, or its
  ``code_version``); changed code alone is not another path: a finished step
  replays, an unfinished one runs the new code.
- A step with ``retries`` is called again after an error its `RetryPolicy`
  retries, after a backoff; each attempt is stored with the step, a failed
  one (status ``retrying``) before the wait, after what it wrote is undone.
- `Step.map` stores item results in small groups; a resumed run computes only
  the items that have none. Items are retried one by one where they run.
- `approval`, `wait_until` and `wait_for` suspend the run (the process may
  exit) until `resume` finds their condition true.
- A run records the process executing it; a ``running`` run whose process is
  gone (``kill -9``, a crash) reads as ``crashed``. `Runs.cancel` ends a run
  without merging it; `Runs.delete` removes an ended run and its branch.
- Stored results are checked against the hash recorded with them before they
  are loaded (`tillage.pipelines.values`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import random
import sys
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

from tillage.access import Purpose, ReadEvent
from tillage.core.commit import Commit
from tillage.core.names import check_ref
from tillage.errors import (
    InputError,
    LockTimeoutError,
    MergeConflictError,
    NondeterminismError,
    NoSuchRunError,
    RunStateError,
    StoredValueError,
)
from tillage.pipelines.processes import is_gone, this_process
from tillage.pipelines.steps import RUNNER, Pipeline, RetryPolicy, Step, load_pipeline
from tillage.pipelines.values import Artifacts, fingerprint, ref_fingerprint
from tillage.repo import Repo
from tillage.store.catalog import Catalog, utcnow
from tillage.store.lock import write_lock
from tillage.store.runs import RunRecord, RunStore, StepRecord
from tillage.versioning.writer import code_version

Executor_ = Literal["local", "process", "ray"]
EXECUTORS: tuple[str, ...] = ("local", "process", "ray")
MAP_FLUSH_ITEMS = 1000
"""Map results are stored at least every this many items ..."""
MAP_FLUSH_SECONDS = 0.5
"""... and at least this often, so a crash loses at most one small group."""
CANCEL_POLL_SECONDS = 1.0
"""A step waiting to be retried checks this often whether its run was cancelled."""
KNOWN_VALUES = 256
"""A run remembers the fingerprints of this many of the latest step results (a body
that passes an older one to a step hashes it again), so that a body making many
step calls does not keep every result alive."""


def current_runtime() -> _Runtime | None:
    """The run whose pipeline body is executing in this context, if any."""
    rt = RUNNER.get()
    return rt if isinstance(rt, _Runtime) else None


# -- what users see ---------------------------------------------------------------


@dataclass(frozen=True)
class StepView:
    """One step of a run, for people: what it was, how it ended, how long it took."""

    seq: int
    name: str
    status: str  # done | cached | failed | waiting | retrying | running
    seconds: float
    reads: list[dict[str, Any]]
    writes: list[dict[str, Any]]
    error: str | None = None
    output: dict[str, Any] | None = None
    """How the result is stored; `value` names it for `tillage.lineage`."""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    """Each time the step's function ran in this run (see `StepRecord.attempts`)."""

    @property
    def value(self) -> str | None:
        """The result's fingerprint (``table:…``, ``pickle:…``, ``json:…``), if any."""
        if not self.output or {"map", "restore", "hidden"} & set(self.output):
            return None
        return ref_fingerprint(self.output)


@dataclass(frozen=True)
class Run:
    """A run of a pipeline and where it stands.

    Attributes:
        id: the run id (``tillage runs show ID``).
        pipeline: the pipeline's name; ``target`` says where its code is.
        status: ``running``, ``waiting``, ``done``, ``failed``, ``cancelled``, or
            ``crashed`` (stored as running, but its process is gone: resume it).
        waiting_on: what a waiting run waits for, e.g. ``{"kind": "approval", ...}``.
        result: the pipeline's return value (done runs).
        error: the traceback of a failed run.
        branch: the branch the run's writes land on; ``run_branch`` holds them until then.
        pid, host: the process that executes the run, or last did.
    """

    id: str
    pipeline: str
    target: str
    params: dict[str, Any]
    status: str
    branch: str
    run_branch: str
    created_at: str
    updated_at: str
    waiting_on: dict[str, Any] | None
    error: str | None
    result: Any
    merged_commit: str | None
    code_sha: str | None
    steps: list[StepView] = field(default_factory=list)
    pid: int | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["steps"] = [{**vars(s), "value": s.value} for s in self.steps]
        return d


@dataclass(frozen=True)
class Context:
    """What a running step may use: ``tillage.context().repo`` and the run's id.

    ``repo`` reads and writes the run's own branch, merged into ``branch`` when the
    run is done; people's annotations land on ``branch`` itself.
    """

    repo: Repo
    run_id: str
    step: str | None
    branch: str = ""


def context() -> Context:
    """The run a step is executing in (``repo`` is bound to the run's branch)."""
    rt = current_runtime()
    if rt is None:
        raise InputError(
            "tillage.context() is only available inside a running pipeline "
            "(tillage.run(repo, pipeline, ...))."
        )
    frame = rt.frame
    return Context(rt.repo, rt.run.id, frame.name if frame else None, rt.run.branch)


# -- pausing ----------------------------------------------------------------------


class _Suspend(BaseException):
    """Unwinds the pipeline body when a wait is not satisfied (not an error)."""

    def __init__(self, waiting_on: dict[str, Any]) -> None:
        super().__init__(waiting_on.get("message", "waiting"))
        self.waiting_on = waiting_on


class _StepFailed(BaseException):
    """Unwinds the body after a step raised (the step's error is already stored)."""


class _Cancelled(BaseException):
    """Unwinds the body of a run that `Runs.cancel` cancelled while it ran."""


def approval(name: str, message: str | None = None) -> dict[str, Any]:
    """Wait until someone runs ``tillage runs approve RUN NAME``; returns who and when."""
    rt = _runtime_for("approval")

    def check() -> tuple[bool, str]:
        found = rt.store.approval(rt.run.id, name)
        text = message or f"approval {name!r}: run `tillage runs approve {rt.run.id} {name}`"
        return found is not None, text

    rt.wait(f"approval:{name}", check, {"kind": "approval", "name": name})
    found = rt.store.approval(rt.run.id, name)
    return {k: v for k, v in (found or {}).items() if k != "run_id"}


def wait_until(when: datetime) -> None:
    """Wait until the time ``when`` (timezone-aware, or UTC)."""
    rt = _runtime_for("wait_until")
    due = when if when.tzinfo else when.replace(tzinfo=UTC)

    def check() -> tuple[bool, str]:
        return datetime.now(UTC) >= due, f"until {due.isoformat(timespec='seconds')}"

    rt.wait(f"time:{due.isoformat()}", check, {"kind": "time", "until": due.isoformat()})


def wait_for(name: str, condition: Callable[[], tuple[bool, str]]) -> None:
    """Wait until ``condition()`` returns ``(True, ...)``; its text says what is awaited.

    For example a labelling quota: ``lambda: (n >= 100, f"task tweets-v2 has {n}/100 labels")``.
    The condition runs again on every resume.
    """
    rt = _runtime_for("wait_for")
    rt.wait(f"wait:{name}", condition, {"kind": "condition", "name": name})


def wait_for_annotations(task: str, records: int, spec_version: int | None = None) -> None:
    """Wait until annotation task ``task`` has ``records`` fully annotated records."""
    rt = _runtime_for("wait_for_annotations")

    # Annotations land on the run's target branch, not on the run's own branch.
    target = rt.base.at(rt.run.branch, principal=f"job:{rt.run.id}")

    def check() -> tuple[bool, str]:
        done = target.annotation.progress(task, spec_version).done
        return done >= records, f"task {task} has {done}/{records} labelled records"

    rt.wait(
        f"annotations:{task}:{records}", check, {"kind": "annotations", "task": task, "of": records}
    )


def _runtime_for(what: str) -> _Runtime:
    rt = current_runtime()
    if rt is None:
        raise InputError(f"tillage.{what}() only works inside a running pipeline.")
    if rt.frame is not None:
        raise InputError(
            f"tillage.{what}() must be called by the pipeline body, not inside a step "
            f"({rt.frame.name}): a step either finishes or fails."
        )
    return rt


# -- the runtime ------------------------------------------------------------------


@dataclass
class _Frame:
    name: str
    seq: int = 0
    key: str = ""
    inputs: list[str] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    guarded: bool = False
    restore: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    """The step's earlier attempts, kept when `guard` stores the step as running."""


class _Lineage:
    """Notes what the run's steps read and write (the run's handle's observer)."""

    def __init__(self, runtime: _Runtime) -> None:
        self._runtime = runtime

    def read(self, event: ReadEvent) -> None:
        frame = self._runtime.frame
        # An ingest's comparison with its drift reference is monitoring, not an input.
        if frame is not None and event.commit is not None and event.purpose != Purpose.ALERT:
            entry = {"dataset": event.dataset, "commit": event.commit}
            if entry not in frame.reads:
                frame.reads.append(entry)

    def writing(self, dataset: str) -> None:
        frame = self._runtime.frame
        if frame is not None and not frame.guarded:
            self._runtime.guard(frame)

    def written(self, dataset: str, commit: Commit) -> None:
        frame = self._runtime.frame
        if frame is not None:
            frame.writes.append({"dataset": dataset, "commit": commit.id})


class _Runtime:
    """One execution of a run's pipeline body."""

    def __init__(
        self,
        repo: Repo,
        store: RunStore,
        artifacts: Artifacts,
        run: RunRecord,
        *,
        no_cache: bool,
        executor: Executor_,
    ) -> None:
        self.base = repo
        self.store = store
        self.artifacts = artifacts
        self.run = run
        self.no_cache = no_cache
        self.executor = executor
        self.recorded = {s.seq: s for s in store.steps(run.id)}
        self.seq = 0
        self.frame: _Frame | None = None
        # The latest objects steps returned -> their fingerprints (kept alive while
        # here, so that ``id`` stays unique); older ones are fingerprinted again.
        self.known: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        # The run's handle: bound to the run branch, reading as the run's job, its
        # alerts filed under the target branch, and noting what steps read and write.
        self.principal = f"job:{run.id}"
        self.repo: Repo = repo.at(
            run.run_branch,
            alerts_on=run.branch,
            principal=self.principal,
            observer=_Lineage(self),
        )

    # -- identity --

    def _fingerprint(self, value: Any) -> str:
        hit = self.known.get(id(value))
        if hit is not None and hit[0] is value:
            self.known.move_to_end(id(value))
            return hit[1]
        return fingerprint(value)

    def _remember(self, value: Any, fp: str) -> None:
        if value is not None and not isinstance(value, bool | int | float | str):
            self.known[id(value)] = (value, fp)
            self.known.move_to_end(id(value))
            while len(self.known) > KNOWN_VALUES:
                self.known.popitem(last=False)

    def _inputs(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[str]:
        fps = [self._fingerprint(a) for a in args]
        fps += [f"{k}={self._fingerprint(v)}" for k, v in sorted(kwargs.items())]
        return fps

    @staticmethod
    def _key(name: str, code: str, inputs: list[str]) -> str:
        body = json.dumps([name, code, inputs], separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def _next(self, name: str, key: str, inputs: list[str]) -> tuple[int, StepRecord | None]:
        """The next call number, and its stored record if the body made this call before."""
        if self.store.status(self.run.id) == "cancelled":
            raise _Cancelled()
        self.seq += 1
        prior = self.recorded.get(self.seq)
        # Changed code is not another path: a finished step replays, an unfinished one
        # runs the new code. Another step, or other inputs, is.
        if prior is not None and (prior.name != name or prior.inputs != inputs):
            before = f"{prior.name}({', '.join(str(i) for i in prior.inputs)})"
            now = f"{name}({', '.join(inputs)})"
            raise NondeterminismError(self.run.id, self.seq, before, now)
        return self.seq, prior

    def _load(self, ref: dict[str, Any], step: str, run_id: str | None = None) -> Any:
        """A stored value; ``step`` and ``run_id`` (default: this run) name it in errors."""
        who = run_id or self.run.id
        return self.artifacts.get(ref, load_commit=self.base.refs.commit, run_id=who, step=step)

    # -- steps --

    def guard(self, frame: _Frame) -> None:
        """Before a step's first write: store where the run branch was, so that a step
        killed half way is re-run from there (its writes land once, not twice)."""
        frame.restore = {"restore": self.base.refs.resolve(self.run.run_branch)}
        self._store(
            frame.seq,
            frame.name,
            frame.key,
            "running",
            frame.restore,
            frame.inputs,
            [],
            [],
            0.0,
            attempts=frame.attempts,
        )
        frame.guarded = True

    def _rewind(self, prior: StepRecord) -> None:
        """Undo the writes of a step that was killed (or failed) before it finished."""
        if not prior.output or "restore" not in prior.output:
            return
        self._move_back(prior.output["restore"])

    def _move_back(self, head: str) -> None:
        """Move the run's branch back to ``head``, dropping what a step wrote after it."""
        branch = self.run.run_branch
        now = self.base.refs.resolve(branch)
        if now != head:  # the run's own branch: nobody else writes there
            with self.base._storage.catalog.transaction() as conn:
                Catalog.move_branch(conn, branch, now, head)

    def call(self, step: Step[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        if self.frame is not None:  # a step calling a step: part of the outer step
            return step.fn(*args, **kwargs)
        inputs = self._inputs(args, kwargs)
        key = self._key(step.name, step.code, inputs)
        seq, prior = self._next(step.name, key, inputs)
        if prior is not None and prior.status in ("done", "cached"):
            try:
                value = self._load(prior.output, f"step {step.name} (#{seq})")
            except StoredValueError:
                if not self.no_cache:
                    raise
                prior = None  # --no-cache: compute the changed value again
            else:
                self._remember(value, ref_fingerprint(prior.output))
                return value
        if prior is not None and prior.status in ("running", "retrying", "failed"):
            self._rewind(prior)  # a step killed or failed after writing: start it clean
        cacheable = step.cache and not self.no_cache and not _unhashable(inputs)
        hit = self.store.cached(key) if cacheable else None
        if hit is not None and hit.output is not None:
            self._store(seq, step.name, key, "cached", hit.output, inputs, hit.reads, [], 0.0)
            value = self._load(hit.output, f"step {step.name} (#{hit.seq})", hit.run_id)
            self._remember(value, ref_fingerprint(hit.output))
            return value
        return self._attempts(step, args, kwargs, seq, key, inputs, prior)

    def _attempts(
        self,
        step: Step[Any, Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        seq: int,
        key: str,
        inputs: list[str],
        prior: StepRecord | None,
    ) -> Any:
        """Call the step until it succeeds or its retry policy gives up; store each attempt.

        A failed attempt that will be retried is stored (status ``retrying``)
        before the wait, so a run killed meanwhile resumes the count: retries
        left are those the policy allows after the attempts that failed since
        the last one that was not retried. A step that failed for good and is
        resumed gets its retries afresh; its attempt numbers go on.
        """
        attempts = list(prior.attempts) if prior is not None else []
        used = _retries_used(attempts)
        policy = step.retry
        restore = prior.output if prior is not None and prior.status == "retrying" else None
        while True:
            self.frame = _Frame(step.name, seq, key, inputs, restore=restore)
            self.frame.guarded = restore is not None
            self.frame.attempts = list(attempts)
            started, t0 = utcnow(), time.perf_counter()
            try:
                value = step.fn(*args, **kwargs)
                ref = self.artifacts.put(value)
            except Exception as e:
                seconds = time.perf_counter() - t0
                retry = used + 1
                wait = (
                    policy.wait(retry, random.random())
                    if retry <= policy.retries and policy.retries_on(e)
                    else None
                )
                attempts.append(_attempt(len(attempts) + 1, started, seconds, e, wait))
                if wait is None:
                    self._fail(seq, step.name, key, inputs, started, t0, attempts)
                frame, self.frame = self.frame, None
                restore = frame.restore
                err = traceback.format_exc()
                self._store(
                    seq,
                    step.name,
                    key,
                    "retrying",
                    restore,
                    inputs,
                    frame.reads,
                    frame.writes,
                    seconds,
                    started,
                    err,
                    attempts,
                )
                if restore is not None:
                    self._move_back(restore["restore"])  # the next attempt starts clean
                self._sleep(wait)
                used = retry
                continue
            frame, self.frame = self.frame, None
            seconds = time.perf_counter() - t0
            attempts.append(_attempt(len(attempts) + 1, started, seconds, None, None))
            self._store(
                seq,
                step.name,
                key,
                "done",
                ref,
                inputs,
                frame.reads,
                frame.writes,
                seconds,
                started,
                None,
                attempts,
            )
            self._remember(value, ref_fingerprint(ref))
            return value

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` before a retry; a run cancelled meanwhile stops at once."""
        end = time.monotonic() + seconds
        while True:
            if self.store.status(self.run.id) == "cancelled":
                raise _Cancelled()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, CANCEL_POLL_SECONDS))

    def _fail(
        self,
        seq: int,
        name: str,
        key: str,
        inputs: list[str],
        started: str,
        t0: float,
        attempts: list[dict[str, Any]] | None = None,
    ) -> NoReturn:
        """Store the running step as failed, with its traceback, and unwind the body.

        A step that wrote keeps where the run branch was (`guard`), so a resumed
        run rewinds before running it again.
        """
        frame, self.frame = self.frame, None
        assert frame is not None
        err = traceback.format_exc()
        seconds = time.perf_counter() - t0
        self._store(
            seq,
            name,
            key,
            "failed",
            frame.restore,
            inputs,
            frame.reads,
            frame.writes,
            seconds,
            started,
            err,
            attempts,
        )
        raise _StepFailed(err) from None

    def _store(
        self,
        seq: int,
        name: str,
        key: str,
        status: str,
        ref: Any,
        inputs: list[str],
        reads: list[Any],
        writes: list[Any],
        seconds: float,
        started: str | None = None,
        error: str | None = None,
        attempts: list[dict[str, Any]] | None = None,
    ) -> None:
        start = started or utcnow()
        record = StepRecord(
            self.run.id,
            seq,
            name,
            key,
            status,
            ref,
            inputs,
            reads,
            writes,
            start,
            seconds,
            error,
            attempts or [],
        )
        self.store.put_step(record)
        self.recorded[seq] = record

    def map_batches(
        self,
        step: Step[Any, Any],
        dataset: str,
        ref: str | None,
        rows: int,
        kwargs: dict[str, Any],
    ) -> list[Any]:
        """Map ``step`` over ``dataset`` at ``ref`` in batches of ``rows`` rows.

        The items are (dataset, commit, offset, rows) descriptions, so the cache
        key is the data version, and each item reads its own rows.
        """
        if rows < 1:
            raise InputError(f"batches need at least one row, not {rows}.")
        commit = self.repo.refs.commit(ref)
        if dataset not in commit.pins:
            raise InputError(
                f"dataset {dataset!r} is not at {ref or self.repo.refs.current_branch!r} "
                f"(datasets there: {', '.join(commit.pins) or 'none'})."
            )
        total = commit.pins[dataset].num_rows
        items = [
            {"dataset": dataset, "commit": commit.id, "offset": o, "rows": min(rows, total - o)}
            for o in range(0, total, rows)
        ]
        if self.frame is not None:
            self.frame.reads.append({"dataset": dataset, "commit": commit.id})
        return self.map(step, items, kwargs, batches=True)

    def map(
        self,
        step: Step[Any, Any],
        items: list[Any],
        kwargs: dict[str, Any],
        batches: bool = False,
    ) -> list[Any]:
        if self.frame is not None:
            fn = _OnBatch(str(self.base.path), step.fn, self.principal) if batches else step.fn
            return [fn(item, **kwargs) for item in items]
        inputs = [f"map[{len(items)}]:" + _digest([self._fingerprint(i) for i in items])]
        inputs += self._inputs((), kwargs)
        key = self._key(step.name, step.code, inputs)
        seq, prior = self._next(step.name + ".map", key, inputs)
        if prior is not None and prior.status in ("done", "cached"):
            return self._map_outputs(prior.output, step.name)
        cacheable = step.cache and not self.no_cache and not _unhashable(inputs)
        hit = self.store.cached(key) if cacheable else None
        if hit is not None and hit.output is not None:
            self._store(seq, step.name + ".map", key, "cached", hit.output, inputs, [], [], 0.0)
            return self._map_outputs(hit.output, step.name)
        started, t0 = utcnow(), time.perf_counter()
        done = self.store.map_items(self.run.id, seq)
        todo = [i for i in range(len(items)) if i not in done]
        # Map items that write are not rewound on resume (items already stored stay).
        self.frame = _Frame(step.name, guarded=True)
        if batches and items:
            self.frame.reads.append({"dataset": items[0]["dataset"], "commit": items[0]["commit"]})
        try:
            self._map_items(step, items, todo, kwargs, seq, done, batches)
        except Exception:
            self._fail(seq, step.name + ".map", key, inputs, started, t0)
        frame, self.frame = self.frame, None
        ref = {"map": [self.run.id, seq, len(items)]}
        self._store(
            seq,
            step.name + ".map",
            key,
            "done",
            ref,
            inputs,
            frame.reads,
            frame.writes,
            time.perf_counter() - t0,
            started,
        )
        return self._map_outputs(ref, step.name)

    def _map_items(
        self,
        step: Step[Any, Any],
        items: list[Any],
        todo: list[int],
        kwargs: dict[str, Any],
        seq: int,
        done: dict[int, Any],
        batches: bool,
    ) -> None:
        pending: list[tuple[int, Any]] = []
        repo_dir = str(self.base.path) if batches else None
        last = time.monotonic()

        def flush() -> None:
            nonlocal last
            self.store.put_map_items(self.run.id, seq, pending)
            for i, ref in pending:
                done[i] = ref
            pending.clear()
            last = time.monotonic()

        results: Iterator[tuple[int, Any]]
        fn = _retrying(
            _OnBatch(repo_dir, step.fn, self.principal) if repo_dir else step.fn, step.retry
        )
        if self.executor == "process" and len(todo) > 1:
            results = _in_processes(step, items, todo, kwargs, repo_dir, self.principal)
        elif self.executor == "ray" and todo:
            from tillage.pipelines.ray_executor import in_ray

            results = in_ray(fn, items, todo, kwargs)
        else:
            results = ((i, fn(items[i], **kwargs)) for i in todo)
        try:
            for i, value in results:
                pending.append((i, self.artifacts.put(value)))
                if len(pending) >= MAP_FLUSH_ITEMS or time.monotonic() - last > MAP_FLUSH_SECONDS:
                    flush()
        finally:
            flush()  # what finished before an item failed is kept

    def _map_outputs(self, ref: dict[str, Any], name: str) -> list[Any]:
        run_id, seq, n = ref["map"]
        stored = self.store.map_items(run_id, seq)
        return [
            self._load(stored[i], f"step {name}.map (#{seq}) item {i}", run_id) for i in range(n)
        ]

    # -- waiting --

    def wait(self, name: str, check: Callable[[], tuple[bool, str]], info: dict[str, Any]) -> None:
        key = self._key(name, "", [])
        seq, prior = self._next(name, key, [])
        if prior is not None and prior.status == "done":
            return
        ok, message = check()
        if ok:
            self._store(seq, name, key, "done", None, [], [], [], 0.0)
            return
        self._store(seq, name, key, "waiting", None, [], [], [], 0.0)
        raise _Suspend({**info, "step": seq, "message": message})


def _attempt(
    n: int, started: str, seconds: float, error: BaseException | None, retry_in: float | None
) -> dict[str, Any]:
    """One attempt of a step, as `StepRecord.attempts` keeps it."""
    said = None
    if error is not None:
        lines = str(error).strip().splitlines()
        said = f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__
    return {
        "attempt": n,
        "started_at": started,
        "seconds": round(seconds, 6),
        "error": said,
        "retry_in": None if retry_in is None else round(retry_in, 3),
    }


def _retries_used(attempts: list[dict[str, Any]]) -> int:
    """Retries already spent: the failed attempts since the last one that was not retried."""
    used = 0
    for a in reversed(attempts):
        if a.get("retry_in") is None:
            break
        used += 1
    return used


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _unhashable(inputs: list[str]) -> bool:
    return any("unhashable:" in i for i in inputs)


class _OnBatch:
    """Calls a step function on the rows a batch description names (picklable)."""

    def __init__(self, repo_path: str, fn: Callable[..., Any], principal: str) -> None:
        self.repo_path = repo_path
        self.fn = fn
        self.principal = principal

    def __call__(self, item: dict[str, Any], **kwargs: Any) -> Any:
        table = _repo_at(self.repo_path, self.principal).read(
            item["dataset"], item["commit"], offset=item["offset"], limit=item["rows"]
        )
        return self.fn(table, **kwargs)


class _RetryingItem:
    """Calls a map step on one item, retrying it under the step's policy (picklable).

    Items are retried where they run (this process, a pool process, a Ray
    task); their attempts are not recorded one by one.
    """

    def __init__(self, fn: Callable[..., Any], policy: RetryPolicy) -> None:
        self.fn = fn
        self.policy = policy

    def __call__(self, item: Any, **kwargs: Any) -> Any:
        retry = 0
        while True:
            try:
                return self.fn(item, **kwargs)
            except Exception as e:
                retry += 1
                if retry > self.policy.retries or not self.policy.retries_on(e):
                    raise
                time.sleep(self.policy.wait(retry, random.random()))


def _retrying(fn: Callable[..., Any], policy: RetryPolicy) -> Callable[..., Any]:
    return _RetryingItem(fn, policy) if policy.retries else fn


@functools.cache
def _repo_at(path: str, principal: str) -> Repo:
    repo = Repo.open(path)
    return repo.at(repo.refs.current_branch, principal=principal)  # reads name their commit


def _call_by_name(
    where: str,
    name: str,
    item: Any,
    kwargs: dict[str, Any],
    repo_path: str | None,
    principal: str,
) -> Any:
    """In a pool process: import the step by module (or file) and name, call it on one item."""
    step = _step_named(where, name)
    fn = _OnBatch(repo_path, step.fn, principal) if repo_path else step.fn
    return _retrying(fn, step.retry)(item, **kwargs)


@functools.cache
def _step_named(where: str, name: str) -> Step[Any, Any]:
    import importlib

    from tillage.core.modules import load_module

    module = load_module(where) if where.endswith(".py") else importlib.import_module(where)
    found = getattr(module, name)
    if not isinstance(found, Step):
        raise InputError(f"{where}:{name} is not a step.")
    return found


def _in_processes(
    step: Step[Any, Any],
    items: list[Any],
    todo: list[int],
    kwargs: dict[str, Any],
    repo_path: str | None,
    principal: str,
) -> Iterator[tuple[int, Any]]:
    """Map items in a pool of fresh processes (Lance is not fork-safe), results in order.

    The processes import the step's module by name, or by file for pipelines
    loaded from a file, so the step needs no pickling.
    """
    module = sys.modules.get(step.fn.__module__)
    if getattr(module, "_tillage_file", False):
        where = str(getattr(module, "__file__", ""))
    else:
        where = step.fn.__module__
    pool = ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [
            (
                i,
                pool.submit(
                    _call_by_name, where, step.fn.__name__, items[i], kwargs, repo_path, principal
                ),
            )
            for i in todo
        ]
        for i, fut in futures:
            yield i, fut.result()
    finally:
        pool.shutdown(cancel_futures=True)


# -- running, resuming, approving -------------------------------------------------


class Runs:
    """The runs of one repository: start, resume, list, show, approve."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.store = RunStore(repo._storage.catalog.engine)
        self.artifacts = Artifacts(repo.repo_dir / "artifacts", self.store)
        self.locks = repo.repo_dir / "runs"

    def start(
        self,
        pipeline: Pipeline[..., Any] | str,
        params: dict[str, Any] | None = None,
        *,
        branch: str | None = None,
        no_cache: bool = False,
        executor: Executor_ = "local",
        on_start: Callable[[str], None] | None = None,
    ) -> Run:
        """Start a run of ``pipeline`` (an object or ``FILE.py:NAME``) and execute it.

        ``executor`` says where map steps run: ``local`` (this process), ``process``
        (a local process pool) or ``ray`` (a Ray cluster: ``RAY_ADDRESS``, else a
        local one); every executor checkpoints items the same way. ``on_start(id)``
        is called once the run is recorded, before its first step, so that people
        know which run to resume should this process die.
        """
        _check_executor(executor)
        pipe = load_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
        params = dict(params or {})
        _check_params(pipe, params)
        target_branch = (
            self.repo.refs.current_branch if branch is None else check_ref(branch, "branch")
        )
        if target_branch not in self.repo.refs.branches():
            self.repo.refs.commit(target_branch)  # NoSuchRefError names it
        run_id = uuid.uuid4().hex[:16]
        run_branch = f"runs/{run_id}"
        self.repo.refs.create_branch(run_branch, target_branch)
        code = code_version()
        pid, host, started = this_process()
        self.store.create(
            id=run_id,
            pipeline=pipe.name,
            target=pipe.target,
            params=params,
            params_key=params_key(pipe.name, params),
            status="running",
            branch=target_branch,
            run_branch=run_branch,
            principal=self.repo.config.who(),
            code_sha=code.git_sha,
            code_dirty=code.dirty,
            pid=pid,
            host=host,
            process_started=started,
        )
        if on_start is not None:
            on_start(run_id)
        return self._execute(run_id, pipe, no_cache=no_cache, executor=executor)

    def resume(self, run_id: str, *, no_cache: bool = False, executor: Executor_ = "local") -> Run:
        """Continue a waiting, failed or crashed run; finished steps are replayed, not redone.

        Raises:
            RunStateError: the run was cancelled.
            StoredValueError: a stored result changed since it was stored (the run
                is left as it was; ``no_cache`` computes a changed step again).
        """
        _check_executor(executor)
        run = self.get(run_id)
        if run.status == "done":
            return self.show(run.id)
        if run.status == "cancelled":
            raise _cancelled(run.id, "it cannot be resumed", run.target)
        return self._execute(run.id, load_pipeline(run.target), no_cache, executor)

    @contextmanager
    def _run_lock(self, run_id: str) -> Iterator[None]:
        """Hold the run's own lock: one process executes a run at a time.

        Raises:
            RunStateError: another process is executing the run.
        """
        with ExitStack() as held:
            try:
                held.enter_context(write_lock(self.locks / f"{run_id}.lock", timeout=1.0))
            except LockTimeoutError:
                run = self.get(run_id)
                where = f"process {run.pid} on {run.host}" if run.pid else "another process"
                raise RunStateError(
                    run_id,
                    "running",
                    f"{where} is executing it",
                    f"Wait for it to finish or pause (`tillage runs show {run_id}`), or "
                    f"stop it with `tillage runs cancel {run_id}`.",
                ) from None
            yield

    def _execute(
        self, run_id: str, pipe: Pipeline[..., Any], no_cache: bool, executor: Executor_
    ) -> Run:
        self.locks.mkdir(exist_ok=True)
        with self._run_lock(run_id):
            before = self.store.get(run_id)
            assert before is not None
            if before.status == "cancelled":  # cancelled while this process waited for the lock
                raise _cancelled(run_id, "it cannot be resumed", before.target)
            pid, host, started = this_process()
            self.store.update(
                run_id,
                status="running",
                waiting_on=None,
                error=None,
                pid=pid,
                host=host,
                process_started=started,
            )
            run = self.get(run_id)
            rt = _Runtime(
                self.repo, self.store, self.artifacts, run, no_cache=no_cache, executor=executor
            )
            token = RUNNER.set(rt)
            try:
                result = pipe.fn(**run.params)
            except _Suspend as s:
                return self._end(run, status="waiting", waiting_on=s.waiting_on)
            except _StepFailed as f:
                return self._end(run, status="failed", error=str(f))
            except _Cancelled:
                return self._end(run)
            except StoredValueError:
                self.store.restore(before)  # refused before anything was redone
                raise
            except NondeterminismError as e:
                return self._end(run, status="failed", error=str(e))
            except Exception:
                return self._end(run, status="failed", error=traceback.format_exc())
            finally:
                RUNNER.reset(token)
            ref = self.artifacts.put(result)
            if self.store.status(run.id) == "cancelled":
                return self._end(run)
            try:
                merged = self.repo.refs.merge(run.run_branch, into=run.branch)
            except MergeConflictError as e:
                return self._end(run, status="failed", error=str(e), result=ref)
            self.store.update(run.id, status="done", result=ref, merged_commit=merged.commit)
            self.repo.refs.delete_branch(run.run_branch)  # merged: its commits stay reachable
            return self.show(run.id)

    def _end(self, run: RunRecord, **fields: Any) -> Run:
        """Store how an execution ended, unless the run was cancelled meanwhile: then
        drop its branch instead (`cancel` leaves that to the process running it)."""
        if not fields or not self.store.update(run.id, only_if=["running"], **fields):
            self._drop_branch(run)
        return self.show(run.id)

    def _drop_branch(self, run: RunRecord) -> None:
        if run.run_branch in self.repo.refs.branches():
            self.repo.refs.delete_branch(run.run_branch)

    def cancel(self, run_id: str) -> Run:
        """Cancel a waiting, failed, crashed or running run: it ends without merging.

        Its branch ``runs/ID`` is deleted, so none of its writes reach the target.
        A run executing in another process stops at its next step.

        Raises:
            RunStateError: the run is done or already cancelled.
        """
        run = self.get(run_id)
        if run.status in ("done", "cancelled"):
            fix = (
                f"Its writes landed on {run.branch}; undo them with `tillage revert "
                f"{(run.merged_commit or '')[:12]}`."
                if run.status == "done" and run.merged_commit
                else f"Remove it with `tillage runs delete {run.id}`."
            )
            raise RunStateError(run.id, run.status, "there is nothing to cancel", fix)
        stored = ["running"] if run.status == "crashed" else [run.status]
        if not self.store.update(run.id, only_if=stored, status="cancelled", waiting_on=None):
            return self.cancel(run.id)  # it moved on meanwhile: decide again
        self.locks.mkdir(exist_ok=True)
        try:
            with write_lock(self.locks / f"{run.id}.lock", timeout=1.0):
                self._drop_branch(run)
        except LockTimeoutError:
            pass  # its process is alive and drops the branch at its next step
        return self.show(run.id)

    def delete(self, run_id: str) -> Run:
        """Remove an ended run (done, failed, crashed or cancelled): its records and branch.

        Step results it stored are no longer reused by later runs. Returns the
        run as it was (without its steps).

        Raises:
            RunStateError: the run is running or waiting (cancel it first).
        """
        run = self.get(run_id)
        if run.status in ("running", "waiting"):
            doing = "waits"
            if run.status == "running":
                doing = f"runs (process {run.pid} on {run.host})" if run.pid else "runs"
            raise RunStateError(
                run.id,
                run.status,
                f"it cannot be deleted while it {doing}",
                f"Cancel it first with `tillage runs cancel {run.id}`.",
            )
        self.locks.mkdir(exist_ok=True)
        lock = self.locks / f"{run.id}.lock"
        with write_lock(lock, timeout=1.0):  # not while a resume of it has started
            self._drop_branch(run)
            self.store.delete(run.id)
        lock.unlink(missing_ok=True)
        return _run(run, None, [])

    def get(self, run_id: str) -> RunRecord:
        """The stored run ``run_id`` names (a unique prefix will do), as it stands now."""
        found = self.store.get(run_id)
        if found is None:
            ids = self.store.find(run_id) if len(run_id) >= 4 else []
            if len(ids) == 1:
                found = self.store.get(ids[0])
        if found is None:
            raise NoSuchRunError(run_id)
        return _as_it_stands(found)

    def show(self, run_id: str) -> Run:
        """A run with its steps.

        Raises:
            StoredValueError: the stored result of a done run changed since it was stored.
        """
        r = self.get(run_id)
        steps = [
            StepView(
                s.seq, s.name, s.status, s.seconds, s.reads, s.writes, s.error, s.output, s.attempts
            )
            for s in self.store.steps(r.id)
        ]
        result = (
            self.artifacts.get(r.result, run_id=r.id, step="the pipeline's return value")
            if r.status == "done" and r.result
            else None
        )
        return self._as_seen(_run(r, result, steps))

    def _as_seen(self, run: Run) -> Run:
        """``run`` as this handle's principal may see it.

        A run reads as its job, which may read private datasets raw; its result
        and error texts are computed from what it read, so a principal who may
        not read those datasets raw sees that they are hidden instead.
        """
        privacy = self.repo.privacy
        policy = privacy.policy(check=False)
        if policy.empty or policy.reads_raw(privacy.principal):
            return run
        read = {str(e.get("dataset")) for s in run.steps for e in s.reads}
        private = sorted(read & set(policy.datasets))
        if not private:
            return run
        note = f"hidden: the run read private dataset(s) {', '.join(private)}"
        steps = [
            replace(
                s,
                # A small result is stored inline ("v"); others are references.
                output={"hidden": note} if s.output and "v" in s.output else s.output,
                error=note if s.error else None,
                attempts=[{**a, "error": note} if a.get("error") else a for a in s.attempts],
            )
            for s in run.steps
        ]
        return replace(
            run,
            result=note if run.result is not None else None,
            error=note if run.error else None,
            steps=steps,
        )

    def list(self, *, pipeline: str | None = None, status: str | None = None) -> list[Run]:
        """Runs, newest first (without their steps)."""
        stored = "running" if status == "crashed" else status
        found = self.store.runs(pipeline=pipeline, statuses=[stored] if stored else None)
        now = [_as_it_stands(r) for r in found]
        return [_run(r, None, []) for r in now if status is None or r.status == status]

    def approve(self, run_id: str, name: str, note: str | None = None) -> Run:
        """Approve the wait ``name`` of a run; resume it to go on."""
        run = self.get(run_id)
        self.store.approve(run.id, name, self.repo.config.who(), note)
        return self.show(run.id)


def _as_it_stands(r: RunRecord) -> RunRecord:
    """``r``, as ``crashed`` if it is stored as running but its process is gone."""
    if r.status != "running" or not is_gone(r.pid, r.host, r.process_started):
        return r
    why = (
        f"the process that ran it (pid {r.pid} on {r.host}) is gone: it was killed or "
        f"crashed. Resume it with `tillage runs resume {r.id}`, or cancel it with "
        f"`tillage runs cancel {r.id}`."
    )
    return replace(r, status="crashed", error=why)


def _cancelled(run_id: str, problem: str, target: str) -> RunStateError:
    return RunStateError(
        run_id, "cancelled", problem, f"Start a new run with `tillage run {target}`."
    )


def _run(r: RunRecord, result: Any, steps: list[StepView]) -> Run:
    return Run(
        id=r.id,
        pipeline=r.pipeline,
        target=r.target,
        params=r.params,
        status=r.status,
        branch=r.branch,
        run_branch=r.run_branch,
        created_at=r.created_at,
        updated_at=r.updated_at,
        waiting_on=r.waiting_on,
        error=r.error,
        result=result,
        merged_commit=r.merged_commit,
        code_sha=r.code_sha,
        steps=steps,
        pid=r.pid,
        host=r.host,
    )


def _check_executor(executor: str) -> None:
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")


def params_key(pipeline: str, params: dict[str, Any]) -> str:
    body = json.dumps([pipeline, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _check_params(pipe: Pipeline[..., Any], params: dict[str, Any]) -> None:
    import inspect

    sig = inspect.signature(pipe.fn)
    try:
        sig.bind(**params)
    except TypeError as e:
        raise InputError(
            f"pipeline {pipe.name!r} takes ({', '.join(sig.parameters)}); "
            f"the parameters given do not fit: {e}."
        ) from None
    try:
        json.dumps(params)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"pipeline parameters must be plain JSON values (they are stored): {e}."
        ) from None


def run(
    repo: Repo,
    pipeline: Pipeline[..., Any] | str,
    params: dict[str, Any] | None = None,
    *,
    branch: str | None = None,
    no_cache: bool = False,
    executor: Executor_ = "local",
    on_start: Callable[[str], None] | None = None,
) -> Run:
    """Run ``pipeline`` durably in ``repo``; see `Runs.start`."""
    return Runs(repo).start(
        pipeline, params, branch=branch, no_cache=no_cache, executor=executor, on_start=on_start
    )
