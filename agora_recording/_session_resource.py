"""The resourceId side of a session: acquire, the five-minute guard, and sending start with a fresh resourceId.

* The resourceId's age counts from when acquire was *sent* (observed through ``SEND_OBSERVER``), not from any wait
  for a rate-limit permit, on the client's clock.
* The guard is checked right before start is sent: a resourceId older than ``RESOURCE_ID_TTL - expiry_margin`` is
  replaced by a fresh acquire (counted in ``reacquired``); with ``reacquire=False`` start raises
  :class:`ResourceExpiredError` without sending. A start that waited past the guard in the rate limiter's queue is
  refused at its first send (:class:`StaleAtSend`) and retried with a fresh resourceId. Code 433 from Agora on the
  first send: re-acquire once and send again.
* Once a start may have left, the resourceId is never replaced: a start whose answer was lost is resent with the
  same resourceId (one resourceId starts at most one recording), even past the guard. A resend answered with code 7
  or 433, or not answered, is an unknown outcome (:class:`~agora_recording.StartOutcomeUnknownError`,
  :class:`~agora_recording.APITimeoutError`): the session goes UNKNOWN and keeps watching for the sid.

:class:`ResourceSide` is a slot-less base of :class:`~agora_recording.RecordingSession`, which holds the state.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import attrs

from agora_recording._errors import APITimeoutError, ResourceExpiredError
from agora_recording._options import RESOURCE_ID_TTL
from agora_recording._session_guard import SendState, StaleAtSend, guarded
from agora_recording._session_host import SEND_OBSERVER, SessionHost
from agora_recording._session_state import RareState
from agora_recording.models._enums import Mode, Scene
from agora_recording.models._requests import AcquireClientRequest, ClientRequest
from agora_recording.models._responses import AcquireResponse, StartResponse

__all__ = ["ResourceSide", "SessionSettings"]

logger = logging.getLogger("agora_recording")


@attrs.frozen
class SessionSettings:
    """A session's options, fixed at construction; sessions with the same options share one (8 slots fewer each)."""

    acquire_request: AcquireClientRequest | None
    use_start_parameter: bool
    reacquire: bool
    expiry_margin: float
    start_deadline: float
    stop_deadline: float
    verify_on_enter: bool
    verify_timeout: float


