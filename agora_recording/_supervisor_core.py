"""The supervisor's machinery: jobs (start, verify, restart, stop) and what it does with each query answer.

:class:`SupervisorCore` is the base of :class:`~agora_recording.RecordingSupervisor`, which holds the state and
the public methods; this module holds the state transitions of one :class:`RecordingHandle` (see its diagram).
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import Any

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from agora_recording._client import CloudRecordingClient
from agora_recording._clock import Clock
from agora_recording._errors import (
    AgoraError,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
)
from agora_recording._session import RecordingSession, SessionState
from agora_recording._supervisor_events import EventHub, EventKind, SupervisorEvent
from agora_recording._supervisor_handle import MONITORED, HandleState, RecordingHandle
from agora_recording._supervisor_monitor import Scheduler
from agora_recording._supervisor_persist import FleetRecords
from agora_recording.models._enums import RecordingStatus
from agora_recording.models._requests import AcquireClientRequest
from agora_recording.models._responses import QueryResponse

__all__ = ["SupervisorCore"]

logger = logging.getLogger("agora_recording")

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # phase offsets k * golden (mod 1) spread due times evenly
LATE_SLACK = 0.1  # a monitoring query up to 10% of an interval late keeps its slot (see _schedule_next)
_TRANSIENT_RETRY = 5.0  # a monitoring query that failed for another reason is repeated this much later
# RecordingSession.stop(retries=...) where the session offers it (a per-call override), else its own policy.
_ONE_STOP_ATTEMPT: dict[str, Any] = (
    {"retries": 0} if "retries" in inspect.signature(RecordingSession.stop).parameters else {}
)


class SupervisorCore:
    """Internal base of RecordingSupervisor: the state transitions; the subclass sets every attribute."""

    _client: CloudRecordingClient
    _clock: Clock
    _sleep: Any
    _interval: float
    _max_restarts: int
    _restart_delays: tuple[float, ...]
    _reset_after: float
    _failover_delays: tuple[float, ...]
    _failover_window: float
    _verify_timeout: float
    _hub: EventHub
    _handles: dict[int, RecordingHandle]
    _by_sid: dict[str, RecordingHandle]
    _by_uid: dict[tuple[str, str], RecordingHandle]
    _scheduler: Scheduler
    _phase: int
    _tg: TaskGroup | None
    _monitor_scope: anyio.CancelScope | None
    _fleet: FleetRecords | None

    def _forget_sid(self, handle: RecordingHandle) -> None:
        sid = handle.sid
        if sid is not None and self._by_sid.get(sid) is handle:
            del self._by_sid[sid]

    # -- events -----------------------------------------------------------------------------------------------------

    def _emit(self, kind: EventKind, handle: RecordingHandle, *, reason: str | None = None, **details: Any) -> None:
        session = handle._session
        sid = details.pop("sid", session.sid if session is not None else None)
        uid = details.pop("uid", session.uid if session is not None else handle.uid)
        event = SupervisorEvent(
            kind=kind,
            cname=handle.cname,
            uid=uid,
            sid=sid,
            role="backup" if handle._role == "backup" else "primary",
            restarts=handle._restarts,
            at=self._clock(),
            seq=self._hub.next_seq(),
            reason=reason,
            details=details,
        )
        logger.info(
            "agora supervisor event=%s role=%s restarts=%d reason=%s", kind, event.role, handle._restarts, reason
        )
        if self._fleet is not None:
            self._fleet.changed(handle)
        self._hub.publish(event)

    def _note_files(self, handle: RecordingHandle, files: tuple[str, ...]) -> None:
        if files and files != handle._files:
            handle._files = files
            self._emit("files", handle, files=files)

    # -- jobs: start, verify, restart -------------------------------------------------------------------------------

    def _spawn_job(self, handle: RecordingHandle, func: Any, *args: Any) -> None:
        assert self._tg is not None
        done = handle._job_done = anyio.Event()
        scope = handle._job_scope = anyio.CancelScope()

        async def job() -> None:
            try:
                with scope:
                    await func(*args)
            finally:
                if handle._job_scope is scope:
                    handle._job_scope = None
                done.set()

        self._tg.start_soon(job)

    async def _run_attempts(self, handle: RecordingHandle, reason: str | None = None) -> None:
        """Start (or restart) until one recording is verified, the restarts run out, or a refusal is final."""
        while True:
            if handle._attempts > 0:
                if handle._consecutive >= self._max_restarts:
                    self._fail(handle, f"{reason}; gave up after {handle._consecutive} restart(s) in a row")
                    return
                delay = self._restart_delays[min(handle._consecutive, len(self._restart_delays) - 1)]
                handle._consecutive += 1
                handle._restarts += 1
                handle._flip_uid()
                handle._set_state(HandleState.RESTARTING)
                if delay > 0:
                    await self._sleep(delay)
            handle._attempts += 1
            outcome = await self._attempt(handle)
            if outcome is None:
                return
            reason, permanent = outcome
            if permanent:
                self._fail(handle, reason)
                return

    async def _attempt(self, handle: RecordingHandle) -> tuple[str, bool] | None:
        """One acquire + start + verify. None on success, else (reason, permanent)."""
        request = handle._acquire_request
        if handle._role == "backup" and handle._primary is not None and handle._primary.resource_id is not None:
            base = request or AcquireClientRequest()
            request = attrs.evolve(base, exclude_resource_ids=(handle._primary.resource_id,))
        try:
            session = self._client.session(
                cname=handle.cname,
                uid=handle.uid,
                mode=handle.mode,
                client_request=handle._request_for(),
                acquire_request=request,
                **handle._options,
            )
            handle._session = session
            # the unit's record names the session before the session exists (False: another process took it over)
            if self._fleet is not None and not await self._fleet.bind(handle, session):
                return None
            await session.acquire()
            backup = handle._backup
            if backup is not None and backup._attempts == 0 and backup._job_scope is None:
                self._spawn_job(backup, self._run_attempts, backup)  # it excludes this resourceId
            await session.start()
        except (InvalidRequestError, AuthenticationError) as exc:
            handle._last_error = exc
            return f"start refused ({type(exc).__name__}: {exc})", True
        except AgoraError as exc:
            handle._last_error = exc
            logger.warning("agora supervisor start failed role=%s error=%s", handle._role, type(exc).__name__)
            return f"start failed ({type(exc).__name__})", False
        sid = session.sid
        assert sid is not None
        self._by_sid[sid] = handle
        handle._signal_reason = None
        failure: AgoraError | None = None
        with anyio.CancelScope() as verify:
            handle._verify_scope = verify
            try:
                verified = await session.wait_until_recording(self._verify_timeout)
            except AgoraError as exc:  # RecordingFailedError, or an error the verification does not ride out
                failure = exc
            finally:
                handle._verify_scope = None
        if failure is not None or verify.cancelled_caught:
            self._forget_sid(handle)
            handle._finished = session
            if failure is not None:
                handle._last_error = failure
                self._retire(session)  # it may run (stuck, or never answered), or it exited: stop it to be sure
                return f"verification failed ({type(failure).__name__}: {failure})", False
            self._retire(session)  # a notification said it ended; make sure (stop answers 49 or 404 if so)
            return f"{handle._signal_reason} while verifying", False
        now = self._clock()
        handle._last_query = verified
        handle._verified_at = now
        handle._lost_since = None
        handle._exit_reported = handle._failover_reported = False
        handle._agora_uid = None
        handle._gen += 1
        handle._set_state(HandleState.RECORDING)
        previous, handle._ran = handle._ran, (sid, session.uid)
        if previous is not None:
            self._emit("restarted", handle, previous_sid=previous[0], previous_uid=previous[1])
        else:
            self._emit("started", handle)
        self._note_files(handle, tuple(f.filename for f in verified.files))
        self._phase += 1
        # Its own slot on the interval's grid (k * golden ratio, mod 1): the fleet's queries are spread evenly
        # whenever the recordings were verified. The first query comes at least 5% of an interval from now.
        slot = self._interval * ((self._phase * _GOLDEN) % 1.0)
        earliest = now + 0.05 * self._interval
        handle._next_due = earliest + (slot - earliest) % self._interval
        self._scheduler.schedule(handle, handle._next_due)
        return None

    def _ended(self, handle: RecordingHandle, reason: str, **details: Any) -> None:
        """The monitored recording ended without a stop: say so and restart it."""
        now = self._clock()
        self._emit("exited", handle, reason=reason, **details)
        self._forget_sid(handle)
        handle._gen += 1
        handle._token += 1
        if handle._verified_at is not None and now - handle._verified_at >= self._reset_after:
            handle._consecutive = 0
        if handle._session is not None:
            self._retire(handle._session)  # ended, or said to be: the stop makes sure (49 or 404 if it is)
        handle._finished = handle._session  # being stopped by _retire: not stopped again on remove
        handle._set_state(HandleState.RESTARTING)
        self._spawn_job(handle, self._run_attempts, handle, reason)

    def _fail(self, handle: RecordingHandle, reason: str) -> None:
        handle._failure_reason = reason
        handle._gen += 1
        handle._token += 1
        self._forget_sid(handle)
        handle._set_state(HandleState.FAILED)
        logger.warning("agora supervisor gave up role=%s restarts=%d", handle._role, handle._restarts)
        self._emit("failed", handle, reason=reason)

    def _retire(self, session: RecordingSession) -> None:
        """Stop a replaced recording in the background (shielded), so no session is left believed running.

        One attempt when the session takes ``retries=`` (the task is already known gone or exiting: 49 or 404 is
        the expected answer and means stopped); the session's own retries otherwise.
        """
        assert self._tg is not None
        if session.state not in (SessionState.RECORDING, SessionState.STOPPING):
            return

        async def stop() -> None:
            with anyio.CancelScope(shield=True):
                try:
                    await session.stop(**_ONE_STOP_ATTEMPT)
                except AgoraError as exc:
                    logger.warning("agora supervisor could not stop a replaced recording: %s", type(exc).__name__)

        self._tg.start_soon(stop)

    async def _stop_handle(self, handle: RecordingHandle) -> None:
        if self._handles.get(id(handle)) is not handle:
            return
        del self._handles[id(handle)]  # at once: a second remove() of the same handle does nothing
        if self._fleet is not None:  # its record goes first: a crash mid-stop leaves no unit to resume
            await self._fleet.removed(handle)
        was_failed = handle._state is HandleState.FAILED
        handle._gen += 1
        handle._token += 1
        if not was_failed:
            handle._set_state(HandleState.STOPPING)
        if handle._job_scope is not None:
            handle._job_scope.cancel()
        if handle._job_done is not None:
            await handle._job_done.wait()
        session = handle._session
        details: dict[str, Any] = {}
        reason = None
        if session is not None and session is handle._finished:
            details["sid"] = None  # it ended (or is being stopped) already: nothing to stop here
        elif session is not None and session.state in (SessionState.RECORDING, SessionState.STOPPING):
            try:
                response = await session.stop()
            except AgoraError as exc:
                handle._last_error = exc
                reason = f"stop failed ({type(exc).__name__}); the recording may still run"
            else:
                details = {
                    "files": tuple(f.filename for f in response.files),
                    "already_stopped": response.already_stopped,
                    "no_recorded_data": response.no_recorded_data,
                }
                if details["files"]:
                    handle._files = details["files"]
        self._forget_sid(handle)
        for one in handle._uids:
            if self._by_uid.get((handle.cname, one)) is handle:
                del self._by_uid[(handle.cname, one)]
        if not was_failed:
            handle._set_state(HandleState.STOPPED)
            self._emit("stopped", handle, reason=reason, **details)

    # -- monitoring -------------------------------------------------------------------------------------------------

    async def _monitor(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.CancelScope() as scope:
            self._monitor_scope = scope
            await self._scheduler.run(task_status=task_status)

    async def _query(self, handle: RecordingHandle, gen: int) -> None:
        session = handle._session
        if gen != handle._gen or session is None or session.resource_id is None or session.sid is None:
            return
        try:
            # retries=0: a 404 is re-queried by this supervisor (5/10/15 s), so a worker is never held by a backoff
            response = await self._client.query(
                resource_id=session.resource_id, sid=session.sid, mode=session.mode, retries=0
            )
        except NotFoundError as exc:
            if gen == handle._gen and handle._state in MONITORED:
                if exc.worker_not_found:
                    self._lost(handle, exc)
                else:
                    handle._last_error = exc
                    self._schedule_next(handle)
            return
        except AgoraError as exc:
            if gen == handle._gen and handle._state in MONITORED:
                handle._last_error = exc
                self._scheduler.schedule(handle, self._clock() + _TRANSIENT_RETRY)
            return
        if gen == handle._gen and handle._state in MONITORED:
            self._answered(handle, response)

    def _lost(self, handle: RecordingHandle, exc: NotFoundError) -> None:
        now = self._clock()
        handle._last_error = exc
        if handle._lost_since is None:
            handle._lost_since = now
            handle._lost_count = 0
            handle._set_state(HandleState.RECOVERING)
        lost_for = now - handle._lost_since
        if handle._exit_reported:
            self._ended(handle, "exit_reported")
        elif lost_for >= self._failover_window:
            self._ended(handle, "not_found", lost_for=lost_for)
        else:
            delay = self._failover_delays[min(handle._lost_count, len(self._failover_delays) - 1)]
            handle._lost_count += 1
            self._scheduler.schedule(handle, min(now + delay, handle._lost_since + self._failover_window))

    def _answered(self, handle: RecordingHandle, response: QueryResponse) -> None:
        handle._last_query = response
        status = response.status
        if status == RecordingStatus.EXITED_ABNORMALLY:
            self._ended(handle, "status_20", status=20)
            return
        if isinstance(status, int) and RecordingStatus.IN_PROGRESS < status < RecordingStatus.EXITED_ABNORMALLY:
            self._ended(handle, f"status_{int(status)}", status=int(status))
            return
        if handle._lost_since is not None:  # found again after 404s: Agora's failover moved it
            lost_for = self._clock() - handle._lost_since
            handle._lost_since = None
            handle._set_state(HandleState.RECORDING)
            if not handle._failover_reported:
                self._emit("failover", handle, reason="not_found", lost_for=lost_for, new_uid=handle._agora_uid)
            handle._failover_reported = False
        self._note_files(handle, tuple(f.filename for f in response.files))
        self._schedule_next(handle)

    def _schedule_next(self, handle: RecordingHandle) -> None:
        """The handle's next slot at least ``(1 - LATE_SLACK)`` of an interval after this query.

        Slots are a fixed grid per recording, so the fleet's queries stay spread evenly and the long-run rate is
        exactly one per recording per interval. A query that ran a little late (the budget or the limiter was
        busy) keeps its next slot; one that ran later than ``LATE_SLACK`` of an interval skips to the slot after,
        rather than catching up: no recording is queried twice within ``(1 - LATE_SLACK) * query_interval``, and
        a sustained overload sheds monitoring load instead of piling it up.
        """
        now = self._clock()
        due = handle._next_due + self._interval
        floor = now + self._interval * (1.0 - LATE_SLACK)
        if due < floor:
            due += math.ceil((floor - due) / self._interval) * self._interval
        handle._next_due = due
        self._scheduler.schedule(handle, due)
