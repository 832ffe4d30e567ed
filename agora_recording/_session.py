"""RecordingSession: one recording's resourceId -> sid lifecycle, as an explicit state machine.

::

    NEW --acquire--> ACQUIRED --start--> STARTING --+--> RECORDING --stop--> STOPPING --> STOPPED
     |                  ^                           |        |  ^                 |
     +------start-------+ (acquires first)          |        |  +--(stop failed)--+
                                                    |        +-- query / update / update_layout
                                                    +--> FAILED   (Agora refused the start; no recording)
                                                    +--> UNKNOWN  (no answer, or code 7 after a lost answer:
                                                                   a recording may run whose sid we lack)

* The five-minute guard: a resourceId older than ``RESOURCE_ID_TTL - expiry_margin`` on the client's clock is
  replaced by a fresh acquire before start (counted in ``reacquired``); with ``reacquire=False`` start raises
  :class:`ResourceExpiredError` without sending. If Agora answers code 433 anyway, the session re-acquires once.
* ``start()`` runs shielded from cancellation (bounded by ``start_deadline``): a cancellation that arrives while
  the start is in flight lets it finish, then stops the recording and re-raises the cancellation.
* ``stop()`` is idempotent, shielded and bounded by ``stop_deadline``: code 49, or a 404 when the task is gone,
  means stopped (``StopResponse.already_stopped``).
* ``async with client.session(...) as rec:`` acquires and starts on entry and always stops on exit.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from agora_recording._client import SEND_OBSERVER
from agora_recording._errors import (
    AlreadyStartedError,
    AlreadyStoppedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    IncompleteRequestError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RecordingFailedError,
    ResourceExpiredError,
    ResponseFormatError,
    ServerError,
    SessionStateError,
)
from agora_recording._options import RESOURCE_ID_TTL
from agora_recording.models._enums import Mode, RecordingStatus, Scene
from agora_recording.models._requests import (
    AcquireClientRequest,
    ClientRequest,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording.models._responses import (
    AcquireResponse,
    QueryResponse,
    StartResponse,
    StopResponse,
    UpdateLayoutResponse,
    UpdateResponse,
)
from agora_recording.models._rules import check_mode, check_start_request
from agora_recording.models._validation import check_cname, check_uid

if TYPE_CHECKING:
    from agora_recording._client import CloudRecordingClient

__all__ = ["RecordingSession", "SessionState"]

logger = logging.getLogger("agora_recording")
T = TypeVar("T")

STATE_VERSION = 1
DEFAULT_EXPIRY_MARGIN = 30.0
DEFAULT_START_DEADLINE = 120.0
DEFAULT_STOP_DEADLINE = 180.0
DEFAULT_VERIFY_TIMEOUT = 90.0
_TRANSIENT_QUERY_ERRORS = (
    ServerError,
    IncompleteRequestError,
    RateLimitError,
    APIConnectionError,
    ResponseFormatError,
)


class _SendState:
    """Whether a request of the current start/stop may have left (reset after a clear refusal such as 433)."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


class _StaleAtSend(ResourceExpiredError):
    """Internal: the resourceId passed the guard while the start waited for its permit; nothing was sent."""

    def __init__(self) -> None:
        super().__init__("start: the resourceId expired while waiting to be sent")


def _refused(exc: BaseException) -> bool:
    """True when ``exc`` means Agora did not start a recording: a 4xx refusal (not 429), or a local error."""
    if isinstance(exc, (InvalidRequestError, ResourceExpiredError, SessionStateError)):
        return True
    if isinstance(exc, AlreadyStartedError):
        return False
    return isinstance(exc, APIStatusError) and 400 <= exc.status_code < 500 and exc.status_code != 429


class SessionState(str, Enum):
    """Where a :class:`RecordingSession` is in its lifecycle."""

    NEW = "new"
    ACQUIRED = "acquired"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    UNKNOWN = "unknown"


