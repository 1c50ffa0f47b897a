"""Run the disk-full cases on a tmpfs mounted for them: ``python -m bad_input.disk_full DIR``.

Mounting needs a mount namespace of its own (``unshare -m``, as root), so that the
small file system is private to this process and its children and disappears
with them; `test_integrity.py` runs it so, and skips where it cannot.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tillage
from bad_input.cases_integrity import DISK_FULL
from bad_input.harness import check, flights_table


def main(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], check=True)
    for case in DISK_FULL:
        tmp = root / case.id
        with tillage.init(tmp / "proj") as repo:
            repo.ingest("flights", flights_table(range(40)), key="id", message="day 1")
            repo.ingest("flights", flights_table(range(40, 60)), message="day 2")
        check(case, tmp / "proj", tmp)
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        print(f"{case.id}: ok")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
