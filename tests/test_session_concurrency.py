"""Sessions under concurrency and queueing: races found in review, each pinned by a test."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from _support import client_for, make_fake, request_for

from agora_recording import (
    APIConnectionError,
    CloudRecordingClient,
    ResourceExpiredError,
    SessionState,
    SessionStateError,
    TokenBucket,
)
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("extra_checkpoints", [0, 1, 2])
async def test_cancel_racing_the_in_flight_slot_never_loses_a_started_recording(extra_checkpoints: int) -> None:
    """Two sessions share one in-flight slot. B's start is cancelled as A frees the slot: either B never sends
    (ACQUIRED) or B's start finishes shielded and is stopped; never an orphan, never a false deadline."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc, max_in_flight=1) as client, vc.autojump():
        a = client.session(cname="roomA", uid="1", mode="mix", client_request=request_for("mix"))
        b = client.session(cname="roomB", uid="1", mode="mix", client_request=request_for("mix"))
        await a.acquire()
        await b.acquire()
        fake.inject("start", kind="delay", delay=1.0)  # A: answered 1 s late
        fake.inject("start", kind="delay", delay=1.0, when="after")  # B: started at once, answered 1 s late
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.start)
            await vc.sleep(0.5)
            with anyio.CancelScope() as b_scope:

                async def canceller() -> None:
                    await vc.sleep(0.5)
                    for _ in range(extra_checkpoints):
                        await anyio.lowlevel.checkpoint()
                    b_scope.cancel()

                tg.start_soon(canceller)
                await b.start()
        await a.stop()
        assert b.state in (SessionState.ACQUIRED, SessionState.STOPPED)
    assert fake.orphans() == []
    assert fake.running_recordings() == []


async def test_concurrent_starts_start_once() -> None:
    """Two tasks call start() on one NEW session: one starts, the other is refused; one acquire, one start."""
    vc = VirtualClock()
    fake = make_fake(vc)
    errors: list[BaseException] = []
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))

        async def start() -> None:
            try:
                await rec.start()
            except SessionStateError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(start)
            tg.start_soon(start)
        assert len(errors) == 1
        assert rec.state is SessionState.RECORDING
        await rec.stop()
    assert len(fake.requests_to("acquire")) == 1
    assert len(fake.requests_to("start")) == 1
    assert fake.running_recordings() == []


async def test_concurrent_stops_share_one_stop_and_end_stopped() -> None:
    """Two stop() calls at once: one request, both get the same answer, the state ends STOPPED."""
    vc = VirtualClock()
    fake = make_fake(vc)
    results = []
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fake.inject("stop", kind="delay", delay=2.0)

        async def stop() -> None:
            results.append(await rec.stop())

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            tg.start_soon(stop)
    assert rec.state is SessionState.STOPPED
    assert results[0] is results[1]
    assert len(fake.requests_to("stop")) == 1


async def test_client_closed_while_a_start_is_queued_is_a_typed_error_and_nothing_was_sent() -> None:
    """Closing the client while a start waits for its permit: APIConnectionError, state ACQUIRED, no start sent."""
    vc = VirtualClock()
    fake = make_fake(vc)
    limiter = TokenBucket(1, 10.0, margin=0.0, clock=vc, sleep=vc.sleep)
    async with vc.autojump():
        client = CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, base_url=fake.base_url, transport=fake.transport(),
            clock=vc, sleep=vc.sleep, rate_limiter=limiter,
        )  # fmt: skip
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()  # takes the only permit of the first 10 s
        async with anyio.create_task_group() as tg:

            async def closer() -> None:
                await vc.sleep(1)
                await client.aclose()

            tg.start_soon(closer)
            with pytest.raises(APIConnectionError, match="closed"):
                await rec.start()
    assert rec.state is SessionState.ACQUIRED
    assert fake.requests_to("start") == ()


async def test_cancellation_while_the_exit_stop_is_queued_still_stops() -> None:
    """The body ends, the exit stop waits for a permit, and the task is cancelled meanwhile: the stop still goes."""
    vc = VirtualClock()
    fake = make_fake(vc)
    limiter = TokenBucket(1, 10.0, margin=0.0, clock=vc, sleep=vc.sleep)
    async with client_for(fake, vc, rate_limiter=limiter) as client, vc.autojump():
        with anyio.CancelScope() as scope:

            async def cancel_later() -> None:
                await vc.sleep(25)  # acquire t=0, start t=10, body t=20; the exit stop waits for t=30
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_later)
                async with client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")):
                    await limiter.acquire()  # someone else takes the t=20 window: the exit stop waits until t=30
                tg.cancel_scope.cancel()
    assert fake.stats.recordings_stopped == 1
    assert fake.running_recordings() == []


async def test_stale_resource_id_is_replaced_when_the_start_finally_leaves_the_queue() -> None:
    """Queued past the five-minute guard behind the limiter, the start is not sent with a stale resourceId: the
    session re-acquires and sends a fresh one (no 433, nothing reported as "may have started")."""
    vc = VirtualClock()
    fake = make_fake(vc, rate_limit=None)
    limiter = TokenBucket(1, 200.0, margin=0.0, clock=vc, sleep=vc.sleep)  # one request per 200 s
    async with client_for(fake, vc, rate_limiter=limiter) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()  # t=0
        await limiter.acquire()  # another caller takes t=200: the start leaves at t=400, past 300 - 30
        await rec.start()
        assert rec.reacquired >= 1
        assert rec.state is SessionState.RECORDING
        assert [r.status for r in fake.requests_to("start")] == [200]
        await rec.stop()


async def test_reacquire_false_refuses_a_start_that_went_stale_in_the_queue() -> None:
    """With reacquire=False, a start that went stale while queued raises ResourceExpiredError; nothing is sent."""
    vc = VirtualClock()
    fake = make_fake(vc, rate_limit=None)
    limiter = TokenBucket(1, 200.0, margin=0.0, clock=vc, sleep=vc.sleep)
    async with client_for(fake, vc, rate_limiter=limiter) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), reacquire=False)
        await rec.acquire()
        await limiter.acquire()
        with pytest.raises(ResourceExpiredError):
            await rec.start()
        assert rec.state is SessionState.ACQUIRED
    assert fake.requests_to("start") == ()


async def test_an_injected_clock_gets_a_private_limiter_on_that_clock() -> None:
    """A client on a virtual clock without rate_limiter= limits on that clock, so the fake sees no 429 (README)."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with (
        CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, transport=fake.transport(),
            base_url=fake.base_url, clock=vc, sleep=vc.sleep,
        ) as client,
        vc.autojump(),
    ):  # fmt: skip
        assert isinstance(client.rate_limiter, TokenBucket)
        for i in range(12):
            await client.acquire(cname=f"room{i}", uid="1")
    assert fake.stats.rate_limited == 0
    assert vc() >= 1.0
