"""Rendering for the CLI: Rich text for people, one JSON document for programs.

Everything a command prints goes through an `Output`. In JSON mode stdout gets
exactly one document (results or ``{"error": ...}``) and nothing else; spinners
and progress go to stderr. Values from user data are always shown as plain
text (never interpreted as Rich markup).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from tillage.core.jsonable import jsonable
from tillage.errors import MergeConflictError

# Rich is imported where text is drawn: `--json`, `--help` and `--version` never need it.
if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from tillage import Commit, DatasetDiff, GcReport, MergeResult, Status, VerifyReport
    from tillage.errors import TillageError

MAX_CONFLICT_ROWS = 50
"""Conflicts shown as a table in text mode; ``--json`` always has all of them."""

MAX_CELL = 60
"""Characters of a cell value shown in text tables before it is cut short."""


# -- plain values --------------------------------------------------------------


def human_bytes(n: int) -> str:
    """``n`` bytes as a short human-readable size, e.g. ``"1.5 MiB"``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def short_time(iso: str) -> str:
    """An ISO-8601 UTC time as ``YYYY-MM-DD HH:MM:SS``."""
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return when.strftime("%Y-%m-%d %H:%M:%S")


def cell(value: Any) -> Text:
    """A table cell showing ``value`` literally (no markup), cut to `MAX_CELL` characters."""
    from rich.text import Text

    if value is None:
        return Text("null", style="dim")
    if isinstance(value, float) and math.isnan(value):
        return Text("NaN", style="dim")
    text = value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        text = value.isoformat()
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    return Text(text)


def key_text(key: Any) -> str:
    """A primary-key value as ``col=value, ...`` (or its repr if it is not a mapping)."""
    if isinstance(key, Mapping):
        return ", ".join(f"{k}={v!r}" for k, v in key.items())
    return repr(key)


def change_summary(change: Mapping[str, Any]) -> str:
    """One commit's change to one dataset in a few words, e.g. ``upsert +1 ~2 -0``."""
    parts = [str(change.get("op", "change"))]
    counts = [
        ("inserted", "+"),
        ("upserted", "^"),
        ("updated", "~"),
        ("deleted", "-"),
    ]
    shown = {"op", "rows"}
    for name, sign in counts:
        if name in change:
            parts.append(f"{sign}{change[name]}")
            shown.add(name)
    for name, value in change.items():
        if name in shown:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts.append(f"{name}={value}")
    if "rows" in change:
        parts.append(f"({change['rows']} rows)")
    return " ".join(parts)


# -- renderables -----------------------------------------------------------------


def commit_line(commit: Commit, branch: str | None = None) -> Text:
    """``[branch abc123] message`` for the result of a write."""
    from rich.text import Text

    where = f"[{branch} {commit.short_id}] " if branch else f"[{commit.short_id}] "
    return Text.assemble((where, "bold"), commit.message.splitlines()[0] if commit.message else "")


