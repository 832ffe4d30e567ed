"""Client-side rate limiting: the :class:`RateLimiter` protocol and the in-process limiters.

The client takes one permit (:meth:`RateLimiter.acquire`) before every HTTP attempt, retries included, and calls
:meth:`RateLimiter.on_rate_limited` when Agora answers 429.

Exact semantics of :class:`TokenBucket` (``rate``, ``per``, ``margin``; ``n = int(rate)``):

- **Window guarantee.** Let ``g_1 <= g_2 <= ...`` be the times (on the limiter's clock) at which permits are
  granted. Every grant satisfies ``g_(i+n) - g_i >= per + margin``. Hence no half-open window ``[t, t + per)``,
  or even ``[t, t + per + margin)``, ever holds more than ``n`` grants, wherever it is placed. This is a
  sliding-window log of the last ``n`` grant times, not a refilling bucket: a bucket of capacity 10 refilled
  at 10/s lets 20 requests through within one second, this limiter never lets more than 10.
- **Idle burst.** An idle limiter grants up to ``n`` permits at once, with no spacing between them.
- **Throughput.** Under saturation the limiter grants ``n`` permits every ``per + margin`` seconds:
  ``n / (per + margin)`` per second sustained. With the defaults (10, 1.0, 0.025) that is 9.76/s, 97.6% of
  the limit; with ``margin=0`` it is exactly ``rate`` (10/s).
- **FIFO.** Callers are served strictly in the order in which they called :meth:`~TokenBucket.acquire`. A new
  caller never overtakes a waiting one, even when a permit is free at that instant.
- **Cancellation.** A caller cancelled while it waits takes no permit and leaves no trace, even when the
  cancellation lands after its wake-up was scheduled; the next caller in line is served at the time it would
  have been anyway. The fast path does not check for cancellation (that would cost more than the rest of it):
  a caller already cancelled when it calls ``acquire`` on a free limiter gets the permit and is cancelled at its
  next await, which errs on the safe side (a permit spent, never one too many).
- **429 hold.** :meth:`~TokenBucket.on_rate_limited` stops every grant until ``now + retry_after`` (or
  ``now + per + margin`` when the server gave no ``Retry-After``). Holds only ever extend, never shorten.

Why ``margin`` (default :data:`DEFAULT_MARGIN`, 0.025 s): Agora counts requests when they arrive, not when
this process sends them. If request ``i`` is delayed on the way more than request ``i + n``, their arrivals are
closer than their sends. 25 ms covers the usual jitter of a warm keep-alive connection and costs 2.4% of the
throughput (the benchmarks' target is at least 95% of the limit); one avoided 429 (a lost round trip plus a hold of
everyone for a full window) pays for much more than that. Raise it for a long or jittery path; set ``margin=0``
for exact ``rate`` throughput, for example behind a proxy that queues.

The fast path (a permit is free and nobody waits) reads the clock, compares, appends: no event, no task, no
lock, and no yield to the event loop. Waiting callers each get one :class:`anyio.Event`, created when they
start waiting, so a limiter is not bound to an event loop: it can be used by one ``anyio.run`` after another,
on asyncio or trio. Waiters left behind by an event loop that ended (a closed loop never wakes them) are dropped
by the first caller of the next loop, so they never block it; the grant log and any 429 hold carry over. It is
not thread-safe: use one limiter from one event loop (thread) at a time.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel
import attrs
from anyio.lowlevel import RunVar

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording._errors import InvalidRequestError

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_PER",
    "DEFAULT_RATE",
    "LimiterStats",
    "RateLimiter",
    "TokenBucket",
    "Unlimited",
    "shared_limiter",
]

DEFAULT_RATE = 10.0
"""Agora's documented default quota: 10 requests per second (per App ID, or per account in older pages)."""

DEFAULT_PER = 1.0
"""The length of the rate window in seconds."""

