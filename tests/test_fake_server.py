"""FakeAgoraServer pins Agora's documented wire behaviour, driven by plain httpx (in-process and over TCP).

Every test moves the fake's clock instead of sleeping; every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from anyio.abc import SocketAttribute

from agora_recording.testing import (
    FakeAgoraServer,
    FakeStats,
    FakeTimings,
    InjectedNetworkFault,
    VirtualClock,
    run_fake_server_cli,
)

pytestmark = pytest.mark.anyio

UID = "527841"
CNAME = "httpClient463224"
STORAGE = {"vendor": 2, "region": 3, "bucket": "bucket", "accessKey": "AK-canary", "secretKey": "SK-canary"}
SID_RE = re.compile(r"[0-9a-f]{32}")


class FakeTime:
    """A tiny manual clock: callable like time.monotonic, moved by advance()."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def mix_request(**extra: Any) -> dict[str, Any]:
    return {"recordingConfig": {"channelType": 0, "maxIdleTime": 30}, "storageConfig": dict(STORAGE), **extra}


def individual_request(**extra: Any) -> dict[str, Any]:
    return {
        "recordingConfig": {
            "subscribeUidGroup": 0,
            "subscribeAudioUids": ["123", "456"],
            "subscribeVideoUids": ["123"],
        },
        "storageConfig": dict(STORAGE),
        **extra,
    }


def web_request(*, rtmp: bool = False, onhold: bool = False) -> dict[str, Any]:
    services: list[dict[str, Any]] = [
        {
            "serviceName": "web_recorder_service",
            "errorHandlePolicy": "error_abort",
            "serviceParam": {
                "url": "https://example.com/page",
                "audioProfile": 0,
                "videoWidth": 1280,
                "videoHeight": 720,
                "maxRecordingHour": 1,
                "onhold": onhold,
            },
        }
    ]
    if rtmp:
        services.append(
            {"serviceName": "rtmp_publish_service", "serviceParam": {"outputs": [{"rtmpUrl": "rtmp://cdn/live/1"}]}}
        )
    return {"extensionServiceConfig": {"extensionServices": services}, "storageConfig": dict(STORAGE)}


REQUESTS = {"mix": mix_request, "individual": individual_request, "web": web_request}


class Api:
    """Plain-httpx calls to the six endpoints, answering raw httpx responses."""

    def __init__(self, http: httpx.AsyncClient, fake: FakeAgoraServer) -> None:
        self.http = http
        self.fake = fake
        self.base = f"/v1/apps/{fake.app_id}/cloud_recording"

    async def acquire(
        self, cname: str = CNAME, uid: str = UID, client_request: dict[str, Any] | None = None, *, scene: int = 0
    ) -> httpx.Response:
        request = {"scene": scene} if client_request is None else client_request
        return await self.http.post(f"{self.base}/acquire", json={"cname": cname, "uid": uid, "clientRequest": request})

    async def start(
        self,
        rid: str,
        mode: str = "mix",
        client_request: dict[str, Any] | None = None,
        *,
        cname: str = CNAME,
        uid: str = UID,
    ) -> httpx.Response:
        request = REQUESTS[mode]() if client_request is None else client_request
        body = {"cname": cname, "uid": uid, "clientRequest": request}
        return await self.http.post(f"{self.base}/resourceid/{rid}/mode/{mode}/start", json=body)

    async def call(
        self,
        op: str,
        rid: str,
        sid: str,
        mode: str = "mix",
        client_request: dict[str, Any] | None = None,
        *,
        cname: str = CNAME,
        uid: str = UID,
    ) -> httpx.Response:
        url = f"{self.base}/resourceid/{rid}/sid/{sid}/mode/{mode}/{op}"
        if op == "query":
            return await self.http.get(url)
        body = {"cname": cname, "uid": uid, "clientRequest": {} if client_request is None else client_request}
        return await self.http.post(url, json=body)

    async def query(self, rid: str, sid: str, mode: str = "mix") -> httpx.Response:
        return await self.call("query", rid, sid, mode)

    async def stop(self, rid: str, sid: str, mode: str = "mix", **kwargs: Any) -> httpx.Response:
        return await self.call("stop", rid, sid, mode, **kwargs)

    async def session(
        self, mode: str = "mix", client_request: dict[str, Any] | None = None, *, cname: str = CNAME, uid: str = UID
    ) -> tuple[str, str]:
        acquired = await self.acquire(cname, uid, scene=1 if mode == "web" else 0)
        assert acquired.status_code == 200, acquired.text
        rid = acquired.json()["resourceId"]
        started = await self.start(rid, mode, client_request, cname=cname, uid=uid)
        assert started.status_code == 200, started.text
        return rid, started.json()["sid"]


@asynccontextmanager
async def api_for(fake: FakeAgoraServer, base_url: str | None = None, **client_kwargs: Any) -> AsyncIterator[Api]:
    """An Api over the in-process transport, or over TCP when ``base_url`` is given."""
    headers = {"Authorization": fake.authorization}
    if base_url is None:
        client = httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url, headers=headers)
    else:
        client = httpx.AsyncClient(base_url=base_url, headers=headers, trust_env=False, **client_kwargs)
    async with client as http:
        yield Api(http, fake)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def fake(clock: FakeTime) -> FakeAgoraServer:
    return FakeAgoraServer(clock=clock)


@pytest.fixture
async def api(fake: FakeAgoraServer) -> AsyncIterator[Api]:
    async with api_for(fake) as client:
        yield client


# ------------------------------------------------------------------------------------------------ gateway


async def test_unknown_route_or_wrong_method_answers_gateway_404(api: Api) -> None:
    """A wrong URL or HTTP method gets Kong's 404 {"message":"no Route matched with those values"}."""
    wrong = [
        ("GET", f"{api.base}/acquire"),
        ("POST", "/v1/apps/x/cloud_recording/nothing"),
        ("POST", f"{api.base}/resourceid/r/sid/s/mode/mix/query"),
        ("GET", f"{api.base}/resourceid/r/sid/s/mode/mix/stop"),
        ("POST", f"{api.base}/Acquire"),
        ("POST", "/v2/apps/x/cloud_recording/acquire"),
    ]
    for method, url in wrong:
        response = await api.http.request(method, url, json={})
        assert response.status_code == 404
        assert response.json() == {"message": "no Route matched with those values"}


async def test_missing_authorization_answers_401_unauthorized(fake: FakeAgoraServer) -> None:
    """No Authorization header: 401 {"message":"Unauthorized"}."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        response = await http.post(f"/v1/apps/{fake.app_id}/cloud_recording/acquire", json={})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


@pytest.mark.parametrize(
    "value",
    [
        "Basic " + base64.b64encode(b"c0ffee00c0ffee00c0ffee00c0ffee00:wrong").decode(),
        "Bearer token",
        "Basic !!!not-base64",
        "",
    ],
)
async def test_wrong_credentials_answer_401_invalid_credentials(fake: FakeAgoraServer, value: str) -> None:
    """A wrong secret, another scheme or garbage: 401 {"message":"Invalid authentication credentials"}."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        response = await http.post(
            f"/v1/apps/{fake.app_id}/cloud_recording/acquire", json={}, headers={"Authorization": value}
        )
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid authentication credentials"}


async def test_basic_scheme_is_case_insensitive(fake: FakeAgoraServer, api: Api) -> None:
    """'basic <token>' authenticates like 'Basic <token>'."""
    value = "basic " + fake.authorization.split(" ", 1)[1]
    response = await api.http.post(
        f"{api.base}/acquire",
        json={"cname": CNAME, "uid": UID, "clientRequest": {}},
        headers={"Authorization": value},
    )
    assert response.status_code == 200


async def test_unknown_and_disabled_app_ids_and_extra_app_ids(clock: FakeTime) -> None:
    """An App ID the account lacks: 401 "Invalid authentication credentials" (the credentials are not allowed for
    it); one without Cloud Recording enabled: 400 "appid is invalid"; app_ids= and add_app() add more."""
    fake = FakeAgoraServer(clock=clock, app_ids=["second"])
    fake.add_app("third")
    fake.add_app("disabled", cloud_recording=False)
    assert fake.app_ids == (fake.app_id, "second", "third", "disabled")
    body = {"cname": CNAME, "uid": UID, "clientRequest": {}}
    async with api_for(fake) as api:
        unknown = await api.http.post("/v1/apps/nope/cloud_recording/acquire", json=body)
        assert unknown.status_code == 401
        assert unknown.json() == {"message": "Invalid authentication credentials"}
        disabled = await api.http.post("/v1/apps/disabled/cloud_recording/acquire", json=body)
        assert disabled.status_code == 400
        assert disabled.json() == {"message": "appid is invalid"}
        for app in ("second", "third"):
            assert (await api.http.post(f"/v1/apps/{app}/cloud_recording/acquire", json=body)).status_code == 200


async def test_every_answer_has_a_unique_request_id_and_json_content_type(api: Api) -> None:
    """X-Request-Id is present and unique on successes and errors alike; the content type is JSON."""
    responses = [
        await api.acquire(),
        await api.http.get("/nowhere"),
        await api.acquire(uid="0"),
        await api.http.post(f"{api.base}/acquire", json={}, headers={"Authorization": "Basic x"}),
    ]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert all(r.headers["content-type"].startswith("application/json") for r in responses)


async def test_post_without_json_content_type_answers_code_8(api: Api) -> None:
    """A POST whose Content-Type is not application/json: 400 code 8 (charset parameters are fine)."""
    body = json.dumps({"cname": CNAME, "uid": UID, "clientRequest": {}})
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        response = await api.http.post(f"{api.base}/acquire", content=body, headers={"Content-Type": ctype})
        assert response.status_code == 400
        assert response.json()["code"] == 8
    ok = await api.http.post(
        f"{api.base}/acquire", content=body, headers={"Content-Type": "application/json;charset=utf-8"}
    )
    assert ok.status_code == 200


