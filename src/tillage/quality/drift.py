"""Drift: what changed between a current and a reference `Profile`, as findings.

A pure function layer: `compare` reads two profiles (no repository, no data)
and returns `Finding` values with ``check="drift"``, sorted by effect (largest
first), then column. The same two profile objects always give the same list.

Each column present on both sides with the same kind is compared one way:

- **categorical** (strings, bools, and numeric columns whose distinct count is
  at most `DriftSettings.max_categories` on both sides): every category with
  a share of at least `DriftSettings.min_share_shift` on either side gets a
  two-proportion z-test on its counts (the real numbers of values on each
  side). Significant moves become ``new_values`` (absent from the reference),
  ``vanished_values`` (absent now), ``share`` (present on both sides), and
  ``top_value`` when the most frequent value changed and the old or the new
  top is among them.
- **numeric** (other ints and floats, and temporal kinds): a two-sample
  Kolmogorov-Smirnov test on the two KLL sketches' CDFs, evaluated at the union
  of both sides' quantile points, gives ``quantiles``.
- **missing values** (nulls and NaN, every compared column): a two-proportion
  z-test gives ``missing_ratio``, raised only when more values are missing than
  in the reference (fewer is the data getting better).
- **values never seen** (string and int columns whose reference counted every
  value): the rows holding values absent from the reference, tested against the
  share the reference predicts (Good-Turing: values seen once / values), give
  ``new_values`` with counts ("dest: 7 values not seen in january, 238 rows
  (0.8%): ...") when the excess is at least `DriftSettings.min_new_share` and
  the rows are more than a handful (`FEW_ROWS`).

A finding needs both statistical support and a practical effect: its p-value,
Bonferroni-corrected over all the tests `compare` ran, is below
`DriftSettings.alpha`, and its effect is at least the matching floor. Sketch
error is charged against the test, never for it: the KS distance is reduced by
both sketches' rank error, and frequent-item counts by their error bounds,
before the p-value is computed. Proportions whose 2x2 table expects fewer than
`EXACT_BELOW` counts in a cell use Fisher's exact test, not the normal
approximation (which would call one row of seven flying to a 0.1% airport a
significant shift). So two samples of the same data give no findings, whatever
their size, and 30 rows against 30 rows need a large shift.

No findings for columns on one side only, of kinds ``mixed``/``other``/``null``,
of different kinds on the two sides (int and float excepted), named in
``skip``, or holding ISO dates or times as text (kind ``time`` in
`tillage.core.kinds`): schema checks report those. Identifier-like columns
(`looks_like_identifier`, on either side, which needs ``ID_MIN_VALUES`` values:
a handful of distinct rows is chance) get the missing-values test alone: their
values only ever say that the ids changed, but ids going missing (cancelled
flights lose their aircraft) is news.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tillage.core.findings import Finding
from tillage.core.jsonable import jsonable
from tillage.core.kinds import ID_UNIQUE_RATIO, MAX_NUMERIC_CATEGORIES, ColumnKind
from tillage.errors import InputError
from tillage.quality.profile import (
    NUMERIC_KINDS,
    ColumnProfile,
    FrequentItem,
    Profile,
)

#: Ranks at which each side's KLL sketch is queried for the KS test's points (0.5% apart).
KS_GRID = tuple(i / 200 for i in range(201))
#: Quantiles reported in ``quantiles`` findings' details (the message shows p05, p50, p95).
REPORTED_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
#: A handful of rows: values never seen in the reference on at most this many rows are no
#: finding, and schema rules broken by this few rows of a large batch are info (schema.py).
FEW_ROWS = 5
#: Proportions are compared exactly (Fisher) when a cell of their 2x2 table expects fewer
#: counts than this: the usual bound for the normal approximation.
EXACT_BELOW = 5.0
#: Values a ``new_values`` finding's details list at most (accepting one widens a domain).
DETAIL_LIMIT = 1000
#: Section of the repository config the settings come from, for error messages.
CONFIG_SECTION = "quality.drift"

_SECONDS_PER_UNIT = {"day": 86400.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_COMPARED_KINDS = NUMERIC_KINDS | {"bool", "string"}
_ALL = 2**31  # "every frequent item", as a count for ColumnProfile.frequent


# -- settings --------------------------------------------------------------------


@dataclass(frozen=True)
class DriftSettings:
    """Thresholds of `compare`; the ``quality.drift`` section of the repository config.

    Attributes:
        alpha: family-wise error rate: a finding's p-value, multiplied by the
            number of tests `compare` ran (Bonferroni), must be below it.
        min_share_shift: smallest absolute move of a category's share (0.05 =
            5 percentage points) worth a finding.
        min_ks: smallest Kolmogorov-Smirnov distance between two numeric
            distributions worth a finding: at some value, the shares of rows
            at or below it differ by this much. KLL ranks are within ~1.3% per
            sketch, so two sketches of the same data can be up to ~2.6% apart
            (random halves of June 2013 measure up to 3%); 0.05 keeps clear of
            that, and the test itself discounts the sketches' error as well.
        min_missing_shift: smallest absolute move of the missing ratio (0.02 =
            2 percentage points) worth a finding ...
        min_missing_odds_ratio: ... and it must also change the odds of a value
            being missing by at least this factor, either way (1.5: 1% -> 3%
            counts, 40% -> 42% does not; symmetric for columns mostly missing).
        max_categories: numeric columns with at most this many distinct values
            on both sides are compared as categories (ratings, codes, months).
        identifier_ratio: int, string and timestamp columns of at least
            ``ID_MIN_VALUES`` values whose distinct count reaches this share of
            them are identifiers and never compared (see `looks_like_identifier`).
        min_range_shift: for a numeric column given an expected range in
            ``compare(ranges=...)``, some quantile (p05..p95) must also move by
            this share of the range's width: a tight distribution moving by a
            hair has a large KS distance but does not matter.
        min_new_share: smallest share of rows holding values never seen in the
            reference, beyond the share the reference itself predicts (Good-Turing,
            see `unseen_share`), worth a ``new_values`` finding (0.005: half a
            percent; a category's own share test needs `min_share_shift`).
        max_listed: values named in one message; the rest are counted.
    """

    alpha: float = 0.01
    min_share_shift: float = 0.05
    min_ks: float = 0.05
    min_missing_shift: float = 0.02
    min_missing_odds_ratio: float = 1.5
    max_categories: int = MAX_NUMERIC_CATEGORIES
    identifier_ratio: float = ID_UNIQUE_RATIO
    min_range_shift: float = 0.01
    min_new_share: float = 0.005
    max_listed: int = 5

    def __post_init__(self) -> None:
        for name, low, high, open_low, example in (
            ("alpha", 0.0, 1.0, True, "0.01"),
            ("min_share_shift", 0.0, 1.0, False, "0.05"),
            ("min_ks", 0.0, 1.0, False, "0.05"),
            ("min_missing_shift", 0.0, 1.0, False, "0.02"),
            ("identifier_ratio", 0.0, 1.0, True, "0.95"),
            ("min_range_shift", 0.0, 1.0, False, "0.01"),
            ("min_new_share", 0.0, 1.0, False, "0.005"),
        ):
            value = _number(name, getattr(self, name), example)
            if not (low < value if open_low else low <= value) or value > high:
                span = f"above {low:g} and at most" if open_low else f"from {low:g} to"
                raise InputError(
                    f"{CONFIG_SECTION}.{name} must be a number {span} {high:g}, "
                    f"got {value!r}; set it to e.g. {example}."
                )
            object.__setattr__(self, name, value)  # YAML's 0 and 1 are ints
        ratio = _number("min_missing_odds_ratio", self.min_missing_odds_ratio, "1.5")
        if not ratio >= 1.0 or math.isinf(ratio):
            raise InputError(
                f"{CONFIG_SECTION}.min_missing_odds_ratio must be a finite number of at "
                f"least 1 (1 = no relative condition), got {ratio!r}; set it to e.g. 1.5."
            )
        object.__setattr__(self, "min_missing_odds_ratio", ratio)
        for name, example in (("max_categories", "20"), ("max_listed", "5")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(
                    f"{CONFIG_SECTION}.{name} must be a whole number of at least 1, "
                    f"got {value!r}; set it to e.g. {example}."
                )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> DriftSettings:
        """Settings from the config's ``quality.drift`` mapping (missing keys: defaults)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InputError(
                f"{CONFIG_SECTION} must be a mapping of settings, e.g. "
                f"{{alpha: 0.01, min_ks: 0.05}}, got {type(raw).__name__}."
            )
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise InputError(
                f"{CONFIG_SECTION} has unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(known)}. Fix or remove them."
            )
        return cls(**{str(k): v for k, v in raw.items()})

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON/YAML-ready; `from_dict` reads it back."""
        return asdict(self)


def _number(name: str, value: Any, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InputError(
            f"{CONFIG_SECTION}.{name} must be a number, got {value!r}; set it to e.g. {example}."
        )
    return float(value)


# -- public helpers --------------------------------------------------------------


def looks_like_identifier(
    column: ColumnProfile, ratio: float = ID_UNIQUE_RATIO, dataset: str | None = None
) -> bool:
    """Whether drift takes a column for an identifier, whose values name things rather
    than measure them (comparing them only ever says that the ids changed): near-unique
    ints, strings or timestamps, or many flat values under an id's name (the rule is
    `tillage.core.kinds.column_kind`'s, with ``ratio`` as the near-unique share)."""
    kind = column.column_kind(dataset, identifier_ratio=ratio, times=False)
    return kind is ColumnKind.IDENTIFIER


