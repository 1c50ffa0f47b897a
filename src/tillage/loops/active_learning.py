"""Active learning as a durable pipeline: train, predict, select, annotate, repeat.

Each round

1. trains the user's function on the label set's current labels and records the
   model version, with its metric on a fixed evaluation set (and, when asked,
   the metric of as many randomly chosen labels: the baseline);
2. stops at the label budget, the target metric or a plateau (`StopRule`);
3. predicts on the pool and selects a batch by a strategy (`repo.select`);
4. queues the batch in the annotation task (`repo.selection.apply`, ``label``);
5. has a simulated annotator answer, when one is configured;
6. waits until every queued record is annotated (the process may exit here and
   `tillage runs resume` it days later);
7. aggregates the annotations into the label set's current labels.

Every step is a step of the run, replayed from its stored result on resume, and
annotations are counted from the label set itself, so a loop killed at any point
loses no label and counts none twice. The learning curve is kept with the model
versions: each records its round, labels and metrics, and `learning_curve` reads
them back for ``tillage loop show``.

Labels, annotations, predictions and selections are written to the run's target
branch, where people annotate; model versions are recorded with the run id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError
from tillage.loops.curve import CurvePoint, LearningCurve, StopRule
from tillage.pipelines.engine import context, wait_for_annotations
from tillage.pipelines.steps import load_object, pipeline, step

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.repo import Repo

Trainer = Callable[[Any, list[str]], Any]
"""``train(X, y) -> fitted estimator``: X a pandas frame of the feature columns, y labels."""


def _config(
    dataset: str,
    labelset: str,
    task: str,
    model: str,
    train: str,
    features: Sequence[str],
    evaluation: Mapping[str, str],
    strategy: str,
    strategy_params: Mapping[str, Any],
    batch: int,
    budget: int | None,
    target: float | None,
    patience: int | None,
    seed: int,
    simulate: Mapping[str, Any] | None,
    baseline: bool,
) -> dict[str, Any]:
    """The loop's settings, checked before the first round (a clear error, nothing run)."""
    if batch < 1:
        raise InputError(f"the batch size must be at least 1, not {batch}.")
    if not features:
        raise InputError("name the feature columns the model reads (features=[...]).")
    if set(evaluation) != {"dataset", "label"}:
        raise InputError(
            "evaluation names the held-out records: {'dataset': NAME, 'label': COLUMN}, "
            f"not {dict(evaluation)!r}."
        )
    StopRule(budget, target, patience)  # refuses a loop that cannot stop
    if simulate is not None:
        unknown = set(simulate) - {"dataset", "label", "accuracy", "seed"}
        if unknown or not {"dataset", "label"} <= set(simulate):
            raise InputError(
                "simulate names the gold labels: {'dataset': NAME, 'label': COLUMN, "
                f"'accuracy': 1.0, 'seed': 0}}, not {dict(simulate)!r}."
            )
    if baseline and simulate is None:
        raise InputError(
            "the random baseline needs gold labels to train on: give simulate= as well."
        )
    return {
        "dataset": dataset,
        "labelset": labelset,
        "task": task,
        "model": model,
        "train": train,
        "features": list(features),
        "evaluation": dict(evaluation),
        "strategy": strategy,
        "params": dict(strategy_params),
        "batch": batch,
        "stop": {"budget": budget, "target": target, "patience": patience},
        "seed": seed,
        "simulate": dict(simulate) if simulate is not None else None,
        "baseline": baseline,
    }


