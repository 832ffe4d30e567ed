"""Review reproductions: the bounded, decompressing reader (``_body.read_body``) and stacked Content-Encodings."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from agora_recording import CloudRecordingClient, ResponseFormatError, RetryPolicy, Unlimited
from agora_recording._body import BODY_TOO_LARGE, BODY_UNDECODABLE, MAX_ENCODINGS, read_body

pytestmark = pytest.mark.anyio

LAYERS = 1500  # "gzip, " x 1500 is a 9 KB header (h11 accepts 16 KB); the body is 37 KB


def _body() -> bytes:
    data = json.dumps({"resourceId": "R" * 40}).encode()
    for _ in range(LAYERS):
        data = gzip.compress(data, mtime=0)
    return data


class _Stream(httpx.AsyncByteStream):
    """A streamed (not pre-read) body, as httpx's network transports give it."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data


async def test_a_deeply_stacked_content_encoding_is_a_typed_error() -> None:
    body = _body()
    encoding = ", ".join(["gzip"] * LAYERS)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": encoding}, stream=_Stream(body))

    async with CloudRecordingClient(
        "app",
        "customer",
        "secret",
        base_url="https://agora.test",
        transport=httpx.MockTransport(answer),
        rate_limiter=Unlimited(),
        retry=RetryPolicy(max_retries=0),
    ) as client:
        with pytest.raises(ResponseFormatError):  # undecodable: more than MAX_ENCODINGS layers
            await client.acquire(cname="room", uid="1")


def _layered(data: bytes, encodings: list[str]) -> bytes:
    """``data`` encoded with ``encodings`` in header order (the first listed was applied first)."""
    for name in encodings:
        if name == "gzip":
            data = gzip.compress(data, mtime=0)
        elif name == "deflate":
            data = zlib.compress(data)
    return data


class _Chunked(httpx.AsyncByteStream):
    """``data`` in chunks of ``size``; an iterator object, not an async generator (nothing left to finalize when
    the reader stops early)."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._at = data, size, 0

    def __aiter__(self) -> _Chunked:
        return self

    async def __anext__(self) -> bytes:
        if self._at >= len(self._data):
            raise StopAsyncIteration
        self._at += self._size
        return self._data[self._at - self._size : self._at]


@pytest.mark.parametrize(
    "encodings",
    [["gzip"], ["deflate", "gzip"], ["gzip", "identity", "gzip", "deflate"], ["gzip"] * MAX_ENCODINGS],
)
async def test_up_to_max_encodings_layers_decode_in_any_chunking(encodings: list[str]) -> None:
    payload = json.dumps({"resourceId": "R" * 40, "pad": "x" * 300_000}).encode()  # several 64 KiB steps
    for size in (1, 7, 4096, 1 << 20):
        if size == 1 and len(_layered(payload, encodings)) > 20_000:
            continue
        response = httpx.Response(
            200,
            headers={"content-encoding": ", ".join(encodings)},
            stream=_Chunked(_layered(payload, encodings), size),
        )
        assert await read_body(response, 1 << 20) == (payload, None)


async def test_one_layer_more_than_max_encodings_is_undecodable() -> None:
    encodings = ["gzip"] * (MAX_ENCODINGS + 1)
    response = httpx.Response(
        200, headers={"content-encoding": ", ".join(encodings)}, stream=_Stream(_layered(b"{}", encodings))
    )
    assert await read_body(response, 1 << 20) == (b"", BODY_UNDECODABLE)


async def test_the_limit_still_applies_after_several_layers() -> None:
    encodings = ["gzip", "gzip", "deflate"]
    payload = b"0" * 5_000_000
    response = httpx.Response(
        200, headers={"content-encoding": ", ".join(encodings)}, stream=_Chunked(_layered(payload, encodings), 4096)
    )
    assert await read_body(response, 1 << 20) == (b"", BODY_TOO_LARGE)
