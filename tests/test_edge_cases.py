"""Edge cases found in review: each test pins a failure mode that once slipped through."""

from __future__ import annotations

import httpx
import pytest
import respx
from _support import client_for, make_fake, request_for

from agora_recording import (
    AlreadyStartedError,
    APIConnectionError,
    BadRequestError,
    CloudRecordingClient,
    IncompleteRequestError,
    InvalidRequestError,
    QueryResponse,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    SessionState,
    Unlimited,
)
from agora_recording._converter import from_wire
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

APP = "app1"


async def test_transient_404s_on_stop_are_ridden_out_for_agoras_failover_window() -> None:
    """Four failover 404s on stop (about 60 s) do not end in "already stopped": the fifth attempt really stops."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject("stop", kind="worker_not_found", count=4)
    async with (
        client_for(fake, vc) as client,
        vc.autojump(),
        client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")) as rec,
    ):
        pass
    assert rec.stop_response is not None
    assert not rec.stop_response.already_stopped
    assert fake.stats.recordings_stopped == 1
    assert fake.running_recordings() == []


@pytest.mark.parametrize(
    ("faults", "retries", "error"),
    [
        ([("internal_error", "after", 1), ("internal_error", "before", 3)], None, ServerError),
        ([("request_timeout", "after", 1)], 0, ServerError),
        ([("not_completed", "after", 1), ("not_completed", "before", 3)], None, IncompleteRequestError),
    ],
)
async def test_start_that_may_have_run_ends_unknown_not_failed(
    faults: list[tuple[str, str, int]], retries: int | None, error: type[Exception]
) -> None:
    """A start whose final answer is 5xx or 206/65 after Agora may have acted leaves the session UNKNOWN."""
    vc = VirtualClock()
    fake = make_fake(vc)
    for kind, when, count in faults:
        fake.inject("start", kind=kind, when=when, count=count)  # type: ignore[arg-type]
    policy = RetryPolicy(jitter=0.0) if retries is None else RetryPolicy(jitter=0.0, max_retries=retries)
    async with client_for(fake, vc, retry=policy) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises(error):
            await rec.start()
    assert rec.state is SessionState.UNKNOWN
    assert fake.stats.recordings_started == 1


async def test_a_clear_refusal_of_start_is_failed() -> None:
    """A 400 (here: code 432, the uid does not match the resourceId) means no recording: FAILED."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject("start", status=400, body={"code": 432, "reason": "param mismatch"})
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises(BadRequestError, match="432"):
            await rec.start()
    assert rec.state is SessionState.FAILED


async def test_code_inside_a_200_body_is_an_error_not_a_format_error() -> None:
    """200 {"code": 7} on start is AlreadyStartedError, like 201 {"code": 7}."""
    async with respx_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(200, json={"code": 7, "reason": "already started"}))
            with pytest.raises(AlreadyStartedError):
                await client.start(
                    resource_id="r", mode="mix", cname="c", uid="1", client_request=request_for("mix"), retries=0
                )


@pytest.mark.parametrize("code", ["--5", "\u00b2", "12a", "1e3", ""])
async def test_odd_code_values_give_typed_errors(code: str) -> None:
    """A `code` that is not an integer is no code: the answer is still a typed error, never a ValueError."""
    async with respx_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(return_value=httpx.Response(500, json={"code": code, "reason": "x"}))
            with pytest.raises(ServerError) as info:
                await client.query(resource_id="r", sid="s", mode="mix", retries=0)
    assert info.value.code is None


# asyncio only: on trio, respx's half-read mock stream is finalised late and trips filterwarnings=error.
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_undecodable_body_is_a_response_format_error() -> None:
    """A body that claims gzip but is not (a broken proxy) raises ResponseFormatError, not httpx.DecodingError."""
    async with respx_client() as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                return_value=httpx.Response(
                    200, stream=httpx.ByteStream(b"not gzip"), headers={"Content-Encoding": "gzip"}
                )
            )
            with pytest.raises(ResponseFormatError, match="could not be read"):
                await client.query(resource_id="r", sid="s", mode="mix")