def unseen_share(column: ColumnProfile) -> float:
    """Good-Turing estimate of the share of rows holding a value the profile never saw.

    The values seen exactly once over all values (``n1 / n``): how often the next
    row brings a new value, judged by how often the past rows did. 1.0 when the
    profile did not count every value exactly (it cannot tell).
    """
    counts = column.exact_counts()
    if counts is None or column.valid == 0:
        return 1.0
    return sum(1 for c in counts.values() if c == 1) / column.valid


def poisson_upper_p_value(k: float, mean: float) -> float:
    """An upper bound on P(X >= k) for X ~ Poisson(mean) (Chernoff; 1 when k <= mean).

    ``exp(k - mean + k ln(mean / k))``: never smaller than the exact tail, so a
    test using it claims no more than the data supports.
    """
    if k <= mean:
        return 1.0
    if mean <= 0.0:
        return 0.0
    return math.exp(min(0.0, k - mean + k * math.log(mean / k)))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (the asymptotic KS statistic).

    Two series, each used where it converges in a few terms:
    ``1 - sqrt(2 pi)/x * sum exp(-(2k-1)^2 pi^2 / (8 x^2))`` below 1, and
    ``2 * sum (-1)^(k-1) exp(-2 k^2 x^2)`` from 1 on.
    """
    if x <= 0.0:
        return 1.0
    if x < 1.0:
        t = math.pi * math.pi / (8.0 * x * x)
        s = sum(math.exp(-((2 * k - 1) ** 2) * t) for k in range(1, 8))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2.0 * math.pi) / x * s))
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-300 or term < 1e-17 * total:
            break
    return min(1.0, max(0.0, 2.0 * total))


def ks_p_value(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a two-sample KS distance ``d`` between samples of n and m.

    Effective size ``n*m/(n+m)``, with Stephens' small-sample correction
    (``sqrt(ne) + 0.12 + 0.11/sqrt(ne)``), as in Numerical Recipes.
    """
    if n <= 0 or m <= 0:
        return 1.0
    root = math.sqrt(n * m / (n + m))
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * d)


