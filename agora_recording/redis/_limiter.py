"""``RedisRateLimiter``: one rate limit shared by every process and host that uses the same Redis key.

It has the semantics of :class:`~agora_recording.TokenBucket` (read its module docstring), but the log of grant
times lives in Redis, so the limit holds across processes and hosts.

How it works
------------

One Lua script, run atomically by Redis, does all the bookkeeping on the **Redis server's clock** (``TIME``):

- ``{agora:<key>}:log`` is a sorted set of the last grant times (microseconds on the server clock), one member per
  reservation. ``{agora:<key>}:hold`` holds the end of the current 429 hold. Both names carry the hash tag
  ``{agora:<key>}``, so they live in one slot and the script also runs on Redis Cluster. Both expire when idle:
  the log one window after its last booking, the hold when it ends (each plus 10 ms).
- **Reserve.** A caller's script call books the earliest slot ``at = max(now, hold, log[-n] + window, log[-1])``
  (``window = per + margin``, ``n = int(rate)``), adds it to the log and returns ``at - now``: a duration. The
  caller sleeps that long (:func:`anyio.sleep`, cancellable, on its local clock: only a duration crosses the
  wire, so host clock skew does not matter). Nobody polls; callers are served in the order their reservations
  reached Redis (``at >= log[-1]``).
- **Confirm.** A caller that has to wait more than 20 ms wakes 20 ms before its slot and runs the script once more.
  If a 429 hold appeared meanwhile (from any process) and covers its slot, the slot is given up and a new one
  booked after the hold; otherwise the script returns the time left and the caller sleeps it out. So a hold stops
  every process's waiting callers too, as in ``TokenBucket`` (a hold that appears in the last 20 ms before a slot
  is seen from the next slot on), and the confirm's round trip is not on the path between the slot and the send.
- **Cancel.** A caller cancelled while it waits (or whose wait fails) runs the script once more, shielded and
  bounded by ``timeout``: its entry is removed **only if its time is still in the future** on the server clock.

Why the window guarantee holds (``g_(i+n) - g_i >= per + margin`` for the booked times of any two grants). Each
booking is placed after ``log[-n] + window`` and after ``log[-1]``, so the log stays sorted and no half-open window
of length ``window`` ever holds more than ``n`` entries. Removing entries (cancellation, re-booking after a hold)
only takes elements out of a set with that property, and a subset keeps it. Every permit that is granted is an
entry of the log at the moment it is granted and is never removed afterwards: its owner only removes its own entry
while it is still inside :meth:`RedisRateLimiter.acquire` and will not send (a cancellation, or a re-booking). The
cancel path is stricter still: an entry whose time has come is kept, even though its owner is not going to use it,
so the log is always a superset of every permit that may have been used. A reservation whose answer was lost (the
caller was cancelled while the script call was in flight) may be kept or removed: it wastes at most one slot,
never adds one. A script call that redis-py retries after a lost connection is harmless too: each reservation is
one sorted-set member, so a second booking moves that member (its owner only uses the slot it was told).

Known limits, documented rather than hidden:

- FIFO holds across every process, except around a 429 hold: a caller whose booked slot a hold overtook is
  re-queued when it wakes, behind the callers already booked past the hold.
- If Redis loses its data (a restart without persistence, a failover to a replica that lagged), the grants of the
  last window are forgotten: the next window can admit up to ``2 * n``. A 429 answer then holds everyone.
- The permits granted by a ``fallback`` while Redis is down are not in Redis's log.
- ``on_rate_limited`` is synchronous (it is the :class:`~agora_recording.RateLimiter` protocol), so it cannot
  await Redis. It writes the shared hold within a few milliseconds through a short-lived helper thread that hands
  the write back to the event loop (:func:`anyio.from_thread.run`); until that write is done, every script call of
  this process carries the hold too, so this process's own reservations and confirms respect it at once.

Event loops: redis-py's asyncio client needs asyncio. ``RedisRateLimiter`` is **asyncio-only** (also uvloop); under
trio ``acquire`` raises :class:`UnsupportedBackendError`. (coredis 6 runs on anyio, but its clients must be
entered as async context managers tied to a task group, and it only speaks RESP3; a second client library behind
the same script is possible later, it is not here.)

Cancellation and pooled connections: redis-py (>= 5.0.1, past CVE-2023-28858/28859) disconnects a connection whose
command was interrupted, so no later command reads a stale reply. The tests pin this for anyio cancel scopes and
for ``Task.cancel()``.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import sniffio

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording._errors import AgoraError, InvalidRequestError
from agora_recording._limiter import (
    DEFAULT_MARGIN,
    DEFAULT_PER,
    DEFAULT_RATE,
    LimiterStats,
    RateLimiter,
    Sleep,
    _check_number,
)

if TYPE_CHECKING:
    import redis.asyncio

from agora_recording.redis._limiter_script import SCRIPT

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_RECHECK",
    "DEFAULT_REDIS_TIMEOUT",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "UnsupportedBackendError",
]

logger = logging.getLogger("agora_recording")

DEFAULT_REDIS_TIMEOUT = 2.0
"""Seconds one script call to Redis may take before the limiter counts Redis as unavailable."""

DEFAULT_RECHECK = 1.0
"""With a ``fallback``: seconds after a Redis failure before the limiter tries Redis again."""

DEFAULT_MAX_CONNECTIONS = 16
"""Connections in the pool of a :meth:`RedisRateLimiter.from_url` client (callers beyond it wait for one)."""

_LEAD_US = 20_000
"""A waiting caller confirms its reservation this many microseconds before its slot (see ``acquire_timed``)."""


class RateLimiterUnavailableError(AgoraError):
    """The shared rate limiter's Redis could not be reached (refused, timed out, reset, or it answered an error).

    Raised by :meth:`RedisRateLimiter.acquire` when no ``fallback`` is configured. Nothing was sent to Agora. The
    message names the Redis error's type (never a password); the cause is chained.
    """


class UnsupportedBackendError(AgoraError, RuntimeError):
    """:class:`RedisRateLimiter` was used on an event loop other than asyncio (redis-py's client needs asyncio)."""


def _check_timeout(name: str, value: object) -> float:
    return _check_number(name, value, minimum=0.0, inclusive=False, rule="must be a finite number > 0")


class RedisRateLimiter:
    """A :class:`~agora_recording.RateLimiter` whose limit is shared through Redis by every process using ``key``.

    Semantics are those of :class:`~agora_recording.TokenBucket`, across processes and hosts, measured on the Redis
    server's clock: never more than ``int(rate)`` grants in any window of ``per`` seconds (in fact of
    ``per + margin``), an idle burst of ``int(rate)`` at once, ``int(rate) / (per + margin)`` per second under load,
    callers served in the order their reservations reach Redis, a cancelled waiter gives its slot back, and a 429
    seen by any process (:meth:`on_rate_limited`) holds every process. See the module docstring for the design
    and its proof.

    Build it with :meth:`from_url` (it then owns its client: close it with :meth:`aclose` or ``async with``), or
    pass an existing ``redis.asyncio.Redis`` client (never closed by the limiter; give it a
    ``BlockingConnectionPool`` so a burst of callers waits for a connection instead of failing).

    Arguments:

    - ``key``: the account the limit belongs to, for example the Customer ID (Agora counts per account or App
      ID). Every process that shares the limit uses the same key and the same ``rate``/``per``/``margin``. It
      names the Redis keys ``{agora:<key>}:log`` and ``{agora:<key>}:hold``; it must not contain ``{`` or ``}``.
    - ``rate``, ``per``, ``margin``: as for :class:`~agora_recording.TokenBucket`.
    - ``timeout``: seconds one call to Redis may take (default :data:`DEFAULT_REDIS_TIMEOUT`).
    - ``fallback``: what to use while Redis is unreachable. ``None`` (the default): :meth:`acquire` raises
      :class:`RateLimiterUnavailableError`. A limiter, typically ``TokenBucket(rate / processes)``: a WARNING is
      logged when the limiter switches to it, and Redis is tried again every ``recheck`` seconds
      (:data:`DEFAULT_RECHECK`); an INFO line when Redis is back. It is never silently unlimited.
    - ``clock`` / ``sleep``: the local monotonic clock (for statistics, 429 holds not yet written, ``recheck``)
      and the sleep that waits out a reservation. The durations come from Redis's clock, so ``sleep`` must
      really wait (a virtual clock's sleep would only make the limiter ask Redis again).

    Raises :class:`~agora_recording.InvalidRequestError` (naming the argument) for a bad argument. Runs on asyncio
    only: on trio :meth:`acquire` raises :class:`UnsupportedBackendError`.

    Example::

        limiter = RedisRateLimiter.from_url("redis://localhost:6379/0", key=customer_id)
        async with limiter, CloudRecordingClient(app_id, customer_id, secret, rate_limiter=limiter) as client:
            ...
    """

    def __init__(
        self,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster,
        *,
        key: str,
        rate: float = DEFAULT_RATE,
        per: float = DEFAULT_PER,
        margin: float = DEFAULT_MARGIN,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        fallback: RateLimiter | None = None,
        recheck: float = DEFAULT_RECHECK,
        clock: Clock = DEFAULT_CLOCK,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if not isinstance(key, str) or not key or "{" in key or "}" in key:
            raise InvalidRequestError("key", "must be a non-empty string without '{' or '}'")
        if not callable(getattr(client, "register_script", None)):
            raise InvalidRequestError("client", "must be a redis.asyncio.Redis (or RedisCluster) client")
        self._rate = _check_number("rate", rate, minimum=1.0, inclusive=True, rule="must be a finite number >= 1")
        self._per = _check_number("per", per, minimum=0.0, inclusive=False, rule="must be a finite number > 0")
        self._margin = _check_number("margin", margin, minimum=0.0, inclusive=True, rule="must be a finite number >= 0")
        self._timeout = _check_timeout("timeout", timeout)
        self._recheck = _check_timeout("recheck", recheck)
        if fallback is not None and not isinstance(fallback, RateLimiter):
            raise InvalidRequestError("fallback", "must be a RateLimiter (for example TokenBucket) or None")
        if not callable(clock):
            raise InvalidRequestError("clock", "must be a zero-argument callable returning monotonic seconds")
        if not callable(sleep):
            raise InvalidRequestError("sleep", "must be an async callable like anyio.sleep")
        self._errors = (_import_redis_exceptions().RedisError, OSError)
        self._client = client
        self._owned: redis.asyncio.Redis | None = None  # the client from_url made (closed by aclose)
        self._n = int(self._rate)
        self._window = self._per + self._margin
        self._window_us = round(self._window * 1e6)
        if self._window_us < 1:
            raise InvalidRequestError("per", "per + margin must be at least 1e-6 s (Redis TIME counts microseconds)")
        prefix = f"{{agora:{key}}}"
        self._keys = (f"{prefix}:log", f"{prefix}:hold")
        self._script = client.register_script(SCRIPT)
        self._fallback = fallback
        self._clock = clock
        self._sleep = sleep
        # Members of the log: unique per limiter object (random) and per reservation (counter).
        self._token = secrets.token_hex(8)
        self._counter = itertools.count()
        # A 429 hold not yet written to Redis (local monotonic end): every script call carries it until written.
        self._pending_hold_until = -math.inf
        self._pusher_running = False
        self._push_lock = threading.Lock()
        self._down_until = -math.inf
        self._down = False
        self._granted = 0
        self._waits = 0
        self._wait_time = 0.0
        self._cancelled = 0
        self._holds = 0
        self._fallback_grants = 0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key: str,
        rate: float = DEFAULT_RATE,
        per: float = DEFAULT_PER,
        margin: float = DEFAULT_MARGIN,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        fallback: RateLimiter | None = None,
        recheck: float = DEFAULT_RECHECK,
        clock: Clock = DEFAULT_CLOCK,
        sleep: Sleep = anyio.sleep,
    ) -> RedisRateLimiter:
        """A limiter with its own ``redis.asyncio`` client for ``url`` (``redis://``, ``rediss://``, ``unix://``).

        The client uses a ``BlockingConnectionPool`` of ``max_connections`` (a caller beyond it waits up to
        ``timeout`` for a free connection instead of failing at once) with socket timeouts of ``timeout``. The
        limiter owns it: close it with :meth:`aclose` (or ``async with limiter:``). No connection is opened
        before the first :meth:`acquire`. Other arguments: see the class.

        Raises :class:`~agora_recording.InvalidRequestError` for a bad argument (the URL is never echoed: it may
        carry a password), :class:`ImportError` with the install command when redis-py is missing.
        """
        if not isinstance(url, str) or not url:
            raise InvalidRequestError("url", "must be a non-empty redis://, rediss:// or unix:// URL")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise InvalidRequestError("max_connections", "must be an integer >= 1")
        checked_timeout = _check_timeout("timeout", timeout)
        redis_asyncio = _import_redis()
        try:
            pool = redis_asyncio.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=checked_timeout,
                socket_timeout=checked_timeout,
                socket_connect_timeout=checked_timeout,
            )
        except ValueError:
            raise InvalidRequestError("url", "must be a valid redis://, rediss:// or unix:// URL") from None
        client = redis_asyncio.Redis(connection_pool=pool)
        limiter = cls(
            client,
            key=key,
            rate=rate,
            per=per,
            margin=margin,
            timeout=checked_timeout,
            fallback=fallback,
            recheck=recheck,
            clock=clock,
            sleep=sleep,
        )
        limiter._owned = client
        return limiter

    def __repr__(self) -> str:
        # Neither the key nor the URL: the URL may carry a password.
        return f"RedisRateLimiter(rate={self._rate!r}, per={self._per!r}, margin={self._margin!r})"

    async def __aenter__(self) -> RedisRateLimiter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the Redis client if this limiter created it (:meth:`from_url`); a caller's client stays open."""
        if self._owned is not None:
            await self._owned.aclose(close_connection_pool=True)

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
    def keys(self) -> tuple[str, str]:
        """The Redis keys this limiter uses: ``({agora:<key>}:log, {agora:<key>}:hold)``."""
        return self._keys

    @property
    def fallback(self) -> RateLimiter | None:
        """The limiter used while Redis is unreachable, or ``None`` (then :meth:`acquire` raises)."""
        return self._fallback

    @property
    def using_fallback(self) -> bool:
        """Whether the last attempt to reach Redis failed and the fallback is serving callers."""
        return self._down

    @property
    def fallback_grants(self) -> int:
        """Permits handed out by the fallback (also counted in :attr:`stats`' ``granted``)."""
        return self._fallback_grants

    @property
    def stats(self) -> LimiterStats:
        """Counters of this process's limiter object: granted, waits, wait_time (local clock), cancelled, holds."""
        return LimiterStats(
            granted=self._granted,
            waits=self._waits,
            wait_time=self._wait_time,
            cancelled=self._cancelled,
            holds=self._holds,
        )

    async def acquire(self) -> None:
        """Wait for one permit, in the order of arrival at Redis, shared with every process using the key.

        Cancelling the wait gives the slot back (see the module docstring for when exactly). Raises
        :class:`RateLimiterUnavailableError` when Redis cannot be reached and there is no ``fallback``, and
        :class:`UnsupportedBackendError` when not running on asyncio.
        """
        await self.acquire_timed()

    async def acquire_timed(self) -> float | None:
        """Like :meth:`acquire`, and return the grant's time on the Redis server's clock (seconds since the epoch).

        Every grant of every process sharing the key is placed on that one clock, so these times show the window
        guarantee directly (useful in tests and logs). Returns ``None`` for a permit given by the ``fallback``.
        """
        _require_asyncio()
        if self._fallback is not None and self._down and self._clock() < self._down_until:
            await self._acquire_fallback()
            return None
        member = f"{self._token}:{next(self._counter)}"
        start = self._clock()
        try:
            try:
                wait, at, _ = await self._call("r", member)
                self._recovered()
                if wait > 0:
                    self._waits += 1
                    # Wake a little early and confirm before the slot (a 429 hold may have appeared meanwhile),
                    # then sleep out the rest: the round trip stays off the path between the slot and the send.
                    while wait > _LEAD_US:
                        await self._sleep((wait - _LEAD_US) / 1e6)
                        wait, at, _ = await self._call("c", member)
                    if wait > 0:
                        await self._sleep(wait / 1e6)
                    self._wait_time += self._clock() - start
            except RateLimiterUnavailableError:
                raise  # Redis is gone: a give-back would only wait for it again; the slot ages out
            except BaseException:
                await self._give_back(member)  # cancelled (or interrupted) before the permit was granted
                raise
        except RateLimiterUnavailableError:
            if self._fallback is None:
                raise
            self._fail_over()
            await self._acquire_fallback()
            return None
        self._granted += 1
        return at / 1e6

    async def _give_back(self, member: str) -> None:
        """Remove this caller's reservation if it is still in the future (shielded, bounded by ``timeout``)."""
        self._cancelled += 1
        with anyio.CancelScope(shield=True):
            try:
                await self._call("x", member)
            except RateLimiterUnavailableError:
                # The slot stays booked until it ages out: at worst one permit is lost, never one too many.
                logger.debug("rate limiter: could not give a reservation back (Redis unavailable)")

    async def _acquire_fallback(self) -> None:
        assert self._fallback is not None
        await self._fallback.acquire()
        self._granted += 1
        self._fallback_grants += 1

    def _fail_over(self) -> None:
        if not self._down:
            logger.warning(
                "rate limiter: Redis is unreachable; using the in-process fallback %r (retrying Redis every %.1f s)",
                self._fallback,
                self._recheck,
            )
        self._down = True
        self._down_until = self._clock() + self._recheck

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            logger.info("rate limiter: Redis is reachable again; the shared limit applies")

    async def _call(self, mode: str, member: str) -> tuple[int, int, int]:
        """Run the script once; every Redis failure becomes :class:`RateLimiterUnavailableError`."""
        extend = 0
        pending = self._pending_hold_until
        if pending > -math.inf:
            extend = max(0, math.ceil((pending - self._clock()) * 1e6))
        try:
            with anyio.fail_after(self._timeout):
                reply = await self._script(keys=list(self._keys), args=[mode, self._n, self._window_us, member, extend])
        except TimeoutError as exc:  # anyio's deadline, or redis-py's TimeoutError (a RedisError, see below)
            raise RateLimiterUnavailableError(f"Redis did not answer within {self._timeout:g} s") from exc
        except self._errors as exc:
            raise RateLimiterUnavailableError(f"Redis is unavailable ({type(exc).__name__})") from exc
        if pending == self._pending_hold_until:
            self._pending_hold_until = -math.inf
        try:
            wait, at, now = (int(x) for x in reply)
        except (TypeError, ValueError) as exc:
            raise RateLimiterUnavailableError("Redis answered the limiter script with an unexpected reply") from exc
        return max(0, wait), at, now

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Agora answered 429: hold every process sharing the key until ``retry_after`` seconds from now.

        ``None`` (or a negative or non-finite value) holds for ``per + margin``. The shared hold is written to
        Redis within milliseconds (holds only extend, never shorten); until then this process's script calls carry
        it. Also passed to the ``fallback``, if any. Use :meth:`hold` to wait until it is written.
        """
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            retry_after = self._window
        self._holds += 1
        self._pending_hold_until = max(self._pending_hold_until, self._clock() + retry_after)
        if self._fallback is not None:
            self._fallback.on_rate_limited(retry_after)
        self._start_pusher()

    async def hold(self, retry_after: float | None) -> None:
        """Like :meth:`on_rate_limited`, and wait until the shared hold is written to Redis.

        Raises :class:`RateLimiterUnavailableError` when Redis cannot be reached (this process holds anyway).
        """
        _require_asyncio()
        self.on_rate_limited(retry_after)
        await self._push_pending()

    def _start_pusher(self) -> None:
        """Write the pending hold from a task on this event loop, reached through a short-lived helper thread.

        ``on_rate_limited`` is synchronous and anyio has no way to start a task without a task group; the thread
        does nothing but hand :meth:`_push_pending` back to the loop and wait for it.
        """
        try:
            if sniffio.current_async_library() != "asyncio":
                return  # acquire raises UnsupportedBackendError there; nothing to share through
            token = anyio.lowlevel.current_token()
        except (RuntimeError, sniffio.AsyncLibraryNotFoundError):  # not in an event loop: the next call carries it
            return
        with self._push_lock:
            if self._pusher_running:
                return
            self._pusher_running = True

        def run() -> None:
            try:
                anyio.from_thread.run(self._push_pending_quietly, token=token)
            except BaseException:  # the loop ended, or was cancelled: the next script call carries the hold
                logger.debug("rate limiter: the 429 hold will be shared with the next Redis call")
            finally:
                with self._push_lock:
                    self._pusher_running = False

        threading.Thread(target=run, name="agora-redis-hold", daemon=True).start()

    async def _push_pending_quietly(self) -> None:
        try:
            await self._push_pending()
        except RateLimiterUnavailableError:
            logger.warning("rate limiter: could not share a 429 hold through Redis; this process holds locally")

    async def _push_pending(self) -> None:
        while self._pending_hold_until > -math.inf:
            await self._call("h", "")


def _require_asyncio() -> None:
    backend = sniffio.current_async_library()
    if backend != "asyncio":
        raise UnsupportedBackendError(
            f"RedisRateLimiter needs asyncio (redis-py's asyncio client); this is {backend}. Run the client on "
            "asyncio, or use TokenBucket on this event loop."
        )


def _import_redis_exceptions() -> Any:
    import redis.exceptions

    return redis.exceptions


def _import_redis() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("agora_recording.redis needs redis-py: pip install 'agora-recording[redis]'") from exc
    return redis_asyncio
