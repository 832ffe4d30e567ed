"""What a recording session shows: its state, ids and last answers, read-only, and the checks that guard each call."""

from __future__ import annotations

from agora_recording._errors import (
    SessionStateError,
)
from agora_recording._session_state import Rare, SessionState
from agora_recording.models._enums import Mode, RecordingStatus
from agora_recording.models._responses import (
    QueryResponse,
    StopResponse,
)


class SessionView:
    """The read-only face of a :class:`~agora_recording.RecordingSession` (a slot-less base; see its docstring)."""

    __slots__ = ()  # the state lives in RecordingSession's slots
    _mode: Mode
    _cname: str
    _uid: str
    _state: SessionState
    _resource_id: str | None
    _sid: str | None
    _last_query: QueryResponse | None
    _stop_response: Rare[StopResponse | None] = Rare(None)
    _stop_error: Rare[Exception | None] = Rare(None)

    def __repr__(self) -> str:
        return (
            f"RecordingSession(mode={self._mode.value!r}, cname={self._cname!r}, uid={self._uid!r}, "
            f"state={self._state.value!r}, resource_id={self._resource_id!r}, sid={self._sid!r})"
        )

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

    def _ids(self) -> tuple[str, str]:
        if self._resource_id is None or self._sid is None:
            raise SessionStateError(f"no resourceId and sid in state {self._state.value!r}")
        return self._resource_id, self._sid

    def _require(self, action: str, *allowed: SessionState) -> None:
        if self._state not in allowed:
            names = ", ".join(s.value for s in allowed)
            raise SessionStateError(f"cannot {action} in state {self._state.value!r} (allowed: {names})")
