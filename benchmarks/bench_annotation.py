"""Annotation at the scale of a team: `next` and `submit` latency, and 20 annotators at once.

The project: 40,000 generated records (``id``, ``text``), a two-class taxonomy, and
one label set holding 100,000 events: 90,000 votes of five labeling functions
(on 18,000 records each) and 10,000 annotations imported by ten annotators
(records 0..9,999). Task ``sides`` (overlap 1, shows ``text``) queues records
0..29,999, so `next` must pass over the 10,000 already annotated; task ``team``
(overlap 1) queues the last 10,000.

Measured, each in a fresh process on the same data:

- latency: ``repo.annotation.next(n=1)`` then ``submit`` of that record, one
  annotator, ``--ops`` times; p50 and p95 of each (the submits that commit the
  pending annotations, one in `FLUSH_EVERY`, included);
- the CLI: one ``tillage annotate next`` and one ``annotate submit``, wall time
  of a fresh process each;
- concurrency: 20 annotator processes take 10 records at a time from ``team``
  and submit each, until none is left; then the label set's annotations of
  ``team``'s records are counted: each record exactly once, none lost.

``--before REV`` runs the latency and CLI parts with the code of an older commit
too (``git archive REV src`` into ``benchmarks/_work``), on its own copy of the same
data, and reports new / old ratios. The old code reads the whole label set for
every `next` and `submit`, so it runs ``--before-ops`` operations only, and its
concurrency part runs on a project it can finish (2,000 records, 5,000 events,
``--before-annotators`` processes on 200 records).

Usage: python benchmarks/bench_annotation.py [--quick] [--before REV] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
WORK = HERE / "_work"

TAXONOMY = {"name": "side", "versions": [{"version": 1, "classes": {"left": "", "right": ""}}]}


def task(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labelset": "sides",
        "versions": [{"version": 1, "overlap": 1, "fields": ["text"], "instructions": "Side?"}],
    }


def side(i: int) -> str:
    return "left" if (i * 7919) % 3 else "right"


def setup(root: Path, records: int, votes_per_lf: int, annotated: int, team: int) -> dict[str, Any]:
    """The project (see the module doc); returns its sizes and how long the parts took."""
    import pyarrow as pa
    import yaml

    import tillage

    repo = tillage.init(root)
    (root / "taxonomies").mkdir()
    (root / "taxonomies" / "side.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (root / "tasks").mkdir()
    for name in ("sides", "team"):
        (root / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(task(name)))
    ids = list(range(records))
    repo.ingest("items", pa.table({"id": ids, "text": [f"item {i} " * 8 for i in ids]}), key="id")
    repo.labels.create("sides", records="items", taxonomy="side")
    for k in range(5):
        start = k * (records - votes_per_lf) // 4
        voted = ids[start : start + votes_per_lf]
        repo.labels.add("sides", voted, [side(i + k) for i in voted], kind="lf", source=f"lf{k}")
    per = annotated // 10
    for a in range(10):
        done = ids[a * per : (a + 1) * per]
        repo.labels.add(
            "sides",
            done,
            [side(i) for i in done],
            kind="annotator",
            source=f"imported{a}",
            spec_version=1,
        )
    events = repo.read("sides").num_rows
    t = time.perf_counter()
    repo.annotation.enqueue("sides", ids[: records - team])
    first_use = time.perf_counter() - t
    repo.annotation.enqueue("team", ids[records - team :])
    repo.close()
    return {"records": records, "events": events, "first_enqueue_s": first_use}


def latency(root: Path, ops: int) -> dict[str, Any]:
    """``ops`` times `next` then `submit`, one annotator; seconds of each."""
    import tillage

    nexts, submits = [], []
    with tillage.open(root) as repo:
        ann = repo.annotation
        for _ in range(ops):
            t = time.perf_counter()
            picked = ann.next("sides", "bench", 1)
            t1 = time.perf_counter()
            ann.submit("sides", "bench", picked[0], side(int(picked[0])))
            t2 = time.perf_counter()
            nexts.append(t1 - t)
            submits.append(t2 - t1)
    return {"next": nexts, "submit": submits}


def worker(root: Path, name: str) -> dict[str, int]:
    """One annotator of ``team``: 10 records at a time, each submitted, until none is left.

    A submission refused with an error (the old code's answer to a race) is
    counted, not retried.
    """
    import tillage

    answered = refused = 0
    with tillage.open(root) as repo:
        ann = repo.annotation
        while picked := ann.next("team", name, 10):
            for record in picked:
                try:
                    ann.submit("team", name, record, side(int(record)))
                    answered += 1
                except tillage.TillageError:
                    refused += 1
    return {"answered": answered, "refused": refused}


def count_team(root: Path, team: int, records: int) -> dict[str, Any]:
    """The label set's annotations of ``team``'s records, after all pending ones are in."""
    import pyarrow as pa
    import pyarrow.compute as pc

    import tillage

    with tillage.open(root) as repo:
        events = repo.labels.sets().events("sides")
        ids = [str(i) for i in range(records - team, records)]
        mine = events.filter(
            pc.and_(
                pc.equal(events.column("kind"), "annotator"),
                pc.is_in(events.column("record_id"), value_set=pa.array(ids)),
            )
        )
        recs = mine.column("record_id").to_pylist()
        done = repo.annotation.progress("team")
    return {
        "annotations": len(recs),
        "distinct_records": len(set(recs)),
        "progress_done": done.done,
        "label_set_events": events.num_rows,
    }


# -- the parent: runs each part in a fresh process with the chosen code ---------------


def child(src: Path, part: str, *args: Any) -> Any:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--part", part, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{part} failed with {src}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_time(src: Path, root: Path, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    main = "from tillage.cli.app import main; main()"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", main, "--repo", str(root), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"tillage {' '.join(args)} failed:\n{out.stdout}{out.stderr[-2000:]}")
    return took


def cli_pair(src: Path, root: Path) -> dict[str, float]:
    """Wall time of one `annotate next` and one `annotate submit` (fresh processes)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    main = "from tillage.cli.app import main; main()"
    argv = ["--repo", str(root), "annotate", "next", "sides", "-a", "cli", "--json"]
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", main, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    took_next = time.perf_counter() - t
    record = json.loads(out.stdout)["records"][0]
    took_submit = cli_time(
        src, root, "annotate", "submit", "sides", record, side(int(record)), "-a", "cli"
    )
    return {"next_s": took_next, "submit_s": took_submit}


def concurrent(src: Path, root: Path, annotators: int, team: int, records: int) -> dict[str, Any]:
    """``annotators`` processes working through task ``team`` at once; then the count."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    script = str(Path(__file__).resolve())
    t = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, script, "--part", "worker", str(root), f"team{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(annotators)
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"an annotator failed:\n{err[-3000:]}")
        done.append(json.loads(out.strip().splitlines()[-1]))
    took = time.perf_counter() - t
    answered = [d["answered"] for d in done]
    return {
        "annotators": annotators,
        "team": team,
        "submitted": sum(answered),
        "refused": sum(d["refused"] for d in done),
        "per_annotator_min_max": [min(answered), max(answered)],
        "seconds": took,
        "submits_per_s": sum(answered) / took,
        **child(src, "count", root, team, records),
    }


def quantiles(xs: list[float]) -> dict[str, float]:
    s = sorted(xs)
    return {
        "p50_ms": 1000 * statistics.median(s),
        "p95_ms": 1000 * s[min(len(s) - 1, int(0.95 * len(s)))],
        "n": len(s),
    }


def before_src(rev: str) -> Path:
    """``rev``'s ``src`` (from `git archive`) under benchmarks/_work."""
    dest = WORK / f"annotation-{rev}"
    if not (dest / "src").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(HERE.parent), "archive", rev, "src"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def run_one(src: Path, root: Path, sizes: dict[str, int], ops: int) -> dict[str, Any]:
    made = child(src, "setup", root, *sizes.values())
    lat = child(src, "latency", root, ops)
    return {
        "setup": made,
        "next": quantiles(lat["next"]),
        "submit": quantiles(lat["submit"]),
        "cli": cli_pair(src, root),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a fifth of the sizes")
    p.add_argument("--ops", type=int, default=None, help="next+submit pairs timed (new code)")
    p.add_argument("--annotators", type=int, default=20)
    p.add_argument("--before", metavar="REV", help="also time this commit's code")
    p.add_argument("--before-ops", type=int, default=None)
    p.add_argument("--skip-concurrent", action="store_true")
    p.add_argument("--before-annotators", type=int, default=4)
    p.add_argument("--json", type=Path)
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = p.parse_args()

    if a.part:  # a child process: one part, its result as the last line of JSON
        root = Path(a.args[0])
        rest = [int(x) for x in a.args[1:]] if a.part in ("setup", "latency") else a.args[1:]
        if a.part == "setup":
            result: Any = setup(root, *rest)
        elif a.part == "latency":
            result = latency(root, *rest)
        elif a.part == "worker":
            result = worker(root, rest[0])
        else:
            result = count_team(root, int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    scale = 5 if a.quick else 1
    sizes = {
        "records": 40_000 // scale,
        "votes_per_lf": 18_000 // scale,
        "annotated": 10_000 // scale,
        "team": 10_000 // scale,
    }
    ops = a.ops or (100 if a.quick else 400)
    before_ops = a.before_ops or (4 if a.quick else 10)
    report: dict[str, Any] = {"sizes": sizes}
    with tempfile.TemporaryDirectory(dir=WORK if WORK.is_dir() else None) as tmp:
        new = run_one(SRC, Path(tmp) / "new", sizes, ops)
        report["new"] = new
        print(f"new: {json.dumps(new)}", file=sys.stderr)
        if a.before:
            old = run_one(before_src(a.before), Path(tmp) / "old", sizes, before_ops)
            report["before"] = {"rev": a.before, **old}
            print(f"before: {json.dumps(old)}", file=sys.stderr)
        if not a.skip_concurrent:
            report["concurrent"] = concurrent(
                SRC, Path(tmp) / "new", a.annotators, sizes["team"], sizes["records"]
            )
            if a.before:
                # The old code at a size it can finish: each of its submits reads the label set.
                small = {"records": 2_000, "votes_per_lf": 1_000, "annotated": 500, "team": 200}
                old_src, old_root = before_src(a.before), Path(tmp) / "old-team"
                child(old_src, "setup", old_root, *small.values())
                report["before"]["concurrent"] = concurrent(
                    old_src, old_root, a.before_annotators, small["team"], small["records"]
                )
    print_report(report)
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))


def print_report(r: dict[str, Any]) -> None:
    new = r["new"]
    print(f"label set: {new['setup']['events']:,} events; {r['sizes']['records']:,} records")
    rows = [("next", "next"), ("submit", "submit")]
    print("| measurement | new p50 | new p95 | before p50 | before p95 | p95 new / before |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, key in rows:
        n = new[key]
        if "before" in r:
            b = r["before"][key]
            print(
                f"| `{label}` (API) | {n['p50_ms']:.1f} ms | {n['p95_ms']:.1f} ms | "
                f"{b['p50_ms']:.0f} ms | {b['p95_ms']:.0f} ms | {n['p95_ms'] / b['p95_ms']:.4f} |"
            )
        else:
            print(f"| `{label}` (API) | {n['p50_ms']:.1f} ms | {n['p95_ms']:.1f} ms | | | |")
    for label in ("next", "submit"):
        n_s = new["cli"][f"{label}_s"]
        if "before" in r:
            b_s = r["before"]["cli"][f"{label}_s"]
            print(
                f"| `tillage annotate {label}` | {n_s:.2f} s | | {b_s:.2f} s | | {n_s / b_s:.2f} |"
            )
        else:
            print(f"| `tillage annotate {label}` | {n_s:.2f} s | | | | |")
    for who, r_ in (("now", r), ("before", r.get("before", {}))):
        c = r_.get("concurrent")
        if c is None:
            continue
        print(
            f"{who}: {c['annotators']} annotators on {c['team']:,} records: "
            f"{c['submitted']:,} submitted, {c['refused']:,} refused, in {c['seconds']:.1f} s "
            f"({c['submits_per_s']:.0f}/s); the label set holds {c['annotations']:,} "
            f"annotations of {c['distinct_records']:,} distinct records; progress says "
            f"{c['progress_done']:,} done"
        )


if __name__ == "__main__":
    main()