@pipeline(name="active_learning")
def active_learning(
    dataset: str,
    labelset: str,
    task: str,
    model: str,
    train: str,
    features: list[str],
    evaluation: dict[str, str],
    strategy: str = "uncertain_diverse",
    strategy_params: dict[str, Any] | None = None,
    batch: int = 50,
    budget: int | None = 1000,
    target: float | None = None,
    patience: int | None = None,
    seed: int = 0,
    simulate: dict[str, Any] | None = None,
    baseline: bool = False,
) -> dict[str, Any]:
    """Label the records the model is least sure of, round after round, until it stops.

    Args:
        dataset: the pool: records to label (its key names them).
        labelset: the label set over ``dataset`` holding the labels so far (the seed).
        task: the annotation task over ``labelset`` that people (or the simulated
            annotator) answer.
        model: the name the model versions are recorded under.
        train: ``FILE.py:NAME`` or ``module:NAME`` of ``train(X, y) -> estimator``.
        features: the columns of ``dataset`` the model reads.
        evaluation: ``{"dataset": NAME, "label": COLUMN}``: held-out records with the
            same feature columns and their true label; the metric is accuracy on them.
        strategy: the selection strategy (see ``tillage select --list``); the default
            spreads the most uncertain records out in the featurizer's space.
        strategy_params: the strategy's parameters.
        batch: records selected per round.
        budget, target, patience: when to stop (see `StopRule`).
        seed: seeds the selections (round ``r`` uses ``seed + r``).
        simulate: ``{"dataset": NAME, "label": COLUMN, "accuracy": 1.0, "seed": 0}``:
            a simulated annotator answers from that gold column (demos, tests,
            benchmarks); without it, people answer with ``tillage annotate``.
        baseline: also train on as many randomly chosen labels each round (needs
            ``simulate``), for the curve's random baseline.

    Returns:
        ``{"points": [...], "stopped": why, "model": model}``.
    """
    cfg = _config(
        dataset,
        labelset,
        task,
        model,
        train,
        features,
        evaluation,
        strategy,
        strategy_params or {},
        batch,
        budget,
        target,
        patience,
        seed,
        simulate,
        baseline,
    )
    rule = StopRule(**cfg["stop"])
    points: list[CurvePoint] = []
    round_ = 0
    while True:
        point = CurvePoint(**_train_round(round_, cfg))
        points.append(point)
        why = rule.why_stop(points)
        if why is not None:
            break
        queued = _select_round(round_, cfg)
        if queued["selected"] == 0:
            why = "the pool is empty: every record is labelled or queued"
            break
        if cfg["simulate"] is not None:
            _annotate_round(round_, cfg)
        wait_for_annotations(task, queued["task_queued"])
        _aggregate_round(round_, cfg)
        round_ += 1
    return {"points": [p.to_dict() for p in points], "stopped": why, "model": model}


def _target() -> Repo:
    """The run's target branch, where people annotate, as the run's job principal."""
    ctx = context()
    return ctx.repo.at(ctx.branch, principal=f"job:{ctx.run_id}")


@step(name="al-train", cache=False)
def _train_round(round_: int, cfg: dict[str, Any]) -> dict[str, Any]:
    """Train on the current labels, record the model version and evaluate it."""
    repo = _target()
    trainer = _trainer(cfg["train"])
    table = repo.labels.training_set(cfg["dataset"], cfg["labelset"])
    if table.num_rows == 0:
        raise InputError(
            f"label set {cfg['labelset']!r} has no labels yet; label a few records of "
            f"{cfg['dataset']!r} to start from (the seed), then run the loop."
        )
    features = cfg["features"]
    fitted = _fit(trainer, table, features)
    metric = _accuracy(repo, fitted, cfg)
    labels = int(table.num_rows)
    base = None
    if cfg["baseline"]:  # round 0 trains on the seed alone: the baseline is the model itself
        base = _baseline_metric(repo, trainer, cfg, table, round_) if round_ else metric
    metrics = {"accuracy": metric, "labels": labels, "round": round_, "run": context().run_id}
    if base is not None:
        metrics["random_accuracy"] = base
    repo.models.record(
        cfg["model"],
        cfg["dataset"],
        model=fitted,
        features=features,
        labelset=cfg["labelset"],
        metrics=metrics,
    )
    return {"round": round_, "labels": labels, "metric": metric, "baseline": base}


