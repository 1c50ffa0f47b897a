"""Findings: one specific, human-readable statement about one column of one dataset.

Schema checks and drift comparisons both produce findings; triage adds how much
the column matters to the model and a severity; the alert store turns findings
that repeat into one alert with the command that accepts or silences it.
A finding always says what changed, from what to what, against which reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tillage.core.policy import DatasetPolicy

Severity = Literal["block", "warn", "info"]
REDACTED = "private column"
# Kinds whose message names columns and types, never values.
_VALUE_FREE_KINDS = frozenset({"column_missing", "column_unexpected", "type"})
SEVERITIES: tuple[str, ...] = ("block", "warn", "info")


@dataclass(frozen=True)
class Importance:
    """A column's importance in a recorded model: ``rank`` of ``of`` features (1 = most)."""

    model: str
    rank: int
    of: int
    value: float

    def __str__(self) -> str:
        return f"importance rank {self.rank} of {self.of}"


@dataclass(frozen=True)
class Finding:
    """One statement about one column (``column`` None: about the whole dataset).

    Attributes:
        dataset: the dataset checked.
        column: the column it is about, or None for dataset-level findings.
        check: ``"schema"`` (a rule of the schema file), ``"drift"`` (a comparison) or
            ``"labels"`` (a label set's checks, `tillage.labels.checks`).
        kind: what was found, stable for automation: ``missing``, ``range``,
            ``domain``, ``type``, ``unique``, ``length``, ``column_missing``,
            ``column_unexpected`` (schema); ``top_value``, ``new_values``,
            ``vanished_values``, ``share``, ``quantiles``, ``missing_ratio`` (drift);
            ``label_share``, ``annotator_agreement``, ``lf_coverage`` (labels).
        message: the sentence people read, with the numbers in it.
        reference: what the data was compared with (schema file, ref, window, model).
        severity: ``block`` stops an ingest, ``warn`` lets it land and opens an alert,
            ``info`` is shown but opens nothing.
        effect: practical effect size on a 0..1 scale (share of rows, KS distance, ...).
        p_value: the test's p-value, already corrected for the columns tested, if any.
        rows: rows affected, where that is countable.
        details: the numbers behind the message (from/to values, counts), JSON-ready.
        importance: the column's importance in the latest model that used it.
        suppressed: True when triage hides it by default (the column does not matter
            to the model); ``--all`` shows it.
        alert_id: the alert this finding opened or updated, once recorded.
    """

    dataset: str
    column: str | None
    check: str
    kind: str
    message: str
    reference: str
    severity: Severity = "warn"
    effect: float = 0.0
    p_value: float | None = None
    rows: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    importance: Importance | None = None
    suppressed: bool = False
    alert_id: int | None = None

    @property
    def subject(self) -> str:
        """``dataset.column`` (or the dataset alone)."""
        return f"{self.dataset}.{self.column}" if self.column else self.dataset

    @property
    def actions(self) -> list[str]:
        """The commands that accept or silence this finding, once it has an alert."""
        if self.alert_id is None:
            return []
        a = self.alert_id
        if self.check == "labels":  # no schema rule to widen: a label change is resolved
            return [f"tillage alerts resolve {a}", f"tillage alerts mute {a} --for 7d"]
        return [f"tillage alerts accept {a}", f"tillage alerts mute {a} --for 7d"]

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def redacted(self, hidden: DatasetPolicy | None) -> Finding:
        """This finding as a principal who may not see ``hidden``'s values sees it.

        A finding on a non-public column of a private dataset (or on the whole
        dataset: a duplicate key names values) keeps its counts, effect and p-value
        and loses the values in its message and details; one whose kind names no
        values (a missing column, a type) and one on a public column stay whole.
        """
        if hidden is None or self.kind in _VALUE_FREE_KINDS:
            return self
        if self.column is not None and not hidden.private_columns([self.column]):
            return self
        rows = f" on {self.rows} row(s)" if self.rows is not None else ""
        return replace(
            self,
            message=(
                f"{self.subject}: {self.check} finding {self.kind!r}{rows}, effect "
                f"{self.effect:.3g}; values not shown ({REDACTED})."
            ),
            details={"redacted": REDACTED},
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """A finding back from its `to_dict` form (as stored in the catalog)."""
        body = {k: v for k, v in d.items() if k != "actions"}
        if isinstance(body.get("importance"), dict):
            body["importance"] = Importance(**body["importance"])
        return cls(**body)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["actions"] = self.actions
        return d


def redact(findings: Iterable[Finding], hidden: DatasetPolicy | None) -> list[Finding]:
    """``findings`` as a principal who may not see ``hidden``'s values sees them."""
    return [f.redacted(hidden) for f in findings]
