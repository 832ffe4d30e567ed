"""Enumerations of Agora's documented values.

Requests accept an enum member or its plain value. Responses keep unknown values as plain ``int``/``str``
(Agora adds values over time: vendor 11, ``uploadingStatus: "stranded"``), so a new value never crashes a read.
"""

from __future__ import annotations

from enum import Enum, IntEnum

__all__ = [
    "AudioProfile",
    "ChannelType",
    "DecryptionMode",
    "FileListMode",
    "MixedVideoLayout",
    "Mode",
    "RecordingStatus",
    "Region",
    "RenderMode",
    "RtmpPublishStatus",
    "Scene",
    "ServiceName",
    "StreamMode",
    "StreamTypes",
    "TrackType",
    "UploadingStatus",
    "Vendor",
    "VideoStreamType",
    "WebRecorderState",
]


class Mode(str, Enum):
    """The recording mode, part of every URL after acquire."""

    INDIVIDUAL = "individual"
    MIX = "mix"
    WEB = "web"


class Scene(IntEnum):
    """``acquire`` ``clientRequest.scene``. 2 (postponed transcoding) was removed from Agora's docs in 2025."""

    RTC = 0
    WEB = 1
    POSTPONED_TRANSCODING = 2


class Region(str, Enum):
    """``acquire`` ``clientRequest.region``: restricts the service to one area (Network Geofencing)."""

    CN = "CN"
    AP = "AP"
    EU = "EU"
    NA = "NA"


class ChannelType(IntEnum):
    """``recordingConfig.channelType``: must match the channel profile of the SDK."""

    COMMUNICATION = 0
    LIVE_BROADCAST = 1


class StreamTypes(IntEnum):
    """``recordingConfig.streamTypes``."""

    AUDIO = 0
    VIDEO = 1
    AUDIO_AND_VIDEO = 2


class StreamMode(str, Enum):
    """``recordingConfig.streamMode`` (individual mode only)."""

    DEFAULT = "default"
    STANDARD = "standard"
    ORIGINAL = "original"


class DecryptionMode(IntEnum):
    """``recordingConfig.decryptionMode``; ``secret`` is required unless NONE, ``salt`` for the GCM2 modes."""

    NONE = 0
    AES_128_XTS = 1
    AES_128_ECB = 2
    AES_256_XTS = 3
    SM4_128_ECB = 4
    AES_128_GCM = 5
    AES_256_GCM = 6
    AES_128_GCM2 = 7
    AES_256_GCM2 = 8


class AudioProfile(IntEnum):
    """``audioProfile``: 48 kHz mono ~48 Kbps, mono ~128 Kbps, stereo ~192 Kbps."""

    MONO_48K = 0
    MONO_128K = 1
    STEREO_192K = 2


class VideoStreamType(IntEnum):
    """``recordingConfig.videoStreamType``: the high or the low stream of a dual-stream sender."""

    HIGH = 0
    LOW = 1


class MixedVideoLayout(IntEnum):
    """``mixedVideoLayout``: the predefined layouts, or CUSTOM with ``layoutConfig``."""

    FLOATING = 0
    BEST_FIT = 1
    VERTICAL = 2
    CUSTOM = 3


class RenderMode(IntEnum):
    """``render_mode`` of a layout region or background image."""

    CROPPED = 0
    FIT = 1


class Vendor(IntEnum):
    """``storageConfig.vendor``. QINIU and KINGSOFT are historical; S3_COMPATIBLE needs ``extensionParams.endpoint``."""

    QINIU = 0
    AMAZON_S3 = 1
    ALIBABA_CLOUD = 2
    TENCENT_CLOUD = 3
    KINGSOFT_CLOUD = 4
    MICROSOFT_AZURE = 5
    GOOGLE_CLOUD = 6
    HUAWEI_CLOUD = 7
    BAIDU_CLOUD = 8
    S3_COMPATIBLE = 11


class RecordingStatus(IntEnum):
    """``serverResponse.status`` of query. READY (4) or IN_PROGRESS (5) means the recording started."""

    NOT_STARTED = 0
    INITIALIZED = 1
    STARTING = 2
    PARTIALLY_READY = 3
    READY = 4
    IN_PROGRESS = 5
    STOP_REQUESTED = 6
    STOPPED = 7
    EXITED = 8
    EXITED_ABNORMALLY = 20


class UploadingStatus(str, Enum):
    """``uploadingStatus`` of stop. STRANDED comes from Agora's v2 draft: parked on backup, uploaded later."""

    UPLOADED = "uploaded"
    BACKUPED = "backuped"
    UNKNOWN = "unknown"
    STRANDED = "stranded"


class FileListMode(str, Enum):
    """``fileListMode``: ``fileList`` is a string (mix) or a JSON array (individual)."""

    STRING = "string"
    JSON = "json"


class TrackType(str, Enum):
    """``trackType`` of a recorded file."""

    AUDIO = "audio"
    VIDEO = "video"
    AUDIO_AND_VIDEO = "audio_and_video"


class ServiceName(str, Enum):
    """``serviceName`` of an extension service."""

    WEB_RECORDER = "web_recorder_service"
    RTMP_PUBLISH = "rtmp_publish_service"
    UPLOAD = "upload_service"
    ALIYUN_VOD = "aliyun_vod_service"


class WebRecorderState(str, Enum):
    """``payload.state`` of an extension service in query/stop answers."""

    INIT = "init"
    IN_PROGRESS = "inProgress"
    EXIT = "exit"
    IDLE = "idle"


class RtmpPublishStatus(str, Enum):
    """``outputs[].status`` of the RTMP push; DISCONNECTED means: change the CDN address."""

    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    ONHOLD = "onhold"
    DISCONNECTED = "disconnected"
