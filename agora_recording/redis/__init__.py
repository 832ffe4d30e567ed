"""Redis-backed parts, for several worker processes and hosts on one Agora account (extra ``redis``).

``pip install 'agora-recording[redis]'`` installs redis-py (>= 5.0.1); ``import agora_recording`` never imports this
package nor redis-py. On redis-py's ``redis.asyncio`` client everything runs on asyncio only; the stores also take a
``coredis.Redis`` client (extra ``coredis``), which runs on trio too.

- :class:`RedisRateLimiter`: one rate limit for every process and host sharing a key (Agora's 10 requests/s).
- :class:`RedisSessionStore`: the session store shared by every process and host (leases, claims, hand-offs).
- :class:`RedisDedupeStore`: webhook notice ids already seen by any process.
"""

from agora_recording.redis._limiter import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RECHECK,
    DEFAULT_REDIS_TIMEOUT,
    RateLimiterUnavailableError,
    RedisRateLimiter,
    UnsupportedBackendError,
)
from agora_recording.redis._store import (
    DEFAULT_DEDUPE_TTL,
    DEFAULT_NAMESPACE,
    RedisDedupeStore,
    RedisSessionStore,
)

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
