"""Taxonomies, label sets, training sets and annotation tasks, through a real repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

import tillage
from tillage import Repo
from tillage.labels.taxonomy import Taxonomy

TAXONOMY = {
    "name": "source",
    "versions": [
        {"version": 1, "classes": {"android": "Android phone", "iphone": "iPhone", "other": ""}},
        {
            "version": 2,
            "classes": {"android": "", "apple": "iPhone or iPad", "web": "", "bot": ""},
            "map": {"android": "android", "iphone": "apple", "other": ["web", "bot"]},
        },
    ],
}

TASK = {
    "name": "tweets",
    "labelset": "source",
    "versions": [
        {"version": 1, "taxonomy_version": 1, "overlap": 2, "instructions": "Which phone?"},
        {"version": 2, "taxonomy_version": 2, "overlap": 2, "instructions": "Which device?"},
    ],
}


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = tillage.init(tmp_path / "proj")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "source.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "tweets.yaml").write_text(yaml.safe_dump(TASK))
    r.ingest(
        "tweets",
        pa.table({"id": [f"t{i}" for i in range(6)], "text": [f"tweet {i}" for i in range(6)]}),
        key="id",
    )
    r.labels.create("source", records="tweets", taxonomy="source")
    yield r
    r.close()


def test_taxonomy_carries_labels_and_names_what_to_relabel() -> None:
    tax = Taxonomy.from_dict(TAXONOMY)
    carried = tax.carry(["android", "iphone", "other", None], start=1)
    assert carried.labels == ["android", "apple", None, None]
    assert carried.relabel == [2] and "split" in carried.reasons[2]
    assert tax.carries_cleanly("iphone", 1) and not tax.carries_cleanly("other", 1)
    broken = {**TAXONOMY, "versions": [TAXONOMY["versions"][0], {**TAXONOMY["versions"][1]}]}
    broken["versions"][1] = {**broken["versions"][1], "map": {"android": "android"}}
    with pytest.raises(tillage.InputError, match=r"leaves class.*iphone, other.*unmapped"):
        Taxonomy.from_dict(broken)
    wrong = {**TAXONOMY, "versions": [TAXONOMY["versions"][0], {**TAXONOMY["versions"][1]}]}
    wrong["versions"][1] = {
        **wrong["versions"][1],
        "map": {**TAXONOMY["versions"][1]["map"], "iphone": "ipad"},
    }
    with pytest.raises(tillage.InputError, match="ipad"):
        Taxonomy.from_dict(wrong)
    with pytest.raises(tillage.InputError, match="no version 7"):
        tax.version(7)


def test_label_events_current_labels_and_training_set(repo: Repo) -> None:
    repo.labels.add(
        "source",
        ["t0", "t1", "t2"],
        ["android", "iphone", "android"],
        kind="lf",
        source="has_link",
        taxonomy_version=1,
    )
    repo.labels.add(
        "source", ["t1"], ["android"], kind="aggregate", source="label-model", confidence=0.9
    )
    repo.labels.add("source", ["t1"], ["apple"], kind="lf", source="late_night")
    current = {r["record_id"]: r for r in repo.labels.current("source").to_pylist()}
    assert current["t1"]["label"] == "android" and current["t1"]["kind"] == "aggregate"
    assert current["t0"]["source"] == "has_link"
    ts = repo.labels.training_set("tweets", "source")
    assert ts.column("id").to_pylist() == ["t0", "t1", "t2"]
    assert ts.column("label").to_pylist() == ["android", "android", "android"]
    assert ts.column("label_confidence").to_pylist()[1] == 0.9
    assert "text" in ts.column_names
    # Label sets are versioned like datasets.
    first = repo.refs.log(dataset="source")[-1]
    assert repo.labels.current("source", first.id).num_rows == 3

    with pytest.raises(tillage.InputError, match=r"not in dataset 'tweets'.*'t99'"):
        repo.labels.add("source", ["t99"], ["android"], source="x")
    with pytest.raises(tillage.InputError, match="'ipad' are not classes"):
        repo.labels.add("source", ["t0"], ["ipad"], source="x")
    with pytest.raises(tillage.NoSuchLabelSetError, match="no label set 'nope'"):
        repo.labels.current("nope")
    with pytest.raises(tillage.InputError, match="not 'other'"):
        repo.labels.training_set("other", "source")
    assert repo.refs.log(dataset="source")[0].message.startswith("1 label(s) from lf late_night")


def test_annotation_overlap_spec_versions_and_bad_input(repo: Repo) -> None:
    ann = repo.annotation
    assert ann.enqueue("tweets", ["t0", "t1", "t2"]) == 3
    assert ann.enqueue("tweets", ["t0", "t3"]) == 1
    with pytest.raises(tillage.InputError, match="not in dataset"):
        ann.enqueue("tweets", ["nope"])

    # Version 1: two annotators per record.
    assert ann.next("tweets", "ann", n=2, spec_version=1) == ["t0", "t1"]
    ann.submit("tweets", "ann", "t0", "iphone", spec_version=1)
    ann.submit("tweets", "ann", "t1", "other", spec_version=1)
    assert ann.next("tweets", "bob", n=5, spec_version=1) == ["t0", "t1", "t2", "t3"]
    ann.submit("tweets", "bob", "t0", "iphone", spec_version=1)
    assert ann.progress("tweets", 1).done == 1
    with pytest.raises(tillage.InputError, match="has its 2 annotation"):
        ann.submit("tweets", "cat", "t0", "android", spec_version=1)
    with pytest.raises(tillage.InputError, match="already"):
        ann.submit("tweets", "ann", "t0", "android", spec_version=1)
    with pytest.raises(tillage.InputError, match="not queued"):
        ann.submit("tweets", "cat", "t5", "android", spec_version=1)
    with pytest.raises(tillage.InputError, match="no spec version 3"):
        ann.next("tweets", "cat", spec_version=3)
    with pytest.raises(tillage.InputError, match="not classes"):
        ann.submit("tweets", "cat", "t2", "apple", spec_version=1)

    # Version 2: t0's two iPhone labels carry over as "apple", so t0 is done; t1's
    # "other" was split, so it needs two new annotations. ann never sees t0 or t1 again.
    assert "t0" not in ann.next("tweets", "cat", n=5)
    assert ann.next("tweets", "ann", n=5) == ["t2", "t3"]
    ann.submit("tweets", "cat", "t1", "bot")
    assert ann.progress("tweets").done == 1  # t0 only: t1 has one v2 annotation
    # Single submissions wait in the annotation index until a flush commits them.
    assert "source" not in repo.datasets.pins("main")
    assert ann.flush("tweets") is not None and ann.flush("tweets") is None
    events = repo.read("source").to_pylist()
    assert {(e["source"], e["spec_version"], e["taxonomy_version"]) for e in events} >= {
        ("ann", 1, 1),
        ("cat", 2, 2),
    }


def test_taxonomy_change_carries_labels_and_lists_what_to_redo(repo: Repo) -> None:
    repo.labels.add(
        "source",
        ["t0", "t1", "t2"],
        ["android", "iphone", "other"],
        kind="lf",
        source="has_link",
        taxonomy_version=1,
    )
    report = repo.migrate_labels("source")
    assert report.version == 2 and report.carried == 2
    assert report.relabel == (
        tillage.Relabel(record_id="t2", why="'other' was split into web, bot in version 2"),
    )
    assert report.rerun_labeling_functions == ("has_link",)
    current = {r["record_id"]: r for r in repo.labels.current("source").to_pylist()}
    assert current["t1"]["label"] == "apple" and current["t1"]["taxonomy_version"] == 2
    assert current["t0"]["source"] == "has_link"
    # Nothing is lost: the version-1 events are still there.
    assert repo.read("source").num_rows == 5


def test_a_pipeline_waits_for_its_annotation_quota(repo: Repo, tmp_path: Path) -> None:
    flow = tmp_path / "label_flow.py"
    flow.write_text(
        "import tillage\n"
        "@tillage.pipeline\n"
        "def gather(n: int) -> int:\n"
        "    tillage.wait_for_annotations('tweets', n, spec_version=1)\n"
        "    return n\n"
    )
    repo.annotation.enqueue("tweets", ["t0", "t1"])
    run = tillage.run(repo, f"{flow}:gather", {"n": 2})
    assert run.waiting_on is not None
    assert run.waiting_on["message"] == "task tweets has 0/2 labelled records"
    for record in ("t0", "t1"):
        for who in ("ann", "bob"):
            repo.annotation.submit("tweets", who, record, "android", spec_version=1)
    assert tillage.Runs(repo).resume(run.id).result == 2


def test_label_issues_name_flipped_records(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    n = 400
    truth = np.where(rng.random(n) < 0.5, "android", "iphone")
    x = np.where(truth == "android", 1.0, -1.0) + rng.normal(0, 0.4, n)
    repo = tillage.init(tmp_path / "p")
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "source.yaml").write_text(yaml.safe_dump(TAXONOMY))
    ids = [f"r{i}" for i in range(n)]
    repo.ingest("recs", pa.table({"id": ids, "x": x, "y": rng.normal(0, 1, n)}), key="id")
    repo.labels.create("src", records="recs", taxonomy="source")
    given = truth.copy()
    flipped = rng.choice(n, 20, replace=False)
    given[flipped] = np.where(truth[flipped] == "android", "iphone", "android")
    repo.labels.add("src", ids, list(given), source="import", taxonomy_version=1)
    found = repo.labels.issues("src")
    named = {i.record_id for i in found.issues}
    hits = named & {ids[i] for i in flipped}
    assert len(hits) >= 16 and len(named) <= 30
    top = found.issues[0]
    assert top.suggested != top.given and top.record_id in ids
    repo.close()


def test_labeling_functions_and_annotator_aggregation_write_aggregates(repo: Repo) -> None:
    from tillage.labels.functions import labeling_function

    @labeling_function()
    def short(record: dict) -> str | None:
        return "android" if record["text"].endswith(("0", "1", "2")) else None

    @labeling_function()
    def broken(record: dict) -> str | None:
        if record["id"] == "t3":
            raise ValueError("cannot read this one")
        return "apple" if record["id"] in ("t4", "t5") else None

    repo.labels.add("source", ["t0", "t4"], ["android", "apple"], source="gold")
    done = repo.labels.apply_functions("source", [short, broken], gold="source")
    assert [e.record for e in done.errors] == ["t3"]
    assert "cannot read this one" in done.errors[0].error
    assert done.report["short"].coverage == pytest.approx(0.5)
    events = repo.read("source").to_pylist()
    assert {e["source"] for e in events if e["kind"] == "lf"} == {"short", "broken"}
    current = {r["record_id"]: r for r in repo.labels.current("source").to_pylist()}
    assert current["t0"]["kind"] == "aggregate" and current["t0"]["source"] == "label-model"

    ann = repo.annotation
    ann.enqueue("tweets", ["t0", "t1"])
    for record, who, label in [
        ("t0", "ann", "android"),
        ("t0", "bob", "android"),
        ("t1", "ann", "android"),
        ("t1", "cat", "iphone"),
    ]:
        ann.submit("tweets", who, record, label, spec_version=1)
    quality = repo.labels.aggregate_annotations("source")
    assert set(quality.result.records) == {"t0", "t1"}
    assert {a.annotator for a in quality.annotators} >= {"ann", "bob"}
    current = {r["record_id"]: r for r in repo.labels.current("source").to_pylist()}
    assert current["t1"]["source"] == "dawid-skene" and current["t1"]["label"] == "android"
    with pytest.raises(tillage.InputError, match="no annotations"):
        repo.labels.create("empty", records="tweets", taxonomy="source")
        repo.labels.aggregate_annotations("empty")


def test_training_set_read_in_a_run_is_in_its_lineage(repo: Repo, tmp_path: Path) -> None:
    repo.labels.add("source", ["t0", "t1"], ["android", "apple"], source="gold")
    flow = tmp_path / "train_flow.py"
    flow.write_text(
        "import tillage\n"
        "@tillage.step\n"
        "def rows() -> int:\n"
        "    return tillage.context().repo.labels.training_set('tweets', 'source').num_rows\n"
        "@tillage.pipeline\n"
        "def train() -> int:\n"
        "    return rows()\n"
    )
    run = tillage.run(repo, f"{flow}:train")
    assert run.result == 2
    read = {r["dataset"]: r["commit"] for r in run.steps[0].reads}
    assert read == {"tweets": repo.refs.resolve("main"), "source": repo.refs.resolve("main")}


def test_label_events_from_one_source_after_another_open_no_drift_alerts(tmp_path: Path) -> None:
    """Each batch of label events comes from one source (an import, then annotators, then
    a model): comparing a batch with the ones before compares sources, not data."""
    r = tillage.init(tmp_path / "proj")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "source.yaml").write_text(yaml.safe_dump(TAXONOMY))
    ids = [f"t{i}" for i in range(600)]
    r.ingest("tweets", pa.table({"id": ids, "text": [f"tweet {i}" for i in ids]}), key="id")
    r.labels.create("source", records="tweets", taxonomy="source")
    classes = ["android", "iphone", "other"]
    for n, (kind, source) in enumerate([("import", "csv"), ("import", "csv"), ("model", "m1")]):
        chunk = ids[n * 200 : (n + 1) * 200]
        labels = [classes[(i + n) % 3] for i in range(len(chunk))]
        r.labels.add(
            "source",
            chunk,
            labels,
            kind=kind,
            source=source,
            taxonomy_version=1,
            confidence=0.5 + 0.2 * n,
        )
    assert r.quality.alerts(dataset="source") == []
    r.close()


def test_many_annotations_make_one_commit_and_one_bad_answer_refuses_all(repo: Repo) -> None:
    ann = repo.annotation
    ann.enqueue("tweets", ["t0", "t1", "t2", "t3"])
    ann.submit("tweets", "ann", "t3", "android", spec_version=1)
    ann.flush("tweets")
    before = len(repo.refs.log())
    events_before = repo.read("source").num_rows
    bad_answers: list[tuple[dict[str, str], str]] = [
        ({"t0": "iphone", "t5": "android"}, "not queued"),
        ({"t0": "iphone", "t3": "android"}, "annotated record 't3' already"),
        ({"t0": "iphone", "t1": "apple"}, "not classes"),
        ({}, "no annotations"),
    ]
    for answers, fragment in bad_answers:
        with pytest.raises(tillage.InputError, match=fragment):
            ann.submit_many("tweets", "ann", answers, spec_version=1)
    assert len(repo.refs.log()) == before  # nothing was written
    assert repo.read("source").num_rows == events_before

    commit = ann.submit_many("tweets", "ann", {"t0": "iphone", "t1": "other"}, spec_version=1)
    assert commit.message == "ann annotated 2 records for tweets v1"
    assert len(repo.refs.log()) == before + 1
    made = [e for e in repo.read("source").to_pylist() if e["source"] == "ann"]
    assert sorted((e["record_id"], e["label"]) for e in made) == [
        ("t0", "iphone"),
        ("t1", "other"),
        ("t3", "android"),
    ]
