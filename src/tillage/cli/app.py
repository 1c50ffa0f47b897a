"""The ``tillage`` command: parse, call `tillage.Repo`, render with `tillage.cli.output`.

Errors are handled in one place, `tillage.cli.common.TillageGroup.invoke`: a `TillageError` is
printed as ``error: <message>`` on stderr (or as a JSON error document with
``--json``) and exits with the status `tillage.errors.EXIT_STATUS` gives its
code (1 for every error today), never with a traceback. Usage errors exit with
2, as Typer does; with ``--json`` they are a JSON document too.
"""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

import tillage  # tillage.Repo loads Lance and more on first use: `--help` stays fast
from tillage import __version__
from tillage.cli import output
from tillage.cli.common import (
    BranchOpt,
    JsonOpt,
    RefOpt,
    State,
    _columns,
    _open,
    _out,
    _set_json,
    app,
    command_in,
    only,
)

__all__ = ["app", "main"]  # `app` is defined in cli.common; the script and tests use it here


class WriteMode(StrEnum):
    """How `ingest` writes a batch."""

    append = "append"
    upsert = "upsert"
    overwrite = "overwrite"
    delete = "delete"


class Side(StrEnum):
    """Which side wins conflicting cells."""

    ours = "ours"
    theirs = "theirs"


def _prefer(side: Side | None) -> Literal["ours", "theirs"] | None:
    return None if side is None else ("ours" if side is Side.ours else "theirs")


def _version(value: bool) -> None:
    if value:
        print(f"tillage {__version__}")
        sys.exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            "-C",
            metavar="PATH",
            help="Repository to use (a project folder or its .tillage). "
            "Default: $TILLAGE_REPO, else the nearest .tillage at or above the current folder.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON document on stdout (errors too); same as --json on the command.",
            callback=_set_json,
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Versioned datasets with commits, branches, row-level diff and merge."""
    ctx.ensure_object(State).repo = repo


# -- repository ------------------------------------------------------------------------


@app.command(rich_help_panel="Repository")
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH",
            help="Project folder to create the repository in (default: --repo or .).",
        ),
    ] = None,
    catalog_url: Annotated[
        str | None,
        typer.Option(
            "--catalog-url",
            metavar="URL",
            help="SQLAlchemy URL of the catalog, e.g. postgresql+psycopg://host/db "
            "(default: SQLite inside the repository).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a repository (a .tillage folder) with an empty main branch."""
    out = _out(ctx, as_json)
    where = path or ctx.ensure_object(State).repo or Path(".")
    with tillage.Repo.init(where, catalog_url=catalog_url) as repo:
        doc = {
            "path": str(repo.path),
            "repo_dir": str(repo.repo_dir),
            "branch": repo.refs.current_branch,
            "catalog": "sqlite (inside the repository)" if catalog_url is None else "external",
        }
        out.emit(doc, f"created an empty tillage repository in {repo.repo_dir}")


@app.command(rich_help_panel="Repository")
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the current branch, its head commit, datasets with row counts and storage used."""
    out = _out(ctx, as_json)
    st = _open(ctx).refs.status()
    out.emit(st.to_dict(), lambda: output.status_view(st))


@app.command(rich_help_panel="Repository")
def gc(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Delete commits no branch or tag reaches, and the table versions only they used."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working("collecting garbage…"):
        report = repo.datasets.gc()
    out.emit(report.to_dict(), output.gc_view(report))


@app.command(rich_help_panel="Repository")
def verify(
    ctx: typer.Context,
    deep: Annotated[
        bool,
        typer.Option("--deep", help="Hash every file (slower; catches changes that kept times)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every committed dataset version, its files and the catalog; exit 1 on damage."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    with out.working("verifying…"):
        report = repo.datasets.verify(deep=deep)
    out.emit(report.to_dict(), output.verify_view(report))
    if not report.ok:
        raise typer.Exit(1)


@app.command(rich_help_panel="Repository")
def upgrade(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Upgrade the repository's catalog to this tillage's schema (back up .tillage first)."""
    out = _out(ctx, as_json)
    before, after = tillage.Repo.upgrade(ctx.ensure_object(State).repo)
    doc = {"from": before, "to": after, "changed": before != after}
    text = (
        f"upgraded the catalog from schema {before} to {after}"
        if before != after
        else f"the catalog is already at schema {after}"
    )
    out.emit(doc, text)


# -- writing ---------------------------------------------------------------------------


