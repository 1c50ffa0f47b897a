"""An inter-process write lock on a local repository (``fcntl.flock``).

Writers to one repository take turns, so concurrent ingests land one after the
other instead of failing. The operating system drops the lock when a process
dies, so a killed writer never leaves the repository locked. Catalogs shared
across machines still get the catalog's compare-and-swap as the final guard.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tillage.errors import LockTimeoutError, ReadOnlyRepositoryError, StorageError


@contextmanager
def write_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold the exclusive lock at ``path`` for the duration of the block.

    Raises:
        LockTimeoutError: another process held it for longer than ``timeout``.
        StorageError: ``path`` is not a file that can be locked (a folder, say).
        ReadOnlyRepositoryError: this process may not open it for writing.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except IsADirectoryError:
        raise StorageError(
            str(path),
            "the repository's write lock is a folder, not a file",
            f"No tillage process makes it a folder: remove it (rmdir {path!s}, after checking "
            "what is inside) and run the command again.",
        ) from None
    except PermissionError as e:
        raise ReadOnlyRepositoryError(
            str(path), f"cannot open the write lock ({e.strerror})"
        ) from None
    except OSError as e:
        if e.errno == errno.EROFS:
            raise ReadOnlyRepositoryError(str(path), "the file system is read-only") from None
        raise StorageError(
            str(path), f"cannot open the write lock ({e.strerror})", "Check the file."
        ) from None
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
