"""RecordingSession against FakeAgoraServer: the lifecycle, the guard, cancellation, faults and hand-off."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _support import client_for, make_fake, request_for

from agora_recording import (
    InvalidRequestError,
    Mode,
    RecordingFailedError,
    RecordingStatus,
    ResourceExpiredError,
    RetryPolicy,
    SessionState,
    SessionStateError,
    StartOutcomeUnknownError,
    StreamSubscribe,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    VideoUidList,
    WebRecordingConfig,
)
from agora_recording.testing import FakeAgoraServer, FakeTimings
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def vc() -> VirtualClock:
    return VirtualClock(start=1000.0)


@pytest.mark.parametrize("mode", ["mix", "individual", "web"])
async def test_context_manager_runs_the_whole_lifecycle(vc: VirtualClock, mode: str) -> None:
    """acquire -> start -> verify -> query -> stop, with files at the end and nothing left running."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        session = client.session(cname="room1", uid="527841", mode=mode, client_request=request_for(mode))
        assert session.state is SessionState.NEW
        async with session as rec:
            assert rec.state is SessionState.RECORDING
            assert rec.sid is not None
            verified = await rec.wait_until_recording()
            assert verified.status in (RecordingStatus.READY, RecordingStatus.IN_PROGRESS)
            await vc.sleep(10)
            query = await rec.query()
            assert query.status is RecordingStatus.IN_PROGRESS
            assert query.files
        assert rec.state is SessionState.STOPPED
        assert rec.stop_response is not None
        assert rec.stop_response.files
        assert rec.stop_response.uploading_status == "uploaded"
    assert fake.running_recordings() == []
    assert fake.stats.recordings_stopped == 1


async def test_explicit_transitions_and_every_illegal_call(vc: VirtualClock) -> None:
    """Each call is allowed only in its states; an illegal one raises SessionStateError and sends nothing."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        for call in (rec.query, rec.stop, rec.wait_until_recording):
            with pytest.raises(SessionStateError, match="'new'"):
                await call()
        with pytest.raises(SessionStateError):
            await rec.update(UpdateClientRequest(stream_subscribe=StreamSubscribe(video_uid_list=VideoUidList())))
        with pytest.raises(SessionStateError):
            await rec.update_layout(UpdateLayoutClientRequest())
        assert fake.stats.requests == 0

        await rec.acquire()
        assert rec.state is SessionState.ACQUIRED
        with pytest.raises(SessionStateError, match="'acquired'"):
            await rec.query()
        await rec.start()
        assert rec.state is SessionState.RECORDING
        for call in (rec.acquire, rec.start):
            with pytest.raises(SessionStateError, match="'recording'"):
                await call()
        await rec.update_layout(UpdateLayoutClientRequest(mixed_video_layout=1))
        first = await rec.stop()
        assert rec.state is SessionState.STOPPED
        assert await rec.stop() is first  # idempotent: no second request
        assert len(fake.requests_to("stop")) == 1
        for call in (rec.query, rec.acquire, rec.start):
            with pytest.raises(SessionStateError, match="'stopped'"):
                await call()


async def test_start_from_new_acquires_first(vc: VirtualClock) -> None:
    """start() in state NEW acquires the resourceId itself."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode=Mode.MIX, client_request=request_for("mix"))
        await rec.start()
        assert [r.endpoint for r in fake.requests] == ["acquire", "start"]
        await rec.stop()


async def test_stale_resource_id_is_replaced_before_start(vc: VirtualClock) -> None:
    """Client-side guard: a resourceId older than 5 min minus the margin is re-acquired before start."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        old = rec.resource_id
        vc.advance(271)  # 271 s > 300 - 30
        await rec.start()
        assert rec.reacquired == 1
        assert rec.resource_id != old
        assert [r.endpoint for r in fake.requests] == ["acquire", "acquire", "start"]
        assert fake.requests_to("start")[0].status == 200
        await rec.stop()


async def test_fresh_resource_id_is_not_replaced(vc: VirtualClock) -> None:
    """Within the margin the resourceId is used as it is."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        vc.advance(269)
        await rec.start()
        assert rec.reacquired == 0
        await rec.stop()


