"""The monitoring commands: profile, schema infer, check, drift, alerts; text and --json."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from cli_runner import cli, cli_json

pytestmark = pytest.mark.usefixtures("wide_terminal")


def day(path: Path, ids: range, *, delay: float = 10.0, origin: str | None = None) -> Path:
    rows = list(ids)
    table = pa.table(
        {
            "id": rows,
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in rows],
            "dep_delay": [delay + (i * 37 % 101) * 0.5 for i in rows],
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A repository with three days of ``flights`` (300 rows each) on main."""
    root = tmp_path / "proj"
    cli("init", root)
    for d in range(3):
        f = day(tmp_path / f"d{d}.parquet", range(d * 300, (d + 1) * 300))
        cli("-C", root, "ingest", "flights", f, "--key", "id")
    return root


def test_profile_text_and_json(proj: Path) -> None:
    doc = cli_json("-C", proj, "profile", "flights")
    assert doc["rows"] == 900
    assert doc["columns"]["dep_delay"]["count"] == 900
    assert doc["columns"]["origin"]["distinct"]["estimate"] == pytest.approx(3, abs=0.5)
    text = cli("-C", proj, "profile", "flights").stdout
    assert "dep_delay" in text and "900 rows" in text
    err = cli_json("-C", proj, "profile", "nope", code=1)["error"]
    assert err["code"] == "no_such_dataset"


def test_schema_infer_check_and_ingest_findings(proj: Path, tmp_path: Path) -> None:
    doc = cli_json("-C", proj, "schema", "infer", "flights")
    path = Path(doc["path"])
    assert path == proj / "schemas" / "flights.yaml" and len(doc["sha256"]) == 64
    err = cli_json("-C", proj, "schema", "infer", "flights", code=1)["error"]
    assert "--force" in err["message"]
    cli("-C", proj, "schema", "infer", "flights", "--force")

    assert cli_json("-C", proj, "check", "flights")["findings"] == []
    assert "no findings" in cli("-C", proj, "check", "flights").stdout

    bad = day(tmp_path / "bad.parquet", range(900, 1200), origin="ZZZ")
    found = cli_json("-C", proj, "check", "flights", "--file", bad)["findings"]
    assert [(f["column"], f["kind"]) for f in found] == [("origin", "domain")]

    # Ingest runs the same check, lands (warn), and prints the alert with its actions.
    res = cli("-C", proj, "ingest", "flights", bad)
    assert "ZZZ" in res.stdout and "tillage alerts accept" in res.stdout
    doc = cli_json("-C", proj, "show", "HEAD")
    assert doc["changes"]["flights"]["schema"]["file"] == "schemas/flights.yaml"


def test_blocked_ingest_exits_with_the_quarantine_branch(proj: Path, tmp_path: Path) -> None:
    cli("-C", proj, "schema", "infer", "flights")
    path = proj / "schemas" / "flights.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["columns"]["dep_delay"]["severity"] = "block"
    path.write_text(yaml.safe_dump(doc))
    bad = day(tmp_path / "bad.parquet", range(900, 1000), delay=1e6)
    err = cli_json("-C", proj, "ingest", "flights", bad, code=1)["error"]
    assert err["code"] == "quality_block"
    assert err["quarantine"] == "quarantine/flights-1"
    assert err["findings"][0]["column"] == "dep_delay"
    names = [b["name"] for b in cli_json("-C", proj, "branch", "--list")["branches"]]
    assert "quarantine/flights-1" in names
    assert cli_json("-C", proj, "status")["datasets"][0]["rows"] == 900
    # check exits 3 when a blocking finding is there, so scripts can gate on it.
    cli("-C", proj, "check", "flights", "--file", bad, code=3)


def test_drift_and_alert_lifecycle(proj: Path, tmp_path: Path) -> None:
    cli("-C", proj, "tag", "before")
    shifted = day(tmp_path / "shift.parquet", range(900, 2700), delay=300.0)
    cli("-C", proj, "ingest", "flights", shifted)
    found = cli_json("-C", proj, "drift", "flights", "--against", "before")["findings"]
    assert any(f["column"] == "dep_delay" and f["kind"] == "quantiles" for f in found)
    text = cli("-C", proj, "drift", "flights", "--window", "3").stdout
    assert "dep_delay: median rose" in text
    err = cli_json("-C", proj, "drift", "flights", "--against", "nope", code=1)["error"]
    assert err["code"] == "no_such_ref"

    [alert] = [a for a in cli_json("-C", proj, "alerts")["alerts"] if a["column"] == "dep_delay"]
    assert alert["status"] == "open" and alert["actions"][0].startswith("tillage alerts accept")
    assert "dep_delay" in cli("-C", proj, "alerts").stdout
    muted = cli_json("-C", proj, "alerts", "mute", str(alert["id"]), "--for", "2w")
    assert muted["status"] == "muted"
    assert cli_json("-C", proj, "alerts")["alerts"] == []
    assert len(cli_json("-C", proj, "alerts", "--all")["alerts"]) == 1
    assert cli_json("-C", proj, "alerts", "resolve", str(alert["id"]))["status"] == "resolved"
    err = cli_json("-C", proj, "alerts", "accept", "77", code=1)["error"]
    assert err["code"] == "no_such_alert"
    err = cli_json("-C", proj, "alerts", "mute", str(alert["id"]), "--for", "later", code=1)
    assert "duration" in err["error"]["message"]