async def test_invalid_json_answers_code_8_and_non_object_code_2(api: Api) -> None:
    """Agora's error 8 covers 'the request is not valid JSON'; valid JSON that is not an object is code 2."""
    headers = {"Content-Type": "application/json"}
    broken = await api.http.post(f"{api.base}/acquire", content=b'{"cname": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["code"] == 8
    array = await api.http.post(f"{api.base}/acquire", content=b"[1, 2]", headers=headers)
    assert array.status_code == 400
    assert array.json()["code"] == 2


@pytest.mark.parametrize("uid", ["0", "abc", "4294967296", "-1", "01", " 1", "1.5", "", 123, None])
async def test_invalid_uid_answers_code_2(api: Api, uid: Any) -> None:
    """uid must be a string holding an integer in 1..2**32-1: anything else is 400 code 2."""
    response = await api.http.post(f"{api.base}/acquire", json={"cname": CNAME, "uid": uid, "clientRequest": {}})
    assert response.status_code == 400
    assert response.json()["code"] == 2


@pytest.mark.parametrize("body", [{"uid": UID, "clientRequest": {}}, {"cname": "", "uid": UID, "clientRequest": {}}])
async def test_missing_cname_answers_code_2(api: Api, body: dict[str, Any]) -> None:
    """A missing or empty cname is 400 code 2."""
    response = await api.http.post(f"{api.base}/acquire", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 2


async def test_uid_bounds_are_inclusive(api: Api) -> None:
    """uid "1" and "4294967295" are the documented bounds and are accepted."""
    assert (await api.acquire(uid="1")).status_code == 200
    assert (await api.acquire(uid="4294967295")).status_code == 200


# ------------------------------------------------------------------------------------------------ acquire


async def test_acquire_answers_cname_uid_and_a_statelessly_decodable_resource_id(
    fake: FakeAgoraServer, api: Api
) -> None:
    """acquire answers {"cname","uid","resourceId"}; the resourceId encodes appid, cname, uid and issue time."""
    response = await api.acquire()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"cname", "uid", "resourceId"}
    assert (body["cname"], body["uid"]) == (CNAME, UID)
    payload = body["resourceId"].rsplit(".", 1)[0]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (decoded["a"], decoded["c"], decoded["u"], decoded["t"]) == (fake.app_id, CNAME, UID, 1000.0)
    second = await api.acquire()
    assert second.json()["resourceId"] != body["resourceId"]  # a nonce makes every resourceId unique


@pytest.mark.parametrize("hours", [0, 721, "24", 1.5, True])
async def test_acquire_rejects_resource_expired_hour_outside_1_to_720(api: Api, hours: Any) -> None:
    """resourceExpiredHour outside [1, 720] gives the documented 400 body."""
    response = await api.acquire(client_request={"resourceExpiredHour": hours})
    assert response.status_code == 400
    assert response.json() == {"code": 2, "reason": "Acquire: invalid resourceExpiredHour value!"}


async def test_acquire_accepts_documented_client_request_fields(api: Api) -> None:
    """resourceExpiredHour 1 and 720, region, excludeResourceIds, startParameter and scene 1 are accepted."""
    for request in (
        {"resourceExpiredHour": 1},
        {"resourceExpiredHour": 720, "region": "EU"},
        {"excludeResourceIds": ["abc"], "startParameter": {"storageConfig": STORAGE}},
        {"scene": 1},
    ):
        assert (await api.acquire(client_request=request)).status_code == 200, request


@pytest.mark.parametrize(
    "request_", [{"scene": 2}, {"region": "MARS"}, {"excludeResourceIds": "abc"}, {"startParameter": []}]
)
async def test_acquire_rejects_invalid_client_request_fields(api: Api, request_: dict[str, Any]) -> None:
    """An unknown scene or region, or a mistyped excludeResourceIds/startParameter: 400 code 2."""
    response = await api.acquire(client_request=request_)
    assert response.status_code == 400
    assert response.json()["code"] == 2


async def test_acquire_rejects_invalid_channel_name_unless_web(api: Api) -> None:
    """Characters outside Agora's channel-name set: 400 code 401 invalid_channel_name (a web cname is a label)."""
    bad = await api.acquire(cname="room/with*stars")
    assert bad.status_code == 400
    assert bad.json() == {"code": 401, "reason": "invalid_channel_name"}
    assert (await api.acquire(cname="x" * 65)).json()["code"] == 401
    assert (await api.acquire(cname="room/with*stars", scene=1)).status_code == 200


# ---------------------------------------------------------------------------------------- resource ids, start


async def test_start_answers_cname_uid_resource_id_and_32_hex_sid(api: Api) -> None:
    """start answers 200 {"cname","uid","resourceId","sid"} with a 32-hex-digit sid."""
    rid = (await api.acquire()).json()["resourceId"]
    response = await api.start(rid)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"cname", "uid", "resourceId", "sid"}
    assert (body["cname"], body["uid"], body["resourceId"]) == (CNAME, UID, rid)
    assert SID_RE.fullmatch(body["sid"])


async def test_start_after_300_seconds_answers_433(api: Api, clock: FakeTime) -> None:
    """A resourceId is valid 300 s on the fake's clock; at 299.5 s it works, at 300 s it is 400 code 433."""
    late = (await api.acquire(cname="late")).json()["resourceId"]
    in_time = (await api.acquire(cname="early")).json()["resourceId"]
    clock.advance(299.5)
    assert (await api.start(in_time, cname="early")).status_code == 200
    clock.advance(0.5)
    response = await api.start(late, cname="late")
    assert response.status_code == 400
    assert response.json()["code"] == 433


async def test_second_start_with_same_resource_id_answers_201_code_7(api: Api) -> None:
    """A resourceId starts at most one recording: a resend answers 201 {"code":7,"reason":"already started"}."""
    rid = (await api.acquire()).json()["resourceId"]
    assert (await api.start(rid)).status_code == 200
    again = await api.start(rid)
    assert again.status_code == 201
    assert again.json() == {"code": 7, "reason": "already started"}


@pytest.mark.parametrize("field", ["cname", "uid", "appid"])
async def test_start_with_parameters_not_matching_the_resource_id_answers_432(
    fake: FakeAgoraServer, api: Api, field: str
) -> None:
    """A resourceId is bound to its App ID, cname and uid: any mismatch is 400 code 432."""
    fake.add_app("other-app")
    rid = (await api.acquire()).json()["resourceId"]
    if field == "appid":
        body = {"cname": CNAME, "uid": UID, "clientRequest": mix_request()}
        response = await api.http.post(f"/v1/apps/other-app/cloud_recording/resourceid/{rid}/mode/mix/start", json=body)
    else:
        identity = {"cname": CNAME, "uid": UID, field: "99" if field == "uid" else "other"}
        response = await api.start(rid, cname=identity["cname"], uid=identity["uid"])
    assert response.status_code == 400
    assert response.json()["code"] == 432


@pytest.mark.parametrize("rid", ["garbage", "a.b", "eyJhIjoxfQ.AAAA", "%%%"])
async def test_start_with_undecodable_or_forged_resource_id_answers_1001(api: Api, rid: str) -> None:
    """A resourceId the fake did not sign (or cannot decode) is 400 code 1001."""
    response = await api.start(rid)
    assert response.status_code == 400
    assert response.json()["code"] == 1001


async def test_resource_id_from_another_fake_seed_is_rejected(clock: FakeTime) -> None:
    """resourceIds are signed with a key derived from the seed: another fake's ids answer 1001."""
    other = FakeAgoraServer(clock=clock, seed=99)
    async with api_for(other) as other_api:
        rid = (await other_api.acquire()).json()["resourceId"]
    async with api_for(FakeAgoraServer(clock=clock)) as api:
        assert (await api.start(rid)).json()["code"] == 1001


async def test_start_mode_must_match_acquire_scene(api: Api) -> None:
    """Web recording needs an acquire with scene 1, and a scene-1 resourceId cannot start mix: 400 code 432."""
    plain = (await api.acquire()).json()["resourceId"]
    assert (await api.start(plain, "web")).json()["code"] == 432
    web = (await api.acquire(scene=1)).json()["resourceId"]
    assert (await api.start(web, "mix")).json()["code"] == 432
    assert (await api.start(web, "web")).status_code == 200