def two_proportion_p_value(c1: float, n1: int, c0: float, n0: int, slack: float = 0.0) -> float:
    """Two-sided p-value that c1/n1 and c0/n0 differ.

    A pooled two-proportion z-test with Yates' continuity correction, while every
    cell of the 2x2 table expects at least `EXACT_BELOW` counts; below that (a
    batch of 7 rows, a value on 0.1% of rows) the normal approximation claims far
    more than the counts support, and Fisher's exact test decides instead.
    ``slack`` (sketch error, as a share) is charged against the difference either
    way: subtracted from it, or moving ``c1`` that much toward the reference.
    """
    if n1 <= 0 or n0 <= 0:
        return 1.0
    pooled = (c1 + c0) / (n1 + n0)
    if min(n1, n0) * min(pooled, 1.0 - pooled) < EXACT_BELOW:
        toward = n1 * c0 / n0
        moved = max(c1 - slack * n1, toward) if c1 > toward else min(c1 + slack * n1, toward)
        return fisher_p_value(round(moved), n1, round(c0), n0)
    continuity = 0.5 * (1.0 / n1 + 1.0 / n0)
    diff = max(0.0, abs(c1 / n1 - c0 / n0) - slack - continuity)
    pooled = (c1 + c0) / (n1 + n0)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0))
    if se == 0.0:
        return 1.0
    return math.erfc(diff / se / math.sqrt(2.0))


def fisher_p_value(c1: int, n1: int, c0: int, n0: int) -> float:
    """Two-sided p-value of Fisher's exact test on the table [[c1, n1-c1], [c0, n0-c0]]:
    the chance, with the margins fixed, of a table at most as likely as this one."""
    total, hits = n1 + n0, c1 + c0
    low, high = max(0, n1 - (total - hits)), min(n1, hits)

    def log_p(x: int) -> float:
        return _log_choose(hits, x) + _log_choose(total - hits, n1 - x) - _log_choose(total, n1)

    observed = log_p(c1) + 1e-9
    p = sum(math.exp(lp) for x in range(low, high + 1) if (lp := log_p(x)) <= observed)
    return min(1.0, p)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# -- compare ---------------------------------------------------------------------