async def test_stale_resource_id_without_reacquire_raises_without_sending(vc: VirtualClock) -> None:
    """reacquire=False: ResourceExpiredError, and start is never sent."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), reacquire=False)
        await rec.acquire()
        vc.advance(290)
        with pytest.raises(ResourceExpiredError, match="reacquire=False"):
            await rec.start()
        assert fake.requests_to("start") == ()
        assert rec.state is SessionState.ACQUIRED


async def test_server_433_reacquires_once_and_starts(vc: VirtualClock) -> None:
    """Server-side guard: the fake's clock is ahead; Agora answers 433, the session re-acquires once."""
    fake_clock = VirtualClock(start=0.0)
    fake = make_fake(fake_clock)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        fake_clock.advance(301)  # only the server thinks five minutes passed
        await rec.start()
        assert rec.reacquired == 1
        starts = fake.requests_to("start")
        assert [r.status for r in starts] == [400, 200]
        await rec.stop()


async def test_server_433_without_reacquire_is_resource_expired(vc: VirtualClock) -> None:
    """With reacquire=False a 433 surfaces as ResourceExpiredError carrying Agora's code."""
    fake_clock = VirtualClock(start=0.0)
    fake = make_fake(fake_clock)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), reacquire=False)
        await rec.acquire()
        fake_clock.advance(301)
        with pytest.raises(ResourceExpiredError) as info:
            await rec.start()
        assert info.value.code == 433
        assert rec.state is SessionState.FAILED


async def test_wait_until_recording_fails_on_status_20(vc: VirtualClock) -> None:
    """Status 20 (exited abnormally) is a RecordingFailedError; the context manager still cleans up."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        assert rec.sid is not None
        fake.end_recording(rec.sid, reason="abnormal")
        with pytest.raises(RecordingFailedError) as info:
            await rec.wait_until_recording()
        assert info.value.status == 20


async def test_wait_until_recording_times_out(vc: VirtualClock) -> None:
    """A recording that never reaches status 4 fails verification after the timeout, on the virtual clock."""
    fake = make_fake(vc, timings=FakeTimings(ready_after=500, first_file_after=500))
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        started = vc()
        with pytest.raises(RecordingFailedError, match="within 90 s"):
            await rec.wait_until_recording(timeout=90)
        assert 90 <= vc() - started <= 91
        await rec.stop()


async def test_wait_until_recording_rides_out_a_failover_404(vc: VirtualClock) -> None:
    """Transient 404 "failed to find worker" and 5xx during verification are retried until status 4/5."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fake.inject("query", kind="worker_not_found", count=2)
        fake.inject("query", kind="internal_error", count=1)
        response = await rec.wait_until_recording()
        assert response.status in (RecordingStatus.READY, RecordingStatus.IN_PROGRESS)
        assert len(fake.requests_to("query")) == 4
        await rec.stop()


async def test_verify_on_enter_and_stop_on_failed_verification(vc: VirtualClock) -> None:
    """verify=True checks the start on entry; when it fails, the recording is stopped before the error leaves."""
    fake = make_fake(vc, timings=FakeTimings(ready_after=500, first_file_after=500))
    async with client_for(fake, vc) as client, vc.autojump():
        session = client.session(
            cname="room1", uid="1", mode="mix", client_request=request_for("mix"), verify=True, verify_timeout=30
        )
        with pytest.raises(RecordingFailedError):
            async with session:
                pytest.fail("the body must not run")
        assert session.state is SessionState.STOPPED
    assert fake.running_recordings() == []


