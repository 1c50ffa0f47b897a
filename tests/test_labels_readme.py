"""The README's Labels section, run as written: its files and its commands, on real tweets.

Every fenced block of the section whose first line is ``# PATH`` (or ``# PATH: ...``)
is written to that path in a new project; then each line of the shell block runs
there, in order, and must succeed. So the section cannot fall out of step with
the code: a renamed option, a wrong file format or a command that fails breaks
this test.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tillage.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## `` heading."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text``: (language, body)."""
    return re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)


def commands(body: str) -> list[list[str]]:
    """The shell block's command lines, split like a shell would (comments dropped)."""
    return [shlex.split(line, comments=True) for line in body.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_labels_section_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = section("Labels")
    found = blocks(text)
    files = {}
    for _lang, body in found:
        first = body.splitlines()[0]
        if first.startswith("# "):
            files[first[2:].split(":")[0].strip()] = body
    assert {"tweets.py", "taxonomies/source.yaml", "tasks/tweet-source.yaml", "lfs.py"} <= set(
        files
    ), files.keys()
    [shell] = [body for lang, body in found if lang == "sh"]

    project = tmp_path / "project"
    monkeypatch.delenv("TILLAGE_REPO", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    monkeypatch.chdir(project)
    for path, body in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(body)

    out: dict[str, str] = {}
    for argv in commands(shell):
        if argv[0] == "python":
            subprocess.run([sys.executable, *argv[1:]], check=True, cwd=project, timeout=120)
            continue
        assert argv[0] == "tillage", argv
        result = runner.invoke(app, argv[1:])
        shown = f"{shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
        assert result.exit_code == 0, (shown, result.exception)
        assert "Traceback" not in result.stdout + result.stderr, shown
        out[" ".join(argv[1:3])] = result.stdout

    # What the section promises that the commands print.
    applied = out["lf apply"]
    assert re.search(r"committed [0-9a-f]{12} on main to source: [\d,]+ vote\(s\)", applied)
    assert re.search(r"label model is \d+\.\d% right on the [\d,]+ record\(s\)", applied)
    assert "Happy Birthday @DonaldJTrumpJr" in out["annotate next"]  # the tweet, not its id
    assert "likely label error" in out["labels issues"]  # 64-bit id_str keys

    def cli_json(*args: str) -> Any:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.stdout
        return json.loads(result.stdout)

    # The label model's labels, and the gold accuracy lf apply printed, read back.
    labels = cli_json("labels", "show", "source")["labels"]
    assert len(labels) == 651 and {r["label"] for r in labels} == {"android", "iphone"}
    issues = cli_json("labels", "issues", "source")["issues"]
    ids = {r["record_id"] for r in labels}
    assert issues and {i["record_id"] for i in issues} <= ids

    # Four annotations (the section's three and ann's second), aggregated: the label
    # set's writes open no data alerts (no top value of `source`, no missing
    # spec_version), and nothing in them is a label alert either.
    queued = shlex.split(shell.split("annotate enqueue tweet-source ")[1].splitlines()[0])
    cli_json("annotate", "submit", "tweet-source", queued[1], "iphone", "-a", "ann")
    assert cli_json("annotate", "progress", "tweet-source")["annotations"] == 4
    cli_json("labels", "aggregate", "source")
    assert cli_json("alerts", "--all")["alerts"] == []


# -- the documented formats, without running the section -------------------------------


def _files(text: str) -> dict[str, str]:
    """The section's example files: each block whose first line is ``# PATH``."""
    found = {}
    for _lang, body in blocks(text):
        first = body.splitlines()[0]
        if first.startswith("# "):
            found[first[2:].split(":")[0].strip()] = body
    return found


def _key_table(text: str) -> dict[str, list[str]]:
    """The section's table of file keys: file -> its keys, as the README lists them."""
    table: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in {"file", "---"}:
            continue
        current = cells[0] or current
        table.setdefault(current, []).append(cells[1])
    return table


#: Per documented key: a file that sets it (not to its default), what the loader reads
#: there, and what that must be.
A, B = {"classes": {"a": "A", "b": "B"}}, {"classes": {"b": "B"}, "map": {"a": None, "b": "b"}}
TAXONOMY_KEYS: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "name": ({"name": "phones", "versions": [A]}, lambda t: t.name, "phones"),
    "versions": ({"versions": [A, A]}, lambda t: len(t.versions), 2),
    "versions[].version": ({"versions": [{**A, "version": 5}]}, lambda t: t.latest.version, 5),
    "versions[].classes": ({"versions": [A]}, lambda t: t.latest.classes, A["classes"]),
    "versions[].map": ({"versions": [A, B]}, lambda t: t.latest.map, {"a": None, "b": "b"}),
}
V: dict[str, Any] = {}
TASK_KEYS: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "name": ({"name": "vote", "labelset": "s", "versions": [V]}, lambda t: t.name, "vote"),
    "labelset": ({"labelset": "s", "versions": [V]}, lambda t: t.labelset, "s"),
    "versions": ({"labelset": "s", "versions": [V, V]}, lambda t: len(t.versions), 2),
    **{
        f"versions[].{key}": (
            {"labelset": "s", "versions": [{key: value}]},
            lambda t, key=key: getattr(t.versions[0], key),
            value if key != "fields" else tuple(value),
        )
        for key, value in [
            ("version", 4),
            ("taxonomy_version", 2),
            ("overlap", 3),
            ("instructions", "Which?"),
            ("fields", ["text"]),
            ("template", "<p>{text}</p>"),
        ]
    },
}


