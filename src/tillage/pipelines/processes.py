"""Which process executes a run, and whether it still lives.

A run records its process as (pid, host, start token) when it starts or
resumes. A process killed with ``kill -9`` cannot mark its run as ended, so
readers ask `is_gone`: on the same host, the pid no longer exists, or it now
belongs to another process (the start token differs: pids are reused). On
Linux the start token is the boot id with the process's start time in clock
ticks (``/proc/PID/stat``), unique per process; elsewhere there is none and
only the pid is checked. A run executed on another host cannot be checked
from here and is taken to be alive.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def host() -> str:
    """This machine's name, as runs record it."""
    return socket.gethostname()


def start_token(pid: int) -> str | None:
    """What tells process ``pid`` apart from a later one with the same pid (Linux), or None."""
    found = _stat(pid)
    return found[1] if found else None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start token) of a process from ``/proc`` (Linux), or None."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rsplit(")", 1)[1].split()
    # fields[0] is field 3 of stat (the state), fields[19] field 22 (start time in ticks).
    return fields[0], f"{boot}:{fields[19]}"


def this_process() -> tuple[int, str, str | None]:
    """(pid, host, start token) of the calling process."""
    pid = os.getpid()
    return pid, host(), start_token(pid)


def is_gone(pid: int | None, on_host: str | None, token: str | None) -> bool:
    """Whether the process recorded as (pid, host, token) has certainly ended."""
    if pid is None or on_host != host():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, and someone else's
    found = _stat(pid)
    if found is None:
        return False
    state, now = found
    return state == "Z" or (token is not None and now != token)  # Z: killed, not yet reaped