@step(name="al-select", cache=False)
def _select_round(round_: int, cfg: dict[str, Any]) -> dict[str, Any]:
    """Predict on the pool, select a batch and queue it for annotation."""
    from tillage.errors import EmptyPoolError

    repo = _target()
    seed = cfg["seed"] + round_
    # A round that failed or was killed after it selected (its result not stored) made
    # its selection already, as this run's job: queue that one, never a second batch.
    made = own_selection(repo, cfg["dataset"], seed)
    if made is not None:
        chosen = repo.selection.get(made)
    else:
        repo.models.predict(cfg["model"], cfg["dataset"])
        try:
            chosen = repo.select(
                cfg["dataset"],
                strategy=cfg["strategy"],
                params=cfg["params"],
                n=cfg["batch"],
                model=cfg["model"],
                labelset=cfg["labelset"],
                task=cfg["task"],
                seed=seed,
            )
        except EmptyPoolError:
            return {"selected": 0, "selection": None, "task_queued": 0}
    if not any(a["action"] == "label" for a in repo.selection.actions(chosen.id)):
        repo.selection.apply(chosen.id, "label", task=cfg["task"])
    queued = repo.annotation.progress(cfg["task"]).queued
    return {"selected": len(chosen), "selection": chosen.id, "task_queued": queued}


def own_selection(repo: Repo, dataset: str, seed: int) -> str | None:
    """The id of the selection this run's job made on ``dataset`` with ``seed``, if any.

    A round killed after it selected (its step result not stored) finds it on resume,
    so that it acts on that one and never selects a second batch.
    """
    job = f"job:{context().run_id}"
    made = [s for s in repo.selection.list(dataset) if s.principal == job and s.seed == seed]
    return made[0].id if made else None


@step(name="al-annotate", cache=False)
def _annotate_round(round_: int, cfg: dict[str, Any]) -> int:
    """The simulated annotator answers what the task hands it (one commit)."""
    return answer_simulated(_target(), cfg)


def answer_simulated(repo: Repo, cfg: dict[str, Any]) -> int:
    """The simulated annotator of ``cfg["simulate"]`` answers, on ``repo``'s branch, what
    task ``cfg["task"]`` hands it (one commit); returns how many records it answered."""
    sim = _simulator(repo, cfg)
    task = cfg["task"]
    annotation = repo.annotation
    # `next` never hands a record to the same annotator twice, so the records handed to
    # it by a step killed before it answered are still its to answer: those first.
    owed = annotation.unanswered(task, sim.name)
    handed = list(dict.fromkeys([*owed, *annotation.next(task, sim.name, n=cfg["batch"] * 4)]))
    if not handed:
        return 0
    annotation.submit_many(task, sim.name, sim.answers(handed))
    return len(handed)


@step(name="al-aggregate", cache=False)
def _aggregate_round(round_: int, cfg: dict[str, Any]) -> int:
    """The annotations become the label set's current labels."""
    result = _target().labels.aggregate_annotations(cfg["labelset"])
    return len(result.annotators)


def _trainer(target: str) -> Trainer:
    found, _ = load_object(target, "training function")
    if not callable(found):
        raise InputError(
            f"{target!r} names no function; point train= at def train(X, y) -> estimator."
        )
    trainer: Trainer = found
    return trainer


def _fit(trainer: Trainer, table: pa.Table, features: Sequence[str]) -> Any:
    missing = [c for c in features if c not in table.column_names]
    if missing:
        raise InputError(
            f"feature column(s) {', '.join(missing)} are not in the training set; its "
            f"columns: {', '.join(table.column_names)}."
        )
    X = table.select(list(features)).to_pandas()
    y = [str(v) for v in table.column("label").to_pylist()]
    fitted = trainer(X, y)
    if not hasattr(fitted, "predict"):
        raise InputError(
            f"the training function returned {type(fitted).__name__}, not a fitted model; "
            "return the estimator it fitted."
        )
    return fitted


