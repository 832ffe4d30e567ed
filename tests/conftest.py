from __future__ import annotations

from collections.abc import Iterator

import pytest
from _redis_server import RedisServer, running_redis


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Backend-neutral tests marked ``pytest.mark.anyio`` run under asyncio and trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def _redis_process() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
def redis_server(_redis_process: RedisServer) -> RedisServer:
    """A real ``redis-server`` on 127.0.0.1 (shared by the session's tests), flushed before each test.

    A test that restarts or stops Redis should start its own with ``tests._redis_server.running_redis()``.
    """
    _redis_process.flush()
    return _redis_process
