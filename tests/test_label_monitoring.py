"""Label sets are monitored as labels: their own checks, not the data checks.

Each check has a write that opens its alert and one that does not; the alerts
go through the same store as data alerts (dedup, mute, resolve, `tillage
alerts`). Real repositories, label events written through `repo.labels.add`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

import tillage
from cli_runner import cli, cli_json
from tillage.errors import AlertNotAcceptableError
from tillage.labels import checks
from tillage.labels.sets import events

pytestmark = pytest.mark.usefixtures("wide_terminal")

N = 200
IDS = [f"r{i:03d}" for i in range(N)]


@pytest.fixture
def repo(tmp_path: Path) -> tillage.Repo:
    root = tmp_path / "p"
    (root / "taxonomies").mkdir(parents=True)
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    r = tillage.init(root)
    r.ingest("d", pa.table({"id": IDS, "text": [f"tweet {i}" for i in range(N)]}), key="id")
    r.labels.create("src", records="d", taxonomy="source")
    return r


def label_alerts(repo: tillage.Repo, **kw: bool) -> list[tillage.Alert]:
    return list(repo.quality.alerts(dataset="src", **kw))


def alternating(n: int) -> list[str]:
    return ["android" if i % 2 else "iphone" for i in range(n)]


# -- no data checks on label sets -----------------------------------------------------


def test_label_writes_open_no_data_alerts(repo: tillage.Repo) -> None:
    """Annotations, imports and aggregates differ column by column (kind, source,
    spec_version, confidence); none of that is drift, nor a broken schema rule."""
    repo.labels.add("src", IDS[:100], alternating(100), source="import", confidence=1.0)
    # A schema of the import (no spec_version, confidence 1), as if written for the label set.
    repo.ingest("copy", repo.read("src"), key="event_id")
    _, path = repo.quality.infer_schema("copy")
    path.with_name("src.yaml").write_text(
        path.read_text().replace("'copy'", "'src'").replace("dataset: copy", "dataset: src")
    )
    for i in range(4):
        repo.labels.add(
            "src", [IDS[i]], ["android"], kind="annotator", source="ana", spec_version=1
        )
    repo.labels.add(
        "src", IDS[:100], alternating(100), kind="aggregate", source="dawid-skene", confidence=0.7
    )
    assert label_alerts(repo, show_all=True) == []
    assert [f.message for c in repo.quality.checks() for f in c.findings] == []


# -- label share ----------------------------------------------------------------------


def test_a_class_share_that_moves_opens_one_alert_worded_for_labels(repo: tillage.Repo) -> None:
    repo.labels.add("src", IDS[:100], alternating(100), source="import")  # 50% android
    labels = ["iphone"] * 80 + ["android"] * 20  # now 20% android
    repo.labels.add("src", IDS[:100], labels, kind="aggregate", source="dawid-skene")
    [a, b] = sorted(label_alerts(repo), key=lambda a: a.finding.column or "")
    assert (a.finding.kind, a.finding.column, a.finding.check) == (
        "label_share",
        "label:android",
        "labels",
    )
    assert a.finding.message.startswith(
        "label 'android' went from 50.0% to 20.0% of labelled records between src at "
    )
    assert "(50 of 100 records, now 20 of 100)" in a.finding.message
    assert b.finding.column == "label:iphone" and "50.0% to 80.0%" in b.finding.message


def test_a_small_move_or_few_labels_open_nothing(repo: tillage.Repo) -> None:
    repo.labels.add("src", IDS[:100], alternating(100), source="import")
    moved = alternating(100)
    for i in range(1, 21, 2):  # 10 of 50 android records move: 10 points
        moved[i] = "iphone"
    repo.labels.add("src", IDS[:100], moved, kind="aggregate", source="dawid-skene")
    # Below MIN_LABELS records, even an all-out swing says nothing.
    few = IDS[100 : 100 + checks.MIN_LABELS - 1]
    other = tillage.open(repo.path)
    other.labels.create("few", records="d", taxonomy="source")
    other.labels.add("few", few, ["android"] * len(few), source="import")
    other.labels.add("few", few, ["iphone"] * len(few), kind="aggregate", source="dawid-skene")
    assert label_alerts(repo) == [] and other.quality.alerts(dataset="few") == []


# -- annotator agreement --------------------------------------------------------------


def annotate(repo: tillage.Repo, who: str, ids: list[str], labels: list[str]) -> None:
    repo.labels.add("src", ids, labels, kind="annotator", source=who, spec_version=1)


def test_an_annotator_who_stops_agreeing_opens_an_alert(repo: tillage.Repo) -> None:
    first, later = IDS[:60], IDS[60:120]
    annotate(repo, "ana", first, alternating(60))
    annotate(repo, "ben", first, alternating(60))
    repo.labels.add("src", first, alternating(60), kind="aggregate", source="dawid-skene")
    assert label_alerts(repo) == []
    annotate(repo, "ben", later, alternating(60))
    annotate(repo, "ana", later, ["iphone" if i % 2 else "android" for i in range(60)])  # all off
    truth = alternating(60)
    repo.labels.add("src", later, truth, kind="aggregate", source="dawid-skene")
    found = [a.finding for a in label_alerts(repo) if a.finding.kind == "annotator_agreement"]
    [f] = found
    assert f.column == "annotator:ana"
    assert f.message.startswith(
        "annotator 'ana' agrees with the aggregate label on 50.0% of their records, "
        "down from 100.0% at src at "
    )
    assert "(60 of 120 records, then 60 of 60)" in f.message


def test_an_annotator_who_keeps_agreeing_opens_nothing(repo: tillage.Repo) -> None:
    first, later = IDS[:60], IDS[60:120]
    annotate(repo, "ana", first, alternating(60))
    repo.labels.add("src", first, alternating(60), kind="aggregate", source="dawid-skene")
    wrong = alternating(60)
    for i in range(10):  # 10 of 60 wrong: 91.7% overall, not 20 points down
        wrong[i] = "android" if wrong[i] == "iphone" else "iphone"
    annotate(repo, "ana", later, wrong)
    repo.labels.add("src", later, alternating(60), kind="aggregate", source="dawid-skene")
    assert [a for a in label_alerts(repo) if a.finding.kind == "annotator_agreement"] == []


def test_the_label_model_relabelling_annotated_records_is_not_an_annotator_falling(
    repo: tillage.Repo,
) -> None:
    """`lf apply` after `labels aggregate`: its labels come from functions, so the
    annotators are still measured against the aggregate of their annotations."""
    first = IDS[:60]
    annotate(repo, "ana", first, alternating(60))
    repo.labels.add("src", first, alternating(60), kind="aggregate", source="dawid-skene")
    flipped = ["iphone" if label == "android" else "android" for label in alternating(60)]
    repo.labels.add("src", first, flipped, kind="aggregate", source=checks.LABEL_MODEL)
    assert label_alerts(repo) == []


# -- labeling-function coverage -------------------------------------------------------


def lf_run(repo: tillage.Repo, fired: dict[str, int]) -> None:
    """One `lf apply`-like write: each function's votes on its first ``n`` records."""
    parts = [
        events(IDS[:n], ["iphone"] * n, kind="lf", source=name, taxonomy_version=1)
        for name, n in fired.items()
    ]
    repo.ingest("src", pa.concat_tables(parts), key="event_id", message="votes")


