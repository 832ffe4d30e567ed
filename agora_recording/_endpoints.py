"""The six endpoints of :class:`~agora_recording.CloudRecordingClient`: argument checks, path and body, one call."""

from __future__ import annotations

import functools
import logging
from typing import Any

import httpx

from agora_recording._body import RequestBody
from agora_recording._clock import Clock
from agora_recording._converter import to_wire
from agora_recording._errors import (
    APITimeoutError,
    InvalidRequestError,
    ServerError,
    StartOutcomeUnknownError,
    log_safe,
)
from agora_recording._notifications import bare_unknown, orphan_start
from agora_recording._requester import Requester, quote_segment
from agora_recording._session import (
    DEFAULT_STOP_DEADLINE,
)
from agora_recording._session_host import TimeoutArg
from agora_recording._session_keeper import IN_EXCHANGE, Exchange, Keeper
from agora_recording.models._enums import Mode
from agora_recording.models._requests import (
    AcquireClientRequest,
    ClientRequest,
    StopClientRequest,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
)
from agora_recording.models._responses import (
    AcquireResponse,
    QueryResponse,
    StartResponse,
    StopResponse,
    UpdateLayoutResponse,
    UpdateResponse,
)
from agora_recording.models._rules import (
    check_mode,
    check_start_request,
    check_update_layout_mode,
    check_update_request,
)
from agora_recording.models._validation import check_cname, check_id, check_uid

logger = logging.getLogger("agora_recording")


