"""msgspec and pydantic v2 models equivalent to the library's query answer and start ``clientRequest``.

Same fields, same wire names, unset fields omitted; enums are plain values. Either package may be missing: then
its builder returns ``None`` and the benchmark skips its column. No ``from __future__ import annotations`` here:
the models are local to their builders, and both packages resolve the annotations when each class is created.
"""

from typing import Any

__all__ = ["msgspec_models", "pydantic_models"]


def msgspec_models() -> dict[str, Any] | None:
    """``{"QueryResponse": ..., "ClientRequest": ...}`` as msgspec Structs, or ``None`` without msgspec."""
    try:
        import msgspec
    except ImportError:
        return None

    class RecordedFile(msgspec.Struct, rename="camel", omit_defaults=True):
        filename: str = msgspec.field(name="fileName")
        track_type: str | None = None
        uid: str | None = None
        mixed_all_user: bool | None = None
        is_playable: bool | None = None
        slice_start_time: int | None = None

    class ServerResponse(msgspec.Struct, rename="camel", omit_defaults=True):
        status: int | None = None
        file_list_mode: str | None = None
        file_list: str | list[RecordedFile] | None = None
        file_list_str: str | None = None
        slice_start_time: int | None = None
        uploading_status: str | None = None
        extension_service_state: list[dict[str, Any]] = msgspec.field(default_factory=list)
        sub_service_status: dict[str, str] | None = None

    class QueryResponse(msgspec.Struct, rename="camel", omit_defaults=True):
        resource_id: str | None = None
        sid: str | None = None
        cname: str | None = None
        uid: str | None = None
        server_response: ServerResponse = msgspec.field(default_factory=ServerResponse)

    class LayoutConfig(msgspec.Struct, rename="camel", omit_defaults=True):
        x_axis: float = msgspec.field(name="x_axis")
        y_axis: float = msgspec.field(name="y_axis")
        width: float
        height: float
        uid: str | None = None
        alpha: float | None = None
        render_mode: int | None = msgspec.field(default=None, name="render_mode")

    class TranscodingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
        width: int
        height: int
        fps: int
        bitrate: int
        max_resolution_uid: str | None = None
        mixed_video_layout: int | None = None
        background_color: str | None = None
        background_image: str | None = None
        default_user_background_image: str | None = None
        layout_config: list[LayoutConfig] | None = None
        background_config: list[dict[str, Any]] | None = None

    class RecordingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
        channel_type: int | None = None
        stream_types: int | None = None
        stream_mode: str | None = None
        decryption_mode: int | None = None
        secret: str | None = None
        salt: str | None = None
        audio_profile: int | None = None
        video_stream_type: int | None = None
        max_idle_time: int | None = None
        transcoding_config: TranscodingConfig | None = None
        subscribe_audio_uids: list[str] | None = None
        unsubscribe_audio_uids: list[str] | None = msgspec.field(default=None, name="unSubscribeAudioUids")
        subscribe_video_uids: list[str] | None = None
        unsubscribe_video_uids: list[str] | None = msgspec.field(default=None, name="unSubscribeVideoUids")
        subscribe_uid_group: int | None = None
        private_params: str | None = None

    class RecordingFileConfig(msgspec.Struct, rename="camel", omit_defaults=True):
        av_file_type: list[str] | None = None

    class ExtensionParams(msgspec.Struct, rename="camel", omit_defaults=True):
        sse: str | None = None
        tag: str | None = None
        endpoint: str | None = None

    class StorageConfig(msgspec.Struct, rename="camel", omit_defaults=True):
        vendor: int
        region: int
        bucket: str
        access_key: str
        secret_key: str
        sts_token: str | None = None
        sts_expiration: int | None = None
        file_name_prefix: list[str] | None = None
        extension_params: ExtensionParams | None = None

    class ClientRequest(msgspec.Struct, rename="camel", omit_defaults=True):
        token: str | None = None
        recording_config: RecordingConfig | None = None
        recording_file_config: RecordingFileConfig | None = None
        snapshot_config: dict[str, Any] | None = None
        storage_config: StorageConfig | None = None
        extension_service_config: dict[str, Any] | None = None
        apps_collection: dict[str, Any] | None = None
        transcode_options: dict[str, Any] | None = None

    return {"QueryResponse": QueryResponse, "ClientRequest": ClientRequest}


