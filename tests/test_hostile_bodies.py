"""Hostile bodies: 2xx answers that are not Agora's, nested brackets, compression bombs, oversized answers."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from _support import client_for, make_fake, request_for

from agora_recording import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AlreadyStartedError,
    APIStatusError,
    APITimeoutError,
    CloudRecordingClient,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
    SessionState,
    StartOutcomeUnknownError,
    Unlimited,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    WebRecordingConfig,
)
from agora_recording.testing._clock import VirtualClock

pytestmark = [
    pytest.mark.anyio,
    # Reading stops early on purpose here (a bomb, an endless body). httpx streams through layers of async
    # generators that cannot be closed from outside; on trio each abandoned layer is finalised with this
    # ResourceWarning (ignored by Python's default filters, an error under this suite's filterwarnings=error).
    pytest.mark.filterwarnings("ignore:Async generator .* was garbage collected:ResourceWarning"),
]

APP = "app1"
RID = "RID-1"
SID = "SID-1"
FIXTURES = Path(__file__).parent / "fixtures"
ENDPOINTS = ["acquire", "start", "update", "updateLayout", "query", "stop"]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await anyio.lowlevel.checkpoint()


def make_client(*, retries: int = 0, sleep: Sleeps | None = None, **kwargs: Any) -> CloudRecordingClient:
    return CloudRecordingClient(
        APP,
        "cid",
        "secret",
        rate_limiter=Unlimited(),
        sleep=sleep or Sleeps(),
        retry=RetryPolicy(jitter=0.0, max_retries=retries),
        **kwargs,
    )


async def call(
    client: CloudRecordingClient, endpoint: str, *, rid: str = RID, sid: str = SID, retries: int | None = None
) -> Any:
    common: dict[str, Any] = {"resource_id": rid, "sid": sid, "cname": "room1", "uid": "1", "retries": retries}
    if endpoint == "acquire":
        return await client.acquire(cname="room1", uid="1", retries=retries)
    if endpoint == "start":
        return await client.start(
            resource_id=rid, mode="mix", cname="room1", uid="1", client_request=request_for("mix"), retries=retries
        )
    if endpoint == "update":
        request = UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=False))
        return await client.update(mode="web", client_request=request, **common)
    if endpoint == "updateLayout":
        return await client.update_layout(client_request=UpdateLayoutClientRequest(), **common)
    if endpoint == "query":
        return await client.query(resource_id=rid, sid=sid, mode="mix", retries=retries)
    return await client.stop(mode="mix", **common)


# -- 1. a 2xx answer is Agora's only when it names the recording -------------------------------------------------

NOT_AGORAS_STOP: list[Any] = [
    {},
    {"message": "ok"},
    {"status": "error"},
    {"code": 0},
    {"resourceId": RID},
    {"sid": SID},
    {"resourceId": RID, "sid": SID},  # no serverResponse
    {"resourceId": RID, "sid": SID, "serverResponse": None},
    {"resourceId": RID, "sid": SID, "serverResponse": "uploaded"},
    {"resourceId": "another", "sid": SID, "serverResponse": {}},
    {"resourceId": RID, "sid": "another", "serverResponse": {}},
    {"resourceId": RID, "sid": "", "serverResponse": {}},
    [],
    "ok",
    None,
]


@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("body", NOT_AGORAS_STOP, ids=lambda b: json.dumps(b)[:40])
async def test_a_stop_answer_without_the_recordings_ids_and_server_response_is_not_a_stop(
    body: Any, status: int
) -> None:
    """200 {} (or any JSON that is not Agora's stop answer) is ResponseFormatError, never a StopResponse."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(status, json=body))
            with pytest.raises(ResponseFormatError) as info:
                await call(client, "stop")
    assert info.value.status_code == status


@pytest.mark.parametrize("status", [202, 203, 204, 205, 299])
async def test_other_2xx_statuses_are_not_agoras_answers(status: int) -> None:
    """Agora answers 200, 201 and 206; any other 2xx (even with a perfect body) is not its answer."""
    good = {"resourceId": RID, "sid": SID, "serverResponse": {"uploadingStatus": "uploaded"}}
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(status, json=good))
            with pytest.raises(ResponseFormatError, match=f"HTTP {status}"):
                await call(client, "stop")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"resourceId": RID},
        {"resourceId": RID, "sid": ""},
        {"resourceId": RID, "sid": None},
        {"sid": SID},
        {"resourceId": "another", "sid": SID},
        {"message": "ok"},
    ],
    ids=lambda b: json.dumps(b),
)
async def test_a_start_answer_without_a_sid_or_with_another_resource_id_is_not_a_start(body: Any) -> None:
    """A 2xx start without a sid (or about another resourceId) is ResponseFormatError, not a started recording."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=body))
            with pytest.raises(ResponseFormatError):
                await call(client, "start")


@pytest.mark.parametrize("endpoint", ["update", "updateLayout", "query"])
@pytest.mark.parametrize(
    "body",
    [{}, {"resourceId": RID}, {"sid": SID}, {"resourceId": "x", "sid": SID}, {"resourceId": RID, "sid": "x"}],
    ids=lambda b: json.dumps(b),
)
async def test_update_update_layout_and_query_answers_must_name_the_recording(endpoint: str, body: Any) -> None:
    """update, updateLayout and query answers echo resourceId and sid; one that does not is not Agora's."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(200, json={**body, "serverResponse": {}}))
            with pytest.raises(ResponseFormatError, match=r"resourceId|sid"):
                await call(client, endpoint)