class EndpointCalls:
    """Part of :class:`CloudRecordingClient` (see its docstring)."""

    # Set by CloudRecordingClient.__init__.
    _keeper: Keeper
    _prefix: str
    _requester: Requester
    _stop_timeout: httpx.Timeout
    _clock: Clock

    @property
    def keeper(self) -> Keeper:
        """Internal: runs this client's start and stop exchanges and owns the sessions it started."""
        return self._keeper

    @property
    def clock(self) -> Clock:
        """The monotonic clock used for the resourceId guard and backoff bookkeeping."""
        return self._clock

    async def acquire(
        self,
        *,
        cname: str,
        uid: str | int,
        client_request: AcquireClientRequest | None = None,
        web: bool | None = None,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> AcquireResponse:
        """Get a resourceId (valid for five minutes) for recording ``cname`` as ``uid``.

        ``web`` marks a web-page recording (``scene`` 1), which allows longer channel names; it is inferred from
        ``client_request.scene`` when not given. A ``start_parameter`` must match the later start's
        ``client_request`` (:meth:`RecordingSession.acquire` builds it so). Raises :class:`InvalidRequestError`
        before sending anything if an argument breaks Agora's rules, and an :class:`APIStatusError` subclass when
        Agora refuses.
        """
        request = client_request if client_request is not None else AcquireClientRequest()
        if not isinstance(request, AcquireClientRequest):
            raise InvalidRequestError("client_request", "must be an AcquireClientRequest")
        is_web = bool(web) if web is not None else request.scene is not None and int(request.scene) == 1
        body = self._body(cname, uid, web=is_web, client_request=request)
        return await self._requester.call(
            "acquire", "POST", self._prefix + "/acquire", body, AcquireResponse, timeout=timeout, retries=retries
        )

    async def start(
        self,
        *,
        resource_id: str,
        mode: Mode | str,
        cname: str,
        uid: str | int,
        client_request: ClientRequest,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> StartResponse:
        """Start recording with ``resource_id``. Returns the sid.

        A start whose answer is lost is resent with the same parameters (safe: one resourceId starts at most one
        recording). If the resend answers code 7, :class:`StartOutcomeUnknownError` says a recording runs whose sid
        was never received (code 433 on a resend, after the five minutes passed, raises it too: a recording may run).
        A first answer of code 7 raises :class:`AlreadyStartedError`; code 433 raises :class:`ResourceExpiredError`.

        The start runs in the client's own task (inside ``async with client``): if the caller is cancelled after
        the start was sent (natively, or through anyio before the answer), the client waits for the answer and
        stops the recording it started, with a WARNING; a start cancelled before it was sent is called off.
        """
        if not IN_EXCHANGE.get():
            try:
                return await self._keeper.run(
                    functools.partial(
                        self.start,
                        resource_id=resource_id,
                        mode=mode,
                        cname=cname,
                        uid=uid,
                        client_request=client_request,
                        timeout=timeout,
                        retries=retries,
                    ),
                    what="start",
                    handler=functools.partial(
                        orphan_start, self, mode=mode, cname=cname, uid=uid, resource_id=resource_id
                    ),
                )
            except (APITimeoutError, StartOutcomeUnknownError, ServerError):  # a recording may run: watch for its sid
                await bare_unknown(self._keeper, resource_id=resource_id, mode=mode, cname=cname, uid=uid)
                raise
        mode = check_mode(mode)
        check_id(resource_id, field="resource_id")
        check_start_request(mode, client_request)
        body = self._body(cname, uid, web=mode is Mode.WEB, client_request=client_request)
        path = f"{self._prefix}/resourceid/{quote_segment(resource_id)}/mode/{mode.value}/start"
        return await self._requester.call(
            "start", "POST", path, body, StartResponse, timeout=timeout, retries=retries, resource_id=resource_id
        )

    async def update(
        self,
        *,
        resource_id: str,
        sid: str,
        mode: Mode | str,
        cname: str,
        uid: str | int,
        client_request: UpdateClientRequest,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> UpdateResponse:
        """Update subscriptions (individual/mix), pause/resume or the CDN address (web), or storage credentials.

        Each call replaces the previous settings. Agora asks callers to wait for each answer before the next
        update; :class:`RecordingSession` serialises them for you.
        """
        mode = check_mode(mode)
        check_update_request(mode, client_request)
        body = self._body(cname, uid, web=mode is Mode.WEB, client_request=client_request)
        path = self._sid_path(resource_id, sid, mode) + "/update"
        return await self._requester.call(
            "update",
            "POST",
            path,
            body,
            UpdateResponse,
            timeout=timeout,
            retries=retries,
            resource_id=resource_id,
            sid=sid,
        )

    async def update_layout(
        self,
        *,
        resource_id: str,
        sid: str,
        cname: str,
        uid: str | int,
        client_request: UpdateLayoutClientRequest,
        mode: Mode | str = Mode.MIX,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> UpdateLayoutResponse:
        """Replace the mixed video layout (mix mode only; other modes raise :class:`InvalidRequestError`)."""
        mode = check_mode(mode)
        check_update_layout_mode(mode)
        if not isinstance(client_request, UpdateLayoutClientRequest):
            raise InvalidRequestError("client_request", "must be an UpdateLayoutClientRequest")
        body = self._body(cname, uid, web=False, client_request=client_request)
        path = self._sid_path(resource_id, sid, mode) + "/updateLayout"
        return await self._requester.call(
            "updateLayout",
            "POST",
            path,
            body,
            UpdateLayoutResponse,
            timeout=timeout,
            retries=retries,
            resource_id=resource_id,
            sid=sid,
        )

    async def query(
        self,
        *,
        resource_id: str,
        sid: str,
        mode: Mode | str,
        timeout: TimeoutArg = None,
        retries: int | None = None,
    ) -> QueryResponse:
        """The recording's status and files so far. A 404 "failed to find worker" is retried within Agora's
        failover window (:attr:`RetryPolicy.not_found_window`) before :class:`NotFoundError` is raised.
        """
        mode = check_mode(mode)
        path = self._sid_path(resource_id, sid, mode) + "/query"
        return await self._requester.call(
            "query",
            "GET",
            path,
            None,
            QueryResponse,
            timeout=timeout,
            retries=retries,
            resource_id=resource_id,
            sid=sid,
        )

    async def stop(
        self,
        *,
        resource_id: str,
        sid: str,
        mode: Mode | str,
        cname: str,
        uid: str | int,
        async_stop: bool = False,
        timeout: TimeoutArg = None,
        retries: int | None = None,
        retry_window: float | None = None,
    ) -> StopResponse:
        """Stop the recording. Returns the upload status and files.

        Agora's 206 code 435 ("no recorded data": nobody sent a stream) is a successful stop with
        ``no_recorded_data=True``. 400 code 49 raises :class:`AlreadyStoppedError`. ``async_stop=True`` answers at
        once instead of waiting (up to about 20 s) for the uploads.

        429s, 5xx and lost answers are retried for ``retry_window`` seconds from the call
        (:data:`DEFAULT_STOP_DEADLINE`, 180 s, by default), beyond the policy's ``max_retries`` (Agora's answer to a
        429 is "later", never "no"); ``retries=0`` still turns retries off. The stop runs in the client's own task:
        a caller cancelled by any means stops waiting (under anyio or trio only before it was sent), and the stop
        goes on; if it then fails, a WARNING says so.
        """
        if not IN_EXCHANGE.get():
            return await self._keeper.run(
                functools.partial(
                    self.stop,
                    resource_id=resource_id,
                    sid=sid,
                    mode=mode,
                    cname=cname,
                    uid=uid,
                    async_stop=async_stop,
                    timeout=timeout,
                    retries=retries,
                    retry_window=retry_window,
                ),
                what="stop",
                handler=functools.partial(self._orphan_stop, cname=cname, uid=uid, sid=sid),
                shielded=True,
                cancel_unsent=False,
            )
        mode = check_mode(mode)
        request = StopClientRequest(async_stop=True) if async_stop else StopClientRequest()
        body = self._body(cname, uid, web=mode is Mode.WEB, client_request=request)
        path = self._sid_path(resource_id, sid, mode) + "/stop"
        return await self._requester.call(
            "stop",
            "POST",
            path,
            body,
            StopResponse,
            timeout=timeout if timeout is not None else self._stop_timeout,
            retries=retries,
            resource_id=resource_id,
            sid=sid,
            retry_window=DEFAULT_STOP_DEADLINE if retry_window is None else retry_window,
        )

    async def _orphan_stop(self, exchange: Exchange[StopResponse], *, cname: str, uid: str | int, sid: str) -> None:
        """A bare stop whose caller went away: if it failed, say that the recording may still run."""
        if exchange.error is not None:
            logger.warning(
                "agora stop failed after its caller went away; the recording may still run "
                "cname=%s uid=%s sid=%s error=%s status=%s code=%s",
                log_safe(cname),
                log_safe(uid),
                log_safe(sid),
                type(exchange.error).__name__,
                getattr(exchange.error, "status_code", None),
                getattr(exchange.error, "code", None),
            )

    @staticmethod
    def _body(cname: str, uid: str | int, *, web: bool, client_request: Any) -> RequestBody:
        # The wire dict (tokens, storage keys) exists only as a temporary inside RequestBody: no frame's locals hold
        # it, so an error tracker that records locals cannot show it. cname and uid are checked before it is built.
        return RequestBody(
            {"cname": check_cname(cname, web=web), "uid": check_uid(uid), "clientRequest": to_wire(client_request)}
        )

    def _sid_path(self, resource_id: str, sid: str, mode: Mode) -> str:
        check_id(resource_id, field="resource_id")
        check_id(sid, field="sid")
        return f"{self._prefix}/resourceid/{quote_segment(resource_id)}/sid/{quote_segment(sid)}/mode/{mode.value}"
