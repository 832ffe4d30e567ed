"""WebhookReceiver as an ASGI application: through httpx's ASGI transport and direct ASGI calls (asyncio, trio)."""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from agora_recording import InvalidRequestError
from agora_recording.webhooks import (
    MemoryDedupeStore,
    NotificationEvent,
    SessionExit,
    WebhookReceiver,
    sample_event,
    sign,
)

SECRET = "receiver-secret-CANARY"
HANG_GUARD = 10  # seconds; only a broken receiver gets near this


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {**sign(body, secret), "Content-Type": "application/json"}


@asynccontextmanager
async def http(receiver: WebhookReceiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver, client=("10.0.0.7", 4567))
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield client


def resend(body: bytes, notify_ms: int) -> bytes:
    """NCS's resend: the same noticeId, a new notifyMs, so a different body and different signatures."""
    data = json.loads(body)
    data["notifyMs"] = notify_ms
    return json.dumps(data, separators=(",", ":")).encode()


@pytest.mark.anyio
async def test_a_signed_notification_is_answered_200_json_and_handed_on() -> None:
    got: list[NotificationEvent] = []

    async def on_event(event: NotificationEvent) -> None:
        got.append(event)

    receiver = WebhookReceiver(secret=SECRET, on_event=on_event)
    body = sample_event(11, cname="room1", uid="527841", sid="sid-1", notice_id="n-1")
    async with http(receiver) as client:
        response = await client.post("/agora/ncs", content=body, headers=signed(body))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True}
    assert len(got) == 1
    assert isinstance(got[0], SessionExit)
    assert (got[0].cname, got[0].uid, got[0].sid) == ("room1", "527841", "sid-1")
    assert receiver.stats.accepted == 1


@pytest.mark.anyio
async def test_a_resend_with_a_new_notify_ms_is_a_duplicate() -> None:
    """Dedupe is on noticeId alone: NCS changes notifyMs (and so the body and signature) on every resend."""
    got: list[NotificationEvent] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=got.append)
    first = sample_event(31, notice_id="n-dup", notify_ms=1000)
    second = resend(first, 2000)
    assert second != first
    async with http(receiver) as client:
        a = await client.post("/", content=first, headers=signed(first))
        b = await client.post("/", content=second, headers=signed(second))
        c = await client.post("/", content=first, headers=signed(first))
    assert [r.status_code for r in (a, b, c)] == [200, 200, 200]
    assert a.json() == {"ok": True}
    assert b.json() == c.json() == {"ok": True, "duplicate": True}
    assert [e.notice_id for e in got] == ["n-dup"]
    assert got[0].notify_ms == 1000
    assert receiver.stats.duplicates == 2


@pytest.mark.anyio
async def test_forgeries_are_refused_401_with_a_json_body() -> None:
    got: list[NotificationEvent] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=got.append)
    body = sample_event(11)
    good = sign(body, SECRET)
    cases = [
        sign(body, "wrong-secret"),
        {},
        {"Agora-Signature": good["Agora-Signature"], "Agora-Signature-V2": "0" * 64},  # bad V2, good V1
        sign(body + b" ", SECRET),
    ]
    async with http(receiver) as client:
        responses = [await client.post("/", content=body, headers=h) for h in cases]
    assert [r.status_code for r in responses] == [401] * 4
    assert all(r.json() == {"error": "signature verification failed"} for r in responses)
    assert got == []
    assert receiver.stats.forged == 4


