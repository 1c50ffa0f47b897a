"""One selection round over a pool of 1,000,000 records: predict, then select 50 with
``uncertain_diverse`` (the most uncertain, spread out in feature space).

Data: generated here (nothing downloads), seeded. Each record has an ``id`` (text),
six numeric columns, two categorical ones (16 carriers, 3 origins) and a label
that a logistic function of three of the numbers and the carrier decides, with
noise. ``--text`` adds a short text column (six words drawn from a 2,000-word
vocabulary, the label tilting the draw), which the model reads through TF-IDF and
the default featurizer through TF-IDF + SVD.

Setup (not timed): a repository in ``benchmarks/_work/selection-scale`` with the
records ingested, 2,000 of them labelled in a label set, and a model (one-hot
categories, scaled numbers, logistic regression; with ``--text``, TF-IDF words too)
trained on those 2,000 and recorded with skops.

Timed, in a fresh process, as a user's round runs it:

1. ``repo.models.predict(MODEL, DATASET)``: read the feature columns batch by
   batch, ``predict_proba``, store the probabilities (one commit);
2. ``repo.select(DATASET, strategy="uncertain_diverse", model=MODEL, n=50)``:
   read the pool and leave out the labelled records, read the stored
   predictions, featurize the pool (the default featurizer; cached by data
   version, so a second round on the same version reads the cache), run the
   strategy, store the selection (one commit).

Each step's time is printed, the select step split by a profile into read,
predictions, featurize and strategy. A second round (``--rounds 2``, the default) shows the
cost with the features cached, as a loop's later rounds on the same data version
run.

Run by hand::

    .venv/bin/python benchmarks/bench_selection_scale.py                 # 1,000,000 records
    .venv/bin/python benchmarks/bench_selection_scale.py --rows 200000 --text
    .venv/bin/python benchmarks/bench_selection_scale.py --keep --src /tmp/old/src  # before

Prints a markdown table to stdout (progress to stderr); ``--json PATH`` also writes
the raw numbers. Keep the run to a few minutes: most of it is the setup.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work" / "selection-scale"
LABELLED = 2_000
BATCH = 50
TARGET_S = 20.0

_SETUP = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import pyarrow as pa
    import tillage

    path, rows, text = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    labelled = int(sys.argv[4])
    rng = np.random.default_rng(0)
    carriers = np.array([f"C{i:02d}" for i in range(16)])
    cols = {"id": pa.array([f"r{i:07d}" for i in range(rows)], pa.string())}
    nums = rng.normal(0, 1, (rows, 6))
    for j in range(6):
        cols[f"x{j}"] = pa.array(nums[:, j])
    carrier = rng.integers(0, 16, rows)
    cols["carrier"] = pa.array(carriers[carrier])
    cols["origin"] = pa.array(np.array(["JFK", "LGA", "EWR"])[rng.integers(0, 3, rows)])
    logit = 1.5 * nums[:, 0] - nums[:, 1] + 0.5 * nums[:, 2] + (carrier % 4 - 1.5) * 0.6
    late = rng.random(rows) < 1 / (1 + np.exp(-logit))
    if text:
        vocab = np.array([f"w{i}" for i in range(2000)])
        shift = np.where(late, 0, 1000)
        words = (rng.integers(0, 1400, (rows, 6)) + shift[:, None]) % 2000
        cols["note"] = pa.array([" ".join(vocab[w]) for w in words])
    truth = np.where(late, "late", "on_time")
    table = pa.table(cols)
    t0 = time.perf_counter()
    repo = tillage.init(path)
    step = 250_000
    for start in range(0, rows, step):
        repo.ingest("pool", table.slice(start, step), key="id", mode="append")
    (repo.path / "taxonomies").mkdir(exist_ok=True)
    (repo.path / "taxonomies" / "delay.yaml").write_text(
        "name: delay\\nversions:\\n  - classes:\\n      late: ''\\n      on_time: ''\\n"
    )
    repo.labels.create("delays", records="pool", taxonomy="delay")
    chosen = np.sort(rng.choice(rows, labelled, replace=False))
    ids = [f"r{i:07d}" for i in chosen]
    repo.labels.add("delays", ids, truth[chosen].tolist(), source="import")

    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f"x{j}" for j in range(6)]
    parts = [
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["carrier", "origin"]),
    ]
    if text:
        parts.append(("text", TfidfVectorizer(), "note"))
    train = table.take(pa.array(chosen)).to_pandas()
    features = numeric + ["carrier", "origin"] + (["note"] if text else [])
    model = make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=1000))
    model.fit(train[features], truth[chosen])
    repo.models.record("clf", "pool", model=model, labelset="delays", features=features)
    repo.close()
    print(json.dumps({"setup_s": time.perf_counter() - t0}))
    """
)

