"""The client's side of a session store: what ``CloudRecordingClient(..., session_store=store)`` writes, and when.

One :class:`SessionRegistry` per client. It holds the client's **owner id**
(:func:`~agora_recording._store.new_owner_id`) and keeps the sessions this client drives in the store
(:mod:`agora_recording._store` has the store's rules):

* **Before a start is sent** the record exists: state ``starting``, cname, uid, mode, resourceId. A process that
  dies between the send and the answer leaves it behind for :meth:`CloudRecordingClient.recover_sessions`.
* At every later state change (``recording``, ``unknown``, ...) the record is rewritten; a session the client
  stops (or that Agora refused to start, or that was never sent) is **deleted**: there is nothing left to do for it,
  and its files are in the caller's ``StopResponse``.
* The lease: inside ``async with client`` a background task of the client's task group renews it every
  ``lease / 3`` and retries writes that failed. When a renewal finds the lease had lapsed (Redis restarted and lost
  everything, or this process stalled past its lease), every session still held is written again; one that
  another process took over meanwhile is dropped with a WARNING (the other process owns it now).
* A graceful close (``aclose()``): after the drain stopped the client's own sessions, the sessions handed off
  (``snapshot()``/``to_state()``/``hand_off()``, or taken with ``resume_session(key)`` and not stopped) are
  **released** (a later ``resume_session(key)`` in any process takes them). Anything else still held (a stop that
  failed, a start whose outcome is unknown) is left to look crashed on purpose: the lease is ended at once, so the
  next ``recover_sessions()`` anywhere reports or stops it.

**The store down.** A store failure never loses a recording and never fails a call of the recording API: the
session goes on, one WARNING names the session and the error type, and the write is retried at the session's next
change and at every lease tick. Each store call is bounded by ``store_timeout`` seconds (default
:data:`DEFAULT_STORE_TIMEOUT`). While the store is down, a crash of this process loses what was not written.

This module imports the store and the snapshot format only; sessions reach it through their ``_client``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

import anyio

from agora_recording._errors import InvalidRequestError, log_safe
from agora_recording._limiter import Sleep
from agora_recording._session_snapshot import SessionSnapshot
from agora_recording._session_state import SessionState
from agora_recording._store import (
    SessionNotFoundError,
    SessionOwnershipError,
    SessionStore,
    check_owner,
    new_owner_id,
)

__all__ = ["DEFAULT_STORE_TIMEOUT", "SessionRegistry", "Tracked"]

logger = logging.getLogger("agora_recording")
T = TypeVar("T")

DEFAULT_STORE_TIMEOUT = 5.0
"""Seconds one session store call may take before the client gives up on it (and retries it later)."""

_GONE = (SessionState.NEW, SessionState.ACQUIRED, SessionState.STOPPED, SessionState.FAILED)
_LIVE = (SessionState.RECORDING, SessionState.STOPPING)


class Tracked(Protocol):
    """What the registry needs from a session."""

    @property
    def key(self) -> str:
        """The session store key."""
        ...

    @property
    def state(self) -> SessionState:
        """The session's state."""
        ...

    @property
    def cname(self) -> str:
        """The channel name (logged)."""
        ...

    @property
    def uid(self) -> str:
        """The recorder's UID (logged)."""
        ...

    def _take_snapshot(self) -> SessionSnapshot:
        """The snapshot, without handing the session off."""
        ...


