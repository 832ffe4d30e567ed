"""Secrets in captured tracebacks: error trackers record the repr of every local of every frame.

Planted secrets go into every secret field of the requests (RTC token, storage keys, STS token, decryption secret
and salt, the VoD service's keys) and the customer secret. Errors are raised from start, stop, update, acquire, a
timeout, a refusal, a connection failure, an unreadable answer, invalid input and a session; then every frame of the
traceback (but the test's own), every exception in the cause/context chain and their attributes are scanned, and
``TracebackException(..., capture_locals=True)`` is formatted and searched.
"""

from __future__ import annotations

import base64
import pickle
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest
import respx
from _support import client_for, make_fake

from agora_recording import (
    AcquireClientRequest,
    AgoraError,
    AliyunVodServiceParam,
    ApiData,
    ClientRequest,
    CloudRecordingClient,
    ExtensionService,
    ExtensionServiceConfig,
    RecordingConfig,
    RetryPolicy,
    StorageConfig,
    Unlimited,
    UpdateClientRequest,
    VideoData,
)
from agora_recording._body import RequestBody
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

CUSTOMER_ID = "customer-id-7f3a"
CUSTOMER_SECRET = "CANARY-customer-secret-9d2e"
SECRETS = {
    "customer secret": CUSTOMER_SECRET,
    "Authorization": base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode(),
    "rtc token": "CANARY-rtc-token-51c0",
    "storage access key": "CANARY-storage-access-key-aa01",
    "storage secret key": "CANARY-storage-secret-key-bb02",
    "sts token": "CANARY-sts-token-cc03",
    "decryption secret": "CANARY-decryption-secret-dd04",
    "decryption salt": "CANARY-decryption-salt-ee05",
    "vod access key": "CANARY-vod-access-key-ff06",
    "vod secret key": "CANARY-vod-secret-key-0a07",
}
TESTS_DIR = str(Path(__file__).parent)
RID = "RID-1"
SID = "SID-1"


def storage() -> StorageConfig:
    return StorageConfig(
        vendor=1,
        region=0,
        bucket="bucket",
        access_key=SECRETS["storage access key"],
        secret_key=SECRETS["storage secret key"],
        sts_token=SECRETS["sts token"],
        sts_expiration=1_900_000_000,
    )


def mix_request() -> ClientRequest:
    """A mix start with every secret a mix recording can carry."""
    return ClientRequest(
        token=SECRETS["rtc token"],
        recording_config=RecordingConfig(
            channel_type=1,
            decryption_mode=7,
            secret=SECRETS["decryption secret"],
            salt=SECRETS["decryption salt"],
            max_idle_time=300,
        ),
        storage_config=storage(),
    )


def vod_request() -> ClientRequest:
    """The legacy VoD start: the extension service's access and secret keys."""
    return ClientRequest(
        token=SECRETS["rtc token"],
        recording_config=RecordingConfig(channel_type=1),
        extension_service_config=ExtensionServiceConfig(
            extension_services=[
                ExtensionService(
                    service_name="aliyun_vod_service",
                    service_param=AliyunVodServiceParam(
                        access_key=SECRETS["vod access key"],
                        secret_key=SECRETS["vod secret key"],
                        region_id="cn-shanghai",
                        api_data=ApiData(video_data=VideoData(title="t", description="d", cate_id="1")),
                    ),
                )
            ]
        ),
    )


def test_the_requests_really_carry_every_secret() -> None:
    """The planted secrets are on the wire (so the scans below are not vacuous)."""
    from agora_recording._converter import to_wire

    wire = (
        repr(to_wire(mix_request()))
        + repr(to_wire(vod_request()))
        + repr(to_wire(UpdateClientRequest(storage_config=storage())))
    )
    for name, secret in SECRETS.items():
        if name not in ("customer secret", "Authorization"):
            assert secret in wire, name


# -- the scan -------------------------------------------------------------------------------------------------------


