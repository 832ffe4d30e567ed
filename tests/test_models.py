"""Models and converters: wire round trips of every documented example, lenient reads of every variant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agora_recording import ResponseFormatError
from agora_recording._converter import from_wire, strict_converter, to_wire
from agora_recording.models import (
    AcquireClientRequest,
    AcquireResponse,
    AudioUidList,
    ClientRequest,
    ExtensionService,
    ExtensionServiceConfig,
    FileListMode,
    LayoutConfig,
    QueryResponse,
    RecordedFile,
    RecordingConfig,
    RecordingFileConfig,
    RecordingStatus,
    Region,
    RenderMode,
    RtmpOutput,
    RtmpPublishPayload,
    RtmpPublishServiceParam,
    StartResponse,
    StopClientRequest,
    StopResponse,
    StorageConfig,
    StreamSubscribe,
    TrackType,
    TranscodingConfig,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    UpdateLayoutResponse,
    UpdateResponse,
    UploadingStatus,
    UploadServicePayload,
    Vendor,
    VideoUidList,
    WebRecorderPayload,
    WebRecorderServiceParam,
    WebRecordingConfig,
)

FIXTURES = Path(__file__).parent / "fixtures"
REQUEST_MODELS: dict[str, type] = {
    "acquire": AcquireClientRequest,
    "start": ClientRequest,
    "update": UpdateClientRequest,
    "updateLayout": UpdateLayoutClientRequest,
    "stop": StopClientRequest,
}
RESPONSE_MODELS: dict[str, type] = {
    "acquire": AcquireResponse,
    "start": StartResponse,
    "update": UpdateResponse,
    "updateLayout": UpdateLayoutResponse,
    "query": QueryResponse,
    "stop": StopResponse,
}


def load(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text())


def fixture_names(kind: str) -> list[str]:
    return sorted(p.stem for p in (FIXTURES / kind).glob("*.json"))


@pytest.mark.parametrize("name", fixture_names("requests"))
def test_every_documented_request_round_trips_key_for_key(name: str) -> None:
    """Each documented clientRequest structures under the strict converter and unstructures to the same dict."""
    body = load("requests", name)
    model_cls = REQUEST_MODELS[name.split("__")[0]]
    model = strict_converter.structure(body["clientRequest"], model_cls)
    assert to_wire(model) == body["clientRequest"]


def test_start_record_example_built_in_python_matches_the_docs() -> None:
    """Python names map to Agora's wire keys one to one, unset fields are omitted, tuples become arrays."""
    request = ClientRequest(
        token="<token if any>",
        recording_config=RecordingConfig(
            max_idle_time=30,
            stream_types=2,
            channel_type=0,
            transcoding_config=TranscodingConfig(
                height=640, width=360, bitrate=500, fps=15, mixed_video_layout=1, background_color="#FF0000"
            ),
            subscribe_video_uids=["123", "456"],
            subscribe_audio_uids=["123", "456"],
            subscribe_uid_group=0,
        ),
        recording_file_config=RecordingFileConfig(av_file_type=["hls"]),
        storage_config=StorageConfig(
            access_key="xxxxxxf",
            region=3,
            bucket="xxxxx",
            secret_key="xxxxx",
            vendor=Vendor.ALIBABA_CLOUD,
            file_name_prefix=["directory1", "directory2"],
        ),
    )
    assert to_wire(request) == load("requests", "start__record")["clientRequest"]


def test_web_start_example_built_in_python_matches_the_notes() -> None:
    """Web recorder and RTMP push service params serialise with Agora's keys."""
    request = ClientRequest(
        token="<optional>",
        extension_service_config=ExtensionServiceConfig(
            error_handle_policy="error_abort",
            extension_services=[
                ExtensionService(
                    service_name="web_recorder_service",
                    error_handle_policy="error_abort",
                    service_param=WebRecorderServiceParam(
                        url="https://...",
                        audio_profile=0,
                        video_width=1280,
                        video_height=720,
                        max_recording_hour=3,
                        video_bitrate=2000,
                        video_fps=15,
                        mobile=False,
                        max_video_duration=120,
                        onhold=False,
                        ready_timeout=0,
                    ),
                ),
                ExtensionService(
                    service_name="rtmp_publish_service",
                    error_handle_policy="error_ignore",
                    service_param=RtmpPublishServiceParam(outputs=[RtmpOutput(rtmp_url="rtmp://...")]),
                ),
            ],
        ),
        recording_file_config=RecordingFileConfig(av_file_type=["hls", "mp4"]),
        storage_config=StorageConfig(
            vendor=2, region=3, bucket="...", access_key="...", secret_key="...", file_name_prefix=["a", "b"]
        ),
    )
    assert to_wire(request) == load("requests", "start__web")["clientRequest"]