DEFAULT_MARGIN = 0.025
"""Extra spacing in seconds between a grant and the grant ``rate`` places earlier, against network jitter."""

Sleep = Callable[[float], Awaitable[None]]
"""An :func:`anyio.sleep`-like coroutine function (injectable, for example ``VirtualClock.sleep``)."""


@runtime_checkable
class RateLimiter(Protocol):
    """What the client needs from a rate limiter; implement it to plug in your own (for example a shared one).

    ``acquire`` is awaited once per HTTP attempt, retries included; ``on_rate_limited`` is called when the
    server answered 429.
    """

    async def acquire(self) -> None:
        """Wait for one permit. Cancelling the wait must consume nothing."""
        ...

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server answered 429: hold every caller back for ``retry_after`` seconds (``None``: a default)."""
        ...


@attrs.frozen(kw_only=True)
class LimiterStats:
    """A snapshot of a limiter's counters.

    ``granted``: permits handed out. ``waits``: grants that had to wait (not served on the fast path).
    ``wait_time``: total seconds those callers waited, on the limiter's clock. ``cancelled``: callers cancelled
    while waiting (they took nothing). ``holds``: calls of ``on_rate_limited`` (429 answers).
    """

    granted: int = 0
    waits: int = 0
    wait_time: float = 0.0
    cancelled: int = 0
    holds: int = 0


class _Waiter:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event: anyio.Event | None = None


def _check_number(name: str, value: object, *, minimum: float, inclusive: bool, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(name, rule)
    number = float(value)
    if not math.isfinite(number) or number < minimum or (not inclusive and number == minimum):
        raise InvalidRequestError(name, rule)
    return number


class TokenBucket:
    """The in-process limiter: at most ``rate`` grants in any window of ``per`` seconds, FIFO, cancel-safe.

    Despite its name it is a sliding-window log (see the module docstring for the exact semantics): it never
    lets more than ``int(rate)`` requests through in any ``per``-second window, grants an idle burst of
    ``int(rate)`` at once, and sustains ``int(rate) / (per + margin)`` grants per second under load.

    Arguments:

    - ``rate``: grants allowed per window, a number >= 1; a fractional part is dropped (``2.5`` allows 2).
      For fewer than one per second, widen ``per`` (``rate=1, per=5`` is one every five seconds).
    - ``per``: window length in seconds, > 0.
    - ``margin``: extra seconds (>= 0) added to the window when spacing grants; see :data:`DEFAULT_MARGIN`.
    - ``clock`` / ``sleep``: the monotonic clock and the sleep to wait with. Tests pass a
      :class:`~agora_recording.testing.VirtualClock`: ``clock=vc, sleep=vc.sleep``.

    Raises :class:`~agora_recording.InvalidRequestError` (naming the argument) for a bad argument.

    Example::

        limiter = TokenBucket(10, 1.0)
        await limiter.acquire()  # at most 10 of these complete in any one second
    """

    __slots__ = (
        "__weakref__",
        "_cancelled",
        "_clock",
        "_granted",
        "_hold_until",
        "_holds",
        "_log",
        "_loop",
        "_loop_marker",
        "_margin",
        "_n",
        "_per",
        "_rate",
        "_sleep",
        "_wait_time",
        "_waiters",
        "_waits",
        "_window",
    )

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        per: float = DEFAULT_PER,
        *,
        margin: float = DEFAULT_MARGIN,
        clock: Clock = DEFAULT_CLOCK,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._rate = _check_number("rate", rate, minimum=1.0, inclusive=True, rule="must be a finite number >= 1")
        self._per = _check_number("per", per, minimum=0.0, inclusive=False, rule="must be a finite number > 0")
        self._margin = _check_number("margin", margin, minimum=0.0, inclusive=True, rule="must be a finite number >= 0")
        if not callable(clock):
            raise InvalidRequestError("clock", "must be a zero-argument callable returning monotonic seconds")
        if not callable(sleep):
            raise InvalidRequestError("sleep", "must be an async callable like anyio.sleep")
        self._n = int(self._rate)
        self._window = self._per + self._margin
        self._clock = clock
        self._sleep = sleep
        # Times of the last n grants, oldest first: a new grant needs log[0] + window <= now once it is full.
        self._log: deque[float] = deque(maxlen=self._n)
        # Waiters in arrival order; an OrderedDict so that a cancelled waiter leaves in O(1) from anywhere in line.
        self._waiters: OrderedDict[_Waiter, None] = OrderedDict()
        # Which event loop queued the waiters: a RunVar holds a marker per loop, so a new loop finds a new marker.
        self._loop: RunVar[object] = RunVar("agora_recording_limiter_loop")
        self._loop_marker: object | None = None
        self._hold_until = -math.inf
        self._granted = 0
        self._waits = 0
        self._wait_time = 0.0
        self._cancelled = 0
        self._holds = 0

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self._rate!r}, per={self._per!r}, margin={self._margin!r})"

    @property
    def rate(self) -> float:
        """Grants allowed per window (as given; ``int(rate)`` is what counts)."""
        return self._rate

    @property
    def per(self) -> float:
        """The window length in seconds."""
        return self._per

    @property
    def margin(self) -> float:
        """The safety margin in seconds added to the window when spacing grants."""
        return self._margin

    @property
    def waiting(self) -> int:
        """How many callers are waiting right now."""
        return len(self._waiters)

    @property
    def stats(self) -> LimiterStats:
        """A snapshot of the counters: granted, waits, wait_time, cancelled, holds."""
        return LimiterStats(
            granted=self._granted,
            waits=self._waits,
            wait_time=self._wait_time,
            cancelled=self._cancelled,
            holds=self._holds,
        )

    async def acquire(self) -> None:
        """Wait for one permit, in arrival order.

        When a permit is free and nobody waits, this returns at once without yielding to the event loop.
        Otherwise it waits (cancellable); a cancelled caller takes no permit and the next caller moves up.
        """
        now = self._clock()
        log = self._log
        if not self._waiters and now >= self._hold_until and (len(log) < self._n or now >= log[0] + self._window):
            log.append(now)
            self._granted += 1
            return
        await self._wait(now)

    def _delay(self, now: float) -> float:
        """Seconds until a grant is allowed at the earliest (<= 0: allowed now)."""
        allowed = self._hold_until
        log = self._log
        if len(log) >= self._n:
            allowed = max(allowed, log[0] + self._window)
        return allowed - now

    def _drop_dead_waiters(self) -> None:
        """Forget waiters queued by another (ended) event loop: nothing would ever wake them, or the ones behind."""
        try:
            marker = self._loop.get()
        except LookupError:
            marker = object()
            self._loop.set(marker)
        if marker is not self._loop_marker:
            self._cancelled += len(self._waiters)
            self._waiters.clear()
            self._loop_marker = marker

    async def _wait(self, start: float) -> None:
        self._drop_dead_waiters()
        waiter = _Waiter()
        waiters = self._waiters
        waiters[waiter] = None
        try:
            if len(waiters) > 1:  # someone is ahead (this waiter was added last)
                waiter.event = anyio.Event()
                await waiter.event.wait()  # set when this waiter reaches the head of the queue
            # At the head: wait until the window (and any 429 hold) allows a grant. Holds only extend, so waking
            # after the computed delay and checking again is enough.
            while True:
                # A caller cancelled after its wake-up was scheduled, but before it ran, must not take the permit.
                # This neither yields nor costs much unless a cancellation is pending; nothing else can be granted
                # meanwhile, as this waiter heads the queue and the fast path is closed while anyone waits.
                await anyio.lowlevel.checkpoint_if_cancelled()
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    break
                await self._sleep(delay)
        except BaseException:
            self._leave(waiter)
            self._cancelled += 1
            raise
        # Granted: no await between the check above and here, so the grant cannot be lost to cancellation.
        self._log.append(now)
        waiters.popitem(last=False)
        self._granted += 1
        self._waits += 1
        self._wait_time += now - start
        self._wake_head()

    def _leave(self, waiter: _Waiter) -> None:
        waiters = self._waiters
        if waiters and next(iter(waiters)) is waiter:
            waiters.popitem(last=False)
            self._wake_head()
        else:
            waiters.pop(waiter, None)  # O(1) from anywhere in line

    def _wake_head(self) -> None:
        if self._waiters:
            event = next(iter(self._waiters)).event
            if event is not None:
                event.set()

    def on_rate_limited(self, retry_after: float | None) -> None:
        """The server answered 429: grant nothing to anyone until ``retry_after`` seconds from now.

        With ``retry_after=None`` (or a negative or non-finite value) the hold is one full window plus the
        margin, ``per + margin``: by then every request the server counted in its current window has aged out.
        A hold never shortens an earlier, longer one.
        """
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            retry_after = self._window
        self._holds += 1
        self._hold_until = max(self._hold_until, self._clock() + retry_after)


class Unlimited:
    """A limiter that never waits: the documented way to switch rate limiting off (for example in tests).

    ``on_rate_limited`` only counts the 429 (the client still honours ``Retry-After`` for its own retry).
    """

    __slots__ = ("_granted", "_holds")

    def __init__(self) -> None:
        self._granted = 0
        self._holds = 0

    def __repr__(self) -> str:
        return "Unlimited()"

    @property
    def stats(self) -> LimiterStats:
        """Counters in the same shape as :attr:`TokenBucket.stats` (``waits`` is always 0)."""
        return LimiterStats(granted=self._granted, holds=self._holds)

    async def acquire(self) -> None:
        """Return at once, without yielding to the event loop."""
        self._granted += 1

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Count the 429; hold nobody."""
        self._holds += 1