def commit_view(commit: Commit) -> RenderableType:
    """Everything about one commit (`tillage show`)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("commit", Text(commit.id, style="yellow"))
    if commit.parents:
        head.add_row("parents", Text(" ".join(p[:12] for p in commit.parents)))
    head.add_row("date", Text(short_time(commit.created_at) + " UTC"))
    head.add_row("principal", Text(commit.principal))
    code = commit.code
    code_text = (
        f"git {code.git_sha[:12]}" + (" (dirty)" if code.dirty else "")
        if code.git_sha
        else "unknown (not in a git work tree)"
    )
    head.add_row("code", Text(code_text))
    head.add_row("tillage", Text(commit.tillage_version))
    message = Text("\n" + "\n".join("    " + line for line in commit.message.splitlines()) + "\n")
    pins = Table(show_edge=False)
    pins.add_column("dataset")
    pins.add_column("rows", justify="right")
    pins.add_column("lance branch")
    pins.add_column("version", justify="right")
    pins.add_column("change in this commit")
    for name, pin in commit.pins.items():
        change = commit.changes.get(name)
        pins.add_row(
            Text(name),
            f"{pin.num_rows:,}",
            Text(pin.lance_branch),
            str(pin.version),
            Text(change_summary(change)) if change else Text("-", style="dim"),
        )
    dropped = [n for n in commit.changes if n not in commit.pins]
    parts: list[RenderableType] = [head, message, titled("datasets", pins)]
    for name in dropped:
        parts.append(Text(f"{name}: {change_summary(commit.changes[name])}"))
    return Group(*parts)


def log_view(commits: Sequence[Commit]) -> str:
    """Commits newest first, one line each in aligned columns, as git prints them (`tillage log`).

    Plain text: Rich took longer to lay out a table of a few dozen commits than
    the rest of the command took to run.
    """
    if not commits:
        return "no commits yet"
    rows = [("commit", "date", "principal", "message", "datasets")]
    for c in commits:
        first = c.message.splitlines()[0] if c.message else ""
        merge = " (merge)" if len(c.parents) > 1 else ""
        rows.append(
            (c.short_id, short_time(c.created_at), c.principal, first + merge, ", ".join(c.changes))
        )
    return aligned(rows)


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """Rows of text as left-aligned columns two spaces apart; control characters dropped."""
    cells = [[_printable(v) for v in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = (
        "  ".join(v + " " * (w - _width(v)) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
    return "\n".join(lines)


def _printable(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def status_view(status: Status) -> RenderableType:
    """Branch, head, datasets and storage (`tillage status`)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("repository", Text(status.path))
    head.add_row("branch", Text(status.branch, style="green"))
    head.add_row(
        "head",
        Text(status.head[:12], style="yellow") if status.head else Text("no commits yet", "dim"),
    )
    head.add_row("refs", Text(f"{status.branches} branch(es), {status.tags} tag(s)"))
    head.add_row("storage", Text(human_bytes(status.storage_bytes)))
    if not status.datasets:
        return Group(
            head, Text("\nno datasets yet; add one with `tillage ingest NAME FILE --key COL`")
        )
    table = Table(show_edge=False)
    table.add_column("dataset")
    table.add_column("key")
    table.add_column("rows", justify="right")
    table.add_column("version", justify="right")
    table.add_column("size on disk", justify="right")
    for d in status.datasets:
        table.add_row(
            Text(d.name),
            Text(", ".join(d.key)),
            f"{d.rows:,}",
            Text(f"{d.lance_branch}@{d.version}"),
            human_bytes(d.bytes),
        )
    return Group(head, Text(""), table)


def progress_bar(console: Console, *, disable: bool = False) -> Progress:
    """The progress bar of long work: what it is doing, a bar, done of total, time taken."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


def titled(title: str, body: RenderableType) -> Group:
    """``body`` under a bold title line (table titles would wrap to the table's width)."""
    from rich.console import Group
    from rich.text import Text

    return Group(Text(title, style="bold"), body)


class Records:
    """Rows as a table where it fits the width, else one record at a time.

    A table wider than the terminal is unreadable once Rich squeezes its columns,
    so, like psql's expanded display (``\\x auto``), each row is then printed as a
    block of ``column  type  value`` lines under a ``-[ record N ]-`` rule.
    """

    def __init__(
        self,
        names: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        types: Sequence[str] | None = None,
        caption: str | None = None,
    ) -> None:
        self.names = list(names)
        self.rows = rows
        self.types = list(types) if types is not None else None
        self.caption = caption

    def table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_edge=False, caption=self.caption)
        for i, name in enumerate(self.names):
            head = Text(name, style="bold")
            if self.types is not None:
                head = Text.assemble(head, "\n", (self.types[i], "dim"))
            table.add_column(head)
        for row in self.rows:
            table.add_row(*(cell(row.get(n)) for n in self.names))
        return table

    def records(self, width: int) -> Group:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        parts: list[RenderableType] = []
        if not self.rows:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", overflow="fold")
            grid.add_column(style="dim", overflow="fold")
            for j, name in enumerate(self.names):
                grid.add_row(Text(name), Text(self.types[j] if self.types is not None else ""))
            parts += [grid, Text("(no rows)", style="dim")]
        for i, row in enumerate(self.rows, 1):
            rule = f"-[ record {i} ]"
            parts.append(Text(rule + "-" * max(0, min(width, 40) - len(rule)), style="dim"))
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", overflow="fold")
            if self.types is not None:
                grid.add_column(style="dim", overflow="fold")
            grid.add_column(overflow="fold")
            for j, name in enumerate(self.names):
                typ = [Text(self.types[j])] if self.types is not None else []
                grid.add_row(Text(name), *typ, cell(row.get(name)))
            parts.append(grid)
        if self.caption:
            parts.append(Text(self.caption, style="dim"))
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.measure import Measurement

        table = self.table()
        unbounded = options.update_width(1_000_000)
        if Measurement.get(console, unbounded, table).maximum <= options.max_width:
            yield table
        else:
            yield self.records(options.max_width)