@app.command(rich_help_panel="Data")
def ingest(
    ctx: typer.Context,
    dataset: Annotated[
        str,
        typer.Argument(metavar="DATASET", help="Dataset to write; created on first ingest."),
    ],
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Parquet, CSV, JSON Lines or Arrow files; all of them make one commit.",
            show_default=False,
        ),
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            "-k",
            metavar="COL[,COL]",
            help="Primary-key column(s); required when the dataset is new.",
        ),
    ] = None,
    mode: Annotated[
        WriteMode,
        typer.Option(
            "--mode",
            help="append: keys must be new; upsert: insert or update by key; "
            "overwrite: replace all rows; delete: remove the rows with these keys.",
        ),
    ] = WriteMode.append,
    message: Annotated[
        str | None,
        typer.Option(
            "--message", "-m", metavar="MESSAGE", help="Commit message (default: a summary)."
        ),
    ] = None,
    branch: BranchOpt = None,
    evolve: Annotated[
        bool,
        typer.Option(
            "--evolve", help="Allow new columns (added to the dataset, null in existing rows)."
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="CODEC",
            help="Text encoding of CSV files, e.g. latin-1 or cp1252 (default: utf-8).",
        ),
    ] = None,
    coerce: Annotated[
        bool,
        typer.Option(
            "--coerce",
            help="Convert CSV cells that do not fit the dataset's column types exactly "
            "anyway (007 to 7, 1.5 to 1); cells that do not convert become null.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write files into a dataset as exactly one commit (all or nothing).

    CSV cells keep their values: empty cells are null, ISO times are timestamps,
    and into an existing dataset cells are parsed with its column types; a cell
    that would change (007 into an integer) is an error unless --coerce.
    """
    out = _out(ctx, as_json)
    repo = _open(ctx)
    target = branch or repo.refs.current_branch
    data: Path | list[Path] = files[0] if len(files) == 1 else files
    with out.working(f"ingesting {len(files)} file(s) into {dataset}…"):
        commit = repo.datasets.ingest(
            dataset,
            data,
            key=_columns(key),
            mode=mode.value,
            message=message,
            branch=branch,
            evolve=evolve,
            encoding=encoding,
            coerce=coerce,
        )
    checks = repo.quality.checks(commit.id)
    lines: list[Any] = [output.commit_line(commit, target)]
    for c in checks:
        lines += [monitoring.finding_text(f) for f in c.findings if not f.suppressed]
    out.emit(
        {"branch": target, **commit.to_dict(), "checks": [c.to_dict() for c in checks]}, *lines
    )


@app.command(rich_help_panel="Branches and tags")
def merge(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(metavar="SOURCE", help="Branch, tag or commit to merge from."),
    ],
    into: Annotated[
        str | None,
        typer.Option(
            "--into", metavar="BRANCH", help="Branch to merge into (default: the current branch)."
        ),
    ] = None,
    prefer: Annotated[
        Side | None,
        typer.Option(
            "--prefer", help="Resolve conflicting cells with this side instead of failing."
        ),
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", metavar="MESSAGE", help="Merge commit message.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge a branch into another, row by row; conflicts are listed and nothing is written."""
    out = _out(ctx, as_json)
    result = _open(ctx).refs.merge(source, into, prefer=_prefer(prefer), message=message)
    out.emit(result.to_dict(), output.merge_view(result))


@app.command(rich_help_panel="History")
def revert(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="The commit whose changes to undo.")],
    branch: BranchOpt = None,
    prefer: Annotated[
        Side | None,
        typer.Option("--prefer", help="Resolve cells changed since then with this side."),
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", metavar="MESSAGE", help="Commit message.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a new commit that undoes the changes of an earlier one."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    target = branch or repo.refs.current_branch
    commit = repo.refs.revert(ref, branch=branch, prefer=_prefer(prefer), message=message)
    out.emit({"branch": target, **commit.to_dict()}, output.commit_line(commit, target))


@app.command(rich_help_panel="History")
def reset(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(metavar="REF", help="Commit (or ref) to move the branch back to."),
    ],
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch", "-b", metavar="BRANCH", help="Branch to move (default: the current branch)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a branch to an earlier commit; later commits stay readable by id until gc."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    target = branch or repo.refs.current_branch
    previous = repo.refs.branches().get(target)
    commit = repo.refs.reset(ref, branch=branch)
    doc = {"branch": target, "commit": commit.id, "previous": previous}
    was = previous[:12] if previous else "(empty)"
    out.emit(doc, f"{target}: {was} → {commit.short_id} ({commit.message.splitlines()[0]})")


# -- reading ---------------------------------------------------------------------------


@app.command(rich_help_panel="History")
def log(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="REF", help="Branch, tag or commit to start from (default: HEAD)."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", metavar="DATASET", help="Only commits that changed this dataset."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("-n", "--max-count", metavar="N", min=1, help="Show at most N commits."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List commits reachable from a ref, newest first."""
    out = _out(ctx, as_json)
    commits = _open(ctx).refs.log(ref, dataset=dataset, limit=limit)
    out.emit(
        lambda: {"ref": ref or "HEAD", "commits": [c.to_dict() for c in commits]},
        lambda: output.log_view(commits),
    )


@app.command(rich_help_panel="History")
def show(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="REF", help="Branch, tag or commit id (a prefix of 4+ hex digits works)."
        ),
    ] = "HEAD",
    as_json: JsonOpt = False,
) -> None:
    """Show one commit: message, datasets it pins, changes, code version and principal."""
    out = _out(ctx, as_json)
    commit = _open(ctx).refs.commit(ref)
    out.emit(commit.to_dict(), lambda: output.commit_view(commit))


@app.command(rich_help_panel="History")
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(metavar="A", help="The old ref.")],
    b: Annotated[
        str | None, typer.Argument(metavar="B", help="The new ref (default: HEAD).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", metavar="DATASET", help="Only this dataset.")
    ] = None,
    rows: Annotated[
        int,
        typer.Option("--rows", metavar="N", min=0, help="Sample rows to show per kind of change."),
    ] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Show schema and row-level changes between two refs, keyed by primary key."""
    out = _out(ctx, as_json)
    diffs = _open(ctx).datasets.diff(a, b, dataset=dataset, rows=rows)
    doc = {"from": a, "to": b or "HEAD", "datasets": [d.to_dict() for d in diffs]}
    out.emit(doc, output.diff_view(diffs))


@app.command(rich_help_panel="Data")
def head(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset to show.")],
    ref: RefOpt = None,
    n: Annotated[
        int, typer.Option("-n", "--rows", metavar="N", min=0, help="Number of rows.")
    ] = 10,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", "-c", metavar="COL[,COL]", help="Columns to show (default: all)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the schema and first rows of a dataset.

    A table wider than the terminal is shown one record at a time, a column per line.
    """
    out = _out(ctx, as_json)
    table = _open(ctx).datasets.head(dataset, ref, n=n, columns=_columns(columns))
    types = [str(f.type) for f in table.schema]
    rows = table.to_pylist()
    doc = {
        "dataset": dataset,
        "ref": ref or "HEAD",
        "columns": [
            {"name": n_, "type": t} for n_, t in zip(table.column_names, types, strict=True)
        ],
        "rows": rows,
    }
    out.emit(doc, output.data_view(table.column_names, types, rows))


