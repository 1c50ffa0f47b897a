"""The bad-input harness: run one CLI command with ``--json`` against a damaged project.

A `Case` names a command line, how to damage a fresh copy of a small project
before running it, and what the error must say. The harness checks the rest
for every case alike:

- the exit status is not 0 (or exactly ``code`` when a case sets it);
- stdout is one JSON document ``{"error": {"code": ..., "message": ...}}``;
- the message contains each of the case's ``says`` fragments (the problem and
  the fix);
- nothing printed a traceback;
- the repository is byte-for-byte what it was before (`fingerprint`).

To add a case, append a `Case` to ``CASES`` in one of the ``cases_*.py``
modules beside this one (or start a new one); `test_bad_input.py` collects them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# What a case's ``damage`` callable gets: the project folder; it may write
# input files next to it (``project.parent``) and return nothing.
Damage = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input: ``args`` (``{project}`` and ``{tmp}`` are filled in) and what must happen.

    Attributes:
        id: a short, unique name (the pytest id).
        args: the command line after ``tillage --repo PROJECT``; ``--json`` is added.
        says: fragments the error message must contain (case-insensitive).
        error: the error document's ``code``, where it is fixed.
        damage: prepares the project copy (and input files in ``{tmp}``) before the run.
        code: the exact exit status, where it matters (default: any non-zero).
        subprocess: run ``tillage`` in a child process (for hostile environments:
            permissions, limits, signals); the default runs it in-process.
        user: in a subprocess, run as this user (root ignores file permissions); it
            may read and search every file and folder (CAP_DAC_READ_SEARCH, so the
            interpreter and pytest's private temporary folders are reachable) but
            write only what permissions allow.
        unchanged: compare the repository before and after (off only where the
            damage itself is what the command would repair).
        audited: how many audit-log entries the command adds (a refused break-glass
            action is recorded); beside them, and the anchor that follows the log,
            the repository must be unchanged.
    """

    id: str
    args: Sequence[str]
    says: Sequence[str] = ()
    error: str | None = None
    damage: Damage | None = None
    code: int | None = None
    subprocess: bool = False
    user: str | None = None
    unchanged: bool = True
    env: dict[str, str] = field(default_factory=dict)
    audited: int = 0


def flights_table(ids: Sequence[int]) -> pa.Table:
    """A small flights-like table keyed by ``id`` (the base project's one dataset)."""
    return pa.table(
        {
            "id": list(ids),
            "carrier": [["AA", "UA", "DL"][i % 3] for i in ids],
            "origin": [["JFK", "LGA", "EWR"][i % 3] for i in ids],
            "dep_delay": [float(i % 50) - 5.0 for i in ids],
        }
    )


def write_parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def fingerprint(project: Path) -> dict[str, Any]:
    """What must not change: every file under ``.tillage`` (content, except the
    SQLite catalog, compared by its rows) and the project's review files."""
    repo_dir = project / ".tillage"
    out: dict[str, Any] = {}
    for p in sorted(project.rglob("*")):
        if not p.is_file() and not p.is_dir():
            continue
        rel = str(p.relative_to(project))
        if p.is_dir():
            out[rel] = "dir"
        elif p.name in {"catalog.db-wal", "catalog.db-shm", "write.lock"}:
            continue
        elif p == repo_dir / "catalog.db":
            out[rel] = _catalog_rows(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _catalog_rows(path: Path) -> Any:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(case: Case, project: Path, tmp: Path) -> tuple[int, str, str, BaseException | None]:
    """Run the case's command; return (exit status, stdout, stderr, uncaught exception)."""
    args = [a.format(project=project, tmp=tmp) for a in case.args]
    argv = ["--repo", str(project), *args, "--json"]
    env = {**os.environ, "TILLAGE_PRINCIPAL": "tester", "COLUMNS": "200", **case.env}
    env.pop("TILLAGE_REPO", None)
    if case.subprocess or case.user:
        exe = Path(sys.executable).parent / "tillage"
        cmd = [str(exe), *argv]
        if case.user:
            group = pwd.getpwnam(case.user).pw_gid  # "nobody" has no group of its name on Debian
            read_all = "+dac_read_search"
            setpriv = ["setpriv", f"--reuid={case.user}", f"--regid={group}", "--init-groups"]
            setpriv += [f"--inh-caps={read_all}", f"--ambient-caps={read_all}"]
            probe = subprocess.run([*setpriv, sys.executable, "-c", ""], capture_output=True)
            if probe.returncode != 0:
                pytest.skip(f"cannot run as {case.user}: {probe.stderr.decode()[:200]}")
            cmd = [*setpriv, *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr, None
    from typer.testing import CliRunner

    from tillage.cli.app import app

    result = CliRunner(env=env).invoke(app, argv)
    exc = result.exception
    if isinstance(exc, SystemExit):
        exc = None
    return result.exit_code, result.stdout, result.stderr, exc


@contextmanager
def _reachable(project: Path, tmp: Path) -> Iterator[tuple[Path, Path]]:
    """``tmp`` (holding ``project``) copied where any user can reach it (pytest's own
    temporary folders are private to their owner), removed afterwards."""
    public = Path(tempfile.mkdtemp(prefix="tillage-as-user-"))
    try:
        public.chmod(0o755)
        shutil.copytree(tmp, public / "t", symlinks=True)
        (public / "t").chmod(0o755)
        yield public / "t" / project.relative_to(tmp), public / "t"
    finally:
        shutil.rmtree(public, ignore_errors=True)


def check(case: Case, project: Path, tmp: Path) -> None:
    """Damage a copy, run the command, and assert the harness's promises."""
    if case.user:
        with _reachable(project, tmp) as (public_project, public_tmp):
            _check(case, public_project, public_tmp)
    else:
        _check(case, project, tmp)


def _check(case: Case, project: Path, tmp: Path) -> None:
    if case.damage is not None:
        case.damage(project)
    before = fingerprint(project) if case.unchanged else None
    status, stdout, stderr, exc = run_cli(case, project, tmp)
    context = f"exit {status}\nstdout: {stdout}\nstderr: {stderr}"
    assert exc is None, f"uncaught {exc!r}\n{context}"
    assert "Traceback" not in stdout + stderr, context
    assert status != 0, context
    if case.code is not None:
        assert status == case.code, context
    doc = json.loads(stdout)
    assert set(doc) == {"error"}, context
    err = doc["error"]
    assert err["message"], context
    if case.error is not None:
        assert err["code"] == case.error, context
    message = err["message"].lower()
    for fragment in case.says:
        assert fragment.lower() in message, f"{fragment!r} not in the message\n{context}"
    if before is not None:
        after = fingerprint(project)
        if case.audited:
            before, added = _without_audit(before)
            after, added_after = _without_audit(after)
            assert added_after - added == case.audited, f"audit entries\n{context}"
        assert after == before, f"the repository changed\n{context}"


def _without_audit(fp: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``fp`` without the audit log's rows and anchor files, and how many rows it had."""
    rest = {k: v for k, v in fp.items() if not k.startswith(".tillage/audit.")}
    rows = rest.get(".tillage/catalog.db")
    if not isinstance(rows, list):
        return rest, 0
    audit = [r for r in rows if r.startswith('INSERT INTO "audit_log"')]
    rest[".tillage/catalog.db"] = [r for r in rows if r not in audit]
    return rest, len(audit)
