"""Request models: the ``clientRequest`` objects of acquire, start, update, updateLayout and stop.

Every model is frozen and keyword-only; Python names are the snake_case of Agora's wire keys (the converter
applies the camelCase rule). Unset optional fields are ``None`` and are omitted from the wire body. Validators
check Agora's documented limits and raise :class:`~agora_recording.InvalidRequestError` naming the field.
Secrets (RTC token, storage keys, STS token, decryption secret and salt) are left out of ``repr``.
"""

from __future__ import annotations

from typing import Any

import attrs

from agora_recording._errors import InvalidRequestError
from agora_recording.models import _validation as v
from agora_recording.models._enums import (
    AudioProfile,
    ChannelType,
    DecryptionMode,
    MixedVideoLayout,
    Region,
    RenderMode,
    Scene,
    StreamMode,
    StreamTypes,
    Vendor,
    VideoStreamType,
)
from agora_recording.models._extensions import (
    MAX_PIXELS,
    AliyunVodServiceParam,
    ApiData,
    ExtensionService,
    ExtensionServiceConfig,
    RtmpOutput,
    RtmpPublishServiceParam,
    VideoData,
    WebRecorderServiceParam,
)
from agora_recording.models._extensions import (
    PARAM_FOR_SERVICE as PARAM_FOR_SERVICE,  # re-exported: the converter dispatches on it
)
from agora_recording.models._naming import wire
from agora_recording.models._validation import to_tuple

__all__ = [
    "AcquireClientRequest",
    "AliyunVodServiceParam",
    "ApiData",
    "AppsCollection",
    "AudioUidList",
    "BackgroundConfig",
    "ClientRequest",
    "ExtensionParams",
    "ExtensionService",
    "ExtensionServiceConfig",
    "LayoutConfig",
    "RecordingConfig",
    "RecordingFileConfig",
    "RtmpOutput",
    "RtmpPublishConfig",
    "RtmpPublishServiceParam",
    "SnapshotConfig",
    "StopClientRequest",
    "StorageConfig",
    "StreamSubscribe",
    "TransConfig",
    "TranscodeAudio",
    "TranscodeContainer",
    "TranscodeOptions",
    "TranscodingConfig",
    "UpdateClientRequest",
    "UpdateLayoutClientRequest",
    "VideoData",
    "VideoUidList",
    "WebRecorderServiceParam",
    "WebRecordingConfig",
]


MAX_LAYOUT_REGIONS = 17


def _secret() -> Any:
    """An optional secret field: never in ``repr``."""
    return attrs.field(default=None, repr=False, validator=v.non_empty_str())


@attrs.frozen(kw_only=True)
class LayoutConfig:
    """One region of a custom mixed layout (``mixedVideoLayout`` 3). Coordinates are fractions of the canvas."""

    x_axis: float = attrs.field(metadata=wire("x_axis"), validator=v.all_of(v.required(), v.unit_interval()))
    y_axis: float = attrs.field(metadata=wire("y_axis"), validator=v.all_of(v.required(), v.unit_interval()))
    width: float = attrs.field(validator=v.all_of(v.required(), v.unit_interval()))
    height: float = attrs.field(validator=v.all_of(v.required(), v.unit_interval()))
    uid: str | None = attrs.field(default=None, validator=v.non_empty_str())
    alpha: float | None = attrs.field(default=None, validator=v.unit_interval())
    render_mode: RenderMode | int | None = attrs.field(
        default=None, metadata=wire("render_mode"), validator=v.one_of(RenderMode)
    )


@attrs.frozen(kw_only=True)
class BackgroundConfig:
    """A background image shown in place of one user's video (``backgroundConfig`` entry)."""

    uid: str = attrs.field(validator=v.all_of(v.required(), v.non_empty_str()))
    image_url: str = attrs.field(metadata=wire("image_url"), validator=v.url(("http://", "https://")))
    render_mode: RenderMode | int | None = attrs.field(
        default=None, metadata=wire("render_mode"), validator=v.one_of(RenderMode)
    )


def _check_layout(inst: Any) -> None:
    layout = inst.mixed_video_layout
    raw_layout = layout.value if isinstance(layout, MixedVideoLayout) else layout
    if inst.layout_config is not None and raw_layout not in (None, MixedVideoLayout.CUSTOM.value):
        raise InvalidRequestError(
            f"{type(inst).__name__}.layout_config (layoutConfig)", "applies only with mixed_video_layout 3 (custom)"
        )


