"""Damaged files are refused, `verify` finds them, the catalog is made only by `init`,
and the environment's failures (full disk, read-only media) are clear errors."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import tillage
import tillage.store.integrity as integrity
from bad_input.harness import fingerprint, flights_table
from tillage import Repo
from tillage.cli.app import app
from tillage.store.integrity import FileChecksumRow


def build(path: Path) -> Repo:
    """``flights`` (60 rows in 2 commits) on main; branch ``dev`` deleted 10 and added 20."""
    r = tillage.init(path)
    r.ingest("flights", flights_table(range(40)), key="id", message="day 1")
    r.ingest("flights", flights_table(range(40, 60)), message="day 2")
    r.create_branch("dev")
    r.ingest("flights", flights_table(range(60, 80)), branch="dev")
    r.ingest("flights", flights_table(range(10)), mode="delete", branch="dev")
    return r


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    with build(tmp_path / "proj") as r:
        yield r


def reopen(repo: Repo) -> Repo:
    """A fresh handle (a new process would see what this one sees)."""
    repo.close()
    return tillage.open(repo.path)


def data_files(repo: Repo, ref: str = "main") -> list[Path]:
    """The data files of ``flights`` at ``ref``, newest first."""
    pin = repo.datasets.pins(ref)["flights"]
    handle = repo._storage.tables.open("flights", pin, check=False)
    folder = repo._storage.tables.root / "flights.lance"
    files = [folder / f.path for f in repo._storage.tables.version_files("flights", pin, handle)]
    data = [f for f in files if f.suffix == ".lance"]
    return sorted(data, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def flip_byte(path: Path, keep_time: bool = False) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_time:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def refused(repo: Repo, action: Callable[[Repo], object], *phrases: str) -> tillage.TillageError:
    """``action`` on a fresh handle must raise a CorruptDataError naming ``phrases``,
    and leave every file of the repository as it was."""
    before = fingerprint(repo.path)
    fresh = reopen(repo)
    try:
        with pytest.raises(tillage.CorruptDataError) as err:
            action(fresh)
    finally:
        fresh.close()
    msg = str(err.value)
    for phrase in phrases:
        assert phrase in msg, f"{phrase!r} not in {msg!r}"
    assert fingerprint(repo.path) == before
    return err.value


# -- checksums at commit time ----------------------------------------------------------


def test_commits_record_the_files_they_add(repo: Repo) -> None:
    with repo._storage.catalog.engine.connect() as conn:
        rows = conn.execute(FileChecksumRow.__table__.select()).all()
    recorded = {r.path: r for r in rows}
    for ref in ("main", "dev"):
        pin = repo.datasets.pins(ref)["flights"]
        handle = repo._storage.tables.open("flights", pin, check=False)
        for f in repo._storage.tables.version_files("flights", pin, handle):
            row = recorded[f.path]
            path = repo._storage.tables.root / "flights.lance" / f.path
            assert row.size == path.stat().st_size
            assert row.blake2b == integrity.file_hash(path)
    assert any(p.startswith("tree/") and "_deletions/" in p for p in recorded)


def test_an_append_hashes_only_the_files_it_wrote(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = integrity.file_hash

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(integrity, "file_hash", counting)
    old = set(data_files(repo))
    repo.ingest("flights", flights_table(range(100, 110)))
    new = set(data_files(repo)) - old
    assert len(new) == 1
    names = sorted(p.name for p in hashed)
    assert names == sorted([*(p.name for p in new), f"{(1 << 64) - 1 - 3}.manifest"])


# -- reads refuse damaged files ------------------------------------------------------------


def test_a_flipped_byte_is_refused_by_every_read(repo: Repo) -> None:
    damaged = data_files(repo)[0]
    flip_byte(damaged)
    says = ("'flights'", "main@2", damaged.name, "checksum differs", "tillage verify")
    refused(repo, lambda r: r.read("flights"), *says)
    refused(repo, lambda r: r.datasets.export("flights", repo.path.parent / "out.csv"), *says)
    refused(repo, lambda r: r.diff("HEAD~1", "HEAD"), *says)
    e = refused(repo, lambda r: r.datasets.head("flights"), *says)
    assert e.code == "corrupt_data"
    assert e.attrs()["file"].endswith(damaged.name)
    # The version before it does not read that file.
    with tillage.open(repo.path) as fresh:
        assert fresh.read("flights", "HEAD~1").num_rows == 40


def test_truncated_and_missing_files_are_refused(repo: Repo) -> None:
    first, second = data_files(repo)
    first.write_bytes(first.read_bytes()[:50])
    refused(repo, lambda r: r.read("flights"), first.name, "has 50 bytes where")
    second.unlink()
    refused(repo, lambda r: r.read("flights", "HEAD~1"), second.name, "is missing")


def test_a_file_lance_cannot_decode_is_refused_even_with_its_time_kept(repo: Repo) -> None:
    """Size and time as written (so the cheap check passes), content scrambled: when
    Lance fails, the version's files are hashed to name the damaged one."""
    damaged = data_files(repo)[0]
    st = damaged.stat()
    data = bytearray(damaged.read_bytes())
    for i in range(0, len(data), 7):
        data[i] ^= 0x5A
    damaged.write_bytes(bytes(data))
    os.utime(damaged, ns=(st.st_atime_ns, st.st_mtime_ns))
    refused(repo, lambda r: r.read("flights"), "main@2", damaged.name, "checksum differs")


