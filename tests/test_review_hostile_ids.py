"""Review reproductions: ids in a hostile 2xx answer that later calls cannot use."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from agora_recording import (
    AgoraError,
    CloudRecordingClient,
    InvalidRequestError,
    ResponseFormatError,
    RetryPolicy,
    Unlimited,
)
from agora_recording.models._validation import MAX_ID_CHARS
from tests._support import request_for

pytestmark = pytest.mark.anyio

RID = "R" * 40


def _answers(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/start"):
        # Valid JSON: a lone UTF-16 surrogate escape in the sid (Agora's sids are 32 hex digits).
        return httpx.Response(200, content=b'{"resourceId":"' + RID.encode() + b'","sid":"\\ud800abc"}')
    return httpx.Response(200, json={"resourceId": RID, "sid": "abc", "serverResponse": {}})


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


def _client_answering(start_sid: bytes, acquire_rid: bytes = RID.encode()) -> CloudRecordingClient:
    def answers(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/acquire"):
            return httpx.Response(200, content=b'{"resourceId":"' + acquire_rid + b'"}')
        return httpx.Response(200, content=b'{"resourceId":"' + RID.encode() + b'","sid":"' + start_sid + b'"}')

    return CloudRecordingClient(
        "app",
        "customer",
        "secret",
        base_url="https://agora.test",
        transport=httpx.MockTransport(answers),
        rate_limiter=Unlimited(),
        retry=RetryPolicy(max_retries=0),
    )


HOSTILE = {
    "lone surrogate": b"\\ud800abc",
    "newline": b"abc\\nINFO forged line",
    "space": b"abc def",
    "non-ASCII": "sid\u00e9".encode(),
    "escape": b"abc\\u001b[31m",
    "too long": b"a" * (MAX_ID_CHARS + 1),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_start_answer_with_an_id_agora_would_not_issue_is_a_response_format_error(case: str) -> None:
    async with _client_answering(HOSTILE[case]) as client:
        with pytest.raises(ResponseFormatError) as info:
            await client.start(resource_id=RID, mode="mix", cname="room", uid="1", client_request=request_for("mix"))
    assert "sid" in str(info.value)


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_an_acquire_answer_with_a_hostile_resource_id_is_a_response_format_error(case: str) -> None:
    async with _client_answering(b"abc", acquire_rid=HOSTILE[case]) as client:
        with pytest.raises(ResponseFormatError):
            await client.acquire(cname="room", uid="1")


async def test_real_ids_are_accepted() -> None:
    """The shapes of Agora's documented ids: a 32-hex sid and a long base64url resourceId."""
    sid = b"38f8e3cfdc474cd56fc1ceba380d7e1a"
    rid = (
        b"JyvK8nXHuV1BE64GDkAaBGEscvtHW7v8BrQoRPCHxmeVxwY22-x-kv4GdPcjZeMzoCBUCOr9q-k6wBWMC7SaAkZ_4nO3JLqYwM1bL1n6"
        b"wKnnD9EC9waxJboci9KUz2WZ4YJrmcJmA7xWkzs_L3AnNwdtcI1kr_u1cWFmi9BWAWAlNd7S7gfoGuH0tGi6CNaOomvr7-ILjPXdCYwg"
        b"ty1hwT6tbAuaW1eqR0kOYTO0Z1SobpBxu1czSFh1GbzGvTZG"
    )
    async with _client_answering(sid, acquire_rid=rid) as client:
        assert (await client.acquire(cname="room", uid="1")).resource_id == rid.decode()
        started = await client.start(
            resource_id=RID, mode="mix", cname="room", uid="1", client_request=request_for("mix")
        )
        assert started.sid == sid.decode()


@pytest.mark.parametrize("bad", ["\ud800abc", "a\nb", "", "a b", "x" * (MAX_ID_CHARS + 1), 5])
async def test_a_hostile_id_given_to_a_call_is_an_invalid_request_not_a_unicode_error(bad: object) -> None:
    async with _client_answering(b"abc") as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.stop(resource_id=RID, sid=bad, mode="mix", cname="room", uid="1")  # type: ignore[arg-type]
        assert info.value.field == "sid"
        with pytest.raises(InvalidRequestError) as info:
            await client.query(resource_id=bad, sid="abc", mode="mix")  # type: ignore[arg-type]
        assert info.value.field == "resource_id"
        with pytest.raises(InvalidRequestError):
            await client.start(
                resource_id=bad,  # type: ignore[arg-type]
                mode="mix",
                cname="room",
                uid="1",
                client_request=request_for("mix"),
            )


@pytest.mark.parametrize("bad", ["\ud800", "app\n", "app id", ""])
def test_an_app_id_that_cannot_go_into_a_url_is_an_invalid_request(bad: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        CloudRecordingClient(bad, "customer", "secret")
    assert info.value.field == "app_id"
