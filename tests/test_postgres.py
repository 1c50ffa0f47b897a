"""The catalog on a real PostgreSQL server, started for this test session.

The same repository behaviour must hold whatever SQLAlchemy URL holds the
catalog. The server runs from the machine's PostgreSQL binaries on a private
unix socket; `.ci/run` installs them where they are missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import tillage

sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *cmd]
    return cmd


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        missing = "PostgreSQL server binaries not installed (.ci/run installs them)"
        if os.environ.get("TILLAGE_REQUIRE_POSTGRES"):  # CI: a skipped suite is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    # Not under pytest's tmp dir: the server user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="tillage-pg-"))
    os.chmod(root, 0o777)
    data, sock = root / "data", root
    subprocess.run(
        _as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "tillage"]),
        check=True,
        capture_output=True,
    )
    port = "54329"
    subprocess.run(
        _as_server_user(
            [
                pg_ctl,
                "-D",
                str(data),
                "-o",
                f"-k {sock} -p {port} -c listen_addresses=''",
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://tillage@/{{db}}?host={sock}&port={port}"
    finally:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    db = "t" + uuid.uuid4().hex[:12]
    admin = sqlalchemy.create_engine(pg_server.format(db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {db}"))
    admin.dispose()
    return pg_server.format(db=db)


def test_repository_on_postgres(tmp_path: Path, pg_url: str) -> None:
    repo = tillage.init(tmp_path / "proj", catalog_url=pg_url)
    c1 = repo.ingest("t", pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), key="id")
    repo.create_branch("fix")
    repo.ingest("t", pa.table({"id": [2], "v": ["B"]}), mode="upsert", branch="fix")
    repo.ingest("t", pa.table({"id": [4], "v": ["d"]}))
    result = repo.merge("fix")
    assert result.kind == "merge"
    repo.close()

    reopened = tillage.open(tmp_path / "proj")
    assert reopened.config.catalog_url == pg_url
    assert reopened.read("t").sort_by("id").to_pydict() == {
        "id": [1, 2, 3, 4],
        "v": ["a", "B", "c", "d"],
    }
    assert reopened.read("t", c1.id).num_rows == 3
    assert len(reopened.refs.log()) == 4
    assert not (tmp_path / "proj" / ".tillage" / "catalog.db").exists()
    reopened.close()


def test_branch_head_compare_and_swap_on_postgres(tmp_path: Path, pg_url: str) -> None:
    repo = tillage.init(tmp_path / "proj", catalog_url=pg_url)
    repo.ingest("t", pa.table({"id": [1], "v": ["a"]}), key="id")
    head = repo.refs.resolve("main")
    other = tillage.open(tmp_path / "proj")
    other.ingest("t", pa.table({"id": [2], "v": ["b"]}))
    with pytest.raises(tillage.ConcurrentUpdateError), repo._storage.catalog.transaction() as conn:
        type(repo._storage.catalog).move_branch(conn, "main", head, head or "")
    assert repo.refs.resolve("main") == other.refs.resolve("main") != head
    repo.close()
    other.close()


def test_monitoring_on_postgres(tmp_path: Path, pg_url: str) -> None:
    """Profiles (binary), findings (JSON) and alerts (RETURNING ids) on a real server."""
    repo = tillage.init(tmp_path / "proj", catalog_url=pg_url)
    for d in range(3):
        ids = list(range(d * 200, (d + 1) * 200))
        repo.ingest("t", pa.table({"id": ids, "v": ["a", "b"] * 100}), key="id")
    assert repo.profile("t").rows == 600
    repo.infer_schema("t")
    repo.record_model("m", "t", feature_importance={"v": 1.0})
    c = repo.ingest("t", pa.table({"id": list(range(600, 800)), "v": ["z"] * 200}))
    [check] = repo.quality.checks(c.id)
    assert any(f["kind"] == "domain" for f in check["findings"])
    [alert] = [a for a in repo.quality.alerts() if a["kind"] == "domain"]
    assert alert["finding"]["importance"]["rank"] == 1
    assert repo.quality.accept_alert(alert["id"])["remaining"] == []
    repo.close()
