"""Redis-backed parts, for several worker processes and hosts on one Agora account (extra ``redis``).

``pip install 'agora-recording[redis]'`` installs redis-py; ``import agora_recording`` never imports it, only
``import agora_recording.redis`` does. On redis-py's ``redis.asyncio`` client everything runs on asyncio only;
the stores also take a ``coredis.Redis`` client (extra ``coredis``), which runs on trio too.

- :class:`RedisSessionStore`: the session store shared by every process and host (leases, claims, hand-offs).
- :class:`RedisDedupeStore`: webhook notice ids already seen by any process.
"""

from agora_recording.redis._store import (
    DEFAULT_DEDUPE_TTL,
    DEFAULT_NAMESPACE,
    RedisDedupeStore,
    RedisSessionStore,
)

__all__ = [
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_NAMESPACE",
    "RedisDedupeStore",
    "RedisSessionStore",
]
