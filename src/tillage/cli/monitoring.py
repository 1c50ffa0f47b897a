"""Monitoring commands: ``profile``, ``schema infer``, ``check``, ``drift``, ``alerts``.

``alerts deliver`` sends the alert events queued in the outbox to the sinks.

Registered on the root app by `tillage.cli.app`; like every command they only
call the `Repo` API and render what it returns.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _open, _out, app

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from tillage import Alert, Finding

schema_app = typer.Typer(
    cls=TopicGroup,
    name="schema",
    help="Infer and keep reviewable schema files.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(cls=TopicGroup, name="alerts", help="List and act on data-quality alerts.")
app.add_typer(schema_app, rich_help_panel="Quality")
app.add_typer(alerts_app, rich_help_panel="Quality")

FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", metavar="FILE", help="Check a data file instead of a stored version."
    ),
]
DatasetArg = Annotated[str, typer.Argument(metavar="DATASET", help="The dataset.")]
AllOpt = Annotated[
    bool, typer.Option("--all", "-a", help="Also show what triage suppressed or closed.")
]


# -- rendering -------------------------------------------------------------------------

_STYLE = {"block": "bold red", "warn": "yellow", "info": "dim"}


def finding_text(f: "Finding") -> "Text":
    """One finding as one line: severity, message, importance, reference, action."""
    from rich.text import Text

    t = Text()
    t.append(f"[{f.severity}] ", style=_STYLE.get(f.severity, ""))
    t.append(f.message)
    extra = [] if f.reference in f.message else [f"vs {f.reference}"]
    if f.importance is not None:
        extra.append(str(f.importance))
    if f.suppressed:
        extra.append("suppressed: the model does not use this column")
    if extra:
        t.append(" (" + "; ".join(extra) + ")", style="dim")
    if f.actions:
        t.append(f"\n    → {f.actions[0]}  |  {f.actions[1]}", style="cyan")
    return t


def findings_view(findings: "list[Finding]", what: str) -> "RenderableType":
    from rich.console import Group
    from rich.text import Text

    if not findings:
        return Text(f"no findings: {what}", style="green")
    lines: list[RenderableType] = [Text(f"{len(findings)} finding(s): {what}", style="bold")]
    lines += [finding_text(f) for f in findings]
    return Group(*lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    s = str(v)
    return s if len(s) <= 24 else s[:23] + "…"


def profile_view(doc: dict[str, Any]) -> "RenderableType":
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{doc['dataset']} at {doc['ref']}: {doc['rows']:,} rows", show_edge=False)
    for col in ("column", "type", "nulls", "min", "p50", "max", "mean", "distinct", "top value"):
        table.add_column(col, overflow="fold")
    for name, c in doc["columns"].items():
        qs = c.get("quantiles") or {}
        distinct = c.get("distinct") or {}
        top = (c.get("frequent") or [None])[0]
        top_text = (
            "-"
            if top is None
            else f"{_fmt(top['value'])} ({top['count'] / max(c['count'], 1):.0%})"
        )
        table.add_row(
            Text(name),
            Text(c["type"]),
            Text(f"{c['null_ratio']:.1%}"),
            Text(_fmt(c.get("min"))),
            Text(_fmt(qs.get("p50"))),
            Text(_fmt(c.get("max"))),
            Text(_fmt(c.get("mean"))),
            Text(_fmt(round(distinct["estimate"])) if distinct else "-"),
            Text(top_text),
        )
    return table


def undelivered_view(rows: list[dict[str, Any]]) -> "RenderableType | None":
    """One line on alert events the sinks have not had, and what to do about them."""
    from rich.text import Text

    if not rows:
        return None
    dead = [r for r in rows if r["status"] == "dead"]
    waiting = len(rows) - len(dead)
    parts = []
    if waiting:
        parts.append(f"{waiting} alert event(s) waiting for delivery")
    if dead:
        last = dead[-1]
        parts.append(
            f"{len(dead)} given up after repeated failures (last: #{last['alert_id']} to "
            f"{last['sink_name']}: {last['last_error']})"
        )
    fix = "tillage alerts deliver --retry-dead" if dead else "tillage alerts deliver"
    return Text("; ".join(parts) + f"\n    → {fix}", style="yellow")


def alerts_view(alerts: "list[Alert]", undelivered: list[dict[str, Any]]) -> "RenderableType":
    from rich.console import Group

    note = undelivered_view(undelivered)
    table = _alerts_table(alerts)
    return table if note is None else Group(table, note)


def _alerts_table(alerts: "list[Alert]") -> "RenderableType":
    from rich.table import Table
    from rich.text import Text

    if not alerts:
        return Text("no open alerts", style="green")
    table = Table(show_edge=False)
    for col in ("id", "status", "severity", "subject", "seen", "last", "message"):
        table.add_column(col, overflow="fold")
    for a in alerts:
        table.add_row(
            Text(str(a.id)),
            Text(a.status),
            Text(a.severity, style=_STYLE.get(a.severity, "")),
            Text(f"{a.dataset}.{a.column}" if a.column else a.dataset),
            Text(f"{a.count}×"),
            Text(a.last_seen[:16].replace("T", " ")),
            Text(a.message),
        )
    table.caption = "accept: tillage alerts accept ID · mute: tillage alerts mute ID --for 7d"
    if any(a.check == "labels" for a in alerts):  # label alerts are resolved, not accepted
        table.caption += " · labels: tillage alerts resolve ID"
    return table


# -- commands --------------------------------------------------------------------------


@app.command(rich_help_panel="Quality")
def profile(
    ctx: typer.Context,
    dataset: DatasetArg,
    ref: RefOpt = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Profile data that needs a scan on Ray, by fragment.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a dataset's column profile: nulls, ranges, quantiles, distinct counts, top values."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working(f"profiling {dataset}…"):
        prof = repo.quality.profile(dataset, ref, executor="ray" if ray else "local")
    doc = {"dataset": dataset, "ref": ref or repo.refs.current_branch, **prof.to_dict()}
    out.emit(doc, profile_view(doc))


@schema_app.command("infer")
def schema_infer(
    ctx: typer.Context,
    dataset: DatasetArg,
    ref: RefOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Where to write (default: schemas/DATASET.yaml)."
        ),
    ] = None,
    margin: Annotated[
        float,
        typer.Option(
            "--margin",
            min=0.0,
            help=(
                "Widen numeric ranges by at least this share of the span "
                "(by the tail's reach where that is wider)."
            ),
        ),
    ] = 0.1,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a reviewable YAML schema inferred from the data; ingest then checks against it."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    schema, path = repo.quality.infer_schema(
        dataset, ref, path=output, margin=margin, overwrite=force
    )
    doc = {"dataset": dataset, "path": str(path), "sha256": schema.content_hash}
    out.emit(doc, f"wrote {path}: review it, commit it to git; ingests of {dataset} now check it")


@app.command(rich_help_panel="Quality")
def check(
    ctx: typer.Context,
    dataset: DatasetArg,
    ref: RefOpt = None,
    file: FileOpt = None,
    schema: Annotated[
        Path | None,
        typer.Option(
            "--schema", metavar="FILE", help="Schema file (default: schemas/DATASET.yaml)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a dataset version (or a file) against its schema and print the findings."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working(f"checking {dataset}…"):
        found = repo.quality.check(dataset, ref, file=file, schema=schema)
    what = str(file) if file else f"{dataset} at {ref or repo.refs.current_branch}"
    out.emit({"findings": [f.to_dict() for f in found]}, findings_view(found, what))
    if any(f.severity == "block" for f in found):
        raise typer.Exit(3)


@app.command(rich_help_panel="Quality")
def drift(
    ctx: typer.Context,
    dataset: DatasetArg,
    ref: RefOpt = None,
    file: FileOpt = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against", metavar="REF", help="Compare with this ref, or model:NAME's training data."
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option("--window", metavar="N", help="Compare the latest batch with the N before."),
    ] = None,
    show_all: AllOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare a version (or a file) with a reference and print specific drift findings."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working(f"comparing {dataset}…"):
        found = repo.quality.drift(
            dataset, ref, file=file, against=against, window=window, show_all=show_all
        )
    what = str(file) if file else f"{dataset} at {ref or repo.refs.current_branch}"
    out.emit({"findings": [f.to_dict() for f in found]}, findings_view(found, what))


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    show_all: AllOpt = False,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", metavar="DATASET", help="Only this dataset.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List open alerts (--all: muted, resolved and accepted ones too)."""
    if ctx.invoked_subcommand is not None:
        return
    out = _out(ctx, as_json)
    repo = _open(ctx)
    found = repo.quality.alerts(show_all=show_all, dataset=dataset)
    undelivered = [r.to_dict() for r in repo.quality.alert_deliveries()]
    out.emit(
        {"alerts": [a.to_dict() for a in found], "undelivered": undelivered},
        alerts_view(found, undelivered),
    )