# Strong references: a limiter dropped by its last client must still remember its recent grants and any 429 hold,
# or the next client of the same account would start with a fresh burst (one client per web request: 20 in 1 s).
# One limiter per key for the life of the process: its grant log holds at most ``int(rate)`` times.
_registry: dict[str, TokenBucket] = {}
_registry_lock = threading.Lock()


def shared_limiter(
    key: str, *, rate: float = DEFAULT_RATE, per: float = DEFAULT_PER, margin: float = DEFAULT_MARGIN
) -> TokenBucket:
    """The process-wide :class:`TokenBucket` for ``key`` (the Customer ID), created on first use.

    Every client of the process built with the same key shares one limiter, because Agora counts requests per
    account or App ID, not per client. The registry keeps each key's limiter for the life of the process, also
    when no client references it any more: the limit holds across clients that do not overlap (one short-lived
    client per web request never gets a fresh burst while the last one's grants are within the window), and a 429
    hold carries over to the next client. Memory is one limiter per distinct key (its grant log holds at most
    ``int(rate)`` times). The key is not logged and does not appear in the limiter's ``repr``.

    The shared limiter runs on the real clock. Like every :class:`TokenBucket` it is not thread-safe: clients
    that share a key should live on one event loop.

    Raises :class:`~agora_recording.InvalidRequestError` for a bad argument, or when the limiter for ``key``
    was created (earlier in the life of the process) with a different ``rate``, ``per`` or ``margin``.
    """
    if not isinstance(key, str) or not key:
        raise InvalidRequestError("key", "must be a non-empty string")
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = TokenBucket(rate, per, margin=margin)
            _registry[key] = limiter
            return limiter
    for name, wanted, actual in (
        ("rate", rate, limiter.rate),
        ("per", per, limiter.per),
        ("margin", margin, limiter.margin),
    ):
        if wanted != actual:
            raise InvalidRequestError(
                name, f"the shared limiter for this key already uses {name}={actual!r}; got {wanted!r}"
            )
    return limiter