@pytest.mark.anyio
async def test_rotation_accepts_both_secrets() -> None:
    got: list[NotificationEvent] = []
    receiver = WebhookReceiver(secret=["old-secret", "new-secret"], on_event=got.append)
    async with http(receiver) as client:
        for secret in ("old-secret", "new-secret"):
            body = sample_event(40)
            assert (await client.post("/", content=body, headers=signed(body, secret))).status_code == 200
    assert len(got) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_other_methods_are_405_with_allow_post(method: str) -> None:
    receiver = WebhookReceiver(secret=SECRET)
    async with http(receiver) as client:
        response = await client.request(method, "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    if method != "HEAD":
        assert response.json() == {"error": "method not allowed"}


@pytest.mark.anyio
async def test_a_body_over_the_limit_is_413() -> None:
    receiver = WebhookReceiver(secret=SECRET, max_body_bytes=1024)
    big = sample_event(11, details={"pad": "x" * 2000})
    small = sample_event(11)
    async with http(receiver) as client:
        refused = await client.post("/", content=big, headers=signed(big))
        accepted = await client.post("/", content=small, headers=signed(small))
    assert refused.status_code == 413
    assert refused.json() == {"error": "body too large", "maxBytes": 1024}
    assert accepted.status_code == 200
    assert receiver.stats.too_large == 1


@pytest.mark.anyio
async def test_reading_stops_at_the_limit_without_content_length() -> None:
    """A chunked body that never ends: the receiver reads just past the limit, answers 413, and stops reading."""
    receiver = WebhookReceiver(secret=SECRET, max_body_bytes=10_000)
    chunks_read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-type", b"application/json")]}
    with anyio.fail_after(HANG_GUARD):
        await receiver(scope, receive, send)
    assert chunks_read == 11
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]


@pytest.mark.anyio
async def test_a_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    receiver = WebhookReceiver(secret=SECRET, max_body_bytes=100)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", b"5000000")]}
    await receiver(scope, receive, send)
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_a_client_that_disconnects_mid_body_gets_no_answer() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    messages = iter([{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await receiver({"type": "http", "method": "POST", "headers": []}, receive, send)
    assert sent == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("application/json; charset=utf-8", 200)],
)
async def test_content_type_must_be_json_when_given(content_type: str, status: int) -> None:
    receiver = WebhookReceiver(secret=SECRET)
    body = sample_event(11)
    async with http(receiver) as client:
        response = await client.post("/", content=body, headers={**sign(body, SECRET), "Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"


@pytest.mark.anyio
async def test_a_signed_body_that_is_not_a_notification_is_400_naming_the_field() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    bodies = [b"[]", b'{"noticeId": "n", "productId": 3}', b"{" * 10]
    async with http(receiver) as client:
        responses = [await client.post("/", content=b, headers=signed(b)) for b in bodies]
    assert [r.status_code for r in responses] == [400, 400, 400]
    assert responses[1].json() == {"error": "invalid notification", "detail": "eventType: required field missing"}
    assert receiver.stats.malformed == 3


@pytest.mark.anyio
async def test_a_sync_handler_runs_in_a_worker_thread() -> None:
    threads: list[int] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=lambda event: threads.append(threading.get_ident()))
    body = sample_event(11)
    async with http(receiver) as client:
        assert (await client.post("/", content=body, headers=signed(body))).status_code == 200
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


@pytest.mark.anyio
async def test_a_failing_handler_is_logged_and_the_next_one_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    after: list[str] = []

    async def broken(event: NotificationEvent) -> None:
        raise RuntimeError("handler bug")

    receiver = WebhookReceiver(secret=SECRET, on_event=broken)
    receiver.subscribe(lambda event: after.append(event.notice_id))
    body = sample_event(11, notice_id="n-err")
    with caplog.at_level(logging.ERROR, logger="agora_recording.webhooks"):
        async with http(receiver) as client:
            response = await client.post("/", content=body, headers=signed(body))
    assert response.status_code == 200
    assert after == ["n-err"]
    assert receiver.stats.handler_errors == 1
    records = [r for r in caplog.records if "n-err" in r.getMessage()]
    assert records
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], RuntimeError)


@pytest.mark.anyio
async def test_unsubscribe_removes_a_handler() -> None:
    got: list[str] = []
    receiver = WebhookReceiver(secret=SECRET)
    unsubscribe = receiver.subscribe(lambda event: got.append(event.notice_id))
    async with http(receiver) as client:
        first = sample_event(11, notice_id="a")
        await client.post("/", content=first, headers=signed(first))
        unsubscribe()
        unsubscribe()  # twice is harmless
        second = sample_event(11, notice_id="b")
        await client.post("/", content=second, headers=signed(second))
    assert got == ["a"]


