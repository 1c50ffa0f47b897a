"""The pipeline engine's retries and cache keys, and the worker's bounded state.

Pipelines live in files the tests write, beside a helper module they import,
as a user's project would have them. Steps count their real executions in a
file (``TILLAGE_TEST_COUNTS``); a flaky step fails while a counter file says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tillage
from tillage import Repo
from tillage.cli.app import app
from tillage.pipelines.codehash import code_hash
from tillage.pipelines.steps import RetryPolicy

FLOW = """
import os
from pathlib import Path

import pyarrow as pa
import tillage

import helpers

COUNTS = Path(os.environ["TILLAGE_TEST_COUNTS"])


def count(name: str) -> None:
    with COUNTS.open("a") as f:
        f.write(name + "\\n")


def failures_left(name: str) -> int:
    \"\"\"Fail while ``COUNTS.name`` holds a number above 0, counting it down.\"\"\"
    flag = Path(f"{COUNTS}.{name}")
    left = int(flag.read_text()) if flag.exists() else 0
    if left > 0:
        flag.write_text(str(left - 1))
    return left


@tillage.step(retries=3, retry_delay=0, retry_on=(OSError,))
def fetch(n: int) -> int:
    count("fetch")
    if failures_left("fetch"):
        raise ConnectionError(f"the source hung up on {n}")
    return n * 10


@tillage.step(retries=3, retry_delay=0, retry_on=OSError)
def parse(n: int) -> int:
    count("parse")
    if failures_left("parse"):
        raise ValueError(f"{n} is not a record")
    return n + 1


@tillage.step(retries=3, retry_delay=0)
def checked(n: int) -> int:
    count("checked")
    if failures_left("checked"):
        raise tillage.InputError("bad input: retrying cannot help")
    if failures_left("locked"):
        raise tillage.LockTimeoutError("another writer held the lock")
    return n


@tillage.step(retries=2, retry_delay=0, cache=False)
def append(n: int) -> str:
    count("append")
    table = pa.table({"id": [n], "v": [float(n)]})
    commit = tillage.context().repo.ingest("data", table, key="id")  # append: keys must be new
    if failures_left("append"):
        raise TimeoutError("the write was not confirmed")
    return commit.id


@tillage.step(retries=3, retry_delay=0, cache=False)
def append_or_die(n: int) -> str:
    count("append_or_die")
    if failures_left("early"):
        raise OSError("refused before writing")
    table = pa.table({"id": [n], "v": [float(n)]})
    commit = tillage.context().repo.ingest("data", table, key="id")
    if failures_left("die"):
        os.kill(os.getpid(), 9)
    return commit.id


@tillage.pipeline
def mortal(n: int) -> str:
    return append_or_die(n)


@tillage.step(retries=2, retry_delay=float(os.environ.get("TILLAGE_TEST_DELAY", "0")))
def slow_to_retry(n: int) -> int:
    count("slow")
    if failures_left("slow"):
        raise OSError("try again later")
    return n


@tillage.step
def cleaned(n: int) -> int:
    count("cleaned")
    return helpers.clean(n)


@tillage.step(code_version="1")
def pinned(n: int) -> int:
    count("pinned")
    return helpers.clean(n) + 0


@tillage.pipeline
def flaky(n: int) -> int:
    return fetch(n)


@tillage.pipeline
def gated(n: int) -> int:
    value = fetch(n)
    tillage.approval("ship")
    return value


@tillage.pipeline
def strict(n: int) -> int:
    return parse(n)


@tillage.pipeline
def guarded(n: int) -> int:
    return checked(n)


@tillage.pipeline
def writes(n: int) -> str:
    return append(n)


@tillage.pipeline
def patient(n: int) -> int:
    return slow_to_retry(n)


@tillage.step
@helpers.shifted
def lifted(n: int, scale: int = 1) -> int:
    count("lifted")
    return n * scale


@tillage.pipeline
def lifting(n: int) -> int:
    return lifted(n)


@tillage.pipeline
def cleaning(n: int) -> list[int]:
    return [cleaned(n), pinned(n)]


@tillage.step(retries=2, retry_delay=0, retry_on=OSError)
def item(x: int) -> int:
    count(f"item{x}")
    if x == 2 and failures_left("item"):
        raise OSError(f"item {x} hung up")
    return x * x


@tillage.pipeline
def items(n: int) -> int:
    return sum(item.map(list(range(n))))


@tillage.step
def chunk(i: int) -> list[int]:
    return [i]


@tillage.pipeline
def many(n: int) -> int:
    from tillage.pipelines.engine import current_runtime

    most = 0
    for i in range(n):
        chunk(i)
        most = max(most, len(current_runtime().known))
    return most