def _accuracy(repo: Repo, fitted: Any, cfg: dict[str, Any]) -> float:
    """Accuracy on the evaluation set (the same records every round)."""
    ev = cfg["evaluation"]
    table = repo.read(ev["dataset"], columns=[*cfg["features"], ev["label"]])
    truth = [str(v) for v in table.column(ev["label"]).to_pylist()]
    if not truth:
        raise InputError(f"the evaluation dataset {ev['dataset']!r} has no records.")
    predicted = fitted.predict(table.select(cfg["features"]).to_pandas())
    return sum(str(p) == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def _simulator(repo: Repo, cfg: dict[str, Any]) -> Any:
    from tillage.loops.simulate import SimulatedAnnotator

    sim = cfg["simulate"]
    key = repo.datasets.key(sim["dataset"])
    if len(key) != 1:
        raise InputError(f"the gold dataset {sim['dataset']!r} needs a one-column key.")
    table = repo.read(sim["dataset"], columns=[key[0], sim["label"]])
    ids = [str(v) for v in table.column(key[0]).to_pylist()]
    gold = dict(zip(ids, (str(v) for v in table.column(sim["label"]).to_pylist()), strict=True))
    classes = sorted(set(gold.values()))
    return SimulatedAnnotator(
        gold, classes, float(sim.get("accuracy", 1.0)), int(sim.get("seed", 0))
    )


def _baseline_metric(
    repo: Repo, trainer: Trainer, cfg: dict[str, Any], table: pa.Table, round_: int
) -> float:
    """The metric of a model trained on as many labels as ``table`` holds: the seed labels
    (those given before the loop) plus randomly chosen pool records, with the simulated
    annotator's answers for them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from tillage.labels.sets import key_text

    key = repo.datasets.key(cfg["dataset"])[0]
    looped = pc.is_in(table.column("label_kind"), value_set=pa.array(["annotator", "aggregate"]))
    seeds = table.filter(pc.invert(looped))
    pool = repo.read(cfg["dataset"], columns=[key, *cfg["features"]])
    pool_ids = key_text(pool.column(key)).to_pylist()
    taken = set(key_text(seeds.column(key)).to_pylist())
    rest = [i for i, r in enumerate(pool_ids) if r not in taken]
    rng = np.random.default_rng([cfg["seed"], 7919, round_])
    extra = min(max(0, table.num_rows - seeds.num_rows), len(rest))
    chosen = sorted(rest[i] for i in rng.choice(len(rest), size=extra, replace=False))
    sim = _simulator(repo, cfg)
    picked = pool.take(pa.array(chosen, pa.int64()))
    X = pa.concat_tables(
        [seeds.select(cfg["features"]), picked.select(cfg["features"])]
    ).to_pandas()
    y = [str(v) for v in seeds.column("label").to_pylist()]
    y += [sim.answer(pool_ids[i]) for i in chosen]
    return _accuracy(repo, trainer(X, y), cfg)


def learning_curve(repo: Repo, run_id: str) -> LearningCurve:
    """The learning curve of loop run ``run_id``: one point per model version it recorded.

    Raises:
        NoSuchRunError: no run has that id.
        InputError: the run is not an active-learning loop.
    """
    from tillage.pipelines.engine import Runs

    run = Runs(repo).show(run_id)
    model = run.params.get("model")
    if run.pipeline != active_learning.name or not isinstance(model, str):
        raise InputError(
            f"run {run.id} is a run of {run.pipeline!r}, not an active-learning loop; "
            "list the loops with `tillage runs --pipeline active_learning`."
        )
    # A round killed after recording its model and rerun on resume recorded two
    # versions; the later one is the round's (recorded is newest first).
    by_round: dict[int, CurvePoint] = {}
    for m in repo.models.recorded(model):
        if m.metrics.get("run") == run.id and int(m.metrics["round"]) not in by_round:
            by_round[int(m.metrics["round"])] = CurvePoint(
                int(m.metrics["round"]),
                int(m.metrics["labels"]),
                float(m.metrics["accuracy"]),
                m.metrics.get("random_accuracy"),
            )
    return LearningCurve(run.id, model, tuple(by_round[r] for r in sorted(by_round)))
