"""Privacy commands: ``privacy ...`` (views of private data that people may use).

Registered on the root app by `tillage.cli.app`; they call the public API only.
"""

from typing import Annotated, Any

import typer

import tillage
from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _columns, _open, _out, app
from tillage.cli.output import Records

privacy_app = typer.Typer(
    cls=TopicGroup,
    name="privacy",
    help="Private data: views people may use (synthetic proxies, DP answers) instead of rows.",
    no_args_is_help=True,
)
app.add_typer(privacy_app, rich_help_panel="Privacy")


# -- synthesize ----------------------------------------------------------------------


def _bounds(pairs: list[str] | None) -> dict[str, tuple[float, float]]:
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
        bounds=_bounds(bounds),
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
