"""Across processes: a fleet supervisor resumes what a crashed (or handed-off) supervisor of its fleet left.

:class:`FleetSide` is a base of :class:`~agora_recording.RecordingSupervisor` with :meth:`~FleetSide.resume` and
:meth:`~FleetSide.hand_off`; the records they read are written by :mod:`agora_recording._supervisor_persist`.

``resume()`` lists the store, then **claims** (:meth:`SessionStore.claim`, atomic: of two resumers exactly one
wins each) every unit record of its fleet whose owner is dead (lease lapsed: a crash, SIGKILL, a hung process) or
that was released (a hand-off), then the session record each handle names, and rebuilds the handles. Per handle,
by what the store says of its current session:

==========================  ====================================================================================
the session                 what happens (``ResumeOutcome``)
==========================  ====================================================================================
recording (has a sid)       ``adopted``: kept as it is (no new start), queried at once through the scheduler
                            (``monitor_concurrency`` at a time, so the limiter stays fair), then monitored
                            like any other; a query that finds it ended restarts it with the alternate uid
ended, or no record         ``restarted``: started again with the *other* uid of the pair (Agora's practice:
                            the old recorder, if it somehow runs, is not kicked out)
never sent (new/acquired)   ``started``: started now with the same uid (nothing of it ran)
start of unknown outcome    ``unknown_start``: the process died between sending the start and its answer, so
(``starting``, no sid)      no sid: that recording can be neither queried nor stopped. It is started again
                            **with the same uid**: Agora refuses a second task for one cname + uid while the
                            first runs (code 53 "task conflict"), so a success shows nothing of it runs; a 53
                            shows it does: an ``"orphan"`` event (and a WARNING) names its cname, uid and
                            resourceId, the handle restarts with the alternate uid, and, when a
                            ``WebhookReceiver(client=...)`` feeds the client, the orphan is stopped as soon as
                            a notification brings its sid. Otherwise it runs until its ``maxIdleTime`` (the
                            channel empties) or ``maxRecordingHour``
the handle had given up     ``gave_up``: rebuilt FAILED (nothing runs); ``remove()`` deletes its record
==========================  ====================================================================================

A unit whose records cannot be taken or read (a live owner took a session record meanwhile, the store failed, a
record of another App ID, the same uid already supervised here) is ``not_resumed``: what was claimed is released
again for a later ``resume()``. Session records of the fleet that no unit names (a ``remove()`` or a replaced
recording's stop cut short by the crash) are settled like ``recover_sessions()`` settles them: stopped, or
reported (``ResumeReport.swept``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import anyio
import attrs

from agora_recording._errors import APIStatusError, InvalidRequestError, SessionStateError, log_safe
from agora_recording._notifications import outcome_unknown, owner_gone
from agora_recording._recovery import RecoveredSession
from agora_recording._session import RecordingSession
from agora_recording._session_state import LIVE_STATES, SessionState
from agora_recording._store import (
    SessionNotFoundError,
    SessionOwnershipError,
    SessionRecord,
    SessionStoreError,
)
from agora_recording._supervisor_core import _GOLDEN, SupervisorCore
from agora_recording._supervisor_handle import HandleState, RecordingHandle, RequestFactory
from agora_recording._supervisor_persist import FleetRecords
from agora_recording._supervisor_records import HandleData, UnitData, is_session_key, is_unit_key, read_unit
from agora_recording.models._enums import Mode
from agora_recording.models._requests import AcquireClientRequest, ClientRequest
from agora_recording.models._rules import check_mode

__all__ = ["FleetSide", "ResumeOutcome", "ResumeReport", "ResumedHandle"]

logger = logging.getLogger("agora_recording")

_TASK_CONFLICT = 53  # Agora: a task of this cname + uid is running already


class ResumeOutcome(str, Enum):
    """What :meth:`RecordingSupervisor.resume` did with one handle (see :mod:`agora_recording._supervisor_resume`)."""

    ADOPTED = "adopted"
    """Its recording was running: kept (no new start) and queried at once."""
    RESTARTED = "restarted"
    """Its recording had ended or vanished: restarted with the alternate uid."""
    STARTED = "started"
    """Its start had not been sent: started now."""
    UNKNOWN_START = "unknown_start"
    """Its start's outcome was unknown (no sid): started again with the same uid (a code 53 means it runs)."""
    GAVE_UP = "gave_up"
    """It had ended FAILED: rebuilt FAILED, nothing runs."""
    NOT_RESUMED = "not_resumed"
    """It could not be taken or read (``reason``); its records were released for a later resume."""


