"""Draining the alert outbox: deliver queued alert events to their sinks, with retries.

A commit that opens or updates alerts queues one outbox row per (event, sink)
in its own catalog transaction (`Monitor.record`). Delivery happens after the
commit, here, from three places: right after the command that committed (with
a small time budget, so a sink that is down costs the command about
`COMMAND_BUDGET` seconds at most), from the pipelines worker on every tick,
and by hand (``tillage alerts deliver``).

Each row is claimed before it is sent (`MonitoringStore.claim`, a conditional
UPDATE), so concurrent drainers never send one row twice; delivery is at least
once only where a drainer dies mid-send and its claim expires (`LEASE`). Within
one try a webhook retries by itself (urllib3's ``Retry``); a row whose try
failed waits `RETRY_BASE` seconds, doubling up to `RETRY_MAX`, and after
`MAX_ATTEMPTS` tries it is ``dead``: shown by ``tillage alerts`` and revived by
``tillage alerts deliver --retry-dead``. Once a sink has failed in a pass its
other rows wait for the next pass, so one dead webhook costs one timeout per
pass, not one per alert.

The constants say what they mean, not what a measurement preferred: with them
a receiver may be down for about 4 hours (30 s + 1 + 2 + 4 + 8 + 16 + 32 min
+ 1 h + 1 h + 1 h of waits) before an event is given up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tillage.quality.sinks import Sink, sink_key
from tillage.store.monitoring import MonitoringStore

__all__ = ["COMMAND_BUDGET", "MAX_ATTEMPTS", "DeliveryReport", "drain", "queue"]

COMMAND_BUDGET = 1.5
"""Seconds a command spends delivering after its commit; the worker has no budget."""
MAX_ATTEMPTS = 10
"""Tries of one row before it is dead."""
RETRY_BASE = 30.0
"""Seconds before a failed row is due again; doubles with each try."""
RETRY_MAX = 3600.0
"""The longest wait between two tries of one row."""
LEASE = timedelta(minutes=10)
"""A claim older than this belongs to a drainer that died: another may take the row.
Longer than the longest try of one webhook (4 tries of 5 s, waits and Retry-After)."""
KEEP_DELIVERED = timedelta(days=7)
"""Delivered rows are kept this long (to see what went out), then pruned."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass over the outbox did.

    Attributes:
        delivered: rows sent.
        retrying: rows that failed this time and will be tried again.
        dead: rows that failed for the last time (`MAX_ATTEMPTS`).
        waiting: rows left for a later pass (the time budget was spent, or their
            sink failed earlier in this pass).
        errors: one message per failed row.
    """

    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    waiting: int = 0
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "retrying": self.retrying,
            "dead": self.dead,
            "waiting": self.waiting,
            "errors": list(self.errors),
        }


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def queue(
    conn: Any,
    sinks: Sequence[Sink],
    event: Mapping[str, Any],
    *,
    alert_id: int | None,
    commit_id: str | None,
) -> None:
    """Queue ``event`` for every sink in the caller's transaction (the commit's).

    Each row's event carries its own ``delivery`` id, sent again on every try
    (webhooks put it in ``X-Tillage-Delivery``) so receivers can drop repeats.
    """
    now = _stamp(datetime.now(UTC))
    for sink in sinks:
        MonitoringStore.put_outbox(
            conn,
            alert_id=alert_id,
            commit_id=commit_id,
            sink=sink_key(sink),
            sink_name=sink.name,
            event={**event, "delivery": uuid.uuid4().hex},
            now=now,
        )


def _within(sink: Sink, seconds: float) -> Sink:
    """``sink`` limited to one quick try of at most ``seconds`` (if it can be limited)."""
    limit = getattr(sink, "within", None)
    return limit(seconds) if callable(limit) else sink


def _retry_at(now: datetime, attempts: int) -> datetime:
    wait = min(RETRY_MAX, RETRY_BASE * 2.0 ** max(0, attempts - 1))
    return now + timedelta(seconds=wait)


def drain(
    store: MonitoringStore,
    sinks: Sequence[Sink],
    *,
    budget: float | None = None,
    due_only: bool = True,
) -> DeliveryReport:
    """Deliver what the outbox holds, oldest first.

    Args:
        store: the catalog's monitoring tables.
        sinks: the configured sinks; a row whose sink is no longer configured is dead.
        budget: seconds to spend at most (each try is cut to what is left, without
            retries inside it); None: no limit, and webhooks retry as configured.
        due_only: only rows whose wait after a failed try is over (False: every
            pending row, as when someone asks for delivery by hand).

    Returns:
        What was delivered, retried, given up and left for later.
    """
    deadline = None if budget is None else time.monotonic() + budget
    drainer = uuid.uuid4().hex
    by_key = {sink_key(s): s for s in sinks}
    failed: set[str] = set()
    delivered = retrying = dead = waiting = 0
    errors: list[str] = []
    start = datetime.now(UTC)
    rows = store.claimable(_stamp(start), _stamp(start - LEASE), due_only=due_only)
    for row in rows:
        left = None if deadline is None else deadline - time.monotonic()
        if row.sink in failed or (left is not None and left <= 0):
            waiting += 1
            continue
        now = datetime.now(UTC)
        if not store.claim(row.id, drainer, _stamp(now), _stamp(now - LEASE), due_only=due_only):
            continue  # another drainer has it
        attempts = row.attempts + 1
        sink = by_key.get(row.sink)
        try:
            if sink is None:
                raise LookupError(
                    f"{row.sink_name} is no longer in quality.sinks of .tillage/config.yaml"
                )
            (sink if left is None else _within(sink, left)).send(row.event)
        except Exception as err:
            if sink is not None:  # (no sink, no cost: give up every such row at once)
                failed.add(row.sink)
            later = datetime.now(UTC)
            subject = f"alert #{row.alert_id}" if row.alert_id is not None else "an event"
            if sink is None or attempts >= MAX_ATTEMPTS:
                dead += 1
                store.finish(row.id, drainer, "dead", now=_stamp(later), error=str(err))
                errors.append(
                    f"{subject} was not delivered and is given up after {attempts} "
                    f"tries: {err}. Fix the sink, then `tillage alerts deliver --retry-dead`."
                )
            else:
                retrying += 1
                store.finish(
                    row.id,
                    drainer,
                    "pending",
                    now=_stamp(later),
                    error=str(err),
                    next_try_at=_stamp(_retry_at(later, attempts)),
                )
                errors.append(
                    f"{subject} is not delivered yet (try {attempts} of {MAX_ATTEMPTS}): "
                    f"{err} It stays queued; `tillage alerts deliver` tries again now."
                )
            continue
        delivered += 1
        store.finish(row.id, drainer, "delivered", now=_stamp(datetime.now(UTC)))
    if budget is None:
        store.prune_delivered(_stamp(start - KEEP_DELIVERED))
    return DeliveryReport(delivered, retrying, dead, waiting, tuple(errors))
