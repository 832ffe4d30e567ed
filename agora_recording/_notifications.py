"""Notifications routed to a client: sessions learn Agora's side, and lost starts are reclaimed by their sid.

A :class:`~agora_recording.webhooks.WebhookReceiver` built with ``client=`` subscribes a :class:`NotificationRouter`
to its dispatch point. For every accepted Cloud Recording notification that carries a sid:

1. **A session of this client owns the sid** (routed by sid first): the session keeps it as
   ``last_notification``. A ``session_exit`` (11), or a ``recorder_leave`` (41) whose ``leaveCode`` says the
   recorder is gone (bit 4: idle timeout; bit 16: stopped), ends a session in ``recording``: it moves to
   ``stopped`` with ``exited_by_agora`` set and a ``stop_response`` with ``already_stopped=True``, so ``stop()``
   answers at once instead of spending Agora's failover window on 404 retries. A session already stopping is left
   to its stop.
2. **Otherwise, by (cname, uid)**: a start of this client whose outcome is unknown (the session is ``unknown``, or a
   bare ``client.start()`` raised :class:`~agora_recording.StartOutcomeUnknownError` or lost its answer) is waiting
   for its sid: the session adopts it (it becomes ``recording`` and is stopped on exit as usual), or, when nobody is
   left to stop it (a bare start, a session whose ``async with`` failed, a starter that went away), the client stops
   it at once. When no start waits, the notification is kept (``ttl`` seconds on the client's clock, at most
   ``max_entries``), since it often arrives before the client has finished retrying the start; the start that turns
   unknown later looks there first.

A sid that a live session of this client owns, that a session of this client stopped or handed off, or that Agora
has reported ended, is never adopted. And a sid is adopted (or stopped) for a lost start only once Agora confirms
that it belongs to that start: a ``query`` with the start's resourceId and the notified sid (one attempt, at most
:data:`CONFIRM_DEADLINE` seconds) must answer. Notifications carry no resourceId, so (cname, uid) alone could
match an earlier recording of the same channel and uid (a late ``uploaded`` after its stop, another process's
recording); Agora refuses a query whose resourceId and sid do not belong together. A sid the query does not confirm
is not adopted (a WARNING says so); the start keeps waiting, and the next notification of its own sid is checked in
turn. A notification that says a recording ended does not end a waiting start either: its sid is not confirmed.

Dependencies: imports the keeper, the session state and the models; the session and the client call its hooks
(``outcome_unknown``, ``owner_gone``, ``bare_unknown``), which do nothing when no receiver was attached.
"""

from __future__ import annotations

import functools
import logging
import math
import weakref
from collections import OrderedDict
from typing import Any, Protocol

import attrs

from agora_recording._clock import Clock
from agora_recording._errors import (
    AgoraError,
    AlreadyStoppedError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    NotFoundError,
    StartOutcomeUnknownError,
    log_safe,
)
from agora_recording._limiter import Sleep
from agora_recording._session_guard import within
from agora_recording._session_keeper import Keeper
from agora_recording._session_resource import ResourceSide
from agora_recording._session_state import Rare, SessionState
from agora_recording.models._enums import Mode
from agora_recording.models._responses import StopResponse

# A RecordingSession, whose private fields the router sets. Not imported, even for type checking: the session
# module imports this one, and the layout test forbids the cycle.
RecordingSession = Any

__all__ = [
    "CONFIRM_DEADLINE",
    "DEFAULT_RECENT_MAX_ENTRIES",
    "DEFAULT_RECENT_TTL",
    "NotificationRouter",
    "NotifiedSide",
    "RouterStats",
    "attach",
    "bare_unknown",
    "orphan_start",
    "outcome_unknown",
    "owner_gone",
    "router_for",
    "session_done",
]

logger = logging.getLogger("agora_recording")

DEFAULT_RECENT_TTL = 300.0
"""Seconds a notification no start was waiting for is kept (and an unknown start waits for its sid)."""
DEFAULT_RECENT_MAX_ENTRIES = 10_000
"""At most this many kept notifications, and as many waiting starts; past it the oldest go first."""
CONFIRM_DEADLINE = 30.0
"""Seconds the ``query`` that confirms a notified sid for a lost start may take (one attempt, no retries)."""

