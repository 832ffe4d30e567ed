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
from collections.abc import Mapping
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

from agora_recording._errors import (
    AlreadyStartedError,
    APIConnectionError,
    APIStatusError,
    InvalidRequestError,
    NotFoundError,
    ResourceExpiredError,
    SessionStateError,
)
from agora_recording._notifications import outcome_unknown, owner_gone
from agora_recording._options import RESOURCE_ID_TTL
from agora_recording._session_guard import SendState, check_seconds
from agora_recording._session_host import SessionHost
from agora_recording._session_keeper import Exchange
from agora_recording._session_resource import SessionSettings
from agora_recording._session_snapshot import SessionSnapshot, decode
from agora_recording._session_state import LIVE_STATES, RareState, SessionState
from agora_recording._session_stop import StopSide
from agora_recording._session_verify import DEFAULT_VERIFY_TIMEOUT
from agora_recording.models._enums import Mode
from agora_recording.models._requests import (
    AcquireClientRequest,
    ClientRequest,
)
from agora_recording.models._responses import (
    AcquireResponse,
    QueryResponse,
    StartResponse,
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


_DEFAULT_SETTINGS = SessionSettings(
    acquire_request=None,
    use_start_parameter=False,
    reacquire=True,
    expiry_margin=DEFAULT_EXPIRY_MARGIN,
    start_deadline=DEFAULT_START_DEADLINE,
    stop_deadline=DEFAULT_STOP_DEADLINE,
    verify_on_enter=False,
    verify_timeout=DEFAULT_VERIFY_TIMEOUT,
)  # what most sessions share


def _refused(exc: BaseException) -> bool:
    """True when ``exc`` means Agora did not start a recording: a 4xx refusal (not 429), or a local error."""
    if isinstance(exc, (InvalidRequestError, ResourceExpiredError, SessionStateError)):
        return True
    if isinstance(exc, AlreadyStartedError):
        return False
    if isinstance(exc, NotFoundError) and exc.worker_not_found:
        return False  # "failed to find worker": Agora may have acted before its worker went away
    return isinstance(exc, APIStatusError) and 400 <= exc.status_code < 500 and exc.status_code != 429


_LIVE = LIVE_STATES


class RecordingSession(StopSide):
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
        "_client",
        "_client_request",
        "_cname",
        "_key",
        "_mode",
        "_sid",
        "_started_at",
        "_uid",
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
        margin = check_seconds(expiry_margin, "expiry_margin")
        if margin >= RESOURCE_ID_TTL:
            raise InvalidRequestError("expiry_margin", f"must be below {RESOURCE_ID_TTL:.0f} seconds")
        settings = SessionSettings(
            acquire_request=acquire_request,
            use_start_parameter=bool(use_start_parameter),
            reacquire=bool(reacquire),
            expiry_margin=margin,
            start_deadline=check_seconds(start_deadline, "start_deadline", minimum=1.0),
            stop_deadline=check_seconds(stop_deadline, "stop_deadline", minimum=1.0),
            verify_on_enter=bool(verify),
            verify_timeout=check_seconds(verify_timeout, "verify_timeout"),
        )
        self._settings = _DEFAULT_SETTINGS if settings == _DEFAULT_SETTINGS else settings
        self._state = SessionState.NEW
        self._resource_id: str | None = None
        self._sid: str | None = None
        self._acquired_at: float | None = None
        self._started_at: float | None = None
        self._last_query: QueryResponse | None = None
        self._reacquired = 0
        self._rare: RareState | None = None  # locks, stop results, notifications: made when first needed

    # -- properties -------------------------------------------------------------------------------------------------

    # -- lifecycle --------------------------------------------------------------------------------------------------

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
        self._pending = None  # taken: only a stop() during STARTING waits for it (an idle session keeps no exchange)
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
            await outcome_unknown(self, self._client.keeper)  # a notification may carry the sid (shielded, bounded)
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
            owner_gone(self, self._client.keeper)
            self._warn("the start's caller went away and its outcome is unknown; a recording may run", exchange.error)

    # -- context manager --------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RecordingSession:
        try:
            await self.start()
            if self._verify_on_enter:
                await self.wait_until_recording(self._verify_timeout)
        except BaseException as exc:
            await self._stop_shielded(exc)
            owner_gone(self, self._client.keeper)  # still unknown: its sid, once notified, is stopped
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
