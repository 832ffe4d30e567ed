"""What a recording session does while it records: query, update, update_layout and Agora's confirm-by-query wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel

from agora_recording._errors import (
    InvalidRequestError,
    SessionStateError,
)
from agora_recording._notifications import NotifiedSide
from agora_recording._session_guard import check_seconds
from agora_recording._session_host import SessionHost, TimeoutArg
from agora_recording._session_state import Rare, SessionState
from agora_recording._session_verify import DEFAULT_VERIFY_TIMEOUT, check_delays, poll_until_recording
from agora_recording._session_view import SessionView
from agora_recording.models._enums import Mode
from agora_recording.models._requests import (
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording.models._responses import (
    QueryResponse,
    UpdateLayoutResponse,
    UpdateResponse,
)

T = TypeVar("T")


class RecordingCalls(NotifiedSide, SessionView):
    """Calls on a recording that runs (a slot-less base of :class:`~agora_recording.RecordingSession`)."""

    __slots__ = ("_last_query",)  # the rest lives in RecordingSession's slots
    _client: SessionHost
    _started_at: float | None
    _update_lock: Rare[anyio.Lock | None] = Rare(None)
    _verifying: Rare[list[anyio.CancelScope] | None] = Rare(None)  # wait_until_recording() calls to end on stop

    async def query(self, *, timeout: TimeoutArg = None, retries: int | None = None) -> QueryResponse:
        """Query the recording (state RECORDING or STOPPING). Updates ``last_status``.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        self._require("query", SessionState.RECORDING, SessionState.STOPPING)
        resource_id, sid = self._ids()
        response = await self._client.query(
            resource_id=resource_id, sid=sid, mode=self._mode, timeout=timeout, retries=retries
        )
        self._last_query = response
        return response

    async def update(
        self, client_request: UpdateClientRequest, *, timeout: TimeoutArg = None, retries: int | None = None
    ) -> UpdateResponse:
        """Update subscriptions, pause/resume (web), the CDN address or storage credentials. Calls are serialised.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        return await self._serialised("update", self._client.update, client_request, timeout, retries)

    async def update_layout(
        self, client_request: UpdateLayoutClientRequest, *, timeout: TimeoutArg = None, retries: int | None = None
    ) -> UpdateLayoutResponse:
        """Replace the mixed layout (mix mode only). Serialised with :meth:`update`.

        ``timeout`` and ``retries`` override the client's for this call.
        """
        if self._mode is not Mode.MIX:
            raise InvalidRequestError("mode", f"updateLayout is supported only in mix mode, not {self._mode.value}")
        return await self._serialised("update the layout", self._client.update_layout, client_request, timeout, retries)

    async def _serialised(
        self,
        action: str,
        call: Callable[..., Awaitable[T]],
        client_request: Any,
        timeout: TimeoutArg,
        retries: int | None,
    ) -> T:
        """One update at a time per session: Agora asks to wait for each answer before the next update."""
        self._require(action, SessionState.RECORDING)
        if self._update_lock is None:
            self._update_lock = anyio.Lock()
        async with self._update_lock:
            self._require(action, SessionState.RECORDING)
            resource_id, sid = self._ids()
            return await call(
                resource_id=resource_id,
                sid=sid,
                mode=self._mode,
                cname=self._cname,
                uid=self._uid,
                client_request=client_request,
                timeout=timeout,
                retries=retries,
            )

    async def wait_until_recording(
        self,
        timeout: float = DEFAULT_VERIFY_TIMEOUT,
        *,
        first_delay: float = 5.0,
        delays: tuple[float, ...] = (5.0, 10.0, 15.0),
    ) -> QueryResponse:
        """Confirm the start as Agora recommends: query from ``first_delay`` s after start, backing off by
        ``delays``, until status 4 or 5. A 404, 5xx or lost answer meanwhile is treated as transient (Agora's
        failover takes up to 90 s). Raises :class:`RecordingFailedError` on status 20, on a status past 5 (the
        recording exited), or when ``timeout`` seconds after start pass without status 4 or 5. If the session is
        stopped meanwhile (by any task, or by the client's close), it raises :class:`SessionStateError` at once.
        """
        self._require("verify", SessionState.RECORDING)
        timeout = check_seconds(timeout, "timeout")
        check_delays(delays)
        first_delay = check_seconds(first_delay, "first_delay")
        resource_id, sid = self._ids()
        scope = anyio.CancelScope()
        if self._verifying is None:
            self._verifying = []
        self._verifying.append(scope)
        try:
            with scope:
                return await poll_until_recording(
                    self._client,
                    resource_id=resource_id,
                    sid=sid,
                    mode=self._mode,
                    started_at=self._started_at if self._started_at is not None else self._client.clock(),
                    timeout=timeout,
                    first_delay=first_delay,
                    delays=delays,
                    on_query=self._keep_query,
                    last_status=lambda: self.last_status,
                )
        finally:
            self._verifying.remove(scope)
        raise SessionStateError(f"the session was stopped while waiting for it to record (state {self._state.value!r})")

    def _interrupt_verification(self) -> None:
        for scope in self._verifying or ():
            scope.cancel()

    def _keep_query(self, response: QueryResponse) -> None:
        self._last_query = response
