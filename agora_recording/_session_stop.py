"""How a recording session stops: once, shared by concurrent callers, shielded and bounded from its send;
and the clean-up stops after an error, a cancellation or a departed owner."""

from __future__ import annotations

import functools
import logging

import anyio
import anyio.lowlevel

from agora_recording._errors import (
    AlreadyStoppedError,
    APITimeoutError,
    NotFoundError,
    log_safe,
)
from agora_recording._notifications import session_done
from agora_recording._session_calls import RecordingCalls
from agora_recording._session_guard import SendState, guarded, within
from agora_recording._session_host import TimeoutArg
from agora_recording._session_keeper import Exchange
from agora_recording._session_snapshot import HandOff, SessionSnapshot
from agora_recording._session_state import LIVE_STATES, Rare, SessionState
from agora_recording.models._responses import (
    StartResponse,
    StopResponse,
)

logger = logging.getLogger("agora_recording")


class StopSide(RecordingCalls, HandOff):
    """Stopping (a base of :class:`~agora_recording.RecordingSession` that owns the stop's slots)."""

    __slots__ = ("_state",)  # the rest lives in RecordingSession's slots
    _pending: Rare[Exchange[StartResponse] | None] = Rare(None)  # the start exchange, for a stop() that waits
    _stop_lock: Rare[anyio.Lock | None] = Rare(None)

    def snapshot(self) -> SessionSnapshot:
        """The typed hand-off snapshot (no secret: no token, no storage keys) for another process or worker.

        Rebuild it with :meth:`CloudRecordingClient.resume_session`. The clientRequest is not included (it holds
        storage keys); pass it to ``resume_session`` if the resumed session has yet to start.

        Taking a snapshot hands the session off: this client no longer owns it, so closing the client leaves the
        recording running for whoever resumes the snapshot, and its sid is never adopted by a lost start of this
        client. With a session store, the client also releases the session's record there (at once in the
        background, and at the latest when it closes), so another worker can take it by key; ``await
        client.hand_off(rec)`` does the same and waits for the store.
        """
        snapshot = super().snapshot()
        session_done(self, self._client.keeper)
        return snapshot

    def _warn(self, what: str, exc: BaseException | None = None) -> None:
        logger.warning(
            "agora session %s cname=%s uid=%s sid=%s resource_id=%s error=%s status=%s code=%s",
            what,
            log_safe(self._cname),
            log_safe(self._uid),
            log_safe(self._sid),
            log_safe(self._resource_id),
            type(exc).__name__ if exc is not None else None,
            getattr(exc, "status_code", None),
            getattr(exc, "code", None),
        )

    async def stop(
        self, *, async_stop: bool = False, timeout: TimeoutArg = None, retries: int | None = None
    ) -> StopResponse:
        """Stop the recording; idempotent, and concurrent calls share one stop.

        The stop runs in the client's own task: a caller cancelled by any means stops waiting (under anyio or trio
        only before the stop was sent) and the stop goes on. A stop called while the start is in flight waits for
        it, then stops. Once sent, the stop is bounded by ``stop_deadline``, and it retries 429s, 5xx and lost
        answers until that deadline; the wait for a rate-limit permit before it is bounded by ``stop_deadline``
        too (on the real clock). Code 49 (already stopping) or a 404 that outlasts Agora's failover window mean
        stopped: the result has ``already_stopped=True``. Nothing was recorded (code 435):
        ``no_recorded_data=True``. ``timeout`` (per attempt) and ``retries`` override the client's.
        """
        if self._state is SessionState.STOPPED and self._stop_response is not None:
            return self._stop_response
        pending = self._pending
        if self._state is SessionState.STARTING and pending is not None:
            await pending.wait_settled()  # the start first: then there is a sid to stop (or nothing to stop)
            if self._stop_response is not None:  # its starter went away and the client stopped it already
                return self._stop_response
        self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
        return await self._client.keeper.run(
            functools.partial(self._stop_locked, async_stop=async_stop, timeout=timeout, retries=retries),
            what="stop",
            handler=self._stop_abandoned,
            cancel_unsent=False,
        )

    async def _stop_abandoned(self, exchange: Exchange[StopResponse]) -> None:
        if exchange.error is not None:
            self._stop_error = exchange.error
            self._warn("stop failed after its caller went away; the recording may still run", exchange.error)

    async def _stop_locked(
        self, *, async_stop: bool, timeout: TimeoutArg = None, retries: int | None = None
    ) -> StopResponse:
        """The stop exchange (one at a time per session), bounded by ``stop_deadline`` from its first send."""
        if self._stop_lock is None:
            self._stop_lock = anyio.Lock()
        async with self._stop_lock:
            if self._state is SessionState.STOPPED and self._stop_response is not None:
                return self._stop_response
            self._require("stop", SessionState.RECORDING, SessionState.STOPPING)
            sent = SendState()
            response = await guarded(
                self._client.sleep,
                self._stop_deadline,
                functools.partial(self._stop, async_stop=async_stop, timeout=timeout, retries=retries),
                sent=sent,
                shield=False,
                queue_limit=self._stop_deadline,
            )
            if response is None:
                if self._state is SessionState.STOPPING:
                    self._state = SessionState.RECORDING
                what = "no answer" if sent.sent else "the stop could not be sent"
                raise APITimeoutError(
                    f"{what} within stop_deadline={self._stop_deadline:.0f} s; the recording may still run",
                    endpoint="stop",
                )
            return response

    async def _stop_for_owner(self) -> None:
        """The client's drain: stop, bounded by ``stop_deadline`` as a whole (queueing included); raise on failure."""
        if self._state not in LIVE_STATES:
            return
        response = await within(
            self._client.sleep, self._stop_deadline, functools.partial(self._stop_locked, async_stop=False)
        )
        if response is None:
            raise APITimeoutError(
                f"the stop did not finish within stop_deadline={self._stop_deadline:.0f} s", endpoint="stop"
            )

    async def _stop(self, *, async_stop: bool, timeout: TimeoutArg, retries: int | None) -> StopResponse:
        resource_id, sid = self._ids()
        self._state = SessionState.STOPPING
        self._interrupt_verification()
        try:
            response = await self._client.stop(
                resource_id=resource_id,
                sid=sid,
                mode=self._mode,
                cname=self._cname,
                uid=self._uid,
                async_stop=async_stop,
                timeout=timeout,
                retries=retries,
                retry_window=self._stop_deadline,
            )
        except AlreadyStoppedError:
            response = StopResponse(resource_id=self._resource_id, sid=self._sid, already_stopped=True)
        except NotFoundError as exc:
            if not exc.worker_not_found:
                self._state = SessionState.RECORDING
                raise
            response = StopResponse(resource_id=self._resource_id, sid=self._sid, already_stopped=True)
        except BaseException:
            if self._state is SessionState.STOPPING:
                self._state = SessionState.RECORDING  # still believed running: stop() may be called again
            raise
        self._stop_response = response
        self._state = SessionState.STOPPED
        self._client.keeper.release(self)
        session_done(self, self._client.keeper)  # its late notifications are never taken for a lost start's
        await self._store_write()  # a stopped session leaves the store
        logger.info(
            "agora session stopped mode=%s already_stopped=%s no_recorded_data=%s",
            self._mode.value,
            response.already_stopped,
            response.no_recorded_data,
        )
        return response

    async def _stop_shielded(self, original: BaseException | None = None) -> None:
        """Stop after a failure or cancellation; never raises an error (the original one matters more).

        If the stop fails, ``stop_error`` keeps why, and the original exception gets a note saying the recording
        may still run, so the caller who sees only the original error still learns it. A start still in flight
        (its caller was cancelled natively) is stopped by the client when its answer comes.
        """
        if self._state not in LIVE_STATES:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.stop()
            except Exception as exc:  # recorded; the caller re-raises the original error
                self._stop_error = exc
                if original is not None and hasattr(original, "add_note"):
                    original.add_note(
                        f"agora-recording: stopping the recording (sid {self._sid}) also failed: {exc}; "
                        "it may still be running (see RecordingSession.stop_error)"
                    )
                self._warn("cleanup stop failed; the recording may still run", exc)
