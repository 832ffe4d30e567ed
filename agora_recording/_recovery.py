"""Taking sessions over from the session store: ``recover_sessions()``, ``claim_session(key)``, ``hand_off()``.

:class:`StoreSide` is a base of :class:`~agora_recording.CloudRecordingClient` with the methods that need its
``session_store=`` (the writing side is :mod:`agora_recording._session_registry`).

``recover_sessions()`` claims, atomically (:meth:`~agora_recording.SessionStore.claim_orphans`), every record whose
owner's lease has run out (a crashed, killed or hung process), so two processes recovering at once never both act
on one session. For each one, by default:

* a recording with a sid is **stopped** (``stopped``; ``already_gone`` when Agora answers that it had ended: a
  stop is one request and says so by itself, so no query is sent first), and its record deleted;
* a session that never started (``new``/``acquired``), or had ended, is ``already_gone``: its record is deleted;
* a start whose outcome is unknown (``starting``/``unknown``, no sid: the process died between the send and the
  answer) cannot be stopped, since stopping needs the sid: it is reported as an ``orphan`` (it runs until its
  ``maxIdleTime`` or ``maxRecordingHour``), with a WARNING, and its record deleted;
* anything that fails (the stop's error, an unreadable record, another App ID) is ``failed`` with the reason;
  the record stays with this client, which leaves it to look crashed when it closes, so a later recovery tries
  again.

``adopt=True`` adopts the recordings instead: they keep recording, this client owns them (in the store and in its
drain: it stops them when it closes, like the ones it started).

Records of a ``RecordingSupervisor`` fleet (keys under ``/supervisor/<fleet>/``) are neither stopped nor adopted:
they are released again (``supervised``), for that fleet's ``RecordingSupervisor.resume()``, which keeps the
recordings running.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

import anyio
import attrs

from agora_recording._errors import InvalidRequestError, SessionStateError, log_safe
from agora_recording._session import (
    DEFAULT_EXPIRY_MARGIN,
    DEFAULT_START_DEADLINE,
    DEFAULT_STOP_DEADLINE,
    DEFAULT_VERIFY_TIMEOUT,
    RecordingSession,
)
from agora_recording._session_keeper import Keeper
from agora_recording._session_registry import SessionRegistry
from agora_recording._session_snapshot import SessionSnapshot
from agora_recording._session_state import SessionState
from agora_recording._store import (
    SessionRecord,
    SessionStore,
    SessionStoreError,
    SessionStoreUnavailableError,
    check_key,
    check_limit,
)
from agora_recording._supervisor_records import fleet_of
from agora_recording.models._requests import AcquireClientRequest, ClientRequest

if TYPE_CHECKING:
    from agora_recording._session_host import SessionHost

__all__ = ["RecoveredSession", "RecoveryOutcome", "RecoveryReport", "StoreSide"]

logger = logging.getLogger("agora_recording")


class RecoveryOutcome(str, Enum):
    """What :meth:`CloudRecordingClient.recover_sessions` did with one session."""

    STOPPED = "stopped"
    """It was recording: this client stopped it."""
    ALREADY_GONE = "already_gone"
    """Nothing to stop: it never started, had ended, or Agora answered that it was stopped already."""
    ORPHAN = "orphan"
    """Its start's outcome is unknown and no sid was recorded: it cannot be stopped (it may run until its limits)."""
    FAILED = "failed"
    """It could not be settled (see ``reason``); the record stays for a later recovery."""
    ADOPTED = "adopted"
    """``adopt=True``: it keeps recording, owned by this client (stopped when the client closes)."""
    SUPERVISED = "supervised"
    """It belongs to a ``RecordingSupervisor`` fleet: released (not stopped) for that fleet's ``resume()``."""


