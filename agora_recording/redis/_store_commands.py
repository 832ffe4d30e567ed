"""How the Redis stores talk to Redis: one small command protocol over redis-py or coredis, and ``from_url``'s pool.

:class:`_Commands` is what the stores drive (a script call, HMGET, SET ... GET, SET NX, EXISTS, DEL); one subclass
per client library, so the stores run on redis-py (asyncio) or coredis (asyncio and trio).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

try:
    import redis.asyncio as aioredis
    import redis.exceptions as redis_errors
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.commands.core import AsyncScript
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("agora_recording.redis needs redis-py >= 5.0.1: pip install 'agora-recording[redis]'") from exc

if TYPE_CHECKING:
    pass

from agora_recording._errors import InvalidRequestError

# from_url's defaults: a bounded, blocking pool (a plain pool raises when max_connections is reached), short
# timeouts so an unreachable Redis is reported in seconds, and one immediate retry on a connection error so a pooled
# connection that went stale (Redis restarted) is replaced instead of failing the first call.
_POOL_SIZE = 10
_POOL_TIMEOUT = 5.0
_SOCKET_TIMEOUT = 5.0
_CONNECT_TIMEOUT = 2.0


def _check_seconds(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidRequestError(field, "must be a finite number of seconds > 0")
    return float(value)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _client_from_url(url: str, *, max_connections: int, timeout: float) -> aioredis.Redis:
    if not isinstance(url, str) or not url:
        raise InvalidRequestError("url", "must be a redis:// rediss:// or unix:// URL")
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
        raise InvalidRequestError("max_connections", "must be an integer >= 1")
    seconds = _check_seconds(timeout, "timeout")
    try:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=seconds,
            socket_timeout=seconds,
            socket_connect_timeout=min(seconds, _CONNECT_TIMEOUT),
            # Retry only errors where the command most likely never ran (a stale pooled connection): a timeout
            # may hide a script that did run, and running claim_orphans twice would lose the first reply.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
            decode_responses=False,
        )
    except ValueError as exc:
        # Not redis-py's message: a URL can carry a password, and parse errors may quote parts of it.
        raise InvalidRequestError("url", "must be a valid redis://, rediss:// or unix:// URL") from exc
    return aioredis.Redis.from_pool(pool)


class _Commands:
    """The small internal protocol the stores drive Redis through; one subclass per client library.

    Each method awaits one command (or one script) and returns plain values: bytes, ints, lists.
    """

    library = ""
    backends: frozenset[str] = frozenset()
    """The async libraries (sniffio names) the client runs on."""
    unavailable: tuple[type[BaseException], ...] = ()
    """Errors meaning "Redis cannot be reached / cannot serve now" (mapped to SessionStoreUnavailableError)."""
    failed: tuple[type[BaseException], ...] = ()
    """Every other error of the client library (mapped to SessionStoreError)."""

    def script(self, source: str) -> Any:
        raise NotImplementedError

    async def run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        raise NotImplementedError

    async def hmget(self, key: str, fields: list[str]) -> list[Any]:
        raise NotImplementedError

    async def set_get(self, key: str, value: bytes, *, px: int) -> bytes | None:
        """SET key value PX px GET: the previous value."""
        raise NotImplementedError

    async def set_nx(self, key: str, value: bytes, *, px: int) -> bool:
        """SET key value NX PX px: whether it was set (the key was absent)."""
        raise NotImplementedError

    async def exists(self, key: str) -> bool:
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class _RedisPyCommands(_Commands):
    """redis-py's ``redis.asyncio.Redis`` (asyncio only)."""

    library = "redis.asyncio"
    backends = frozenset({"asyncio"})
    unavailable = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError, OSError)
    failed = (redis_errors.RedisError,)

    def __init__(self, client: aioredis.Redis) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise InvalidRequestError("client", "must be created with decode_responses=False (the store keeps bytes)")
        self.client = client

    def script(self, source: str) -> AsyncScript:
        return self.client.register_script(source)

    async def run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await script(keys=keys, args=args)

    async def hmget(self, key: str, fields: list[str]) -> list[Any]:
        return list(await self.client.hmget(key, fields))

    async def set_get(self, key: str, value: bytes, *, px: int) -> bytes | None:
        previous = await self.client.set(key, value, px=px, get=True)
        return previous if isinstance(previous, bytes) else None

    async def set_nx(self, key: str, value: bytes, *, px: int) -> bool:
        return bool(await self.client.set(key, value, px=px, nx=True))

    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists(key))

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def aclose(self) -> None:
        await self.client.aclose()


class _CoredisCommands(_Commands):
    """coredis's ``coredis.Redis`` (anyio-native: asyncio and trio). Its owner enters it (``async with client``)."""

    library = "coredis"
    backends = frozenset({"asyncio", "trio"})

    def __init__(self, client: Any) -> None:
        import coredis.exceptions  # only when a coredis client is passed in
        import coredis.tokens

        if getattr(client, "decode_responses", False):
            raise InvalidRequestError("client", "must be created with decode_responses=False (the store keeps bytes)")
        self.client = client
        self._nx = coredis.tokens.PureToken.NX
        errors = coredis.exceptions
        self.unavailable = (
            errors.ConnectionError,
            errors.BusyLoadingError,
            errors.ReadOnlyError,
            errors.ClusterDownError,
            errors.TryAgainError,
            TimeoutError,
            OSError,
        )
        self.failed = (errors.RedisError,)

    def script(self, source: str) -> Any:
        return self.client.register_script(source)

    async def run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return await script(keys=keys, args=args)

    async def hmget(self, key: str, fields: list[str]) -> list[Any]:
        return list(await self.client.hmget(key, fields))

    async def set_get(self, key: str, value: bytes, *, px: int) -> bytes | None:
        previous = await self.client.set(key, value, px=px, get=True)
        return previous if isinstance(previous, bytes) else None

    async def set_nx(self, key: str, value: bytes, *, px: int) -> bool:
        return bool(await self.client.set(key, value, px=px, condition=self._nx))

    async def exists(self, key: str) -> bool:
        return bool(await self.client.exists([key]))

    async def delete(self, key: str) -> None:
        await self.client.delete([key])

    async def aclose(self) -> None:
        raise AssertionError("a coredis client is always the caller's")  # pragma: no cover - never owned


def _commands_for(client: object) -> _Commands:
    if isinstance(client, aioredis.Redis):
        return _RedisPyCommands(client)
    if type(client).__module__.split(".")[0] == "coredis":
        import coredis

        if isinstance(client, coredis.Redis):
            return _CoredisCommands(client)
    raise InvalidRequestError("client", "must be a redis.asyncio.Redis or a coredis.Redis client")