@dataclass
class _Test:
    """One hypothesis test `compare` ran: its raw p-value and whether it clears its floor."""

    column: str
    aspect: str  # "missing", "ks" or "category"
    p: float
    effect: float
    practical: bool
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Column:
    cur: ColumnProfile
    ref: ColumnProfile
    tests: list[_Test]


def compare(
    current: Profile,
    reference: Profile,
    *,
    dataset: str,
    reference_name: str,
    settings: DriftSettings = DriftSettings(),
    skip: Collection[str] = (),
    ranges: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list[Finding]:
    """Drift findings of ``current`` against ``reference`` (see the module doc).

    Args:
        dataset: the dataset both profiles are of, for the findings.
        reference_name: what the reference is (``main~7``, ``window:7``), for messages.
        settings: thresholds; `DriftSettings` documents them.
        skip: columns never compared (identifiers, timestamps; the caller decides).
        ranges: expected ``(low, high)`` of int and float columns (either may be
            None: the observed extreme), e.g. from a schema; a numeric finding on
            such a column must also move a quantile by `DriftSettings.min_range_shift`
            of the width.

    Returns:
        Findings sorted by effect, largest first, then column and kind.
    """
    if isinstance(skip, str):
        raise InputError(
            f"skip must be a collection of column names, got the string {skip!r}; "
            f"pass [{skip!r}] to skip that one column."
        )
    widths = _widths(ranges or {}, current, reference)
    skipped = set(skip)
    columns: list[_Column] = []
    for name, cur in current.columns.items():
        ref = reference.columns.get(name)
        if ref is None or name in skipped or not _comparable(cur, ref):
            continue
        kinds = {_kind(c, settings, dataset) for c in (cur, ref)}
        if ColumnKind.TIME in kinds:  # times as text: schema checks report them
            continue
        tests = _missing_tests(cur, ref, settings)
        if cur.valid and ref.valid and ColumnKind.IDENTIFIER not in kinds:
            tests += _unseen_tests(cur, ref, settings)
            if _categorical(cur, ref, kinds):
                tests += _category_tests(cur, ref, settings)
            elif cur.kind in NUMERIC_KINDS:
                tests += _ks_tests(cur, ref, settings, widths.get(name))
        columns.append(_Column(cur, ref, tests))

    ran = sum(len(c.tests) for c in columns)
    ctx = _Context(dataset, reference_name, settings, ran)
    findings: list[Finding] = []
    for col in columns:
        significant = [t for t in col.tests if t.practical and ctx.corrected(t.p) < settings.alpha]
        if not significant:
            continue
        categories = [t for t in significant if t.aspect == "category"]
        if any(not t.data["reference_count"] for t in categories):  # they name new values
            significant = [t for t in significant if t.aspect != "unseen"]
        for t in significant:
            if t.aspect == "missing":
                findings.append(_missing_finding(ctx, col, t))
            elif t.aspect == "ks":
                findings.append(_ks_finding(ctx, col, t))
            elif t.aspect == "unseen":
                findings.append(_unseen_finding(ctx, col, t))
        if categories:
            findings += _category_findings(ctx, col, categories)
    findings.sort(key=lambda f: (-f.effect, f.column or "", f.kind, f.message))
    return findings


@dataclass(frozen=True)
class _Context:
    dataset: str
    reference: str
    settings: DriftSettings
    tests: int

    def corrected(self, p: float) -> float:
        return min(1.0, p * self.tests)

    def finding(self, column: str, kind: str, message: str, **extra: Any) -> Finding:
        return Finding(
            dataset=self.dataset,
            column=column,
            check="drift",
            kind=kind,
            message=message,
            reference=self.reference,
            **extra,
        )


def _comparable(cur: ColumnProfile, ref: ColumnProfile) -> bool:
    if cur.kind not in _COMPARED_KINDS or ref.kind not in _COMPARED_KINDS:
        return False
    same = (cur.kind, cur.unit) == (ref.kind, ref.unit)
    if not same and {cur.kind, ref.kind} != {"int", "float"}:
        return False
    return cur.count > 0 and ref.count > 0


def _kind(col: ColumnProfile, s: DriftSettings, dataset: str) -> ColumnKind:
    """How drift sees a column: times it was not told to skip as the numbers they are."""
    return col.column_kind(
        dataset, identifier_ratio=s.identifier_ratio, max_categories=s.max_categories, times=False
    )


def _categorical(cur: ColumnProfile, ref: ColumnProfile, kinds: set[ColumnKind]) -> bool:
    """Whether to compare as categories: categorical on both sides, of one type family,
    both tracking frequent items."""
    if kinds != {ColumnKind.CATEGORICAL} or cur.kind != ref.kind:
        return False
    return cur.frequent_sketch is not None and ref.frequent_sketch is not None


def _widths(
    ranges: Mapping[str, tuple[float | None, float | None]],
    current: Profile,
    reference: Profile,
) -> dict[str, float]:
    """Width of each given range, open ends taken from the observed extremes."""
    out: dict[str, float] = {}
    for name, bounds in ranges.items():
        if not isinstance(bounds, tuple | list) or len(bounds) != 2:
            raise InputError(
                f"the range of column {name!r} must be a pair (low, high), got {bounds!r}; "
                "use None for an open end."
            )
        low, high = bounds
        for b in (low, high):
            if b is not None and (
                isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b)
            ):
                raise InputError(
                    f"the range of column {name!r} must hold finite numbers or None, "
                    f"got {bounds!r}."
                )
        if low is not None and high is not None and not low < high:
            raise InputError(
                f"the range of column {name!r} is empty or reversed ({low!r}, {high!r}); "
                "give it as (low, high) with low < high."
            )
        sides = [p.columns[name] for p in (current, reference) if name in p.columns]
        sides = [c for c in sides if c.kind in ("int", "float") and c.raw_min is not None]
        if not sides:
            continue
        lo = float(low) if low is not None else min(float(c.raw_min) for c in sides)
        hi = float(high) if high is not None else max(float(c.raw_max) for c in sides)
        if hi > lo:
            out[name] = hi - lo
    return out