def exceptions_in(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, its causes and contexts, and the members of exception groups, once each."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += list(getattr(current, "exceptions", ()))


def library_frames(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(TESTS_DIR):
            yield tb
        tb = tb.tb_next


def first_library_tb(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(TESTS_DIR):
        tb = tb.tb_next
    return tb


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def scan(exc: BaseException) -> int:
    """Assert no secret in any local of any library frame, any exception attribute, or the capture_locals output.

    Returns how many frames were scanned.
    """
    frames = 0
    for error in exceptions_in(exc):
        assert not leaks(str(error)), (type(error).__name__, leaks(str(error)))
        assert not leaks(repr(error)), type(error).__name__
        for name, value in vars(error).items():
            assert not leaks(repr(value)), (type(error).__name__, name)
        for tb in library_frames(error.__traceback__):
            frames += 1
            code = tb.tb_frame.f_code
            for name, value in tb.tb_frame.f_locals.items():
                found = leaks(repr(value))
                assert not found, f"{found} in local {name!r} of {code.co_name} ({code.co_filename}:{tb.tb_lineno})"
    formatted = "".join(
        traceback.TracebackException(type(exc), exc, first_library_tb(exc.__traceback__), capture_locals=True).format()
    )
    assert not leaks(formatted), leaks(formatted)
    return frames


def client(**kwargs: Any) -> CloudRecordingClient:
    async def no_sleep(seconds: float) -> None:
        return None

    options: dict[str, Any] = {"rate_limiter": Unlimited(), "sleep": no_sleep, "retry": RetryPolicy(jitter=0.0)}
    options.update(kwargs)
    return CloudRecordingClient("app", CUSTOMER_ID, CUSTOMER_SECRET, **options)


async def start(c: CloudRecordingClient, request: ClientRequest | None = None, **kwargs: Any) -> Any:
    return await c.start(
        resource_id=RID, mode="mix", cname="room1", uid="1", client_request=request or mix_request(), **kwargs
    )


async def stop(c: CloudRecordingClient) -> Any:
    # retry_window=0: max_retries bounds the retries (4 answers), as for the other endpoints
    return await c.stop(resource_id=RID, sid=SID, mode="mix", cname="room1", uid="1", retry_window=0.0)


async def update(c: CloudRecordingClient) -> Any:
    return await c.update(
        resource_id=RID,
        sid=SID,
        mode="mix",
        cname="room1",
        uid="1",
        client_request=UpdateClientRequest(storage_config=storage()),
    )


async def acquire(c: CloudRecordingClient) -> Any:
    return await c.acquire(cname="room1", uid="1", client_request=AcquireClientRequest(start_parameter=mix_request()))


REFUSED = httpx.Response(400, json={"code": 2, "reason": "invalid parameter"})
CASES: dict[str, tuple[Callable[[CloudRecordingClient], Awaitable[Any]], list[Any]]] = {
    "start refused": (start, [REFUSED]),
    "start vod refused": (lambda c: start(c, vod_request()), [REFUSED]),
    "start timeouts": (start, [httpx.ReadTimeout("lost")] * 4),
    "start 5xx": (start, [httpx.Response(503, text="<html>busy</html>")] * 4),
    "start lost then code 7": (
        start,
        [httpx.ReadTimeout("lost"), httpx.Response(201, json={"code": 7, "reason": "already started"})],
    ),
    "start not Agora's answer": (start, [httpx.Response(200, json={})] * 4),
    "start connect errors": (start, [httpx.ConnectError("refused")] * 4),
    "start undecodable": (start, [httpx.DecodingError("bad gzip")] * 4),
    "stop refused": (stop, [httpx.Response(400, json={"code": 49, "reason": "invalid operation"})]),
    "stop timeouts": (stop, [httpx.ReadTimeout("lost")] * 4),
    "stop not Agora's answer": (stop, [httpx.Response(200, json={"status": "error"})] * 4),
    "update refused": (update, [REFUSED]),
    "update timeouts": (update, [httpx.ReadTimeout("lost")] * 4),
    "acquire refused": (acquire, [REFUSED]),
    "acquire rate limited": (acquire, [httpx.Response(429, json={"message": "API rate limit exceeded"})] * 4),
}


@pytest.mark.parametrize("own_http_client", [False, True], ids=["own-http", "caller-http"])
@pytest.mark.parametrize("case", list(CASES))
async def test_no_secret_in_any_frame_local_of_a_raised_error(case: str, own_http_client: bool) -> None:
    """start, stop, update, acquire; refusals, timeouts, 5xx, code 7, bad answers: nothing a tracker records leaks."""
    call, answers = CASES[case]
    async with httpx.AsyncClient() as http:
        options = {"http_client": http} if own_http_client else {}
        async with client(**options) as c:
            with respx.mock(assert_all_called=True) as router:
                router.route().mock(side_effect=list(answers))
                with pytest.raises(AgoraError) as info:
                    await call(c)
    assert scan(info.value) >= 2  # at least the endpoint method's frame and _call's


@pytest.mark.parametrize("where", ["cname", "uid", "retries"])
async def test_invalid_input_with_a_secret_request_leaks_nothing(where: str) -> None:
    """An InvalidRequestError raised while the request is being built: no frame holds the wire dict."""
    kwargs: dict[str, Any] = {"cname": "room1", "uid": "1"}
    if where == "cname":
        kwargs["cname"] = "x" * 100  # longer than 64 bytes
    elif where == "uid":
        kwargs["uid"] = "0"
    else:
        kwargs["retries"] = -1
    async with client() as c:
        with respx.mock(assert_all_called=False), pytest.raises(AgoraError) as info:
            await c.start(resource_id=RID, mode="mix", client_request=mix_request(), **kwargs)
    scan(info.value)


async def test_an_unserialisable_raw_service_param_is_invalid_input_and_leaks_nothing() -> None:
    """A raw-mapping serviceParam that JSON cannot encode: InvalidRequestError, and the secrets beside it stay out."""
    request = ClientRequest(
        token=SECRETS["rtc token"],
        recording_config=RecordingConfig(channel_type=1),
        storage_config=storage(),
        extension_service_config=ExtensionServiceConfig(
            extension_services=[ExtensionService(service_name="custom_service", service_param={"when": object()})]
        ),
    )
    async with client() as c:
        with respx.mock(assert_all_called=False), pytest.raises(AgoraError, match="JSON") as info:
            await start(c, request)
    scan(info.value)


async def test_session_errors_leak_nothing() -> None:
    """A session whose start is refused and whose stop times out: the session frames hold no secret either."""
    vc = VirtualClock()
    fake = make_fake(vc, customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET)
    async with client_for(fake, vc) as c, vc.autojump():
        rec = c.session(cname="room1", uid="1", mode="mix", client_request=mix_request())
        fake.inject("start", status=400, body={"code": 2, "reason": "invalid parameter"})
        with pytest.raises(AgoraError) as refused:
            await rec.start()
        rec2 = c.session(cname="room2", uid="1", mode="mix", client_request=mix_request())
        await rec2.start()
        fake.inject("stop", kind="timeout", count=10)
        with pytest.raises(AgoraError) as lost:
            await rec2.stop()
    assert scan(refused.value) >= 3
    assert scan(lost.value) >= 3


def test_request_body_hides_itself() -> None:
    """RequestBody: repr shows a size, no __dict__, and it refuses to be pickled."""
    body = RequestBody({"clientRequest": {"token": SECRETS["rtc token"]}})
    assert SECRETS["rtc token"].encode() in body.content
    assert not leaks(repr(body))
    assert not leaks(str(body))
    assert not hasattr(body, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(body)


@pytest.mark.parametrize(
    "options",
    [{"max_in_flight": 0}, {"max_response_bytes": -1}, {"base_url": "ftp://x"}, {"primary_domain": "example.com"}],
    ids=lambda o: next(iter(o)),
)
def test_a_client_refusing_its_options_leaks_no_credential(options: dict[str, Any]) -> None:
    """The constructor's frame no longer holds the customer secret (nor the Authorization value) when it raises."""
    with pytest.raises(AgoraError) as info:
        CloudRecordingClient("app", CUSTOMER_ID, CUSTOMER_SECRET, **options)
    assert scan(info.value) >= 1
