"""``FakeAgoraServer``: a stateful stand-in for Agora Cloud Recording, at the wire level.

The fake speaks plain JSON over HTTP exactly where Agora does, so it checks a client instead of mirroring it.
It never imports the library's models or client. Use it in-process (:meth:`FakeAgoraServer.transport`, an
:class:`httpx.AsyncBaseTransport`, no sockets) or over real TCP (:meth:`FakeAgoraServer.serve`); both run the
same :meth:`FakeAgoraServer.handle`.

Rules, in the order a request meets them (bodies as documented in Agora's status-codes page, 2026-06-17):

1. **Route.** ``POST /v1/apps/{appid}/cloud_recording/acquire``,
   ``POST .../resourceid/{rid}/mode/{mode}/start``, ``POST .../resourceid/{rid}/sid/{sid}/mode/{mode}/update``,
   ``POST .../updateLayout``, ``GET .../query``, ``POST .../stop``. Anything else, a wrong method included:
   404 ``{"message":"no Route matched with those values"}``. Paths are case-sensitive; a query string is ignored.
2. **Injected faults acting "before"** (see :mod:`agora_recording.testing._faults`): the request is lost on its
   way in; it is neither authenticated, counted nor processed.
3. **Basic auth.** No ``Authorization`` header: 401 ``{"message":"Unauthorized"}``. Anything but
   ``Basic base64(customer_id:customer_secret)``: 401 ``{"message":"Invalid authentication credentials"}``.
4. **Rate limit** per account (``rate_limit_scope="account"``, the default) or per App ID: at most
   ``rate_limit`` admitted requests in any ``rate_window`` seconds on the fake's clock (a sliding log of
   arrival times; a request at ``t`` sees the admitted arrivals in ``(t - rate_window, t]``). The next one gets
   429 ``{"message":"API rate limit exceeded"}``, with a ``Retry-After`` header only if ``retry_after=True``
   (Agora does not document one). Refused requests do not count. ``rate_limit=None`` disables the limit.
5. **App ID.** Not one of the account's App IDs: 401 ``{"message":"Invalid authentication credentials"}``
   (Agora: the Customer ID/secret must be allowed for the App ID in the path). One of them with Cloud Recording
   not enabled (``add_app(app_id, cloud_recording=False)``): 400 ``{"message":"appid is invalid"}`` (the current
   documented form; legacy pages wrote ``"invalid appid"``).
6. **Body.** POST needs ``Content-Type: application/json`` (parameters such as ``;charset=utf-8`` allowed), else
   400 ``{"code":8,...}``; a body that is not JSON: 400 ``{"code":8,...}`` (Agora's error 8 covers "the request
   is not valid JSON"); not a JSON object, or ``cname``/``uid``/``clientRequest`` missing or invalid: 400
   ``{"code":2,...}``. ``uid`` is a decimal string of an integer in 1..2**32-1, without sign or leading zero.
7. **acquire** answers 200 ``{"cname","uid","resourceId"}``. ``clientRequest.scene`` 0 or 1 (1 = web page
   recording), ``resourceExpiredHour`` 1..720 (else 400 ``{"code":2,"reason":"Acquire: invalid
   resourceExpiredHour value!"}``), ``region`` CN/AP/EU/NA, ``excludeResourceIds`` (strings) and
   ``startParameter`` (an object, else 400 code 2; its contents are not checked here: Agora reports an invalid
   ``startParameter`` on ``start``, not on ``acquire``) are accepted;
   ``resourceExpiredHour`` is checked but not enforced later. For scene 0 the
   channel name must use Agora's channel-name characters and be shorter than 64 bytes, else 400
   ``{"code":401,"reason":"invalid_channel_name"}``; a web ``cname`` may take 1024 bytes.
   The resourceId is ``base64url(JSON{appid, cname, uid, issue time, scene, nonce[, startParameter
   digest]}).signature``: decodable without state. The digest (present only when acquire carried a
   ``startParameter``) is a truncated HMAC-SHA256, under the fake's signing key, of the canonical JSON
   (``sort_keys``, no spaces) of ``startParameter``: keyed because that object holds storage credentials. The
   resourceId is valid ``timings.resource_ttl`` (300) seconds on the fake's clock.
8. **start**, checked in this order: undecodable resourceId, 400 code 1001; App ID, cname or uid not the ones
   the resourceId was acquired for, 400 code 432; resourceId already used, 201
   ``{"code":7,"reason":"already started"}``; resourceId older than 300 s, 400 code 433 (Agora documents the
   code, not the status); mode not matching the acquire ``scene`` (web needs scene 1), 400 code 432; invalid
   ``clientRequest``, 400 code 2 (web needs an ``extensionServiceConfig.extensionServices`` entry named
   ``web_recorder_service``; individual needs ``recordingConfig.subscribeUidGroup`` unless it takes snapshots;
   ``recordingFileConfig`` and ``snapshotConfig`` exclude each other; snapshots only in individual mode;
   ``storageConfig`` with ``vendor``, ``region``, ``bucket``, ``accessKey``, ``secretKey`` is required);
   acquire carried a ``startParameter`` whose canonical-JSON digest differs from that of start's
   ``clientRequest`` (Agora: values must be "consistent with the later start clientRequest, or start fails"),
   400 ``{"code":2,"reason":"request_hash mismatch"}`` (a choice: Agora documents neither code nor text for this
   case; the reason is the text this project's issue tracker reports; object keys may come in any order, list
   order counts); without a ``startParameter`` nothing is compared;
   the same App ID + cname + uid already recording, 400 ``{"code":53,"reason":"task conflict"}``. Success: 200
   ``{"cname","uid","resourceId","sid"}`` with a 32-hex-digit sid.
   Blacklists: ``unSubscribeAudioUids``/``unSubscribeVideoUids`` (Agora's own clients' spelling) and, unless
   ``strict_spelling=True``, the lowercase ``unsubscribe...Uids`` of the 2026 API pages (whether Agora accepts
   that form is uncertain). Strict: the lowercase key answers 400 code 2 naming it, here and in update's
   ``streamSubscribe``.
9. **Recordings progress on the fake's clock** (:class:`FakeTimings`): status 0 at start, 1, 2, 3 on the way,
   4 (all components ready) after ``ready_after`` (3 s) and 5 (first file uploaded) after ``first_file_after``
   (5 s), unless nothing is recorded (a silent channel, nobody subscribed, a web page ``onhold``): then it stays
   at 4. :meth:`FakeAgoraServer.end_recording` ends one as Agora would: ``"idle"`` (maxIdleTime) makes it exit
   (stop answers 49, then 404), ``"abnormal"`` shows status 20 for ``abnormal_exit_for`` seconds, then 404. An
   empty channel (:meth:`FakeAgoraServer.set_channel` with ``uids=()``) ends non-web recordings after
   ``maxIdleTime``; a web recording ends after ``maxRecordingHour``.
10. **query** (GET) answers 200 ``{"cname","uid","resourceId","sid","serverResponse"}``: mix,
    ``{"status","fileListMode":"string","fileList":"<sid>_<cname>.m3u8","sliceStartTime"}`` (a JSON list with
    the MP4 when ``avFileType`` has ``"mp4"``); individual, ``fileListMode:"json"`` and a list of
    ``{"fileName","trackType","uid","mixedAllUser","isPlayable","sliceStartTime"}`` (ms) per subscribed uid and
    track; individual snapshots, only ``status`` and ``sliceStartTime``; web, ``extensionServiceState`` with a
    ``web_recorder_service`` payload ``{"fileList":[{"filename","sliceStartTime"}],"onhold","state"}`` (state
    init/inProgress/exit) and an ``rtmp_publish_service`` payload ``{"outputs":[{"rtmpUrl","status"}],"state"}``
    when configured. Before the first file, ``fileList`` is ``""`` or ``[]`` and ``sliceStartTime`` 0.
11. **update** takes ``streamSubscribe`` (not web), ``webRecordingConfig.onhold`` (web only),
    ``rtmpPublishConfig`` (web only, one ``rtmp://``/``rtmps://`` output) and ``storageConfig`` (STS refresh);
    **updateLayout** works in mix mode only (another mode: 400 code 2, the ``mode`` path parameter is out of
    range; an invalid layout body: 400 code 1028, Agora's "invalid updateLayout parameters"). Both answer 200
    ``{"cname","uid","resourceId","sid"}``.
12. **stop** answers 200 ``{"cname","uid","resourceId","sid","serverResponse"}`` with ``uploadingStatus`` and
    the files (web: ``extensionServiceState`` with an ``upload_service`` payload ``{"uploadingStatus"}`` and the
    ``web_recorder_service`` payload). A recording that never produced a file answers 206
    ``{"code":435,"reason":"no recorded data"}`` (and is stopped all the same). ``clientRequest.async_stop``
    (bool) is accepted. The task is then "exiting" for ``timings.exiting_for`` seconds: another stop answers 400
    ``{"code":49,"reason":"invalid operation"}``; after that, and for query/update/updateLayout at once, 404
    ``{"code":404,"reason":"failed to find worker"}``, as for any unknown sid. A known sid with another
    resourceId or App ID: 400 code 1003. A path ``mode`` other than the recording's: 400 code 2. A body
    ``cname``/``uid`` other than the recording's: 400 code 432.
13. **Injected faults acting "after"**: the work is done and the answer is lost or replaced.

Every answer carries a unique ``X-Request-Id`` header and a JSON content type. The request log
(:attr:`FakeAgoraServer.requests`) keeps parsed bodies for assertions, but no ``repr``/``str`` of the fake, of a
log record or of a recording shows a body, a header or a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeGuard

import anyio

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording.testing._faults import (
    NETWORK_KINDS,
    Fault,
    FaultKind,
    FaultWhen,
    InjectedNetworkFault,
    RandomFaults,
    fault_headers,
    make_fault,
    make_random_faults,
    normalize_endpoint,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_CUSTOMER_ID",
    "DEFAULT_CUSTOMER_SECRET",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_WINDOW",
    "FakeAgoraServer",
    "FakeResponse",
    "FakeStats",
    "FakeTimings",
    "RecordingInfo",
    "RequestRecord",
]

DEFAULT_APP_ID = "f00dfeedf00dfeedf00dfeedf00dfeed"
"""The App ID a :class:`FakeAgoraServer` accepts when none is given."""
DEFAULT_CUSTOMER_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"
"""The Customer ID a :class:`FakeAgoraServer` accepts when none is given."""
DEFAULT_CUSTOMER_SECRET = "fake-customer-secret-0000000000"
"""The Customer Secret a :class:`FakeAgoraServer` accepts when none is given (a fake's public test value)."""
DEFAULT_RATE_LIMIT = 10
"""Admitted requests per window, as Agora's documented initial quota (10 per second)."""
DEFAULT_RATE_WINDOW = 1.0
"""Length of the sliding rate-limit window, in seconds of the fake's clock."""
DEFAULT_CHANNEL_UIDS: tuple[str, ...] = ("1001", "1002")
"""Who is in a channel the test did not configure (used for ``#allstream#`` and blacklists)."""

MODES = ("individual", "mix", "web")
_MAX_UID = 2**32 - 1
_ALLSTREAM = "#allstream#"
_JSON = "application/json;charset=utf-8"
_VENDORS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 11})
_REGIONS = frozenset({"CN", "AP", "EU", "NA"})
_OP_NAMES = {
    "acquire": "Acquire",
    "start": "Start",
    "update": "Update",
    "updateLayout": "UpdateLayout",
    "query": "Query",
    "stop": "Stop",
}
_SID_OPS = {"update": "POST", "updateLayout": "POST", "query": "GET", "stop": "POST"}

