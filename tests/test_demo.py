"""The demo on real NYC flights: what it builds must hold up when read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

import tillage
from tillage.demo import pipeline
from tillage.demo.flights import load_days, run_demo


def test_load_days_splits_by_date() -> None:
    days = load_days(3)
    assert [d for d, _ in days] == ["2013-01-01", "2013-01-02", "2013-01-03"]
    for date, batch in days:
        month, day = int(date[5:7]), int(date[8:10])
        assert pc.all(pc.equal(batch.column("month"), month)).as_py()
        assert pc.all(pc.equal(batch.column("day"), day)).as_py()
    assert str(days[0][1].schema.field("time_hour").type) == "timestamp[s, tz=UTC]"


def test_demo_builds_a_repository_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = run_demo(path, days=3, labels=False, loop=False, privacy=False)
    ingested = sum(b.num_rows for _, b in load_days(3))
    assert summary["rows_ingested"] == ingested
    assert summary["cancelled_removed"] > 0
    assert summary["rows"] == ingested - summary["cancelled_removed"]
    assert summary["merge"] == "merge"  # day 3 landed on main while the fix was made
    assert summary["commits"] == 3 + 2  # one per day, the fix, the merge

    with tillage.open(path) as repo:
        assert repo.refs.resolve("v1") == repo.refs.resolve("main") == summary["head"]
        final = repo.read("flights", "v1")
        assert final.num_rows == summary["rows"]
        # Days 1-2 were fixed on the branch: no cancelled flight is left there.
        fixed = repo.read("flights", "v1", where="day < 3 AND dep_time IS NULL")
        assert fixed.num_rows == 0
        # Day 3 arrived on main after the branch was made: the merge keeps all of it.
        day3 = repo.read("flights", "v1", where="day = 3")
        assert day3.num_rows == load_days(3)[2][1].num_rows
        # The pre-fix history is still there.
        first = repo.refs.log("main")[-1]
        assert repo.read("flights", first.id).num_rows == load_days(1)[0][1].num_rows


def test_demo_refuses_to_clobber(tmp_path: Path) -> None:
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(tillage.InputError, match="not a tillage repository"):
        run_demo(other, days=1, labels=False, loop=False, privacy=False)
    assert (other / "notes.txt").read_text() == "keep me"

    path = tmp_path / "demo"
    run_demo(path, days=1, labels=False, loop=False, privacy=False)
    with pytest.raises(tillage.RepositoryExistsError, match="--force"):
        run_demo(path, days=1, labels=False, loop=False, privacy=False)
    assert run_demo(path, days=2, force=True, labels=False, loop=False, privacy=False)["days"] == 2


def test_demo_monitors_every_day_after_the_first_week(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = run_demo(path, days=16, labels=False, loop=False, privacy=False)
    schema_file = path / "schemas" / "flights.yaml"
    assert schema_file.is_file()
    assert summary["alerts_opened"] >= 1 and summary["batches_blocked"] == 0
    with tillage.open(path) as repo:
        # A model is recorded every day from the 8th (a full week to learn from).
        models = repo.models.recorded("delay-model")
        assert [m.metrics["day"] for m in models] == [f"2013-01-{d:02d}" for d in range(16, 7, -1)]
        assert set(models[0].importance) == set(pipeline.FEATURES)
        # Days 8.. were checked against the schema file: each commit records its hash.
        checked = [c for c in repo.refs.log("main") if "schema" in c.changes.get("flights", {})]
        assert len(checked) >= 8
        # The week of 10-16 January has the cancellations of the 13th and 16th:
        # the missing-value rule on dep_time fired and stays one alert.
        dep_time = [
            a for a in repo.quality.alerts() if a.column == "dep_time" and a.kind == "missing"
        ]
        assert len(dep_time) == 1 and dep_time[0].count >= 2


def test_demo_runs_one_pipeline_run_per_day(tmp_path: Path) -> None:
    path = tmp_path / "demo"
    summary = run_demo(path, days=13, labels=False, loop=False, privacy=False)
    days = [f"2013-01-{d:02d}" for d in range(1, 14)]
    assert summary["runs"] == 13 and summary["rerun_skipped"] == 13
    assert summary["models_recorded"] == 6  # days 8..13
    # The 13th: accuracy fell from 96.6% to 90.5% (a third of the flights were late).
    assert summary["retrains"] == 1
    assert 0.5 < summary["last_accuracy"] < 1 and 0 < summary["last_base_rate"] < 1
    assert summary["branches"] == ["drop-cancelled", "main"]

    with tillage.open(path) as repo:
        runs = tillage.Runs(repo)
        done = [runs.show(r.id) for r in runs.list(pipeline="daily_flights")]
        assert sorted(r.params["day"] for r in done) == days
        assert {r.status for r in done} == {"done"}
        assert {r.target for r in done} == {"tillage.demo.pipeline:daily_flights"}
        # Each run's ingest wrote one commit, and that commit is on main.
        on_main = {c.id for c in repo.refs.log("main")}
        for run in done:
            [ingest] = [s for s in run.steps if s.name == "ingest"]
            [write] = ingest.writes
            assert write["commit"] == run.result["commit"] == run.merged_commit
            assert write["commit"] in on_main

        # Each model is recorded against the data it was trained on, with its metrics.
        last = max(done, key=lambda r: r.params["day"])
        card = last.result["model"]
        [model] = [m for m in repo.models.recorded("delay-model") if m.metrics["day"] == days[-1]]
        assert model.commit_id == last.result["commit"]
        assert model.metrics["accuracy"] == card["accuracy"] == summary["last_accuracy"]
        assert card["challenger"]["trained_on"] == [days[0], days[-2]]
        assert card["accuracy"] >= card["daily_accuracy"]
        assert [s.name for s in last.steps] == [
            "ingest",
            "check",
            "history",
            "train",
            "evaluate",
            "previous_accuracy",
            "retrain",
            "evaluate",
            "record",
        ]

        # What made the final model: a training step of the last run, reading its data.
        graph, root = pipeline.model_lineage(repo, last)
        assert root.startswith("value:pickle:")
        labels = "\n".join(graph.nodes.values())
        assert "step train" in labels or "step retrain" in labels
        assert "step ingest" in labels
        assert f"flights of {days[-1]}" in labels
        assert f"daily_flights(day='{days[-1]}')" in labels

        # The backfill again, by the pipeline's import path: every day is already done.
        head = repo.refs.resolve("main")
        again = tillage.backfill(repo, "tillage.demo.pipeline:daily_flights", "day", days)
        assert again.ran == [] and again.skipped == days
        assert repo.refs.resolve("main") == head


def test_a_failed_day_stops_the_demo_and_its_run_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_model(*args: object) -> None:
        raise RuntimeError("the training cluster is down")

    path = tmp_path / "demo"
    monkeypatch.setattr(pipeline, "_fit", no_model)
    with pytest.raises(tillage.TillageError, match="tillage runs resume") as failed:
        run_demo(
            path, days=9, labels=False, loop=False, privacy=False
        )  # day 8 is the first with a week to train on
    assert "the training cluster is down" in str(failed.value)
    monkeypatch.undo()

    with tillage.open(path) as repo:
        runs = tillage.Runs(repo)
        [stopped] = runs.list(status="failed")
        assert stopped.params == {"day": "2013-01-08"}
        # Resumed by its target, tillage.demo.pipeline:daily_flights: the ingest is replayed.
        done = runs.resume(stopped.id)
        assert done.status == "done", done.error
        assert done.result["model"]["trained_on"] == ["2013-01-01", "2013-01-07"]
        day8 = repo.read("flights", where="month = 1 AND day = 8")
        assert day8.num_rows == pipeline.flights_of("2013-01-08").num_rows
        assert len(repo.refs.log("main")) == 8  # one commit per day, none twice


def test_labelling_chapter_scores_every_stage_against_gold(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from tillage.demo.tweets import BRANCH, DATASET, LABELSET, label_tweets

    with tillage.init(tmp_path / "demo") as repo:
        summary = label_tweets(repo, Console(file=io.StringIO()), sample=600, annotate=24)
        assert summary["labels_tweets"] == 600 and summary["labels_annotations"] == 24 * 3
        # Two classes: every stage must clearly beat a coin flip, and the label model
        # must not lose to the majority vote of the functions it combines.
        for name in ("majority", "model", "aggregate", "training", "classifier"):
            assert summary[f"labels_{name}_accuracy"] >= 0.65, name
        assert summary["labels_model_accuracy"] >= summary["labels_majority_accuracy"]
        assert summary["labels_coverage"] >= 0.7  # eight functions, most tweets get a vote
        assert 0 <= summary["labels_issues_wrong"] <= summary["labels_issues"]
        annotators = summary["labels_annotator_accuracy"]
        assert set(annotators) == {"ana", "ben", "cy"}
        # The simulated annotators are made careful, average and careless, in that order.
        true = [annotators[a]["true"] for a in ("ana", "ben", "cy")]
        assert true == sorted(true, reverse=True), annotators
        assert all(0 <= a["estimated"] <= 1 for a in annotators.values())

        # Everything landed on the branch; main and the repository's HEAD are untouched.
        assert repo.refs.current_branch == "main" and DATASET not in repo.datasets.pins("main")
        kinds = set(repo.read(LABELSET, BRANCH).column("kind").to_pylist())
        assert kinds == {"lf", "annotator", "aggregate"}
        training = repo.labels.training_set(DATASET, LABELSET, BRANCH)
        assert training.num_rows == 600 and training.column("label").null_count == 0
        assert (repo.path / "tasks" / "tweet-source.yaml").is_file()


@pytest.mark.slow
def test_the_closing_summary_is_the_repository_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every number of the summary is read back from the repository the demo leaves,
    labels chapter included; a cut list says how many it left out; no dangling reference."""
    import functools
    import io
    import re
    from collections import Counter

    from rich.console import Console

    from tillage.demo import flights, loop, tweets

    small = functools.partial(tweets.label_tweets, sample=300, annotate=6)
    monkeypatch.setattr(tweets, "label_tweets", small)
    short = functools.partial(loop.improve_with_the_model, budget=100, flights=3000)
    monkeypatch.setattr(loop, "improve_with_the_model", short)
    monkeypatch.setattr(flights, "ALERTS_SHOWN", 2, raising=False)
    out = io.StringIO()
    path = tmp_path / "demo"
    summary = run_demo(path, days=10, console=Console(file=out, width=200))
    text = out.getvalue()

    with tillage.open(path) as repo:
        alerts = repo.quality.alerts()
        assert summary["open_alerts"] == len(alerts) > 2
        assert summary["alerts_opened"] == len(repo.quality.alerts(show_all=True))
        by_dataset = Counter(a.dataset for a in alerts)
        assert summary["open_alerts_by_dataset"] == dict(by_dataset)
        branches = sorted(b for b in repo.refs.branches() if not b.startswith("runs/"))
        assert summary["branches"] == branches
        assert branches == ["data-centric", "drop-cancelled", "labels", "main"]
        assert summary["tags"] == sorted(repo.refs.tags()) == ["v1"]
        assert summary["commits"] == len(repo.refs.log("main"))
        assert summary["head"] == repo.refs.resolve("main")
        assert summary["rows"] == repo.read("flights", "main").num_rows
        runs = tillage.Runs(repo).list(pipeline="daily_flights")
        assert summary["runs"] == len(runs) == 10
        assert summary["runs_by_status"] == dict(Counter(r.status for r in runs))
        assert summary["models_recorded"] == len(repo.models.recorded("delay-model"))

    # The alert list: its count is the summary's, two shown, the rest counted.
    listed = re.search(r"open alerts \((\d+)", text)
    assert listed and int(listed.group(1)) == len(alerts)
    closing = text[listed.start() :]
    assert len(re.findall(r"^  #\d+ ", closing, flags=re.M)) == 2
    assert f"and {len(alerts) - 2} more: `tillage alerts` lists them all" in closing
    # The lineage refers only to what it shows: each "(as [k] above)" has its [k].
    assert "(see above)" not in text
    for k in re.findall(r"\(as \[(\d+)\] above\)", text):
        assert re.search(rf"\S \[{k}\]$", text, flags=re.M), k
    # The labels chapter shows its progress.
    assert re.search(r"labels: done .*\d+/\d+", text)