def documented_answers() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text())) for p in sorted((FIXTURES / "responses").glob("*.json"))]


@pytest.mark.parametrize(("name", "body"), documented_answers(), ids=lambda x: x if isinstance(x, str) else "")
async def test_every_documented_answer_is_still_read(name: str, body: dict[str, Any]) -> None:
    """Every answer from Agora's docs (tests/fixtures/responses, web mode included) passes the checks."""
    endpoint = name.split("__")[0]
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=body))
            result = await call(client, endpoint, rid=body["resourceId"], sid=body.get("sid", SID))
    assert result.resource_id == body["resourceId"]


async def test_a_documented_206_435_stop_is_still_a_stop() -> None:
    """206 {"code": 435} carries no ids (Agora's documented body): still a stop with no recorded data."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(206, json={"code": 435, "reason": "no recorded data"}))
            result = await call(client, "stop")
    assert result.no_recorded_data
    assert (result.resource_id, result.sid) == (RID, SID)


async def test_a_malformed_stop_answer_is_retried_within_the_policy() -> None:
    """200 {} on stop is retried like an answer that may not be Agora's: 1, 3, 6 s, then the real answer."""
    sleeps = Sleeps()
    good = {"resourceId": RID, "sid": SID, "serverResponse": {"uploadingStatus": "uploaded"}}
    async with make_client(retries=3, sleep=sleeps) as client:
        with respx.mock(assert_all_called=True) as router:
            route = router.route().mock(
                side_effect=[
                    httpx.Response(200, json={}),
                    httpx.Response(200, text="OK"),
                    httpx.Response(200, json=good),
                ]
            )
            result = await call(client, "stop")
    assert result.uploading_status == "uploaded"
    assert route.call_count == 3
    assert sleeps.delays == [1.0, 3.0]


async def test_a_malformed_start_then_code_7_is_start_outcome_unknown() -> None:
    """A 200 without a sid may hide a started recording: the resend's code 7 says one runs without our sid."""
    sleeps = Sleeps()
    async with make_client(retries=3, sleep=sleeps) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                side_effect=[
                    httpx.Response(200, json={"resourceId": RID}),
                    httpx.Response(201, json={"code": 7, "reason": "already started"}),
                ]
            )
            with pytest.raises(StartOutcomeUnknownError):
                await call(client, "start")
    assert sleeps.delays == [3.0]


