"""Deadlines and shields for the exchanges that can start or stop a recording.

:func:`guarded` runs one start or stop: before its first send it can be cancelled (nothing to clean up yet); from
the first send on it is shielded from cancellation and bounded by a deadline, so a request that may have reached
Agora is always answered or timed out, never abandoned half-way. The deadline starts at the send: time spent
queued behind the rate limiter does not count, so a request that never left is never reported as "may have
started". The first send is observed through :data:`~agora_recording._session_keeper.SEND_OBSERVER`.

This module knows nothing of sessions: it takes the work as a coroutine function and reports through
:class:`SendState` whether anything may have left.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup

from agora_recording._errors import InvalidRequestError, ResourceExpiredError
from agora_recording._limiter import Sleep
from agora_recording._session_keeper import SEND_OBSERVER

__all__ = ["SendState", "StaleAtSend", "check_seconds", "guarded", "within"]

T = TypeVar("T")


class SendState:
    """Whether a request of the current start/stop may have left, and how many sends there were.

    ``sent`` is reset only after a clear refusal of the one send there was (433 on a first send); ``sends`` counts
    every send (retries included) and is never reset.
    """

    __slots__ = ("sends", "sent")

    def __init__(self) -> None:
        self.sent = False
        self.sends = 0


class StaleAtSend(ResourceExpiredError):
    """Internal: the resourceId passed the guard while the start waited for its permit; nothing was sent."""

    def __init__(self) -> None:
        super().__init__("start: the resourceId expired while waiting to be sent")


def check_seconds(value: Any, name: str, *, minimum: float = 0.0) -> float:
    """``value`` as a float of seconds >= ``minimum``, or :class:`InvalidRequestError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise InvalidRequestError(name, f"must be a number >= {minimum}, got {value!r}")
    return float(value)


async def guarded(
    sleep: Sleep,
    seconds: float,
    work: Callable[[], Awaitable[T]],
    *,
    sent: SendState,
    shield: bool,
    before_send: Callable[[], None] | None = None,
    queue_limit: float | None = None,
) -> T | None:
    """Run ``work()``; from its first send on, shield it from cancellation and bound it by ``seconds``.

    Before the first send the work can be cancelled if ``shield`` is False (nothing to clean up yet), and
    ``before_send`` may refuse that first send by raising. It is not called before a resend: once a request may
    have left, refusing its resend would abandon whatever the first one did. ``queue_limit`` (real clock only)
    bounds the wait before the send. Returns ``None`` when a deadline cut the work short. On the real clock
    (``sleep is anyio.sleep``) the deadline is the cancel scope's own; with an injected clock a watchdog, started at
    the send inside the shield, sleeps through ``sleep``.
    """
    real_clock = sleep is anyio.sleep
    result: list[T] = []
    error: BaseException | None = None
    armed = False
    group: list[TaskGroup] = []  # the watchdog's task group, injected clocks only
    with anyio.CancelScope(shield=shield) as scope:
        if queue_limit is not None and real_clock:
            scope.deadline = anyio.current_time() + queue_limit

        async def watchdog() -> None:
            try:
                await sleep(seconds)
            except Exception:  # an injected sleep that fails: fall back to the scope's own deadline
                scope.deadline = anyio.current_time() + seconds
                return
            scope.cancel()

        previous = SEND_OBSERVER.get()  # the keeper's: it shields the whole exchange from the first send on

        def on_send() -> None:
            nonlocal armed
            if before_send is not None and not armed:  # the first send only: a resend must go out as it is
                before_send()
            sent.sent = True
            sent.sends += 1
            if previous is not None:
                previous()
            if armed:
                return
            armed = True
            scope.shield = True
            if real_clock:
                scope.deadline = anyio.current_time() + seconds
            else:
                group[0].start_soon(watchdog)

        token = SEND_OBSERVER.set(on_send)
        try:
            if real_clock:  # the scope's own deadline: no task group, no extra task per call
                result.append(await work())
            else:
                async with anyio.create_task_group() as tg:
                    group.append(tg)
                    try:
                        result.append(await work())
                    except anyio.get_cancelled_exc_class():
                        raise
                    except BaseException as exc:  # re-raised below, outside the task group (no exception group)
                        error = exc
                    finally:
                        tg.cancel_scope.cancel()
        finally:
            SEND_OBSERVER.reset(token)
    if error is not None:
        raise error
    return result[0] if result else None


async def within(sleep: Sleep, seconds: float, work: Callable[[], Awaitable[T]]) -> T | None:
    """Run ``work()`` shielded from cancellation, cut short after ``seconds`` on ``sleep``'s clock (``None`` then).

    For the client's drain: the whole stop, queueing included, is bounded, and nothing outside can cancel it.
    """
    if sleep is anyio.sleep:
        with anyio.move_on_after(seconds, shield=True):
            return await work()
        return None
    result: list[T] = []
    error: BaseException | None = None
    with anyio.CancelScope(shield=True) as scope:

        async def watchdog() -> None:
            await sleep(seconds)
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watchdog)
            try:
                result.append(await work())
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:  # re-raised below, outside the task group (no exception group)
                error = exc
            finally:
                tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return result[0] if result else None
