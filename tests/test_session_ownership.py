"""The client owns the recordings it started: closing drains them, outcomes are told truthfully (issue 11)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import anyio
import httpx
import pytest
from _support import client_for, make_fake, request_for

from agora_recording import (
    APIConnectionError,
    CloudRecordingClient,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SessionState,
    SessionStateError,
    StartOutcomeUnknownError,
    StreamSubscribe,
    TokenBucket,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    VideoUidList,
)
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

SECRETS = ("RTC-TOKEN-CANARY", "ACCESS-KEY-CANARY", "SECRET-KEY-CANARY")


def _unowned_client(fake: FakeAgoraServer, vc: VirtualClock, **kwargs: Any) -> CloudRecordingClient:
    """A client used without `async with`."""
    return CloudRecordingClient(
        fake.app_id,
        fake.customer_id,
        fake.customer_secret,
        base_url=fake.base_url,
        transport=kwargs.pop("transport", None) or fake.transport(),
        clock=vc,
        sleep=vc.sleep,
        retry=RetryPolicy(jitter=0.0),
        **kwargs,
    )


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def _no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        for secret in SECRETS:
            assert secret not in record.getMessage()


# -- aclose() drains -------------------------------------------------------------------------------------------------


async def test_leaving_async_with_stops_every_owned_session_but_not_a_handed_off_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three sessions started and left running; one handed off with to_state(): the client's exit stops the two it
    still owns, in parallel, with one WARNING each (cname, uid, sid, reason, no secret); the handed-off one runs."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump():
        async with client_for(fake, vc) as client:
            kept = [
                client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix"))
                for i in range(2)
            ]
            for rec in kept:
                await rec.start()
            handed = client.session(cname="handed", uid="7", mode="mix", client_request=request_for("mix"))
            await handed.start()
            state = handed.to_state()
            fake.inject("stop", kind="delay", delay=1.0, count=2)  # the two stops overlap: they run in parallel
            before = vc()
        assert vc() - before < 2.0
    running = fake.running_recordings()
    assert [r.sid for r in running] == [state["sid"]]
    for rec in kept:
        assert rec.state is SessionState.STOPPED
        (record,) = [r for r in _warnings(caplog, "stopped at client close") if rec.sid in r.getMessage()]
        assert f"cname={rec.cname}" in record.getMessage()
        assert "uid=1" in record.getMessage()
        assert "reason=" in record.getMessage()
    assert len(_warnings(caplog, "stopped at client close")) == 2
    _no_secrets(caplog)


async def test_aclose_without_async_with_stops_the_sessions_it_started(caplog: pytest.LogCaptureFixture) -> None:
    """A client never entered with `async with`: aclose() still stops what it started (and warns for each)."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump():
        client = _unowned_client(fake, vc)
        recs = [
            client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")) for i in range(3)
        ]
        for rec in recs:
            await rec.start()
        handed = client.session(cname="handed", uid="1", mode="mix", client_request=request_for("mix"))
        await handed.start()
        handed.to_state()
        await client.aclose()
    assert [r.cname for r in fake.running_recordings()] == ["handed"]
    assert all(rec.state is SessionState.STOPPED for rec in recs)
    assert len(_warnings(caplog, "stopped at client close")) == 3


