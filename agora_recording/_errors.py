"""Every exception the library raises, in one tree.

::

    AgoraError                          root of everything the library raises
    +-- InvalidRequestError(ValueError)   bad argument, caught before any I/O; names the field and the rule
    +-- SessionStateError(RuntimeError)   a RecordingSession call that makes no sense in its current state
    +-- ResourceExpiredError              a resourceId older than its five minutes (client guard or code 433)
    +-- RecordingFailedError              start verification failed: status 20, or not recording in time
    +-- APIConnectionError                the request may not have reached Agora (DNS, connect, reset)
    |   +-- APITimeoutError               a timeout; for start() the outcome is unknown
    +-- ResponseFormatError               a 2xx answer that is not Agora's: not JSON, wrong shape, other ids
    |   +-- ResponseTooLargeError         a body larger than ``max_response_bytes`` (decompressed)
    +-- APIStatusError                    Agora answered with an error: .status_code .code .reason .request_id
        +-- BadRequestError               400 (code 2 invalid parameter, 53 task conflict, 432, 1001, ...)
        |   +-- AlreadyStoppedError       400 + code 49 on stop: the task is already stopping or stopped
        +-- AuthenticationError           401 (credentials wrong or not allowed for the App ID)
        +-- NotFoundError                 404 (no route, or code 404 "failed to find worker")
        +-- RateLimitError                429 (.retry_after when the server said how long)
        +-- IncompleteRequestError        206 + code 65 "request not completed" (retried by default)
        +-- AlreadyStartedError           201 + code 7 on start: the resourceId already started a recording
        |   +-- StartOutcomeUnknownError  a resend of start got code 7: a recording runs whose sid we never saw
        +-- ServerError                   5xx (500 internal, 502 allocate worker, 504 code 62 request timeout)

``str()`` and ``repr()`` of every error show the endpoint, the HTTP status, Agora's code, reason and request id.
They never show headers, bodies or credentials. The reason and the request id come from the server, so they are
capped (200 and 128 characters) and escaped (control characters such as ANSI escapes appear as ``\\x1b``).
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgoraError",
    "AlreadyStartedError",
    "AlreadyStoppedError",
    "AuthenticationError",
    "BadRequestError",
    "IncompleteRequestError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitError",
    "RecordingFailedError",
    "ResourceExpiredError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "ServerError",
    "SessionStateError",
    "StartOutcomeUnknownError",
    "error_from_response",
]

_INT_RE = re.compile(r"-?[0-9]{1,9}")
_SECONDS_RE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|\+?inf(?:inity)?", re.IGNORECASE)

# Agora service codes with a fixed meaning that the library acts on.
CODE_ALREADY_STARTED = 7
CODE_ALREADY_STOPPING = 49
CODE_REQUEST_TIMEOUT = 62
CODE_REQUEST_NOT_COMPLETED = 65
CODE_WORKER_NOT_FOUND = 404
CODE_RESOURCE_EXPIRED = 433
CODE_NO_RECORDED_DATA = 435

MAX_REASON_CHARS = 200
MAX_REQUEST_ID_CHARS = 128


def _escaped(text: str) -> str:
    """``text`` with every non-printable character escaped as ``repr`` does (no quotes around it)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


MAX_LOGGED_ID_CHARS = 2048


def log_safe(value: object) -> object:
    """A server-, store- or notification-provided value (sid, resourceId, cname, uid) fit for a log line.

    Escaped as errors escape Agora's reason and request id (a newline appears as ``\\n``, an ANSI escape as
    ``\\x1b``), so a hostile id cannot forge log lines, and capped at 2048 characters. ``None`` and non-strings are
    returned as they are (their ``%s`` form is the library's own).
    """
    if not isinstance(value, str):
        return value
    text = _escaped(value[: MAX_LOGGED_ID_CHARS + 1])
    return text if len(text) <= MAX_LOGGED_ID_CHARS else text[:MAX_LOGGED_ID_CHARS] + "..."


def clean_request_id(value: str | None) -> str | None:
    """An ``X-Request-Id`` fit for a message: at most 128 characters, control characters escaped."""
    if value is None:
        return None
    text = _escaped(value[: MAX_REQUEST_ID_CHARS + 1])
    if len(text) > MAX_REQUEST_ID_CHARS:
        text = text[:MAX_REQUEST_ID_CHARS] + "..."
    return text


class AgoraError(Exception):
    """Root of every error raised by agora-recording."""


class InvalidRequestError(AgoraError, ValueError):
    """An argument breaks one of Agora's documented rules; raised before anything is sent.

    ``field`` is the field's path (snake_case Python name), ``rule`` says what is required.
    """

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class SessionStateError(AgoraError, RuntimeError):
    """A :class:`~agora_recording.RecordingSession` call that makes no sense in the session's current state."""