@app.command(rich_help_panel="Data")
def export(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="Dataset to export.")],
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="Output file; .parquet, .csv, .jsonl or .arrow picks the format."
        ),
    ],
    ref: RefOpt = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns", "-c", metavar="COL[,COL]", help="Columns to write (default: all)."
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            metavar="SQL",
            help="Row filter: one SQL condition, parsed whole, e.g. "
            "\"dep_delay > 60 AND carrier IN ('AA', 'UA')\". Strings in single quotes, "
            "column names with spaces in backticks (`tail num` = 'N3'), timestamps as "
            "TIMESTAMP '2013-06-01 00:00:00'.",
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels", metavar="LABELSET", help="Write the training set: records with labels."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a dataset (as of a ref, optionally filtered, optionally labelled) to a file."""
    out = _out(ctx, as_json)
    if not path.parent.is_dir():
        raise typer.BadParameter(f"folder {str(path.parent)!r} does not exist", param_hint="PATH")
    repo = _open(ctx)
    with out.working(f"exporting {dataset}…"):
        rows = repo.datasets.export(
            dataset, path, ref, columns=_columns(columns), where=where, labels=labels
        )
    doc = {"dataset": dataset, "ref": ref or "HEAD", "path": str(path), "rows": rows}
    out.emit(doc, f"wrote {rows:,} row(s) of {dataset} to {path}")


# -- refs --------------------------------------------------------------------------------


