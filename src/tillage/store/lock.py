"""An inter-process write lock on a local repository (``fcntl.flock``).

Writers to one repository take turns, so concurrent ingests land one after the
other instead of failing. The operating system drops the lock when a process
dies, so a killed writer never leaves the repository locked. Catalogs shared
across machines still get the catalog's compare-and-swap as the final guard.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tillage.errors import LockTimeoutError


@contextmanager
def write_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold the exclusive lock at ``path`` for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeoutError(
                        f"another tillage process has held the write lock {path} for over "
                        f"{timeout:.0f} s; wait for it to finish and run the command again."
                    ) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
