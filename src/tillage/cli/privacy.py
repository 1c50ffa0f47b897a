"""Privacy commands: ``tillage privacy ...`` (the policy, scans, and the views of private data).

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

import tillage
from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _columns, _open, _out, app
from tillage.cli.output import Records
from tillage.errors import DPQueryError

if TYPE_CHECKING:
    from rich.console import Group

privacy_app = typer.Typer(
    cls=TopicGroup,
    name="privacy",
    help="Private data: the policy (.tillage/policy.yaml), suggested column classes, "
    "DP queries, aggregate views, budgets and synthetic proxies.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, rich_help_panel="Privacy")


# -- scan and policy -------------------------------------------------------------------


@privacy_app.command("scan")
def privacy_scan(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset to scan.")],
    ref: RefOpt = None,
    sample: Annotated[
        int, typer.Option("--sample", metavar="N", help="How many rows to sample.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="The sample's seed.")] = 0,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Merge the proposals into .tillage/policy.yaml for review, marking the "
            "dataset private (entries already there are kept).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Propose a class for each column (identifiers found in a sample; never shows values)."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    report = repo.privacy.scan(dataset, ref, sample=sample, seed=seed)
    update = repo.privacy.write_scan(report) if write else None
    doc = {**report.to_dict(), "written": update.to_dict() if update else None}

    def view() -> "Group":
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(show_edge=False)
        for name in ("column", "type", "proposed", "detectors"):
            table.add_column(name, style="bold" if name == "column" else None)
        table.add_column("why", overflow="fold", ratio=1)
        for c in doc["columns"]:
            detectors = ", ".join(
                f"{h['detector']}{' in text' if h['how'] == 'text' else ''} {h['share']:.0%}"
                for h in c["hits"]
            )
            table.add_row(c["column"], c["type"], c["proposed"], detectors or "-", c["reason"])
        parts: list[Any] = [
            Text(
                f"{report.dataset}@{report.commit[:12]}: {report.sampled_rows:,} of "
                f"{report.rows:,} row(s) sampled (seed {report.seed})"
            ),
            table,
        ]
        if update is None:
            parts.append(
                Text(
                    "review, then write them to .tillage/policy.yaml with: "
                    f"tillage privacy scan {report.dataset} --write"
                )
            )
        else:
            added = ", ".join(f"{c}: {k.value}" for c, k in update.added.items()) or "none"
            parts.append(Text(f"{'created' if update.created else 'updated'} {update.path}"))
            parts.append(Text(f"added: {added}"))
            if update.kept:
                parts.append(Text(f"kept as the file had them: {', '.join(update.kept)}"))
            if update.left_public:
                parts.append(
                    Text(
                        f"proposed public, left at the default class (sensitive) until you "
                        f"mark them public: {', '.join(update.left_public)}",
                        style="dim",
                    )
                )
        return Group(*parts)

    out.emit(doc, view)


@privacy_app.command("policy")
def privacy_policy(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the privacy policy and check it against the repository's datasets and columns."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    policy = repo.privacy.policy()
    doc = policy.to_dict()

    def view() -> "Group":
        from rich.console import Group
        from rich.text import Text

        if policy.empty:
            return Group(
                Text(
                    "no private datasets: everyone reads everything. Mark one private in "
                    ".tillage/policy.yaml, or start from: tillage privacy scan DATASET --write"
                )
            )
        principals = ", ".join(
            f"{p} ({', '.join(roles)})" for p, roles in doc["principals"].items()
        )
        parts: list[Any] = [
            Text(f"policy {doc['path']}"),
            Text(f"raw readers: {', '.join(doc['raw_readers'])}"),
            Text(f"principals: {principals or 'none'}"),
        ]
        for name, d in doc["datasets"].items():
            budget = "none (DP queries refused)" if d["budget"] is None else f"ε {d['budget']:g}"
            unit = d["privacy_unit"]
            if unit != "row":
                unit += f", at most {d['max_rows_per_unit']} row(s) each"
            parts.append(
                Text(
                    f"\n{name}: private; unit {unit}; min group {d['min_group_size']}; "
                    f"budget {budget}; other columns {d['default_class']}",
                    style="bold",
                )
            )
            rows = [
                {
                    "column": col,
                    "class": c["class"],
                    "bounds": "-"
                    if c["bounds"] is None
                    else f"[{c['bounds'][0]:g}, {c['bounds'][1]:g}]",
                    "categories": "-"
                    if c["categories"] is None
                    else ", ".join(map(str, c["categories"])),
                }
                for col, c in d["columns"].items()
            ]
            parts.append(Records(["column", "class", "bounds", "categories"], rows))
        return Group(*parts)

    out.emit(doc, view)


DatasetArg = Annotated[str, typer.Argument(metavar="DATASET", help="The dataset.")]


# --- DP queries, aggregates and budgets ---------------------------------------------


@privacy_app.command("query", rich_help_panel="DP answers and aggregates")
def privacy_query(
    ctx: typer.Context,
    dataset: DatasetArg,
    kind: Annotated[
        str,
        typer.Argument(metavar="KIND", help="count, histogram, sum, mean or quantile."),
    ],
    column: Annotated[
        str | None,
        typer.Argument(metavar="COLUMN", help="The column (numeric; a histogram's categories)."),
    ] = None,
    epsilon: Annotated[
        str, typer.Option("--epsilon", "-e", metavar="ε", help="The ε to spend (> 0).")
    ] = "",
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="COL", help="Count by this column's public categories."),
    ] = None,
    bounds: Annotated[
        str | None,
        typer.Option(
            "--bounds",
            metavar="LO,HI",
            help="Public clamp bounds (default: the policy's), or 'estimate' to pay a "
            "quarter of ε for DP ones.",
        ),
    ] = None,
    categories: Annotated[
        str | None,
        typer.Option(
            "--categories", metavar="A,B", help="Public categories (default: the policy's)."
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", metavar="Q", help="The quantile (0.5: the median).")
    ] = 0.5,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show the noise error and clamping bias; spend nothing."),
    ] = False,
    ref: RefOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A differentially private answer, paid from your privacy budget (see --preview)."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    answer = repo.privacy.query(
        dataset,
        kind,
        column,
        epsilon=_epsilon(epsilon),
        by=by,
        bounds=_bounds(bounds),
        categories=_columns(categories),
        alpha=alpha,
        ref=ref,
        preview=preview,
    )
    out.emit(answer.to_dict(), lambda: _answer_view(answer))


@privacy_app.command("aggregate", rich_help_panel="DP answers and aggregates")
def privacy_aggregate(
    ctx: typer.Context,
    dataset: DatasetArg,
    by: Annotated[
        str | None, typer.Option("--by", metavar="A,B", help="The columns to group by.")
    ] = None,
    sums: Annotated[
        list[str] | None,
        typer.Option("--sum", metavar="COL", help="Sum this column (repeatable)."),
    ] = None,
    means: Annotated[
        list[str] | None,
        typer.Option("--mean", metavar="COL", help="Average this column (repeatable)."),
    ] = None,
    ref: RefOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exact group-by counts, sums and means; groups below the minimum size are suppressed."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    measures: dict[str, Any] = {"count": None}
    if sums:
        measures["sum"] = sums
    if means:
        measures["mean"] = means
    view = repo.privacy.aggregate(dataset, _columns(by) or [], measures, ref=ref)

    def text() -> Any:
        from rich.console import Group
        from rich.text import Text

        columns = [*view.by, "count", *(f"{m}_{c}" for m, c in view.measures if c)]
        rows = [{k: _shown(g.get(k)) for k in columns} for g in view.groups]
        rows_note = (
            f"{view.suppressed_rows:,} row(s)"
            if view.suppressed_rows is not None
            else f"fewer than {view.min_group_size} rows"
        )
        note = (
            f"{view.suppressed_groups:,} group(s) below {view.min_group_size} "
            f"{'rows' if view.unit == 'row' else view.unit + ' values'} suppressed "
            f"({rows_note})"
            if view.suppressed_groups
            else f"no group suppressed (minimum size {view.min_group_size})"
        )
        return Group(
            Text(f"aggregate of {view.dataset}@{view.commit[:12]}"),
            Records(columns, rows),
            Text(note),
        )

    out.emit(view.to_dict(), text)


@privacy_app.command("budget", rich_help_panel="DP answers and aggregates")
def privacy_budget(ctx: typer.Context, dataset: DatasetArg, as_json: JsonOpt = False) -> None:
    """Your DP budget on a dataset: spent, left, and whether a grant made it void."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    state = repo.privacy.budget(dataset)
    void = (
        "VOID: a break-glass grant let you read raw rows, so DP answers no longer "
        "protect them from you"
        if state.void
        else "intact"
    )
    out.emit(
        {"dataset": dataset, **state.to_dict()},
        f"{state.principal} on {dataset} (unit {state.unit}): spent ε={state.spent:g} of "
        f"ε={state.budget:g}, left ε={state.left:g}; guarantee {void}",
    )


