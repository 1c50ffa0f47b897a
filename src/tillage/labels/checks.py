"""Checks for label sets: what a write did to the labels, worded for labels.

A label set is a table of label events, and each write comes from one source
(an import, a labeling-function run, a model, an annotator, an aggregate). The
data checks (profile drift, missing shares, top values, schema domains) would
compare those sources with each other; a label set gets these checks instead,
each comparing the label set before a write with the label set after it:

- ``label_share``: a class's share of the labelled records moved;
- ``annotator_agreement``: an annotator agrees with the aggregate of the
  annotations of their records (`labels aggregate`) much less than before;
- ``lf_coverage``: a labeling function fires on far fewer records than on its
  previous run.

Writes of annotations alone are not checked: one annotation moves no share,
and annotations become labels when they are aggregated (`labels aggregate`),
which is checked. That keeps an annotator's submit from reading the label set.

Pure: pyarrow and numpy on plain tables; the repository hands over the events
(`tillage.api.quality`) and stores the findings as alerts like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.findings import Finding

#: Shares over fewer labelled records are not compared: a share of 50 records
#: already has a standard error of up to 7 points.
MIN_LABELS = 50
#: A class's share must move by two standard errors of a share at 50% over
#: MIN_LABELS records (about 14 points): less is what sampling alone does.
SHARE_SHIFT = 2 * 0.5 / math.sqrt(MIN_LABELS)
#: An annotator's agreement is compared only over this many of their records
#: with an aggregate label, before and after.
MIN_ANNOTATIONS = 25
#: Agreement must fall by two standard errors of a share at 50% over
#: MIN_ANNOTATIONS records (20 points) to speak.
AGREEMENT_DROP = 2 * 0.5 / math.sqrt(MIN_ANNOTATIONS)
#: A function's previous run must have voted on this many records: coverage from
#: fewer votes says little about the next run.
MIN_VOTES = 25
#: Coverage "collapses" when it falls below this fraction of the previous run's:
#: a function whose input broke (a renamed column, a new text format) fires
#: far less, not a little less, while a change in the data's mix moves it less.
COLLAPSE = 0.25

#: The source of the label model's labels (`lf apply`): an aggregate of functions, not
#: of annotators, so annotators are not measured against it.
LABEL_MODEL = "label-model"

#: The event columns the checks read.
COLUMNS = ("record_id", "label", "kind", "source", "created_at")


def wants_check(batch: pa.Table) -> bool:
    """Whether a write of ``batch`` (label events) is checked: not annotations alone."""
    if batch.num_rows == 0 or "kind" not in batch.column_names:
        return False
    return not pc.all(pc.equal(batch.column("kind"), "annotator")).as_py()


def current_labels(events: pa.Table) -> pa.Table:
    """One row per record: its latest ``aggregate`` event, else its latest event of any kind.

    The label set's rule for a record's current label (see `tillage.labels.sets`);
    later rows win ties of time, as a stable sort keeps them.
    """
    if events.num_rows == 0:
        return events
    rank = pc.cast(pc.equal(events.column("kind"), "aggregate"), pa.int8())
    order = pc.sort_indices(
        events.append_column("__aggregate", rank),
        sort_keys=[
            ("record_id", "ascending"),
            ("__aggregate", "ascending"),
            ("created_at", "ascending"),
        ],
    )
    return events.take(order).filter(_last_of_runs(events.column("record_id").take(order)))


def compare(
    before: pa.Table,
    batch: pa.Table,
    *,
    labelset: str,
    records: int,
    reference: str,
) -> list[Finding]:
    """The label findings of writing ``batch`` onto a label set whose events were ``before``.

    Args:
        before: the label set's events before the write (at least `COLUMNS`).
        batch: the events written.
        labelset: the label set's name (the findings' dataset).
        records: how many records the labelled dataset has (coverage's denominator).
        reference: how the findings name the version before, e.g. ``source at 2066a4313f68``.
    """
    if not wants_check(batch):
        return []
    old = before.select(list(COLUMNS))
    after = pa.concat_tables([old, batch.select(list(COLUMNS)).cast(old.schema)])
    now, then = current_labels(after), current_labels(old)
    found = _shares(_Summary.of(then), _Summary.of(now), labelset, reference)
    found += _agreement(old, after, labelset, reference)
    found += _coverage(old, after, labelset, records, reference)
    return found


@dataclass(frozen=True)
class _Summary:
    """Labelled records and the count of each label among them."""

    labelled: int
    counts: dict[str, int]

    @classmethod
    def of(cls, current: pa.Table) -> _Summary:
        labels = current.column("label").drop_null()
        counts = {str(r["values"]): int(r["counts"]) for r in pc.value_counts(labels).to_pylist()}
        return cls(len(labels), counts)


def _shares(then: _Summary, now: _Summary, labelset: str, reference: str) -> list[Finding]:
    if then.labelled < MIN_LABELS or now.labelled < MIN_LABELS:
        return []
    found = []
    for label in sorted(set(then.counts) | set(now.counts)):
        a, b = then.counts.get(label, 0), now.counts.get(label, 0)
        share_a, share_b = a / then.labelled, b / now.labelled
        if abs(share_b - share_a) < SHARE_SHIFT:
            continue
        found.append(
            Finding(
                dataset=labelset,
                column=f"label:{label}",
                check="labels",
                kind="label_share",
                message=(
                    f"label {label!r} went from {share_a:.1%} to {share_b:.1%} of labelled "
                    f"records between {reference} and this write ({a:,} of {then.labelled:,} "
                    f"records, now {b:,} of {now.labelled:,})"
                ),
                reference=reference,
                effect=abs(share_b - share_a),
                rows=abs(b - a),
                details={
                    "label": label,
                    "from_share": share_a,
                    "to_share": share_b,
                    "from_count": a,
                    "to_count": b,
                    "from_labelled": then.labelled,
                    "to_labelled": now.labelled,
                    "threshold": SHARE_SHIFT,
                },
            )
        )
    return found


def _agreement_of(events: pa.Table) -> dict[str, tuple[int, int]]:
    """Per annotator: (their records with an aggregate label, those where they agree with it).

    An annotator's label of a record is their latest one; the aggregate is the
    record's latest aggregate of annotations (the label model's labels are not one).
    """
    kind = events.column("kind")
    ann = events.filter(pc.and_(pc.equal(kind, "annotator"), pc.is_valid(events.column("label"))))
    agg = current_labels(
        events.filter(
            pc.and_(pc.equal(kind, "aggregate"), pc.not_equal(events.column("source"), LABEL_MODEL))
        )
    )
    if ann.num_rows == 0 or agg.num_rows == 0:
        return {}
    order = pc.sort_indices(
        ann,
        sort_keys=[
            ("source", "ascending"),
            ("record_id", "ascending"),
            ("created_at", "ascending"),
        ],
    )
    ann = ann.take(order)
    pair = pc.binary_join_element_wise(ann.column("source"), ann.column("record_id"), "\x1f")
    latest = ann.filter(_last_of_runs(pair)).select(["record_id", "source", "label"])
    joined = latest.join(
        agg.select(["record_id", "label"]).rename_columns(["record_id", "aggregate"]),
        keys="record_id",
        join_type="inner",
    )
    if joined.num_rows == 0:
        return {}
    agree = pc.cast(pc.equal(joined.column("label"), joined.column("aggregate")), pa.int64())
    per = (
        joined.append_column("agree", agree)
        .group_by("source")
        .aggregate([("agree", "count"), ("agree", "sum")])
    )
    return {str(r["source"]): (int(r["agree_count"]), int(r["agree_sum"])) for r in per.to_pylist()}


def _agreement(old: pa.Table, after: pa.Table, labelset: str, reference: str) -> list[Finding]:
    before, later = _agreement_of(old), _agreement_of(after)
    found = []
    for name in sorted(set(before) & set(later)):
        (na, ka), (nb, kb) = before[name], later[name]
        if na < MIN_ANNOTATIONS or nb < MIN_ANNOTATIONS:
            continue
        rate_a, rate_b = ka / na, kb / nb
        if rate_a - rate_b < AGREEMENT_DROP:
            continue
        found.append(
            Finding(
                dataset=labelset,
                column=f"annotator:{name}",
                check="labels",
                kind="annotator_agreement",
                message=(
                    f"annotator {name!r} agrees with the aggregate label on {rate_b:.1%} of "
                    f"their records, down from {rate_a:.1%} at {reference} ({kb:,} of {nb:,} "
                    f"records, then {ka:,} of {na:,}): check their recent work or the task's "
                    "instructions"
                ),
                reference=reference,
                effect=rate_a - rate_b,
                rows=nb,
                details={
                    "annotator": name,
                    "from_agreement": rate_a,
                    "to_agreement": rate_b,
                    "from_records": na,
                    "to_records": nb,
                    "threshold": AGREEMENT_DROP,
                },
            )
        )
    return found


def _coverage_of(events: pa.Table) -> dict[str, int]:
    """Per labeling function: the records its latest run voted on.

    A run's votes share one time (`tillage.labels.sets.events` stamps them), so
    a function's latest run is its votes at its latest time. A function that
    fired on no record leaves no vote, so its latest run stays the one before.
    """
    lf = events.filter(pc.equal(events.column("kind"), "lf"))
    if lf.num_rows == 0:
        return {}
    latest = lf.group_by("source").aggregate([("created_at", "max")])
    runs = lf.join(latest, keys="source", join_type="inner")
    runs = runs.filter(pc.equal(runs.column("created_at"), runs.column("created_at_max")))
    per = runs.group_by("source").aggregate([("record_id", "count_distinct")])
    return {str(r["source"]): int(r["record_id_count_distinct"]) for r in per.to_pylist()}


def _coverage(
    old: pa.Table, after: pa.Table, labelset: str, records: int, reference: str
) -> list[Finding]:
    if records <= 0:
        return []
    before, later = _coverage_of(old), _coverage_of(after)
    found = []
    for name in sorted(set(before) & set(later)):
        va, vb = before[name], later[name]
        if va < MIN_VOTES or vb >= COLLAPSE * va:
            continue
        ca, cb = va / records, vb / records
        found.append(
            Finding(
                dataset=labelset,
                column=f"lf:{name}",
                check="labels",
                kind="lf_coverage",
                message=(
                    f"LF {name!r} fired on {ca:.1%} of records at {reference} and {cb:.1%} "
                    f"now ({va:,} then {vb:,} of {records:,} records): has its input changed?"
                ),
                reference=reference,
                effect=ca - cb,
                rows=va - vb,
                details={
                    "function": name,
                    "from_votes": va,
                    "to_votes": vb,
                    "records": records,
                    "from_coverage": ca,
                    "to_coverage": cb,
                    "threshold": COLLAPSE,
                },
            )
        )
    return found


def _last_of_runs(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True at the last of each run of equal neighbours in ``values`` (sorted)."""
    flat = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    n = len(flat)
    last = np.ones(n, dtype=bool)
    if n > 1:
        differs = pc.not_equal(flat.slice(0, n - 1), flat.slice(1))
        last[:-1] = differs.to_numpy(zero_copy_only=False)
    return pa.array(last)