AlertId = Annotated[int, typer.Argument(metavar="ID", help="Alert number (see `tillage alerts`).")]


@alerts_app.command("accept")
def alerts_accept(ctx: typer.Context, alert_id: AlertId, as_json: JsonOpt = False) -> None:
    """Accept what an alert found: widen the schema file to allow it, then re-check.

    The file is edited in place (your comments stay). A drift alert no schema rule
    covers is refused: resolve or mute it, or change the drift reference.
    """
    from rich.console import Group
    from rich.text import Text

    out = _out(ctx, as_json)
    done = _open(ctx).quality.accept_alert(alert_id)
    lines: list[RenderableType] = [Text(f"alert {alert_id} accepted")]
    if done.schema_file:
        lines.append(Text(f"widened {done.schema_file}: review the change and commit it"))
    if done.remaining:
        lines.append(Text(f"still {len(done.remaining)} finding(s) on that column after re-check"))
    out.emit(done.to_dict(), Group(*lines))


@alerts_app.command("mute")
def alerts_mute(
    ctx: typer.Context,
    alert_id: AlertId,
    duration: Annotated[
        str | None,
        typer.Option(
            "--for", metavar="DURATION", help="e.g. 12h, 7d, 2w (default: until resolved)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Silence an alert: it keeps counting, but sinks are not told until the mute ends."""
    out = _out(ctx, as_json)
    muted = _open(ctx).quality.mute_alert(alert_id, duration)
    until = f" until {muted.muted_until[:16]}" if muted.muted_until else ""
    out.emit(muted.to_dict(), f"alert {alert_id} muted{until}")


@alerts_app.command("resolve")
def alerts_resolve(ctx: typer.Context, alert_id: AlertId, as_json: JsonOpt = False) -> None:
    """Close an alert; if the problem comes back, a new alert opens."""
    out = _out(ctx, as_json)
    resolved = _open(ctx).quality.resolve_alert(alert_id)
    out.emit(resolved.to_dict(), f"alert {alert_id} resolved")


@alerts_app.command("deliver")
def alerts_deliver(
    ctx: typer.Context,
    retry_dead: Annotated[
        bool,
        typer.Option("--retry-dead", help="Also retry events given up after too many tries."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send queued alert events to the sinks now (ingest and the worker also do it)."""
    from rich.console import Group
    from rich.text import Text

    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working("delivering alert events…"):
        report = repo.quality.deliver_alerts(retry_dead=retry_dead)
    undelivered = [r.to_dict() for r in repo.quality.alert_deliveries()]
    doc = {**report.to_dict(), "undelivered": undelivered}
    lines: list[RenderableType] = [
        Text(
            f"delivered {report.delivered} alert event(s); {report.retrying} failed and stay "
            f"queued, {report.dead} given up, {report.waiting} left for later"
        )
    ]
    lines += [Text(f"  {e}", style="yellow") for e in report.errors]
    note = undelivered_view(undelivered)
    if note is not None:
        lines.append(note)
    out.emit(doc, Group(*lines))