# -- missing values --------------------------------------------------------------


def _missing_tests(cur: ColumnProfile, ref: ColumnProfile, s: DriftSettings) -> list[_Test]:
    """The missing-ratio test; none when no value is missing on either side."""
    c1, n1 = cur.nulls + cur.nan, cur.count
    c0, n0 = ref.nulls + ref.nan, ref.count
    if c1 == 0 and c0 == 0:
        return []
    p1, p0 = c1 / n1, c0 / n0
    shift = abs(p1 - p0)
    # Fewer missing values than before is data getting better, not an alert.
    practical = (
        p1 > p0 and shift >= s.min_missing_shift and _odds_ratio(p1, p0) >= s.min_missing_odds_ratio
    )
    p = two_proportion_p_value(c1, n1, c0, n0)
    data = {"from": p0, "to": p1, "missing": c1, "n": n1, "reference_missing": c0, "m": n0}
    return [_Test(cur.name, "missing", p, shift, practical, data)]


def _odds_ratio(p1: float, p0: float) -> float:
    """How many times the odds changed, either way (inf when one side is 0% or 100%)."""
    if p1 == p0:
        return 1.0
    if p1 in (0.0, 1.0) or p0 in (0.0, 1.0):
        return math.inf
    r = (p1 / (1.0 - p1)) / (p0 / (1.0 - p0))
    return max(r, 1.0 / r)


def _missing_finding(ctx: _Context, col: _Column, t: _Test) -> Finding:
    d = t.data
    message = (
        f"{col.cur.name}: {_pct(d['to'])} missing now, {_pct(d['from'])} in {ctx.reference}"
        f" — {d['missing']:,} of {d['n']:,} rows"
    )
    return ctx.finding(
        col.cur.name,
        "missing_ratio",
        message,
        effect=t.effect,
        p_value=ctx.corrected(t.p),
        rows=d["missing"],
        details={**d, "statistic": "two_proportion_z", "p_raw": t.p, "tests": ctx.tests},
    )


# -- numeric distributions -------------------------------------------------------


def _ks_tests(
    cur: ColumnProfile, ref: ColumnProfile, s: DriftSettings, width: float | None
) -> list[_Test]:
    """Two-sample KS from the KLL sketches, at the union of both sides' quantile points."""
    points = sorted(
        {*cur.kll.get_quantiles(list(KS_GRID), True), *ref.kll.get_quantiles(list(KS_GRID), True)}
    )
    f1 = cur.kll.get_cdf(points, True)
    f0 = ref.kll.get_cdf(points, True)
    d = max(abs(a - b) for a, b in zip(f1[: len(points)], f0[: len(points)], strict=True))
    d = float(min(1.0, max(0.0, d)))
    error = sketch_rank_error(cur) + sketch_rank_error(ref)
    p = ks_p_value(max(0.0, d - error), cur.valid, ref.valid)
    q1 = cur.kll.get_quantiles(list(REPORTED_QUANTILES.values()), True)
    q0 = ref.kll.get_quantiles(list(REPORTED_QUANTILES.values()), True)
    moved = max(abs(a - b) for a, b in zip(q1, q0, strict=True))
    practical = d >= s.min_ks and (width is None or moved >= s.min_range_shift * width)
    data = {"ks": d, "rank_error": error, "raw_from": q0, "raw_to": q1, "range_width": width}
    return [_Test(cur.name, "ks", p, d, practical, data)]