@attrs.frozen(kw_only=True)
class TranscodingConfig:
    """Mixed-video settings (mix mode only). Agora requires width, height, fps and bitrate together."""

    width: int = attrs.field(validator=v.all_of(v.required(), v.int_range(1, 1920)))
    height: int = attrs.field(validator=v.all_of(v.required(), v.int_range(1, 1920)))
    fps: int = attrs.field(validator=v.all_of(v.required(), v.positive_int()))
    bitrate: int = attrs.field(validator=v.all_of(v.required(), v.positive_int()))
    max_resolution_uid: str | None = attrs.field(default=None, validator=v.non_empty_str())
    mixed_video_layout: MixedVideoLayout | int | None = attrs.field(default=None, validator=v.one_of(MixedVideoLayout))
    background_color: str | None = attrs.field(default=None, validator=v.color())
    background_image: str | None = attrs.field(default=None, validator=v.url(("http://", "https://")))
    default_user_background_image: str | None = attrs.field(default=None, validator=v.url(("http://", "https://")))
    layout_config: tuple[LayoutConfig, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.all_of(v.max_items(MAX_LAYOUT_REGIONS), v.items_of(LayoutConfig))
    )
    background_config: tuple[BackgroundConfig, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=v.all_of(v.max_items(MAX_LAYOUT_REGIONS), v.items_of(BackgroundConfig)),
    )

    def __attrs_post_init__(self) -> None:
        if self.width * self.height > MAX_PIXELS:
            raise InvalidRequestError(
                "TranscodingConfig.width/height",
                f"width x height must be at most 1920 x 1080, got {self.width} x {self.height}",
            )
        _check_layout(self)


@v.secret_safe
@attrs.frozen(kw_only=True)
class RecordingConfig:
    """How the recorder subscribes to the channel (``recordingConfig``)."""

    channel_type: ChannelType | int | None = attrs.field(default=None, validator=v.one_of(ChannelType))
    stream_types: StreamTypes | int | None = attrs.field(default=None, validator=v.one_of(StreamTypes))
    stream_mode: StreamMode | str | None = attrs.field(default=None, validator=v.one_of(StreamMode))
    decryption_mode: DecryptionMode | int | None = attrs.field(default=None, validator=v.one_of(DecryptionMode))
    secret: str | None = _secret()
    salt: str | None = _secret()
    audio_profile: AudioProfile | int | None = attrs.field(default=None, validator=v.one_of(AudioProfile))
    video_stream_type: VideoStreamType | int | None = attrs.field(default=None, validator=v.one_of(VideoStreamType))
    max_idle_time: int | None = attrs.field(default=None, validator=v.int_range(5, 2_592_000))
    transcoding_config: TranscodingConfig | None = attrs.field(default=None, validator=v.instance_of(TranscodingConfig))
    subscribe_audio_uids: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple, validator=v.uid_list())
    unsubscribe_audio_uids: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.uid_list(), metadata=wire("unSubscribeAudioUids")
    )
    subscribe_video_uids: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple, validator=v.uid_list())
    unsubscribe_video_uids: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.uid_list(), metadata=wire("unSubscribeVideoUids")
    )
    subscribe_uid_group: int | None = attrs.field(default=None, validator=v.int_range(0, 5))
    private_params: str | None = attrs.field(default=None, validator=v.non_empty_str())

    def __attrs_post_init__(self) -> None:
        mode = self.decryption_mode
        raw = mode.value if isinstance(mode, DecryptionMode) else mode
        if raw not in (None, 0) and self.secret is None:
            raise InvalidRequestError(
                "RecordingConfig.secret (secret)", f"is required when decryption_mode is {raw} (not 0)"
            )
        if raw in (7, 8) and self.salt is None:
            raise InvalidRequestError("RecordingConfig.salt (salt)", f"is required when decryption_mode is {raw}")
        if self.subscribe_audio_uids is not None and self.unsubscribe_audio_uids is not None:
            raise InvalidRequestError(
                "RecordingConfig.unsubscribe_audio_uids (unSubscribeAudioUids)",
                "cannot be set together with subscribe_audio_uids (white and black lists are exclusive)",
            )
        if self.subscribe_video_uids is not None and self.unsubscribe_video_uids is not None:
            raise InvalidRequestError(
                "RecordingConfig.unsubscribe_video_uids (unSubscribeVideoUids)",
                "cannot be set together with subscribe_video_uids (white and black lists are exclusive)",
            )
        streams = self.stream_types.value if isinstance(self.stream_types, StreamTypes) else self.stream_types
        if streams == StreamTypes.VIDEO and (self.subscribe_audio_uids or self.unsubscribe_audio_uids):
            raise InvalidRequestError(
                "RecordingConfig.subscribe_audio_uids (subscribeAudioUids)",
                "audio subscription lists need stream_types 0 or 2, not 1 (video only)",
            )
        if streams == StreamTypes.AUDIO and (self.subscribe_video_uids or self.unsubscribe_video_uids):
            raise InvalidRequestError(
                "RecordingConfig.subscribe_video_uids (subscribeVideoUids)",
                "video subscription lists need stream_types 1 or 2, not 0 (audio only)",
            )


