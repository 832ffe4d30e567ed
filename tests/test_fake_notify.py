"""The fake's NCS notifications: signed envelopes, the event table, NCS's delivery rules and injected faults.

Receivers are tiny ASGI apps reached through httpx.ASGITransport (in-process) or served by uvicorn on 127.0.0.1.
Signatures are checked here with plain hmac, never with the library's webhooks code. Time moves on the fake's
clock; no test sleeps for its verdict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from agora_recording.testing import FakeAgoraServer, VirtualClock

pytestmark = pytest.mark.anyio

SECRET = "ncs-test-secret"
URL = "https://receiver.test/ncs"
UID = "527841"
CNAME = "room"
STORAGE = {"vendor": 2, "region": 3, "bucket": "bucket", "accessKey": "AK", "secretKey": "SK"}
MIX = {"recordingConfig": {"channelType": 0, "maxIdleTime": 30}, "storageConfig": STORAGE}


class FakeTime:
    """A manual clock: callable like time.monotonic, moved by advance()."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Receiver:
    """An ASGI receiver that records (headers, body) and answers the queued statuses (then 200 JSON)."""

    def __init__(self, statuses: list[int] | None = None, *, body: bytes = b'{"ok":true}') -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        self.body = body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": self.body})

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]

    def types(self) -> list[int]:
        return [event["eventType"] for event in self.events()]


def verify(headers: dict[str, str], body: bytes, secret: str = SECRET) -> None:
    """Both NCS signatures: hex HMAC-SHA1 and hex HMAC-SHA256 of the raw body."""
    v1 = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    v2 = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["agora-signature"], v1)
    assert hmac.compare_digest(headers["agora-signature-v2"], v2)


class Rest:
    """Plain-httpx REST calls to the fake, in-process."""

    def __init__(self, fake: FakeAgoraServer, http: httpx.AsyncClient) -> None:
        self.fake, self.http = fake, http
        self.base = f"/v1/apps/{fake.app_id}/cloud_recording"

    async def acquire(self) -> str:
        body = {"cname": CNAME, "uid": UID, "clientRequest": {}}
        return str((await self.http.post(f"{self.base}/acquire", json=body)).json()["resourceId"])

    async def start(self, rid: str) -> httpx.Response:
        body = {"cname": CNAME, "uid": UID, "clientRequest": MIX}
        return await self.http.post(f"{self.base}/resourceid/{rid}/mode/mix/start", json=body)

    async def session(self) -> tuple[str, str]:
        rid = await self.acquire()
        return rid, str((await self.start(rid)).json()["sid"])

    async def stop(self, rid: str, sid: str) -> httpx.Response:
        body = {"cname": CNAME, "uid": UID, "clientRequest": {}}
        return await self.http.post(f"{self.base}/resourceid/{rid}/sid/{sid}/mode/mix/stop", json=body)


@asynccontextmanager
async def rest_for(fake: FakeAgoraServer, base_url: str | None = None) -> AsyncIterator[Rest]:
    headers = {"Authorization": fake.authorization}
    if base_url is None:
        client = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers)
    else:
        client = httpx.AsyncClient(base_url=base_url, headers=headers, trust_env=False)
    async with client as http:
        yield Rest(fake, http)


def notifying(receiver: Receiver, **kwargs: Any) -> tuple[FakeAgoraServer, FakeTime]:
    clock = FakeTime()
    fake = FakeAgoraServer(clock=clock, **kwargs)
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=receiver))
    return fake, clock


# ------------------------------------------------------------------------------------ the envelope