def _bounded(value: Any, name: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InvalidRequestError(name, f"must be a number >= {minimum}, got {value!r}")
    return float(value)


class RecordingSession:
    """One recording: acquire -> start -> (query / update / update_layout)* -> stop.

    Create it with :meth:`CloudRecordingClient.session` (or rebuild one with
    :meth:`CloudRecordingClient.resume_session`). Calls that make no sense in the current ``state`` raise
    :class:`SessionStateError` without sending anything.

    Example::

        async with client.session(cname="room1", uid="527841", mode="mix", client_request=request) as rec:
            await rec.wait_until_recording()
            ...  # the recording runs here
        print(rec.stop_response.files)
    """

    __slots__ = (
        "_acquire_request",
        "_acquired_at",
        "_client",
        "_client_request",
        "_cname",
        "_expiry_margin",
        "_last_query",
        "_mode",
        "_reacquire",
        "_reacquired",
        "_resource_id",
        "_sid",
        "_start_deadline",
        "_started_at",
        "_state",
        "_stop_deadline",
        "_stop_error",
        "_stop_lock",
        "_stop_response",
        "_uid",
        "_update_lock",
        "_use_start_parameter",
        "_verify_on_enter",
        "_verify_timeout",
    )

    def __init__(
        self,
        client: CloudRecordingClient,
        *,
        cname: str,
        uid: str | int,
        mode: Mode | str,
        client_request: ClientRequest | None = None,
        acquire_request: AcquireClientRequest | None = None,
        use_start_parameter: bool = False,
        reacquire: bool = True,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
        start_deadline: float = DEFAULT_START_DEADLINE,
        stop_deadline: float = DEFAULT_STOP_DEADLINE,
        verify: bool = False,
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
    ) -> None:
        self._client = client
        self._mode = check_mode(mode)
        self._cname = check_cname(cname, web=self._mode is Mode.WEB)
        self._uid = check_uid(uid)
        if client_request is not None:
            check_start_request(self._mode, client_request)
        if acquire_request is not None and not isinstance(acquire_request, AcquireClientRequest):
            raise InvalidRequestError("acquire_request", "must be an AcquireClientRequest")
        if use_start_parameter and client_request is None:
            raise InvalidRequestError("use_start_parameter", "needs client_request (the startParameter mirrors it)")
        self._client_request = client_request
        self._acquire_request = acquire_request
        self._use_start_parameter = bool(use_start_parameter)
        self._reacquire = bool(reacquire)
        self._expiry_margin = _bounded(expiry_margin, "expiry_margin")
        if self._expiry_margin >= RESOURCE_ID_TTL:
            raise InvalidRequestError("expiry_margin", f"must be below {RESOURCE_ID_TTL:.0f} seconds")
        self._start_deadline = _bounded(start_deadline, "start_deadline", minimum=1.0)
        self._stop_deadline = _bounded(stop_deadline, "stop_deadline", minimum=1.0)
        self._verify_on_enter = bool(verify)
        self._verify_timeout = _bounded(verify_timeout, "verify_timeout")
        self._state = SessionState.NEW
        self._resource_id: str | None = None
        self._sid: str | None = None
        self._acquired_at: float | None = None
        self._started_at: float | None = None
        self._last_query: QueryResponse | None = None
        self._stop_response: StopResponse | None = None
        self._stop_error: Exception | None = None
        self._reacquired = 0
        self._update_lock: anyio.Lock | None = None
        self._stop_lock: anyio.Lock | None = None

    def __repr__(self) -> str:
        return (
            f"RecordingSession(mode={self._mode.value!r}, cname={self._cname!r}, uid={self._uid!r}, "
            f"state={self._state.value!r}, resource_id={self._resource_id!r}, sid={self._sid!r})"
        )

    # -- properties -------------------------------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current :class:`SessionState`."""
        return self._state

    @property
    def mode(self) -> Mode:
        """The recording mode."""
        return self._mode

    @property
    def cname(self) -> str:
        """The channel name."""
        return self._cname

    @property
    def uid(self) -> str:
        """The recorder's UID."""
        return self._uid

    @property
    def resource_id(self) -> str | None:
        """The resourceId from acquire, or ``None`` before it."""
        return self._resource_id

    @property
    def sid(self) -> str | None:
        """The recording ID from start, or ``None`` before it (and when a start's answer was lost)."""
        return self._sid

    @property
    def last_query(self) -> QueryResponse | None:
        """The last :class:`QueryResponse` received."""
        return self._last_query

    @property
    def last_status(self) -> RecordingStatus | int | None:
        """The last known ``serverResponse.status``."""
        return self._last_query.status if self._last_query is not None else None

    @property
    def stop_response(self) -> StopResponse | None:
        """The :class:`StopResponse` once stopped."""
        return self._stop_response

    @property
    def stop_error(self) -> Exception | None:
        """Why the last automatic stop (on an exception or cancellation) failed; ``None`` if it did not fail."""
        return self._stop_error

    @property
    def reacquired(self) -> int:
        """How many times the session replaced its resourceId (five-minute guard or code 433)."""
        return self._reacquired

    @property
    def resource_age(self) -> float | None:
        """Seconds since acquire was sent, on the client's clock."""
        return None if self._acquired_at is None else self._client.clock() - self._acquired_at

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def _ids(self) -> tuple[str, str]:
        if self._resource_id is None or self._sid is None:
            raise SessionStateError(f"no resourceId and sid in state {self._state.value!r}")
        return self._resource_id, self._sid

    def _require(self, action: str, *allowed: SessionState) -> None:
        if self._state not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise SessionStateError(f"cannot {action} in state {self._state.value!r} (allowed: {names})")

    def _acquire_body(self) -> AcquireClientRequest:
        base = self._acquire_request or AcquireClientRequest()
        changes: dict[str, Any] = {}
        if self._mode is Mode.WEB and base.scene is None:
            changes["scene"] = Scene.WEB
        if self._use_start_parameter and base.start_parameter is None:
            changes["start_parameter"] = self._client_request
        if not changes:
            return base
        return AcquireClientRequest(
            resource_expired_hour=base.resource_expired_hour,
            scene=changes.get("scene", base.scene),
            region=base.region,
            exclude_resource_ids=base.exclude_resource_ids,
            start_parameter=changes.get("start_parameter", base.start_parameter),
        )

    async def acquire(self) -> AcquireResponse:
        """Get a resourceId. Allowed in state NEW or ACQUIRED (replaces the current one)."""
        self._require("acquire", SessionState.NEW, SessionState.ACQUIRED)
        response = await self._acquire()
        if self._state is SessionState.NEW:
            self._state = SessionState.ACQUIRED
        return response

    async def _acquire(self) -> AcquireResponse:
        sent_at: list[float] = []

        def on_send() -> None:  # the resourceId's age counts from the send, not from any wait for a permit
            sent_at.append(self._client.clock())

        token = SEND_OBSERVER.set(on_send)
        try:
            response = await self._client.acquire(
                cname=self._cname, uid=self._uid, client_request=self._acquire_body(), web=self._mode is Mode.WEB
            )
        finally:
            SEND_OBSERVER.reset(token)
        self._resource_id = response.resource_id
        self._acquired_at = sent_at[-1] if sent_at else self._client.clock()
        return response

    async def _refresh_resource(self, why: str) -> None:
        self._reacquired += 1
        logger.info("agora session re-acquiring resource reason=%s mode=%s", why, self._mode.value)
        await self._acquire()

    async def start(self, client_request: ClientRequest | None = None) -> StartResponse:
        """Start the recording (acquiring first in state NEW). Returns the :class:`StartResponse` with the sid.

        The five-minute guard is checked when the start is about to be sent (after any wait for the rate limiter):
        a resourceId older than five minutes minus ``expiry_margin`` is replaced first (or, with
        ``reacquire=False``, :class:`ResourceExpiredError` is raised without sending). Once sent, the start is
        shielded from cancellation and bounded by ``start_deadline``; if the task was cancelled meanwhile, the new
        recording is stopped and the cancellation re-raised. A start cancelled before it was sent leaves the
        session as it was (``acquired``). Concurrent calls: the first one starts, the others raise
        :class:`SessionStateError`.
        """
        self._require("start", SessionState.NEW, SessionState.ACQUIRED)
        if client_request is not None:
            check_start_request(self._mode, client_request)
        request = client_request if client_request is not None else self._client_request
        if request is None:
            raise InvalidRequestError("client_request", "start needs a ClientRequest (give it here or to session())")
        self._client_request = request
        self._state = SessionState.STARTING  # taken before the first await: a concurrent start() is refused
        sent = _SendState()
        try:
            if self._resource_id is None:
                await self._acquire()
            response = await self._start_with_guard(request, sent)
        except BaseException as exc:
            # Nothing sent: back to ACQUIRED (or NEW). FAILED only when Agora clearly refused the start; anything
            # else (a lost or unreadable answer, 5xx, code 7, a native cancellation) may hide a running recording.
            if not sent.sent:
                self._state = SessionState.ACQUIRED if self._resource_id is not None else SessionState.NEW
            else:
                self._state = SessionState.FAILED if _refused(exc) else SessionState.UNKNOWN
            raise
        self._sid = response.sid
        self._started_at = self._client.clock()
        self._state = SessionState.RECORDING
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class() as exc:
            await self._stop_shielded(exc)
            raise
        return response

    async def _guarded(
        self,
        seconds: float,
        work: Callable[[], Awaitable[T]],
        *,
        sent: _SendState,
        shield: bool,
        before_send: Callable[[], None] | None = None,
        queue_limit: float | None = None,
    ) -> T | None:
        """Run ``work()``; from its first send on, shield it from cancellation and bound it by ``seconds``.

        Before the first send the work can be cancelled if ``shield`` is False (nothing to clean up yet), and
        ``before_send`` may refuse the send by raising. The deadline starts at the first send: time queued behind
        the rate limiter does not count, so a request that never left is never reported as "may have started";
        ``queue_limit`` (real clock only) bounds the wait before the send. Returns ``None`` when a deadline cut the
        work short. On the real clock the deadline is the cancel scope's own; with an injected clock a watchdog,
        started at the send inside the shield, sleeps through the client's ``sleep``.
        """
        real_clock = self._client.sleep is anyio.sleep
        result: list[T] = []
        error: BaseException | None = None
        armed = False
        group: list[TaskGroup] = []  # the watchdog's task group, injected clocks only
        with anyio.CancelScope(shield=shield) as scope:
            if queue_limit is not None and real_clock:
                scope.deadline = anyio.current_time() + queue_limit

            async def watchdog() -> None:
                try:
                    await self._client.sleep(seconds)
                except Exception:  # an injected sleep that fails: fall back to the scope's own deadline
                    scope.deadline = anyio.current_time() + seconds
                    return
                scope.cancel()

            def on_send() -> None:
                nonlocal armed
                if before_send is not None:
                    before_send()
                sent.sent = True
                if armed:
                    return
                armed = True
                scope.shield = True
                if real_clock:
                    scope.deadline = anyio.current_time() + seconds
                else:
                    group[0].start_soon(watchdog)

            token = SEND_OBSERVER.set(on_send)
            try:
                if real_clock:  # the scope's own deadline: no task group, no extra task per call
                    result.append(await work())
                else:
                    async with anyio.create_task_group() as tg:
                        group.append(tg)
                        try:
                            result.append(await work())
                        except anyio.get_cancelled_exc_class():
                            raise
                        except BaseException as exc:  # re-raised below, outside the task group (no exception group)
                            error = exc
                        finally:
                            tg.cancel_scope.cancel()
            finally:
                SEND_OBSERVER.reset(token)
        if error is not None:
            raise error
        return result[0] if result else None

    def _stale(self) -> bool:
        age = self.resource_age
        return age is not None and age > RESOURCE_ID_TTL - self._expiry_margin

    async def _start_with_guard(self, request: ClientRequest, sent: _SendState) -> StartResponse:
        """Send start; replace a stale resourceId first (checked right before each send) and once after a 433."""
        for _ in range(3):  # a fresh resourceId, then at most two replacements
            if self._stale():
                if not self._reacquire:
                    raise ResourceExpiredError(
                        f"start: the resourceId is {self.resource_age:.0f} s old (valid {RESOURCE_ID_TTL:.0f} s, "
                        f"margin {self._expiry_margin:.0f} s); not sent because reacquire=False",
                        resource_id=self._resource_id,
                    )
                await self._refresh_resource("resource id near expiry")
            resource_id = self._resource_id
            assert resource_id is not None
            try:
                response: StartResponse | None = await self._guarded(
                    self._start_deadline,
                    functools.partial(
                        self._client.start,
                        resource_id=resource_id,
                        mode=self._mode,
                        cname=self._cname,
                        uid=self._uid,
                        client_request=request,
                    ),
                    sent=sent,
                    shield=False,
                    before_send=self._check_fresh,
                )
            except _StaleAtSend:
                continue  # queued past the guard: replace the resourceId and try again (nothing was sent)
            except ResourceExpiredError:
                if not self._reacquire or self._reacquired >= 2:
                    raise
                # Agora refused with 433: no recording started. A new resourceId, and a new send.
                sent.sent = False
                await self._refresh_resource("agora code 433")
                continue
            if response is None:
                raise APITimeoutError(
                    f"no answer within start_deadline={self._start_deadline:.0f} s; the recording may have started",
                    endpoint="start",
                )
            return response
        raise ResourceExpiredError("start: the resourceId kept expiring before it could be sent", resource_id=None)

    def _check_fresh(self) -> None:
        """Called right before start is sent: refuse to send a resourceId past the guard."""
        if self._stale():
            raise _StaleAtSend()

    async def query(self) -> QueryResponse:
        """Query the recording (state RECORDING or STOPPING). Updates ``last_status``."""
        self._require("query", SessionState.RECORDING, SessionState.STOPPING)
        resource_id, sid = self._ids()
        response = await self._client.query(resource_id=resource_id, sid=sid, mode=self._mode)
        self._last_query = response
        return response

    async def update(self, client_request: UpdateClientRequest) -> UpdateResponse:
        """Update subscriptions, pause/resume (web), the CDN address or storage credentials. Calls are serialised."""
        return await self._serialised("update", self._client.update, client_request)

    async def update_layout(self, client_request: UpdateLayoutClientRequest) -> UpdateLayoutResponse:
        """Replace the mixed layout (mix mode only). Serialised with :meth:`update`."""
        if self._mode is not Mode.MIX:
            raise InvalidRequestError("mode", f"updateLayout is supported only in mix mode, not {self._mode.value}")
        return await self._serialised("update the layout", self._client.update_layout, client_request)

    async def _serialised(self, action: str, call: Callable[..., Awaitable[T]], client_request: Any) -> T:
        """One update at a time per session: Agora asks to wait for each answer before the next update."""
        self._require(action, SessionState.RECORDING)
        if self._update_lock is None:
            self._update_lock = anyio.Lock()
        async with self._update_lock:
            self._require(action, SessionState.RECORDING)
            resource_id, sid = self._ids()
            return await call(
                resource_id=resource_id,
                sid=sid,
                mode=self._mode,
                cname=self._cname,
                uid=self._uid,
                client_request=client_request,
            )

    async def stop(self, *, async_stop: bool = False) -> StopResponse:
        """Stop the recording; idempotent, and concurrent calls share one stop.

        Once the stop request is sent it is shielded from cancellation and bounded by ``stop_deadline``; the wait
        for a rate-limit permit before it is bounded by ``stop_deadline`` too (on the real clock). Code 49 (already
        stopping) or a 404 that outlasts Agora's failover window mean stopped: the result has
        ``already_stopped=True``. Nothing was recorded (code 435): ``no_recorded_data=True``.
        """
        if self._state is SessionState.STOPPED and self._stop_response is not None:
            return self._stop_response
        self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
        if self._stop_lock is None:
            self._stop_lock = anyio.Lock()
        async with self._stop_lock:
            if self._state is SessionState.STOPPED and self._stop_response is not None:
                return self._stop_response
            self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
            sent = _SendState()
            response = await self._guarded(
                self._stop_deadline,
                functools.partial(self._stop, async_stop=async_stop),
                sent=sent,
                shield=False,
                queue_limit=self._stop_deadline,
            )
            if response is None:
                if self._state is SessionState.STOPPING:
                    self._state = SessionState.RECORDING
                what = "no answer" if sent.sent else "the stop could not be sent"
                raise APITimeoutError(
                    f"{what} within stop_deadline={self._stop_deadline:.0f} s; the recording may still run",
                    endpoint="stop",
                )
            return response

    async def _stop(self, *, async_stop: bool) -> StopResponse:
        resource_id, sid = self._ids()
        self._state = SessionState.STOPPING
        try:
            response = await self._client.stop(
                resource_id=resource_id,
                sid=sid,
                mode=self._mode,
                cname=self._cname,
                uid=self._uid,
                async_stop=async_stop,
            )
        except AlreadyStoppedError:
            response = StopResponse(resource_id=self._resource_id, sid=self._sid, already_stopped=True)
        except NotFoundError as exc:
            if not exc.worker_not_found:
                self._state = SessionState.RECORDING
                raise
            response = StopResponse(resource_id=self._resource_id, sid=self._sid, already_stopped=True)
        except BaseException:
            if self._state is SessionState.STOPPING:
                self._state = SessionState.RECORDING  # still believed running: stop() may be called again
            raise
        self._stop_response = response
        self._state = SessionState.STOPPED
        logger.info(
            "agora session stopped mode=%s already_stopped=%s no_recorded_data=%s",
            self._mode.value,
            response.already_stopped,
            response.no_recorded_data,
        )
        return response

    async def _stop_shielded(self, original: BaseException | None = None) -> None:
        """Stop after a failure or cancellation; never raises (the original error matters more).

        If the stop fails, ``stop_error`` keeps why, and the original exception gets a note saying the recording
        may still run, so the caller who sees only the original error still learns it.
        """
        if self._state not in (SessionState.RECORDING, SessionState.STOPPING):
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.stop()
            except Exception as exc:  # recorded; the caller re-raises the original error
                self._stop_error = exc
                if original is not None and hasattr(original, "add_note"):
                    original.add_note(
                        f"agora-recording: stopping the recording (sid {self._sid}) also failed: {exc}; "
                        "it may still be running (see RecordingSession.stop_error)"
                    )
                logger.warning(
                    "agora session cleanup stop failed mode=%s error=%s status=%s code=%s",
                    self._mode.value,
                    type(exc).__name__,
                    getattr(exc, "status_code", None),
                    getattr(exc, "code", None),
                )

    async def wait_until_recording(
        self,
        timeout: float = DEFAULT_VERIFY_TIMEOUT,
        *,
        first_delay: float = 5.0,
        delays: tuple[float, ...] = (5.0, 10.0, 15.0),
    ) -> QueryResponse:
        """Confirm the start as Agora recommends: query from ``first_delay`` s after start, backing off by
        ``delays``, until status 4 or 5. A 404, 5xx or lost answer meanwhile is treated as transient (Agora's
        failover takes up to 90 s). Raises :class:`RecordingFailedError` on status 20, on a status past 5 (the
        recording exited), or when ``timeout`` seconds after start pass without status 4 or 5.
        """
        self._require("verify", SessionState.RECORDING)
        timeout = _bounded(timeout, "timeout")
        if not delays or any(_bounded(d, "delays") <= 0 for d in delays):
            raise InvalidRequestError("delays", "must be a non-empty tuple of positive seconds")
        first_delay = _bounded(first_delay, "first_delay")
        resource_id, sid = self._ids()
        clock, sleep = self._client.clock, self._client.sleep
        started_at = self._started_at if self._started_at is not None else clock()
        deadline = started_at + timeout
        wake = started_at + first_delay
        index = 0
        last_error: BaseException | None = None
        while True:
            now = clock()
            if wake > now:
                await sleep(min(wake, deadline) - now)
            if clock() > deadline and index > 0:
                break
            try:
                response = await self._client.query(resource_id=resource_id, sid=sid, mode=self._mode, retries=0)
            except NotFoundError as exc:
                if not exc.worker_not_found:
                    raise
                last_error = exc
            except _TRANSIENT_QUERY_ERRORS as exc:
                last_error = exc
            else:
                self._last_query = response
                status = response.status
                if status in (RecordingStatus.READY, RecordingStatus.IN_PROGRESS):
                    return response
                if status == RecordingStatus.EXITED_ABNORMALLY:
                    raise RecordingFailedError("the recording exited abnormally (status 20)", status=20)
                if isinstance(status, int) and RecordingStatus.IN_PROGRESS < status < RecordingStatus.EXITED_ABNORMALLY:
                    raise RecordingFailedError(f"the recording is exiting (status {status})", status=status)
            if clock() >= deadline:
                break
            wake = clock() + delays[min(index, len(delays) - 1)]
            index += 1
        detail = f"; last error: {type(last_error).__name__}" if last_error is not None else ""
        raise RecordingFailedError(
            f"the recording did not reach status 4 or 5 within {timeout:.0f} s "
            f"(last status {self.last_status}){detail}",
            status=int(self.last_status) if self.last_status is not None else None,
        )

    # -- context manager --------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RecordingSession:
        try:
            await self.start()
            if self._verify_on_enter:
                await self.wait_until_recording(self._verify_timeout)
        except BaseException as exc:
            await self._stop_shielded(exc)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            await self._stop_shielded(exc)
            return
        if self._state in (SessionState.RECORDING, SessionState.STOPPING):
            # Shielded as a whole: a cancellation that arrives while the stop waits for its permit must not skip
            # it. Its errors still propagate (the body succeeded, so the stop's outcome is the news).
            with anyio.CancelScope(shield=True):
                await self.stop()

    # -- hand-off ---------------------------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot (no secrets: no token, no storage keys) for another process or worker.

        Rebuild it with :meth:`CloudRecordingClient.resume_session`. The clientRequest is not included (it holds
        storage keys); pass it to ``resume_session`` if the resumed session has yet to start.
        """
        acquired_unix = None
        if self._acquired_at is not None:
            acquired_unix = time.time() - (self._client.clock() - self._acquired_at)
        return {
            "version": STATE_VERSION,
            "app_id": self._client.app_id,
            "mode": self._mode.value,
            "cname": self._cname,
            "uid": self._uid,
            "state": self._state.value,
            "resource_id": self._resource_id,
            "sid": self._sid,
            "acquired_at_unix": acquired_unix,
            "last_status": int(self.last_status) if self.last_status is not None else None,
        }

    @classmethod
    def from_state(
        cls,
        client: CloudRecordingClient,
        state: Mapping[str, Any],
        *,
        client_request: ClientRequest | None = None,
        **options: Any,
    ) -> RecordingSession:
        """Rebuild a session from :meth:`to_state` (use :meth:`CloudRecordingClient.resume_session`)."""
        if not isinstance(state, Mapping):
            raise InvalidRequestError("state", "must be the mapping returned by RecordingSession.to_state()")
        if state.get("version") != STATE_VERSION:
            raise InvalidRequestError("state.version", f"must be {STATE_VERSION}, got {state.get('version')!r}")
        if state.get("app_id") != client.app_id:
            raise InvalidRequestError("state.app_id", "belongs to another App ID than this client's")
        try:
            session_state = SessionState(state.get("state"))
        except ValueError:
            raise InvalidRequestError("state.state", f"unknown session state {state.get('state')!r}") from None
        session = cls(
            client,
            cname=state.get("cname"),  # type: ignore[arg-type]  # checked by the constructor
            uid=state.get("uid"),  # type: ignore[arg-type]
            mode=state.get("mode"),  # type: ignore[arg-type]
            client_request=client_request,
            **options,
        )
        resource_id, sid = state.get("resource_id"), state.get("sid")
        needs = {
            SessionState.ACQUIRED: ("resource_id",),
            SessionState.RECORDING: ("resource_id", "sid"),
            SessionState.STOPPING: ("resource_id", "sid"),
        }.get(session_state, ())
        for key in needs:
            if not isinstance(state.get(key), str) or not state.get(key):
                raise InvalidRequestError(f"state.{key}", f"is required in state {session_state.value!r}")
        if session_state in (SessionState.STARTING,):
            session_state = SessionState.UNKNOWN  # the other worker died mid-start: the outcome is unknown
        session._state = session_state
        session._resource_id = resource_id if isinstance(resource_id, str) else None
        session._sid = sid if isinstance(sid, str) else None
        acquired_unix = state.get("acquired_at_unix")
        if isinstance(acquired_unix, (int, float)) and not isinstance(acquired_unix, bool):
            session._acquired_at = client.clock() - max(0.0, time.time() - acquired_unix)
        if session_state is SessionState.RECORDING:
            session._started_at = client.clock()
        return session