"""

HELPERS = """
import functools


def shifted(fn):
    @functools.wraps(fn)
    def wrapper(n: int) -> int:
        return fn(n) + 100

    return wrapper


def clean(n: int) -> int:
    return _twice(n)


def _twice(n: int) -> int:
    return 2 * n


def unrelated() -> str:
    return "not called by any step"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user's project folder with flow.py and helpers.py; each test imports them afresh."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "flow.py").write_text(FLOW)
    (folder / "helpers.py").write_text(HELPERS)
    monkeypatch.setenv("TILLAGE_TEST_COUNTS", str(tmp_path / "counts"))
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "tester")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), *sys.path]))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # edits within a second must show
    forget_modules()
    yield folder
    forget_modules()


def forget_modules() -> None:
    """Drop the project's modules, as a new process would start without them."""
    for name in [n for n in sys.modules if n == "helpers" or n.startswith("tillage_pipeline_")]:
        del sys.modules[name]


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = tillage.init(tmp_path / "proj")
    yield r
    r.close()


def counts(tmp_path: Path) -> list[str]:
    f = tmp_path / "counts"
    return f.read_text().split() if f.exists() else []


def fail_next(tmp_path: Path, step: str, times: int) -> None:
    (tmp_path / f"counts.{step}").write_text(str(times))


def run(repo: Repo, project: Path, name: str, **params: Any) -> tillage.Run:
    return tillage.run(repo, f"{project / 'flow.py'}:{name}", params or {"n": 1})


# -- retries ------------------------------------------------------------------


def test_a_step_is_retried_until_it_succeeds_and_each_attempt_is_recorded(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "fetch", 2)
    done = run(repo, project, "flaky")
    assert done.status == "done", done.error
    assert done.result == 10
    assert counts(tmp_path) == ["fetch"] * 3
    step = done.steps[0]
    assert step.status == "done"
    assert [(a["attempt"], a["error"], a["retry_in"]) for a in step.attempts] == [
        (1, "ConnectionError: the source hung up on 1", 0.0),
        (2, "ConnectionError: the source hung up on 1", 0.0),
        (3, None, None),
    ]
    # The retried result is cached like any other: a new run does not call it again.
    assert [s.status for s in run(repo, project, "flaky").steps] == ["cached"]
    assert counts(tmp_path) == ["fetch"] * 3


def test_errors_not_in_retry_on_fail_the_run_at_once(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "parse", 1)
    failed = run(repo, project, "strict")
    assert failed.status == "failed"
    assert "ValueError: 1 is not a record" in (failed.error or "")
    assert counts(tmp_path) == ["parse"]
    assert [(a["attempt"], a["retry_in"]) for a in failed.steps[0].attempts] == [(1, None)]


def test_bad_input_errors_are_not_retried_but_a_held_lock_is(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "checked", 1)
    failed = run(repo, project, "guarded")
    assert failed.status == "failed"
    assert counts(tmp_path) == ["checked"]

    fail_next(tmp_path, "locked", 1)
    done = tillage.Runs(repo).resume(failed.id)
    assert done.status == "done", done.error
    assert [a["error"] for a in done.steps[0].attempts] == [
        "InputError: bad input: retrying cannot help",
        "LockTimeoutError: another writer held the lock",
        None,
    ]


def test_a_step_out_of_retries_fails_the_run_and_a_resume_retries_afresh(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "fetch", 6)  # 4 attempts fail, then 2 of the next 4
    failed = run(repo, project, "flaky")
    assert failed.status == "failed"
    assert "ConnectionError" in (failed.error or "")
    assert [a["retry_in"] for a in failed.steps[0].attempts] == [0.0, 0.0, 0.0, None]

    done = tillage.Runs(repo).resume(failed.id)
    assert done.status == "done", done.error
    attempts = done.steps[0].attempts
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5, 6, 7]  # numbers go on
    assert [a["error"] is None for a in attempts] == [False] * 6 + [True]
    assert counts(tmp_path) == ["fetch"] * 7


def test_what_a_failed_attempt_wrote_is_undone_before_the_retry(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "append", 1)
    done = run(repo, project, "writes", n=7)
    assert done.status == "done", done.error  # the retry's append found key 7 new again
    assert counts(tmp_path) == ["append", "append"]
    assert repo.read("data").column("id").to_pylist() == [7]
    assert done.steps[0].writes == [{"dataset": "data", "commit": done.result}]