async def test_a_recording_sends_signed_sequenced_notifications_from_start_to_exit() -> None:
    receiver = Receiver()
    fake, clock = notifying(receiver)
    async with rest_for(fake) as rest:
        rid, sid = await rest.session()
        assert await fake.deliver_pending() == 2
        clock.advance(5.0)  # the first file is uploaded (FakeTimings.first_file_after)
        stopped = (await rest.stop(rid, sid)).json()
        await fake.deliver_pending()
    assert receiver.types() == [40, 30, 4, 41, 31, 11]
    for headers, body in receiver.received:
        verify(headers, body)
        assert headers["content-type"] == "application/json"
    events = receiver.events()
    assert [e["payload"]["sequence"] for e in events] == [0, 1, 2, 3, 4, 5]
    assert len({e["noticeId"] for e in events}) == 6
    for event in events:
        assert set(event) == {"noticeId", "productId", "eventType", "notifyMs", "payload"}
        assert event["productId"] == 3
        assert type(event["notifyMs"]) is int
        payload = event["payload"]
        assert (payload["cname"], payload["uid"], payload["sid"]) == (CNAME, UID, sid)
        assert set(payload) == {"cname", "uid", "sid", "sequence", "sendts", "serviceType", "details"}
    names = [e["payload"]["details"]["msgName"] for e in events]
    assert names == [
        "recorder_started", "uploader_started", "cloud_recording_file_infos", "recorder_leave", "uploaded",
        "session_exit",
    ]  # fmt: skip
    assert [e["payload"]["serviceType"] for e in events] == [1, 2, 0, 1, 2, 0]
    details = [e["payload"]["details"] for e in events]
    assert details[2]["fileList"] == f"{sid}_{CNAME}.m3u8"
    assert details[3]["leaveCode"] == 16
    assert [f["fileName"] for f in details[4]["fileList"]] == [f"{sid}_{CNAME}.m3u8"]
    assert stopped["serverResponse"]["fileList"] == f"{sid}_{CNAME}.m3u8"
    assert details[5]["exitStatus"] == 0
    sendts = [e["payload"]["sendts"] for e in events]
    assert sendts == sorted(sendts)
    assert sendts[2] - sendts[0] == 5000  # the upload happened 5 s after the start, on the fake's clock
    sent = fake.notifications_sent()
    assert [(n.event_type, n.attempt, n.delivered, n.status) for n in sent] == [
        (t, 0, True, 200) for t in receiver.types()
    ]
    assert SECRET not in repr(fake.notifier)
    assert "body" not in repr(sent[0])


async def test_a_start_whose_answer_was_lost_still_notifies_its_sid() -> None:
    """The documented way to learn an orphan's sid: its notifications carry it."""
    receiver = Receiver()
    fake, _ = notifying(receiver)
    async with rest_for(fake) as rest:
        rid = await rest.acquire()
        fake.inject("start", kind="timeout", when="after")
        with pytest.raises(httpx.ReadTimeout):
            await rest.start(rid)
        await fake.deliver_pending()
    [orphan] = fake.orphans()
    assert receiver.types() == [40, 30]
    assert {e["payload"]["sid"] for e in receiver.events()} == {orphan.sid}


async def test_nothing_is_sent_before_notify_is_configured() -> None:
    fake = FakeAgoraServer(clock=FakeTime())
    async with rest_for(fake) as rest:
        await rest.session()
        assert await fake.deliver_pending() == 0
    assert fake.notifications_sent() == ()
    assert fake.notifier.pending == 0


async def test_end_recording_failover_and_a_mismatched_stop() -> None:
    receiver = Receiver()
    fake, clock = notifying(receiver)
    async with rest_for(fake) as rest:
        rid, sid = await rest.session()
        new_uid = fake.failover(sid)
        assert fake.failover(sid, new_uid=42) == 42
        fake.end_recording(sid, reason="idle")
        assert (await rest.stop(rid, sid)).status_code == 400  # 49: the task is exiting
        _, abnormal = await rest.session()
        fake.end_recording(abnormal, reason="abnormal")
        await fake.deliver_pending()
    by_sid: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for event in receiver.events():
        by_sid.setdefault(event["payload"]["sid"], []).append((event["eventType"], event["payload"]["details"]))
    first = by_sid[sid]
    assert [t for t, _ in first] == [40, 30, 12, 12, 41, 11, 3]  # no file yet: no 4, no 31
    assert first[2][1]["newUid"] == new_uid
    assert isinstance(new_uid, int)
    assert 1 <= new_uid < 2**32
    assert first[3][1]["newUid"] == 42
    assert first[4][1]["leaveCode"] == 4  # NO_USERS: the idle timeout
    assert first[5][1]["exitStatus"] == 0
    assert (first[6][1]["msgName"], first[6][1]["status"]) == ("cloud_recording_status_update", 8)
    assert [t for t, _ in by_sid[abnormal]] == [40, 30, 11]
    assert by_sid[abnormal][2][1]["exitStatus"] == 1
    with pytest.raises(KeyError):
        fake.failover(sid)  # it is no longer running
    assert clock() == 1000.0


