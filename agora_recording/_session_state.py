"""SessionState: the states of one recording's lifecycle (the state machine itself is in ``_session``).

::

    NEW --acquire--> ACQUIRED --start--> STARTING --+--> RECORDING --stop--> STOPPING --> STOPPED
     |                  ^                           |        |  ^                 |
     +------start-------+ (acquires first)          |        |  +--(stop failed)--+
                                                    |        +-- query / update / update_layout
                                                    +--> FAILED   (Agora refused the start; no recording)
                                                    +--> UNKNOWN  (no answer, or code 7 after a lost answer:
                                                                   a recording may run whose sid we lack)
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar, cast, overload

__all__ = ["LIVE_STATES", "Rare", "RareState", "SessionState"]

T = TypeVar("T")


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


LIVE_STATES = (SessionState.RECORDING, SessionState.STOPPING)
"""The states in which a recording may run and the session can stop it."""


class RareState:
    """What a session holds only once it updates, stops, verifies or hears a notification (idle ones have none)."""

    __slots__ = (
        "_exited_by_agora",
        "_last_notification",
        "_pending",
        "_stop_error",
        "_stop_lock",
        "_stop_response",
        "_update_lock",
        "_verifying",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, None)
        self._exited_by_agora = False

    def empty(self) -> bool:
        """True when every attribute holds its default again."""
        return self._exited_by_agora is False and all(
            getattr(self, name) is None for name in self.__slots__ if name != "_exited_by_agora"
        )


class Rare(Generic[T]):
    """A session attribute kept in its lazily created :class:`RareState` (``_rare``), read as ``default`` until set.

    Setting the default on a session without one creates nothing, and setting the last one back to its default drops
    it, so an idle session pays one slot for all of them.
    """

    __slots__ = ("_default", "_name")

    def __init__(self, default: T) -> None:
        self._default = default
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Rare[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object, owner: type | None = None) -> T | Rare[T]:
        if obj is None:
            return self
        rare: RareState | None = obj._rare  # type: ignore[attr-defined]  # every session has the slot
        return self._default if rare is None else cast("T", getattr(rare, self._name))

    def __set__(self, obj: object, value: T) -> None:
        rare: RareState | None = obj._rare  # type: ignore[attr-defined]  # every session has the slot
        if rare is None:
            if value is self._default:
                return
            rare = RareState()
            obj._rare = rare  # type: ignore[attr-defined]  # every session has the slot
        setattr(rare, self._name, value)
        if value is self._default and rare.empty():
            obj._rare = None  # type: ignore[attr-defined]  # back to idle (a start's exchange, once taken)
