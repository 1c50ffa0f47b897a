"""Alert sinks: console, JSON lines (with concurrent writers) and webhooks.

Webhooks are tested against a real ``ThreadingHTTPServer`` on localhost whose
answers are scripted per request; only the waits between tries are recorded
instead of slept, so retries and backoff are checked exactly and fast.
"""

from __future__ import annotations

import email.utils
import io
import json
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import tillage.quality.sinks as sinks_module
from tillage.core.findings import Finding
from tillage.errors import InputError, TillageError
from tillage.quality.sinks import (
    ConsoleSink,
    JsonLinesSink,
    Sink,
    SinkError,
    WebhookSink,
    deliver,
    encode_event,
    sinks_from_config,
)


def make_event(alert_id: int = 12, message: str = "top value of origin moved") -> dict[str, Any]:
    finding = Finding(
        dataset="flights",
        column="origin",
        check="drift",
        kind="top_value",
        message=message,
        reference="main~7..main",
        severity="warn",
        effect=0.15,
        details={"from": "JFK", "to": "EWR"},
        alert_id=alert_id,
    )
    return {
        "event": "alert.opened",
        "alert": {"id": alert_id, "status": "open", "count": 1},
        "finding": finding.to_dict(),
        "repo": "/data/proj",
        "commit": "3f2a9c",
    }


# --------------------------------------------------------------------------- HTTP server


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """What the server answers, one entry per request, then 200."""

    answers: deque[tuple[int, dict[str, str]] | str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hanging: int = 0  # "hang" requests the server has not answered yet
    lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, *answers: tuple[int, dict[str, str]] | int | str) -> Script:
        for a in answers:
            self.answers.append((a, {}) if isinstance(a, int) else a)
        return self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left is expected here


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        script = self.server.script
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with script.lock:
            script.received.append(
                Received(self.command, self.path, dict(self.headers.items()), body)
            )
            answer = script.answers.popleft() if script.answers else (200, {})
        if answer == "hang":
            with script.lock:
                script.hanging += 1
            script.release.wait(5)  # longer than the client's timeout
            with script.lock:
                script.hanging -= 1
            return
        assert not isinstance(answer, str)
        status, headers = answer
        payload = b"bad payload: missing text" if status == 400 else b"ok"
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Script]]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.script = Script()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hooks/tillage", httpd.script
    finally:
        httpd.script.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