# Compiled once at import: Agora's channel-name characters (error 1013), hex colours, storage prefixes.
_CNAME_CHARS = re.compile(r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+")
_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_PREFIX_PART = re.compile(r"[A-Za-z0-9]+")

_RUNNING = "running"
_EXITING = "exiting"
_ABNORMAL = "abnormal"
_GONE = "gone"


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _dump(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode()


_NO_ROUTE = _dump({"message": "no Route matched with those values"})
_UNAUTHORIZED = _dump({"message": "Unauthorized"})
_BAD_CREDENTIALS = _dump({"message": "Invalid authentication credentials"})
_RATE_LIMITED = _dump({"message": "API rate limit exceeded"})
_BAD_APPID = _dump({"message": "appid is invalid"})
_WORKER_NOT_FOUND = _dump({"code": 404, "reason": "failed to find worker"})


class FakeResponse(NamedTuple):
    """What :meth:`FakeAgoraServer.handle` answers: unpack it as ``status, headers, body``."""

    status: int
    """The HTTP status code."""
    headers: list[tuple[str, str]]
    """Response headers, lower-case names (``content-type``, ``x-request-id``, sometimes ``retry-after``)."""
    body: bytes
    """The raw body (JSON, except for a ``proxy_error`` fault's HTML page)."""

    def __repr__(self) -> str:  # never show the body
        return f"FakeResponse(status={self.status}, body=<{len(self.body)} bytes>)"


@dataclass(frozen=True, slots=True)
class FakeTimings:
    """How recordings and resourceIds move on the fake's clock (seconds).

    Example: ``FakeAgoraServer(timings=FakeTimings(ready_after=0.0, first_file_after=0.0))`` makes every
    recording report status 5 as soon as it starts.
    """

    ready_after: float = 3.0
    """Seconds from start until status 4 (all components ready); statuses 1-3 come on the way."""
    first_file_after: float = 5.0
    """Seconds from start until status 5 (first file uploaded), if anything is being recorded."""
    resource_ttl: float = 300.0
    """How long a resourceId can start a recording (Agora: five minutes)."""
    exiting_for: float = 10.0
    """How long a stopped (or idle-ended) task stays "exiting": stop answers 49 during it, 404 after."""
    abnormal_exit_for: float = 30.0
    """How long an abnormally ended recording shows status 20 before query answers 404."""

    def __post_init__(self) -> None:
        for name in ("ready_after", "first_file_after", "resource_ttl", "exiting_for", "abnormal_exit_for"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"FakeTimings.{name} must be a finite number >= 0, got {value!r}")
        if self.first_file_after < self.ready_after:
            raise ValueError("FakeTimings.first_file_after must not be less than ready_after")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the fake saw it, for assertions. ``repr()`` never shows the body.

    Example: ``[r.status for r in fake.requests if r.endpoint == "start"] == [200]``.
    """

    request_id: str
    """The ``X-Request-Id`` the fake assigned."""
    at: float
    """Arrival time on the fake's clock."""
    method: str
    """The HTTP method."""
    path: str
    """The request path (with any query string)."""
    endpoint: str | None
    """The endpoint name (``"acquire"``, ``"start"``, ...), or ``None`` for an unmatched route."""
    app_id: str | None
    """The App ID in the path, if the route matched."""
    status: int | None
    """The HTTP status answered; ``None`` if a network fault meant no answer."""
    code: int | None = None
    """Agora's ``code`` in the answer, when there was one."""
    fault: str | None = None
    """The kind of injected fault that hit this request, if any."""
    body: Any = field(default=None, repr=False, compare=False)
    """The parsed JSON body (``None`` if the request was not parsed). Not shown in ``repr()``."""


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """A snapshot of one recording the fake started. No storage credentials, no request bodies.

    ``state`` is ``"running"``, ``"exiting"`` (stopped or idle-ended, stop answers 49), ``"abnormal"``
    (status 20 shown) or ``"gone"`` (every call answers 404).
    """

    sid: str
    """The recording ID."""
    resource_id: str
    """The resourceId that started it."""
    app_id: str
    """The App ID."""
    cname: str
    """The channel name."""
    uid: str
    """The recorder's uid."""
    mode: str
    """``"individual"``, ``"mix"`` or ``"web"``."""
    state: str
    """``"running"``, ``"exiting"``, ``"abnormal"`` or ``"gone"``."""
    status: int | None
    """What query would show now (0-5 or 20); ``None`` once query answers 404."""
    started_at: float
    """Start time on the fake's clock."""
    ended_at: float | None
    """When it stopped or ended, on the fake's clock."""
    end_reason: str | None
    """``"stop"``, ``"idle"``, ``"abnormal"`` or ``"max_recording_hour"``."""
    sid_delivered: bool
    """True once the start answer carrying the sid was delivered (or the sid was used in a later request)."""
    has_files: bool
    """True once the first file was "uploaded" (status 5 reached)."""
    onhold: bool
    """Web mode: the page recording is paused."""
    snapshot: bool
    """Individual mode with ``snapshotConfig``: screenshots, no file list."""
    file_names: tuple[str, ...]
    """The file names a query or stop would list now."""
    updates: int
    """How many ``update`` calls succeeded."""
    layout_updates: int
    """How many ``updateLayout`` calls succeeded."""


@dataclass(frozen=True, slots=True)
class FakeStats:
    """Counters for assertions (a snapshot; take a new one with :attr:`FakeAgoraServer.stats`).

    Example: ``assert fake.stats.rate_limited == 0 and fake.stats.running == 0``.
    """

    requests: int
    """Every request the fake received."""
    by_endpoint: Mapping[str, int]
    """Requests per endpoint name (``"unmatched"`` for unknown routes)."""
    by_status: Mapping[int, int]
    """Answers per HTTP status (requests lost to a network fault are not counted here)."""
    rate_limited: int
    """429 answers served by the rate limiter (not by injected faults)."""
    faults_fired: int
    """Requests hit by an injected or random fault."""
    recordings_started: int
    """Recordings started (start answered 200 or was lost after the work was done)."""
    recordings_stopped: int
    """Recordings stopped by a stop request (200 or 206/435)."""
    recordings_ended: int
    """Recordings that ended without a stop (idle, abnormal exit, maxRecordingHour)."""
    running: int
    """Recordings running now."""
    undelivered_sids: int
    """Started recordings whose sid never reached the client."""


@dataclass(slots=True)
class _Channel:
    uids: tuple[str, ...] | None = None
    silent: bool = False
    uploading_status: str = "uploaded"


class _Reply(Exception):
    """Internal: an error answer, raised from deep inside request validation."""

    def __init__(self, status: int, body: bytes, code: int | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.code = code


def _service_error(status: int, code: int, reason: str) -> _Reply:
    return _Reply(status, _dump({"code": code, "reason": reason}), code)


def _invalid(op: str, name: str) -> _Reply:
    return _service_error(400, 2, f"{op}: invalid {name} value!")


class _Recording:
    __slots__ = (
        "app_id",
        "audio_uids",
        "auto_end_reason",
        "cname",
        "end_reason",
        "ended_at",
        "file_cname",
        "file_due_at",
        "first_file_at",
        "has_rtmp",
        "hour_deadline",
        "idle_deadline",
        "layout_updates",
        "max_idle_time",
        "mode",
        "mp4",
        "onhold",
        "phase",
        "phase_until",
        "resource_id",
        "rtmp_urls",
        "sid",
        "sid_delivered",
        "slice_start_at",
        "snapshot",
        "started_at",
        "uid",
        "updates",
        "video_uids",
    )

    def __init__(self, *, sid: str, resource_id: str, app_id: str, cname: str, uid: str, mode: str, now: float):
        self.sid = sid
        self.resource_id = resource_id
        self.app_id = app_id
        self.cname = cname
        self.uid = uid
        self.mode = mode
        self.started_at = now
        self.file_cname = _FILE_UNSAFE.sub("-", cname)
        self.phase = _RUNNING
        self.phase_until = math.inf
        self.ended_at: float | None = None
        self.end_reason: str | None = None
        self.auto_end_reason: str | None = None
        self.sid_delivered = False
        self.file_due_at: float | None = None
        self.first_file_at: float | None = None
        self.slice_start_at: float | None = None
        self.idle_deadline: float | None = None
        self.hour_deadline: float | None = None
        self.max_idle_time = 30.0
        self.snapshot = False
        self.mp4 = False
        self.onhold = False
        self.has_rtmp = False
        self.rtmp_urls: list[str] = []
        self.audio_uids: dict[str, None] = {}
        self.video_uids: dict[str, None] = {}
        self.updates = 0
        self.layout_updates = 0

    def __repr__(self) -> str:
        return f"<recording sid={self.sid} mode={self.mode} phase={self.phase}>"


def _is_int(value: object, low: int, high: int) -> TypeGuard[int]:
    return type(value) is int and low <= value <= high


def _is_number(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _valid_uid(value: object) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= 10
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
        and int(value) <= _MAX_UID
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by lower-case ``name``: direct for case-insensitive or lower-cased mappings, else a scan."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeAgoraServer:
    """A faithful, stateful fake of Agora Cloud Recording for tests and demos (see the module docstring).

    Every argument is keyword-only and has a default, so ``FakeAgoraServer()`` works out of the box::

        fake = FakeAgoraServer()
        async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
            r = await http.post(
                f"/v1/apps/{fake.app_id}/cloud_recording/acquire",
                json={"cname": "room", "uid": "527841", "clientRequest": {}},
                headers={"Authorization": fake.authorization},
            )
            assert r.status_code == 200

    Or over TCP: ``async with fake.serve() as base_url: ...``.

    Args:
        app_id: the first App ID the account owns.
        app_ids: more App IDs of the same account (see also :meth:`add_app`).
        customer_id: the Basic-auth user name.
        customer_secret: the Basic-auth password. Never shown by ``repr()``.
        clock: a zero-argument callable returning seconds (default :func:`time.monotonic`); a test clock lets
            the test move time instead of sleeping.
        sleep: how injected delays wait (default :func:`anyio.sleep`); pass a virtual clock's ``sleep``.
        rate_limit: admitted requests per window, or ``None`` for no limit.
        rate_window: the window length in seconds.
        rate_limit_scope: ``"account"`` (one window for all App IDs) or ``"app_id"``.
        retry_after: add a ``Retry-After`` header (whole seconds) to the limiter's 429s.
        seed: seeds every random choice (sids, nonces, request ids, random faults).
        timings: how recordings progress (:class:`FakeTimings`).
        fault_hold_limit: over TCP, the longest a ``timeout`` fault withholds an answer (seconds).
        request_log_size: how many requests :attr:`requests` keeps (the oldest drop out).
        unix_time_origin: the Unix time the fake's clock reading at construction maps to (for
            ``sliceStartTime``); fixed by default so answers are reproducible.
        strict_spelling: refuse the lowercase blacklist keys ``unsubscribeAudioUids``/``unsubscribeVideoUids``
            (400 code 2 naming the key) and accept only Agora's ``unSubscribeAudioUids``/``unSubscribeVideoUids``.
            Off by default: whether Agora accepts the lowercase form is uncertain, so both are accepted.

    Raises:
        ValueError: for an invalid argument.
    """

    base_url = "https://api.agora.io"
    """The base URL to give an :class:`httpx.AsyncClient` that uses :meth:`transport`."""

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_ids: Iterable[str] = (),
        customer_id: str = DEFAULT_CUSTOMER_ID,
        customer_secret: str = DEFAULT_CUSTOMER_SECRET,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        rate_limit: int | None = DEFAULT_RATE_LIMIT,
        rate_window: float = DEFAULT_RATE_WINDOW,
        rate_limit_scope: Literal["account", "app_id"] = "account",
        retry_after: bool = False,
        seed: int = 0,
        timings: FakeTimings | None = None,
        fault_hold_limit: float = 30.0,
        request_log_size: int = 10_000,
        unix_time_origin: float = 1_700_000_000.0,
        strict_spelling: bool = False,
    ) -> None:
        if not customer_id or ":" in customer_id:
            raise ValueError("customer_id must be non-empty and must not contain ':'")
        if not customer_secret:
            raise ValueError("customer_secret must be non-empty")
        if rate_limit_scope not in ("account", "app_id"):
            raise ValueError(f"rate_limit_scope must be 'account' or 'app_id', got {rate_limit_scope!r}")
        if fault_hold_limit <= 0:
            raise ValueError("fault_hold_limit must be > 0")
        if request_log_size < 0:
            raise ValueError("request_log_size must be >= 0")
        self._app_ids: dict[str, bool] = {}  # App ID -> Cloud Recording enabled
        for app in (app_id, *app_ids):
            self.add_app(app)
        self._customer_id = customer_id
        self._customer_secret = customer_secret
        self._credentials = f"{customer_id}:{customer_secret}".encode()
        self._auth_header = "Basic " + base64.b64encode(self._credentials).decode("ascii")
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._sleep: Callable[[float], Awaitable[Any]] = sleep if sleep is not None else anyio.sleep
        self._rate_limit: int | None = None
        self._rate_window = 1.0
        self.set_rate_limit(rate_limit, window=rate_window)
        self.rate_limit_scope = rate_limit_scope
        self.retry_after = retry_after
        self.timings = timings if timings is not None else FakeTimings()
        self.fault_hold_limit = float(fault_hold_limit)
        self.strict_spelling = bool(strict_spelling)
        self._seed = seed
        self._id_rng = random.Random(seed)
        self._fault_rng = random.Random(seed + 0x5EED)
        self._rid_key = hashlib.sha256(f"agora-recording-fake:{seed}:{customer_id}".encode()).digest()
        self._clock_origin = self._clock()
        self._unix_origin = unix_time_origin
        self._windows: dict[str, deque[float]] = {}
        self._faults: list[Fault] = []
        self._random_faults: list[RandomFaults] = []
        self._channels: dict[str, _Channel] = {}
        self._recordings: dict[str, _Recording] = {}  # every recording ever started, by sid
        self._live: dict[str, _Recording] = {}  # not yet gone
        self._tasks: dict[tuple[str, str, str], _Recording] = {}  # running, by (app_id, cname, uid)
        self._used_rids: dict[str, str] = {}
        self._log: deque[RequestRecord] = deque(maxlen=request_log_size)
        self._request_counter = 0
        self._by_endpoint: dict[str, int] = {}
        self._by_status: dict[int, int] = {}
        self._rate_limited = 0
        self._faults_fired = 0
        self._started = 0
        self._stopped = 0
        self._ended = 0

    # ----------------------------------------------------------------------------------------------- config

    def __repr__(self) -> str:
        return (
            f"FakeAgoraServer(app_ids={list(self._app_ids)!r}, customer_id={self._customer_id!r}, "
            f"rate_limit={self._rate_limit!r}, rate_window={self._rate_window!r}, "
            f"running={sum(1 for r in self._live.values() if r.phase == _RUNNING)})"
        )

    @property
    def app_id(self) -> str:
        """The first App ID (the one most tests use)."""
        return next(iter(self._app_ids))

    @property
    def app_ids(self) -> tuple[str, ...]:
        """Every App ID the fake's account owns."""
        return tuple(self._app_ids)

    @property
    def customer_id(self) -> str:
        """The Basic-auth Customer ID."""
        return self._customer_id

    @property
    def customer_secret(self) -> str:
        """The Basic-auth Customer Secret (for configuring the client under test; never shown in ``repr``)."""
        return self._customer_secret

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value the fake accepts: ``"Basic " + base64(id:secret)``."""
        return self._auth_header

    @property
    def clock(self) -> Clock:
        """The fake's clock."""
        return self._clock

    @property
    def rate_limit(self) -> int | None:
        """Admitted requests per window, or ``None`` when the limit is off. Change it with :meth:`set_rate_limit`."""
        return self._rate_limit

    @property
    def rate_window(self) -> float:
        """The sliding window length in seconds."""
        return self._rate_window

    def add_app(self, app_id: str, *, cloud_recording: bool = True) -> None:
        """Let the account use one more App ID (several App IDs share one account and, by default, one limit).

        ``cloud_recording=False`` models an App ID whose Cloud Recording service is not enabled: requests to it
        answer 400 ``{"message":"appid is invalid"}``.

        Raises:
            ValueError: if ``app_id`` is empty or contains ``/``.
        """
        if not isinstance(app_id, str) or not app_id or "/" in app_id:
            raise ValueError(f"invalid app_id {app_id!r}")
        self._app_ids[app_id] = bool(cloud_recording)

    def set_rate_limit(self, limit: int | None, *, window: float | None = None) -> None:
        """Change (or, with ``None``, switch off) the rate limit; the arrival history is kept.

        Example: ``fake.set_rate_limit(None)`` before a benchmark.

        Raises:
            ValueError: if ``limit`` is not a positive integer or ``window`` not a positive number.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"rate_limit must be a positive integer or None, got {limit!r}")
        if window is not None:
            if not (isinstance(window, (int, float)) and window > 0 and math.isfinite(window)):
                raise ValueError(f"rate_window must be a positive number, got {window!r}")
            self._rate_window = float(window)
        self._rate_limit = limit

    def set_channel(
        self,
        cname: str,
        *,
        uids: Sequence[str] | None = None,
        silent: bool = False,
        uploading_status: str = "uploaded",
    ) -> None:
        """Describe a channel: who is in it, whether anyone sends a stream, how uploads end.

        - ``uids``: the users in the channel (``None``: :data:`DEFAULT_CHANNEL_UIDS`). They resolve
          ``#allstream#`` and blacklists; explicit subscribe lists are taken as they are. An empty channel
          (``uids=()``) is idle: non-web recordings end after ``maxIdleTime`` seconds.
        - ``silent=True``: nobody sends a stream, so nothing is recorded: status stays at 4 and stop answers
          206 code 435.
        - ``uploading_status``: what stop reports (``"uploaded"``, ``"backuped"``, ``"unknown"``, ...).

        Applies to recordings already running in that channel too.
        """
        channel = _Channel(uids=None if uids is None else tuple(uids), silent=silent, uploading_status=uploading_status)
        self._channels[cname] = channel
        now = self._clock()
        for rec in list(self._live.values()):
            if rec.cname == cname and self._advance(rec, now) and rec.phase == _RUNNING:
                self._apply_channel(rec, channel, now)

    # ------------------------------------------------------------------------------------------- faults

    def inject(
        self,
        endpoint: str,
        *,
        kind: FaultKind | None = None,
        status: int | None = None,
        body: object = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        delay: float = 0.0,
        count: int = 1,
        when: FaultWhen = "before",
    ) -> Fault:
        """Make the next ``count`` requests to ``endpoint`` (``"*"``: any endpoint) go wrong.

        ``kind`` picks a documented failure (see :mod:`agora_recording.testing._faults`); ``status``, ``body``
        (bytes, str, or a JSON-able object) and ``headers`` give or override the answer; ``delay`` sleeps first.
        With only ``status``, the kind is ``"status"``; with only ``delay``, ``"delay"``. Faults fire in the order
        injected, one per request.

        Examples::

            fake.inject("start", kind="timeout", when="after")      # a recording runs, its sid is lost
            fake.inject("query", kind="worker_not_found", count=2)   # a failover's transient 404s
            fake.inject("acquire", status=503, body="<html>busy</html>")

        Raises:
            ValueError: for an unknown endpoint or kind, or inconsistent arguments.
        """
        fault = make_fault(
            endpoint, kind=kind, status=status, body=body, headers=headers, delay=delay, count=count, when=when
        )
        self._faults.append(fault)
        return fault

    def random_faults(
        self,
        probability: float,
        *,
        kinds: Sequence[FaultKind] | None = None,
        endpoints: Sequence[str] | None = None,
        when: FaultWhen = "before",
        delay: float = 0.0,
    ) -> RandomFaults:
        """Make each request to ``endpoints`` (default: all) fail with ``probability``, as one of ``kinds``.

        The draws use an RNG seeded by the fake's ``seed``: the same requests in the same order meet the same
        faults. Explicit :meth:`inject` faults take precedence. Default kinds: internal_error, timeout, disconnect.

        Example: ``fake.random_faults(0.1, kinds=["internal_error", "not_completed"], endpoints=["query"])``.

        Raises:
            ValueError: for a probability outside [0, 1], an unknown kind or endpoint.
        """
        spec = make_random_faults(probability=probability, kinds=kinds, endpoints=endpoints, when=when, delay=delay)
        self._random_faults.append(spec)
        return spec

    def clear_faults(self) -> None:
        """Remove every injected and random fault."""
        self._faults.clear()
        self._random_faults.clear()

    @property
    def pending_faults(self) -> tuple[Fault, ...]:
        """Injected faults that have not yet hit all their requests."""
        return tuple(f for f in self._faults if not f.exhausted)

    # ------------------------------------------------------------------------------------ transports

    def transport(self) -> httpx.AsyncBaseTransport:
        """Return an in-process :class:`httpx.AsyncBaseTransport` that answers from this fake (no sockets).

        Example::

            async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http: ...
        """
        from agora_recording.testing._transport import FakeTransport

        return FakeTransport(self)

    def serve(
        self, *, host: str = "127.0.0.1", port: int = 0, keepalive_timeout: float = 15.0
    ) -> AbstractAsyncContextManager[str]:
        """Serve this fake over HTTP/1.1 on ``host:port`` (port 0: an ephemeral port); yields the base URL.

        Keep-alive connections, bounded request sizes and idle times; everything is closed on exit::

            async with fake.serve() as base_url:   # "http://127.0.0.1:<port>"
                async with httpx.AsyncClient(base_url=base_url) as http: ...
        """
        from agora_recording.testing._server import serve_fake

        return serve_fake(self, host=host, port=port, keepalive_timeout=keepalive_timeout)

    # -------------------------------------------------------------------------------- test controls

    def end_recording(self, sid: str, *, reason: Literal["idle", "abnormal"] = "idle") -> None:
        """End a running recording as Agora would without a stop request.

        - ``"idle"``: the channel stayed empty for ``maxIdleTime``: the task exits (stop answers 49 for
          ``timings.exiting_for`` seconds, then 404; query answers 404 at once).
        - ``"abnormal"``: the task dies: query shows status 20 for ``timings.abnormal_exit_for`` seconds
          (stop answers 49, update 404), then everything answers 404.

        Raises:
            KeyError: if no running recording has this sid.
            ValueError: for another reason.
        """
        if reason not in ("idle", "abnormal"):
            raise ValueError(f"reason must be 'idle' or 'abnormal', got {reason!r}")
        now = self._clock()
        rec = self._live.get(sid)
        if rec is None or not self._advance(rec, now) or rec.phase != _RUNNING:
            raise KeyError(sid)
        self._has_files(rec, now)
        if reason == "idle":
            self._finish(rec, now, _EXITING, "idle", now + self.timings.exiting_for)
        else:
            self._finish(rec, now, _ABNORMAL, "abnormal", now + self.timings.abnormal_exit_for)
        self._ended += 1

    # ----------------------------------------------------------------------------------- inspection

    @property
    def requests(self) -> tuple[RequestRecord, ...]:
        """The request log, oldest first (at most ``request_log_size`` entries)."""
        return tuple(self._log)

    def requests_to(self, endpoint: str) -> tuple[RequestRecord, ...]:
        """The logged requests to one endpoint (``"acquire"``, ``"start"``, ...), oldest first."""
        name = normalize_endpoint(endpoint)
        return tuple(r for r in self._log if name in ("*", r.endpoint))

    @property
    def stats(self) -> FakeStats:
        """A snapshot of the counters (see :class:`FakeStats`)."""
        now = self._clock()
        running = sum(1 for rec in list(self._live.values()) if self._advance(rec, now) and rec.phase == _RUNNING)
        return FakeStats(
            requests=self._request_counter,
            by_endpoint=dict(self._by_endpoint),
            by_status=dict(self._by_status),
            rate_limited=self._rate_limited,
            faults_fired=self._faults_fired,
            recordings_started=self._started,
            recordings_stopped=self._stopped,
            recordings_ended=self._ended,
            running=running,
            undelivered_sids=sum(1 for rec in self._recordings.values() if not rec.sid_delivered),
        )

    def recording(self, sid: str) -> RecordingInfo | None:
        """A snapshot of the recording with this sid (running or not), or ``None`` if the fake never started it."""
        rec = self._recordings.get(sid)
        return None if rec is None else self._info(rec, self._clock())

    def recordings(self) -> list[RecordingInfo]:
        """Snapshots of every recording the fake ever started, in start order."""
        now = self._clock()
        return [self._info(rec, now) for rec in list(self._recordings.values())]

    def running_recordings(self) -> list[RecordingInfo]:
        """Snapshots of the recordings running now (not stopped, not ended), in start order."""
        now = self._clock()
        return [
            self._info(rec, now)
            for rec in list(self._live.values())
            if self._advance(rec, now) and rec.phase == _RUNNING
        ]

    def undelivered_sids(self) -> list[str]:
        """Sids of started recordings whose start answer never reached the client (running or not)."""
        return [rec.sid for rec in self._recordings.values() if not rec.sid_delivered]

    def orphans(self) -> list[RecordingInfo]:
        """Running recordings whose sid the client never received: nobody can stop them but idle timeout."""
        return [info for info in self.running_recordings() if not info.sid_delivered]

    # ----------------------------------------------------------------------------------- the core

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> FakeResponse:
        """Answer one HTTP request as Agora would: the logic both transports share.

        Args:
            method: ``"GET"``, ``"POST"``, ...
            path: the request target, e.g. ``"/v1/apps/<appid>/cloud_recording/acquire"`` (a query is ignored).
            headers: request headers; names are matched case-insensitively.
            body: the raw request body.

        Returns:
            :class:`FakeResponse` ``(status, headers, body)``.

        Raises:
            InjectedNetworkFault: when an injected fault means no HTTP answer (a timeout, a dropped
                connection); the transports turn it into what a client would see.
        """
        now = self._clock()
        self._request_counter += 1
        request_id = f"{self._id_rng.getrandbits(64):016x}{self._request_counter:016x}"
        route = self._route(method, path)
        endpoint = route[0] if route is not None else None
        key = endpoint or "unmatched"
        self._by_endpoint[key] = self._by_endpoint.get(key, 0) + 1
        fault = self._take_fault(endpoint) if endpoint is not None else None
        if fault is not None:
            self._faults_fired += 1
            if fault.when == "before":
                if fault.kind != "delay":
                    return await self._fire(fault, method, path, route, request_id, now, None)
                await self._sleep(fault.delay)
                now = self._clock()
        status, payload, code, extra, parsed, started = self._process(method, route, headers, body, now)
        if fault is not None and fault.when == "after":
            if fault.kind != "delay":
                return await self._fire(fault, method, path, route, request_id, now, parsed)
            await self._sleep(fault.delay)
        if started is not None:
            started.sid_delivered = True
        response_headers = [("content-type", _JSON), ("x-request-id", request_id)]
        if extra:
            response_headers.extend(extra)
        self._by_status[status] = self._by_status.get(status, 0) + 1
        app_id = route[1] if route is not None else None
        kind = fault.kind if fault is not None else None
        self._log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, status, code, kind, parsed))
        return FakeResponse(status, response_headers, payload)

    async def _fire(
        self,
        fault: Fault,
        method: str,
        path: str,
        route: tuple[str, str, str, str, str] | None,
        request_id: str,
        now: float,
        parsed: Any,
    ) -> FakeResponse:
        """Answer (or refuse to answer) a request with an injected fault."""
        kind = fault.kind
        endpoint = route[0] if route is not None else ""
        app_id = route[1] if route is not None else None
        if kind == "timeout":
            self._log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, None, None, kind, parsed))
            raise InjectedNetworkFault(kind, hold=fault.delay or None, request_id=request_id)
        if fault.delay:
            await self._sleep(fault.delay)
        if kind in NETWORK_KINDS:
            self._log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, None, None, kind, parsed))
            raise InjectedNetworkFault(kind, request_id=request_id)
        status, ctype, body = fault.answer(endpoint)
        code: int | None = None
        if ctype.startswith("application/json"):
            try:
                decoded = json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict) and type(decoded.get("code")) is int:
                code = decoded["code"]
        self._by_status[status] = self._by_status.get(status, 0) + 1
        self._log.append(RequestRecord(request_id, now, method, path, endpoint, app_id, status, code, kind, parsed))
        return FakeResponse(status, fault_headers(ctype, request_id, fault.headers), body)

    def _take_fault(self, endpoint: str) -> Fault | None:
        if self._faults:
            for fault in self._faults:
                if fault.remaining > 0 and fault.endpoint in ("*", endpoint):
                    fault.remaining -= 1
                    fault.fired += 1
                    if fault.remaining == 0:
                        self._faults = [f for f in self._faults if f.remaining > 0]
                    return fault
        for spec in self._random_faults:
            if spec.matches(endpoint) and self._fault_rng.random() < spec.probability:
                spec.fired += 1
                kind = spec.kinds[0] if len(spec.kinds) == 1 else self._fault_rng.choice(spec.kinds)
                return Fault(endpoint=endpoint, kind=kind, when=spec.when, delay=spec.delay, remaining=0, fired=1)
        return None

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, str, str, str, str] | None:
        """``(endpoint, appid, resourceid, sid, mode)`` for a known route and method, else ``None``."""
        cut = path.find("?")
        if cut >= 0:
            path = path[:cut]
        parts = path.split("/")
        n = len(parts)
        if n < 6 or parts[0] or parts[1] != "v1" or parts[2] != "apps" or parts[4] != "cloud_recording":
            return None
        app_id = parts[3]
        if not app_id:
            return None
        if n == 6:
            return ("acquire", app_id, "", "", "") if parts[5] == "acquire" and method == "POST" else None
        if parts[5] != "resourceid" or not parts[6]:
            return None
        if n == 10:
            if parts[7] == "mode" and parts[8] and parts[9] == "start" and method == "POST":
                return ("start", app_id, parts[6], "", parts[8])
            return None
        if n == 12 and parts[7] == "sid" and parts[8] and parts[9] == "mode" and parts[10]:
            op = parts[11]
            if _SID_OPS.get(op) == method:
                return (op, app_id, parts[6], parts[8], parts[10])
        return None

    def _process(
        self,
        method: str,
        route: tuple[str, str, str, str, str] | None,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> tuple[int, bytes, int | None, list[tuple[str, str]] | None, Any, _Recording | None]:
        """``(status, body, code, extra headers, parsed request body, recording this request started)``."""
        if route is None:
            return 404, _NO_ROUTE, None, None, None, None
        auth = _header(headers, "authorization")
        if auth is None:
            return 401, _UNAUTHORIZED, None, None, None, None
        if not self._check_auth(auth):
            return 401, _BAD_CREDENTIALS, None, None, None, None
        endpoint, app_id = route[0], route[1]
        wait = self._admit(app_id if self.rate_limit_scope == "app_id" else self._customer_id, now)
        if wait is not None:
            self._rate_limited += 1
            extra = [("retry-after", str(max(1, math.ceil(wait))))] if self.retry_after else None
            return 429, _RATE_LIMITED, None, extra, None, None
        enabled = self._app_ids.get(app_id)
        if enabled is None:  # not this account's App ID: the credentials are not allowed for it
            return 401, _BAD_CREDENTIALS, None, None, None, None
        if not enabled:
            return 400, _BAD_APPID, None, None, None, None
        parsed: Any = None
        op = _OP_NAMES[endpoint]
        try:
            if method == "POST":
                ctype = _header(headers, "content-type") or ""
                if ctype.split(";", 1)[0].strip().lower() != "application/json":
                    raise _service_error(400, 8, f"{op}: Content-Type must be application/json")
                try:
                    parsed = json.loads(body)
                except ValueError:
                    raise _service_error(400, 8, f"{op}: request body is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise _service_error(400, 2, f"{op}: request body must be a JSON object")
                cname = parsed.get("cname")
                if not isinstance(cname, str) or not cname or len(cname.encode()) > 1024:
                    raise _invalid(op, "cname")
                if not _valid_uid(parsed.get("uid")):
                    raise _invalid(op, "uid")
                if not isinstance(parsed.get("clientRequest"), dict):
                    raise _invalid(op, "clientRequest")
            if endpoint == "acquire":
                return self._acquire(parsed, app_id, now)
            if endpoint == "start":
                return self._start(parsed, route, now)
            return self._sid_op(endpoint, parsed, route, now)
        except _Reply as reply:
            return reply.status, reply.body, reply.code, None, parsed, None

    def _check_auth(self, value: str) -> bool:
        if value == self._auth_header:  # the common case, without decoding
            return True
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            raw = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(raw, self._credentials)

    def _admit(self, key: str, now: float) -> float | None:
        """Record an arrival and return ``None`` if admitted, else the seconds until a slot frees up."""
        limit = self._rate_limit
        if limit is None:
            return None
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        edge = now - self._rate_window
        while window and window[0] <= edge:
            window.popleft()
        if len(window) >= limit:
            return window[0] + self._rate_window - now
        window.append(now)
        return None

    # ------------------------------------------------------------------------------ resource ids

    def _encode_rid(
        self, app_id: str, cname: str, uid: str, now: float, scene: int, start_digest: str | None = None
    ) -> str:
        nonce = f"{self._id_rng.getrandbits(64):016x}"
        info: dict[str, Any] = {"a": app_id, "c": cname, "u": uid, "t": now, "s": scene, "n": nonce}
        if start_digest is not None:
            info["p"] = start_digest
        payload = _b64e(_dump(info))
        signature = hmac.new(self._rid_key, payload.encode("ascii"), hashlib.sha256).digest()[:18]
        return f"{payload}.{_b64e(signature)}"

    def _request_digest(self, client_request: object) -> str:
        """A short digest of a ``clientRequest``'s canonical JSON (sorted keys, no spaces).

        Keyed with the resourceId signing key rather than a bare SHA-256: the startParameter holds storage
        credentials, and the digest travels inside the (readable) resourceId.
        """
        canonical = json.dumps(client_request, sort_keys=True, separators=(",", ":")).encode()
        return _b64e(hmac.new(self._rid_key, b"startParameter:" + canonical, hashlib.sha256).digest()[:12])

    def _decode_rid(self, rid: str) -> dict[str, Any]:
        bad = _service_error(400, 1001, "failed to parse resourceId")
        payload, dot, signature = rid.rpartition(".")
        if not dot or not payload.isascii() or not signature.isascii():
            raise bad
        try:
            expected = hmac.new(self._rid_key, payload.encode("ascii"), hashlib.sha256).digest()[:18]
            if not hmac.compare_digest(_b64d(signature), expected):
                raise bad
            info = json.loads(_b64d(payload))
        except (binascii.Error, ValueError):
            raise bad from None
        if not isinstance(info, dict):
            raise bad
        return info

    # --------------------------------------------------------------------------------- endpoints

    def _acquire(self, body: dict[str, Any], app_id: str, now: float) -> tuple[int, bytes, int | None, None, Any, None]:
        request = body["clientRequest"]
        scene = request.get("scene", 0)
        if scene not in (0, 1) or type(scene) is not int:
            raise _invalid("Acquire", "scene")
        if "resourceExpiredHour" in request and not _is_int(request["resourceExpiredHour"], 1, 720):
            raise _invalid("Acquire", "resourceExpiredHour")
        if "region" in request and request["region"] not in _REGIONS:
            raise _invalid("Acquire", "region")
        excluded = request.get("excludeResourceIds")
        if excluded is not None and not (isinstance(excluded, list) and all(isinstance(x, str) for x in excluded)):
            raise _invalid("Acquire", "excludeResourceIds")
        if "startParameter" in request and not isinstance(request["startParameter"], dict):
            raise _invalid("Acquire", "startParameter")
        cname, uid = body["cname"], body["uid"]
        if scene == 0 and (len(cname.encode()) >= 64 or _CNAME_CHARS.fullmatch(cname) is None):
            raise _service_error(400, 401, "invalid_channel_name")
        digest = self._request_digest(request["startParameter"]) if "startParameter" in request else None
        rid = self._encode_rid(app_id, cname, uid, now, scene, digest)
        return 200, _dump({"cname": cname, "uid": uid, "resourceId": rid}), None, None, body, None

    def _start(
        self, body: dict[str, Any], route: tuple[str, str, str, str, str], now: float
    ) -> tuple[int, bytes, int | None, None, Any, _Recording | None]:
        _, app_id, rid, _, mode = route
        info = self._decode_rid(rid)
        cname, uid = body["cname"], body["uid"]
        if info.get("a") != app_id or info.get("c") != cname or info.get("u") != uid:
            raise _service_error(400, 432, "Start: appid, cname or uid does not match the resourceId")
        if rid in self._used_rids:
            raise _service_error(201, 7, "already started")
        issued = info.get("t")
        if not isinstance(issued, (int, float)) or now - issued >= self.timings.resource_ttl:
            raise _service_error(400, 433, "resource expired")
        if mode not in MODES:
            raise _invalid("Start", "mode")
        if (mode == "web") != (info.get("s") == 1):
            raise _service_error(400, 432, "Start: mode does not match the scene of the resourceId")
        request = body["clientRequest"]
        _validate_start(request, mode, strict=self.strict_spelling)
        expected = info.get("p")
        if expected is not None and not hmac.compare_digest(str(expected), self._request_digest(request)):
            raise _service_error(400, 2, "request_hash mismatch")
        running = self._tasks.get((app_id, cname, uid))
        if running is not None and self._advance(running, now) and running.phase == _RUNNING:
            raise _service_error(400, 53, "task conflict")
        sid = f"{self._id_rng.getrandbits(128):032x}"
        rec = _Recording(sid=sid, resource_id=rid, app_id=app_id, cname=cname, uid=uid, mode=mode, now=now)
        self._configure(rec, request, now)
        self._used_rids[rid] = sid
        self._recordings[sid] = rec
        self._live[sid] = rec
        self._tasks[(app_id, cname, uid)] = rec
        self._started += 1
        answer = _dump({"cname": cname, "uid": uid, "resourceId": rid, "sid": sid})
        return 200, answer, None, None, body, rec

    def _sid_op(
        self, endpoint: str, body: Any, route: tuple[str, str, str, str, str], now: float
    ) -> tuple[int, bytes, int | None, None, Any, _Recording | None]:
        _, app_id, rid, sid, mode = route
        op = _OP_NAMES[endpoint]
        rec = self._live.get(sid)
        if rec is None or rec.resource_id != rid or rec.app_id != app_id:
            info = self._decode_rid(rid)
            if rec is None:
                raise _Reply(404, _WORKER_NOT_FOUND, 404)
            if info.get("a") != app_id or rec.resource_id != rid or rec.app_id != app_id:
                raise _service_error(400, 1003, f"{op}: appid or sid does not match the resourceId")
        if not self._advance(rec, now):
            raise _Reply(404, _WORKER_NOT_FOUND, 404)
        rec.sid_delivered = True  # the client used the sid, so it has it
        if mode != rec.mode:
            raise _invalid(op, "mode")
        if body is not None and (body["cname"] != rec.cname or body["uid"] != rec.uid):
            raise _service_error(400, 432, f"{op}: cname or uid does not match the resourceId")
        if endpoint == "query":
            if rec.phase == _EXITING:
                raise _Reply(404, _WORKER_NOT_FOUND, 404)
            return 200, _dump(self._query_answer(rec, now)), None, None, body, None
        if endpoint == "stop":
            return self._stop(rec, body, now)
        if rec.phase != _RUNNING:
            raise _Reply(404, _WORKER_NOT_FOUND, 404)
        request = body["clientRequest"]
        if endpoint == "update":
            self._update(rec, request, now)
            rec.updates += 1
        else:
            if rec.mode != "mix":
                raise _invalid(op, "mode")
            _validate_layout(request, 400, 1028, "UpdateLayout")
            rec.layout_updates += 1
        answer = _dump({"cname": rec.cname, "uid": rec.uid, "resourceId": rec.resource_id, "sid": rec.sid})
        return 200, answer, None, None, body, None

    def _stop(
        self, rec: _Recording, body: dict[str, Any], now: float
    ) -> tuple[int, bytes, int | None, None, Any, _Recording | None]:
        async_stop = body["clientRequest"].get("async_stop", False)
        if not isinstance(async_stop, bool):
            raise _invalid("Stop", "async_stop")
        if rec.phase != _RUNNING:
            raise _service_error(400, 49, "invalid operation")
        has_files = self._has_files(rec, now)
        self._finish(rec, now, _EXITING, "stop", now + self.timings.exiting_for)
        self._stopped += 1
        if not has_files:
            raise _Reply(206, _dump({"code": 435, "reason": "no recorded data"}), 435)
        uploading = self._channel(rec.cname).uploading_status
        if rec.mode == "web":
            server: dict[str, Any] = {
                "extensionServiceState": [
                    {"payload": {"uploadingStatus": uploading}, "serviceName": "upload_service"},
                    {
                        "payload": {"fileList": self._web_files(rec), "onhold": rec.onhold, "state": "exit"},
                        "serviceName": "web_recorder_service",
                    },
                ]
            }
        else:
            server = self._file_fields(rec, now)
            server["uploadingStatus"] = uploading
        answer: dict[str, Any] = {"cname": rec.cname, "uid": rec.uid, "resourceId": rec.resource_id, "sid": rec.sid}
        answer["serverResponse"] = server
        return 200, _dump(answer), None, None, body, None

    def _update(self, rec: _Recording, request: dict[str, Any], now: float) -> None:
        known = 0
        if "streamSubscribe" in request:
            known += 1
            if rec.mode == "web":
                raise _invalid("Update", "streamSubscribe")
            sub = request["streamSubscribe"]
            if not isinstance(sub, dict):
                raise _invalid("Update", "streamSubscribe")
            strict = self.strict_spelling
            audio = _uid_lists(
                sub.get("audioUidList", {}), "Audio", "Update", "streamSubscribe.audioUidList", strict=strict
            )
            video = _uid_lists(
                sub.get("videoUidList", {}), "Video", "Update", "streamSubscribe.videoUidList", strict=strict
            )
            channel = self._channel(rec.cname)
            for lists, target in ((audio, rec.audio_uids), (video, rec.video_uids)):
                if lists != (None, None):
                    target.update(dict.fromkeys(_resolve(lists, channel, enabled=True, others_listed=False)))
            self._schedule_files(rec, channel, now)
        if "webRecordingConfig" in request:
            known += 1
            config = request["webRecordingConfig"]
            if rec.mode != "web" or not isinstance(config, dict):
                raise _invalid("Update", "webRecordingConfig")
            onhold = config.get("onhold", False)
            if not isinstance(onhold, bool):
                raise _invalid("Update", "webRecordingConfig.onhold")
            self._has_files(rec, now)
            rec.onhold = onhold
            self._schedule_files(rec, self._channel(rec.cname), now)
        if "rtmpPublishConfig" in request:
            known += 1
            config = request["rtmpPublishConfig"]
            if rec.mode != "web" or not isinstance(config, dict):
                raise _invalid("Update", "rtmpPublishConfig")
            rec.rtmp_urls = _rtmp_outputs(config.get("outputs"), "Update", "rtmpPublishConfig.outputs")
            rec.has_rtmp = True
        if "storageConfig" in request:
            known += 1
            _validate_storage(request["storageConfig"], "Update")
        if not known:
            raise _invalid("Update", "clientRequest")

    # ------------------------------------------------------------------------------ recording state

    def _channel(self, cname: str) -> _Channel:
        channel = self._channels.get(cname)
        return channel if channel is not None else _DEFAULT_CHANNEL

    def _configure(self, rec: _Recording, request: dict[str, Any], now: float) -> None:
        rec.snapshot = "snapshotConfig" in request
        files = request.get("recordingFileConfig")
        rec.mp4 = isinstance(files, dict) and "mp4" in files.get("avFileType", ())
        channel = self._channel(rec.cname)
        if rec.mode == "web":
            for service in request["extensionServiceConfig"]["extensionServices"]:
                params = service.get("serviceParam", {})
                if service.get("serviceName") == "web_recorder_service":
                    rec.onhold = params.get("onhold", False)
                    rec.hour_deadline = now + params["maxRecordingHour"] * 3600.0
                elif service.get("serviceName") == "rtmp_publish_service":
                    rec.has_rtmp = True
                    rec.rtmp_urls = [output["rtmpUrl"] for output in params.get("outputs", ())]
        else:
            config = request["recordingConfig"]
            rec.max_idle_time = float(config.get("maxIdleTime", 30))
            stream_types = config.get("streamTypes", 2)
            audio = _uid_lists(config, "Audio", "Start", "recordingConfig", strict=self.strict_spelling)
            video = _uid_lists(config, "Video", "Start", "recordingConfig", strict=self.strict_spelling)
            listed = audio != (None, None) or video != (None, None)
            rec.audio_uids = dict.fromkeys(
                _resolve(audio, channel, enabled=stream_types in (0, 2), others_listed=listed)
            )
            rec.video_uids = dict.fromkeys(
                _resolve(video, channel, enabled=stream_types in (1, 2), others_listed=listed)
            )
        self._apply_channel(rec, channel, now)

    def _apply_channel(self, rec: _Recording, channel: _Channel, now: float) -> None:
        if rec.mode != "web":
            if channel.uids is not None and not channel.uids:
                if rec.idle_deadline is None:
                    rec.idle_deadline = now + rec.max_idle_time
            else:
                rec.idle_deadline = None
        self._schedule_files(rec, channel, now)

    def _schedule_files(self, rec: _Recording, channel: _Channel, now: float) -> None:
        if self._has_files(rec, now):
            return
        if rec.mode == "web":
            producing = not rec.onhold and not channel.silent
        else:
            empty = channel.uids is not None and not channel.uids
            producing = not channel.silent and not empty and bool(rec.audio_uids or rec.video_uids)
        if not producing:
            rec.file_due_at = None
            rec.slice_start_at = None
        elif rec.file_due_at is None:
            t = self.timings
            gap = t.first_file_after - t.ready_after
            rec.slice_start_at = max(rec.started_at + t.ready_after, now)
            rec.file_due_at = rec.slice_start_at + gap

    def _has_files(self, rec: _Recording, now: float) -> bool:
        if rec.first_file_at is not None:
            return True
        due = rec.file_due_at
        if due is not None and now >= due and rec.phase == _RUNNING:
            rec.first_file_at = due
            return True
        return False

    def _advance(self, rec: _Recording, now: float) -> bool:
        """Apply what happened since the last look (idle timeout, maxRecordingHour, exit); False once gone."""
        if rec.phase == _RUNNING:
            deadline, reason = rec.idle_deadline, "idle"
            if rec.hour_deadline is not None and (deadline is None or rec.hour_deadline < deadline):
                deadline, reason = rec.hour_deadline, "max_recording_hour"
            if deadline is not None and now >= deadline:
                self._has_files(rec, deadline)
                self._finish(rec, deadline, _EXITING, reason, deadline + self.timings.exiting_for)
                self._ended += 1
        if rec.phase != _RUNNING and now >= rec.phase_until:
            rec.phase = _GONE
            self._live.pop(rec.sid, None)
            return False
        return rec.phase != _GONE

    def _finish(self, rec: _Recording, at: float, phase: str, reason: str, until: float) -> None:
        rec.phase = phase
        rec.phase_until = until
        rec.ended_at = at
        rec.end_reason = reason
        key = (rec.app_id, rec.cname, rec.uid)
        if self._tasks.get(key) is rec:
            del self._tasks[key]

    def _status(self, rec: _Recording, now: float) -> int | None:
        if rec.phase == _ABNORMAL:
            return 20
        if rec.phase != _RUNNING:
            return None
        if self._has_files(rec, now):
            return 5
        elapsed = now - rec.started_at
        ready = self.timings.ready_after
        if elapsed >= ready:
            return 4
        if elapsed >= ready * 2 / 3:
            return 3
        if elapsed >= ready / 3:
            return 2
        return 1 if elapsed >= ready / 6 else 0

    def _unix_ms(self, t: float | None) -> int:
        if t is None:
            return 0
        return round((self._unix_origin + (t - self._clock_origin)) * 1000)

    def _file_names(self, rec: _Recording, now: float) -> list[str]:
        if rec.snapshot or not self._has_files(rec, now):
            return []
        base = f"{rec.sid}_{rec.file_cname}"
        if rec.mode == "individual":
            return [entry["fileName"] for entry in self._individual_files(rec)]
        return [f"{base}.m3u8", f"{base}_0.mp4"] if rec.mp4 else [f"{base}.m3u8"]

    def _individual_files(self, rec: _Recording) -> list[dict[str, Any]]:
        start = self._unix_ms(rec.slice_start_at)
        base = f"{rec.sid}_{rec.file_cname}__uid_s_"
        files = []
        for uid in dict.fromkeys([*rec.audio_uids, *rec.video_uids]):
            for track, uids in (("audio", rec.audio_uids), ("video", rec.video_uids)):
                if uid in uids:
                    files.append(
                        {
                            "fileName": f"{base}{uid}__uid_e_{track}.m3u8",
                            "trackType": track,
                            "uid": uid,
                            "mixedAllUser": False,
                            "isPlayable": True,
                            "sliceStartTime": start,
                        }
                    )
        return files

    def _file_fields(self, rec: _Recording, now: float) -> dict[str, Any]:
        """``fileListMode``/``fileList`` for individual and mix answers (nothing for snapshots)."""
        if rec.snapshot:
            return {}
        has_files = self._has_files(rec, now)
        if rec.mode == "individual":
            return {"fileListMode": "json", "fileList": self._individual_files(rec) if has_files else []}
        base = f"{rec.sid}_{rec.file_cname}"
        if not rec.mp4:
            return {"fileListMode": "string", "fileList": f"{base}.m3u8" if has_files else ""}
        start = self._unix_ms(rec.slice_start_at)
        files = [
            {
                "fileName": name,
                "trackType": "audio_and_video",
                "uid": "0",
                "mixedAllUser": True,
                "isPlayable": True,
                "sliceStartTime": start,
            }
            for name in (f"{base}.m3u8", f"{base}_0.mp4")
        ]
        return {"fileListMode": "json", "fileList": files if has_files else []}

    def _web_files(self, rec: _Recording) -> list[dict[str, Any]]:
        if rec.first_file_at is None:
            return []
        start = self._unix_ms(rec.slice_start_at)
        base = f"{rec.sid}_{rec.file_cname}"
        names = [f"{base}.m3u8", f"{base}_0.mp4"] if rec.mp4 else [f"{base}.m3u8"]
        return [{"filename": name, "sliceStartTime": start} for name in names]

    def _query_answer(self, rec: _Recording, now: float) -> dict[str, Any]:
        status = self._status(rec, now)
        assert status is not None
        server: dict[str, Any] = {"status": status}
        if rec.mode == "web":
            self._has_files(rec, now)
            state = "exit" if rec.phase != _RUNNING else ("init" if status < 4 else "inProgress")
            services: list[dict[str, Any]] = [
                {
                    "payload": {"fileList": self._web_files(rec), "onhold": rec.onhold, "state": state},
                    "serviceName": "web_recorder_service",
                }
            ]
            if rec.has_rtmp:
                if rec.phase != _RUNNING:
                    output_status = "disconnected"
                elif status < 4:
                    output_status = "connecting"
                else:
                    output_status = "onhold" if rec.onhold else "publishing"
                outputs = [{"rtmpUrl": url, "status": output_status} for url in rec.rtmp_urls]
                services.append(
                    {"payload": {"outputs": outputs, "state": state}, "serviceName": "rtmp_publish_service"}
                )
            server["extensionServiceState"] = services
        else:
            server.update(self._file_fields(rec, now))
            server["sliceStartTime"] = self._unix_ms(rec.slice_start_at) if self._has_files(rec, now) else 0
        return {
            "cname": rec.cname,
            "uid": rec.uid,
            "resourceId": rec.resource_id,
            "sid": rec.sid,
            "serverResponse": server,
        }

    def _info(self, rec: _Recording, now: float) -> RecordingInfo:
        self._advance(rec, now)
        return RecordingInfo(
            sid=rec.sid,
            resource_id=rec.resource_id,
            app_id=rec.app_id,
            cname=rec.cname,
            uid=rec.uid,
            mode=rec.mode,
            state=rec.phase,
            status=self._status(rec, now),
            started_at=rec.started_at,
            ended_at=rec.ended_at,
            end_reason=rec.end_reason,
            sid_delivered=rec.sid_delivered,
            has_files=rec.first_file_at is not None or self._has_files(rec, now),
            onhold=rec.onhold,
            snapshot=rec.snapshot,
            file_names=tuple(
                [f["filename"] for f in self._web_files(rec)] if rec.mode == "web" else self._file_names(rec, now)
            ),
            updates=rec.updates,
            layout_updates=rec.layout_updates,
        )


_DEFAULT_CHANNEL = _Channel()


# ------------------------------------------------------------------------------------- validation helpers


def _uid_lists(
    config: object, media: str, op: str, where: str, *, strict: bool = False
) -> tuple[list[str] | None, list[str] | None]:
    """``(subscribe, unsubscribe)`` lists for one media type.

    Both spellings of the blacklist key are accepted, unless ``strict``: then only Agora's ``unSubscribe...``.
    """
    if not isinstance(config, dict):
        raise _invalid(op, where)
    if strict and f"unsubscribe{media}Uids" in config:
        raise _service_error(
            400, 2, f"{op}: unknown parameter {where}.unsubscribe{media}Uids (Agora spells it unSubscribe{media}Uids)"
        )
    sub = config.get(f"subscribe{media}Uids")
    unsub = config.get(f"unSubscribe{media}Uids", config.get(f"unsubscribe{media}Uids"))
    for name, value in ((f"subscribe{media}Uids", sub), (f"unsubscribe{media}Uids", unsub)):
        if value is not None and not (
            isinstance(value, list) and len(value) <= 32 and all(isinstance(u, str) and u for u in value)
        ):
            raise _invalid(op, f"{where}.{name}")
    if sub is not None and unsub is not None:
        raise _invalid(op, f"{where}.un/subscribe{media}Uids")
    return sub, unsub


def _resolve(
    lists: tuple[list[str] | None, list[str] | None], channel: _Channel, *, enabled: bool, others_listed: bool
) -> list[str]:
    """The uids recorded for one media type (see :meth:`FakeAgoraServer.set_channel`)."""
    if not enabled:
        return []
    sub, unsub = lists
    present = channel.uids if channel.uids is not None else DEFAULT_CHANNEL_UIDS
    if sub is not None:
        return list(present) if _ALLSTREAM in sub else list(dict.fromkeys(sub))
    if unsub is not None:
        return [u for u in present if u not in unsub]
    # "If you set up a subscription list for audio, but not for video, then no video is subscribed" (and v.v.)
    return [] if others_listed else list(present)


def _rtmp_outputs(outputs: object, op: str, where: str) -> list[str]:
    if not isinstance(outputs, list) or len(outputs) > 1:
        raise _invalid(op, where)
    urls = []
    for output in outputs:
        url = output.get("rtmpUrl") if isinstance(output, dict) else None
        if not isinstance(url, str) or not url.startswith(("rtmp://", "rtmps://")):
            raise _invalid(op, f"{where}.rtmpUrl")
        urls.append(url)
    return urls


def _validate_storage(storage: object, op: str) -> None:
    if not isinstance(storage, dict):
        raise _invalid(op, "storageConfig")
    vendor = storage.get("vendor")
    if type(vendor) is not int or vendor not in _VENDORS:
        raise _invalid(op, "storageConfig.vendor")
    if not _is_int(storage.get("region"), 0, 1000):
        raise _invalid(op, "storageConfig.region")
    for key in ("bucket", "accessKey", "secretKey"):
        value = storage.get(key)
        if not isinstance(value, str) or not value:
            raise _invalid(op, f"storageConfig.{key}")
    prefix = storage.get("fileNamePrefix")
    if prefix is not None and not (
        isinstance(prefix, list)
        and all(isinstance(p, str) and _PREFIX_PART.fullmatch(p) for p in prefix)
        and sum(len(p) + 1 for p in prefix) <= 128
    ):
        raise _invalid(op, "storageConfig.fileNamePrefix")
    for key in ("stsToken",):
        if key in storage and not isinstance(storage[key], str):
            raise _invalid(op, f"storageConfig.{key}")
    if "stsExpiration" in storage and not _is_int(storage["stsExpiration"], 0, 2**64 - 1):
        raise _invalid(op, "storageConfig.stsExpiration")
    params = storage.get("extensionParams")
    if params is not None and not isinstance(params, dict):
        raise _invalid(op, "storageConfig.extensionParams")
    if vendor == 11 and not (isinstance(params, dict) and isinstance(params.get("endpoint"), str)):
        raise _invalid(op, "storageConfig.extensionParams.endpoint")


def _validate_layout(config: dict[str, Any], status: int, code: int, op: str) -> None:
    """Check a layout (transcodingConfig or updateLayout clientRequest); raise ``status``/``code`` if invalid."""

    def bad(name: str) -> _Reply:
        return _service_error(status, code, f"{op}: invalid {name} value!")

    layout = config.get("mixedVideoLayout", 0)
    if not _is_int(layout, 0, 3):
        raise bad("mixedVideoLayout")
    if "backgroundColor" in config and not (
        isinstance(config["backgroundColor"], str) and _HEX_COLOUR.fullmatch(config["backgroundColor"])
    ):
        raise bad("backgroundColor")
    if "maxResolutionUid" in config and not _valid_uid(config["maxResolutionUid"]):
        raise bad("maxResolutionUid")
    regions = config.get("layoutConfig")
    if regions is not None:
        if not isinstance(regions, list) or len(regions) > 17:
            raise bad("layoutConfig")
        for region in regions:
            if not isinstance(region, dict):
                raise bad("layoutConfig")
            for key in ("x_axis", "y_axis", "width", "height"):
                if not _is_number(region.get(key), 0.0, 1.0):
                    raise bad(f"layoutConfig.{key}")
            if "alpha" in region and not _is_number(region["alpha"], 0.0, 1.0):
                raise bad("layoutConfig.alpha")
            if "render_mode" in region and not _is_int(region["render_mode"], 0, 1):
                raise bad("layoutConfig.render_mode")
            if "uid" in region and not _valid_uid(region["uid"]):
                raise bad("layoutConfig.uid")
    if layout == 3 and not regions:
        raise bad("layoutConfig")


_STREAM_MODES = ("default", "standard", "original")


def _validate_recording_config(config: object, mode: str, snapshot: bool, *, strict: bool = False) -> None:
    op = "Start"
    if not isinstance(config, dict):
        raise _invalid(op, "recordingConfig")
    checks: tuple[tuple[str, int, int], ...] = (
        ("channelType", 0, 1),
        ("streamTypes", 0, 2),
        ("videoStreamType", 0, 1),
        ("decryptionMode", 0, 8),
        ("maxIdleTime", 5, 2_592_000),
        ("subscribeUidGroup", 0, 5),
        ("audioProfile", 0, 2),
    )
    for key, low, high in checks:
        if key in config and not _is_int(config[key], low, high):
            raise _invalid(op, f"recordingConfig.{key}")
    if mode == "individual" and "subscribeUidGroup" not in config:
        raise _invalid(op, "recordingConfig.subscribeUidGroup")
    if config.get("decryptionMode", 0) != 0 and not isinstance(config.get("secret"), str):
        raise _invalid(op, "recordingConfig.secret")
    if config.get("decryptionMode", 0) in (7, 8) and not isinstance(config.get("salt"), str):
        raise _invalid(op, "recordingConfig.salt")
    if mode != "mix" and ("audioProfile" in config or "transcodingConfig" in config):
        raise _invalid(op, "recordingConfig.audioProfile" if "audioProfile" in config else "transcodingConfig")
    if "streamMode" in config and (mode != "individual" or config["streamMode"] not in _STREAM_MODES):
        raise _invalid(op, "recordingConfig.streamMode")
    transcoding = config.get("transcodingConfig")
    if transcoding is not None:
        if not isinstance(transcoding, dict) or not all(
            k in transcoding for k in ("width", "height", "fps", "bitrate")
        ):
            raise _invalid(op, "recordingConfig.transcodingConfig")  # the four go together (Agora's docs)
        width, height = transcoding["width"], transcoding["height"]
        if not (_is_int(width, 1, 1920) and _is_int(height, 1, 1920) and width * height <= 1920 * 1080):
            raise _invalid(op, "recordingConfig.transcodingConfig.width/height")
        for key in ("fps", "bitrate"):
            if key in transcoding and not _is_int(transcoding[key], 1, 1_000_000):
                raise _invalid(op, f"recordingConfig.transcodingConfig.{key}")
        _validate_layout(transcoding, 400, 2, op)
    _uid_lists(config, "Audio", op, "recordingConfig", strict=strict)
    _uid_lists(config, "Video", op, "recordingConfig", strict=strict)


def _validate_web_services(extension: object) -> None:
    op = "Start"
    if not isinstance(extension, dict):
        raise _invalid(op, "extensionServiceConfig")
    if extension.get("errorHandlePolicy", "error_abort") != "error_abort":
        raise _invalid(op, "extensionServiceConfig.errorHandlePolicy")
    services = extension.get("extensionServices")
    if not isinstance(services, list) or not services or not all(isinstance(s, dict) for s in services):
        raise _invalid(op, "extensionServiceConfig.extensionServices")
    names = [s.get("serviceName") for s in services]
    if names.count("web_recorder_service") != 1 or names.count("rtmp_publish_service") > 1:
        raise _invalid(op, "extensionServiceConfig.extensionServices.serviceName")
    for service in services:
        name = service.get("serviceName")
        params = service.get("serviceParam")
        where = f"extensionServices[{name}]"
        if not isinstance(params, dict):
            raise _invalid(op, f"{where}.serviceParam")
        if name == "web_recorder_service":
            if service.get("errorHandlePolicy", "error_abort") != "error_abort":
                raise _invalid(op, f"{where}.errorHandlePolicy")
            url = params.get("url")
            if not isinstance(url, str) or not url:
                raise _invalid(op, f"{where}.serviceParam.url")
            width, height = params.get("videoWidth"), params.get("videoHeight")
            if not (_is_int(width, 240, 1920) and _is_int(height, 240, 1920) and width * height <= 1920 * 1080):
                raise _invalid(op, f"{where}.serviceParam.videoWidth/videoHeight")
            required = (("audioProfile", 0, 2), ("maxRecordingHour", 1, 720))
            optional = (("videoFps", 5, 60), ("maxVideoDuration", 30, 240), ("readyTimeout", 0, 60))
            for key, low, high in required:
                if not _is_int(params.get(key), low, high):
                    raise _invalid(op, f"{where}.serviceParam.{key}")
            for key, low, high in optional:
                if key in params and not _is_int(params[key], low, high):
                    raise _invalid(op, f"{where}.serviceParam.{key}")
            if "videoBitrate" in params and not _is_int(params["videoBitrate"], 1, 1_000_000):
                raise _invalid(op, f"{where}.serviceParam.videoBitrate")
            for key in ("mobile", "onhold"):
                if key in params and not isinstance(params[key], bool):
                    raise _invalid(op, f"{where}.serviceParam.{key}")
        elif name == "rtmp_publish_service":
            if service.get("errorHandlePolicy", "error_ignore") != "error_ignore":
                raise _invalid(op, f"{where}.errorHandlePolicy")
            if not _rtmp_outputs(params.get("outputs"), op, f"{where}.serviceParam.outputs"):
                raise _invalid(op, f"{where}.serviceParam.outputs")
        else:
            raise _invalid(op, "extensionServiceConfig.extensionServices.serviceName")


def _validate_start(request: dict[str, Any], mode: str, *, strict: bool = False) -> None:
    """Check a start ``clientRequest`` for ``mode``; raise 400 code 2 naming the first invalid field.

    ``strict``: refuse the lowercase ``unsubscribe...Uids`` keys (see ``FakeAgoraServer(strict_spelling=...)``).
    """
    op = "Start"
    if "token" in request and not isinstance(request["token"], str):
        raise _invalid(op, "token")
    snapshot = request.get("snapshotConfig")
    files = request.get("recordingFileConfig")
    if snapshot is not None and files is not None:
        raise _invalid(op, "recordingFileConfig/snapshotConfig")
    if snapshot is not None:
        if mode != "individual" or not isinstance(snapshot, dict):
            raise _invalid(op, "snapshotConfig")
        if "captureInterval" in snapshot and not _is_int(snapshot["captureInterval"], 1, 3600):
            raise _invalid(op, "snapshotConfig.captureInterval")
        if snapshot.get("fileType") != ["jpg"]:
            raise _invalid(op, "snapshotConfig.fileType")
    if files is not None:
        types = files.get("avFileType", ["hls"]) if isinstance(files, dict) else None
        if (
            not isinstance(types, list)
            or not types
            or "hls" not in types
            or not set(types) <= {"hls", "mp4"}
            or len(set(types)) != len(types)
            or (mode == "individual" and types != ["hls"])
        ):
            raise _invalid(op, "recordingFileConfig.avFileType")
    if mode == "web":
        _validate_web_services(request.get("extensionServiceConfig"))
    else:
        extension = request.get("extensionServiceConfig")
        if isinstance(extension, dict) and any(
            isinstance(s, dict) and s.get("serviceName") in ("web_recorder_service", "rtmp_publish_service")
            for s in extension.get("extensionServices", ()) or ()
        ):
            raise _invalid(op, "extensionServiceConfig")
        _validate_recording_config(request.get("recordingConfig"), mode, snapshot is not None, strict=strict)
        if snapshot is not None and request["recordingConfig"].get("streamTypes", 2) == 0:
            raise _invalid(op, "recordingConfig.streamTypes")
        services = extension.get("extensionServices", ()) if isinstance(extension, dict) else ()
        if any(isinstance(s, dict) and s.get("serviceName") == "aliyun_vod_service" for s in services or ()):
            # ApsaraVideo for VoD: mix mode only, and neither storageConfig nor snapshotConfig with it.
            if mode != "mix" or "storageConfig" in request or snapshot is not None:
                raise _invalid(op, "extensionServiceConfig")
            return
    _validate_storage(request.get("storageConfig"), op)
