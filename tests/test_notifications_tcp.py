"""Notifications over TCP: the fake delivers signed webhooks to a WebhookReceiver(client=...) served by uvicorn on
127.0.0.1. A lost start is reclaimed, and a supervised recording that exits abnormally restarts at once."""

from __future__ import annotations

import anyio
import pytest

from agora_recording import HandleState, RecordingSupervisor, SessionState, StartOutcomeUnknownError
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import NotificationEvent, WebhookReceiver
from tests._support import client_for, make_fake, request_for
from tests.test_webhooks_uvicorn import serve

pytestmark = pytest.mark.anyio

SECRET = "tcp-wiring-secret"
GUARD = 30  # real seconds: a hang fails the test instead of blocking the suite


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn runs on asyncio


class Seen:
    """An on_event handler subscribed after the client's router: once it sees an event, the router has too."""

    def __init__(self) -> None:
        self.events: list[NotificationEvent] = []
        self._changed = anyio.Event()

    async def __call__(self, event: NotificationEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, event_type: int, *, count: int = 1) -> None:
        while sum(e.event_type == event_type for e in self.events) < count:
            await self._changed.wait()


async def test_a_lost_start_is_reclaimed_through_webhooks_over_tcp() -> None:
    vc = VirtualClock()
    fake = make_fake(vc)
    seen = Seen()
    with anyio.fail_after(GUARD):
        async with client_for(fake, vc) as client:
            receiver = WebhookReceiver(secret=SECRET, client=client, on_event=seen)
            async with serve(receiver) as url, vc.autojump():
                fake.notify(url + "/ncs", secret=SECRET)
                fake.inject("start", kind="timeout", when="after")
                session = client.session(cname="tcp", uid="41", mode="mix", client_request=request_for("mix"))
                with pytest.raises(StartOutcomeUnknownError):
                    async with session:
                        pass
                assert len(fake.running_recordings()) == 1
                await fake.deliver_pending()
                await seen.wait_for(40)
                assert session.state is SessionState.STOPPED
                assert fake.running_recordings() == []
                assert receiver.router is not None
                assert receiver.router.stats.reclaimed == 1
    assert fake.running_recordings() == []


async def test_a_session_exit_delivered_over_tcp_restarts_a_supervised_recording_at_once() -> None:
    """Issue 15: the fake's webhook (session_exit, exitStatus 1) reaches uvicorn, and the supervisor restarts the
    recording with the alternate uid on that notification, not on its next query (virtual time is no witness here:
    it jumps while the test waits for real sockets, so the events' reason is)."""
    vc = VirtualClock(start=1000.0)
    fake = make_fake(vc)
    seen = Seen()
    with anyio.fail_after(GUARD):
        async with client_for(fake, vc) as client:
            receiver = WebhookReceiver(secret=SECRET, client=client, on_event=seen)
            async with (
                serve(receiver) as url,
                vc.autojump(),
                RecordingSupervisor(client, query_interval=240.0) as sup,
            ):
                receiver.attach_supervisor(sup)
                events = sup.events()
                fake.notify(url + "/ncs", secret=SECRET)
                handle = await sup.add(
                    cname="sup", uid="1001", alternate_uid="1002", mode="mix", client_request=request_for("mix")
                )
                await handle.wait_recording()
                first = handle.sid
                assert first is not None
                await fake.deliver_pending()
                fake.end_recording(first, reason="abnormal")
                await fake.deliver_pending()
                await seen.wait_for(11)
                await handle.wait_recording()
                assert handle.uid == "1002"
                assert handle.restarts == 1
                assert handle.state is HandleState.RECORDING
                assert [r.sid for r in fake.running_recordings()] == [handle.sid]
    assert fake.running_recordings() == []
    exited = [e async for e in events if e.kind == "exited"]
    # the webhook, not a query (which would see status 20), ended it: the reason names the notification
    assert [(e.sid, e.reason) for e in exited] == [(first, "session_exit")]
