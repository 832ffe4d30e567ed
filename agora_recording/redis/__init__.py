"""Redis-backed parts, for several worker processes and hosts on one Agora account (extra ``redis``).

``pip install 'agora-recording[redis]'`` installs redis-py (>= 5.0.1); ``import agora_recording`` never imports this
package nor redis-py. On redis-py's ``redis.asyncio`` client everything runs on asyncio only; the stores also take a
``coredis.Redis`` client (extra ``coredis``), which runs on trio too.

- :class:`RedisRateLimiter`: one rate limit for every process and host sharing a key (Agora's 10 requests/s).
- :class:`RedisSessionStore`: the session store shared by every process and host (leases, claims, hand-offs).
- :class:`RedisDedupeStore`: webhook notice ids already seen by any process.
"""

from typing import TYPE_CHECKING, Any

from agora_recording.redis._limiter import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RECHECK,
    DEFAULT_REDIS_TIMEOUT,
    RateLimiterUnavailableError,
    RedisRateLimiter,
    UnsupportedBackendError,
)

if TYPE_CHECKING:
    from agora_recording.redis._store import (
        DEFAULT_DEDUPE_TTL,
        DEFAULT_NAMESPACE,
        RedisDedupeStore,
        RedisSessionStore,
    )

# The stores import redis-py when their module loads; the limiter only when a limiter is built. So that
# ``agora_recording.redis`` imports without redis-py (and RedisRateLimiter.from_url can say what to install), the
# stores' names load on first use.
_STORE_NAMES = frozenset({"DEFAULT_DEDUPE_TTL", "DEFAULT_NAMESPACE", "RedisDedupeStore", "RedisSessionStore"})


def __getattr__(name: str) -> Any:
    if name in _STORE_NAMES:
        from agora_recording.redis import _store

        return getattr(_store, name)
    raise AttributeError(f"module 'agora_recording.redis' has no attribute {name!r}")


__all__ = [
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_RECHECK",
    "DEFAULT_REDIS_TIMEOUT",
    "RateLimiterUnavailableError",
    "RedisDedupeStore",
    "RedisRateLimiter",
    "RedisSessionStore",
    "UnsupportedBackendError",
]
