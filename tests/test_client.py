"""CloudRecordingClient against respx routes: one behaviour per test."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from agora_recording import (
    AlreadyStartedError,
    AlreadyStoppedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientRequest,
    CloudRecordingClient,
    IncompleteRequestError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RecordingConfig,
    ResourceExpiredError,
    ResponseFormatError,
    RetryPolicy,
    ServerError,
    StartOutcomeUnknownError,
    StorageConfig,
    Unlimited,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    WebRecordingConfig,
)
from agora_recording._limiter import LimiterStats

pytestmark = pytest.mark.anyio

APP = "appid123"
BASE = "https://api.agora.io"
PREFIX = f"/v1/apps/{APP}/cloud_recording"
SECRET = "CUSTOMER-SECRET-CANARY"
RID = "RID-abc"
SID = "38f8e3cfdc474cd56fc1ceba380d7e1a"
FIXTURES = Path(__file__).parent / "fixtures"


class RecordingLimiter:
    """A limiter that grants at once and records what the client told it."""

    def __init__(self) -> None:
        self.acquired = 0
        self.rate_limited: list[float | None] = []

    async def acquire(self) -> None:
        self.acquired += 1

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.rate_limited.append(retry_after)

    @property
    def stats(self) -> LimiterStats:
        return LimiterStats()


class Sleeps:
    """An injected sleep that records delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await anyio.lowlevel.checkpoint()


def mix_request(**storage: Any) -> ClientRequest:
    return ClientRequest(
        token="RTC-TOKEN-CANARY",
        recording_config=RecordingConfig(channel_type=0, max_idle_time=300),
        storage_config=StorageConfig(
            vendor=1, region=0, bucket="bucket", access_key="ACCESS-KEY-CANARY", secret_key="SECRET-KEY-CANARY"
        ),
    )


@pytest.fixture
def limiter() -> RecordingLimiter:
    return RecordingLimiter()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(limiter: RecordingLimiter, sleeps: Sleeps) -> AsyncIterator[CloudRecordingClient]:
    async with CloudRecordingClient(
        APP,
        "customer-id",
        SECRET,
        rate_limiter=limiter,
        sleep=sleeps,
        retry=RetryPolicy(jitter=0.0),
    ) as c:
        yield c


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Request-Id": "req-1", **headers})


async def test_acquire_sends_method_url_headers_and_body(client: CloudRecordingClient) -> None:
    """acquire: POST to the documented URL with Basic auth, JSON content type, a User-Agent and the body."""
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/acquire").mock(return_value=json_response(200, {"resourceId": RID}))
        result = await client.acquire(cname="room1", uid=527841)
    assert result.resource_id == RID
    request = route.calls.last.request
    expected_auth = "Basic " + base64.b64encode(f"customer-id:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == expected_auth
    assert request.headers["content-type"] == "application/json;charset=utf-8"
    assert request.headers["user-agent"].startswith("agora-recording/")
    assert json.loads(request.content) == {"cname": "room1", "uid": "527841", "clientRequest": {}}


async def test_start_sends_the_client_request_and_returns_the_sid(client: CloudRecordingClient) -> None:
    """start: POST .../resourceid/<rid>/mode/<mode>/start with the unstructured clientRequest."""
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        route = router.post(f"{PREFIX}/resourceid/{RID}/mode/mix/start").mock(
            return_value=json_response(200, {"cname": "room1", "uid": "1", "resourceId": RID, "sid": SID})
        )
        result = await client.start(resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request())
    assert result.sid == SID
    body = json.loads(route.calls.last.request.content)
    assert body["clientRequest"]["storageConfig"]["accessKey"] == "ACCESS-KEY-CANARY"
    assert body["clientRequest"]["recordingConfig"] == {"channelType": 0, "maxIdleTime": 300}


async def test_update_update_layout_query_and_stop_use_their_routes(client: CloudRecordingClient) -> None:
    """update/updateLayout/stop are POSTs and query a GET, all under .../resourceid/<rid>/sid/<sid>/mode/<mode>/."""
    ok = {"resourceId": RID, "sid": SID}
    base = f"{PREFIX}/resourceid/{RID}/sid/{SID}"
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        update = router.post(f"{base}/mode/web/update").mock(return_value=json_response(200, ok))
        layout = router.post(f"{base}/mode/mix/updateLayout").mock(return_value=json_response(200, ok))
        query = router.get(f"{base}/mode/mix/query").mock(
            return_value=json_response(200, {**ok, "serverResponse": {"status": 5, "fileList": "a.m3u8"}})
        )
        stop = router.post(f"{base}/mode/mix/stop").mock(
            return_value=json_response(200, {**ok, "serverResponse": {"uploadingStatus": "uploaded"}})
        )
        await client.update(
            resource_id=RID,
            sid=SID,
            mode="web",
            cname="room1",
            uid="1",
            client_request=UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=True)),
        )
        await client.update_layout(
            resource_id=RID,
            sid=SID,
            cname="room1",
            uid="1",
            client_request=UpdateLayoutClientRequest(mixed_video_layout=1),
        )
        q = await client.query(resource_id=RID, sid=SID, mode="mix")
        s = await client.stop(resource_id=RID, sid=SID, mode="mix", cname="room1", uid="1", async_stop=True)
    assert json.loads(update.calls.last.request.content)["clientRequest"] == {"webRecordingConfig": {"onhold": True}}
    assert json.loads(layout.calls.last.request.content)["clientRequest"] == {"mixedVideoLayout": 1}
    assert query.calls.last.request.method == "GET"
    assert [f.filename for f in q.files] == ["a.m3u8"]
    assert json.loads(stop.calls.last.request.content)["clientRequest"] == {"async_stop": True}
    assert s.uploading_status == "uploaded"