async def test_an_idle_timeout_is_noticed_by_the_pump_on_the_fake_clock() -> None:
    receiver = Receiver()
    fake, clock = notifying(receiver)
    fake.set_channel(CNAME, uids=())  # an empty channel: the recording ends after maxIdleTime (30 s)
    async with rest_for(fake) as rest:
        await rest.session()
        await fake.deliver_pending()
        clock.advance(30.0)
        await fake.deliver_pending()
    assert receiver.types() == [40, 30, 41, 11]
    assert receiver.events()[2]["payload"]["details"]["leaveCode"] == 4


# -------------------------------------------------------------------------------------- NCS rules


async def test_a_failed_delivery_is_resent_three_times_with_a_new_notify_ms_each_time() -> None:
    receiver = Receiver(statuses=[500, 503, 404])  # the fourth attempt is answered 200
    fake, clock = notifying(receiver)
    fake.set_channel(CNAME, silent=True)  # nothing is recorded: no upload events while the clock moves
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=receiver), retry_delays=(1.0, 2.0, 4.0))
    fake.notifier.inject("drop", event_type=30)
    async with rest_for(fake) as rest:
        await rest.session()
    assert await fake.deliver_pending() == 1  # 500; the resend is due in 1 s
    assert await fake.deliver_pending() == 0
    for step in (1.0, 2.0, 4.0):
        clock.advance(step)
        assert await fake.deliver_pending() == 1
    attempts = fake.notifications_sent()
    assert [(n.attempt, n.status, n.delivered) for n in attempts] == [
        (0, 500, False), (1, 503, False), (2, 404, False), (3, 200, True),
    ]  # fmt: skip
    assert len({n.notice_id for n in attempts}) == 1
    notify_ms = [n.notify_ms for n in attempts]
    assert notify_ms == sorted(set(notify_ms))  # a new notifyMs on every resend
    assert [n.at for n in attempts] == [1000.0, 1001.0, 1003.0, 1007.0]
    bodies = [body for _, body in receiver.received]
    assert len(set(bodies)) == 4
    for headers, body in receiver.received:
        verify(headers, body)
    assert fake.notifier.pending == 0


async def test_ncs_gives_up_after_three_retries_and_a_non_json_200_counts_as_failed() -> None:
    receiver = Receiver(body=b"OK")  # 200, but not JSON: NCS wants a JSON body
    fake, _ = notifying(receiver)
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=receiver), retry_delays=(0.0, 0.0, 0.0))
    fake.notifier.inject("drop", event_type=30)
    async with rest_for(fake) as rest:
        await rest.session()
    assert await fake.deliver_pending() == 4
    assert [(n.attempt, n.status, n.delivered) for n in fake.notifications_sent()] == [
        (a, 200, False) for a in range(4)
    ]
    assert fake.notifier.pending == 0  # given up
    assert len(receiver.received) == 4


async def test_injected_failures_do_not_reach_the_receiver_and_are_retried() -> None:
    receiver = Receiver()
    fake, clock = notifying(receiver)
    fake.set_channel(CNAME, silent=True)
    failing = fake.notifier.inject("fail", event_type=40, attempts=2)
    never = fake.notifier.inject("fail", event_type=30, attempts=4)
    async with rest_for(fake) as rest:
        await rest.session()
    await fake.deliver_pending()
    for step in (1.0, 2.0, 4.0):
        clock.advance(step)
        await fake.deliver_pending()
    sent = [(n.event_type, n.attempt, n.status, n.delivered) for n in fake.notifications_sent()]
    assert [s for s in sent if s[0] == 40] == [(40, 0, None, False), (40, 1, None, False), (40, 2, 200, True)]
    assert [s for s in sent if s[0] == 30] == [(30, a, None, False) for a in range(4)]
    assert receiver.types() == [40]
    assert (failing.fired, never.fired) == (1, 1)


