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

__all__ = ["LIVE_STATES", "SessionState"]


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
