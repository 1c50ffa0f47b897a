"""Typed results of monitoring and labels: frozen values whose ``to_dict()`` is the ``--json``.

Each test builds a real repository through the API, then reads the same thing
through the API and through the CLI with ``--json``: the two must agree, and the
JSON keeps the shape it had when these calls returned dicts.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

import tillage
from tillage.cli.app import app

runner = CliRunner()

ALERT_KEYS = [
    "id",
    "dataset",
    "column",
    "check",
    "kind",
    "branch",
    "status",
    "severity",
    "count",
    "first_seen",
    "last_seen",
    "first_commit",
    "last_commit",
    "muted_until",
    "finding",
    "message",
    "actions",
]
MODEL_KEYS = ["id", "name", "dataset", "commit_id", "importance", "metrics", "created_at"]
MODEL_KEYS += ["principal", "version", "features", "classes", "labelset", "labelset_commit"]
MODEL_KEYS += ["code_version", "artifact"]
CHECK_KEYS = ["dataset", "schema_file", "schema_sha256", "reference", "findings"]
APPLIED_KEYS = ["labelset", "commit", "votes", "labels", "gold", "report", "errors", "model"]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TILLAGE_REPO", raising=False)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "tester")
    monkeypatch.setenv("COLUMNS", "200")


def cli_json(*args: str | Path) -> Any:
    result = runner.invoke(app, [*(str(a) for a in args), "--json"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def frozen(value: object, field: str) -> None:
    """Assigning ``field`` of ``value`` raises: the result is a value, not a record to edit."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def flights(ids: range, origin: str | None = None) -> pa.Table:
    rows = list(ids)
    return pa.table(
        {
            "id": rows,
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in rows],
            "dep_delay": [10.0 + (i * 37 % 101) * 0.5 for i in rows],
        }
    )


@pytest.fixture
def monitored(tmp_path: Path) -> tuple[tillage.Repo, Path]:
    """Three clean days, a schema inferred from them, and a day with an unknown origin."""
    root = tmp_path / "proj"
    repo = tillage.init(root)
    for d in range(3):
        repo.ingest("flights", flights(range(d * 300, (d + 1) * 300)), key="id")
    repo.infer_schema("flights")
    repo.ingest("flights", flights(range(900, 1200), origin="ZZZ"))
    return repo, root


def test_alerts_are_frozen_values_and_their_json_is_the_clis(
    monitored: tuple[tillage.Repo, Path],
) -> None:
    repo, root = monitored
    alerts = repo.quality.alerts()
    [domain] = [a for a in alerts if a.kind == "domain"]
    assert isinstance(domain, tillage.Alert) and isinstance(domain.finding, tillage.Finding)
    assert domain.column == "origin" and "ZZZ" in domain.message
    assert domain.actions == (
        f"tillage alerts accept {domain.id}",
        f"tillage alerts mute {domain.id} --for 7d",
    )
    frozen(domain, "status")
    # Read twice, the same alert is equal and hashes alike; another alert is not equal.
    again = next(a for a in repo.quality.alerts() if a.id == domain.id)
    assert again == domain and hash(again) == hash(domain) and len({again, domain}) == 1
    assert pickle.loads(pickle.dumps(domain)) == domain  # a pipeline step may return it
    assert all(a != domain for a in alerts if a.id != domain.id)

    listed = cli_json("-C", root, "alerts")["alerts"]
    assert listed == [a.to_dict() for a in alerts]
    assert list(listed[0]) == ALERT_KEYS
    assert listed[0]["finding"]["kind"] == alerts[0].kind

    muted = repo.quality.mute_alert(domain.id, "7d")
    assert muted.status == "muted" and muted.muted_until and muted != domain
    [shown] = [a for a in cli_json("-C", root, "alerts", "--all")["alerts"] if a["id"] == domain.id]
    assert shown == muted.to_dict()
    resolved = cli_json("-C", root, "alerts", "resolve", str(domain.id))
    assert resolved["status"] == "resolved"
    [now] = [a for a in repo.quality.alerts(show_all=True) if a.id == domain.id]
    assert resolved == now.to_dict()


def test_accepting_an_alert_returns_the_alert_the_file_and_the_recheck(
    monitored: tuple[tillage.Repo, Path],
) -> None:
    repo, root = monitored
    [domain] = [a for a in repo.quality.alerts() if a.kind == "domain"]
    doc = cli_json("-C", root, "alerts", "accept", str(domain.id))
    assert list(doc) == ["alert", "schema_file", "remaining"]
    assert doc["alert"]["status"] == "accepted" and doc["remaining"] == []
    [accepted] = [a for a in repo.quality.alerts(show_all=True) if a.id == domain.id]
    assert doc["alert"] == accepted.to_dict()
    done = tillage.AcceptedAlert(alert=accepted, schema_file=doc["schema_file"], remaining=())
    assert done.to_dict() == doc
    frozen(done, "schema_file")