@attrs.frozen(kw_only=True)
class ResumedHandle:
    """One handle :meth:`RecordingSupervisor.resume` acted on.

    ``key`` (the unit record's store key), ``outcome``, ``reason``, ``cname``, ``uid`` (the handle's uid when it
    was resumed: an adopted recording's; a restart then switches to the other one), ``role``, ``sid`` (the
    adopted recording's, else ``None``), ``previous_owner`` (the owner id that left it; ``None``: released, by a
    hand-off or by a ``recover_sessions()``) and ``handle`` (the :class:`RecordingHandle`, ``None`` when not resumed).
    """

    key: str
    outcome: ResumeOutcome
    reason: str
    cname: str | None = None
    uid: str | None = None
    role: str = "primary"
    sid: str | None = None
    previous_owner: str | None = None
    handle: RecordingHandle | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class ResumeReport:
    """What one :meth:`RecordingSupervisor.resume` call did.

    ``fleet``, ``owner`` (this client's owner id), ``entries`` (one :class:`ResumedHandle` per handle, primaries
    and backups, sorted by key), ``held`` (unit records a live supervisor holds: left alone) and ``swept`` (the
    fleet's session records no unit named, settled as ``recover_sessions()`` does).
    """

    fleet: str
    owner: str
    entries: tuple[ResumedHandle, ...] = ()
    held: int = 0
    swept: tuple[RecoveredSession, ...] = ()

    @property
    def handles(self) -> tuple[RecordingHandle, ...]:
        """The handles now supervised by this supervisor (every outcome but ``not_resumed``)."""
        return tuple(e.handle for e in self.entries if e.handle is not None)

    def of(self, outcome: ResumeOutcome | str) -> tuple[ResumedHandle, ...]:
        """The entries with ``outcome``."""
        wanted = ResumeOutcome(outcome)
        return tuple(e for e in self.entries if e.outcome is wanted)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable summary: counts per outcome, ``held``, and the entries without their handles."""
        counts = {outcome.value: len(self.of(outcome)) for outcome in ResumeOutcome}
        entries = [
            {f: getattr(e, f) for f in ("key", "reason", "cname", "uid", "role", "sid", "previous_owner")}
            | {"outcome": e.outcome.value}
            for e in self.entries
        ]
        return {
            "fleet": self.fleet,
            "owner": self.owner,
            "counts": counts,
            "held": self.held,
            "entries": entries,
            "swept": [s.to_json() for s in self.swept],
        }


@attrs.define
class _Options:
    request: ClientRequest | RequestFactory
    acquire: AcquireClientRequest | None
    session: dict[str, Any]


class FleetSide(SupervisorCore):
    """Internal base of RecordingSupervisor: ``resume()`` and ``hand_off()`` (see the module docstring)."""

    _running: bool
    _check_idle: Callable[[Mode, ClientRequest], None]
    _register: Callable[[RecordingHandle], None]
    _uid_pair: Callable[..., tuple[str, ...]]

    def _need_fleet(self, what: str) -> FleetRecords:
        if self._client.session_store is None:
            raise InvalidRequestError("session_store", f"{what} needs CloudRecordingClient(..., session_store=store)")
        if self._fleet is None:
            raise InvalidRequestError("fleet", f"{what} needs RecordingSupervisor(client, fleet='name')")
        if not self._running:
            raise SessionStateError("the supervisor is not running: use 'async with RecordingSupervisor(...)'")
        return self._fleet

    # -- hand-off ---------------------------------------------------------------------------------------------------

    async def hand_off(self) -> tuple[RecordingHandle, ...]:
        """Stop supervising without stopping the recordings, for the fleet's next :meth:`resume` (a rolling deploy).

        Shielded from cancellation. Monitoring stops, starts in progress are cancelled (a start already sent is
        stopped by its session, and the next supervisor restarts that handle), every recording that may run is
        handed off (its session record released) and every unit record is released, all before this returns
        (the releases that failed are retried when the client closes; if they still fail the records look
        crashed, which a resume takes as well). Each handle ends ``handed_off`` with a ``"handed_off"`` event; the
        supervisor takes no new ``add()``, and leaving its ``async with`` stops nothing. Returns the handles.
        Raises :class:`InvalidRequestError` without a ``session_store`` or a ``fleet``.
        """
        fleet = self._need_fleet("hand_off()")
        with anyio.CancelScope(shield=True):
            self._running = False
            if self._monitor_scope is not None:
                self._monitor_scope.cancel()
            handles = tuple(self._handles.values())
            for handle in handles:
                handle._gen += 1
                handle._token += 1
                if handle._job_scope is not None:
                    handle._job_scope.cancel()
            for handle in handles:
                if handle._job_done is not None:
                    await handle._job_done.wait()
                session = handle._session
                running = session is not None and session.state in (*LIVE_STATES, SessionState.UNKNOWN)
                if session is not None and session is not handle._finished and running:
                    session.snapshot()  # the client stops owning it; the registry releases its record
            await fleet.hand_off(handles)
            for handle in handles:
                self._unregister(handle)
                handle._set_state(HandleState.HANDED_OFF)
                self._emit("handed_off", handle)
        logger.info("agora supervisor handed off fleet=%s handles=%d", fleet.fleet, len(handles))
        return handles

    def _taken_over(self, primary: RecordingHandle) -> None:
        """Another process resumed ``primary``'s unit: give up its handles without stopping anything."""
        for handle in (primary, primary._backup):
            if handle is None or self._handles.get(id(handle)) is not handle:
                continue
            logger.warning("agora supervisor: another process took this unit over cname=%s", log_safe(handle.cname))
            if handle._job_scope is not None and handle is not primary:
                handle._job_scope.cancel()
            handle._gen += 1
            handle._token += 1
            self._unregister(handle)
            if handle._session is not None:
                self._client.keeper.release(handle._session)
            handle._set_state(HandleState.HANDED_OFF)
            self._emit("handed_off", handle, reason="taken_over")

    def _unregister(self, handle: RecordingHandle) -> None:
        self._handles.pop(id(handle), None)
        self._forget_sid(handle)
        for one in handle._uids:
            if self._by_uid.get((handle.cname, one)) is handle:
                del self._by_uid[(handle.cname, one)]

    # -- resume -----------------------------------------------------------------------------------------------------

    async def resume(
        self,
        *,
        client_request: ClientRequest | RequestFactory,
        acquire_request: AcquireClientRequest | None = None,
        **session_options: Any,
    ) -> ResumeReport:
        """Take over this fleet's handles that a crashed or handed-off supervisor left; returns a :class:`ResumeReport`.

        The store holds no secret, so give the start request again: ``client_request`` is a
        :class:`ClientRequest`, or a callable ``(cname, uid) -> ClientRequest`` called for each start of a resumed
        handle (a fresh token per uid, say). ``acquire_request`` and ``session_options`` are as for :meth:`add`.
        What happens to each handle is tabled in :mod:`agora_recording._supervisor_resume`; from then on a resumed
        handle is like one this supervisor started (restarts, failover, events, stopped on exit). Each gets a
        ``"resumed"`` event (``reason``: the outcome; ``details["previous_owner"]``, ``details["key"]``).

        Only records whose owner's lease has lapsed, or that were released, are taken: call it again later for a
        fleet whose old process may still live (``ResumeReport.held`` counts those). Two supervisors resuming one
        fleet at once each take a part; none is taken twice. Raises :class:`InvalidRequestError` for a bad
        argument or without a ``session_store`` or ``fleet``, :class:`SessionStateError` when not running, and
        :class:`SessionStoreError` when the store cannot be listed (nothing was taken).
        """
        fleet = self._need_fleet("resume()")
        if not isinstance(client_request, ClientRequest) and not callable(client_request):
            raise InvalidRequestError("client_request", "must be a ClientRequest or a callable (cname, uid)")
        if acquire_request is not None and not isinstance(acquire_request, AcquireClientRequest):
            raise InvalidRequestError("acquire_request", "must be an AcquireClientRequest")
        for name in ("verify", "verify_timeout", "acquire_request", "client_request"):
            if name in session_options:
                raise InvalidRequestError(name, "is set by the supervisor")
        # the options are checked once, on a session that is never started
        check_request = client_request if isinstance(client_request, ClientRequest) else None
        self._client.session(cname="resume-check", uid="1", mode="mix", client_request=check_request, **session_options)
        options = _Options(client_request, acquire_request, dict(session_options))
        registry = fleet.registry
        records = await registry.store.records()
        units = [r for r in records if is_unit_key(r.key, fleet.fleet) and r.owner != registry.owner]
        named = _named_sessions(records, fleet.fleet)
        entries: list[ResumedHandle] = []
        held = 0
        for record in units:
            try:
                claimed = await registry.store.claim(record.key, owner=registry.owner)
            except SessionOwnershipError:
                held += 1
                continue
            except SessionNotFoundError:
                continue  # removed (or taken and removed) since the listing
            except SessionStoreError as exc:
                entries.append(ResumedHandle(key=record.key, outcome=ResumeOutcome.NOT_RESUMED, reason=_err(exc)))
                continue
            entries.extend(await self._resume_unit(fleet, claimed, record.owner, options))
        swept = await self._sweep(fleet, records, named)
        report = ResumeReport(
            fleet=fleet.fleet,
            owner=registry.owner,
            entries=tuple(sorted(entries, key=lambda e: (e.key, e.role))),
            held=held,
            swept=swept,
        )
        counts = report.to_json()["counts"]
        logger.info("agora supervisor resumed fleet=%s %s held=%d swept=%d", fleet.fleet, counts, held, len(swept))
        return report

    async def _resume_unit(
        self, fleet: FleetRecords, record: SessionRecord, previous: str | None, options: _Options
    ) -> list[ResumedHandle]:
        store, me = fleet.registry.store, fleet.registry.owner
        taken: list[str] = [record.key]
        try:
            unit = read_unit(record.data, fleet=fleet.fleet, app_id=self._client.app_id)
            mode = check_mode(unit.mode)
            parts = [(unit.primary, "primary")] + ([(unit.backup, "backup")] if unit.backup is not None else [])
            for data, _ in parts:
                self._uid_pair(unit.cname, data.uids[0], data.uids[1] if len(data.uids) > 1 else None, "uid", "uid")
            sessions: list[RecordingSession | None] = []
            for data, _ in parts:
                sessions.append(await self._claim_session(fleet, data, options, taken))
        except (InvalidRequestError, SessionStoreError) as exc:
            for key in taken:  # give it all back, for a later resume
                try:
                    await store.release(key, owner=me)
                except SessionStoreError:
                    logger.warning("agora supervisor could not release key=%s after a failed resume", log_safe(key))
            logger.warning("agora supervisor could not resume key=%s: %s", log_safe(record.key), _err(exc))
            return [ResumedHandle(key=record.key, outcome=ResumeOutcome.NOT_RESUMED, reason=_err(exc))]
        primary = _rebuild(unit, unit.primary, mode, options, role="primary", primary=None)
        handles = [primary]
        if unit.backup is not None:
            backup = _rebuild(unit, unit.backup, mode, options, role="backup", primary=primary)
            primary._backup = backup
            handles.append(backup)
        for handle in handles:
            self._register(handle)
        fleet.add_unit(primary, key=record.key)
        entries = []
        for handle, (data, _), session in zip(handles, parts, sessions, strict=True):
            outcome, reason = await self._continue(fleet, handle, data, session)
            entries.append(
                ResumedHandle(
                    key=record.key,
                    outcome=outcome,
                    reason=reason,
                    cname=handle.cname,
                    uid=handle.uid,
                    role=handle.role,
                    sid=handle.sid if outcome is ResumeOutcome.ADOPTED else None,
                    previous_owner=previous,
                    handle=handle,
                )
            )
            self._emit("resumed", handle, reason=outcome.value, key=record.key, previous_owner=previous)
        return entries

    async def _claim_session(
        self, fleet: FleetRecords, data: HandleData, options: _Options, taken: list[str]
    ) -> RecordingSession | None:
        """The handle's current session, claimed and rebuilt; ``None`` when it has none or its record is gone."""
        key = data.session_key
        if key is None:
            return None
        try:
            record = await fleet.registry.store.claim(key, owner=fleet.registry.owner)
        except SessionNotFoundError:
            return None
        taken.append(key)
        rebuild = {k: v for k, v in options.session.items() if k != "use_start_parameter"}  # it will not start
        session = RecordingSession.from_state(self._client, record.data, acquire_request=options.acquire, **rebuild)
        session._key = key
        return session

    async def _continue(
        self, fleet: FleetRecords, handle: RecordingHandle, data: HandleData, session: RecordingSession | None
    ) -> tuple[ResumeOutcome, str]:
        registry = fleet.registry
        if data.state == HandleState.FAILED.value:
            handle._failure_reason = data.failure_reason or "gave up (before it was resumed)"
            handle._set_state(HandleState.FAILED)
            if session is not None:
                await _drop(fleet, session)
            return ResumeOutcome.GAVE_UP, handle._failure_reason
        state = session.state if session is not None else None
        if session is not None and state in LIVE_STATES and session.sid is not None:
            registry.track(session)
            self._client.keeper.own(session)  # stopped by the client's drain too, like the ones it started
            self._adopt(handle, session)
            return ResumeOutcome.ADOPTED, "its recording was running: kept, queried at once"
        if session is not None and state is SessionState.UNKNOWN:
            registry.track(session)
            handle._uid_index = handle._uids.index(session.uid) if session.uid in handle._uids else 0
            handle._set_state(HandleState.RESTARTING)
            self._spawn_job(handle, self._probe, handle, session)
            return ResumeOutcome.UNKNOWN_START, "its start's outcome was unknown (no sid): started again, same uid"
        if session is not None:
            await _drop(fleet, session)  # never sent (new, acquired) or ended: nothing of it runs
        if session is not None and state in (SessionState.NEW, SessionState.ACQUIRED):
            handle._attempts = 0
        if handle._attempts == 0:
            self._spawn_job(handle, self._run_attempts, handle)
            return ResumeOutcome.STARTED, "its start had not been sent: started now"
        handle._set_state(HandleState.RESTARTING)
        self._spawn_job(handle, self._run_attempts, handle, "resumed: its recording had ended")
        return ResumeOutcome.RESTARTED, "its recording had ended or vanished: restarted with the alternate uid"

    def _adopt(self, handle: RecordingHandle, session: RecordingSession) -> None:
        sid = session.sid
        assert sid is not None
        now = self._clock()
        handle._session = session
        handle._uid_index = handle._uids.index(session.uid) if session.uid in handle._uids else 0
        handle._attempts = max(handle._attempts, 1)
        handle._ran = (sid, session.uid)
        handle._verified_at = now
        handle._gen += 1
        self._by_sid[sid] = handle
        handle._set_state(HandleState.RECORDING)
        # Queried now (the scheduler's workers take them monitor_concurrency at a time), then on its own slot of
        # the interval, 0.9 to 1.9 intervals later: no recording is queried twice within 0.9 query_interval.
        self._phase += 1
        slot = self._interval * ((self._phase * _GOLDEN) % 1.0)
        floor = now + 0.9 * self._interval
        handle._next_due = floor + (slot - floor) % self._interval - self._interval
        self._scheduler.schedule(handle, now)

    async def _probe(self, handle: RecordingHandle, stale: RecordingSession) -> None:
        """A start of unknown outcome: start again with the same uid; Agora's code 53 says the old one runs."""
        handle._attempts += 1
        outcome = await self._attempt(handle)
        error = handle._last_error
        if outcome is not None and isinstance(error, APIStatusError) and error.code == _TASK_CONFLICT:
            logger.warning(
                "agora supervisor: a recording whose start's outcome was unknown runs and cannot be stopped "
                "(no sid) cname=%s uid=%s resource_id=%s; restarting with the alternate uid",
                log_safe(stale.cname),
                log_safe(stale.uid),
                log_safe(stale.resource_id),
            )
            self._emit("orphan", handle, sid=None, uid=stale.uid, reason="task_conflict", resource_id=stale.resource_id)
            await outcome_unknown(stale, self._client.keeper)  # with a WebhookReceiver(client=...): its sid, when
            owner_gone(stale, self._client.keeper)  # notified, is stopped at once
        if self._fleet is not None:
            await _drop(self._fleet, stale)
        if outcome is None:
            return
        reason, permanent = outcome
        if permanent:
            self._fail(handle, reason)
            return
        await self._run_attempts(handle, reason)

    async def _sweep(
        self, fleet: FleetRecords, records: list[SessionRecord], named: set[str]
    ) -> tuple[RecoveredSession, ...]:
        """Settle the fleet's session records that no unit names (a stop cut short by the crash)."""
        registry = fleet.registry
        loose = [
            r
            for r in records
            if is_session_key(r.key, fleet.fleet) and r.key not in named and r.owner != registry.owner
        ]
        results: list[RecoveredSession] = []

        async def settle(key: str) -> None:
            try:
                record = await registry.store.claim(key, owner=registry.owner)
            except SessionStoreError:
                return  # a live owner's, or gone: not loose
            results.append(await self._client._recover_one(registry, record, adopt=False))

        async with anyio.create_task_group() as tg:
            for record in loose:
                tg.start_soon(settle, record.key)
        return tuple(sorted(results, key=lambda r: r.key))


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _named_sessions(records: list[SessionRecord], fleet: str) -> set[str]:
    """The session keys that the fleet's unit records (anyone's) name."""
    named: set[str] = set()
    for record in records:
        if not is_unit_key(record.key, fleet):
            continue
        for part in ("primary", "backup"):
            value = record.data.get(part)
            key = value.get("session_key") if isinstance(value, Mapping) else None
            if isinstance(key, str):
                named.add(key)
    return named


def _rebuild(
    unit: UnitData,
    data: HandleData,
    mode: Mode,
    options: _Options,
    *,
    role: str,
    primary: RecordingHandle | None,
) -> RecordingHandle:
    handle = RecordingHandle(
        cname=unit.cname,
        uids=data.uids,
        mode=mode,
        client_request=options.request,
        acquire_request=options.acquire,
        options=dict(options.session),
        role=role,
        primary=primary,
    )
    handle._uid_index = data.uid_index
    handle._restarts = data.restarts
    handle._consecutive = data.consecutive
    handle._ran = data.ran
    handle._attempts = 1 if data.started else 0
    return handle


async def _drop(fleet: FleetRecords, session: RecordingSession) -> None:
    """Delete a claimed session record that nothing more can be done about."""
    try:
        await fleet.registry.store.delete(session.key, owner=fleet.registry.owner)
    except SessionStoreError as exc:
        logger.warning("agora supervisor could not delete key=%s: %s", log_safe(session.key), type(exc).__name__)
    fleet.registry._forget(session.key)
