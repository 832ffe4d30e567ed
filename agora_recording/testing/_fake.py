"""``FakeAgoraServer``: a stateful stand-in for Agora Cloud Recording, at the wire level.

The fake speaks plain JSON over HTTP exactly where Agora does, so it checks a client instead of mirroring it.
It never imports the library's models, converter or client. Use it in-process (:meth:`FakeAgoraServer.transport`,
an :class:`httpx.AsyncBaseTransport`, no sockets) or over real TCP (:meth:`FakeAgoraServer.serve`); both run the
same :meth:`FakeAgoraServer.handle`.

This module is the facade: :class:`FakeAgoraServer` holds the rooms and delegates to them (its account, fault,
inspection and notification methods come from small mixins that live beside the room they drive).

- the rules it enforces, in order, with Agora's documented bodies: :mod:`agora_recording.testing._rules`;
- the route table and request pipeline: :mod:`._routes`; credentials, App IDs and the rate window:
  :mod:`._access`; ids and signed resourceIds: :mod:`._ids`;
- recordings, channels and timings: :mod:`._state`; file lists and query/stop answers: :mod:`._files`;
- injected faults: :mod:`._faults`; the request log and counters: :mod:`._stats`; admin paths: :mod:`._admin`;
- NCS notifications: :mod:`._ncs` (envelope, event table, signatures) and :mod:`._notify` (delivery);
- the two ways to reach it: :mod:`._transport` (in-process) and :mod:`._server` (TCP), which know only the
  small handler protocol of :mod:`._wire`.

Admin path: ``GET /_fake/stats`` answers :attr:`FakeAgoraServer.stats` as JSON, without authentication (counters
only, no secret), and is itself not counted, logged, rate limited or hit by faults (:mod:`._admin`).

Every answer on Agora's paths carries a unique ``X-Request-Id`` header and a JSON content type. The request log
(:attr:`FakeAgoraServer.requests`) keeps parsed bodies for assertions, but no ``repr``/``str`` of the fake, of a
log record or of a recording shows a body, a header or a credential.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal

import anyio
import httpx

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording.testing._access import Access, AccountControls
from agora_recording.testing._admin import admin_answer
from agora_recording.testing._faults import FaultBook, FaultControls
from agora_recording.testing._files import Files
from agora_recording.testing._ids import Ids
from agora_recording.testing._notify import FakeNotifier, NotifyControls
from agora_recording.testing._routes import Endpoints, Router
from agora_recording.testing._server import serve_fake
from agora_recording.testing._state import (
    DEFAULT_CHANNEL_UIDS,
    RUNNING,
    Channel,
    FakeTimings,
    RecordingInfo,
    RecordingState,
)
from agora_recording.testing._stats import Counters, FakeStats, Inspection, RequestRecord
from agora_recording.testing._transport import FakeTransport
from agora_recording.testing._wire import FakeResponse, PendingAnswer

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_CHANNEL_UIDS",
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


class FakeAgoraServer(AccountControls, FaultControls, Inspection, NotifyControls):
    """A faithful, stateful fake of Agora Cloud Recording (its rules: :mod:`agora_recording.testing._rules`).

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
        access = Access(
            customer_id=customer_id,
            customer_secret=customer_secret,
            rate_limit_scope=rate_limit_scope,
            retry_after=retry_after,
        )
        if fault_hold_limit <= 0:
            raise ValueError("fault_hold_limit must be > 0")
        if request_log_size < 0:
            raise ValueError("request_log_size must be >= 0")
        for app in (app_id, *app_ids):
            access.add_app(app)
        access.set_rate_limit(rate_limit, window=rate_window)
        self._access = access
        self._clock: Clock = clock if clock is not None else DEFAULT_CLOCK
        self._sleep: Callable[[float], Awaitable[Any]] = sleep if sleep is not None else anyio.sleep
        self.fault_hold_limit = float(fault_hold_limit)
        """Over TCP, the longest a ``timeout`` fault withholds an answer (seconds)."""
        ids = Ids(seed, customer_id)
        self._state = RecordingState(
            clock=self._clock,
            timings=timings if timings is not None else FakeTimings(),
            unix_time_origin=unix_time_origin,
        )
        self._files = Files(self._state)
        self._endpoints = Endpoints(state=self._state, files=self._files, ids=ids, strict_spelling=strict_spelling)
        self._faults = FaultBook(seed)
        self._counters = Counters(request_log_size)
        self._notifier = FakeNotifier(
            state=self._state, files=self._files, clock=self._clock, sleep=self._sleep, seed=seed
        )
        self._state.listener = self._notifier.on_event
        self._router = Router(
            access=access,
            endpoints=self._endpoints,
            faults=self._faults,
            counters=self._counters,
            ids=ids,
            clock=self._clock,
            sleep=self._sleep,
        )

    # ----------------------------------------------------------------------------------------------- config

    def __repr__(self) -> str:
        access = self._access
        running = sum(1 for r in self._state.live.values() if r.phase == RUNNING)
        return (
            f"FakeAgoraServer(app_ids={list(access.app_ids)!r}, customer_id={access.customer_id!r}, "
            f"rate_limit={access.rate_limit!r}, rate_window={access.rate_window!r}, running={running})"
        )

    @property
    def clock(self) -> Clock:
        """The fake's clock."""
        return self._clock

    @property
    def timings(self) -> FakeTimings:
        """How recordings progress (:class:`FakeTimings`); settable."""
        return self._state.timings

    @timings.setter
    def timings(self, value: FakeTimings) -> None:
        self._state.timings = value

    @property
    def strict_spelling(self) -> bool:
        """Whether the lowercase ``unsubscribe...Uids`` keys are refused; settable."""
        return self._endpoints.strict_spelling

    @strict_spelling.setter
    def strict_spelling(self, value: bool) -> None:
        self._endpoints.strict_spelling = bool(value)

    def set_channel(
        self, cname: str, *, uids: Sequence[str] | None = None, silent: bool = False, uploading_status: str = "uploaded"
    ) -> None:
        """Describe a channel: who is in it, whether anyone sends a stream, how uploads end.

        - ``uids``: the users in the channel (``None``: ``DEFAULT_CHANNEL_UIDS``, ``("1001", "1002")``). They
          resolve ``#allstream#`` and blacklists; explicit subscribe lists are taken as they are. An empty
          channel (``uids=()``) is idle: non-web recordings end after ``maxIdleTime`` seconds.
        - ``silent=True``: nobody sends a stream, so nothing is recorded: status stays at 4 and stop answers
          206 code 435.
        - ``uploading_status``: what stop reports (``"uploaded"``, ``"backuped"``, ``"unknown"``, ...).

        Applies to recordings already running in that channel too.
        """
        channel = Channel(uids=None if uids is None else tuple(uids), silent=silent, uploading_status=uploading_status)
        self._state.set_channel(cname, channel, self._clock())
        self._notifier.poke()

    # ------------------------------------------------------------------------------------ transports

    def transport(self) -> httpx.AsyncBaseTransport:
        """Return an in-process :class:`httpx.AsyncBaseTransport` that answers from this fake (no sockets).

        Example::

            async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http: ...
        """
        return FakeTransport(self)

    def serve(
        self, *, host: str = "127.0.0.1", port: int = 0, keepalive_timeout: float = 15.0
    ) -> AbstractAsyncContextManager[str]:
        """Serve this fake over HTTP/1.1 on ``host:port`` (port 0: an ephemeral port); yields the base URL.

        Keep-alive connections, bounded request sizes and idle times; everything is closed on exit. While
        serving, notifications (:meth:`notify`) are delivered in the background, as in :meth:`delivering`::

            async with fake.serve() as base_url:   # "http://127.0.0.1:<port>"
                async with httpx.AsyncClient(base_url=base_url) as http: ...
        """
        return self._serving(host, port, keepalive_timeout)

    @asynccontextmanager
    async def _serving(self, host: str, port: int, keepalive_timeout: float) -> AsyncIterator[str]:
        # the listener first: a port in use raises plain OSError, outside any task group
        async with (
            serve_fake(self, host=host, port=port, keepalive_timeout=keepalive_timeout) as url,
            self._notifier.running(),
        ):
            yield url

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
        rec = self._state.live.get(sid)
        if rec is None or not self._state.advance(rec, now) or rec.phase != RUNNING:
            raise KeyError(sid)
        self._state.end(rec, reason, now)

    # ----------------------------------------------------------------------------------- the core

    async def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> FakeResponse:
        """Answer one HTTP request as Agora would: the logic both transports share.

        The answer counts as delivered to the caller (a start's sid is then no orphan).

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
        pending = await self.respond(method, path, headers, body)
        pending.delivered()
        return pending.response

    async def respond(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> PendingAnswer:
        """Like :meth:`handle`, but the answer counts as delivered only once ``.delivered()`` is called on it.

        For transports that know whether the client could read the answer (the TCP server calls it only when
        the answer was written to a connection the client had not closed).
        """
        admin = admin_answer(method, path, lambda: self.stats)
        if admin is not None:  # the fake's own paths: not an Agora request (see _admin)
            return PendingAnswer(admin)
        try:
            return await self._router.respond(method, path, headers, body)
        finally:
            self._notifier.poke()  # the request may have changed a recording's deadlines

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` through the fake's ``sleep`` (the one injected delays use)."""
        await self._sleep(seconds)