async def test_connection_errors_do_not_chain_httpx_exceptions() -> None:
    """The library's error has no __cause__/__context__: httpx's request (with the Authorization header) stays out."""
    async with respx_client(retry=RetryPolicy(max_retries=0)) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(side_effect=httpx.ConnectError("refused"))
            with pytest.raises(APIConnectionError) as info:
                await client.query(resource_id="r", sid="s", mode="mix")
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert "refused" in str(info.value)


async def test_retry_after_hold_is_capped_for_the_shared_limiter() -> None:
    """A huge Retry-After cannot freeze every caller: the limiter hold is capped at RetryPolicy.max_delay."""
    holds: list[float | None] = []

    class Recorder(Unlimited):
        def on_rate_limited(self, retry_after: float | None) -> None:
            holds.append(retry_after)

    async def no_sleep(seconds: float) -> None:
        return None

    async with respx_client(rate_limiter=Recorder(), sleep=no_sleep, retry=RetryPolicy(jitter=0.0)) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                side_effect=[
                    httpx.Response(429, json={"message": "API rate limit exceeded"}, headers={"Retry-After": "600"}),
                    httpx.Response(429, json={"message": "API rate limit exceeded"}, headers={"Retry-After": "1e308"}),
                    httpx.Response(200, json={"resourceId": "r"}),
                ]
            )
            await client.acquire(cname="c", uid="1")
    assert holds == [30.0, 30.0]  # past the cap the hold is the cap (a larger hint never holds less)


async def test_failed_cleanup_stop_is_reported_on_the_original_error() -> None:
    """When the body fails and the stop fails too, stop_error says why and the original error carries a note.

    A stop retries 5xx until its stop deadline, so the fault outlasts the deadline here."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject("stop", kind="internal_error", count=1000)
    async with vc.autojump(), client_for(fake, vc) as client:  # time moves while the client's close drains
        session = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        with pytest.raises(RuntimeError) as info:
            async with session:
                raise RuntimeError("user code failed")
    assert isinstance(session.stop_error, ServerError)
    notes = getattr(info.value, "__notes__", None)
    if notes is not None:  # Python >= 3.11
        assert any("may still be running" in n for n in notes)


async def test_verification_rides_out_a_429_and_refuses_zero_delays() -> None:
    """A 429 while verifying is transient; a zero delay (which would spin on a virtual clock) is refused."""
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        fake.inject("query", kind="rate_limited")
        await rec.wait_until_recording()
        with pytest.raises(InvalidRequestError, match="delays"):
            await rec.wait_until_recording(delays=(0.0,))
        await rec.stop()


async def test_lone_surrogate_in_a_web_cname_is_invalid_input() -> None:
    """A cname that cannot be encoded as UTF-8 is InvalidRequestError, not UnicodeEncodeError."""
    async with respx_client() as client:
        with pytest.raises(InvalidRequestError, match="cname"):
            await client.acquire(cname="room\ud800", uid="1", web=True)


def test_fractional_slice_time_and_null_service_state_are_read() -> None:
    """sliceStartTime 1619172871.089 and "extensionServiceState": null do not fail a stop that succeeded."""
    body = {"serverResponse": {"sliceStartTime": 1619172871.089, "extensionServiceState": None}}
    response = from_wire(QueryResponse, body, endpoint="query")
    assert response.server_response.slice_start_time == 1619172871
    assert response.server_response.extension_service_state == ()


def respx_client(**kwargs: object) -> CloudRecordingClient:
    """A client for respx routes: no limiter, no jitter, no retries unless asked."""
    options: dict[str, object] = {"rate_limiter": Unlimited(), "retry": RetryPolicy(jitter=0.0, max_retries=0)}
    options.update(kwargs)
    return CloudRecordingClient(APP, "cid", "secret", **options)  # type: ignore[arg-type]