async def test_a_hundred_dropped_sessions_are_stopped_when_the_client_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """100 sessions started with `await rec.start()` and dropped without stop: none runs after the client closed."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc, rate_limit=None)
    async with vc.autojump(), client_for(fake, vc) as client:
        for i in range(100):
            await client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")).start()
        gc.collect()  # the client still owns them: nothing is lost to garbage collection
        assert len(fake.running_recordings()) == 100
    assert fake.running_recordings() == []
    assert len(_warnings(caplog, "stopped at client close")) == 100


async def test_aclose_while_sessions_are_in_their_bodies_stops_them_all() -> None:
    """aclose() from another task while 20 sessions sit in `async with rec`: all 20 stopped, each exit is quiet."""
    vc = VirtualClock()
    fake = make_fake(vc, rate_limit=None)
    errors: list[BaseException] = []
    async with vc.autojump():
        client = _unowned_client(fake, vc)
        entered = anyio.Event()
        count = 0

        async def body(i: int) -> None:
            nonlocal count
            try:
                async with client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")):
                    count += 1
                    if count == 20:
                        entered.set()
                    await vc.sleep(100)
            except Exception as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(body, i)
            await entered.wait()
            await client.aclose()
            assert fake.running_recordings() == []
    assert errors == []
    assert fake.stats.recordings_stopped == 20


async def test_aclose_during_stops_in_flight_waits_for_them() -> None:
    """aclose() while 20 stops are on the wire (over TCP): it waits for them; every one stops its recording."""
    vc = VirtualClock()
    fake = make_fake(vc, rate_limit=None)
    results: list[object] = []
    async with fake.serve() as base_url, vc.autojump():
        client = CloudRecordingClient(
            fake.app_id, fake.customer_id, fake.customer_secret, base_url=base_url, clock=vc, sleep=vc.sleep,
            retry=RetryPolicy(jitter=0.0), max_in_flight=20,
        )  # fmt: skip
        recs = [
            client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")) for i in range(20)
        ]
        for rec in recs:
            await rec.start()
        fake.inject("stop", kind="delay", delay=2.0, when="after", count=20)

        async def stop(rec: Any) -> None:
            results.append(await rec.stop())

        async with anyio.create_task_group() as tg:
            for rec in recs:
                tg.start_soon(stop, rec)
            await vc.sleep(1.0)
            await client.aclose()
    assert fake.running_recordings() == []
    assert len(results) == 20
    assert all(rec.state is SessionState.STOPPED for rec in recs)


async def test_calls_on_a_closing_client_fail_clearly_without_sending() -> None:
    """While aclose() drains: a new start, a query, an acquire fail with APIConnectionError; nothing is sent."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump():
        client = _unowned_client(fake, vc)
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fresh = client.session(cname="room2", uid="1", mode="mix", client_request=request_for("mix"))
        await fresh.acquire()
        fake.inject("stop", kind="delay", delay=5.0)
        before = len(fake.requests)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.aclose)
            await vc.sleep(1.0)  # the drain's stop is in flight
            with pytest.raises(APIConnectionError, match="closing"):
                await fresh.start()
            assert fresh.state is SessionState.ACQUIRED
            with pytest.raises(APIConnectionError, match="closing"):
                await rec.query()
            with pytest.raises(APIConnectionError, match="closing"):
                await client.acquire(cname="room3", uid="1")
        assert [r.endpoint for r in fake.requests[before:]] == ["stop"]
        with pytest.raises(APIConnectionError, match="closed"):
            await client.acquire(cname="room3", uid="1")
    assert fake.running_recordings() == []


async def test_an_unsent_start_is_called_off_when_the_client_closes() -> None:
    """A start queued behind the limiter when aclose() begins is never sent; its caller hears that."""
    vc = VirtualClock()
    fake = make_fake(vc)
    limiter = TokenBucket(1, 10.0, margin=0.0, clock=vc, sleep=vc.sleep)
    async with vc.autojump(), client_for(fake, vc, rate_limiter=limiter) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        async with anyio.create_task_group() as tg:

            async def closer() -> None:
                await vc.sleep(1)
                await client.aclose()

            tg.start_soon(closer)
            with pytest.raises(APIConnectionError, match="closed"):
                await rec.start()
        assert rec.state is SessionState.ACQUIRED
    assert fake.requests_to("start") == ()


async def test_a_resumed_session_belongs_to_whoever_holds_its_state() -> None:
    """A session resumed from another client's snapshot is not this client's: closing it leaves the recording."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as first:
        rec = first.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        state = rec.to_state()
        async with client_for(fake, vc) as second:
            resumed = second.resume_session(state)
            await resumed.query()
        assert len(fake.running_recordings()) == 1  # the second client closed without touching it
        await rec.stop()  # the first client can still stop it on request
    assert fake.running_recordings() == []


def test_a_client_garbage_collected_with_live_sessions_warns(caplog: pytest.LogCaptureFixture) -> None:
    """Dropping a client without aclose() while it owns a recording logs a WARNING naming the session."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc)

    async def main() -> str:
        client = _unowned_client(fake, vc, transport=fake.transport())
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        assert rec.sid is not None
        return rec.sid

    sid = anyio.run(main)
    gc.collect()
    (record,) = _warnings(caplog, "garbage-collected")
    assert sid in record.getMessage()
    assert "cname=room1" in record.getMessage()