def test_a_function_whose_coverage_collapses_opens_an_alert(repo: tillage.Repo) -> None:
    lf_run(repo, {"link": 62, "hashtag": 40})
    lf_run(repo, {"link": 1, "hashtag": 38})
    [a] = label_alerts(repo)
    assert (a.finding.kind, a.finding.column) == ("lf_coverage", "lf:link")
    assert a.finding.message.startswith("LF 'link' fired on 31.0% of records at src at ")
    assert " and 0.5% now (62 then 1 of 200 records)" in a.finding.message


def test_coverage_that_holds_or_was_tiny_opens_nothing(repo: tillage.Repo) -> None:
    lf_run(repo, {"link": 62, "rare": checks.MIN_VOTES - 1})
    lf_run(repo, {"link": 40, "rare": 1})  # link falls by a third; rare had too few votes
    assert label_alerts(repo) == []


# -- the alert machinery ---------------------------------------------------------------


def test_label_alerts_dedup_resolve_mute_and_refuse_accept(repo: tillage.Repo) -> None:
    lf_run(repo, {"link": 62})
    lf_run(repo, {"link": 1})
    lf_run(repo, {"link": 62})
    lf_run(repo, {"link": 1})
    [a] = label_alerts(repo)
    assert a.count == 2
    assert a.finding.with_(alert_id=a.id).actions == [
        f"tillage alerts resolve {a.id}",
        f"tillage alerts mute {a.id} --for 7d",
    ]
    with pytest.raises(AlertNotAcceptableError, match="about the labels of 'src'"):
        repo.quality.accept_alert(a.id)
    repo.quality.mute_alert(a.id, "7d")
    assert label_alerts(repo) == []
    repo.quality.resolve_alert(a.id)
    lf_run(repo, {"link": 62})
    lf_run(repo, {"link": 1})
    [b] = label_alerts(repo)
    assert b.id != a.id and b.count == 1


