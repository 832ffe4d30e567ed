"""Typed NCS notifications for Cloud Recording (productId 3), and :func:`parse`.

Every notification is a frozen :class:`NotificationEvent` carrying the envelope (``notice_id``, ``product_id``,
``event_type``, ``notify_ms``) and the cloud-recording payload (``cname``, ``uid``, ``sid``, ``sequence``,
``send_ts``, ``service_type``, the read-only ``details`` mapping as sent). Each eventType Agora documents has its
own subclass that also reads the fields of ``details`` (``SessionExit.exit_status``, ``Uploaded.files``, ...).
An eventType nobody documented, or a notification of another product (RTC, Media Push, ...), is an
:class:`UnknownEvent`: data, not an error. New fields inside ``details`` stay reachable in ``details`` and ``raw``.

Route on ``type(event)`` (or ``event.event_type``), and on ``(cname, uid)`` and ``sid`` for the recording.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import attrs

from agora_recording.models import RecordedFile, RecordingStatus, RtmpPublishStatus, TrackType
from agora_recording.webhooks import _read as rd
from agora_recording.webhooks._errors import WebhookPayloadError

__all__ = [
    "CLOUD_RECORDING_PRODUCT_ID",
    "EVENT_CLASSES",
    "Backuped",
    "CloudRecordingError",
    "CloudRecordingWarning",
    "DownloadFailed",
    "FileInfos",
    "NotificationEvent",
    "PostponeTranscodeFinalResult",
    "RecorderAudioStreamStateChanged",
    "RecorderLeave",
    "RecorderSliceStart",
    "RecorderSnapshotFile",
    "RecorderStarted",
    "RecorderVideoStreamStateChanged",
    "RtmpPublishStatusChanged",
    "SessionExit",
    "SessionFailover",
    "StatusUpdate",
    "TranscoderCompleted",
    "TranscoderStarted",
    "UnknownEvent",
    "Uploaded",
    "UploaderStarted",
    "UploadingProgress",
    "VodStarted",
    "VodTriggered",
    "WebRecorderCapabilityLimit",
    "WebRecorderReload",
    "WebRecorderStarted",
    "WebRecorderStopped",
    "parse",
]

CLOUD_RECORDING_PRODUCT_ID = 3
"""NCS ``productId`` of Cloud Recording (1 is RTC, 4 Media Pull, 5 Media Push)."""

_KEY = "agora_recording.webhooks.key"
_READ = "agora_recording.webhooks.read"
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})

T = TypeVar("T", bound="NotificationEvent")


def _wire(key: str, read: rd.Reader) -> dict[str, Any]:
    """Field metadata: read this field from ``payload.details[key]`` (a dotted key walks nested objects)."""
    return {_KEY: key, _READ: read}


def _show_details(details: Mapping[str, Any]) -> str:
    return f"<details: {', '.join(sorted(map(str, details)))}>" if details else "<no details>"


@attrs.frozen(kw_only=True)
class NotificationEvent:
    """One NCS notification: the envelope, the cloud-recording payload fields, and ``details`` as sent.

    ``notice_id`` is NCS's id of the notification (the same on every resend; the dedupe key); ``notify_ms`` is when
    NCS sent it (it changes on every resend); ``send_ts`` is when the event happened (ms, UTC); ``sequence``
    counts the events of one recording from 0 (NCS does not keep order); ``msg_name`` is ``details.msgName``.
    ``details`` is the raw, read-only ``payload.details`` mapping (new fields Agora adds are there); ``raw`` is the
    whole body as parsed. For another product than Cloud Recording the payload fields are ``None`` and only
    ``raw`` carries the payload.
    """

    EVENT_TYPE: ClassVar[int | None] = None
    """The eventType this class stands for (``None`` on the base class and :class:`UnknownEvent`)."""
    MSG_NAME: ClassVar[str | None] = None
    """The documented ``details.msgName`` of this eventType."""

    notice_id: str
    product_id: int
    event_type: int
    notify_ms: int | None = None
    cname: str | None = None
    uid: str | None = None
    sid: str | None = None
    sequence: int | None = None
    send_ts: int | None = None
    service_type: int | None = None
    msg_name: str | None = None
    details: Mapping[str, Any] = attrs.field(default=_EMPTY, hash=False, repr=_show_details)
    raw: Mapping[str, Any] = attrs.field(default=_EMPTY, hash=False, eq=False, repr=False)


_BY_TYPE: dict[int, type[NotificationEvent]] = {}


def _event(event_type: int, msg_name: str) -> Any:
    def register(cls: type[T]) -> type[T]:
        cls.EVENT_TYPE = event_type
        cls.MSG_NAME = msg_name
        _BY_TYPE[event_type] = cls
        return cls

    return register


_status = rd.enum_or_raw(RecordingStatus, rd.read_int)


# -- serviceType 0: the cloud recording service -----------------------------------------------------------------------


@_event(1, "cloud_recording_error")
@attrs.frozen(kw_only=True)
class CloudRecordingError(NotificationEvent):
    """eventType 1: an error. ``module``: 0 recorder, 1 uploader, 2 cloud recording service, 6 web recorder.

    ``error_level`` runs from 1 (debug) to 5 (fatal); on 5, call ``query`` to see whether the recording survived.
    """

    module: int | None = attrs.field(default=None, metadata=_wire("module", rd.read_int))
    error_level: int | None = attrs.field(default=None, metadata=_wire("errorLevel", rd.read_int))
    error_code: int | None = attrs.field(default=None, metadata=_wire("errorCode", rd.read_int))
    error_msg: str | None = attrs.field(default=None, metadata=_wire("errorMsg", rd.read_str))
    stat: int | None = attrs.field(default=None, metadata=_wire("stat", rd.read_int))

    @property
    def fatal(self) -> bool:
        """True for error level 5 (fatal)."""
        return self.error_level == 5


@_event(2, "cloud_recording_warning")
@attrs.frozen(kw_only=True)
class CloudRecordingWarning(NotificationEvent):
    """eventType 2: a warning. ``module``: 0 recorder, 1 uploader."""

    module: int | None = attrs.field(default=None, metadata=_wire("module", rd.read_int))
    warn_code: int | None = attrs.field(default=None, metadata=_wire("warnCode", rd.read_int))


@_event(3, "cloud_recording_status_update")
@attrs.frozen(kw_only=True)
class StatusUpdate(NotificationEvent):
    """eventType 3: the service's status (the table of ``query``'s ``status``), sent when a call does not match it.

    ``recording_mode``: 0 individual, 1 mix. ``files`` reads ``fileList`` (a playlist name).
    """

    status: RecordingStatus | int | None = attrs.field(default=None, metadata=_wire("status", _status))
    recording_mode: int | None = attrs.field(default=None, metadata=_wire("recordingMode", rd.read_int))
    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))


@_event(4, "cloud_recording_file_infos")
@attrs.frozen(kw_only=True)
class FileInfos(NotificationEvent):
    """eventType 4: the M3U8 playlist's name, sent on the first M3U8 upload only (``files``, from ``fileList``)."""

    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))


