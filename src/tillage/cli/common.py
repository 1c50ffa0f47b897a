"""What every ``tillage`` command shares: the Typer ``app``, its error handling, the
common options and the helpers that open the repository and pick the output mode.

`tillage.cli.app` and the command modules (`labels`, `monitoring`, `runs`) import
it; it imports none of them, so the commands do not depend on each other.
"""

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import tillage  # tillage.Repo loads Lance and more on first use: `--help` stays fast
from tillage import TillageError
from tillage.cli import output
from tillage.cli.output import Output


@dataclass
class State:
    """Options of the whole command line, shared with every command through ``ctx.obj``."""

    repo: Path | None = None
    json: bool = False


def _click_exception() -> type[Exception]:
    """Click's ``ClickException`` in whichever click Typer uses (bundled or not)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "ClickException":
            return cls
    return Exception  # pragma: no cover


class TopicGroup(TyperGroup):
    """A command group whose help lists its commands in full, under their topics."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands under their topics (``rich_help_panel``), in the order they were added."""
        panels: dict[str, list[tuple[str, str]]] = {}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            panels.setdefault(panel, []).append((name, command.get_short_help_str(limit=1000)))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)


class TillageGroup(TopicGroup):
    """The root command: turns errors into messages (or JSON documents) and exit codes."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TillageError as err:
            state = ctx.find_object(State)
            Output(json_mode=bool(state and state.json)).error(err)
            raise typer.Exit(err.exit_status) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or "--json" not in argv:
            return super().main(
                argv, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        # --json: a usage error must be a JSON document on stdout too.
        try:
            rv = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except _click_exception() as err:
            format_message = getattr(err, "format_message", None)
            message = str(format_message() if callable(format_message) else err)
            output.write_json(output.error_doc("usage_error", message))
            sys.exit(int(getattr(err, "exit_code", 2)))
        except typer.Abort:
            output.write_json(output.error_doc("aborted", "aborted"))
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    name="tillage",
    cls=TillageGroup,
    help="Versioned datasets with commits, branches, row-level diff and merge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help and usage errors as plain text, as git prints them: Typer's Rich help
    # module alone takes longer to import than the rest of `tillage --help` to run.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _registered_name(name: object, fallback: str | None) -> str | None:
    """A command's or group's name as Typer will make it (None: unnamed)."""
    if isinstance(name, str):
        return name
    return None if fallback is None else fallback.replace("_", "-")


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names after the root options (None: none, or root help asked)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help", "--version"):
            return None
        if arg in ("-C", "--repo"):
            i += 2
            continue
        if not arg.startswith("-"):
            return arg
        i += 1
    return None


def only(root: typer.Typer, name: str | None) -> typer.Typer:
    """``root`` with just the command or group called ``name``: what Typer then builds.

    Typer turns every command's signature into Click parameters before it parses
    anything, which on its own costs a quick command about 50 ms. The command
    that runs is the same either way; an unknown ``name`` (or None) keeps them all,
    so usage errors and help list every command.
    """
    if name is None:
        return root
    commands = [
        c
        for c in root.registered_commands
        if _registered_name(c.name, c.callback.__name__ if c.callback else None) == name
    ]
    groups = [
        g
        for g in root.registered_groups
        if _registered_name(
            g.name, None if g.typer_instance is None else _group_default(g.typer_instance)
        )
        == name
    ]
    if not commands and not groups:
        return root
    pruned = copy.copy(root)
    pruned.registered_commands = commands
    pruned.registered_groups = groups
    return pruned


def _group_default(group: typer.Typer) -> str | None:
    name = group.info.name
    return name if isinstance(name, str) else None


# -- shared options ------------------------------------------------------------------


def _set_json(ctx: typer.Context, value: bool) -> bool:
    """Record ``--json`` as soon as it is parsed, so errors are rendered as JSON too."""
    if value:
        ctx.ensure_object(State).json = True
    return value


JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout (errors too) instead of text.",
        callback=_set_json,
    ),
]
RefOpt = Annotated[
    str | None,
    typer.Option(
        "--ref",
        "-r",
        metavar="REF",
        help="Branch, tag or commit id (or a prefix of 4+ hex digits) to read (default: HEAD).",
    ),
]
BranchOpt = Annotated[
    str | None,
    typer.Option(
        "--branch",
        "-b",
        metavar="BRANCH",
        help="Branch to commit on (default: the current branch).",
    ),
]


def _columns(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None or empty -> None."""
    if not text:
        return None
    cols = [c.strip() for c in text.split(",") if c.strip()]
    return cols or None


def _out(ctx: typer.Context, as_json: bool) -> Output:
    state = ctx.ensure_object(State)
    state.json = state.json or as_json
    return Output(json_mode=state.json)


def _open(ctx: typer.Context) -> "tillage.Repo":
    """Open the repository ``--repo`` names (or TILLAGE_REPO, or the nearest one above)."""
    repo = tillage.Repo.open(ctx.ensure_object(State).repo)
    ctx.call_on_close(repo.close)
    return repo