def test_tillage_alerts_shows_label_alerts(repo: tillage.Repo) -> None:
    lf_run(repo, {"link": 62})
    lf_run(repo, {"link": 1})
    root = repo.path
    doc = cli_json("-C", root, "alerts")
    [alert] = [a for a in doc["alerts"] if a["dataset"] == "src"]
    assert alert["finding"]["kind"] == "lf_coverage"
    assert "LF 'link' fired on 31.0%" in cli("-C", root, "alerts").stdout


# -- data checks asked of a label set ---------------------------------------------------


@pytest.mark.parametrize(
    ("ask", "what"),
    [
        (lambda r: r.quality.infer_schema("src"), "a schema inferred from them"),
        (lambda r: r.quality.check("src"), "checking them against a schema"),
        (lambda r: r.quality.drift("src", window=1), "drift"),
    ],
)
def test_data_checks_of_a_label_set_are_refused_with_what_it_gets(
    repo: tillage.Repo, ask: Any, what: str
) -> None:
    repo.labels.add("src", IDS[:100], alternating(100), source="import")
    repo.labels.add("src", IDS[:100], alternating(100), kind="aggregate", source="dawid-skene")
    with pytest.raises(tillage.LabelSetNotDataError) as err:
        ask(repo)
    assert f"'src' is a label set: its columns are label events, so {what}" in str(err.value)
    assert "tillage labels show src" in str(err.value)
    assert not (repo.path / "schemas" / "src.yaml").exists()


def test_current_labels_follow_the_label_set_rule_ties_included() -> None:
    """Latest aggregate event, else latest event; of events at the same time, the last."""
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(3)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "record_id": f"r{rng.randrange(40)}",
            "label": rng.choice(["a", "b", None]),
            "kind": rng.choice(["lf", "annotator", "aggregate", "import"]),
            "source": f"s{i}",
            "created_at": t0 + timedelta(seconds=rng.randrange(5)),  # many ties
        }
        for i in range(600)
    ]
    table = pa.Table.from_pylist(rows)
    latest: dict[str, dict[str, object]] = {}
    for r in sorted(
        rows, key=lambda r: (r["record_id"], r["kind"] == "aggregate", r["created_at"])
    ):
        latest[str(r["record_id"])] = r
    assert checks.current_labels(table).to_pylist() == list(latest.values())
