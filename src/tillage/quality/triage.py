"""Triage: attach each finding's model importance, set its severity, hide what does not matter.

A drift alert on a column the model ignores is the alert people learn to
silence. When a model trained on the dataset has recorded feature importances,
drift on columns below ``min_importance`` of the total is suppressed (still
listed with ``--all``); schema findings are never suppressed, because a broken
contract matters whatever the model uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tillage.core.findings import Finding, Importance

_SCHEMA_TWIN = {"missing_ratio": "missing", "new_values": "domain"}


def importances(model: str, values: Mapping[str, float]) -> dict[str, Importance]:
    """Column -> its `Importance`, ranked by absolute value (1 = most important)."""
    ranked = sorted(values.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return {
        col: Importance(model=model, rank=i + 1, of=len(ranked), value=float(v))
        for i, (col, v) in enumerate(ranked)
    }


def triage(
    findings: Sequence[Finding],
    ranked: Mapping[str, Importance] | None,
    *,
    suppress_unimportant: bool = True,
    min_importance: float = 0.01,
) -> list[Finding]:
    """Findings with importance and severity set, most pressing first.

    A drift finding that repeats a schema finding on the same column (a missing
    ratio above the schema's, values outside its domain) is dropped.

    Order: blocking findings, then unsuppressed ones by importance rank (columns
    the model does not use last) and effect size, then the suppressed ones.
    """
    total = sum(abs(i.value) for i in ranked.values()) if ranked else 0.0
    out: list[Finding] = []
    # A broken schema rule already says what a drift finding of the same sort would.
    broken = {(f.column, f.kind) for f in findings if f.check == "schema"}
    for f in findings:
        if f.check == "drift" and (f.column, _SCHEMA_TWIN.get(f.kind)) in broken:
            continue
        imp = ranked.get(f.column) if ranked and f.column else None
        f = f.with_(importance=imp)
        if f.check == "drift" and ranked and suppress_unimportant:
            share = abs(imp.value) / total if imp and total > 0 else 0.0
            if share < min_importance:
                f = f.with_(suppressed=True, severity="info")
        out.append(f)

    def order(f: Finding) -> tuple[int, int, int, float, str, str]:
        rank = f.importance.rank if f.importance else 10**9
        return (
            int(f.suppressed),
            0 if f.severity == "block" else 1,
            rank,
            -f.effect,
            f.column or "",
            f.kind,
        )

    return sorted(out, key=order)
