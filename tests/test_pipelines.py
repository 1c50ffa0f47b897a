"""Durable pipelines: replay, caching, pauses, crashes, map checkpoints, failures, bad input.

Pipelines live in files the tests write (as users' pipelines do), so a resumed
run, in this process or another, finds them by ``FILE.py:NAME``. Steps count
their real executions in a file, which is what "not redone" is checked against.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

import tillage
from tillage import Repo

FLOW = """
import os
import time
from pathlib import Path

import pyarrow as pa
import tillage

COUNTS = Path(os.environ["TILLAGE_TEST_COUNTS"])


def count(name: str) -> None:
    with COUNTS.open("a") as f:
        f.write(name + "\\n")


@tillage.step
def load(day: int) -> pa.Table:
    count("load")
    return pa.table({"id": [day * 100 + i for i in range(10)], "v": [float(i) for i in range(10)]})


@tillage.step(cache=False)
def store(table: pa.Table) -> str:
    count("store")
    return tillage.context().repo.ingest("data", table, key="id", mode="upsert").id


@tillage.step
def total(table: pa.Table) -> float:
    count("total")
    if Path(os.environ["TILLAGE_TEST_COUNTS"] + ".fail").exists():
        raise ValueError("total refused: the fail flag is set")
    if Path(os.environ["TILLAGE_TEST_COUNTS"] + ".kill").exists():
        Path(os.environ["TILLAGE_TEST_COUNTS"] + ".kill").unlink()
        os.kill(os.getpid(), 9)
    return sum(table.column("v").to_pylist())


@tillage.step
def square(x: int) -> int:
    count("square")
    if x == int(os.environ.get("TILLAGE_TEST_KILL_AT", "-1")) and not Path(
        os.environ["TILLAGE_TEST_COUNTS"] + ".killed"
    ).exists():
        Path(os.environ["TILLAGE_TEST_COUNTS"] + ".killed").touch()
        os.kill(os.getpid(), 9)
    return x * x


@tillage.pipeline
def daily(day: int) -> dict:
    table = load(day)
    commit = store(table)
    result = {"commit": commit, "total": total(table)}
    if os.environ.get("TILLAGE_TEST_APPROVAL"):
        result["approved_by"] = tillage.approval("publish")["principal"]
    return result


@tillage.step
def append_then_die(table: pa.Table) -> str:
    count("append")
    commit = tillage.context().repo.ingest("data", table, key="id")  # append: keys must be new
    marker = Path(os.environ["TILLAGE_TEST_COUNTS"] + ".diewrite")
    if marker.exists():
        marker.unlink()
        os.kill(os.getpid(), 9)
    return commit.id


@tillage.pipeline
def fragile(day: int) -> str:
    return append_then_die(load(day))


@tillage.step
def rows_over(table: pa.Table, threshold: float) -> int:
    count("batch")
    return sum(1 for v in table.column("v").to_pylist() if v > threshold)


@tillage.pipeline
def scan(threshold: float) -> int:
    return sum(rows_over.map_batches("data", rows=7, threshold=threshold))


@tillage.pipeline
def squares(n: int) -> int:
    return sum(square.map(list(range(n))))


@tillage.pipeline
def wobbly(day: int) -> float:
    table = load(day)
    # Decided outside any step: the body's path depends on the outside world.
    if Path(os.environ["TILLAGE_TEST_COUNTS"] + ".flip").exists():
        return float(len(square.map([1, 2])))
    return total(table)


@tillage.step
def ids(table: pa.Table) -> set[int]:  # not JSON, not a table: stored pickled
    count("ids")
    return set(table.column("id").to_pylist())


@tillage.step(cache=False)
def hold(table: pa.Table) -> int:
    Path(os.environ["TILLAGE_TEST_COUNTS"] + ".holding").touch()
    while not Path(os.environ["TILLAGE_TEST_COUNTS"] + ".go").exists():
        time.sleep(0.05)
    return table.num_rows


@tillage.pipeline
def keys(day: int) -> set[int]:
    found = ids(load(day))
    return found | {len(found), int(total(load(day)))}


@tillage.pipeline
def held(day: int) -> float:
    table = load(day)
    store(table)
    hold(table)
    return total(table)


@tillage.pipeline
def quota(day: int) -> int:
    load(day)
    labels = Path(os.environ["TILLAGE_TEST_COUNTS"] + ".labels")
    tillage.wait_for(
        "labels",
        lambda: (
            labels.exists() and int(labels.read_text()) >= 3,
            f"task demo has {int(labels.read_text()) if labels.exists() else 0}/3 labels",
        ),
    )
    return int(labels.read_text())