def test_files_without_checksums_are_still_checked_against_lance_sizes(repo: Repo) -> None:
    """A catalog upgraded from before checksums: Lance's recorded sizes still count."""
    with repo._storage.catalog.transaction() as conn:
        conn.execute(FileChecksumRow.__table__.delete())
    damaged = data_files(repo)[0]
    damaged.write_bytes(damaged.read_bytes()[:-7])
    refused(repo, lambda r: r.read("flights"), damaged.name, "bytes where")
    report = reopen(repo).datasets.verify()
    assert report.unrecorded > 0
    assert [p.file for p in report.problems] == [f"tables/flights.lance/data/{damaged.name}"]


def test_a_missing_manifest_is_refused(repo: Repo) -> None:
    manifest = (
        repo._storage.tables.root / "flights.lance" / "_versions" / f"{(1 << 64) - 3}.manifest"
    )
    manifest.unlink()
    refused(repo, lambda r: r.read("flights"), "main@2", manifest.name, "is missing")
    with tillage.open(repo.path) as fresh:  # the version before does not need it
        assert fresh.read("flights", "HEAD~1").num_rows == 40


def test_a_damaged_manifest_on_main_leaves_branch_versions_readable(repo: Repo) -> None:
    manifest = (
        repo._storage.tables.root / "flights.lance" / "_versions" / f"{(1 << 64) - 3}.manifest"
    )
    manifest.write_bytes(manifest.read_bytes()[:10])
    refused(repo, lambda r: r.read("flights"), "main@2", manifest.name, "cannot be opened")
    with tillage.open(repo.path) as fresh:
        assert fresh.read("flights", "dev").num_rows == 70
        report = fresh.datasets.verify()
    assert [(p.version, p.file) for p in report.problems] == [
        ("main@2", f"tables/flights.lance/_versions/{manifest.name}")
    ]


# -- verify ------------------------------------------------------------------------------


def test_verify_passes_an_intact_repository(repo: Repo) -> None:
    report = repo.datasets.verify()
    assert report.ok and report.problems == []
    assert (report.commits, report.versions, report.unrecorded, report.hashed) == (4, 4, 0, 0)
    deep = repo.datasets.verify(deep=True)
    assert deep.ok and deep.hashed == deep.files == report.files
    assert deep.to_dict()["ok"] is True


def test_verify_finds_a_changed_byte_only_deep_when_its_time_was_kept(repo: Repo) -> None:
    damaged = data_files(repo, "dev")[0]
    flip_byte(damaged, keep_time=True)
    before = fingerprint(repo.path)
    assert reopen(repo).datasets.verify().ok  # size and time are as written: only hashing can tell
    report = reopen(repo).datasets.verify(deep=True)
    assert [(p.dataset, p.file, p.problem) for p in report.problems] == [
        (
            "flights",
            str(damaged.relative_to(repo.repo_dir)),
            "has changed since it was written (its checksum differs)",
        )
    ]
    assert report.problems[0].version is not None
    assert report.problems[0].version.startswith("dev-")
    assert fingerprint(repo.path) == before


