"""Alerts and labels on every catalog backend: profiles (binary), findings (JSON), label sets."""

from __future__ import annotations

import pyarrow as pa
import pytest
import yaml

import tillage
from tillage import Repo

TAXONOMY = {
    "name": "source",
    "versions": [{"version": 1, "classes": {"android": "", "iphone": "", "other": ""}}],
}


def days(repo: Repo, n: int) -> None:
    """``n`` days of 200 rows of ``t``: ``v`` is "a" or "b", half each."""
    for d in range(n):
        ids = list(range(d * 200, (d + 1) * 200))
        repo.ingest("t", pa.table({"id": ids, "v": ["a", "b"] * 100}), key="id")


def test_alerts_accept_mute_and_resolve(repo: Repo) -> None:
    days(repo, 3)
    assert repo.profile("t").rows == 600
    _, path = repo.infer_schema("t")
    repo.record_model("m", "t", feature_importance={"v": 1.0})
    c = repo.ingest("t", pa.table({"id": list(range(600, 800)), "v": ["z"] * 200}))
    [check] = repo.quality.checks(c.id)
    assert any(f.kind == "domain" for f in check.findings)
    [alert] = [a for a in repo.quality.alerts() if a.kind == "domain"]
    assert alert.finding.importance is not None and alert.finding.importance.rank == 1
    done = repo.quality.accept_alert(alert.id)
    assert done.alert.status == "accepted" and done.remaining == ()
    assert "z" in path.read_text()
    assert alert.id not in [a.id for a in repo.quality.alerts()]

    repo.ingest("t", pa.table({"id": list(range(800, 1000)), "v": ["y"] * 200}))
    [other] = [a for a in repo.quality.alerts() if a.kind == "domain"]
    muted = repo.quality.mute_alert(other.id, "7d")
    assert muted.status == "muted" and muted.muted_until
    assert other.id not in [a.id for a in repo.quality.alerts()]
    assert other.id in [a.id for a in repo.quality.alerts(show_all=True)]
    assert repo.quality.resolve_alert(other.id).status == "resolved"
    with pytest.raises(tillage.NoSuchAlertError):
        repo.quality.resolve_alert(other.id + 1000)


def test_label_sets_and_labels(repo: Repo) -> None:
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "source.yaml").write_text(yaml.safe_dump(TAXONOMY))
    records = {"id": [f"t{i}" for i in range(4)], "text": [f"tweet {i}" for i in range(4)]}
    repo.ingest("tweets", pa.table(records), key="id")
    created = repo.labels.create("source", records="tweets", taxonomy="source")
    assert created.name == "source"
    first = repo.labels.add(
        "source", ["t0", "t1"], ["android", "iphone"], kind="lf", source="has_link"
    )
    repo.labels.add("source", ["t1"], ["android"], kind="aggregate", source="model", confidence=0.9)
    current = {r["record_id"]: r for r in repo.labels.current("source").to_pylist()}
    assert {k: r["label"] for k, r in current.items()} == {"t0": "android", "t1": "android"}
    assert current["t1"]["confidence"] == 0.9
    assert repo.labels.current("source", first.id).num_rows == 2
    training = repo.labels.training_set("tweets", "source")
    assert training.column("label").to_pylist() == ["android", "android"]
    with pytest.raises(tillage.InputError, match="not classes"):
        repo.labels.add("source", ["t2"], ["ipad"], source="x")
    with pytest.raises(tillage.NoSuchLabelSetError):
        repo.labels.current("nope")


def test_alert_outbox_rows_land_with_the_commit_and_are_sent_once(repo: Repo) -> None:
    """Outbox rows land with the commit; two drainers at once send each row once."""
    import json
    import threading
    import warnings

    config = repo.repo_dir / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["quality"] = {"sinks": [{"type": "jsonl", "path": "out/alerts.jsonl"}]}
    config.write_text(yaml.safe_dump(cfg))
    project = repo.path
    blocker = project / "out"
    blocker.write_text("a file where the sink's folder should be")
    with tillage.open(project) as mine:
        days(mine, 3)
        mine.infer_schema("t")
        for d in range(3, 7):
            ids = list(range(d * 200, (d + 1) * 200))
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                mine.ingest("t", pa.table({"id": ids, "v": [f"z{d}"] * 200}))
        queued = mine.quality.alert_deliveries()
    assert len(queued) >= 4 and {r.status for r in queued} == {"pending"}
    blocker.unlink()

    barrier = threading.Barrier(2)

    def drain() -> None:
        with tillage.open(project) as other:
            barrier.wait()
            other.quality.deliver_alerts()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    lines = (project / "out" / "alerts.jsonl").read_text().splitlines()
    sent = sorted(json.loads(line)["delivery"] for line in lines)
    assert sent == sorted(r.event["delivery"] for r in queued)
