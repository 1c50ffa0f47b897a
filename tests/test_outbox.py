"""Alerts reach sinks through the outbox: written with the commit, delivered after it.

Webhooks are real ``ThreadingHTTPServer``s on localhost that answer as each test
scripts them (fail then succeed, never answer, or nothing listening at all).
Crashes are real: a child process ingests and kills itself with SIGKILL at a
chosen moment (after the commit, or inside the commit's catalog transaction),
by replacing one method of its own copy of tillage before the ingest. No test
measures time: that an ingest with a dead webhook returns quickly is shown by
what it tried (one request, one attempt on the row), and timed in
``benchmarks/bench_outbox.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

import tillage
from tillage import Repo
from tillage.cli.app import app
from tillage.quality.outbox import MAX_ATTEMPTS

SRC = str(Path(tillage.__file__).resolve().parents[1])


def batch(ids: range, *, origin: str | None = None) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "origin": [origin or ["JFK", "LGA", "EWR"][i % 3] for i in ids],
            "dep_delay": [10.0 + (i * 37 % 101) * 0.5 for i in ids],
        }
    )


# --------------------------------------------------------------------------- HTTP server


@dataclass
class Hook:
    """A webhook receiver: answers from ``answers`` one per request (then 204)."""

    url: str
    answers: deque[int | str] = field(default_factory=deque)
    received: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    pause: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hook: Hook

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        hook = self.server.hook
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with hook.lock:
            hook.received.append(body)
            hook.deliveries.append(self.headers["X-Tillage-Delivery"])
            answer = hook.answers.popleft() if hook.answers else 204
        if answer == "hang":
            hook.release.wait(10)
            return
        if hook.pause:
            hook.release.wait(hook.pause)
        assert isinstance(answer, int)
        self.send_response(answer)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.hook = Hook(f"http://127.0.0.1:{httpd.server_address[1]}/hook")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.hook
    finally:
        httpd.hook.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there any more


def project(tmp_path: Path, url: str, **options: Any) -> Path:
    """A project with three days of flights, a schema, and one webhook sink at ``url``."""
    path = tmp_path / "p"
    repo = tillage.init(path)
    config = repo.repo_dir / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["quality"] = {"sinks": [{"type": "webhook", "url": url, "retries": 1, **options}]}
    config.write_text(yaml.safe_dump(cfg))
    repo.close()
    with tillage.open(path) as repo:
        for d in range(3):
            repo.ingest("flights", batch(range(d * 300, (d + 1) * 300)), key="id")
        repo.infer_schema("flights")
    return path


def bad_day(repo: Repo, ids: range = range(900, 1200), origin: str = "ZZZ") -> list[str]:
    """An ingest that opens alerts (an origin the schema has never seen); its warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repo.ingest("flights", batch(ids, origin=origin))
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def give_up(repo: Repo) -> None:
    """Deliver by hand until every row is dead (the sink fails once per pass)."""
    for _ in range(1000):
        if all(r.status == "dead" for r in repo.quality.alert_deliveries()):
            return
        repo.quality.deliver_alerts()
    raise AssertionError("rows still pending after 1000 passes")


# --------------------------------------------------------------------------- delivery


def test_ingest_delivers_its_alerts_after_the_commit(tmp_path: Path, hook: Hook) -> None:
    with tillage.open(project(tmp_path, hook.url)) as repo:
        bad_day(repo)
        head = repo.refs.commit().id
        rows = repo.quality.alert_deliveries(show_all=True)
        assert rows and {r.status for r in rows} == {"delivered"}
        assert {r.commit_id for r in rows} == {head}
        assert len(hook.received) == len(rows)
        assert {b["commit"] for b in hook.received} == {head}
        assert any("ZZZ" in b["finding"]["message"] for b in hook.received)
        assert hook.deliveries == [b["delivery"] for b in hook.received]
        assert repo.quality.alert_deliveries() == []


def test_a_webhook_that_fails_then_recovers_gets_the_event_once(tmp_path: Path, hook: Hook) -> None:
    with tillage.open(project(tmp_path, hook.url)) as repo:
        hook.answers.extend([503] * 50)
        said = bad_day(repo)
        assert len(said) == 1
        assert "not delivered yet (try 1 of 10)" in said[0] and "HTTP 503" in said[0]
        pending = repo.quality.alert_deliveries()
        assert pending and {r.status for r in pending} == {"pending"}
        first, *others = pending
        assert first.attempts == 1 and "HTTP 503" in (first.last_error or "")
        # The sink failed once, so the commit's other events wait for the next pass.
        assert all(r.attempts == 0 for r in others)
        assert len(hook.received) == 1

        hook.answers.clear()
        report = repo.quality.deliver_alerts()
        assert (report.delivered, report.retrying, report.dead) == (len(pending), 0, 0)
        assert repo.quality.alert_deliveries() == []
        # The failed try and the good one carry the same delivery id: receivers can dedupe.
        assert hook.deliveries[0] == hook.deliveries[1]
        assert sorted(set(hook.deliveries)) == sorted(r.event["delivery"] for r in pending)
        assert len(hook.deliveries) == len(pending) + 1