@_event(11, "session_exit")
@attrs.frozen(kw_only=True)
class SessionExit(NotificationEvent):
    """eventType 11: the recording has exited. ``exit_status`` 0 is normal, 1 abnormal."""

    exit_status: int | None = attrs.field(default=None, metadata=_wire("exitStatus", rd.read_int))

    @property
    def abnormal(self) -> bool:
        """True when the recording exited abnormally (``exit_status`` 1)."""
        return self.exit_status == 1


@_event(12, "session_failover")
@attrs.frozen(kw_only=True)
class SessionFailover(NotificationEvent):
    """eventType 12: high availability moved the task; the recorder now joins as ``new_uid`` (within 90 s).

    ``new_uid`` is a string like every uid in the library (Agora sends a number).
    """

    new_uid: str | None = attrs.field(default=None, metadata=_wire("newUid", rd.read_str))


# -- serviceType 2: the uploader --------------------------------------------------------------------------------------


@_event(30, "uploader_started")
@attrs.frozen(kw_only=True)
class UploaderStarted(NotificationEvent):
    """eventType 30: the uploader started."""

    status: int | None = attrs.field(default=None, metadata=_wire("status", rd.read_int))


@_event(31, "uploaded")
@attrs.frozen(kw_only=True)
class Uploaded(NotificationEvent):
    """eventType 31: every file reached your storage. ``files`` has the query response's :class:`RecordedFile` shape.

    Web mode sends only ``{msgName, status}``: ``files`` is then empty.
    """

    status: int | None = attrs.field(default=None, metadata=_wire("status", rd.read_int))
    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))


