"""The client's custody of recordings: the exchanges that can start or stop one, and the sessions it owns.

A start (from its first send to its answer) and every stop are *exchanges*. They run in a task of the client, not
of the caller, so no cancellation of the caller, by any means, can cut one short:

* Inside ``async with client:`` the :class:`Keeper` holds one task group for the client's lifetime. The caller
  starts the exchange there and awaits its outcome. A caller cancelled through anyio or trio (a cancel scope)
  keeps today's semantics: an exchange already sent is waited for (shielded), with its clean-up, then the
  cancellation propagates; an unsent start is called off. A caller cancelled natively (``task.cancel()``,
  ``asyncio.timeout``, ``wait_for``, a failing ``TaskGroup`` sibling, ``gather``, Ctrl-C under ``asyncio.run``)
  stops waiting at once and its cancellation propagates unchanged; the exchange finishes in the client's task, and
  its *abandon handler* deals with the result (a session whose caller went away is stopped, with a WARNING).
* Without ``async with`` there is no long-lived task group. Each exchange then gets a task group of its own inside
  the call: the exchange still finishes, and still is cleaned up, whatever cancels the caller, but the caller
  waits for it (up to the start or stop deadline) before its cancellation propagates.

The keeper also owns the sessions this client started (until they stop, fail to start, or are handed off with
``to_state()``). :meth:`Keeper.drain`, run by ``aclose()``, refuses new starts, calls off unsent ones, waits for the
exchanges in flight, then stops every live owned session in parallel (each bounded by its stop deadline), logging
one WARNING per session it had to stop or could not stop.

This module depends on nothing of the client or the session (it imports errors and the state enum only): sessions
reach it through :class:`~agora_recording._session_host.SessionHost` and appear here as :class:`Owned`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, Generic, Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup

from agora_recording._errors import APIConnectionError, log_safe
from agora_recording._session_state import SessionState

__all__ = ["IN_EXCHANGE", "SEND_OBSERVER", "Exchange", "Keeper", "Owned"]

logger = logging.getLogger("agora_recording")
T = TypeVar("T")

SEND_OBSERVER: ContextVar[Callable[[], None] | None] = ContextVar("agora_recording_send_observer", default=None)
"""Called (in the calling task's context) right before each HTTP attempt is sent, after its rate-limit permit.

The keeper uses it to shield an exchange from its first send on; the session's guard to start its deadlines there,
not while queued. The observer may raise to refuse the send (the five-minute guard does); the exception propagates
out of the call. An observer that replaces another should call it (the guard calls the keeper's)."""

IN_EXCHANGE: ContextVar[bool] = ContextVar("agora_recording_in_exchange", default=False)
"""True inside a keeper task: a start or stop called there runs directly instead of starting another exchange."""

_LIVE = (SessionState.RECORDING, SessionState.STOPPING)


class Owned(Protocol):
    """What the keeper needs from a session it owns."""

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

    @property
    def sid(self) -> str | None:
        """The recording ID (logged)."""
        ...

    @property
    def resource_id(self) -> str | None:
        """The resourceId (logged when there is no sid)."""
        ...

    async def _stop_for_owner(self) -> None:
        """Stop the recording, bounded by the session's stop deadline as a whole; raise if it could not."""
        ...


def _cancelled_by_scope() -> bool:
    """True when the current task sits in a cancelled anyio/trio cancel scope (not a native asyncio cancel)."""
    try:
        return anyio.current_effective_deadline() == -math.inf
    except Exception:  # no anyio-managed task (cannot happen inside the library's own calls)
        return False


class Exchange(Generic[T]):
    """One start or stop run by the keeper. ``handler`` deals with its outcome if the caller went away."""

    __slots__ = (
        "abandoned",
        "cancel_unsent",
        "cancelled",
        "done",
        "error",
        "group",
        "handler",
        "ok",
        "result",
        "scope",
        "sent",
        "settled",
        "settled_event",
        "shielded",
        "waited",
        "what",
        "work",
    )

    def __init__(
        self,
        work: Callable[[], Awaitable[T]],
        *,
        what: str,
        handler: Callable[[Exchange[T]], Awaitable[None]] | None,
        shielded: bool,
        cancel_unsent: bool,
    ) -> None:
        self.work = work
        self.what = what
        self.handler = handler
        self.shielded = shielded
        self.cancel_unsent = cancel_unsent
        self.done = anyio.Event()  # the work ended
        self.settled = False  # its outcome was taken by the caller, or handled for it
        self.settled_event: anyio.Event | None = None  # created only for someone who waits for that
        self.sent = False
        self.ok = False
        self.cancelled = False
        self.abandoned = False
        self.waited = False
        self.result: T | None = None
        self.error: Exception | None = None
        self.scope: anyio.CancelScope | None = None
        self.group: TaskGroup | None = None

    def on_send(self) -> None:
        """The work is about to send: from here on nothing may cancel it (its own deadlines bound it)."""
        self.sent = True
        if self.scope is not None:
            self.scope.shield = True

    def call_off(self) -> bool:
        """Cancel the work if nothing was sent yet and calling it off is allowed; True if it was called off."""
        if self.sent or not self.cancel_unsent or self.done.is_set():
            return False
        if self.scope is not None:
            self.scope.cancel()
        return True

    def settle(self) -> None:
        """The outcome was taken, or handled: wake whoever waits for that."""
        self.settled = True
        if self.settled_event is not None:
            self.settled_event.set()

    async def wait_settled(self) -> None:
        """Wait until the outcome was taken by the caller or handled for it (clean-up included)."""
        if not self.settled:
            if self.settled_event is None:
                self.settled_event = anyio.Event()
            await self.settled_event.wait()

    def outcome(self) -> T:
        """The result for the caller (or the work's error); marks the outcome as taken."""
        self.settle()
        if self.ok:
            return self.result  # type: ignore[return-value]  # ok means result holds the work's T
        if self.error is not None:
            raise self.error
        raise APIConnectionError(f"the client was closed before the {self.what} was sent", endpoint=self.what)


class Keeper:
    """Runs a client's start and stop exchanges, and owns the sessions it started (see the module docstring)."""

    __slots__ = ("__weakref__", "_active", "_closing", "_exchanges", "_group", "_host", "_idle", "_owned")

    def __init__(self) -> None:
        self._group: TaskGroup | None = None
        self._host: int | None = None  # the task that entered the group
        self._closing = False
        self._active = 0
        self._idle: anyio.Event | None = None
        self._exchanges: set[Exchange[Any]] = set()
        self._owned: set[Owned] = set()

    @property
    def closing(self) -> bool:
        """True once :meth:`drain` began: no new start is accepted."""
        return self._closing

    @property
    def has_group(self) -> bool:
        """True inside ``async with client``: exchanges run in the client's own task group."""
        return self._group is not None

    # -- the task group's lifetime (``async with client``) ----------------------------------------------------------

    async def open(self) -> None:
        """Enter the client's task group (``CloudRecordingClient.__aenter__``)."""
        if self._group is not None:
            raise RuntimeError("this client is already open: enter `async with client` once")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        self._host = anyio.get_current_task().id

    async def exit(self) -> None:
        """Leave the task group (``__aexit__``, after :meth:`drain`); it is empty by then.

        Left from another task than the one that entered it (allowed for fixtures whose set-up task has ended),
        the group is dropped instead of exited.

        The body's exception is not handed to the group: it propagates as it is, never wrapped in an exception
        group (the keeper's tasks never raise).
        """
        group, self._group = self._group, None
        if group is None:
            return
        if anyio.get_current_task().id != self._host:
            # Left from another task than the one that entered (a pytest-asyncio fixture sets up and tears down in
            # two tasks): a cancel scope cannot be exited there. The drain already emptied the group; drop it.
            logger.debug("agora client left from another task than the one that entered it; its task group is dropped")
            return
        await group.__aexit__(None, None, None)

    def spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
        """Run ``work`` in the client's task group as a background task (not an exchange: the drain does not wait
        for it, so it must end when its owner cancels it before :meth:`exit`); False without a task group."""
        if self._group is None:
            return False
        self._group.start_soon(work)
        return True

    # -- ownership --------------------------------------------------------------------------------------------------

    def own(self, session: Owned) -> None:
        """``session`` is this client's until :meth:`release`: the drain stops it if it is still live."""
        self._owned.add(session)

    def release(self, session: Owned) -> None:
        """``session`` is no longer this client's (stopped, never started, or handed off)."""
        self._owned.discard(session)

    def owned(self) -> tuple[Owned, ...]:
        """The sessions this client owns right now."""
        return tuple(self._owned)

    # -- exchanges --------------------------------------------------------------------------------------------------

    async def run(
        self,
        work: Callable[[], Awaitable[T]],
        *,
        what: str,
        handler: Callable[[Exchange[T]], Awaitable[None]] | None = None,
        shielded: bool = False,
        cancel_unsent: bool = True,
        created: Callable[[Exchange[T]], None] | None = None,
    ) -> T:
        """Run ``work`` as an exchange and return its result (or raise its error) to the caller.

        ``shielded``: nothing cancels it even before it sends (stops). ``cancel_unsent``: a caller that goes away
        before the first send calls it off (starts). ``created`` receives the exchange before it runs (so a session
        can let a concurrent ``stop()`` wait for its start).
        """
        if IN_EXCHANGE.get():
            return await work()  # already in a keeper task (a session's start calls client.start)
        if self._closing and what == "start":
            raise APIConnectionError("the client is closing: no new start is sent", endpoint=what)
        exchange = Exchange(work, what=what, handler=handler, shielded=shielded, cancel_unsent=cancel_unsent)
        if created is not None:
            created(exchange)
        if self._group is not None:
            self._spawn(self._group, exchange)
            return await self._await(exchange)
        # No `async with client`: an exchange of its own, which the caller waits for even when cancelled.
        async with anyio.create_task_group() as group:
            self._spawn(group, exchange)
            try:
                await exchange.done.wait()
            except BaseException:
                self._abandon(exchange, waiting=True)
                raise
        return exchange.outcome()

    def _spawn(self, group: TaskGroup, exchange: Exchange[Any]) -> None:
        exchange.group = group
        self._enter()
        self._exchanges.add(exchange)
        group.start_soon(self._drive, exchange)

    async def _await(self, exchange: Exchange[T]) -> T:
        try:
            await exchange.done.wait()
        except BaseException:
            # anyio/trio cancellation: as before, an exchange already sent is waited for, clean-up included, and
            # an unsent start is called off and waited for (at once: nothing to wait for but its unwinding).
            # A native cancellation (or KeyboardInterrupt): stop waiting now; the keeper finishes and cleans up.
            waiting = (exchange.sent or exchange.cancel_unsent) and _cancelled_by_scope()
            self._abandon(exchange, waiting=waiting)
            if waiting:
                with anyio.CancelScope(shield=True):
                    await exchange.wait_settled()
            raise
        return exchange.outcome()

    def _abandon(self, exchange: Exchange[Any], *, waiting: bool) -> None:
        """The caller went away: call the exchange off if unsent; otherwise its handler deals with the outcome."""
        exchange.abandoned = True
        exchange.waited = waiting
        exchange.call_off()
        if exchange.done.is_set() and not exchange.settled:
            # It ended before the caller could take the outcome: handle it in a keeper task (start_soon needs no
            # await, so this runs even under a native cancellation).
            group = self._group or exchange.group
            if group is not None:
                self._enter()
                group.start_soon(self._handle, exchange)

    async def _drive(self, exchange: Exchange[Any]) -> None:
        IN_EXCHANGE.set(True)  # this task's own context (a copy of the caller's)
        SEND_OBSERVER.set(exchange.on_send)
        outer: BaseException | None = None
        try:
            try:
                with anyio.CancelScope(shield=exchange.shielded) as scope:
                    exchange.scope = scope
                    if exchange.abandoned:
                        exchange.call_off()
                    exchange.result = await exchange.work()
                    exchange.ok = True
                exchange.cancelled = not exchange.ok  # our own scope caught a cancellation: called off
            except anyio.get_cancelled_exc_class() as exc:  # the client's task group was cancelled
                exchange.cancelled = True
                outer = exc
            except Exception as exc:  # handed to the caller, or to the handler
                exchange.error = exc
            exchange.done.set()
            if exchange.abandoned:
                await self._handle_now(exchange)
        finally:
            exchange.done.set()
            self._exchanges.discard(exchange)
            if not self._exchanges:  # a set never shrinks: drop the table a burst of starts grew
                self._exchanges = set()
            self._leave()
        if outer is not None:
            raise outer

    async def _handle(self, exchange: Exchange[Any]) -> None:
        IN_EXCHANGE.set(True)
        try:
            await self._handle_now(exchange)
        finally:
            self._leave()

    async def _handle_now(self, exchange: Exchange[Any]) -> None:
        with anyio.CancelScope(shield=True):
            try:
                if exchange.handler is not None:
                    await exchange.handler(exchange)
            except Exception as exc:  # a handler must not take the client's task group down
                logger.warning(
                    "agora clean-up after an abandoned %s failed error=%s", exchange.what, type(exc).__name__
                )
            finally:
                exchange.settle()

    def _enter(self) -> None:
        self._active += 1

    def _leave(self) -> None:
        self._active -= 1
        if self._active == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def _wait_idle(self) -> None:
        while self._active > 0:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    # -- closing ----------------------------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Refuse new starts, call off unsent ones, wait for every exchange, then stop every live owned session.

        Shielded from anyio cancellation; a native cancellation of the closing task is held until the drain is
        done, then re-raised. One WARNING per session stopped here or left running.
        """
        self._closing = True
        for exchange in tuple(self._exchanges):
            exchange.call_off()
        held: BaseException | None = None
        with anyio.CancelScope(shield=True):
            while True:
                try:
                    await self._wait_idle()
                    live = self._sort_owned()
                    if not live:
                        break
                    async with anyio.create_task_group() as group:
                        for session in live:
                            group.start_soon(self._drain_one, session)
                except anyio.get_cancelled_exc_class() as exc:  # native: finish the drain first
                    held = exc
        if held is not None:
            raise held

    def _sort_owned(self) -> list[Owned]:
        """The owned sessions to stop now; the others are released (with a WARNING when one may still run)."""
        live: list[Owned] = []
        for session in tuple(self._owned):
            state = session.state
            if state in _LIVE and session.sid is not None:
                live.append(session)
                continue
            self._owned.discard(session)
            if state is SessionState.UNKNOWN:
                logger.warning(
                    "agora session left running at client close cname=%s uid=%s sid=%s resource_id=%s reason=%s",
                    log_safe(session.cname),
                    log_safe(session.uid),
                    log_safe(session.sid),
                    log_safe(session.resource_id),
                    "the start's outcome is unknown (no sid): it cannot be stopped; it runs until maxRecordingHour",
                )
        return live

    async def _drain_one(self, session: Owned) -> None:
        IN_EXCHANGE.set(True)
        try:
            await session._stop_for_owner()
        except Exception as exc:  # logged: one session's failure must not stop the others
            logger.warning(
                "agora session could not be stopped at client close cname=%s uid=%s sid=%s reason=%s status=%s code=%s",
                log_safe(session.cname),
                log_safe(session.uid),
                log_safe(session.sid),
                type(exc).__name__,
                getattr(exc, "status_code", None),
                getattr(exc, "code", None),
            )
        else:
            logger.warning(
                "agora session stopped at client close cname=%s uid=%s sid=%s reason=%s",
                log_safe(session.cname),
                log_safe(session.uid),
                log_safe(session.sid),
                "still recording when the client closed (never stopped by its owner)",
            )
        finally:
            self._owned.discard(session)

    def warn_unclosed(self) -> None:
        """The client is being garbage-collected without ``aclose()``: name every live session it still owns."""
        for session in tuple(self._owned):
            if session.state in _LIVE or session.state is SessionState.UNKNOWN:
                logger.warning(
                    "agora client garbage-collected without aclose(); a recording may still run "
                    "cname=%s uid=%s sid=%s state=%s",
                    log_safe(session.cname),
                    log_safe(session.uid),
                    log_safe(session.sid),
                    session.state.value,
                )