def test_an_ingest_waits_for_one_short_try_of_a_webhook_that_never_answers(
    tmp_path: Path, hook: Hook
) -> None:
    # The sink would try 4 times and wait 30 s each; right after a commit it gets one
    # try cut to the command's budget, and the rest waits in the outbox.
    path = project(tmp_path, hook.url, retries=4, timeout=30)
    with tillage.open(path) as repo:
        hook.answers.extend(["hang"] * 50)
        [said] = bad_day(repo)
        assert "timed out" in said
        assert len(hook.received) == 1
        rows = repo.quality.alert_deliveries()
        assert [r.attempts for r in rows] == [1] + [0] * (len(rows) - 1)
        assert "timed out" in (rows[0].last_error or "")
        assert repo.quality.alerts()  # the alerts are in the catalog all the same


def test_an_ingest_with_a_webhook_that_is_down_commits_and_queues(tmp_path: Path) -> None:
    url = closed_port_url()
    with tillage.open(project(tmp_path, url, retries=4)) as repo:
        [said] = bad_day(repo)
        assert "connection refused" in said
        assert "ZZZ" in json.dumps([a.to_dict() for a in repo.quality.alerts()])
        rows = repo.quality.alert_deliveries()
        assert rows[0].attempts == 1  # one try, not the sink's four
        assert "connection refused" in (rows[0].last_error or "")

        # By hand: every pending row gets its full tries; the sink fails once per pass.
        report = repo.quality.deliver_alerts()
        assert (report.delivered, report.retrying) == (0, 1)
        assert report.waiting == len(rows) - 1