# -- bare client.start() ---------------------------------------------------------------------------------------------


async def test_a_bare_start_whose_caller_was_cancelled_after_the_send_is_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """client.start() cancelled while its answer is late: the client stops the recording nobody got, WARNING."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        acquired = await client.acquire(cname="room1", uid="1")
        fake.inject("start", kind="delay", delay=2.0, when="after")
        with anyio.move_on_after(3600) as scope:  # cancelled below, on the virtual clock

            async def cancel() -> None:
                await vc.sleep(1.0)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel)
                await client.start(
                    resource_id=acquired.resource_id, mode="mix", cname="room1", uid="1",
                    client_request=request_for("mix"),
                )  # fmt: skip
        assert scope.cancelled_caught
    assert fake.running_recordings() == []
    assert _warnings(caplog, "start answered after its caller went away")
    _no_secrets(caplog)


def test_a_bare_start_cancelled_natively_is_stopped_by_the_client(caplog: pytest.LogCaptureFixture) -> None:
    """asyncio.wait_for around client.start(): the caller times out at once; the client stops the recording."""
    caplog.set_level(logging.WARNING, logger="agora_recording")
    vc = VirtualClock()
    fake = make_fake(vc)

    async def main() -> None:
        async with vc.autojump(), client_for(fake, vc) as client:
            acquired = await client.acquire(cname="room1", uid="1")
            fake.inject("start", kind="delay", delay=2.0, when="after")
            task = asyncio.ensure_future(
                client.start(
                    resource_id=acquired.resource_id,
                    mode="mix",
                    cname="room1",
                    uid="1",
                    client_request=request_for("mix"),
                )
            )
            await vc.sleep(1.0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert vc() < 2.0  # the caller stopped waiting at once
            assert len(fake.running_recordings()) == 1  # the start runs on in the client

    asyncio.run(main())
    assert fake.running_recordings() == []
    assert _warnings(caplog, "start answered after its caller went away")


# -- outcomes told truthfully -----------------------------------------------------------------------------------------


async def test_code_7_on_a_resend_after_a_429_is_start_outcome_unknown() -> None:
    """A start processed but answered 429, resent, answered code 7: StartOutcomeUnknownError, session unknown."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        fake.inject("start", kind="rate_limited", when="after")
        with pytest.raises(StartOutcomeUnknownError):
            await rec.start()
        assert rec.state is SessionState.UNKNOWN
    assert len(fake.undelivered_sids()) == 1


async def test_start_answered_worker_not_found_leaves_the_session_unknown() -> None:
    """404 "failed to find worker" on start may follow Agora acting: the session is unknown, not failed."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        fake.inject("start", kind="worker_not_found", when="after")
        with pytest.raises(NotFoundError):
            await rec.start()
        assert rec.state is SessionState.UNKNOWN


@pytest.mark.parametrize("kind", ["rate_limited", "internal_error"])
async def test_a_stop_retries_429_and_5xx_until_its_deadline_not_max_retries(kind: str) -> None:
    """Six 429s (or 500s) in a row on stop, max_retries=3: the stop keeps trying and succeeds."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc, retry=RetryPolicy(jitter=0.0, max_retries=3)) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fake.inject("stop", kind=kind, count=6)  # type: ignore[arg-type]  # a FaultKind literal
        response = await rec.stop()
        assert not response.already_stopped
    assert len(fake.requests_to("stop")) == 7
    assert fake.running_recordings() == []


