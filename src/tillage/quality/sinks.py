"""Alert sinks: where an event goes when tillage opens or updates an alert.

An event is a plain JSON-ready dict the caller builds, for example::

    {"event": "alert.opened", "alert": {"id": 12, ...}, "finding": finding.to_dict(),
     "repo": "/data/proj", "commit": "3f2a..."}

Sinks do not interpret it beyond what the console shows. Three kinds exist:

- `ConsoleSink`: one readable line per event (severity, subject, message, first action);
- `JsonLinesSink`: one JSON line per event appended to a file, safe with concurrent
  writers (each line is one ``os.write`` on an ``O_APPEND`` descriptor);
- `WebhookSink`: an HTTP POST of the JSON body, retried with exponential backoff on
  connection errors, timeouts, 429 and 5xx, raising `SinkError` when it gives up.

`sinks_from_config` builds them from config entries and `deliver` sends one event
to every sink, collecting failures as messages instead of raising: the alert itself
lives in the catalog, so a sink that is down never loses it.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import random
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.client import HTTPException, HTTPMessage
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from tillage.core.jsonable import jsonable
from tillage.errors import InputError, SinkError

__all__ = [
    "ConsoleSink",
    "JsonLinesSink",
    "Sink",
    "SinkError",
    "WebhookSink",
    "deliver",
    "encode_event",
    "sinks_from_config",
]

USER_AGENT = "tillage-alerts"
RETRY_STATUSES_WITH_RETRY_AFTER = frozenset({429, 503})


@runtime_checkable
class Sink(Protocol):
    """Anything that takes an event; ``send`` raises (ideally `SinkError`) on failure."""

    @property
    def name(self) -> str: ...

    def send(self, event: Mapping[str, Any]) -> None: ...


# --------------------------------------------------------------------------- encoding


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The event as compact, strict (RFC 8259) UTF-8 JSON, without a trailing newline."""
    return json.dumps(
        jsonable(event), ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


# --------------------------------------------------------------------------- console


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


class ConsoleSink:
    """Writes one readable line per event to ``stream`` (standard error when None).

    ``WARN flights.dep_delay: <message> [alert.opened #12] -> tillage alerts accept 12``
    """

    name = "console"

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    @staticmethod
    def format(event: Mapping[str, Any]) -> str:
        """The line shown for ``event`` (never raises on a missing or odd field)."""
        finding = event.get("finding")
        finding = finding if isinstance(finding, Mapping) else {}
        alert = event.get("alert")
        alert = alert if isinstance(alert, Mapping) else {}

        severity = finding.get("severity") or alert.get("severity") or event.get("severity")
        subject = finding.get("subject") or alert.get("subject") or event.get("subject")
        if not subject and finding.get("dataset"):
            column = finding.get("column")
            subject = f"{finding['dataset']}.{column}" if column else finding["dataset"]
        message = finding.get("message") or alert.get("message") or event.get("message") or ""

        parts = [str(severity or "info").upper()]
        parts.append(
            f"{_one_line(subject)}: {_one_line(message)}" if subject else _one_line(message)
        )
        tag = " ".join(
            str(x) for x in (event.get("event"), f"#{alert['id']}" if "id" in alert else None) if x
        )
        if tag:
            parts.append(f"[{_one_line(tag)}]")
        actions = event.get("actions") or finding.get("actions") or alert.get("actions")
        if isinstance(actions, list | tuple) and actions:
            parts.append(f"-> {_one_line(actions[0])}")
        return " ".join(p for p in parts if p)

    def send(self, event: Mapping[str, Any]) -> None:
        stream = self._stream if self._stream is not None else sys.stderr
        stream.write(self.format(event) + "\n")
        stream.flush()

    def __repr__(self) -> str:
        return "ConsoleSink()"


# --------------------------------------------------------------------------- JSON lines

_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)


