"""VirtualClock: manual advance, cancellable sleep, and the autojump driver on asyncio and trio."""

from __future__ import annotations

import math

import anyio
import anyio.lowlevel
import pytest

from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio


def test_clock_starts_at_start_and_reads_virtual_time() -> None:
    """The clock returns ``start`` (default 0.0) and only ``advance`` moves it."""
    assert VirtualClock()() == 0.0
    vc = VirtualClock(start=100.0)
    assert vc() == 100.0
    vc.advance(2.5)
    assert vc() == 102.5
    vc.advance(0)
    assert vc() == 102.5


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_advance_rejects_negative_nan_and_infinite(seconds: float) -> None:
    """``advance`` refuses to move time backwards, by NaN, or to infinity."""
    vc = VirtualClock()
    with pytest.raises(ValueError, match="seconds"):
        vc.advance(seconds)
    assert vc() == 0.0


def test_start_must_be_finite() -> None:
    """A non-finite ``start`` is refused."""
    with pytest.raises(ValueError, match="start"):
        VirtualClock(start=math.nan)


async def test_sleep_wakes_only_when_advance_reaches_the_deadline() -> None:
    """A sleeper stays asleep until virtual time reaches ``now + seconds``, then wakes seeing that time."""
    vc = VirtualClock()
    woke_at: list[float] = []

    async def sleeper() -> None:
        await vc.sleep(5.0)
        woke_at.append(vc())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        assert vc.sleepers == 1
        assert vc.next_deadline == 5.0
        vc.advance(4.999)
        await anyio.wait_all_tasks_blocked()
        assert woke_at == []
        vc.advance(0.001)
        await anyio.wait_all_tasks_blocked()
    assert woke_at == [vc()]
    assert vc() == pytest.approx(5.0)
    assert vc.sleepers == 0


async def test_one_advance_wakes_every_due_sleeper_and_keeps_later_ones() -> None:
    """``advance`` wakes all sleepers whose deadline passed and leaves the later ones pending."""
    vc = VirtualClock()
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await vc.sleep(seconds)
        woke.append(seconds)

    async with anyio.create_task_group() as tg:
        for seconds in (1.0, 2.0, 3.0):
            tg.start_soon(sleeper, seconds)
        await anyio.wait_all_tasks_blocked()
        vc.advance(2.0)
        await anyio.wait_all_tasks_blocked()
        assert sorted(woke) == [1.0, 2.0]
        assert vc.sleepers == 1
        assert vc.next_deadline == 3.0
        vc.advance(10.0)
    assert sorted(woke) == [1.0, 2.0, 3.0]


async def test_sleep_zero_or_negative_is_a_plain_checkpoint() -> None:
    """``sleep(0)`` and negative sleeps return without registering a sleeper or moving time."""
    vc = VirtualClock()
    await vc.sleep(0)
    await vc.sleep(-3)
    assert vc() == 0.0
    assert vc.sleepers == 0


async def test_sleep_rejects_nan() -> None:
    """``sleep(nan)`` is a bug in the caller and raises."""
    with pytest.raises(ValueError, match="NaN"):
        await VirtualClock().sleep(math.nan)


async def test_cancelled_sleeper_is_removed() -> None:
    """A sleeper cancelled before its deadline is removed at once; the others keep their deadlines."""
    vc = VirtualClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float, scope: anyio.CancelScope) -> None:
        with scope:
            await vc.sleep(seconds)
            woke.append(name)

    first, second = anyio.CancelScope(), anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "first", 1.0, first)
        tg.start_soon(sleeper, "second", 2.0, second)
        await anyio.wait_all_tasks_blocked()
        assert vc.sleepers == 2
        first.cancel()
        await anyio.wait_all_tasks_blocked()
        assert vc.sleepers == 1
        assert vc.next_deadline == 2.0
        vc.advance(2.0)
    assert woke == ["second"]
    assert vc.sleepers == 0


async def test_sleeper_cancelled_after_its_wakeup_leaves_nothing_behind() -> None:
    """Cancelling a sleeper that ``advance`` already woke (but that has not resumed) leaves no stale entry."""
    vc = VirtualClock()
    scope = anyio.CancelScope()

    async def sleeper() -> None:
        with scope:
            await vc.sleep(1.0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        vc.advance(1.0)
        scope.cancel()
    assert vc.sleepers == 0


async def test_autojump_jumps_to_each_deadline_in_order() -> None:
    """With autojump, sleeps complete at exactly their virtual deadlines, earliest first, without manual advance."""
    vc = VirtualClock()
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await vc.sleep(seconds)
        seen.append((name, vc()))
        await vc.sleep(seconds)
        seen.append((name, vc()))

    async with vc.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "a", 3.0)
        tg.start_soon(sleeper, "b", 5.0)
    assert seen == [("a", 3.0), ("b", 5.0), ("a", 6.0), ("b", 10.0)]
    assert vc() == 10.0


async def test_autojump_does_not_jump_while_a_task_is_runnable() -> None:
    """Autojump waits until every task is blocked: a task still doing work (with checkpoints) sees no jump."""
    vc = VirtualClock()
    readings: list[float] = []

    async def busy() -> None:
        for _ in range(200):
            await anyio.lowlevel.checkpoint()
            readings.append(vc())

    async with vc.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(vc.sleep, 10.0)
        tg.start_soon(busy)
    assert readings == [0.0] * 200
    assert vc() == 10.0


async def test_autojump_idles_without_sleepers() -> None:
    """With no sleeper pending the driver blocks (it does not spin), so other tasks can see all tasks blocked."""
    vc = VirtualClock()
    async with vc.autojump():
        with anyio.fail_after(10):  # only a hang (a spinning driver) would reach this
            await anyio.wait_all_tasks_blocked()
        # A sleeper that arrives later is still served.
        await vc.sleep(7.0)
    assert vc() == 7.0


async def test_autojump_stops_when_the_context_exits() -> None:
    """After ``async with vc.autojump()`` exits, virtual time no longer moves by itself."""
    vc = VirtualClock()
    async with vc.autojump():
        await vc.sleep(1.0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(vc.sleep, 5.0)
        await anyio.wait_all_tasks_blocked()
        await anyio.wait_all_tasks_blocked()
        assert vc() == 1.0
        assert vc.sleepers == 1
        tg.cancel_scope.cancel()
    assert vc.sleepers == 0


async def test_autojump_lets_the_body_exception_propagate_unwrapped() -> None:
    """An exception raised in the autojump body comes out as itself, not inside an exception group."""
    vc = VirtualClock()
    with pytest.raises(KeyError, match="boom"):  # noqa: PT012  # the raise must happen inside the autojump body
        async with vc.autojump():
            await vc.sleep(1.0)
            raise KeyError("boom")
    assert vc() == 1.0


async def test_autojump_never_jumps_to_infinity() -> None:
    """A sleeper of ``math.inf`` is never woken by autojump; finite sleepers still are."""
    vc = VirtualClock()
    async with vc.autojump(), anyio.create_task_group() as tg:
        tg.start_soon(vc.sleep, math.inf)
        await vc.sleep(2.0)
        assert vc() == 2.0
        tg.cancel_scope.cancel()
    assert vc() == 2.0
    assert vc.sleepers == 0


async def test_run_autojump_in_own_task_group() -> None:
    """``run_autojump`` drives time from a caller-owned task group and stops with it."""
    vc = VirtualClock()
    async with anyio.create_task_group() as tg:
        await tg.start(vc.run_autojump)
        await vc.sleep(4.0)
        tg.cancel_scope.cancel()
    assert vc() == 4.0