@app.command(rich_help_panel="Branches and tags")
def branch(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="Branch to create (or delete)."),
    ] = None,
    from_ref: Annotated[
        str | None,
        typer.Option("--from", metavar="REF", help="Where the new branch starts (default: HEAD)."),
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", "-l", help="List branches; * marks the current one.")
    ] = False,
    delete: Annotated[
        bool, typer.Option("--delete", "-d", help="Delete branch NAME (its commits stay until gc).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create, list or delete branches (no NAME: list)."""
    out = _out(ctx, as_json)
    if delete and name is None:
        raise typer.BadParameter("give the NAME of the branch to delete", param_hint="--delete")
    if (list_ or delete) and from_ref is not None:
        raise typer.BadParameter("--from only applies when creating a branch", param_hint="--from")
    if list_ and name is not None and not delete:
        raise typer.BadParameter("--list takes no NAME", param_hint="--list")
    repo = _open(ctx)
    if delete:
        assert name is not None
        repo.refs.delete_branch(name)
        out.emit({"deleted": name, "kind": "branch"}, f"deleted branch {name}")
    elif name is not None:
        cid = repo.refs.create_branch(name, from_ref)
        at = cid[:12] if cid else "(no commits yet)"
        out.emit({"branch": name, "commit": cid}, f"created branch {name} at {at}")
    else:
        current = repo.refs.current_branch
        refs = repo.refs.branches()
        doc = {
            "current": current,
            "branches": [
                {"name": n, "commit": c, "current": n == current} for n, c in sorted(refs.items())
            ],
        }
        out.emit(doc, lambda: output.refs_view(refs, current, "branch"))


@app.command(rich_help_panel="Branches and tags")
def switch(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Branch to make current.")],
    as_json: JsonOpt = False,
) -> None:
    """Make a branch the current one: reads and writes default to it."""
    out = _out(ctx, as_json)
    repo = _open(ctx)
    repo.refs.switch(name)
    cid = repo.refs.branches().get(name)
    out.emit({"branch": name, "commit": cid}, f"switched to branch {name}")


@app.command(rich_help_panel="Branches and tags")
def tag(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="Tag to create (or delete)."),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="REF", help="Commit to tag (default: HEAD)."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", "-l", help="List tags.")] = False,
    delete: Annotated[bool, typer.Option("--delete", "-d", help="Delete tag NAME.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create, list or delete tags: fixed names for commits (no NAME: list)."""
    out = _out(ctx, as_json)
    if delete and name is None:
        raise typer.BadParameter("give the NAME of the tag to delete", param_hint="--delete")
    if (list_ or delete) and ref is not None:
        raise typer.BadParameter("REF only applies when creating a tag", param_hint="REF")
    if list_ and name is not None and not delete:
        raise typer.BadParameter("--list takes no NAME", param_hint="--list")
    repo = _open(ctx)
    if delete:
        assert name is not None
        repo.refs.delete_tag(name)
        out.emit({"deleted": name, "kind": "tag"}, f"deleted tag {name}")
    elif name is not None:
        cid = repo.refs.create_tag(name, ref)
        out.emit({"tag": name, "commit": cid}, f"tagged {cid[:12]} as {name}")
    else:
        refs = repo.refs.tags()
        doc = {"tags": [{"name": n, "commit": c} for n, c in sorted(refs.items())]}
        out.emit(doc, lambda: output.refs_view(refs, None, "tag"))


# -- demo ------------------------------------------------------------------------------------


@app.command(rich_help_panel="Repository")
def demo(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            "--days",
            metavar="N",
            min=1,
            help="Days of NYC 2013 flights to ingest, one commit each.",
        ),
    ] = 60,
    path: Annotated[
        Path, typer.Option("--path", metavar="DIR", help="Folder for the demo repository.")
    ] = Path("tillage-demo"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace the folder if it already holds a repository.")
    ] = False,
    no_labels: Annotated[
        bool, typer.Option("--no-labels", help="Leave out the labelling chapter on tweets.")
    ] = False,
    no_loop: Annotated[
        bool,
        typer.Option(
            "--no-loop",
            help="Leave out the data-centric chapter (active learning, error slices, values).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build a demo repository from real data: daily pipeline runs, monitoring, a fix on a
    branch, a merge, labelling tweets, and active learning driven by the model."""
    out = _out(ctx, as_json)
    # Imported here: the demo pulls in the example data and its dependencies.
    from tillage.demo.flights import run_demo

    console = out.stderr if out.json else out.stdout
    summary = run_demo(
        path, days=days, force=force, console=console, labels=not no_labels, loop=not no_loop
    )
    out.emit(summary, output.mapping_view(summary))


# Register the label, quality and pipeline commands on `app`, after the commands above
# (the order of `tillage --help`).
from tillage.cli import labels as label_commands  # noqa: E402, F401
from tillage.cli import loops, models, monitoring, privacy, runs, selection  # noqa: E402, F401


def main() -> None:
    """Entry point of the ``tillage`` script."""
    if sys.argv[1:] == ["--version"]:  # answered before Typer builds every command
        _version(True)
    only(app, command_in(sys.argv[1:]))()


if __name__ == "__main__":  # pragma: no cover
    main()
