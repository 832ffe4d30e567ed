"""NCS notifications from the fake: signed productId 3 events, delivered as Agora's Notification Center would.

Configure with :meth:`FakeAgoraServer.notify` (``url=``, ``secret=``, optionally ``transport=`` such as
``httpx.ASGITransport(app=receiver)`` for in-process delivery). Every notification is a POST of
``{noticeId, productId: 3, eventType, notifyMs, payload: {cname, uid, sid, sequence, sendts, serviceType,
details: {msgName, ...}}}`` with ``Agora-Signature`` (hex HMAC-SHA1 of the raw body) and ``Agora-Signature-V2``
(hex HMAC-SHA256) under the secret, computed here with :mod:`hmac` (never with the library's webhooks code).

Events (the recording's uid and sid; ``sequence`` counts from 0 per sid):

- start: 40 ``recorder_started`` and 30 ``uploader_started`` (``status`` 0). Also for a start whose answer was
  lost: the notifications carry the sid the client never saw.
- first file uploaded: 4 ``cloud_recording_file_infos`` (``fileList``: the first M3U8), not for snapshots.
- stop: 41 ``recorder_leave`` (``leaveCode`` 16, CLIENT_LEAVE), 31 ``uploaded`` with ``fileList`` (32
  ``backuped`` when the channel's ``uploading_status`` is ``"backuped"``; web mode sends only ``status``) if any
  file was recorded, then 11 ``session_exit`` (``exitStatus`` 0). Idle end (``maxIdleTime``,
  ``end_recording(reason="idle")``): the same with ``leaveCode`` 4 (NO_USERS); ``maxRecordingHour``: leaveCode
  16 (a choice; Agora documents none); ``end_recording(reason="abnormal")``: only 11 with ``exitStatus`` 1.
- a stop on a task that is already exiting (answered 49): 3 ``cloud_recording_status_update`` (``status`` 8,
  or 20 after an abnormal exit).
- :meth:`FakeAgoraServer.failover`: 12 ``session_failover`` with a random ``newUid``.

Delivery is background work and never blocks or fails a REST answer: events are only queued while a request is
answered. Two ways to send them:

- **pump** (deterministic): ``await fake.deliver_pending()`` sends every queued notification that is due on the
  fake's clock, in due order, and returns how many attempts it made; retries and delays wait for the clock.
- **background**: inside ``fake.serve()`` (or ``async with fake.delivering():`` in-process) a task group owned
  by the fake sends each notification as soon as it is due (delays sleep through the fake's ``sleep``) and looks
  at the running recordings whenever one changes by itself (first file, idle end), so those events go out on
  time. Leaving it cancels what is in flight; unsent notifications stay queued for the pump.

NCS rules (notes 7.4): an attempt fails unless the receiver answers 200 with a JSON body within ``timeout``
(10 s); a failed notification is resent up to three times (``retry_delays`` seconds later on the fake's clock),
with a new ``notifyMs`` each time; no ordering guarantee; duplicates happen. Faults
(:meth:`FakeNotifier.inject`): ``"duplicate"`` (sent twice, same body), ``"fail"`` (the first ``attempts``
attempts fail without reaching the receiver), ``"delay"`` (due ``delay`` seconds later), ``"reorder"`` (held
back until the next notification has been sent, at most ``delay`` or 1 s), ``"drop"`` (never sent, as NCS
cannot guarantee delivery). Every attempt is recorded (:meth:`FakeAgoraServer.notifications_sent`).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import httpx
from anyio.abc import TaskGroup

from agora_recording._clock import Clock
from agora_recording.testing._files import Files
from agora_recording.testing._ncs import (
    MAX_RETRIES,
    Notice,
    NotifyFault,
    NotifyFaultKind,
    SentNotification,
    apply_faults,
    events_for,
    make_envelope,
    make_notify_fault,
    sign,
)
from agora_recording.testing._state import RUNNING, Recording, RecordingState
from agora_recording.testing._wire import dump

__all__ = ["FakeNotifier", "NotifyControls"]


class FakeNotifier:
    """The fake's NCS: builds, signs, queues and delivers notifications (see the module docstring)."""

    def __init__(
        self, *, state: RecordingState, files: Files, clock: Clock, sleep: Callable[[float], Awaitable[Any]], seed: int
    ) -> None:
        self._state, self._files, self._clock, self._sleep = state, files, clock, sleep
        self._rng = random.Random(seed + 0x0C5)
        self._url: str | None = None
        self._secret = ""
        self._transport: httpx.AsyncBaseTransport | None = None
        self._timeout = 10.0
        self._retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0)
        self._faults: list[NotifyFault] = []
        self._queue: list[Notice] = []
        self._sent: list[SentNotification] = []
        self._sequences: dict[str, int] = {}
        self._tg: TaskGroup | None = None
        self._client: httpx.AsyncClient | None = None  # the background's client for the current configuration
        self._clients: list[httpx.AsyncClient] = []
        self._ticking = False
        self._poke: anyio.Event | None = None  # created inside the event loop (anyio needs one)
        self._idle: anyio.Event | None = None
        self.errors = 0
        """Events that could not be turned into a notification (a bug in the fake; the REST answer went out)."""

    def __repr__(self) -> str:  # never the secret, nor the URL (it may carry a token)
        return f"FakeNotifier(configured={self._url is not None}, pending={len(self._queue)}, sent={len(self._sent)})"

    def configure(
        self,
        url: str,
        secret: str,
        transport: httpx.AsyncBaseTransport | None,
        timeout: float,
        retry_delays: Sequence[float],
    ) -> None:
        """Set (or change) where and how notifications go (see :meth:`FakeAgoraServer.notify`)."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        if not isinstance(secret, str) or not secret:
            raise ValueError("secret must be a non-empty string")
        if not timeout > 0:
            raise ValueError("timeout must be > 0")
        delays = tuple(float(d) for d in retry_delays)
        if len(delays) != MAX_RETRIES or any(not d >= 0 for d in delays):
            raise ValueError(f"retry_delays must be {MAX_RETRIES} numbers >= 0")
        self._url, self._secret, self._transport = url, secret, transport
        self._timeout, self._retry_delays = float(timeout), delays
        self._client = None  # the next background delivery opens a client for the new configuration
        if self._tg is not None and not self._ticking:
            self._ticking = True
            self._tg.start_soon(self._tick_loop)

    def inject(
        self,
        kind: NotifyFaultKind,
        *,
        event_type: int | None = None,
        count: int = 1,
        delay: float = 0.0,
        attempts: int = 1,
    ) -> NotifyFault:
        """Make the next ``count`` notifications (of ``event_type``, if given) meet a delivery fault.

        Examples: ``inject("fail", attempts=2)`` (delivered on the second resend), ``inject("fail",
        attempts=4)`` (never delivered), ``inject("duplicate", event_type=11)``, ``inject("delay", delay=5)``.

        Raises:
            ValueError: for an unknown kind or an invalid number.
        """
        fault = make_notify_fault(kind, event_type=event_type, count=count, delay=delay, attempts=attempts)
        self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget every injected delivery fault."""
        self._faults.clear()

    @property
    def configured(self) -> bool:
        """True once :meth:`FakeAgoraServer.notify` was called."""
        return self._url is not None

    @property
    def pending(self) -> int:
        """Notifications queued or in flight (not yet delivered nor given up)."""
        return len(self._queue)

    def sent(self) -> tuple[SentNotification, ...]:
        """Every delivery attempt so far, in the order made."""
        return tuple(self._sent)

    # ---------------------------------------------------------------------------------------- events

    def on_event(self, event: str, rec: Recording, at: float) -> None:
        """The state's listener: turn a recording event into notifications (never raises)."""
        if self._url is None:
            return
        try:
            for event_type, details in events_for(event, rec, at, self._state, self._files):
                self.emit(rec, event_type, details, at)
        except Exception:  # a notification must never fail the REST answer that caused it
            self.errors += 1
        self.poke()

    def failover(self, rec: Recording, new_uid: int | None) -> int:
        """Emit 12 ``session_failover`` for ``rec``; return the ``newUid``."""
        uid = new_uid if new_uid is not None else self._rng.randint(1, 2**32 - 1)
        if self._url is not None:
            self.emit(rec, 12, {"newUid": uid}, self._clock())
        return uid

    def poke(self) -> None:
        """Something may have changed a recording's deadlines: let the background look again."""
        if self._poke is not None:
            self._poke.set()

    def emit(self, rec: Recording, event_type: int, details: dict[str, Any], at: float) -> None:
        """Queue one notification for ``rec`` (faults applied); start its delivery if the background runs."""
        sequence = self._sequences.get(rec.sid, 0)
        self._sequences[rec.sid] = sequence + 1
        notice_id = str(uuid.UUID(int=self._rng.getrandbits(128)))
        envelope = make_envelope(rec, event_type, details, notice_id, sequence, self._state.unix_ms(at))
        item = Notice(envelope, self._clock())
        if not apply_faults(self._faults, item):
            return  # dropped: NCS cannot guarantee delivery
        self._queue.append(item)
        if self._tg is not None:
            self._tg.start_soon(self._run_item, item)

    # -------------------------------------------------------------------------------------- delivery

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self._transport, timeout=self._timeout, trust_env=False)

    async def deliver_pending(self) -> int:
        """The pump: send every notification due now (retries due now included); return the attempts made.

        Raises:
            RuntimeError: while the background delivers (inside ``serve()``/``delivering()``): use
                :meth:`wait_idle` there.
        """
        if self._tg is not None:
            raise RuntimeError("notifications are being delivered in the background; await wait_idle() instead")
        self._look()
        made = 0
        if not self._queue:
            return 0
        async with self._http() as client:
            while True:
                self._look()
                now = self._clock()
                due = [i for i in self._queue if i.due <= now]  # a held item's due is the end of its hold
                if not due:
                    held = [i for i in self._queue if i.held]
                    if not held:
                        return made
                    for item in held:  # nothing else is due: what was held back goes now
                        self._release(item, now)
                    continue
                item = min(due, key=lambda i: i.due)
                made += await self._attempt(client, item)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Deliver in the background until the block exits (see the module docstring).

        Raises:
            RuntimeError: if the background already runs (one ``serve()`` or ``delivering()`` at a time).
        """
        if self._tg is not None:
            raise RuntimeError("notifications are already delivered in the background (serve() or delivering())")
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                try:
                    if self._url is not None and not self._ticking:
                        self._ticking = True
                        tg.start_soon(self._tick_loop)
                    for item in list(self._queue):
                        tg.start_soon(self._run_item, item)
                    yield
                finally:
                    self._tg = None
                    self._ticking = False
                    tg.cancel_scope.cancel()
        finally:
            clients, self._clients, self._client = self._clients, [], None
            with anyio.CancelScope(shield=True):
                for client in clients:
                    await client.aclose()

    def _background_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._http()
            self._clients.append(self._client)
        return self._client

    async def wait_idle(self) -> None:
        """Wait until nothing is queued (background mode; returns at once when nothing is pending)."""
        while self._queue:
            idle = self._idle = anyio.Event()
            await idle.wait()

    def _look(self) -> None:
        """Look at the running recordings so that what is due by now (first file, idle end) happens."""
        now = self._clock()
        for rec in self._state.running(now):
            self._state.has_files(rec, now)

    async def _tick_loop(self) -> None:
        while True:
            self._look()
            poke = self._poke = anyio.Event()
            deadline = self._state.next_deadline(self._clock())
            await self._wait(deadline, poke)

    async def _wait(self, deadline: float | None, event: anyio.Event) -> None:
        """Until ``deadline`` on the fake's clock (``None``: forever) or ``event``, whichever comes first."""
        if deadline is None:
            await event.wait()
            return
        delay = deadline - self._clock()
        if delay <= 0:
            return
        async with anyio.create_task_group() as tg:

            async def sleeper() -> None:
                await self._sleep(delay)
                event.set()

            tg.start_soon(sleeper)
            await event.wait()
            tg.cancel_scope.cancel()

    async def _run_item(self, item: Notice) -> None:
        while item in self._queue:
            wake = item.wake = anyio.Event()
            if item.due > self._clock():
                await self._wait(item.due, wake)
                continue
            try:
                await self._attempt(self._background_client(), item)
            except Exception:  # a bug here must not take the fake's server down
                self.errors += 1
                self._finish(item)

    def _release(self, item: Notice, now: float) -> None:
        item.held = False
        item.due = min(item.due, now)
        if item.wake is not None:
            item.wake.set()

    async def _attempt(self, client: httpx.AsyncClient, item: Notice) -> int:
        """One attempt (and an injected duplicate); requeue or finish the item. Returns the sends recorded."""
        now = self._clock()
        notify_ms = max(self._state.unix_ms(now), item.last_ms + 1)  # "updated on each resend"
        item.last_ms = notify_ms
        item.envelope["notifyMs"] = notify_ms
        body = dump(item.envelope)
        if item.fail_left > 0:
            item.fail_left -= 1
            status, delivered = None, False
        else:
            status, delivered = await self._post(client, body)
        self._sent.append(item.attempted(now, notify_ms, body, status, delivered, duplicate=False))
        made = 1
        if item.duplicate:
            item.duplicate = False
            dup_status, dup_delivered = await self._post(client, body)
            self._sent.append(item.attempted(now, notify_ms, body, dup_status, dup_delivered, duplicate=True))
            made += 1
        if delivered or item.attempt >= MAX_RETRIES:
            self._finish(item)
            if delivered:
                for other in self._queue:
                    if other.held:
                        self._release(other, self._clock())
        else:
            item.due = self._clock() + self._retry_delays[item.attempt]
            item.attempt += 1
        return made

    def _finish(self, item: Notice) -> None:
        if item in self._queue:
            self._queue.remove(item)
        if not self._queue and self._idle is not None:
            self._idle.set()

    async def _post(self, client: httpx.AsyncClient, body: bytes) -> tuple[int | None, bool]:
        assert self._url is not None
        headers = {"Content-Type": "application/json", **sign(body, self._secret)}
        try:
            response = await client.post(self._url, content=body, headers=headers)
        except Exception:  # refused, timed out, or the in-process receiver raised: no answer
            return None, False
        if response.status_code != 200:
            return response.status_code, False
        try:
            response.json()
        except ValueError:
            return 200, False  # NCS needs a JSON body
        return 200, True


