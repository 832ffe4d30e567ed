"""Review reproductions: the five-minute resourceId guard (``_session_resource``) and a start resent after a lost
answer.

Once a start may have left, the guard is not applied again and the resourceId is never replaced: the resend goes
out with the same resourceId (one resourceId starts at most one recording), and code 7 or 433 on it is an unknown
outcome, reclaimed through notifications like any other lost start.
"""

from __future__ import annotations

import httpx
import pytest

from agora_recording import SessionState, StartOutcomeUnknownError
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import WebhookReceiver
from tests._support import client_for, make_fake, request_for

pytestmark = pytest.mark.anyio

SECRET = "review-guard-secret"


def _wire(fake: FakeAgoraServer, client: object) -> WebhookReceiver:
    receiver = WebhookReceiver(secret=SECRET, client=client)  # type: ignore[arg-type]  # the client under test
    fake.notify("https://bot.test/ncs", secret=SECRET, transport=httpx.ASGITransport(app=receiver))
    return receiver


async def test_a_start_whose_answer_was_lost_near_the_guard_is_not_abandoned_for_a_new_resource_id() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        _wire(fake, client)
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        first_rid = rec.resource_id
        vc.advance(268)  # fresh: 268 s < 300 - 30; the start is sent
        # Agora starts the recording, the answer is lost; the resend comes 3 s later, at 271 s: past the guard.
        fake.inject("start", kind="timeout", when="after")
        with pytest.raises(StartOutcomeUnknownError) as caught:
            await rec.start()
        # The resend went out with the same resourceId (code 7), no new resourceId was acquired, nothing else started.
        assert caught.value.resource_id == first_rid
        assert caught.value.code == 7
        assert rec.state is SessionState.UNKNOWN, "a start that may have started a recording is not 'failed'"
        assert rec.resource_id == first_rid
        assert rec.reacquired == 0
        assert len(fake.requests_to("acquire")) == 1
        assert [f"/resourceid/{first_rid}/" in r.path for r in fake.requests_to("start")] == [True, True]
        assert [r.resource_id for r in fake.recordings()] == [first_rid]
        # The recording's notifications carry its sid: the session adopts it, and the client stops it on close.
        await fake.deliver_pending()
        assert rec.state is SessionState.RECORDING
        assert rec.sid == fake.recordings()[0].sid
    assert fake.running_recordings() == []


async def test_code_433_on_a_resend_is_an_unknown_outcome_not_a_reason_to_reacquire() -> None:
    """The resend comes after the five minutes: 433 does not prove the first send started nothing."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room2", uid="2", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        first_rid = rec.resource_id
        vc.advance(268)
        # No answer for 40 s (here the request was lost, but the client cannot know); the resend is at 311 s: 433.
        fake.inject("start", kind="timeout", when="before", delay=40.0)
        with pytest.raises(StartOutcomeUnknownError) as caught:
            await rec.start()
        assert caught.value.code == 433
        assert caught.value.resource_id == first_rid
        assert "433" in str(caught.value)
        assert rec.state is SessionState.UNKNOWN
        assert rec.reacquired == 0
        assert len(fake.requests_to("acquire")) == 1
    assert fake.running_recordings() == []


async def test_code_433_on_the_only_send_still_reacquires_and_starts() -> None:
    """A 433 that answers the one send there was proves nothing started: a fresh resourceId is fine then."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room3", uid="3", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        first_rid = rec.resource_id
        fake.inject("start", kind="status", status=400, body=b'{"code":433,"reason":"resource expired"}')
        response = await rec.start()
        assert rec.state is SessionState.RECORDING
        assert rec.reacquired == 1
        assert response.resource_id != first_rid
        await rec.stop()
    assert fake.running_recordings() == []


async def test_a_start_queued_past_the_guard_before_its_first_send_is_still_reacquired() -> None:
    """The guard before the first send is unchanged: a stale resourceId is replaced, nothing was sent with it."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room4", uid="4", mode="mix", client_request=request_for("mix"), expiry_margin=30)
        await rec.acquire()
        first_rid = rec.resource_id
        vc.advance(275)
        response = await rec.start()
        assert rec.reacquired == 1
        assert response.resource_id != first_rid
        assert [f"/resourceid/{response.resource_id}/" in r.path for r in fake.requests_to("start")] == [True]
        await rec.stop()
    assert fake.running_recordings() == []


async def test_a_bare_start_resent_after_the_five_minutes_reports_433_as_an_unknown_outcome() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rid = (await client.acquire(cname="bare", uid="5")).resource_id
        vc.advance(290)
        fake.inject("start", kind="timeout", when="before", delay=20.0)  # the resend is at 313 s: 433
        with pytest.raises(StartOutcomeUnknownError) as caught:
            await client.start(resource_id=rid, mode="mix", cname="bare", uid="5", client_request=request_for("mix"))
        assert (caught.value.code, caught.value.resource_id) == (433, rid)
        assert [r.code for r in fake.requests_to("start")] == [None, 433]
    assert fake.running_recordings() == []
