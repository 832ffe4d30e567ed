"""InFlightGate: the client's cap on requests inside httpx (FIFO, hand-over, O(1) cancellation, no yield)."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from agora_recording import InvalidRequestError
from agora_recording._gate import InFlightGate

pytestmark = pytest.mark.anyio


async def test_free_slots_are_taken_without_yielding() -> None:
    """With a slot free and nobody waiting, acquire completes without letting another task run."""
    gate = InFlightGate(2)
    ran: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _append(ran, "other"))
        await gate.acquire()
        await gate.acquire()
        assert ran == []  # no checkpoint happened inside the two acquires
        assert gate.held == 2
    gate.release()
    gate.release()
    assert gate.held == 0


async def _append(log: list[str], item: str) -> None:
    log.append(item)


async def test_never_more_than_limit_holders_and_fifo_order() -> None:
    """Ten tasks through a gate of 3: never more than 3 inside, and waiters enter in arrival order."""
    gate = InFlightGate(3)
    inside: list[int] = []
    most = 0
    order: list[int] = []
    leave = [anyio.Event() for _ in range(10)]

    async def worker(i: int) -> None:
        nonlocal most
        async with gate:
            order.append(i)
            inside.append(i)
            most = max(most, len(inside))
            await leave[i].wait()
            inside.remove(i)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(worker, i)
            await anyio.wait_all_tasks_blocked()  # arrive one after another (trio shuffles ready tasks)
        assert gate.held == 3
        assert gate.waiting == 7
        while inside:  # one holder leaves at a time, so each hand-over is observed on its own
            leave[inside[0]].set()
            await anyio.wait_all_tasks_blocked()
    assert most == 3
    assert order == list(range(10))
    assert gate.held == 0
    assert gate.waiting == 0


async def test_a_newcomer_does_not_overtake_a_waiter() -> None:
    """A release hands the slot to the first waiter; a caller arriving right then waits behind it."""
    gate = InFlightGate(1)
    await gate.acquire()
    entered: list[str] = []

    async def enter(name: str) -> None:
        async with gate:
            entered.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(enter, "waiter")
        await anyio.wait_all_tasks_blocked()
        assert gate.waiting == 1
        gate.release()
        tg.start_soon(enter, "newcomer")
    assert entered == ["waiter", "newcomer"]


async def test_cancelled_waiters_leave_no_trace() -> None:
    """Waiters cancelled in the queue are removed; the slots still go to the survivors in order."""
    gate = InFlightGate(1)
    await gate.acquire()
    entered: list[int] = []
    scopes: dict[int, anyio.CancelScope] = {}

    async def enter(i: int) -> None:
        with anyio.CancelScope() as scope:
            scopes[i] = scope
            async with gate:
                entered.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(enter, i)
            await anyio.wait_all_tasks_blocked()  # queued in this order
        assert gate.waiting == 6
        for i in (0, 2, 3):
            scopes[i].cancel()
        await anyio.wait_all_tasks_blocked()
        assert gate.waiting == 3
        gate.release()
    assert entered == [1, 4, 5]
    assert gate.held == 0
    assert gate.waiting == 0


async def test_a_waiter_cancelled_after_the_hand_over_passes_the_slot_on() -> None:
    """The slot handed to a waiter that is cancelled before it runs goes to the next waiter, not lost."""
    gate = InFlightGate(1)
    await gate.acquire()
    entered: list[str] = []
    first_scope = anyio.CancelScope()

    async def first() -> None:
        with first_scope:
            async with gate:
                entered.append("first")

    async def second() -> None:
        async with gate:
            entered.append("second")

    # A lost slot would leave "second" waiting forever: the bound turns that failure into a failure, not a hang.
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            first_scope.cancel()  # "first" is cancelled but has not run yet, so it is still queued ...
            gate.release()  # ... and is handed the slot, which it must pass on when the cancellation lands
    assert entered == ["second"]
    assert gate.held == 0
    assert gate.waiting == 0


def test_bad_limits_and_unbalanced_release_are_refused() -> None:
    """A limit must be a positive int; a release without an acquire is a bug, reported."""
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(InvalidRequestError, match="limit"):
            InFlightGate(bad)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="without a matching acquire"):
        InFlightGate(1).release()
