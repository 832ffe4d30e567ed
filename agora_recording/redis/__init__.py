"""Coordination through Redis for several processes or hosts on one Agora account (extra ``redis``).

Install with ``pip install 'agora-recording[redis]'`` (redis-py >= 5.0.1). ``import agora_recording`` never imports
this package nor redis-py; redis-py itself is imported when a Redis object is created.
"""

from agora_recording.redis._limiter import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RECHECK,
    DEFAULT_REDIS_TIMEOUT,
    RateLimiterUnavailableError,
    RedisRateLimiter,
    UnsupportedBackendError,
)

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_RECHECK",
    "DEFAULT_REDIS_TIMEOUT",
    "RateLimiterUnavailableError",
    "RedisRateLimiter",
    "UnsupportedBackendError",
]
