"""Pipeline commands: ``run``, ``runs`` (list, show, resume, approve, cancel, delete),
``backfill``, ``lineage``.

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

import tillage
from tillage.cli.common import BranchOpt, JsonOpt, TopicGroup, _open, _out, app
from tillage.cli.output import progress_bar

if TYPE_CHECKING:
    from rich.console import RenderableType

runs_app = typer.Typer(
    cls=TopicGroup,
    name="runs",
    help="List, inspect, resume, approve, cancel and delete pipeline runs.",
)
schedule_app = typer.Typer(
    cls=TopicGroup,
    name="schedule",
    help="Start pipelines on a cron, on new commits or on alerts.",
    no_args_is_help=True,
)
app.add_typer(runs_app, rich_help_panel="Pipelines")
app.add_typer(schedule_app, rich_help_panel="Pipelines")


class ExecutorKind(StrEnum):
    local = "local"
    process = "process"
    ray = "ray"


class Fmt(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="NAME=VALUE",
        help="A pipeline parameter (repeatable); VALUE is read as JSON when it parses, "
        "else as text.",
    ),
]
ExecutorOpt = Annotated[
    ExecutorKind,
    typer.Option(
        "--executor",
        help="Where map steps run: this process, a process pool, or Ray (tillage[ray]).",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Run every step, even those with a stored result.")
]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id (a prefix of 4+ works).")]
TargetArg = Annotated[
    str, typer.Argument(metavar="FILE.py:PIPELINE", help="The pipeline (or module:PIPELINE).")
]


def _params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise tillage.InputError(f"--param {item!r}: write NAME=VALUE, e.g. day=2013-01-01.")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


_STYLE = {
    "done": "green",
    "cached": "cyan",
    "failed": "bold red",
    "crashed": "bold red",
    "waiting": "yellow",
    "cancelled": "dim",
    "retrying": "yellow",
}


def run_view(run: "tillage.Run") -> "RenderableType":
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text.assemble(
        (f"run {run.id} ", "bold"),
        (run.status, _STYLE.get(run.status, "")),
        f"  {run.pipeline}({', '.join(f'{k}={v!r}' for k, v in run.params.items())})",
    )
    lines: list[RenderableType] = [head]
    if run.steps:
        table = Table(show_edge=False)
        retried = any(len(s.attempts) > 1 for s in run.steps)
        cols = ("#", "step", "status", "seconds", *(("attempts",) if retried else ()))
        for col in (*cols, "data read / written"):
            table.add_column(col)
        for s in run.steps:
            data = [f"read {r['dataset']}@{str(r['commit'])[:12]}" for r in s.reads]
            data += [f"wrote {w['dataset']}@{w['commit'][:12]}" for w in s.writes]
            tries = (str(len(s.attempts) or ""),) if retried else ()
            table.add_row(
                str(s.seq),
                Text(s.name),
                Text(s.status, style=_STYLE.get(s.status, "")),
                f"{s.seconds:.3f}",
                *tries,
                Text(", ".join(data)),
            )
        lines.append(table)
        lines += [
            Text(
                f"#{s.seq} {s.name} attempt {a['attempt']}: {a['error']}"
                + (f" (retried after {a['retry_in']:g}s)" if a.get("retry_in") is not None else ""),
                style="yellow",
            )
            for s in run.steps
            for a in s.attempts
            if a.get("error")
        ]
    if run.status == "waiting" and run.waiting_on:
        lines.append(Text(f"waiting: {run.waiting_on.get('message')}", style="yellow"))
        lines.append(Text(f"then: tillage runs resume {run.id}", style="cyan"))
    if run.status == "failed" and run.error:
        lines.append(Text(run.error.strip().splitlines()[-1], style="red"))
        lines.append(Text(f"fix it, then: tillage runs resume {run.id}", style="cyan"))
    if run.status == "crashed" and run.error:
        lines.append(Text(run.error, style="red"))
    if run.status == "done":
        lines.append(Text(f"result: {run.result!r}"[:400]))
        if run.merged_commit:
            lines.append(Text(f"writes landed on {run.branch} as {run.merged_commit[:12]}"))
    return Group(*lines)


def _doc(run: "tillage.Run") -> dict[str, Any]:
    d = run.to_dict()
    d["result"] = run.result if _jsonish(run.result) else repr(run.result)
    return d


def _jsonish(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@app.command("run", rich_help_panel="Pipelines")
def run_cmd(
    ctx: typer.Context,
    target: TargetArg,
    param: ParamOpt = None,
    branch: BranchOpt = None,
    no_cache: NoCacheOpt = False,
    executor: ExecutorOpt = ExecutorKind.local,
    as_json: JsonOpt = False,
) -> None:
    """Start a durable run of a pipeline; prints its id and where it stands."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working(f"running {target}…"):
        run = tillage.run(
            repo,
            target,
            _params(param),
            branch=branch,
            no_cache=no_cache,
            executor=executor.value,
            on_start=lambda run_id: out.note(
                f"started run {run_id} (if it stops: tillage runs resume {run_id})"
            ),
        )
    out.emit(_doc(run), run_view(run))
    if run.status == "failed":
        raise typer.Exit(4)


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", metavar="STATUS", help="Only runs that are done, waiting, ..."),
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", metavar="NAME", help="Only this pipeline's runs.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first, with what each waits on."""
    from rich.table import Table
    from rich.text import Text

    if ctx.invoked_subcommand is not None:
        return
    out = _out(ctx, as_json)
    found = tillage.Runs(_open(ctx)).list(pipeline=pipeline, status=status)
    table = Table(show_edge=False)
    for col in ("run", "pipeline", "params", "status", "started", "waiting on / next"):
        table.add_column(col, overflow="fold")
    for r in found:
        note = str((r.waiting_on or {}).get("message", ""))
        if r.status == "crashed":
            note = f"its process is gone: tillage runs resume {r.id}"
        table.add_row(
            r.id,
            Text(r.pipeline),
            Text(", ".join(f"{k}={v!r}" for k, v in r.params.items())),
            Text(r.status, style=_STYLE.get(r.status, "")),
            r.created_at[:19].replace("T", " "),
            Text(note),
        )
    view: RenderableType = table if found else Text("no runs yet")
    out.emit({"runs": [_doc(r) for r in found]}, view)


