"""Selection commands: ``select`` (choose records by a strategy) and ``selection``
(show, list, apply an action).

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

import json
from typing import TYPE_CHECKING, Annotated

import typer

import tillage
from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _columns, _open, _out, app
from tillage.cli.output import Records

if TYPE_CHECKING:
    from rich.console import Group

    from tillage import Selection

selection_app = typer.Typer(
    cls=TopicGroup,
    name="selection",
    help="Stored selections: show, list, apply an action (label, relabel, remove, augment, "
    "generate).",
    no_args_is_help=True,
)
app.add_typer(selection_app, rich_help_panel="Selection")

SelectionArg = Annotated[
    str, typer.Argument(metavar="ID", help="The selection's id (`tillage selection list`).")
]


def _params(pairs: list[str] | None) -> dict[str, object]:
    """``["k=10", "mix=top"]`` -> ``{"k": 10, "mix": "top"}`` (JSON values, else text)."""
    params: dict[str, object] = {}
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise tillage.InputError(
                f"--param {pair!r} is not NAME=VALUE; write e.g. --param k=10 --param mix=0.5."
            )
        try:
            params[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[name.strip()] = text
    return params


@app.command("select", rich_help_panel="Selection")
def select(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Argument(metavar="DATASET", help="The dataset to choose records from.")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", "-s", metavar="S", help="The strategy (see --list)."),
    ] = None,
    n: Annotated[int, typer.Option("-n", metavar="N", help="How many records.")] = 50,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="NAME", help="The model whose predictions to read."),
    ] = None,
    committee: Annotated[
        str | None,
        typer.Option(
            "--committee",
            metavar="A,B",
            help="For committee: recorded models whose predictions on this version are "
            "stored (default: bootstrap refits of --model).",
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", metavar="COND", help="Only records matching one SQL condition."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="The random seed.")] = 0,
    labelset: Annotated[
        str | None,
        typer.Option(
            "--labelset",
            metavar="L",
            help="Leave out records labelled here (default: in any label set over DATASET).",
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            metavar="T",
            help="Leave out records queued in this annotation task (default: in any).",
        ),
    ] = None,
    include_labelled: Annotated[
        bool,
        typer.Option("--include-labelled", help="Keep labelled records in the pool (to relabel)."),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="NAME=VALUE", help="A strategy parameter (repeatable)."),
    ] = None,
    ref: RefOpt = None,
    list_strategies: Annotated[
        bool, typer.Option("--list", help="List the strategies and what each needs, then exit.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Choose records to label, relabel or remove by a strategy over the model's state."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    if list_strategies:
        infos = repo.selection.strategies()
        rows = [
            {
                "strategy": s.name,
                "needs": ", ".join(sorted(s.needs)) or "-",
                "action": s.action,
                "description": s.description,
            }
            for s in infos
        ]
        out.emit(
            {"strategies": [s.to_dict() for s in infos]},
            Records(["strategy", "needs", "action", "description"], rows),
        )
        return
    if dataset is None or strategy is None:
        raise tillage.InputError(
            "select needs a DATASET and --strategy S, e.g. "
            "`tillage select flights --strategy random -n 50`; `tillage select --list` lists "
            "the strategies."
        )
    chosen = repo.select(
        dataset,
        strategy=strategy,
        n=n,
        model=model,
        ref=ref,
        where=where,
        seed=seed,
        params=_params(param),
        labelset=labelset,
        task=task,
        include_labelled=include_labelled,
        committee=_columns(committee),
    )
    out.emit(chosen.to_dict(), lambda: _selection_view(chosen, 50))


def _selection_view(sel: "Selection", limit: int | None = None) -> "Group":
    """A selection's summary line, its note, and the table of its picks."""
    from rich.console import Group
    from rich.text import Text

    excluded = ", ".join(f"{v:,} {k}" for k, v in sel.excluded.items() if v)
    model = f", model {sel.model} v{sel.model_version}" if sel.model else ""
    where = f" where {sel.where}" if sel.where else ""
    parts: list[Text | Records] = [
        Text(
            f"selection {sel.id}: {len(sel.picks):,} of {sel.pool_size:,} record(s) of "
            f"{sel.dataset}@{sel.pool_commit[:12]}{where} by {sel.strategy} "
            f"(seed {sel.seed}{model})"
        )
    ]
    if excluded:
        parts.append(Text(f"left out of the pool: {excluded}", style="dim"))
    if sel.note:
        parts.append(Text(f"note: {sel.note}", style="yellow"))
    picks = sel.picks if limit is None else sel.picks[:limit]
    rows = [
        {
            "rank": p.rank,
            "record": p.record_id,
            "score": f"{p.score:.4g}",
            "reason": p.reason,
            "action": p.action,
        }
        for p in picks
    ]
    more = len(sel.picks) - len(picks)
    caption = f"... {more:,} more (all of them with --json)" if more > 0 else None
    parts.append(Records(["rank", "record", "score", "reason", "action"], rows, caption=caption))
    parts.append(Text(f"act on it with: tillage selection apply {sel.id} [--action A]"))
    return Group(*parts)


