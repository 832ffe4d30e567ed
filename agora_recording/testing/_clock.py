"""A virtual monotonic clock for tests, with an autojump driver that works on every anyio backend.

:class:`VirtualClock` stands in for the library's injectable :data:`~agora_recording._clock.Clock` and for
:func:`anyio.sleep`: pass ``clock=vc`` and ``sleep=vc.sleep`` to anything that takes them (for example
:class:`~agora_recording.TokenBucket`). Virtual time moves only when the test says so:

- :meth:`VirtualClock.advance` moves time forward by hand and wakes every sleeper whose deadline has passed;
- ``async with clock.autojump():`` (or :meth:`VirtualClock.run_autojump` in a task group of your own) moves
  time for you: whenever every other task is blocked, it jumps to the earliest pending deadline, like
  ``trio.testing.MockClock(autojump_threshold=0)``, but on asyncio as well as trio.

Only sleeps through :meth:`VirtualClock.sleep` are virtual. A task blocked on anything else (a real
:func:`anyio.sleep`, a socket, an event) counts as blocked, so the autojump driver may move virtual time while
it waits.

Example::

    vc = VirtualClock()
    limiter = TokenBucket(10, 1.0, clock=vc, sleep=vc.sleep)
    async with vc.autojump():
        for _ in range(20):
            await limiter.acquire()
    assert vc() == 1.025  # the second window opened after per + margin
"""

from __future__ import annotations

import heapq
import itertools
import math
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup, TaskStatus

__all__ = ["VirtualClock"]

# How many plain checkpoints the autojump driver takes before it asks the backend whether every task is blocked.
# On asyncio, anyio's wait_all_tasks_blocked() polls with a real 0.1 s sleep whenever it finds a task that is
# runnable; letting the ready queue drain first makes the first look succeed almost always.
_SETTLE_CHECKPOINTS = 32


class VirtualClock:
    """A manually driven monotonic clock: ``vc()`` returns virtual seconds, starting at ``start``.

    - ``vc()`` reads the virtual time (a :data:`~agora_recording._clock.Clock`).
    - :meth:`advance` moves it forward and wakes the sleepers that are due.
    - :meth:`sleep` waits until virtual time reaches ``now + seconds``; it is cancellable, and a cancelled
      sleeper is removed at once.
    - :meth:`autojump` / :meth:`run_autojump` jump time forward whenever all tasks are blocked.

    The clock is not thread-safe; use it from the event loop thread. It holds no event-loop state between
    sleeps, so one clock can serve several ``anyio.run`` calls one after another.

    Raises :class:`ValueError` for a non-finite ``start``.
    """

    __slots__ = ("_now", "_seq", "_sleeper_added", "_sleepers")

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, got {start!r}")
        self._now = float(start)
        # A heap of (deadline, sequence number, event); the sequence number keeps equal deadlines in arrival order.
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()
        self._sleeper_added: anyio.Event | None = None

    def __call__(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, sleepers={len(self._sleepers)})"

    @property
    def sleepers(self) -> int:
        """How many tasks are sleeping on this clock right now."""
        return len(self._sleepers)

    @property
    def next_deadline(self) -> float | None:
        """The earliest deadline of a pending sleeper, or ``None`` when nobody sleeps."""
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` and wake every sleeper whose deadline is now reached.

        The sleepers resume at their next scheduling point, not inside this call.
        Raises :class:`ValueError` when ``seconds`` is negative, NaN or infinite.
        """
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._jump_to(self._now + seconds)

    def _jump_to(self, when: float) -> None:
        if when > self._now:
            self._now = when
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= self._now:
            heapq.heappop(sleepers)[2].set()

    async def sleep(self, seconds: float) -> None:
        """Wait until virtual time reaches ``now + seconds``; a drop-in for :func:`anyio.sleep`.

        ``seconds <= 0`` is a plain checkpoint. ``math.inf`` sleeps until cancelled (autojump never jumps to
        infinity). Cancellation removes the sleeper. Raises :class:`ValueError` for NaN.
        """
        if math.isnan(seconds):
            raise ValueError("seconds must not be NaN")
        if seconds <= 0:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        entry = (self._now + seconds, next(self._seq), event)
        heapq.heappush(self._sleepers, entry)
        if self._sleeper_added is not None:
            self._sleeper_added.set()
        try:
            await event.wait()
        finally:
            if not event.is_set():  # cancelled before its deadline: forget it now
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    def autojump(self) -> AbstractAsyncContextManager[VirtualClock]:
        """An async context manager that runs the autojump driver while its body runs.

        Inside ``async with vc.autojump():``, whenever every other task is blocked, virtual time jumps to the
        earliest pending deadline and that sleeper wakes. With no sleeper pending the driver waits (it does not
        spin) until one arrives. The driver stops when the block exits; an exception from the body propagates
        unchanged (not wrapped in an exception group).
        """
        return _Autojump(self)

    async def run_autojump(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The autojump driver as a task, for ``await tg.start(vc.run_autojump)``; runs until cancelled.

        Blocked means: ``anyio.wait_all_tasks_blocked()`` returned, that is, every other task of the event loop
        is waiting for something. Then time jumps to the earliest finite deadline; sleepers of ``math.inf``
        are never woken this way.
        """
        task_status.started()
        while True:
            for _ in range(_SETTLE_CHECKPOINTS):
                await anyio.lowlevel.checkpoint()
            await anyio.wait_all_tasks_blocked()
            deadline = self.next_deadline
            if deadline is None or deadline == math.inf:
                # Nothing to jump to: wait for a new sleeper instead of spinning.
                self._sleeper_added = anyio.Event()
                try:
                    await self._sleeper_added.wait()
                finally:
                    self._sleeper_added = None
                continue
            self._jump_to(deadline)


class _Autojump:
    """The async context manager behind :meth:`VirtualClock.autojump` (a class, so no task group spans a yield)."""

    __slots__ = ("_clock", "_task_group")

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._task_group: TaskGroup | None = None

    async def __aenter__(self) -> VirtualClock:
        if self._task_group is not None:
            raise RuntimeError("this autojump context is already active")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        try:
            await task_group.start(self._clock.run_autojump)
        except BaseException as exc:
            self._task_group = None
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self._clock

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        task_group.cancel_scope.cancel()
        if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
            # Let the task group absorb its own cancellation (and report a crash of the driver, if any).
            return await task_group.__aexit__(exc_type, exc, tb)
        # The body raised: stop the driver, then let the body's exception propagate as it is.
        await task_group.__aexit__(None, None, None)
        return None
