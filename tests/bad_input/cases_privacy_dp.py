"""DP queries, aggregates and budgets (``tillage privacy query|aggregate|budget``) given bad input.

The base project's ``flights`` (id, carrier, origin, dep_delay) is made private by
each case's damage, with a budget of 1 unless a case says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import tillage
from bad_input.harness import Case, Damage

BUDGETED = """
datasets:
  flights:
    budget: 1.0
    columns:
      carrier: {class: quasi_identifier}
"""


def policy(text: str = BUDGETED, *, spend: float = 0.0) -> Damage:
    """Write ``text`` as the policy; then spend ``spend`` of the budget on counts."""

    def damage(project: Path) -> None:
        (project / ".tillage" / "policy.yaml").write_text(text)
        if spend:
            with tillage.open(project) as repo:
                repo.privacy.query("flights", "count", epsilon=spend)

    return damage


def query(*args: str) -> list[str]:
    return ["privacy", "query", "flights", *args]


CASES = [
    Case(
        "dp-sum-without-bounds",
        query("sum", "dep_delay", "--epsilon", "1"),
        says=["needs clamp bounds", "--bounds LO,HI", "columns.dep_delay.bounds", "nothing"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-epsilon-zero",
        query("count", "--epsilon", "0"),
        says=["epsilon must be a finite number > 0", "--epsilon"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-epsilon-negative",
        query("count", "--epsilon=-1"),
        says=["epsilon must be a finite number > 0, not -1"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-epsilon-nan",
        query("count", "--epsilon", "nan"),
        says=["epsilon must be a finite number > 0, not nan"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-epsilon-not-a-number",
        query("count", "--epsilon", "lots"),
        says=["not 'lots'", "--epsilon 0.5"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-epsilon-missing",
        query("count"),
        says=["needs --epsilon"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-no-budget",
        query("count", "--epsilon", "1"),
        says=["has no privacy budget", "datasets.flights.budget"],
        error="no_budget",
        damage=policy("datasets: {flights: {}}"),
    ),
    Case(
        "dp-not-private",
        query("count", "--epsilon", "1"),
        says=["has no privacy budget"],
        error="no_budget",
    ),
    Case(
        "dp-overspend",
        query("count", "--epsilon", "0.5"),
        says=["spent ε=0.9 of the budget ε=1", "nothing was released"],
        error="budget_exhausted",
        damage=policy(spend=0.9),
    ),
    Case(
        "dp-histogram-without-categories",
        query("histogram", "carrier", "--epsilon", "1"),
        says=["needs its categories", "--categories A,B,C"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-bounds-reversed",
        query("mean", "dep_delay", "--epsilon", "1", "--bounds", "5,1"),
        says=["two finite numbers LO < HI"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-bounds-not-numbers",
        query("mean", "dep_delay", "--epsilon", "1", "--bounds", "low,high"),
        says=["--bounds must be LO,HI", "0,500000"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-sum-of-text",
        query("sum", "carrier", "--epsilon", "1", "--bounds", "0,1"),
        says=["'carrier'", "not numeric"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-unknown-kind",
        query("max", "dep_delay", "--epsilon", "1"),
        says=["unknown DP query kind 'max'", "count, histogram, sum, mean, quantile"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "dp-quantile-alpha-out-of-range",
        query("quantile", "dep_delay", "--epsilon", "1", "--bounds", "0,50", "--alpha", "2"),
        says=["alpha must be a number between 0 and 1"],
        error="dp_query",
        damage=policy(),
    ),
    Case(
        "aggregate-unknown-column",
        ["privacy", "aggregate", "flights", "--by", "gate"],
        says=["unknown column(s) gate", "carrier"],
        error="bad_input",
        damage=policy(),
    ),
    Case(
        "aggregate-mean-of-text",
        ["privacy", "aggregate", "flights", "--by", "origin", "--mean", "carrier"],
        says=["'carrier' is not numeric"],
        error="bad_input",
        damage=policy(),
    ),
    Case(
        "budget-without-one",
        ["privacy", "budget", "flights"],
        says=["has no privacy budget", "datasets.flights.budget"],
        error="no_budget",
        damage=policy("datasets: {flights: {}}"),
    ),
]