def test_ingest_checks_are_typed_and_ingest_json_carries_their_dicts(
    monitored: tuple[tillage.Repo, Path], tmp_path: Path
) -> None:
    repo, root = monitored
    [check] = repo.quality.checks()
    assert isinstance(check, tillage.CheckRecord) and check.dataset == "flights"
    assert check.schema_file == "schemas/flights.yaml"
    assert isinstance(check.findings, tuple) and check.findings
    assert all(isinstance(f, tillage.Finding) for f in check.findings)
    assert {f.kind for f in check.findings} >= {"domain"}
    frozen(check, "findings")
    assert repo.quality.checks() == [check]

    day = tmp_path / "day5.parquet"
    import pyarrow.parquet as pq

    pq.write_table(flights(range(1200, 1500), origin="ZZZ"), day)
    doc = cli_json("-C", root, "ingest", "flights", day)
    assert doc["checks"] == [c.to_dict() for c in repo.quality.checks(doc["id"])]
    assert list(doc["checks"][0]) == CHECK_KEYS
    finding = doc["checks"][0]["findings"][0]
    assert tillage.Finding.from_dict(finding).to_dict() == finding


def test_recorded_models_are_frozen_values(monitored: tuple[tillage.Repo, Path]) -> None:
    repo, _ = monitored
    model = repo.record_model(
        "m", "flights", feature_importance={"dep_delay": 0.9}, metrics={"auc": 0.7}
    )
    assert isinstance(model, tillage.Model) and model.importance == {"dep_delay": 0.9}
    assert list(model.to_dict()) == MODEL_KEYS
    assert model.to_dict()["metrics"] == {"auc": 0.7}
    frozen(model, "name")
    assert repo.models.recorded("m") == [model] and hash(repo.models.recorded("m")[0]) == hash(
        model
    )
    changed = repo.models.set_feature_importance("m", {"origin": 0.5})
    assert changed.id == model.id and changed.importance == {"origin": 0.5}
    assert changed != model and repo.models.recorded() == [changed]


# -- labels ---------------------------------------------------------------------------

TAXONOMY = {
    "name": "source",
    "versions": [
        {"version": 1, "classes": {"android": "", "iphone": "", "other": ""}},
        {
            "version": 2,
            "classes": {"android": "", "apple": "", "web": "", "bot": ""},
            "map": {"android": "android", "iphone": "apple", "other": ["web", "bot"]},
        },
    ],
}
TASK = {
    "labelset": "src",
    "versions": [{"overlap": 2, "taxonomy_version": 2, "instructions": "Which?"}],
}
LFS = """
import tillage

@tillage.labeling_function()
def positive(record):
    return "android" if record["x"] > 0 else None

@tillage.labeling_function()
def negative(record):
    return "apple" if record["x"] < -0.5 else None
"""