@pytest.mark.anyio
async def test_no_secret_in_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    """The log canary: the secret appears in no log record and not in the receiver's repr."""
    receiver = WebhookReceiver(secret=[SECRET, "second-CANARY"], on_event=lambda e: None)
    body = sample_event(11)
    with caplog.at_level(logging.DEBUG):
        async with http(receiver) as client:
            await client.post("/", content=body, headers=signed(body))
            await client.post("/", content=body, headers=signed(body))
            await client.post("/", content=body, headers=sign(body, "wrong"))
            await client.post("/", content=b"x" * 300_000, headers=signed(b"x"))
            await client.post("/", content=b"[]", headers=signed(b"[]"))
    text = "\n".join(r.getMessage() for r in caplog.records) + repr(receiver)
    assert "refused" in text  # the forgery was logged
    assert SECRET not in text
    assert "second-CANARY" not in text
    assert "<2 NCS secrets>" in repr(receiver)


@pytest.mark.anyio
async def test_a_failing_dedupe_store_answers_503_so_ncs_resends() -> None:
    class Broken:
        async def seen_before(self, notice_id: str) -> bool:
            raise ConnectionError("store down")

        async def forget(self, notice_id: str) -> None:
            pass

    got: list[NotificationEvent] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=got.append, dedupe=Broken())
    body = sample_event(11)
    async with http(receiver) as client:
        response = await client.post("/", content=body, headers=signed(body))
    assert response.status_code == 503
    assert response.json() == {"error": "try again later"}
    assert got == []