@attrs.frozen(kw_only=True)
class RecordingFileConfig:
    """Recorded file formats: ``["hls"]`` (default) or ``["hls", "mp4"]``; ``["mp4"]`` alone is refused."""

    av_file_type: tuple[str, ...] | None = attrs.field(
        default=None, converter=v.hls_first, validator=v.exact_lists(("hls",), ("hls", "mp4"))
    )


@attrs.frozen(kw_only=True)
class SnapshotConfig:
    """Screenshots (individual mode only; not together with ``recordingFileConfig``)."""

    capture_interval: int | None = attrs.field(default=None, validator=v.int_range(1, 3600))
    file_type: tuple[str, ...] = attrs.field(default=("jpg",), converter=to_tuple, validator=v.exact_lists(("jpg",)))


@attrs.frozen(kw_only=True)
class ExtensionParams:
    """``storageConfig.extensionParams``: server-side encryption, object tag, and the endpoint for vendor 11."""

    sse: str | None = attrs.field(default=None, validator=v.one_of(("kms", "aes256")))
    tag: str | None = attrs.field(default=None, validator=v.non_empty_str())
    endpoint: str | None = attrs.field(default=None, validator=v.non_empty_str())


_STS_VENDORS = (Vendor.AMAZON_S3.value, Vendor.ALIBABA_CLOUD.value, Vendor.TENCENT_CLOUD.value)


@v.secret_safe
@attrs.frozen(kw_only=True)
class StorageConfig:
    """Your cloud storage (``storageConfig``). Keys and the STS token never appear in ``repr`` or logs."""

    vendor: Vendor | int = attrs.field(validator=v.all_of(v.required(), v.non_negative_int()))
    region: int = attrs.field(validator=v.all_of(v.required(), v.non_negative_int()))
    bucket: str = attrs.field(validator=v.all_of(v.required(), v.non_empty_str()))
    access_key: str = attrs.field(repr=False, validator=v.all_of(v.required(), v.non_empty_str()))
    secret_key: str = attrs.field(repr=False, validator=v.all_of(v.required(), v.non_empty_str()))
    sts_token: str | None = _secret()
    sts_expiration: int | None = attrs.field(default=None, validator=v.positive_int())
    file_name_prefix: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.file_name_prefix()
    )
    extension_params: ExtensionParams | None = attrs.field(default=None, validator=v.instance_of(ExtensionParams))

    def __attrs_post_init__(self) -> None:
        vendor = self.vendor.value if isinstance(self.vendor, Vendor) else self.vendor
        if self.sts_token is not None and vendor not in _STS_VENDORS:
            raise InvalidRequestError(
                "StorageConfig.sts_token (stsToken)", f"is supported only for vendors 1, 2 and 3, not {vendor}"
            )
        if (self.sts_token is None) != (self.sts_expiration is None):
            raise InvalidRequestError(
                "StorageConfig.sts_expiration (stsExpiration)", "sts_token and sts_expiration go together"
            )
        if vendor == Vendor.S3_COMPATIBLE and (self.extension_params is None or not self.extension_params.endpoint):
            raise InvalidRequestError(
                "StorageConfig.extension_params.endpoint (extensionParams.endpoint)",
                "is required for vendor 11 (S3-compatible storage)",
            )

    def __repr__(self) -> str:  # secrets are excluded field by field; keep attrs' default otherwise
        return (
            f"StorageConfig(vendor={self.vendor!r}, region={self.region!r}, bucket={self.bucket!r}, "
            f"access_key=<hidden>, secret_key=<hidden>, sts_token={'<hidden>' if self.sts_token else None}, "
            f"sts_expiration={self.sts_expiration!r}, file_name_prefix={self.file_name_prefix!r}, "
            f"extension_params={self.extension_params!r})"
        )


@attrs.frozen(kw_only=True)
class AppsCollection:
    """``appsCollection`` (postponed transcoding; removed from Agora's docs in 2025, kept for older accounts)."""

    combination_policy: str | None = attrs.field(default=None, validator=v.one_of(("default", "postpone_transcoding")))