@_event(32, "backuped")
@attrs.frozen(kw_only=True)
class Backuped(NotificationEvent):
    """eventType 32: all files uploaded, some through Agora's backup storage (forwarded later). Same shape as 31."""

    status: int | None = attrs.field(default=None, metadata=_wire("status", rd.read_int))
    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))


@_event(33, "uploading_progress")
@attrs.frozen(kw_only=True)
class UploadingProgress(NotificationEvent):
    """eventType 33: upload progress, every minute; ``progress`` runs from 0 to 10000."""

    progress: int | None = attrs.field(default=None, metadata=_wire("progress", rd.read_int))

    @property
    def percent(self) -> float | None:
        """``progress`` as a percentage (0.0 to 100.0)."""
        return None if self.progress is None else self.progress / 100


# -- serviceType 1: the recorder --------------------------------------------------------------------------------------


@_event(40, "recorder_started")
@attrs.frozen(kw_only=True)
class RecorderStarted(NotificationEvent):
    """eventType 40: the recorder joined the channel."""

    status: int | None = attrs.field(default=None, metadata=_wire("status", rd.read_int))


@_event(41, "recorder_leave")
@attrs.frozen(kw_only=True)
class RecorderLeave(NotificationEvent):
    """eventType 41: the recorder left the channel. ``leave_code`` is a bitmask.

    0 initialisation failed, 2 signalling, 4 no users (``maxIdleTime`` reached), 8 timer catch (ignore),
    16 the client left (stop was called).
    """

    leave_code: int | None = attrs.field(default=None, metadata=_wire("leaveCode", rd.read_int))

    @property
    def idle_timeout(self) -> bool:
        """True when bit 4 (no users in the channel for ``maxIdleTime``) is set."""
        return bool((self.leave_code or 0) & 4)


@_event(42, "recorder_slice_start")
@attrs.frozen(kw_only=True)
class RecorderSliceStart(NotificationEvent):
    """eventType 42: the recorder started a new slice (times in ms, UTC)."""

    start_utc_ms: int | None = attrs.field(default=None, metadata=_wire("startUtcMs", rd.read_int))
    discontinue_utc_ms: int | None = attrs.field(default=None, metadata=_wire("discontinueUtcMs", rd.read_int))
    mixed_all_user: bool | None = attrs.field(default=None, metadata=_wire("mixedAllUser", rd.read_bool))
    stream_uid: str | None = attrs.field(default=None, metadata=_wire("streamUid", rd.read_str))
    track_type: TrackType | str | None = attrs.field(
        default=None, metadata=_wire("trackType", rd.enum_or_raw(TrackType, rd.read_str))
    )


@_event(43, "recorder_audio_stream_state_changed")
@attrs.frozen(kw_only=True)
class RecorderAudioStreamStateChanged(NotificationEvent):
    """eventType 43: a subscribed audio stream's state: ``state`` 0 receiving, 1 not; ``utc_ms`` when."""

    stream_uid: str | None = attrs.field(default=None, metadata=_wire("streamUid", rd.read_str))
    state: int | None = attrs.field(default=None, metadata=_wire("state", rd.read_int))
    utc_ms: int | None = attrs.field(default=None, metadata=_wire("UtcMs", rd.read_int))


@_event(44, "recorder_video_stream_state_changed")
@attrs.frozen(kw_only=True)
class RecorderVideoStreamStateChanged(NotificationEvent):
    """eventType 44: a subscribed video stream's state: ``state`` 0 receiving, 1 not; ``utc_ms`` when."""

    stream_uid: str | None = attrs.field(default=None, metadata=_wire("streamUid", rd.read_str))
    state: int | None = attrs.field(default=None, metadata=_wire("state", rd.read_int))
    utc_ms: int | None = attrs.field(default=None, metadata=_wire("UtcMs", rd.read_int))


@_event(45, "recorder_snapshot_file")
@attrs.frozen(kw_only=True)
class RecorderSnapshotFile(NotificationEvent):
    """eventType 45: a screenshot was uploaded: ``file_name`` is ``<fileNamePrefix>/<name>.jpg``."""

    file_name: str | None = attrs.field(default=None, metadata=_wire("fileName", rd.read_str))


# -- serviceType 4: extension services --------------------------------------------------------------------------------


@_event(60, "vod_started")
@attrs.frozen(kw_only=True)
class VodStarted(NotificationEvent):
    """eventType 60: upload to ApsaraVideo for VoD started; ``video_id`` is ``aliVodInfo.videoId``."""

    video_id: str | None = attrs.field(default=None, metadata=_wire("aliVodInfo.videoId", rd.read_str))