def test_blacklists_use_agoras_unsubscribe_spelling() -> None:
    """unsubscribe_*_uids go out as unSubscribeAudioUids / unSubscribeVideoUids, as Agora's own clients send."""
    rc = RecordingConfig(unsubscribe_audio_uids=["1"], unsubscribe_video_uids=["2"])
    assert to_wire(rc) == {"unSubscribeAudioUids": ["1"], "unSubscribeVideoUids": ["2"]}
    update = UpdateClientRequest(
        stream_subscribe=StreamSubscribe(
            audio_uid_list=AudioUidList(subscribe_audio_uids=["#allstream#"]),
            video_uid_list=VideoUidList(unsubscribe_video_uids=["444", "555", "666"]),
        )
    )
    assert to_wire(update) == load("requests", "update__subscription")["clientRequest"]


def test_layout_keys_keep_agoras_snake_case() -> None:
    """x_axis, y_axis and render_mode stay as Agora spells them inside camelCase objects."""
    layout = UpdateLayoutClientRequest(
        mixed_video_layout=3,
        background_color="#FF0000",
        layout_config=[
            LayoutConfig(uid="1", x_axis=0.1, y_axis=0.1, width=0.1, height=0.1, alpha=1.0, render_mode=1),
            LayoutConfig(uid="2", x_axis=0.2, y_axis=0.2, width=0.1, height=0.1, alpha=1.0, render_mode=RenderMode.FIT),
        ],
    )
    assert to_wire(layout) == load("requests", "updateLayout__custom")["clientRequest"]


def test_stop_async_stop_and_empty_and_acquire_bodies() -> None:
    """async_stop keeps its snake_case key; unset fields vanish entirely (never null)."""
    assert to_wire(StopClientRequest(async_stop=False)) == {"async_stop": False}
    assert to_wire(StopClientRequest()) == {}
    assert to_wire(AcquireClientRequest(region=Region.CN, resource_expired_hour=24)) == {
        "region": "CN",
        "resourceExpiredHour": 24,
    }
    assert to_wire(UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=True))) == {
        "webRecordingConfig": {"onhold": True}
    }


def test_acquire_start_parameter_mirrors_the_start_client_request() -> None:
    """startParameter is the same object as start's clientRequest, so acquire and start cannot disagree."""
    start = ClientRequest(
        recording_config=RecordingConfig(channel_type=1),
        storage_config=StorageConfig(vendor=1, region=0, bucket="b", access_key="a", secret_key="s"),
    )
    body = to_wire(AcquireClientRequest(scene=0, start_parameter=start, exclude_resource_ids=["r1"]))
    assert body == {"scene": 0, "excludeResourceIds": ["r1"], "startParameter": to_wire(start)}


@pytest.mark.parametrize("name", fixture_names("responses"))
def test_every_documented_response_structures_leniently_and_strictly(name: str) -> None:
    """Each documented 2xx body reads under the lenient converter and passes the strict one (no unknown keys)."""
    endpoint = name.split("__")[0]
    body = load("responses", name)
    lenient = from_wire(RESPONSE_MODELS[endpoint], body, endpoint=endpoint)
    strict = from_wire(RESPONSE_MODELS[endpoint], body, endpoint=endpoint, strict=True)
    assert lenient == strict


def test_individual_query_values_are_read_with_types() -> None:
    """The JSON-array file list: enum track type, booleans, ms slice times; "status": "5" reads as IN_PROGRESS."""
    q = from_wire(QueryResponse, load("responses", "query__individual"), endpoint="query")
    sr = q.server_response
    assert sr.status is RecordingStatus.IN_PROGRESS
    assert sr.file_list_mode is FileListMode.JSON
    assert isinstance(sr.file_list, tuple)
    assert [f.uid for f in q.files] == ["123", "456"]
    first = q.files[0]
    assert first == RecordedFile(
        filename="xxx.m3u8",
        track_type=TrackType.AUDIO_AND_VIDEO,
        uid="123",
        mixed_all_user=True,
        is_playable=True,
        slice_start_time=1562724971626,
    )
    assert q.sid == "38f8e3cfdc474cd56fc1ceba380d7e1a"


