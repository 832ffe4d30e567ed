"""The rate limiter, on a virtual clock: window guarantee, idle burst, throughput, FIFO, cancellation, 429 holds.

No verdict here depends on wall-clock time: every limiter runs on a ``VirtualClock`` driven by autojump or by hand.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence

import anyio
import pytest

from agora_recording._errors import InvalidRequestError
from agora_recording._limiter import (
    DEFAULT_MARGIN,
    LimiterStats,
    RateLimiter,
    TokenBucket,
    Unlimited,
    shared_limiter,
)
from agora_recording.testing._clock import VirtualClock

HANG_GUARD = 30.0
"""Real seconds after which a deadlocked test fails instead of hanging; no passing verdict depends on it."""


def virtual_bucket(
    rate: float = 10, per: float = 1.0, *, margin: float = DEFAULT_MARGIN
) -> tuple[TokenBucket, VirtualClock]:
    vc = VirtualClock()
    return TokenBucket(rate, per, margin=margin, clock=vc, sleep=vc.sleep), vc


def max_in_any_window(times: Sequence[float], per: float) -> int:
    """The most grants inside any half-open window ``[t, t + per)``; checking windows that start at a grant
    is enough, since sliding a window's start forward to its first grant never loses a grant."""
    ordered = sorted(times)
    best = 0
    j = 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + per:
            j += 1
        best = max(best, j - i)
    return best


async def take_grants(limiter: TokenBucket, vc: VirtualClock, *, tasks: int, grants: int) -> list[float]:
    """``tasks`` concurrent tasks take ``grants`` permits in total; returns the virtual grant times in grant order."""
    times: list[float] = []
    remaining = grants

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await limiter.acquire()
            times.append(vc())

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
    assert len(times) == grants
    return times


# --- window guarantee -------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("margin", [0.0, DEFAULT_MARGIN])
async def test_never_more_than_rate_grants_in_any_window(margin: float) -> None:
    """300 grants to 50 concurrent tasks: no window of ``per`` seconds, anywhere, holds more than ``rate`` grants."""
    limiter, vc = virtual_bucket(10, 1.0, margin=margin)
    times = await take_grants(limiter, vc, tasks=50, grants=300)
    assert max_in_any_window(times, 1.0) == 10
    # The exact spacing rule: a grant comes at least per + margin after the grant ten places earlier.
    ordered = sorted(times)
    assert all(ordered[i + 10] - ordered[i] >= 1.0 + margin - 1e-9 for i in range(len(ordered) - 10))
    assert limiter.stats.granted == 300


def test_window_counter_itself_counts_half_open_windows() -> None:
    """The helper above counts ``[t, t + per)``: grants exactly ``per`` apart are in different windows."""
    assert max_in_any_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_any_window([0.0, 0.5, 0.99, 1.0], 1.0) == 3


@pytest.mark.anyio
async def test_fractional_rate_allows_the_integer_part() -> None:
    """``rate=2.5`` never lets three grants into one window: the window count is ``int(rate)``."""
    limiter, vc = virtual_bucket(2.5, 1.0, margin=0.0)
    times = await take_grants(limiter, vc, tasks=5, grants=20)
    assert max_in_any_window(times, 1.0) == 2


# --- idle burst and throughput ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_idle_limiter_grants_a_burst_of_rate_at_once() -> None:
    """An idle limiter grants ``rate`` permits at time 0 with zero wait; the next one waits ``per + margin``."""
    limiter, vc = virtual_bucket(10, 1.0)
    for _ in range(10):
        await limiter.acquire()
    assert vc() == 0.0
    assert limiter.stats == LimiterStats(granted=10)
    async with vc.autojump():
        await limiter.acquire()
    assert vc() == pytest.approx(1.0 + DEFAULT_MARGIN)
    assert limiter.stats.waits == 1
    assert limiter.stats.wait_time == pytest.approx(1.0 + DEFAULT_MARGIN)


@pytest.mark.anyio
async def test_fast_path_does_not_yield() -> None:
    """A free permit is granted without a checkpoint (no event, no task): even a cancelled scope gets through."""
    limiter, _ = virtual_bucket(10, 1.0)
    with anyio.CancelScope() as scope:
        scope.cancel()
        for _ in range(10):
            await limiter.acquire()
    assert not scope.cancelled_caught
    assert limiter.stats.granted == 10


