"""A fleet supervisor's records in the client's session store, kept up to date as its handles change.

:class:`FleetRecords` is what a ``RecordingSupervisor(client, fleet=...)`` writes (see
:mod:`agora_recording._supervisor_records` for the keys and the format). Each unit (a primary handle and its
backup) is one :class:`UnitRecord`, which rides the client's :class:`~agora_recording._session_registry.SessionRegistry`
like a session does: written under the client's owner id (so the store's lease rules apply: a killed process's
fleet becomes claimable when its lease lapses), bounded store calls that never fail the supervision, retries at
every lease tick, written again when the lease had lapsed, released on a hand-off, deleted when the unit is
removed.

When it is written:

* **before each new session of a handle exists** (awaited, before its acquire): the record names the session's
  store key first, so a crash at any later point leaves a record that leads to the session;
* at every event of the handle (started, restarted, exited, failover, failed): in the background;
* **before a unit is stopped** (``remove()``, the supervisor's exit): the record is deleted first, so a crash in
  the middle of the stop leaves a session record no unit refers to, which the fleet's next resume stops.

**Taken over.** A process that stalls past its lease (a frozen VM, a long pause) may come back to find its fleet
resumed by another. The store then refuses its writes (``SessionOwnershipError``: the registry logs a WARNING).
Before each new session and before each stop it writes the unit first, so it finds out there: it starts nothing
for that unit (the handles end ``handed_off`` with reason ``"taken_over"``) and stops nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agora_recording._errors import InvalidRequestError
from agora_recording._session_registry import SessionRegistry
from agora_recording._session_state import SessionState
from agora_recording._supervisor_handle import RecordingHandle
from agora_recording._supervisor_records import HandleData, UnitData, new_session_key, new_unit_key

if TYPE_CHECKING:
    from agora_recording._session import RecordingSession
    from agora_recording._session_snapshot import SessionSnapshot

__all__ = ["FleetRecords", "UnitRecord", "handle_data"]


def handle_data(handle: RecordingHandle) -> HandleData:
    """What a resuming supervisor needs of ``handle`` (no secret)."""
    session = handle._session
    live = session is not None and session is not handle._finished
    index = handle._uid_index
    if session is not None and session.uid in handle._uids:
        index = handle._uids.index(session.uid)
    return HandleData(
        uids=handle._uids,
        uid_index=index,
        restarts=handle._restarts,
        consecutive=handle._consecutive,
        state=handle._state.value,
        session_key=session.key if live and session is not None else None,
        started=session is not None,
        ran=handle._ran,
        failure_reason=handle._failure_reason,
    )


class UnitRecord:
    """One unit's record, as the session registry tracks it (the registry's ``Tracked`` protocol)."""

    __slots__ = ("_alive", "_app_id", "_fleet", "gone", "key", "primary")

    def __init__(
        self, *, key: str, fleet: str, app_id: str, primary: RecordingHandle, alive: Callable[[RecordingHandle], bool]
    ) -> None:
        self.key = key
        self.primary = primary
        self.gone = False
        self._fleet = fleet
        self._app_id = app_id
        self._alive = alive

    def __repr__(self) -> str:
        return f"UnitRecord(key={self.key!r}, cname={self.primary.cname!r}, gone={self.gone})"

    @property
    def state(self) -> SessionState:
        """``stopped`` once the unit is removed (the registry then deletes the record), else ``recording``."""
        return SessionState.STOPPED if self.gone else SessionState.RECORDING

    @property
    def cname(self) -> str:
        """The unit's channel."""
        return self.primary.cname

    @property
    def uid(self) -> str:
        """The primary's current uid (logged by the registry)."""
        return self.primary.uid

    def _take_snapshot(self) -> SessionSnapshot:
        raise TypeError("a supervisor unit record is not a session (the registry writes store_data())")

    def store_data(self) -> dict[str, Any]:
        """The record's data now (read from the handles at write time, so a write is never stale)."""
        backup = self.primary._backup
        return UnitData(
            fleet=self._fleet,
            app_id=self._app_id,
            cname=self.primary.cname,
            mode=self.primary.mode.value,
            primary=handle_data(self.primary),
            backup=handle_data(backup) if backup is not None and self._alive(backup) else None,
        ).to_json()


class FleetRecords:
    """A fleet supervisor's side of the session store (see the module docstring)."""

    __slots__ = ("_alive", "_app_id", "_taken", "fleet", "registry")

    def __init__(
        self,
        fleet: str,
        *,
        registry: SessionRegistry | None,
        app_id: str,
        alive: Callable[[RecordingHandle], bool],
        taken: Callable[[RecordingHandle], None],
    ) -> None:
        if registry is None:
            raise InvalidRequestError("session_store", "fleet= needs CloudRecordingClient(..., session_store=store)")
        self.fleet = fleet
        self.registry = registry
        self._app_id = app_id
        self._alive = alive
        self._taken = taken

    def __repr__(self) -> str:
        return f"FleetRecords(fleet={self.fleet!r}, owner={self.registry.owner!r})"

    def add_unit(self, primary: RecordingHandle, *, key: str | None = None) -> UnitRecord:
        """Track the unit of ``primary`` (a new one, or one just claimed under ``key``)."""
        key = key or new_unit_key(self.fleet)
        unit = UnitRecord(key=key, fleet=self.fleet, app_id=self._app_id, primary=primary, alive=self._alive)
        primary._unit = unit
        if primary._backup is not None:
            primary._backup._unit = unit
        self.registry.track(unit)
        self.registry.changed(unit)
        return unit

    async def bind(self, handle: RecordingHandle, session: RecordingSession) -> bool:
        """``session`` is ``handle``'s new session: give it a fleet key and write the unit naming it, now.

        False when another process has taken the unit over (this one stalled past its lease and the fleet was
        resumed elsewhere): the handle is then given up (``taken``) and nothing may be started for it. A store
        that is down is not a take-over: True (the write is retried; the supervision goes on).
        """
        session._key = new_session_key(self.fleet, session.cname, session.uid)
        unit = handle._unit
        if isinstance(unit, UnitRecord) and not await self._write(unit):
            self._taken(unit.primary)
            return False
        return True

    async def _write(self, unit: UnitRecord) -> bool:
        """Write ``unit`` now; False only when another owner holds its record (a take-over)."""
        if not self.registry.holds(unit.key):
            return False  # lost already (a lease renewal found another owner on it)
        return await self.registry.write(unit) or self.registry.holds(unit.key)

    def changed(self, handle: RecordingHandle) -> None:
        """Something about ``handle`` changed: rewrite its unit in the background."""
        unit = handle._unit
        if isinstance(unit, UnitRecord) and not unit.gone:
            self.registry.changed(unit)

    async def removed(self, handle: RecordingHandle) -> None:
        """``handle`` is being stopped: delete its unit's record first (a backup alone: rewrite the unit)."""
        unit = handle._unit
        if not isinstance(unit, UnitRecord) or unit.gone:
            return
        if unit.primary is not handle:
            self.registry.changed(unit)
            return
        unit.gone = True
        if not await self._write(unit):  # another process resumed this unit: its recordings are not ours to stop
            for one in (handle, handle._backup):
                if one is not None and one._session is not None:
                    one._finished = one._session
                    one._session._client.keeper.release(one._session)

    async def hand_off(self, handles: tuple[RecordingHandle, ...]) -> None:
        """Release every unit of ``handles`` and their sessions (already handed off) in the store, now."""
        for handle in handles:
            unit = handle._unit
            if isinstance(unit, UnitRecord) and unit.primary is handle and not unit.gone:
                self.registry.handed_off(unit)
        await self.registry.flush()