_CLOUD_RECORDING = 3
_SESSION_EXIT = 11
_RECORDER_LEAVE = 41
_GONE_BITS = 4 | 16  # leaveCode: no users for maxIdleTime, or the recorder was stopped

_ROUTERS: weakref.WeakKeyDictionary[Keeper, NotificationRouter] = weakref.WeakKeyDictionary()


class _Stopper(Protocol):
    """What :func:`orphan_start` needs from a client: its keeper and the stop endpoint."""

    @property
    def keeper(self) -> Keeper: ...  # the protocol's members are documented on the client

    async def stop(
        self, *, resource_id: str, sid: str, mode: Mode | str, cname: str, uid: str | int
    ) -> StopResponse: ...


class _Client(_Stopper, Protocol):
    """What the router needs from a client: also its clock and sleep, and the query endpoint."""

    @property
    def clock(self) -> Clock: ...

    @property
    def sleep(self) -> Sleep: ...

    async def query(self, *, resource_id: str, sid: str, mode: Mode | str, retries: int | None = None) -> Any: ...


class NotifiedSide(ResourceSide):
    """The notification side of a :class:`~agora_recording.RecordingSession`: what the router told it."""

    __slots__ = ()
    _exited_by_agora: Rare[bool] = Rare(False)
    _last_notification: Rare[Any] = Rare(None)

    @property
    def last_notification(self) -> Any:
        """The last :class:`~agora_recording.webhooks.NotificationEvent` routed to this session, or ``None``."""
        return getattr(self, "_last_notification", None)

    @property
    def reacquired(self) -> int:
        """How many times the session replaced its resourceId (five-minute guard or code 433)."""
        return self._reacquired

    @property
    def exited_by_agora(self) -> bool:
        """True when a notification said Agora ended the recording (``session_exit`` or ``recorder_leave``)."""
        return getattr(self, "_exited_by_agora", False)


@attrs.frozen(kw_only=True)
class RouterStats:
    """Counters of a :class:`NotificationRouter` (a snapshot).

    ``routed``: notifications given to a session by sid; ``exited``: sessions ended by Agora's notification;
    ``adopted``: unknown starts whose session took the sid; ``reclaimed``: recordings nobody could stop that the
    client stopped; ``kept``: notifications kept now for a start that may turn unknown; ``waiting``: unknown starts
    waiting now for their sid; ``ignored``: notifications for a sid a live session owns or that had ended.
    """

    routed: int = 0
    exited: int = 0
    adopted: int = 0
    reclaimed: int = 0
    kept: int = 0
    waiting: int = 0
    ignored: int = 0


@attrs.define(kw_only=True)
class _Orphan:
    """A start whose outcome is unknown, waiting for the sid of its (cname, uid)."""

    cname: str
    uid: str
    resource_id: str | None
    mode: Mode
    session: RecordingSession | None = None  # None: a bare client.start()
    owner_gone: bool = False
    at: float = 0.0
    claimed: bool = False  # a confirmed sid was taken (adopted or stopped): the orphan is done
    rejected: set[str] = attrs.Factory(set)  # sids Agora said are not this start's (a 4xx to the query)


def _ended(event: Any) -> bool:
    if event.event_type == _SESSION_EXIT:
        return True
    if event.event_type == _RECORDER_LEAVE:
        code = getattr(event, "leave_code", None)
        return isinstance(code, int) and bool(code & _GONE_BITS)
    return False