def _epsilon(text: str) -> float:
    if not text.strip():
        raise DPQueryError(
            "a DP query needs --epsilon", "Pass --epsilon with a positive number, e.g. 0.5."
        )
    try:
        return float(text)
    except ValueError:
        raise DPQueryError(
            f"epsilon must be a finite number > 0, not {text!r}",
            "Pass --epsilon with a positive number, e.g. --epsilon 0.5.",
        ) from None


def _bounds(text: str | None) -> tuple[float, float] | str | None:
    if text is None or text.strip() == "estimate":
        return None if text is None else "estimate"
    parts = [p.strip() for p in text.split(",")]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise DPQueryError(
            f"--bounds must be LO,HI (two numbers) or 'estimate', not {text!r}",
            "Pass e.g. --bounds 0,500000.",
        ) from None
    return lo, hi


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return "" if value is None else str(value)


def _answer_view(a: Any) -> str:
    """A DP answer (`tillage.privacy.dp.DPAnswer`) as text."""
    what = f"DP {a.kind}" + (f" of {a.column}" if a.column else "")
    if a.kind == "quantile":
        what = f"DP {a.alpha:g} quantile of {a.column}"
    head = f"{what} in {a.dataset}@{a.commit[:12]}"
    lines = []
    if a.preview:
        lines.append(f"preview of the {head}: nothing spent, nothing released")
    elif isinstance(a.value, dict):
        lines.append(f"{head}:")
        lines += [f"  {k}: {v:,}" for k, v in a.value.items()]
    else:
        lines.append(f"{head}: {_shown(a.value) if a.value is not None else 'undefined'}")
    if a.error95 is not None:
        lines.append(f"  noise: ±{_shown(a.error95)} (95% of answers)")
    for m in a.mechanisms:
        lines.append(f"  mechanism: {m.mechanism}, scale {m.scale:.4g}, ε={m.epsilon:g}")
    if a.bounds is not None:
        lines.append(f"  bounds: [{a.bounds[0]:g}, {a.bounds[1]:g}] from the {a.bounds_from}")
    if a.categories is not None:
        cats = ", ".join(map(str, a.categories))
        lines.append(f"  categories: {cats} from the {a.categories_from}")
    c = a.clamping
    if c is not None and c.suppressed:
        lines.append(
            "  clamping bias: not shown (fewer rows outside the bounds than the minimum group size)"
        )
    elif c is not None and c.bias is not None:
        ratio = f", {abs(c.bias) / a.error95:.1f}× the noise" if a.error95 else ""
        lines.append(
            f"  clamping bias: {_shown(c.bias)} ({c.below:,} row(s) below, {c.above:,} "
            f"above the bounds{ratio})"
        )
        if a.error95 and abs(c.bias) > a.error95:
            lines.append("  the bias is larger than the noise: consider wider bounds")
    spent = "would spend" if a.preview else "spent"
    eps = sum(m.epsilon for m in a.mechanisms) if a.preview else a.epsilon
    lines.append(f"  ε {spent}: {eps:g}; budget ε={a.budget:g}, spent {a.spent:g}, left {a.left:g}")
    lines.append(
        "  guarantee: VOID for you (a break-glass grant let you read raw rows)"
        if a.void
        else "  guarantee: intact"
    )
    return "\n".join(lines)


