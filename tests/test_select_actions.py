"""`repo.selection.apply`: label and relabel queue records, remove deletes them on a branch."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml

import tillage
from test_repo import expect_unchanged
from test_select import TAXONOMY, flights
from tillage import Repo
from tillage.selection import strategies
from tillage.selection.strategies import Candidates, Pick

TASK = {"labelset": "delays", "versions": [{"overlap": 1}, {"overlap": 2}]}


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``flights`` (60 rows), label set ``delays`` (records 0-4 labelled), task ``t`` (v2)."""
    r = tillage.init(tmp_path / "proj")
    r.ingest("flights", flights(range(60)), key="id")
    (r.path / "taxonomies").mkdir()
    (r.path / "taxonomies" / "delay.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (r.path / "tasks").mkdir()
    (r.path / "tasks" / "t.yaml").write_text(yaml.safe_dump(TASK))
    r.labels.create("delays", records="flights", taxonomy="delay")
    r.labels.add("delays", list(range(5)), ["late"] * 5, source="me")
    yield r
    r.close()


def unchanged(repo: Repo, error: type[tillage.TillageError], action: Any, *says: str) -> None:
    """`expect_unchanged`, and no action recorded, no record queued."""
    queue = repo._storage.label_store.queue("t")
    actions = {s.id: repo.selection.actions(s.id) for s in repo.selection.list()}
    expect_unchanged(repo, error, action, *says)
    assert repo._storage.label_store.queue("t") == queue
    assert {s.id: repo.selection.actions(s.id) for s in repo.selection.list()} == actions


def test_label_queues_the_records_in_the_task_under_its_current_spec(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=6, seed=3, task="t")
    result = repo.selection.apply(sel.id)
    assert (result.action, result.records, result.queued) == ("label", 6, 6)
    assert result.task == "t" and result.spec_version == 2
    assert result.commit is None and result.branch is None
    assert sorted(repo._storage.label_store.queue("t")) == sorted(sel.record_ids)
    [recorded] = repo.selection.actions(sel.id)
    assert recorded["action"] == "label" and recorded["spec_version"] == 2
    assert recorded["principal"] == "tester"

    # The queued records are out of the next pool.
    assert repo.select("flights", strategy="random", n=60).pool_size == 60 - 5 - 6


def test_label_refuses_labelled_records_and_relabel_takes_them(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=60, include_labelled=True)
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "label", task="t"),
        "5 record(s)",
        "labelled in 'delays' already",
        "relabel",
    )
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "relabel"),
        "name it with --task",
    )
    result = repo.selection.apply(sel.id, "relabel", task="t")
    assert result.records == 60 and result.queued == 60
    again = repo.selection.apply(sel.id, "relabel", task="t")
    assert again.queued == 0 and again.note == "60 record(s) were queued in t already."
    assert [a["action"] for a in repo.selection.actions(sel.id)] == ["relabel", "relabel"]


def test_remove_deletes_on_a_branch_that_merges_and_reverts(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=7, seed=5)
    main_before = repo.refs.commit("main").id
    result = repo.selection.apply(sel.id, "remove")
    assert result.branch == f"selection/{sel.id}" and result.records == 7
    assert repo.refs.commit("main").id == main_before  # nothing overwritten
    commit = repo.refs.commit(result.branch)
    assert commit.id == result.commit and sel.id in commit.message and "random" in commit.message
    left = {str(i) for i in repo.read("flights", result.branch).column("id").to_pylist()}
    assert left == {str(i) for i in range(60)} - set(sel.record_ids)
    assert repo.read("flights", "main").num_rows == 60
    assert repo.selection.actions(sel.id)[0]["commit"] == result.commit

    repo.merge(result.branch, "main")
    assert repo.read("flights", "main").num_rows == 53
    repo.refs.revert(result.commit, branch="main")
    assert sorted(repo.read("flights", "main").column("id").to_pylist()) == list(range(60))


def test_remove_on_a_named_branch_and_proposed_actions(repo: Repo) -> None:
    def lowest(c: Candidates, n: int, rng: np.random.Generator, p: Mapping[str, Any]) -> list[Pick]:
        return [Pick(i, 0.0, "lowest value") for i in range(n)]  # the strategy's action

    strategies.register("test-lowest", lowest, action="remove")
    try:
        sel = repo.select("flights", strategy="test-lowest", n=3)
    finally:
        strategies._REGISTRY.pop("test-lowest", None)
    repo.create_branch("prune")
    result = repo.selection.apply(sel.id, branch="prune")  # the picks propose remove
    assert result.branch == "prune" and result.records == 3
    assert f"selection/{sel.id}" not in repo.refs.branches()
    assert repo.read("flights", "prune").num_rows == 57
    # Applied again, the records are gone from that branch: a clear error, nothing written.
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "remove", branch="prune"),
        "none of the 3 record(s)",
        "on branch 'prune'",
    )