class NotificationRouter:
    """Routes a receiver's notifications to one client's sessions (see the module docstring).

    Built by ``WebhookReceiver(client=...)``; one router per client (a second receiver for the same client shares
    it). Raises :class:`~agora_recording.InvalidRequestError` for a ``ttl`` that is not a positive finite number or
    ``max_entries`` < 1.
    """

    def __init__(
        self, client: _Client, *, ttl: float = DEFAULT_RECENT_TTL, max_entries: int = DEFAULT_RECENT_MAX_ENTRIES
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (math.isfinite(ttl) and ttl > 0):
            raise InvalidRequestError("ttl", "must be a positive finite number of seconds")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidRequestError("max_entries", "must be an integer >= 1")
        self._client = client
        self._ttl = float(ttl)
        self._max = max_entries
        self._recent: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()  # -> (sid, at)
        self._waiting: OrderedDict[tuple[str, str], _Orphan] = OrderedDict()
        self._done: OrderedDict[str, float] = OrderedDict()  # sids ended, owned or reclaimed: never adopted
        self._counts = dict.fromkeys(("routed", "exited", "adopted", "reclaimed", "ignored"), 0)

    def __repr__(self) -> str:
        return f"NotificationRouter(ttl={self._ttl!r}, kept={len(self._recent)}, waiting={len(self._waiting)})"

    @property
    def stats(self) -> RouterStats:
        """A snapshot of the router's counters."""
        self._purge()
        return RouterStats(**self._counts, kept=len(self._recent), waiting=len(self._waiting))

    # -- bookkeeping ------------------------------------------------------------------------------------------------

    def _purge(self) -> None:
        horizon = self._client.clock() - self._ttl
        recent, waiting, done = self._recent, self._waiting, self._done
        while recent and (len(recent) > self._max or next(iter(recent.values()))[1] <= horizon):
            recent.popitem(last=False)
        while waiting and (len(waiting) > self._max or next(iter(waiting.values())).at <= horizon):
            waiting.popitem(last=False)
        while done and (len(done) > self._max or next(iter(done.values())) <= horizon):
            done.popitem(last=False)

    def _remember_done(self, sid: str) -> None:
        self._done[sid] = self._client.clock()
        self._done.move_to_end(sid)

    def _owner_of(self, sid: str) -> RecordingSession | None:
        for session in self._client.keeper.owned():
            if session.sid == sid:
                return session
        return None

    # -- the receiver's subscriber ----------------------------------------------------------------------------------

    async def handle(self, event: Any) -> None:
        """Route one notification (the receiver calls this for every accepted one)."""
        sid, cname, uid = event.sid, event.cname, event.uid
        if event.product_id != _CLOUD_RECORDING or not sid:
            return
        self._purge()
        ended = _ended(event)
        session = self._owner_of(sid)
        if session is not None:
            self._counts["routed"] += 1
            self._remember_done(sid)
            session._last_notification = event
            if ended and session.state is SessionState.RECORDING:
                self._exit(session)
            return
        if sid in self._done:
            self._counts["ignored"] += 1
            if ended:
                self._remember_done(sid)
            return
        if ended:
            self._remember_done(sid)
        if not cname or uid is None:
            return
        key = (cname, uid)
        orphan = self._waiting.get(key)
        if orphan is None:
            if not ended:
                self._recent[key] = (sid, self._client.clock())
                self._recent.move_to_end(key)
                self._purge()
            return
        if ended:
            return  # an unconfirmed sid ended: not a reason to stop waiting (it may be an earlier recording's)
        await self._claim(orphan, sid, event)

    def _exit(self, session: RecordingSession) -> None:
        session._exited_by_agora = True
        session._stop_response = StopResponse(resource_id=session.resource_id, sid=session.sid, already_stopped=True)
        session._state = SessionState.STOPPED
        session._interrupt_verification()
        self._client.keeper.release(session)
        self._counts["exited"] += 1
        logger.info(
            "agora session ended by Agora (notification) cname=%s uid=%s sid=%s",
            log_safe(session.cname),
            log_safe(session.uid),
            log_safe(session.sid),
        )

    async def _confirms(self, orphan: _Orphan, sid: str) -> bool:
        """True when Agora answers a query with the orphan's resourceId and ``sid``: the sid is that start's."""
        if orphan.resource_id is None or sid in orphan.rejected:
            return False
        query = functools.partial(self._client.query, resource_id=orphan.resource_id, sid=sid, mode=orphan.mode)
        failure: str
        try:
            answer = await within(self._client.sleep, CONFIRM_DEADLINE, functools.partial(query, retries=0))
        except AgoraError as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(exc, APIStatusError) and 400 <= exc.status_code < 500 and exc.status_code not in (404, 429):
                orphan.rejected.add(sid)  # Agora says the pair does not belong together (e.g. code 1003)
            failure = f"{type(exc).__name__} status={status} code={getattr(exc, 'code', None)}"
        else:
            if answer is not None:
                return True
            failure = f"no answer within {CONFIRM_DEADLINE:.0f} s"
        logger.warning(
            "agora did not adopt a notified sid for a lost start: the query did not confirm it "
            "cname=%s uid=%s sid=%s error=%s",
            log_safe(orphan.cname),
            log_safe(orphan.uid),
            log_safe(sid),
            failure,
        )
        return False

    async def _claim(self, orphan: _Orphan, sid: str, event: Any) -> None:
        if orphan.claimed or not await self._confirms(orphan, sid) or orphan.claimed:
            return  # claimed by another notification meanwhile, or not confirmed (the orphan keeps waiting)
        orphan.claimed = True
        key = (orphan.cname, orphan.uid)
        if self._waiting.get(key) is orphan:
            del self._waiting[key]
        self._remember_done(sid)
        session = orphan.session
        if session is not None:
            if session.state is not SessionState.UNKNOWN or session.sid is not None:
                return
            session._sid = sid
            session._started_at = self._client.clock()
            session._state = SessionState.RECORDING
            if event is not None:
                session._last_notification = event
            self._counts["adopted"] += 1
            logger.info(
                "agora session adopted its sid from a notification cname=%s uid=%s sid=%s",
                log_safe(orphan.cname),
                log_safe(orphan.uid),
                log_safe(sid),
            )
            if orphan.owner_gone:
                await self._stop_session(session)
            return
        await self._stop_bare(orphan, sid)

    async def _stop_session(self, session: RecordingSession) -> None:
        try:
            await session.stop()
        except Exception as exc:  # logged: the receiver's handler must not fail
            logger.warning(
                "agora could not stop an adopted recording nobody owns sid=%s error=%s",
                log_safe(session.sid),
                type(exc).__name__,
            )
        else:
            self._counts["reclaimed"] += 1
            logger.warning(
                "agora stopped an adopted recording whose owner had gone cname=%s uid=%s sid=%s",
                log_safe(session.cname),
                log_safe(session.uid),
                log_safe(session.sid),
            )

    async def _stop_bare(self, orphan: _Orphan, sid: str) -> None:
        if orphan.resource_id is None:
            return
        try:
            await self._client.stop(
                resource_id=orphan.resource_id, sid=sid, mode=orphan.mode, cname=orphan.cname, uid=orphan.uid
            )
        except (AlreadyStoppedError, NotFoundError):
            pass  # it ended meanwhile
        except Exception as exc:  # logged: the receiver's handler must not fail
            logger.warning(
                "agora could not stop a lost start's recording sid=%s error=%s", log_safe(sid), type(exc).__name__
            )
            return
        self._counts["reclaimed"] += 1
        logger.warning(
            "agora stopped a recording whose start answer was lost cname=%s uid=%s sid=%s",
            log_safe(orphan.cname),
            log_safe(orphan.uid),
            log_safe(sid),
        )

    # -- the hooks: a start's outcome turned unknown ------------------------------------------------------------------

    def _take_recent(self, key: tuple[str, str]) -> str | None:
        self._purge()
        found = self._recent.pop(key, None)
        if found is None or found[0] in self._done or self._owner_of(found[0]) is not None:
            return None
        return found[0]

    def _wait(self, orphan: _Orphan) -> None:
        orphan.at = self._client.clock()
        key = (orphan.cname, orphan.uid)
        self._waiting[key] = orphan
        self._waiting.move_to_end(key)
        self._purge()

    async def session_unknown(self, session: RecordingSession) -> None:
        """``session``'s start turned unknown: adopt a kept sid once Agora confirms it, or wait for one."""
        orphan = _Orphan(
            cname=session.cname, uid=session.uid, resource_id=session.resource_id, mode=session.mode, session=session
        )
        sid = self._take_recent((orphan.cname, orphan.uid))
        self._wait(orphan)
        if sid is not None:
            await self._claim(orphan, sid, None)

    def session_done(self, sid: str) -> None:
        """A session of this client stopped, or was handed off, with ``sid``: no lost start may adopt it."""
        self._remember_done(sid)
        for key, (kept, _) in list(self._recent.items()):
            if kept == sid:
                del self._recent[key]

    def session_owner_gone(self, session: RecordingSession) -> None:
        """Nobody will stop ``session`` (still unknown): the sid, when it comes, is stopped at once."""
        orphan = self._waiting.get((session.cname, session.uid))
        if orphan is not None and orphan.session is session:
            orphan.owner_gone = True

    async def bare_unknown(self, *, resource_id: str, mode: Mode, cname: str, uid: str) -> None:
        """A bare ``client.start()``'s outcome is unknown: stop the kept sid now, or wait for one."""
        orphan = _Orphan(cname=cname, uid=uid, resource_id=resource_id, mode=mode, owner_gone=True)
        sid = self._take_recent((cname, uid))
        self._wait(orphan)
        if sid is not None:
            await self._claim(orphan, sid, None)


# -- the module-level hooks (no-ops when no receiver was attached to the client) ---------------------------------------


def router_for(keeper: Keeper) -> NotificationRouter | None:
    """The router attached to the client whose keeper this is, if any."""
    return _ROUTERS.get(keeper)


def attach(client: _Client, **options: Any) -> NotificationRouter:
    """The client's router (created on first use with ``options``: ``ttl``, ``max_entries``)."""
    router = _ROUTERS.get(client.keeper)
    if router is None:
        router = NotificationRouter(client, **options)
        _ROUTERS[client.keeper] = router
    return router


async def outcome_unknown(session: RecordingSession, keeper: Keeper) -> None:
    """Hook: ``session``'s start ended ``unknown`` (a kept sid is confirmed with a query, shielded and bounded)."""
    router = _ROUTERS.get(keeper)
    if router is not None and session.state is SessionState.UNKNOWN:
        await router.session_unknown(session)


def session_done(session: RecordingSession, keeper: Keeper) -> None:
    """Hook: ``session`` stopped or was handed off; its sid is never adopted by a lost start of this client."""
    router = _ROUTERS.get(keeper)
    if router is not None and session.sid is not None:
        router.session_done(session.sid)


def owner_gone(session: RecordingSession, keeper: Keeper) -> None:
    """Hook: the caller of ``session``'s start went away (or its ``async with`` failed) while it was unknown."""
    router = _ROUTERS.get(keeper)
    if router is not None and session.state is SessionState.UNKNOWN:
        router.session_owner_gone(session)


async def bare_unknown(keeper: Keeper, *, resource_id: str, mode: Mode | str, cname: str, uid: str | int) -> None:
    """Hook: a bare ``client.start()`` lost its answer (timeout, 5xx, or code 7 on the resend)."""
    router = _ROUTERS.get(keeper)
    if router is not None:
        await router.bare_unknown(resource_id=resource_id, mode=Mode(mode), cname=cname, uid=str(uid))


async def orphan_start(
    client: _Stopper, exchange: Any, *, mode: Mode | str, cname: str, uid: str | int, resource_id: str
) -> None:
    """A bare ``client.start()`` whose caller went away: stop what it started (no caller ever got its sid), or,
    when its outcome is unknown, say so and watch the notifications for its sid. (Moved here from ``_client``.)"""
    if not exchange.ok or exchange.result is None:
        if isinstance(exchange.error, (APITimeoutError, StartOutcomeUnknownError)) or (
            isinstance(exchange.error, APIStatusError) and exchange.error.status_code >= 500
        ):
            logger.warning(
                "agora start's caller went away and its outcome is unknown; a recording may run "
                "cname=%s uid=%s error=%s",
                log_safe(cname),
                log_safe(uid),
                type(exchange.error).__name__,
            )
            await bare_unknown(client.keeper, resource_id=resource_id, mode=mode, cname=cname, uid=uid)
        return
    started = exchange.result
    logger.warning(
        "agora start answered after its caller went away; stopping the recording cname=%s uid=%s sid=%s",
        log_safe(cname),
        log_safe(uid),
        log_safe(started.sid),
    )
    try:
        await client.stop(resource_id=started.resource_id, sid=started.sid, mode=mode, cname=cname, uid=uid)
    except Exception as exc:  # logged: nobody is left to raise it to
        logger.warning(
            "agora could not stop a recording whose starter went away cname=%s uid=%s sid=%s error=%s",
            log_safe(cname),
            log_safe(uid),
            log_safe(started.sid),
            type(exc).__name__,
        )
