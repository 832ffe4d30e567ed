"""Invalid input is refused before anything is sent, with an error that names the field and the rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agora_recording import AgoraError, InvalidRequestError
from agora_recording.models import (
    AcquireClientRequest,
    AudioUidList,
    BackgroundConfig,
    ClientRequest,
    ExtensionParams,
    ExtensionService,
    ExtensionServiceConfig,
    LayoutConfig,
    Mode,
    RecordingConfig,
    RecordingFileConfig,
    RtmpOutput,
    RtmpPublishServiceParam,
    SnapshotConfig,
    StorageConfig,
    StreamSubscribe,
    TranscodingConfig,
    UpdateClientRequest,
    UpdateLayoutClientRequest,
    WebRecorderServiceParam,
    WebRecordingConfig,
    check_cname,
    check_uid,
)
from agora_recording.models._rules import (
    check_mode,
    check_start_request,
    check_update_layout_mode,
    check_update_request,
)


def storage(**kw: Any) -> StorageConfig:
    base: dict[str, Any] = {"vendor": 1, "region": 0, "bucket": "b", "access_key": "ak", "secret_key": "sk"}
    base.update(kw)
    return StorageConfig(**base)


def web_param(**kw: Any) -> WebRecorderServiceParam:
    base: dict[str, Any] = {
        "url": "https://example.com/page",
        "audio_profile": 0,
        "video_width": 1280,
        "video_height": 720,
        "max_recording_hour": 1,
    }
    base.update(kw)
    return WebRecorderServiceParam(**base)


def web_request(**kw: Any) -> ClientRequest:
    service = ExtensionService(service_name="web_recorder_service", service_param=web_param())
    return ClientRequest(
        extension_service_config=ExtensionServiceConfig(extension_services=[service]), storage_config=storage(), **kw
    )


def transcoding(**kw: Any) -> TranscodingConfig:
    base: dict[str, Any] = {"width": 640, "height": 360, "fps": 15, "bitrate": 500}
    base.update(kw)
    return TranscodingConfig(**base)


def region(**kw: Any) -> LayoutConfig:
    base: dict[str, Any] = {"x_axis": 0.0, "y_axis": 0.0, "width": 0.5, "height": 0.5}
    base.update(kw)
    return LayoutConfig(**base)


MIX = ClientRequest(recording_config=RecordingConfig(), storage_config=storage())

# (case id, a call that must raise, a substring the message must contain: the field)
INVALID: list[tuple[str, Callable[[], Any], str]] = [
    ("uid zero", lambda: check_uid("0"), "uid"),
    ("uid too large", lambda: check_uid(str(2**32)), "uid"),
    ("uid not digits", lambda: check_uid("abc"), "uid"),
    ("uid negative", lambda: check_uid(-5), "uid"),
    ("uid leading zero", lambda: check_uid("0123"), "uid"),
    ("uid bool", lambda: check_uid(True), "uid"),
    ("cname empty", lambda: check_cname(""), "cname"),
    ("cname 64 bytes", lambda: check_cname("a" * 64), "cname"),
    ("cname bad character", lambda: check_cname("room/1"), "cname"),
    ("cname non-ascii", lambda: check_cname("räum"), "cname"),
    ("web cname over 1024 bytes", lambda: check_cname("a" * 1025, web=True), "cname"),
    ("mode unknown", lambda: check_mode("composite"), "mode"),
    ("resourceExpiredHour 0", lambda: AcquireClientRequest(resource_expired_hour=0), "resource_expired_hour"),
    ("resourceExpiredHour 721", lambda: AcquireClientRequest(resource_expired_hour=721), "resourceExpiredHour"),
    ("scene 3", lambda: AcquireClientRequest(scene=3), "scene"),
    ("region XX", lambda: AcquireClientRequest(region="XX"), "region"),
    ("excludeResourceIds empty id", lambda: AcquireClientRequest(exclude_resource_ids=[""]), "exclude_resource_ids"),
    ("maxIdleTime 4", lambda: RecordingConfig(max_idle_time=4), "max_idle_time"),
    ("maxIdleTime too large", lambda: RecordingConfig(max_idle_time=2_592_001), "maxIdleTime"),
    ("streamTypes 3", lambda: RecordingConfig(stream_types=3), "stream_types"),
    ("channelType 2", lambda: RecordingConfig(channel_type=2), "channel_type"),
    ("audioProfile 3", lambda: RecordingConfig(audio_profile=3), "audio_profile"),
    ("videoStreamType 2", lambda: RecordingConfig(video_stream_type=2), "video_stream_type"),
    ("streamMode unknown", lambda: RecordingConfig(stream_mode="raw"), "stream_mode"),
    ("decryptionMode 9", lambda: RecordingConfig(decryption_mode=9, secret="s"), "decryption_mode"),
    ("decryption without secret", lambda: RecordingConfig(decryption_mode=1), "secret"),
    ("GCM2 without salt", lambda: RecordingConfig(decryption_mode=8, secret="s"), "salt"),
    ("subscribeUidGroup 6", lambda: RecordingConfig(subscribe_uid_group=6), "subscribe_uid_group"),
    ("33 audio uids", lambda: RecordingConfig(subscribe_audio_uids=[str(i) for i in range(1, 34)]), "subscribe_audio"),
    ("empty video list", lambda: RecordingConfig(subscribe_video_uids=[]), "subscribe_video_uids"),
    ("uid list bad entry", lambda: RecordingConfig(subscribe_video_uids=["abc"]), "subscribe_video_uids"),
    (
        "audio white and black list",
        lambda: RecordingConfig(subscribe_audio_uids=["1"], unsubscribe_audio_uids=["2"]),
        "unsubscribe_audio_uids",
    ),
    (
        "video white and black list",
        lambda: RecordingConfig(subscribe_video_uids=["1"], unsubscribe_video_uids=["2"]),
        "unSubscribeVideoUids",
    ),
    (
        "update audio white and black list",
        lambda: AudioUidList(subscribe_audio_uids=["1"], unsubscribe_audio_uids=["2"]),
        "unsubscribe_audio_uids",
    ),
    ("audio list with video-only", lambda: RecordingConfig(stream_types=1, subscribe_audio_uids=["1"]), "audio"),
    ("transcoding width 1921", lambda: transcoding(width=1921, height=100), "width"),
    ("transcoding over 1920x1080", lambda: transcoding(width=1920, height=1920), "width/height"),
    ("transcoding fps 0", lambda: transcoding(fps=0), "fps"),
    ("transcoding bitrate negative", lambda: transcoding(bitrate=-1), "bitrate"),
    ("transcoding missing width", lambda: TranscodingConfig(width=None, height=1, fps=1, bitrate=1), "width"),  # type: ignore[arg-type]
    ("backgroundColor without #", lambda: transcoding(background_color="FF0000"), "background_color"),
    ("backgroundColor short", lambda: UpdateLayoutClientRequest(background_color="#FFF"), "backgroundColor"),
    ("18 layout regions", lambda: UpdateLayoutClientRequest(layout_config=[region()] * 18), "layout_config"),
    ("layout x_axis 1.5", lambda: region(x_axis=1.5), "x_axis"),
    ("layout width negative", lambda: region(width=-0.1), "width"),
    ("layout alpha 2", lambda: region(alpha=2), "alpha"),
    ("layout render_mode 2", lambda: region(render_mode=2), "render_mode"),
    (
        "layoutConfig without custom layout",
        lambda: UpdateLayoutClientRequest(mixed_video_layout=1, layout_config=[region()]),
        "layout_config",
    ),
    ("mixedVideoLayout 4", lambda: UpdateLayoutClientRequest(mixed_video_layout=4), "mixed_video_layout"),
    ("background image not a URL", lambda: BackgroundConfig(uid="1", image_url="file.png"), "image_url"),
    ("fileNamePrefix underscore", lambda: storage(file_name_prefix=["my_dir"]), "file_name_prefix"),
    ("fileNamePrefix too long", lambda: storage(file_name_prefix=["a" * 100, "b" * 100]), "fileNamePrefix"),
    ("vendor negative", lambda: storage(vendor=-1), "vendor"),
    ("bucket empty", lambda: storage(bucket=""), "bucket"),
    ("access key missing", lambda: storage(access_key=None), "access_key"),
    ("sts token on Azure", lambda: storage(vendor=5, sts_token="t", sts_expiration=2_000_000_000), "sts_token"),
    ("sts token without expiration", lambda: storage(sts_token="t"), "sts_expiration"),
    ("vendor 11 without endpoint", lambda: storage(vendor=11, extension_params=ExtensionParams(tag="x")), "endpoint"),
    ("sse unknown", lambda: ExtensionParams(sse="des"), "sse"),
    ("avFileType mp4 alone", lambda: RecordingFileConfig(av_file_type=["mp4"]), "av_file_type"),
    ("captureInterval 0", lambda: SnapshotConfig(capture_interval=0), "capture_interval"),
    ("captureInterval 3601", lambda: SnapshotConfig(capture_interval=3601), "captureInterval"),
    ("snapshot fileType png", lambda: SnapshotConfig(file_type=["png"]), "file_type"),
    (
        "recordingFileConfig with snapshotConfig",
        lambda: ClientRequest(recording_file_config=RecordingFileConfig(), snapshot_config=SnapshotConfig()),
        "snapshot_config",
    ),
    (
        "snapshot with audio-only streams",
        lambda: ClientRequest(recording_config=RecordingConfig(stream_types=0), snapshot_config=SnapshotConfig()),
        "stream_types",
    ),
    ("web videoWidth 200", lambda: web_param(video_width=200), "video_width"),
    ("web over 1920x1080", lambda: web_param(video_width=1920, video_height=1920), "video_width/video_height"),
    ("web maxRecordingHour 721", lambda: web_param(max_recording_hour=721), "max_recording_hour"),
    ("web videoFps 61", lambda: web_param(video_fps=61), "video_fps"),
    ("web maxVideoDuration 29", lambda: web_param(max_video_duration=29), "max_video_duration"),
    ("web readyTimeout 61", lambda: web_param(ready_timeout=61), "ready_timeout"),
    ("web audioProfile 3", lambda: web_param(audio_profile=3), "audio_profile"),
    ("web url not http", lambda: web_param(url="ftp://x"), "url"),
    ("rtmp url not rtmp", lambda: RtmpOutput(rtmp_url="http://cdn"), "rtmp_url"),
    (
        "two rtmp outputs",
        lambda: RtmpPublishServiceParam(outputs=[RtmpOutput(rtmp_url="rtmp://a"), RtmpOutput(rtmp_url="rtmp://b")]),
        "outputs",
    ),
    (
        "web recorder with wrong param type",
        lambda: ExtensionService(service_name="web_recorder_service", service_param={"url": "x"}),
        "service_param",
    ),
    (
        "web recorder with error_ignore",
        lambda: ExtensionService(
            service_name="web_recorder_service", service_param=web_param(), error_handle_policy="error_ignore"
        ),
        "error_handle_policy",
    ),
    ("no extension services", lambda: ExtensionServiceConfig(extension_services=[]), "extension_services"),
    ("empty update", lambda: UpdateClientRequest(), "UpdateClientRequest"),
    ("onhold not bool", lambda: WebRecordingConfig(onhold="yes"), "onhold"),  # type: ignore[arg-type]
    # rules that depend on the mode
    ("web mode without web recorder", lambda: check_start_request(Mode.WEB, MIX), "extension_service_config"),
    (
        "snapshot in mix mode",
        lambda: check_start_request(
            Mode.MIX,
            ClientRequest(
                recording_config=RecordingConfig(), snapshot_config=SnapshotConfig(), storage_config=storage()
            ),
        ),
        "snapshot_config",
    ),
    ("individual without subscribeUidGroup", lambda: check_start_request(Mode.INDIVIDUAL, MIX), "subscribe_uid_group"),
    (
        "transcoding in individual mode",
        lambda: check_start_request(
            Mode.INDIVIDUAL,
            ClientRequest(
                recording_config=RecordingConfig(subscribe_uid_group=0, transcoding_config=transcoding()),
                storage_config=storage(),
            ),
        ),
        "transcoding_config",
    ),
    (
        "audioProfile in individual mode",
        lambda: check_start_request(
            Mode.INDIVIDUAL,
            ClientRequest(
                recording_config=RecordingConfig(subscribe_uid_group=0, audio_profile=1), storage_config=storage()
            ),
        ),
        "audio_profile",
    ),
    (
        "mp4 in individual mode",
        lambda: check_start_request(
            Mode.INDIVIDUAL,
            ClientRequest(
                recording_config=RecordingConfig(subscribe_uid_group=0),
                recording_file_config=RecordingFileConfig(av_file_type=["hls", "mp4"]),
                storage_config=storage(),
            ),
        ),
        "av_file_type",
    ),
    ("web recorder in mix mode", lambda: check_start_request(Mode.MIX, web_request()), "extension_service_config"),
    (
        "audioProfile in web mode",
        lambda: check_start_request(Mode.WEB, web_request(recording_config=RecordingConfig(audio_profile=1))),
        "audio_profile",
    ),
    (
        "transcoding in web mode",
        lambda: check_start_request(
            Mode.WEB, web_request(recording_config=RecordingConfig(transcoding_config=transcoding()))
        ),
        "transcoding_config",
    ),
    (
        "mix without recordingConfig",
        lambda: check_start_request(Mode.MIX, ClientRequest(storage_config=storage())),
        "recording_config",
    ),
    (
        "start without storage",
        lambda: check_start_request(Mode.MIX, ClientRequest(recording_config=RecordingConfig())),
        "storage_config",
    ),
    (
        "streamMode in mix mode",
        lambda: check_start_request(
            Mode.MIX, ClientRequest(recording_config=RecordingConfig(stream_mode="standard"), storage_config=storage())
        ),
        "stream_mode",
    ),
    (
        "streamSubscribe in web mode",
        lambda: check_update_request(
            Mode.WEB, UpdateClientRequest(stream_subscribe=StreamSubscribe(audio_uid_list=AudioUidList()))
        ),
        "stream_subscribe",
    ),
    (
        "onhold outside web mode",
        lambda: check_update_request(
            Mode.MIX, UpdateClientRequest(web_recording_config=WebRecordingConfig(onhold=True))
        ),
        "web_recording_config",
    ),
    ("updateLayout in individual mode", lambda: check_update_layout_mode(Mode.INDIVIDUAL), "mode"),
    ("updateLayout in web mode", lambda: check_update_layout_mode(Mode.WEB), "mode"),
]


def test_the_invalid_input_table_is_large_enough() -> None:
    """The issue asks for at least 40 refused inputs; the table must not shrink below that."""
    assert len(INVALID) >= 40
    assert len({case for case, _, _ in INVALID}) == len(INVALID)


@pytest.mark.parametrize(("case", "call", "field"), INVALID, ids=[c for c, _, _ in INVALID])
def test_invalid_input_is_refused_naming_the_field(case: str, call: Callable[[], Any], field: str) -> None:
    """Each invalid input raises InvalidRequestError (an AgoraError and a ValueError) naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        call()
    err = info.value
    assert isinstance(err, AgoraError)
    assert isinstance(err, ValueError)
    assert field in str(err), f"{case}: {err}"
    assert field in err.field or field in err.rule


