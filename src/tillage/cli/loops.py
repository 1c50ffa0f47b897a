"""Loop commands: ``loop show`` (an active-learning run's learning curve, as text or a
picture; an improve loop's decisions, round by round).

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
    help="Data-centric loops: learning curves and merge decisions.",
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
    """Show a loop's learning curve (labels spent and the metric each round, beside random),
    or an improve loop's decisions (accuracy before and after each round, merged or not)."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    improve = (tillage.relabel_errors, tillage.remove_low_value, tillage.generate_for_weakest_slice)
    if tillage.Runs(repo).get(run_id).pipeline in {p.name for p in improve}:
        if plot is not None:
            raise tillage.InputError(
                "an improve loop has decisions, not a learning curve: leave out --plot."
            )
        decisions = tillage.loop_decisions(repo, run_id)
        out.emit(decisions.to_dict(), decisions.text())
        return
    curve = tillage.learning_curve(repo, run_id)
    doc = curve.to_dict()
    text = curve.text()
    if plot is not None:
        doc["plot"] = str(curve.plot(plot))
        text += f"\nwrote {plot}"
    out.emit(doc, text)
