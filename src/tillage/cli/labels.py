"""Label commands: ``labels`` (create, add, show), ``annotate`` (enqueue, next, submit, progress).

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

import tillage
from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _open, _out, app
from tillage.cli.output import Records, commit_line

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Group, RenderableType
    from rich.table import Table

    from tillage import AnnotationTask, AppliedFunctions, Tally

lf_app = typer.Typer(
    cls=TopicGroup,
    name="lf",
    help="Labeling functions: report on them, apply them.",
    no_args_is_help=True,
)
labels_app = typer.Typer(
    cls=TopicGroup,
    name="labels",
    help="Label sets: create, add labels, show.",
    no_args_is_help=True,
)
annotate_app = typer.Typer(
    cls=TopicGroup,
    name="annotate",
    help="Human annotation: queue records, hand them out, take answers.",
    no_args_is_help=True,
)
app.add_typer(labels_app, rich_help_panel="Labels")
app.add_typer(lf_app, rich_help_panel="Labels")
app.add_typer(annotate_app, rich_help_panel="Labels")

LabelSetArg = Annotated[str, typer.Argument(metavar="LABELSET", help="The label set.")]
TaskArg = Annotated[str, typer.Argument(metavar="TASK", help="The task (tasks/TASK.yaml).")]
AnnotatorOpt = Annotated[
    str, typer.Option("--annotator", "-a", metavar="NAME", help="Who is annotating.")
]
SpecOpt = Annotated[
    int | None,
    typer.Option("--spec-version", metavar="N", help="Task spec version (default: the latest)."),
]


def _table_view(table: "pa.Table", limit: int = 50) -> Records:
    more = table.num_rows - limit
    caption = f"... {more:,} more (all of them with --json)" if more > 0 else None
    return Records(table.column_names, table.slice(0, limit).to_pylist(), caption=caption)


def _rows(table: "pa.Table") -> list[dict[str, Any]]:
    return [
        {k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()}
        for r in table.to_pylist()
    ]


@labels_app.command("create")
def labels_create(
    ctx: typer.Context,
    name: LabelSetArg,
    records: Annotated[str, typer.Option("--records", metavar="DATASET", help="Dataset labelled.")],
    taxonomy: Annotated[
        str, typer.Option("--taxonomy", metavar="NAME", help="taxonomies/NAME.yaml in the project.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Create a label set over a dataset's records, with a taxonomy file."""
    out = _out(ctx, as_json)
    created = _open(ctx).labels.create(name, records=records, taxonomy=taxonomy)
    out.emit(created.to_dict(), f"label set {name} over {records}, taxonomy {taxonomy}")


