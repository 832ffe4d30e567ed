"""Redis restarted mid-run (a private redis-server, no persistence: it comes back empty) under a client with
``session_store=RedisSessionStore``: the recordings go on, starts while Redis is down still work (a WARNING), and
once Redis is back the lease loop finds its lease lapsed and writes every held session again."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from _support import request_for

LEASE = 0.6  # the lease loop runs every 0.2 s (real time)
POLL_LIMIT = 100  # x 0.05 s


async def _wait_for(predicate: Any) -> bool:
    for _ in range(POLL_LIMIT):
        if await predicate():
            return True
        await anyio.sleep(0.05)
    return False


def test_redis_restarted_mid_run_the_records_are_written_again(caplog: pytest.LogCaptureFixture) -> None:
    """Start one recording; stop Redis; start another (it works, a WARNING); start Redis again (empty): both
    records reappear from the lease loop; stopping both deletes them; nothing is left running."""
    from _redis_server import running_redis

    from agora_recording import CloudRecordingClient
    from agora_recording.redis import RedisSessionStore
    from agora_recording.testing import FakeAgoraServer

    caplog.set_level(logging.WARNING, logger="agora_recording")
    fake = FakeAgoraServer(rate_limit=None)

    async def main() -> None:
        with running_redis() as redis_server:
            async with (
                fake.serve() as base_url,
                RedisSessionStore.from_url(redis_server.url, lease=LEASE) as store,
                CloudRecordingClient(
                    fake.app_id,
                    fake.customer_id,
                    fake.customer_secret,
                    base_url=base_url,
                    session_store=store,
                    store_timeout=3.0,
                ) as client,
            ):
                first = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
                await first.start()
                assert await store.get(first.key) is not None
                redis_server.stop()
                second = client.session(cname="room2", uid="1", mode="mix", client_request=request_for("mix"))
                await second.start()  # the store is down: the recording still starts
                assert len(fake.running_recordings()) == 2
                assert any("session store" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
                redis_server.start()  # same port, empty

                async def both_back() -> bool:
                    try:
                        return all([await store.get(first.key), await store.get(second.key)])
                    except Exception:  # reconnecting
                        return False

                assert await _wait_for(both_back)
                record = await store.get(second.key)
                assert record is not None
                assert record.owner == client.owner_id
                assert record.data["state"] == "recording"
                await first.stop()
                await second.stop()
                assert await store.records() == []
        assert fake.running_recordings() == []

    anyio.run(main, backend="asyncio")