@pytest.fixture
def labelled(tmp_path: Path) -> tuple[tillage.Repo, Path]:
    """120 records with a feature that tells the two classes apart, labelled with 8 flips."""
    root = tmp_path / "proj"
    repo = tillage.init(root)
    (root / "taxonomies").mkdir()
    (root / "taxonomies" / "source.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (root / "tasks").mkdir()
    (root / "tasks" / "t.yaml").write_text(yaml.safe_dump(TASK))
    rng = np.random.default_rng(0)
    n = 120
    truth = np.where(rng.random(n) < 0.5, "android", "apple")
    x = np.where(truth == "android", 1.0, -1.0) + rng.normal(0, 0.4, n)
    ids = [f"r{i}" for i in range(n)]
    repo.ingest("recs", pa.table({"id": ids, "x": x}), key="id")
    repo.labels.create("src", records="recs", taxonomy="source")
    given = truth.copy()
    flipped = rng.choice(n, 8, replace=False)
    given[flipped] = np.where(truth[flipped] == "android", "apple", "android")
    repo.labels.add("src", ids, list(given), source="import")
    return repo, root


def test_label_sets_are_frozen_values(labelled: tuple[tillage.Repo, Path]) -> None:
    repo, root = labelled
    created = repo.labels.create("gold", records="recs", taxonomy="source")
    assert isinstance(created, tillage.LabelSet) and created.records == "recs"
    assert list(created.to_dict()) == ["name", "records", "taxonomy", "created_at"]
    frozen(created, "taxonomy")
    doc = cli_json(
        "-C", root, "labels", "create", "more", "--records", "recs", "--taxonomy", "source"
    )
    assert list(doc) == list(created.to_dict()) and doc["name"] == "more"
    twin = dataclasses.replace(created)
    assert twin == created and hash(twin) == hash(created)


def test_label_issues_name_records_and_match_the_cli(labelled: tuple[tillage.Repo, Path]) -> None:
    repo, root = labelled
    found = repo.labels.issues("src")
    assert isinstance(found, tillage.LabelIssues) and found.labelset == "src"
    assert found.issues and all(i.record_id and i.record_id.startswith("r") for i in found.issues)
    frozen(found, "labelset")
    frozen(found.issues[0], "record_id")
    doc = found.to_dict()
    assert list(doc)[:2] == ["labelset", "classes"] and doc["issue_count"] == len(found)
    assert list(doc["issues"][0])[-1] == "record_id"
    assert cli_json("-C", root, "labels", "issues", "src") == doc


def test_labeling_functions_report_is_typed_and_the_cli_prints_its_dict(
    labelled: tuple[tillage.Repo, Path], tmp_path: Path
) -> None:
    repo, root = labelled
    lfs = tmp_path / "lfs.py"
    lfs.write_text(LFS)
    functions = tillage.load_functions(str(lfs))
    report = repo.labels.apply_functions("src", functions, gold="src", write=False)
    assert isinstance(report, tillage.AppliedFunctions) and report.commit is None
    assert isinstance(report.votes, tillage.Tally) and report.votes.total > 0
    assert set(report.labels.per_class) == {"android", "apple", "web", "bot"}
    assert report.gold is not None and report.gold.records == 120
    assert report.gold.model_accuracy is not None and report.gold.model_accuracy > 0.5
    frozen(report, "commit")
    frozen(report.votes, "total")
    doc = cli_json("-C", root, "lf", "report", lfs, "src", "--gold", "src")
    assert doc == report.to_dict()
    assert list(doc) == APPLIED_KEYS
    applied = cli_json("-C", root, "lf", "apply", lfs, "src")
    assert applied["commit"] == repo.refs.log(dataset="src", limit=1)[0].id


def test_annotation_progress_items_and_aggregates_are_typed(
    labelled: tuple[tillage.Repo, Path],
) -> None:
    repo, root = labelled
    ann = repo.annotation
    ann.enqueue("t", ["r0", "r1"])
    [item] = ann.show("t", ["r1"])
    assert isinstance(item, tillage.AnnotationItem) and item.record_id == "r1"
    assert set(item.fields) == {"x"}
    frozen(item, "fields")
    handed = cli_json("-C", root, "annotate", "next", "t", "--annotator", "ann", "-n", "2")
    assert handed["items"] == [i.to_dict() for i in ann.show("t", ["r0", "r1"])]
    # Another annotator is handed the same two records (overlap 2), with the same content.
    task = ann.hand_out("t", "bob", n=2)
    assert isinstance(task, tillage.AnnotationTask) and task.records == ("r0", "r1")
    assert task.items[1] == item and hash(task.items[1]) == hash(item)
    assert task.to_dict() == handed
    assert list(handed) == ["task", "spec_version", "records", "items", "instructions"]
    frozen(task, "records")
    for who in ("ann", "bob"):
        ann.submit("t", who, "r0", "android")
    ann.submit("t", "ann", "r1", "apple")

    progress = ann.progress("t")
    assert isinstance(progress, tillage.AnnotationProgress)
    assert (progress.queued, progress.done, progress.annotations) == (2, 1, 3)
    assert progress.message == "task t has 1/2 records fully annotated"
    frozen(progress, "done")
    assert progress == ann.progress("t") and hash(progress) == hash(ann.progress("t"))
    # A pipeline step may return it: step results are pickled.
    assert pickle.loads(pickle.dumps(progress)) == progress
    doc = cli_json("-C", root, "annotate", "progress", "t")
    assert doc == progress.to_dict()
    assert list(doc) == ["task", "spec_version", "queued", "done", "annotations", "message"]

    quality = repo.labels.aggregate_annotations("src")
    assert isinstance(quality, tillage.AggregatedAnnotations)
    assert quality.commit == repo.refs.log(dataset="src", limit=1)[0].id
    assert {a.annotator for a in quality.annotators} == {"ann", "bob"}
    frozen(quality, "commit")
    doc = quality.to_dict()
    assert list(doc)[:2] == ["labelset", "commit"] and {r["record"] for r in doc["records"]} == {
        "r0",
        "r1",
    }
    again = cli_json("-C", root, "labels", "aggregate", "src")
    assert list(again) == list(doc) and again["records"] == doc["records"]


def test_migrating_labels_reports_what_to_redo(labelled: tuple[tillage.Repo, Path]) -> None:
    repo, _ = labelled
    repo.labels.add(
        "src", ["r0", "r1"], ["other", "iphone"], kind="lf", source="odd", taxonomy_version=1
    )
    report = repo.migrate_labels("src")
    assert isinstance(report, tillage.MigrationReport) and report.version == 2
    assert report.relabel == (
        tillage.Relabel(record_id="r0", why="'other' was split into web, bot in version 2"),
    )
    assert report.rerun_labeling_functions == ("odd",)
    frozen(report, "carried")
    assert report.to_dict() == {
        "labelset": "src",
        "taxonomy": "source",
        "version": 2,
        "carried": report.carried,
        "commit": report.commit,
        "relabel": [{"record_id": "r0", "why": "'other' was split into web, bot in version 2"}],
        "rerun_labeling_functions": ["odd"],
    }
    assert report.carried == 1 and report.commit == repo.refs.log(dataset="src", limit=1)[0].id
    assert hash(report) == hash(dataclasses.replace(report))