def test_mix_string_file_list_is_kept_and_normalised() -> None:
    """fileList as a string (mix) stays a string in file_list, and files gives RecordedFile entries."""
    body = load("responses", "query__mix_v2019")
    q = from_wire(QueryResponse, body, endpoint="query")
    assert q.server_response.file_list == body["serverResponse"]["fileList"]
    assert [f.filename for f in q.files] == [body["serverResponse"]["fileList"]]
    assert isinstance(q.server_response.slice_start_time, int)


def test_web_query_reads_the_web_recorder_payload() -> None:
    """Web mode: the files live in extensionServiceState's web_recorder_service payload, key `filename`."""
    q = from_wire(QueryResponse, load("responses", "query__web"), endpoint="query")
    entry = q.server_response.service("web_recorder_service")
    assert entry is not None
    assert isinstance(entry.payload, WebRecorderPayload)
    assert entry.payload.onhold is True
    assert entry.payload.state == "inProgress"
    assert [f.filename for f in q.files] == ["xxx.m3u8"]


def test_web_stop_reads_upload_status_from_upload_service() -> None:
    """Web stop: uploadingStatus sits in the upload_service payload; StopResponse.uploading_status finds it."""
    s = from_wire(StopResponse, load("responses", "stop__web"), endpoint="stop")
    assert s.uploading_status is UploadingStatus.UPLOADED
    assert isinstance(s.server_response.extension_service_state[0].payload, UploadServicePayload)


def test_variants_file_list_str_filename_case_strings_for_numbers_and_booleans() -> None:
    """fileListStr, fileName, numbers/booleans as strings, unknown keys and enum values all read without error."""
    body = {
        "resourceId": "r",
        "sid": "s",
        "newTopLevelKey": {"x": 1},
        "serverResponse": {
            "status": "4",
            "fileListMode": "json",
            "fileList": [
                {
                    "fileName": "a.m3u8",
                    "trackType": "audio",
                    "uid": 123,
                    "mixedAllUser": "false",
                    "isPlayable": "true",
                    "sliceStartTime": "1562724971626",
                },
                {"filename": "b.m3u8", "trackType": "hologram", "uid": "9"},
            ],
            "fileListStr": "c.m3u8",
            "uploadingStatus": "stranded",
            "sliceStartTime": 1562724971,
        },
    }
    q = from_wire(QueryResponse, body, endpoint="query")
    a, b, c = q.files
    assert (a.filename, a.uid, a.mixed_all_user, a.is_playable, a.slice_start_time) == (
        "a.m3u8",
        "123",
        False,
        True,
        1562724971626,
    )
    assert b.track_type == "hologram"  # unknown enum value kept, not a crash
    assert c.filename == "c.m3u8"
    assert q.server_response.status is RecordingStatus.READY
    assert q.server_response.uploading_status is UploadingStatus.STRANDED
    assert RecordedFile(filename="x", slice_start_time=1562724971).slice_start_time_ms == 1562724971000
    with pytest.raises(ResponseFormatError, match="unexpected keys"):
        from_wire(QueryResponse, body, endpoint="query", strict=True)


def test_unknown_status_value_is_kept_as_int() -> None:
    """A status Agora adds later (e.g. 9) is kept as a plain int."""
    q = from_wire(QueryResponse, {"serverResponse": {"status": 9}}, endpoint="query")
    assert q.status == 9
    assert not isinstance(q.status, RecordingStatus)


def test_empty_sid_reads_as_no_sid() -> None:
    """`sid: ""` means no session: None on query/stop, and a typed error on start (a start needs a sid)."""
    assert from_wire(QueryResponse, {"resourceId": "r", "sid": ""}, endpoint="query").sid is None
    with pytest.raises(ResponseFormatError, match=r"\$\.sid"):
        from_wire(StartResponse, {"resourceId": "r", "sid": ""}, endpoint="start")