def retrying_in_another_process(repo: Repo, project: Path) -> subprocess.Popen[bytes]:
    """Start ``patient`` in a child process, which waits 60 s before its step's retry;
    return once its first attempt failed and is stored."""
    script = textwrap.dedent(f"""
        import tillage
        with tillage.open({str(repo.path)!r}) as repo:
            print(tillage.run(repo, {str(project / "flow.py") + ":patient"!r}, {{"n": 3}}).status)
    """)
    env = {**os.environ, "TILLAGE_TEST_DELAY": "60"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    runs = tillage.Runs(repo)
    deadline = time.monotonic() + 60
    while not [r for r in runs.list() for s in runs.show(r.id).steps if s.status == "retrying"]:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the run did not come to wait for a retry")
        time.sleep(0.1)
    return proc


@pytest.mark.slow
def test_a_run_killed_while_it_waits_to_retry_resumes_the_count(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "slow", 3)
    proc = retrying_in_another_process(repo, project)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    (killed,) = tillage.Runs(repo).list()
    assert killed.status == "crashed"
    assert tillage.Runs(repo).show(killed.id).steps[0].status == "retrying"

    # One retry was spent before the kill: the one left is used, then the run fails.
    forget_modules()
    again = tillage.Runs(repo).resume(killed.id)
    assert again.status == "failed"
    attempts = again.steps[0].attempts
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert attempts[0]["retry_in"] > 40 and attempts[1]["retry_in"] == 0.0
    assert attempts[2]["retry_in"] is None
    assert counts(tmp_path) == ["slow"] * 3


@pytest.mark.slow
def test_a_run_killed_in_an_attempt_that_wrote_keeps_the_attempts_before_it(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "early", 1)
    fail_next(tmp_path, "die", 1)
    script = textwrap.dedent(f"""
        import tillage
        with tillage.open({str(repo.path)!r}) as repo:
            tillage.run(repo, {str(project / "flow.py") + ":mortal"!r}, {{"n": 5}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    (killed,) = tillage.Runs(repo).list()
    step = tillage.Runs(repo).show(killed.id).steps[0]
    assert step.status == "running"
    assert [a["error"] for a in step.attempts] == ["OSError: refused before writing"]

    forget_modules()
    done = tillage.Runs(repo).resume(killed.id)
    assert done.status == "done", done.error
    # The killed attempt is not counted; the one before it is, and numbers go on.
    assert [(a["attempt"], a["error"]) for a in done.steps[0].attempts] == [
        (1, "OSError: refused before writing"),
        (2, None),
    ]
    assert repo.read("data").column("id").to_pylist() == [5]  # written once
    assert counts(tmp_path) == ["append_or_die"] * 3


@pytest.mark.slow
def test_cancelling_a_run_that_waits_to_retry_stops_it_without_the_retry(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "slow", 1)
    proc = retrying_in_another_process(repo, project)
    try:
        (waiting,) = tillage.Runs(repo).list()
        assert tillage.Runs(repo).cancel(waiting.id).status == "cancelled"
        out, _ = proc.communicate(timeout=30)  # well before the 48-60 s wait is over
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert out.decode().strip() == "cancelled"
    assert counts(tmp_path) == ["slow"]  # the retry never ran
    assert waiting.run_branch not in repo.refs.branches()


def test_map_items_are_retried_one_by_one(repo: Repo, project: Path, tmp_path: Path) -> None:
    fail_next(tmp_path, "item", 2)
    done = run(repo, project, "items", n=4)
    assert done.status == "done", done.error
    assert done.result == 14
    assert sorted(counts(tmp_path)) == ["item0", "item1", "item2", "item2", "item2", "item3"]

    fail_next(tmp_path, "item", 3)  # one more failure than retries
    failed = run(repo, project, "items", n=5)
    assert failed.status == "failed"
    assert "OSError: item 2 hung up" in (failed.error or "")


def test_backoff_grows_by_its_factor_up_to_the_cap_less_jitter() -> None:
    policy = RetryPolicy(retries=6, delay=1.0, backoff=2.0, max_delay=5.0)
    assert [policy.wait(k, 0.0) for k in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert [round(policy.wait(k, 0.999), 3) for k in (1, 4)] == [0.8, 4.001]
    assert all(0.8 * 5.0 < policy.wait(k, r) <= 5.0 for k in (4, 9) for r in (0.0, 0.5, 0.99))


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"retries": -1}, "retries= must be a whole number of 0 or more, not -1"),
        ({"retries": 2.5}, "retries= must be a whole number"),
        ({"retries": 2, "backoff": 0.5}, "backoff= must be a number of 1 or more"),
        ({"retries": 2, "retry_delay": -1}, "retry_delay= must be a number of 0 or more"),
        ({"retries": 2, "retry_on": "OSError"}, "retry_on= takes exception classes"),
        ({"retries": 2, "retry_on": KeyboardInterrupt}, "(Exception and its subclasses)"),
        ({"retry_on": (OSError,)}, "needs retries= too"),
        ({"code_version": ""}, "code_version= must be a non-empty string"),
    ],
)
def test_bad_step_arguments_say_which_and_what_fits(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(tillage.InputError) as info:
        tillage.step(**kwargs)(lambda n: n)
    assert says in str(info.value)


def test_runs_show_lists_the_attempts(repo: Repo, project: Path, tmp_path: Path) -> None:
    fail_next(tmp_path, "fetch", 1)
    done = run(repo, project, "flaky")
    runner = CliRunner()
    shown = runner.invoke(app, ["--repo", str(repo.path), "runs", "show", done.id])
    assert shown.exit_code == 0, shown.output
    assert "#1 fetch attempt 1: ConnectionError: the source hung up on 1" in shown.output
    as_json = runner.invoke(app, ["--repo", str(repo.path), "runs", "show", done.id, "--json"])
    doc = json.loads(as_json.stdout)
    assert [a["error"] for a in doc["steps"][0]["attempts"]] == [
        "ConnectionError: the source hung up on 1",
        None,
    ]


# -- cache keys -------------------------------------------------------------------


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    forget_modules()


def test_editing_a_helper_the_step_calls_reruns_it_and_other_edits_do_not(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    first = run(repo, project, "cleaning")
    assert first.result == [2, 2]
    forget_modules()
    assert [s.status for s in run(repo, project, "cleaning").steps] == ["cached", "cached"]

    # A function no step reaches: nothing runs again.
    edit(project / "helpers.py", "not called by any step", "still not called")
    assert [s.status for s in run(repo, project, "cleaning").steps] == ["cached", "cached"]

    # A helper of a helper, in another module: the step runs again; the pinned one does not.
    edit(project / "helpers.py", "return 2 * n", "return 3 * n")
    again = run(repo, project, "cleaning")
    assert [s.status for s in again.steps] == ["done", "cached"]
    assert again.result == [3, 2]

    # The pinned step's own body changed, its code_version did not: still reused.
    edit(project / "flow.py", "helpers.clean(n) + 0", "helpers.clean(n) + 1")
    assert [s.status for s in run(repo, project, "cleaning").steps] == ["cached", "cached"]
    edit(project / "flow.py", 'code_version="1"', 'code_version="2"')
    bumped = run(repo, project, "cleaning")
    assert [s.status for s in bumped.steps] == ["cached", "done"]
    assert bumped.result == [3, 4]
    assert counts(tmp_path) == ["cleaned", "pinned", "cleaned", "pinned"]


def test_editing_a_decorator_of_a_step_reruns_it(repo: Repo, project: Path, tmp_path: Path) -> None:
    assert run(repo, project, "lifting").result == 101
    forget_modules()
    assert [s.status for s in run(repo, project, "lifting").steps] == ["cached"]
    edit(project / "helpers.py", "fn(n) + 100", "fn(n) + 200")  # the wrapper, not the step
    again = run(repo, project, "lifting")
    assert [s.status for s in again.steps] == ["done"] and again.result == 201
    edit(project / "flow.py", "scale: int = 1", "scale: int = 2")  # the step under it
    assert run(repo, project, "lifting").result == 202
    assert counts(tmp_path) == ["lifted"] * 3


def test_a_failed_step_fixed_in_its_code_runs_the_new_code_on_resume(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    fail_next(tmp_path, "parse", 1)
    failed = run(repo, project, "strict")
    assert failed.status == "failed"
    # The fix is in the failing step's own code: not another path, the new code runs.
    edit(project / "flow.py", "return n + 1", "return n + 2")
    done = tillage.Runs(repo).resume(failed.id)
    assert done.status == "done", done.error
    assert done.result == 3


def test_the_code_hash_follows_project_code_only() -> None:
    import json as stdlib_json

    def helper(x: int) -> int:
        return x + 1

    def step_fn(x: int) -> str:
        return stdlib_json.dumps(helper(x))

    def other_helper(x: int) -> int:
        return x + 2

    def same_but_other_helper(x: int) -> str:
        return stdlib_json.dumps(other_helper(x))

    from tillage.pipelines.codehash import _sources

    walked = sorted(name.rsplit(".", 1)[-1] for name, _ in _sources(step_fn))
    assert walked == ["helper", "step_fn"]  # json.dumps is the library's, not the project's
    before = code_hash(step_fn)
    assert code_hash(step_fn) == before
    # Closures are followed; a changed helper changes the hash of what calls it.
    assert code_hash(helper) != code_hash(other_helper)
    assert code_hash(step_fn) != code_hash(same_but_other_helper)


# -- bounded state ------------------------------------------------------------------


def test_a_long_pipeline_body_keeps_only_the_latest_results_alive(
    repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillage.pipelines import engine

    monkeypatch.setattr(engine, "KNOWN_VALUES", 4)
    done = run(repo, project, "many", n=30)
    assert done.status == "done", done.error
    assert done.result == 4
    assert [s.status for s in done.steps] == ["done"] * 30


@pytest.mark.slow
def test_the_worker_keeps_bounded_state_over_many_ticks(
    repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import pyarrow as pa

    from tillage.pipelines import schedules

    monkeypatch.setattr(schedules, "KEEP_RUN_IDS", 3)
    repo.ingest("data", pa.table({"id": [0]}), key="id")
    tillage.add_schedule(repo, f"{project / 'flow.py'}:flaky", on_commit="data", params={"n": 1})
    seen: list[int] = []

    def new_commit(t: tillage.Tick) -> None:  # so that the next tick starts a run
        seen.append(len(t.started))
        repo.ingest("data", pa.table({"id": [len(seen)]}), key="id")

    report = tillage.worker(repo, interval=0.001, max_ticks=12, on_tick=new_commit)
    assert seen == [0] + [1] * 11
    assert (report.ticks, report.started_total, report.errors_total) == (12, 11, 0)
    latest = [r.id for r in tillage.Runs(repo).list()][:3][::-1]
    assert list(report.started) == latest  # the latest three ids, oldest first
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, tillage.Run)]  # no run kept


def test_the_worker_resumes_a_run_waiting_for_approval_only_once_approved(
    repo: Repo, project: Path
) -> None:
    waiting = run(repo, project, "gated")
    assert waiting.status == "waiting"
    runs = tillage.Runs(repo)
    before = runs.get(waiting.id)
    for _ in range(3):  # not replayed on every tick while nobody approved
        assert tillage.tick(repo).resumed == []
    assert runs.get(waiting.id) == before

    runs.approve(waiting.id, "ship")
    assert [r.id for r in tillage.tick(repo).resumed] == [waiting.id]
    assert runs.get(waiting.id).status == "done"


def test_a_cron_schedule_down_for_a_year_fires_once_without_walking_the_gap(
    repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from croniter import croniter

    from tillage.pipelines import schedules

    steps: list[str] = []

    class Counted(croniter):  # type: ignore[misc]
        def get_next(self, *args: Any, **kwargs: Any) -> Any:
            steps.append("next")
            return super().get_next(*args, **kwargs)

        def get_prev(self, *args: Any, **kwargs: Any) -> Any:
            steps.append("prev")
            return super().get_prev(*args, **kwargs)

    monkeypatch.setattr(schedules, "croniter", Counted)
    s = tillage.add_schedule(
        repo, f"{project / 'flow.py'}:flaky", cron="* * * * *", params={"n": 1}
    )
    now = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
    store = tillage.Runs(repo).store
    assert store.claim_schedule(s.id, s.last_seen, (now - timedelta(days=365)).isoformat())
    fired = tillage.tick(repo, now=now, resume_waiting=False).started
    assert len(fired) == 1
    assert store.schedules(s.id)[0].last_seen == "2026-06-01T12:00:00+00:00"
    assert len(steps) <= 4  # not one step per missed minute
    # Exactly on a cron time, that time fires; a second tick then finds nothing due.
    on_time = datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    assert len(tillage.tick(repo, now=on_time, resume_waiting=False).started) == 1
    assert store.schedules(s.id)[0].last_seen == on_time.isoformat()
    assert tillage.tick(repo, now=on_time, resume_waiting=False).started == []


def test_a_catalog_from_before_step_attempts_upgrades_and_keeps_its_steps(
    repo: Repo, project: Path, tmp_path: Path
) -> None:
    from alembic import command

    from tillage.store.migrate import _config, head_revision

    fail_next(tmp_path, "fetch", 1)
    done = run(repo, project, "flaky")
    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0007")
    path = repo.path
    repo.close()
    with pytest.raises(tillage.CatalogError, match="tillage upgrade"):
        tillage.open(path)
    assert tillage.Repo.upgrade(path) == ("0007", head_revision())
    with tillage.open(path) as again:
        steps = tillage.Runs(again).show(done.id).steps
        assert [(s.name, s.status, s.attempts) for s in steps] == [("fetch", "done", [])]
        assert [s.status for s in run(again, project, "flaky").steps] == ["cached"]
