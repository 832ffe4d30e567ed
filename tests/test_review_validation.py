"""Review reproductions: bad input must be an InvalidRequestError naming the field, before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from agora_recording import ClientRequest, InvalidRequestError, RecordingConfig
from agora_recording.testing._clock import VirtualClock
from tests._support import STORAGE, client_for, make_fake

pytestmark = pytest.mark.anyio


def _storage_as_dict() -> ClientRequest:
    wire = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "a", "secretKey": "k"}
    return ClientRequest(token="t", recording_config=RecordingConfig(channel_type=1), storage_config=wire)  # type: ignore[arg-type]  # the bad input under test


def _recording_as_str() -> ClientRequest:
    return ClientRequest(token="t", recording_config="mix", storage_config=STORAGE)  # type: ignore[arg-type]  # the bad input under test


def _transcoding_as_dict() -> ClientRequest:
    config = RecordingConfig(channel_type=1, transcoding_config={"width": 640})  # type: ignore[arg-type]  # the bad input under test
    return ClientRequest(token="t", recording_config=config, storage_config=STORAGE)


BUILDERS: dict[str, tuple[Any, str]] = {
    "storage_config as a wire dict": (_storage_as_dict, "storage_config"),
    "recording_config as a string": (_recording_as_str, "recording_config"),
    "transcoding_config as a dict": (_transcoding_as_dict, "transcoding_config"),
}


@pytest.mark.parametrize("case", list(BUILDERS))
async def test_a_nested_config_of_the_wrong_type_is_an_invalid_request_naming_it(case: str) -> None:
    build, field = BUILDERS[case]
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        refused: InvalidRequestError | None = None
        try:
            request = build()  # refusing it here is fine too
        except InvalidRequestError as exc:
            refused = exc
        if refused is None:
            with pytest.raises(InvalidRequestError) as info:
                await client.start(resource_id="r" * 40, mode="mix", cname="room", uid="1", client_request=request)
            refused = info.value
        assert field in refused.field
    assert fake.requests_to("start") == ()


def _every_nested_field() -> list[tuple[type, str, dict[str, Any]]]:
    """Each model field that holds another model, with the smallest valid other arguments of its class."""
    import agora_recording.models as m

    ok_storage = {"vendor": 1, "region": 0, "bucket": "b", "access_key": "a", "secret_key": "k"}
    return [
        (m.RecordingConfig, "transcoding_config", {}),
        (m.StorageConfig, "extension_params", ok_storage),
        (m.TranscodeOptions, "trans_config", {}),
        (m.TranscodeOptions, "container", {"trans_config": m.TransConfig(trans_mode="audioMix")}),
        (m.TranscodeOptions, "audio", {"trans_config": m.TransConfig(trans_mode="audioMix")}),
        (m.ClientRequest, "recording_config", {}),
        (m.ClientRequest, "recording_file_config", {}),
        (m.ClientRequest, "snapshot_config", {}),
        (m.ClientRequest, "storage_config", {}),
        (m.ClientRequest, "extension_service_config", {}),
        (m.ClientRequest, "apps_collection", {}),
        (m.ClientRequest, "transcode_options", {}),
        (m.AcquireClientRequest, "start_parameter", {}),
        (m.StreamSubscribe, "audio_uid_list", {}),
        (m.StreamSubscribe, "video_uid_list", {}),
        (m.UpdateClientRequest, "stream_subscribe", {}),
        (m.UpdateClientRequest, "web_recording_config", {}),
        (m.UpdateClientRequest, "rtmp_publish_config", {}),
        (m.UpdateClientRequest, "storage_config", {}),
        (m.ApiData, "video_data", {}),
        (m.AliyunVodServiceParam, "api_data", {"access_key": "a", "secret_key": "k", "region_id": "r"}),
    ]


@pytest.mark.parametrize(("model", "name", "others"), _every_nested_field(), ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("bad", [{"width": 640}, "mix", 7])
def test_every_nested_model_field_refuses_another_type_naming_the_field(
    model: type, name: str, others: dict[str, Any], bad: object
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        model(**others, **{name: bad})
    assert f"{model.__name__}.{name}" in info.value.field
    assert "must be a " in info.value.rule
    assert type(bad).__name__ in info.value.rule


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (
            lambda m: m.TranscodingConfig(width=1, height=1, fps=1, bitrate=1, layout_config=[{"x_axis": 0}]),
            "layout_config",
        ),
        (
            lambda m: m.TranscodingConfig(width=1, height=1, fps=1, bitrate=1, background_config=["u"]),
            "background_config",
        ),
        (lambda m: m.UpdateLayoutClientRequest(layout_config=[{"x_axis": 0}]), "layout_config"),
        (lambda m: m.UpdateLayoutClientRequest(background_config=[{}]), "background_config"),
        (lambda m: m.RtmpPublishConfig(outputs=[{"rtmpUrl": "rtmp://x"}]), "outputs"),
        (lambda m: m.RtmpPublishServiceParam(outputs=["rtmp://x"]), "outputs"),
        (
            lambda m: m.ExtensionServiceConfig(extension_services=[{"serviceName": "web_recorder_service"}]),
            "extension_services",
        ),
    ],
)
def test_a_list_of_models_refuses_entries_of_another_type(build: Any, field: str) -> None:
    import agora_recording.models as m

    with pytest.raises(InvalidRequestError) as info:
        build(m)
    assert field in info.value.field
    assert "entries must be" in info.value.rule