@_event(61, "vod_triggered")
@attrs.frozen(kw_only=True)
class VodTriggered(NotificationEvent):
    """eventType 61: the VoD upload was triggered."""


# -- serviceType 6: the web recorder ----------------------------------------------------------------------------------


@_event(70, "web_recorder_started")
@attrs.frozen(kw_only=True)
class WebRecorderStarted(NotificationEvent):
    """eventType 70: the web page recorder started; ``recorder_start_time`` in ms."""

    recorder_start_time: int | None = attrs.field(default=None, metadata=_wire("recorderStartTime", rd.read_int))


@_event(71, "web_recorder_stopped")
@attrs.frozen(kw_only=True)
class WebRecorderStopped(NotificationEvent):
    """eventType 71: the web page recorder stopped. ``code`` 0 (``message`` ``ok``) is a normal stop.

    1 ``max_recording_hour``, 2 ``capability_limit``, 3 ``start_engine_failed``, 4 ``page_load_timeout``,
    5 ``access_url_failed``, 6 ``recorder_error``: an abnormal stop (Agora advises starting a new recording).
    ``stop_details`` is ``details.details`` as sent; ``files`` reads ``fileList``.
    """

    code: int | None = attrs.field(default=None, metadata=_wire("code", rd.read_int))
    message: str | None = attrs.field(default=None, metadata=_wire("message", rd.read_str))
    stop_details: Any = attrs.field(default=None, metadata=_wire("details", rd.read_raw))
    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))

    @property
    def abnormal(self) -> bool:
        """True when ``code`` is set and not 0."""
        return self.code is not None and self.code != 0


@_event(72, "web_recorder_capability_limit")
@attrs.frozen(kw_only=True)
class WebRecorderCapabilityLimit(NotificationEvent):
    """eventType 72: the page exceeds a limit: ``limit_type`` ``resolution``, ``WebGL`` or ``bandwidth``."""

    limit_type: str | None = attrs.field(default=None, metadata=_wire("limitType", rd.read_str))


@_event(73, "web_recorder_reload")
@attrs.frozen(kw_only=True)
class WebRecorderReload(NotificationEvent):
    """eventType 73: the page was reloaded: ``reason`` ``audio_silence`` or ``page_load_timeout``."""

    reason: str | None = attrs.field(default=None, metadata=_wire("reason", rd.read_str))


@_event(100, "rtmp_publish_status")
@attrs.frozen(kw_only=True)
class RtmpPublishStatusChanged(NotificationEvent):
    """eventType 100: the RTMP push to ``rtmp_url`` is ``connecting``/``publishing``/``onhold``/``disconnected``."""

    rtmp_url: str | None = attrs.field(default=None, metadata=_wire("rtmpUrl", rd.read_str))
    status: RtmpPublishStatus | str | None = attrs.field(
        default=None, metadata=_wire("status", rd.enum_or_raw(RtmpPublishStatus, rd.read_str))
    )


# -- transcoding (legacy) and the download module ---------------------------------------------------------------------


@_event(80, "transcoder_started")
@attrs.frozen(kw_only=True)
class TranscoderStarted(NotificationEvent):
    """eventType 80: postponed transcoding started (legacy)."""


@_event(81, "transcoder_completed")
@attrs.frozen(kw_only=True)
class TranscoderCompleted(NotificationEvent):
    """eventType 81: postponed transcoding finished (legacy): ``result`` and the per-uid results as sent."""

    result: str | None = attrs.field(default=None, metadata=_wire("result", rd.read_str))
    uids: Any = attrs.field(default=None, metadata=_wire("uids", rd.read_raw))


@_event(90, "download_failed")
@attrs.frozen(kw_only=True)
class DownloadFailed(NotificationEvent):
    """eventType 90: downloading files for transcoding failed; sent once per recording."""

    vendor: int | None = attrs.field(default=None, metadata=_wire("vendor", rd.read_int))
    region: int | None = attrs.field(default=None, metadata=_wire("region", rd.read_int))
    bucket: str | None = attrs.field(default=None, metadata=_wire("bucket", rd.read_str))
    file_names: tuple[str, ...] = attrs.field(default=(), metadata=_wire("fileName", rd.read_names))


