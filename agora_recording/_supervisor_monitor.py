"""The supervisor's query scheduler: one heap of due times, one ticker task, a few workers. No task per recording.

Each supervised recording has at most one live entry ``(due, seq, token, handle)`` in the heap; rescheduling
bumps the handle's token, so the old entry is skipped when it comes up. The ticker sleeps until the earliest due
time (woken early when an earlier one is added) and hands due handles to ``concurrency`` workers through an
unbuffered stream: when every worker is busy the ticker waits. That is the monitoring budget: the fleet never
holds more than ``concurrency`` places in the client's rate-limiter queue, so starts and stops are not queued
behind a burst of queries.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

if TYPE_CHECKING:
    from agora_recording._supervisor_handle import RecordingHandle

__all__ = ["Scheduler"]

Check = Callable[["RecordingHandle", int], Awaitable[None]]


class Scheduler:
    """Runs ``check(handle, generation)`` for each handle when it falls due, at most ``concurrency`` at once."""

    __slots__ = ("_check", "_clock", "_concurrency", "_eligible", "_heap", "_seq", "_sleep", "_wake_at", "_wake_scope")

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        concurrency: int,
        check: Check,
        eligible: Callable[[RecordingHandle], bool],
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._concurrency = concurrency
        self._check = check
        self._eligible = eligible
        self._heap: list[tuple[float, int, int, RecordingHandle]] = []
        self._seq = 0
        self._wake_at = math.inf
        self._wake_scope: anyio.CancelScope | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, handle: RecordingHandle, due: float) -> None:
        """Check ``handle`` at ``due`` (replacing any earlier schedule of it)."""
        handle._token += 1
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, handle._token, handle))
        if due < self._wake_at and self._wake_scope is not None:
            self._wake_scope.cancel()

    @staticmethod
    def unschedule(handle: RecordingHandle) -> None:
        """Drop the handle's pending check (its heap entry is skipped when it comes up)."""
        handle._token += 1

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The ticker and its workers; runs until cancelled."""
        send, receive = anyio.create_memory_object_stream[tuple["RecordingHandle", int]](0)
        async with anyio.create_task_group() as tg, send, receive:
            for _ in range(self._concurrency):
                tg.start_soon(self._worker, receive.clone())
            task_status.started()
            await self._tick(send)

    async def _tick(self, send: MemoryObjectSendStream[tuple[RecordingHandle, int]]) -> None:
        heap = self._heap
        while True:
            now = self._clock()
            while heap and heap[0][0] <= now:
                _, _, token, handle = heapq.heappop(heap)
                if token != handle._token or not self._eligible(handle):
                    continue
                await send.send((handle, handle._gen))  # waits while every worker is busy: the budget
                now = self._clock()
            self._wake_at = heap[0][0] if heap else math.inf
            with anyio.CancelScope() as wake:
                self._wake_scope = wake
                await self._sleep(self._wake_at - now)
            self._wake_scope = None
            self._wake_at = math.inf

    async def _worker(self, receive: MemoryObjectReceiveStream[tuple[RecordingHandle, int]]) -> None:
        async with receive:
            async for handle, generation in receive:
                await self._check(handle, generation)
