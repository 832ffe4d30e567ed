"""RecordingHandle: one supervised recording (a channel and a pair of recorder uids), as the supervisor sees it.

The handle is a small state machine the supervisor drives; users read it::

    STARTING --verified--> RECORDING --404--> RECOVERING --answers again--> RECORDING     (a failover)
       |                     |  ^                 |
       |                     |  +--verified--+    +--404 past the failover window--+
       |                     +--ended------> RESTARTING <-------------------------+
       |                                         |
       +--start keeps failing / max_restarts-----+--> FAILED
    (any) --remove() / supervisor exit--> STOPPING --> STOPPED
    (any) --hand_off()--> HANDED_OFF    (the recording keeps running, for the fleet's next resume())

It holds no task of its own: the supervisor's scheduler and a few workers do the work, so an idle supervised
recording costs a handle and a session object, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

import anyio

from agora_recording._errors import InvalidRequestError, RecordingFailedError, SessionStateError
from agora_recording.models._enums import Mode
from agora_recording.models._requests import AcquireClientRequest, ClientRequest
from agora_recording.models._responses import QueryResponse

if TYPE_CHECKING:
    from agora_recording._session import RecordingSession

__all__ = ["HandleState", "RecordingHandle", "RequestFactory"]


class HandleState(str, Enum):
    """Where a :class:`RecordingHandle` is (see the diagram in its module)."""

    STARTING = "starting"
    RECORDING = "recording"
    RECOVERING = "recovering"
    RESTARTING = "restarting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    HANDED_OFF = "handed_off"


MONITORED = (HandleState.RECORDING, HandleState.RECOVERING)
FINAL = (HandleState.STOPPED, HandleState.FAILED, HandleState.HANDED_OFF)

RequestFactory = Callable[[str, str], ClientRequest]
"""``(cname, uid) -> ClientRequest``: builds the start request of each attempt (e.g. with a fresh token)."""


class RecordingHandle:
    """One supervised recording; returned by :meth:`RecordingSupervisor.add`.

    Read-only for users: ``cname``, ``uid`` (the uid of the current or next recording), ``uids`` (the pair it
    alternates between), ``mode``, ``role`` (``"primary"`` or ``"backup"``), ``session`` (the current
    :class:`RecordingSession`), ``sid``, ``state`` (:class:`HandleState`), ``restarts``, ``last_error``,
    ``failure_reason``, ``files``, ``last_query``, ``backup`` (the backup recording's handle, if any) and
    ``primary`` (for a backup, the handle it backs up). Stop it with :meth:`RecordingSupervisor.remove`.
    """

    __slots__ = (
        "_acquire_request",
        "_agora_uid",
        "_attempts",
        "_backup",
        "_changed",
        "_client_request",
        "_consecutive",
        "_exit_reported",
        "_failover_reported",
        "_failure_reason",
        "_files",
        "_finished",
        "_gen",
        "_job_done",
        "_job_scope",
        "_last_error",
        "_last_query",
        "_lost_count",
        "_lost_since",
        "_next_due",
        "_options",
        "_primary",
        "_ran",
        "_restarts",
        "_role",
        "_session",
        "_signal_reason",
        "_state",
        "_token",
        "_uid_index",
        "_uids",
        "_unit",
        "_verified_at",
        "_verify_scope",
        "cname",
        "mode",
    )

    def __init__(
        self,
        *,
        cname: str,
        uids: tuple[str, ...],
        mode: Mode,
        client_request: ClientRequest | RequestFactory,
        acquire_request: AcquireClientRequest | None,
        options: dict[str, Any],
        role: str = "primary",
        primary: RecordingHandle | None = None,
    ) -> None:
        self.cname = cname
        self.mode = mode
        self._uids = uids
        self._uid_index = 0
        self._client_request = client_request
        self._acquire_request = acquire_request
        self._options = options
        self._role = role
        self._primary = primary
        self._backup: RecordingHandle | None = None
        self._session: RecordingSession | None = None
        self._state = HandleState.STARTING
        self._restarts = 0
        self._consecutive = 0
        self._attempts = 0
        self._ran: tuple[str, str] | None = None  # (sid, uid) of the last recording that was verified
        self._last_error: BaseException | None = None
        self._failure_reason: str | None = None
        self._last_query: QueryResponse | None = None
        self._files: tuple[str, ...] = ()
        self._finished: RecordingSession | None = None  # a session known to have ended: not stopped again
        self._gen = 0  # bumped whenever the recording being monitored changes: stale query results are dropped
        self._token = 0  # bumped on every (re)schedule: stale entries in the scheduler's heap are skipped
        self._next_due = 0.0
        self._verified_at: float | None = None
        self._lost_since: float | None = None
        self._lost_count = 0
        self._exit_reported = False
        self._failover_reported = False
        self._agora_uid: str | None = None
        self._signal_reason: str | None = None
        self._verify_scope: anyio.CancelScope | None = None
        self._job_scope: anyio.CancelScope | None = None
        self._job_done: anyio.Event | None = None
        self._changed: anyio.Event | None = None
        self._unit: Any = None  # its fleet's UnitRecord (a supervisor with fleet=), else None

    def __repr__(self) -> str:
        return (
            f"RecordingHandle(role={self._role!r}, cname={self.cname!r}, uid={self.uid!r}, mode={self.mode.value!r}, "
            f"state={self._state.value!r}, sid={self.sid!r}, restarts={self._restarts})"
        )

    @property
    def uid(self) -> str:
        """The recorder uid of the current recording (or of the next attempt while restarting)."""
        return self._uids[self._uid_index]

    @property
    def uids(self) -> tuple[str, ...]:
        """The uid and, when given, the alternate uid; each restart switches to the other one."""
        return self._uids

    @property
    def role(self) -> str:
        """``"primary"``, or ``"backup"`` for the redundant recording of a primary started with ``backup=True``."""
        return self._role

    @property
    def session(self) -> RecordingSession | None:
        """The current :class:`RecordingSession` (a new one after each restart); ``None`` before the first."""
        return self._session

    @property
    def sid(self) -> str | None:
        """The sid of the current recording, or ``None`` while none has started."""
        return self._session.sid if self._session is not None else None

    @property
    def resource_id(self) -> str | None:
        """The resourceId of the current recording."""
        return self._session.resource_id if self._session is not None else None

    @property
    def state(self) -> HandleState:
        """The handle's :class:`HandleState`."""
        return self._state

    @property
    def restarts(self) -> int:
        """How many replacement recordings the supervisor started (start retries included)."""
        return self._restarts

    @property
    def last_error(self) -> BaseException | None:
        """The last error met while starting, verifying or monitoring (``None`` if none so far)."""
        return self._last_error

    @property
    def failure_reason(self) -> str | None:
        """Why the supervisor gave up (state FAILED), else ``None``."""
        return self._failure_reason

    @property
    def files(self) -> tuple[str, ...]:
        """The file names last reported by query, a notification or stop."""
        return self._files

    @property
    def last_query(self) -> QueryResponse | None:
        """The last successful monitoring or verification query of the current recording."""
        return self._last_query

    @property
    def backup(self) -> RecordingHandle | None:
        """The backup recording's handle (``add(..., backup=True)``), else ``None``."""
        return self._backup

    @property
    def primary(self) -> RecordingHandle | None:
        """For a backup handle, the primary it backs up; ``None`` for a primary."""
        return self._primary

    async def wait_recording(self) -> None:
        """Wait until the handle is RECORDING (verified: status 4 or 5).

        Raises :class:`RecordingFailedError` (with the reason) if it ends FAILED, and
        :class:`SessionStateError` if it was stopped first.
        """
        while True:
            if self._state is HandleState.RECORDING:
                return
            if self._state is HandleState.FAILED:
                raise RecordingFailedError(f"supervised recording failed: {self._failure_reason}")
            if self._state is HandleState.STOPPED:
                raise SessionStateError("the supervised recording was stopped")
            if self._state is HandleState.HANDED_OFF:
                raise SessionStateError("the supervised recording was handed off (RecordingSupervisor.hand_off)")
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _set_state(self, state: HandleState) -> None:
        self._state = state
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _request_for(self) -> ClientRequest:
        """The start request of the next attempt (built by the request factory of a resumed handle)."""
        request = self._client_request
        if isinstance(request, ClientRequest):
            return request
        try:
            built = request(self.cname, self.uid)
        except Exception as exc:  # the type only: the text may quote a token
            raise InvalidRequestError("client_request", f"the callable raised {type(exc).__name__}") from exc
        if not isinstance(built, ClientRequest):
            kind = type(built).__name__
            raise InvalidRequestError("client_request", f"the callable returned {kind}, not a ClientRequest")
        return built

    def _flip_uid(self) -> None:
        self._uid_index = (self._uid_index + 1) % len(self._uids)