async def test_start_with_unknown_mode_answers_code_2(api: Api) -> None:
    """The mode path parameter takes individual, mix or web only."""
    rid = (await api.acquire()).json()["resourceId"]
    body = {"cname": CNAME, "uid": UID, "clientRequest": mix_request()}
    response = await api.http.post(f"{api.base}/resourceid/{rid}/mode/composite/start", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 2


def _without(request: dict[str, Any], *path: Any) -> dict[str, Any]:
    target = request
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return request


INVALID_STARTS: list[tuple[str, Any]] = [
    ("mix", lambda: _without(mix_request(), "storageConfig")),
    ("mix", lambda: _without(mix_request(), "recordingConfig")),
    ("mix", lambda: _without(mix_request(), "storageConfig", "bucket")),
    ("mix", lambda: _without(mix_request(), "storageConfig", "accessKey")),
    ("mix", lambda: _without(mix_request(), "storageConfig", "secretKey")),
    ("mix", lambda: _without(mix_request(), "storageConfig", "region")),
    ("mix", lambda: {**mix_request(), "storageConfig": {**STORAGE, "vendor": 9}}),
    ("mix", lambda: {**mix_request(), "storageConfig": {**STORAGE, "fileNamePrefix": ["a/b"]}}),
    ("mix", lambda: mix_request(snapshotConfig={"fileType": ["jpg"]})),
    ("mix", lambda: mix_request(recordingFileConfig={"avFileType": ["mp4"]})),
    ("mix", lambda: {**mix_request(), "recordingConfig": {"maxIdleTime": 4}}),
    ("mix", lambda: {**mix_request(), "recordingConfig": {"subscribeAudioUids": ["1"], "unSubscribeAudioUids": ["2"]}}),
    ("mix", lambda: {**mix_request(), "recordingConfig": {"subscribeVideoUids": [str(i) for i in range(1, 34)]}}),
    ("mix", lambda: {**mix_request(), "recordingConfig": {"transcodingConfig": {"width": 1920, "height": 1920}}}),
    ("mix", lambda: {**web_request(), "recordingConfig": {}}),
    ("individual", lambda: _without(individual_request(), "recordingConfig", "subscribeUidGroup")),
    (
        "individual",
        lambda: individual_request(recordingFileConfig={"avFileType": ["hls"]}, snapshotConfig={"fileType": ["jpg"]}),
    ),
    ("individual", lambda: individual_request(snapshotConfig={"fileType": ["png"]})),
    ("individual", lambda: {**individual_request(), "recordingConfig": {"subscribeUidGroup": 0, "audioProfile": 1}}),
    ("web", lambda: _without(web_request(), "extensionServiceConfig")),
    ("web", lambda: {**web_request(), "extensionServiceConfig": {"extensionServices": []}}),
    (
        "web",
        lambda: {
            **web_request(),
            "extensionServiceConfig": {
                "extensionServices": [{"serviceName": "rtmp_publish_service", "serviceParam": {"outputs": []}}]
            },
        },
    ),
    ("web", lambda: _without(web_request(), "extensionServiceConfig", "extensionServices", 0, "serviceParam", "url")),
    ("web", lambda: _without(web_request(), "storageConfig")),
]


@pytest.mark.parametrize(("mode", "make"), INVALID_STARTS)
async def test_start_validates_the_essentials_of_each_mode_with_code_2(api: Api, mode: str, make: Any) -> None:
    """Missing storage fields, snapshot rules, web services, subscribeUidGroup...: 400 code 2, nothing starts."""
    acquired = await api.acquire(scene=1 if mode == "web" else 0)
    response = await api.start(acquired.json()["resourceId"], mode, make())
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 2
    assert api.fake.stats.recordings_started == 0


async def test_start_refuses_snapshot_individual_without_subscribe_uid_group(api: Api) -> None:
    """Individual mode needs subscribeUidGroup for screenshots too ("You must set this parameter in individual
    mode"; Agora's snapshot example sets it): 400 code 2 naming it; with it, the same start works."""
    request = {
        "recordingConfig": {"streamTypes": 2},
        "snapshotConfig": {"captureInterval": 5, "fileType": ["jpg"]},
        "storageConfig": dict(STORAGE),
    }
    rid = (await api.acquire()).json()["resourceId"]
    refused = await api.start(rid, "individual", request)
    assert refused.status_code == 400
    assert refused.json()["code"] == 2
    assert "subscribeUidGroup" in refused.json()["reason"]
    request["recordingConfig"]["subscribeUidGroup"] = 0
    assert (await api.start(rid, "individual", request)).status_code == 200


async def test_same_cname_and_uid_recording_answers_53_task_conflict(api: Api) -> None:
    """A second task for the same App ID + cname + uid while one runs: 400 {"code":53,"reason":"task conflict"}."""
    rid, sid = await api.session()
    other = (await api.acquire()).json()["resourceId"]
    conflict = await api.start(other)
    assert conflict.status_code == 400
    assert conflict.json() == {"code": 53, "reason": "task conflict"}
    assert (await api.start((await api.acquire(uid="2")).json()["resourceId"], uid="2")).status_code == 200
    await api.stop(rid, sid)
    assert (await api.start(other)).status_code == 200  # once stopped, the cname/uid pair is free again


# ----------------------------------------------------------------------------------- startParameter, spelling


def decode_rid(rid: str) -> dict[str, Any]:
    payload = rid.rsplit(".", 1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order (canonical JSON ignores key order)."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


@pytest.mark.parametrize("mode", ["mix", "individual", "web"])
async def test_start_matching_the_acquire_start_parameter_starts(api: Api, mode: str) -> None:
    """A startParameter equal to start's clientRequest (keys in any order) starts normally."""
    start_request = REQUESTS[mode]()
    acquire_request = {"scene": 1 if mode == "web" else 0, "startParameter": start_request}
    acquired = await api.acquire(client_request=acquire_request)
    assert acquired.status_code == 200
    rid = acquired.json()["resourceId"]
    started = await api.start(rid, mode, reversed_keys(start_request))
    assert started.status_code == 200, started.text


async def test_start_not_matching_the_acquire_start_parameter_answers_request_hash_mismatch(api: Api) -> None:
    """A start clientRequest other than acquire's startParameter: 400 code 2 "request_hash mismatch".

    Nothing starts and the resourceId is not used up: a start that matches still works.
    """
    mp4 = {"avFileType": ["hls", "mp4"]}
    acquired = await api.acquire(client_request={"startParameter": mix_request(recordingFileConfig=mp4)})
    rid = acquired.json()["resourceId"]
    for request in (
        mix_request(recordingConfig={"channelType": 0, "maxIdleTime": 300}, recordingFileConfig=mp4),  # a value
        mix_request(recordingFileConfig={"avFileType": ["mp4", "hls"]}),  # list order counts
        mix_request(),  # a field left out
        mix_request(recordingFileConfig=mp4, token="t"),  # a field added
    ):
        response = await api.start(rid, "mix", request)
        assert response.status_code == 400, request
        assert response.json() == {"code": 2, "reason": "request_hash mismatch"}
    assert api.fake.stats.recordings_started == 0
    assert (await api.start(rid, "mix", mix_request(recordingFileConfig=mp4))).status_code == 200


async def test_start_without_a_start_parameter_is_not_compared(api: Api) -> None:
    """acquire without startParameter (or with an empty clientRequest): any valid start body starts."""
    for uid, acquire_request in (("1", {}), ("2", {"scene": 0, "region": "EU"})):
        rid = (await api.acquire(uid=uid, client_request=acquire_request)).json()["resourceId"]
        assert "p" not in decode_rid(rid)
        started = await api.start(rid, "mix", mix_request(recordingConfig={"maxIdleTime": 120}), uid=uid)
        assert started.status_code == 200, started.text


async def test_invalid_start_parameter_passes_acquire_and_fails_on_start(api: Api) -> None:
    """An invalid startParameter does not fail acquire; start reports it (invalid field, or the mismatch)."""
    invalid = {"recordingConfig": {"channelType": 0}, "storageConfig": {"vendor": 2}}
    acquired = await api.acquire(client_request={"startParameter": invalid})
    assert acquired.status_code == 200
    rid = acquired.json()["resourceId"]
    same = await api.start(rid, "mix", invalid)
    assert same.status_code == 400
    assert same.json()["code"] == 2
    assert "storageConfig" in same.json()["reason"]
    valid = await api.start(rid, "mix", mix_request())
    assert valid.json() == {"code": 2, "reason": "request_hash mismatch"}


async def test_start_parameter_digest_in_the_resource_id_hides_the_credentials(api: Api) -> None:
    """The resourceId carries a short keyed digest of startParameter, never the storage keys themselves."""
    rid = (await api.acquire(client_request={"startParameter": mix_request()})).json()["resourceId"]
    decoded = decode_rid(rid)
    assert isinstance(decoded["p"], str)
    assert 0 < len(decoded["p"]) <= 24
    text = json.dumps(decoded)
    for canary in ("AK-canary", "SK-canary", "storageConfig"):
        assert canary not in text


def blacklist_request(key: str) -> dict[str, Any]:
    request = individual_request()
    request["recordingConfig"] = {"subscribeUidGroup": 0, key: ["8"]}
    return request


@pytest.mark.parametrize("key", ["unsubscribeAudioUids", "unsubscribeVideoUids"])
async def test_strict_spelling_refuses_lowercase_blacklist_keys_on_start(clock: FakeTime, key: str) -> None:
    """strict_spelling=True: the lowercase key answers 400 code 2 naming it; Agora's unSubscribe... starts."""
    fake = FakeAgoraServer(clock=clock, strict_spelling=True)
    async with api_for(fake) as api:
        rid = (await api.acquire()).json()["resourceId"]
        refused = await api.start(rid, "individual", blacklist_request(key))
        assert refused.status_code == 400
        assert refused.json()["code"] == 2
        assert f"recordingConfig.{key}" in refused.json()["reason"]
        camel = key.replace("unsubscribe", "unSubscribe")
        assert (await api.start(rid, "individual", blacklist_request(camel))).status_code == 200


@pytest.mark.parametrize("key", ["unsubscribeAudioUids", "unsubscribeVideoUids", "unSubscribeVideoUids"])
async def test_lenient_spelling_by_default_accepts_both_blacklist_keys(api: Api, key: str) -> None:
    """By default (Agora's acceptance of the lowercase form is uncertain) both spellings start and update."""
    assert api.fake.strict_spelling is False
    rid, sid = await api.session("individual", blacklist_request(key))
    media = "audio" if "Audio" in key else "video"
    update = {"streamSubscribe": {f"{media}UidList": {key: ["9"]}}}
    assert (await api.call("update", rid, sid, "individual", update)).status_code == 200


async def test_strict_spelling_refuses_lowercase_blacklist_keys_in_update(clock: FakeTime) -> None:
    """strict_spelling=True also checks update's streamSubscribe lists; the update changes nothing."""
    fake = FakeAgoraServer(clock=clock, strict_spelling=True)
    async with api_for(fake) as api:
        rid, sid = await api.session("individual")
        for media in ("Audio", "Video"):
            lowercase = {"streamSubscribe": {f"{media.lower()}UidList": {f"unsubscribe{media}Uids": ["123"]}}}
            refused = await api.call("update", rid, sid, "individual", lowercase)
            assert refused.status_code == 400
            assert refused.json()["code"] == 2
            assert f"streamSubscribe.{media.lower()}UidList.unsubscribe{media}Uids" in refused.json()["reason"]
            camel = {"streamSubscribe": {f"{media.lower()}UidList": {f"unSubscribe{media}Uids": ["123"]}}}
            assert (await api.call("update", rid, sid, "individual", camel)).status_code == 200
        info = fake.recording(sid)
        assert info is not None
        assert info.updates == 2


# ------------------------------------------------------------------------------------------ status and query


async def test_status_progresses_on_the_fake_clock_and_mix_query_lists_the_m3u8(api: Api, clock: FakeTime) -> None:
    """Status 0 at start, 4 after 3 s, 5 (first file) after 5 s; mix answers fileListMode "string"."""
    rid, sid = await api.session("mix")
    first = (await api.query(rid, sid)).json()
    assert set(first) == {"cname", "uid", "resourceId", "sid", "serverResponse"}
    assert first["serverResponse"] == {"status": 0, "fileListMode": "string", "fileList": "", "sliceStartTime": 0}
    seen = []
    for _ in range(6):
        seen.append((await api.query(rid, sid)).json()["serverResponse"]["status"])
        clock.advance(1.0)
    assert seen == [0, 2, 3, 4, 4, 5]
    server = (await api.query(rid, sid)).json()["serverResponse"]
    assert server["fileListMode"] == "string"
    assert server["fileList"] == f"{sid}_{CNAME}.m3u8"
    assert server["sliceStartTime"] == 1_700_000_003_000  # Unix ms of the moment recording began (t0 + 3 s)


async def test_custom_timings_change_the_progression(clock: FakeTime) -> None:
    """FakeTimings(ready_after=0, first_file_after=0) reports status 5 at once."""
    fake = FakeAgoraServer(clock=clock, timings=FakeTimings(ready_after=0.0, first_file_after=0.0))
    async with api_for(fake) as api:
        rid, sid = await api.session()
        assert (await api.query(rid, sid)).json()["serverResponse"]["status"] == 5
    with pytest.raises(ValueError, match="first_file_after"):
        FakeTimings(ready_after=5.0, first_file_after=1.0)


async def test_individual_query_lists_a_file_per_subscribed_uid_and_track(api: Api, clock: FakeTime) -> None:
    """Individual mode: fileListMode "json", one file object per subscribed uid and track, times in ms."""
    rid, sid = await api.session("individual")
    clock.advance(5.0)
    server = (await api.query(rid, sid, "individual")).json()["serverResponse"]
    assert server["status"] == 5
    assert server["fileListMode"] == "json"
    assert server["sliceStartTime"] == 1_700_000_003_000
    files = server["fileList"]
    assert [(f["uid"], f["trackType"]) for f in files] == [("123", "audio"), ("123", "video"), ("456", "audio")]
    assert files[0] == {
        "fileName": f"{sid}_{CNAME}__uid_s_123__uid_e_audio.m3u8",
        "trackType": "audio",
        "uid": "123",
        "mixedAllUser": False,
        "isPlayable": True,
        "sliceStartTime": 1_700_000_003_000,
    }


async def test_allstream_and_blacklists_resolve_against_the_channel_users(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """#allstream# and unSubscribe lists use the channel's users (set_channel), a list for one media only."""
    fake.set_channel(CNAME, uids=["7", "8", "9"])
    request = individual_request()
    request["recordingConfig"] = {
        "subscribeUidGroup": 1,
        "subscribeAudioUids": ["#allstream#"],
        "unsubscribeVideoUids": ["8"],
    }
    rid, sid = await api.session("individual", request)
    info = fake.recording(sid)
    assert info is not None
    clock.advance(5.0)
    tracks = [
        (f["uid"], f["trackType"])
        for f in (await api.query(rid, sid, "individual")).json()["serverResponse"]["fileList"]
    ]
    assert tracks == [("7", "audio"), ("7", "video"), ("8", "audio"), ("9", "audio"), ("9", "video")]


async def test_mix_with_mp4_answers_a_json_file_list(api: Api, clock: FakeTime) -> None:
    """Mix with avFileType ["hls","mp4"] answers fileListMode "json": the M3U8 and the MP4, uid "0"."""
    rid, sid = await api.session("mix", mix_request(recordingFileConfig={"avFileType": ["hls", "mp4"]}))
    clock.advance(5.0)
    server = (await api.query(rid, sid)).json()["serverResponse"]
    assert server["fileListMode"] == "json"
    assert [f["fileName"] for f in server["fileList"]] == [f"{sid}_{CNAME}.m3u8", f"{sid}_{CNAME}_0.mp4"]
    assert all(f["uid"] == "0" and f["mixedAllUser"] is True for f in server["fileList"])


async def test_snapshot_query_has_no_file_list(api: Api, clock: FakeTime) -> None:
    """Individual snapshots: the query answers status and sliceStartTime only."""
    request = {
        "recordingConfig": {"subscribeUidGroup": 0},
        "snapshotConfig": {"fileType": ["jpg"]},
        "storageConfig": dict(STORAGE),
    }
    rid, sid = await api.session("individual", request)
    clock.advance(5.0)
    assert (await api.query(rid, sid, "individual")).json()["serverResponse"] == {
        "status": 5,
        "sliceStartTime": 1_700_000_003_000,
    }
    stopped = await api.stop(rid, sid, "individual")
    assert stopped.json()["serverResponse"] == {"uploadingStatus": "uploaded"}


async def test_web_query_reports_web_recorder_and_rtmp_publish_state(api: Api, clock: FakeTime) -> None:
    """Web mode answers extensionServiceState: web_recorder_service (fileList/onhold/state) and rtmp_publish_service."""
    rid, sid = await api.session("web", web_request(rtmp=True))
    early = (await api.query(rid, sid, "web")).json()["serverResponse"]
    assert early == {
        "status": 0,
        "extensionServiceState": [
            {"payload": {"fileList": [], "onhold": False, "state": "init"}, "serviceName": "web_recorder_service"},
            {
                "payload": {"outputs": [{"rtmpUrl": "rtmp://cdn/live/1", "status": "connecting"}], "state": "init"},
                "serviceName": "rtmp_publish_service",
            },
        ],
    }
    clock.advance(5.0)
    web, rtmp = (await api.query(rid, sid, "web")).json()["serverResponse"]["extensionServiceState"]
    assert web["payload"] == {
        "fileList": [{"filename": f"{sid}_{CNAME}.m3u8", "sliceStartTime": 1_700_000_003_000}],
        "onhold": False,
        "state": "inProgress",
    }
    assert rtmp["payload"]["outputs"] == [{"rtmpUrl": "rtmp://cdn/live/1", "status": "publishing"}]


async def test_silent_channel_stays_at_status_4_and_stop_answers_435(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """Nobody sends a stream: status stays 4, stop answers 206 {"code":435,...} and still stops the task."""
    fake.set_channel(CNAME, silent=True)
    rid, sid = await api.session()
    clock.advance(60.0)
    assert (await api.query(rid, sid)).json()["serverResponse"]["status"] == 4
    stopped = await api.stop(rid, sid)
    assert stopped.status_code == 206
    assert stopped.json() == {"code": 435, "reason": "no recorded data"}
    assert fake.running_recordings() == []
    assert (await api.stop(rid, sid)).json() == {"code": 49, "reason": "invalid operation"}


async def test_end_recording_idle_exits_stop_49_then_404(fake: FakeAgoraServer, api: Api, clock: FakeTime) -> None:
    """An idle timeout ends the task: query 404 at once, stop 400 code 49 while exiting, then 404."""
    rid, sid = await api.session()
    fake.end_recording(sid, reason="idle")
    assert (await api.query(rid, sid)).status_code == 404
    assert (await api.stop(rid, sid)).json() == {"code": 49, "reason": "invalid operation"}
    clock.advance(10.0)
    gone = await api.stop(rid, sid)
    assert gone.status_code == 404
    assert gone.json() == {"code": 404, "reason": "failed to find worker"}
    assert fake.stats.recordings_ended == 1
    assert fake.stats.recordings_stopped == 0
    with pytest.raises(KeyError):
        fake.end_recording(sid)


async def test_end_recording_abnormal_shows_status_20_then_404(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """An abnormal exit shows status 20 for abnormal_exit_for seconds (update 404, stop 49), then 404."""
    rid, sid = await api.session()
    clock.advance(5.0)
    fake.end_recording(sid, reason="abnormal")
    assert (await api.query(rid, sid)).json()["serverResponse"]["status"] == 20
    assert (await api.call("update", rid, sid, client_request={"streamSubscribe": {}})).status_code == 404
    assert (await api.stop(rid, sid)).json()["code"] == 49
    clock.advance(30.0)
    assert (await api.query(rid, sid)).status_code == 404
    info = fake.recording(sid)
    assert info is not None
    assert info.state == "gone"
    assert info.end_reason == "abnormal"


async def test_empty_channel_ends_after_max_idle_time(fake: FakeAgoraServer, api: Api, clock: FakeTime) -> None:
    """A channel with nobody in it ends a non-web recording maxIdleTime seconds later."""
    fake.set_channel(CNAME, uids=())
    rid, sid = await api.session()  # maxIdleTime 30
    clock.advance(29.5)
    assert (await api.query(rid, sid)).status_code == 200
    clock.advance(0.5)
    assert (await api.query(rid, sid)).status_code == 404
    assert (await api.stop(rid, sid)).json()["code"] == 49
    info = fake.recording(sid)
    assert info is not None
    assert info.end_reason == "idle"


async def test_web_recording_ends_after_max_recording_hour(fake: FakeAgoraServer, api: Api, clock: FakeTime) -> None:
    """A web recording ends by itself after serviceParam.maxRecordingHour."""
    rid, sid = await api.session("web")
    clock.advance(3600.0)
    assert (await api.query(rid, sid, "web")).status_code == 404
    info = fake.recording(sid)
    assert info is not None
    assert info.end_reason == "max_recording_hour"


# ------------------------------------------------------------------------------------- update, updateLayout


async def test_update_stream_subscribe_records_new_uids(api: Api, clock: FakeTime) -> None:
    """update's streamSubscribe adds subscribed uids to the individual file list; it answers the four ids."""
    rid, sid = await api.session("individual")
    response = await api.call(
        "update", rid, sid, "individual", {"streamSubscribe": {"audioUidList": {"subscribeAudioUids": ["789"]}}}
    )
    assert response.status_code == 200
    assert response.json() == {"cname": CNAME, "uid": UID, "resourceId": rid, "sid": sid}
    clock.advance(5.0)
    files = (await api.query(rid, sid, "individual")).json()["serverResponse"]["fileList"]
    assert ("789", "audio") in [(f["uid"], f["trackType"]) for f in files]


async def test_update_rules_per_mode(api: Api, clock: FakeTime) -> None:
    """streamSubscribe is not for web; webRecordingConfig and rtmpPublishConfig are web only; {} is code 2."""
    mix_rid, mix_sid = await api.session("mix")
    web_rid, web_sid = await api.session("web", cname="web")
    for rid, sid, mode, request in (
        (web_rid, web_sid, "web", {"streamSubscribe": {}}),
        (mix_rid, mix_sid, "mix", {"webRecordingConfig": {"onhold": True}}),
        (mix_rid, mix_sid, "mix", {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "rtmp://a"}]}}),
        (web_rid, web_sid, "web", {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "http://a"}]}}),
        (web_rid, web_sid, "web", {"webRecordingConfig": {"onhold": "yes"}}),
        (mix_rid, mix_sid, "mix", {"storageConfig": {"vendor": 1}}),
        (mix_rid, mix_sid, "mix", {}),
    ):
        clock.advance(1.0)  # stay within the rate limit
        cname = "web" if mode == "web" else CNAME
        response = await api.call("update", rid, sid, mode, request, cname=cname)
        assert response.status_code == 400, request
        assert response.json()["code"] == 2
    refresh = {"storageConfig": {**STORAGE, "stsToken": "t", "stsExpiration": 1_900_000_000}}
    assert (await api.call("update", mix_rid, mix_sid, "mix", refresh)).status_code == 200


