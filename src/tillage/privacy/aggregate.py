"""Aggregate views: exact group-by counts, sums and means with a minimum group size.

A group smaller than the policy's ``min_group_size`` (counted in privacy units:
rows, or distinct values of the unit column) is suppressed: it is not shown,
and the view says how many groups were suppressed. It also says how many rows
they held, unless that number is itself below the minimum (then it could name
the few people in them). Aggregates are exact, not DP: the policy allows them
as they are, and their protection is the group size alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

MEASURES = ("count", "sum", "mean")


@dataclass(frozen=True)
class AggregateView:
    """The groups of an aggregate view that may be shown, and what was suppressed.

    Attributes:
        groups: one mapping per shown group: the ``by`` values, ``count`` (rows),
            and ``sum_<col>`` / ``mean_<col>`` as asked.
        suppressed_groups: how many groups were below the minimum size.
        suppressed_rows: the rows those groups held (None: fewer than the minimum,
            so not shown either).
    """

    dataset: str
    commit: str
    by: tuple[str, ...]
    measures: tuple[tuple[str, str | None], ...]
    min_group_size: int
    unit: str
    groups: list[dict[str, Any]]
    suppressed_groups: int
    suppressed_rows: int | None
    principal: str

    def to_dict(self) -> dict[str, Any]:
        """The view as JSON-ready values."""
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "by": list(self.by),
            "measures": [{"measure": m, "column": c} for m, c in self.measures],
            "min_group_size": self.min_group_size,
            "unit": self.unit,
            "groups": self.groups,
            "suppressed_groups": self.suppressed_groups,
            "suppressed_rows": self.suppressed_rows,
            "principal": self.principal,
        }


def parse_measures(
    measures: Mapping[str, str | Sequence[str] | None] | None,
) -> tuple[tuple[str, str | None], ...]:
    """``measures`` as (measure, column) pairs; default: the count.

    Raises:
        InputError: an unknown measure, or a sum or mean without a column.
    """
    pairs: list[tuple[str, str | None]] = []
    for name, cols in (measures or {"count": None}).items():
        if name not in MEASURES:
            raise InputError(
                f"unknown aggregate measure {name!r}; measures: {', '.join(MEASURES)}."
            )
        if name == "count":
            pairs.append(("count", None))
            continue
        named = [cols] if isinstance(cols, str) else list(cols or [])
        if not named:
            raise InputError(f"the {name} measure needs a column, e.g. {{{name!r}: 'income'}}.")
        pairs.extend((name, c) for c in named)
    if ("count", None) not in pairs:
        pairs.insert(0, ("count", None))  # the group size is always shown with a group
    return tuple(dict.fromkeys(pairs))


def aggregate(
    table: pa.Table,
    by: Sequence[str],
    measures: Sequence[tuple[str, str | None]],
    min_group_size: int,
    unit: str | None,
) -> tuple[list[dict[str, Any]], int, int | None]:
    """The groups of ``table`` by ``by`` at least ``min_group_size`` units large, the
    number suppressed, and the rows they held (None when that is below the minimum).

    Raises:
        InputError: a sum or mean of a column that is not numeric.
    """
    for measure, col in measures:
        if col is not None and not _numeric(table.schema.field(col).type):
            raise InputError(
                f"column {col!r} is not numeric, so it has no {measure}; "
                "aggregate it with the count only, or group by it."
            )
    wanted = [(c, m) for m, c in measures if c is not None]
    if by:
        aggs: list[tuple[Any, str]] = [([], "count_all"), *wanted]
        if unit is not None:
            aggs.append((unit, "count_distinct"))
        grouped = table.group_by(list(by), use_threads=False).aggregate(aggs)
    else:
        grouped = _whole_table(table, wanted, unit)
    shown: list[dict[str, Any]] = []
    suppressed_groups = suppressed_rows = 0
    for row in grouped.to_pylist():
        count = int(row["count_all"])
        size = int(row[f"{unit}_count_distinct"]) if unit is not None else count
        if size < min_group_size:
            suppressed_groups += 1
            suppressed_rows += count
            continue
        group = {k: row[k] for k in by}
        group["count"] = count
        for c, m in wanted:
            value = row[f"{c}_{m}"]
            group[f"{m}_{c}"] = float(value) if value is not None else None
        shown.append(group)
    shown.sort(key=lambda g: tuple(str(g[k]) for k in by))
    few = 0 < suppressed_rows < min_group_size
    hidden_rows = None if few else suppressed_rows
    return shown, suppressed_groups, hidden_rows


def _whole_table(table: pa.Table, wanted: list[tuple[str, str]], unit: str | None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    row: dict[str, Any] = {"count_all": table.num_rows}
    for c, m in wanted:
        row[f"{c}_{m}"] = (pc.sum if m == "sum" else pc.mean)(table.column(c)).as_py()
    if unit is not None:
        row[f"{unit}_count_distinct"] = pc.count_distinct(table.column(unit)).as_py()
    return pa.Table.from_pylist([row])


def _numeric(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))