async def test_path_segments_are_quoted(client: CloudRecordingClient) -> None:
    """A resourceId with reserved characters cannot change the route."""
    with respx.mock(assert_all_called=True) as router:
        route = router.get(url__regex=r".*/resourceid/a%2Fb%3Fc/sid/s/mode/mix/query$").mock(
            return_value=json_response(200, {"resourceId": "a/b?c", "sid": "s", "serverResponse": {}})
        )
        await client.query(resource_id="a/b?c", sid="s", mode="mix")
    assert route.called


async def test_invalid_input_sends_nothing(client: CloudRecordingClient) -> None:
    """Bad arguments raise InvalidRequestError before any request (respx would fail on an unmatched call)."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(InvalidRequestError, match="uid"):
            await client.acquire(cname="room1", uid="0")
        with pytest.raises(InvalidRequestError, match="cname"):
            await client.acquire(cname="x" * 64, uid="1")
        with pytest.raises(InvalidRequestError, match="mode"):
            await client.query(resource_id=RID, sid=SID, mode="composite")
        with pytest.raises(InvalidRequestError, match="updateLayout"):
            await client.update_layout(
                resource_id=RID,
                sid=SID,
                mode="individual",
                cname="c",
                uid="1",
                client_request=UpdateLayoutClientRequest(),
            )
        with pytest.raises(InvalidRequestError, match="subscribe_uid_group"):
            await client.start(resource_id=RID, mode="individual", cname="c", uid="1", client_request=mix_request())
    assert not route.called


def error_fixtures() -> list[tuple[str, str, int, dict[str, Any]]]:
    cases = []
    for path in sorted((FIXTURES / "errors").glob("*.json")):
        data = json.loads(path.read_text())
        endpoint = path.stem.split("__")[0]
        cases.append((path.stem, endpoint if endpoint != "general" else "query", data["status"], data["body"]))
    return cases


def expected_class(endpoint: str, status: int, code: int | None) -> type[Exception]:
    if status == 201 and code == 7:
        return AlreadyStartedError
    if status == 206 and code == 65:
        return IncompleteRequestError
    if code == 49 and endpoint == "stop":
        return AlreadyStoppedError
    return {400: BadRequestError, 401: AuthenticationError, 404: NotFoundError, 429: RateLimitError}.get(
        status, ServerError if status >= 500 else APIStatusError
    )


async def call(client: CloudRecordingClient, endpoint: str) -> Any:
    common = {"resource_id": RID, "sid": SID, "cname": "room1", "uid": "1"}
    if endpoint == "acquire":
        return await client.acquire(cname="room1", uid="1", retries=0)
    if endpoint == "start":
        return await client.start(
            resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request(), retries=0
        )
    if endpoint == "update":
        request = UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=False))
        return await client.update(mode="web", client_request=request, retries=0, **common)
    if endpoint == "updateLayout":
        return await client.update_layout(client_request=UpdateLayoutClientRequest(), retries=0, **common)
    if endpoint == "query":
        return await client.query(resource_id=RID, sid=SID, mode="mix", retries=0)
    return await client.stop(mode="mix", retries=0, **common)


@pytest.mark.parametrize(("name", "endpoint", "status", "body"), error_fixtures(), ids=lambda x: str(x))
async def test_documented_error_bodies_map_to_typed_errors(
    client: CloudRecordingClient, name: str, endpoint: str, status: int, body: dict[str, Any]
) -> None:
    """Every documented error body (notes section 6) becomes its error class, with status, code and request id."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(return_value=json_response(status, body))
        if status == 206 and body.get("code") == 435:
            result = await call(client, endpoint)
            assert result.no_recorded_data is True
            assert result.files == ()
            return
        with pytest.raises(Exception) as info:  # noqa: PT011 - the class is asserted exactly below
            await call(client, endpoint)
    err = info.value
    assert type(err) is expected_class(endpoint, status, body.get("code")), name
    assert isinstance(err, APIStatusError)
    assert err.status_code == status
    assert err.code == body.get("code")
    assert err.reason == body.get("reason", body.get("message"))
    assert err.request_id == "req-1"
    assert err.endpoint == endpoint