async def test_duplicates_reordering_and_delays() -> None:
    receiver = Receiver()
    fake, clock = notifying(receiver)
    fake.notifier.inject("reorder", event_type=40)
    fake.notifier.inject("duplicate", event_type=30)
    async with rest_for(fake) as rest:
        rid, sid = await rest.session()
        await fake.deliver_pending()
        assert receiver.types() == [30, 30, 40]  # 40 held back until the next one went out
        first, second = receiver.events()[:2]
        assert first == second  # a duplicate: the same body, the same noticeId
        assert [n.duplicate for n in fake.notifications_sent()] == [False, True, False]
        assert receiver.events()[2]["payload"]["sequence"] == 0  # sequence shows the reordering
        fake.notifier.inject("delay", event_type=41, delay=5.0)
        await rest.stop(rid, sid)  # no file yet: 41, 11
        await fake.deliver_pending()
        assert receiver.types()[3:] == [11]
        clock.advance(5.0)
        await fake.deliver_pending()
    assert receiver.types()[3:] == [11, 41]


async def test_invalid_notify_arguments_and_faults_are_refused() -> None:
    fake = FakeAgoraServer()
    with pytest.raises(ValueError, match="url"):
        fake.notify("ftp://x", secret=SECRET)
    with pytest.raises(ValueError, match="secret"):
        fake.notify(URL, secret="")
    with pytest.raises(ValueError, match="retry_delays"):
        fake.notify(URL, secret=SECRET, retry_delays=(1.0,))
    with pytest.raises(ValueError, match="unknown notification fault"):
        fake.notifier.inject("explode")  # type: ignore[arg-type]  # an invalid kind on purpose
    with pytest.raises(ValueError, match="attempts"):
        fake.notifier.inject("fail", attempts=5)
    assert not fake.notifier.configured


# ------------------------------------------------------------------------------------- background


async def test_background_delivery_never_holds_up_the_rest_answer() -> None:
    """A receiver that never answers: the start still answers at once; leaving delivering() cancels the send."""
    gate = anyio.Event()

    async def stuck(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await gate.wait()

    fake = FakeAgoraServer(clock=FakeTime())
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=stuck))
    async with fake.delivering(), rest_for(fake) as rest:
        with anyio.fail_after(5):
            _, sid = await rest.session()
        assert fake.recording(sid) is not None
        assert fake.notifier.pending == 2
    assert fake.notifier.pending == 2  # still queued for the pump
    assert fake.notifications_sent() == ()


async def test_background_delivery_sends_uploads_on_time_on_a_virtual_clock() -> None:
    receiver = Receiver()
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep)
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=receiver))
    fake.notifier.inject("delay", event_type=30, delay=2.0)
    async with vc.autojump(), fake.delivering(), rest_for(fake) as rest:
        await rest.session()
        await vc.sleep(10.0)  # the first file is due 5 s after the start: the fake notices by itself
        with anyio.fail_after(5):
            await fake.notifier.wait_idle()
    assert receiver.types() == [40, 30, 4]
    assert [n.at for n in fake.notifications_sent()] == [0.0, 2.0, 5.0]


# -------------------------------------------------------------------------------------------- TCP


@asynccontextmanager
async def uvicorn_receiver(app: Receiver) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (an ephemeral port); stop it on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: server.serve(sockets=[sock]))
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event to wait on
                    await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}/ncs"
            finally:
                server.should_exit = True
    finally:
        sock.close()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # uvicorn runs on asyncio