class NotifyControls:
    """The notification methods of :class:`FakeAgoraServer` (a mixin over its :class:`FakeNotifier`)."""

    _notifier: FakeNotifier
    _state: RecordingState
    _clock: Clock

    def notify(
        self,
        url: str,
        *,
        secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
    ) -> FakeNotifier:
        """Send NCS notifications for every recording from now on (see :mod:`agora_recording.testing._notify`).

        ``transport=httpx.ASGITransport(app=receiver)`` delivers in-process; without it, ``url`` is reached
        over the network (e.g. a receiver on 127.0.0.1). ``secret`` signs the bodies (never shown by ``repr``).
        ``timeout``: how long the receiver has to answer (NCS: 10 s); ``retry_delays``: the three resend delays
        in seconds of the fake's clock. Returns the notifier, whose :meth:`FakeNotifier.inject` adds delivery
        faults::

            fake.notify("https://bot.example/ncs", secret="s3cret", transport=httpx.ASGITransport(app=app))
            ...
            await fake.deliver_pending()
            assert [n.event_type for n in fake.notifications_sent()] == [40, 30]

        Raises:
            ValueError: for an invalid argument.
        """
        self._notifier.configure(url, secret, transport, timeout, retry_delays)
        return self._notifier

    @property
    def notifier(self) -> FakeNotifier:
        """The fake's NCS (configured by :meth:`notify`): delivery faults, ``pending``, ``errors``."""
        return self._notifier

    def notifications_sent(self) -> tuple[SentNotification, ...]:
        """Every notification delivery attempt so far (resends and duplicates included), in the order made."""
        return self._notifier.sent()

    async def deliver_pending(self) -> int:
        """Send every notification that is due now on the fake's clock; return how many attempts were made.

        The deterministic pump for tests: call it after the REST calls (and after moving the clock, for
        retries and delays). Outside :meth:`delivering`/:meth:`serve` nothing is sent without it.
        """
        return await self._notifier.deliver_pending()

    def delivering(self) -> AbstractAsyncContextManager[None]:
        """Send notifications in the background until the block exits (:meth:`serve` does this by itself)::

        async with fake.delivering():
            ...  # REST calls through fake.transport(); notifications go out as they are due
            await fake.notifier.wait_idle()
        """
        return self._notifier.running()

    def failover(self, sid: str, *, new_uid: int | None = None) -> int:
        """Move a running recording to another worker as Agora's high availability would: emits 12
        ``session_failover`` with ``newUid`` (random unless given) and returns it. The REST behaviour does not
        change (inject ``worker_not_found`` faults for the transient 404s of a real failover).

        Raises:
            KeyError: if no running recording has this sid.
        """
        now = self._clock()
        rec = self._state.live.get(sid)
        if rec is None or not self._state.advance(rec, now) or rec.phase != RUNNING:
            raise KeyError(sid)
        return self._notifier.failover(rec, new_uid)