def test_verify_checks_the_catalog_against_lance(repo: Repo) -> None:
    with sqlite3.connect(repo.repo_dir / "catalog.db") as conn:
        conn.execute("UPDATE pins SET num_rows = 41 WHERE lance_version = 1")
    dev = repo.datasets.pins("dev")["flights"].lance_branch
    shutil.rmtree(repo._storage.tables.root / "flights.lance" / "tree" / dev)
    (repo._storage.tables.root / "flights.lance" / "_refs" / "branches" / f"{dev}.json").unlink()
    report = reopen(repo).datasets.verify()
    problems = [p.describe() for p in report.problems]
    assert "dataset 'flights' version main@1: has 40 rows where its commit recorded 41" in problems
    assert any(f"Lance branch {dev!r} is missing" in p for p in problems)
    assert not report.ok


def test_verify_names_refs_to_missing_commits(repo: Repo) -> None:
    with sqlite3.connect(repo.repo_dir / "catalog.db") as conn:
        conn.execute("UPDATE refs SET commit_id = 'f00d' WHERE name = 'dev'")
    report = reopen(repo).datasets.verify()
    assert [(p.ref, p.problem) for p in report.problems] == [
        ("dev", "branch points at commit f00d, which is missing")
    ]


def test_verify_cli(repo: Repo, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["--repo", str(repo.path), "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ok: no problems found" in ok.stdout
    flip_byte(data_files(repo)[0])
    bad = runner.invoke(app, ["--repo", str(repo.path), "verify", "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False
    assert [p["problem"] for p in doc["problems"]] == [
        "has changed since it was written (its checksum differs)"
    ]
    text = runner.invoke(app, ["--repo", str(repo.path), "verify", "--deep"])
    assert text.exit_code == 1 and "1 problem(s)" in text.stdout and "Traceback" not in text.output


def test_gc_forgets_the_checksums_of_deleted_files(repo: Repo) -> None:
    repo.refs.delete_branch("dev")
    repo.datasets.gc()
    with repo._storage.catalog.engine.connect() as conn:
        paths = [r.path for r in conn.execute(FileChecksumRow.__table__.select()).all()]
    assert paths and not any(p.startswith("tree/") for p in paths)
    assert all((repo._storage.tables.root / "flights.lance" / p).exists() for p in paths)
    assert repo.datasets.verify(deep=True).ok


# -- the catalog: made by init only ------------------------------------------------------------


def test_a_deleted_catalog_is_not_recreated(repo: Repo) -> None:
    repo.close()
    catalog = repo.repo_dir / "catalog.db"
    catalog.unlink()
    with pytest.raises(tillage.CatalogMissingError, match=r"is missing.*backup"):
        tillage.open(repo.path)
    assert not catalog.exists()
    with pytest.raises(tillage.CatalogMissingError):
        Repo.upgrade(repo.path)
    assert not catalog.exists()


def test_an_empty_catalog_is_an_error_not_a_fresh_start(repo: Repo) -> None:
    repo.close()
    catalog = repo.repo_dir / "catalog.db"
    catalog.unlink()
    with sqlite3.connect(catalog) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = catalog.read_bytes()
    with pytest.raises(tillage.CatalogMissingError, match="is empty"):
        tillage.open(repo.path)
    assert catalog.read_bytes() == before


@pytest.mark.parametrize("damage", ["garbage", "cut"])
def test_a_damaged_catalog_is_named(repo: Repo, damage: str) -> None:
    repo.close()
    catalog = repo.repo_dir / "catalog.db"
    data = catalog.read_bytes()
    catalog.write_bytes(b"x" * 100 + data[100:] if damage == "garbage" else data[: len(data) // 3])
    with (
        pytest.raises(tillage.CatalogDamagedError, match=r"catalog\.db.*is damaged"),
        tillage.open(repo.path) as r,
    ):
        r.refs.log()


def test_an_older_catalog_is_upgraded_only_on_request(repo: Repo) -> None:
    from alembic import command

    from tillage.store.migrate import _config, head_revision

    with repo._storage.catalog.engine.begin() as conn:
        command.downgrade(_config(conn), "0005")
    repo.close()
    with pytest.raises(tillage.CatalogError, match="run `tillage upgrade`"):
        tillage.open(repo.path)
    result = CliRunner().invoke(app, ["--repo", str(repo.path), "upgrade", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"from": "0005", "to": head_revision(), "changed": True}
    with tillage.open(repo.path) as r:
        assert r.read("flights").num_rows == 60


# -- the environment ------------------------------------------------------------------------


def _tillage(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "tillage"
    src = str(Path(tillage.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": src, "TILLAGE_PRINCIPAL": "tester"}
    return subprocess.run(
        [*prefix, str(exe), *args, "--json"], capture_output=True, text=True, env=env
    )


def _reads_work(project: Path, out: Path, prefix: tuple[str, ...] = ()) -> None:
    """status, log, head, export and verify all succeed; a write is refused clearly."""
    for args in (["status"], ["log"], ["head", "flights"], ["verify"]):
        res = _tillage("--repo", str(project), *args, prefix=prefix)
        assert res.returncode == 0, f"{args}: {res.stdout}{res.stderr}"
    res = _tillage("--repo", str(project), "export", "flights", str(out), prefix=prefix)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["rows"] == 60
    res = _tillage("--repo", str(project), "branch", "x", prefix=prefix)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert json.loads(res.stdout)["error"]["code"] == "read_only"


def _can(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.slow
def test_reads_work_on_read_only_media(repo: Repo, tmp_path: Path) -> None:
    if not _can(["unshare", "-m", "true"]):
        pytest.skip("no mount namespaces here (needs root and unshare)")
    repo.close()
    project = repo.path
    before = fingerprint(project)
    # Each command runs in a mount namespace where the project is mounted read-only.
    script = f"mount --bind {project} {project} && mount -o remount,bind,ro {project}"
    prefix = ("unshare", "-m", "sh", "-c", script + ' && exec "$@"', "sh")
    _reads_work(project, tmp_path / "out.parquet", prefix)
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 60
    assert fingerprint(project) == before


@pytest.mark.slow
def test_reads_work_for_a_user_who_may_not_write() -> None:
    group = pwd.getpwnam("nobody").pw_gid
    caps = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    prefix = ("setpriv", "--reuid=nobody", f"--regid={group}", "--init-groups", *caps)
    if not _can([*prefix, sys.executable, "-c", ""]):
        pytest.skip("cannot run as nobody here")
    public = Path(tempfile.mkdtemp(prefix="tillage-ro-"))  # pytest's folders are private
    try:
        public.chmod(0o777)
        project = public / "proj"
        build(project).close()
        before = fingerprint(project)
        _reads_work(project, public / "out.parquet", prefix)
        assert fingerprint(project) == before
    finally:
        shutil.rmtree(public)


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    if not _can(["unshare", "-m", "true"]):
        pytest.skip("no mount namespaces here (needs root and unshare)")
    tests = Path(__file__).parent
    src = Path(tillage.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{src}", "TILLAGE_PRINCIPAL": "t"}
    res = subprocess.run(
        ["unshare", "-m", sys.executable, "-m", "bad_input.disk_full", str(tmp_path / "small")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": ok") == 3


def test_a_copied_repository_with_branches_is_not_self_contained(tmp_path: Path) -> None:
    """Lance names a branch's shared files by absolute path: a copy still reads the
    original's. `verify` says so, and a read after the original is gone says why."""
    original = tmp_path / "a"
    with tillage.init(original) as repo:
        repo.ingest("t", pa.table({"id": [1, 2, 3], "v": [1, 1, 1]}), key="id")
        repo.create_branch("dev")
        repo.ingest("t", pa.table({"id": [4], "v": [9]}), branch="dev")
        assert repo.datasets.verify().ok
    copy = tmp_path / "b"
    shutil.copytree(original, copy)
    with tillage.open(copy) as repo:
        report = repo.datasets.verify()
        assert not report.ok
        outside = [p for p in report.problems if "outside this repository" in p.problem]
        assert outside and all(str(original) in str(p.file) for p in outside)
        assert all(p.version is not None and p.version.startswith("dev") for p in outside)
        assert repo.read("t", "dev").num_rows == 4  # still readable while the original is there
        shutil.rmtree(original)
        with pytest.raises(tillage.CorruptDataError, match="copied or moved"):
            repo.read("t", "dev")
        assert repo.read("t", "main").num_rows == 3  # main's own files are in the copy


def test_a_file_damaged_after_it_was_checked_is_caught_in_a_later_version(
    tmp_path: Path,
) -> None:
    """A process checks each file once; a file that changed since is checked again."""
    r = tillage.init(tmp_path / "proj")
    r.ingest("flights", flights_table(range(40)), key="id", message="day 1")
    assert r.read("flights").num_rows == 40  # checks day 1's data file
    [first] = data_files(r)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(tillage.CorruptDataError, match=first.name):
        r.ingest("flights", flights_table(range(40, 60)), message="day 2")
        r.read("flights")
    r.close()
