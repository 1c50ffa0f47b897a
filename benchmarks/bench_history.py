"""What walking history costs on a 10,000-commit repository: `log`, `log -n 20`, merge base, `~N`.

Data: a generated history (commits only: the walks read the catalog, never the
tables). A main line of ``--commits`` commits in which every 20th commit merges a
5-commit branch forked from the main line 10 commits earlier, each commit pinning
3 datasets and changing one; the last commits leave a branch ``feature`` forked
30 main-line commits before the tip, 10 commits long. It is written straight into
a repository's catalog (``Catalog.insert_commit``, which every tillage has had),
so the same repository serves the code before and after a change.

Each measurement runs in a **fresh process**: open the repository, then time one
call. Peak memory is the process's high-water mark (``VmHWM``) beside its
resident size just before the call, so the difference is what the call itself
took. The calls:

- ``log -n 20``: ``repo.refs.log(limit=20)``, and the ``tillage log -n 20`` command
  (wall time of the whole command, start-up included);
- ``log``: ``repo.refs.log()``, every commit;
- merge base of ``main`` and ``feature`` (what ``merge`` computes first);
- ``main~N``: ``repo.refs.resolve("main~N")``, N a tenth of the commits (1,000);
- gc's reachable set: the commits no branch reaches.

``--src DIR`` runs the measurements with the tillage package found in ``DIR``
(for example an older commit's ``src``, from ``git archive``), to compare before
and after a change.

Run by hand (Linux)::

    .venv/bin/python benchmarks/bench_history.py                  # 10,000 commits
    .venv/bin/python benchmarks/bench_history.py --quick          # 1,000 commits, 1 repeat
    .venv/bin/python benchmarks/bench_history.py --src OLD/src --workdir W

Prints a markdown table to stdout (progress to stderr); ``--json PATH`` also writes
the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

_BUILD = textwrap.dedent(
    """
    import hashlib, sys
    import tillage
    from tillage.core.commit import Commit, DatasetPin
    from tillage.store.catalog import Catalog

    path, total = sys.argv[1], int(sys.argv[2])
    repo = tillage.init(path)
    # Code from before the repository API's namespaces has repo.catalog.
    catalog = repo._storage.catalog if hasattr(repo, "_storage") else repo.catalog
    made = []

    def commit(parents, n):
        cid = hashlib.sha256(f"{n}".encode()).hexdigest()
        pins = {f"d{k}": DatasetPin("main", n, 1000 + n) for k in range(3)}
        at = f"2026-01-01T00:00:00.{n:06d}+00:00"
        c = Commit(cid, tuple(parents), pins, f"commit {n}", at, "bench", "0",
                   changes={f"d{n % 3}": {"op": "append", "rows": 10}})
        made.append(c)
        return cid

    main = []
    n = 0
    with catalog.transaction() as conn:
        while n < total - 10:
            if len(main) >= 10 and len(main) % 20 == 0 and n + 6 <= total - 10:
                side = main[-10]
                for _ in range(5):
                    side = commit([side], n); n += 1
                main.append(commit([main[-1], side], n)); n += 1
            else:
                main.append(commit([main[-1]] if main else [], n)); n += 1
        feature = main[-30]
        while n < total:
            feature = commit([feature], n); n += 1
        for c in made:
            Catalog.insert_commit(conn, c)
        Catalog.move_branch(conn, "main", None, main[-1])
        Catalog.create_ref(conn, "feature", "branch", feature)
    print(len(made), file=sys.stderr)
    """
)

_MEASURE = textwrap.dedent(
    """
    import json, sys, time
    import tillage

    def status(field):
        with open("/proc/self/status") as f:
            return int(f.read().split(field + ":")[1].split()[0]) / 1024

    path, op = sys.argv[1], sys.argv[2]
    repo = tillage.open(path)
    # Code from before the repository API's namespaces has these calls on Repo.
    refs = getattr(repo, "refs", repo)
    catalog = repo._storage.catalog if hasattr(repo, "_storage") else repo.catalog
    main, feature = refs.resolve("main"), refs.resolve("feature")
    try:
        from tillage.versioning.history import merge_base, unreachable
        new = True
    except ImportError:
        from tillage.versioning.history import ancestors, merge_base
        new = False

    def base():
        if new:
            return merge_base(catalog, main, feature)
        return merge_base(main, feature, catalog.all_commits().get)

    def dead():
        if new:
            return unreachable(catalog, [main, feature])
        commits = catalog.all_commits()
        seen = {c.id for r in (main, feature) for c in ancestors(r, commits.get)}
        return [c for c in commits if c not in seen]

    calls = {
        "log_n20": lambda: refs.log(limit=20),
        "log_all": lambda: refs.log(),
        "merge_base": base,
        "ancestor_n": lambda: refs.resolve(f"main~{int(sys.argv[3])}"),
        "gc_reachable": dead,
    }
    before = status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    out = calls[op]()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = len(out) if isinstance(out, list) else out
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mib": status("VmHWM"),
                      "before_mib": before, "answer": size}))
    """
)

OPS = {
    "log_n20": "`repo.refs.log(limit=20)`",
    "log_all": "`repo.refs.log()` (every commit)",
    "merge_base": "merge base of `main` and `feature`",
    "ancestor_n": '`repo.refs.resolve("main~N")`, N a tenth of the commits',
    "gc_reachable": "gc's unreachable set",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _env(src: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "GIT_CEILING_DIRECTORIES": str(ROOT.parent)}
    env.pop("TILLAGE_REPO", None)
    return env


def child(code: str, args: list[str], src: Path, timeout: float) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=_env(src),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise SystemExit(f"a child process failed (exit {res.returncode}); see above")
    return res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""


def cli_log(path: Path, src: Path) -> dict[str, Any]:
    """Wall time and peak memory of the whole `tillage log -n 20` command."""
    code = "import sys; from tillage.cli.app import main; sys.argv[0] = 'tillage'; main()"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--repo", str(path), "log", "-n", "20", "--json"],
        env=_env(src),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"`tillage log -n 20` failed (status {status})")
    cpu = usage.ru_utime + usage.ru_stime  # steadier than wall time on a shared machine
    return {"seconds": seconds, "cpu_s": cpu, "peak_mib": usage.ru_maxrss / 1024}


def measure(path: Path, commits: int, repeats: int, src: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    back = str(commits // 10)
    for op in OPS:
        runs = [
            json.loads(child(_MEASURE, [str(path), op, back], src, 1800)) for _ in range(repeats)
        ]
        results[op] = {
            "seconds": [r["seconds"] for r in runs],
            "median_s": statistics.median(r["seconds"] for r in runs),
            "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
            "peak_mib": max(r["peak_mib"] for r in runs),
            "call_mib": max(r["peak_mib"] - r["before_mib"] for r in runs),
            "answer": runs[0]["answer"],
        }
        log(f"  {op}: {results[op]['median_s'] * 1000:.1f} ms, {results[op]['call_mib']:.0f} MiB")
    runs = [cli_log(path, src) for _ in range(repeats)]
    results["cli_log_n20"] = {
        "seconds": [r["seconds"] for r in runs],
        "median_s": statistics.median(r["seconds"] for r in runs),
        "cpu_median_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
    }
    log(f"  tillage log -n 20: {results['cli_log_n20']['median_s'] * 1000:.0f} ms")
    return results


def _ms(s: float) -> str:
    return f"{s * 1000:,.1f} ms" if s < 10 else f"{s:,.1f} s"


def table(results: dict[str, Any], repeats: int) -> str:
    lines = [
        f"| call | time (median of {repeats}) | CPU time (median) | memory the call took "
        "| process peak |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op, label in OPS.items():
        r = results[op]
        lines.append(
            f"| {label} | {_ms(r['median_s'])} | {_ms(r['cpu_median_s'])} "
            f"| {r['call_mib']:,.1f} MiB "
            f"| {r['peak_mib']:,.0f} MiB |"
        )
    r = results["cli_log_n20"]
    lines.append(
        f"| `tillage log -n 20 --json` (whole command) | {_ms(r['median_s'])} "
        f"| {_ms(r['cpu_median_s'])} | | {r['peak_mib']:,.0f} MiB |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1,000 commits, 1 repeat")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the tillage package to run")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the repository here")
    ap.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = ap.parse_args()
    commits, repeats = (1_000, 1) if args.quick else (args.commits, args.repeats)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tillage-bench-history-"))
    path = work / f"history-{commits}"
    try:
        if not (path / ".tillage").exists():
            log(f"building {commits:,} commits in {path}")
            child(_BUILD, [str(path), str(commits)], args.src, 3600)
        results = measure(path, commits, repeats, args.src)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; tillage from {args.src}; {commits:,} commits\n"
    )
    print(table(results, repeats))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"commits": commits, "results": results}, indent=2))


if __name__ == "__main__":
    main()