# -- synthesize ----------------------------------------------------------------------


def _bound_pairs(pairs: list[str] | None) -> dict[str, tuple[float, float]]:
    """``["income=0:500000"]`` -> ``{"income": (0.0, 500000.0)}``."""
    out: dict[str, tuple[float, float]] = {}
    for pair in pairs or []:
        name, _, span = pair.partition("=")
        low, sep, high = span.partition(":")
        try:
            if not name.strip() or not sep:
                raise ValueError
            out[name.strip()] = (float(low), float(high))
        except ValueError:
            raise tillage.InputError(
                f"--bounds {pair!r} is not COL=LOW:HIGH; write e.g. --bounds income=0:500000."
            ) from None
    return out


def _categories(pairs: list[str] | None) -> dict[str, list[Any]]:
    """``["state=CA,NY"]`` -> ``{"state": ["CA", "NY"]}``."""
    out: dict[str, list[Any]] = {}
    for pair in pairs or []:
        name, sep, values = pair.partition("=")
        listed = _columns(values)
        if not sep or not name.strip() or not listed:
            raise tillage.InputError(
                f"--categories {pair!r} is not COL=A,B,...; write e.g. --categories state=CA,NY."
            )
        out[name.strip()] = listed
    return out


@privacy_app.command("synthesize")
def synthesize(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The dataset to imitate.")],
    epsilon: Annotated[
        float,
        typer.Option(
            "--epsilon", "-e", metavar="EPS", help="The epsilon of (epsilon, delta)-DP to spend."
        ),
    ],
    rows: Annotated[
        int | None,
        typer.Option("--rows", "-n", metavar="N", help="Rows (default: a noisy real count)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="The proxy (default: DATASET_synthetic)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", metavar="A,B", help="Only these columns (default: all)."),
    ] = None,
    bounds: Annotated[
        list[str] | None,
        typer.Option(
            "--bounds",
            metavar="COL=LOW:HIGH",
            help="Public bounds of a numeric column (repeatable; over the policy's).",
        ),
    ] = None,
    categories: Annotated[
        list[str] | None,
        typer.Option(
            "--categories",
            metavar="COL=A,B",
            help="Public values of a column (repeatable; over the policy's).",
        ),
    ] = None,
    bins: Annotated[
        int, typer.Option("--bins", metavar="N", help="Equal-width bins per numeric column.")
    ] = 10,
    delta: Annotated[
        float, typer.Option("--delta", metavar="D", help="The delta of the guarantee.")
    ] = 1e-9,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seeds the sampling.")] = 0,
    ref: RefOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a DP synthetic proxy of DATASET that people may read, gated on fidelity.

    Fits MST under (epsilon, delta)-DP from public bounds and categories only,
    then scores it with 1-way and 2-way total variation distance beside sampling
    each column on its own and a bootstrap resample of the real data; a proxy
    worse than independent columns on 2-way is refused and not written.
    """
    out = _out(ctx, as_json)
    repo = _open(ctx)
    proxy = repo.privacy.synthesize(
        dataset,
        epsilon,
        name=name,
        rows=rows,
        ref=ref,
        seed=seed,
        delta=delta,
        columns=_columns(columns),
        bounds=_bound_pairs(bounds),
        categories=_categories(categories),
        bins=bins,
        progress=out.note,
    )
    doc = proxy.to_dict()

    def view() -> Any:
        from rich.console import Group
        from rich.text import Text

        fidelity = doc["fidelity"]
        rows_ = [
            {
                "measure": label,
                "synthetic": f"{fidelity[way]['score']:.3f}",
                "independent columns": f"{fidelity[way]['baseline']:.3f}",
                "bootstrap floor": f"{fidelity[way]['floor']:.3f}",
            }
            for way, label in (("one_way", "1-way TVD"), ("two_way", "2-way TVD"))
        ]
        dropped = [Text(f"dropped {c}: {why}", style="dim") for c, why in proxy.dropped.items()]
        return Group(
            Text(
                f"wrote {proxy.name} ({proxy.rows:,} rows) at {proxy.commit[:12]}: a synthetic "
                f"proxy of {proxy.source} at {proxy.source_commit[:12]}, "
                f"epsilon {proxy.epsilon:g}, delta {proxy.delta:g}"
            ),
            *dropped,
            Records(
                ["measure", "synthetic", "independent columns", "bootstrap floor"], rows_
            ).table(),
        )

    out.emit(doc, view)
