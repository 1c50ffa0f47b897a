"""A fast start: commands load only what they use, as git answers at once.

Lance, pyarrow, pandas, DuckDB, scikit-learn, DataSketches and Alembic take
seconds together to import. `tillage --version` and `--help` need none of them
(nor SQLAlchemy), `tillage log` needs only the catalog, and ``import tillage``
loads nothing heavy until an API is used. Each command runs in a fresh
interpreter that lists the modules it had loaded when it exited; the times are
measured in ``benchmarks/bench_startup.py``, not here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import typer.main
from sqlalchemy import create_engine
from typer.core import TyperGroup

import tillage
from tillage.cli.app import app
from tillage.cli.common import command_in, only
from tillage.store import migrate

pytestmark = pytest.mark.slow  # about a dozen fresh interpreters

DATA = ("lance", "pyarrow", "numpy", "pandas", "duckdb", "polars", "ray", "sklearn", "datasketches")
"""Data libraries: no command that only reads the catalog may load them."""
HEAVY = (*DATA, "alembic")
REPORT = (
    "import sys\n"
    "print('MODULES', *sorted({m.split('.')[0] for m in sys.modules}), file=sys.stderr)\n"
)
SRC = str(Path(tillage.__file__).resolve().parents[1])
# What the `tillage` script runs, then the loaded top-level modules on stderr at exit.
ENTRY_POINT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('MODULES', *sorted({m.split('.')[0] for m in sys.modules}),"
    " file=sys.stderr))\n"
    "sys.argv[0] = 'tillage'\n"
    "from tillage.cli.app import main\n"
    "main()\n"
)


def loaded(code: str, *args: str, cwd: Path | None = None) -> tuple[set[str], str]:
    """The top-level modules that ``python -c CODE ARGS`` had loaded at exit, and its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    env.pop("TILLAGE_REPO", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = [line for line in proc.stderr.splitlines() if line.startswith("MODULES ")][-1]
    return set(last.split()[1:]), proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with three commits on one dataset."""
    path = tmp_path_factory.mktemp("startup")
    with tillage.init(path) as repo:
        for day in range(3):
            ids = list(range(day * 10, day * 10 + 10))
            batch = pa.table({"id": ids, "value": [float(i) for i in ids]})
            repo.ingest("events", batch, key="id" if day == 0 else None, message=f"day {day}")
    return path


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["ingest", "--help"], ["labels", "--help"], ["runs", "--help"]],
    ids=" ".join,
)
def test_version_and_help_load_no_data_library_and_no_catalog(argv: list[str]) -> None:
    names, stdout = loaded(ENTRY_POINT, *argv)
    assert {"tillage", "typer"} <= names  # the listing works
    assert sorted(names & {*HEAVY, "sqlalchemy", "yaml"}) == []
    if argv == ["--version"]:
        assert stdout.strip() == f"tillage {tillage.__version__}"
        assert "rich" not in names and "pydantic" not in names
    else:
        assert "Usage:" in stdout


def test_help_lists_every_command() -> None:
    _, stdout = loaded(ENTRY_POINT, "--help")
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup) and len(group.commands) > 20
    for name, command in group.commands.items():
        if not command.hidden:
            assert f" {name} " in stdout, name


@pytest.mark.parametrize("argv", [["log"], ["log", "--json"], ["branch"]], ids=" ".join)
def test_log_reads_the_catalog_only(project: Path, argv: list[str]) -> None:
    names, stdout = loaded(ENTRY_POINT, *argv, cwd=project)
    assert "sqlalchemy" in names  # it did read the catalog
    assert sorted(names & set(HEAVY)) == []
    if argv == ["log"]:
        assert "day 2" in stdout and "day 0" in stdout
    if "--json" in argv:
        assert "rich" not in names  # one JSON document needs no text rendering
        assert stdout.count('"message"') == 3
    assert "pydantic" not in names  # Typer 0.29 imports it to parse any option


def test_status_loads_no_data_library(project: Path) -> None:
    names, stdout = loaded(ENTRY_POINT, "status", cwd=project)
    assert "events" in stdout and "30" in stdout
    assert sorted(names & set(HEAVY)) == []  # it measures the tables' folders, never opens them


def test_import_tillage_is_light_until_an_api_is_used() -> None:
    names, _ = loaded("import tillage; tillage.TillageError; tillage.__version__\n" + REPORT)
    assert sorted(names & {*HEAVY, "sqlalchemy", "rich", "typer", "yaml"}) == []
    names, stdout = loaded("from tillage import Commit, Repo; print(Repo.__name__)\n" + REPORT)
    assert stdout.strip() == "Repo"
    assert "sqlalchemy" in names
    assert sorted(names & set(HEAVY)) == []


def test_lazy_names_are_listed_and_unknown_names_fail() -> None:
    assert set(tillage.__all__) <= set(dir(tillage))
    for name in tillage.__all__:
        getattr(tillage, name)  # each lazy name resolves
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        tillage.NoSuchThing  # noqa: B018


def test_the_schema_check_agrees_with_alembic(project: Path) -> None:
    """Opening reads the revision with a plain query; Alembic must see the same history."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate._config())
    assert migrate.revisions() == [r.revision for r in reversed(list(script.walk_revisions()))]
    assert migrate.head_revision() == script.get_current_head()
    engine = create_engine(f"sqlite:///{project / '.tillage' / 'catalog.db'}")
    try:
        with engine.connect() as conn:
            assert (
                migrate.current_revision(conn)
                == MigrationContext.configure(conn).get_current_revision()
            )
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        engine.dispose()
    empty = create_engine("sqlite://")
    with empty.connect() as conn:
        assert migrate.current_revision(conn) is None


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["log"], "log"),
        (["-C", "proj", "--json", "log", "-n", "3"], "log"),
        (["--repo=proj", "labels", "list"], "labels"),
        (["--repo", "proj", "alerts"], "alerts"),
        (["--help", "log"], None),  # root help asked first: every command
        (["-h"], None),
        (["--json"], None),
        ([], None),
    ],
)
def test_the_command_a_line_names(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_only_the_named_command_is_built_and_unknown_names_keep_all() -> None:
    def built(name: str | None) -> set[str]:
        group = typer.main.get_command(only(app, name))
        assert isinstance(group, TyperGroup)
        return set(group.commands)

    every = built(None)
    assert built("log") == {"log"}
    assert built("alerts") == {"alerts"}
    assert built("nosuchcommand") == every  # its usage error lists every command
    assert {"log", "alerts", "ingest", "labels"} <= every
    assert len(app.registered_commands) > 10  # `only` copies; it never changes `app`


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["lgo"], "No such command 'lgo'"), (["--help", "log"], " ingest ")],
    ids=" ".join,
)
def test_usage_errors_and_root_help_still_see_every_command(
    project: Path, argv: list[str], expected: str
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", ENTRY_POINT, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        timeout=120,
    )
    assert expected in proc.stdout + proc.stderr