async def test_code_433_is_resource_expired(client: CloudRecordingClient) -> None:
    """Agora's code 433 (resourceId older than five minutes) is ResourceExpiredError carrying the resourceId."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(return_value=json_response(400, {"code": 433, "reason": "resource expired"}))
        with pytest.raises(ResourceExpiredError) as info:
            await call(client, "start")
    assert info.value.resource_id == RID
    assert info.value.status_code == 400


async def test_html_error_page_from_a_proxy_is_a_server_error(client: CloudRecordingClient) -> None:
    """A non-JSON 503 body (an HTML page) is still a typed ServerError, with no code and no body in its text."""
    html = "<html><body>503 Service Unavailable</body></html>"
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(return_value=httpx.Response(503, text=html, headers={"content-type": "text/html"}))
        with pytest.raises(ServerError) as info:
            await client.query(resource_id=RID, sid=SID, mode="mix", retries=0)
    assert info.value.code is None
    assert "html" not in str(info.value).lower()


async def test_2xx_body_that_is_not_json_is_a_response_format_error(client: CloudRecordingClient) -> None:
    """A 200 whose body is not JSON (or misses the resourceId) raises ResponseFormatError, never KeyError."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(side_effect=[httpx.Response(200, text="OK"), json_response(200, {"rid": "x"})])
        with pytest.raises(ResponseFormatError, match="not a JSON object"):
            await client.acquire(cname="c", uid="1", retries=0)
        with pytest.raises(ResponseFormatError, match=r"\$\.resourceId") as info:
            await client.acquire(cname="c", uid="1", retries=0)
    assert info.value.status_code == 200


async def test_a_400_is_sent_once(client: CloudRecordingClient, limiter: RecordingLimiter) -> None:
    """Other 4xx answers are never retried."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(return_value=json_response(400, {"code": 2, "reason": "invalid parameter"}))
        with pytest.raises(BadRequestError):
            await client.acquire(cname="c", uid="1")
    assert route.call_count == 1
    assert limiter.acquired == 1


async def test_429_waits_retry_after_and_holds_the_limiter(
    client: CloudRecordingClient, limiter: RecordingLimiter, sleeps: Sleeps
) -> None:
    """A 429 waits Retry-After, tells the limiter (to hold everyone back), and every attempt takes a permit."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(
            side_effect=[
                json_response(429, {"message": "API rate limit exceeded"}, **{"Retry-After": "2"}),
                json_response(429, {"message": "API rate limit exceeded"}),
                json_response(200, {"resourceId": RID}),
            ]
        )
        result = await client.acquire(cname="c", uid="1")
    assert result.resource_id == RID
    assert route.call_count == 3
    assert limiter.rate_limited == [2.0, None]
    assert sleeps.delays == [2.0, 3.0]
    assert limiter.acquired == 3