@runs_app.command("show")
def runs_show(ctx: typer.Context, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """Show a run's steps: cached, done, failed or waiting, with timings and data."""
    out = _out(ctx, as_json)
    run = tillage.Runs(_open(ctx)).show(run_id)
    out.emit(_doc(run), run_view(run))


@runs_app.command("resume")
def runs_resume(
    ctx: typer.Context,
    run_id: RunArg,
    no_cache: NoCacheOpt = False,
    executor: ExecutorOpt = ExecutorKind.local,
    as_json: JsonOpt = False,
) -> None:
    """Continue a waiting, failed or killed run; finished steps are not redone."""
    out = _out(ctx, as_json)
    runs = tillage.Runs(_open(ctx))
    with out.working(f"resuming {run_id}…"):
        run = runs.resume(run_id, no_cache=no_cache, executor=executor.value)
    out.emit(_doc(run), run_view(run))
    if run.status == "failed":
        raise typer.Exit(4)


@runs_app.command("approve")
def runs_approve(
    ctx: typer.Context,
    run_id: RunArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The approval the run waits for.")],
    note: Annotated[
        str | None, typer.Option("--note", metavar="TEXT", help="Why (kept with the approval).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve what a run waits for; `tillage runs resume RUN` then goes on."""
    out = _out(ctx, as_json)
    run = tillage.Runs(_open(ctx)).approve(run_id, name, note)
    out.emit(_doc(run), f"approved {name} for run {run.id}; continue: tillage runs resume {run.id}")


@runs_app.command("cancel")
def runs_cancel(ctx: typer.Context, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """End a waiting, failed, crashed or running run without merging it; deletes its branch."""
    out = _out(ctx, as_json)
    run = tillage.Runs(_open(ctx)).cancel(run_id)
    out.emit(
        _doc(run),
        f"cancelled run {run.id}; nothing it wrote reaches {run.branch} "
        f"(remove it with: tillage runs delete {run.id})",
    )


@runs_app.command("delete")
def runs_delete(ctx: typer.Context, run_id: RunArg, as_json: JsonOpt = False) -> None:
    """Remove an ended run (done, failed, crashed, cancelled): its records and its branch."""
    out = _out(ctx, as_json)
    run = tillage.Runs(_open(ctx)).delete(run_id)
    out.emit({"deleted": run.id, "status": run.status}, f"deleted run {run.id} ({run.status})")


@app.command(rich_help_panel="Pipelines")
def backfill(
    ctx: typer.Context,
    target: TargetArg,
    param: Annotated[
        str, typer.Option("--param", metavar="NAME", help="The parameter that takes each value.")
    ],
    start: Annotated[str, typer.Option("--from", metavar="VALUE", help="First date or number.")],
    end: Annotated[str, typer.Option("--to", metavar="VALUE", help="Last date or number.")],
    fixed: Annotated[
        list[str] | None,
        typer.Option("--with", metavar="NAME=VALUE", help="Another parameter, the same for all."),
    ] = None,
    branch: BranchOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a pipeline once per date or number; partitions already done are skipped."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    values = tillage.partitions(start, end)
    console = out.stderr
    with progress_bar(console, disable=out.json or not console.is_terminal) as progress:
        task = progress.add_task(f"backfill {target}", total=len(values))

        def step(value: Any, run: "tillage.Run | None") -> None:
            state = "skipped" if run is None else run.status
            progress.update(task, advance=1, description=f"{param}={value}: {state}")

        result = tillage.backfill(
            repo, target, param, values, fixed=_params(fixed), branch=branch, progress=step
        )
    text = (
        f"backfill {result.pipeline}: {len(result.ran)} run(s), "
        f"{len(result.skipped)} partition(s) already done, {len(result.failed)} failed, "
        f"{len(result.waiting)} waiting"
    )
    waits = result.waiting_on()
    if waits:
        text += " (" + "; ".join(f"{n} on {what}" for what, n in waits.items()) + ")"
        text += "\nsee them with: tillage runs --status waiting"
    out.emit(result.to_dict(), text)
    if result.failed:
        raise typer.Exit(4)


@app.command(rich_help_panel="Pipelines")
def lineage(
    ctx: typer.Context,
    what: Annotated[
        str, typer.Argument(metavar="REF|RUN|VALUE", help="A ref or commit, a run id, a value.")
    ],
    up: Annotated[
        bool, typer.Option("--up", help="What made it: data, code, steps (default).")
    ] = False,
    down: Annotated[bool, typer.Option("--down", help="What was built from it.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="text, mermaid or dot.")] = Fmt.text,
    as_json: JsonOpt = False,
) -> None:
    """Which data and code made something (--up), or what was built from it (--down)."""
    from rich.text import Text

    out = _out(ctx, as_json)
    if up and down:
        raise tillage.InputError("give --up or --down, not both.")
    direction: Literal["up", "down"] = "down" if down else "up"
    graph, root = tillage.lineage(_open(ctx), what, direction)
    rendered = {
        Fmt.text: graph.text(root, direction),
        Fmt.mermaid: graph.mermaid(),
        Fmt.dot: graph.dot(),
    }
    out.emit({"root": root, **graph.to_dict()}, Text(rendered[fmt]))


@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context,
    target: TargetArg,
    cron: Annotated[
        str | None, typer.Option("--cron", metavar="EXPR", help='UTC cron, e.g. "0 6 * * *".')
    ] = None,
    on_commit: Annotated[
        str | None,
        typer.Option("--on-commit", metavar="DATASET", help="Run on each new commit of it."),
    ] = None,
    on_alert: Annotated[
        str | None,
        typer.Option("--on-alert", metavar="KIND", help="Run on each new alert of this kind."),
    ] = None,
    param: ParamOpt = None,
    branch: BranchOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Schedule a pipeline; `tillage worker` starts it when due."""
    out = _out(ctx, as_json)
    s = tillage.add_schedule(
        _open(ctx),
        target,
        cron=cron,
        on_commit=on_commit,
        on_alert=on_alert,
        params=_params(param),
        branch=branch,
    )
    out.emit(vars(s), f"schedule {s.id}: {s.target} on {s.kind} {s.spec!r}")


@schedule_app.command("list")
def schedule_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List schedules with what each last acted on and the run it started."""
    from rich.table import Table
    from rich.text import Text

    out = _out(ctx, as_json)
    found = tillage.Runs(_open(ctx)).store.schedules()
    table = Table(show_edge=False)
    for col in ("id", "pipeline", "trigger", "params", "last seen", "last run"):
        table.add_column(col, overflow="fold")
    for s in found:
        table.add_row(
            str(s.id),
            Text(s.target),
            Text(f"{s.kind} {s.spec}"),
            Text(json.dumps(s.params)),
            Text(str(s.last_seen or "")),
            Text(str(s.last_run or "")),
        )
    out.emit({"schedules": [vars(s) for s in found]}, table if found else Text("no schedules"))


@schedule_app.command("remove")
def schedule_remove(
    ctx: typer.Context,
    schedule_id: Annotated[int, typer.Argument(metavar="ID", help="Schedule number.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a schedule (its runs stay)."""
    out = _out(ctx, as_json)
    store = tillage.Runs(_open(ctx)).store
    if not store.remove_schedule(schedule_id):
        raise tillage.NoSuchScheduleError(schedule_id, [s.id for s in store.schedules()])
    out.emit({"removed": schedule_id}, f"removed schedule {schedule_id}")


@app.command(rich_help_panel="Pipelines")
def worker(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", help="Seconds between checks.")
    ] = 30.0,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds", metavar="SECONDS", help="Stop after this long (default: never)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start due pipelines, resume waiting runs and deliver queued alerts, every --interval s."""
    out = _out(ctx, as_json)
    repo = _open(ctx)

    def report(t: "tillage.Tick") -> None:
        for r in t.started:
            out.note(f"started run {r.id} ({r.pipeline}): {r.status}")
        for r in t.resumed:
            out.note(f"resumed run {r.id} ({r.pipeline}): {r.status}")
        if t.delivered:
            out.note(f"delivered {t.delivered} alert event(s)")
        for e in t.errors:
            out.note(f"error: {e}")

    done = tillage.worker(repo, interval=interval, max_seconds=max_seconds, on_tick=report)
    # The id lists hold the latest runs only (a worker's memory stays bounded).
    doc = {
        "ticks": done.ticks,
        "started": list(done.started),
        "resumed": list(done.resumed),
        "delivered": done.delivered,
    }
    out.emit(
        doc,
        f"worker stopped after {done.ticks} check(s): {done.started_total} run(s) started, "
        f"{done.resumed_total} resumed, {done.delivered} alert event(s) delivered",
    )
