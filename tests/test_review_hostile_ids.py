"""Review reproductions: ids in a hostile 2xx answer that later calls cannot use."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from agora_recording import AgoraError, CloudRecordingClient, RetryPolicy, Unlimited
from tests._support import request_for

pytestmark = pytest.mark.anyio

RID = "R" * 40


def _answers(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/start"):
        # Valid JSON: a lone UTF-16 surrogate escape in the sid (Agora's sids are 32 hex digits).
        return httpx.Response(200, content=b'{"resourceId":"' + RID.encode() + b'","sid":"\\ud800abc"}')
    return httpx.Response(200, json={"resourceId": RID, "sid": "abc", "serverResponse": {}})


@pytest.mark.xfail(
    strict=True,
    reason="review: a start answer whose sid holds a lone surrogate is accepted; stop then raises UnicodeEncodeError",
)
async def test_a_sid_that_cannot_be_sent_back_is_a_typed_error_not_a_unicode_error() -> None:
    async with CloudRecordingClient(
        "app",
        "customer",
        "secret",
        base_url="https://agora.test",
        transport=httpx.MockTransport(_answers),
        rate_limiter=Unlimited(),
        retry=RetryPolicy(max_retries=0),
    ) as client:
        try:
            started = await client.start(
                resource_id=RID, mode="mix", cname="room", uid="1", client_request=request_for("mix")
            )
        except AgoraError:
            return  # refusing the answer (ResponseFormatError) is the fix
        with contextlib.suppress(AgoraError):  # a typed error would do too
            await client.stop(resource_id=RID, sid=started.sid, mode="mix", cname="room", uid="1", retries=0)