async def test_update_web_onhold_toggles_the_onhold_seen_by_query(api: Api, clock: FakeTime) -> None:
    """webRecordingConfig.onhold pauses page recording: query shows onhold, and no file appears until resumed."""
    rid, sid = await api.session("web", web_request(rtmp=True, onhold=True))
    clock.advance(10.0)
    web, rtmp = (await api.query(rid, sid, "web")).json()["serverResponse"]["extensionServiceState"]
    assert web["payload"]["onhold"] is True
    assert web["payload"]["fileList"] == []
    assert rtmp["payload"]["outputs"][0]["status"] == "onhold"
    resumed = await api.call("update", rid, sid, "web", {"webRecordingConfig": {"onhold": False}})
    assert resumed.status_code == 200
    clock.advance(2.0)
    web, rtmp = (await api.query(rid, sid, "web")).json()["serverResponse"]["extensionServiceState"]
    assert web["payload"]["onhold"] is False
    assert len(web["payload"]["fileList"]) == 1
    assert rtmp["payload"]["outputs"][0]["status"] == "publishing"
    moved = await api.call("update", rid, sid, "web", {"rtmpPublishConfig": {"outputs": [{"rtmpUrl": "rtmps://b/x"}]}})
    assert moved.status_code == 200
    rtmp = (await api.query(rid, sid, "web")).json()["serverResponse"]["extensionServiceState"][1]
    assert rtmp["payload"]["outputs"][0]["rtmpUrl"] == "rtmps://b/x"