class Sleeps(list[float]):
    """An injected ``sleep`` that records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --------------------------------------------------------------------------- webhook


def test_webhook_posts_exact_body_and_headers(server: tuple[str, Script]) -> None:
    url, script = server
    event = make_event()
    sink = WebhookSink(url, headers={"Authorization": "Bearer s3cret", "X-Team": "data"})
    sink.send(event)

    assert len(script.received) == 1
    got = script.received[0]
    assert got.method == "POST"
    assert got.path == "/hooks/tillage"
    assert got.body == encode_event(event)
    assert json.loads(got.body) == json.loads(json.dumps(event))
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Content-Length"] == str(len(got.body))
    assert got.headers["Authorization"] == "Bearer s3cret"
    assert got.headers["X-Team"] == "data"
    assert len(got.headers["X-Tillage-Delivery"]) == 32


def test_webhook_body_is_strict_json(server: tuple[str, Script]) -> None:
    url, script = server
    event = make_event(message="Zürich → ∞")
    event["finding"]["p_value"] = float("nan")
    event["finding"]["effect"] = float("inf")
    WebhookSink(url).send(event)
    body = json.loads(
        script.received[0].body,
        parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"),
    )
    assert body["finding"]["p_value"] is None and body["finding"]["effect"] is None
    assert body["finding"]["message"] == "Zürich → ∞"


def test_webhook_retries_503_with_growing_backoff(server: tuple[str, Script]) -> None:
    url, script = server
    script.then(503, 502, 500)
    sleeps = Sleeps()
    WebhookSink(url, retries=4, backoff=0.05, sleep=sleeps).send(make_event())

    assert len(script.received) == 4
    assert len(sleeps) == 3
    # urllib3's schedule: the second try at once, then 2x and 4x the factor, + <= 10 % jitter
    for wait, base in zip(sleeps, (0.0, 0.1, 0.2), strict=True):
        assert base <= wait <= base + 0.05 * 0.1
    assert sleeps[0] < sleeps[1] < sleeps[2]
    ids = {r.headers["X-Tillage-Delivery"] for r in script.received}
    assert len(ids) == 1, "every try of one event carries the same delivery id"
    assert len({r.body for r in script.received}) == 1


def test_webhook_honours_retry_after_on_429_and_503(server: tuple[str, Script]) -> None:
    url, script = server
    script.then((429, {"Retry-After": "2"}), (503, {"Retry-After": "0"}), (503, {}))
    sleeps = Sleeps()
    WebhookSink(url, retries=4, backoff=0.01, sleep=sleeps).send(make_event())
    assert len(script.received) == 4
    assert sleeps[:2] == [2.0, 0.0]
    assert 0.04 <= sleeps[2] <= 0.044  # no Retry-After: backoff after the third try


def test_webhook_caps_retry_after(server: tuple[str, Script]) -> None:
    url, script = server
    script.then((429, {"Retry-After": "86400"}))
    sleeps = Sleeps()
    WebhookSink(url, retries=2, max_retry_after=3.0, sleep=sleeps).send(make_event())
    assert sleeps == [3.0]
    assert len(script.received) == 2


def test_webhook_retry_after_as_http_date(server: tuple[str, Script]) -> None:
    url, script = server
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    script.then((503, {"Retry-After": when}))
    sleeps = Sleeps()
    WebhookSink(url, retries=2, sleep=sleeps).send(make_event())
    assert len(sleeps) == 1 and 8 <= sleeps[0] <= 10


def test_webhook_does_not_retry_400(server: tuple[str, Script]) -> None:
    url, script = server
    script.then(400)
    sleeps = Sleeps()
    with pytest.raises(SinkError) as info:
        WebhookSink(url, retries=4, sleep=sleeps).send(make_event())
    assert len(script.received) == 1
    assert sleeps == []
    err = info.value
    assert err.code == "sink_failed"
    assert err.status == 400 and err.attempts == 1
    assert url in str(err)
    assert "HTTP 400" in str(err) and "bad payload: missing text" in str(err)


def test_webhook_401_points_at_credentials(server: tuple[str, Script]) -> None:
    url, script = server
    script.then(401)
    with pytest.raises(SinkError, match="credentials"):
        WebhookSink(url, sleep=Sleeps()).send(make_event())
    assert len(script.received) == 1


def test_webhook_redirect_is_an_error_not_a_silent_get(server: tuple[str, Script]) -> None:
    url, script = server
    script.then((301, {"Location": "http://127.0.0.1:1/elsewhere"}))
    with pytest.raises(SinkError, match=r"redirects to http://127\.0\.0\.1:1/elsewhere"):
        WebhookSink(url, sleep=Sleeps()).send(make_event())
    assert [r.method for r in script.received] == ["POST"]


def test_webhook_that_never_recovers_raises_after_all_tries(server: tuple[str, Script]) -> None:
    url, script = server
    script.then(*[503] * 10)
    sleeps = Sleeps()
    with pytest.raises(SinkError) as info:
        WebhookSink(url, retries=3, backoff=0.01, sleep=sleeps).send(make_event())
    assert len(script.received) == 3
    assert len(sleeps) == 2
    err = info.value
    assert isinstance(err, TillageError)
    message = str(err)
    assert url in message
    assert "after 3 tries" in message
    assert "HTTP 503" in message
    assert "check its status or logs" in message
    assert err.attrs()["target"] == url and err.attrs()["status"] == 503


def test_webhook_timeout_is_retried(server: tuple[str, Script]) -> None:
    url, script = server
    script.then("hang")
    sleeps = Sleeps()
    WebhookSink(url, timeout=0.3, retries=2, backoff=0.01, sleep=sleeps).send(make_event())
    assert script.hanging == 1  # the client gave up on the first try; the server never answered
    assert len(script.received) == 2
    assert len(sleeps) == 1


def test_webhook_timeout_every_time_fails_clearly(server: tuple[str, Script]) -> None:
    url, script = server
    script.then("hang", "hang")
    with pytest.raises(SinkError) as info:
        WebhookSink(url, timeout=0.2, retries=2, sleep=Sleeps()).send(make_event())
    message = str(info.value)
    assert "timed out" in message and "within 0.2 s" in message and url in message
    assert info.value.status is None


def test_webhook_connection_refused_retries_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"  # nothing listens there any more
    sleeps = Sleeps()
    with pytest.raises(SinkError) as info:
        WebhookSink(url, retries=3, backoff=0.01, sleep=sleeps).send(make_event())
    assert len(sleeps) == 2
    message = str(info.value)
    assert url in message
    assert "connection refused" in message
    assert f"server at 127.0.0.1:{port} is running" in message
    assert info.value.attempts == 3


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "example.com/hook", "http://", "", "gopher://h"],
)
def test_webhook_accepts_only_http_urls(url: str) -> None:
    with pytest.raises(InputError, match="not an http"):
        WebhookSink(url)


def test_webhook_rejects_bad_options() -> None:
    with pytest.raises(InputError, match="retries"):
        WebhookSink("https://h.example/x", retries=0)
    with pytest.raises(InputError, match="timeout"):
        WebhookSink("https://h.example/x", timeout=-1)
    with pytest.raises(InputError, match="headers"):
        WebhookSink("https://h.example/x", headers={"X-A": 1})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="forbids"):
        WebhookSink("https://h.example/x", headers={"X-A": "a\r\nX-B: b"})


def test_webhook_messages_hide_url_secrets() -> None:
    sink = WebhookSink("https://bot:pa55@h.example/hook?token=abc&x=1")
    assert "pa55" not in sink.name and "abc" not in sink.name
    assert sink.name == "webhook https://bot:***@h.example/hook?token=***&x=***"


# --------------------------------------------------------------------------- console


def test_console_prints_one_readable_line() -> None:
    out = io.StringIO()
    ConsoleSink(out).send(make_event(message="top value of origin moved\nfrom JFK to EWR"))
    text = out.getvalue()
    assert text.count("\n") == 1
    assert text == (
        "WARN flights.origin: top value of origin moved from JFK to EWR "
        "[alert.opened #12] -> tillage alerts accept 12\n"
    )


def test_console_tolerates_sparse_events(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleSink().send({"event": "alert.updated", "message": "something happened"})
    assert capsys.readouterr().err == "INFO something happened [alert.updated]\n"


# --------------------------------------------------------------------------- JSON lines


def test_jsonl_appends_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "alerts.jsonl"
    sink = JsonLinesSink(path)
    sink.send(make_event(1))
    sink.send(make_event(2))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["alert"]["id"] for line in lines] == [1, 2]


def test_jsonl_unwritable_raises_sink_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SinkError, match="writable"):
        JsonLinesSink(blocker / "alerts.jsonl").send(make_event())


# The writer imports the sink module alone: ``import tillage`` loads Lance (a second
# or so per process), and Lance must not be forked, so no multiprocessing fork either.
_WRITER = """
import importlib, sys, types
for name, folder in (("tillage", sys.argv[1]), ("tillage.quality", sys.argv[1] + "/quality")):
    package = types.ModuleType(name)
    package.__path__ = [folder]
    sys.modules[name] = package