def test_unknown_actions_and_misplaced_options_change_nothing(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=4, task="t")
    err = expect_unchanged(
        repo,
        tillage.NoSuchActionError,
        lambda: repo.selection.apply(sel.id, "burn"),
        "'burn'",
        "label, relabel, remove",
    )
    assert err.code == "no_such_action"
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "augment"),
        "augment needs transforms",
    )
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "generate", transforms=["word-dropout:carrier"]),
        "transforms are for augment",
    )
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "label", task="t", n=3),
        "is for generate",
    )
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "augment", transforms=["shout:carrier"]),
        "cannot read transform 'shout:carrier'",
        "word-dropout",
    )
    unchanged(
        repo,
        tillage.NoSuchGeneratorError,
        lambda: repo.selection.apply(sel.id, "generate", generator="oracle"),
        "oracle",
    )
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "label", branch="x"),
        "--branch is for remove",
    )
    unchanged(
        repo,
        tillage.NoSuchSelectionError,
        lambda: repo.selection.apply("0000", "label"),
        "no selection '0000'",
    )
    unchanged(
        repo,
        tillage.NoSuchTaskError,
        lambda: repo.selection.apply(sel.id, "label", task="nope"),
        "nope.yaml",
    )
    assert repo.selection.actions(sel.id) == []
    assert set(repo.refs.branches()) == {"main"}


def test_a_failed_remove_leaves_no_branch(repo: Repo) -> None:
    sel = repo.select("flights", strategy="random", n=4)
    repo.ingest("flights", flights(range(60)), mode="delete")
    unchanged(
        repo,
        tillage.InputError,
        lambda: repo.selection.apply(sel.id, "remove"),
        "nothing to remove",
    )
    assert set(repo.refs.branches()) == {"main"}


@pytest.mark.usefixtures("wide_terminal")
def test_the_cli_selects_shows_lists_and_applies(repo: Repo) -> None:
    from cli_runner import cli, cli_json

    listed = cli_json("-C", repo.path, "select", "--list")
    assert {"name": "random", "needs": [], "action": "label"}.items() <= next(
        s for s in listed["strategies"] if s["name"] == "random"
    ).items()

    doc = cli_json(
        "-C", repo.path, "select", "flights", "--strategy", "random", "-n", "500",
        "--where", "carrier = 'AA'", "--seed", "3", "--task", "t",
    )  # fmt: skip
    assert doc["pool_size"] == 20 - 2 and len(doc["picks"]) == 18  # records 0 and 3 labelled
    assert doc["params"] == {} and "whole pool" in doc["note"]
    # --param reaches the strategy, which says what it takes
    refused = cli_json(
        "-C", repo.path, "select", "flights", "--strategy", "random", "--param", "k=2", code=1
    )
    assert refused["error"]["code"] == "strategy_input" and "'k'" in refused["error"]["message"]
    same = repo.select("flights", strategy="random", n=500, where="carrier = 'AA'", seed=3)
    assert same.record_ids == [p["record_id"] for p in doc["picks"]]

    text = cli("-C", repo.path, "select", "flights", "-s", "random", "-n", "3").stdout
    assert "3 of 55 record(s) of flights@" in text and "5 labelled" in text
    assert "chosen at random (baseline)" in text and "tillage selection apply" in text

    sel = doc["id"]
    shown = cli_json("-C", repo.path, "selection", "show", sel)
    assert shown["picks"] == doc["picks"] and shown["actions"] == []
    assert sel in [s["id"] for s in cli_json("-C", repo.path, "selection", "list")["selections"]]

    applied = cli_json("-C", repo.path, "selection", "apply", sel)
    assert applied["action"] == "label" and applied["queued"] == 18 and applied["task"] == "t"
    removed = cli("-C", repo.path, "selection", "apply", sel, "--action", "remove").stdout
    assert f"removed 18 record(s) on branch selection/{sel}" in removed
    shown = cli("-C", repo.path, "selection", "show", sel).stdout
    assert "applied: label by tester" in shown and "applied: remove by tester" in shown


