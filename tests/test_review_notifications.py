"""Review reproductions: a lost start reclaimed through NCS notifications (``_notifications.NotificationRouter``).

Notifications carry no resourceId: (cname, uid) alone can match an earlier recording of the same channel and uid.
A session's sid is remembered as done when it stops or is handed off, and a notified sid is adopted for a lost start
only after a query with the start's resourceId and that sid confirms it.
"""

from __future__ import annotations

import httpx
import pytest

from agora_recording import SessionState, StartOutcomeUnknownError
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import WebhookReceiver, sample_event, sign
from tests._support import client_for, make_fake, request_for

pytestmark = pytest.mark.anyio

SECRET = "review-ncs-secret"


async def _post(receiver: WebhookReceiver, body: bytes) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="https://bot.test") as http:
        headers = {**sign(body, SECRET), "Content-Type": "application/json"}
        answer = await http.post("/ncs", content=body, headers=headers)
    assert answer.status_code == 200


async def _record_elsewhere(fake: FakeAgoraServer, vc: VirtualClock, *, cname: str, uid: str) -> str | None:
    """Another client (another process, say) records (cname, uid) and stops it; returns its sid."""
    async with client_for(fake, vc) as other:
        rec = other.session(cname=cname, uid=uid, mode="mix", client_request=request_for("mix"))
        async with rec:
            return rec.sid


async def test_a_lost_start_does_not_adopt_the_sid_of_a_recording_this_client_already_stopped() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        receiver = WebhookReceiver(secret=SECRET, client=client)
        # 1. An earlier recording of (room, 31), started and stopped by this very client.
        async with client.session(cname="room", uid="31", mode="mix", client_request=request_for("mix")) as first:
            old_sid = first.sid
        assert old_sid is not None
        assert fake.running_recordings() == []
        # 2. Its late "uploaded" notification (eventType 31, sent after the stop; NCS guarantees no order, and its
        #    session_exit may be late or lost after three tries).
        await _post(receiver, sample_event(31, cname="room", uid="31", sid=old_sid))
        # 3. A new recording of the same channel and uid (the supervisor alternates between two uids) loses its
        #    start answer; the resend gets code 7: its outcome is unknown, its real sid not yet known.
        fake.inject("start", kind="timeout", when="after")
        second = client.session(cname="room", uid="31", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError):
            async with second:
                pass
        assert second.sid != old_sid, "the new session took the sid of the recording stopped before it"
        assert second.state is SessionState.UNKNOWN
        # 4. Its own notification comes: the client confirms and stops it (its async with failed: nobody owns it).
        (orphan,) = fake.orphans()
        await _post(receiver, sample_event(40, cname="room", uid="31", sid=orphan.sid))
        assert second.sid == orphan.sid
        assert second.state is SessionState.STOPPED
    # Whatever happened, nothing may be left running and billed.
    assert fake.running_recordings() == []


async def test_a_sid_this_client_never_owned_is_adopted_only_when_a_query_confirms_it() -> None:
    """Another client stopped its recording of the same (cname, uid); this router never heard of that sid."""
    vc = VirtualClock()
    fake = make_fake(vc)
    foreign_sid = await _record_elsewhere(fake, vc, cname="room", uid="32")
    assert foreign_sid is not None
    async with client_for(fake, vc) as client, vc.autojump():
        receiver = WebhookReceiver(secret=SECRET, client=client)
        await _post(receiver, sample_event(31, cname="room", uid="32", sid=foreign_sid))  # kept: unknown to us
        fake.inject("start", kind="timeout", when="after")
        session = client.session(cname="room", uid="32", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError):
            await session.start()
        # The kept sid was checked with a query (our resourceId + that sid) and refused: not adopted, still waiting.
        queries = fake.requests_to("query")
        assert len(queries) == 1
        assert foreign_sid in queries[0].path
        assert session.resource_id in queries[0].path
        assert session.state is SessionState.UNKNOWN
        assert session.sid is None
        assert receiver.router is not None
        assert receiver.router.stats.waiting == 1
        # The same foreign sid again (a duplicate), and its session_exit: not adopted, and the start keeps waiting.
        await _post(receiver, sample_event(31, cname="room", uid="32", sid=foreign_sid))
        await _post(receiver, sample_event(11, cname="room", uid="32", sid=foreign_sid))
        assert session.state is SessionState.UNKNOWN
        assert len(fake.requests_to("query")) == 1  # a sid Agora refused for this start is not asked about again
        assert receiver.router.stats.waiting == 1
        # Its own notification: confirmed, adopted; the client stops it on close.
        (orphan,) = fake.orphans()
        await _post(receiver, sample_event(40, cname="room", uid="32", sid=orphan.sid))
        assert session.state is SessionState.RECORDING
        assert session.sid == orphan.sid
        assert receiver.router.stats.adopted == 1
    assert fake.running_recordings() == []


async def test_a_bare_start_does_not_stop_a_kept_sid_that_agora_does_not_confirm() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    foreign_sid = await _record_elsewhere(fake, vc, cname="bare", uid="33")
    assert foreign_sid is not None
    async with client_for(fake, vc) as client, vc.autojump():
        receiver = WebhookReceiver(secret=SECRET, client=client)
        await _post(receiver, sample_event(40, cname="bare", uid="33", sid=foreign_sid))
        rid = (await client.acquire(cname="bare", uid="33")).resource_id
        fake.inject("start", kind="timeout", when="after")
        with pytest.raises(StartOutcomeUnknownError):
            await client.start(resource_id=rid, mode="mix", cname="bare", uid="33", client_request=request_for("mix"))
        assert fake.requests_to("stop")[-1:]
        assert foreign_sid in fake.requests_to("stop")[-1].path
        assert len(fake.requests_to("stop")) == 1, "the client sent a stop for a sid it could not confirm"
        (orphan,) = fake.orphans()
        await _post(receiver, sample_event(40, cname="bare", uid="33", sid=orphan.sid))
        assert len(fake.requests_to("stop")) == 2
        assert orphan.sid in fake.requests_to("stop")[-1].path
    assert fake.running_recordings() == []


async def test_a_handed_off_session_s_sid_is_never_adopted_by_a_lost_start() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        receiver = WebhookReceiver(secret=SECRET, client=client)
        first = client.session(cname="room", uid="34", mode="mix", client_request=request_for("mix"))
        await first.start()
        state = first.to_state()  # handed off: another worker stops it
        handed_sid = first.sid
        async with client_for(fake, vc) as worker:
            await worker.resume_session(state).stop()
        await _post(receiver, sample_event(31, cname="room", uid="34", sid=handed_sid))
        fake.inject("start", kind="timeout", when="after")
        second = client.session(cname="room", uid="34", mode="mix", client_request=request_for("mix"))
        with pytest.raises(StartOutcomeUnknownError):
            await second.start()
        assert second.sid is None
        assert second.state is SessionState.UNKNOWN
        assert fake.requests_to("query") == ()  # known as done: not even asked about
        (orphan,) = fake.orphans()
        await _post(receiver, sample_event(40, cname="room", uid="34", sid=orphan.sid))
        assert second.sid == orphan.sid
    assert fake.running_recordings() == []