@pytest.mark.parametrize("when", ["before", "after"])
async def test_200_empty_on_stop_inside_a_session_is_not_counted_as_stopped(when: str) -> None:
    """Fake: every stop attempt answered 200 {}: the session stays `recording`, the recording runs (or, if the fake
    did stop it, a later stop learns so); once the answers are Agora's again, stop() really stops."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        # Every attempt until the stop deadline: a stop keeps retrying answers that may not be Agora's past
        # max_retries (3), then gives up without counting the recording as stopped.
        fault = fake.inject("stop", status=200, body={}, count=10_000, when=when)
        with pytest.raises((ResponseFormatError, APITimeoutError)):
            await rec.stop()
        assert fault.fired > 4
        fake.clear_faults()
        assert rec.state is SessionState.RECORDING
        assert rec.stop_response is None
        assert len(fake.running_recordings()) == (1 if when == "before" else 0)
        result = await rec.stop()
    assert rec.state is SessionState.STOPPED
    assert fake.running_recordings() == []
    assert result.already_stopped is (when == "after")


async def test_200_empty_on_the_first_stop_attempt_is_ridden_out_by_the_retry() -> None:
    """One 200 {} then Agora's answer: the session's stop succeeds with the real files."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject("stop", status=200, body={"message": "ok"})
    async with (
        client_for(fake, vc) as client,
        vc.autojump(),
        client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")) as rec,
    ):
        await vc.sleep(60)
    assert rec.stop_response is not None
    assert not rec.stop_response.already_stopped
    assert fake.stats.recordings_stopped == 1
    assert fake.running_recordings() == []


@pytest.mark.parametrize("when", ["before", "after"])
async def test_200_without_a_sid_on_start_leaves_the_session_unknown(when: str) -> None:
    """A start answered 200 without a sid is not a clear refusal: the session is `unknown`, never `failed`."""
    vc = VirtualClock()
    fake = make_fake(vc)
    # before: every attempt lost to a proxy's 200 (nothing started); after: the first attempt started a recording
    # and its answer was replaced, so the resend meets Agora's code 7.
    fake.inject("start", status=200, body={"message": "ok"}, count=4 if when == "before" else 1, when=when)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises((ResponseFormatError, StartOutcomeUnknownError)) as info:
            await rec.start()
    assert rec.state is SessionState.UNKNOWN
    assert rec.sid is None
    expected = ResponseFormatError if when == "before" else StartOutcomeUnknownError
    assert type(info.value) is expected
    assert fake.stats.recordings_started == (0 if when == "before" else 1)


# -- 2. nested brackets --------------------------------------------------------------------------------------------

NESTED = {
    "list": b"[" * 1024 + b"]" * 1024,
    "object": b'{"a":' * 400 + b"1" + b"}" * 400,
    "unclosed": b"[" * 2048,
    "deep": b"[" * 200_000,
    "inside-a-valid-answer": (
        b'{"resourceId":"RID-1","sid":"SID-1","serverResponse":{"status":' + b"[" * 900 + b"]" * 900 + b"}}"
    ),
    "inside-an-error": b'{"code":' + b"[" * 1500 + b"]" * 1500 + b',"reason":"x"}',
}
STATUSES = [200, 201, 206, 400, 401, 404, 429, 500, 503, 504]