def test_the_readme_documents_every_key_the_label_files_take(tmp_path: Path) -> None:
    """Each key the table lists is read by the loader, to where the table says."""
    from tillage.labels.annotation import TaskSpec
    from tillage.labels.taxonomy import Taxonomy

    table = _key_table(section("Labels"))
    assert table["taxonomies/NAME.yaml"] == list(TAXONOMY_KEYS)
    assert table["tasks/NAME.yaml"] == list(TASK_KEYS)
    for key, (raw, read, expected) in TAXONOMY_KEYS.items():
        assert read(Taxonomy.from_dict(raw)) == expected, key
    for key, (raw, read, expected) in TASK_KEYS.items():
        path = tmp_path / f"{key}.yaml"
        path.write_text(yaml.safe_dump(raw))
        assert read(TaskSpec.load(path)) == expected, key


def test_the_readme_files_load_and_are_the_ones_its_commands_use(tmp_path: Path) -> None:
    """The taxonomy, its later version, the task and the labeling functions of the
    section load with the project's own loaders, and the shell block names them."""
    from tillage.labels.annotation import TaskSpec
    from tillage.labels.functions import load_functions
    from tillage.labels.taxonomy import Taxonomy

    text = section("Labels")
    files = _files(text)
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    taxonomy = Taxonomy.load(tmp_path / "taxonomies" / "source.yaml")
    task = TaskSpec.load(tmp_path / "tasks" / "tweet-source.yaml")
    lfs = load_functions(str(tmp_path / "lfs.py"))
    classes = set(taxonomy.latest.classes)
    assert classes == {"android", "iphone"}
    assert task.labelset == "source" and task.version().taxonomy_version == 1

    # The later version, appended to the file as the section says, carries version 1.
    [later] = [body for lang, body in blocks(text) if body.startswith("  - version: 2")]
    (tmp_path / "taxonomies" / "source.yaml").write_text(files["taxonomies/source.yaml"] + later)
    v2 = Taxonomy.load(tmp_path / "taxonomies" / "source.yaml")
    assert set(v2.latest.classes) == {"android", "iphone", "web"}
    assert v2.carry(["android", "iphone"], 1).labels == ["android", "iphone"]

    # Each function takes a record (a dict of its columns) and gives a class or None.
    tweets = [
        {"text": "Crooked Hillary is weak. Sad!", "created_at": "2016-10-10T11:02:00Z"},
        {"text": "Join me in Ohio! #MAGA https://t.co/x", "created_at": "2016-10-10T22:30:00Z"},
    ]
    votes = {lf.name: [lf(t) for t in tweets] for lf in lfs}
    assert votes == {
        "link": [None, "iphone"],
        "hashtag": [None, "iphone"],
        "insult": ["android", None],
        "early_morning": ["android", None],
    }

    # The shell block uses these very files, by these names.
    [shell] = [body for lang, body in blocks(text) if lang == "sh"]
    argv = commands(shell)
    assert ["labels", "create", task.labelset] == argv[4][1:4]
    assert ["--taxonomy", taxonomy.name] == argv[4][-2:]
    assert any(a[1:3] == ["lf", "apply"] and a[3] == "lfs.py" for a in argv)
    assert any(a[1:3] == ["annotate", "enqueue"] and a[3] == task.name for a in argv)
