"""Durations people type: ``30m``, ``12h``, ``7d``, ``2w`` (alert mutes, grant expiries)."""

from __future__ import annotations

from datetime import timedelta

from tillage.errors import InputError

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` -> a timedelta.

    Raises:
        InputError: not a whole number > 0 followed by one of the units m, h, d, w.
    """
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in _UNITS or not t[:-1].isdigit() or int(t[:-1]) == 0:
        raise InputError(
            f"bad duration {text!r}: use a whole number and a unit, e.g. 30m, 12h, 7d or 2w."
        )
    return timedelta(seconds=int(t[:-1]) * _UNITS[t[-1]])
