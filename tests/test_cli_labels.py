"""The label commands: labels create|add|show, annotate enqueue|next|submit|progress, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner, Result

from tillage.cli.app import app

runner = CliRunner()


def cli(*args: str | Path, code: int = 0) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def cli_json(*args: str | Path, code: int = 0) -> Any:
    return json.loads(cli(*args, "--json", code=code).stdout)


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TILLAGE_REPO", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    root = tmp_path / "proj"
    cli("init", root)
    data = tmp_path / "tweets.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"]}), data)
    cli("-C", root, "ingest", "tweets", data, "--key", "id")
    (root / "taxonomies").mkdir()
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    (root / "tasks").mkdir()
    (root / "tasks" / "t.yaml").write_text(
        yaml.safe_dump({"labelset": "src", "versions": [{"overlap": 1, "instructions": "Which?"}]})
    )
    cli("-C", root, "labels", "create", "src", "--records", "tweets", "--taxonomy", "source")
    return root


def test_add_show_and_export_training_set(proj: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    pacsv.write_csv(pa.table({"record_id": ["a", "b"], "label": ["android", "iphone"]}), labels)
    doc = cli_json("-C", proj, "labels", "add", "src", labels, "--source", "gold")
    assert doc["message"].startswith("2 label(s) from import gold")
    shown = cli_json("-C", proj, "labels", "show", "src")["labels"]
    assert {(r["record_id"], r["label"]) for r in shown} == {("a", "android"), ("b", "iphone")}
    out = tmp_path / "train.parquet"
    assert cli_json("-C", proj, "export", "tweets", out, "--labels", "src")["rows"] == 2
    assert pq.read_table(out).column("label").to_pylist() == ["android", "iphone"]
    bad = tmp_path / "bad.csv"
    pacsv.write_csv(pa.table({"record_id": ["zz"], "label": ["android"]}), bad)
    err = cli_json("-C", proj, "labels", "add", "src", bad, "--source", "gold", code=1)["error"]
    assert "'zz'" in err["message"]


def test_annotation_round_trip(proj: Path) -> None:
    assert cli_json("-C", proj, "annotate", "enqueue", "t", "a", "b")["added"] == 2
    got = cli_json("-C", proj, "annotate", "next", "t", "--annotator", "ann", "-n", "5")
    assert got["records"] == ["a", "b"] and got["instructions"] == "Which?"
    cli("-C", proj, "annotate", "submit", "t", "a", "iphone", "--annotator", "ann")
    err = cli_json("-C", proj, "annotate", "submit", "t", "b", "nokia", "-a", "ann", code=1)
    assert "nokia" in err["error"]["message"]
    assert cli_json("-C", proj, "annotate", "progress", "t")["done"] == 1


def test_issues_command_lists_the_surest_first(proj: Path, tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(60)]
    data = tmp_path / "more.parquet"
    pq.write_table(
        pa.table({"id": ids, "text": ["long words " * (1 + i % 2) for i in range(60)]}), data
    )
    cli("-C", proj, "ingest", "tweets", data)
    labels = tmp_path / "l.csv"
    given = ["android" if i % 2 == 0 else "iphone" for i in range(60)]
    given[0] = "iphone"  # one flip
    pacsv.write_csv(pa.table({"record_id": ids, "label": given}), labels)
    cli("-C", proj, "labels", "add", "src", labels, "--source", "gold")
    doc = cli_json("-C", proj, "labels", "issues", "src")
    assert doc["issues"][0]["record_id"] == "r0" and doc["issues"][0]["suggested"] == "android"
    assert "r0" in cli("-C", proj, "labels", "issues", "src", "--top", "1").stdout


def test_lf_report_apply_and_aggregate(proj: Path, tmp_path: Path) -> None:
    lfs = tmp_path / "lfs.py"
    lfs.write_text(
        "import tillage\n"
        "@tillage.labeling_function()\n"
        "def is_x(record):\n"
        "    return 'android' if record['text'] == 'x' else None\n"
        "@tillage.labeling_function()\n"
        "def fails(record):\n"
        "    raise RuntimeError('no')\n"
    )
    report = cli_json("-C", proj, "lf", "report", lfs, "src")
    assert report["commit"] is None and len(report["errors"]) == 3
    assert cli_json("-C", proj, "labels", "show", "src")["labels"] == []
    assert "is_x" in cli("-C", proj, "lf", "report", lfs, "src").stdout
    applied = cli_json("-C", proj, "lf", "apply", lfs, "src")
    assert applied["commit"] is not None
    assert {r["label"] for r in cli_json("-C", proj, "labels", "show", "src")["labels"]} == {
        "android"
    }
    empty = tmp_path / "none.py"
    empty.write_text("x = 1\n")
    assert (
        "no labeling functions"
        in cli_json("-C", proj, "lf", "report", empty, "src", code=1)["error"]["message"]
    )
    cli("-C", proj, "annotate", "enqueue", "t", "a")
    cli("-C", proj, "annotate", "submit", "t", "a", "iphone", "-a", "ann")
    agg = cli_json("-C", proj, "labels", "aggregate", "src")
    assert agg["records"][0]["record"] == "a"