@attrs.frozen(kw_only=True)
class TransConfig:
    """``transcodeOptions.transConfig``: postponed transcoding or audio mixing (legacy)."""

    trans_mode: str = attrs.field(validator=v.one_of(("postponeTranscoding", "audioMix")))


@attrs.frozen(kw_only=True)
class TranscodeContainer:
    """``transcodeOptions.container``: the output format of postponed transcoding (legacy)."""

    format: str = attrs.field(validator=v.one_of(("mp4", "mp3", "m4a", "aac")))


@attrs.frozen(kw_only=True)
class TranscodeAudio:
    """All values are strings on the wire, as Agora documents."""

    sample_rate: str | None = attrs.field(default=None, validator=v.one_of(("48000", "32000", "16000")))
    bitrate: str | None = attrs.field(default=None, validator=v.non_empty_str())
    channels: str | None = attrs.field(default=None, validator=v.one_of(("1", "2")))


@attrs.frozen(kw_only=True)
class TranscodeOptions:
    """``transcodeOptions`` (postponed transcoding / audio mixing; legacy)."""

    trans_config: TransConfig = attrs.field(validator=v.instance_of(TransConfig, optional=False))
    container: TranscodeContainer | None = attrs.field(default=None, validator=v.instance_of(TranscodeContainer))
    audio: TranscodeAudio | None = attrs.field(default=None, validator=v.instance_of(TranscodeAudio))


@v.secret_safe
@attrs.frozen(kw_only=True)
class ClientRequest:
    """The ``clientRequest`` of start (and of acquire's ``startParameter``).

    ``recording_file_config`` and ``snapshot_config`` cannot be set together. Mode-dependent rules (snapshots only
    in individual mode, transcoding only in mix mode, web mode needs a ``web_recorder_service``) are checked when
    the mode is known, by the client, before anything is sent.
    """

    token: str | None = _secret()
    recording_config: RecordingConfig | None = attrs.field(default=None, validator=v.instance_of(RecordingConfig))
    recording_file_config: RecordingFileConfig | None = attrs.field(
        default=None, validator=v.instance_of(RecordingFileConfig)
    )
    snapshot_config: SnapshotConfig | None = attrs.field(default=None, validator=v.instance_of(SnapshotConfig))
    storage_config: StorageConfig | None = attrs.field(default=None, validator=v.instance_of(StorageConfig))
    extension_service_config: ExtensionServiceConfig | None = attrs.field(
        default=None, validator=v.instance_of(ExtensionServiceConfig)
    )
    apps_collection: AppsCollection | None = attrs.field(default=None, validator=v.instance_of(AppsCollection))
    transcode_options: TranscodeOptions | None = attrs.field(default=None, validator=v.instance_of(TranscodeOptions))

    def __attrs_post_init__(self) -> None:
        if self.recording_file_config is not None and self.snapshot_config is not None:
            raise InvalidRequestError(
                "ClientRequest.snapshot_config (snapshotConfig)",
                "cannot be set together with recording_file_config (recordingFileConfig)",
            )
        if self.snapshot_config is not None and self.recording_config is not None:
            streams = self.recording_config.stream_types
            if streams is not None and int(streams) == StreamTypes.AUDIO:
                raise InvalidRequestError(
                    "RecordingConfig.stream_types (streamTypes)", "must be 1 or 2 when snapshot_config is set"
                )


@attrs.frozen(kw_only=True)
class AcquireClientRequest:
    """The ``clientRequest`` of acquire."""

    resource_expired_hour: int | None = attrs.field(default=None, validator=v.int_range(1, 720))
    scene: Scene | int | None = attrs.field(default=None, validator=v.one_of(Scene))
    region: Region | str | None = attrs.field(default=None, validator=v.one_of(Region))
    exclude_resource_ids: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple)
    start_parameter: ClientRequest | None = attrs.field(default=None, validator=v.instance_of(ClientRequest))

    @exclude_resource_ids.validator
    def _ids(self, field: attrs.Attribute[Any], value: tuple[Any, ...] | None) -> None:
        if value is not None and not all(isinstance(r, str) and r for r in value):
            raise v.fail(self, field, "entries must be non-empty resourceId strings")


@attrs.frozen(kw_only=True)
class AudioUidList:
    """``streamSubscribe.audioUidList`` of update."""

    subscribe_audio_uids: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple, validator=v.uid_list())
    unsubscribe_audio_uids: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.uid_list(), metadata=wire("unSubscribeAudioUids")
    )

    def __attrs_post_init__(self) -> None:
        if self.subscribe_audio_uids is not None and self.unsubscribe_audio_uids is not None:
            raise InvalidRequestError(
                "AudioUidList.unsubscribe_audio_uids (unSubscribeAudioUids)",
                "cannot be set together with subscribe_audio_uids",
            )