def test_playload_typo_and_several_services_in_one_array() -> None:
    """`playload` is read as payload; web recorder, RTMP push and an unknown service coexist in one array."""
    body = {
        "serverResponse": {
            "extensionServiceState": [
                {"playload": {"uploadingStatus": "backuped"}, "serviceName": "upload_service"},
                {
                    "payload": {"fileList": [{"filename": "w.m3u8", "sliceStartTime": 0}], "state": "exit"},
                    "serviceName": "web_recorder_service",
                },
                {
                    "payload": {"outputs": [{"rtmpUrl": "rtmp://cdn/x", "status": "publishing"}]},
                    "serviceName": "rtmp_publish_service",
                },
                {"payload": {"anything": [1, 2]}, "serviceName": "future_service"},
            ]
        }
    }
    s = from_wire(StopResponse, body, endpoint="stop", strict=True)
    services = {e.service_name: e for e in s.server_response.extension_service_state}
    assert s.uploading_status is UploadingStatus.BACKUPED
    rtmp = services["rtmp_publish_service"].payload
    assert isinstance(rtmp, RtmpPublishPayload)
    assert rtmp.outputs[0].status == "publishing"
    assert services["future_service"].payload == {"anything": [1, 2]}
    assert [f.filename for f in s.files] == ["w.m3u8"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"resourceId": 5.5}, "$.resourceId"),
        ({}, "$.resourceId"),
        ([1, 2], "JSON object"),
    ],
)
def test_acquire_body_that_does_not_fit_raises_response_format_error(body: Any, path: str) -> None:
    """A 2xx body that does not fit the model is a ResponseFormatError naming the wire path, not a KeyError."""
    with pytest.raises(ResponseFormatError) as info:
        from_wire(AcquireResponse, body, endpoint="acquire")
    assert path in str(info.value)
    assert info.value.endpoint == "acquire"


def test_malformed_nested_values_name_their_wire_paths() -> None:
    """Wire paths use Agora's camelCase keys, with list indexes."""
    body = {"serverResponse": {"fileList": [{"trackType": "audio"}], "status": "abc"}}
    with pytest.raises(ResponseFormatError) as info:
        from_wire(QueryResponse, body, endpoint="query")
    message = str(info.value)
    assert "$.serverResponse.fileList[0].filename" in message
    assert "$.serverResponse.status" in message
    with pytest.raises(ResponseFormatError, match=r"\$\.serverResponse\.fileList"):
        from_wire(QueryResponse, {"serverResponse": {"fileList": 7}}, endpoint="query")


def test_secrets_are_not_in_model_reprs() -> None:
    """Token, storage keys, STS token, decryption secret and salt never appear in repr."""
    request = ClientRequest(
        token="TOKEN-CANARY",
        recording_config=RecordingConfig(decryption_mode=7, secret="SECRET-CANARY", salt="SALT-CANARY"),
        storage_config=StorageConfig(
            vendor=1,
            region=0,
            bucket="b",
            access_key="AK-CANARY",
            secret_key="SK-CANARY",
            sts_token="STS-CANARY",
            sts_expiration=1_900_000_000,
        ),
    )
    text = repr(request) + str(request)
    for canary in ("TOKEN-CANARY", "SECRET-CANARY", "SALT-CANARY", "AK-CANARY", "SK-CANARY", "STS-CANARY"):
        assert canary not in text
    assert "bucket='b'" in text


def test_av_file_type_is_sent_in_agoras_order() -> None:
    """["mp4", "hls"] is accepted and sent as Agora documents it, ["hls", "mp4"]."""
    assert to_wire(RecordingFileConfig(av_file_type=["mp4", "hls"])) == {"avFileType": ["hls", "mp4"]}
    assert to_wire(RecordingFileConfig(av_file_type=("hls",))) == {"avFileType": ["hls"]}


def test_acquire_response_reads_the_2026_echo_of_cname_and_uid() -> None:
    """The current acquire page answers {cname, uid, resourceId}; the strict converter accepts it."""
    answer = from_wire(AcquireResponse, {"cname": "c", "uid": "1", "resourceId": "r"}, endpoint="acquire", strict=True)
    assert (answer.resource_id, answer.cname, answer.uid) == ("r", "c", "1")