def pydantic_models() -> dict[str, Any] | None:
    """``{"QueryResponse": ..., "ClientRequest": ...}`` as pydantic v2 models, or ``None`` without pydantic 2."""
    try:
        import pydantic
        from pydantic import BaseModel, ConfigDict, Field
        from pydantic.alias_generators import to_camel
    except ImportError:
        return None
    if not pydantic.VERSION.startswith("2."):
        return None

    class Model(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    class RecordedFile(Model):
        filename: str = Field(alias="fileName")
        track_type: str | None = None
        uid: str | None = None
        mixed_all_user: bool | None = None
        is_playable: bool | None = None
        slice_start_time: int | None = None

    class ServerResponse(Model):
        status: int | None = None
        file_list_mode: str | None = None
        file_list: str | tuple[RecordedFile, ...] | None = None
        file_list_str: str | None = None
        slice_start_time: int | None = None
        uploading_status: str | None = None
        extension_service_state: tuple[dict[str, Any], ...] = ()
        sub_service_status: dict[str, str] | None = None

    class QueryResponse(Model):
        resource_id: str | None = None
        sid: str | None = None
        cname: str | None = None
        uid: str | None = None
        server_response: ServerResponse = Field(default_factory=ServerResponse)

    class LayoutConfig(Model):
        x_axis: float = Field(alias="x_axis")
        y_axis: float = Field(alias="y_axis")
        width: float
        height: float
        uid: str | None = None
        alpha: float | None = None
        render_mode: int | None = Field(default=None, alias="render_mode")

    class TranscodingConfig(Model):
        width: int
        height: int
        fps: int
        bitrate: int
        max_resolution_uid: str | None = None
        mixed_video_layout: int | None = None
        background_color: str | None = None
        background_image: str | None = None
        default_user_background_image: str | None = None
        layout_config: tuple[LayoutConfig, ...] | None = None
        background_config: tuple[dict[str, Any], ...] | None = None

    class RecordingConfig(Model):
        channel_type: int | None = None
        stream_types: int | None = None
        stream_mode: str | None = None
        decryption_mode: int | None = None
        secret: str | None = None
        salt: str | None = None
        audio_profile: int | None = None
        video_stream_type: int | None = None
        max_idle_time: int | None = None
        transcoding_config: TranscodingConfig | None = None
        subscribe_audio_uids: tuple[str, ...] | None = None
        unsubscribe_audio_uids: tuple[str, ...] | None = Field(default=None, alias="unSubscribeAudioUids")
        subscribe_video_uids: tuple[str, ...] | None = None
        unsubscribe_video_uids: tuple[str, ...] | None = Field(default=None, alias="unSubscribeVideoUids")
        subscribe_uid_group: int | None = None
        private_params: str | None = None

    class RecordingFileConfig(Model):
        av_file_type: tuple[str, ...] | None = None

    class ExtensionParams(Model):
        sse: str | None = None
        tag: str | None = None
        endpoint: str | None = None

    class StorageConfig(Model):
        vendor: int
        region: int
        bucket: str
        access_key: str
        secret_key: str
        sts_token: str | None = None
        sts_expiration: int | None = None
        file_name_prefix: tuple[str, ...] | None = None
        extension_params: ExtensionParams | None = None

    class ClientRequest(Model):
        token: str | None = None
        recording_config: RecordingConfig | None = None
        recording_file_config: RecordingFileConfig | None = None
        snapshot_config: dict[str, Any] | None = None
        storage_config: StorageConfig | None = None
        extension_service_config: dict[str, Any] | None = None
        apps_collection: dict[str, Any] | None = None
        transcode_options: dict[str, Any] | None = None

    return {"QueryResponse": QueryResponse, "ClientRequest": ClientRequest}
