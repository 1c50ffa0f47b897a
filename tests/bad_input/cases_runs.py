"""Pipeline runs asked to do what their state does not allow, and stored results changed on disk.

Each damage records a run in the project copy through the Python API, under
the fixed id ``RUN`` (the engine takes run ids from `uuid.uuid4`), then
brings it to the state the case needs.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from unittest import mock

import tillage
from bad_input.harness import Case
from tillage.pipelines.processes import this_process

RUN = "feedfacefeedface"

FLOW = """
import os
from pathlib import Path

import tillage


@tillage.step
def ids(n: int) -> set[int]:  # stored pickled
    return set(range(n))


@tillage.step
def check(found: set[int]) -> int:
    if Path(os.environ.get("TILLAGE_BAD_INPUT_FAIL", "/nonexistent")).exists():
        raise ValueError("check refused")
    return len(found)


@tillage.pipeline
def keys(n: int, gate: bool = False) -> set[int]:
    found = ids(n)
    if gate:
        tillage.approval("ship")
    check(found)
    return found
"""


def _run(project: Path, **params: object) -> tillage.Run:
    """Run ``keys`` in the project under the id ``RUN``."""
    flow = project.parent / "flow_runs.py"
    flow.write_text(FLOW)
    with (
        mock.patch("uuid.uuid4", return_value=uuid.UUID(RUN + "0" * 16)),
        tillage.open(project) as repo,
    ):
        return tillage.run(repo, f"{flow}:keys", {"n": 5, **params})


def done_run(project: Path) -> None:
    assert _run(project).status == "done"


def waiting_run(project: Path) -> None:
    assert _run(project, gate=True).status == "waiting"


def cancelled_run(project: Path) -> None:
    waiting_run(project)
    with tillage.open(project) as repo:
        tillage.Runs(repo).cancel(RUN)


def running_run(project: Path) -> None:
    """A run stored as running in a live process (the one the command runs in)."""
    waiting_run(project)
    pid, host, started = this_process()
    with sqlite3.connect(project / ".tillage" / "catalog.db") as db:
        db.execute(
            "UPDATE runs SET status = 'running', waiting_on = NULL, pid = ?, host = ?, "
            "process_started = ? WHERE id = ?",
            (pid, host, started, RUN),
        )


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _artifact(project: Path, ref: dict[str, str]) -> Path:
    sha = ref["pickle"]
    return project / ".tillage" / "artifacts" / sha[:2] / sha


def changed_step_value(project: Path) -> None:
    """A failed run whose stored result of ``ids`` was altered afterwards."""
    flag = project.parent / "fail"
    flag.touch()
    with mock.patch.dict("os.environ", {"TILLAGE_BAD_INPUT_FAIL": str(flag)}):
        run = _run(project)
    flag.unlink()
    assert run.status == "failed"
    _flip(_artifact(project, run.steps[0].output or {}))


def changed_result(project: Path) -> None:
    """A done run whose stored return value was altered afterwards."""
    done_run(project)
    with tillage.open(project) as repo:
        record = tillage.Runs(repo).store.get(RUN)
        assert record is not None
    _flip(_artifact(project, record.result))


CASES = [
    Case("runs-cancel-unknown", ["runs", "cancel", "nope"], error="no_such_run"),
    Case("runs-delete-unknown", ["runs", "delete", "nope"], error="no_such_run"),
    Case(
        "runs-cancel-done",
        ["runs", "cancel", RUN],
        says=["is done", "nothing to cancel", "tillage revert"],
        error="run_state",
        damage=done_run,
    ),
    Case(
        "runs-cancel-cancelled",
        ["runs", "cancel", RUN],
        says=["is cancelled", "nothing to cancel", f"tillage runs delete {RUN}"],
        error="run_state",
        damage=cancelled_run,
    ),
    Case(
        "runs-delete-waiting",
        ["runs", "delete", RUN],
        says=["is waiting", f"tillage runs cancel {RUN}"],
        error="run_state",
        damage=waiting_run,
    ),
    Case(
        "runs-delete-running",
        ["runs", "delete", RUN],
        says=["is running", "process", f"tillage runs cancel {RUN}"],
        error="run_state",
        damage=running_run,
    ),
    Case(
        "runs-resume-cancelled",
        ["runs", "resume", RUN],
        says=["is cancelled", "cannot be resumed", "tillage run "],
        error="run_state",
        damage=cancelled_run,
    ),
    Case(
        "runs-resume-changed-step-value",
        ["runs", "resume", RUN],
        says=[RUN, "step ids", "has changed", "--no-cache", f"tillage runs delete {RUN}"],
        error="stored_value_changed",
        damage=changed_step_value,
    ),
    Case(
        "runs-show-changed-result",
        ["runs", "show", RUN],
        says=[RUN, "return value", "has changed", f"tillage runs delete {RUN}"],
        error="stored_value_changed",
        damage=changed_result,
    ),
]
