"""The audit log: a hash chain anchored outside the catalog, and tampering it detects.

Tampering is done as an attacker with write access to the catalog would: plain
SQL on ``catalog.db``, never through tillage.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tillage
from tillage.repo import Repo
from tillage.store.audit import AuditLog, Tamper, entry_hash


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return tillage.init(tmp_path / "proj")


def log_of(repo: Repo) -> AuditLog:
    return AuditLog(repo._storage.catalog.engine, repo.repo_dir)


def fill(repo: Repo, n: int = 5) -> None:
    log = log_of(repo)
    for i in range(n):
        log.append(f"p{i % 2}", "grant.read", {"grant": f"g{i}", "rows": i, "where": "x > 1"})


def sql(repo: Repo, *statements: str) -> None:
    conn = sqlite3.connect(repo.repo_dir / "catalog.db")
    with conn:
        for s in statements:
            conn.execute(s)
    conn.close()


def test_an_untouched_log_verifies_and_names_its_head(repo: Repo) -> None:
    assert repo.privacy.audit_verify().ok  # empty, no anchor
    fill(repo)
    entries = repo.privacy.audit_log()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].detail == {"grant": "g2", "rows": 2, "where": "x > 1"}
    report = tillage.open(repo.path).privacy.audit_verify()
    assert report.ok and report.entries == 5
    assert report.head == report.anchor == (5, entries[-1].hash)
    assert report.to_dict()["head"] == {"seq": 5, "hash": entries[-1].hash}
    assert [e.seq for e in repo.privacy.audit_log(limit=2)] == [4, 5]
    assert repo.privacy.audit_log(limit=0) == []


@pytest.mark.parametrize(
    ("tamper", "seq", "kind", "says"),
    [
        (
            ["UPDATE audit_log SET detail = json_set(detail, '$.rows', 99) WHERE seq = 3"],
            3,
            Tamper.EDITED,
            "entry 3 (grant.read by p0) does not match its hash: it was edited",
        ),
        (
            ["UPDATE audit_log SET principal = 'someone' WHERE seq = 1"],
            1,
            Tamper.EDITED,
            "edited",
        ),
        (["DELETE FROM audit_log WHERE seq = 3"], 3, Tamper.DELETED, "entry 3 is missing"),
        (
            ["DELETE FROM audit_log WHERE seq IN (2, 3)"],
            2,
            Tamper.DELETED,
            "entry 2..3 is missing",
        ),
        (
            ["DELETE FROM audit_log WHERE seq = 5"],
            5,
            Tamper.DELETED,
            "ends at entry 4: entries 5..5 were deleted",
        ),
        (["DELETE FROM audit_log"], 1, Tamper.DELETED, "entries 1..5 were deleted"),
        (
            [
                "UPDATE audit_log SET seq = -1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = -1",
            ],
            2,
            Tamper.REORDERED,
            "entry 2 (grant.read by p0) was written as entry 3: entries were reordered",
        ),
        (
            # a deleted middle entry hidden by renumbering the ones after it
            [
                "DELETE FROM audit_log WHERE seq = 2",
                "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2",
            ],
            2,
            Tamper.REORDERED,
            "written as entry 3",
        ),
        (
            # a forged entry with a well-formed hash, linked to a made-up predecessor
            [
                "UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3",
                "UPDATE audit_log SET seq = seq - 9 WHERE seq >= 13",
                "INSERT INTO audit_log VALUES (3, '2020-01-01', 'mallory', 'grant.read', "
                "'{}', '" + "1" * 64 + "', '{forged}')",
            ],
            3,
            Tamper.INSERTED,
            "entry 3 (grant.read by mallory) does not follow entry 2: it was inserted",
        ),
    ],
    ids=[
        "edit-detail",
        "edit-principal",
        "delete-middle",
        "delete-two",
        "delete-last",
        "delete-all",
        "swap-seq",
        "delete-and-renumber",
        "insert-middle",
    ],
)
def test_each_tampering_is_detected_at_its_entry(
    repo: Repo, tamper: list[str], seq: int, kind: Tamper, says: str
) -> None:
    fill(repo)
    forged = entry_hash(3, "2020-01-01", "mallory", "grant.read", {}, "1" * 64)
    sql(repo, *(s.replace("{forged}", forged) for s in tamper))
    report = tillage.open(repo.path).privacy.audit_verify()
    assert not report.ok and report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (seq, kind)
    assert says in report.problem.message


def test_an_entry_appended_in_the_catalog_with_a_valid_hash_is_caught_by_the_anchor(
    repo: Repo,
) -> None:
    fill(repo)
    last = repo.privacy.audit_log()[-1]
    forged = entry_hash(6, "2030-01-01", "mallory", "grant.read", {}, last.hash)
    sql(
        repo,
        "INSERT INTO audit_log VALUES (6, '2030-01-01', 'mallory', 'grant.read', '{}', "
        f"'{last.hash}', '{forged}')",
    )
    problem = repo.privacy.audit_verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (6, Tamper.INSERTED)
    assert "come after the anchor's entry 5" in problem.message


def test_a_rewritten_chain_is_caught_by_the_anchor(repo: Repo) -> None:
    """Edit an entry and recompute every hash after it: the chain holds, the anchor does not."""
    fill(repo)
    entries = repo.privacy.audit_log()
    prev = entries[2].prev_hash
    statements = []
    for e in entries[2:]:
        detail = {**e.detail, "rows": 0} if e.seq == 3 else e.detail
        h = entry_hash(e.seq, e.at, e.principal, e.action, detail, prev)
        statements.append(
            f"UPDATE audit_log SET detail = '{json.dumps(detail)}', prev_hash = '{prev}', "
            f"hash = '{h}' WHERE seq = {e.seq}"
        )
        prev = h
    sql(repo, *statements)
    problem = repo.privacy.audit_verify().problem
    assert problem is not None and (problem.seq, problem.kind) == (5, Tamper.ANCHOR)
    assert "rewritten" in problem.message


def test_a_missing_or_damaged_anchor_is_reported(repo: Repo) -> None:
    fill(repo, 2)
    anchor = repo.repo_dir / "audit.head"
    anchor.write_text("not json")
    problem = repo.privacy.audit_verify().problem
    assert problem is not None and problem.kind is Tamper.ANCHOR
    assert "does not hold a seq and a hash" in problem.message
    anchor.unlink()
    problem = repo.privacy.audit_verify().problem
    assert problem is not None and problem.kind is Tamper.ANCHOR and "is missing" in problem.message
    fill(repo, 1)  # the next append writes a fresh anchor
    assert repo.privacy.audit_verify().ok


APPENDER = """
import contextlib, sys
from pathlib import Path
import tillage
import tillage.store.audit as audit
if sys.argv[4] == "apart":  # as on another machine: the catalog is shared, the lock is not
    audit.write_lock = lambda path, timeout=0: contextlib.nullcontext()
repo = tillage.open(sys.argv[1])
log = audit.AuditLog(repo._storage.catalog.engine, repo.repo_dir)
for i in range(int(sys.argv[3])):
    log.append(sys.argv[2], "test.append", {"i": i})
"""


@pytest.mark.slow
@pytest.mark.parametrize("lock", ["shared", "apart"])
def test_concurrent_appenders_never_fork_the_chain(repo: Repo, tmp_path: Path, lock: str) -> None:
    """Four processes append at once: every entry lands once, in one unbroken chain.

    ``apart``: without the file lock, only the catalog's unique seq keeps them apart.
    """
    script = tmp_path / "append.py"
    script.write_text(APPENDER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(repo.path), f"w{w}", "15", lock],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    if lock == "apart":  # racing anchor writes may leave it behind; the next append moves it
        log_of(repo).append("w0", "test.append", {"i": 15})
    report = repo.privacy.audit_verify()
    assert report.ok, report.problem
    assert report.anchor == report.head and report.entries == 60 + (lock == "apart")
    entries = repo.privacy.audit_log()
    for w in range(4):
        mine = [e.detail["i"] for e in entries if e.principal == f"w{w}"]
        assert mine == list(range(15 + (lock == "apart" and w == 0)))