class JsonLinesSink:
    """Appends one JSON line per event to ``path``, creating its parent folders.

    Each line is written with a single ``os.write`` on a descriptor opened with
    ``O_APPEND``, so lines from concurrent processes never interleave on a local
    file system (a short write, which only a full disk causes, is completed after).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.name = f"jsonl {self.path}"

    def send(self, event: Mapping[str, Any]) -> None:
        data = encode_event(event) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, _APPEND_FLAGS, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError as err:
            raise SinkError(
                "jsonl",
                str(self.path),
                err.strerror or str(err),
                "Check that the folder exists or can be created, is writable and has space.",
            ) from err

    def __repr__(self) -> str:
        return f"JsonLinesSink({str(self.path)!r})"


# --------------------------------------------------------------------------- webhook


def redact_url(url: str) -> str:
    """``url`` without its password and query values, fit for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    query = "&".join(
        f"{k}=***" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are errors: urllib would turn the POST into a GET and drop the body."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _check_number(what: str, value: Any, *, minimum: float, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise InputError(f"webhook {what} must be {kind} >= {minimum:g}, got {value!r}.")


class WebhookSink:
    """POSTs each event as JSON to ``url``, retrying transient failures.

    Args:
        url: an ``http://`` or ``https://`` URL.
        timeout: seconds to wait for each socket operation of one try.
        retries: how many tries in all (at least 1) before raising `SinkError`.
        backoff: the wait before the second try; it doubles after each try (plus up
            to 10 % jitter), capped at ``max_backoff``.
        headers: extra request headers (e.g. ``Authorization``); they override the
            defaults, ``Content-Type: application/json`` included.
        max_retry_after: the cap on a server's ``Retry-After`` (on 429 and 503).
        sleep: how to wait between tries (tests inject a recorder).

    With the defaults one event takes at most about 24 s against a server that
    never answers (4 tries of 5 s plus 0.5 + 1 + 2 s of backoff), or up to 90 s
    more where it keeps asking for the longest ``Retry-After``.

    Retried: connection errors, timeouts, 429 and 5xx. Not retried: other 4xx,
    redirects (configure the final URL) and certificate errors. Every try of one
    event carries the same ``X-Tillage-Delivery`` id so receivers can drop repeats.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 4,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        max_backoff: float = 30.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(url, str):
            raise InputError(f"webhook url must be a string, got {url!r}.")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InputError(
                f"webhook url {redact_url(url)!r} is not an http(s) URL; "
                "give one like https://hooks.example.com/tillage."
            )
        _check_number("timeout", timeout, minimum=0.001)
        _check_number("retries", retries, minimum=1, integer=True)
        _check_number("backoff", backoff, minimum=0)
        _check_number("max_backoff", max_backoff, minimum=0)
        _check_number("max_retry_after", max_retry_after, minimum=0)
        extra = dict(headers or {})
        for key, value in extra.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InputError(
                    f"webhook headers must map strings to strings, got {key!r}: {value!r}."
                )
            if not key or any(c in key for c in ":\r\n \t") or any(c in value for c in "\r\n"):
                raise InputError(f"webhook header {key!r} has a name or value HTTP forbids.")

        self.url = url
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.headers: dict[str, str] = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        # Header names are case-insensitive: a caller's "content-type" replaces ours.
        for key, value in extra.items():
            for existing in [k for k in self.headers if k.lower() == key.lower()]:
                del self.headers[existing]
            self.headers[key] = value
        self.name = f"webhook {redact_url(url)}"
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return f"WebhookSink({redact_url(self.url)!r}, retries={self.retries})"

    def _delay(self, attempt: int) -> float:
        """The backoff wait after try number ``attempt`` (1-based), jitter included."""
        base = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return base + random.uniform(0, base * 0.1)

    def send(self, event: Mapping[str, Any]) -> None:
        body = encode_event(event)
        headers = {**self.headers, "X-Tillage-Delivery": uuid.uuid4().hex}
        target = redact_url(self.url)
        problem = ""
        fix = ""
        status: int | None = None
        for attempt in range(1, self.retries + 1):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            retry_after: float | None = None
            try:
                with self._opener.open(request, timeout=self.timeout):
                    return
            except urllib.error.HTTPError as err:
                with err:
                    status = err.code
                    detail = _response_snippet(err)
                    problem = f"HTTP {err.code} {err.reason}{detail}"
                    retryable = status == 429 or 500 <= status <= 599
                    if status in RETRY_STATUSES_WITH_RETRY_AFTER:
                        retry_after = _parse_retry_after(err.headers.get("Retry-After"))
                    if not retryable:
                        raise SinkError(
                            "webhook",
                            target,
                            problem,
                            _fix_for_status(status, err.headers.get("Location")),
                            attempts=attempt,
                            status=status,
                        ) from None
                    fix = _fix_for_status(status, None)
            except urllib.error.URLError as err:
                status = None
                reason = err.reason
                problem = _describe_transport(reason)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise SinkError(
                        "webhook",
                        target,
                        problem,
                        "Check the server's TLS certificate (or use the URL it is issued for).",
                        attempts=attempt,
                    ) from err
                fix = self._fix_for_transport(reason)
            except (OSError, HTTPException) as err:
                status = None
                problem = _describe_transport(err)
                fix = self._fix_for_transport(err)
            if attempt < self.retries:
                wait = self._delay(attempt)
                if retry_after is not None:
                    wait = min(retry_after, self.max_retry_after)
                self._sleep(wait)
        raise SinkError("webhook", target, problem, fix, attempts=self.retries, status=status)

    def _fix_for_transport(self, reason: object) -> str:
        parts = urllib.parse.urlsplit(self.url)
        where = parts.netloc.rpartition("@")[2]
        if isinstance(reason, TimeoutError | socket.timeout):
            return (
                f"The server at {where} did not answer within {self.timeout:g} s; "
                "check that it is healthy, or raise the sink's `timeout`."
            )
        if isinstance(reason, socket.gaierror):
            return f"Check the host name {parts.hostname!r} and this machine's DNS."
        return f"Check that the server at {where} is running and reachable from this machine."


def _describe_transport(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__


def _response_snippet(err: urllib.error.HTTPError) -> str:
    """The start of an error response's body (servers often say what was wrong there)."""
    try:
        raw = err.read(300)
    except (OSError, HTTPException):
        return ""
    text = _one_line(raw.decode("utf-8", "replace"))[:200]
    return f" ({text})" if text else ""


def _fix_for_status(status: int, location: str | None) -> str:
    if 300 <= status < 400:
        to = f" to {redact_url(location)}" if location else ""
        return f"The server redirects{to}; configure the final URL in the sink."
    if status in (401, 403):
        return "Check the credentials in the sink's `headers` (or the token in its URL)."
    if status in (404, 405, 410):
        return "Check the webhook URL; the server has no endpoint accepting POST there."
    if status == 429:
        return "The server is rate limiting; raise the sink's `retries`/`backoff` or alert less."
    if 500 <= status <= 599:
        return "The server is failing; check its status or logs. The alert stays in the catalog."
    return "The server rejected the event; check the URL and the body format it expects."


# --------------------------------------------------------------------------- config

_KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "console": ("type", "stream"),
    "jsonl": ("type", "path"),
    "webhook": ("type", "url", "timeout", "retries", "backoff", "headers"),
}
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "console": (),
    "jsonl": ("path",),
    "webhook": ("url",),
}