def sketch_rank_error(col: ColumnProfile) -> float:
    """A KLL sketch's rank error, or 0 while it still holds every value exactly."""
    return float(col.rank_error or 0.0) if col.kll.is_estimation_mode() else 0.0


def _ks_finding(ctx: _Context, col: _Column, t: _Test) -> Finding:
    cur, ref = col.cur, col.ref
    names = list(REPORTED_QUANTILES)
    ranks = list(REPORTED_QUANTILES.values())
    before = dict(zip(names, ref.quantiles(ranks) or [], strict=True))
    after = dict(zip(names, cur.quantiles(ranks) or [], strict=True))
    raw0 = dict(zip(names, t.data["raw_from"], strict=True))
    raw1 = dict(zip(names, t.data["raw_to"], strict=True))
    shown = [v for q in ("p05", "p50", "p95") for v in (before[q], after[q])]
    spans = [abs(v.total_seconds()) for v in shown if isinstance(v, dt.timedelta)]
    unit = _duration_unit(max(spans)) if spans else None
    a, b = _fmt(ref, before["p50"], unit), _fmt(cur, after["p50"], unit)
    name, delta = cur.name, raw1["p50"] - raw0["p50"]
    if a == b:
        head = f"{name}: median unchanged at {b}"
    else:
        head = f"{name}: median {_direction(cur, delta)} from {a} to {b}{_shift(cur, delta)}"
    tails = ", ".join(
        f"{label} {_fmt(ref, before[q], unit)} -> {_fmt(cur, after[q], unit)}"
        for label, q in (("p5", "p05"), ("p95", "p95"))
    )
    message = f"{head} ({tails}), KS distance {t.effect:.2f} vs {ctx.reference}"
    details = {
        "statistic": "ks",
        "ks": t.effect,
        "rank_error": t.data["rank_error"],
        "n": cur.valid,
        "m": ref.valid,
        "n_effective": cur.valid * ref.valid / (cur.valid + ref.valid),
        "p_raw": t.p,
        "tests": ctx.tests,
        "unit": cur.unit,
        "from": {k: jsonable(v) for k, v in before.items()},
        "to": {k: jsonable(v) for k, v in after.items()},
    }
    if t.data["range_width"] is not None:
        details["range_width"] = t.data["range_width"]
    return ctx.finding(
        name, "quantiles", message, effect=t.effect, p_value=ctx.corrected(t.p), details=details
    )


def _direction(col: ColumnProfile, delta: float) -> str:
    if col.kind in ("date", "timestamp", "time"):
        return "moved later" if delta > 0 else "moved earlier"
    return "rose" if delta > 0 else "fell"


def _shift(col: ColumnProfile, delta: float) -> str:
    """A temporal median's move as a duration, e.g. `` (+181 d)``; numbers need none."""
    if col.kind not in ("date", "timestamp", "time"):
        return ""
    seconds = delta * _SECONDS_PER_UNIT[col.unit or "s"]
    return f" ({'+' if seconds > 0 else '-'}{_fmt_seconds(abs(seconds))})"


# -- values never seen -----------------------------------------------------------


def _unseen_tests(cur: ColumnProfile, ref: ColumnProfile, s: DriftSettings) -> list[_Test]:
    """Rows of values the reference never had, on a string or int column: a new
    airport among a hundred (``dest``), or miles turned kilometres (``distance``).

    Only where the reference counted every value exactly (else "never seen" cannot be
    told). Under no change, the share of such rows is the reference's Good-Turing
    unseen share (`unseen_share`), taken one singleton high to be safe; the count is
    tested against that Poisson mean with `poisson_upper_p_value`. The current side's
    counts are their guaranteed lower bounds when its sketch is approximate.
    """
    if cur.kind != ref.kind or cur.kind not in ("string", "int"):
        return []
    known = ref.exact_counts()
    current = cur.frequent_rows()
    if known is None or not current:
        return []
    new = sorted(
        ((cur.value_of(k), int(lo)) for k, _, lo, _ in current if k not in known and lo > 0),
        key=lambda vc: (-vc[1], _sort_key(vc[0])),
    )
    if not new:
        return []
    rows = sum(c for _, c in new)
    singletons = sum(1 for c in known.values() if c == 1)
    expected = (singletons + 1) / ref.valid
    mean = expected * cur.valid
    excess = rows / cur.valid - expected
    p = poisson_upper_p_value(rows, mean)
    data = {"values": new, "rows": rows, "n": cur.valid, "m": ref.valid, "expected": expected}
    practical = excess >= s.min_new_share and rows > FEW_ROWS
    return [_Test(cur.name, "unseen", p, max(0.0, excess), practical, data)]


