"""The label commands: labels create|add|show, annotate enqueue|next|submit|progress, export."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

import tillage
from cli_runner import cli, cli_json

pytestmark = pytest.mark.usefixtures("wide_terminal")


@pytest.fixture
def proj(tmp_path: Path) -> Path:
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


def _two_kinds(n: int, flip: int) -> tuple[list[str], list[str]]:
    """Texts of two kinds and their labels, with the label of record ``flip`` wrong."""
    texts = [
        "link http now " * (1 + i % 3) if i % 2 else "sad weak loser " * (1 + i % 3)
        for i in range(n)
    ]
    given = ["iphone" if i % 2 else "android" for i in range(n)]
    given[flip] = "iphone" if given[flip] == "android" else "android"
    return texts, given


KEYS = {
    # 64-bit ids far beyond a float's 53 bits, as the tweets' id_str
    "int64": (pa.array([303960093064577025 + 7 * i for i in range(60)], pa.int64()), None),
    "string": (pa.array([f"t{i:03d}" for i in range(60)]), None),
    # ids given in ISO form; stored and shown as Arrow writes them
    "timestamp": (
        pa.array([1_356_998_400 + 3600 * i for i in range(60)], pa.timestamp("s", tz="UTC")),
        lambda v: v.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_labels_work_for_every_key_type(kind: str, tmp_path: Path) -> None:
    ids, typed = KEYS[kind]
    root = tmp_path / "p"
    cli("init", root)
    texts, given = _two_kinds(60, flip=4)
    data = tmp_path / "d.parquet"
    table = pa.table(
        {
            "id": ids,
            "text": texts,
            "big": pa.array([2**62 + i for i in range(60)], pa.int64()),
            "at": pa.array([10**18 + i * 10**12 for i in range(60)], pa.timestamp("ns")),
        }
    )
    pq.write_table(table, data)
    cli("-C", root, "ingest", "d", data, "--key", "id")
    (root / "taxonomies").mkdir()
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    cli("-C", root, "labels", "create", "src", "--records", "d", "--taxonomy", "source")
    shown = [typed(v) if typed else v for v in ids.to_pylist()]
    labels = tmp_path / "l.parquet"
    pq.write_table(pa.table({"record_id": [str(v) for v in shown], "label": given}), labels)
    cli("-C", root, "labels", "add", "src", labels, "--source", "gold")

    # The one text form of a key value: Arrow's, of the key as the dataset stores it.
    with tillage.open(root) as repo:
        stored = pc.cast(repo.read("d").sort_by("id").column("id"), pa.string()).to_pylist()
    rows = cli_json("-C", root, "labels", "show", "src")["labels"]
    assert sorted(r["record_id"] for r in rows) == sorted(stored)
    doc = cli_json("-C", root, "labels", "issues", "src")
    assert doc["issues"][0]["record_id"] == stored[4]
    assert stored[4] in cli("-C", root, "labels", "issues", "src", "--top", "1").stdout

    # Annotation takes the ids as labels show prints them, and as typed in ISO form.
    (root / "tasks").mkdir()
    (root / "tasks" / "t.yaml").write_text(
        yaml.safe_dump({"labelset": "src", "versions": [{"overlap": 1, "fields": ["text"]}]})
    )
    cli("-C", root, "annotate", "enqueue", "t", stored[1], str(shown[2]))
    got = cli_json("-C", root, "annotate", "next", "t", "-a", "ann", "-n", "5")
    assert sorted(got["records"]) == sorted(stored[1:3])
    cli("-C", root, "annotate", "submit", "t", str(shown[1]), "iphone", "-a", "ann")
    assert cli_json("-C", root, "annotate", "progress", "t")["done"] == 1
    out = tmp_path / "train.parquet"
    assert cli_json("-C", root, "export", "d", out, "--labels", "src")["rows"] == 60


def test_annotate_next_shows_what_the_task_names(proj: Path) -> None:
    spec = {
        "labelset": "src",
        "versions": [
            {"overlap": 2, "instructions": "Which?", "template": "<p>{text}</p>"},
            {"overlap": 2, "instructions": "Which phone?", "fields": ["text", "id"]},
        ],
    }
    (proj / "tasks" / "shown.yaml").write_text(yaml.safe_dump(spec))
    cli("-C", proj, "annotate", "enqueue", "shown", "a", "b")
    # Version 1 names its fields in the template.
    doc = cli_json("-C", proj, "annotate", "next", "shown", "-a", "ann", "--spec-version", "1")
    assert doc["items"] == [{"record_id": "a", "fields": {"text": "x"}}]
    text = cli("-C", proj, "annotate", "next", "shown", "-a", "bob", "-n", "2").stdout
    assert "Which phone?" in text and "record a" in text and "record b" in text
    assert "text" in text and "y" in text
    doc = cli_json("-C", proj, "annotate", "next", "shown", "-a", "cy", "-n", "2")
    assert [i["fields"] for i in doc["items"]] == [
        {"text": "x", "id": "a"},
        {"text": "y", "id": "b"},
    ]
    # Without fields or a template: every column but the key.
    cli("-C", proj, "annotate", "enqueue", "t", "c")
    doc = cli_json("-C", proj, "annotate", "next", "t", "-a", "ann")
    assert doc["items"] == [{"record_id": "c", "fields": {"text": "z"}}]
    assert "none left" not in cli("-C", proj, "annotate", "next", "t", "-a", "dee").stdout


def test_lf_apply_says_what_it_committed(proj: Path, tmp_path: Path) -> None:
    lfs = tmp_path / "lfs.py"
    lfs.write_text(
        "import tillage\n"
        "@tillage.labeling_function()\n"
        "def is_x(record):\n"
        "    return 'android' if record['text'] == 'x' else None\n"
        "@tillage.labeling_function()\n"
        "def not_x(record):\n"
        "    return 'iphone' if record['text'] != 'x' else None\n"
    )
    labels = tmp_path / "gold.csv"
    pacsv.write_csv(pa.table({"record_id": ["a", "b"], "label": ["android", "android"]}), labels)
    cli("-C", proj, "labels", "create", "gold", "--records", "tweets", "--taxonomy", "source")
    cli("-C", proj, "labels", "add", "gold", labels, "--source", "me")
    doc = cli_json("-C", proj, "lf", "apply", lfs, "src", "--gold", "gold")
    assert doc["votes"] == {"total": 3, "per_class": {"android": 1, "iphone": 2}}
    assert doc["labels"] == {"total": 3, "per_class": {"android": 1, "iphone": 2}}
    assert doc["gold"] == {"labelset": "gold", "records": 2, "model_accuracy": 0.5}
    events = cli_json("-C", proj, "log", "--dataset", "src")
    assert doc["commit"] in json.dumps(events)
    text = cli("-C", proj, "lf", "apply", lfs, "src", "--gold", "gold").stdout
    assert "3 vote(s) (android 1, iphone 2), 3 label(s) (android 1, iphone 2)" in text
    assert "50.0% right on the 2 record(s) labelled in gold" in text
    assert "committed " in text and " on main to src" in text
    votes_only = cli("-C", proj, "lf", "apply", lfs, "src", "--no-model").stdout
    assert "3 vote(s)" in votes_only and "no label model (--no-model)" in votes_only
