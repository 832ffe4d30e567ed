"""What every operator command shares: credentials, the client, wire capture, errors, exit codes, progress.

* Credentials come from the environment (:data:`ENV_APP_ID`, :data:`ENV_CUSTOMER_ID`, :data:`ENV_CUSTOMER_SECRET`,
  optional :data:`ENV_BASE_URL`); a flag overrides its variable. A missing one is a usage error (exit 2) that names
  the variable. The secret is never printed: not in output, errors or ``--verbose`` logs (the library logs
  metadata only, and this module prints nothing but metadata and Agora's answers, which carry no credentials).
* ``--json`` prints Agora's answer exactly as it came over the wire: an httpx response hook keeps the last body of
  each endpoint (:class:`WireCapture`), so nothing is re-serialised from the models.
* Errors go to stderr as one line: endpoint, HTTP status, Agora's code, reason and request id (:func:`error_line`).
* Progress where an operator waits: one line redrawn in place on a terminal, plain lines otherwise
  (:class:`Progress`). The library's retry log records feed it, so a wait says why it waits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO

import attrs
import httpx

from agora_recording import (
    AgoraError,
    AlreadyStartedError,
    AlreadyStoppedError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CloudRecordingClient,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RecordingFailedError,
    ResourceExpiredError,
    ResponseFormatError,
    StartOutcomeUnknownError,
)

__all__ = [
    "ENV_APP_ID",
    "ENV_BASE_URL",
    "ENV_CUSTOMER_ID",
    "ENV_CUSTOMER_SECRET",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Progress",
    "Target",
    "UsageError",
    "WireCapture",
    "add_connection_options",
    "error_line",
    "exit_code_for",
    "open_client",
    "print_json",
    "target_from",
]

EXIT_OK = 0
"""The command did what was asked."""
EXIT_FAILED = 1
"""Agora said no, or the request failed (no answer, an unreadable answer, a recording that failed to start)."""
EXIT_USAGE = 2
"""Usage or configuration: a bad flag, a missing environment variable, an invalid ``--config`` file."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C (``record`` instead stops the recording and exits 0)."""

ENV_APP_ID = "AGORA_APP_ID"
ENV_CUSTOMER_ID = "AGORA_CUSTOMER_ID"
ENV_CUSTOMER_SECRET = "AGORA_CUSTOMER_SECRET"
ENV_BASE_URL = "AGORA_BASE_URL"

PROG = "agora-recording"
_ENDPOINTS = ("acquire", "start", "update", "updateLayout", "query", "stop")


class UsageError(Exception):
    """A usage or configuration problem: the message is printed on stderr and the command exits 2."""


@attrs.frozen(kw_only=True)
class Target:
    """Where and as whom the commands call: the App ID, the RESTful credentials and an optional base URL."""

    app_id: str
    customer_id: str = attrs.field(repr=False)
    customer_secret: str = attrs.field(repr=False)
    base_url: str | None = None


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that talks to Agora (credentials, target, output)."""
    group = parser.add_argument_group("credentials and target (flags override the environment)")
    group.add_argument("--app-id", metavar="ID", help=f"the App ID (default: ${ENV_APP_ID})")
    group.add_argument("--customer-id", metavar="ID", help=f"RESTful API Customer ID (default: ${ENV_CUSTOMER_ID})")
    group.add_argument(
        "--customer-secret",
        metavar="SECRET",
        help=f"RESTful API Customer Secret (default: ${ENV_CUSTOMER_SECRET}; prefer the variable: a flag shows in ps)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"one host to call instead of Agora's domains, e.g. a proxy or the fake (default: ${ENV_BASE_URL})",
    )
    group.add_argument("--timeout", type=float, metavar="SECONDS", help="per-attempt HTTP timeout")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print Agora's answer as its wire JSON on stdout")
    out.add_argument("--no-live", action="store_true", help="plain progress lines, no redrawn status line")
    out.add_argument("-v", "--verbose", action="store_true", help="log each request (metadata only) on stderr")


def target_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Target:
    """Credentials and target from the flags, else the environment; a missing one raises :class:`UsageError`."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    missing: list[str] = []
    for attr, var, flag in (
        ("app_id", ENV_APP_ID, "--app-id"),
        ("customer_id", ENV_CUSTOMER_ID, "--customer-id"),
        ("customer_secret", ENV_CUSTOMER_SECRET, "--customer-secret"),
    ):
        value = getattr(args, attr, None) or env.get(var, "")
        if not value:
            missing.append(f"{var} (or {flag})")
        values[attr] = value
    if missing:
        raise UsageError(f"missing credentials: set {', '.join(missing)}")
    base_url = getattr(args, "base_url", None) or env.get(ENV_BASE_URL) or None
    return Target(base_url=base_url, **values)