def test_rows_are_given_up_after_max_attempts_shown_and_revived(tmp_path: Path, hook: Hook) -> None:
    down = closed_port_url()
    path = project(tmp_path, down)
    with tillage.open(path) as repo:
        assert bad_day(repo)
    with tillage.open(path) as repo:
        give_up(repo)
        rows = repo.quality.alert_deliveries()
        assert {r.status for r in rows} == {"dead"}
        assert {r.attempts for r in rows} == {MAX_ATTEMPTS}

    res = CliRunner().invoke(app, ["--repo", str(path), "alerts", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {r["status"] for r in doc["undelivered"]} == {"dead"}
    assert "connection refused" in doc["undelivered"][0]["last_error"]
    text = CliRunner().invoke(app, ["--repo", str(path), "alerts"]).stdout
    assert "given up" in text and "tillage alerts deliver --retry-dead" in text

    # The receiver is back at another address: point the sink there and revive.
    config = path / ".tillage" / "config.yaml"
    config.write_text(config.read_text().replace(down, hook.url))
    res = CliRunner().invoke(app, ["--repo", str(path), "alerts", "deliver", "--json"])
    assert json.loads(res.stdout)["delivered"] == 0  # dead rows wait for --retry-dead
    res = CliRunner().invoke(
        app, ["--repo", str(path), "alerts", "deliver", "--retry-dead", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    # A moved URL is another sink: the rows queued for the old one are given up again.
    assert doc["delivered"] == 0 and doc["dead"] == len(rows)
    assert "no longer in quality.sinks" in doc["undelivered"][0]["last_error"]


def test_a_revived_row_is_delivered_when_the_sink_is_back(tmp_path: Path) -> None:
    # The same address, down and then up: dead rows come back with --retry-dead.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    path = project(tmp_path, url)
    with tillage.open(path) as repo:
        assert bad_day(repo)
    with tillage.open(path) as repo:
        give_up(repo)
        dead = repo.quality.alert_deliveries()
        assert {r.status for r in dead} == {"dead"}
    httpd = _Server(("127.0.0.1", port), _Handler)
    httpd.hook = Hook(url)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with tillage.open(path) as repo:
            assert repo.quality.deliver_alerts().delivered == 0
            report = repo.quality.deliver_alerts(retry_dead=True)
            assert report.delivered == len(dead)
            assert repo.quality.alert_deliveries() == []
        assert sorted(httpd.hook.deliveries) == sorted(r.event["delivery"] for r in dead)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_two_drainers_never_deliver_one_row_twice(tmp_path: Path, hook: Hook) -> None:
    path = project(tmp_path, hook.url)
    hook.answers.extend([503] * 1000)  # every ingest queues its events, none goes out
    with tillage.open(path) as repo:
        for day in range(4):
            assert bad_day(repo, range(2000 + day * 300, 2300 + day * 300), f"Z{day}")
        queued = repo.quality.alert_deliveries()
    assert len(queued) >= 4
    hook.answers.clear()
    hook.received.clear()
    hook.deliveries.clear()
    hook.pause = 0.02  # slow answers keep both drainers busy at once

    start = threading.Barrier(2)
    reports: list[Any] = []

    def drainer() -> None:
        with tillage.open(path) as mine:
            start.wait()
            reports.append(mine.quality.deliver_alerts())

    threads = [threading.Thread(target=drainer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(hook.deliveries) == sorted(r.event["delivery"] for r in queued)
    assert len(set(hook.deliveries)) == len(hook.deliveries)
    assert sum(r.delivered for r in reports) == len(queued)
    with tillage.open(path) as repo:
        assert repo.quality.alert_deliveries() == []


def test_the_worker_delivers_what_is_due(tmp_path: Path) -> None:
    url = closed_port_url()
    path = project(tmp_path, url)
    with tillage.open(path) as repo:
        assert bad_day(repo)
    with tillage.open(path) as repo:
        rows = repo.quality.alert_deliveries()
        tick = tillage.tick(repo)
        # The failed row waits out its backoff, so the worker tries the others, once.
        assert tick.delivered == 0 and len(tick.errors) == 1
        after = {r.id: r.attempts for r in repo.quality.alert_deliveries()}
        assert after[rows[0].id] == 1
        assert sorted(after.values()) == [0] * (len(rows) - 2) + [1, 1]


# --------------------------------------------------------------------------- crashes

CHILD = r"""
import os, signal, sys
import pyarrow as pa
import tillage
from tillage.quality.monitor import Monitor
from tillage.store.monitoring import MonitoringStore

path, moment = sys.argv[1], sys.argv[2]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if moment == "after-commit":  # the commit landed; nothing was sent yet
    Monitor.deliver = die
else:  # inside the commit's transaction, after the outbox rows were written
    MonitoringStore.put_check = staticmethod(die)
ids = range(900, 1200)
table = pa.table({
    "id": list(ids),
    "origin": ["ZZZ"] * len(ids),
    "dep_delay": [10.0 + (i * 37 % 101) * 0.5 for i in ids],
})
repo = tillage.open(path)
repo.ingest("flights", table)
print("survived", flush=True)
"""


def crash(path: Path, moment: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), moment],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_crash_after_the_commit_still_delivers_later(tmp_path: Path, hook: Hook) -> None:
    path = project(tmp_path, hook.url)
    with tillage.open(path) as repo:
        before = repo.refs.commit().id
    crash(path, "after-commit")
    assert hook.received == []
    with tillage.open(path) as repo:
        head = repo.refs.commit().id
        assert head != before
        rows = repo.quality.alert_deliveries()
        assert rows and {(r.status, r.commit_id) for r in rows} == {("pending", head)}
        assert repo.quality.deliver_alerts().delivered == len(rows)
    assert {b["commit"] for b in hook.received} == {head}
    assert any("ZZZ" in b["finding"]["message"] for b in hook.received)


@pytest.mark.slow
def test_a_commit_that_rolled_back_delivers_nothing(tmp_path: Path, hook: Hook) -> None:
    path = project(tmp_path, hook.url)
    with tillage.open(path) as repo:
        before = repo.refs.commit().id
        alerts_before = repo.quality.alerts(show_all=True)
    crash(path, "in-transaction")
    with tillage.open(path) as repo:
        assert repo.refs.commit().id == before
        assert repo.quality.alerts(show_all=True) == alerts_before
        assert repo.quality.alert_deliveries(show_all=True) == []
        assert repo.quality.deliver_alerts().delivered == 0
    assert hook.received == []


def test_a_claim_is_exclusive_until_its_drainer_is_presumed_dead(
    tmp_path: Path, hook: Hook
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine

    from tillage.quality.outbox import LEASE
    from tillage.store.monitoring import MonitoringStore

    path = project(tmp_path, hook.url)
    hook.answers.extend([503] * 50)
    with tillage.open(path) as repo:
        assert bad_day(repo)
        rows = repo.quality.alert_deliveries()
    assert len(rows) >= 2
    engine = create_engine(f"sqlite:///{path / '.tillage' / 'catalog.db'}")
    store = MonitoringStore(engine)
    now = datetime.now(UTC)

    def stamp(t: datetime) -> str:
        return t.isoformat(timespec="microseconds")

    fresh, stale = rows[0].id, rows[1].id
    cutoff = stamp(now - LEASE)
    assert store.claim(fresh, "a", stamp(now), cutoff, due_only=False)
    assert not store.claim(fresh, "b", stamp(now), cutoff, due_only=False)
    # A drainer that claimed a row long ago and never finished: it died mid-send.
    old = now - LEASE - timedelta(minutes=1)
    assert store.claim(stale, "ghost", stamp(old), stamp(old - LEASE), due_only=False)
    engine.dispose()

    hook.answers.clear()
    with tillage.open(path) as repo:
        repo.quality.deliver_alerts()
        status = {r.id: r.status for r in repo.quality.alert_deliveries(show_all=True)}
    assert status[fresh] == "sending"  # still drainer a's
    assert status[stale] == "delivered"  # taken over from the dead one
    assert rows[0].event["delivery"] not in hook.deliveries[1:]