@attrs.frozen(kw_only=True)
class RecoveredSession:
    """One session taken over by :meth:`CloudRecordingClient.recover_sessions`.

    ``key`` (the store key), ``outcome``, ``reason`` (why, in words), the recording's ``cname``, ``uid``, ``mode``,
    ``sid`` and ``resource_id`` as recorded (``None`` when unknown or unreadable), and ``state``, the state the
    crashed owner last recorded.
    """

    key: str
    outcome: RecoveryOutcome
    reason: str
    cname: str | None = None
    uid: str | None = None
    mode: str | None = None
    sid: str | None = None
    resource_id: str | None = None
    state: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of this entry (``outcome`` as its string value)."""
        data = attrs.asdict(self)
        data["outcome"] = self.outcome.value
        return data


@attrs.frozen(kw_only=True)
class RecoveryReport:
    """What one :meth:`CloudRecordingClient.recover_sessions` call did: one :class:`RecoveredSession` per session
    taken over (sorted by key), and the ``owner`` id of the client that took them."""

    owner: str
    sessions: tuple[RecoveredSession, ...] = ()

    def _with(self, outcome: RecoveryOutcome) -> tuple[RecoveredSession, ...]:
        return tuple(s for s in self.sessions if s.outcome is outcome)

    @property
    def stopped(self) -> tuple[RecoveredSession, ...]:
        """The recordings this call stopped."""
        return self._with(RecoveryOutcome.STOPPED)

    @property
    def already_gone(self) -> tuple[RecoveredSession, ...]:
        """The sessions with nothing left to stop."""
        return self._with(RecoveryOutcome.ALREADY_GONE)

    @property
    def orphans(self) -> tuple[RecoveredSession, ...]:
        """The starts of unknown outcome (no sid): recordings that may run and cannot be stopped."""
        return self._with(RecoveryOutcome.ORPHAN)

    @property
    def failed(self) -> tuple[RecoveredSession, ...]:
        """The sessions that could not be settled (left for a later recovery)."""
        return self._with(RecoveryOutcome.FAILED)

    @property
    def adopted(self) -> tuple[RecoveredSession, ...]:
        """The recordings adopted (``adopt=True``)."""
        return self._with(RecoveryOutcome.ADOPTED)

    @property
    def supervised(self) -> tuple[RecoveredSession, ...]:
        """The records of supervisor fleets, released for their ``RecordingSupervisor.resume()``."""
        return self._with(RecoveryOutcome.SUPERVISED)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``owner``, ``sessions`` and a count per outcome."""
        counts = {outcome.value: len(self._with(outcome)) for outcome in RecoveryOutcome}
        return {"owner": self.owner, "counts": counts, "sessions": [s.to_json() for s in self.sessions]}


def _entry(
    record: SessionRecord, outcome: RecoveryOutcome, reason: str, snap: SessionSnapshot | None
) -> RecoveredSession:
    if snap is None:
        return RecoveredSession(key=record.key, outcome=outcome, reason=reason)
    return RecoveredSession(
        key=record.key,
        outcome=outcome,
        reason=reason,
        cname=snap.cname,
        uid=snap.uid,
        mode=snap.mode,
        sid=snap.sid,
        resource_id=snap.resource_id,
        state=snap.state.value,
    )


