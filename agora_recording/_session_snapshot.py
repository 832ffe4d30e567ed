"""The hand-off format: :class:`SessionSnapshot`, a session's state as a typed, versioned, JSON-round-tripping value.

A snapshot carries what another process needs to carry on with a recording (mode, channel, uid, state,
resourceId, sid, when the resourceId was acquired, the last status, the session store key) and **no secret**: no
token, no storage keys, no clientRequest (the class has no field that could hold one). Times cross processes as
Unix seconds, since monotonic clocks differ between processes.

:meth:`SessionSnapshot.to_json` writes version :data:`STATE_VERSION` (the dict that ``to_state()`` returns and the
session store keeps); :meth:`SessionSnapshot.from_json` checks a mapping field by field and raises
:class:`InvalidRequestError` naming the first bad field. :func:`decode` also checks the App ID and reads a session
that another worker left mid-start back as ``unknown``: its start's outcome is not known.

:class:`HandOff` is a slot-less base of :class:`~agora_recording.RecordingSession` with its hand-off methods
(``snapshot``, ``to_state``, ``key``) and the two hooks through which the session reports its state
changes to the client's session store, if it has one (``_session_registry``).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from agora_recording._errors import InvalidRequestError
from agora_recording._session_state import SessionState

if TYPE_CHECKING:
    from agora_recording._session_host import SessionHost
    from agora_recording.models._enums import Mode

__all__ = ["STATE_VERSION", "HandOff", "SessionSnapshot", "Snapshot", "decode"]

STATE_VERSION = 1
"""The snapshot format's version; :meth:`SessionSnapshot.from_json` refuses any other."""

_NEEDS = {
    SessionState.ACQUIRED: ("resource_id",),
    SessionState.RECORDING: ("resource_id", "sid"),
    SessionState.STOPPING: ("resource_id", "sid"),
}


def _optional_str(state: Mapping[str, Any], name: str) -> str | None:
    value = state.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"state.{name}", f"must be a string or null, got {type(value).__name__}")
    return value


def _optional_number(state: Mapping[str, Any], name: str) -> float | None:
    value = state.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequestError(f"state.{name}", "must be a finite number or null")
    return float(value)