def _unseen_finding(ctx: _Context, col: _Column, t: _Test) -> Finding:
    cur, d, cap = col.cur, t.data, ctx.settings.max_listed
    values: list[tuple[Any, int]] = d["values"]
    listed = ", ".join(f"{_fmt_value(cur, v)} {c:,}" for v, c in values[:cap])
    more = f", and {len(values) - cap:,} more" if len(values) > cap else ""
    word = "value" if len(values) == 1 else "values"
    message = (
        f"{cur.name}: {len(values):,} {word} not seen in {ctx.reference}, "
        f"{d['rows']:,} {'row' if d['rows'] == 1 else 'rows'} ({_pct(d['rows'] / d['n'])}): "
        f"{listed}{more}"
    )
    return ctx.finding(
        cur.name,
        "new_values",
        message,
        effect=t.effect,
        p_value=ctx.corrected(t.p),
        rows=d["rows"],
        details={
            "values": [{"value": jsonable(v), "count": c} for v, c in values[:DETAIL_LIMIT]],
            "truncated": len(values) > DETAIL_LIMIT,
            "distinct": len(values),
            "share": d["rows"] / d["n"],
            "expected_share": d["expected"],
            "n": d["n"],
            "m": d["m"],
            "statistic": "poisson_good_turing",
            "p_raw": t.p,
            "tests": ctx.tests,
        },
    )


# -- categories ------------------------------------------------------------------


def _candidates(col: ColumnProfile, floor: float) -> list[FrequentItem]:
    """A column's frequent items whose share reaches ``floor`` (at least its top one)."""
    keep = col.frequent(_ALL, min_count=floor * col.valid) or []
    return keep or (col.frequent(1) or [])


def _category_tests(cur: ColumnProfile, ref: ColumnProfile, s: DriftSettings) -> list[_Test]:
    now = {f.value: f for f in _candidates(cur, s.min_share_shift)}
    then = {f.value: f for f in _candidates(ref, s.min_share_shift)}
    n1, n0 = cur.valid, ref.valid
    tests: list[_Test] = []
    for value in sorted({*now, *then}, key=_sort_key):
        c1, e1 = _count(cur, now.get(value), value)
        c0, e0 = _count(ref, then.get(value), value)
        p1, p0 = c1 / n1, c0 / n0
        slack = e1 / n1 + e0 / n0
        p = two_proportion_p_value(c1, n1, c0, n0, slack)
        shift = abs(p1 - p0)
        data = {"value": value, "count": c1, "n": n1, "reference_count": c0, "m": n0}
        data |= {"from": p0, "to": p1}
        tests.append(_Test(cur.name, "category", p, shift, shift >= s.min_share_shift, data))
    top1, top0 = next(iter(now), None), next(iter(then), None)
    for t in tests:
        t.data["top"] = (top1, top0)
    return tests


def _count(col: ColumnProfile, item: FrequentItem | None, value: Any) -> tuple[int, int]:
    """(estimated count, width of its error bounds) of ``value`` in ``col``."""
    if item is not None:
        return item.count, item.upper - item.lower
    share = col.share(value)
    if share is None:
        return 0, 0
    n = col.valid
    return round(share.value * n), round((share.upper - share.lower) * n)


