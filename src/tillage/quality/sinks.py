"""Alert sinks: where an event goes when tillage opens or updates an alert.

An event is a plain JSON-ready dict the caller builds, for example::

    {"event": "alert.opened", "alert": {"id": 12, ...}, "finding": finding.to_dict(),
     "repo": "/data/proj", "commit": "3f2a..."}

Sinks do not interpret it beyond what the console shows. Three kinds exist:

- `ConsoleSink`: one readable line per event (severity, subject, message, first action);
- `JsonLinesSink`: one JSON line per event appended to a file, safe with concurrent
  writers (each line is one ``os.write`` on an ``O_APPEND`` descriptor);
- `WebhookSink`: an HTTP POST of the JSON body, retried by urllib3's ``Retry`` with
  exponential backoff on connection errors, timeouts, 429 and 5xx, raising
  `SinkError` when it gives up.

`sinks_from_config` builds them from config entries and `deliver` sends one event
to every sink, collecting failures as messages instead of raising. Alerts reach
sinks through the catalog's outbox (`tillage.quality.outbox`), which calls
``send`` after the commit and retries later what failed: a sink that is down
never loses an alert and never holds up a commit.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import os
import socket
import ssl
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from http.client import HTTPException
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, Self, cast, runtime_checkable

from tillage.core.jsonable import jsonable
from tillage.errors import InputError, SinkError

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse, PoolManager
    from urllib3.util.retry import Retry

    class _RetryLike(Retry):
        sleeper: Callable[[float], None]
        failed: list[int] | None


__all__ = [
    "ConsoleSink",
    "JsonLinesSink",
    "Sink",
    "SinkError",
    "WebhookSink",
    "deliver",
    "encode_event",
    "sink_key",
    "sinks_from_config",
]

USER_AGENT = "tillage-alerts"


@runtime_checkable
class Sink(Protocol):
    """Anything that takes an event; ``send`` raises (ideally `SinkError`) on failure."""

    @property
    def name(self) -> str: ...

    def send(self, event: Mapping[str, Any]) -> None: ...


def sink_key(sink: Sink) -> str:
    """A short stable id for where ``sink`` delivers, kept on outbox rows.

    It hashes the destination (the full URL, secrets included, or the file), not
    the options: a rotated token in ``headers`` or a new timeout keeps the queue.
    """
    where = getattr(sink, "destination", None) or sink.name
    return hashlib.sha256(str(where).encode("utf-8")).hexdigest()[:32]


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
        self.destination = "console stdout" if stream is sys.stdout else "console stderr"

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
        self.destination = f"jsonl {self.path.absolute()}"

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


def _check_number(what: str, value: Any, *, minimum: float, integer: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise InputError(f"webhook {what} must be {kind} >= {minimum:g}, got {value!r}.")


RETRY_STATUSES = frozenset({429, *range(500, 600)})
"""Answers a webhook tries again: rate limiting and server errors."""


def _retry(sleeper: Callable[[float], None], failed: list[int], **options: Any) -> Retry:
    """A `_retry_type` instance with these options, waiting by ``sleeper``."""
    retry = _retry_type()(**options)
    retry.sleeper, retry.failed = sleeper, failed
    return retry


@functools.cache
def _retry_type() -> type[_RetryLike]:
    """urllib3's ``Retry`` with an injectable sleep and a count of failed tries.

    urllib3 decides what is retried and how long to wait (its backoff, or the
    server's ``Retry-After`` up to a cap); this only routes the wait through the
    sink's ``sleep`` (tests record it) and counts the tries for the error.
    Defined on first use: urllib3 takes a while to import and most commands
    never send a webhook.
    """
    from urllib3.util.retry import Retry

    class _Retry(Retry):
        sleeper: Callable[[float], None] = staticmethod(time.sleep)
        failed: list[int] | None = None

        def new(self, **kw: Any) -> Self:
            fresh = super().new(**kw)
            fresh.sleeper, fresh.failed = self.sleeper, self.failed
            return fresh

        def increment(self, *args: Any, **kwargs: Any) -> Self:
            if self.failed is not None:
                self.failed.append(1)
            return super().increment(*args, **kwargs)

        def sleep(self, response: BaseHTTPResponse | None = None) -> None:
            wait = None
            if response is not None and self.respect_retry_after_header:
                wait = self.get_retry_after(response)
            self.sleeper(self.get_backoff_time() if wait is None else wait)

    return cast("type[_RetryLike]", _Retry)


class WebhookSink:
    """POSTs each event as JSON to ``url``, retrying transient failures (urllib3 ``Retry``).

    Args:
        url: an ``http://`` or ``https://`` URL.
        timeout: seconds to wait to connect, and for each read, in one try.
        retries: how many tries in all (at least 1) before raising `SinkError`.
        backoff: urllib3's backoff factor: the second try follows at once, then
            the waits are 2, 4, 8... times ``backoff`` (plus up to 10 % jitter),
            capped at ``max_backoff``.
        headers: extra request headers (e.g. ``Authorization``); they override the
            defaults, ``Content-Type: application/json`` included.
        max_retry_after: the cap on a server's ``Retry-After`` (on 429 and 503).
        sleep: how to wait between tries (tests inject a recorder).

    With the defaults one event takes at most about 23 s against a server that
    never answers (4 tries of 5 s plus 0 + 1 + 2 s of backoff), or up to 90 s
    more where it keeps asking for the longest ``Retry-After``. Delivery from
    the outbox right after a command uses `within`: one try, cut to the time left.

    Retried: connection errors, timeouts, 429 and 5xx. Not retried: other 4xx,
    redirects (configure the final URL) and TLS errors. Every try of one event
    carries the same ``X-Tillage-Delivery`` id (the event's ``delivery`` id when it
    has one, as outbox events do) so receivers can drop repeats. The proxy
    variables (``https_proxy``, ``no_proxy``...) are honoured.
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
        self.destination = f"webhook {url}"
        self._sleep = sleep
        self._total: float | None = None

    def __repr__(self) -> str:
        return f"WebhookSink({redact_url(self.url)!r}, retries={self.retries})"

    def within(self, seconds: float) -> WebhookSink:
        """This sink limited to one try that ends within ``seconds`` (connect and read)."""
        quick = copy.copy(self)
        quick.retries = 1
        quick._total = max(0.001, seconds)
        quick.timeout = min(self.timeout, quick._total)
        return quick

    def _manager(self) -> PoolManager:
        """A connection pool for one event (closed after it: sinks have no lifecycle)."""
        import urllib.request

        import urllib3

        parts = urllib.parse.urlsplit(self.url)
        proxy = urllib.request.getproxies().get(parts.scheme.lower())
        if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
            return urllib3.ProxyManager(proxy)
        return urllib3.PoolManager()

    def send(self, event: Mapping[str, Any]) -> None:
        from urllib3 import Timeout
        from urllib3.exceptions import HTTPError, MaxRetryError

        body = encode_event(event)
        delivery = event.get("delivery")
        if not isinstance(delivery, str) or not delivery:
            delivery = uuid.uuid4().hex
        headers = {**self.headers, "X-Tillage-Delivery": delivery}
        target = redact_url(self.url)
        failed: list[int] = []
        retry = _retry(
            self._sleep,
            failed,
            total=self.retries - 1,
            other=0,  # TLS errors: retrying would not change the certificate
            redirect=False,
            allowed_methods=None,  # POST too: receivers drop repeats by delivery id
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            backoff_max=self.max_backoff,
            backoff_jitter=self.backoff * 0.1,
            retry_after_max=math.ceil(self.max_retry_after),
            raise_on_status=False,
            raise_on_redirect=False,
        )
        with self._manager() as pool:
            try:
                response = pool.request(
                    "POST",
                    self.url,
                    body=body,
                    headers=headers,
                    retries=retry,
                    redirect=False,
                    timeout=Timeout(connect=self.timeout, read=self.timeout, total=self._total),
                    preload_content=False,
                )
            except MaxRetryError as err:
                reason = err.reason if err.reason is not None else err
                raise SinkError(
                    "webhook",
                    target,
                    _describe_transport(reason),
                    self._fix_for_transport(reason),
                    attempts=max(1, len(failed)),
                ) from None
            except (HTTPError, OSError) as err:
                raise SinkError(
                    "webhook",
                    target,
                    _describe_transport(err),
                    self._fix_for_transport(err),
                    attempts=len(failed) + 1,
                ) from None
            try:
                status = response.status
                if status < 300:
                    return
                problem = f"HTTP {status} {response.reason or ''}".rstrip()
                problem += _response_snippet(response)
                location = response.headers.get("Location")
            finally:
                response.close()
        retried = status in RETRY_STATUSES
        raise SinkError(
            "webhook",
            target,
            problem,
            _fix_for_status(status, location),
            attempts=len(failed) if retried else len(failed) + 1,
            status=status,
        )

    def _fix_for_transport(self, reason: object) -> str:
        parts = urllib.parse.urlsplit(self.url)
        where = parts.netloc.rpartition("@")[2]
        if _is_timeout(reason):
            return (
                f"The server at {where} did not answer within {self.timeout:g} s; "
                "check that it is healthy, or raise the sink's `timeout`."
            )
        if _is_tls(reason):
            return "Check the server's TLS certificate (or use the URL it is issued for)."
        if isinstance(_cause(reason), socket.gaierror) or "NameResolution" in type(reason).__name__:
            return f"Check the host name {parts.hostname!r} and this machine's DNS."
        return f"Check that the server at {where} is running and reachable from this machine."


def _cause(err: object) -> object:
    """The socket-level error under urllib3's wrappers."""
    seen = 0
    while isinstance(err, BaseException) and seen < 5:
        inner = err.__cause__ or err.__context__
        if inner is None and err.args and isinstance(err.args[-1], BaseException):
            inner = err.args[-1]
        if inner is None:
            return err
        err, seen = inner, seen + 1
    return err


def _is_timeout(reason: object) -> bool:
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    return isinstance(reason, TimeoutError | socket.timeout | Urllib3Timeout) and not isinstance(
        _cause(reason), ConnectionRefusedError
    )


def _is_tls(reason: object) -> bool:
    from urllib3.exceptions import SSLError

    return isinstance(reason, SSLError | ssl.SSLError)


def _describe_transport(reason: object) -> str:
    root = _cause(reason)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if _is_timeout(reason):
        return "timed out"
    if isinstance(root, OSError) and root.strerror:
        return f"{type(root).__name__}: {root.strerror}"
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


def _response_snippet(response: BaseHTTPResponse) -> str:
    """The start of an error response's body (servers often say what was wrong there)."""
    from urllib3.exceptions import HTTPError

    try:
        raw = response.read(300)
    except (OSError, HTTPException, HTTPError, ValueError):
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
