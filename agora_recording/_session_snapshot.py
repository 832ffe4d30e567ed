"""The hand-off format: a session's state as a small JSON-serialisable mapping, and its checked reading.

A snapshot carries what another process needs to carry on with a recording (mode, channel, uid, state,
resourceId, sid, when the resourceId was acquired, the last status) and no secret: no token, no storage keys,
no clientRequest. Times cross processes as Unix seconds, since monotonic clocks differ between processes.

:func:`encode` writes version :data:`STATE_VERSION`; :func:`decode` checks a mapping field by field and raises
:class:`InvalidRequestError` naming the first bad field. A session that another worker left mid-start is read
back as ``unknown``: its start's outcome is not known.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from agora_recording._errors import InvalidRequestError
from agora_recording._session_state import SessionState

__all__ = ["STATE_VERSION", "Snapshot", "decode", "encode"]

STATE_VERSION = 1
"""The snapshot format's version; :func:`decode` refuses any other."""

_NEEDS = {
    SessionState.ACQUIRED: ("resource_id",),
    SessionState.RECORDING: ("resource_id", "sid"),
    SessionState.STOPPING: ("resource_id", "sid"),
}


@attrs.frozen(kw_only=True)
class Snapshot:
    """A checked snapshot. ``cname``, ``uid`` and ``mode`` are as stored: the session's constructor checks them.

    ``acquired_age`` is how many seconds ago the resourceId was acquired (``None``: unknown or never).
    """

    cname: Any
    uid: Any
    mode: Any
    state: SessionState
    resource_id: str | None
    sid: str | None
    acquired_age: float | None


def encode(
    *,
    app_id: str,
    mode: str,
    cname: str,
    uid: str,
    state: SessionState,
    resource_id: str | None,
    sid: str | None,
    acquired_age: float | None,
    last_status: int | None,
) -> dict[str, Any]:
    """The snapshot mapping (``acquired_age``: seconds since acquire, converted to Unix time here)."""
    return {
        "version": STATE_VERSION,
        "app_id": app_id,
        "mode": mode,
        "cname": cname,
        "uid": uid,
        "state": state.value,
        "resource_id": resource_id,
        "sid": sid,
        "acquired_at_unix": None if acquired_age is None else time.time() - acquired_age,
        "last_status": last_status,
    }


def decode(state: Mapping[str, Any], *, app_id: str) -> Snapshot:
    """Check ``state`` (from :func:`encode`, possibly another process's) for a client of ``app_id``."""
    if not isinstance(state, Mapping):
        raise InvalidRequestError("state", "must be the mapping returned by RecordingSession.to_state()")
    if state.get("version") != STATE_VERSION:
        raise InvalidRequestError("state.version", f"must be {STATE_VERSION}, got {state.get('version')!r}")
    if state.get("app_id") != app_id:
        raise InvalidRequestError("state.app_id", "belongs to another App ID than this client's")
    try:
        session_state = SessionState(state.get("state"))
    except ValueError:
        raise InvalidRequestError("state.state", f"unknown session state {state.get('state')!r}") from None
    for key in _NEEDS.get(session_state, ()):
        if not isinstance(state.get(key), str) or not state.get(key):
            raise InvalidRequestError(f"state.{key}", f"is required in state {session_state.value!r}")
    if session_state is SessionState.STARTING:
        session_state = SessionState.UNKNOWN  # the other worker died mid-start: the outcome is unknown
    resource_id, sid = state.get("resource_id"), state.get("sid")
    acquired_unix = state.get("acquired_at_unix")
    acquired_age = None
    if isinstance(acquired_unix, (int, float)) and not isinstance(acquired_unix, bool):
        acquired_age = max(0.0, time.time() - acquired_unix)
    return Snapshot(
        cname=state.get("cname"),
        uid=state.get("uid"),
        mode=state.get("mode"),
        state=session_state,
        resource_id=resource_id if isinstance(resource_id, str) else None,
        sid=sid if isinstance(sid, str) else None,
        acquired_age=acquired_age,
    )
