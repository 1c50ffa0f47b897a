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
