"""Privacy commands: ``tillage privacy ...`` (the policy, scans, and the views of private data).

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _open, _out, app
from tillage.cli.output import Records

if TYPE_CHECKING:
    from rich.console import Group

privacy_app = typer.Typer(
    cls=TopicGroup,
    name="privacy",
    help="Private data: the policy (.tillage/policy.yaml), suggested column classes, and "
    "the views people may use.",
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
