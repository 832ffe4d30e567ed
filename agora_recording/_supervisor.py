"""RecordingSupervisor: many recordings kept healthy the way Agora's integration guide says (notes section 9).

* **Start**: acquire + start, then confirm by query from 5 s after the sid, backing off 5/10/15 s, until status
  4 or 5; not there within ``verify_timeout`` (90 s): the start failed (``RecordingSession.wait_until_recording``).
* **Monitor**: every recording is queried about every ``query_interval`` seconds (the source of truth). Each
  recording gets its own slot of the interval (the k-th verified start takes ``k * 0.618... mod 1``), so the
  fleet's queries are spread evenly over time whenever the recordings started, never in one burst. One
  scheduler task feeds ``monitor_concurrency`` workers: monitoring never holds more than that many places in the
  client's rate-limiter queue, so a new start or stop waits behind at most that many queries, never behind the
  whole fleet.
* **Failover**: a 404 "failed to find worker" is re-queried after 5/10/15 s (``failover_delays``) for up to
  ``failover_window`` (90 s) before the task counts as gone: no restart while Agora's high availability moves it.
* **Restart** on status 20, on a status past 5 (exiting), on a 404 past the window, on a failed verification,
  and at once on the fast signals (:meth:`RecordingSupervisor.notify`): ``session_exit`` with exitStatus 1,
  ``recorder_leave`` meaning the recorder is gone, ``web_recorder_stopped`` with a code other than 0. Each
  restart switches to the other uid of the pair (``uid`` / ``alternate_uid``), so the new recorder cannot kick
  the old one out. ``max_restarts`` restarts in a row (backing off by ``restart_delays``) and the handle ends
  FAILED with the reason; a recording that ran ``restart_reset_after`` seconds resets the count.
* **Backup** (``backup=True``): a second recording of the channel with its own uid pair, acquired with
  ``excludeResourceIds`` = the primary's resourceId so Agora places it elsewhere.
* **Events**: :meth:`RecordingSupervisor.events`, bounded per consumer (see :mod:`._supervisor_events`).
* **Across processes** (``fleet=`` on a client with a ``session_store``): the handles are kept in the store
  (:mod:`._supervisor_persist`); :meth:`RecordingSupervisor.resume` takes over what a crashed or handed-off
  supervisor of the fleet left, :meth:`RecordingSupervisor.hand_off` leaves without stopping anything
  (:mod:`._supervisor_resume`).

Only the public API of the client and the session is used.
"""

from __future__ import annotations

import logging
import math
import warnings
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from agora_recording._client import CloudRecordingClient
from agora_recording._errors import (
    InvalidRequestError,
    SessionStateError,
)
from agora_recording._supervisor_events import EventHub, EventStream
from agora_recording._supervisor_handle import MONITORED, RecordingHandle
from agora_recording._supervisor_monitor import Scheduler
from agora_recording._supervisor_persist import FleetRecords
from agora_recording._supervisor_records import check_fleet
from agora_recording._supervisor_resume import FleetSide
from agora_recording._supervisor_signals import SIGNALS, decide, signal_from_event
from agora_recording.models._enums import Mode
from agora_recording.models._requests import AcquireClientRequest, ClientRequest
from agora_recording.models._rules import check_mode
from agora_recording.models._validation import check_uid

__all__ = ["RecordingSupervisor", "SupervisorWarning"]

logger = logging.getLogger("agora_recording")

DEFAULT_QUERY_INTERVAL = 120.0
DEFAULT_MAX_RESTARTS = 5
DEFAULT_RESTART_DELAYS = (0.0, 5.0, 15.0, 30.0, 60.0)
DEFAULT_FAILOVER_DELAYS = (5.0, 10.0, 15.0)
DEFAULT_FAILOVER_WINDOW = 90.0
DEFAULT_MONITOR_CONCURRENCY = 4
DEFAULT_EVENT_BUFFER = 1024
DEFAULT_MAX_IDLE_TIME = 30.0  # Agora's default maxIdleTime (notes section 9.6)


