"""RecordingSession: one recording's resourceId -> sid lifecycle, as an explicit state machine.

The states and their diagram are in :mod:`agora_recording._session_state`; the pieces this module composes live
beside it, one concept each:

* ``_session_host``: :class:`SessionHost`, the narrow seam to the client (the session never imports the client);
* ``_session_keeper``: the client's custody of starts and stops (they run in the client's own tasks) and of the
  sessions it started (drained when it closes);
* ``_session_resource``: acquire, the five-minute guard and sending start with a fresh resourceId;
* ``_session_guard``: deadlines and shields for the exchanges that can start or stop a recording;
* ``_session_verify``: polling until Agora reports the recording as recording;
* ``_session_snapshot``: the hand-off format of :meth:`RecordingSession.to_state` / ``from_state``.

Rules this module keeps:

* ``start()`` and ``stop()`` run as keeper exchanges: whatever cancels the caller, a start once sent finishes
  (bounded by ``start_deadline``) and a recording whose starter went away is stopped; a stop always finishes.
* ``stop()`` is idempotent and bounded by ``stop_deadline``: code 49, or a 404 when the task is gone, means
  stopped (``StopResponse.already_stopped``); ``stop()`` during an in-flight start waits for it first.
* ``async with client.session(...) as rec:`` acquires and starts on entry and always stops on exit.
* Every path that leaves a recording running after its owner stopped caring logs a WARNING.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

from agora_recording._errors import (
    AlreadyStartedError,
    AlreadyStoppedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    NotFoundError,
    ResourceExpiredError,
    SessionStateError,
)
from agora_recording._options import RESOURCE_ID_TTL
from agora_recording._session_guard import SendState, check_seconds, guarded, within
from agora_recording._session_host import SessionHost, TimeoutArg
from agora_recording._session_keeper import Exchange
from agora_recording._session_resource import ResourceSide
from agora_recording._session_snapshot import HandOff, SessionSnapshot, decode
from agora_recording._session_state import SessionState
from agora_recording._session_verify import DEFAULT_VERIFY_TIMEOUT, check_delays, poll_until_recording
from agora_recording.models._enums import Mode, RecordingStatus
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

__all__ = [
    "DEFAULT_EXPIRY_MARGIN",
    "DEFAULT_START_DEADLINE",
    "DEFAULT_STOP_DEADLINE",
    "DEFAULT_VERIFY_TIMEOUT",
    "RecordingSession",
    "SessionState",
]

logger = logging.getLogger("agora_recording")
T = TypeVar("T")

DEFAULT_EXPIRY_MARGIN = 30.0
"""Seconds before the resourceId's five minutes end at which the guard replaces it."""
DEFAULT_START_DEADLINE = 120.0
"""Seconds a sent start may take (retries included) before its outcome is reported unknown."""
DEFAULT_STOP_DEADLINE = 180.0
"""Seconds a stop may take, counted from its first send (and, on the real clock, bounding its queueing)."""


def _refused(exc: BaseException) -> bool:
    """True when ``exc`` means Agora did not start a recording: a 4xx refusal (not 429), or a local error."""
    if isinstance(exc, (InvalidRequestError, ResourceExpiredError, SessionStateError)):
        return True
    if isinstance(exc, AlreadyStartedError):
        return False
    if isinstance(exc, NotFoundError) and exc.worker_not_found:
        return False  # "failed to find worker": Agora may have acted before its worker went away
    return isinstance(exc, APIStatusError) and 400 <= exc.status_code < 500 and exc.status_code != 429


_LIVE = (SessionState.RECORDING, SessionState.STOPPING)


