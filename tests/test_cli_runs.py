"""The pipeline commands: run, runs, runs show/resume/approve, backfill, lineage."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import tillage
from cli_runner import cli, cli_json

pytestmark = pytest.mark.usefixtures("wide_terminal")

FLOW = """
import tillage

@tillage.step
def double(x: int) -> int:
    return 2 * x

@tillage.step(cache=False)
def publish(value: int) -> str:
    import pyarrow as pa
    table = pa.table({"id": [value], "v": [value]})
    return tillage.context().repo.ingest("out", table, key="id", mode="upsert").id

@tillage.step
def die(value: int) -> int:
    import os, signal
    os.kill(os.getpid(), signal.SIGKILL)
    return value


@tillage.pipeline
def doomed(x: int) -> int:
    return die(double(x))


@tillage.pipeline
def flow(x: int, gate: bool = False) -> int:
    y = double(x)
    if gate:
        tillage.approval("ship")
    publish(y)
    return y
"""


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    cli("init", root)
    (tmp_path / "flow.py").write_text(FLOW)
    return root


def test_run_show_and_list(proj: Path, tmp_path: Path) -> None:
    target = f"{tmp_path / 'flow.py'}:flow"
    doc = cli_json("-C", proj, "run", target, "-p", "x=21")
    assert doc["status"] == "done" and doc["result"] == 42
    assert [s["name"] for s in doc["steps"]] == ["double", "publish"]
    text = cli("-C", proj, "runs", "show", doc["id"][:6]).stdout
    assert "double" in text and "wrote out@" in text
    listed = cli_json("-C", proj, "runs")["runs"]
    assert [r["id"] for r in listed] == [doc["id"]]
    assert doc["id"] in cli("-C", proj, "runs").stdout
    err = cli_json("-C", proj, "runs", "show", "zzzzzz", code=1)["error"]
    assert err["code"] == "no_such_run"
    err = cli_json("-C", proj, "run", target, "-p", "nonsense", code=1)["error"]
    assert "NAME=VALUE" in err["message"]


def test_approve_and_resume(proj: Path, tmp_path: Path) -> None:
    target = f"{tmp_path / 'flow.py'}:flow"
    doc = cli_json("-C", proj, "run", target, "-p", "x=1", "-p", "gate=true")
    assert doc["status"] == "waiting"
    assert "waiting: approval 'ship'" in cli("-C", proj, "runs", "show", doc["id"]).stdout
    assert cli_json("-C", proj, "runs", "--status", "waiting")["runs"][0]["id"] == doc["id"]
    cli("-C", proj, "runs", "approve", doc["id"], "ship", "--note", "ok")
    done = cli_json("-C", proj, "runs", "resume", doc["id"])
    assert done["status"] == "done" and done["result"] == 2


def test_backfill_and_lineage(proj: Path, tmp_path: Path) -> None:
    target = f"{tmp_path / 'flow.py'}:flow"
    doc = cli_json("-C", proj, "backfill", target, "--param", "x", "--from", "1", "--to", "3")
    assert [r["params"]["x"] for r in doc["ran"]] == [1, 2, 3] and doc["skipped"] == []
    again = cli_json("-C", proj, "backfill", target, "--param", "x", "--from", "1", "--to", "4")
    assert again["skipped"] == [1, 2, 3]
    graph = cli_json("-C", proj, "lineage", "main")
    labels = " ".join(n["label"] for n in graph["nodes"])
    assert "step publish" in labels and "flow(x=4)" in labels
    assert cli("-C", proj, "lineage", "main", "--format", "mermaid").stdout.startswith("graph TD")
    cli("-C", proj, "lineage", "main", "--up", "--down", code=1)


def test_schedule_and_worker(proj: Path, tmp_path: Path) -> None:
    target = f"{tmp_path / 'flow.py'}:flow"
    cli_json("-C", proj, "run", target, "-p", "x=1")  # makes dataset `out`
    doc = cli_json("-C", proj, "schedule", "add", target, "--on-commit", "out", "-p", "x=5")
    assert doc["kind"] == "commit" and doc["params"] == {"x": 5}
    err = cli_json("-C", proj, "schedule", "add", target, "--cron", "whenever", "-p", "x=1", code=1)
    assert "cron expression" in err["error"]["message"]
    assert len(cli_json("-C", proj, "schedule", "list")["schedules"]) == 1
    # Nothing new yet; then a commit of `out` arrives and the worker starts the pipeline once.
    assert (
        cli_json("-C", proj, "worker", "--interval", "0.05", "--max-seconds", "0.1")["started"]
        == []
    )
    cli_json("-C", proj, "run", target, "-p", "x=2")
    worked = cli_json("-C", proj, "worker", "--interval", "0.05", "--max-seconds", "0.1")
    assert len(worked["started"]) == 1
    cli("-C", proj, "schedule", "remove", str(doc["id"]))
    cli("-C", proj, "schedule", "remove", str(doc["id"]), code=1)


def branches(proj: Path) -> list[str]:
    return [b["name"] for b in cli_json("-C", proj, "branch", "--list")["branches"]]


@pytest.mark.slow
def test_a_killed_run_shows_its_id_reads_as_crashed_and_can_be_cancelled_and_deleted(
    proj: Path, tmp_path: Path
) -> None:
    exe = Path(sys.executable).parent / "tillage"
    env = {**os.environ, "TILLAGE_PRINCIPAL": "tester", "COLUMNS": "200"}
    env.pop("TILLAGE_REPO", None)
    proc = subprocess.run(
        [str(exe), "-C", str(proj), "run", f"{tmp_path / 'flow.py'}:doomed", "-p", "x=2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    [listed] = cli_json("-C", proj, "runs")["runs"]
    run_id = listed["id"]
    # The id was printed when the run started, before the step that killed it.
    assert f"started run {run_id}" in proc.stderr
    assert listed["status"] == "crashed" and listed["pid"] > 0 and listed["host"]
    assert f"its process is gone: tillage runs resume {run_id}" in cli("-C", proj, "runs").stdout
    shown = cli("-C", proj, "runs", "show", run_id[:6]).stdout
    assert "crashed" in shown and f"tillage runs resume {run_id}" in shown
    assert cli_json("-C", proj, "runs", "--status", "crashed")["runs"][0]["id"] == run_id
    assert f"runs/{run_id}" in branches(proj)
    assert cli_json("-C", proj, "runs", "cancel", run_id)["status"] == "cancelled"
    assert f"runs/{run_id}" not in branches(proj)
    err = cli_json("-C", proj, "runs", "resume", run_id, code=1)["error"]
    assert err["code"] == "run_state" and "cancelled" in err["message"]
    assert cli_json("-C", proj, "runs", "delete", run_id) == {
        "deleted": run_id,
        "status": "cancelled",
    }
    assert cli_json("-C", proj, "runs")["runs"] == []


def test_backfill_says_how_many_runs_wait_and_on_what(proj: Path, tmp_path: Path) -> None:
    target = f"{tmp_path / 'flow.py'}:flow"
    args = ("-C", proj, "backfill", target, "--param", "x", "--from", "1", "--to", "3")
    doc = cli_json(*args, "--with", "gate=true")
    assert [r["status"] for r in doc["ran"]] == ["waiting"] * 3
    assert doc["waiting_on"] == {"approval 'ship'": 3}
    text = cli(*args, "--with", "gate=true").stdout
    assert "0 failed, 3 waiting (3 on approval 'ship')" in text
    assert "tillage runs --status waiting" in text


def _readme_pipeline() -> tuple[str, list[list[str]]]:
    """The README's pipeline file and its `tillage run` lines, as the README writes them."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Durable pipelines", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(# daily\.py\n.*?)```", section, re.S)
    assert code is not None, "the README's pipeline section lost its daily.py"
    runs = [
        shlex.split(line.split("#", 1)[0])[1:]
        for line in section.splitlines()
        if line.startswith("tillage run ")
    ]
    assert runs, "the README's pipeline section lost its `tillage run` line"
    return code.group(1), runs


def test_the_readme_pipeline_runs_twice(
    proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, runs = _readme_pipeline()
    (tmp_path / "daily.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    for attempt in (1, 2):
        for args in runs:
            doc = cli_json("-C", proj, *args)
            assert doc["status"] == "done", (attempt, doc["error"])
            assert set(doc["result"]) == {"EWR", "JFK", "LGA"}
    assert len(cli_json("-C", proj, "runs", "--status", "done")["runs"]) == 2 * len(runs)
    with tillage.open(proj) as repo:
        assert repo.read("flights", columns=["rownames"]).num_rows == 720  # 5 January, once