@pytest.mark.anyio
async def test_a_custom_dedupe_store_is_used() -> None:
    class Recording:
        def __init__(self) -> None:
            self.asked: list[str] = []

        async def seen_before(self, notice_id: str) -> bool:
            self.asked.append(notice_id)
            return len(self.asked) > 1

        async def forget(self, notice_id: str) -> None:
            pass

    store = Recording()
    receiver = WebhookReceiver(secret=SECRET, dedupe=store)
    assert receiver.dedupe is store
    body = sample_event(11, notice_id="custom")
    async with http(receiver) as client:
        first = await client.post("/", content=body, headers=signed(body))
        second = await client.post("/", content=body, headers=signed(body))
    assert store.asked == ["custom", "custom"]
    assert first.json() == {"ok": True}
    assert second.json() == {"ok": True, "duplicate": True}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"secret": ""}, "secret"),
        ({"secret": "s", "max_body_bytes": 0}, "max_body_bytes"),
        ({"secret": "s", "max_pending": 0}, "max_pending"),
        ({"secret": "s", "drain_timeout": -1}, "drain_timeout"),
        ({"secret": "s", "dedupe": object()}, "dedupe"),
    ],
)
def test_bad_configuration_is_an_invalid_request(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WebhookReceiver(**kwargs)
    assert info.value.field == field


# -- running: the receiver's own task group ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_running_receiver_answers_before_the_handler_finishes() -> None:
    """In `async with receiver:` the answer comes back while the handler is still blocked (it would deadlock
    otherwise: the handler waits for an event the test sets only after it has the answer)."""
    release = anyio.Event()
    finished: list[str] = []

    async def slow(event: NotificationEvent) -> None:
        await release.wait()
        finished.append(event.notice_id)

    receiver = WebhookReceiver(secret=SECRET, on_event=slow)
    body = sample_event(11, notice_id="slow-1")
    with anyio.fail_after(HANG_GUARD):
        async with receiver:
            assert receiver.running
            async with http(receiver) as client:
                response = await client.post("/", content=body, headers=signed(body))
            assert response.status_code == 200
            assert finished == []
            assert receiver.pending == 1
            release.set()
        # leaving the block waited for the handler
    assert finished == ["slow-1"]
    assert not receiver.running
    assert receiver.pending == 0


@pytest.mark.anyio
async def test_past_max_pending_a_running_receiver_answers_503_and_forgets_the_notice() -> None:
    release = anyio.Event()
    got: list[str] = []

    async def slow(event: NotificationEvent) -> None:
        await release.wait()
        got.append(event.notice_id)

    receiver = WebhookReceiver(secret=SECRET, on_event=slow, max_pending=1)
    first, second = sample_event(11, notice_id="p1"), sample_event(11, notice_id="p2")
    with anyio.fail_after(HANG_GUARD):
        async with receiver, http(receiver) as client:
            assert (await client.post("/", content=first, headers=signed(first))).status_code == 200
            busy = await client.post("/", content=second, headers=signed(second))
            assert busy.status_code == 503
            release.set()
            await anyio.wait_all_tasks_blocked()  # the handler has finished
            assert receiver.pending == 0
            again = await client.post("/", content=second, headers=signed(second))  # NCS's resend gets through
            assert again.json() == {"ok": True}
    assert got == ["p1", "p2"]
    assert receiver.stats.busy == 1


@pytest.mark.anyio
async def test_exit_cancels_handlers_past_the_drain_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def forever(event: NotificationEvent) -> None:
        await anyio.sleep_forever()

    receiver = WebhookReceiver(secret=SECRET, on_event=forever, drain_timeout=0)
    body = sample_event(11)
    with caplog.at_level(logging.ERROR, logger="agora_recording.webhooks"), anyio.fail_after(HANG_GUARD):
        async with receiver, http(receiver) as client:
            assert (await client.post("/", content=body, headers=signed(body))).status_code == 200
    assert receiver.pending == 0
    assert any("cancelling 1 notification handler" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_entering_twice_is_an_error() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    async with receiver:
        with pytest.raises(RuntimeError, match="already running"):
            await receiver.__aenter__()


@pytest.mark.anyio
async def test_the_asgi_lifespan_runs_the_receiver() -> None:
    """Served alone, the server's lifespan startup enters the receiver and shutdown drains it."""
    receiver = WebhookReceiver(secret=SECRET)
    to_app_send, to_app = anyio.create_memory_object_stream[dict[str, Any]](4)
    from_app_send, from_app = anyio.create_memory_object_stream[dict[str, Any]](4)
    with anyio.fail_after(HANG_GUARD):
        async with to_app_send, to_app, from_app_send, from_app, anyio.create_task_group() as tg:
            tg.start_soon(receiver, {"type": "lifespan"}, to_app.receive, from_app_send.send)
            await to_app_send.send({"type": "lifespan.startup"})
            assert (await from_app.receive())["type"] == "lifespan.startup.complete"
            assert receiver.running
            await to_app_send.send({"type": "lifespan.shutdown"})
            assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"
    assert not receiver.running


@pytest.mark.anyio
async def test_a_second_lifespan_startup_fails_cleanly() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with receiver:
        await receiver({"type": "lifespan"}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "already running" in sent[0]["message"]


# -- event streams ----------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_events_streams_each_get_every_event() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    first, second = receiver.events(), receiver.events()
    bodies = [sample_event(11, notice_id=f"s{i}") for i in range(3)]
    async with http(receiver) as client:
        for body in bodies:
            await client.post("/", content=body, headers=signed(body))
    for stream in (first, second):
        got = []
        with anyio.fail_after(HANG_GUARD):
            async for event in stream:
                got.append(event.notice_id)
                if len(got) == 3:
                    break
        assert got == ["s0", "s1", "s2"]
        await stream.aclose()


@pytest.mark.anyio
async def test_a_full_drop_stream_counts_and_logs_what_it_drops(caplog: pytest.LogCaptureFixture) -> None:
    receiver = WebhookReceiver(secret=SECRET)
    stream = receiver.events(buffer=2, when_full="drop")
    with caplog.at_level(logging.WARNING, logger="agora_recording.webhooks"):
        async with http(receiver) as client:
            for i in range(5):
                body = sample_event(11, notice_id=f"d{i}")
                assert (await client.post("/", content=body, headers=signed(body))).status_code == 200
    assert stream.dropped == 3
    assert receiver.stats.dropped == 3
    assert [r.getMessage() for r in caplog.records if "dropped noticeId d4" in r.getMessage()]
    with stream:
        assert [(await stream.__anext__()).notice_id for _ in range(2)] == ["d0", "d1"]


@pytest.mark.anyio
async def test_a_full_block_stream_delays_handling_not_the_answer() -> None:
    """ "block": with the buffer full, the next event waits for the consumer; the HTTP answer does not."""
    receiver = WebhookReceiver(secret=SECRET)
    stream = receiver.events(buffer=1)
    with anyio.fail_after(HANG_GUARD):
        async with receiver, http(receiver) as client:
            for i in range(3):
                body = sample_event(11, notice_id=f"b{i}")
                assert (await client.post("/", content=body, headers=signed(body))).status_code == 200
            got = [(await stream.__anext__()).notice_id for _ in range(3)]
    assert sorted(got) == ["b0", "b1", "b2"]
    assert stream.dropped == 0


@pytest.mark.anyio
async def test_a_stream_ends_when_the_running_receiver_exits() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    body = sample_event(11, notice_id="last")
    with anyio.fail_after(HANG_GUARD):
        async with receiver:
            stream = receiver.events()
            async with http(receiver) as client:
                await client.post("/", content=body, headers=signed(body))
        got = [event.notice_id async for event in stream]
    assert got == ["last"]


@pytest.mark.anyio
async def test_closed_or_abandoned_streams_unsubscribe() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    closed = receiver.events()
    closed.close()
    abandoned = receiver.events(buffer=1)
    del abandoned
    gc.collect()
    assert receiver._hub.subscriber_count == 0
    body = sample_event(11)
    async with http(receiver) as client:  # nothing blocks on the abandoned stream's full buffer
        assert (await client.post("/", content=body, headers=signed(body))).status_code == 200
    with pytest.raises(StopAsyncIteration):
        await closed.__anext__()


@pytest.mark.parametrize(("kwargs", "field"), [({"buffer": 0}, "buffer"), ({"when_full": "grow"}, "when_full")])
def test_streams_are_always_bounded(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        WebhookReceiver(secret=SECRET).events(**kwargs)
    assert info.value.field == field


@pytest.mark.anyio
async def test_default_dedupe_is_a_memory_store() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    assert isinstance(receiver.dedupe, MemoryDedupeStore)


@pytest.mark.anyio
async def test_mounted_in_starlette_by_mount_and_by_route() -> None:
    """`Mount` serves the path with a trailing slash (Starlette redirects the bare path, which NCS's POST would not
    follow); `add_route` serves the exact path. Skipped when Starlette is not installed (it is no dependency)."""
    starlette_applications = pytest.importorskip("starlette.applications")
    routing = pytest.importorskip("starlette.routing")
    got: list[str] = []
    receiver = WebhookReceiver(secret=SECRET, on_event=lambda e: got.append(e.notice_id))
    app = starlette_applications.Starlette(routes=[routing.Mount("/agora/ncs", app=receiver)])
    app.add_route("/exact", receiver)
    transport = httpx.ASGITransport(app=app)
    async with receiver, httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        codes = []
        for i, path in enumerate(["/agora/ncs/", "/exact", "/agora/ncs"]):
            body = sample_event(11, notice_id=f"m{i}")
            codes.append((await client.post(path, content=body, headers=signed(body))).status_code)
        wrong_method = await client.get("/exact")
    assert codes == [200, 200, 307]
    assert wrong_method.status_code == 405
    assert sorted(got) == ["m0", "m1"]


@pytest.mark.anyio
async def test_a_websocket_is_closed_and_other_scopes_refused() -> None:
    receiver = WebhookReceiver(secret=SECRET)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await receiver({"type": "websocket"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    with pytest.raises(RuntimeError, match="scope type"):
        await receiver({"type": "custom"}, receive, send)