class RecordingSession(ResourceSide, HandOff):
    """One recording: acquire -> start -> (query / update / update_layout)* -> stop.

    Create it with :meth:`CloudRecordingClient.session` (or rebuild one with
    :meth:`CloudRecordingClient.resume_session`). Calls that make no sense in the current ``state`` raise
    :class:`SessionStateError` without sending anything.

    Example::

        async with client.session(cname="room1", uid="527841", mode="mix", client_request=request) as rec:
            await rec.wait_until_recording()
            ...  # the recording runs here
        assert rec.stop_response is not None  # stopped on exit
        print(rec.stop_response.files)
    """

    __slots__ = (
        "_acquire_request",
        "_client",
        "_client_request",
        "_cname",
        "_expiry_margin",
        "_key",
        "_last_query",
        "_mode",
        "_pending",
        "_reacquire",
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
        "_verifying",
    )

    def __init__(
        self,
        client: SessionHost,
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
        self._expiry_margin = check_seconds(expiry_margin, "expiry_margin")
        if self._expiry_margin >= RESOURCE_ID_TTL:
            raise InvalidRequestError("expiry_margin", f"must be below {RESOURCE_ID_TTL:.0f} seconds")
        self._start_deadline = check_seconds(start_deadline, "start_deadline", minimum=1.0)
        self._stop_deadline = check_seconds(stop_deadline, "stop_deadline", minimum=1.0)
        self._verify_on_enter = bool(verify)
        self._verify_timeout = check_seconds(verify_timeout, "verify_timeout")
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
        self._pending: Exchange[StartResponse] | None = None  # the start exchange, for a stop() that waits for it
        self._verifying: list[anyio.CancelScope] | None = None  # wait_until_recording() calls to end on stop

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

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def _ids(self) -> tuple[str, str]:
        if self._resource_id is None or self._sid is None:
            raise SessionStateError(f"no resourceId and sid in state {self._state.value!r}")
        return self._resource_id, self._sid

    def _require(self, action: str, *allowed: SessionState) -> None:
        if self._state not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise SessionStateError(f"cannot {action} in state {self._state.value!r} (allowed: {names})")

    async def acquire(self) -> AcquireResponse:
        """Get a resourceId. Allowed in state NEW or ACQUIRED (replaces the current one)."""
        self._require("acquire", SessionState.NEW, SessionState.ACQUIRED)
        response = await self._acquire()
        if self._state is SessionState.NEW:
            self._state = SessionState.ACQUIRED
        return response

    async def start(self, client_request: ClientRequest | None = None) -> StartResponse:
        """Start the recording (acquiring first in state NEW). Returns the :class:`StartResponse` with the sid.

        The five-minute guard is checked when the start is about to be sent (after any wait for the rate limiter):
        a resourceId older than five minutes minus ``expiry_margin`` is replaced first (or, with
        ``reacquire=False``, :class:`ResourceExpiredError` is raised without sending). The start runs in the
        client's own task (see :meth:`CloudRecordingClient.__aenter__`); once sent it is bounded by
        ``start_deadline``. A caller cancelled through anyio or trio after the send waits for the answer, the new
        recording is stopped and the cancellation re-raised; a caller cancelled natively (``task.cancel()``,
        ``asyncio.timeout``, ...) stops waiting at once and the client stops the recording when the answer comes
        (a WARNING says so). A start cancelled before it was sent leaves the session as it was (``acquired``).
        Concurrent calls: the first one starts, the others raise :class:`SessionStateError`.
        """
        self._require("start", SessionState.NEW, SessionState.ACQUIRED)
        if client_request is not None:
            check_start_request(self._mode, client_request)
        request = client_request if client_request is not None else self._client_request
        if request is None:
            raise InvalidRequestError("client_request", "start needs a ClientRequest (give it here or to session())")
        keeper = self._client.keeper
        if keeper.closing:
            raise APIConnectionError("the client is closing: no new start is sent", endpoint="start")
        self._client_request = request
        self._state = SessionState.STARTING  # taken before the first await: a concurrent start() is refused
        keeper.own(self)
        try:
            if self._resource_id is None:
                await self._acquire()
            if keeper.closing:  # began while acquiring; checked with no await before run() takes the start
                raise APIConnectionError("the client is closing: no new start is sent", endpoint="start")
        except BaseException:
            self._state = SessionState.ACQUIRED if self._resource_id is not None else SessionState.NEW
            keeper.release(self)
            raise
        response = await keeper.run(
            functools.partial(self._start_work, request),
            what="start",
            handler=self._start_abandoned,
            created=self._set_pending,
        )
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()
        except anyio.get_cancelled_exc_class() as exc:
            await self._stop_shielded(exc)
            raise
        return response

    def _set_pending(self, exchange: Exchange[StartResponse]) -> None:
        self._pending = exchange

    async def _start_work(self, request: ClientRequest) -> StartResponse:
        """The start exchange, run by the client's keeper: every state change of a start happens here."""
        sent = SendState()
        await self._store_write()  # the store's record (state starting) exists before the start is sent
        try:
            response = await self._start_with_guard(request, sent)
        except BaseException as exc:
            # Nothing sent: back to ACQUIRED (or NEW). FAILED only when Agora clearly refused the start; anything
            # else (a lost or unreadable answer, 5xx, code 7, a worker 404, a cancellation) may hide a recording.
            if not sent.sent:
                self._state = SessionState.ACQUIRED if self._resource_id is not None else SessionState.NEW
            else:
                self._state = SessionState.FAILED if _refused(exc) else SessionState.UNKNOWN
            if self._state is not SessionState.UNKNOWN:
                self._client.keeper.release(self)
            self._store_mark()
            raise
        self._sid = response.sid
        self._started_at = self._client.clock()
        self._state = SessionState.RECORDING
        await self._store_write()
        return response

    async def _start_abandoned(self, exchange: Exchange[StartResponse]) -> None:
        """The start's caller went away before taking its answer: stop what it started, or say what may run."""
        if self._state in _LIVE:
            try:
                await self._stop_locked(async_stop=False)
            except Exception as exc:  # logged; nobody is left to raise it to
                self._stop_error = exc
                self._warn("could not stop a recording whose starter went away", exc)
            else:
                if not exchange.waited:
                    self._warn("stopped a recording whose starter went away before the answer")
        elif self._state is SessionState.UNKNOWN:
            self._warn("the start's caller went away and its outcome is unknown; a recording may run", exchange.error)

    def _warn(self, what: str, exc: BaseException | None = None) -> None:
        logger.warning(
            "agora session %s cname=%s uid=%s sid=%s resource_id=%s error=%s status=%s code=%s",
            what,
            self._cname,
            self._uid,
            self._sid,
            self._resource_id,
            type(exc).__name__ if exc is not None else None,
            getattr(exc, "status_code", None),
            getattr(exc, "code", None),
        )

    async def query(self, *, timeout: TimeoutArg = None, retries: int | None = None) -> QueryResponse:
        """Query the recording (state RECORDING or STOPPING). Updates ``last_status``.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        self._require("query", SessionState.RECORDING, SessionState.STOPPING)
        resource_id, sid = self._ids()
        response = await self._client.query(
            resource_id=resource_id, sid=sid, mode=self._mode, timeout=timeout, retries=retries
        )
        self._last_query = response
        return response

    async def update(
        self, client_request: UpdateClientRequest, *, timeout: TimeoutArg = None, retries: int | None = None
    ) -> UpdateResponse:
        """Update subscriptions, pause/resume (web), the CDN address or storage credentials. Calls are serialised.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        return await self._serialised("update", self._client.update, client_request, timeout, retries)

    async def update_layout(
        self, client_request: UpdateLayoutClientRequest, *, timeout: TimeoutArg = None, retries: int | None = None
    ) -> UpdateLayoutResponse:
        """Replace the mixed layout (mix mode only). Serialised with :meth:`update`.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        if self._mode is not Mode.MIX:
            raise InvalidRequestError("mode", f"updateLayout is supported only in mix mode, not {self._mode.value}")
        return await self._serialised("update the layout", self._client.update_layout, client_request, timeout, retries)

    async def _serialised(
        self,
        action: str,
        call: Callable[..., Awaitable[T]],
        client_request: Any,
        timeout: TimeoutArg,
        retries: int | None,
    ) -> T:
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
                timeout=timeout,
                retries=retries,
            )

    async def stop(
        self, *, async_stop: bool = False, timeout: TimeoutArg = None, retries: int | None = None
    ) -> StopResponse:
        """Stop the recording; idempotent, and concurrent calls share one stop.

        The stop runs in the client's own task: a caller cancelled by any means stops waiting (under anyio or trio
        only before the stop was sent) and the stop goes on. A stop called while the start is in flight waits for
        it, then stops. Once sent, the stop is bounded by ``stop_deadline``, and it retries 429s, 5xx and lost
        answers until that deadline; the wait for a rate-limit permit before it is bounded by ``stop_deadline``
        too (on the real clock). Code 49 (already stopping) or a 404 that outlasts Agora's failover window mean
        stopped: the result has ``already_stopped=True``. Nothing was recorded (code 435):
        ``no_recorded_data=True``. ``timeout`` (per attempt) and ``retries`` override the client's.
        """
        if self._state is SessionState.STOPPED and self._stop_response is not None:
            return self._stop_response
        pending = self._pending
        if self._state is SessionState.STARTING and pending is not None:
            await pending.wait_settled()  # the start first: then there is a sid to stop (or nothing to stop)
            if self._stop_response is not None:  # its starter went away and the client stopped it already
                return self._stop_response
        self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
        return await self._client.keeper.run(
            functools.partial(self._stop_locked, async_stop=async_stop, timeout=timeout, retries=retries),
            what="stop",
            handler=self._stop_abandoned,
            cancel_unsent=False,
        )

    async def _stop_abandoned(self, exchange: Exchange[StopResponse]) -> None:
        if exchange.error is not None:
            self._stop_error = exchange.error
            self._warn("stop failed after its caller went away; the recording may still run", exchange.error)

    async def _stop_locked(
        self, *, async_stop: bool, timeout: TimeoutArg = None, retries: int | None = None
    ) -> StopResponse:
        """The stop exchange (one at a time per session), bounded by ``stop_deadline`` from its first send."""
        if self._stop_lock is None:
            self._stop_lock = anyio.Lock()
        async with self._stop_lock:
            if self._state is SessionState.STOPPED and self._stop_response is not None:
                return self._stop_response
            self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
            sent = SendState()
            response = await guarded(
                self._client.sleep,
                self._stop_deadline,
                functools.partial(self._stop, async_stop=async_stop, timeout=timeout, retries=retries),
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

    async def _stop_for_owner(self) -> None:
        """The client's drain: stop, bounded by ``stop_deadline`` as a whole (queueing included); raise on failure."""
        if self._state not in _LIVE:
            return
        response = await within(
            self._client.sleep, self._stop_deadline, functools.partial(self._stop_locked, async_stop=False)
        )
        if response is None:
            raise APITimeoutError(
                f"the stop did not finish within stop_deadline={self._stop_deadline:.0f} s", endpoint="stop"
            )

    async def _stop(self, *, async_stop: bool, timeout: TimeoutArg, retries: int | None) -> StopResponse:
        resource_id, sid = self._ids()
        self._state = SessionState.STOPPING
        self._interrupt_verification()
        try:
            response = await self._client.stop(
                resource_id=resource_id,
                sid=sid,
                mode=self._mode,
                cname=self._cname,
                uid=self._uid,
                async_stop=async_stop,
                timeout=timeout,
                retries=retries,
                retry_window=self._stop_deadline,
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
        self._client.keeper.release(self)
        await self._store_write()  # a stopped session leaves the store
        logger.info(
            "agora session stopped mode=%s already_stopped=%s no_recorded_data=%s",
            self._mode.value,
            response.already_stopped,
            response.no_recorded_data,
        )
        return response

    async def _stop_shielded(self, original: BaseException | None = None) -> None:
        """Stop after a failure or cancellation; never raises an error (the original one matters more).

        If the stop fails, ``stop_error`` keeps why, and the original exception gets a note saying the recording
        may still run, so the caller who sees only the original error still learns it. A start still in flight
        (its caller was cancelled natively) is stopped by the client when its answer comes.
        """
        if self._state not in _LIVE:
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
                self._warn("cleanup stop failed; the recording may still run", exc)

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
        recording exited), or when ``timeout`` seconds after start pass without status 4 or 5. If the session is
        stopped meanwhile (by any task, or by the client's close), it raises :class:`SessionStateError` at once.
        """
        self._require("verify", SessionState.RECORDING)
        timeout = check_seconds(timeout, "timeout")
        check_delays(delays)
        first_delay = check_seconds(first_delay, "first_delay")
        resource_id, sid = self._ids()
        scope = anyio.CancelScope()
        if self._verifying is None:
            self._verifying = []
        self._verifying.append(scope)
        try:
            with scope:
                return await poll_until_recording(
                    self._client,
                    resource_id=resource_id,
                    sid=sid,
                    mode=self._mode,
                    started_at=self._started_at if self._started_at is not None else self._client.clock(),
                    timeout=timeout,
                    first_delay=first_delay,
                    delays=delays,
                    on_query=self._keep_query,
                    last_status=lambda: self.last_status,
                )
        finally:
            self._verifying.remove(scope)
        raise SessionStateError(f"the session was stopped while waiting for it to record (state {self._state.value!r})")

    def _interrupt_verification(self) -> None:
        for scope in self._verifying or ():
            scope.cancel()

    def _keep_query(self, response: QueryResponse) -> None:
        self._last_query = response

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
        if self._state in _LIVE:
            # Shielded as a whole: a cancellation that arrives while the stop waits for its permit must not skip
            # it. Its errors still propagate (the body succeeded, so the stop's outcome is the news).
            with anyio.CancelScope(shield=True):
                await self.stop()

    # -- hand-off ---------------------------------------------------------------------------------------------------

    @classmethod
    def from_state(
        cls,
        client: SessionHost,
        state: SessionSnapshot | Mapping[str, Any],
        *,
        client_request: ClientRequest | None = None,
        acquire_request: AcquireClientRequest | None = None,
        use_start_parameter: bool = False,
        reacquire: bool = True,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
        start_deadline: float = DEFAULT_START_DEADLINE,
        stop_deadline: float = DEFAULT_STOP_DEADLINE,
        verify: bool = False,
        verify_timeout: float = DEFAULT_VERIFY_TIMEOUT,
    ) -> RecordingSession:
        """Rebuild a session from :meth:`snapshot` / :meth:`to_state` (use ``client.resume_session``)."""
        snapshot = decode(state, app_id=client.app_id)
        session = cls(
            client,
            cname=snapshot.cname,
            uid=snapshot.uid,
            mode=snapshot.mode,
            client_request=client_request,
            acquire_request=acquire_request,
            use_start_parameter=use_start_parameter,
            reacquire=reacquire,
            expiry_margin=expiry_margin,
            start_deadline=start_deadline,
            stop_deadline=stop_deadline,
            verify=verify,
            verify_timeout=verify_timeout,
        )
        session._state = snapshot.state
        session._resource_id = snapshot.resource_id
        session._sid = snapshot.sid
        if snapshot.key is not None:
            session._key = snapshot.key
        if snapshot.acquired_age is not None:
            session._acquired_at = client.clock() - snapshot.acquired_age
        if snapshot.state is SessionState.RECORDING:
            session._started_at = client.clock()
        return session
