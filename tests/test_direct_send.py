"""The library's own httpx client sends straight to its transport; a caller's client, or a renamed httpx, uses send().

Both paths must give the same answers, the same timeout extension, the same httpx log line, and close every
response they opened (read to the end, refused for size, or cancelled mid-body).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

import agora_recording._requester as requester_module
from agora_recording import CloudRecordingClient, ResponseTooLargeError, RetryPolicy, Unlimited
from agora_recording._requester import direct_transport

pytestmark = pytest.mark.anyio

RID = "RID-abc"
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
QUERY = {"resourceId": RID, "sid": SID, "serverResponse": {"status": 5, "fileListMode": "json", "fileList": []}}


class Body(httpx.AsyncByteStream):
    """A streamed answer that records whether it was closed; ``stall`` waits forever after the first chunk."""

    def __init__(self, chunks: list[bytes], *, stall: anyio.Event | None = None) -> None:
        self.chunks = chunks
        self.stall = stall
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Chunks(self)  # a plain iterator, not an async generator left to the garbage collector

    async def aclose(self) -> None:
        self.closed = True


class _Chunks:
    def __init__(self, body: Body) -> None:
        self.body = body
        self.left = list(body.chunks)

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        if self.left:
            return self.left.pop(0)
        if self.body.stall is not None:
            self.body.stall.set()
            await anyio.sleep_forever()
        raise StopAsyncIteration


class Recorder(httpx.AsyncBaseTransport):
    """Answers every request with a new streamed body and keeps what it saw."""

    def __init__(self, chunks: list[bytes] | None = None, *, stall: bool = False) -> None:
        self.chunks = chunks if chunks is not None else [json.dumps(QUERY).encode()]
        self.stall = anyio.Event() if stall else None
        self.requests: list[httpx.Request] = []
        self.bodies: list[Body] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = Body(self.chunks, stall=self.stall)
        self.bodies.append(body)
        return httpx.Response(200, stream=body, headers={"content-type": "application/json"})


def make_client(transport: Recorder, **kwargs: Any) -> CloudRecordingClient:
    return CloudRecordingClient("app", "cid", "secret", transport=transport, rate_limiter=Unlimited(), **kwargs)


class CountSends:
    """Wraps ``httpx.AsyncClient.send`` to count the calls that go through it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = httpx.AsyncClient.send

        async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.calls += 1
            return await original(client, request, **kwargs)

        monkeypatch.setattr(httpx.AsyncClient, "send", send)


@pytest.fixture(params=["direct", "send"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs on the direct path and on the fallback (``direct_transport`` finding nothing to use)."""
    if request.param == "send":
        monkeypatch.setattr(requester_module, "direct_transport", lambda http: None)
    return str(request.param)


async def test_the_own_client_skips_send_and_the_fallback_uses_it(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sends = CountSends(monkeypatch)
    transport = Recorder()
    async with make_client(transport, timeout=7.5) as client:
        answer = await client.query(resource_id=RID, sid=SID, mode="individual")
    assert answer.sid == SID
    assert answer.files == ()
    assert sends.calls == (0 if path == "direct" else 1)
    (sent,) = transport.requests
    assert sent.extensions["timeout"] == httpx.Timeout(7.5).as_dict()
    assert sent.headers["authorization"].startswith("Basic ")
    assert str(sent.url).endswith(f"/resourceid/{RID}/sid/{SID}/mode/individual/query")
    assert [body.closed for body in transport.bodies] == [True]


async def test_a_per_call_timeout_reaches_the_transport(path: str) -> None:
    transport = Recorder()
    async with make_client(transport) as client:
        await client.query(resource_id=RID, sid=SID, mode="individual", timeout=2.0)
    assert transport.requests[0].extensions["timeout"] == httpx.Timeout(2.0).as_dict()


# On the send() path, httpx's BoundAsyncStream wraps the body in an async generator that is left to the garbage
# collector when reading stops early; trio reports its finalisation (known, not from this path: the body is closed).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_oversized_answer_is_refused_and_closed(path: str) -> None:
    transport = Recorder([b"{" + b" " * 600, b" " * 600 + b"}"])
    async with make_client(transport, max_response_bytes=1000, retry=RetryPolicy(max_retries=0)) as c:
        with pytest.raises(ResponseTooLargeError):
            await c.query(resource_id=RID, sid=SID, mode="individual")
    assert transport.bodies
    assert all(body.closed for body in transport.bodies)


async def test_a_call_cancelled_mid_body_closes_the_response(path: str) -> None:
    transport = Recorder([b'{"resourceId":'], stall=True)
    assert transport.stall is not None
    async with make_client(transport) as client, anyio.create_task_group() as tg:
        tg.start_soon(lambda: client.query(resource_id=RID, sid=SID, mode="individual"))
        await transport.stall.wait()  # the answer's first chunk was read; the rest never comes
        tg.cancel_scope.cancel()
    assert [body.closed for body in transport.bodies] == [True]


async def test_httpx_request_log_line_is_kept(path: str, caplog: pytest.LogCaptureFixture) -> None:
    transport = Recorder()
    with caplog.at_level(logging.INFO, logger="httpx"):
        async with make_client(transport) as client:
            await client.query(resource_id=RID, sid=SID, mode="individual")
    (sent,) = transport.requests
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [f'HTTP Request: {sent.method} {sent.url} "HTTP/1.1 200 OK"']


async def test_a_callers_client_always_goes_through_send(monkeypatch: pytest.MonkeyPatch) -> None:
    sends = CountSends(monkeypatch)
    transport = Recorder()
    async with (
        httpx.AsyncClient(transport=transport) as http,
        CloudRecordingClient("app", "cid", "secret", http_client=http, rate_limiter=Unlimited()) as client,
    ):
        await client.query(resource_id=RID, sid=SID, mode="individual")
    assert sends.calls == 1


async def test_direct_transport_refuses_clients_it_cannot_bypass() -> None:
    transport = Recorder()
    async with httpx.AsyncClient(transport=transport) as plain:
        assert direct_transport(plain) is not None
        assert direct_transport(plain)(httpx.URL("https://api.agora.io/x")) is transport  # type: ignore[misc]  # checked just above
    async with httpx.AsyncClient(transport=transport, auth=("user", "pass")) as with_auth:
        assert direct_transport(with_auth) is None

    async def hook(request: httpx.Request) -> None:
        return None

    async with httpx.AsyncClient(transport=transport, event_hooks={"request": [hook]}) as with_hooks:
        assert direct_transport(with_hooks) is None
    async with httpx.AsyncClient(transport=transport) as renamed:
        renamed._transport_for_url = None  # type: ignore[assignment,method-assign]  # an httpx without the method
        assert direct_transport(renamed) is None
