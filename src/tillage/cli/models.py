"""Model commands: ``models`` (list, show, predict), ``slices`` and ``fairness``.

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _columns, _open, _out, app
from tillage.cli.output import Records, progress_bar, short_time

if TYPE_CHECKING:
    from rich.console import Group

    from tillage import Model

models_app = typer.Typer(
    cls=TopicGroup,
    name="models",
    help="Recorded model versions: list, show, predict.",
    no_args_is_help=True,
)
app.add_typer(models_app, rich_help_panel="Models")

ModelArg = Annotated[str, typer.Argument(metavar="NAME", help="The model's name.")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", metavar="N", help="Model version (default: the latest)."),
]


def _row(m: "Model") -> dict[str, object]:
    return {
        "name": m.name,
        "version": m.version,
        "dataset": m.dataset,
        "commit": m.commit_id[:12],
        "features": len(m.features),
        "file": m.artifact.format if m.artifact else "-",
        "recorded": short_time(m.created_at),
    }


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only this model's versions.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recorded model versions, newest first."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    if name is not None:
        repo.models.get(name)  # an unknown name is an error, not an empty list
    found = repo.models.recorded(name)
    rows = [_row(m) for m in found]
    out.emit(
        {"models": [m.to_dict() for m in found]},
        lambda: Records(list(rows[0]), rows) if rows else "no models recorded yet",
    )


@models_app.command("show")
def models_show(
    ctx: typer.Context,
    name: ModelArg,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One model version: its data, labels, code, features, classes, file and metrics."""
    out = _out(ctx, as_json)
    m = _open(ctx).models.get(name, version=version)

    def text() -> str:
        lines = [
            f"model {m.name} version {m.version}",
            f"  trained on   {m.dataset} at {m.commit_id[:12]}",
            f"  labels       {m.labelset or '-'}"
            + (f" at {m.labelset_commit[:12]}" if m.labelset_commit else ""),
            f"  code         {m.code_version or '-'}",
            f"  features     {', '.join(m.features) or '-'}",
            f"  classes      {', '.join(m.classes) or '-'}",
        ]
        a = m.artifact
        file = f"{a.path} ({a.format}, {a.size:,} bytes, sha256 {a.sha256[:12]})" if a else "-"
        lines.append(f"  file         {file}")
        for key, value in {**m.metrics}.items():
            lines.append(f"  {key:<12} {value}")
        lines.append(f"  recorded     {short_time(m.created_at)} by {m.principal}")
        return "\n".join(lines)

    out.emit(m.to_dict(), text)


