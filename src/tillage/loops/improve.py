"""Improve loops: change the training data on a branch, and merge it only if the model improves.

The other data-centric workflows share one durable round (the same engine and
resume guarantees as `tillage.loops.active_learning`):

1. train the user's function on the target branch's data and evaluate it on a
   fixed evaluation set (the metric *before*); the model version is recorded;
2. select records by the workflow's strategy (`repo.select`);
3. act on them on a branch of their own, ``loop/RUN/ROUND``
   (`repo.selection.apply(..., branch=...)`): relabel them (queue them in an
   annotation task, wait for the answers on that branch, aggregate them there),
   remove them, or generate records like them (refused by the fidelity gate when
   they fit the real slice worse than sampling each column alone does);
4. train again on the branch and evaluate on the same set (the metric *after*);
5. merge the branch into the target only if ``after - before > min_gain``;
   otherwise leave it unmerged (people may look at it) and say why.

Each round's decision (metrics before and after, branch, merged or not and why,
selection id) is a step result of the run; `loop_decisions` reads them back for
``tillage loop show``. The loop stops after ``rounds`` rounds, at the first
round that does not merge (the data it would start from again is unchanged), or
when the strategy has nothing left to choose.

The ready-made workflows:

- `relabel_errors`: likely label errors (``label_error``, confident learning on
  the label set), relabelled by people or a simulated annotator;
- `remove_low_value`: the records of lowest data value (``low_value``,
  KNN-Shapley, computed each round on the data the round starts from), removed;
- `generate_for_weakest_slice`: records of the slice of the evaluation set where
  the model errs most (`repo.models.slices`), from which ``n`` synthetic records
  are generated; the label is a column of the dataset, so the generated records
  carry one.

Like active learning, the loop writes to the run's target branch (and its own
branches off it) as the run's job, and each step finds what it did before it
was killed (its selection, its action, its merge), so a resumed loop neither
acts twice nor loses a decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tillage.errors import EmptyPoolError, FidelityGateError, InputError
from tillage.loops.active_learning import (
    _accuracy,
    _fit,
    _target,
    _trainer,
    answer_simulated,
    own_selection,
)
from tillage.loops.curve import StopRule
from tillage.pipelines.engine import context, wait_for
from tillage.pipelines.steps import pipeline, step

if TYPE_CHECKING:
    import pyarrow as pa

    from tillage.repo import Repo

MIN_GAIN = StopRule.min_gain
"""The default least gain in the evaluation metric that merges a round's branch: the
same 0.001 the stop rule counts as progress (a tenth of a point of accuracy), so
that a tie, or a change of less than one record in a thousand, is not merged."""

WORKFLOWS: dict[str, tuple[str, str]] = {
    "relabel_errors": ("label_error", "relabel"),
    "remove_low_value": ("low_value", "remove"),
    "generate_for_weakest_slice": ("slice_targeted", "generate"),
}
"""Workflow -> (selection strategy, action)."""


@dataclass(frozen=True)
class Decision:
    """What one round of an improve loop did, and whether its branch was merged.

    Attributes:
        round: the round number (0, 1, ...).
        action: ``relabel``, ``remove`` or ``generate``.
        selection: the selection the round acted on (None: nothing was selected).
        records: how many records it selected.
        branch: the branch the action committed to (None: nothing was committed).
        before: the metric of the model trained on the target branch.
        after: the metric of the model trained on ``branch`` (None: not trained).
        min_gain: the least gain that merges.
        merged: whether ``branch`` was merged into the target.
        why: the reason, as a sentence.
    """

    round: int
    action: str
    selection: str | None
    records: int
    branch: str | None
    before: float
    after: float | None
    min_gain: float
    merged: bool
    why: str

    @property
    def gain(self) -> float | None:
        """``after - before`` (None when there is no after)."""
        return None if self.after is None else self.after - self.before

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready values."""
        return {
            "round": self.round,
            "action": self.action,
            "selection": self.selection,
            "records": self.records,
            "branch": self.branch,
            "before": self.before,
            "after": self.after,
            "gain": self.gain,
            "min_gain": self.min_gain,
            "merged": self.merged,
            "why": self.why,
        }