@attrs.frozen(kw_only=True)
class VideoUidList:
    """``streamSubscribe.videoUidList`` of update."""

    subscribe_video_uids: tuple[str, ...] | None = attrs.field(default=None, converter=to_tuple, validator=v.uid_list())
    unsubscribe_video_uids: tuple[str, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.uid_list(), metadata=wire("unSubscribeVideoUids")
    )

    def __attrs_post_init__(self) -> None:
        if self.subscribe_video_uids is not None and self.unsubscribe_video_uids is not None:
            raise InvalidRequestError(
                "VideoUidList.unsubscribe_video_uids (unSubscribeVideoUids)",
                "cannot be set together with subscribe_video_uids",
            )


@attrs.frozen(kw_only=True)
class StreamSubscribe:
    """``streamSubscribe`` of update: replaces the subscription lists (individual and mix modes)."""

    audio_uid_list: AudioUidList | None = attrs.field(default=None, validator=v.instance_of(AudioUidList))
    video_uid_list: VideoUidList | None = attrs.field(default=None, validator=v.instance_of(VideoUidList))


@attrs.frozen(kw_only=True)
class WebRecordingConfig:
    """``webRecordingConfig`` of update (web mode): ``onhold=True`` pauses, ``False`` resumes."""

    onhold: bool = attrs.field(validator=v.all_of(v.required(), v.boolean()))


@attrs.frozen(kw_only=True)
class RtmpPublishConfig:
    """``rtmpPublishConfig`` of update (web mode): the new CDN address."""

    outputs: tuple[RtmpOutput, ...] = attrs.field(
        converter=to_tuple, validator=v.all_of(v.max_items(1), v.items_of(RtmpOutput))
    )

    def __attrs_post_init__(self) -> None:
        if not self.outputs:
            raise InvalidRequestError("RtmpPublishConfig.outputs (outputs)", "must hold exactly one output")


@attrs.frozen(kw_only=True)
class UpdateClientRequest:
    """The ``clientRequest`` of update. Each call replaces the previous settings."""

    stream_subscribe: StreamSubscribe | None = attrs.field(default=None, validator=v.instance_of(StreamSubscribe))
    web_recording_config: WebRecordingConfig | None = attrs.field(
        default=None, validator=v.instance_of(WebRecordingConfig)
    )
    rtmp_publish_config: RtmpPublishConfig | None = attrs.field(
        default=None, validator=v.instance_of(RtmpPublishConfig)
    )
    storage_config: StorageConfig | None = attrs.field(default=None, validator=v.instance_of(StorageConfig))

    def __attrs_post_init__(self) -> None:
        if all(
            getattr(self, f) is None
            for f in ("stream_subscribe", "web_recording_config", "rtmp_publish_config", "storage_config")
        ):
            raise InvalidRequestError("UpdateClientRequest", "set at least one of the fields to update")


@attrs.frozen(kw_only=True)
class UpdateLayoutClientRequest:
    """The ``clientRequest`` of updateLayout (mix mode). Each call replaces the whole layout."""

    max_resolution_uid: str | None = attrs.field(default=None, validator=v.non_empty_str())
    mixed_video_layout: MixedVideoLayout | int | None = attrs.field(default=None, validator=v.one_of(MixedVideoLayout))
    background_color: str | None = attrs.field(default=None, validator=v.color())
    background_image: str | None = attrs.field(default=None, validator=v.url(("http://", "https://")))
    default_user_background_image: str | None = attrs.field(default=None, validator=v.url(("http://", "https://")))
    layout_config: tuple[LayoutConfig, ...] | None = attrs.field(
        default=None, converter=to_tuple, validator=v.all_of(v.max_items(MAX_LAYOUT_REGIONS), v.items_of(LayoutConfig))
    )
    background_config: tuple[BackgroundConfig, ...] | None = attrs.field(
        default=None,
        converter=to_tuple,
        validator=v.all_of(v.max_items(MAX_LAYOUT_REGIONS), v.items_of(BackgroundConfig)),
    )

    def __attrs_post_init__(self) -> None:
        _check_layout(self)


@attrs.frozen(kw_only=True)
class StopClientRequest:
    """The ``clientRequest`` of stop. ``async_stop=True`` answers at once without waiting for uploads."""

    async_stop: bool | None = attrs.field(default=None, metadata=wire("async_stop"), validator=v.boolean())
