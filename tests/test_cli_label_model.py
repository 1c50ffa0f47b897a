"""`lf report` and `lf apply` say how the label model labelled, and use annotations as gold."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from cli_runner import cli, cli_json

pytestmark = pytest.mark.usefixtures("wide_terminal")

LFS = """
import tillage

@tillage.labeling_function()
def has_x(record):
    return "android" if "x" in record["text"] else None

@tillage.labeling_function()
def has_y(record):
    return "iphone" if "y" in record["text"] else None

@tillage.labeling_function()
def long(record):
    return "android" if len(record["text"]) > 6 else None
"""


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    cli("init", root)
    ids = [f"r{i}" for i in range(40)]
    texts = [("x x x x" if i % 2 == 0 else "y") + (" y" if i % 7 == 0 else "") for i in range(40)]
    data = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"id": ids, "text": texts}), data)
    cli("-C", root, "ingest", "posts", data, "--key", "id")
    (root / "taxonomies").mkdir()
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    cli("-C", root, "labels", "create", "src", "--records", "posts", "--taxonomy", "source")
    (tmp_path / "lfs.py").write_text(LFS)
    return root


def test_lf_report_says_which_labels_and_why(proj: Path, tmp_path: Path) -> None:
    lfs = tmp_path / "lfs.py"
    doc = cli_json("-C", proj, "lf", "report", lfs, "src")
    model = doc["model"]
    assert model["mode"] in ("independent", "vote") and model["reason"]
    assert model["gold"] == 0 and model["cross_validation"] is None
    assert all(lf["interval"] is None and lf["gold_votes"] == 0 for lf in model["lfs"])
    text = cli("-C", proj, "lf", "report", lfs, "src").stdout
    assert "label model:" in text and "no gold" in text and "n/a (no gold)" in text

    # Ten annotated records are gold: the prior, the accuracies and the choice use them.
    annotated = tmp_path / "annotated.csv"
    ids = [f"r{i}" for i in range(10)]
    labels = ["android" if i % 2 == 0 else "iphone" for i in range(10)]
    pacsv.write_csv(pa.table({"record_id": ids, "label": labels}), annotated)
    cli("-C", proj, "labels", "add", "src", annotated, "--source", "ann", "--kind", "annotator")
    model = cli_json("-C", proj, "lf", "report", lfs, "src")["model"]
    assert model["gold"] == 10 and model["cross_validation"]["records"] == 10
    assert "held out in 5 folds" in model["reason"]
    has_x = next(lf for lf in model["lfs"] if lf["name"] == "has_x")
    assert has_x["gold_votes"] == 5 and has_x["interval"][1] == pytest.approx(1.0)
    text = cli("-C", proj, "lf", "report", lfs, "src").stdout
    assert "10 annotated record(s) as gold" in text and "(5 gold)" in text
    applied = cli("-C", proj, "lf", "apply", lfs, "src").stdout
    assert "label model:" in applied and "committed" in applied
