"""Rules that depend on the recording mode, checked where the mode is known, before anything is sent."""

from __future__ import annotations

from typing import Any

from agora_recording._errors import InvalidRequestError
from agora_recording.models._enums import Mode
from agora_recording.models._requests import ClientRequest, UpdateClientRequest

__all__ = ["check_mode", "check_start_request", "check_update_layout_mode", "check_update_request"]


def check_mode(mode: Any, *, field: str = "mode") -> Mode:
    """``Mode`` or its string value -> ``Mode``; anything else raises InvalidRequestError."""
    if isinstance(mode, Mode):
        return mode
    try:
        return Mode(mode)
    except ValueError:
        raise InvalidRequestError(field, f"must be one of 'individual', 'mix', 'web', got {mode!r}") from None


def check_start_request(mode: Mode, request: ClientRequest) -> None:
    """Check the mode-dependent rules of start's ``clientRequest`` (and of acquire's ``startParameter``)."""
    if not isinstance(request, ClientRequest):
        raise InvalidRequestError("client_request", f"must be a ClientRequest, got {type(request).__name__}")
    ext = request.extension_service_config
    web_service = ext.service("web_recorder_service") if ext else None
    vod_service = ext.service("aliyun_vod_service") if ext else None
    rtmp_service = ext.service("rtmp_publish_service") if ext else None
    rc = request.recording_config

    if mode is Mode.WEB:
        if web_service is None:
            raise InvalidRequestError(
                "ClientRequest.extension_service_config (extensionServiceConfig)",
                "web mode needs an extension service named web_recorder_service",
            )
        if request.snapshot_config is not None:
            raise InvalidRequestError("ClientRequest.snapshot_config (snapshotConfig)", "is not supported in web mode")
        if vod_service is not None:
            raise InvalidRequestError(
                "ClientRequest.extension_service_config (extensionServiceConfig)",
                "aliyun_vod_service is not supported in web mode",
            )
    else:
        if web_service is not None or rtmp_service is not None:
            raise InvalidRequestError(
                "ClientRequest.extension_service_config (extensionServiceConfig)",
                "web_recorder_service and rtmp_publish_service need mode 'web'",
            )
        if rc is None:
            raise InvalidRequestError(
                "ClientRequest.recording_config (recordingConfig)", f"is required in {mode.value} mode"
            )

    if mode is Mode.INDIVIDUAL:
        if rc is not None and rc.subscribe_uid_group is None:
            raise InvalidRequestError(
                "RecordingConfig.subscribe_uid_group (subscribeUidGroup)", "is required in individual mode"
            )
        if vod_service is not None:
            raise InvalidRequestError(
                "ClientRequest.extension_service_config (extensionServiceConfig)",
                "aliyun_vod_service applies only in mix mode",
            )
        fc = request.recording_file_config
        if fc is not None and fc.av_file_type is not None and "mp4" in fc.av_file_type:
            raise InvalidRequestError(
                "RecordingFileConfig.av_file_type (avFileType)", 'individual mode supports only ["hls"]'
            )
    elif request.snapshot_config is not None:
        raise InvalidRequestError(
            "ClientRequest.snapshot_config (snapshotConfig)", "screenshots are supported only in individual mode"
        )

    if mode is not Mode.MIX and rc is not None:
        if rc.transcoding_config is not None:
            raise InvalidRequestError(
                "RecordingConfig.transcoding_config (transcodingConfig)", "applies only in mix mode"
            )
        if rc.audio_profile is not None:
            raise InvalidRequestError("RecordingConfig.audio_profile (audioProfile)", "applies only in mix mode")

    if mode is not Mode.INDIVIDUAL and rc is not None and rc.stream_mode is not None:
        raise InvalidRequestError("RecordingConfig.stream_mode (streamMode)", "applies only in individual mode")

    if vod_service is not None:
        if request.storage_config is not None:
            raise InvalidRequestError(
                "ClientRequest.storage_config (storageConfig)", "cannot be set together with aliyun_vod_service"
            )
    elif request.storage_config is None:
        raise InvalidRequestError("ClientRequest.storage_config (storageConfig)", "is required to start a recording")


def check_update_request(mode: Mode, request: UpdateClientRequest) -> None:
    """Check the mode-dependent rules of update's ``clientRequest``."""
    if not isinstance(request, UpdateClientRequest):
        raise InvalidRequestError("client_request", f"must be an UpdateClientRequest, got {type(request).__name__}")
    if mode is Mode.WEB and request.stream_subscribe is not None:
        raise InvalidRequestError(
            "UpdateClientRequest.stream_subscribe (streamSubscribe)", "is not supported in web mode"
        )
    if mode is not Mode.WEB:
        for name, wire in (
            ("web_recording_config", "webRecordingConfig"),
            ("rtmp_publish_config", "rtmpPublishConfig"),
        ):
            if getattr(request, name) is not None:
                raise InvalidRequestError(f"UpdateClientRequest.{name} ({wire})", "applies only in web mode")


def check_update_layout_mode(mode: Mode) -> None:
    """updateLayout exists only in mix mode."""
    if mode is not Mode.MIX:
        raise InvalidRequestError("mode", f"updateLayout is supported only in mix mode, not {mode.value}")