class SessionRegistry:
    """Keeps one client's sessions in a :class:`~agora_recording.SessionStore` (see the module docstring)."""

    def __init__(
        self,
        store: SessionStore,
        *,
        owner: str | None = None,
        sleep: Sleep = anyio.sleep,
        store_timeout: float = DEFAULT_STORE_TIMEOUT,
    ) -> None:
        if not isinstance(store, SessionStore):
            raise InvalidRequestError("session_store", "must be a SessionStore (e.g. MemorySessionStore)")
        if isinstance(store_timeout, bool) or not isinstance(store_timeout, (int, float)) or store_timeout <= 0:
            raise InvalidRequestError("store_timeout", "must be a positive number of seconds")
        self.store = store
        self.owner = check_owner(owner) if owner is not None else new_owner_id()
        self._sleep = sleep
        self._timeout = float(store_timeout)
        self._held: dict[str, Tracked] = {}  # key -> session, every session whose record this client holds
        self._dirty: dict[str, Tracked] = {}  # key -> session whose last change is not yet in the store
        self._handed: set[str] = set()  # keys to release at close (handed off, or taken by key)
        self._release_now: set[str] = set()  # keys handed off: released at their next write (in the background)
        self._keep: set[str] = set()  # keys of records recovery could not settle: left to look crashed at close
        self._released: set[str] = set()  # keys this client released (to delete if it stops the session itself)
        self._scope: anyio.CancelScope | None = None
        self._closed = False
        self._had_lease = False  # a renewal found the lease running, or made it run

    def __repr__(self) -> str:
        return f"SessionRegistry(owner={self.owner!r}, held={len(self._held)}, store={self.store!r})"

    # -- store calls: bounded, never raising ------------------------------------------------------------------------

    async def _call(self, what: str, key: str | None, call: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        """Run one store call shielded and bounded; ``(False, None)`` after a WARNING when it failed.

        :class:`SessionOwnershipError` and :class:`SessionNotFoundError` propagate: they are answers, not failures.
        """
        error = "timeout"
        with anyio.move_on_after(self._timeout, shield=True):
            try:
                return True, await call()
            except (SessionOwnershipError, SessionNotFoundError):
                raise
            except Exception as exc:  # the store is down or refused: the recording goes on
                error = type(exc).__name__
        logger.warning(
            "agora session store %s failed key=%s error=%s; the session goes on, retried at its next change",
            what,
            log_safe(key),
            error,
        )
        return False, None

    # -- the session hooks ------------------------------------------------------------------------------------------

    def track(self, session: Tracked, *, release_at_close: bool = False) -> None:
        """``session``'s record is this client's (it claimed it by key, or adopted it in recovery)."""
        self._held[session.key] = session
        if release_at_close:
            self._handed.add(session.key)

    def keep_for_recovery(self, key: str) -> None:
        """A claimed record this client could not settle (unreadable, another App ID): it looks crashed at close."""
        self._keep.add(key)

    def changed(self, session: Tracked) -> None:
        """A state change to write in the background (at the next lease tick or write, or at close)."""
        if session.key in self._held:
            self._dirty[session.key] = session

    def handed_off(self, session: Tracked) -> None:
        """``snapshot()``/``to_state()``: release the record (in the background) so another worker can take it."""
        if session.key in self._held:
            self._handed.add(session.key)
            self._release_now.add(session.key)
            self._dirty[session.key] = session

    async def write(self, session: Tracked) -> bool:
        """Write ``session``'s state now (first write of a start: begin holding it). True when the store has it."""
        key = session.key
        if key not in self._held:
            if key in self._released and session.state in _GONE:
                return await self._delete_released(key, session)
            if session.state is not SessionState.STARTING or self._closed:
                return True  # not this client's record (a session resumed from a snapshot dict, say)
            self._held[key] = session
        self._dirty.pop(key, None)
        try:
            ok = await self._write_now(key, session)
        except SessionOwnershipError as exc:
            self._lost(key, session, exc.owner)
            return False
        except SessionNotFoundError:
            self._forget(key)  # released and gone already (or lost with a restarted store): nothing to keep
            return True
        if not ok:
            self._dirty[key] = session
        return ok

    async def _write_now(self, key: str, session: Tracked) -> bool:
        state = session.state
        if state in _GONE:
            ok, _ = await self._call("delete", key, lambda: self.store.delete(key, owner=self.owner))
            if ok:
                self._forget(key)
            return ok
        ok, _ = await self._call("put", key, lambda: self.store.put(key, self._data(session), owner=self.owner))
        if ok and key in self._release_now:
            ok, _ = await self._call("release", key, lambda: self.store.release(key, owner=self.owner))
            if ok:
                self._forget(key)
                self._released.add(key)
        return ok

    async def _delete_released(self, key: str, session: Tracked) -> bool:
        """A session this client released, then stopped itself: take its record back and delete it."""
        self._released.discard(key)
        try:
            ok, _ = await self._call("claim", key, lambda: self.store.claim(key, owner=self.owner))
            if ok:
                ok, _ = await self._call("delete", key, lambda: self.store.delete(key, owner=self.owner))
        except (SessionOwnershipError, SessionNotFoundError):
            return True  # someone else took it meanwhile, or it is gone: not ours to delete
        return ok

    @staticmethod
    def _data(session: Tracked) -> dict[str, Any]:
        own = getattr(session, "store_data", None)  # a record that is not a session's (a supervisor's unit)
        return dict(own()) if own is not None else session._take_snapshot().to_json()

    def _forget(self, key: str) -> None:
        self._held.pop(key, None)
        self._handed.discard(key)
        self._release_now.discard(key)
        self._dirty.pop(key, None)

    def _lost(self, key: str, session: Tracked, owner: str | None) -> None:
        self._forget(key)
        logger.warning(
            "agora session record taken over by another owner cname=%s uid=%s key=%s owner=%s state=%s",
            log_safe(session.cname),
            log_safe(session.uid),
            log_safe(key),
            log_safe(owner),
            session.state.value,
        )

    async def flush(self) -> None:
        """Write every pending change now (failures stay pending)."""
        for key, session in list(self._dirty.items()):
            if self._dirty.get(key) is session:
                await self.write(session)

    def held(self) -> dict[str, Tracked]:
        """The sessions whose records this client holds now, by key."""
        return dict(self._held)

    def holds(self, key: str) -> bool:
        """Whether this client holds the record of ``key`` now (O(1); :meth:`held` copies)."""
        return key in self._held

    # -- the lease --------------------------------------------------------------------------------------------------

    def start(self, spawn: Callable[[Callable[[], Coroutine[Any, Any, None]]], bool]) -> None:
        """Run the lease loop in the client's task group (``spawn`` is the keeper's)."""
        spawn(self._run)

    async def _run(self) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            period = self.store.lease / 3.0
            while not self._closed:
                await self.renew()
                await self._sleep(period)

    async def renew(self) -> bool:
        """Renew the lease; when it had lapsed, write every held session again. False when the store failed."""
        ok, alive = await self._call("heartbeat", None, lambda: self.store.heartbeat(self.owner))
        if not ok:
            return False
        had_lease, self._had_lease = self._had_lease, True
        if not alive and had_lease and self._held:
            logger.warning(
                "agora session store lease had lapsed owner=%s; writing %d session(s) again",
                self.owner,
                len(self._held),
            )
            for session in list(self._held.values()):
                await self.write(session)
        await self.flush()
        return True

    # -- closing ----------------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """After the drain: release what was handed off; leave what could not be settled to look crashed."""
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
        with anyio.CancelScope(shield=True):
            await self.flush()
            for key in [k for k in self._held if k in self._handed]:
                session = self._held[key]
                try:
                    ok, _ = await self._call(
                        "release", key, functools.partial(self.store.release, key, owner=self.owner)
                    )
                except (SessionOwnershipError, SessionNotFoundError):
                    ok = True
                if ok:
                    self._forget(key)
                else:
                    logger.warning(
                        "agora session not released cname=%s uid=%s key=%s",
                        log_safe(session.cname),
                        log_safe(session.uid),
                        log_safe(key),
                    )
            unsettled = [(key, session.state.value) for key, session in self._held.items()]
            unsettled += [(key, "unreadable or foreign") for key in sorted(self._keep)]
            for key, state in unsettled:
                logger.warning(
                    "agora session left in the session store for recovery key=%s state=%s", log_safe(key), state
                )
            if unsettled:  # end the lease at once: the next recover_sessions() anywhere takes them
                await self._call("heartbeat", None, functools.partial(self.store.heartbeat, self.owner, lease=0.001))
            else:
                await self._call("release_owner", None, functools.partial(self.store.release_owner, self.owner))