async def test_update_layout_is_mix_only_and_checks_its_body(fake: FakeAgoraServer, api: Api) -> None:
    """updateLayout: mix only (other modes 400 code 2, the mode parameter); a bad layout body is 400 code 1028."""
    rid, sid = await api.session("mix")
    layout = {
        "mixedVideoLayout": 3,
        "backgroundColor": "#FF0000",
        "layoutConfig": [{"uid": "1", "x_axis": 0.1, "y_axis": 0.1, "width": 0.5, "height": 0.5, "render_mode": 1}],
    }
    ok = await api.call("updateLayout", rid, sid, "mix", layout)
    assert ok.status_code == 200
    assert ok.json() == {"cname": CNAME, "uid": UID, "resourceId": rid, "sid": sid}
    for bad in ({"mixedVideoLayout": 3}, {"backgroundColor": "red"}, {"layoutConfig": [{"x_axis": 2}]}):
        response = await api.call("updateLayout", rid, sid, "mix", bad)
        assert response.status_code == 400
        assert response.json()["code"] == 1028
    ind_rid, ind_sid = await api.session("individual", uid="77")
    other = await api.call("updateLayout", ind_rid, ind_sid, "individual", {"mixedVideoLayout": 1}, uid="77")
    assert other.status_code == 400
    assert other.json()["code"] == 2
    info = fake.recording(sid)
    assert info is not None
    assert info.layout_updates == 1


# ------------------------------------------------------------------------------------------------ stop


async def test_stop_mix_answers_files_and_uploading_status(api: Api, clock: FakeTime) -> None:
    """Mix stop: 200 with serverResponse {fileListMode "string", fileList, uploadingStatus "uploaded"}."""
    rid, sid = await api.session()
    clock.advance(5.0)
    response = await api.stop(rid, sid, client_request={"async_stop": False})
    assert response.status_code == 200
    assert response.json() == {
        "cname": CNAME,
        "uid": UID,
        "resourceId": rid,
        "sid": sid,
        "serverResponse": {
            "fileListMode": "string",
            "fileList": f"{sid}_{CNAME}.m3u8",
            "uploadingStatus": "uploaded",
        },
    }