@selection_app.command("show")
def selection_show(
    ctx: typer.Context, selection_id: SelectionArg, as_json: JsonOpt = False
) -> None:
    """Show a selection: its provenance, its picks and the actions applied to it."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    sel = repo.selection.get(selection_id)
    actions = repo.selection.actions(selection_id)

    def view() -> "Group":
        from rich.console import Group
        from rich.text import Text

        lines = [
            Text(f"applied: {a['action']} by {a['principal']} at {a['created_at']}", style="dim")
            for a in actions
        ]
        return Group(_selection_view(sel, 50), *lines)

    out.emit({**sel.to_dict(), "actions": actions}, view)


@selection_app.command("list")
def selection_list(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", metavar="DATASET", help="Only of this one.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored selections, newest first."""
    out = _out(ctx, as_json)
    found = _open(ctx).selection.list(dataset)
    rows = [
        {
            "id": s.id,
            "dataset": s.dataset,
            "strategy": s.strategy,
            "picked": f"{min(s.n, s.pool_size):,} of {s.pool_size:,}",
            "model": s.model or "-",
            "seed": s.seed,
            "created": s.created_at,
            "by": s.principal,
        }
        for s in found
    ]
    names = ["id", "dataset", "strategy", "picked", "model", "seed", "created", "by"]
    out.emit(
        {"selections": [s.to_dict() for s in found]},
        Records(names, rows) if rows else "no selections yet",
    )


@selection_app.command("apply")
def selection_apply(
    ctx: typer.Context,
    selection_id: SelectionArg,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            "-a",
            metavar="A",
            help="label, relabel, remove, augment or generate (default: the action the "
            "picks propose).",
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            "-b",
            metavar="B",
            help="For remove, augment and generate: the branch to commit on (default: a new "
            "selection/ID).",
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task", metavar="T", help="For label and relabel: the annotation task to queue in."
        ),
    ] = None,
    transform: Annotated[
        list[str] | None,
        typer.Option(
            "--transform",
            metavar="NAME:COLUMN",
            help="For augment (repeatable): word-dropout:COLUMN or swap-words:COLUMN.",
        ),
    ] = None,
    generator: Annotated[
        str,
        typer.Option("--generator", metavar="G", help="For generate: gaussian-copula or smote-nc."),
    ] = "gaussian-copula",
    count: Annotated[
        int | None,
        typer.Option(
            "-n", metavar="N", help="For generate: how many records (default: as many as chosen)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="For augment and generate: the seed.")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Act on a selection's records: queue them for (re)labelling, or remove them, augment
    them or generate records like them on a branch."""
    out = _out(ctx, as_json)
    result = _open(ctx).selection.apply(
        selection_id,
        action,
        branch=branch,
        task=task,
        transforms=transform or None,
        generator=generator,
        n=count,
        seed=seed,
    )
    if result.action == "remove":
        text = (
            f"removed {result.records:,} record(s) on branch {result.branch} "
            f"(commit {str(result.commit)[:12]}); merge it to make the removal real: "
            f"tillage merge {result.branch}"
        )
    elif result.action in ("augment", "generate"):
        text = (
            f"{result.action}: added {result.made:,} record(s) made from {result.records:,} on "
            f"branch {result.branch} (commit {str(result.commit)[:12]}); merge it to keep "
            f"them: tillage merge {result.branch}"
        )
    else:
        text = (
            f"{result.action}: queued {result.queued:,} new of {result.records:,} record(s) in "
            f"{result.task} (spec v{result.spec_version})"
        )
    if result.note:
        text += f"\nnote: {result.note}"
    out.emit(result.to_dict(), text)


@app.command(rich_help_panel="Selection")
def value(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The records to value.")],
    label: Annotated[
        str | None,
        typer.Option("--label", metavar="COLUMN", help="The column holding the labels."),
    ] = None,
    labelset: Annotated[
        str | None,
        typer.Option("--labelset", "-l", metavar="NAME", help="Or: a label set over DATASET."),
    ] = None,
    ref: RefOpt = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="A,B",
            help="Columns that place records near each other (default: all but key and label).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Value each labelled record (KNN-Shapley) and store the values for the low_value strategy."""
    out = _out(ctx, as_json)
    cols = _columns(columns)
    with out.working(f"valuing the records of {dataset}…"):
        found = _open(ctx).selection.value(
            dataset, label=label, labelset=labelset, ref=ref, columns=cols
        )
    doc = found.to_dict()
    lines = [
        f"valued {len(found.keys):,} records of {dataset} (stored as {dataset}-values, commit "
        f"{found.stored[:12]}); {doc['suspect']:,} look mislabelled. First out:",
        *(
            f"  {r}  {v:+.4f}" + ("  likely mislabelled" if s else "")
            for r, v, s in found.lowest(10)
        ),
        f"remove them with: tillage select {dataset} --strategy low_value --include-labelled -n 50",
    ]
    out.emit(doc, "\n".join(lines))