def test_valid_edges_are_accepted() -> None:
    """The documented bounds themselves are valid: no off-by-one in the other direction."""
    assert check_uid(1) == "1"
    assert check_uid(str(2**32 - 1)) == str(2**32 - 1)
    assert check_cname("a" * 63) == "a" * 63
    assert check_cname("Room 1!#$%&()+-:;<=.>?@[]^_{}|~,") == "Room 1!#$%&()+-:;<=.>?@[]^_{}|~,"
    assert check_cname("ü" * 500, web=True)
    RecordingConfig(max_idle_time=5)
    RecordingConfig(max_idle_time=2_592_000, subscribe_audio_uids=["#allstream#"], subscribe_uid_group=5)
    RecordingConfig(decryption_mode=8, secret="s", salt="c2FsdA==")
    transcoding(width=1920, height=1080)
    SnapshotConfig(capture_interval=1)
    SnapshotConfig(capture_interval=3600)
    web_param(video_width=240, video_height=240, video_fps=5, max_video_duration=240, ready_timeout=0)
    storage(file_name_prefix=["a" * 64, "b" * 62])  # "a.../b.../" is 128 characters, trailing slash included
    storage(vendor=11, region=0, extension_params=ExtensionParams(endpoint="https://minio.example"))
    UpdateLayoutClientRequest(mixed_video_layout=3, layout_config=[region()] * 17)
    check_start_request(Mode.WEB, web_request())
    check_start_request(Mode.MIX, MIX)
    assert check_mode("individual") is Mode.INDIVIDUAL
