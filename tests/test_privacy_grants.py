"""Break-glass grants: request, approval by another approver, reads of exactly the scope,
expiry and revocation, and an audit entry for every decision and read."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pytest

import tillage
from cli_runner import cli, cli_json
from tillage.access import Purpose
from tillage.errors import (
    GrantRefusedError,
    GrantRequestError,
    InputError,
    InvalidFilterError,
    NoSuchDatasetError,
    NoSuchGrantError,
)
from tillage.privacy.grants import GrantState, keys_digest
from tillage.repo import Repo

POLICY = """
principals:
  ana: [engineer]
  ben: [engineer, approver]
  cy: [approver]
datasets:
  loans:
    budget: 3.0
    columns:
      email: direct_identifier
      income: {class: sensitive, bounds: [0, 500]}
"""


def loans(ids: range) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "email": [f"p{i}@example.org" for i in ids],
            "income": [float(i * 10) for i in ids],
            "state": [["CA", "NY", "TX"][i % 3] for i in ids],
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = tillage.init(tmp_path / "proj")
    repo.ingest("loans", loans(range(20)), key="id")
    (repo.repo_dir / "policy.yaml").write_text(POLICY)
    return tillage.open(repo.path)


def as_(repo: Repo, who: str) -> Repo:
    return repo.at("main", principal=who)


def actions(repo: Repo) -> list[tuple[str, str]]:
    return [(e.principal, e.action) for e in repo.privacy.audit_log()]


def budget_rows(repo: Repo) -> list[tuple[str, str, float, int]]:
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    try:
        return conn.execute("SELECT lineage, principal, spent, void FROM privacy_budget").fetchall()
    finally:
        conn.close()


def requested(repo: Repo, **kwargs: object) -> str:
    args: dict[str, object] = {
        "purpose": "TICKET-7: customer says income is wrong",
        "columns": ["email", "income"],
        "where": "income > 50",
        "max_rows": 3,
    }
    args.update(kwargs)
    return as_(repo, "ana").privacy.request_grant("loans", **args).id  # type: ignore[arg-type]


def test_a_granted_read_returns_exactly_the_scope_of_the_pinned_version_and_is_logged(
    repo: Repo,
) -> None:
    pinned = repo.refs.find_commit()
    assert pinned is not None
    grant = as_(repo, "ana").privacy.request_grant(
        "loans",
        purpose="TICKET-7: customer says income is wrong",
        columns=["email", "income"],
        where="income > 50",
        max_rows=3,
    )
    assert grant.state is GrantState.REQUESTED and grant.commit == pinned.id
    assert grant.principal == "ana" and grant.columns == ("email", "income")
    approved = as_(repo, "ben").privacy.approve_grant(grant.id, expires_in="2h")
    assert approved.state is GrantState.APPROVED and approved.approved_by == "ben"
    assert approved.expires_at is not None
    expires = datetime.fromisoformat(approved.expires_at) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < expires <= timedelta(hours=2)
    # a later write does not widen the grant: it reads the version it pinned
    repo.ingest("loans", loans(range(100, 110)), key="id")

    ana = as_(repo, "ana")
    rows = ana.privacy.read_granted(grant.id)
    assert rows.column_names == ["email", "income"]
    assert rows.num_rows == 3
    assert all(v > 50 for v in rows.column("income").to_pylist())
    assert all(
        e.startswith("p") and int(e[1:].split("@")[0]) < 20 for e in rows["email"].to_pylist()
    )
    event = ana.access_log.events[-1]
    assert (event.purpose, event.principal, event.commit) == (Purpose.BREAK_GLASS, "ana", pinned.id)
    assert event.columns == ("email", "income", "id")  # the key is read to hash, not returned

    log = repo.privacy.audit_log()
    assert [(e.principal, e.action) for e in log] == [
        ("ana", "grant.request"),
        ("ben", "grant.approve"),
        ("ana", "grant.read"),
    ]
    assert log[0].detail["purpose"] == "TICKET-7: customer says income is wrong"
    assert log[0].detail["max_rows"] == 3 and log[0].detail["where"] == "income > 50"
    read = log[2].detail
    ids = [int(e[1:].split("@")[0]) for e in rows["email"].to_pylist()]
    assert read == {
        "grant": grant.id,
        "dataset": "loans",
        "commit": pinned.id,
        "columns": ["email", "income"],
        "where": "income > 50",
        "rows": 3,
        "keys_sha256": keys_digest([(i,) for i in ids]),
    }
    assert keys_digest([(2,), (1,)]) == keys_digest([(1,), (2,)])
    assert repo.privacy.audit_verify().ok


def test_approval_voids_the_grantees_dp_guarantee_on_that_dataset(repo: Repo) -> None:
    first = requested(repo)
    assert budget_rows(repo) == []
    as_(repo, "ben").privacy.approve_grant(first, expires_in=timedelta(hours=1))
    assert budget_rows(repo) == [("loans", "ana", 0.0, 1)]
    # a principal with spending on record keeps it; only the guarantee is marked void
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        conn.execute(
            "INSERT INTO privacy_budget (lineage, principal, spent, void) "
            "VALUES ('loans', 'dan', 1.5, 0)"
        )
    conn.close()
    dans = as_(repo, "dan").privacy.request_grant(
        "loans", purpose="debug", columns=["state"], max_rows=1
    )
    as_(repo, "cy").privacy.approve_grant(dans.id, expires_in="30m")
    assert sorted(budget_rows(repo)) == [("loans", "ana", 0.0, 1), ("loans", "dan", 1.5, 1)]


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"purpose": None}, GrantRequestError, "needs a purpose or a ticket"),
        ({"purpose": "   "}, GrantRequestError, "needs a purpose or a ticket"),
        ({"columns": []}, GrantRequestError, "must name the columns"),
        ({"columns": ["emial"]}, GrantRequestError, "unknown column(s) emial"),
        ({"columns": ["email", "email"]}, GrantRequestError, "repeated column(s) email"),
        ({"max_rows": None}, GrantRequestError, "maximum row count"),
        ({"max_rows": 0}, GrantRequestError, "maximum row count"),
        ({"where": "income >"}, InvalidFilterError, "income >"),
    ],
)
def test_a_bad_request_is_refused_and_records_nothing(
    repo: Repo, kwargs: dict[str, object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as e:
        requested(repo, **kwargs)
    assert says in str(e.value)
    assert repo.privacy.grants() == [] and repo.privacy.audit_log() == []


def test_a_request_on_an_unknown_dataset_names_those_there_are(repo: Repo) -> None:
    with pytest.raises(NoSuchDatasetError, match="loans"):
        as_(repo, "ana").privacy.request_grant("lons", purpose="x", columns=["id"], max_rows=1)


def test_the_requester_never_approves_their_own_request_and_the_refusal_is_audited(
    repo: Repo,
) -> None:
    own = as_(repo, "ben").privacy.request_grant(
        "loans", purpose="debug", columns=["email"], max_rows=1
    )
    with pytest.raises(GrantRefusedError, match="their own request; a grant needs a second"):
        as_(repo, "ben").privacy.approve_grant(own.id, expires_in="1h")
    assert repo.privacy.grant(own.id).state is GrantState.REQUESTED
    refusal = repo.privacy.audit_log()[-1]
    assert (refusal.principal, refusal.action) == ("ben", "grant.refused")
    assert refusal.detail["grant"] == own.id and refusal.detail["tried"] == "approve"
    assert budget_rows(repo) == []


def test_only_an_approver_approves(repo: Repo) -> None:
    gid = requested(repo)
    with pytest.raises(GrantRefusedError, match=r"approver role.*Approvers: ben, cy"):
        as_(repo, "eve").privacy.approve_grant(gid, expires_in="1h")
    assert repo.privacy.grant(gid).state is GrantState.REQUESTED
    assert actions(repo) == [("ana", "grant.request"), ("eve", "grant.refused")]
    with pytest.raises(InputError, match="positive duration"):
        as_(repo, "ben").privacy.approve_grant(gid, expires_in=timedelta(0))
    as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    with pytest.raises(GrantRefusedError, match="it is approved"):
        as_(repo, "cy").privacy.approve_grant(gid, expires_in="1h")


def test_an_unapproved_grant_reads_nothing_and_the_refusal_is_audited(repo: Repo) -> None:
    gid = requested(repo)
    ana = as_(repo, "ana")
    with pytest.raises(GrantRefusedError, match=r"not approved yet.*Ask an approver"):
        ana.privacy.read_granted(gid)
    assert not [e for e in ana.access_log.events if e.purpose is Purpose.BREAK_GLASS]
    assert actions(repo)[-1] == ("ana", "grant.refused")
    assert repo.privacy.audit_log()[-1].detail["tried"] == "read"


def test_an_expired_grant_reads_nothing(repo: Repo) -> None:
    gid = requested(repo)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    with mock.patch("tillage.privacy.grants.now", return_value=two_hours_ago):
        as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    grant = repo.privacy.grant(gid)
    assert grant.state is GrantState.EXPIRED
    assert [g.state for g in repo.privacy.grants()] == [GrantState.EXPIRED]
    ana = as_(repo, "ana")
    with pytest.raises(GrantRefusedError, match=re.escape(f"expired at {grant.expires_at}")):
        ana.privacy.read_granted(gid)
    assert not [e for e in ana.access_log.events if e.purpose is Purpose.BREAK_GLASS]
    assert actions(repo)[-1] == ("ana", "grant.refused")


def test_a_revoked_grant_reads_nothing_and_only_its_requester_or_an_approver_revokes(
    repo: Repo,
) -> None:
    gid = requested(repo)
    as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    with pytest.raises(GrantRefusedError, match="only its requester or an approver"):
        as_(repo, "eve").privacy.revoke_grant(gid)
    revoked = as_(repo, "cy").privacy.revoke_grant(gid, reason="ticket closed")
    assert revoked.state is GrantState.REVOKED and revoked.revoked_by == "cy"
    with pytest.raises(GrantRefusedError, match="revoked by cy"):
        as_(repo, "ana").privacy.read_granted(gid)
    with pytest.raises(GrantRefusedError, match="revoked already"):
        as_(repo, "ana").privacy.revoke_grant(gid)
    assert [a for _, a in actions(repo)] == [
        "grant.request",
        "grant.approve",
        "grant.refused",
        "grant.revoke",
        "grant.refused",
        "grant.refused",
    ]
    assert repo.privacy.audit_log()[3].detail["reason"] == "ticket closed"
    assert repo.privacy.audit_verify().ok


def test_only_the_grantee_reads(repo: Repo) -> None:
    gid = requested(repo)
    as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    with pytest.raises(GrantRefusedError, match="granted to ana"):
        as_(repo, "ben").privacy.read_granted(gid)
    assert as_(repo, "ana").privacy.read_granted(gid).num_rows == 3


def test_an_unknown_grant_id_is_refused_and_records_nothing(repo: Repo) -> None:
    for call in (
        lambda p: p.read_granted("nope"),
        lambda p: p.approve_grant("nope", expires_in="1h"),
        lambda p: p.revoke_grant("nope"),
        lambda p: p.grant("nope"),
    ):
        with pytest.raises(NoSuchGrantError, match=r"'nope'.*grant list"):
            call(as_(repo, "ben").privacy)
    assert repo.privacy.audit_log() == []


def test_the_cli_requests_approves_reads_lists_and_verifies(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = str(repo.path)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ana")
    requested = cli_json(
        "--repo", proj, "grant", "request", "loans", "--purpose", "TICKET-9",
        "--columns", "email,state", "--where", "state = 'NY'", "--max-rows", "4",
    )  # fmt: skip
    gid = requested["id"]
    assert requested["state"] == "requested" and requested["columns"] == ["email", "state"]
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ben")
    approved = cli_json("--repo", proj, "grant", "approve", gid, "--expires-in", "30m")
    assert approved["state"] == "approved" and approved["approved_by"] == "ben"
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ana")
    read = cli_json("--repo", proj, "grant", "read", gid)
    assert [c["name"] for c in read["columns"]] == ["email", "state"]
    assert len(read["rows"]) == 4 and {r["state"] for r in read["rows"]} == {"NY"}
    assert "p1@example.org" in cli("--repo", proj, "grant", "read", gid).stdout
    listed = cli_json("--repo", proj, "grant", "list")["grants"]
    assert [(g["id"], g["state"]) for g in listed] == [(gid, "approved")]
    assert gid in cli("--repo", proj, "grant", "list").stdout

    entries = cli_json("--repo", proj, "audit", "log")["entries"]
    assert [e["action"] for e in entries] == [
        "grant.request", "grant.approve", "grant.read", "grant.read"
    ]  # fmt: skip
    assert entries[2]["detail"]["rows"] == 4 and entries[2]["principal"] == "ana"
    assert len(cli_json("--repo", proj, "audit", "log", "-n", "1")["entries"]) == 1
    assert "grant.approve" in cli("--repo", proj, "audit", "log").stdout
    verified = cli_json("--repo", proj, "audit", "verify")
    assert verified["ok"] and verified["head"] == {"seq": 4, "hash": entries[-1]["hash"]}
    assert "audit log verified: 4 entries" in cli("--repo", proj, "audit", "verify").stdout

    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        conn.execute("UPDATE audit_log SET principal = 'cy' WHERE seq = 2")
    conn.close()
    broken = json.loads(cli("--repo", proj, "audit", "verify", "--json", code=1).stdout)
    assert not broken["ok"] and broken["problem"]["seq"] == 2
    assert broken["problem"]["kind"] == "edited"
    assert "entry 2 (grant.approve by cy)" in cli("--repo", proj, "audit", "verify", code=1).stdout


def test_the_readme_break_glass_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("\n### Break-glass access and the audit log\n")
    end = text.find("\n## ", start + 1)
    [code] = re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)
    repo = tillage.init(tmp_path / "my-project")
    repo.ingest("loans", loans(range(0, 200_000, 5_000)), key="id")
    (repo.repo_dir / "policy.yaml").write_text(POLICY)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    rows = scope["rows"]
    assert isinstance(rows, pa.Table) and rows.column_names == ["email", "income"]
    assert 0 < rows.num_rows <= 20 and min(rows["income"].to_pylist()) > 100_000
    assert scope["report"].ok  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE access_grants SET max_rows = 1000",
        'UPDATE access_grants SET columns = \'["email", "income", "state"]\'',
        "UPDATE access_grants SET predicate = NULL",
        "UPDATE access_grants SET expires_at = '2999-01-01T00:00:00+00:00'",
        "UPDATE access_grants SET approved_by = 'cy'",
        "UPDATE access_grants SET principal = 'eve'",
    ],
)
def test_a_grant_edited_in_the_catalog_reads_nothing(repo: Repo, edit: str) -> None:
    gid = requested(repo)
    as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        conn.execute(edit)
    conn.close()
    reader = as_(repo, "eve" if "eve" in edit else "ana")
    with pytest.raises(GrantRefusedError, match=r"changed outside tillage.*audit verify"):
        reader.privacy.read_granted(gid)
    assert not [e for e in reader.access_log.events if e.purpose is Purpose.BREAK_GLASS]
    assert actions(repo)[-1][1] == "grant.refused"


def test_an_approval_written_into_the_catalog_by_hand_reads_nothing(repo: Repo) -> None:
    gid = requested(repo)
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        conn.execute(
            "UPDATE access_grants SET state = 'approved', approved_by = 'ben', "
            "expires_at = '2999-01-01T00:00:00+00:00'"
        )
    conn.close()
    with pytest.raises(GrantRefusedError, match="approver and expiry in the catalog differ"):
        as_(repo, "ana").privacy.read_granted(gid)


def test_a_revocation_undone_in_the_catalog_reads_nothing(repo: Repo) -> None:
    gid = requested(repo)
    as_(repo, "ben").privacy.approve_grant(gid, expires_in="1h")
    as_(repo, "ana").privacy.revoke_grant(gid)
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        conn.execute("UPDATE access_grants SET state = 'approved', revoked_by = NULL")
    conn.close()
    with pytest.raises(GrantRefusedError, match="log records its revocation"):
        as_(repo, "ana").privacy.read_granted(gid)
