"""Break-glass and audit commands: ``grant request|approve|list|read|revoke`` and
``audit log|verify``.

Registered on the root app by `tillage.cli.app`; they call `repo.privacy` only. The
principal is the repository config's user, else ``TILLAGE_PRINCIPAL``, else the
local user.
"""

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tillage.cli import output
from tillage.cli.common import JsonOpt, RefOpt, TopicGroup, _columns, _open, _out, app
from tillage.cli.output import Records

if TYPE_CHECKING:
    from rich.console import RenderableType

grant_app = typer.Typer(
    cls=TopicGroup,
    name="grant",
    help="Break-glass access to raw records of private data: request, approve, read, revoke, list.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    cls=TopicGroup,
    name="audit",
    help="The hash-chained audit log of break-glass access: list it, verify it.",
    no_args_is_help=True,
)
app.add_typer(grant_app, rich_help_panel="Privacy")
app.add_typer(audit_app, rich_help_panel="Privacy")

GrantArg = Annotated[
    str, typer.Argument(metavar="GRANT_ID", help="The grant's id (`tillage grant list`).")
]


def _grant_line(g: dict[str, Any]) -> str:
    until = f", expires {g['expires_at'][:16]}" if g["state"] == "approved" else ""
    return f"grant {g['id']} on {g['dataset']} for {g['principal']}: {g['state']}{until}"


@grant_app.command("request")
def grant_request(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(metavar="DATASET", help="The private dataset.")],
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose",
            "-p",
            metavar="TEXT",
            help="Why raw records must be seen (a ticket, the customer's permission); required.",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", metavar="COL[,COL]", help="The columns needed; required."),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", metavar="COND", help="Only rows matching one SQL condition."),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", "-n", metavar="N", help="At most this many rows; required."),
    ] = None,
    ref: RefOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to read raw records of one dataset version; another principal approves."""
    out = _out(ctx, as_json)
    grant = _open(ctx).privacy.request_grant(
        dataset,
        purpose=purpose,
        columns=_columns(columns),
        where=where,
        max_rows=max_rows,
        ref=ref,
    )
    doc = grant.to_dict()
    out.emit(
        doc,
        f"requested grant {grant.id} on {dataset} at {grant.commit[:12]}: waiting for an "
        f"approver (tillage grant approve {grant.id} --expires-in 4h)",
    )


@grant_app.command("approve")
def grant_approve(
    ctx: typer.Context,
    grant_id: GrantArg,
    expires_in: Annotated[
        str,
        typer.Option("--expires-in", metavar="DURATION", help="How long it lasts: 30m, 4h, 2d."),
    ] = "4h",
    as_json: JsonOpt = False,
) -> None:
    """Approve someone else's request (approvers only); voids their DP guarantee there."""
    out = _out(ctx, as_json)
    grant = _open(ctx).privacy.approve_grant(grant_id, expires_in=expires_in)
    out.emit(grant.to_dict(), _grant_line(grant.to_dict()))


@grant_app.command("revoke")
def grant_revoke(
    ctx: typer.Context,
    grant_id: GrantArg,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="TEXT", help="Why, for the audit log.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw a grant (its requester or an approver); it reads nothing from then on."""
    out = _out(ctx, as_json)
    grant = _open(ctx).privacy.revoke_grant(grant_id, reason=reason)
    out.emit(grant.to_dict(), _grant_line(grant.to_dict()))


@grant_app.command("list")
def grant_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every grant with its state (requested, approved, expired, revoked) and expiry."""
    out = _out(ctx, as_json)
    docs = [g.to_dict() for g in _open(ctx).privacy.grants()]
    names = ["id", "principal", "dataset", "state", "expires_at", "approved_by", "purpose"]
    rows = [
        {
            **{n: d[n] for n in names},
            "expires_at": d["expires_at"] and output.short_time(d["expires_at"]),
        }
        for d in docs
    ]
    out.emit({"grants": docs}, Records(names, rows))


@grant_app.command("read")
def grant_read(ctx: typer.Context, grant_id: GrantArg, as_json: JsonOpt = False) -> None:
    """Read the rows an approved grant covers (its grantee only); the read is audited."""
    out = _out(ctx, as_json)
    privacy = _open(ctx).privacy
    table = privacy.read_granted(grant_id)
    grant = privacy.grant(grant_id)
    types = [str(f.type) for f in table.schema]
    rows = table.to_pylist()
    doc = {
        "grant": grant_id,
        "dataset": grant.dataset,
        "commit": grant.commit,
        "columns": [{"name": n, "type": t} for n, t in zip(table.column_names, types, strict=True)],
        "rows": rows,
    }
    out.emit(doc, output.data_view(table.column_names, types, rows))


@audit_app.command("log")
def audit_log(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", metavar="N", min=0, help="Only the newest N entries."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit log's entries, oldest first: who did what, when, with which detail."""
    out = _out(ctx, as_json)
    entries = [e.to_dict() for e in _open(ctx).privacy.audit_log(limit=limit)]
    names = ["seq", "at", "principal", "action", "detail"]
    rows = [
        {
            **{n: e[n] for n in names},
            "at": output.short_time(e["at"]),
            "detail": json.dumps(e["detail"], ensure_ascii=False, sort_keys=True),
        }
        for e in entries
    ]
    out.emit({"entries": entries}, Records(names, rows))


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check the hash chain and its anchor; name the first tampered entry; exit 1 if any.

    Keep the head it prints somewhere else: a later log without it was rewritten.
    """
    out = _out(ctx, as_json)
    report = _open(ctx).privacy.audit_verify()
    doc = report.to_dict()
    out.emit(doc, lambda: _verify_view(doc))
    if not report.ok:
        raise typer.Exit(1)


def _verify_view(doc: dict[str, Any]) -> "RenderableType":
    from rich.text import Text

    head = doc["head"]
    where = f"head: entry {head['seq']} {head['hash']}" if head else "the log is empty"
    problem = doc["problem"]
    if problem is None:
        return Text(f"audit log verified: {doc['entries']} entries; {where}")
    return Text.assemble(
        (f"audit log tampered ({problem['kind']}): ", "bold red"), (problem["message"], "red")
    )
