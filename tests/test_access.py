"""The one read path: every read of record-level values is recorded with who read and why.

Each test reads through one path, in a real repository, and checks the event
the access layer recorded: the principal, the purpose, the dataset and the
commit read. The CLI tests listen in-process (`tillage.access.listen`), since
the command opens its own handle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

import tillage
from tillage import Repo
from tillage.access import AccessLog, Purpose, ReadEvent, listen
from tillage.cli.app import app

TAXONOMY = {"name": "kind", "versions": [{"version": 1, "classes": {"a": "", "b": ""}}]}
TASK = {
    "name": "kinds",
    "labelset": "kind",
    "versions": [{"version": 1, "taxonomy_version": 1, "overlap": 1, "fields": ["text"]}],
}


def rows(ids: range, shift: float = 0.0) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "x": [float(i % 7) + shift for i in ids],
            "text": [f"record {i}" for i in ids],
        }
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ada")
    r = tillage.init(tmp_path / "proj")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "kind.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "kinds.yaml").write_text(yaml.safe_dump(TASK))
    r.ingest("t", rows(range(40)), key="id")
    r.ingest("t", rows(range(40, 80), shift=3.0))
    yield r
    r.close()


def new_events(repo: Repo, action: Callable[[], Any]) -> list[ReadEvent]:
    """The reads ``action`` made through ``repo``."""
    before = len(repo.access_log.events)
    action()
    return repo.access_log.events[before:]


def only(events: list[ReadEvent], purpose: Purpose) -> list[ReadEvent]:
    assert events, "nothing was recorded"
    assert {e.purpose for e in events} == {purpose}, events
    return events


def test_rows_read_and_head_record_principal_purpose_commit_and_columns(repo: Repo) -> None:
    head = repo.refs.resolve()
    (event,) = only(new_events(repo, lambda: repo.read("t", columns=["x"])), Purpose.ROWS)
    assert event == ReadEvent("ada", Purpose.ROWS, "t", head, ("x",))
    (event,) = only(new_events(repo, lambda: repo.datasets.head("t", "HEAD~1")), Purpose.ROWS)
    assert event.commit == repo.refs.resolve("HEAD~1") and event.columns is None


def test_a_refused_read_records_nothing(repo: Repo) -> None:
    def bad() -> None:
        with pytest.raises(tillage.InvalidFilterError):
            repo.read("t", where="x > 1; DROP TABLE t")

    assert new_events(repo, bad) == []


def test_export_and_diff_record_their_purpose(repo: Repo, tmp_path: Path) -> None:
    events = new_events(repo, lambda: repo.datasets.export("t", tmp_path / "t.parquet"))
    assert [e.purpose for e in only(events, Purpose.EXPORT)] == [Purpose.EXPORT]
    events = only(new_events(repo, lambda: repo.diff("HEAD~1", "HEAD")), Purpose.DIFF)
    assert {e.commit for e in events} == {repo.refs.resolve("HEAD~1"), repo.refs.resolve()}


def test_a_three_way_merge_records_reading_each_side(repo: Repo) -> None:
    base = repo.refs.resolve()
    repo.refs.create_branch("dev")
    theirs = repo.ingest("t", rows(range(100, 101)), branch="dev")
    ours = repo.ingest("t", rows(range(200, 201)))
    events = only(new_events(repo, lambda: repo.merge("dev")), Purpose.MERGE)
    assert {e.commit for e in events} == {base, theirs.id, ours.id}


def test_profile_schema_check_and_drift_record_their_purpose(repo: Repo) -> None:
    head = repo.refs.resolve()
    (event,) = only(new_events(repo, lambda: repo.profile("t")), Purpose.PROFILE)
    assert event.commit == head
    only(new_events(repo, lambda: repo.infer_schema("t")), Purpose.SCHEMA)
    only(new_events(repo, lambda: repo.quality.check("t")), Purpose.CHECK)
    events = only(new_events(repo, lambda: repo.drift("t", against="HEAD~1")), Purpose.DRIFT)
    assert {e.commit for e in events} == {head, repo.refs.resolve("HEAD~1")}


def test_alerts_and_ingest_checks_record_their_purpose(repo: Repo) -> None:
    repo.infer_schema("t")
    commit = repo.ingest("t", rows(range(80, 120), shift=50.0))
    events = only(new_events(repo, lambda: repo.quality.alerts()), Purpose.ALERT)
    assert repo.quality.alerts() and {e.dataset for e in events} == {"t"}
    assert commit.id in {e.commit for e in events}
    only(new_events(repo, lambda: repo.quality.checks()), Purpose.CHECK)
    first = repo.quality.alerts()[0].id
    only(new_events(repo, lambda: repo.quality.mute_alert(first, "7d")), Purpose.ALERT)
    only(new_events(repo, lambda: repo.quality.resolve_alert(first)), Purpose.ALERT)


def test_labels_training_set_issues_and_annotation_record_their_purpose(repo: Repo) -> None:
    repo.labels.create("kind", records="t", taxonomy="kind")
    ids = list(range(80))
    repo.labels.add("kind", ids, ["a" if i % 2 else "b" for i in ids], source="import")
    only(new_events(repo, lambda: repo.labels.current("kind")), Purpose.LABELS)
    only(new_events(repo, lambda: repo.labels.training_set("t", "kind")), Purpose.TRAINING_SET)
    only(new_events(repo, lambda: repo.labels.issues("kind", folds=2)), Purpose.LABEL_ISSUES)
    repo.annotation.enqueue("kinds", [1, 2])
    picked = repo.annotation.next("kinds", "bob", 2)
    events = new_events(repo, lambda: repo.annotation.show("kinds", picked))
    (event,) = only(events, Purpose.ANNOTATION)
    assert event.dataset == "t" and event.columns == ("id", "text")


def test_a_handle_reads_as_its_principal_and_tells_its_observer(repo: Repo) -> None:
    seen: list[ReadEvent] = []

    class Observer:
        def read(self, event: ReadEvent) -> None:
            seen.append(event)

        def writing(self, dataset: str) -> None:
            seen.append(ReadEvent("-", Purpose.ROWS, f"writing {dataset}", None))

        def written(self, dataset: str, commit: tillage.Commit) -> None:
            seen.append(ReadEvent("-", Purpose.ROWS, f"wrote {dataset}", commit.id))

    repo.refs.create_branch("dev")
    job = repo.at("dev", principal="job:42", observer=Observer())
    job.read("t")
    commit = job.ingest("t", rows(range(200, 201)))
    # Ingest compares the batch with the configured reference: a read for alerts.
    assert {e.purpose for e in seen[2:-1]} == {Purpose.ALERT}
    seen[:] = [e for e in seen if e.purpose is not Purpose.ALERT]
    assert [e.dataset for e in seen] == ["t", "writing t", "wrote t"]
    assert seen[0].principal == "job:42" and seen[2].commit == commit.id
    assert repo.refs.branches()["dev"] == commit.id and repo.refs.current_branch == "main"
    assert repo.access_log.events[-1].principal == "job:42"  # the log is the repository's
    repo.read("t")
    assert repo.access_log.events[-1].principal == "ada" and len(seen) == 3


def test_a_pipeline_run_reads_as_its_job(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "pipe.py").write_text(
        "import tillage\n\n"
        "@tillage.step(cache=False)\n"
        "def count() -> int:\n"
        "    return tillage.context().repo.read('t').num_rows\n\n"
        "@tillage.pipeline\n"
        "def pipe() -> int:\n"
        "    return count()\n"
    )
    runs: list[tillage.Run] = []
    events = new_events(repo, lambda: runs.append(tillage.run(repo, f"{tmp_path}/pipe.py:pipe")))
    (event,) = only(events, Purpose.ROWS)
    assert runs[0].status == "done" and runs[0].result == 80
    assert event.principal == f"job:{runs[0].id}"
    assert runs[0].steps[0].reads == [{"dataset": "t", "commit": event.commit}]


def test_a_runs_batch_map_reads_as_its_job(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "batches.py").write_text(
        "import tillage\n\n"
        "@tillage.step\n"
        "def size(table) -> int:\n"
        "    return table.num_rows\n\n"
        "@tillage.pipeline\n"
        "def sizes() -> int:\n"
        "    return sum(size.map_batches('t', rows=30))\n"
    )
    # Each batch is read through a handle of its own (as in a pool process).
    events: list[ReadEvent] = []
    remove = listen(events.append)
    try:
        run = tillage.run(repo, f"{tmp_path}/batches.py:sizes")
    finally:
        remove()
    assert run.status == "done" and run.result == 80, run.error
    events = [e for e in events if e.purpose is Purpose.ROWS]
    assert len(events) == 3 and {e.principal for e in events} == {f"job:{run.id}"}


def test_the_log_keeps_the_latest_events_and_listeners_see_all() -> None:
    log = AccessLog(keep=3)
    seen: list[ReadEvent] = []
    remove = log.add_listener(seen.append)
    events = [ReadEvent("ada", Purpose.ROWS, f"d{i}", None) for i in range(5)]
    for e in events[:4]:
        log.record(e)
    remove()
    log.record(events[4])
    assert log.events == events[2:] and seen == events[:4]


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "purpose"),
    [
        (["head", "t"], Purpose.ROWS),
        (["export", "t", "{tmp}/out.csv"], Purpose.EXPORT),
        (["diff", "HEAD~1", "HEAD", "--rows", "3"], Purpose.DIFF),
        (["profile", "t"], Purpose.PROFILE),
        (["drift", "t", "--against", "HEAD~1"], Purpose.DRIFT),
        (["alerts"], Purpose.ALERT),
        (["schema", "infer", "t"], Purpose.SCHEMA),
        (["check", "t"], Purpose.CHECK),
        (["labels", "show", "kind"], Purpose.LABELS),
        (["annotate", "next", "kinds", "-a", "bob", "-n", "2"], Purpose.ANNOTATION),
    ],
    ids=lambda v: "-".join(v[:2]) if isinstance(v, list) else "",
)
def test_cli_reads_are_recorded(
    repo: Repo, tmp_path: Path, args: list[str], purpose: Purpose
) -> None:
    if args[0] in ("alerts", "check"):
        repo.infer_schema("t")
    if args[0] == "alerts":
        repo.ingest("t", rows(range(80, 120), shift=50.0))
    if args[0] in ("labels", "annotate"):
        repo.labels.create("kind", records="t", taxonomy="kind")
        repo.labels.add("kind", [1, 2], ["a", "b"], source="import")
        repo.annotation.enqueue("kinds", [1, 2])
    seen: list[ReadEvent] = []
    remove = listen(seen.append)
    try:
        argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
        result = runner.invoke(app, ["--repo", str(repo.path), *argv, "--json"])
    finally:
        remove()
    assert result.exit_code == 0, result.output
    json.loads(result.output)
    assert seen and {e.purpose for e in seen} == {purpose}
    assert {e.principal for e in seen} == {"ada"}
    # Labels are the label set's own dataset; annotation reads the records it shows,
    # never the label set (`next` reads the annotation index in the catalog).
    expected = {"labels": {"kind"}}.get(args[0], {"t"})
    assert {e.dataset for e in seen} == expected