class SupervisorWarning(UserWarning):
    """A supervisor setting works against Agora's advice (e.g. a query interval not under ``maxIdleTime``)."""


def _number(value: Any, name: str, *, minimum: float, strict: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < minimum or (strict and value == minimum):
        rule = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InvalidRequestError(name, f"must be a finite number {rule}, got {value!r}")
    return float(value)


def _count(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequestError(name, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _delays(value: Any, name: str) -> tuple[float, ...]:
    if not isinstance(value, (tuple, list)) or not value:
        raise InvalidRequestError(name, "must be a non-empty tuple of seconds >= 0")
    return tuple(_number(v, name, minimum=0.0) for v in value)


class RecordingSupervisor(FleetSide):
    """Keep many recordings running: start, verify, monitor, restart, stop (see the module docstring).

    Example (a bot that reacts to what happens)::

        async with CloudRecordingClient(app_id, customer_id, secret) as client:
            async with RecordingSupervisor(client, query_interval=120.0) as sup:
                handle = await sup.add(cname="class-42", uid="1001", alternate_uid="1002", mode="mix",
                                       client_request=request)
                async for event in sup.events():
                    print(event.kind, event.cname, event.uid, event.sid, event.reason)

    Leaving the ``async with`` stops every recording (shielded from cancellation), unless :meth:`hand_off` handed
    them to the fleet's next :meth:`resume` (another process). Options (keyword-only):
    ``query_interval`` (seconds between monitoring queries of one recording; keep it under ``maxIdleTime``),
    ``monitor_concurrency`` (monitoring queries in flight at once), ``max_restarts``, ``restart_delays``,
    ``restart_reset_after``, ``failover_delays``, ``failover_window``, ``verify_timeout``, ``event_buffer``
    (default per-consumer buffer), ``fleet`` (a name, 1-64 of ``A-Z a-z 0-9 _ . -``: with a client that has a
    ``session_store``, every handle is kept in the store under this fleet, so that :meth:`resume` in another
    process takes the fleet over after a crash or a :meth:`hand_off`; supervisors with different fleets never
    touch each other's recordings). Invalid values raise :class:`InvalidRequestError`.
    """

    def __init__(
        self,
        client: CloudRecordingClient,
        *,
        query_interval: float = DEFAULT_QUERY_INTERVAL,
        monitor_concurrency: int = DEFAULT_MONITOR_CONCURRENCY,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        restart_delays: tuple[float, ...] = DEFAULT_RESTART_DELAYS,
        restart_reset_after: float = 600.0,
        failover_delays: tuple[float, ...] = DEFAULT_FAILOVER_DELAYS,
        failover_window: float = DEFAULT_FAILOVER_WINDOW,
        verify_timeout: float = 90.0,
        event_buffer: int = DEFAULT_EVENT_BUFFER,
        fleet: str | None = None,
    ) -> None:
        if not isinstance(client, CloudRecordingClient):
            raise InvalidRequestError("client", "must be a CloudRecordingClient")
        self._client = client
        self._fleet = (
            None
            if fleet is None
            else FleetRecords(
                check_fleet(fleet),
                registry=client.session_registry,
                app_id=client.app_id,
                alive=lambda handle: self._handles.get(id(handle)) is handle,
                taken=self._taken_over,
            )
        )
        self._interval = _number(query_interval, "query_interval", minimum=1.0)
        self._concurrency = _count(monitor_concurrency, "monitor_concurrency", minimum=1)
        self._max_restarts = _count(max_restarts, "max_restarts", minimum=0)
        self._restart_delays = _delays(restart_delays, "restart_delays")
        self._reset_after = _number(restart_reset_after, "restart_reset_after", minimum=0.0)
        self._failover_delays = _delays(failover_delays, "failover_delays")
        if any(d <= 0 for d in self._failover_delays):
            raise InvalidRequestError("failover_delays", "must be seconds > 0")
        self._failover_window = _number(failover_window, "failover_window", minimum=0.0)
        self._verify_timeout = _number(verify_timeout, "verify_timeout", minimum=0.0, strict=True)
        self._event_buffer = _count(event_buffer, "event_buffer", minimum=1)
        self._clock = client.clock
        self._sleep = client.sleep
        self._hub = EventHub()
        self._handles: dict[int, RecordingHandle] = {}  # id(handle) -> handle, in insertion order
        self._by_sid: dict[str, RecordingHandle] = {}
        self._by_uid: dict[tuple[str, str], RecordingHandle] = {}
        self._scheduler = Scheduler(
            clock=self._clock,
            sleep=self._sleep,
            concurrency=self._concurrency,
            check=self._query,
            eligible=lambda handle: handle._state in MONITORED,
        )
        self._phase = 0
        self._tg: TaskGroup | None = None
        self._monitor_scope: anyio.CancelScope | None = None
        self._running = False
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"RecordingSupervisor(recordings={len(self._handles)}, query_interval={self._interval:g}, "
            f"fleet={self.fleet!r}, "
            f"monitor_concurrency={self._concurrency}, running={self._running})"
        )

    # -- public surface ---------------------------------------------------------------------------------------------

    @property
    def handles(self) -> tuple[RecordingHandle, ...]:
        """Every handle added and not removed (backups included), in the order they were added."""
        return tuple(self._handles.values())

    @property
    def fleet(self) -> str | None:
        """The fleet name (``fleet=``), or ``None``: the handles are then not kept for a :meth:`resume`."""
        return None if self._fleet is None else self._fleet.fleet

    @property
    def query_interval(self) -> float:
        """Seconds between two monitoring queries of one recording."""
        return self._interval

    def events(self, *, buffer: int | None = None) -> EventStream:
        """A new :class:`EventStream` of every event from now on, holding at most ``buffer`` unread events.

        Several consumers may each open one; each gets every event. A consumer that falls behind loses the
        oldest buffered events (counted in :attr:`EventStream.dropped`); the supervisor never waits for it.
        """
        size = self._event_buffer if buffer is None else _count(buffer, "buffer", minimum=1)
        return self._hub.subscribe(size)

    async def add(
        self,
        *,
        cname: str,
        uid: str | int,
        mode: Mode | str,
        client_request: ClientRequest,
        alternate_uid: str | int | None = None,
        acquire_request: AcquireClientRequest | None = None,
        backup: bool = False,
        backup_uid: str | int | None = None,
        backup_alternate_uid: str | int | None = None,
        **session_options: Any,
    ) -> RecordingHandle:
        """Supervise a new recording of ``cname``; returns its :class:`RecordingHandle` at once.

        The start, its verification and every restart run in the background; follow them with
        :meth:`events` or :meth:`RecordingHandle.wait_recording`. ``alternate_uid`` is the uid each restart
        switches to (and back). ``backup=True`` also records the channel as ``backup_uid`` (alternating with
        ``backup_alternate_uid``) on a resource that excludes the primary's. ``session_options`` go to
        :meth:`CloudRecordingClient.session` (``start_deadline``, ``stop_deadline``, ``expiry_margin``, ...).

        Raises :class:`InvalidRequestError` for a bad argument or a uid already supervised in this channel, and
        :class:`SessionStateError` when the supervisor is not running. Warns :class:`SupervisorWarning` when
        ``query_interval`` is not under the recording's ``maxIdleTime``.
        """
        if not self._running:
            raise SessionStateError("the supervisor is not running: use 'async with RecordingSupervisor(...)'")
        if not isinstance(client_request, ClientRequest):
            raise InvalidRequestError("client_request", "must be a ClientRequest (restarts resend it)")
        for name in ("verify", "verify_timeout", "acquire_request"):
            if name in session_options:
                raise InvalidRequestError(name, "is set by the supervisor (use its verify_timeout option)")
        mode = check_mode(mode)
        primary_uids = self._uid_pair(cname, uid, alternate_uid, "uid", "alternate_uid")
        backup_uids: tuple[str, ...] = ()
        if backup:
            if backup_uid is None:
                raise InvalidRequestError("backup_uid", "is required with backup=True")
            backup_uids = self._uid_pair(cname, backup_uid, backup_alternate_uid, "backup_uid", "backup_alternate_uid")
            if set(backup_uids) & set(primary_uids):
                raise InvalidRequestError("backup_uid", "must differ from uid and alternate_uid")
        elif backup_uid is not None or backup_alternate_uid is not None:
            raise InvalidRequestError("backup_uid", "is only used with backup=True")
        # Validates cname, uid, mode and the request against the mode now, before anything is sent.
        self._client.session(
            cname=cname, uid=primary_uids[0], mode=mode, client_request=client_request, **session_options
        )
        self._check_idle(mode, client_request)
        options = dict(session_options)
        handle = RecordingHandle(
            cname=cname,
            uids=primary_uids,
            mode=mode,
            client_request=client_request,
            acquire_request=acquire_request,
            options=options,
        )
        self._register(handle)
        if backup:
            spare = RecordingHandle(
                cname=cname,
                uids=backup_uids,
                mode=mode,
                client_request=client_request,
                acquire_request=acquire_request,
                options=options,
                role="backup",
                primary=handle,
            )
            handle._backup = spare
            self._register(spare)
        if self._fleet is not None:
            self._fleet.add_unit(handle)
        self._spawn_job(handle, self._run_attempts, handle)
        await anyio.lowlevel.checkpoint()
        return handle

    async def remove(self, handle: RecordingHandle) -> None:
        """Stop supervising ``handle`` (and its backup): cancel any start in progress and stop the recording.

        The stop is shielded from cancellation. A "stopped" event follows (nothing for a handle already FAILED).
        Removing a handle twice does nothing. While Agora fails the task over (404s), the stop is retried by the
        session until the failover window ends, so ``remove()`` can take that long.
        """
        if self._handles.get(id(handle)) is not handle:
            return
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as tg:
                if handle._backup is not None:
                    tg.start_soon(self._stop_handle, handle._backup)
                await self._stop_handle(handle)

    def notify(
        self,
        kind: str,
        *,
        sid: str | None = None,
        cname: str | None = None,
        uid: str | None = None,
        exit_status: int | None = None,
        leave_code: int | None = None,
        new_uid: str | None = None,
        code: int | None = None,
        error_level: int | None = None,
    ) -> bool:
        """Feed a fast signal (a notification) about one recording; returns True if it changed anything.

        The recording is found by ``sid`` (or, without one, by ``cname`` + ``uid``); a signal about a recording
        that is no longer current (a duplicate, or one from before a restart) is ignored. What each ``kind``
        does is tabled in :mod:`agora_recording._supervisor_signals`: ``session_exit`` with exitStatus 1,
        ``recorder_leave`` meaning the recorder is gone and ``web_recorder_stopped`` with a code other than 0
        restart at once; ``session_failover`` (``new_uid``) makes 404s expected for ``failover_window``; the
        others query at once. Queries stay the source of truth: a missed notification only delays the same
        decision. An unknown ``kind`` raises :class:`InvalidRequestError`. Call it from the supervisor's event
        loop (for example from a webhook handler served in the same process and loop); it never blocks.
        """
        if kind not in SIGNALS:
            raise InvalidRequestError("kind", f"unknown signal kind {kind!r} (one of {', '.join(sorted(SIGNALS))})")
        handle = self._find(sid, cname, uid)
        session = handle._session if handle is not None else None
        if handle is None or session is None or (sid is not None and session.sid != sid):
            return False
        if sid is None and uid not in (session.uid, handle._agora_uid):
            return False  # found by the other uid of the pair: about an earlier recording
        action = decide(
            kind,
            uid=uid,
            recorder_uid=handle._agora_uid or session.uid,
            exit_status=exit_status,
            leave_code=leave_code,
            code=code,
            error_level=error_level,
        )
        monitored = handle._state in MONITORED
        if action.what == "restart":
            details = {"exit_status": exit_status, "leave_code": leave_code, "code": code}
            if monitored:
                self._ended(handle, action.reason, **{k: v for k, v in details.items() if v is not None})
                return True
            if handle._verify_scope is not None:  # still verifying this sid: stop waiting, restart
                handle._signal_reason = action.reason
                handle._verify_scope.cancel()
                return True
            return False
        if not monitored or action.what == "ignore":
            return False
        if action.what == "failover":
            handle._agora_uid = new_uid
            if not handle._failover_reported:
                handle._failover_reported = True
                self._emit("failover", handle, reason=action.reason, new_uid=new_uid)
            if handle._lost_since is None:
                handle._lost_since = self._clock()
                handle._lost_count = 0
            return True
        handle._exit_reported = handle._exit_reported or action.exit_reported
        self._scheduler.schedule(handle, self._clock())
        return True

    def notify_event(self, event: Any) -> bool:
        """Feed a parsed notification (e.g. from :mod:`agora_recording.webhooks`); see :meth:`notify`.

        ``event`` needs ``event_type``, ``cname``, ``uid``, ``sid`` and ``details``. Returns True if it changed
        anything; event types the supervisor does not use return False.
        """
        signal = signal_from_event(event)
        if signal is None:
            return False
        return self.notify(**signal)

    # -- context manager --------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RecordingSupervisor:
        if self._running or self._closed:
            raise SessionStateError("a RecordingSupervisor runs once")
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._running = True
        await tg.start(self._monitor)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        tg = self._tg
        assert tg is not None
        self._running = False
        try:
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as stops:
                    for handle in list(self._handles.values()):
                        stops.start_soon(self._stop_handle, handle)
        finally:
            if self._monitor_scope is not None:
                self._monitor_scope.cancel()
            self._closed = True
            result: bool | None = None
            try:
                if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                    result = await tg.__aexit__(exc_type, exc, tb)
                else:  # the body raised: its exception propagates as it is, not wrapped in a group
                    tg.cancel_scope.cancel()
                    await tg.__aexit__(None, None, None)
            finally:
                self._hub.close()
        return result

    # -- registration -----------------------------------------------------------------------------------------------

    def _uid_pair(self, cname: str, uid: Any, alternate: Any, name: str, alt_name: str) -> tuple[str, ...]:
        first = check_uid(uid)
        uids = (first,) if alternate is None else (first, check_uid(alternate))
        if len(set(uids)) != len(uids):
            raise InvalidRequestError(alt_name, f"must differ from {name}")
        for one in uids:
            if (cname, one) in self._by_uid:
                raise InvalidRequestError(name, f"uid {one} is already supervised in channel {cname!r}")
        return uids

    def _register(self, handle: RecordingHandle) -> None:
        self._handles[id(handle)] = handle
        for one in handle._uids:
            self._by_uid[(handle.cname, one)] = handle

    def _find(self, sid: str | None, cname: str | None, uid: str | None) -> RecordingHandle | None:
        if sid is not None:
            return self._by_sid.get(sid)
        if cname is not None and uid is not None:
            return self._by_uid.get((cname, uid))
        return None

    def _check_idle(self, mode: Mode, request: ClientRequest) -> None:
        if mode is Mode.WEB:
            return  # web page recording has no maxIdleTime
        config = request.recording_config
        idle = config.max_idle_time if config is not None and config.max_idle_time is not None else None
        limit = float(idle) if idle is not None else DEFAULT_MAX_IDLE_TIME
        if self._interval >= limit:
            warnings.warn(
                f"query_interval {self._interval:g} s is not under maxIdleTime {limit:g} s"
                f"{'' if idle is not None else ' (Agora default)'}: Agora advises querying more often than "
                "maxIdleTime (set recordingConfig.maxIdleTime, e.g. 300, or a shorter query_interval)",
                SupervisorWarning,
                stacklevel=3,
            )
