"""What a webhook costs an ingest: healthy, down (connection refused), never answering.

Each run makes a project with three days of flights-like rows and a schema, then
times ingests that each open alerts (an origin the schema has never seen), with
one webhook sink (the defaults: 4 tries, 5 s timeout, backoff 0.5) answered by a
local server that is healthy, absent, or accepts and never answers. Without the
outbox the ingest sent every alert itself, with the sink's full retries; with it,
the commit queues the events and the ingest spends at most the outbox's
command budget delivering them.

The same script runs against older tillage code with ``PYTHONPATH=OLD/src``
(it uses only the public API), which is how the "before" column was made.

Usage: python benchmarks/bench_outbox.py [--ingests N | --quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

import tillage

HANG = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).mode == "hang":
            HANG.wait(120)
            return
        self.send_response(204)
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def batch(ids: range, origin: str | None = None) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in ids],
            "dep_delay": [10.0 + (i * 37 % 101) * 0.5 for i in ids],
        }
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(case: str, ingests: int, root: Path) -> dict[str, Any]:
    server = None
    if case in ("healthy", "never answers"):
        _Handler.mode = "ok" if case == "healthy" else "hang"
        server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
    else:
        port = closed_port()
    path = root / case.replace(" ", "-")
    repo = tillage.init(path)
    config = repo.repo_dir / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    if case != "no sink":
        cfg["quality"] = {"sinks": [{"type": "webhook", "url": f"http://127.0.0.1:{port}/h"}]}
    config.write_text(yaml.safe_dump(cfg))
    repo.close()
    times: list[float] = []
    with tillage.open(path) as repo:
        for d in range(3):
            repo.ingest("flights", batch(range(d * 300, (d + 1) * 300)), key="id")
        repo.infer_schema("flights")
        for i in range(ingests):
            ids = range(1000 + i * 300, 1300 + i * 300)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                repo.ingest("flights", batch(ids, origin=f"Z{i}"))
                times.append(time.perf_counter() - started)
        alerts = len(repo.quality.alerts())
    if server is not None:
        server.shutdown()
        server.server_close()
    return {
        "case": case,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "ingests": ingests,
        "open_alerts": alerts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ingests", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 ingests per case")
    parser.add_argument("--cases", default="no sink,healthy,down,never answers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    ingests = 2 if args.quick else args.ingests
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            row = run(case, ingests, Path(tmp))
            rows.append(row)
            print(
                f"{case:>14}: median {row['median_s'] * 1000:8.0f} ms, "
                f"max {row['max_s'] * 1000:8.0f} ms over {row['ingests']} ingests "
                f"({row['open_alerts']} open alerts)",
                flush=True,
            )
    HANG.set()
    if args.json:
        args.json.write_text(json.dumps({"tillage": tillage.__version__, "rows": rows}, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
