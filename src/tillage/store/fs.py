"""The file system's failures as tillage errors, and undoing a failed write's files.

A write that fails half way (a full disk, a revoked permission) has staged new
Lance files that no commit will ever pin. They are harmless (the next write
and `gc` ignore or delete them), but a full disk stays full and the repository
is not as it was, so the writer removes them at once: every file under
``tables/`` modified since the write began (by the wall clock) that no landed
commit recorded. Where the file system stamps times from a coarser clock, a
file made in the write's first milliseconds may be left behind: harmless, as
above, and never the other way round (a file older than the write deleted).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from pathlib import Path

from tillage.errors import DiskFullError, ReadOnlyRepositoryError, StorageError, TillageError

_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
# Lance reports the OS error only in its message: "... (os error 28)".
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def environment_error(exc: BaseException, where: Path) -> TillageError | None:
    """The tillage error for a failure of the operating system (raised by Python or by
    Lance), or None if ``exc`` is not one."""
    if isinstance(exc, TillageError) or not isinstance(exc, Exception):
        return None
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:  # Lance raises OSError, or ValueError from Arrow, with the code inside
        m = _OS_ERROR.search(str(exc))
        code = int(m.group(1)) if m else None
    filename = exc.filename if isinstance(exc, OSError) else None
    path = str(filename or where)
    if code in _FULL:
        return DiskFullError(path)
    if code == errno.EFBIG:
        return StorageError(
            path,
            "a file would grow past this process's file-size limit",
            "Raise the limit (`ulimit -f`) and run the command again.",
        )
    if code in _READ_ONLY:
        return ReadOnlyRepositoryError(path, os.strerror(code).lower())
    return None


def discard_new_files(
    root: Path, since_ns: int, keep: Iterable[Path], restore: dict[Path, bytes]
) -> int:
    """Delete the files under ``root`` modified at or after ``since_ns`` except ``keep``,
    put back the saved content of ``restore``'s files, and remove folders this
    left empty; return how many files were deleted."""
    kept = set(keep) | set(restore)
    emptied: set[Path] = set()
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                if path in kept or path.lstat().st_mtime_ns < since_ns:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
            emptied.add(path.parent)
    for path, data in restore.items():
        path.write_bytes(data)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break
            folder = folder.parent
    return removed
