"""Loop commands: ``loop show`` (an active-learning run's learning curve, as text or a picture).

Registered on the root app by `tillage.cli.app`; they call the public API only.
Start a loop with ``tillage run tillage.loops.active_learning:active_learning -p ...``
(or ``tillage.run(repo, tillage.active_learning, params)``).
"""

from pathlib import Path
from typing import Annotated

import typer

import tillage
from tillage.cli.common import JsonOpt, TopicGroup, _open, _out, app

loop_app = typer.Typer(
    cls=TopicGroup,
    name="loop",
    help="Active-learning loops: their learning curves.",
    no_args_is_help=True,
)
app.add_typer(loop_app, rich_help_panel="Pipelines")


@loop_app.command("show")
def loop_show(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(metavar="RUN", help="The loop's run id (`tillage runs`).")
    ],
    plot: Annotated[
        Path | None,
        typer.Option("--plot", metavar="FILE", help="Also draw the curve to FILE (.png or .svg)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a loop's learning curve: labels spent and the metric each round, beside random."""
    out = _out(ctx, as_json)
    curve = tillage.learning_curve(_open(ctx), run_id)
    doc = curve.to_dict()
    text = curve.text()
    if plot is not None:
        doc["plot"] = str(curve.plot(plot))
        text += f"\nwrote {plot}"
    out.emit(doc, text)