async def test_stop_individual_answers_json_file_list_and_channel_upload_status(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """Individual stop answers the JSON file list; set_channel(uploading_status=...) changes uploadingStatus."""
    fake.set_channel(CNAME, uploading_status="backuped")
    rid, sid = await api.session("individual")
    clock.advance(5.0)
    server = (await api.stop(rid, sid, "individual", client_request={"async_stop": True})).json()["serverResponse"]
    assert server["fileListMode"] == "json"
    assert len(server["fileList"]) == 3
    assert server["uploadingStatus"] == "backuped"


async def test_stop_web_answers_upload_service_and_web_recorder_payloads(api: Api, clock: FakeTime) -> None:
    """Web stop: extensionServiceState with upload_service {uploadingStatus} and web_recorder_service."""
    rid, sid = await api.session("web")
    clock.advance(5.0)
    server = (await api.stop(rid, sid, "web")).json()["serverResponse"]
    assert server == {
        "extensionServiceState": [
            {"payload": {"uploadingStatus": "uploaded"}, "serviceName": "upload_service"},
            {
                "payload": {
                    "fileList": [{"filename": f"{sid}_{CNAME}.m3u8", "sliceStartTime": 1_700_000_003_000}],
                    "onhold": False,
                    "state": "exit",
                },
                "serviceName": "web_recorder_service",
            },
        ]
    }


async def test_stop_before_the_first_file_answers_206_435_and_stops(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """Stopped before status 5: 206 {"code":435,"reason":"no recorded data"}, and the recording is stopped."""
    rid, sid = await api.session()
    clock.advance(4.9)
    response = await api.stop(rid, sid)
    assert response.status_code == 206
    assert response.json() == {"code": 435, "reason": "no recorded data"}
    assert fake.stats.recordings_stopped == 1
    assert fake.stats.running == 0


async def test_repeated_stop_answers_49_while_exiting_then_404(api: Api, clock: FakeTime) -> None:
    """A second stop during the exiting window is 400 code 49; after exiting_for it is 404 worker not found."""
    rid, sid = await api.session()
    clock.advance(6.0)
    assert (await api.stop(rid, sid)).status_code == 200
    assert (await api.query(rid, sid)).status_code == 404
    clock.advance(9.5)
    again = await api.stop(rid, sid)
    assert again.status_code == 400
    assert again.json() == {"code": 49, "reason": "invalid operation"}
    clock.advance(0.5)
    assert (await api.stop(rid, sid)).json() == {"code": 404, "reason": "failed to find worker"}


@pytest.mark.parametrize("op", ["query", "update", "updateLayout", "stop"])
async def test_unknown_sid_answers_404_failed_to_find_worker(api: Api, op: str) -> None:
    """query/update/updateLayout/stop of a sid the fake never started: 404 {"code":404,...}."""
    rid = (await api.acquire()).json()["resourceId"]
    response = await api.call(op, rid, "0" * 32, client_request={"mixedVideoLayout": 1})
    assert response.status_code == 404
    assert response.json() == {"code": 404, "reason": "failed to find worker"}


async def test_sid_endpoints_check_mode_identity_and_resource_id(api: Api) -> None:
    """A wrong mode is 400 code 2, a wrong cname/uid 432, another resourceId 1003, garbage 1001."""
    rid, sid = await api.session()
    assert (await api.query(rid, sid, "individual")).json()["code"] == 2
    assert (await api.stop(rid, sid, cname="other")).json()["code"] == 432
    other_rid = (await api.acquire(cname="other")).json()["resourceId"]
    assert (await api.query(other_rid, sid)).json()["code"] == 1003
    assert (await api.query("garbage", sid)).json()["code"] == 1001
    bad_async = await api.stop(rid, sid, client_request={"async_stop": "yes"})
    assert bad_async.status_code == 400
    assert bad_async.json()["code"] == 2


# ---------------------------------------------------------------------------------------------- rate limit


async def test_rate_limit_admits_10_in_a_second_and_answers_the_11th_with_429(api: Api, clock: FakeTime) -> None:
    """At most 10 arrivals in any 1 s window; the 11th gets 429 {"message":"API rate limit exceeded"}, no header."""
    for _ in range(10):
        assert (await api.acquire()).status_code == 200
    refused = await api.acquire()
    assert refused.status_code == 429
    assert refused.json() == {"message": "API rate limit exceeded"}
    assert "retry-after" not in refused.headers
    clock.advance(0.75)
    assert (await api.acquire()).status_code == 429
    clock.advance(0.25)  # the first ten arrivals are now exactly 1 s old: out of the window
    assert (await api.acquire()).status_code == 200
    assert api.fake.stats.rate_limited == 2


async def test_rate_limit_window_slides_with_each_arrival(api: Api, clock: FakeTime) -> None:
    """Five at t=0 and five at t=0.5 fill the window; at t=1.0 exactly five slots free up, not ten."""
    for _ in range(5):
        assert (await api.acquire()).status_code == 200
    clock.advance(0.5)
    for _ in range(5):
        assert (await api.acquire()).status_code == 200
    clock.advance(0.5)
    statuses = [(await api.acquire()).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


async def test_rate_limit_counts_every_app_id_of_the_account(clock: FakeTime) -> None:
    """The default scope is the account: requests to two App IDs share one window; scope "app_id" splits it."""
    body = {"cname": CNAME, "uid": UID, "clientRequest": {}}
    for scope, expected in (("account", 429), ("app_id", 200)):
        fake = FakeAgoraServer(clock=clock, app_ids=["second"], rate_limit_scope=scope)  # type: ignore[arg-type]
        async with api_for(fake) as api:
            for _ in range(10):
                assert (await api.acquire()).status_code == 200
            other = await api.http.post("/v1/apps/second/cloud_recording/acquire", json=body)
            assert other.status_code == expected


async def test_rate_limit_is_configurable_with_optional_retry_after(clock: FakeTime) -> None:
    """rate_limit/rate_window change the quota; retry_after=True adds Retry-After in whole seconds."""
    fake = FakeAgoraServer(clock=clock, rate_limit=2, rate_window=5.0, retry_after=True)
    async with api_for(fake) as api:
        assert [(await api.acquire()).status_code for _ in range(3)] == [200, 200, 429]
        clock.advance(1.5)
        refused = await api.acquire()
        assert refused.headers["retry-after"] == "4"  # 3.5 s until the oldest arrival leaves the window
        fake.set_rate_limit(None)
        assert [(await api.acquire()).status_code for _ in range(50)] == [200] * 50
        fake.set_rate_limit(1, window=1.0)
        clock.advance(1.0)
        assert [(await api.acquire()).status_code for _ in range(2)] == [200, 429]
    with pytest.raises(ValueError, match="rate_limit"):
        FakeAgoraServer(rate_limit=0)


async def test_unauthenticated_and_refused_requests_do_not_use_the_quota(
    fake: FakeAgoraServer, clock: FakeTime
) -> None:
    """401s are not counted (no account), and 429s do not extend the window."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as anonymous:
        for _ in range(20):
            assert (await anonymous.post(f"/v1/apps/{fake.app_id}/cloud_recording/acquire")).status_code == 401
    async with api_for(fake) as api:
        assert [(await api.acquire()).status_code for _ in range(15)] == [200] * 10 + [429] * 5
        clock.advance(1.0)
        assert (await api.acquire()).status_code == 200


# -------------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("kind", "endpoint", "status", "body"),
    [
        ("internal_error", "acquire", 500, {"code": 500, "reason": "internal_error"}),
        ("allocate_failed", "start", 500, {"code": 502, "reason": "Failed to allocate worker"}),
        ("request_timeout", "start", 500, {"code": 62, "reason": "request timeout"}),
        ("request_timeout", "query", 504, {"code": 62, "reason": "request timeout"}),
        ("not_completed", "start", 206, {"code": 65, "reason": "request not completed"}),
        ("rate_limited", "acquire", 429, {"message": "API rate limit exceeded"}),
        ("worker_not_found", "query", 404, {"code": 404, "reason": "failed to find worker"}),
    ],
)
async def test_injected_fault_kinds_answer_the_documented_bodies(
    api: Api, kind: Any, endpoint: str, status: int, body: dict[str, Any]
) -> None:
    """Each preset kind answers Agora's documented status and body, with an X-Request-Id."""
    rid, sid = await api.session()
    fault = api.fake.inject(endpoint, kind=kind)
    if endpoint == "acquire":
        response = await api.acquire()
    elif endpoint == "start":
        response = await api.start((await api.acquire(uid="5")).json()["resourceId"], uid="5")
    else:
        response = await api.query(rid, sid)
    assert response.status_code == status
    assert response.json() == body
    assert response.headers["x-request-id"]
    assert fault.fired == 1
    assert fault.exhausted


async def test_proxy_error_fault_answers_an_html_503(api: Api) -> None:
    """kind="proxy_error" answers 503 with an HTML page, as a proxy in front of Agora would."""
    api.fake.inject("acquire", kind="proxy_error")
    response = await api.acquire()
    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")


async def test_fault_before_is_not_processed_nor_counted(fake: FakeAgoraServer, api: Api) -> None:
    """when="before": the request never reaches the service, so it neither starts a recording nor uses quota."""
    rid = (await api.acquire()).json()["resourceId"]
    fake.inject("start", kind="internal_error")
    assert (await api.start(rid)).status_code == 500
    assert fake.stats.recordings_started == 0
    assert (await api.start(rid)).status_code == 200  # the resourceId was not used
    fake.inject("*", kind="internal_error", count=20)
    for _ in range(20):
        assert (await api.acquire()).status_code == 500
    assert fake.stats.rate_limited == 0


async def test_timeout_after_start_leaves_a_running_recording_whose_sid_was_never_delivered(
    fake: FakeAgoraServer, api: Api
) -> None:
    """when="after" on start: the recording runs, the client sees a timeout, the resend gets 201 code 7."""
    rid = (await api.acquire()).json()["resourceId"]
    fake.inject("start", kind="timeout", when="after")
    with pytest.raises(httpx.ReadTimeout):
        await api.start(rid)
    assert fake.stats.recordings_started == 1
    assert len(fake.undelivered_sids()) == 1
    orphan = fake.orphans()[0]
    assert orphan.resource_id == rid
    assert orphan.state == "running"
    resend = await api.start(rid)
    assert (resend.status_code, resend.json()["code"]) == (201, 7)
    assert fake.stats.undelivered_sids == 1
    assert [r.fault for r in fake.requests_to("start")] == ["timeout", None]


async def test_replaced_answer_after_start_is_also_an_undelivered_sid(fake: FakeAgoraServer, api: Api) -> None:
    """when="after" with a status kind replaces the 200: the work is done, the sid lost."""
    rid = (await api.acquire()).json()["resourceId"]
    fake.inject("start", kind="request_timeout", when="after")
    assert (await api.start(rid)).status_code == 500
    assert len(fake.orphans()) == 1
    sid = fake.orphans()[0].sid
    assert (await api.stop(rid, sid)).status_code == 206  # using the sid proves it was learnt
    assert fake.undelivered_sids() == []


@pytest.mark.parametrize(
    ("kind", "error"), [("disconnect", httpx.RemoteProtocolError), ("connect_error", httpx.ConnectError)]
)
async def test_network_faults_raise_httpx_errors_in_process(api: Api, kind: Any, error: type[Exception]) -> None:
    """In-process, a dropped connection raises httpx.RemoteProtocolError and a connect error httpx.ConnectError."""
    api.fake.inject("acquire", kind=kind)
    with pytest.raises(error):
        await api.acquire()
    assert (await api.acquire()).status_code == 200
    assert api.fake.requests[-2].status is None
    assert api.fake.requests[-2].fault == kind


async def test_fault_count_wildcard_custom_status_and_headers(api: Api) -> None:
    """count=N hits N requests; "*" hits any endpoint; status/body/headers give a custom answer."""
    api.fake.inject("*", status=418, body={"code": 1, "reason": "teapot"}, headers={"X-Extra": "1"}, count=2)
    first, second, third = [await api.acquire() for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (418, 418, 200)
    assert first.json() == {"code": 1, "reason": "teapot"}
    assert first.headers["x-extra"] == "1"
    assert api.fake.pending_faults == ()


async def test_fault_delay_uses_the_injected_sleep(clock: FakeTime) -> None:
    """delay= waits through the fake's sleep (so a virtual clock can serve it) before answering."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    fake = FakeAgoraServer(clock=clock, sleep=sleep)
    fake.inject("acquire", delay=2.5)
    fake.inject("acquire", kind="internal_error", delay=1.0, when="after")
    async with api_for(fake) as api:
        assert (await api.acquire()).status_code == 200
        assert (await api.acquire()).status_code == 500
    assert slept == [2.5, 1.0]


async def test_random_faults_are_deterministic_by_seed(clock: FakeTime) -> None:
    """random_faults(p) draws from an RNG seeded by seed: same seed, same faults; probability 0 stops them."""

    async def run(seed: int) -> list[int]:
        fake = FakeAgoraServer(clock=clock, seed=seed, rate_limit=None)
        spec = fake.random_faults(0.3, kinds=["internal_error", "not_completed"], endpoints=["acquire"])
        async with api_for(fake) as api:
            statuses = [(await api.acquire()).status_code for _ in range(40)]
            spec.cancel()
            assert [(await api.acquire()).status_code for _ in range(5)] == [200] * 5
        assert spec.fired == sum(1 for s in statuses if s != 200)
        return statuses

    first = await run(7)
    assert first == await run(7)
    assert {500, 206, 200} == set(first)
    assert first != await run(8)


def test_inject_rejects_inconsistent_arguments() -> None:
    """Unknown endpoints or kinds, a 'status' without status, connect_error after, count < 1: ValueError."""
    fake = FakeAgoraServer()
    for kwargs in (
        {"endpoint": "nope", "kind": "timeout"},
        {"endpoint": "start", "kind": "explode"},
        {"endpoint": "start", "kind": "status"},
        {"endpoint": "start", "kind": "connect_error", "when": "after"},
        {"endpoint": "start", "kind": "timeout", "count": 0},
        {"endpoint": "start"},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            fake.inject(**kwargs)
    with pytest.raises(ValueError, match="probability"):
        fake.random_faults(1.5)
    assert fake.inject("update_layout", kind="timeout").endpoint == "updateLayout"


# ---------------------------------------------------------------------------------- log, stats, repr, handle


async def test_request_log_and_counters_support_assertions(fake: FakeAgoraServer, api: Api) -> None:
    """The log keeps endpoint, status, code and parsed body; stats count requests, statuses and recordings."""
    rid, sid = await api.session()
    await api.query(rid, sid)
    await api.stop(rid, sid)
    await api.http.get("/nowhere")
    log = fake.requests
    assert [r.endpoint for r in log] == ["acquire", "start", "query", "stop", None]
    assert [r.status for r in log] == [200, 200, 200, 206, 404]
    assert log[3].code == 435
    assert log[1].body["clientRequest"]["storageConfig"]["bucket"] == "bucket"
    stats = fake.stats
    assert stats.requests == 5
    assert stats.by_endpoint == {"acquire": 1, "start": 1, "query": 1, "stop": 1, "unmatched": 1}
    assert stats.by_status == {200: 3, 206: 1, 404: 1}
    assert (stats.recordings_started, stats.recordings_stopped, stats.running, stats.undelivered_sids) == (1, 1, 0, 0)
    assert len(fake.requests_to("update_layout")) == 0


async def test_running_recordings_report_state_status_and_files(
    fake: FakeAgoraServer, api: Api, clock: FakeTime
) -> None:
    """running_recordings() and recording(sid) give snapshots without secrets."""
    rid, sid = await api.session()
    clock.advance(5.0)
    (info,) = fake.running_recordings()
    assert (info.sid, info.resource_id, info.mode, info.state, info.status) == (sid, rid, "mix", "running", 5)
    assert info.sid_delivered
    assert info.has_files
    assert info.file_names == (f"{sid}_{CNAME}.m3u8",)
    assert fake.recording("f" * 32) is None
    assert [r.sid for r in fake.recordings()] == [sid]


async def test_no_repr_shows_the_secret_credentials_or_bodies(api: Api) -> None:
    """The customer secret, the Authorization header and storage keys appear in no repr/str."""
    await api.session()
    fake = api.fake
    fault = fake.inject("query", status=500, body={"secret": "BODY-canary"})
    texts = [repr(fake), str(fake), repr(fake.stats), repr(fault), repr(fake.transport())]
    texts += [repr(r) for r in fake.requests] + [repr(r) for r in fake.recordings()]
    for text in texts:
        for canary in (fake.customer_secret, fake.authorization, "AK-canary", "SK-canary", "BODY-canary"):
            assert canary not in text


async def test_handle_takes_headers_in_any_case(fake: FakeAgoraServer) -> None:
    """handle() is the shared core: plain mappings with any header-name case work; answers unpack as a tuple."""
    body = json.dumps({"cname": CNAME, "uid": UID, "clientRequest": {}}).encode()
    headers = {"AUTHORIZATION": fake.authorization, "Content-Type": "application/json"}
    status, response_headers, content = await fake.handle(
        "POST", f"/v1/apps/{fake.app_id}/cloud_recording/acquire?x=1", headers, body
    )
    assert status == 200
    assert dict(response_headers)["content-type"] == "application/json;charset=utf-8"
    assert "resourceId" in json.loads(content)
    fake.inject("acquire", kind="disconnect")
    with pytest.raises(InjectedNetworkFault) as caught:
        await fake.handle("POST", f"/v1/apps/{fake.app_id}/cloud_recording/acquire", headers, body)
    assert caught.value.kind == "disconnect"


def test_constructor_defaults_and_validation() -> None:
    """FakeAgoraServer() works out of the box; bad arguments raise ValueError."""
    fake = FakeAgoraServer()
    assert fake.rate_limit == 10
    assert fake.rate_window == 1.0
    assert (
        fake.authorization
        == "Basic " + base64.b64encode(f"{fake.customer_id}:{fake.customer_secret}".encode()).decode()
    )
    for kwargs in ({"customer_id": "a:b"}, {"customer_secret": ""}, {"app_id": "a/b"}, {"rate_window": 0}):
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            FakeAgoraServer(**kwargs)


# ------------------------------------------------------------------------------------------------------ TCP


async def test_tcp_full_lifecycle_with_keep_alive(fake: FakeAgoraServer, clock: FakeTime) -> None:
    """Over real TCP on 127.0.0.1: acquire, start, query, update, updateLayout, stop on one kept-alive connection."""
    async with fake.serve(host="127.0.0.1", port=0) as base_url, api_for(fake, base_url) as api:
        assert base_url.startswith("http://127.0.0.1:")
        rid, sid = await api.session()
        clock.advance(5.0)
        query = await api.query(rid, sid)
        assert query.json()["serverResponse"]["status"] == 5
        assert query.headers["x-request-id"]
        assert (await api.call("update", rid, sid, client_request={"streamSubscribe": {}})).status_code == 200
        assert (await api.call("updateLayout", rid, sid, client_request={"mixedVideoLayout": 1})).status_code == 200
        stopped = await api.stop(rid, sid)
        assert stopped.status_code == 200
        assert stopped.json()["serverResponse"]["fileList"] == f"{sid}_{CNAME}.m3u8"
        assert (await api.http.get("/nowhere")).status_code == 404
    assert fake.stats.requests == 7


async def test_tcp_rate_limit_answers_429(fake: FakeAgoraServer) -> None:
    """The 11th request in a second gets 429 over TCP too."""
    async with fake.serve() as base_url, api_for(fake, base_url) as api:
        statuses = [(await api.acquire()).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]


async def test_tcp_status_fault_and_html_page(fake: FakeAgoraServer) -> None:
    """Injected status faults travel over TCP: a 504 code 62 on query, a proxy's HTML 503 on acquire."""
    async with fake.serve() as base_url, api_for(fake, base_url) as api:
        rid, sid = await api.session()
        fake.inject("query", kind="request_timeout")
        fake.inject("acquire", kind="proxy_error")
        query = await api.query(rid, sid)
        assert (query.status_code, query.json()) == (504, {"code": 62, "reason": "request timeout"})
        page = await api.acquire()
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html"
        assert (await api.query(rid, sid)).status_code == 200


async def test_tcp_dropped_connection_after_start_loses_the_sid(fake: FakeAgoraServer) -> None:
    """A "disconnect" fault closes the socket without an answer; the server keeps serving new connections."""
    async with fake.serve() as base_url, api_for(fake, base_url) as api:
        rid = (await api.acquire()).json()["resourceId"]
        fake.inject("start", kind="disconnect", when="after")
        with pytest.raises(httpx.RemoteProtocolError):
            await api.start(rid)
        assert len(fake.orphans()) == 1
        resend = await api.start(rid)
        assert (resend.status_code, resend.json()) == (201, {"code": 7, "reason": "already started"})


async def test_tcp_timeout_fault_holds_the_answer_past_the_client_timeout(fake: FakeAgoraServer) -> None:
    """A "timeout" fault withholds the answer until the client gives up (httpx.ReadTimeout), then serves on."""
    async with fake.serve() as base_url, api_for(fake, base_url, timeout=0.2) as api:
        fake.inject("acquire", kind="timeout")
        with anyio.fail_after(10):
            with pytest.raises(httpx.ReadTimeout):
                await api.acquire()
            assert (await api.acquire()).status_code == 200


async def test_tcp_malformed_request_gets_400_and_connection_close(fake: FakeAgoraServer) -> None:
    """Bytes that are not HTTP/1.1 get a 400 and the connection closes; serve() then shuts down cleanly."""
    async with fake.serve() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with anyio.fail_after(10):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
                received = b""
                try:
                    while True:
                        received += await stream.receive()
                except anyio.EndOfStream:
                    pass
    assert received.startswith(b"HTTP/1.1 400 ")


async def test_tcp_head_and_unknown_methods_get_the_gateway_404(fake: FakeAgoraServer) -> None:
    """HEAD gets the 404's headers without a body; the connection stays usable for the next request."""
    async with fake.serve() as base_url, api_for(fake, base_url) as api:
        head = await api.http.head(f"{api.base}/acquire")
        assert head.status_code == 404
        assert head.content == b""
        assert int(head.headers["content-length"]) > 0
        assert (await api.http.options(f"{api.base}/acquire")).status_code == 404
        assert (await api.acquire()).status_code == 200


async def test_tcp_server_stops_listening_on_exit(fake: FakeAgoraServer) -> None:
    """Leaving serve() closes the listener: a new connection is refused."""
    async with fake.serve() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):  # noqa: PT011 - the platform decides the exact error
        await anyio.connect_tcp("127.0.0.1", port)


# ------------------------------------------------------------------------------------------------------ CLI


def test_cli_help_and_bad_arguments_return_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """run_fake_server_cli returns 0 for --help and 2 for bad arguments instead of exiting."""
    assert run_fake_server_cli(["--help"]) == 0
    assert "--customer-secret" in capsys.readouterr().out
    assert run_fake_server_cli(["--port", "not-a-number"]) == 2
    assert run_fake_server_cli(["--customer-id", "a:b"]) == 2


def test_cli_reports_a_port_in_use() -> None:
    """run_fake_server_cli returns 1 when it cannot listen on the port."""

    async def occupy() -> int:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
            port = int(listener.extra(SocketAttribute.local_port))
            return await anyio.to_thread.run_sync(run_fake_server_cli, ["--host", "127.0.0.1", "--port", str(port)])

    assert anyio.run(occupy) == 1


VOD_SERVICE = {
    "serviceName": "aliyun_vod_service",
    "serviceParam": {
        "secretKey": "x",
        "accessKey": "y",
        "regionId": "cn-shanghai",
        "apiData": {"videoData": {"title": "My Video"}},
    },
}


async def test_start_accepts_the_documented_vod_request_without_storage(api: Api) -> None:
    """ApsaraVideo for VoD (seed 004): mix mode, no storageConfig; storage with it, or another mode, is 400 code 2."""
    vod = {
        "recordingConfig": {"maxIdleTime": 30, "streamTypes": 2, "channelType": 0, "subscribeUidGroup": 0},
        "extensionServiceConfig": {"extensionServices": [VOD_SERVICE]},
    }
    rid = (await api.acquire()).json()["resourceId"]
    with_storage = await api.start(rid, "mix", {**vod, "storageConfig": dict(STORAGE)})
    assert (with_storage.status_code, with_storage.json()["code"]) == (400, 2)
    assert (await api.start(rid, "mix", vod)).status_code == 200


@pytest.mark.parametrize(
    ("mode", "request_body", "field"),
    [
        ("individual", individual_request(recordingFileConfig={"avFileType": ["hls", "mp4"]}), "avFileType"),
        ("mix", mix_request(recordingConfig={"decryptionMode": 7, "secret": "s"}), "salt"),
        ("mix", mix_request(recordingConfig={"streamMode": "standard"}), "streamMode"),
        ("mix", mix_request(recordingConfig={"transcodingConfig": {"width": 1280}}), "transcodingConfig"),
    ],
)
async def test_start_refuses_what_agoras_docs_refuse(
    api: Api, mode: str, request_body: dict[str, Any], field: str
) -> None:
    """MP4 in individual mode, GCM2 decryption without salt, streamMode outside individual mode, and a partial
    transcodingConfig (width, height, fps and bitrate go together) are 400 code 2 naming the field."""
    rid = (await api.acquire()).json()["resourceId"]
    refused = await api.start(rid, mode, request_body)
    assert refused.status_code == 400
    assert refused.json()["code"] == 2
    assert field in refused.json()["reason"]


async def test_acquire_refuses_a_channel_name_of_64_bytes(api: Api) -> None:
    """Channel names must be shorter than 64 bytes (error 1013): 63 bytes work, 64 do not."""
    assert (await api.acquire(cname="a" * 63)).status_code == 200
    refused = await api.acquire(cname="a" * 64)
    assert refused.status_code == 400
    assert refused.json() == {"code": 401, "reason": "invalid_channel_name"}


# ------------------------------------------------------------------------- delivery of answers (orphans)


async def _until(condition: Any, what: str) -> None:
    """Wait (bounded, real time) until ``condition()`` holds: the TCP server works in its own tasks."""
    with anyio.fail_after(10):
        while not condition():  # noqa: ASYNC110 -- a condition on another task's state, no event to wait on
            await anyio.sleep(0.005)
    assert condition(), what


async def test_tcp_start_answer_written_after_the_client_gave_up_is_an_orphan() -> None:
    """Issue 12.8: the client closed the connection before the answer was written: the sid was never delivered.

    The fake's delay runs on a virtual clock, so the client's 0.2 s read timeout always fires first.
    """
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep)
    async with fake.serve() as base_url, api_for(fake, base_url, timeout=0.2) as api:
        rid = (await api.acquire()).json()["resourceId"]
        fake.inject("start", kind="delay", delay=5.0, when="after")
        with anyio.fail_after(10), pytest.raises(httpx.ReadTimeout):
            await api.start(rid)
        await _until(lambda: vc.sleepers == 1, "the fake waits on its delay")
        vc.advance(5.0)  # the fake writes its answer now, to a connection the client has closed
        await _until(lambda: fake.stats.answers_lost == 1, "the server noticed")
        [orphan] = fake.orphans()
        assert not orphan.sid_delivered
        assert orphan.state == "running"
        assert fake.undelivered_sids() == [orphan.sid]
        assert fake.stats.undelivered_sids == 1
        # once the client uses the sid (it learned it some other way), it counts as delivered
        assert (await api.query(rid, orphan.sid)).status_code == 200
        assert fake.orphans() == []


async def test_tcp_start_answer_read_by_a_patient_client_is_delivered() -> None:
    """The control: the same delayed answer, read by a client that waits for it, is no orphan."""
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep)
    async with fake.serve() as base_url, api_for(fake, base_url, timeout=10.0) as api:
        rid = (await api.acquire()).json()["resourceId"]
        fake.inject("start", kind="delay", delay=5.0, when="after")
        async with anyio.create_task_group() as tg:
            tg.start_soon(api.start, rid)
            await _until(lambda: vc.sleepers == 1, "the fake waits on its delay")
            vc.advance(5.0)
        assert len(fake.running_recordings()) == 1
        assert fake.orphans() == []
        assert fake.stats.answers_lost == 0


async def test_in_process_start_answer_cancelled_before_it_returned_is_an_orphan() -> None:
    """In-process, an answer counts as delivered only once it is returned to the caller."""
    vc = VirtualClock()
    fake = FakeAgoraServer(clock=vc, sleep=vc.sleep)
    async with api_for(fake) as api:
        rid = (await api.acquire()).json()["resourceId"]
        fake.inject("start", kind="delay", delay=5.0, when="after")
        async with anyio.create_task_group() as tg:
            tg.start_soon(api.start, rid)
            await _until(lambda: vc.sleepers == 1, "the fake waits on its delay")
            tg.cancel_scope.cancel()  # the caller gives up before the answer comes back
        assert [info.sid_delivered for info in fake.running_recordings()] == [False]
        assert len(fake.orphans()) == 1


# ------------------------------------------------------------------------------------ admin path


async def test_admin_stats_over_tcp_answers_the_counters_as_json_without_auth(clock: FakeTime) -> None:
    """GET /_fake/stats: FakeStats as JSON, no Authorization needed, and not itself an Agora request."""
    fake = FakeAgoraServer(clock=clock, rate_limit=3)
    async with fake.serve() as base_url, api_for(fake, base_url) as api:
        rid, sid = await api.session()  # 2 of the 3 slots of this second
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as anonymous:
            answers = [await anonymous.get("/_fake/stats") for _ in range(5)]
            assert {a.status_code for a in answers} == {200}
            assert answers[0].headers["content-type"].startswith("application/json")
            stats = answers[-1].json()
            assert stats == answers[0].json()  # reading the counters does not move them
            assert stats["requests"] == 2
            assert stats["by_endpoint"] == {"acquire": 1, "start": 1}
            assert stats["by_status"] == {"200": 2}
            assert (stats["recordings_started"], stats["running"], stats["undelivered_sids"]) == (1, 1, 0)
            assert set(stats) == {f.name for f in dataclasses.fields(FakeStats)}
            assert fake.customer_secret not in answers[-1].text
            assert fake.authorization not in answers[-1].text
            assert [r.endpoint for r in fake.requests] == ["acquire", "start"]
            # the five admin reads took no rate-limit slot: the third Agora request of this second is admitted
            assert (await api.query(rid, sid)).status_code == 200
            assert (await api.query(rid, sid)).status_code == 429
            # and faults are for Agora's paths only
            fault = fake.inject("*", kind="internal_error")
            assert (await anonymous.get("/_fake/stats")).json()["requests"] == 4
            assert fault.fired == 0
            assert (await api.query(rid, sid)).status_code == 500
            assert fault.fired == 1


async def test_admin_paths_refuse_other_methods_and_unknown_names(api: Api) -> None:
    """POST on the stats path is 405 with Allow: GET; an unknown admin path 404; neither is counted."""
    posted = await api.http.post("/_fake/stats", json={})
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET")
    assert (await api.http.get("/_fake/nothing")).status_code == 404
    assert (await api.http.get("/_fake/stats?pretty=1")).json()["requests"] == 0
    assert api.fake.stats.requests == 0
    assert api.fake.requests == ()
