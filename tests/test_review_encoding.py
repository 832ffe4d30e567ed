"""Review reproductions: the bounded, decompressing reader (``_body.read_body``) and stacked Content-Encodings."""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from agora_recording import AgoraError, CloudRecordingClient, RetryPolicy, Unlimited

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


@pytest.mark.xfail(
    strict=True,
    reason="review: read_body recurses once per Content-Encoding layer; 1500 gzip layers raise a bare RecursionError",
)
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
        with contextlib.suppress(AgoraError):  # a ResponseFormatError (or reading it) is fine; RecursionError is not
            await client.acquire(cname="room", uid="1")