@attrs.frozen(kw_only=True)
class SessionSnapshot:
    """One session's hand-off state: typed, versioned, JSON-serialisable, with no secret in it.

    Get one with :meth:`RecordingSession.snapshot`; rebuild the session with
    :meth:`CloudRecordingClient.resume_session` (it takes this object, its :meth:`to_json` dict, or, with a session
    store, the session's ``key``). Fields:

    - ``version``: the format (:data:`STATE_VERSION`); ``app_id``, ``mode``, ``cname``, ``uid`` of the recording;
    - ``state``: the :class:`SessionState` when taken; ``resource_id`` and ``sid`` (``None`` when not known);
    - ``acquired_at_unix``: Unix seconds of the acquire (the resourceId's five minutes count from there);
    - ``last_status``: the last ``serverResponse.status`` seen; ``key``: the session store key, if any.

    Example::

        snapshot = rec.snapshot()
        text = json.dumps(snapshot.to_json())             # store it anywhere: it holds no secret
        again = SessionSnapshot.from_json(json.loads(text))
        assert again == snapshot
    """

    version: int = STATE_VERSION
    app_id: str
    mode: str
    cname: str
    uid: str
    state: SessionState
    resource_id: str | None = None
    sid: str | None = None
    acquired_at_unix: float | None = None
    last_status: int | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON-serialisable dict (what ``to_state()`` returns and the session store keeps)."""
        return {
            "version": self.version,
            "app_id": self.app_id,
            "mode": self.mode,
            "cname": self.cname,
            "uid": self.uid,
            "state": self.state.value,
            "resource_id": self.resource_id,
            "sid": self.sid,
            "acquired_at_unix": self.acquired_at_unix,
            "last_status": self.last_status,
            "key": self.key,
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> SessionSnapshot:
        """Check and read a dict from :meth:`to_json` (possibly another process's, possibly hostile).

        Raises :class:`InvalidRequestError` naming the first bad field (``state.version``, ``state.state``, ...).
        Unknown keys are ignored. ``cname``/``uid``/``mode`` are checked further when a session is built from it.
        """
        if not isinstance(state, Mapping):
            raise InvalidRequestError("state", "must be the mapping returned by RecordingSession.to_state()")
        version = state.get("version")
        if isinstance(version, bool) or version != STATE_VERSION:
            raise InvalidRequestError("state.version", f"must be {STATE_VERSION}, got {version!r}")
        for name in ("app_id", "mode", "cname", "uid"):
            if not isinstance(state.get(name), str):
                raise InvalidRequestError(f"state.{name}", "must be a string")
        try:
            session_state = SessionState(state.get("state"))
        except ValueError:
            raise InvalidRequestError("state.state", f"unknown session state {state.get('state')!r}") from None
        for name in _NEEDS.get(session_state, ()):
            if not isinstance(state.get(name), str) or not state.get(name):
                raise InvalidRequestError(f"state.{name}", f"is required in state {session_state.value!r}")
        last_status = state.get("last_status")
        if last_status is not None and (isinstance(last_status, bool) or not isinstance(last_status, int)):
            raise InvalidRequestError("state.last_status", "must be an integer or null")
        return cls(
            app_id=state["app_id"],
            mode=state["mode"],
            cname=state["cname"],
            uid=state["uid"],
            state=session_state,
            resource_id=_optional_str(state, "resource_id"),
            sid=_optional_str(state, "sid"),
            acquired_at_unix=_optional_number(state, "acquired_at_unix"),
            last_status=last_status,
            key=_optional_str(state, "key"),
        )


@attrs.frozen(kw_only=True)
class Snapshot:
    """A checked snapshot, as a session is rebuilt from it (``acquired_age``: seconds since acquire, or ``None``)."""

    cname: Any
    uid: Any
    mode: Any
    state: SessionState
    resource_id: str | None
    sid: str | None
    acquired_age: float | None
    key: str | None


def decode(state: SessionSnapshot | Mapping[str, Any], *, app_id: str) -> Snapshot:
    """Check ``state`` (a :class:`SessionSnapshot` or its dict, possibly another process's) for ``app_id``."""
    snapshot = state if isinstance(state, SessionSnapshot) else SessionSnapshot.from_json(state)
    if snapshot.version != STATE_VERSION:
        raise InvalidRequestError("state.version", f"must be {STATE_VERSION}, got {snapshot.version!r}")
    if snapshot.app_id != app_id:
        raise InvalidRequestError("state.app_id", "belongs to another App ID than this client's")
    session_state = snapshot.state
    if session_state is SessionState.STARTING:
        session_state = SessionState.UNKNOWN  # the other worker died mid-start: the outcome is unknown
    acquired_age = None
    if snapshot.acquired_at_unix is not None:
        acquired_age = max(0.0, time.time() - snapshot.acquired_at_unix)
    return Snapshot(
        cname=snapshot.cname,
        uid=snapshot.uid,
        mode=snapshot.mode,
        state=session_state,
        resource_id=snapshot.resource_id,
        sid=snapshot.sid,
        acquired_age=acquired_age,
        key=snapshot.key,
    )


def new_session_key(cname: str, uid: str) -> str:
    """A fresh session store key: ``"<cname>/<uid>/<random>"`` (readable, unique per session)."""
    return f"{cname}/{uid}/{uuid.uuid4().hex[:16]}"


class HandOff:
    """The hand-off side of :class:`~agora_recording.RecordingSession` (slot-less: the session holds ``_key``)."""

    __slots__ = ()

    _client: SessionHost
    _key: str
    _mode: Mode
    _cname: str
    _uid: str
    _state: SessionState
    _resource_id: str | None
    _sid: str | None
    _acquired_at: float | None
    _started_at: float | None

    if TYPE_CHECKING:

        @property
        def resource_age(self) -> float | None: ...

        @property
        def last_status(self) -> Any: ...

    @property
    def key(self) -> str:
        """This session's key in the client's session store (chosen when first asked for, kept by snapshots)."""
        try:
            return self._key
        except AttributeError:
            self._key = new_session_key(self._cname, self._uid)  # type: ignore[misc]  # RecordingSession's slot
            return self._key

    def _take_snapshot(self) -> SessionSnapshot:
        acquired_age = self.resource_age
        status = self.last_status
        return SessionSnapshot(
            app_id=self._client.app_id,
            mode=self._mode.value,
            cname=self._cname,
            uid=self._uid,
            state=self._state,
            resource_id=self._resource_id,
            sid=self._sid,
            acquired_at_unix=None if acquired_age is None else time.time() - acquired_age,
            last_status=int(status) if status is not None else None,
            key=self.key,
        )

    def snapshot(self) -> SessionSnapshot:
        """The typed hand-off snapshot (no secret: no token, no storage keys) for another process or worker.

        Rebuild it with :meth:`CloudRecordingClient.resume_session`. The clientRequest is not included (it holds
        storage keys); pass it to ``resume_session`` if the resumed session has yet to start.

        Taking a snapshot hands the session off: this client no longer owns it, so closing the client leaves the
        recording running for whoever resumes the snapshot. With a session store, the client also releases the
        session's record there (at once in the background, and at the latest when it closes), so another worker
        can take it by key; ``await client.hand_off(rec)`` does the same and waits for the store.
        """
        self._client.keeper.release(self)  # type: ignore[arg-type]  # a RecordingSession is an Owned
        registry = _registry(self._client)
        if registry is not None:
            registry.handed_off(self)
        return self._take_snapshot()

    def to_state(self) -> dict[str, Any]:
        """:meth:`snapshot` as its JSON-serialisable dict (:meth:`SessionSnapshot.to_json`); hands the session off."""
        return self.snapshot().to_json()

    # -- the session store hooks (no-ops without a store) ------------------------------------------------------------

    async def _store_write(self) -> None:
        """Write this session's state to the client's session store now (never raises; a failure is retried)."""
        registry = _registry(self._client)
        if registry is not None:
            await registry.write(self)

    def _store_mark(self) -> None:
        """Note a state change to write in the background (for paths that must not wait, e.g. while unwinding)."""
        registry = _registry(self._client)
        if registry is not None:
            registry.changed(self)


def _registry(client: SessionHost) -> Any:
    # getattr: a SessionHost other than CloudRecordingClient (a test's) need not have a store at all.
    return getattr(client, "session_registry", None)