_ROUND = textwrap.dedent(
    """
    import cProfile, json, pstats, sys, time
    t_start = time.perf_counter()
    import tillage

    path, rounds, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repo = tillage.open(path)
    # scikit-learn, scipy and skops load once per process (a loop's later rounds do not
    # pay it again): timed on their own, before the rounds.
    t_import = time.perf_counter()
    import numpy, sklearn.linear_model, skops.io  # noqa: F401
    import_s = time.perf_counter() - t_import
    out = []
    # Where the select step spends its time: cumulative seconds of these functions.
    parts = {
        "read pool": "api/selection.py:.*\\\\(select\\\\)",
        "predictions": "api/models.py:.*\\\\(predictions\\\\)",
        "featurize": "api/models.py:.*\\\\(features\\\\)",
        "strategy": "selection/selections.py:.*\\\\(choose\\\\)",
        "store": "api/selection.py:.*\\\\(_store_selection\\\\)",
        "exclusions": "api/selection.py:.*\\\\((_current_labels|_queued)\\\\)",
    }
    for r in range(rounds):
        if r or repo.models.get("clf").version > 1 or "clf-predictions" in repo.datasets.pins():
            # A loop retrains each round: a new model version (not timed: the user's
            # training), whose predictions are new rows.
            m = repo.models.get("clf")
            repo.models.record(
                "clf", "pool", model=repo.models.load("clf"), labelset="delays",
                features=list(m.features),
            )
        t0 = time.perf_counter()
        c0 = time.process_time()
        repo.models.predict("clf", "pool")
        t1 = time.perf_counter()
        prof = cProfile.Profile()
        prof.enable()
        chosen = repo.select(
            "pool", strategy="uncertain_diverse", model="clf", n=batch, seed=r,
            labelset="delays",
        )
        prof.disable()
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        stats = pstats.Stats(prof)
        import re
        split = {}
        for name, pattern in parts.items():
            total = 0.0
            for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
                if re.search(pattern, f"{file}:{line}({func})"):
                    total = max(total, ct)
            split[name] = total
        out.append({
            "round": r + 1,
            "predict_s": t1 - t0,
            "select_s": t2 - t1,
            "round_s": t2 - t0,
            "cpu_s": cpu,
            "picked": len(chosen),
            "pool": chosen.pool_size,
            "split": split,
        })
    print(json.dumps({"rounds": out, "import_s": import_s}))
    """
)


def _run(code: str, *args: str, src: Path = ROOT / "src") -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--text", action="store_true", help="add a text column")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="reuse the repository if built")
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="run the rounds with the tillage package in this folder (e.g. an older "
        "commit's src, from git archive), to compare before and after a change",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    path = WORK / f"{args.rows}{'-text' if args.text else ''}"
    setup = None
    if not (args.keep and path.exists()):
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"building {args.rows:,} records in {path} ...", file=sys.stderr)
        setup = _run(_SETUP, str(path), str(args.rows), "1" if args.text else "0", str(LABELLED))
        print(f"  setup {setup['setup_s']:.1f} s", file=sys.stderr)
    print("one selection round, fresh process ...", file=sys.stderr)
    result = _run(_ROUND, str(path), str(args.rounds), str(BATCH), src=args.src)
    rows = result["rounds"]
    kind = "tabular + text" if args.text else "tabular"
    lines = [
        f"Pool: {args.rows:,} generated records ({kind}), {LABELLED:,} labelled; "
        f"batch {BATCH}; {os.cpu_count()} CPUs ({platform.machine()}). "
        f"Loading scikit-learn, scipy and skops, once per process: {result['import_s']:.1f} s "
        "(not in the rounds).",
        "",
        "| round | predict (s) | select (s) | round (s) | CPU (s) | target "
        "| select: exclusions | predictions | featurize | strategy | store | rest |",
        "| ---: | ---: | ---: | ---: | ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s = r["split"]
        rest = r["select_s"] - sum(v for k, v in s.items() if k != "read pool")
        ok = "met" if r["round_s"] <= TARGET_S else "**missed**"
        lines.append(
            f"| {r['round']} | {r['predict_s']:.1f} | {r['select_s']:.1f} | "
            f"{r['round_s']:.1f} | {r['cpu_s']:.1f} | {ok} (<= {TARGET_S:.0f} s) | "
            f"{s['exclusions']:.2f} | {s['predictions']:.2f} | {s['featurize']:.2f} | "
            f"{s['strategy']:.2f} | {s['store']:.2f} | {max(rest, 0):.2f} |"
        )
    lines += [
        "",
        "Round 1 featurizes the pool (the default featurizer, then cached by data "
        "version); later rounds on the same data version read the cache. Each round "
        "predicts with a model version that has no predictions yet (recorded first, not "
        "timed), as a loop that retrains each round does. The select columns are parts "
        "of the select time, from a profile; `rest` is reading the pool's keys, lining "
        "records up and the "
        "strategy's candidates.",
    ]
    print("\n".join(lines))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"rows": args.rows, "text": args.text, "setup": setup, "rounds": rows}, indent=2
            )
        )


if __name__ == "__main__":
    main()
