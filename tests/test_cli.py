"""The ``tillage`` command line: every command in text and ``--json`` mode, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import typer
from rich.console import Console
from typer.core import TyperGroup

import tillage
from cli_runner import cli, cli_json
from tillage.cli.app import app
from tillage.cli.output import human_bytes, jsonable

pytestmark = pytest.mark.usefixtures("wide_terminal")


def flights(ids: list[int], delay: list[float] | None = None, **extra: list[Any]) -> pa.Table:
    """A small flights-like table keyed by ``id``."""
    delay = delay if delay is not None else [float(i) for i in ids]
    origin = [["JFK", "LGA", "EWR"][i % 3] for i in ids]
    return pa.table({"id": ids, "origin": origin, "dep_delay": delay, **extra})


def parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A project with a repository whose main branch has dataset ``flights`` (ids 0..9)."""
    root = tmp_path / "proj"
    cli("init", root)
    cli(
        "--repo",
        root,
        "ingest",
        "flights",
        parquet(tmp_path / "d1.parquet", flights(list(range(10)))),
        "--key",
        "id",
    )
    return root


# -- init and repository discovery ----------------------------------------------------------


def test_init_text_json_and_twice(tmp_path: Path) -> None:
    res = cli("init", tmp_path / "a")
    assert "created an empty tillage repository" in res.stdout
    assert (tmp_path / "a" / ".tillage" / "config.yaml").is_file()
    doc = cli_json("init", tmp_path / "b")
    assert doc["branch"] == "main"
    assert doc["path"] == str((tmp_path / "b").resolve())
    err = cli_json("init", tmp_path / "b", code=1)["error"]
    assert err["code"] == "repository_exists"
    res = cli("init", tmp_path / "b", code=1)
    assert res.stdout == ""
    assert res.stderr.startswith("error: a tillage repository already exists")
    # --repo names where init creates it when no PATH is given
    cli("--repo", tmp_path / "c", "init")
    assert (tmp_path / "c" / ".tillage").is_dir()