sinks = importlib.import_module("tillage.quality.sinks")
sink, who = sinks.JsonLinesSink(sys.argv[2]), sys.argv[3]
sys.stdin.read()  # wait until both writers are up
for i in range(200):
    sink.send({"who": who, "i": i, "pad": who * 3000})
"""


def test_jsonl_two_processes_append_without_tearing(tmp_path: Path) -> None:
    package = str(Path(sinks_module.__file__).parents[1])
    path = tmp_path / "alerts.jsonl"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, package, str(path), who], stdin=subprocess.PIPE
        )
        for who in "ab"
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()  # both start appending at once
    assert [p.wait(30) for p in procs] == [0, 0]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert len(records) == 400
    for who in "ab":
        mine = [r for r in records if r["who"] == who]
        assert [r["i"] for r in mine] == list(range(200))
        assert all(r["pad"] == who * 3000 for r in mine)


# --------------------------------------------------------------------------- config


def test_sinks_from_config_builds_each_kind(tmp_path: Path) -> None:
    sinks = sinks_from_config(
        [
            {"type": "console"},
            {"type": "jsonl", "path": "logs/alerts.jsonl"},
            {"type": "jsonl", "path": str(tmp_path / "abs.jsonl")},
            {
                "type": "webhook",
                "url": "https://hooks.example.com/t",
                "retries": 3,
                "timeout": 2,
                "backoff": 1,
                "headers": {"Authorization": "Bearer x"},
            },
        ],
        base_dir=tmp_path,
    )
    assert all(isinstance(s, Sink) for s in sinks)
    console, rel, absolute, hook = sinks
    assert isinstance(console, ConsoleSink)
    assert isinstance(rel, JsonLinesSink) and rel.path == tmp_path / "logs" / "alerts.jsonl"
    assert isinstance(absolute, JsonLinesSink) and absolute.path == tmp_path / "abs.jsonl"
    assert isinstance(hook, WebhookSink)
    assert (hook.retries, hook.timeout, hook.backoff) == (3, 2.0, 1.0)
    assert hook.headers["Authorization"] == "Bearer x"
    assert sinks_from_config([], base_dir=tmp_path) == []
    assert sinks_from_config(None, base_dir=tmp_path) == []


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"type": "slack"}], r"unknown type 'slack'; known types: console, jsonl, webhook"),
        ([{"path": "x"}], r"has no 'type'"),
        (
            [{"type": "jsonl", "path": "a", "rotate": 1, "fmt": 2}],
            r"#1 \(jsonl\) has unknown key\(s\) fmt, rotate; known keys for jsonl: type, path",
        ),
        (
            [{"type": "console"}, {"type": "webhook", "url": "x", "retry": 3}],
            r"#2 \(webhook\) has unknown key\(s\) retry; known keys for webhook: type, url",
        ),
        ([{"type": "jsonl"}], r"needs path"),
        ([{"type": "webhook"}], r"needs url"),
        ([{"type": "webhook", "url": "ftp://h/x"}], r"#1: webhook url 'ftp://h/x' is not"),
        ([{"type": "webhook", "url": "http://h", "retries": "3"}], r"retries must be an integer"),
        ([{"type": "webhook", "url": "http://h", "headers": ["a"]}], r"headers must be a mapping"),
        ([{"type": "console", "stream": "stdlog"}], r"stream must be stderr or stdout"),
        (["console"], r"must be a mapping"),
        ({"type": "console"}, r"must be a list"),
    ],
)
def test_sinks_from_config_errors(items: Any, expected: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=expected):
        sinks_from_config(items, base_dir=tmp_path)


# --------------------------------------------------------------------------- deliver


class _Broken:
    name = "broken"

    def send(self, event: Any) -> None:
        raise RuntimeError("boom")


def test_deliver_keeps_going_past_failing_sinks(server: tuple[str, Script], tmp_path: Path) -> None:
    url, script = server
    script.then(*[503] * 5)
    out = io.StringIO()
    path = tmp_path / "alerts.jsonl"
    sinks: list[Sink] = [
        _Broken(),
        WebhookSink(url, retries=2, backoff=0.0, sleep=Sleeps()),
        ConsoleSink(out),
        JsonLinesSink(path),
    ]
    errors = deliver(sinks, make_event())
    assert len(errors) == 2
    assert errors[0] == "broken sink failed: RuntimeError: boom"
    assert url in errors[1] and "HTTP 503" in errors[1]
    assert "flights.origin" in out.getvalue()
    assert len(path.read_text().splitlines()) == 1
    assert deliver([ConsoleSink(out)], make_event()) == []
