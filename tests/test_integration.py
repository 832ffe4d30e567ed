"""The same scenarios once in-process and once over real TCP on 127.0.0.1, against FakeAgoraServer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs
import httpx
import pytest
from _support import request_for

from agora_recording import (
    DEFAULT_MARGIN,
    CloudRecordingClient,
    RecordingStatus,
    RetryPolicy,
    SessionState,
    StartOutcomeUnknownError,
    TokenBucket,
    Unlimited,
)
from agora_recording.testing import FakeAgoraServer, FakeTimings
from agora_recording.testing._clock import VirtualClock

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])]

FAST = FakeTimings(ready_after=0.0, first_file_after=0.0)
QUICK_RETRY = RetryPolicy(
    jitter=0.0,
    connect_delays=(0.01,),
    start_delays=(0.01,),
    server_error_delays=(0.01,),
    incomplete_delays=(0.01,),
    rate_limit_delays=(0.01,),
    not_found_delays=(0.01,),
)


@asynccontextmanager
async def connect(fake: FakeAgoraServer, how: str, **kwargs: Any) -> AsyncIterator[CloudRecordingClient]:
    """A client on ``fake``: through its in-process transport, or over TCP to ``fake.serve()`` on 127.0.0.1."""
    options: dict[str, Any] = {"rate_limiter": Unlimited(), "retry": QUICK_RETRY, **kwargs}
    if how == "inprocess":
        async with CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, transport=fake.transport(),
            base_url=fake.base_url, **options,
        ) as client:  # fmt: skip
            yield client
        return
    async with fake.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, base_url=base_url, **options
        ) as client:
            yield client


@pytest.mark.parametrize("how", ["inprocess", "tcp"])
@pytest.mark.parametrize("mode", ["mix", "individual", "web"])
async def test_lifecycle_in_every_mode(how: str, mode: str) -> None:
    """acquire, start, query (status 5 with files), stop with files; nothing left running."""
    fake = FakeAgoraServer(timings=FAST)
    async with connect(fake, how) as client:
        async with client.session(cname="room1", uid="527841", mode=mode, client_request=request_for(mode)) as rec:
            query = await rec.query()
            assert query.status is RecordingStatus.IN_PROGRESS
            assert query.files
        assert rec.stop_response is not None
        assert rec.stop_response.files
    assert fake.running_recordings() == []
    assert fake.stats.by_endpoint == {"acquire": 1, "start": 1, "query": 1, "stop": 1}


@pytest.mark.parametrize("how", ["inprocess", "tcp"])
async def test_lost_start_answer_is_one_recording_and_a_distinct_error(how: str) -> None:
    """The start is done but its answer lost; the resend answers code 7: StartOutcomeUnknownError, one recording."""
    fake = FakeAgoraServer(timings=FAST, fault_hold_limit=5.0)
    fake.inject("start", kind="timeout", when="after")
    async with connect(fake, how, timeout=httpx.Timeout(0.5)) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError):
            await rec.start()
        assert rec.state is SessionState.UNKNOWN
    assert fake.stats.recordings_started == 1
    assert len(fake.undelivered_sids()) == 1


@pytest.mark.parametrize("how", ["inprocess", "tcp"])
async def test_dropped_connections_are_retried_and_leave_no_connection_open(how: str) -> None:
    """Dropped connections and 5xx are retried; afterwards the pool holds at most one idle connection."""
    fake = FakeAgoraServer(timings=FAST)
    async with connect(fake, how, retry=attrs.evolve(QUICK_RETRY, max_retries=6)) as client:
        for _ in range(3):
            fake.inject("query", kind="disconnect")
            fake.inject("query", kind="internal_error")
        async with client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")) as rec:
            for _ in range(3):
                await rec.query()
        pool = client._http._transport._pool if how == "tcp" else None  # type: ignore[attr-defined]
        if pool is not None:
            assert len(pool.connections) <= 1
            assert all(c.is_idle() for c in pool.connections)
    assert fake.stats.faults_fired == 6
    assert fake.running_recordings() == []


async def test_limiter_keeps_fifty_tasks_under_the_strict_window_on_a_virtual_clock() -> None:
    """50 tasks, 200 requests, one client, the fake's strict 10-per-any-second window: zero 429s, and the run
    takes what the limit requires: (200 - 10) grants after the burst at 10 per (1 s + margin)."""
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep, timings=FAST)
    limiter = TokenBucket(10, 1.0, clock=vc, sleep=vc.sleep)
    async with connect(fake, "inprocess", rate_limiter=limiter, clock=vc, sleep=vc.sleep) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        start = vc()

        async def worker() -> None:
            for _ in range(4):
                await rec.query()

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(worker)
        elapsed = vc() - start
        await rec.stop()
    assert fake.stats.rate_limited == 0
    assert fake.stats.by_endpoint["query"] == 200
    # 2 requests (acquire, start) already used the first window; 200 more need 20 further windows.
    minimum = 19 * 1.0
    assert minimum <= elapsed <= 20 * (1.0 + DEFAULT_MARGIN) + 0.01


async def test_limiter_over_tcp_on_the_real_clock_sees_no_429() -> None:
    """Over real TCP and the real clock, 50 tasks making 60 requests at 10/s never trip the fake's window.

    The fake serves from the same event loop as the client, so on a loaded machine a request can reach it tens of
    milliseconds after it was sent; the margin here is 0.25 s to keep the test about the limiter, not the machine.
    The exact window semantics are pinned on the virtual clock above.
    """
    fake = FakeAgoraServer(timings=FAST)
    limiter = TokenBucket(10, 1.0, margin=0.25)
    async with connect(fake, "tcp", rate_limiter=limiter) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        remaining = 58

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await rec.query()

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(worker)
        await rec.stop()
    assert fake.stats.rate_limited == 0
    assert fake.stats.requests == 61
    assert limiter.stats.granted == 61
    assert limiter.stats.waits >= 50  # the limiter, not luck, kept the window: most requests had to wait


@pytest.mark.parametrize("how", ["inprocess"])
async def test_every_fake_answer_passes_the_strict_converter(how: str) -> None:
    """The fake's 2xx answers in every mode and endpoint fit the models exactly (no unknown keys): the fake and the
    models describe the same wire format."""
    from agora_recording import (
        AcquireResponse,
        QueryResponse,
        StartResponse,
        StopResponse,
        UpdateLayoutClientRequest,
        UpdateLayoutResponse,
        UpdateResponse,
    )
    from agora_recording._converter import from_wire

    models = {
        "acquire": AcquireResponse,
        "start": StartResponse,
        "update": UpdateResponse,
        "updateLayout": UpdateLayoutResponse,
        "query": QueryResponse,
        "stop": StopResponse,
    }
    seen: list[str] = []

    class Strict(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            endpoint = request.url.path.rsplit("/", 1)[-1]
            if response.status_code == 200:
                from_wire(models[endpoint], response.json(), endpoint=endpoint, strict=True)
                seen.append(endpoint)
            return response

    fake = FakeAgoraServer(timings=FAST, rate_limit=None)
    async with CloudRecordingClient(
        fake.app_id, fake.customer_id, fake.customer_secret, transport=Strict(fake.transport()),
        base_url=fake.base_url, rate_limiter=Unlimited(), retry=QUICK_RETRY,
    ) as client:  # fmt: skip
        for mode in ("mix", "individual", "web"):
            async with client.session(
                cname=f"room-{mode}", uid="1", mode=mode, client_request=request_for(mode)
            ) as rec:
                await rec.query()
                if mode == "mix":
                    await rec.update_layout(UpdateLayoutClientRequest(mixed_video_layout=1))
    assert sorted(set(seen)) == ["acquire", "query", "start", "stop", "updateLayout"]