async def test_429_after_the_last_retry_raises_rate_limit_error(client: CloudRecordingClient) -> None:
    """When retries run out, the 429 surfaces as RateLimitError with retry_after."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(
            return_value=json_response(429, {"message": "API rate limit exceeded"}, **{"Retry-After": "1"})
        )
        with pytest.raises(RateLimitError) as info:
            await client.acquire(cname="c", uid="1")
    assert info.value.retry_after == 1.0
    assert info.value.reason == "API rate limit exceeded"


async def test_code_65_and_5xx_are_retried_with_agoras_schedule(client: CloudRecordingClient, sleeps: Sleeps) -> None:
    """start: 206/65 then 500/62 are retried after 3 s and 6 s, with the same body each time."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(
            side_effect=[
                json_response(206, {"code": 65, "reason": "request not completed"}),
                json_response(500, {"code": 62, "reason": "request timeout"}),
                json_response(200, {"resourceId": RID, "sid": SID}),
            ]
        )
        result = await client.start(resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request())
    assert result.sid == SID
    assert sleeps.delays == [3.0, 6.0]
    bodies = {call_.request.content for call_ in route.calls}
    assert len(bodies) == 1


async def test_start_timeout_then_code_7_is_start_outcome_unknown(client: CloudRecordingClient) -> None:
    """A start whose answer was lost is resent; code 7 then means a recording runs whose sid we never saw."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(
            side_effect=[httpx.ReadTimeout("lost"), json_response(201, {"code": 7, "reason": "already started"})]
        )
        with pytest.raises(StartOutcomeUnknownError) as info:
            await client.start(resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request())
    assert route.call_count == 2
    assert info.value.resource_id == RID
    assert "sid was never received" in str(info.value)
    assert isinstance(info.value, AlreadyStartedError)


async def test_first_start_answering_code_7_is_already_started(client: CloudRecordingClient) -> None:
    """Code 7 on the first attempt is AlreadyStartedError (not the unknown-outcome error)."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(return_value=json_response(201, {"code": 7, "reason": "already started"}))
        with pytest.raises(AlreadyStartedError) as info:
            await client.start(resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request())
    assert type(info.value) is AlreadyStartedError


async def test_start_timeouts_exhausted_raise_api_timeout_error(client: CloudRecordingClient, sleeps: Sleeps) -> None:
    """Four lost answers: APITimeoutError says the recording may have started; waits were 3, 6, 9 s."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(side_effect=httpx.ReadTimeout("lost"))
        with pytest.raises(APITimeoutError, match="may have started"):
            await client.start(resource_id=RID, mode="mix", cname="room1", uid="1", client_request=mix_request())
    assert sleeps.delays == [3.0, 6.0, 9.0]


async def test_worker_not_found_on_query_is_retried_then_raised(client: CloudRecordingClient, sleeps: Sleeps) -> None:
    """query: 404 "failed to find worker" may be a failover; retried 5/10/15/30/30 s (Agora's 90 s window, not
    max_retries), then NotFoundError."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(return_value=json_response(404, {"code": 404, "reason": "failed to find worker"}))
        with pytest.raises(NotFoundError) as info:
            await client.query(resource_id=RID, sid=SID, mode="mix")
    assert info.value.worker_not_found
    assert route.call_count == 6
    assert sleeps.delays == [5.0, 10.0, 15.0, 30.0, 30.0]


async def test_connect_error_is_retried_then_raised(client: CloudRecordingClient, sleeps: Sleeps) -> None:
    """Connection failures are retried on every endpoint, then APIConnectionError (not a timeout)."""
    with respx.mock(assert_all_called=True) as router:
        route = router.route().mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(APIConnectionError) as info:
            await client.update_layout(
                resource_id=RID, sid=SID, cname="c", uid="1", client_request=UpdateLayoutClientRequest()
            )
    assert not isinstance(info.value, APITimeoutError)
    assert route.call_count == 4
    assert sleeps.delays == [1.0, 3.0, 6.0]


