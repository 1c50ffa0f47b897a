"""The data-centric chapter of the demo: the model's state decides which records to label,
and shows where the model fails and which records it can do without.

1. **Active learning on the tweets** (Android or iPhone?). A quarter of the tweets is
   held out with its gold source; the rest is the pool, without it. 50 pool tweets
   start labelled. `tillage.active_learning` then runs as a durable pipeline:
   each round trains a TF-IDF + logistic regression classifier, records it, predicts
   on the pool, selects 50 tweets by uncertainty spread out in feature space, and a
   simulated annotator answers from the gold (kept in its own dataset, read only by
   the annotator), until 1,000 labels. Beside it, each round, a model trained on as
   many randomly chosen labels: the baseline.
2. **Where a model fails, on flights.** A model of "arrives over 15 minutes late"
   from what is known before departure is recorded and predicts; `repo.models.slices`
   names the slice where its error is highest.
3. **The least data for the model.** `repo.selection.value` values the flights
   (KNN-Shapley), and a model trained without the lowest-valued 10% is compared with
   one trained without a random 10%, on a tenth of the labels flipped.

Uses only the public API; everything lands on the branch ``data-centric``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from rich.console import Console

import tillage
from tillage.demo import tweets

BRANCH = "data-centric"
POOL, HELDOUT, ANSWERS = "tweet-pool", "tweet-heldout", "tweet-answers"
LABELSET, TASK, MODEL = "tweet-source-al", "tweet-source-al", "tweet-source"
FEATURES = ["text", "hour_et"]
SEED_LABELS, BATCH, BUDGET = 50, 50, 1000
FLIGHT_FEATURES = ["month", "hour", "carrier", "origin", "distance", "sched_dep_time"]


def train(X: Any, y: list[str]) -> Any:
    """The tweets' classifier (TF-IDF of words and pairs, the hour), fitted: the loop's
    ``train`` (named ``tillage.demo.loop:train`` in the run's parameters)."""
    return tweets.classifier().fit(X, y)


def improve_with_the_model(
    repo: tillage.Repo,
    console: Console | None = None,
    *,
    budget: int = BUDGET,
    flights: int = 20_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the chapter on a new branch ``data-centric``; returns ``loop_*`` numbers."""
    console = console or Console()
    started = time.perf_counter()
    repo.create_branch(BRANCH)
    on_branch = repo.at(BRANCH)
    summary = _active_learning(on_branch, console, budget, seed)
    summary |= _flights(on_branch, console, flights, seed)
    return {**summary, "loop_seconds": round(time.perf_counter() - started, 1)}


def _active_learning(
    repo: tillage.Repo, console: Console, budget: int, seed: int
) -> dict[str, Any]:
    table, gold = tweets.load_tweets()
    rng = np.random.default_rng(seed)
    order = rng.permutation(table.num_rows)
    held = order[: table.num_rows // 4]
    pool_rows = np.sort(order[table.num_rows // 4 :])
    ids = table.column("id").to_pylist()
    source = pa.array([gold[i] for i in ids])
    pool = table.take(pa.array(pool_rows))
    heldout = table.take(pa.array(np.sort(held))).append_column(
        "source", source.take(pa.array(np.sort(held)))
    )
    repo.ingest(POOL, pool, key="id", message=f"{pool.num_rows} tweets to label, no source")
    repo.ingest(HELDOUT, heldout, key="id", message=f"{heldout.num_rows} held-out tweets, gold")
    answers = pa.table({"id": pool.column("id"), "source": source.take(pa.array(pool_rows))})
    repo.ingest(ANSWERS, answers, key="id", message="the simulated annotator's answer key")
    for folder, name, doc in (
        ("taxonomies", tweets.LABELSET, tweets.TAXONOMY),
        ("tasks", TASK, {"name": TASK, "labelset": LABELSET, "versions": [{"overlap": 1}]}),
    ):
        (repo.path / folder).mkdir(exist_ok=True)
        (repo.path / folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    repo.labels.create(LABELSET, records=POOL, taxonomy=tweets.LABELSET)
    start = rng.choice(pool.num_rows, SEED_LABELS, replace=False)
    seed_ids = [pool.column("id")[int(i)].as_py() for i in start]
    repo.labels.add(LABELSET, seed_ids, [gold[i] for i in seed_ids], source="seed")

    console.print(
        f"\n[bold]data-centric[/]: label the tweets the model is least sure of. Pool "
        f"{pool.num_rows:,}, held out {heldout.num_rows:,}, {SEED_LABELS} labelled to start; "
        f"{BATCH} a round up to {budget:,} labels, a simulated annotator answering."
    )
    params = {
        "dataset": POOL,
        "labelset": LABELSET,
        "task": TASK,
        "model": MODEL,
        "train": "tillage.demo.loop:train",
        "features": FEATURES,
        "evaluation": {"dataset": HELDOUT, "label": "source"},
        "strategy_params": {"multiple": 5},
        "batch": BATCH,
        "budget": budget,
        "seed": seed,
        "simulate": {"dataset": ANSWERS, "label": "source"},
        "baseline": True,
    }
    with console.status("active learning: train, predict, select, annotate, repeat"):
        run = tillage.run(repo, tillage.active_learning, params)
    if run.status != "done":
        raise tillage.TillageError(
            f"the active-learning run {run.id} ended {run.status}: {run.error}; "
            f"resume it with `tillage runs resume {run.id}`."
        )
    curve = tillage.learning_curve(repo, run.id)
    full = _full_pool_accuracy(pool, answers, heldout)
    reached = curve.labels_to_reach(0.99 * full)
    last = curve.points[-1]
    console.print(curve.text())
    console.print(
        f"every gold label of the pool ({pool.num_rows:,}) gives {full:.3f}; the loop reached "
        f"99% of it ({0.99 * full:.3f}) "
        + (f"with {reached:,} labels" if reached else f"not within {budget:,} labels")
        + f"; random selection of {last.labels:,} labels gives {last.baseline:.3f} against "
        f"{last.metric:.3f}. Show it again: tillage loop show {run.id} --plot curve.png"
    )
    return {
        "loop_run": run.id,
        "loop_rounds": len(curve.points),
        "loop_labels": last.labels,
        "loop_accuracy": last.metric,
        "loop_random_accuracy": last.baseline,
        "loop_full_accuracy": full,
        "loop_labels_to_99": reached,
        "loop_area": curve.to_dict()["area"],
    }


def _full_pool_accuracy(pool: pa.Table, answers: pa.Table, heldout: pa.Table) -> float:
    """Accuracy on the held-out tweets of the classifier trained on every pool tweet's gold."""
    fitted = train(pool.select(FEATURES).to_pandas(), answers.column("source").to_pylist())
    predicted = fitted.predict(heldout.select(FEATURES).to_pandas())
    truth = heldout.column("source").to_pylist()
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def flight_model() -> Any:
    """Gradient-boosted trees on what is known before departure (carrier, origin coded)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    columns = ColumnTransformer([("codes", codes, ["carrier", "origin"])], remainder="passthrough")
    trees = HistGradientBoostingClassifier(categorical_features=[0, 1], random_state=0)
    return make_pipeline(columns, trees)


def _flights(repo: tillage.Repo, console: Console, size: int, seed: int) -> dict[str, Any]:
    """Where a flight-delay model fails, and what its least valuable records are worth."""
    from tillage.demo.pipeline import nyc_flights

    flown = nyc_flights()
    flown = flown.filter(pc.is_valid(flown.column("arr_delay")))
    rng = np.random.default_rng(seed)
    rows = rng.choice(flown.num_rows, min(size, flown.num_rows), replace=False)
    sample = flown.take(pa.array(np.sort(rows))).select(["rownames", *FLIGHT_FEATURES])
    delay = flown.column("arr_delay").take(pa.array(np.sort(rows))).to_numpy(zero_copy_only=False)
    late = np.where(delay > 15, "late", "on_time")
    noisy = late.copy()
    flip = rng.random(len(late)) < 0.1  # a tenth of the training labels are wrong
    noisy[flip] = np.where(late[flip] == "late", "on_time", "late")
    data = sample.append_column("late", pa.array(late)).append_column("noisy", pa.array(noisy))
    half = data.num_rows // 2
    train_set, test_set = data.slice(0, half), data.slice(half)
    repo.ingest("flight-delays", train_set, key="rownames", message="flights to train on")
    repo.ingest("flight-delays-test", test_set, key="rownames", message="flights to test on")
    x_train = train_set.select(FLIGHT_FEATURES).to_pandas()
    x_test = test_set.select(FLIGHT_FEATURES).to_pandas()
    truth = np.array(test_set.column("late").to_pylist())

    def accuracy(keep: np.ndarray, labels: str) -> float:
        y = np.array(train_set.column(labels).to_pylist())
        fitted = flight_model().fit(x_train.iloc[keep], y[keep])
        return float(np.mean(fitted.predict(x_test) == truth))

    model = flight_model().fit(x_train, train_set.column("late").to_pylist())
    repo.models.record("late", "flight-delays", model=model, features=FLIGHT_FEATURES)
    repo.models.predict("late", "flight-delays-test")
    report = repo.models.slices(
        "late", "flight-delays-test", label="late", columns=["hour", "carrier", "origin", "month"]
    )
    worst = report.slices[0].sentence if report.slices else "no slice is significantly worse"
    console.print(
        f"\n[bold]where the delay model fails[/] on {test_set.num_rows:,} held-out flights "
        f"(error {report.error:.3f} overall): {worst}"
    )

    valued = repo.selection.value("flight-delays", label="noisy", columns=FLIGHT_FEATURES)
    position = {str(r): i for i, r in enumerate(train_set.column("rownames").to_pylist())}
    order = [position[r] for r, _, _ in valued.lowest(len(valued.keys))]
    drop = half // 10
    everything = accuracy(np.arange(half), "noisy")
    by_value = accuracy(np.sort(order[drop:]), "noisy")
    at_random = accuracy(np.sort(rng.permutation(half)[drop:]), "noisy")
    console.print(
        f"[bold]the least data[/]: with a tenth of the labels flipped, the model scores "
        f"{everything:.3f}; without the lowest-valued 10% of its records {by_value:.3f}, "
        f"without a random 10% {at_random:.3f} (with no label flipped: "
        f"{accuracy(np.arange(half), 'late'):.3f})."
    )
    return {
        "loop_flights": data.num_rows,
        "loop_slice": worst,
        "loop_flights_error": report.error,
        "loop_slice_error": report.slices[0].error if report.slices else None,
        "loop_noisy_accuracy": everything,
        "loop_pruned_accuracy": by_value,
        "loop_random_pruned_accuracy": at_random,
    }