def rows_table(rows: Sequence[Mapping[str, Any]]) -> Records:
    """Rows (dicts) as a table, columns in the order they first appear."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    return Records(columns, rows)


def data_view(
    names: Sequence[str], types: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Records:
    """Rows of a dataset under a header of column names and types (`tillage head`)."""
    return Records(names, rows, types)


def diff_view(diffs: Sequence[DatasetDiff]) -> RenderableType:
    """Schema and row changes per dataset (`tillage diff`)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not diffs:
        return Text("no datasets on either side", style="dim")
    parts: list[RenderableType] = []
    for d in diffs:
        style = {"added": "green", "removed": "red", "unchanged": "dim"}.get(d.status, "yellow")
        parts.append(
            Text.assemble(
                (d.dataset, "bold"),
                "  ",
                (d.status, style),
                f"  rows {d.rows_before:,} → {d.rows_after:,}",
                f"  key ({', '.join(d.key)})",
            )
        )
        if d.status == "unchanged":
            continue
        for name, typ in d.schema.added:
            parts.append(Text(f"  + column {name} ({typ})", style="green"))
        for name, typ in d.schema.removed:
            parts.append(Text(f"  - column {name} ({typ})", style="red"))
        for name, old, new in d.schema.retyped:
            parts.append(Text(f"  ~ column {name}: {old} → {new}", style="yellow"))
        parts.append(Text(f"  +{d.added:,} added  -{d.removed:,} removed  ~{d.changed:,} changed"))
        if d.column_changes:
            cols = ", ".join(f"{c} ({n:,})" for c, n in d.column_changes.items())
            parts.append(Text(f"  changed columns: {cols}"))
        for kind in ("added", "removed"):
            sample = d.samples.get(kind) or []
            if sample:
                parts.append(titled(f"{kind} rows (first {len(sample)})", rows_table(sample)))
        changed = d.samples.get("changed") or []
        if changed:
            table = Table(show_edge=False)
            for col in ("key", "column", "before", "after"):
                table.add_column(col)
            for row in changed:
                for col, (old, new) in row.get("changes", {}).items():
                    table.add_row(Text(key_text(row.get("key"))), Text(col), cell(old), cell(new))
            parts.append(titled(f"changed rows (first {len(changed)})", table))
        parts.append(Text(""))
    return Group(*parts)


def refs_view(refs: Mapping[str, str | None], current: str | None, kind: str) -> RenderableType:
    """Branches or tags with the commit each points at; the current branch starred."""
    from rich.table import Table
    from rich.text import Text

    if not refs:
        return Text(f"no {kind}s yet", style="dim")
    table = Table(show_edge=False, show_header=False)
    table.add_column()
    table.add_column()
    table.add_column(style="yellow")
    for name, cid in sorted(refs.items()):
        mark = Text("*", style="green bold") if name == current else Text(" ")
        table.add_row(
            mark,
            Text(name, style="green" if name == current else ""),
            Text(cid[:12] if cid else "(no commits)"),
        )
    return table


def merge_view(result: MergeResult) -> RenderableType:
    """What a merge did."""
    from rich.console import Group
    from rich.text import Text

    target = result.commit[:12] if result.commit else "(empty)"
    lines: list[RenderableType] = []
    if result.kind == "up-to-date":
        lines.append(Text(f"{result.target} is already up to date with {result.source}"))
    elif result.kind == "fast-forward":
        lines.append(Text(f"fast-forwarded {result.target} to {result.source} ({target})"))
    else:
        base = result.base[:12] if result.base else "none"
        lines.append(
            Text(f"merged {result.source} into {result.target}: commit {target} (base {base})")
        )
    for name, counts in result.datasets.items():
        lines.append(Text(f"  {name}: {change_summary(counts)}"))
    return Group(*lines)


def gc_view(report: GcReport) -> RenderableType:
    """What `gc` removed and the space it freed."""
    from rich.text import Text

    freed = report.bytes_before - report.bytes_after
    return Text(
        f"removed {report.commits_removed} commit(s), {report.versions_removed} table "
        f"version(s), {report.lance_branches_removed} storage branch(es), "
        f"{report.datasets_removed} dataset(s); storage {human_bytes(report.bytes_before)} → "
        f"{human_bytes(report.bytes_after)} (freed {human_bytes(freed)})"
    )


def verify_view(report: VerifyReport) -> RenderableType:
    """What `verify` checked, then each problem on its own line."""
    from rich.console import Group
    from rich.text import Text

    how = "hashed every file" if report.deep else f"hashed {report.hashed} changed file(s)"
    summary = (
        f"checked {report.commits} commit(s), {report.versions} dataset version(s), "
        f"{report.files} file(s); {how}"
    )
    if report.unrecorded:
        summary += f"; {report.unrecorded} file(s) predate checksums (size checked only)"
    if report.ok:
        return Text(f"{summary}\nok: no problems found")
    lines = [Text(summary), Text(f"{len(report.problems)} problem(s):", style="bold red")]
    lines += [Text(f"  {p.describe()}", style="red") for p in report.problems]
    lines.append(
        Text(
            "Restore the damaged files from a backup, or reset branches to commits "
            "before them; `tillage verify --deep` also compares every file's bytes."
        )
    )
    return Group(*lines)