def expected_for(status: int) -> type[Exception]:
    if status == 206:  # Agora's 206 carries an error code (65, 435): unreadable, it is a 206 error without one
        return APIStatusError
    if 200 <= status < 300:
        return ResponseFormatError
    return {400: APIStatusError, 401: APIStatusError, 404: NotFoundError, 429: RateLimitError}.get(status, ServerError)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a large matrix; the parsing is backend-neutral
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("shape", list(NESTED))
async def test_nested_brackets_are_a_typed_error_on_every_endpoint_and_status(
    endpoint: str, status: int, shape: str
) -> None:
    """No RecursionError escapes: a 2xx is ResponseFormatError, an error status its typed error with no code."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(status, content=NESTED[shape]))
            if shape == "inside-a-valid-answer" and status in (200, 201) and endpoint not in ("query", "stop"):
                # Deep junk under a key the model ignores: a valid answer if Python's parser had the stack for it.
                with contextlib.suppress(ResponseFormatError):
                    await call(client, endpoint)
                return
            with pytest.raises(expected_for(status)) as info:
                await call(client, endpoint)
    assert not isinstance(info.value, RecursionError)
    assert len(str(info.value)) < 1_000
    if isinstance(info.value, APIStatusError):
        assert info.value.code is None


async def test_nested_brackets_on_a_500_are_still_retried() -> None:
    """The retry decision still applies: a 500 with an undecodable body is a 5xx, retried 1, 3, 6 s."""
    sleeps = Sleeps()
    async with make_client(retries=3, sleep=sleeps) as client:
        with respx.mock(assert_all_called=True) as router:
            route = router.route().mock(return_value=httpx.Response(500, content=NESTED["list"]))
            with pytest.raises(ServerError):
                await call(client, "query")
    assert route.call_count == 4
    assert sleeps.delays == [1.0, 3.0, 6.0]


async def test_a_stop_answered_500_with_nested_brackets_is_retried_inside_a_session() -> None:
    """Session on the fake: two stops answered 500 + 2 KB of brackets: retried, and the stop really stops.

    (The answers come from a transport in front of the fake: the fake's own fault injection parses an injected
    JSON-looking body and hits the same RecursionError.)
    """

    class NestedStops(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport, count: int) -> None:
            self.inner = inner
            self.left = count

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/stop") and self.left > 0:
                self.left -= 1
                return httpx.Response(500, content=NESTED["list"], headers={"Content-Type": "application/json"})
            return await self.inner.handle_async_request(request)

    vc = VirtualClock()
    fake = make_fake(vc)
    transport = NestedStops(fake.transport(), 2)
    async with (
        client_for(fake, vc, transport=transport) as client,
        vc.autojump(),
        client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")) as rec,
    ):
        pass
    assert transport.left == 0
    assert rec.state is SessionState.STOPPED
    assert fake.stats.recordings_stopped == 1
    assert fake.running_recordings() == []


async def test_a_206_with_nested_brackets_is_retried_as_a_maybe_processed_answer() -> None:
    """206 with an unreadable body could be code 65 or 435: retried like 65 (a resend of stop learns the state)."""
    sleeps = Sleeps()
    good = {"resourceId": RID, "sid": SID, "serverResponse": {}}
    async with make_client(retries=3, sleep=sleeps) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                side_effect=[httpx.Response(206, content=NESTED["list"]), httpx.Response(200, json=good)]
            )
            result = await call(client, "stop")
    assert result.sid == SID
    assert sleeps.delays == [3.0]


# -- 3. size limits and compression bombs --------------------------------------------------------------------------


@functools.cache
def gzip_bomb(megabytes: int = 300) -> bytes:
    """``megabytes`` MB of zeros as one gzip member (about 1/1000 of that), built in 1 MiB steps."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(megabytes)]
    parts.append(packer.flush())
    return b"".join(parts)