def sinks_from_config(items: Iterable[Mapping[str, Any]] | None, *, base_dir: Path) -> list[Sink]:
    """Sinks from config entries; relative ``jsonl`` paths are relative to ``base_dir``.

    Entries look like ``{"type": "console"}`` (optional ``stream``: ``stderr`` or
    ``stdout``), ``{"type": "jsonl", "path": "alerts.jsonl"}`` and
    ``{"type": "webhook", "url": "https://...", "timeout": 5, "retries": 4,
    "backoff": 0.5, "headers": {"Authorization": "Bearer ..."}}``.
    """
    if items is None:
        return []
    if isinstance(items, str | bytes | Mapping):
        raise InputError(
            f"alert sinks must be a list of entries like {{'type': 'console'}}, got {items!r}."
        )
    sinks: list[Sink] = []
    known_types = ", ".join(_KNOWN_KEYS)
    for number, item in enumerate(items, start=1):
        where = f"alert sink #{number}"
        if not isinstance(item, Mapping):
            raise InputError(f"{where} must be a mapping like {{'type': 'console'}}, got {item!r}.")
        kind = item.get("type")
        if kind not in _KNOWN_KEYS:
            raise InputError(
                f"{where} has unknown type {kind!r}; known types: {known_types}."
                if "type" in item
                else f"{where} has no 'type'; known types: {known_types}."
            )
        known = _KNOWN_KEYS[kind]
        unknown = sorted(str(k) for k in item if k not in known)
        if unknown:
            raise InputError(
                f"{where} ({kind}) has unknown key(s) {', '.join(unknown)}; "
                f"known keys for {kind}: {', '.join(known)}."
            )
        missing = [k for k in _REQUIRED_KEYS[kind] if item.get(k) in (None, "")]
        if missing:
            raise InputError(f"{where} ({kind}) needs {', '.join(missing)}.")
        sinks.append(_build(kind, item, where, base_dir))
    return sinks


def _build(kind: str, item: Mapping[str, Any], where: str, base_dir: Path) -> Sink:
    if kind == "console":
        stream = item.get("stream", "stderr")
        if stream not in ("stderr", "stdout"):
            raise InputError(f"{where} (console): stream must be stderr or stdout, not {stream!r}.")
        return ConsoleSink(sys.stdout) if stream == "stdout" else ConsoleSink()
    if kind == "jsonl":
        path = item["path"]
        if not isinstance(path, str | os.PathLike):
            raise InputError(f"{where} (jsonl): path must be a string, got {path!r}.")
        resolved = Path(path).expanduser()
        return JsonLinesSink(resolved if resolved.is_absolute() else Path(base_dir) / resolved)
    options = {k: item[k] for k in ("timeout", "retries", "backoff", "headers") if k in item}
    if "headers" in options and not isinstance(options["headers"], Mapping):
        raise InputError(f"{where} (webhook): headers must be a mapping, got {item['headers']!r}.")
    try:
        return WebhookSink(item["url"], **options)
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


# --------------------------------------------------------------------------- delivery


def deliver(sinks: Iterable[Sink], event: Mapping[str, Any]) -> list[str]:
    """Sends ``event`` to every sink; returns one message per sink that failed.

    A failing sink never stops the others and nothing is raised: callers show the
    messages as warnings (the alert is already safe in the catalog).
    """
    errors: list[str] = []
    for sink in sinks:
        try:
            sink.send(event)
        except SinkError as err:
            errors.append(str(err))
        except Exception as err:
            name = getattr(sink, "name", type(sink).__name__)
            errors.append(f"{name} sink failed: {type(err).__name__}: {err}")
    return errors