@pytest.mark.anyio
async def test_sustained_rate_is_the_full_rate_without_margin() -> None:
    """Saturated with ``margin=0``, the limiter sustains >= 99% of ``rate`` after the initial burst (exactly 100%)."""
    limiter, vc = virtual_bucket(10, 1.0, margin=0.0)
    times = await take_grants(limiter, vc, tasks=50, grants=300)
    sustained = (len(times) - 10) / (times[-1] - times[0])
    assert sustained >= 0.99 * 10
    assert sustained == pytest.approx(10.0)


@pytest.mark.anyio
async def test_sustained_rate_floor_with_margin_is_rate_over_per_plus_margin() -> None:
    """With the default margin the sustained rate is the documented floor ``rate / (per + margin)``."""
    limiter, vc = virtual_bucket(10, 1.0)
    times = await take_grants(limiter, vc, tasks=50, grants=300)
    sustained = (len(times) - 10) / (times[-1] - times[0])
    assert sustained >= 10 / (1.0 + DEFAULT_MARGIN) - 1e-9
    assert sustained == pytest.approx(10 / (1.0 + DEFAULT_MARGIN))


# --- FIFO -------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_waiters_are_served_in_arrival_order() -> None:
    """Grants follow the order in which callers called ``acquire`` (50 tasks, 300 grants)."""
    limiter, vc = virtual_bucket(10, 1.0)
    arrivals: list[int] = []
    grants: list[int] = []
    ticket = 0

    async def worker() -> None:
        nonlocal ticket
        while ticket < 300:
            mine = ticket
            ticket += 1
            arrivals.append(mine)  # no await between here and the call: this is the arrival order
            await limiter.acquire()
            grants.append(mine)

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(worker)
    assert grants == arrivals


@pytest.mark.anyio
async def test_newcomer_does_not_overtake_queued_waiters_when_a_hold_ends() -> None:
    """When a 429 hold ends with every slot free, queued callers go first, in order; a caller arriving at that very
    instant queues behind them instead of taking a free slot."""
    limiter, vc = virtual_bucket(10, 1.0, margin=0.0)
    limiter.on_rate_limited(5.0)
    arrivals: list[int] = []
    grants: list[tuple[int, float]] = []

    async def caller(i: int, delay: float) -> None:
        await vc.sleep(delay)
        arrivals.append(i)
        await limiter.acquire()
        grants.append((i, vc()))

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(caller, i, 0.0)
            tg.start_soon(caller, 12, 5.0)  # arrives exactly when the hold ends
    assert arrivals[-1] == 12
    assert [i for i, _ in grants] == arrivals
    assert [t for _, t in grants] == [5.0] * 10 + [6.0] * 3


# --- cancellation -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelled_waiters_consume_nothing_and_do_not_stall_the_queue() -> None:
    """Cancelling the head (while it sleeps) and a waiter in the middle frees their turns: the others move up and are
    served at the virtual times they would have had one place earlier; the window still holds."""
    limiter, vc = virtual_bucket(10, 1.0, margin=0.0)
    times: list[float] = []
    # Fill the window with grants at 0.0, 0.1, ..., 0.9.
    for i in range(10):
        vc.advance(0.1 if i else 0.0)
        await limiter.acquire()
        times.append(vc())
    served: dict[int, float] = {}
    scopes = [anyio.CancelScope() for _ in range(5)]

    async def waiter(i: int, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with scopes[i]:
            task_status.started()
            await limiter.acquire()
            served[i] = vc()
            times.append(vc())

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for i in range(5):
                await tg.start(waiter, i)
            assert limiter.waiting == 5
            await vc.sleep(0.05)  # virtual time 0.95: the head sleeps until 1.0
            scopes[0].cancel()  # the head, asleep until 1.0
            scopes[2].cancel()  # a waiter in the middle, waiting for its turn
    assert served == {1: pytest.approx(1.0), 3: pytest.approx(1.1), 4: pytest.approx(1.2)}
    assert max_in_any_window(times, 1.0) == 10
    assert limiter.stats.granted == 13
    assert limiter.stats.cancelled == 2
    assert limiter.waiting == 0


@pytest.mark.anyio
async def test_waiter_cancelled_after_being_woken_passes_its_turn_on() -> None:
    """A head cancelled after its sleep ended (woken, not yet resumed) takes nothing; the next waiter gets its slot."""
    limiter, vc = virtual_bucket(1, 1.0, margin=0.0)
    await limiter.acquire()  # the only slot of the window [0, 1)
    served: dict[int, float] = {}
    scopes = [anyio.CancelScope() for _ in range(2)]

    async def waiter(i: int) -> None:
        with scopes[i]:
            await limiter.acquire()
            served[i] = vc()

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter, 0)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(waiter, 1)
        await anyio.wait_all_tasks_blocked()
        vc.advance(1.0)  # wakes the head's sleep ...
        scopes[0].cancel()  # ... and cancels it before it runs
        await anyio.wait_all_tasks_blocked()
        assert served == {1: 1.0}
    assert limiter.stats.granted == 2
    assert limiter.stats.cancelled == 1


