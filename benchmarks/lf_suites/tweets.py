"""Trump's tweets: Android (his own phone) or iPhone (his staff's), a second suite.

Written from the story alone, not from the project's suite in bench_label_model.py:
until March 2017 Trump tweeted himself from an Android phone, at any hour, angry,
quoting fans and shouting; his staff posted from iPhones in office hours, with
links, pictures, hashtags and event plugs. In March 2017 he switched to an iPhone.
The records and their loading rule are bench_label_model's (8,614 tweets).

A thirteenth function, manual retweets of fans ('"@fan: ...', Trump), was written
with these and dropped before any accuracy was computed: it fires on no record
here (the data set has no such tweets).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from bench_label_model import CLASSES, load_tweets
from lf_suites.suite import Suite, column, vote
from tillage.labels.functions import labeling_function

ANDROID, IPHONE = CLASSES
PUT_DOWNS = frozenset(
    [
        "sad",
        "weak",
        "dishonest",
        "crooked",
        "failing",
        "loser",
        "losers",
        "lightweight",
        "dopey",
        "overrated",
        "clown",
        "dumb",
        "pathetic",
        "fake",
        "phony",
        "disgrace",
        "disgraceful",
        "terrible",
    ]
)
PLUGS = ("join me", "tickets", "tune in", "live", "rally", "tonight at", "watch")
SHOUT = re.compile(r"\b[A-Z]{4,}\b")


@labeling_function(vectorized=True)
def after_switch(batch: pa.Table) -> np.ndarray:
    """From April 2017 on, every phone in the account is an iPhone."""
    return vote(column(batch, "created_at").astype(str) >= "2017-04", IPHONE)


@labeling_function()
def link(t: dict[str, Any]) -> str | None:
    """Links and pictures are staff work."""
    return IPHONE if "http" in t["text"] else None


@labeling_function()
def hashtag(t: dict[str, Any]) -> str | None:
    """Hashtags read like the campaign's social-media team."""
    return IPHONE if "#" in t["text"] else None


@labeling_function()
def exclaims(t: dict[str, Any]) -> str | None:
    """Two or more exclamation marks: Trump's own voice."""
    return ANDROID if t["text"].count("!") >= 2 else None


@labeling_function()
def shouting(t: dict[str, Any]) -> str | None:
    """Two or more words in capitals ('FAKE NEWS', 'MAKE AMERICA'): Trump."""
    return ANDROID if len(SHOUT.findall(t["text"])) >= 2 else None


@labeling_function(vectorized=True)
def night(batch: pa.Table) -> np.ndarray:
    """10 p.m. to 5 a.m. Eastern: nobody on the staff is posting."""
    hour = column(batch, "hour_et")
    return vote((hour >= 22) | (hour < 5), ANDROID)


@labeling_function(vectorized=True)
def dawn(batch: pa.Table) -> np.ndarray:
    """5 to 9 a.m. Eastern: Trump watching the morning shows."""
    hour = column(batch, "hour_et")
    return vote((hour >= 5) & (hour < 9), ANDROID)


@labeling_function(vectorized=True)
def office_hours(batch: pa.Table) -> np.ndarray:
    """11 a.m. to 5 p.m. Eastern: the staff at work."""
    hour = column(batch, "hour_et")
    return vote((hour >= 11) & (hour < 17), IPHONE)


@labeling_function()
def event_plug(t: dict[str, Any]) -> str | None:
    """'Join me', tickets, 'tune in', rallies: announcements the staff posts."""
    text = t["text"].lower()
    return IPHONE if any(p in text for p in PLUGS) else None


@labeling_function()
def put_down(t: dict[str, Any]) -> str | None:
    """Insults ('Sad!', 'failing', 'crooked'): Trump."""
    words = set(re.findall(r"[a-z]+", t["text"].lower()))
    return ANDROID if words & PUT_DOWNS else None


@labeling_function()
def reply(t: dict[str, Any]) -> str | None:
    """Replies to someone: Trump answering people himself."""
    to = t["in_reply_to_user_id_str"]
    return ANDROID if to is not None and to == to else None  # NaN: not a reply


@labeling_function()
def thanks(t: dict[str, Any]) -> str | None:
    """Starts with 'Thank you': staff thanking a state or a crowd."""
    return IPHONE if t["text"].lower().startswith("thank you") else None


SUITE = Suite(
    name="tweets",
    dataset="dslabs::trump_tweets",
    task="which phone sent the tweet: Android (Trump) or iPhone (staff; everyone after March 2017)",
    classes=CLASSES,
    load=load_tweets,
    lfs=(
        after_switch,
        link,
        hashtag,
        exclaims,
        shouting,
        night,
        dawn,
        office_hours,
        event_plug,
        put_down,
        reply,
        thanks,
    ),
)