class ResourceSide:
    """Acquire, the five-minute guard and the start send. It owns the resourceId's slots; the rest are the session's."""

    __slots__ = ("_acquired_at", "_rare", "_reacquired", "_resource_id", "_settings")

    _client: SessionHost
    _mode: Mode
    _cname: str
    _uid: str
    _client_request: ClientRequest | None
    _settings: SessionSettings
    _rare: RareState | None  # the state an idle session does not need (see Rare)
    _reacquired: int  # how many times it was replaced
    _resource_id: str | None  # the resourceId from acquire
    _acquired_at: float | None  # when its acquire was sent, on the client's clock

    # The options, read through the shared SessionSettings (never written after construction).
    @property
    def _acquire_request(self) -> AcquireClientRequest | None:
        return self._settings.acquire_request

    @property
    def _use_start_parameter(self) -> bool:
        return self._settings.use_start_parameter

    @property
    def _reacquire(self) -> bool:
        return self._settings.reacquire

    @property
    def _expiry_margin(self) -> float:
        return self._settings.expiry_margin

    @property
    def _start_deadline(self) -> float:
        return self._settings.start_deadline

    @property
    def _stop_deadline(self) -> float:
        return self._settings.stop_deadline

    @property
    def _verify_on_enter(self) -> bool:
        return self._settings.verify_on_enter

    @property
    def _verify_timeout(self) -> float:
        return self._settings.verify_timeout

    @property
    def resource_age(self) -> float | None:
        """Seconds since acquire was sent, on the client's clock."""
        return None if self._acquired_at is None else self._client.clock() - self._acquired_at

    def _acquire_body(self) -> AcquireClientRequest:
        base = self._acquire_request or AcquireClientRequest()
        changes: dict[str, Any] = {}
        if self._mode is Mode.WEB and base.scene is None:
            changes["scene"] = Scene.WEB
        if self._use_start_parameter and base.start_parameter is None:
            changes["start_parameter"] = self._client_request
        if not changes:
            return base
        return AcquireClientRequest(
            resource_expired_hour=base.resource_expired_hour,
            scene=changes.get("scene", base.scene),
            region=base.region,
            exclude_resource_ids=base.exclude_resource_ids,
            start_parameter=changes.get("start_parameter", base.start_parameter),
        )

    async def _acquire(self) -> AcquireResponse:
        sent_at: list[float] = []

        def on_send() -> None:  # the resourceId's age counts from the send, not from any wait for a permit
            sent_at.append(self._client.clock())

        token = SEND_OBSERVER.set(on_send)
        try:
            response = await self._client.acquire(
                cname=self._cname, uid=self._uid, client_request=self._acquire_body(), web=self._mode is Mode.WEB
            )
        finally:
            SEND_OBSERVER.reset(token)
        self._resource_id = response.resource_id
        self._acquired_at = sent_at[-1] if sent_at else self._client.clock()
        return response

    async def _refresh_resource(self, why: str) -> None:
        self._reacquired += 1
        logger.info("agora session re-acquiring resource reason=%s mode=%s", why, self._mode.value)
        await self._acquire()

    def _stale(self) -> bool:
        age = self.resource_age
        return age is not None and age > RESOURCE_ID_TTL - self._expiry_margin

    async def _start_with_guard(self, request: ClientRequest, sent: SendState) -> StartResponse:
        """Send start; replace a stale resourceId first (checked right before each send) and once after a 433."""
        for _ in range(3):  # a fresh resourceId, then at most two replacements
            if self._stale():
                if not self._reacquire:
                    raise ResourceExpiredError(
                        f"start: the resourceId is {self.resource_age:.0f} s old (valid {RESOURCE_ID_TTL:.0f} s, "
                        f"margin {self._expiry_margin:.0f} s); not sent because reacquire=False",
                        resource_id=self._resource_id,
                    )
                await self._refresh_resource("resource id near expiry")
            resource_id = self._resource_id
            assert resource_id is not None
            sends_before = sent.sends
            try:
                response: StartResponse | None = await guarded(
                    self._client.sleep,
                    self._start_deadline,
                    functools.partial(
                        self._client.start,
                        resource_id=resource_id,
                        mode=self._mode,
                        cname=self._cname,
                        uid=self._uid,
                        client_request=request,
                    ),
                    sent=sent,
                    shield=False,
                    before_send=self._check_fresh,
                )
            except StaleAtSend:
                if sent.sent:  # cannot happen (the guard runs before the first send only); never re-acquire then
                    raise
                continue  # queued past the guard: replace the resourceId and try again (nothing was sent)
            except ResourceExpiredError:
                # 433 on a resend is an unknown outcome (the requester raises StartOutcomeUnknownError for it); only a
                # 433 answering the one send there was proves that nothing started.
                if sent.sends - sends_before != 1 or not self._reacquire or self._reacquired >= 2:
                    raise
                # Agora refused the one send with 433: no recording started. A new resourceId, and a new send.
                sent.sent = False
                await self._refresh_resource("agora code 433")
                continue
            if response is None:
                raise APITimeoutError(
                    f"no answer within start_deadline={self._start_deadline:.0f} s; the recording may have started",
                    endpoint="start",
                )
            return response
        raise ResourceExpiredError("start: the resourceId kept expiring before it could be sent", resource_id=None)

    def _check_fresh(self) -> None:
        """Called right before start is first sent: refuse to send a resourceId past the guard (never a resend)."""
        if self._stale():
            raise StaleAtSend()
