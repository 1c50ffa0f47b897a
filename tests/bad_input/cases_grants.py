"""Break-glass grants: ``grant request|approve|read`` given bad input.

The CLI runs as ``tester`` (the harness's ``TILLAGE_PRINCIPAL``) unless a case
says otherwise. Cases that act on a grant make it in their damage, under the
fixed id `GRANT`, requested by ``tester`` unless named. Refusals of a decision
(approving one's own request, approving without the approver role, reading an
unapproved or expired grant) add one audit entry (``audited=1``) and change
nothing else; bad input (no purpose, a bad duration) and an unknown grant id
record nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import tillage
from bad_input.harness import Case, Damage

GRANT = "9a7e0f1c2b3d"
POLICY = "principals:\n  tester: [engineer]\n  ana: [engineer]\n  ben: [approver]\n"


def granted(by: str = "tester", *, approved_ago: timedelta | None = None) -> Damage:
    """A policy, and grant `GRANT` on ``flights`` requested by ``by`` (approved by ben
    ``approved_ago``, for one hour, if given)."""

    def damage(project: Path) -> None:
        (project / ".tillage" / "policy.yaml").write_text(POLICY)
        fixed = uuid.UUID(GRANT + "0" * 20)
        with tillage.open(project) as repo:
            with mock.patch("tillage.privacy.grants.uuid4", return_value=fixed):
                repo.at("main", principal=by).privacy.request_grant(
                    "flights", purpose="TICKET-1", columns=["carrier"], max_rows=5
                )
            if approved_ago is not None:
                then = datetime.now(UTC) - approved_ago
                with mock.patch("tillage.privacy.grants.now", return_value=then):
                    repo.at("main", principal="ben").privacy.approve_grant(
                        GRANT, expires_in=timedelta(hours=1)
                    )

    return damage


CASES = [
    Case(
        "grant-request-without-purpose",
        ["grant", "request", "flights", "--columns", "carrier", "--max-rows", "5"],
        says=["needs a purpose or a ticket", "--purpose", "nothing was requested"],
        error="grant_request",
    ),
    Case(
        "grant-request-unknown-column",
        ["grant", "request", "flights", "-p", "T-1", "--columns", "carier", "--max-rows", "5"],
        says=["unknown column(s) carier", "its columns: id, carrier"],
        error="grant_request",
    ),
    Case(
        "grant-approve-own-request",
        ["grant", "approve", GRANT, "--expires-in", "1h"],
        says=["tester may not approve grant", "their own request", "approver"],
        error="grant_refused",
        damage=granted(),
        env={"TILLAGE_PRINCIPAL": "tester"},
        audited=1,
    ),
    Case(
        "grant-approve-by-non-approver",
        ["grant", "approve", GRANT],
        says=["approver role", "approvers: ben"],
        error="grant_refused",
        damage=granted(by="ana"),
        audited=1,
    ),
    Case(
        "grant-approve-bad-duration",
        ["grant", "approve", GRANT, "--expires-in", "soon"],
        says=["bad duration 'soon'", "12h"],
        error="bad_input",
        damage=granted(by="ana"),
        env={"TILLAGE_PRINCIPAL": "ben"},
    ),
    Case(
        "grant-read-unapproved",
        ["grant", "read", GRANT],
        says=["not approved yet", "ask an approver", "nothing was read"],
        error="grant_refused",
        damage=granted(),
        audited=1,
    ),
    Case(
        "grant-read-expired",
        ["grant", "read", GRANT],
        says=["it expired at", "request a new grant", "nothing was read"],
        error="grant_refused",
        damage=granted(approved_ago=timedelta(hours=2)),
        audited=1,
    ),
    Case(
        "grant-read-unknown-id",
        ["grant", "read", "nope"],
        says=["no break-glass grant has id 'nope'", "grant list"],
        error="no_such_grant",
    ),
]
