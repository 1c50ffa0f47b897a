"""Annotation at the scale of a team: the annotation index, batches, concurrent annotators.

Real repositories (Lance tables, SQLite catalog); the PostgreSQL catalog runs the
same concurrency check in ``tests/contract/test_annotation.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

import tillage
from cli_runner import cli, cli_json
from tillage import Repo

TAXONOMY = {"name": "side", "versions": [{"version": 1, "classes": {"left": "", "right": ""}}]}


def task(overlap: int) -> dict[str, object]:
    return {
        "name": "sides",
        "labelset": "sides",
        "versions": [{"version": 1, "overlap": overlap, "fields": ["text"]}],
    }


def make_project(root: Path, records: int, overlap: int, catalog_url: str | None = None) -> Repo:
    """A repository with ``records`` records, label set ``sides`` and task ``sides``."""
    repo = tillage.init(root, catalog_url=catalog_url)
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "side.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (repo.path / "tasks").mkdir()
    (repo.path / "tasks" / "sides.yaml").write_text(yaml.safe_dump(task(overlap)))
    ids = [f"r{i:04d}" for i in range(records)]
    repo.ingest("items", pa.table({"id": ids, "text": [f"item {i}" for i in ids]}), key="id")
    repo.labels.create("sides", records="items", taxonomy="side")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = make_project(tmp_path / "proj", 40, overlap=2)
    yield r
    r.close()


def annotator_events(repo: Repo) -> list[tuple[str, str]]:
    """(record, annotator) of every annotation the label set holds (pending ones committed)."""
    flushed = repo.labels.sets().events("sides")
    rows = flushed.filter(pa.compute.equal(flushed.column("kind"), "annotator")).to_pylist()
    return [(r["record_id"], r["source"]) for r in rows]


def test_next_and_submit_read_the_index_never_the_label_set(repo: Repo) -> None:
    ids = [f"r{i:04d}" for i in range(40)]
    for k in range(5):  # label events that annotation must not read
        repo.labels.add("sides", ids, ["left"] * 40, kind="lf", source=f"lf{k}")
    ann = repo.annotation
    ann.enqueue("sides", ids[:10])
    commits = len(repo.refs.log())
    before = len(repo.access_log.events)
    picked = ann.next("sides", "ann", n=3)
    done = ann.submit("sides", "ann", picked[0], "left")
    read = {e.dataset for e in repo.access_log.events[before:]}
    assert picked == ids[:3] and "sides" not in read
    # One annotation is recorded (counted, refused again) but not yet committed.
    assert done.commit is None and done.records == (ids[0],)
    assert len(repo.refs.log()) == commits
    assert ann.progress("sides").annotations == 1
    with pytest.raises(tillage.AnnotationConflictError, match="annotated record 'r0000' already"):
        ann.submit("sides", "ann", ids[0], "right")
    # Every reader of labels sees it: reading the label set commits what is pending.
    current = {r["record_id"]: r for r in repo.labels.current("sides").to_pylist()}
    assert current[ids[0]]["source"] == "ann" and current[ids[0]]["kind"] == "annotator"
    assert len(repo.refs.log()) == commits + 1
    assert repo.labels.current("sides").num_rows == 40 and len(repo.refs.log()) == commits + 1


def test_a_batch_is_one_commit_with_what_was_pending(repo: Repo) -> None:
    ann = repo.annotation
    ann.enqueue("sides", ["r0000", "r0001", "r0002", "r0003"])
    ann.submit("sides", "bob", "r0000", "left")
    commits = len(repo.refs.log())
    commit = ann.submit_many("sides", "ann", {"r0001": "left", "r0002": "right"})
    assert commit.message == "ann annotated 2 records for sides v1, with 1 pending"
    assert len(repo.refs.log()) == commits + 1
    assert sorted(annotator_events(repo)) == [
        ("r0000", "bob"),
        ("r0001", "ann"),
        ("r0002", "ann"),
    ]
    # A resubmission is refused whole, and nothing is written.
    with pytest.raises(tillage.AnnotationConflictError, match="'r0002'"):
        ann.submit_many("sides", "ann", {"r0003": "left", "r0002": "left"})
    assert len(repo.refs.log()) == commits + 1
    assert ann.progress("sides").annotations == 3


def test_pending_answers_are_committed_on_the_branch_they_were_given_on(repo: Repo) -> None:
    repo.annotation.enqueue("sides", ["r0000", "r0001"])
    repo.annotation.submit_many("sides", "ann", {"r0000": "left"})  # the label set exists
    repo.refs.create_branch("fix")
    fix = repo.at("fix")
    fix.annotation.submit("sides", "bob", "r0001", "right")
    main_head = repo.refs.resolve("main")
    assert repo.annotation.flush("sides") is None  # nothing pending for main
    assert repo.refs.resolve("main") == main_head
    assert ("r0001", "bob") not in annotator_events(repo)
    commit = fix.annotation.flush("sides")
    assert commit is not None and repo.refs.resolve("fix") == commit.id
    assert repo.refs.resolve("main") == main_head
    on_fix = repo.read("sides", "fix").to_pylist()
    assert [(e["record_id"], e["source"]) for e in on_fix if e["source"] == "bob"] == [
        ("r0001", "bob")
    ]


def test_annotations_made_before_the_index_count(repo: Repo) -> None:
    """A label set annotated before the index existed (or by an import) keeps its counts."""
    repo.labels.add("sides", ["r0000", "r0000", "r0001"], ["left", "left", "right"], kind="lf",
                    source="f")  # fmt: skip
    repo.labels.add("sides", ["r0000"], ["left"], kind="annotator", source="ann", spec_version=1)
    repo.labels.add("sides", ["r0000"], ["left"], kind="annotator", source="bob", spec_version=1)
    ann = repo.annotation
    ann.enqueue("sides", ["r0000", "r0001"])  # builds the index from the label set
    assert ann.progress("sides").done == 1
    assert ann.next("sides", "cat", n=5) == ["r0001"]
    # An import once the index exists is counted too.
    repo.labels.add("sides", ["r0001"], ["right"], kind="annotator", source="dan", spec_version=1)
    with pytest.raises(tillage.AnnotationConflictError, match="dan has annotated"):
        ann.submit("sides", "dan", "r0001", "left")
    ann.submit("sides", "cat", "r0001", "left")
    assert ann.progress("sides").done == 2
    assert ann.next("sides", "eve", n=5) == []


def test_answers_and_unanswered_hand_outs_share_the_overlap(repo: Repo) -> None:
    ann = repo.annotation
    ann.enqueue("sides", ["r0000", "r0001"])
    ann.submit("sides", "ann", "r0000", "left")  # answered without being handed it
    assert ann.next("sides", "bob", n=1) == ["r0000"]  # the second of its two
    assert ann.next("sides", "cat", n=2) == ["r0001"]  # r0000: one answer, one hand-out
    ann.submit("sides", "bob", "r0000", "right")
    progress = ann.progress("sides")
    assert (progress.done, progress.annotations) == (1, 2)
    assert ann.next("sides", "dan", n=2) == ["r0001"]


def test_a_changed_overlap_reopens_records(repo: Repo) -> None:
    ann = repo.annotation
    ann.enqueue("sides", ["r0000"])
    ann.submit_many("sides", "ann", {"r0000": "left"})
    ann.submit_many("sides", "bob", {"r0000": "left"})
    assert ann.next("sides", "cat") == []
    (repo.path / "tasks" / "sides.yaml").write_text(yaml.safe_dump(task(3)))
    assert ann.next("sides", "cat") == ["r0000"]
    assert ann.progress("sides").done == 0


def work(path: Path, annotator: str, batch: int) -> int:
    """One annotator: take records and answer them until none is left; how many answered."""
    answered = 0
    with tillage.open(path) as repo:
        ann = repo.annotation
        while True:
            picked = ann.next("sides", annotator, n=batch)
            if not picked:
                return answered
            side = {r: ("left" if int(r[1:]) % 2 else "right") for r in picked}
            if batch == 1:
                ann.submit("sides", annotator, picked[0], side[picked[0]])
            else:
                ann.submit_many("sides", annotator, side)
            answered += len(picked)


def assert_exact(repo: Repo, records: int, overlap: int) -> None:
    events = annotator_events(repo)
    assert len(events) == records * overlap
    assert len(set(events)) == len(events)  # no annotator twice on a record
    assert set(Counter(r for r, _ in events).values()) == {overlap}
    progress = repo.annotation.progress("sides")
    assert (progress.done, progress.annotations) == (records, records * overlap)


@pytest.mark.slow
def test_eight_threads_annotate_without_loss_or_duplicates(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "proj", 60, overlap=2)
    repo.annotation.enqueue("sides", [f"r{i:04d}" for i in range(60)])
    counts: list[int] = []

    def annotator(n: int) -> None:
        counts.append(work(repo.path, f"a{n}", batch=1 if n % 2 else 4))

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 120
    assert_exact(repo, 60, 2)
    repo.close()


WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_annotation_index import work
print(work(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
"""