class StoreSide:
    """The session store methods of :class:`~agora_recording.CloudRecordingClient` (see the module docstring)."""

    _registry: SessionRegistry | None
    _keeper: Keeper
    _app_id: str

    @property
    def session_registry(self) -> SessionRegistry | None:
        """Internal: what writes this client's sessions to its ``session_store`` (``None`` without one)."""
        return self._registry

    @property
    def session_store(self) -> SessionStore | None:
        """The ``session_store=`` given to this client, or ``None``."""
        return None if self._registry is None else self._registry.store

    @property
    def owner_id(self) -> str | None:
        """This client's owner id in the session store (``"<host>:<pid>:<random>"``), or ``None`` without a store."""
        return None if self._registry is None else self._registry.owner

    def _need_store(self, what: str) -> SessionRegistry:
        if self._registry is None:
            raise InvalidRequestError("session_store", f"{what} needs CloudRecordingClient(..., session_store=store)")
        return self._registry

    def _host(self) -> SessionHost:
        return cast("SessionHost", self)

    async def hand_off(self, session: RecordingSession) -> str:
        """Hand ``session`` off now and return its store key: another worker takes it with ``claim_session(key)``.

        Like :meth:`RecordingSession.snapshot` (this client no longer owns it: its close leaves it running), and
        the store's record is released before this returns. Raises :class:`SessionStoreUnavailableError` when the
        store could not be reached (the release is then retried in the background and at close).
        """
        registry = self._need_store("hand_off()")
        if not isinstance(session, RecordingSession):
            raise InvalidRequestError("session", "must be a RecordingSession")
        session.snapshot()
        await registry.flush()
        if session.key in registry.held():
            raise SessionStoreUnavailableError(f"session record {session.key!r} could not be released yet")
        return session.key

    async def claim_session(
        self,
        key: str,
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
        """Take the session stored under ``key`` (released by :meth:`hand_off`, or of a crashed owner) and resume it.

        Atomic (:meth:`SessionStore.claim`): of two workers claiming one key, one wins. The session is then this
        client's in the store (stopping it deletes the record); if it is still running when the client closes, it
        is released again (not stopped), for the next ``claim_session``. The options are :meth:`session`'s.
        Raises :class:`SessionNotFoundError` (no such key: stopped and deleted, say), :class:`SessionOwnershipError`
        (a live worker holds it and did not hand it off), :class:`SessionStoreUnavailableError`, and
        :class:`InvalidRequestError` for a record this client cannot resume (another App ID).
        """
        registry = self._need_store("claim_session()")
        check_key(key)
        record = await registry.store.claim(key, owner=registry.owner)
        try:
            session = RecordingSession.from_state(
                self._host(),
                record.data,
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
        except InvalidRequestError:
            await registry.store.release(key, owner=registry.owner)  # not ours to resume: give it back
            raise
        session._key = key
        registry.track(session, release_at_close=True)
        return session

    async def recover_sessions(self, *, adopt: bool = False, limit: int | None = None) -> RecoveryReport:
        """Take over the sessions of every owner whose lease expired; stop them (default) or adopt them.

        See :mod:`agora_recording._recovery` for what happens to each kind of session; the returned
        :class:`RecoveryReport` lists them by outcome. ``limit`` caps how many records are taken in this call.
        Two processes calling this at once never both act on one session. Raises
        :class:`SessionStoreUnavailableError` when the store cannot be reached (nothing was taken, or see the
        store's docstring for an unknown outcome).
        """
        registry = self._need_store("recover_sessions()")
        check_limit(limit)
        records = await registry.store.claim_orphans(owner=registry.owner, limit=limit)
        results: dict[str, RecoveredSession] = {}

        async def settle(record: SessionRecord) -> None:
            if fleet_of(record.key) is not None:
                results[record.key] = await _give_to_fleet(registry, record)
                return
            results[record.key] = await self._recover_one(registry, record, adopt=adopt)

        async with anyio.create_task_group() as group:
            for record in records:
                group.start_soon(settle, record)
        report = RecoveryReport(owner=registry.owner, sessions=tuple(results[key] for key in sorted(results)))
        logger.info(
            "agora sessions recovered stopped=%d already_gone=%d orphans=%d failed=%d adopted=%d supervised=%d",
            len(report.stopped),
            len(report.already_gone),
            len(report.orphans),
            len(report.failed),
            len(report.adopted),
            len(report.supervised),
        )
        return report

    async def _recover_one(self, registry: SessionRegistry, record: SessionRecord, *, adopt: bool) -> RecoveredSession:
        try:
            snap = SessionSnapshot.from_json(record.data)
            session = RecordingSession.from_state(self._host(), snap)
        except InvalidRequestError as exc:
            registry.keep_for_recovery(record.key)
            return _entry(record, RecoveryOutcome.FAILED, f"the record cannot be resumed here: {exc}", None)
        session._key = record.key
        registry.track(session)
        state = session.state
        if session.sid is None or state not in (SessionState.RECORDING, SessionState.STOPPING):
            await registry.write(_Gone(session))  # delete the record: there is nothing this client can act on
            if state is SessionState.UNKNOWN:
                logger.warning(
                    "agora recovered session has an unknown start and no sid; it cannot be stopped and may run "
                    "cname=%s uid=%s resource_id=%s key=%s",
                    log_safe(session.cname),
                    log_safe(session.uid),
                    log_safe(session.resource_id),
                    log_safe(record.key),
                )
                reason = "the owner died between sending the start and its answer: no sid, so it cannot be stopped"
                return _entry(record, RecoveryOutcome.ORPHAN, reason, snap)
            return _entry(record, RecoveryOutcome.ALREADY_GONE, f"nothing to stop (state {snap.state.value})", snap)
        if adopt:
            self._keeper.own(session)
            await registry.write(session)
            return _entry(record, RecoveryOutcome.ADOPTED, "keeps recording, owned by this client", snap)
        try:
            response = await session.stop()
        except (Exception, SessionStateError) as exc:
            status = getattr(exc, "status_code", None)
            return _entry(record, RecoveryOutcome.FAILED, f"stop failed: {type(exc).__name__} (status {status})", snap)
        if response.already_stopped:
            return _entry(record, RecoveryOutcome.ALREADY_GONE, "Agora answered that it had stopped already", snap)
        return _entry(record, RecoveryOutcome.STOPPED, "stopped", snap)


async def _give_to_fleet(registry: SessionRegistry, record: SessionRecord) -> RecoveredSession:
    """A supervisor fleet's record: release it again for the fleet's ``resume()`` (which keeps it running)."""
    fleet = fleet_of(record.key)
    try:
        await registry.store.release(record.key, owner=registry.owner)
    except SessionStoreError as exc:
        registry.keep_for_recovery(record.key)  # looks crashed again at close: the fleet's resume takes it then
        return RecoveredSession(key=record.key, outcome=RecoveryOutcome.FAILED, reason=f"release failed: {exc}")
    reason = f"belongs to supervisor fleet {fleet!r}: released for its resume()"
    return RecoveredSession(key=record.key, outcome=RecoveryOutcome.SUPERVISED, reason=reason)


@attrs.frozen
class _Gone:
    """A session seen as gone, so the registry deletes its record (the session itself is left as it was)."""

    session: RecordingSession

    @property
    def key(self) -> str:
        return self.session.key

    @property
    def state(self) -> SessionState:
        return SessionState.STOPPED

    @property
    def cname(self) -> str:
        return self.session.cname

    @property
    def uid(self) -> str:
        return self.session.uid

    def _take_snapshot(self) -> SessionSnapshot:
        return self.session._take_snapshot()