@dataclass(frozen=True)
class LoopDecisions:
    """The decisions of an improve loop's run, one a round, oldest first."""

    run: str
    workflow: str
    model: str
    decisions: tuple[Decision, ...]

    def text(self) -> str:
        """The decisions as lines of text: one a round, then its reason."""
        if not self.decisions:
            return f"{self.workflow} (run {self.run}): no round has decided yet"
        lines = [
            f"{'round':>5}  {'action':<8}  {'records':>7}  {'before':>7}  {'after':>7}  merged"
        ]
        for d in self.decisions:
            after = f"{d.after:7.4f}" if d.after is not None else f"{'-':>7}"
            lines.append(
                f"{d.round:>5}  {d.action:<8}  {d.records:>7,}  {d.before:7.4f}  {after}  "
                f"{'yes' if d.merged else 'no'}"
            )
            lines.append(f"       {d.why}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The decisions as JSON-ready values."""
        return {
            "run": self.run,
            "workflow": self.workflow,
            "model": self.model,
            "decisions": [d.to_dict() for d in self.decisions],
        }


def _config(
    workflow: str,
    dataset: str,
    model: str,
    train: str,
    features: Sequence[str],
    evaluation: Mapping[str, str],
    *,
    labelset: str | None,
    label: str | None,
    batch: int,
    rounds: int,
    min_gain: float,
    seed: int,
    task: str | None = None,
    simulate: Mapping[str, Any] | None = None,
    generator: str = "gaussian-copula",
    n: int | None = None,
) -> dict[str, Any]:
    """The loop's settings, checked before the first round (a clear error, nothing run)."""
    if batch < 1:
        raise InputError(f"the batch size must be at least 1, not {batch}.")
    if rounds < 1:
        raise InputError(f"rounds must be at least 1, not {rounds}.")
    if min_gain < 0:
        raise InputError(f"min_gain must be >= 0, not {min_gain}.")
    if n is not None and n < 1:
        raise InputError(f"n (records to generate a round) must be at least 1, not {n}.")
    if not features:
        raise InputError("name the feature columns the model reads (features=[...]).")
    if set(evaluation) != {"dataset", "label"}:
        raise InputError(
            "evaluation names the held-out records: {'dataset': NAME, 'label': COLUMN}, "
            f"not {dict(evaluation)!r}."
        )
    if (labelset is None) == (label is None):
        raise InputError(
            "say where the training labels are: labelset=NAME (a label set over the "
            "dataset) or label=COLUMN (a column of it), one of them."
        )
    if simulate is not None and not {"dataset", "label"} <= set(simulate):
        raise InputError(
            "simulate names the gold labels: {'dataset': NAME, 'label': COLUMN, "
            f"'accuracy': 1.0, 'seed': 0}}, not {dict(simulate)!r}."
        )
    strategy, action = WORKFLOWS[workflow]
    return {
        "workflow": workflow,
        "strategy": strategy,
        "action": action,
        "dataset": dataset,
        "labelset": labelset,
        "label": label,
        "task": task,
        "model": model,
        "train": train,
        "features": list(features),
        "evaluation": dict(evaluation),
        "batch": batch,
        "rounds": rounds,
        "min_gain": float(min_gain),
        "seed": seed,
        "simulate": dict(simulate) if simulate is not None else None,
        "generator": generator,
        "n": n,
    }


@pipeline(name="relabel_errors")
def relabel_errors(
    dataset: str,
    labelset: str,
    task: str,
    model: str,
    train: str,
    features: list[str],
    evaluation: dict[str, str],
    batch: int = 50,
    rounds: int = 3,
    min_gain: float = MIN_GAIN,
    seed: int = 0,
    simulate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Relabel the likely label errors of ``labelset`` on a branch; merge it if the model improves.

    Args:
        dataset: the training records (its key names them).
        labelset: the label set over ``dataset`` with the labels to check.
        task: the annotation task over ``labelset`` the records are queued in; the
            answers are made on the round's branch (people annotate there).
        model: the name the model versions are recorded under.
        train: ``FILE.py:NAME`` or ``module:NAME`` of ``train(X, y) -> estimator``.
        features: the columns of ``dataset`` the model reads.
        evaluation: ``{"dataset": NAME, "label": COLUMN}``: the fixed held-out records.
        batch: records relabelled a round.
        rounds: the most rounds.
        min_gain: the least gain in accuracy that merges a round's branch.
        seed: seeds the selections (round ``r`` uses ``seed + r``).
        simulate: ``{"dataset": NAME, "label": COLUMN, "accuracy": 1.0, "seed": 0}``:
            a simulated annotator answers from that gold column.

    Returns:
        ``{"decisions": [...], "stopped": why, "model": model}``.
    """
    cfg = _config(
        "relabel_errors",
        dataset,
        model,
        train,
        features,
        evaluation,
        labelset=labelset,
        label=None,
        batch=batch,
        rounds=rounds,
        min_gain=min_gain,
        seed=seed,
        task=task,
        simulate=simulate,
    )
    return _improve(cfg)


@pipeline(name="remove_low_value")
def remove_low_value(
    dataset: str,
    model: str,
    train: str,
    features: list[str],
    evaluation: dict[str, str],
    labelset: str | None = None,
    label: str | None = None,
    batch: int = 50,
    rounds: int = 3,
    min_gain: float = MIN_GAIN,
    seed: int = 0,
) -> dict[str, Any]:
    """Remove the lowest-valued records on a branch; merge it if the model improves.

    Args:
        dataset: the training records.
        model, train, features, evaluation: as for `relabel_errors`.
        labelset: a label set over ``dataset`` holding the labels; or
        label: a column of ``dataset`` holding them.
        batch: records removed a round.
        rounds, min_gain, seed: as for `relabel_errors`.

    Returns:
        ``{"decisions": [...], "stopped": why, "model": model}``.
    """
    cfg = _config(
        "remove_low_value",
        dataset,
        model,
        train,
        features,
        evaluation,
        labelset=labelset,
        label=label,
        batch=batch,
        rounds=rounds,
        min_gain=min_gain,
        seed=seed,
    )
    return _improve(cfg)


@pipeline(name="generate_for_weakest_slice")
def generate_for_weakest_slice(
    dataset: str,
    label: str,
    model: str,
    train: str,
    features: list[str],
    evaluation: dict[str, str],
    batch: int = 50,
    n: int | None = None,
    generator: str = "gaussian-copula",
    rounds: int = 3,
    min_gain: float = MIN_GAIN,
    seed: int = 0,
) -> dict[str, Any]:
    """Generate records like those of the weakest slice on a branch; merge it if the model improves.

    The weakest slice is the one of highest impact that error analysis finds on the
    evaluation set (`repo.models.slices`); up to ``batch`` training records in it
    are the generator's examples. A batch the fidelity gate refuses is the round's
    decision (not merged, both numbers given), not a failure of the run.

    Args:
        dataset: the training records, with their label in column ``label``.
        label: the label column (generated records get one too).
        model, train, features, evaluation: as for `relabel_errors`.
        batch: real records the generator learns from a round.
        n: records generated a round (default: ``batch``).
        generator: ``gaussian-copula`` or ``smote-nc``.
        rounds, min_gain, seed: as for `relabel_errors`.

    Returns:
        ``{"decisions": [...], "stopped": why, "model": model}``.
    """
    cfg = _config(
        "generate_for_weakest_slice",
        dataset,
        model,
        train,
        features,
        evaluation,
        labelset=None,
        label=label,
        batch=batch,
        rounds=rounds,
        min_gain=min_gain,
        seed=seed,
        generator=generator,
        n=n,
    )
    return _improve(cfg)


def _improve(cfg: dict[str, Any]) -> dict[str, Any]:
    """The loop's body: rounds of train, select, act on a branch, retrain, decide."""
    decisions: list[dict[str, Any]] = []
    why = f"ran {cfg['rounds']} round(s)"
    for round_ in range(cfg["rounds"]):
        before = _before_round(round_, cfg)
        chosen = _select_round(round_, cfg)
        acted: dict[str, Any] = {"branch": None}
        if chosen["selection"] is not None:
            acted = _act_round(round_, cfg, chosen["selection"])
            if cfg["action"] == "relabel":
                if cfg["simulate"] is not None:
                    _annotate_round(round_, cfg, acted["branch"])
                _wait_on_branch(cfg, acted["branch"], chosen["selection"])
                _aggregate_round(round_, cfg, acted["branch"])
        decision = _decide_round(round_, cfg, before, chosen, acted)
        decisions.append(decision)
        if chosen["selection"] is None:
            why = f"round {round_} had {decision['why']}"
            break
        if not decision["merged"]:
            why = f"round {round_} did not improve the model: {decision['why']}"
            break
    return {"decisions": decisions, "stopped": why, "model": cfg["model"]}


def _round_branch(round_: int) -> str:
    """The branch a round acts on: ``loop/RUN/ROUND``."""
    return f"loop/{context().run_id}/{round_}"


def _training_table(repo: Repo, cfg: dict[str, Any], ref: str | None = None) -> pa.Table:
    """The training records at ``ref`` with their label in column ``label``."""
    import pyarrow.compute as pc

    if cfg["labelset"] is not None:
        table = repo.labels.training_set(cfg["dataset"], cfg["labelset"], ref)
    else:
        column = cfg["label"]
        names = repo.datasets.schema(cfg["dataset"], ref).names
        if column not in names:
            raise InputError(
                f"label column {column!r} is not in dataset {cfg['dataset']!r}; its columns: "
                f"{', '.join(names)}."
            )
        table = repo.read(cfg["dataset"], ref, columns=[*cfg["features"], column])
        table = table.filter(pc.is_valid(table.column(column)))
        table = table.rename_columns([*cfg["features"], "label"])
    if table.num_rows == 0:
        raise InputError(
            f"dataset {cfg['dataset']!r} has no labelled records to train on; label some first."
        )
    return table


def _train_and_evaluate(
    repo: Repo, cfg: dict[str, Any], ref: str, round_: int, phase: str
) -> float:
    """Train on the data at ``ref``, record the model version, return its accuracy on the
    evaluation set (read on the target branch: the same records every round)."""
    table = _training_table(repo, cfg, ref)
    fitted = _fit(_trainer(cfg["train"]), table, cfg["features"])
    metric = _accuracy(repo, fitted, cfg)
    metrics = {
        "accuracy": metric,
        "records": int(table.num_rows),
        "round": round_,
        "phase": phase,
        "run": context().run_id,
    }
    repo.models.record(
        cfg["model"],
        cfg["dataset"],
        ref=ref,
        model=fitted,
        features=cfg["features"],
        labelset=cfg["labelset"],
        metrics=metrics,
    )
    return metric


@step(name="im-before", cache=False)
def _before_round(round_: int, cfg: dict[str, Any]) -> float:
    """Train on the target branch's data and evaluate: the metric to beat."""
    repo = _target()
    return _train_and_evaluate(repo, cfg, context().branch, round_, "before")


@step(name="im-select", cache=False)
def _select_round(round_: int, cfg: dict[str, Any]) -> dict[str, Any]:
    """Select the records to act on, with what the workflow's strategy reads."""
    repo = _target()
    seed = cfg["seed"] + round_
    # A round killed after it selected finds its own selection: never a second one.
    made = own_selection(repo, cfg["dataset"], seed)
    if made is not None:
        return {"selection": made, "records": len(repo.selection.get(made)), "why": ""}
    common: dict[str, Any] = {
        "strategy": cfg["strategy"],
        "n": cfg["batch"],
        "seed": seed,
        "include_labelled": True,
    }
    if cfg["workflow"] == "relabel_errors":
        common.update(model=cfg["model"], labelset=cfg["labelset"], task=cfg["task"])
    elif cfg["workflow"] == "remove_low_value":
        repo.selection.value(
            cfg["dataset"],
            label=cfg["label"],
            labelset=cfg["labelset"],
            columns=cfg["features"],
            seed=seed,
        )
        if cfg["labelset"] is not None:
            common["labelset"] = cfg["labelset"]
    else:
        where, error, text = _weakest_slice(repo, cfg)
        if where is None:
            return {"selection": None, "records": 0, "why": text}
        key = repo.datasets.key(cfg["dataset"])[0]
        from tillage.labels.sets import key_text

        ids = key_text(repo.read(cfg["dataset"], columns=[key], where=where).column(key))
        if len(ids) == 0:
            return {
                "selection": None,
                "records": 0,
                "why": f"no training record is in the weakest slice ({text})",
            }
        common.update(
            where=where,
            extra={"slice_error": dict.fromkeys(ids.to_pylist(), error)},
        )
    try:
        chosen = repo.select(cfg["dataset"], **common)
    except EmptyPoolError as e:
        return {"selection": None, "records": 0, "why": str(e)}
    return {"selection": chosen.id, "records": len(chosen), "why": ""}


def _weakest_slice(repo: Repo, cfg: dict[str, Any]) -> tuple[str | None, float, str]:
    """The ``where`` filter and error of the evaluation set's slice of highest impact,
    by the latest model's predictions on it, and the slice as a sentence."""
    ev = cfg["evaluation"]
    repo.models.predict(cfg["model"], ev["dataset"])
    report = repo.models.slices(
        cfg["model"], ev["dataset"], label=ev["label"], columns=cfg["features"]
    )
    if not report.slices:
        return (
            None,
            0.0,
            f"no slice of {ev['dataset']!r} has an error significantly above the "
            f"overall {report.error:.3g}",
        )
    worst = report.slices[0]
    return worst.where, worst.error, worst.sentence


@step(name="im-act", cache=False)
def _act_round(round_: int, cfg: dict[str, Any], selection: str) -> dict[str, Any]:
    """Apply the workflow's action to the selection on the round's branch.

    A generated batch the fidelity gate refuses is returned as the refusal (nothing
    is written, the branch is not made), not raised.
    """
    repo = _target()
    branch = _round_branch(round_)
    done = [a for a in repo.selection.actions(selection) if a["action"] == cfg["action"]]
    if cfg["action"] == "relabel":
        if branch not in repo.refs.branches():
            repo.refs.create_branch(branch, context().branch)
        on_branch = repo.at(branch, principal=f"job:{context().run_id}")
        if not done:
            on_branch.selection.apply(selection, "relabel", task=cfg["task"])
        return {"branch": branch, "refused": None}
    if done:  # the round was killed after its action committed: that one counts
        return {"branch": done[0].get("branch", branch), "refused": None}
    if branch in repo.refs.branches():
        # Made by an attempt killed before its commit (the commit and the action are
        # recorded together): empty, and in the way of a refusal that leaves no branch.
        repo.refs.delete_branch(branch)
    try:
        if cfg["action"] == "remove":
            repo.selection.apply(selection, "remove", branch=branch)
        else:
            repo.selection.apply(
                selection,
                "generate",
                branch=branch,
                generator=cfg["generator"],
                n=cfg["n"] or cfg["batch"],
                seed=cfg["seed"] + round_,
            )
    except FidelityGateError as e:
        return {"branch": None, "refused": str(e)}
    return {"branch": branch, "refused": None}


@step(name="im-annotate", cache=False)
def _annotate_round(round_: int, cfg: dict[str, Any], branch: str) -> int:
    """The simulated annotator answers the round's records on its branch (one commit)."""
    return answer_simulated(_target().at(branch, principal=f"job:{context().run_id}"), cfg)


def _wait_on_branch(cfg: dict[str, Any], branch: str, selection: str) -> None:
    """Wait until every record of ``selection`` has its annotations on ``branch``."""
    ctx = context()
    on_branch = ctx.repo.at(branch, principal=f"job:{ctx.run_id}")
    task, labelset = cfg["task"], cfg["labelset"]
    wanted = set(on_branch.selection.get(selection).record_ids)

    def check() -> tuple[bool, str]:
        overlap = on_branch.annotation.spec(task).version().overlap
        events = on_branch.labels.sets().events(labelset).to_pylist()
        counts = Counter(
            r["record_id"] for r in events if r["kind"] == "annotator" and r["record_id"] in wanted
        )
        done = sum(1 for r in wanted if counts[r] >= overlap)
        return done >= len(wanted), (
            f"task {task} has {done}/{len(wanted)} of selection {selection} labelled on {branch}"
        )

    wait_for(f"annotations:{task}:{branch}", check)


@step(name="im-aggregate", cache=False)
def _aggregate_round(round_: int, cfg: dict[str, Any], branch: str) -> int:
    """The round's annotations become the label set's current labels on its branch."""
    on_branch = _target().at(branch, principal=f"job:{context().run_id}")
    return len(on_branch.labels.aggregate_annotations(cfg["labelset"]).annotators)


@step(name="im-decide", cache=False)
def _decide_round(
    round_: int,
    cfg: dict[str, Any],
    before: float,
    chosen: dict[str, Any],
    acted: dict[str, Any],
) -> dict[str, Any]:
    """Train on the round's branch, evaluate, and merge it only if the metric improved."""
    repo = _target()
    min_gain = cfg["min_gain"]

    def decided(after: float | None, merged: bool, why: str) -> dict[str, Any]:
        return Decision(
            round=round_,
            action=cfg["action"],
            selection=chosen["selection"],
            records=int(chosen["records"]),
            branch=acted.get("branch"),
            before=before,
            after=after,
            min_gain=min_gain,
            merged=merged,
            why=why,
        ).to_dict()

    if chosen["selection"] is None:
        return decided(None, False, f"nothing to {cfg['action']}: {chosen['why']}")
    if acted.get("refused"):
        return decided(None, False, acted["refused"])
    branch = acted["branch"]
    after = _train_and_evaluate(repo, cfg, branch, round_, "after")
    gain = after - before
    if gain > min_gain:
        # Merging again after a kill finds the branch merged already (up to date).
        repo.merge(
            branch,
            into=context().branch,
            message=f"{cfg['workflow']} round {round_}: accuracy {before:.4f} -> {after:.4f}",
        )
        return decided(after, True, f"accuracy rose by {gain:.4f} (more than {min_gain:g})")
    return decided(
        after,
        False,
        f"accuracy changed by {gain:+.4f}, not more than {min_gain:g}; {branch} is left unmerged",
    )


def loop_decisions(repo: Repo, run_id: str) -> LoopDecisions:
    """The decisions of improve-loop run ``run_id`` so far, one a decided round.

    Raises:
        NoSuchRunError: no run has that id.
        InputError: the run is not an improve loop.
    """
    from tillage.pipelines.engine import Runs

    runs = Runs(repo)
    run = runs.show(run_id)
    model = run.params.get("model")
    if run.pipeline not in WORKFLOWS or not isinstance(model, str):
        raise InputError(
            f"run {run.id} is a run of {run.pipeline!r}, not an improve loop "
            f"({', '.join(WORKFLOWS)})."
        )
    found: list[Decision] = []
    for s in run.steps:
        if s.name == "im-decide" and s.status in ("done", "cached") and s.output:
            value = runs.artifacts.get(s.output, run_id=run.id, step=f"step im-decide (#{s.seq})")
            found.append(Decision(**{k: v for k, v in value.items() if k != "gain"}))
    return LoopDecisions(run.id, run.pipeline, model, tuple(found))