"""


@pytest.fixture
def flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "flow.py"
    path.write_text(FLOW)
    monkeypatch.setenv("TILLAGE_TEST_COUNTS", str(tmp_path / "counts"))
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "tester")
    return path


def counts(tmp_path: Path) -> list[str]:
    f = tmp_path / "counts"
    return f.read_text().split() if f.exists() else []


def target(flow: Path, name: str) -> str:
    return f"{flow}:{name}"


def test_run_stores_steps_and_lands_writes_on_the_branch(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    run = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert run.status == "done", run.error
    assert run.result["total"] == 45.0
    assert [(s.name, s.status) for s in run.steps] == [
        ("load", "done"),
        ("store", "done"),
        ("total", "done"),
    ]
    # The write landed on main through the run's branch; lineage knows which commit.
    assert repo.read("data").num_rows == 10
    assert run.steps[1].writes == [{"dataset": "data", "commit": run.result["commit"]}]
    assert counts(tmp_path) == ["load", "store", "total"]
    assert tillage.Runs(repo).show(run.id[:8]).id == run.id


def test_unchanged_steps_are_reused_across_runs(repo: Repo, flow: Path, tmp_path: Path) -> None:
    tillage.run(repo, target(flow, "daily"), {"day": 1})
    again = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert again.status == "done"
    # load and total are cached (same code, same inputs); store opted out with cache=False.
    assert [s.status for s in again.steps] == ["cached", "done", "cached"]
    assert counts(tmp_path) == ["load", "store", "total", "store"]
    other = tillage.run(repo, target(flow, "daily"), {"day": 2})
    assert [s.status for s in other.steps] == ["done", "done", "done"]
    forced = tillage.run(repo, target(flow, "daily"), {"day": 1}, no_cache=True)
    assert [s.status for s in forced.steps] == ["done", "done", "done"]


def test_a_failed_step_fails_the_run_and_resume_redoes_only_it(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    (tmp_path / "counts.fail").touch()
    run = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert run.status == "failed"
    assert "total refused" in (run.error or "")
    assert run.steps[-1].status == "failed" and "ValueError" in (run.steps[-1].error or "")
    # Nothing the run wrote is on main; it waits on the run's own branch.
    assert "data" not in repo.datasets.pins("main")
    assert repo.read("data", run.run_branch).num_rows == 10

    (tmp_path / "counts.fail").unlink()
    done = tillage.Runs(repo).resume(run.id)
    assert done.status == "done", done.error
    assert counts(tmp_path) == ["load", "store", "total", "total"]
    assert repo.read("data").num_rows == 10


def test_approval_pauses_the_run_until_approved(
    repo: Repo, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLAGE_TEST_APPROVAL", "1")
    runs = tillage.Runs(repo)
    run = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert run.status == "waiting"
    assert run.waiting_on is not None and run.waiting_on["kind"] == "approval"
    assert f"tillage runs approve {run.id} publish" in run.waiting_on["message"]
    assert "data" not in repo.datasets.pins("main")
    assert runs.resume(run.id).status == "waiting"  # still not approved
    runs.approve(run.id, "publish", note="looks right")
    done = runs.resume(run.id)
    assert done.status == "done" and done.result["approved_by"] == "tester"
    assert counts(tmp_path) == ["load", "store", "total"]
    assert repo.read("data").num_rows == 10


def test_wait_for_names_what_it_waits_on(repo: Repo, flow: Path, tmp_path: Path) -> None:
    runs = tillage.Runs(repo)
    run = tillage.run(repo, target(flow, "quota"), {"day": 1})
    assert run.status == "waiting" and run.waiting_on is not None
    assert run.waiting_on["message"] == "task demo has 0/3 labels"
    (tmp_path / "counts.labels").write_text("2")
    assert runs.resume(run.id).waiting_on["message"] == "task demo has 2/3 labels"  # type: ignore[index]
    (tmp_path / "counts.labels").write_text("3")
    assert runs.resume(run.id).result == 3
    assert counts(tmp_path) == ["load"]
    assert [r.status for r in runs.list()] == ["done"]


def test_a_body_that_takes_another_path_fails_clearly(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    (tmp_path / "counts.fail").touch()
    run = tillage.run(repo, target(flow, "wobbly"), {"day": 1})
    assert run.status == "failed"
    (tmp_path / "counts.fail").unlink()
    (tmp_path / "counts.flip").touch()
    again = tillage.Runs(repo).resume(run.id)
    assert again.status == "failed"
    assert "not deterministic" in (again.error or "")
    assert "total(" in (again.error or "") and "square.map(" in (again.error or "")


def _run_in_subprocess(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=os.environ.copy()
    )


@pytest.mark.slow
def test_resume_after_kill_minus_nine_redoes_no_finished_step(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    (tmp_path / "counts.kill").touch()
    proc = _run_in_subprocess(
        tmp_path,
        f"""
        import tillage
        repo = tillage.open({str(repo.path)!r})
        tillage.run(repo, {target(flow, "daily")!r}, {{"day": 1}})
        """,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert counts(tmp_path) == ["load", "store", "total"]
    # It never got to say that it stopped; its process is gone, so it reads as crashed.
    [killed] = tillage.Runs(repo).list()
    assert killed.status == "crashed"
    assert f"tillage runs resume {killed.id}" in (killed.error or "")
    assert tillage.Runs(repo).show(killed.id).status == "crashed"
    assert [r.id for r in tillage.Runs(repo).list(status="crashed")] == [killed.id]
    assert tillage.Runs(repo).list(status="running") == []
    done = tillage.Runs(repo).resume(killed.id)
    assert done.status == "done", done.error
    assert counts(tmp_path) == ["load", "store", "total", "total"]
    assert repo.read("data").num_rows == 10


@pytest.mark.slow
def test_map_resumes_at_the_first_unfinished_item(
    repo: Repo, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLAGE_TEST_KILL_AT", "2500")
    proc = _run_in_subprocess(
        tmp_path,
        f"""
        import tillage
        repo = tillage.open({str(repo.path)!r})
        tillage.run(repo, {target(flow, "squares")!r}, {{"n": 4000}})
        """,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    first = len(counts(tmp_path))
    assert first == 2501
    [killed] = tillage.Runs(repo).list()
    done = tillage.Runs(repo).resume(killed.id)
    assert done.status == "done", done.error
    assert done.result == sum(x * x for x in range(4000))
    redone = len(counts(tmp_path)) - first
    # Items are stored in groups of at most 1,000 (or every half second): the items a
    # resumed run computes are the 1,500 never reached plus at most one unsaved group.
    assert 1500 <= redone <= 1500 + 1000


def test_bad_input(repo: Repo, flow: Path) -> None:
    with pytest.raises(tillage.NoSuchRunError):
        tillage.Runs(repo).resume("nope")
    with pytest.raises(tillage.InputError, match="no pipeline 'nope'"):
        tillage.run(repo, target(flow, "nope"))
    with pytest.raises(tillage.InputError, match=r"FILE\.py:NAME"):
        tillage.run(repo, "no-colon-here")
    with pytest.raises(tillage.InputError, match="no file"):
        tillage.run(repo, "missing.py:daily")
    with pytest.raises(tillage.InputError, match="takes"):
        tillage.run(repo, target(flow, "daily"), {"month": 1})
    with pytest.raises(tillage.NoSuchRefError):
        tillage.run(repo, target(flow, "daily"), {"day": 1}, branch="nope")
    broken = flow.with_name("broken.py")
    broken.write_text("import nothing_by_this_name\n")
    with pytest.raises(tillage.InputError, match="failed to import"):
        tillage.run(repo, f"{broken}:daily")
    with pytest.raises(tillage.InputError, match="inside a running pipeline"):
        tillage.context()
    assert tillage.Runs(repo).list() == []


def test_steps_are_plain_functions_outside_runs() -> None:
    @tillage.step
    def double(x: int) -> int:
        return 2 * x

    assert double(3) == 6
    assert double.map([1, 2]) == [2, 4]


def test_backfill_runs_each_partition_once(repo: Repo, flow: Path, tmp_path: Path) -> None:
    assert tillage.partitions("2013-02-27", "2013-03-02") == [
        "2013-02-27",
        "2013-02-28",
        "2013-03-01",
        "2013-03-02",
    ]
    with pytest.raises(tillage.InputError, match="before"):
        tillage.partitions("5", "1")
    with pytest.raises(tillage.InputError, match="two dates"):
        tillage.partitions("monday", "friday")
    seen: list[object] = []
    first = tillage.backfill(
        repo, target(flow, "daily"), "day", [1, 2, 3], progress=lambda v, r: seen.append(v)
    )
    assert [r.status for r in first.ran] == ["done"] * 3 and seen == [1, 2, 3]
    again = tillage.backfill(repo, target(flow, "daily"), "day", [1, 2, 3, 4])
    assert again.skipped == [1, 2, 3] and [r.params for r in again.ran] == [{"day": 4}]
    assert repo.read("data").num_rows == 40


def test_lineage_answers_what_made_it_and_what_came_of_it(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    run = tillage.run(repo, target(flow, "daily"), {"day": 1})
    written = run.result["commit"]
    up, root = tillage.lineage(repo, "main")
    labels = "\n".join(up.nodes.values())
    assert root == f"commit:{written}"
    assert f"run {run.id}" in labels and "step store" in labels and "step load" in labels
    assert "daily(day=1)" in labels
    down, _ = tillage.lineage(repo, run.id, "down")
    assert f"commit:{written}" in down.nodes
    assert "graph TD" in up.mermaid() and "digraph lineage" in up.dot()
    assert up.text(root).splitlines()[0].startswith(f"commit {written[:12]}")
    with pytest.raises(tillage.NoSuchRunError):
        tillage.lineage(repo, "nothing-by-this-name")


def test_schedules_fire_on_cron_commit_and_alert_once(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    with pytest.raises(tillage.InputError, match="exactly one trigger"):
        tillage.add_schedule(repo, target(flow, "daily"), params={"day": 1})
    with pytest.raises(tillage.InputError, match="cron expression"):
        tillage.add_schedule(repo, target(flow, "daily"), cron="61 * * * *", params={"day": 1})
    with pytest.raises(tillage.NoSuchDatasetError):
        tillage.add_schedule(repo, target(flow, "daily"), on_commit="data", params={"day": 1})
    with pytest.raises(tillage.InputError, match="takes"):
        tillage.add_schedule(repo, target(flow, "daily"), cron="0 6 * * *")

    hourly = tillage.add_schedule(repo, target(flow, "daily"), cron="0 * * * *", params={"day": 1})
    now = datetime.now(UTC)
    assert tillage.tick(repo, now=now).started == []  # added after the last full hour
    # Three hours later: the missed times fire once, not three times.
    later = tillage.tick(repo, now=now + timedelta(hours=3))
    assert [r.params for r in later.started] == [{"day": 1}]
    assert tillage.tick(repo, now=now + timedelta(hours=3)).started == []

    # A new commit of `data` (made by that run) triggers the commit schedule once.
    repo.ingest("other", tillage_table(), key="id")
    on_commit = tillage.add_schedule(
        repo, target(flow, "daily"), on_commit="data", params={"day": 2}
    )
    assert tillage.tick(repo, now=now).started == []
    repo.ingest("data", tillage_table(1000), key="id")
    fired = tillage.tick(repo, now=now).started
    assert [r.params for r in fired] == [{"day": 2}]
    schedules = {s.id: s for s in tillage.Runs(repo).store.schedules()}
    assert schedules[on_commit.id].last_run == fired[0].id
    assert schedules[hourly.id].last_run == later.started[0].id


def tillage_table(start: int = 0) -> pa.Table:
    return pa.table({"id": [start + i for i in range(5)], "v": [float(i) for i in range(5)]})


@pytest.mark.slow
def test_worker_resumes_waiting_runs_within_its_lifetime(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    run = tillage.run(repo, target(flow, "quota"), {"day": 1})
    assert run.status == "waiting"
    (tmp_path / "counts.labels").write_text("5")
    done = tillage.worker(repo, interval=0.05, max_seconds=0.3)
    assert 2 <= done.ticks <= 8
    assert list(done.resumed) == [run.id] and done.resumed_total == 1
    assert tillage.Runs(repo).show(run.id).result == 5


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["process", "ray"])
# Ray starts its processes by fork + exec, which Lance's fork hook warns about.
@pytest.mark.filterwarnings("ignore:lance is not fork-safe:UserWarning")
def test_map_on_other_executors_checkpoints_the_same(
    repo: Repo, flow: Path, tmp_path: Path, executor: str
) -> None:
    if executor == "ray":
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        run = tillage.run(repo, target(flow, "squares"), {"n": 300}, executor=executor)  # type: ignore[arg-type]
        assert run.status == "done", run.error
        assert run.result == sum(x * x for x in range(300))
        again = tillage.Runs(repo).resume(run.id, executor=executor)  # type: ignore[arg-type]
        assert again.result == run.result
    finally:
        if executor == "ray":
            ray.shutdown()
    with pytest.raises(tillage.InputError, match="unknown executor"):
        tillage.run(repo, target(flow, "squares"), {"n": 3}, executor="gpu")  # type: ignore[arg-type]


@pytest.mark.parametrize("executor", ["local", "process"])
def test_map_over_the_batches_of_a_dataset(
    repo: Repo, flow: Path, tmp_path: Path, executor: str
) -> None:
    repo.ingest(
        "data", pa.table({"id": list(range(30)), "v": [float(i) for i in range(30)]}), key="id"
    )
    run = tillage.run(repo, target(flow, "scan"), {"threshold": 9.5}, executor=executor)  # type: ignore[arg-type]
    assert run.status == "done", run.error
    assert run.result == 20
    step = run.steps[0]
    assert step.name == "rows_over.map"
    assert step.reads == [{"dataset": "data", "commit": repo.refs.resolve("main")}]
    # Cached by data version: the same commit again reuses it; a new commit does not.
    assert tillage.run(repo, target(flow, "scan"), {"threshold": 9.5}).steps[0].status == "cached"
    repo.ingest("data", pa.table({"id": [99], "v": [100.0]}))
    again = tillage.run(repo, target(flow, "scan"), {"threshold": 9.5})
    assert again.steps[0].status == "done" and again.result == 21


@pytest.mark.slow
def test_a_step_killed_after_writing_writes_once(repo: Repo, flow: Path, tmp_path: Path) -> None:
    (tmp_path / "counts.diewrite").touch()
    proc = _run_in_subprocess(
        tmp_path,
        f"""
        import tillage
        repo = tillage.open({str(repo.path)!r})
        tillage.run(repo, {target(flow, "fragile")!r}, {{"day": 1}})
        """,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [killed] = tillage.Runs(repo).list()
    assert repo.read("data", killed.run_branch).num_rows == 10  # written, step not finished
    done = tillage.Runs(repo).resume(killed.id)
    # The run branch went back to before the step, so the append ran again cleanly.
    assert done.status == "done", done.error
    assert counts(tmp_path) == ["load", "append", "append"]
    assert repo.read("data").num_rows == 10
    assert killed.run_branch not in repo.refs.branches()  # merged, then removed


def _flip_a_byte(repo: Repo, ref: dict[str, str]) -> Path:
    sha = ref.get("pickle") or ref["table"]
    path = repo.repo_dir / "artifacts" / sha[:2] / sha
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def test_a_changed_stored_value_is_refused_before_it_is_loaded(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    runs = tillage.Runs(repo)
    (tmp_path / "counts.fail").touch()
    run = tillage.run(repo, target(flow, "keys"), {"day": 1})
    assert run.status == "failed"  # at total, after ids stored its pickled set
    assert [(s.name, s.status) for s in run.steps][:2] == [("load", "done"), ("ids", "done")]
    path = _flip_a_byte(repo, run.steps[1].output or {})
    (tmp_path / "counts.fail").unlink()
    before = runs.get(run.id)
    with pytest.raises(tillage.StoredValueError) as err:
        runs.resume(run.id)
    message = str(err.value)
    for fragment in (run.id, "step ids (#2)", str(path), "--no-cache", "tillage runs delete"):
        assert fragment in message
    assert runs.get(run.id) == before  # refused before anything was redone
    assert counts(tmp_path) == ["load", "ids", "total"]
    # --no-cache computes the changed value again instead of loading it.
    done = runs.resume(run.id, no_cache=True)
    assert done.status == "done", done.error
    assert counts(tmp_path) == ["load", "ids", "total", "ids", "total"]
    # A done run's result is checked too when it is shown.
    _flip_a_byte(repo, runs.store.get(run.id).result)  # type: ignore[union-attr]
    with pytest.raises(tillage.StoredValueError, match="return value"):
        runs.show(run.id)


def test_cancel_ends_a_waiting_run_and_delete_removes_it(
    repo: Repo, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLAGE_TEST_APPROVAL", "1")
    runs = tillage.Runs(repo)
    run = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert run.status == "waiting" and run.run_branch in repo.refs.branches()
    with pytest.raises(tillage.RunStateError, match="Cancel it first"):
        runs.delete(run.id)
    cancelled = runs.cancel(run.id[:6])
    assert cancelled.status == "cancelled" and cancelled.waiting_on is None
    assert run.run_branch not in repo.refs.branches()  # its writes are gone, never merged
    assert "data" not in repo.datasets.pins("main")
    with pytest.raises(tillage.RunStateError, match="tillage run "):
        runs.resume(run.id)
    with pytest.raises(tillage.RunStateError, match="nothing to cancel"):
        runs.cancel(run.id)
    assert runs.delete(run.id).id == run.id
    assert runs.list() == []
    with pytest.raises(tillage.NoSuchRunError):
        runs.show(run.id)
    assert not (repo.repo_dir / "runs" / f"{run.id}.lock").exists()


def test_delete_removes_a_failed_run_its_branch_and_its_stored_steps(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    runs = tillage.Runs(repo)
    (tmp_path / "counts.fail").touch()
    failed = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert failed.status == "failed" and failed.run_branch in repo.refs.branches()
    runs.delete(failed.id)
    assert failed.run_branch not in repo.refs.branches() and runs.list() == []
    (tmp_path / "counts.fail").unlink()
    done = tillage.run(repo, target(flow, "daily"), {"day": 1})
    assert [s.status for s in done.steps] == ["done", "done", "done"]  # nothing reused
    with pytest.raises(tillage.RunStateError, match="revert"):
        runs.cancel(done.id)
    runs.delete(done.id)
    assert repo.read("data").num_rows == 10  # what a done run merged stays


@pytest.mark.slow
def test_cancel_stops_a_run_executing_in_another_process(
    repo: Repo, flow: Path, tmp_path: Path
) -> None:
    script = tmp_path / "driver.py"
    script.write_text(
        "import tillage\n"
        f"repo = tillage.open({str(repo.path)!r})\n"
        f"print(tillage.run(repo, {target(flow, 'held')!r}, {{'day': 1}}).status)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "counts.holding").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        runs = tillage.Runs(repo)
        [live] = runs.list()
        assert live.status == "running"  # its process is alive: not crashed
        with pytest.raises(tillage.RunStateError, match=f"process {proc.pid} .* is executing"):
            runs.resume(live.id)
        assert runs.cancel(live.id).status == "cancelled"
        (tmp_path / "counts.go").touch()
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "cancelled"
    assert counts(tmp_path) == ["load", "store"]  # total never ran
    assert live.run_branch not in repo.refs.branches()
    assert "data" not in repo.datasets.pins("main")


def test_a_catalog_from_before_run_processes_upgrades_and_keeps_its_runs(
    repo: Repo, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect, text

    from tillage.store.catalog import METADATA
    from tillage.store.migrate import _config, head_revision

    done = tillage.run(repo, target(flow, "daily"), {"day": 1})
    monkeypatch.setenv("TILLAGE_TEST_APPROVAL", "1")
    waiting = tillage.run(repo, target(flow, "daily"), {"day": 2})
    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0005")
        # A run killed before its process was recorded: stored as running, no pid.
        conn.execute(text("UPDATE runs SET status = 'running' WHERE id = :id"), {"id": waiting.id})
    columns = {c["name"] for c in inspect(repo._storage.catalog.engine).get_columns("runs")}
    assert "pid" not in columns
    path = repo.path
    repo.close()

    with pytest.raises(tillage.CatalogError, match="tillage upgrade"):
        tillage.open(path)
    assert tillage.Repo.upgrade(path) == ("0005", head_revision())
    with tillage.open(path) as again:
        with again._storage.catalog.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), METADATA)
        assert not [d for d in diffs if d[0] in ("add_column", "remove_column")], diffs
        runs = tillage.Runs(again)
        assert {r.id: r.status for r in runs.list()} == {done.id: "done", waiting.id: "running"}
        runs.approve(waiting.id, "publish")
        assert runs.resume(waiting.id).status == "done"  # no process recorded: it may resume


@pytest.mark.parametrize(
    ("waiting_on", "said"),
    [
        ({"kind": "approval", "name": "publish", "message": "..."}, "approval 'publish'"),
        (
            {"kind": "annotations", "task": "tweet-source", "of": 100},
            "annotation task 'tweet-source'",
        ),
        ({"kind": "time", "until": "2013-01-02T00:00:00+00:00"}, "time 2013-01-02T00:00:00+00:00"),
        ({"kind": "condition", "name": "labels"}, "condition 'labels'"),
    ],
)
def test_backfill_names_what_a_run_waits_on(waiting_on: dict[str, object], said: str) -> None:
    from tillage.pipelines.backfill import awaited

    assert awaited(waiting_on) == said