async def test_stop_is_idempotent_after_49_and_404(vc: VirtualClock) -> None:
    """A stop answered 49 (already exiting) or 404 (gone) means stopped, flagged already_stopped."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        assert rec.sid is not None
        fake.end_recording(rec.sid, reason="idle")  # maxIdleTime fired: stop answers 49
        result = await rec.stop()
        assert result.already_stopped
        assert rec.state is SessionState.STOPPED

        other = client.session(cname="room2", uid="2", mode="mix", client_request=request_for("mix"))
        await other.start()
        assert other.sid is not None
        fake.end_recording(other.sid, reason="idle")
        vc.advance(fake.timings.exiting_for + 1)  # now the task is gone: 404
        result = await other.stop()
        assert result.already_stopped
        assert other.state is SessionState.STOPPED


async def test_stop_with_nothing_recorded_is_a_flag(vc: VirtualClock) -> None:
    """Code 435 (nobody sent a stream) is StopResponse.no_recorded_data, not an exception."""
    fake = make_fake(vc)
    fake.set_channel("quiet", silent=True)
    async with client_for(fake, vc) as client:
        async with client.session(cname="quiet", uid="1", mode="mix", client_request=request_for("mix")) as rec:
            vc.advance(30)
        assert rec.stop_response is not None
        assert rec.stop_response.no_recorded_data
        assert rec.stop_response.files == ()


async def test_updates_are_serialised(vc: VirtualClock) -> None:
    """Concurrent update() calls reach Agora one at a time, each after the previous answer."""
    fake = make_fake(vc)
    active = 0
    peak = 0

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = fake.transport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal active, peak
            is_update = request.url.path.endswith("/update")
            active += is_update
            peak = max(peak, active)
            try:
                await anyio.lowlevel.checkpoint()
                await anyio.lowlevel.checkpoint()
                return await self.inner.handle_async_request(request)
            finally:
                active -= is_update

    async with client_for(fake, vc, transport=Counting()) as client:
        rec = client.session(cname="room1", uid="1", mode="web", client_request=request_for("web"))
        await rec.start()
        async with anyio.create_task_group() as tg:
            for hold in (True, False, True, False, True):
                request = UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=hold))
                tg.start_soon(rec.update, request)
        assert peak == 1
        assert len(fake.requests_to("update")) == 5
        await rec.stop()


async def test_update_layout_outside_mix_is_refused_before_sending(vc: VirtualClock) -> None:
    """updateLayout in individual mode raises InvalidRequestError without a request."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="individual", client_request=request_for("individual"))
        await rec.start()
        with pytest.raises(InvalidRequestError, match="mix"):
            await rec.update_layout(UpdateLayoutClientRequest())
        assert fake.requests_to("updateLayout") == ()
        await rec.stop()


async def test_hand_off_between_two_clients(vc: VirtualClock) -> None:
    """to_state() is JSON with no secrets; resume_session() on another client queries and stops the recording."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as first:
        rec = first.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        state = json.loads(json.dumps(rec.to_state()))
    text = json.dumps(state)
    for canary in ("ACCESS-KEY-CANARY", "SECRET-KEY-CANARY", "RTC-TOKEN-CANARY", fake.customer_secret):
        assert canary not in text
    async with client_for(fake, vc) as second:
        resumed = second.resume_session(state)
        assert (resumed.state, resumed.sid, resumed.resource_id) == (SessionState.RECORDING, rec.sid, rec.resource_id)
        vc.advance(10)
        assert (await resumed.query()).status is RecordingStatus.IN_PROGRESS
        await resumed.stop()
    assert fake.running_recordings() == []


async def test_hand_off_of_an_acquired_session_keeps_the_resource_age(vc: VirtualClock) -> None:
    """A resumed ACQUIRED session still knows how old its resourceId is (the guard keeps working)."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        vc.advance(100)
        resumed = client.resume_session(rec.to_state(), client_request=request_for("mix"))
        age = resumed.resource_age
        assert age is not None
        assert 99 <= age <= 101
        await resumed.start()
        await resumed.stop()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s.update(version=99), "version"),
        (lambda s: s.update(app_id="other"), "app_id"),
        (lambda s: s.update(state="dancing"), "state"),
        (lambda s: s.update(sid=None), "sid"),
        (lambda s: s.update(uid="0"), "uid"),
    ],
)
async def test_resume_session_refuses_bad_state(
    vc: VirtualClock, mutate: Callable[[dict[str, Any]], None], field: str
) -> None:
    """A malformed hand-off state is refused with an error naming the field."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        state = rec.to_state()
        mutate(state)
        with pytest.raises(InvalidRequestError, match=field):
            client.resume_session(state)
        await rec.stop()


async def test_session_arguments_are_checked_at_creation(vc: VirtualClock) -> None:
    """Bad cname, uid, mode or a clientRequest that breaks the mode's rules fail before any request."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        with pytest.raises(InvalidRequestError, match="uid"):
            client.session(cname="room1", uid="x", mode="mix")
        with pytest.raises(InvalidRequestError, match="mode"):
            client.session(cname="room1", uid="1", mode="composite")
        with pytest.raises(InvalidRequestError, match="subscribe_uid_group"):
            client.session(cname="room1", uid="1", mode="individual", client_request=request_for("mix"))
        with pytest.raises(InvalidRequestError, match="expiry_margin"):
            client.session(cname="room1", uid="1", mode="mix", expiry_margin=300)
    assert fake.stats.requests == 0