async def test_dns_failures_fail_over_through_agoras_domains(limiter: RecordingLimiter, sleeps: Sleeps) -> None:
    """DNS failures: api.agora.io twice, api.sd-rtn.com, then the adjacent region domain."""
    hosts: list[str] = []

    def fail(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    async with CloudRecordingClient(
        APP, "cid", SECRET, failover_region="eu-central-1", rate_limiter=limiter, sleep=sleeps,
        retry=RetryPolicy(max_retries=4, jitter=0.0),
    ) as client:  # fmt: skip
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(side_effect=fail)
            with pytest.raises(APIConnectionError, match="dns"):
                await client.acquire(cname="c", uid="1")
    assert hosts == [
        "api.agora.io",
        "api.agora.io",
        "api.sd-rtn.com",
        "api-eu-west-1.agora.io",
        "api-eu-west-1.sd-rtn.com",
    ]


async def test_network_failures_skip_the_alternate_primary(limiter: RecordingLimiter, sleeps: Sleeps) -> None:
    """A network error that is not DNS skips api.sd-rtn.com and goes to the adjacent region."""
    hosts: list[str] = []

    def fail(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        raise httpx.ConnectError("connection refused") from OSError(111, "refused")

    async with CloudRecordingClient(
        APP, "cid", SECRET, failover_region="us-west-1", rate_limiter=limiter, sleep=sleeps,
        retry=RetryPolicy(jitter=0.0),
    ) as client:  # fmt: skip
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(side_effect=fail)
            with pytest.raises(APIConnectionError):
                await client.acquire(cname="c", uid="1")
    assert hosts == ["api.agora.io", "api.agora.io", "api-us-east-1.agora.io", "api-us-east-1.sd-rtn.com"]


async def test_dns_failure_is_recognised_from_a_gaierror_cause(limiter: RecordingLimiter, sleeps: Sleeps) -> None:
    """socket.gaierror anywhere in the cause chain counts as a DNS failure (as httpcore raises it)."""
    hosts: list[str] = []

    class Unresolvable(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            hosts.append(request.url.host)
            raise httpx.ConnectError("failed") from socket.gaierror(-3, "resolution failed")

    async with CloudRecordingClient(
        APP, "cid", SECRET, primary_domain="api.sd-rtn.com", transport=Unresolvable(), rate_limiter=limiter,
        sleep=sleeps, retry=RetryPolicy(max_retries=2, jitter=0.0),
    ) as client:  # fmt: skip
        with pytest.raises(APIConnectionError):
            await client.acquire(cname="c", uid="1")
    assert hosts == ["api.sd-rtn.com", "api.sd-rtn.com", "api.agora.io"]


async def test_base_url_pins_one_host(limiter: RecordingLimiter, sleeps: Sleeps) -> None:
    """With base_url every attempt goes to that host, failures included."""
    hosts: list[str] = []

    def fail(request: httpx.Request) -> httpx.Response:
        hosts.append(str(request.url.copy_with(path="/")))
        raise httpx.ConnectError("Name or service not known")

    async with CloudRecordingClient(
        APP, "cid", SECRET, base_url="http://127.0.0.1:9/proxy/", rate_limiter=limiter, sleep=sleeps
    ) as client:
        with respx.mock(assert_all_called=True) as router:
            route = router.route().mock(side_effect=fail)
            with pytest.raises(APIConnectionError):
                await client.acquire(cname="c", uid="1")
    assert set(hosts) == {"http://127.0.0.1:9/"}
    assert route.calls.last.request.url.path == f"/proxy{PREFIX}/acquire"


async def test_stop_206_435_is_a_successful_stop_with_no_data(client: CloudRecordingClient) -> None:
    """206 code 435 on stop: the recording stopped, nobody sent a stream; a flag, not an exception."""
    with respx.mock(assert_all_called=True) as router:
        router.route().mock(return_value=json_response(206, {"code": 435, "reason": "no recorded data"}))
        result = await client.stop(resource_id=RID, sid=SID, mode="individual", cname="c", uid="1")
    assert result.no_recorded_data
    assert (result.resource_id, result.sid) == (RID, SID)


async def test_cancelled_backoff_leaves_the_client_usable(limiter: RecordingLimiter) -> None:
    """Cancelling a call while it waits to retry ends it; the next call on the same client works."""
    waiting = anyio.Event()

    async def slow_sleep(seconds: float) -> None:
        waiting.set()
        await anyio.sleep_forever()

    async with CloudRecordingClient(APP, "cid", SECRET, rate_limiter=limiter, sleep=slow_sleep) as client:
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                side_effect=[json_response(500, {"code": 500, "reason": "x"}), json_response(200, {"resourceId": RID})]
            )
            async with anyio.create_task_group() as tg:

                async def doomed() -> None:
                    await client.acquire(cname="c", uid="1")

                tg.start_soon(doomed)
                await waiting.wait()
                tg.cancel_scope.cancel()
            result = await client.acquire(cname="c", uid="1")
    assert result.resource_id == RID


async def test_cancelled_request_leaves_the_client_usable(limiter: RecordingLimiter) -> None:
    """Cancelling a call while its request is in flight frees its in-flight slot; later calls work."""
    in_flight = anyio.Event()

    class Hanging(httpx.AsyncBaseTransport):
        calls = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            Hanging.calls += 1
            if Hanging.calls == 1:
                in_flight.set()
                await anyio.sleep_forever()
            return json_response(200, {"resourceId": RID})

    async with CloudRecordingClient(
        APP, "cid", SECRET, transport=Hanging(), rate_limiter=limiter, max_in_flight=1
    ) as client:
        with anyio.move_on_after(5) as scope:
            async with anyio.create_task_group() as tg:

                async def doomed() -> None:
                    await client.acquire(cname="c", uid="1")

                tg.start_soon(doomed)
                await in_flight.wait()
                tg.cancel_scope.cancel()
            result = await client.acquire(cname="c", uid="1")
    assert not scope.cancelled_caught
    assert result.resource_id == RID


async def test_closed_client_refuses_calls_and_caller_http_client_stays_open() -> None:
    """The client closes what it created, never a caller-supplied httpx.AsyncClient."""
    async with httpx.AsyncClient() as http:
        async with CloudRecordingClient(APP, "cid", SECRET, http_client=http, rate_limiter=Unlimited()) as client:
            pass
        assert not http.is_closed
        with pytest.raises(APIConnectionError, match="closed"):
            await client.query(resource_id=RID, sid=SID, mode="mix")
    own = CloudRecordingClient(APP, "cid", SECRET, rate_limiter=Unlimited())
    await own.aclose()
    assert own._http.is_closed


async def test_default_limiter_is_shared_per_customer_id() -> None:
    """Two clients with the same Customer ID share one limiter; another Customer ID gets its own."""
    a = CloudRecordingClient(APP, "shared-cid", SECRET)
    b = CloudRecordingClient("other-app", "shared-cid", "other-secret")
    c = CloudRecordingClient(APP, "other-cid", SECRET)
    try:
        assert a.rate_limiter is b.rate_limiter
        assert a.rate_limiter is not c.rate_limiter
    finally:
        for x in (a, b, c):
            await x.aclose()


async def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture, sleeps: Sleeps) -> None:
    """Canary: secret, storage keys and token appear in no log record, repr or str(error), at DEBUG level."""
    caplog.set_level(logging.DEBUG, logger="agora_recording")
    canaries = [SECRET, "ACCESS-KEY-CANARY", "SECRET-KEY-CANARY", "RTC-TOKEN-CANARY", "CUSTOMER-ID-CANARY"]
    texts: list[str] = []
    async with CloudRecordingClient(
        APP, "CUSTOMER-ID-CANARY", SECRET, rate_limiter=Unlimited(), sleep=sleeps, retry=RetryPolicy(jitter=0)
    ) as client:
        texts.append(repr(client))
        request = mix_request()
        texts.append(repr(request))
        with respx.mock(assert_all_called=True) as router:
            router.route().mock(
                side_effect=[
                    httpx.ConnectError("refused"),
                    json_response(200, {"resourceId": RID, "sid": SID}),
                    json_response(400, {"code": 2, "reason": "invalid parameter"}),
                    httpx.ReadTimeout("t"),
                    httpx.ReadTimeout("t"),
                    httpx.ReadTimeout("t"),
                    httpx.ReadTimeout("t"),
                ]
            )
            await client.start(resource_id=RID, mode="mix", cname="c", uid="1", client_request=request)
            for _ in range(2):
                try:
                    await client.start(resource_id=RID, mode="mix", cname="c", uid="1", client_request=request)
                except APIStatusError as exc:
                    texts += [str(exc), repr(exc)]
                except APIConnectionError as exc:
                    texts += [str(exc), repr(exc)]
    texts += [r.getMessage() for r in caplog.records]
    assert any("attempt=" in t for t in texts)  # the log did record the calls
    for canary in canaries:
        assert not any(canary in t for t in texts), canary
