"""Review reproductions: the rate limit of one process (``shared_limiter``, the client's default limiter)."""

from __future__ import annotations

import gc
import uuid

import anyio
import pytest

from agora_recording import CloudRecordingClient, RateLimitError, shared_limiter
from agora_recording.testing import FakeAgoraServer

pytestmark = pytest.mark.anyio


async def test_shared_limiter_remembers_recent_grants_after_its_last_client_is_gone() -> None:
    key = f"review-weak-registry-{uuid.uuid4()}"  # one per run (asyncio, trio): the registry lives for the process
    limiter = shared_limiter(key)
    for _ in range(10):
        await limiter.acquire()
    del limiter
    gc.collect()
    again = shared_limiter(key)
    # The limiter that made the ten grants, with its log: not a fresh one that would grant ten more at once.
    # (Asserting a wait would depend on the real clock: a slow gc.collect() can outlast the window.)
    assert again.stats.granted == 10


async def test_sequential_clients_with_the_default_limiter_stay_under_the_limit() -> None:
    fake = FakeAgoraServer()  # the real clock, 10 requests per second per account, like Agora
    for _ in range(2):
        # A common shape: one short-lived client per web request. Every client uses the default limiter,
        # documented as shared by every client of the process with the same Customer ID.
        client = CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, base_url=fake.base_url, transport=fake.transport()
        )
        async with client:
            for i in range(10):
                try:
                    await client.acquire(cname=f"room{i}", uid="527841", retries=0)
                except RateLimitError:
                    pytest.fail("the 10/s limit was broken by two clients that did not overlap")
        del client
        gc.collect()


def test_a_429_hold_outlives_the_client_that_got_it() -> None:
    limiter = shared_limiter("review-hold-carries-over")
    limiter.on_rate_limited(30.0)
    del limiter
    gc.collect()
    again = shared_limiter("review-hold-carries-over")
    assert again.stats.holds == 1
    assert again._delay(again._clock()) > 25.0  # the next client of the account is held too


def test_the_shared_limiter_carries_its_grants_from_one_event_loop_to_the_next() -> None:
    """Strong references do not bind the limiter to a loop: an ended loop's grants still count in the next one."""
    key = f"review-two-loops-{uuid.uuid4()}"
    seen: list[int] = []

    async def ten() -> None:
        limiter = shared_limiter(key)
        seen.append(limiter.stats.granted)  # what the limiter remembers when this loop starts using it
        for _ in range(10):
            await limiter.acquire()

    anyio.run(ten, backend="asyncio")
    gc.collect()
    anyio.run(ten, backend="trio")  # the first loop's grants count here: waits unless the window has passed
    assert seen == [0, 10]
    assert shared_limiter(key).stats.granted == 20