async def test_use_start_parameter_sends_the_start_request_with_acquire(vc: VirtualClock) -> None:
    """use_start_parameter=True sends acquire's startParameter equal to start's clientRequest; web adds scene 1."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(
            cname="room1", uid="1", mode="web", client_request=request_for("web"), use_start_parameter=True
        )
        await rec.start()
        acquire_body = fake.requests_to("acquire")[0].body
        start_body = fake.requests_to("start")[0].body
        assert isinstance(acquire_body, dict)
        assert isinstance(start_body, dict)
        assert acquire_body["clientRequest"]["scene"] == 1
        assert acquire_body["clientRequest"]["startParameter"] == start_body["clientRequest"]
        await rec.stop()


async def test_a_lost_start_answer_is_start_outcome_unknown_and_never_a_second_recording(vc: VirtualClock) -> None:
    """The fake starts the recording but the answer is lost; the resend gets code 7: one recording, state UNKNOWN."""
    fake = make_fake(vc)
    fake.inject("start", kind="timeout", when="after")
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError) as info:
            await rec.start()
        assert info.value.resource_id == rec.resource_id
        assert rec.state is SessionState.UNKNOWN
    assert fake.stats.recordings_started == 1
    assert len(fake.undelivered_sids()) == 1


async def test_thousand_concurrent_sessions_share_one_client(vc: VirtualClock) -> None:
    """1,000 sessions at once through one client and the fake with its limit raised: all complete cleanly."""
    fake = make_fake(vc, rate_limit=None)
    results: list[SessionState] = []
    async with client_for(fake, vc, retry=RetryPolicy(jitter=0.0)) as client:

        async def one(i: int) -> None:
            mode = ("mix", "individual", "web")[i % 3]
            async with client.session(
                cname=f"room{i}", uid=str(i + 1), mode=mode, client_request=request_for(mode)
            ) as rec:
                await rec.query()
            results.append(rec.state)

        async with anyio.create_task_group() as tg:
            for i in range(1000):
                tg.start_soon(one, i)
    assert results == [SessionState.STOPPED] * 1000
    assert fake.stats.recordings_started == 1000
    assert fake.running_recordings() == []


def test_fake_is_the_public_stand_in() -> None:
    """The session tests run against the public FakeAgoraServer (not a private double)."""
    assert FakeAgoraServer.__module__.startswith("agora_recording.testing")


async def test_start_deadline_counts_from_the_send_not_the_limiter_queue(vc: VirtualClock) -> None:
    """Queued 30 s behind the limiter with a 5 s start_deadline, the start still goes out and succeeds."""
    from agora_recording import TokenBucket

    fake = make_fake(vc, rate_limit=None)
    limiter = TokenBucket(1, 10.0, margin=0.0, clock=vc, sleep=vc.sleep)  # one request per 10 s
    async with client_for(fake, vc, rate_limiter=limiter) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), start_deadline=5)
        await rec.acquire()  # t=0
        for _ in range(2):
            await limiter.acquire()  # two other callers took the next windows: start waits until t=30
        await rec.start()
        assert rec.state is SessionState.RECORDING
        assert vc() >= 30
        await rec.stop()


async def test_cancelled_while_queued_before_start_is_sent_stays_acquired(vc: VirtualClock) -> None:
    """A start cancelled while it waits for its permit sent nothing: the session is still ACQUIRED, nothing runs."""
    from agora_recording import TokenBucket

    fake = make_fake(vc, rate_limit=None)
    limiter = TokenBucket(1, 10.0, margin=0.0, clock=vc, sleep=vc.sleep)
    async with client_for(fake, vc, rate_limiter=limiter) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.acquire()
        with anyio.move_on_after(1):  # real time is plenty: the start waits 10 virtual seconds
            with anyio.CancelScope() as scope:

                async def cancel_soon() -> None:
                    await vc.sleep(5)
                    scope.cancel()

                async with anyio.create_task_group() as tg:
                    tg.start_soon(cancel_soon)
                    await rec.start()
        assert rec.state is SessionState.ACQUIRED
        assert fake.requests_to("start") == ()
    assert fake.running_recordings() == []