class WireCapture:
    """Keeps the last answer body of each endpoint, as parsed JSON, exactly as Agora sent it (for ``--json``)."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}

    async def on_response(self, response: httpx.Response) -> None:
        """httpx response hook: read the body and remember it under its endpoint (the path's last segment)."""
        endpoint = response.request.url.path.rsplit("/", 1)[-1]
        if endpoint not in _ENDPOINTS:
            return
        await response.aread()
        try:
            self._last[endpoint] = json.loads(response.content) if response.content else None
        except (ValueError, UnicodeDecodeError):
            self._last[endpoint] = None

    def take(self, endpoint: str) -> Any:
        """The last body answered by ``endpoint`` (``None`` if none, or not JSON), forgetting it."""
        return self._last.pop(endpoint, None)


@asynccontextmanager
async def open_client(
    target: Target, *, timeout: float | None = None
) -> AsyncIterator[tuple[CloudRecordingClient, WireCapture]]:
    """A :class:`CloudRecordingClient` for ``target`` whose answers are captured for ``--json``."""
    capture = WireCapture()
    http = httpx.AsyncClient(
        event_hooks={"response": [capture.on_response]},
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
    )
    try:
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        client = CloudRecordingClient(
            target.app_id,
            target.customer_id,
            target.customer_secret,
            base_url=target.base_url,
            http_client=http,
            **options,
        )
        async with client:
            yield client, capture
    finally:
        await http.aclose()


def print_json(data: Any, out: TextIO | None = None) -> None:
    """One JSON document on one line (``jq`` reads it, and a stream of them is JSON Lines)."""
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
    stream.flush()


def _hint(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationError):
        return f"authentication failed: check {ENV_CUSTOMER_ID}, {ENV_CUSTOMER_SECRET} and {ENV_APP_ID}"
    if isinstance(exc, NotFoundError):
        if exc.worker_not_found:
            return "no such recording: it has ended, or the resourceId/sid/mode are wrong"
        return "no such route: check the App ID, the mode and the base URL"
    if isinstance(exc, RateLimitError):
        return "rate limited by Agora: retry later"
    if isinstance(exc, AlreadyStoppedError):
        return "the recording is already stopping or stopped"
    if isinstance(exc, StartOutcomeUnknownError):
        return "a recording was started but its sid was never received; it ends at its maxIdleTime"
    if isinstance(exc, AlreadyStartedError):
        return "this resourceId has already started a recording: acquire a new one"
    if isinstance(exc, ResourceExpiredError):
        return "the resourceId has expired (five minutes): acquire a new one"
    return "Agora refused the request"


def error_line(exc: BaseException) -> str:
    """The one-line stderr message for an error: endpoint, status, code, reason, request id (never a secret)."""
    if isinstance(exc, UsageError):
        return f"{PROG}: error: {exc}"
    if isinstance(exc, InvalidRequestError):
        return f"{PROG}: error: invalid request: {exc.field}: {exc.rule} (nothing was sent)"
    if isinstance(exc, (APIStatusError, ResourceExpiredError)) and exc.status_code is not None:
        reason = json.dumps(exc.reason, ensure_ascii=False) if exc.reason else "-"
        return (
            f"{PROG}: {exc.endpoint}: HTTP {exc.status_code}, code {exc.code if exc.code is not None else '-'}, "
            f"reason {reason}, request id {exc.request_id or '-'}: {_hint(exc)}"
        )
    if isinstance(exc, ResourceExpiredError):  # the client-side guard: nothing was sent
        return f"{PROG}: {exc.endpoint}: {exc}: {_hint(exc)} (nothing was sent)"
    if isinstance(exc, ResponseFormatError):
        return f"{PROG}: {exc.endpoint}: unreadable answer: {exc}"
    if isinstance(exc, APIConnectionError):
        return f"{PROG}: {exc.endpoint}: request failed, no answer: {exc}"
    if isinstance(exc, RecordingFailedError):
        return f"{PROG}: recording failed: {exc}"
    return f"{PROG}: error: {type(exc).__name__}: {exc}"


def exit_code_for(exc: BaseException) -> int:
    """The exit status for an error raised by a command (see the module's ``EXIT_*`` constants)."""
    if isinstance(exc, (UsageError, InvalidRequestError)):
        return EXIT_USAGE
    if isinstance(exc, AgoraError):
        return EXIT_FAILED
    raise exc  # not ours: a bug, let Python show it


class Progress:
    """A status line for an operator who waits: redrawn in place on a terminal, plain lines otherwise.

    In plain mode a line is printed only when its ``key`` changes (so logs are not flooded); :meth:`note` always
    prints a line of its own.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self._out = stream if stream is not None else sys.stderr
        if live is None:
            isatty = getattr(self._out, "isatty", None)
            live = bool(isatty()) if callable(isatty) else False
        self.live = live
        self._shown = False
        self._last_key: object = None
        self._started = time.monotonic()

    @property
    def stream(self) -> TextIO:
        """Where progress and errors go (stderr by default)."""
        return self._out

    def elapsed(self) -> float:
        """Seconds since this progress began (or since :meth:`restart`)."""
        return time.monotonic() - self._started

    def restart(self) -> None:
        """Measure :meth:`elapsed` from now."""
        self._started = time.monotonic()

    def update(self, text: str, *, key: object = None) -> None:
        """Show ``text`` as the current status (plain mode: only when ``key``, default ``text``, changed)."""
        if self.live:
            self._out.write("\r" + text + "\x1b[K")
            self._shown = True
        else:
            key = text if key is None else key
            if key == self._last_key:
                return
            self._last_key = key
            self._out.write(text + "\n")
        self._out.flush()

    def note(self, text: str) -> None:
        """A line of its own (the live line, if any, is redrawn below it on the next update)."""
        self.clear()
        self._out.write(text + "\n")
        self._out.flush()

    def clear(self) -> None:
        """Remove the live line (nothing to do in plain mode)."""
        if self.live and self._shown:
            self._out.write("\r\x1b[K")
            self._out.flush()
            self._shown = False


class _RetryNotes(logging.Handler):
    """Shows the library's retry records ("agora retry ...": metadata only) as progress notes."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self._progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("agora retry "):
            fields = dict(part.split("=", 1) for part in message[len("agora retry ") :].split(" ") if "=" in part)
            reason = message.partition(" reason=")[2] or "retrying"
            self._progress.note(
                f"{fields.get('endpoint', 'request')}: attempt {fields.get('attempt', '?')} failed "
                f"({reason}); retrying in {fields.get('delay', '?')} s"
            )


@asynccontextmanager
async def logging_to(progress: Progress, *, verbose: bool) -> AsyncIterator[None]:
    """While inside: retry notes on the progress stream, and with ``verbose`` every library log line on stderr."""
    logger = logging.getLogger("agora_recording")
    handlers: list[logging.Handler] = [_RetryNotes(progress)]
    if verbose:
        plain = logging.StreamHandler(sys.stderr)
        plain.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        plain.setLevel(logging.DEBUG)
        handlers.append(plain)
    old_level = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(old_level)