def test_the_readme_selection_section_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's Selection section, on a small tweets project like the Labels section's."""
    import pyarrow as pa
    from typer.testing import CliRunner

    from test_labels_readme import blocks, commands, section
    from tillage.cli.app import app

    project = tmp_path / "project"
    with tillage.init(project) as r:
        ids = [str(815270850916208000 + i) for i in range(40)]
        r.ingest("tweets", pa.table({"id_str": ids, "text": ["x" * i for i in range(40)]}),
                 key="id_str")  # fmt: skip
        (project / "taxonomies").mkdir()
        (project / "taxonomies" / "source.yaml").write_text(
            yaml.safe_dump(
                {"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]}
            )
        )
        (project / "tasks").mkdir()
        (project / "tasks" / "tweet-source.yaml").write_text(
            yaml.safe_dump({"name": "tweet-source", "labelset": "source", "versions": [{}]})
        )
        r.labels.create("source", records="tweets", taxonomy="source")
        r.labels.add("source", ids, ["iphone"] * 40, source="lf")

    found = blocks(section("Selection: which records, and what to do with them"))
    [shell] = [body for lang, body in found if lang == "sh"]
    [python] = [body for lang, body in found if lang == "python"]
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(project)
    runner = CliRunner()
    chosen = None
    for argv in commands(shell):
        assert argv[0] == "tillage", argv
        args = [a.replace("SELECTION", chosen or "SELECTION") for a in argv[1:]]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, (argv, result.stdout, result.exception)
        if args[0] == "select" and "--list" not in args:
            chosen = json.loads(result.stdout)["id"]
    with tillage.open(project) as repo:
        assert repo.read("tweets", "main").num_rows == 40 - 20  # the removal was merged
        scope: dict[str, Any] = {"repo": repo}
        try:
            exec(compile(python, "README.md", "exec"), scope)
        finally:
            strategies._REGISTRY.pop("longest", None)
        assert (
            scope["chosen"].record_ids[0]
            == max(repo.read("tweets").to_pylist(), key=lambda t: len(t["text"]))["id_str"]
        )


def test_augment_and_generate_add_records_on_a_branch_with_their_provenance(
    repo: Repo,
) -> None:
    rows = 40
    repo.ingest(
        "notes",
        pa.table(
            {
                "nid": list(range(rows)),
                "text": [f"the flight {i} left late from gate {i % 7} today" for i in range(rows)],
                "delay": [float(i % 11) for i in range(rows)],
                "carrier": [["AA", "UA"][i % 2] for i in range(rows)],
            }
        ),
        key="nid",
    )
    main_rows = repo.read("notes").num_rows
    sel = repo.select("notes", strategy="random", n=10, seed=1)

    aug = repo.selection.apply(
        sel.id, "augment", transforms=["word-dropout:text", "swap-words:text"], seed=3
    )
    assert (aug.action, aug.records, aug.made) == ("augment", 10, 20)
    assert aug.branch == f"selection/{sel.id}" and aug.detail["transforms"] == {
        "word-dropout": 10,
        "swap-words": 10,
    }
    on_branch = repo.read("notes", aug.branch)
    assert on_branch.num_rows == main_rows + 20
    assert repo.read("notes").num_rows == main_rows  # main is untouched until a merge
    derived = repo.selection.derived("notes")
    assert len(derived) == 20 and {d["how"] for d in derived} == {"word-dropout", "swap-words"}
    assert {d["derived_from"] for d in derived} == set(sel.record_ids)
    assert all(d["selection_id"] == sel.id and d["commit_id"] == aug.commit for d in derived)
    new_ids = {d["record_id"] for d in derived}
    assert new_ids.isdisjoint({str(i) for i in range(rows)})

    gen = repo.selection.apply(sel.id, "generate", branch="synthetic", n=15, seed=2)
    assert (gen.action, gen.made, gen.branch) == ("generate", 15, "synthetic")
    assert gen.detail["fidelity"]["passed"] is True
    assert repo.read("notes", "synthetic").num_rows == main_rows + 15
    made = repo.selection.derived("notes")[20:]
    assert len(made) == 15 and all(d["derived_from"] is None for d in made)
    assert {d["how"] for d in made} == {"gaussian-copula"}
    assert [a["action"] for a in repo.selection.actions(sel.id)] == ["augment", "generate"]
    # the commit is an ordinary commit: reverting it takes the records away again
    repo.refs.revert(gen.commit, branch="synthetic")
    assert repo.read("notes", "synthetic").num_rows == main_rows
