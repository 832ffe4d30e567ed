"""WebhookReceiver served by a real uvicorn on 127.0.0.1, over TCP (uvicorn runs on asyncio only)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from agora_recording.webhooks import NotificationEvent, Uploaded, WebhookReceiver, sample_event, sign

uvicorn = pytest.importorskip("uvicorn")

SECRET = "tcp-secret"
STARTUP_GUARD = 10  # seconds to wait for uvicorn to listen
HANG_GUARD = 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def signed(body: bytes) -> dict[str, str]:
    return {**sign(body, SECRET), "Content-Type": "application/json"}


@asynccontextmanager
async def serve(receiver: WebhookReceiver, *, lifespan: str = "on") -> AsyncIterator[str]:
    """uvicorn in this event loop on a free port of 127.0.0.1; yields the base URL; stops and waits on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        receiver, lifespan=lifespan, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(STARTUP_GUARD):
                while not server.started:  # noqa: ASYNC110 - uvicorn offers only this flag, no event
                    await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


@pytest.mark.anyio
async def test_over_tcp_200_401_405_413_and_dedupe() -> None:
    got: list[NotificationEvent] = []
    handled = anyio.Event()

    async def on_event(event: NotificationEvent) -> None:
        got.append(event)
        handled.set()

    receiver = WebhookReceiver(secret=SECRET, on_event=on_event, max_body_bytes=4096)
    body = sample_event(31, notice_id="tcp-1", notify_ms=1, cname="room1", uid="7", sid="sid-tcp")
    data = json.loads(body)
    data["notifyMs"] = 2
    resent = json.dumps(data).encode()
    big = sample_event(31, details={"pad": "x" * 10_000})
    with anyio.fail_after(HANG_GUARD * 3):
        async with serve(receiver) as url, httpx.AsyncClient(base_url=url) as client:
            assert receiver.running  # uvicorn's lifespan entered it
            ok = await client.post("/", content=body, headers=signed(body))
            duplicate = await client.post("/", content=resent, headers=signed(resent))
            forged = await client.post("/", content=body, headers={**signed(body), "Agora-Signature-V2": "0" * 64})
            wrong_method = await client.get("/")
            too_large = await client.post("/", content=big, headers=signed(big))
            await handled.wait()
        assert not receiver.running  # uvicorn's shutdown drained it
    assert (ok.status_code, ok.json()) == (200, {"ok": True})
    assert ok.headers["content-type"] == "application/json"
    assert (duplicate.status_code, duplicate.json()) == (200, {"ok": True, "duplicate": True})
    assert (forged.status_code, forged.json()) == (401, {"error": "signature verification failed"})
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert too_large.status_code == 413
    assert len(got) == 1
    assert isinstance(got[0], Uploaded)
    assert (got[0].cname, got[0].uid, got[0].sid) == ("room1", "7", "sid-tcp")


@pytest.mark.anyio
@pytest.mark.parametrize("lifespan", ["on", "off"], ids=["running-task-group", "after-the-answer"])
async def test_over_tcp_a_slow_handler_delays_neither_the_answer_nor_the_next_request(lifespan: str) -> None:
    """The handler blocks until the test has both answers, sent one after the other on one keep-alive connection.

    With lifespan on the receiver's task group runs it; with lifespan off (as when mounted) it runs in the
    request's task after the answer. Either way the answers come first.
    """
    release, both_started, both_finished = anyio.Event(), anyio.Event(), anyio.Event()
    started: list[str] = []
    finished: list[str] = []

    async def slow(event: NotificationEvent) -> None:
        started.append(event.notice_id)
        if len(started) == 2:
            both_started.set()
        await release.wait()
        finished.append(event.notice_id)
        if len(finished) == 2:
            both_finished.set()

    receiver = WebhookReceiver(secret=SECRET, on_event=slow)
    first, second = sample_event(11, notice_id="k1"), sample_event(11, notice_id="k2")
    with anyio.fail_after(HANG_GUARD * 3):
        async with serve(receiver, lifespan=lifespan) as url:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            async with httpx.AsyncClient(base_url=url, limits=limits) as client:
                a = await client.post("/", content=first, headers=signed(first))
                b = await client.post("/", content=second, headers=signed(second))
                assert (a.status_code, b.status_code) == (200, 200)
                assert finished == []
                await both_started.wait()
                release.set()
                await both_finished.wait()
    assert sorted(finished) == ["k1", "k2"]