@pytest.mark.anyio
async def test_waiter_cancelled_right_after_its_turn_came_passes_it_on() -> None:
    """A waiter whose predecessor just handed it the head (event set) and is then cancelled takes nothing; the
    waiter behind it is served at the time the cancelled one would have been."""
    limiter, vc = virtual_bucket(1, 1.0, margin=0.0)
    await limiter.acquire()
    served: dict[int, float] = {}
    scopes = [anyio.CancelScope() for _ in range(3)]

    async def waiter(i: int) -> None:
        with scopes[i]:
            await limiter.acquire()
            served[i] = vc()
            if i == 0:
                scopes[1].cancel()  # waiter 1 was just made the head; cancel it before it runs

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(waiter, i)
                await anyio.wait_all_tasks_blocked()
    assert served == {0: 1.0, 2: 2.0}
    assert limiter.stats.cancelled == 1


# --- 429 holds --------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_on_rate_limited_with_retry_after_holds_every_caller() -> None:
    """After ``on_rate_limited(3.0)`` nobody is granted before virtual time 3.0, even on an idle limiter."""
    limiter, vc = virtual_bucket(10, 1.0)
    limiter.on_rate_limited(3.0)
    times = await take_grants(limiter, vc, tasks=5, grants=5)
    assert times == [3.0] * 5
    assert limiter.stats.holds == 1


@pytest.mark.anyio
async def test_on_rate_limited_without_retry_after_holds_per_plus_margin() -> None:
    """``on_rate_limited(None)`` holds everyone for one full window plus the margin."""
    limiter, vc = virtual_bucket(10, 1.0)
    vc.advance(2.0)
    limiter.on_rate_limited(None)
    times = await take_grants(limiter, vc, tasks=3, grants=3)
    assert times == [pytest.approx(2.0 + 1.0 + DEFAULT_MARGIN)] * 3


@pytest.mark.anyio
async def test_hold_delays_callers_already_waiting_and_never_shortens() -> None:
    """A 429 arriving while callers wait pushes their grants past the hold; a shorter later hold changes nothing."""
    limiter, vc = virtual_bucket(10, 1.0, margin=0.0)
    for _ in range(10):
        await limiter.acquire()
    times: list[float] = []

    async def caller() -> None:
        await limiter.acquire()
        times.append(vc())

    with anyio.fail_after(HANG_GUARD):
        async with vc.autojump(), anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(caller)
            await vc.sleep(0.5)
            limiter.on_rate_limited(2.0)  # hold until 2.5, past the head's 1.0
            limiter.on_rate_limited(0.1)  # shorter: ignored
    assert times == [2.5] * 3
    assert limiter.stats.holds == 2


@pytest.mark.anyio
@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
async def test_unreadable_retry_after_falls_back_to_the_default_hold(bad: float) -> None:
    """A negative or non-finite ``retry_after`` is treated like ``None``: a hold of ``per + margin``."""
    limiter, vc = virtual_bucket(10, 1.0, margin=0.0)
    limiter.on_rate_limited(bad)
    times = await take_grants(limiter, vc, tasks=1, grants=1)
    assert times == [1.0]


# --- shared registry, Unlimited, arguments ----------------------------------------------------------------------


def test_shared_limiter_is_one_per_key_and_kept_when_unreferenced() -> None:
    """Same key: the same limiter; other key: another; unreferenced, the registry keeps it (and its grant log)."""
    a = shared_limiter("customer-a")
    assert shared_limiter("customer-a") is a
    b = shared_limiter("customer-b")
    assert b is not a
    a.on_rate_limited(5.0)  # a 429 hold: state that must outlive the last client
    holds = a.stats.holds
    del a
    gc.collect()
    again = shared_limiter("customer-a")
    assert again.stats.holds == holds >= 1
    assert again is not b