@pytest.mark.slow
def test_the_data_centric_chapter_labels_what_the_model_asks_for(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from tillage.demo.loop import BRANCH, LABELSET, POOL, improve_with_the_model

    out = io.StringIO()
    with tillage.init(tmp_path / "demo") as repo:
        summary = improve_with_the_model(
            repo, Console(file=out, width=200), budget=150, flights=4000
        )
        assert summary["loop_labels"] == 150 and summary["loop_rounds"] == 3
        # Two classes: every model must clearly beat a coin flip.
        for name in ("accuracy", "random_accuracy", "full_accuracy", "noisy_accuracy"):
            assert 0.6 <= summary[f"loop_{name}"] <= 1, name
        assert summary["loop_full_accuracy"] > summary["loop_accuracy"] - 0.05
        assert summary["loop_slice_error"] > summary["loop_flights_error"]
        assert " vs " in summary["loop_slice"]
        # The labels the loop bought are on the chapter's branch, as annotations.
        current = repo.labels.current(LABELSET, BRANCH).to_pylist()
        assert len(current) == 150
        assert {r["kind"] for r in current} == {"import", "aggregate"}
        assert POOL not in repo.datasets.pins("main")
        shown = tillage.learning_curve(repo.at(BRANCH), summary["loop_run"])
        assert [p.labels for p in shown.points] == [50, 100, 150]
    assert "tillage loop show" in out.getvalue()


@pytest.mark.slow
def test_the_private_data_chapter_shows_no_raw_value_and_its_audit_verifies(
    tmp_path: Path,
) -> None:
    import io

    from rich.console import Console

    from tillage.demo.private import keep_private

    out = io.StringIO()
    with tillage.init(tmp_path / "demo") as repo:
        summary = keep_private(repo, Console(file=out, width=200))
    text = out.getvalue()
    assert summary["privacy_refused"] and "may not see raw values" in text
    assert "@mail.example" not in text  # the e-mails are found by the scan, never shown
    assert summary["privacy_clamping_bias"] is not None and summary["privacy_clamping_bias"] < 0
    # 0.5 for the histogram and 1 for the proxy, of 3; the preview spent nothing
    assert summary["privacy_epsilon_left"] == pytest.approx(1.5)
    assert summary["privacy_proxy_two_way"] < summary["privacy_independent_two_way"]
    assert 0 < summary["privacy_granted_rows"] <= 5
    assert summary["privacy_audit_verified"] and summary["privacy_guarantee_void"]
    assert summary["privacy_audit_entries"] == 3  # request, approval, read