def test_repo_discovery(proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_json("--repo", proj, "status")["path"] == str(proj.resolve())
    assert cli_json("-C", proj / ".tillage", "status")["path"] == str(proj.resolve())
    sub = proj / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert cli_json("status")["datasets"][0]["name"] == "flights"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    err = cli_json("status", code=1)["error"]
    assert err["code"] == "not_a_repository"
    assert "tillage init" in cli("status", code=1).stderr
    monkeypatch.setenv("TILLAGE_REPO", str(proj))
    assert cli_json("status")["head"] is not None
    err = cli_json("--repo", elsewhere, "log", code=1)["error"]
    assert err == {
        "code": "not_a_repository",
        "message": err["message"],
        "path": str(elsewhere),
    }


# -- ingest ---------------------------------------------------------------------------------


def test_ingest_many_files_is_one_commit(proj: Path, tmp_path: Path) -> None:
    files = [
        parquet(tmp_path / f"p{i}.parquet", flights([100 + 2 * i, 101 + 2 * i])) for i in range(3)
    ]
    doc = cli_json("--repo", proj, "ingest", "flights", *files, "-m", "three days")
    assert doc["message"] == "three days"
    assert doc["branch"] == "main"
    assert doc["changes"]["flights"]["inserted"] == 6
    assert doc["pins"]["flights"]["num_rows"] == 16
    log = cli_json("--repo", proj, "log")["commits"]
    assert log[0]["id"] == doc["id"]
    assert len(log) == 2
    # CSV and upsert, text mode
    csv = tmp_path / "fix.csv"
    pacsv.write_csv(flights([0, 200], [99.0, 1.0]), csv)
    res = cli("--repo", proj, "ingest", "flights", csv, "--mode", "upsert")
    assert res.stdout.startswith("[main ")
    assert "upsert flights: +1 ~1 -0 rows" in res.stdout
    # delete by key
    doc = cli_json("--repo", proj, "ingest", "flights", csv, "--mode", "delete")
    assert doc["pins"]["flights"]["num_rows"] == 15


def test_ingest_bad_files(proj: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    pacsv.write_csv(flights([50]), fake)
    err = cli_json("--repo", proj, "ingest", "flights", fake, code=1)["error"]
    assert err["code"] == "unreadable_file"
    assert err["path"] == str(fake)
    assert "it is not a Parquet file" in err["message"]

    good = parquet(tmp_path / "good.parquet", flights(list(range(50, 60))))
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[:-20])
    res = cli("--repo", proj, "ingest", "flights", truncated, code=1)
    assert res.stderr.startswith(
        f"error: cannot read {str(truncated)!r}: the Parquet file is truncated"
    )
    assert "Traceback" not in res.stderr + res.stdout

    empty = tmp_path / "empty.csv"
    empty.touch()
    err = cli_json("--repo", proj, "ingest", "flights", empty, code=1)["error"]
    assert (
        err["message"]
        == f"cannot read {str(empty)!r}: the file is empty. Give a file with rows in it."
    )

    err = cli_json("--repo", proj, "ingest", "flights", tmp_path / "missing.parquet", code=1)[
        "error"
    ]
    assert "no such file" in err["message"]

    # files whose columns differ; brackets in the message are text, not Rich markup
    other = parquet(tmp_path / "other.parquet", pa.table({"q": [1]}))
    res = cli("--repo", proj, "ingest", "flights", good, other, code=1)
    assert f"cannot read {str(other)!r}: its columns ['q'] differ" in res.stderr

    # one bad file among good ones: nothing is written
    before = cli_json("--repo", proj, "status")["head"]
    cli("--repo", proj, "ingest", "flights", good, truncated, code=1)
    assert cli_json("--repo", proj, "status")["head"] == before


def test_ingest_schema_and_keys(proj: Path, tmp_path: Path) -> None:
    wider = parquet(tmp_path / "wider.parquet", flights([20, 21], carrier=["AA", "UA"]))
    err = cli_json("--repo", proj, "ingest", "flights", wider, code=1)["error"]
    assert err["code"] == "schema_mismatch"
    assert err["added"] == ["carrier"]
    assert "new columns carrier" in err["message"]
    assert "--evolve" in err["message"]

    narrower = parquet(tmp_path / "narrow.parquet", pa.table({"id": [30], "origin": ["JFK"]}))
    res = cli("--repo", proj, "ingest", "flights", narrower, code=1)
    assert "missing columns dep_delay" in res.stderr

    doc = cli_json("--repo", proj, "ingest", "flights", wider, "--evolve")
    assert doc["changes"]["flights"]["added_columns"] == ["carrier"]
    cols = [c["name"] for c in cli_json("--repo", proj, "head", "flights")["columns"]]
    assert cols == ["id", "origin", "dep_delay", "carrier"]

    dup = parquet(tmp_path / "dup.parquet", flights([40, 40, 41]))
    err = cli_json("--repo", proj, "ingest", "flights", dup, code=1)["error"]
    assert err["code"] == "key_violation"
    assert err["key"] == ["id"]
    assert "duplicate" in err["problem"]

    nulls = parquet(tmp_path / "null.parquet", pa.table({"id": pa.array([None, 43], pa.int64())}))
    err = cli_json("--repo", proj, "ingest", "ids", nulls, "--key", "id", code=1)["error"]
    assert err["code"] == "key_violation"
    assert "null" in err["problem"]

    # after --evolve every batch carries the new column
    existing = parquet(tmp_path / "again.parquet", flights([1], carrier=["B6"]))
    res = cli("--repo", proj, "ingest", "flights", existing, code=1)
    assert res.stderr.startswith("error: the batch for 'flights' has 1 key(s) that already exist")
    assert "--mode upsert" in res.stderr

    res = cli("--repo", proj, "ingest", "newset", existing, code=1)
    assert "--key id" in res.stderr

    res = cli("--repo", proj, "ingest", "flights", existing, "--branch", "nope", code=1)
    assert res.stderr.startswith("error: no branch named 'nope'")

    res = cli("--repo", proj, "ingest", "flights", existing, "--mode", "sideways", code=2)
    assert "sideways" in res.stderr


# -- reading ----------------------------------------------------------------------------------


def test_log_show_status(proj: Path, tmp_path: Path) -> None:
    cli(
        "--repo",
        proj,
        "ingest",
        "other",
        parquet(tmp_path / "o.parquet", flights([1, 2])),
        "-k",
        "id",
    )
    res = cli("--repo", proj, "log")
    assert "create other" in res.stdout and "create flights" in res.stdout
    commits = cli_json("--repo", proj, "log", "-n", "1")["commits"]
    assert len(commits) == 1 and "other" in commits[0]["changes"]
    assert [
        c["message"] for c in cli_json("--repo", proj, "log", "--dataset", "flights")["commits"]
    ] == ["create flights: +10 ~0 -0 rows"]
    assert len(cli_json("--repo", proj, "log", "HEAD~1")["commits"]) == 1

    head = cli_json("--repo", proj, "show")
    assert head["id"] == commits[0]["id"]
    assert head["principal"] == "tester"
    assert set(head["pins"]) == {"flights", "other"}
    assert "git_sha" in head["code"]
    short = head["id"][:8]
    assert cli_json("--repo", proj, "show", short)["id"] == head["id"]
    text = cli("--repo", proj, "show", "HEAD~1").stdout
    assert "principal  tester" in text and "create flights" in text and "code" in text

    st = cli_json("--repo", proj, "status")
    assert st["branch"] == "main" and st["head"] == head["id"]
    assert {d["name"]: d["rows"] for d in st["datasets"]} == {"flights": 10, "other": 2}
    assert st["storage_bytes"] > 0
    text = cli("--repo", proj, "status").stdout
    assert "branch      main" in text and "flights" in text and "KiB" in text

    err = cli_json("--repo", proj, "show", "nope", code=1)["error"]
    assert err["code"] == "no_such_ref" and err["ref"] == "nope"
    assert cli("--repo", proj, "log", "nope", code=1).stderr.startswith(
        "error: no branch, tag or commit named 'nope'"
    )


def test_empty_repo_views(tmp_path: Path) -> None:
    cli("init", tmp_path)
    assert cli_json("--repo", tmp_path, "log")["commits"] == []
    assert "no commits yet" in cli("--repo", tmp_path, "log").stdout
    assert "no datasets yet" in cli("--repo", tmp_path, "status").stdout
    assert "branch has no commits" in cli("--repo", tmp_path, "show", code=1).stderr


def test_head_and_export(proj: Path, tmp_path: Path) -> None:
    doc = cli_json("--repo", proj, "head", "flights", "-n", "3")
    assert [r["id"] for r in doc["rows"]] == [0, 1, 2]
    assert doc["columns"][2] == {"name": "dep_delay", "type": "double"}
    text = cli("--repo", proj, "head", "flights", "-n", "2").stdout
    assert "dep_delay" in text and "double" in text and "JFK" in text

    out = tmp_path / "out.parquet"
    doc = cli_json(
        "--repo", proj, "export", "flights", out, "--columns", "id,dep_delay", "--where", "id >= 7"
    )
    assert doc["rows"] == 3
    assert pq.read_table(out).column_names == ["id", "dep_delay"]
    csv = tmp_path / "out.csv"
    res = cli("--repo", proj, "export", "flights", csv, "--ref", "main")
    assert "wrote 10 row(s)" in res.stdout
    assert pacsv.read_csv(csv).num_rows == 10

    err = cli_json("--repo", proj, "head", "flighs", code=1)["error"]
    assert err["code"] == "no_such_dataset" and err["known"] == ["flights"]
    assert "datasets there: flights" in err["message"]
    res = cli("--repo", proj, "export", "flights", out, "--columns", "nope", code=1)
    assert "unknown column(s) nope" in res.stderr
    res = cli("--repo", proj, "export", "flights", tmp_path / "x" / "y.csv", code=2)
    assert "does not exist" in res.stderr
    err = cli_json("--repo", proj, "export", "flights", tmp_path / "x" / "y.csv", code=2)["error"]
    assert err["code"] == "usage_error"


def test_diff(proj: Path, tmp_path: Path) -> None:
    cli("--repo", proj, "tag", "v1")
    change = flights([0, 1, 10], [100.0, 1.0, 10.0], carrier=["AA", "AA", "UA"])
    cli(
        "--repo",
        proj,
        "ingest",
        "flights",
        parquet(tmp_path / "c.parquet", change),
        "--mode",
        "upsert",
        "--evolve",
    )
    cli(
        "--repo",
        proj,
        "ingest",
        "flights",
        parquet(tmp_path / "d.parquet", flights([5])),
        "--mode",
        "delete",
    )
    doc = cli_json("--repo", proj, "diff", "v1", "--rows", "1")
    assert doc["from"] == "v1" and doc["to"] == "HEAD"
    (d,) = doc["datasets"]
    assert d["status"] == "modified"
    assert d["schema"]["added"] == [["carrier", "string"]]
    assert (d["added"], d["removed"], d["changed"]) == (1, 1, 1)  # new columns are schema changes
    assert d["column_changes"]["dep_delay"] == 1
    assert all(len(v) <= 1 for v in d["samples"].values())
    text = cli("--repo", proj, "diff", "v1", "main").stdout
    assert "+ column carrier (string)" in text
    assert "+1 added  -1 removed  ~1 changed" in text
    assert "id=0" in text
    same = cli_json("--repo", proj, "diff", "HEAD", "HEAD", "--dataset", "flights")["datasets"]
    assert same[0]["status"] == "unchanged"
    err = cli_json("--repo", proj, "diff", "v1", "--dataset", "nope", code=1)["error"]
    assert err["code"] == "no_such_dataset"


# -- branches, tags, merge, revert, reset, gc ------------------------------------------------


def test_branch_switch_tag(proj: Path) -> None:
    head = cli_json("--repo", proj, "show")["id"]
    assert cli_json("--repo", proj, "branch", "dev")["commit"] == head
    assert "created branch exp" in cli("--repo", proj, "branch", "exp", "--from", "main").stdout
    doc = cli_json("--repo", proj, "branch", "--list")
    assert doc["current"] == "main"
    assert [(b["name"], b["current"]) for b in doc["branches"]] == [
        ("dev", False),
        ("exp", False),
        ("main", True),
    ]
    assert cli_json("--repo", proj, "switch", "dev") == {"branch": "dev", "commit": head}
    text = cli("--repo", proj, "branch").stdout
    assert "* │ dev" in text
    cli("--repo", proj, "branch", "--delete", "exp")
    assert [b["name"] for b in cli_json("--repo", proj, "branch")["branches"]] == ["dev", "main"]
    res = cli("--repo", proj, "branch", "--delete", "dev", code=1)
    assert "current branch" in res.stderr
    err = cli_json("--repo", proj, "switch", "nope", code=1)["error"]
    assert err == {
        "code": "no_such_ref",
        "message": "no branch named 'nope'. "
        "List them with `tillage branch --list` or `tillage log`.",
        "ref": "nope",
        "kind": "branch",
    }
    assert cli_json("--repo", proj, "branch", "dev", code=1)["error"]["code"] == "ref_exists"
    assert (
        cli_json("--repo", proj, "branch", "bad..name", code=1)["error"]["code"] == "invalid_name"
    )
    assert "give the NAME of the branch" in cli("--repo", proj, "branch", "--delete", code=2).stderr

    assert cli_json("--repo", proj, "tag", "v1") == {"tag": "v1", "commit": head}
    assert "tagged" in cli("--repo", proj, "tag", "v0", "HEAD").stdout
    assert [t["name"] for t in cli_json("--repo", proj, "tag", "--list")["tags"]] == ["v0", "v1"]
    assert "v1" in cli("--repo", proj, "tag").stdout
    cli("--repo", proj, "tag", "--delete", "v0")
    assert (
        cli_json("--repo", proj, "tag", "--delete", "v0", code=1)["error"]["code"] == "no_such_ref"
    )


def test_merge_fast_forward_three_way_and_conflict(proj: Path, tmp_path: Path) -> None:
    r = ("--repo", proj)
    cli(*r, "branch", "dev")
    cli(
        *r,
        "ingest",
        "flights",
        parquet(tmp_path / "a.parquet", flights([0], [5.0])),
        "--mode",
        "upsert",
        "-b",
        "dev",
    )
    doc = cli_json(*r, "merge", "dev")
    assert doc["kind"] == "fast-forward"
    assert cli_json(*r, "merge", "dev")["kind"] == "up-to-date"
    # both sides change id 1's delay: a conflict, nothing written
    cli(
        *r,
        "ingest",
        "flights",
        parquet(tmp_path / "b.parquet", flights([1], [7.0])),
        "--mode",
        "upsert",
        "-b",
        "dev",
    )
    cli(
        *r,
        "ingest",
        "flights",
        parquet(tmp_path / "c.parquet", flights([1], [8.0])),
        "--mode",
        "upsert",
    )
    main_head = cli_json(*r, "status")["head"]
    err = cli_json(*r, "merge", "dev", code=1)["error"]
    assert err["code"] == "merge_conflict"
    assert err["source"] == "dev" and err["target"] == "main"
    assert err["conflicts"] == [
        {
            "dataset": "flights",
            "key": {"id": 1},
            "column": "dep_delay",
            "base": 1.0,
            "ours": 8.0,
            "theirs": 7.0,
        }
    ]
    res = cli(*r, "merge", "dev", code=1)
    assert res.stdout == ""
    assert res.stderr.startswith("error: merging 'dev' into 'main' found 1 conflicting cell(s)")
    assert "id=1" in res.stderr and "dep_delay" in res.stderr and "theirs" in res.stderr
    assert cli_json(*r, "status")["head"] == main_head
    # resolving with --prefer makes a merge commit with two parents
    doc = cli_json(*r, "merge", "dev", "--prefer", "theirs", "-m", "take dev")
    assert doc["kind"] == "merge" and doc["datasets"]["flights"]["upserted"] == 1
    merged = cli_json(*r, "show")
    assert merged["message"] == "take dev" and len(merged["parents"]) == 2
    rows = cli_json(*r, "export", "flights", tmp_path / "m.parquet", "--where", "id = 1")
    assert rows["rows"] == 1
    assert pq.read_table(tmp_path / "m.parquet").column("dep_delay").to_pylist() == [7.0]
    text = cli(*r, "merge", "dev", "--into", "dev").stdout
    assert "up to date" in text
    assert cli(*r, "merge", "nope", code=1).stderr.startswith(
        "error: no branch, tag or commit named 'nope'"
    )


def test_revert_reset_gc(proj: Path, tmp_path: Path) -> None:
    r = ("--repo", proj)
    first = cli_json(*r, "show")["id"]
    bad = cli_json(*r, "ingest", "flights", parquet(tmp_path / "b.parquet", flights([50, 51])))
    doc = cli_json(*r, "revert", bad["id"][:10])
    assert doc["pins"]["flights"]["num_rows"] == 10
    assert doc["message"].startswith(f"revert {bad['id'][:12]}")
    cli(*r, "ingest", "flights", parquet(tmp_path / "c.parquet", flights([60])))
    res = cli(*r, "revert", "HEAD", "-m", "undo 60")
    assert res.stdout.startswith("[main ") and "undo 60" in res.stdout

    doc = cli_json(*r, "reset", first)
    assert doc["branch"] == "main" and doc["commit"] == first and doc["previous"] != first
    assert cli_json(*r, "status")["head"] == first
    cli(*r, "branch", "dev")
    cli(*r, "ingest", "flights", parquet(tmp_path / "d.parquet", flights([70])), "-b", "dev")
    assert "dev: " in cli(*r, "reset", first, "--branch", "dev").stdout

    report = cli_json(*r, "gc")
    assert report["commits_removed"] == 5
    assert report["bytes_after"] <= report["bytes_before"]
    assert "removed 0 commit(s)" in cli(*r, "gc").stdout
    err = cli_json(*r, "reset", bad["id"], code=1)["error"]
    assert err["code"] == "no_such_ref"


# -- the shell itself ---------------------------------------------------------------------------


def test_usage_errors(proj: Path) -> None:
    res = cli("--repo", proj, "log", "-n", "0", code=2)
    assert res.stdout == ""
    err = cli_json("--repo", proj, "ingest", code=2)["error"]
    assert err["code"] == "usage_error" and "DATASET" in err["message"]
    assert cli_json("--repo", proj, "frobnicate", code=2)["error"]["code"] == "usage_error"
    # --json also works before the command
    doc = json.loads(cli("--repo", proj, "--json", "status").stdout)
    assert doc["branch"] == "main"
    err = json.loads(cli("--repo", proj, "--json", "head", "nope", code=1).stdout)["error"]
    assert err["code"] == "no_such_dataset"
    assert "Usage" in cli("--help").stdout
    assert tillage.__version__ in cli("--version").stdout


def test_every_command_has_help() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert len(group.commands) == 42
    leaves: list[tuple[list[str], Any]] = []
    for name, command in group.commands.items():
        assert command.help, name
        subs = getattr(command, "commands", None)
        if subs:
            leaves += [([name, sub], c) for sub, c in subs.items()]
        if not subs or getattr(command, "invoke_without_command", False):
            leaves.append(([name], command))
    # + schema, alerts x5, runs x6, schedule x3, labels x5, annotate x4, lf x2, select,
    # selection x3, models x3, loop, slices, fairness, value, privacy x6, grant x5, audit x2
    assert len(leaves) == 75
    for path, command in leaves:
        assert command.help, path
        res = cli(*path, "--help")
        assert "--json" in res.stdout, path
        for param in command.params:
            assert getattr(param, "help", None), f"{path} {param.name}"


def test_script_json_is_one_document(proj: Path) -> None:
    """The installed script: stdout holds only the JSON document, stderr nothing."""
    exe = Path(sys.executable).parent / "tillage"
    env = {**os.environ, "TILLAGE_REPO": str(proj)}
    proc = subprocess.run(
        [str(exe), "status", "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["datasets"][0]["rows"] == 10
    assert proc.stderr == ""
    proc = subprocess.run(
        [str(exe), "head", "nope"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: dataset 'nope' does not exist at 'main'")
    assert "Traceback" not in proc.stderr


def test_demo(tmp_path: Path) -> None:
    doc = cli_json("demo", "--days", "3", "--path", tmp_path / "demo")
    assert doc
    assert cli_json("--repo", tmp_path / "demo", "status")["head"] is not None


def test_demo_plumbing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`demo` passes its options on; with --json its progress goes to stderr."""
    calls: list[tuple[Path, int, bool, bool, bool, bool]] = []

    def run_demo(
        path: Path,
        days: int = 60,
        force: bool = False,
        console: Console | None = None,
        labels: bool = True,
        loop: bool = True,
        privacy: bool = True,
    ) -> dict[str, Any]:
        calls.append((path, days, force, labels, loop, privacy))
        assert console is not None
        console.print("ingesting day 1")
        return {"path": str(path), "commits": days, "branches": ["main", "fix"]}

    fake = types.ModuleType("tillage.demo.flights")
    fake.run_demo = run_demo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tillage.demo.flights", fake)
    result = cli("demo", "--days", "2", "--path", tmp_path / "d", "--force", "--json")
    assert json.loads(result.stdout) == {
        "path": str(tmp_path / "d"),
        "commits": 2,
        "branches": ["main", "fix"],
    }
    assert "ingesting day 1" in result.stderr
    assert calls == [(tmp_path / "d", 2, True, True, True, True)]
    text = cli("demo", "--no-labels", "--no-loop", "--no-privacy").stdout
    assert "ingesting day 1" in text and "commits" in text and '["main", "fix"]' in text
    assert calls[-1] == (Path("tillage-demo"), 60, False, False, False, False)


def test_output_helpers() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**3) == "5.0 GiB"
    assert jsonable({"a": float("nan"), "b": (1, b"\x00"), "c": Path("x")}) == {
        "a": None,
        "b": [1, "AA=="],
        "c": "x",
    }