class StreamingTransport(httpx.AsyncBaseTransport):
    """Answers with an unread stream (as a network transport does), in chunks of ``chunk`` bytes."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str], *, chunk: int = 64 * 1024) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.chunk = chunk
        self.calls = 0
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        transport = self

        class Stream(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                for i in range(0, len(transport.body), transport.chunk):
                    yield transport.body[i : i + transport.chunk]

            async def aclose(self) -> None:
                transport.closed += 1

        return httpx.Response(self.status, headers=self.headers, stream=Stream())


async def measure(coro: Any) -> tuple[BaseException | None, int]:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        error: BaseException | None = None
        try:
            await coro
        except Exception as exc:
            error = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return error, peak


@pytest.mark.parametrize("chunk", [64 * 1024, 1 << 30], ids=["network-chunks", "one-chunk"])
async def test_a_gzip_bomb_stops_at_the_limit_with_bounded_memory(chunk: int) -> None:
    """298 KiB of gzip that inflates to 300 MB: ResponseTooLargeError, connection closed, peak memory < 16 MiB."""
    bomb = gzip_bomb()
    assert len(bomb) < 400 * 1024
    transport = StreamingTransport(200, bomb, {"Content-Encoding": "gzip"}, chunk=chunk)
    async with make_client(transport=transport) as client:
        error, peak = await measure(call(client, "query"))
    assert isinstance(error, ResponseTooLargeError), error
    assert error.limit == DEFAULT_MAX_RESPONSE_BYTES
    assert error.status_code == 200
    assert transport.closed == 1
    assert peak < 16 * 1024 * 1024, peak  # the limit (4 MiB) plus bounded steps; unbounded it is 300 MB


async def test_a_gzip_bomb_over_tcp_from_the_fake_is_bounded() -> None:
    """The same bomb over a real socket (the fake served on 127.0.0.1, fault-injected): bounded, typed, closed."""
    from agora_recording.testing import FakeAgoraServer

    fake = FakeAgoraServer()
    fake.inject("query", status=200, body=gzip_bomb(), headers={"Content-Encoding": "gzip"})
    async with (
        fake.serve() as base_url,
        CloudRecordingClient(
            fake.app_id,
            fake.customer_id,
            fake.customer_secret,
            base_url=base_url,
            rate_limiter=Unlimited(),
            retry=RetryPolicy(max_retries=0),
        ) as client,
    ):
        error, peak = await measure(client.query(resource_id="r", sid="s", mode="mix"))
    assert isinstance(error, ResponseTooLargeError), error
    assert peak < 16 * 1024 * 1024, peak


async def test_the_limit_is_configurable_and_counts_decompressed_bytes() -> None:
    """max_response_bytes=64 KiB: a 60 KiB answer is read; a 70 KiB one (2 KiB gzipped) is too large."""
    padding = {"resourceId": RID, "sid": SID, "serverResponse": {}, "pad": ""}

    def body(size: int) -> bytes:
        text = json.dumps(padding)
        return json.dumps({**padding, "pad": "x" * (size - len(text))}).encode()

    small = StreamingTransport(200, body(60 * 1024), {})
    async with make_client(transport=small, max_response_bytes=64 * 1024) as client:
        assert (await call(client, "query")).sid == SID
    big = StreamingTransport(200, zlib.compress(body(70 * 1024)), {"Content-Encoding": "deflate"})
    assert len(big.body) < 4 * 1024
    async with make_client(transport=big, max_response_bytes=64 * 1024) as client:
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=65536"):
            await call(client, "query")


async def test_a_declared_content_length_past_the_limit_is_refused_unread() -> None:
    """Content-Length 10 GB: refused at once, nothing read."""

    class Endless(httpx.AsyncByteStream):
        read = 0

        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                Endless.read += 1
                yield b"x" * 65536

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"Content-Length": str(10**10)}, stream=Endless())

    async with make_client(transport=Transport()) as client:
        with pytest.raises(ResponseTooLargeError):
            await call(client, "query")
    assert Endless.read == 0


async def test_an_endless_body_stops_at_the_limit() -> None:
    """No Content-Length, a body that never ends: reading stops right after the limit."""

    class Endless(httpx.AsyncByteStream):
        read = 0

        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                Endless.read += 1
                yield b"x" * 65536

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=Endless())

    async with make_client(transport=Transport(), max_response_bytes=1024 * 1024) as client:
        with pytest.raises(ResponseTooLargeError):
            await call(client, "query")
    assert Endless.read == 17


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_an_oversized_2xx_is_resent_only_on_start_and_stop(endpoint: str) -> None:
    """start/stop: the request may have been acted on, so it is resent (start: 3 s, stop: 1 s, then for its retry
    window); elsewhere raised."""
    sleeps = Sleeps()
    transport = StreamingTransport(200, b"x" * 2048, {})
    async with make_client(transport=transport, retries=1, sleep=sleeps, max_response_bytes=1024) as client:
        with pytest.raises(ResponseTooLargeError):
            await call(client, endpoint)
    if endpoint == "stop":  # a stop is retried for its whole retry window (issue 11), past max_retries
        assert transport.calls > 2
        assert sleeps.delays[0] == 1.0
        assert sum(sleeps.delays) <= 180.0
        return
    resent = endpoint == "start"
    assert transport.calls == (2 if resent else 1)
    assert sleeps.delays == ([3.0] if resent else [])


async def test_an_oversized_error_answer_is_still_that_error_and_retried() -> None:
    """A 503 with a 10 MB HTML page: ServerError (no code), retried like any 5xx; the page is never kept."""
    sleeps = Sleeps()
    transport = StreamingTransport(503, b"<html>" + b" " * (10 * 1024 * 1024), {"Content-Type": "text/html"})
    async with make_client(transport=transport, retries=2, sleep=sleeps) as client:
        with pytest.raises(ServerError) as info:
            await call(client, "query")
    assert info.value.code is None
    assert transport.calls == 3
    assert sleeps.delays == [1.0, 3.0]


@pytest.mark.parametrize(
    ("encoding", "body"),
    [("gzip", b"not gzip at all"), ("deflate", b"\x00\x01garbage"), ("br", b"\x8b\x03\x80"), ("gzip, zstd", b"x")],
)
async def test_an_undecodable_2xx_is_a_response_format_error_and_retried(encoding: str, body: bytes) -> None:
    """Bad gzip/deflate, or an encoding the client did not ask for: ResponseFormatError, retried as malformed."""
    sleeps = Sleeps()
    transport = StreamingTransport(200, body, {"Content-Encoding": encoding})
    async with make_client(transport=transport, retries=1, sleep=sleeps) as client:
        with pytest.raises(ResponseFormatError, match="could not be read"):
            await call(client, "query")
    assert transport.calls == 2


async def test_an_undecodable_500_is_a_server_error_and_retried() -> None:
    """A 500 whose gzip is broken is still a ServerError, and still retried."""
    sleeps = Sleeps()
    transport = StreamingTransport(500, b"not gzip", {"Content-Encoding": "gzip"})
    async with make_client(transport=transport, retries=1, sleep=sleeps) as client:
        with pytest.raises(ServerError):
            await call(client, "stop")
    assert transport.calls > 2  # a stop retries 5xx for its whole retry window, past max_retries (issue 11)


async def test_gzip_and_deflate_answers_are_decoded() -> None:
    """Real compressed answers (gzip, zlib deflate, raw deflate, gzip twice) decode as before."""
    answer = json.dumps({"resourceId": RID, "sid": SID, "serverResponse": {"status": 5}}).encode()

    def pack(data: bytes, wbits: int) -> bytes:  # zlib.compress(wbits=) is 3.11+
        packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
        return packer.compress(data) + packer.flush()

    cases = {
        "gzip": pack(answer, 31),
        "deflate": pack(answer, zlib.MAX_WBITS),
        "Deflate ": pack(answer, -zlib.MAX_WBITS),
        "gzip, gzip": pack(pack(answer, 31), 31),
        "identity": answer,
    }
    for encoding, body in cases.items():
        transport = StreamingTransport(200, body, {"Content-Encoding": encoding}, chunk=7)
        async with make_client(transport=transport) as client:
            result = await call(client, "query")
        assert result.status == 5, encoding


async def test_the_client_asks_only_for_encodings_it_decodes() -> None:
    """Accept-Encoding is gzip, deflate (httpx would add br/zstd when installed)."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            route = router.route().mock(return_value=httpx.Response(200, json={"resourceId": RID}))
            await call(client, "acquire")
    assert route.calls.last.request.headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4MiB", None])
async def test_max_response_bytes_must_be_a_positive_integer(value: Any) -> None:
    """A bad max_response_bytes is refused when the client is made."""
    with pytest.raises(InvalidRequestError, match="max_response_bytes"):
        make_client(max_response_bytes=value)


async def test_an_already_started_code_in_a_200_is_still_read() -> None:
    """Regression guard for the identity checks: 200 {"code": 7} stays AlreadyStartedError."""
    async with make_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(200, json={"code": 7, "reason": "already started"}))
            with pytest.raises(AlreadyStartedError):
                await call(client, "start")


async def test_a_decoding_error_from_an_in_process_transport_is_retried_as_malformed() -> None:
    """A transport that fails to decode the body itself (httpx.DecodingError): retried, then ResponseFormatError."""
    sleeps = Sleeps()
    async with make_client(retries=2, sleep=sleeps) as client:
        with respx.mock(assert_all_called=True) as router:
            route = router.route().mock(side_effect=httpx.DecodingError("bad gzip"))
            with pytest.raises(ResponseFormatError, match="could not be read"):
                await call(client, "start")
    assert route.call_count == 3
    assert sleeps.delays == [3.0, 6.0]