class ResourceExpiredError(AgoraError):
    """The resourceId is older than its five-minute validity: the client-side guard, or Agora's code 433.

    When Agora answered, ``status_code``, ``code``, ``reason`` and ``request_id`` say how; for the client-side
    guard they are ``None``. ``resource_id`` is the expired resourceId.
    """

    def __init__(
        self,
        message: str,
        *,
        resource_id: str | None = None,
        endpoint: str = "start",
        status_code: int | None = None,
        code: int | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.resource_id = resource_id
        self.endpoint = endpoint
        self.status_code = status_code
        self.code = code
        self.reason = reason
        self.request_id = clean_request_id(request_id)
        if status_code is not None:
            message += f" (HTTP {status_code}, code {code}"
            message += f", {reason!r})" if reason else ")"
        if self.request_id:
            message += f" [request id {self.request_id}]"
        super().__init__(message)


class RecordingFailedError(AgoraError):
    """Start verification failed: Agora reports status 20 (exited abnormally) or never reached 4/5 in time."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class APIConnectionError(AgoraError):
    """The request may not have reached Agora: DNS failure, refused or reset connection, protocol error."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        self.endpoint = endpoint
        super().__init__(f"{endpoint}: {message}")


class APITimeoutError(APIConnectionError):
    """The request timed out. For ``start`` the outcome is unknown: the recording may have started."""


class ResponseFormatError(AgoraError):
    """Agora's answer could not be read: not JSON, or a body that does not fit the response model."""

    def __init__(
        self, message: str, *, endpoint: str, status_code: int | None = None, request_id: str | None = None
    ) -> None:
        self.endpoint = endpoint
        self._message = message
        self.status_code = status_code
        self.request_id = clean_request_id(request_id)
        super().__init__(self._describe())

    def _describe(self) -> str:
        detail = f"{self.endpoint}: {self._message}"
        if self.status_code is not None:
            detail += f" (HTTP {self.status_code})"
        if self.request_id:
            detail += f" [request id {self.request_id}]"
        return detail

    def with_answer(self, *, status_code: int, request_id: str | None) -> ResponseFormatError:
        """Attach the HTTP status and request id of the answer (known only to the client); returns ``self``."""
        self.status_code = status_code
        self.request_id = clean_request_id(request_id)
        self.args = (self._describe(),)
        return self


class ResponseTooLargeError(ResponseFormatError):
    """The answer's body (after decompression) is larger than the client's ``max_response_bytes``.

    Agora's answers are a few KiB; a body this large is a proxy's page, a misrouted download or a compression bomb.
    Reading stops at the limit and the connection is closed. ``limit`` is the limit in bytes. On ``start`` and
    ``stop`` the request may have been acted on, so the client resends it (as after a lost answer); on the other
    endpoints it raises at once.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        limit: int,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.limit = limit
        super().__init__(
            f"the answer is larger than max_response_bytes={limit}; reading stopped there",
            endpoint=endpoint,
            status_code=status_code,
            request_id=request_id,
        )


class APIStatusError(AgoraError):
    """Agora answered with an error.

    Attributes: ``endpoint`` (acquire, start, update, updateLayout, query, stop), ``status_code`` (HTTP),
    ``code`` (Agora's service code, ``None`` for gateway errors), ``reason`` (Agora's ``reason`` or the
    gateway's ``message``), ``request_id`` (the ``X-Request-Id`` header, for Agora support).
    """

    def __init__(
        self,
        *,
        endpoint: str,
        status_code: int,
        code: int | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.status_code = status_code
        self.code = code
        self.reason = reason
        self.request_id = clean_request_id(request_id)
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.endpoint}: HTTP {self.status_code}"]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.reason:
            parts.append(repr(self.reason))
        text = ", ".join(parts)
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.endpoint!r}, status_code={self.status_code}, "
            f"code={self.code!r}, reason={self.reason!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """HTTP 400: Agora refused the parameters (code 2), a task conflict (53), a mismatch (432), ..."""


class AlreadyStoppedError(BadRequestError):
    """400 + code 49 on stop: the task is already stopping or has stopped (duplicate stop, idle timeout)."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the Customer ID/secret are wrong, missing, or not allowed for this App ID."""


class NotFoundError(APIStatusError):
    """HTTP 404: a wrong route (gateway), or code 404 "failed to find worker" (the task is gone, or failing over).

    ``worker_not_found`` tells the two apart.
    """

    @property
    def worker_not_found(self) -> bool:
        """True for Agora's service 404 (the recording task was not found), False for a gateway 404."""
        return self.code == CODE_WORKER_NOT_FOUND


class RateLimitError(APIStatusError):
    """HTTP 429: the account's request rate was exceeded. ``retry_after`` is the server's hint in seconds."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


class IncompleteRequestError(APIStatusError):
    """206 + code 65 "request not completed": it reached Agora but the backend did not answer in time."""


class AlreadyStartedError(APIStatusError):
    """201 + code 7 on start: this resourceId has already started a recording. There is no sid in the answer.

    ``resource_id`` carries the resourceId.
    """

    def __init__(self, *, resource_id: str | None = None, **kwargs: Any) -> None:
        self.resource_id = resource_id
        super().__init__(**kwargs)


class StartOutcomeUnknownError(AlreadyStartedError):
    """A start was resent after a lost answer, and the resend got code 7 (or code 433).

    Code 7: a recording was started with ``resource_id`` but its sid was never received. Code 433 (the resend came
    after the resourceId's five minutes): the first send may have started one. Such a recording runs (and is
    billed) until Agora's ``maxIdleTime`` ends it; it cannot be stopped without its sid.
    """

    def _describe(self) -> str:
        if self.code == CODE_RESOURCE_EXPIRED:
            what = (
                "start: a recording may have started but its sid was never received "
                "(the answer was lost and the resend got code 433 'resource expired'); "
            )
        else:
            what = (
                "start: a recording was started but its sid was never received "
                "(the answer was lost and the resend got code 7 'already started'); "
            )
        return what + f"resourceId {self.resource_id!r}. " + super()._describe()


class ServerError(APIStatusError):
    """HTTP 5xx: Agora's side failed (500 internal, 502 allocate worker, 504 code 62 request timeout, ...)."""


def parse_code(value: object) -> int | None:
    """Agora's ``code``: an int, or an integer string; anything else is no code."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    return None


def _parse_error_body(body: bytes) -> tuple[int | None, str | None]:
    """Read Agora's two error shapes: gateway ``{"message"}`` and service ``{"code", "reason"}``."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested too deep
        return None, None
    if not isinstance(data, Mapping):
        return None, None
    code = parse_code(data.get("code"))
    reason = data.get("reason")
    if not isinstance(reason, str):
        message = data.get("message")
        reason = message if isinstance(message, str) else None
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        reason = reason[:MAX_REASON_CHARS] + "..."
    return code, reason


MAX_RETRY_AFTER = 3600.0
"""A ``Retry-After`` above this (one hour), ``inf`` included, reads as one hour; the client caps its wait further
(:attr:`RetryPolicy.max_delay`, 30 s by default), so a larger hint never makes it wait less."""


def parse_retry_after(value: str | None, *, date: str | None = None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header; ``None`` when absent or unreadable.

    The delta-seconds form (``"2"``; ``"2.5"`` and ``"1e3"`` are read too) and the HTTP-date form, measured from the
    answer's ``Date`` header (``date``) when it has one, else from ``now`` (Unix seconds, default ``time.time()``).
    A value past :data:`MAX_RETRY_AFTER` (``inf``, ``1e9``) is capped at it; a date in the past is 0. NaN, negative
    numbers, words and dates that do not parse count as absent.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS_RE.fullmatch(text):
        seconds = float(text)
    else:
        found = _seconds_until(text, date=date, now=now)
        if found is None:
            return None
        seconds = found
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _http_date(text: str | None) -> float | None:
    """Unix seconds of an HTTP-date (``Sun, 06 Nov 1994 08:49:37 GMT``); ``None`` when it does not parse."""
    if not text or len(text) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
        if parsed.tzinfo is None:  # "-0000": UTC, as every HTTP-date is
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def _seconds_until(text: str, *, date: str | None, now: float | None) -> float | None:
    when = _http_date(text)
    if when is None:
        return None
    reference = _http_date(date) if date is not None else None
    if reference is None:
        reference = time.time() if now is None else now
    return max(0.0, when - reference)


def error_from_response(
    *,
    endpoint: str,
    status_code: int,
    body: bytes,
    request_id: str | None = None,
    retry_after: float | None = None,
    resource_id: str | None = None,
) -> APIStatusError | ResourceExpiredError:
    """Map an error answer of ``endpoint`` to the library's error class.

    ``code`` is interpreted together with the endpoint and the status: 201 + 7 on start is
    :class:`AlreadyStartedError`, 206 + 65 is :class:`IncompleteRequestError`, 400 + 49 on stop is
    :class:`AlreadyStoppedError`, code 433 is :class:`ResourceExpiredError`.
    """
    code, reason = _parse_error_body(body)
    common: dict[str, Any] = {
        "endpoint": endpoint,
        "status_code": status_code,
        "code": code,
        "reason": reason,
        "request_id": request_id,
    }
    if code == CODE_ALREADY_STARTED and endpoint == "start" and status_code < 300:
        return AlreadyStartedError(resource_id=resource_id, **common)
    if code == CODE_REQUEST_NOT_COMPLETED and status_code == 206:
        return IncompleteRequestError(**common)
    if code == CODE_RESOURCE_EXPIRED and status_code >= 400:
        return ResourceExpiredError(
            f"{endpoint}: Agora says the resourceId has expired (older than five minutes)",
            resource_id=resource_id,
            **common,
        )
    if status_code == 429:
        return RateLimitError(retry_after=retry_after, **common)
    if status_code == 400 and code == CODE_ALREADY_STOPPING and endpoint == "stop":
        return AlreadyStoppedError(**common)
    if status_code == 400:
        return BadRequestError(**common)
    if status_code in (401, 403):
        return AuthenticationError(**common)
    if status_code == 404:
        return NotFoundError(**common)
    if status_code >= 500:
        return ServerError(**common)
    return APIStatusError(**common)