@models_app.command("predict")
def models_predict(
    ctx: typer.Context,
    name: ModelArg,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset to predict on.")],
    ref: RefOpt = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict every record of DATASET with the model and store the predictions (one commit)."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    console = out.stderr
    with progress_bar(console, disable=out.json or not console.is_terminal) as progress:
        task = progress.add_task(f"predicting {dataset} with {name}", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        made = repo.models.predict(name, dataset, ref, version=version, progress=step)
    store = repo.models.predictions_dataset(name)
    out.emit(
        {**made.to_dict(), "stored_in": store},
        f"predicted {len(made):,} record(s) of {dataset} at {made.commit[:12]} with {name} "
        f"version {made.version}; stored in {store} (read them with `tillage head {store}`)",
    )


LabelOpt = Annotated[
    str | None,
    typer.Option("--label", metavar="COLUMN", help="The column holding the true labels."),
]
LabelSetOpt = Annotated[
    str | None,
    typer.Option(
        "--labelset", "-l", metavar="NAME", help="Or: a label set whose current labels are true."
    ),
]


@app.command(rich_help_panel="Models")
def slices(
    ctx: typer.Context,
    name: ModelArg,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The records to judge.")],
    label: LabelOpt = None,
    labelset: LabelSetOpt = None,
    ref: RefOpt = None,
    version: VersionOpt = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", metavar="A,B", help="Columns to slice by (default: the model's features)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="Show at most N slices.")
    ] = 10,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            "-e",
            metavar="ε",
            help="On a private dataset you may not read raw: the ε to spend on DP slice metrics.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show where a model errs most: one- and two-column slices significantly above its error.

    On a private dataset you may not read raw: every slice at public values, its size and
    error rate as DP answers for --epsilon.
    """
    out = _out(ctx, as_json)
    cols = _columns(columns)
    with out.working(f"slicing {dataset} by the errors of {name}…"):
        report = _open(ctx).models.slices(
            name,
            dataset,
            label=label,
            labelset=labelset,
            ref=ref,
            version=version,
            columns=cols,
            limit=limit,
            epsilon=epsilon,
        )
    payload = report.to_dict()
    if payload.get("dp"):
        out.emit(payload, _dp_slices_view(name, dataset, payload))
        return
    report = cast(Any, report)  # the exact report (`tillage.selection.slices.SliceReport`)
    head = (
        f"{name} on {dataset}: error {report.error:.3f} over {report.records:,} records; "
        f"{report.significant} of {report.tried:,} slices tried are significantly worse"
    )
    lines = [head, *(f'  {s.sentence}\n    --where "{s.where}"' for s in report.slices)]
    out.emit(payload, "\n".join(lines))


def _pm(value: float | None, error: float | None) -> str:
    if value is None:
        return "undefined"
    return f"{value:.3f} ±{error:.3f}" if error is not None else f"{value:.3f}"


def _dp_slices_view(name: str, dataset: str, d: dict[str, Any]) -> str:
    """DP slice metrics (`tillage.privacy.dp_reports.DPSliceReport.to_dict`) as text."""
    lines = [
        f"{name} on {dataset}, DP answers: error {_pm(d['error'], d['error_error95'])} over "
        f"~{d['records']:,} records; {len(d['slices'])} of {d['tried']} public slices, "
        "largest DP excess errors first (± the noise's predicted 95% error)"
    ]
    for s in d["slices"]:
        lines.append(
            f"  {s['slice']}: error {_pm(s['error'], s['error_error95'])}, "
            f'~{max(s["records"], 0):,} records\n    --where "{s["where"]}"'
        )
    void = "VOID for you (a break-glass grant let you read raw rows)" if d["void"] else "intact"
    lines.append(
        f"{d['mechanism']}, scale {d['scale']:.4g}, each count ±{d['count_error95']:.4g} at 95%: "
        f"ε spent {d['epsilon']:g}; budget ε={d['budget']:g}, spent {d['spent']:g}, left "
        f"{d['left']:g}; guarantee {void}"
    )
    return "\n".join(lines)


@app.command(rich_help_panel="Models")
def fairness(
    ctx: typer.Context,
    name: ModelArg,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The records to judge.")],
    sensitive: Annotated[
        str,
        typer.Option(
            "--sensitive",
            "-s",
            metavar="A,B",
            help="The sensitive columns to compare groups by (and their intersection).",
        ),
    ],
    label: LabelOpt = None,
    labelset: LabelSetOpt = None,
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive",
            metavar="CLASS",
            help="The positive class: also selection, true and false positive rates.",
        ),
    ] = None,
    ref: RefOpt = None,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare a model's metrics across the groups of sensitive columns; largest gaps first."""
    out = _out(ctx, as_json)
    cols = _columns(sensitive) or []
    with out.working(f"comparing the groups of {', '.join(cols)} in {dataset}…"):
        report = _open(ctx).models.fairness(
            name,
            dataset,
            sensitive=cols,
            label=label,
            labelset=labelset,
            ref=ref,
            version=version,
            positive=positive,
        )

    def view() -> "Group":
        from rich.console import Group
        from rich.text import Text

        overall = ", ".join(
            f"{k.replace('_', ' ')} {v:.3f}" for k, v in report.overall.items() if v == v
        )
        parts: list[Text | Records] = [
            Text(f"{name} on {dataset}: {report.records:,} records; {overall} overall")
        ]
        parts += [Text(f"  {line}") for line in report.sentences()] or [
            Text(f"  no gaps: no group of {report.min_records}+ records to compare", style="dim")
        ]
        metrics = list(report.overall)
        rows = [
            {
                "columns": " x ".join(g.columns),
                "group": g.name,
                "records": f"{g.records:,}",
                **{m: "-" if v != v else f"{v:.3f}" for m, v in g.metrics.items()},
            }
            for g in report.groups
        ]
        parts.append(Records(["columns", "group", "records", *metrics], rows))
        return Group(*parts)

    out.emit(report.to_dict(), view)
