"""Monitoring through the repository: profiles on ingest, schema checks, drift, alerts, sinks."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest
import yaml

import tillage
from tillage import Repo


def batch(ids: range | list[int], *, delay: float = 10.0, origin: str | None = None) -> pa.Table:
    """A flights-like batch: keyed by ``id``, a delay around ``delay``, three airports."""
    ids = list(ids)
    return pa.table(
        {
            "id": ids,
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in ids],
            "dep_delay": [delay + (i * 37 % 101) * 0.5 for i in ids],
            "distance": [100.0 + (i % 11) * 50 for i in ids],
        }
    )


def seeded(repo: Repo, days: int = 3, rows: int = 300) -> None:
    for d in range(days):
        repo.ingest("flights", batch(range(d * rows, (d + 1) * rows)), key="id")


# -- profiles -------------------------------------------------------------------------


def test_ingest_stores_batch_profiles_that_merge_into_the_version(repo: Repo) -> None:
    seeded(repo, days=3)
    prof = repo.profile("flights")
    assert prof.rows == 900
    assert prof["id"].min == 0 and prof["id"].max == 899
    assert prof["dep_delay"].nulls == 0
    # The version profile was merged from the batch profiles and stored for next time.
    pin = repo.datasets.pins()["flights"]
    assert repo._storage.monitor.store.version_profile("flights", pin.lance_branch, pin.version)
    first = repo.refs.log()[-1]
    assert repo.profile("flights", first.id).rows == 300


def test_profile_after_upsert_and_delete_is_computed_from_the_data(repo: Repo) -> None:
    seeded(repo, days=2)
    repo.ingest("flights", batch([0, 1], delay=1000.0), mode="upsert")
    repo.ingest("flights", pa.table({"id": [5]}), mode="delete")
    prof = repo.profile("flights")
    assert prof.rows == 599
    assert prof["dep_delay"].max == 1018.5  # id 1: 1000 + 37 * 0.5


# -- schema ---------------------------------------------------------------------------


def test_infer_schema_writes_a_reviewable_file_and_ingest_checks_it(repo: Repo) -> None:
    seeded(repo)
    schema, path = repo.infer_schema("flights")
    assert path == repo.path / "schemas" / "flights.yaml"
    text = path.read_text()
    assert "dep_delay" in text and "origin" in text
    with pytest.raises(tillage.InputError, match="already exists"):
        repo.infer_schema("flights")

    c = repo.ingest("flights", batch(range(900, 1200), origin="ZZZ"))
    assert c.changes["flights"]["schema"]["sha256"] == schema.content_hash
    [check] = repo.quality.checks(c.id)
    kinds = {(f.column, f.kind) for f in check.findings}
    assert ("origin", "domain") in kinds
    alerts = repo.quality.alerts()
    [domain] = [a for a in alerts if a.column == "origin" and a.kind == "domain"]
    assert domain.count == 1 and "ZZZ" in domain.message

    # The same problem the next day updates the alert instead of opening another.
    c2 = repo.ingest("flights", batch(range(1200, 1500), origin="ZZZ"))
    again = [a for a in repo.quality.alerts() if a.column == "origin" and a.kind == "domain"]
    assert len(again) == 1 and again[0].count == 2 and again[0].last_commit == c2.id


def test_blocking_rule_quarantines_the_batch_and_leaves_the_branch(repo: Repo) -> None:
    seeded(repo)
    _, path = repo.infer_schema("flights")
    doc = yaml.safe_load(path.read_text())
    doc["columns"]["dep_delay"]["severity"] = {"range": "block"}
    path.write_text(yaml.safe_dump(doc))
    head = repo.refs.resolve("main")

    with pytest.raises(tillage.QualityCheckError) as info:
        repo.ingest("flights", batch(range(900, 1000), delay=5000.0))
    err = info.value
    assert err.quarantine == "quarantine/flights-1"
    assert "dep_delay" in str(err) and "quarantine/flights-1" in str(err)
    assert repo.refs.resolve("main") == head
    kept = repo.read("flights", "quarantine/flights-1", where="id >= 900")
    assert kept.num_rows == 100
    # Fixed data lands normally.
    repo.ingest("flights", batch(range(900, 1000)))
    assert repo.read("flights").num_rows == 1000


def test_check_reports_findings_for_a_ref_and_a_file(repo: Repo, tmp_path: Path) -> None:
    seeded(repo)
    with pytest.raises(tillage.InputError, match="schema infer"):
        repo.quality.check("flights")
    repo.infer_schema("flights")
    assert repo.quality.check("flights") == []
    bad = tmp_path / "bad.parquet"
    import pyarrow.parquet as pq

    t = batch(range(5000, 5100), delay=1e6)
    pq.write_table(t, bad)
    found = repo.quality.check("flights", file=bad)
    [rng] = [f for f in found if f.kind == "range"]
    assert rng.column == "dep_delay" and rng.rows == 100
    assert "maximum" in rng.message


def test_bad_schema_file_is_a_clear_error(repo: Repo) -> None:
    seeded(repo)
    _, path = repo.infer_schema("flights")
    path.write_text("columns: [this is: not: valid")
    with pytest.raises(tillage.SchemaFileError, match=r"flights\.yaml"):
        repo.ingest("flights", batch(range(900, 1000)))
    assert repo.read("flights").num_rows == 900
    path.write_text(yaml.safe_dump({"tillage_schema": 1, "dataset": "flights", "colums": {}}))
    with pytest.raises(tillage.SchemaFileError, match="colums"):
        repo.quality.check("flights")


# -- drift ----------------------------------------------------------------------------


def test_drift_against_a_ref_names_column_and_values(repo: Repo) -> None:
    seeded(repo)
    repo.create_tag("before")
    repo.ingest("flights", batch(range(900, 3900), delay=200.0, origin="JFK"))
    found = repo.drift("flights", against="before")
    by_col = {f.column: f for f in found}
    assert "median rose" in by_col["dep_delay"].message
    assert "origin" in by_col
    assert all(f.reference.startswith("before") for f in found)
    assert "id" not in by_col
    with pytest.raises(tillage.NoSuchRefError):
        repo.drift("flights", against="nope")
    with pytest.raises(tillage.InputError, match="not both"):
        repo.drift("flights", against="before", window=2)


def test_same_data_gives_no_drift_and_window_compares_batches(repo: Repo) -> None:
    seeded(repo, days=6)
    assert repo.drift("flights", window=3) == []
    c = repo.ingest("flights", batch(range(1800, 2100), delay=500.0))
    [check] = repo.quality.checks(c.id)
    assert any(f.column == "dep_delay" for f in check.findings)
    assert check.reference.startswith("the 6 previous batch")
    found = repo.drift("flights", window=3)
    assert [(f.column, f.kind) for f in found] == [("dep_delay", "quantiles")]


def test_importance_ranks_and_suppresses_drift(repo: Repo) -> None:
    seeded(repo, days=4)
    with pytest.raises(tillage.InputError, match="nope"):
        repo.record_model("m", "flights", feature_importance={"nope": 1.0})
    repo.record_model("m", "flights", feature_importance={"dep_delay": 0.9, "origin": 0.0})
    repo.ingest("flights", batch(range(1200, 2400), delay=300.0, origin="JFK"))
    shown = repo.drift("flights", window=2)
    assert [(f.column, f.kind) for f in shown] == [("dep_delay", "quantiles")]
    assert str(shown[0].importance) == "importance rank 1 of 2"
    everything = repo.drift("flights", window=2, show_all=True)
    hidden = [f for f in everything if f.suppressed]
    assert hidden and all(f.column == "origin" for f in hidden)
    # The reference can be the model's training data.
    assert repo.drift("flights", against="model:m")


# -- alerts ---------------------------------------------------------------------------


def test_accept_widens_the_schema_and_mute_and_resolve(repo: Repo) -> None:
    seeded(repo)
    _, path = repo.infer_schema("flights")
    before = path.read_text()
    repo.ingest("flights", batch(range(900, 1200), origin="ZZZ"))
    [alert] = [a for a in repo.quality.alerts() if a.kind == "domain"]
    done = repo.quality.accept_alert(alert.id)
    assert done.alert.status == "accepted"
    assert done.remaining == ()
    assert path.read_text() != before and "ZZZ" in path.read_text()
    assert repo.quality.check("flights") == []
    assert alert.id not in [a.id for a in repo.quality.alerts()]

    repo.ingest("flights", batch(range(1200, 1500), delay=1e5))
    [rng] = [a for a in repo.quality.alerts() if a.kind == "range"]
    muted = repo.quality.mute_alert(rng.id, "7d")
    assert muted.status == "muted" and muted.muted_until
    assert rng.id not in [a.id for a in repo.quality.alerts()]
    assert rng.id in [a.id for a in repo.quality.alerts(show_all=True)]
    assert repo.quality.resolve_alert(rng.id).status == "resolved"
    with pytest.raises(tillage.NoSuchAlertError):
        repo.quality.resolve_alert(999)
    with pytest.raises(tillage.InputError, match="duration"):
        repo.quality.mute_alert(rng.id, "soon")


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_alerts_reach_a_webhook_and_a_jsonl_file(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.bodies = []
    try:
        repo = tillage.init(tmp_path / "p")
        config = repo.repo_dir / "config.yaml"
        cfg = yaml.safe_load(config.read_text())
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        cfg["quality"] = {
            "sinks": [{"type": "webhook", "url": url}, {"type": "jsonl", "path": "alerts.jsonl"}]
        }
        config.write_text(yaml.safe_dump(cfg))
        repo.close()
        repo = tillage.open(tmp_path / "p")
        seeded(repo)
        repo.infer_schema("flights")
        repo.ingest("flights", batch(range(900, 1200), origin="ZZZ"))
        events = [b for b in _Hook.bodies if b["finding"]["column"] == "origin"]
        assert events and events[0]["event"] == "alert.opened"
        assert "ZZZ" in events[0]["finding"]["message"]
        lines = (tmp_path / "p" / "alerts.jsonl").read_text().splitlines()
        assert any("ZZZ" in line for line in lines)
        repo.close()
    finally:
        server.shutdown()
        server.server_close()


def test_bad_quality_settings_are_named(tmp_path: Path) -> None:
    """The first use of monitoring names the bad setting and writes nothing.

    Settings are read when monitoring is first used, so commands that do not
    monitor (``log``, ``branch``) need not load it (`tests/test_cli_startup.py`).
    """
    repo = tillage.init(tmp_path / "p")
    config = repo.repo_dir / "config.yaml"
    repo.close()
    cfg = yaml.safe_load(config.read_text())
    for bad, said in (
        ({"refrence": "window:3"}, "refrence"),
        ({"reference": "window:zero"}, "window:N"),
    ):
        cfg["quality"] = bad
        config.write_text(yaml.safe_dump(cfg))
        with tillage.open(tmp_path / "p") as opened:
            assert opened.refs.log() == []
            with pytest.raises(tillage.InputError, match=said):
                opened.ingest("flights", batch(range(10)), key="id")
            assert opened.datasets.pins() == {} and opened.refs.log() == []


def test_gc_keeps_the_data_a_model_was_trained_on(repo: Repo) -> None:
    seeded(repo, days=3)
    trained = repo.refs.resolve()
    assert trained is not None
    repo.record_model("m", "flights", feature_importance={"dep_delay": 1.0})
    repo.refs.reset("HEAD~2")
    repo.datasets.gc()
    assert repo.read("flights", trained).num_rows == 900


def test_schema_naming_unknown_columns_or_another_dataset(repo: Repo) -> None:
    seeded(repo)
    _, path = repo.infer_schema("flights")
    doc = yaml.safe_load(path.read_text())
    doc["columns"]["dep_dleay"] = doc["columns"].pop("dep_delay")
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(tillage.SchemaFileError, match="dep_dleay") as info:
        repo.ingest("flights", batch(range(900, 1000)))
    assert "typo" in str(info.value)
    assert repo.read("flights").num_rows == 900
    doc["columns"]["dep_delay"] = doc["columns"].pop("dep_dleay")
    doc["dataset"] = "trains"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(tillage.SchemaFileError, match="trains"):
        repo.quality.check("flights")


def test_empty_batches_and_files_are_clear_errors(repo: Repo, tmp_path: Path) -> None:
    seeded(repo)
    repo.infer_schema("flights")
    with pytest.raises(tillage.InputError, match="no rows"):
        repo.ingest("flights", batch([]))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(tillage.UnreadableFileError):
        repo.quality.check("flights", file=empty)
    with pytest.raises(tillage.UnreadableFileError):
        repo.drift("flights", file=empty, against="HEAD")
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,origin,dep_delay,distance\n")
    with pytest.raises(tillage.InputError, match="no rows"):
        repo.drift("flights", file=header_only, against="HEAD")


def test_sliding_window_merges_like_merging_everything() -> None:
    from tillage.quality.monitor import _SlidingWindow
    from tillage.quality.profile import profile_table

    profiles = {f"c{i}": profile_table(pa.table({"x": [float(i)] * (i + 1)})) for i in range(30)}
    calls: list[str] = []

    def get(cid: str) -> tillage.Profile:
        calls.append(cid)
        return profiles[cid]

    window = _SlidingWindow()
    ids = [f"c{i}" for i in range(30)]
    spans = [(s, s + 7) for s in range(20)] + [(3, 9), (3, 9), (10, 12), (11, 13)]
    for start, end in spans:
        merged = window.merged(ids[start:end], get)
        expected = tillage.Profile.merge_all(profiles[c] for c in ids[start:end])
        assert merged.rows == expected.rows
        assert merged["x"].min == start and merged["x"].max == end - 1
    # Sliding one batch at a time reads each batch about twice, not once per window slot.
    assert len(calls) < 3 * 30 + 20


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:lance is not fork-safe:UserWarning")
def test_profile_on_ray_fragment_by_fragment_matches_local(repo: Repo) -> None:
    ray = pytest.importorskip("ray")
    seeded(repo, days=4)  # four appends: four Lance fragments
    repo.ingest("flights", batch([0, 1], delay=1000.0), mode="upsert")  # forces a scan
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        on_ray = repo.profile("flights", executor="ray")
    finally:
        ray.shutdown()
    pin = repo.datasets.pins()["flights"]
    local = repo._storage.monitor._scan("flights", pin)
    assert on_ray.rows == local.rows == 1200
    for col in ("id", "dep_delay", "distance"):
        assert on_ray[col].min == local[col].min and on_ray[col].max == local[col].max
        assert on_ray[col].mean == pytest.approx(local[col].mean)
    assert on_ray["origin"].frequent() == local["origin"].frequent()
    with pytest.raises(tillage.InputError, match="locally or on ray"):
        repo._storage.monitor._scan("flights", pin, "spark")