@pytest.mark.slow
def test_four_processes_annotate_without_loss_or_duplicates(tmp_path: Path) -> None:
    repo = make_project(tmp_path / "proj", 48, overlap=1)
    repo.annotation.enqueue("sides", [f"r{i:04d}" for i in range(48)])
    script = WORKER.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(repo.path), f"p{n}", str(1 + n % 2 * 2)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(4)
    ]
    answered = [int(p.communicate(timeout=300)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(answered) == 48
    assert_exact(repo, 48, 1)
    repo.close()


def test_cli_submits_a_batch_file_and_repeated_answers(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root, 6, overlap=1).close()
    cli("-C", root, "annotate", "enqueue", "sides", *[f"r{i:04d}" for i in range(6)])
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        json.dumps({"record_id": "r0000", "label": "left"})
        + "\n\n"
        + json.dumps({"record_id": "r0001", "label": "right"})
        + "\n"
    )
    doc = cli_json("-C", root, "annotate", "submit", "sides", "-a", "ann", "--file", answers)
    assert doc["message"] == "ann annotated 2 records for sides v1"
    doc = cli_json(
        "-C", root, "annotate", "submit", "sides", "r0002", "left", "-a", "ann",
        "--answer", "r0003=right", "--answer", "r0004=left",
    )  # fmt: skip
    assert doc["message"] == "ann annotated 3 records for sides v1"
    progress = cli_json("-C", root, "annotate", "progress", "sides")
    assert (progress["done"], progress["annotations"]) == (5, 5)
    shown = cli("-C", root, "annotate", "next", "sides", "-a", "bob").stdout
    assert "record r0005" in shown and "item r0005" in shown


def test_a_catalog_from_before_the_index_keeps_its_annotations_and_hand_outs(
    tmp_path: Path,
) -> None:
    """Upgrading a catalog made before migration 0012: the index is built from the label
    set and the hand-outs on first use, and counts what was annotated and handed out."""
    from alembic import command

    from tillage.store.migrate import _config, head_revision

    repo = make_project(tmp_path / "proj", 10, overlap=2)
    ann = repo.annotation
    ann.enqueue("sides", ["r0000", "r0001", "r0002"])
    ann.submit_many("sides", "ann", {"r0000": "left", "r0001": "right"})
    ann.submit_many("sides", "bob", {"r0000": "left"})
    assert ann.next("sides", "cat", n=1) == ["r0001"]  # handed out, not answered
    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0011")
    path = repo.path
    repo.close()

    assert tillage.Repo.upgrade(path) == ("0011", head_revision())
    with tillage.open(path) as again:
        ann = again.annotation
        progress = ann.progress("sides")
        assert (progress.queued, progress.done, progress.annotations) == (3, 1, 3)
        # r0001 has ann's answer and cat's hand-out: full for overlap 2; cat keeps it.
        assert ann.next("sides", "dan", n=5) == ["r0002"]
        with pytest.raises(tillage.AnnotationConflictError, match="ann has annotated"):
            ann.submit("sides", "ann", "r0001", "left")
        ann.submit("sides", "cat", "r0001", "left")
        assert ann.progress("sides").done == 2


def test_an_annotator_finds_the_records_handed_to_them_and_not_yet_answered(repo: Repo) -> None:
    ids = [f"r{i:04d}" for i in range(40)]
    ann = repo.annotation
    ann.enqueue("sides", ids[:10])
    picked = ann.next("sides", "ann", n=3)
    ann.submit("sides", "ann", picked[1], "right")
    # `next` never hands them to "ann" again; `unanswered` is how they come back.
    assert picked[0] not in ann.next("sides", "ann", n=10)
    assert ann.unanswered("sides", "ann")[:2] == [picked[0], picked[2]]
    assert ann.unanswered("sides", "nobody") == []