async def test_notifications_over_tcp_to_a_uvicorn_receiver(anyio_backend: str) -> None:
    receiver = Receiver(statuses=[500])
    fake = FakeAgoraServer(clock=FakeTime())
    async with uvicorn_receiver(receiver) as url:
        fake.notify(url, secret=SECRET, retry_delays=(0.0, 0.0, 0.0))
        async with fake.serve() as base_url, rest_for(fake, base_url) as rest:
            rid, sid = await rest.session()
            await rest.stop(rid, sid)
            with anyio.fail_after(10):
                await fake.notifier.wait_idle()
    types = receiver.types()
    assert sorted(types) == [11, 30, 40, 40, 41]  # the first 40 was answered 500 and resent (no ordering)
    assert types[0] == 40
    for headers, body in receiver.received:
        verify(headers, body)
    assert {e["payload"]["sid"] for e in receiver.events()} == {sid}
    attempts_40 = [(n.attempt, n.status, n.delivered) for n in fake.notifications_sent() if n.event_type == 40]
    assert attempts_40 == [(0, 500, False), (1, 200, True)]


async def test_the_pump_refuses_to_race_the_background() -> None:
    fake = FakeAgoraServer(clock=FakeTime())
    fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=Receiver()))
    async with fake.delivering():
        with pytest.raises(RuntimeError, match="background"):
            await fake.deliver_pending()
    assert await fake.deliver_pending() == 0


async def test_notify_while_serving_takes_effect_for_the_next_delivery() -> None:
    """Configuring (or re-pointing) delivery while the background runs: the next notifications use it."""
    first, second = Receiver(), Receiver()
    fake = FakeAgoraServer(clock=FakeTime())
    async with fake.delivering(), rest_for(fake) as rest:
        with pytest.raises(RuntimeError, match="already"):
            async with fake.delivering():
                pass
        fake.notify(URL, secret=SECRET, transport=httpx.ASGITransport(app=first))
        rid, sid = await rest.session()
        with anyio.fail_after(5):
            await fake.notifier.wait_idle()
        fake.notify(URL, secret="rotated", transport=httpx.ASGITransport(app=second))
        await rest.stop(rid, sid)
        with anyio.fail_after(5):
            await fake.notifier.wait_idle()
    assert sorted(first.types()) == [30, 40]
    assert sorted(second.types()) == [11, 41]
    for headers, body in second.received:
        verify(headers, body, "rotated")


async def test_web_uploads_carry_only_a_status_and_backuped_files_are_event_32() -> None:
    """Notes 7.2: web mode's 31 is only {msgName, status}; backuped uploads are 32 with the same shape as 31."""
    receiver = Receiver()
    fake, clock = notifying(receiver)
    web = {
        "extensionServiceConfig": {
            "extensionServices": [
                {
                    "serviceName": "web_recorder_service",
                    "serviceParam": {
                        "url": "https://example.com/page",
                        "audioProfile": 0,
                        "videoWidth": 1280,
                        "videoHeight": 720,
                        "maxRecordingHour": 1,
                    },
                }
            ]
        },
        "storageConfig": STORAGE,
    }
    async with rest_for(fake) as rest:
        ack = {"cname": "web", "uid": UID, "clientRequest": {"scene": 1}}
        rid = (await rest.http.post(f"{rest.base}/acquire", json=ack)).json()["resourceId"]
        start = {"cname": "web", "uid": UID, "clientRequest": web}
        sid = (await rest.http.post(f"{rest.base}/resourceid/{rid}/mode/web/start", json=start)).json()["sid"]
        fake.set_channel(CNAME, uploading_status="backuped")
        mix_rid, mix_sid = await rest.session()
        clock.advance(5.0)
        stop = {"cname": "web", "uid": UID, "clientRequest": {}}
        assert (await rest.http.post(f"{rest.base}/resourceid/{rid}/sid/{sid}/mode/web/stop", json=stop)).is_success
        assert (await rest.stop(mix_rid, mix_sid)).is_success
        await fake.deliver_pending()
    details = {(e["payload"]["sid"], e["eventType"]): e["payload"]["details"] for e in receiver.events()}
    assert details[(sid, 31)] == {"msgName": "uploaded", "status": 0}
    assert details[(sid, 4)]["fileList"] == f"{sid}_web.m3u8"
    assert (mix_sid, 31) not in details
    assert details[(mix_sid, 32)]["msgName"] == "backuped"
    assert [f["fileName"] for f in details[(mix_sid, 32)]["fileList"]] == [f"{mix_sid}_{CNAME}.m3u8"]