@_event(1001, "postpone_transcode_final_result")
@attrs.frozen(kw_only=True)
class PostponeTranscodeFinalResult(NotificationEvent):
    """eventType 1001: the final result of postponed transcoding (legacy): ``result`` and ``files``."""

    result: str | None = attrs.field(default=None, metadata=_wire("result", rd.read_str))
    files: tuple[RecordedFile, ...] = attrs.field(default=(), metadata=_wire("fileList", rd.read_files))


@attrs.frozen(kw_only=True)
class UnknownEvent(NotificationEvent):
    """A notification this library has no class for: an undocumented eventType, or another product's notification.

    The envelope is read as usual; ``raw`` is the whole body as parsed, ``details`` the cloud-recording details.
    """


EVENT_CLASSES: Mapping[int, type[NotificationEvent]] = types.MappingProxyType(dict(sorted(_BY_TYPE.items())))
"""The class of every documented Cloud Recording eventType, by eventType."""

_BASE_FIELDS = frozenset(a.name for a in attrs.fields(NotificationEvent))
_DETAIL_FIELDS: dict[type[NotificationEvent], tuple[tuple[str, str, rd.Reader], ...]] = {
    cls: tuple((a.name, a.metadata[_KEY], a.metadata[_READ]) for a in attrs.fields(cls) if a.name not in _BASE_FIELDS)
    for cls in (*_BY_TYPE.values(), UnknownEvent)
}


def _get(data: Mapping[str, Any], key: str, path: str, read: rd.Reader, *, required: bool = False) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise WebhookPayloadError("required field missing", field=path)
        return None
    return read(value, path)


def _nested(details: Mapping[str, Any], dotted: str) -> Any:
    value: Any = details
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def parse(body: bytes | bytearray | memoryview | str) -> NotificationEvent:
    """Read one NCS notification body into its event class; no signature check (call :func:`verify` first).

    Returns the documented eventType's subclass for Cloud Recording (productId 3), else :class:`UnknownEvent`.
    Read leniently, like the library's responses: numeric strings for numbers (``"sequence": "3"``), numbers for
    uids, unknown keys kept in ``details``/``raw``, ``sid: ""`` as no sid.

    Raises :class:`WebhookPayloadError` (a ``ValueError``) when the body is not JSON, not a JSON object, nested
    more than 32 levels, carries an integer of more than 40 digits, lacks ``noticeId``/``productId``/``eventType``,
    or has a field of the wrong type; its ``field`` names the wire path (``payload.details.exitStatus``).

    Example::

        event = parse(body)
        if isinstance(event, SessionExit) and event.abnormal:
            ...
    """
    data = rd.load_object(body)
    notice_id = _get(data, "noticeId", "noticeId", rd.read_str, required=True)
    if not notice_id:
        raise WebhookPayloadError("must be a non-empty string", field="noticeId")
    envelope: dict[str, Any] = {
        "notice_id": notice_id,
        "product_id": _get(data, "productId", "productId", rd.read_int, required=True),
        "event_type": _get(data, "eventType", "eventType", rd.read_int, required=True),
        "notify_ms": _get(data, "notifyMs", "notifyMs", rd.read_int),
        "raw": types.MappingProxyType(data),
    }
    if envelope["product_id"] != CLOUD_RECORDING_PRODUCT_ID:
        return UnknownEvent(**envelope)
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise WebhookPayloadError("expected an object", field="payload")
    details = payload.get("details")
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise WebhookPayloadError("expected an object", field="payload.details")
    sid = _get(payload, "sid", "payload.sid", rd.read_str)
    fields: dict[str, Any] = {
        **envelope,
        "cname": _get(payload, "cname", "payload.cname", rd.read_str),
        "uid": _get(payload, "uid", "payload.uid", rd.read_str),
        "sid": sid or None,
        "sequence": _get(payload, "sequence", "payload.sequence", rd.read_int),
        "send_ts": _get(payload, "sendts", "payload.sendts", rd.read_int),
        "service_type": _get(payload, "serviceType", "payload.serviceType", rd.read_int),
        "msg_name": _get(details, "msgName", "payload.details.msgName", rd.read_str),
        "details": types.MappingProxyType(details),
    }
    cls = _BY_TYPE.get(fields["event_type"], UnknownEvent)
    for name, key, read in _DETAIL_FIELDS[cls]:
        value = _nested(details, key)
        if value is not None:
            fields[name] = read(value, f"payload.details.{key}")
    return cls(**fields)