def test_shared_limiter_refuses_a_different_configuration_for_a_live_key() -> None:
    """Asking for the same key with another rate fails loudly instead of silently using the old one."""
    keep = shared_limiter("customer-c", rate=10)
    with pytest.raises(InvalidRequestError) as info:
        shared_limiter("customer-c", rate=20)
    assert info.value.field == "rate"
    assert "customer-c" not in str(info.value)
    assert shared_limiter("customer-c", rate=10) is keep


@pytest.mark.anyio
async def test_unlimited_never_waits() -> None:
    """``Unlimited`` grants everything at once, without a checkpoint, and ignores 429 holds (it only counts them)."""
    limiter = Unlimited()
    limiter.on_rate_limited(60.0)
    with anyio.CancelScope() as scope:
        scope.cancel()
        for _ in range(1000):
            await limiter.acquire()
    assert not scope.cancelled_caught
    assert limiter.stats == LimiterStats(granted=1000, holds=1)


def test_limiters_implement_the_protocol() -> None:
    """Both limiters satisfy the runtime-checkable ``RateLimiter`` protocol the client depends on."""
    assert isinstance(TokenBucket(), RateLimiter)
    assert isinstance(Unlimited(), RateLimiter)
    assert not isinstance(object(), RateLimiter)


def test_repr_shows_rate_per_and_margin() -> None:
    """The repr shows the configuration (and nothing else)."""
    assert repr(TokenBucket(10, 1.0, margin=0.05)) == "TokenBucket(rate=10.0, per=1.0, margin=0.05)"
    assert repr(Unlimited()) == "Unlimited()"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1}, "rate"),
        ({"rate": 0.5}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rate": math.inf}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": "10"}, "rate"),
        ({"per": 0}, "per"),
        ({"per": -1.0}, "per"),
        ({"per": math.inf}, "per"),
        ({"margin": -0.01}, "margin"),
        ({"margin": math.nan}, "margin"),
        ({"clock": 3.0}, "clock"),
        ({"sleep": None}, "sleep"),
    ],
)
def test_bad_arguments_raise_invalid_request_error_naming_the_argument(kwargs: dict[str, object], field: str) -> None:
    """Every bad constructor argument raises ``InvalidRequestError`` whose ``field`` names it."""
    with pytest.raises(InvalidRequestError) as info:
        TokenBucket(**kwargs)  # type: ignore[arg-type]  # deliberately wrong types
    assert info.value.field == field


def test_shared_limiter_rejects_an_empty_key() -> None:
    """An empty key is a bug in the caller (a missing Customer ID), not a shared limiter."""
    with pytest.raises(InvalidRequestError) as info:
        shared_limiter("")
    assert info.value.field == "key"


def test_limiter_is_not_bound_to_an_event_loop() -> None:
    """One limiter serves waiting callers in one ``anyio.run`` on asyncio, then in another on trio."""
    vc = VirtualClock()
    limiter = TokenBucket(2, 1.0, margin=0.0, clock=vc, sleep=vc.sleep)

    async def burst() -> None:
        with anyio.fail_after(HANG_GUARD):
            async with vc.autojump(), anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(limiter.acquire)

    anyio.run(burst, backend="asyncio")
    assert vc() == 1.0
    anyio.run(burst, backend="trio")
    assert vc() == 3.0
    assert limiter.stats.granted == 8


_TASKS_OF_DEAD_LOOPS: list[object] = []
"""Tasks stranded in a closed loop, kept referenced for the whole test session: in real life the limiter's own
waiter events keep such tasks alive, so they are never garbage-collected (and never clean up after themselves)."""


def test_waiters_left_by_a_closed_event_loop_never_block_the_next_loop() -> None:
    """A loop closed while callers waited in the shared limiter (their tasks never cancelled): the next
    `asyncio.run` in the same process is granted permits instead of queueing behind the dead waiters forever."""
    import asyncio

    limiter = TokenBucket(1, 0.05, margin=0.0)
    loop = asyncio.new_event_loop()
    try:

        async def first() -> None:
            await limiter.acquire()  # takes the only permit of this window
            for _ in range(2):  # one waits for the window, one behind it for its turn; the loop closes under them
                _TASKS_OF_DEAD_LOOPS.append(loop.create_task(limiter.acquire()))
            await asyncio.sleep(0.01)

        loop.run_until_complete(first())
        assert limiter.waiting == 2
    finally:
        loop.close()

    async def second() -> None:
        for _ in range(3):
            await asyncio.wait_for(limiter.acquire(), timeout=5.0)  # without the fix: a hang, then TimeoutError

    asyncio.run(second())
    assert limiter.waiting == 0
    assert limiter.stats.granted == 4