async def test_a_stop_gives_up_when_its_deadline_passes(caplog: pytest.LogCaptureFixture) -> None:
    """429s beyond the stop deadline: the stop gives up within the deadline and says the recording may run."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), stop_deadline=60.0)
        await rec.start()
        fake.inject("stop", kind="rate_limited", count=1000)
        started = vc()
        with pytest.raises(RateLimitError):
            await rec.stop()
        assert vc() - started <= 60.0
        assert rec.state is SessionState.RECORDING
        fake.clear_faults()


async def test_stop_retries_zero_still_turns_retries_off() -> None:
    """rec.stop(retries=0): one attempt, the 500 is raised at once."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fake.inject("stop", kind="internal_error")
        with pytest.raises(ServerError):
            await rec.stop(retries=0)
        assert len(fake.requests_to("stop")) == 1
        await rec.stop()


# -- ergonomics ------------------------------------------------------------------------------------------------------


class _Recorder(httpx.AsyncBaseTransport):
    """Wraps a transport and keeps each request's timeout extension."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.timeouts: list[tuple[str, dict[str, float | None]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append((request.url.path.rsplit("/", 1)[-1], request.extensions.get("timeout", {})))
        return await self.inner.handle_async_request(request)


async def test_per_call_timeout_and_retries_on_session_calls() -> None:
    """rec.query/update/update_layout/stop take timeout= (reaches httpx) and retries= (0: no retry)."""
    vc = VirtualClock()
    fake = make_fake(vc)
    recorder = _Recorder(fake.transport())
    async with vc.autojump(), client_for(fake, vc, transport=recorder) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        update = UpdateClientRequest(stream_subscribe=StreamSubscribe(video_uid_list=VideoUidList()))
        await rec.query(timeout=1.5)
        await rec.update(update, timeout=2.5)
        await rec.update_layout(UpdateLayoutClientRequest(), timeout=3.5)
        for call in (
            lambda: rec.query(retries=0),
            lambda: rec.update(update, retries=0),
            lambda: rec.update_layout(UpdateLayoutClientRequest(), retries=0),
        ):
            fake.inject("*", kind="internal_error")
            with pytest.raises(ServerError):
                await call()
        await rec.stop(timeout=4.5)
    assert any(t.get("read") == 1.5 for p, t in recorder.timeouts if p == "query")
    assert any(t.get("read") == 2.5 for p, t in recorder.timeouts if p == "update")
    assert any(t.get("read") == 3.5 for p, t in recorder.timeouts if p == "updateLayout")
    assert any(t.get("read") == 4.5 for p, t in recorder.timeouts if p == "stop")
    assert len(fake.requests_to("update")) == 2  # one good, one failed without a retry


async def test_wait_until_recording_ends_at_once_when_the_session_is_stopped() -> None:
    """A stop from another task while wait_until_recording() polls: it raises SessionStateError right then."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        raised_at: list[float] = []

        async def waiter() -> None:
            with pytest.raises(SessionStateError, match="stopped"):
                await rec.wait_until_recording(first_delay=20.0)
            raised_at.append(vc())

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await vc.sleep(2.0)
            await rec.stop()
        assert raised_at
        assert raised_at[0] < 20.0
    assert fake.requests_to("query") == ()


async def test_stop_during_an_in_flight_start_waits_for_it_then_stops() -> None:
    """stop() while the start's answer is late: it waits for the start, then stops; nothing runs after."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        fake.inject("start", kind="delay", delay=2.0, when="after")
        async with anyio.create_task_group() as tg:
            tg.start_soon(rec.start)
            await vc.sleep(0.5)
            assert rec.state is SessionState.STARTING
            response = await rec.stop()
        assert rec.state is SessionState.STOPPED
        assert response is rec.stop_response
        assert fake.running_recordings() == []


def test_a_client_entered_and_left_in_different_tasks_still_works_and_drains() -> None:
    """As a pytest-asyncio fixture does: `__aenter__` in one task, the body in a second, `__aexit__` in a third.
    Starts run in the client's group, the exit drains, and leaving from another task raises nothing."""
    vc = VirtualClock()
    fake = make_fake(vc)

    async def main() -> None:
        async with vc.autojump():
            client = _unowned_client(fake, vc)
            await asyncio.ensure_future(client.__aenter__())

            async def body() -> None:
                rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
                await rec.start()

            await asyncio.ensure_future(body())
            assert len(fake.running_recordings()) == 1
            await asyncio.ensure_future(client.__aexit__(None, None, None))

    asyncio.run(main())
    assert fake.running_recordings() == []
