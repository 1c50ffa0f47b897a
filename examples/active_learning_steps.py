"""Active learning written out in plain steps: what `tillage.active_learning` does each round.

    tillage run examples/active_learning_steps.py:label_loop -p dataset=tweets \
        -p labelset=source -p task=tweet-source -p model=source -p budget=300 \
        -p 'features=["text", "hour_et"]' \
        -p 'evaluation={"dataset": "tweets-heldout", "label": "source"}'

Each round trains on the label set's current labels and records the model with
its accuracy on held-out records, selects the records it is least sure of, queues
them for annotation and waits (the process may exit; `tillage runs resume RUN`
goes on once people have answered with `tillage annotate`), then aggregates the
answers. Every step is stored, so a resumed run replays the finished ones.

The ready-made loop adds what this leaves out: a simulated annotator and a
random baseline, stopping at a target or a plateau, its own model as the
training function, and a select step that finds its own selection after a kill.
"""

from __future__ import annotations

from typing import Any

import tillage


def _here() -> tillage.Repo:
    """The run's target branch: people annotate there, so the loop reads and writes there."""
    ctx = tillage.context()
    return ctx.repo.at(ctx.branch, principal=f"job:{ctx.run_id}")


@tillage.step(cache=False)
def train(round_: int, p: dict[str, Any]) -> dict[str, Any]:
    """Fit on the current labels, record the model version, measure it on held-out records."""
    from sklearn.linear_model import LogisticRegression

    repo = _here()
    table = repo.labels.training_set(p["dataset"], p["labelset"])
    y = [str(v) for v in table.column("label").to_pylist()]
    fitted = LogisticRegression().fit(table.select(p["features"]).to_pandas(), y)
    ev = p["evaluation"]
    heldout = repo.read(ev["dataset"], columns=[*p["features"], ev["label"]])
    truth = [str(v) for v in heldout.column(ev["label"]).to_pylist()]
    guess = fitted.predict(heldout.select(p["features"]).to_pandas())
    accuracy = sum(str(g) == t for g, t in zip(guess, truth, strict=True)) / len(truth)
    metrics = {"accuracy": accuracy, "labels": len(y), "round": round_}
    repo.models.record(
        p["model"], p["dataset"], model=fitted, features=p["features"],
        labelset=p["labelset"], metrics=metrics,
    )  # fmt: skip
    return metrics


@tillage.step(cache=False)
def select(round_: int, p: dict[str, Any]) -> int:
    """Predict on the pool, choose a batch, queue it; returns how many records are queued."""
    repo = _here()
    repo.models.predict(p["model"], p["dataset"])
    try:
        chosen = repo.select(
            p["dataset"], strategy=p["strategy"], n=p["batch"], model=p["model"],
            labelset=p["labelset"], task=p["task"], seed=p["seed"] + round_,
        )  # fmt: skip
    except tillage.EmptyPoolError:
        return 0
    repo.selection.apply(chosen.id, "label", task=p["task"])
    return repo.annotation.progress(p["task"]).queued


@tillage.step(cache=False)
def aggregate(round_: int, p: dict[str, Any]) -> None:
    """People's answers become the label set's current labels."""
    _here().labels.aggregate_annotations(p["labelset"])


@tillage.pipeline
def label_loop(
    dataset: str,
    labelset: str,
    task: str,
    model: str,
    features: list[str],
    evaluation: dict[str, str],
    strategy: str = "margin",
    batch: int = 50,
    budget: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Label what the model is least sure of until ``budget`` labels; returns the curve."""
    p = {
        "dataset": dataset, "labelset": labelset, "task": task, "model": model,
        "features": features, "evaluation": evaluation, "strategy": strategy,
        "batch": batch, "seed": seed,
    }  # fmt: skip
    curve = []
    round_ = 0
    while True:
        curve.append(train(round_, p))
        if curve[-1]["labels"] >= budget:
            return curve
        queued = select(round_, p)
        if queued == 0:
            return curve
        tillage.wait_for_annotations(task, queued)  # the run waits here for people
        aggregate(round_, p)
        round_ += 1