@labels_app.command("add")
def labels_add(
    ctx: typer.Context,
    name: LabelSetArg,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A file with record_id and label columns.")
    ],
    source: Annotated[str, typer.Option("--source", metavar="NAME", help="Who or what labelled.")],
    kind: Annotated[
        str, typer.Option("--kind", metavar="KIND", help="import, lf, annotator, model, aggregate.")
    ] = "import",
    taxonomy_version: Annotated[
        int | None, typer.Option("--taxonomy-version", metavar="N", help="Default: the latest.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add labels from a file as one commit (records and classes are checked first)."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    from tillage.formats import read_file  # pyarrow: only where a file is read

    table = read_file(file)
    missing = [c for c in ("record_id", "label") if c not in table.column_names]
    if missing:
        raise tillage.InputError(
            f"{file} lacks column(s) {', '.join(missing)}; it needs record_id and label "
            "(and may have confidence)."
        )
    conf = table.column("confidence").to_pylist() if "confidence" in table.column_names else None
    commit = repo.labels.add(
        name,
        table.column("record_id").to_pylist(),
        table.column("label").to_pylist(),
        kind=kind,
        source=source,
        taxonomy_version=taxonomy_version,
        confidence=conf,
    )
    out.emit(commit.to_dict(), commit_line(commit, repo.refs.current_branch))


@labels_app.command("show")
def labels_show(
    ctx: typer.Context, name: LabelSetArg, ref: RefOpt = None, as_json: JsonOpt = False
) -> None:
    """Show each record's current label and where it came from."""
    out = _out(ctx, as_json)
    table = _open(ctx).labels.current(name, ref)
    out.emit({"labelset": name, "labels": _rows(table)}, _table_view(table))


@annotate_app.command("enqueue")
def annotate_enqueue(
    ctx: typer.Context,
    task: TaskArg,
    records: Annotated[list[str], typer.Argument(metavar="RECORD", help="Record ids to queue.")],
    as_json: JsonOpt = False,
) -> None:
    """Queue records for annotation."""
    out = _out(ctx, as_json)
    added = _open(ctx).annotation.enqueue(task, records)
    out.emit({"task": task, "added": added}, f"queued {added} new record(s) for {task}")


@annotate_app.command("next")
def annotate_next(
    ctx: typer.Context,
    task: TaskArg,
    annotator: AnnotatorOpt,
    n: Annotated[int, typer.Option("-n", metavar="N", min=1, help="How many records.")] = 1,
    spec_version: SpecOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hand out records that still need this annotator's answer, with what the task shows."""
    out = _out(ctx, as_json)
    handed = _open(ctx).annotation.hand_out(task, annotator, n, spec_version)
    out.emit(handed.to_dict(), _annotation_view(handed, annotator))


def _annotation_view(handed: "AnnotationTask", annotator: str) -> "Group":
    """Each record handed out: its id and the fields the task shows, under the instructions."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    task, shown = handed.task, handed.items
    if not shown:
        return Group(Text(f"no records left for {annotator} in {task}"))
    parts: list[RenderableType] = [Text(f"{len(shown)} record(s) for {annotator} in {task}")]
    if handed.instructions:
        parts.append(Text(handed.instructions, style="italic"))
    for item in shown:
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="dim")
        fields.add_column(overflow="fold")
        for name, value in item.fields.items():
            fields.add_row(name, Text("" if value is None else str(value)))
        parts.append(Panel(fields, title=f"record {item.record_id}", title_align="left"))
    parts.append(Text(f"answer with: tillage annotate submit {task} RECORD LABEL -a {annotator}"))
    return Group(*parts)


@annotate_app.command("submit")
def annotate_submit(
    ctx: typer.Context,
    task: TaskArg,
    annotator: AnnotatorOpt,
    record: Annotated[
        str | None, typer.Argument(metavar="RECORD", help="The record annotated.")
    ] = None,
    label: Annotated[str | None, typer.Argument(metavar="LABEL", help="The class chosen.")] = None,
    answers: Annotated[
        list[str] | None,
        typer.Option(
            "--answer", metavar="RECORD=LABEL", help="One more answer (repeat the option)."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="FILE.jsonl",
            help='Answers, one JSON object a line: {"record_id": "7", "label": "iphone"}.',
        ),
    ] = None,
    spec_version: SpecOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record one annotation or a batch (RECORD LABEL, --answer, --file): one commit."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    if record is not None and label is None:
        raise tillage.InputError(
            f"record {record!r} has no label; give RECORD LABEL, e.g. "
            f"`tillage annotate submit {task} {record} LABEL -a {annotator}`."
        )
    given = [(record, label)] if record is not None and label is not None else []
    given += repo.annotation.parse_answers(answers or [])
    if file is not None:
        given += repo.annotation.read_answers(file)
    if not given:
        raise tillage.InputError(
            f"no answers to submit for task {task!r}; give RECORD LABEL, --answer RECORD=LABEL "
            "or --file FILE.jsonl."
        )
    batch: dict[str, str] = {}
    for r, lb in given:
        if r in batch:
            raise tillage.InputError(f"record {r!r} is answered twice; give one label a record.")
        batch[r] = lb
    commit = repo.annotation.submit_many(task, annotator, batch, spec_version)
    out.emit(commit.to_dict(), commit_line(commit, repo.refs.current_branch))


@annotate_app.command("progress")
def annotate_progress(
    ctx: typer.Context, task: TaskArg, spec_version: SpecOpt = None, as_json: JsonOpt = False
) -> None:
    """How many queued records have all their annotations."""
    out = _out(ctx, as_json)
    progress = _open(ctx).annotation.progress(task, spec_version)
    out.emit(progress.to_dict(), progress.message)


@labels_app.command("issues")
def labels_issues(
    ctx: typer.Context,
    name: LabelSetArg,
    ref: RefOpt = None,
    top: Annotated[int, typer.Option("--top", metavar="N", min=1, help="Show the N surest.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Find likely label errors (confident learning on cross-validated predictions)."""
    from rich.table import Table
    from rich.text import Text

    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working(f"cross-validating a model on {name}…"):
        found = repo.labels.issues(name, ref)
    view = Table(show_edge=False, title=f"{len(found.issues)} likely label error(s) in {name}")
    for col in ("record", "given", "suggested", "score"):
        view.add_column(col)
    for issue in found.issues[:top]:
        view.add_row(
            Text(str(issue.record_id)),
            Text(str(issue.given)),
            Text(str(issue.suggested)),
            f"{issue.score:.3f}",
        )
    out.emit(found.to_dict(), view)


LfFileArg = Annotated[
    Path, typer.Argument(metavar="FILE.py", help="A file of @tillage.labeling_function()s.")
]
GoldOpt = Annotated[
    str | None,
    typer.Option("--gold", metavar="LABELSET", help="Measure accuracy against these labels."),
]


def _lf_view(applied: "AppliedFunctions") -> "Table":
    from rich.table import Table
    from rich.text import Text

    view = Table(show_edge=False, title=f"{len(applied.report.lfs)} labeling function(s)")
    columns = ["function", "coverage", "overlap", "conflict", "accuracy", "errors"]
    estimates = {}
    if applied.model is not None:
        columns[5:5] = ["estimated accuracy", "95% interval (gold)"]
        estimates = {lf["name"]: lf for lf in applied.model.to_dict()["lfs"]}
    for col in columns:
        view.add_column(col)
    for lf in applied.report.lfs:
        acc = "-" if lf.accuracy is None else f"{lf.accuracy:.1%}"
        cells: list[Text | str] = [
            Text(lf.name),
            f"{lf.coverage:.1%}",
            f"{lf.overlap:.1%}",
            f"{lf.conflict:.1%}",
        ]
        cells.append(acc)
        if lf.name in estimates:
            est = estimates[lf.name]
            cells.append("-" if est["accuracy"] is None else f"{est['accuracy']:.1%}")
            interval = est["interval"]
            cells.append(
                "n/a (no gold)"
                if interval is None
                else f"{interval[0]:.1%}-{interval[1]:.1%} ({est['gold_votes']} gold)"
            )
        cells.append(str(lf.errors))
        view.add_row(*cells)
    if applied.errors:
        first = applied.errors[0]
        view.caption = (
            f"{len(applied.errors)} error(s), e.g. {first.lf} on record "
            f"{first.record}: {first.error}"
        )
    return view


@lf_app.command("report")
def lf_report(
    ctx: typer.Context,
    file: LfFileArg,
    labelset: LabelSetArg,
    gold: GoldOpt = None,
    ref: RefOpt = None,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            "-e",
            metavar="ε",
            help="On a private dataset you may not read raw: the ε to spend on the DP report.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Coverage, overlap, conflict and accuracy of labeling functions (writes nothing).

    On a private dataset you may not read raw, they come as DP answers for --epsilon.
    """
    out = _out(ctx, as_json)
    repo = _open(ctx)
    found = repo.labels.report_functions(
        labelset, tillage.load_functions(str(file)), ref=ref, gold=gold, epsilon=epsilon
    )
    payload = found.to_dict()
    if payload.get("dp"):
        out.emit(payload, _dp_lf_view(found), _dp_cost_line(payload))
        return
    applied = cast("AppliedFunctions", found)  # the exact report
    out.emit(payload, _lf_view(applied), *_model_lines(applied))


def _pm(share: float | None, error: float | None) -> str:
    """A DP share with its predicted 95% error, as a percentage."""
    if share is None:
        return "-"
    return f"{share:.1%} ±{error:.1%}" if error is not None else f"{share:.1%}"


def _dp_lf_view(found: Any) -> "Table":
    """A DP labeling-function report (`tillage.privacy.dp_reports.DPFunctionReport`)."""
    from rich.table import Table
    from rich.text import Text

    view = Table(
        show_edge=False,
        title=f"{len(found.lfs)} labeling function(s), DP answers over ~{found.records:,} records",
    )
    for col in ("function", "coverage", "overlap", "conflict", "accuracy (gold)", "errors"):
        view.add_column(col)
    for lf in found.lfs:
        acc = "-" if found.gold is None else _pm(*lf.accuracy)
        view.add_row(
            Text(lf.name),
            _pm(*lf.coverage),
            _pm(*lf.overlap),
            _pm(*lf.conflict),
            acc,
            f"~{max(lf.errors, 0):,}",
        )
    view.caption = "± : the noise's predicted 95% error"
    return view


def _dp_cost_line(payload: dict[str, Any]) -> str:
    """What a DP report cost, and whether its guarantee holds for this principal."""
    guarantee = (
        "VOID for you (a break-glass grant let you read raw rows)" if payload["void"] else "intact"
    )
    return (
        f"DP answers ({payload['mechanism']}, scale {payload['scale']:.4g}, each count "
        f"±{payload['count_error95']:.4g} at 95%): ε spent {payload['epsilon']:g}; budget "
        f"ε={payload['budget']:g}, spent {payload['spent']:g}, left {payload['left']:g}; "
        f"guarantee {guarantee}"
    )


@lf_app.command("apply")
def lf_apply(
    ctx: typer.Context,
    file: LfFileArg,
    labelset: LabelSetArg,
    gold: GoldOpt = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Store the votes only, not the label model's labels.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply labeling functions and the label model; one commit on the label set."""
    from rich.text import Text

    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working("labeling…"):
        applied = repo.labels.apply_functions(
            labelset, tillage.load_functions(str(file)), gold=gold, model=not no_model
        )
    line = _applied_line(applied, repo.refs.current_branch)
    out.emit(applied.to_dict(), _lf_view(applied), *_model_lines(applied), Text(line))


def _model_lines(applied: "AppliedFunctions") -> list[str]:
    """Which labels the label model gave (its fit, or the vote) and why."""
    model = applied.model
    if model is None:
        return []
    used = {
        "independent": "its fit",
        "constrained": "its fit under a precision floor",
        "vote": "the vote",
    }.get(str(model.mode), str(model.mode))
    gold = model.to_dict()["gold"]
    evidence = f", with {gold:,} annotated record(s) as gold" if gold else ", no gold"
    return [f"label model: {used}{evidence}: {model.reason}"]


def _applied_line(applied: "AppliedFunctions", branch: str | None) -> str:
    """What `lf apply` committed: the commit, votes and labels per class, gold accuracy."""

    def tally(t: "Tally", noun: str) -> str:
        per = ", ".join(f"{c} {n:,}" for c, n in t.per_class.items())
        return f"{t.total:,} {noun} ({per})" if t.total else f"0 {noun}"

    if applied.commit is None:
        line = f"nothing committed to {applied.labelset}: no votes and no labels"
    else:
        where = f" on {branch}" if branch else ""
        model = (
            f"{tally(applied.labels, 'label(s)')} from the label model"
            if applied.model is not None
            else "no label model (--no-model)"
        )
        line = (
            f"committed {applied.commit[:12]}{where} to {applied.labelset}: "
            f"{tally(applied.votes, 'vote(s)')}, {model}"
        )
    gold = applied.gold
    if gold is not None:
        if gold.model_accuracy is None:
            line += f"; no label model labels to score against {gold.labelset}"
        else:
            line += (
                f"; the label model is {gold.model_accuracy:.1%} right on the "
                f"{gold.records:,} record(s) labelled in {gold.labelset}"
            )
    return line


@labels_app.command("aggregate")
def labels_aggregate(
    ctx: typer.Context, name: LabelSetArg, spec_version: SpecOpt = None, as_json: JsonOpt = False
) -> None:
    """Combine annotators' labels per record (Dawid-Skene) and report annotator quality."""
    from rich.table import Table
    from rich.text import Text

    out = _out(ctx, as_json)
    done = _open(ctx).labels.aggregate_annotations(name, spec_version=spec_version)
    view = Table(show_edge=False, title=f"{len(done.result.records)} record(s) aggregated")
    for col in ("annotator", "estimated accuracy", "annotations"):
        view.add_column(col)
    for a in done.annotators:
        view.add_row(Text(str(a.annotator)), f"{a.accuracy:.1%}", str(a.count))
    out.emit(done.to_dict(), view)
