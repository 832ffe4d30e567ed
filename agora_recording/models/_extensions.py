"""Request models for ``extensionServiceConfig``: web page recording, RTMP push and ApsaraVideo for VoD.

Part of the start ``clientRequest`` (:class:`~agora_recording.models.ClientRequest`); split out of ``_requests``
so each module reads in one sitting. Validators raise :class:`~agora_recording.InvalidRequestError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from agora_recording._errors import InvalidRequestError
from agora_recording.models import _validation as v
from agora_recording.models._enums import AudioProfile
from agora_recording.models._validation import to_tuple

__all__ = [
    "MAX_PIXELS",
    "PARAM_FOR_SERVICE",
    "AliyunVodServiceParam",
    "ApiData",
    "ExtensionService",
    "ExtensionServiceConfig",
    "RtmpOutput",
    "RtmpPublishServiceParam",
    "ServiceParam",
    "VideoData",
    "WebRecorderServiceParam",
]

MAX_PIXELS = 1920 * 1080
"""The largest video area (width x height) Agora records."""


@attrs.frozen(kw_only=True)
class WebRecorderServiceParam:
    """``serviceParam`` of ``web_recorder_service``: the page to record and its video settings."""

    url: str = attrs.field(validator=v.all_of(v.required(), v.url(("http://", "https://"))))
    audio_profile: AudioProfile | int = attrs.field(validator=v.all_of(v.required(), v.one_of(AudioProfile)))
    video_width: int = attrs.field(validator=v.all_of(v.required(), v.int_range(240, 1920)))
    video_height: int = attrs.field(validator=v.all_of(v.required(), v.int_range(240, 1920)))
    max_recording_hour: int = attrs.field(validator=v.all_of(v.required(), v.int_range(1, 720)))
    video_bitrate: int | None = attrs.field(default=None, validator=v.positive_int())
    video_fps: int | None = attrs.field(default=None, validator=v.int_range(5, 60))
    mobile: bool | None = attrs.field(default=None, validator=v.boolean())
    max_video_duration: int | None = attrs.field(default=None, validator=v.int_range(30, 240))
    onhold: bool | None = attrs.field(default=None, validator=v.boolean())
    ready_timeout: int | None = attrs.field(default=None, validator=v.int_range(0, 60))

    def __attrs_post_init__(self) -> None:
        if self.video_width * self.video_height > MAX_PIXELS:
            raise InvalidRequestError(
                "WebRecorderServiceParam.video_width/video_height",
                f"width x height must be at most 1920 x 1080, got {self.video_width} x {self.video_height}",
            )


@attrs.frozen(kw_only=True)
class RtmpOutput:
    """One CDN address for the RTMP push."""

    rtmp_url: str = attrs.field(validator=v.all_of(v.required(), v.url(("rtmp://", "rtmps://"))))


@attrs.frozen(kw_only=True)
class RtmpPublishServiceParam:
    """``serviceParam`` of ``rtmp_publish_service``: at most one CDN output at a time."""

    outputs: tuple[RtmpOutput, ...] = attrs.field(
        converter=to_tuple, validator=v.all_of(v.max_items(1), v.items_of(RtmpOutput))
    )

    def __attrs_post_init__(self) -> None:
        if not self.outputs:
            raise InvalidRequestError("RtmpPublishServiceParam.outputs (outputs)", "must hold exactly one output")


@attrs.frozen(kw_only=True)
class VideoData:
    """``apiData.videoData`` of ApsaraVideo for VoD."""

    title: str = attrs.field(validator=v.all_of(v.required(), v.non_empty_str()))
    description: str | None = None
    cover_url: str | None = None
    cate_id: str | None = None
    tags: str | None = None
    template_group_id: str | None = None
    user_data: str | None = None
    storage_location: str | None = None
    workflow_id: str | None = None


@attrs.frozen(kw_only=True)
class ApiData:
    """``serviceParam.apiData`` of ApsaraVideo for VoD."""

    video_data: VideoData = attrs.field(validator=v.instance_of(VideoData, optional=False))


@v.secret_safe
@attrs.frozen(kw_only=True)
class AliyunVodServiceParam:
    """``serviceParam`` of ``aliyun_vod_service`` (legacy; mix mode, no storageConfig or snapshots)."""

    access_key: str = attrs.field(repr=False, validator=v.all_of(v.required(), v.non_empty_str()))
    secret_key: str = attrs.field(repr=False, validator=v.all_of(v.required(), v.non_empty_str()))
    region_id: str = attrs.field(validator=v.all_of(v.required(), v.non_empty_str()))
    api_data: ApiData = attrs.field(validator=v.instance_of(ApiData, optional=False))


ServiceParam = WebRecorderServiceParam | RtmpPublishServiceParam | AliyunVodServiceParam | Mapping[str, Any]

PARAM_FOR_SERVICE: dict[str, type] = {
    "web_recorder_service": WebRecorderServiceParam,
    "rtmp_publish_service": RtmpPublishServiceParam,
    "aliyun_vod_service": AliyunVodServiceParam,
}


@attrs.frozen(kw_only=True)
class ExtensionService:
    """One entry of ``extensionServices``; ``service_param`` is typed for the known services.

    A plain mapping is accepted for a service this library does not model; it is sent as given.
    """

    service_name: str = attrs.field(validator=v.all_of(v.required(), v.non_empty_str()))
    service_param: ServiceParam = attrs.field()
    error_handle_policy: str | None = attrs.field(default=None, validator=v.one_of(("error_abort", "error_ignore")))

    @service_param.validator
    def _param_matches(self, field: attrs.Attribute[Any], value: Any) -> None:
        name = self.service_name.value if hasattr(self.service_name, "value") else self.service_name
        expected = PARAM_FOR_SERVICE.get(str(name))
        if expected is not None and not isinstance(value, expected):
            raise v.fail(self, field, f"must be a {expected.__name__} for {name}")
        if expected is None and not isinstance(value, Mapping):
            raise v.fail(self, field, "must be a mapping for a service this library does not model")

    def __attrs_post_init__(self) -> None:
        name = str(getattr(self.service_name, "value", self.service_name))
        policy = self.error_handle_policy
        if name == "web_recorder_service" and policy not in (None, "error_abort"):
            raise InvalidRequestError(
                "ExtensionService.error_handle_policy (errorHandlePolicy)",
                'must be "error_abort" for web_recorder_service',
            )
        if name == "rtmp_publish_service" and policy not in (None, "error_ignore"):
            raise InvalidRequestError(
                "ExtensionService.error_handle_policy (errorHandlePolicy)",
                'must be "error_ignore" for rtmp_publish_service',
            )


@attrs.frozen(kw_only=True)
class ExtensionServiceConfig:
    """``extensionServiceConfig``: web page recording, RTMP push, ApsaraVideo for VoD."""

    extension_services: tuple[ExtensionService, ...] = attrs.field(
        converter=to_tuple, validator=v.items_of(ExtensionService)
    )
    error_handle_policy: str | None = attrs.field(default=None, validator=v.one_of(("error_abort",)))
    api_version: str | None = attrs.field(default=None, validator=v.non_empty_str())

    def __attrs_post_init__(self) -> None:
        if not self.extension_services:
            raise InvalidRequestError(
                "ExtensionServiceConfig.extension_services (extensionServices)", "must hold at least one service"
            )
        names = [str(getattr(s.service_name, "value", s.service_name)) for s in self.extension_services]
        if len(set(names)) != len(names):
            raise InvalidRequestError(
                "ExtensionServiceConfig.extension_services (extensionServices)", "must not name a service twice"
            )

    def service(self, name: str) -> ExtensionService | None:
        """The entry for ``name`` (e.g. ``"web_recorder_service"``), or ``None``."""
        for entry in self.extension_services:
            if str(getattr(entry.service_name, "value", entry.service_name)) == name:
                return entry
        return None