def mapping_view(doc: Mapping[str, Any]) -> Table:
    """A key/value grid, nested values shown as compact JSON."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for k, v in doc.items():
        shown = v if isinstance(v, str) else json.dumps(jsonable(v), ensure_ascii=False)
        grid.add_row(Text(str(k)), Text(shown))
    return grid


def conflicts_table(conflicts: Sequence[Mapping[str, Any]]) -> Table:
    """Merge conflicts, one row per dataset, key and column."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False)
    for col in ("dataset", "key", "column", "base", "ours", "theirs"):
        table.add_column(col)
    for c in conflicts[:MAX_CONFLICT_ROWS]:
        key = c.get("key")
        table.add_row(
            Text(str(c.get("dataset"))),
            Text(key_text(key) if key is not None else "-"),
            Text(str(c.get("column"))),
            cell(c.get("base")),
            cell(c.get("ours")),
            cell(c.get("theirs")),
        )
    if len(conflicts) > MAX_CONFLICT_ROWS:
        more = len(conflicts) - MAX_CONFLICT_ROWS
        table.caption = f"... and {more} more (all of them with --json)"
    return table


# -- the printer -------------------------------------------------------------------


class Output:
    """Where a command's results go: Rich text on stdout, or one JSON document.

    Consoles are made per command, on first use, so they write to whatever
    ``sys.stdout`` and ``sys.stderr`` are at that moment (test runners swap them)
    and a JSON document is written without loading Rich at all.
    """

    def __init__(self, json_mode: bool = False) -> None:
        self.json = json_mode

    @functools.cached_property
    def stdout(self) -> Console:
        from rich.console import Console

        return Console(highlight=False)

    @functools.cached_property
    def stderr(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False)

    def emit(
        self,
        doc: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        *renderables: RenderableType | Callable[[], RenderableType],
    ) -> None:
        """Print ``doc`` as JSON in JSON mode, else the renderables as text.

        The document and each renderable may be given as a function that makes it,
        so that each mode pays only for the output it prints.
        """
        if self.json:
            write_json(doc() if callable(doc) else doc)
            return
        for view in renderables:
            r = view() if callable(view) else view
            if isinstance(r, str):  # plain text: written as it is, without loading Rich
                sys.stdout.write(r + "\n")
                continue
            from rich.text import Text

            # Plain lines are not wrapped, so piped output keeps one line per message.
            self.stdout.print(r, soft_wrap=isinstance(r, Text))

    def note(self, message: str) -> None:
        """A remark for people (stderr, text mode only)."""
        if not self.json:
            from rich.text import Text

            self.stderr.print(Text(message, style="dim"), soft_wrap=True)

    @contextmanager
    def working(self, message: str) -> Iterator[None]:
        """A spinner on stderr while long work runs (shown only on a terminal)."""
        from rich.text import Text

        status = self.stderr.status(Text(message)) if self.stderr.is_terminal else nullcontext()
        with status:
            yield

    def error(self, err: TillageError) -> None:
        """Report ``err``: a JSON error document, or ``error: ...`` in red on stderr."""
        if self.json:
            write_json(error_doc(err.code, str(err), err.attrs()))
            return
        from rich.text import Text

        if isinstance(err, MergeConflictError):
            first = str(err).splitlines()[0]
            self.stderr.print(
                Text.assemble(("error: ", "bold red"), (first, "red")), soft_wrap=True
            )
            self.stderr.print(conflicts_table(err.conflicts))
            return
        self.stderr.print(Text.assemble(("error: ", "bold red"), (str(err), "red")), soft_wrap=True)


def error_doc(code: str, message: str, attrs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``{"error": {...}}`` document that ``--json`` prints on failure."""
    body: dict[str, Any] = {"code": code, "message": message}
    for k, v in (attrs or {}).items():
        body.setdefault(k, v)
    return {"error": body}


def write_json(doc: Mapping[str, Any]) -> None:
    """Write ``doc`` to stdout as one JSON document (strict JSON: no NaN)."""
    sys.stdout.write(json.dumps(jsonable(doc), indent=2, ensure_ascii=False, allow_nan=False))
    sys.stdout.write("\n")
    sys.stdout.flush()