def _category_findings(ctx: _Context, col: _Column, tests: list[_Test]) -> list[Finding]:
    cur, name, cap = col.cur, col.cur.name, ctx.settings.max_listed
    out: list[Finding] = []
    by_shift = sorted(tests, key=lambda t: (-t.effect, _sort_key(t.data["value"])))
    new = [t for t in by_shift if t.data["reference_count"] == 0]
    gone = [t for t in by_shift if t.data["count"] == 0]
    moved = [t for t in by_shift if t.data["count"] and t.data["reference_count"]]

    top1, top0 = tests[0].data["top"]
    backing = [t for t in tests if t.data["value"] in (top1, top0)]
    if top1 is not None and top0 is not None and top1 != top0 and backing:
        s1 = _share_of(cur, top1)
        s0 = _share_of(col.ref, top0)
        message = (
            f"{name}: most frequent value is now {_fmt_value(cur, top1)} "
            f"({_pct(s1)} of {_rows_word(cur)}), was {_fmt_value(col.ref, top0)} "
            f"({_pct(s0)}) in {ctx.reference}"
        )
        details = {
            "from": jsonable(top0),
            "to": jsonable(top1),
            "from_share": s0,
            "to_share": s1,
            "from_share_now": _share_of(cur, top0),
            "to_share_before": _share_of(col.ref, top1),
        }
        out.append(_category_finding(ctx, name, "top_value", message, backing, details))
    if new:
        listed = ", ".join(
            f"{_fmt_value(cur, t.data['value'])} ({_pct(t.data['to'])})" for t in new[:cap]
        )
        word = "value" if len(new) == 1 else "values"
        message = f"{name}: new {word} {listed}{_more(new, cap)}, not in {ctx.reference}"
        rows = sum(t.data["count"] for t in new)
        out.append(_category_finding(ctx, name, "new_values", message, new, rows=rows))
    if gone:
        listed = ", ".join(
            f"{_fmt_value(cur, t.data['value'])} ({_pct(t.data['from'])})" for t in gone[:cap]
        )
        verb = "no longer appears" if len(gone) == 1 else "no longer appear"
        word = "value" if len(gone) == 1 else "values"
        message = f"{name}: {word} {listed}{_more(gone, cap)} in {ctx.reference} {verb}"
        out.append(_category_finding(ctx, name, "vanished_values", message, gone))
    if moved:
        listed = ", ".join(
            f"{_fmt_value(cur, t.data['value'])} "
            f"{'rose' if t.data['to'] > t.data['from'] else 'fell'} "
            f"from {_pct(t.data['from'])} to {_pct(t.data['to'])}"
            for t in moved[:cap]
        )
        message = f"{name}: share of {listed}{_more(moved, cap)} vs {ctx.reference}"
        out.append(_category_finding(ctx, name, "share", message, moved))
    return out


def _category_finding(
    ctx: _Context,
    column: str,
    kind: str,
    message: str,
    tests: list[_Test],
    details: dict[str, Any] | None = None,
    rows: int | None = None,
) -> Finding:
    p_raw = min(t.p for t in tests)
    values = [
        {
            "value": jsonable(t.data["value"]),
            "from": t.data["from"],
            "to": t.data["to"],
            "count": t.data["count"],
            "reference_count": t.data["reference_count"],
            "p_raw": t.p,
        }
        for t in tests
    ]
    first = tests[0].data
    return ctx.finding(
        column,
        kind,
        message,
        effect=max(t.effect for t in tests),
        p_value=ctx.corrected(p_raw),
        rows=rows,
        details={
            **(details or {}),
            "values": values,
            "n": first["n"],
            "m": first["m"],
            "statistic": "two_proportion_z",
            "p_raw": p_raw,
            "tests": ctx.tests,
        },
    )


def _share_of(col: ColumnProfile, value: Any) -> float:
    share = col.share(value)
    return 0.0 if share is None else share.value


def _more(items: list[_Test], cap: int) -> str:
    return f" and {len(items) - cap} more" if len(items) > cap else ""


def _rows_word(col: ColumnProfile) -> str:
    return "rows" if col.valid == col.count else "non-missing rows"


def _sort_key(value: Any) -> tuple[str, Any]:
    """An order over one column's category values (all of one type), for determinism."""
    return (type(value).__name__, value)


# -- formatting ------------------------------------------------------------------


def _pct(share: float) -> str:
    """A share as a percentage with one decimal; tiny non-zero shares as ``<0.1%``."""
    if 0.0 < share < 0.0005:
        return "<0.1%"
    return f"{share * 100:.1f}%"


def _fmt_number(x: float) -> str:
    """A number for people: integers as such, else about four significant digits."""
    if math.isfinite(x) and float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    a = abs(x)
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 1:
        return f"{x:.4g}"
    return f"{x:.3g}"


def _duration_unit(seconds: float) -> tuple[str, float]:
    """The largest unit in which a duration of ``seconds`` reads as at least 2 of it."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= 2 * size:
            return unit, size
    if seconds >= 1.0:
        return "s", 1.0
    return ("ms", 1e-3) if seconds >= 1e-3 else ("µs", 1e-6)


def _fmt_seconds(seconds: float, unit: tuple[str, float] | None = None) -> str:
    """A duration in ``unit`` (by default the one that suits it), e.g. ``90 min``."""
    name, size = unit or _duration_unit(abs(seconds))
    return f"{_fmt_number(float(f'{seconds / size:.3g}'))} {name}"


def _fmt(col: ColumnProfile, value: Any, unit: tuple[str, float] | None = None) -> str:
    """A value of ``col`` (typed, as the profile gives it) in the column's own units.

    Durations are written in ``unit`` when given, so that values compared in one
    message share a unit.
    """
    if value is None:
        return "none"
    if isinstance(value, dt.timedelta):
        return _fmt_seconds(value.total_seconds(), unit)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _fmt_number(float(value))
    return str(value)


def _fmt_value(col: ColumnProfile, value: Any) -> str:
    """A category value: text quoted, everything else as `_fmt` writes it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _fmt(col, value)
