"""Response models for acquire, start, update, updateLayout, query and stop.

Responses are read leniently (see :mod:`agora_recording._converter`): unknown keys are ignored, unknown enum
values are kept as plain values, numbers and booleans sent as strings are converted. Agora's polymorphic file list
stays reachable as sent (``server_response.file_list``: a string or a tuple of :class:`RecordedFile`), and
``server_response.files`` gives one normalised view, the same shape in every mode.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Any

import attrs

from agora_recording.models._enums import (
    FileListMode,
    RecordingStatus,
    RtmpPublishStatus,
    TrackType,
    UploadingStatus,
    WebRecorderState,
)

__all__ = [
    "AcquireResponse",
    "AliyunVodPayload",
    "ExtensionServiceState",
    "QueryResponse",
    "RecordedFile",
    "RtmpOutputState",
    "RtmpPublishPayload",
    "ServerResponse",
    "StartResponse",
    "StopResponse",
    "UpdateLayoutResponse",
    "UpdateResponse",
    "UploadServicePayload",
    "VideoInfo",
    "WebRecorderPayload",
]


@attrs.frozen(kw_only=True)
class RecordedFile:
    """One recorded file (an M3U8 playlist). Agora spells the name key ``fileName`` or ``filename``; both are read.

    ``slice_start_time`` is the Unix time the recording of this file started, as Agora sent it (milliseconds in
    most answers, seconds in some web-mode examples); ``slice_start_time_ms`` normalises it by magnitude.
    """

    filename: str
    track_type: TrackType | str | None = None
    uid: str | None = None
    mixed_all_user: bool | None = None
    is_playable: bool | None = None
    slice_start_time: int | None = None

    @property
    def slice_start_time_ms(self) -> int | None:
        """``slice_start_time`` in milliseconds, whichever unit Agora used (values under 10^11 are seconds)."""
        t = self.slice_start_time
        if t is None or t == 0:
            return t
        return t * 1000 if t < 100_000_000_000 else t


@attrs.frozen(kw_only=True)
class WebRecorderPayload:
    """Payload of ``web_recorder_service``: the files so far, whether paused, and the recorder state."""

    file_list: tuple[RecordedFile, ...] = ()
    onhold: bool | None = None
    state: WebRecorderState | str | None = None


@attrs.frozen(kw_only=True)
class RtmpOutputState:
    """One CDN output of the RTMP push and its status."""

    rtmp_url: str | None = None
    status: RtmpPublishStatus | str | None = None


@attrs.frozen(kw_only=True)
class RtmpPublishPayload:
    """Payload of ``rtmp_publish_service``."""

    outputs: tuple[RtmpOutputState, ...] = ()
    state: str | None = None


@attrs.frozen(kw_only=True)
class UploadServicePayload:
    """Payload of ``upload_service`` (web-mode stop): the upload status."""

    uploading_status: UploadingStatus | str | None = None
    state: str | None = None


@attrs.frozen(kw_only=True)
class VideoInfo:
    """An M3U8 file uploaded to ApsaraVideo for VoD and its video ID."""

    file_name: str | None = None
    video_id: str | None = None


@attrs.frozen(kw_only=True)
class AliyunVodPayload:
    """Payload of ``aliyun_vod_service``."""

    state: str | None = None
    video_info: tuple[VideoInfo, ...] = ()


Payload = WebRecorderPayload | RtmpPublishPayload | UploadServicePayload | AliyunVodPayload | Mapping[str, Any]


@attrs.frozen(kw_only=True)
class ExtensionServiceState:
    """One entry of ``extensionServiceState``. ``payload`` is typed for known services, a raw mapping otherwise.

    ``raw_payload`` keeps the payload exactly as sent (Agora's older docs spell the key ``playload``).
    """

    service_name: str
    payload: Payload = attrs.field(factory=dict)
    raw_payload: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class ServerResponse:
    """``serverResponse`` of query and stop. Which keys are present depends on the mode and configuration.

    ``file_list`` is what Agora sent (a string in mix mode, a tuple of :class:`RecordedFile` in individual mode);
    ``files`` is always a tuple of :class:`RecordedFile`, whatever the mode.
    """

    status: RecordingStatus | int | None = None
    file_list_mode: FileListMode | str | None = None
    file_list: str | tuple[RecordedFile, ...] | None = None
    file_list_str: str | None = None
    slice_start_time: int | None = None
    uploading_status: UploadingStatus | str | None = None
    extension_service_state: tuple[ExtensionServiceState, ...] = ()
    sub_service_status: Mapping[str, Any] | None = None

    @cached_property
    def files(self) -> tuple[RecordedFile, ...]:
        """Every recorded file reported, as :class:`RecordedFile`, from whichever variant Agora sent (built once)."""
        return _files_of(self)

    def service(self, name: str) -> ExtensionServiceState | None:
        """The ``extensionServiceState`` entry of service ``name``, or ``None``."""
        for entry in self.extension_service_state:
            if entry.service_name == name:
                return entry
        return None

    @property
    def effective_uploading_status(self) -> UploadingStatus | str | None:
        """``uploadingStatus`` at the top level, or inside the web-mode ``upload_service`` payload."""
        if self.uploading_status is not None:
            return self.uploading_status
        entry = self.service("upload_service")
        if entry is not None and isinstance(entry.payload, UploadServicePayload):
            return entry.payload.uploading_status
        return None


def _files_of(response: ServerResponse) -> tuple[RecordedFile, ...]:
    """:attr:`ServerResponse.files`, computed."""
    file_list = response.file_list
    if file_list.__class__ is tuple and not response.file_list_str and not response.extension_service_state:
        return _unique(file_list)  # individual mode: the array alone
    found: list[RecordedFile] = []
    if isinstance(file_list, tuple):
        found.extend(file_list)
    for text in (file_list if isinstance(file_list, str) else None, response.file_list_str):
        if text:
            found.extend(RecordedFile(filename=name.strip()) for name in text.split(";") if name.strip())
    for entry in response.extension_service_state:
        if isinstance(entry.payload, WebRecorderPayload):
            found.extend(entry.payload.file_list)
    return _unique(found)


_FILENAME = operator.attrgetter("filename")
_UID = operator.attrgetter("uid")


def _unique(found: Sequence[RecordedFile]) -> tuple[RecordedFile, ...]:
    """``found`` without repeats: the first file of each (filename, uid, track type), in order."""
    n = len(found)
    if n < 2:
        return tuple(found)
    if n == 2:
        a, b = found
        if a.filename != b.filename or a.uid != b.uid:
            return tuple(found)
    elif len(set(zip(map(_FILENAME, found), map(_UID, found), strict=True))) == n:
        return tuple(found)  # no two share a name and uid (the usual case: strings hash fast, enums do not)
    unique: dict[tuple[str, str | None, Any], RecordedFile] = {}
    for f in found:
        unique.setdefault((f.filename, f.uid, f.track_type), f)
    return tuple(unique.values())


class PendingFiles:
    """An individual-mode ``fileList`` the converter has validated but not yet built into :class:`RecordedFile`.

    Internal: the production converter stores one in :attr:`ServerResponse.file_list`, which builds the tuple on
    first access (reading, ``==``, ``repr``, unstructuring). Every entry was checked when the answer was read, so
    building cannot fail: a malformed entry is still a :class:`~agora_recording.ResponseFormatError` of the call.

    ``rows`` holds either the already converted field values of each file, in :class:`RecordedFile`'s field order,
    or (``plain=True``) the answer's own entries, dicts of plain values that the check found ready to read as they
    are (the parsed body's objects, which nothing else holds or changes; keeping them costs less than copying).
    """

    __slots__ = ("plain", "rows")

    def __init__(self, rows: Sequence[Any], *, plain: bool = False) -> None:
        self.rows = rows
        self.plain = plain

    def build(self) -> tuple[RecordedFile, ...]:
        """The files, as :class:`RecordedFile`."""
        if self.plain:
            return _build_plain(self.rows)
        new = object.__new__
        s_name, s_track, s_uid, s_mixed, s_playable, s_start = _FILE_SETTERS
        out = []
        for name, track, uid, mixed, playable, start in self.rows:
            f = new(RecordedFile)
            s_name(f, name)
            s_track(f, track)
            s_uid(f, uid)
            s_mixed(f, mixed)
            s_playable(f, playable)
            s_start(f, start)
            out.append(f)
        return tuple(out)


_TRACKS: dict[Any, Any] = {t.value: t for t in TrackType}

# Slot setters of the frozen RecordedFile (what its generated __init__ does, without the per-call set-up).
_FILE_FIELDS = ("filename", "track_type", "uid", "mixed_all_user", "is_playable", "slice_start_time")
if tuple(a.name for a in attrs.fields(RecordedFile)) != _FILE_FIELDS:  # pragma: no cover - a guard for edits
    raise RuntimeError("PendingFiles rows no longer match RecordedFile's fields")
_FILE_SETTERS = tuple(RecordedFile.__dict__[name].__set__ for name in _FILE_FIELDS)


def _plain_builder() -> Callable[[Sequence[Any]], tuple[RecordedFile, ...]]:
    """:meth:`PendingFiles.build` for ``plain=True`` rows, with everything it uses bound once."""
    new = object.__new__
    cls = RecordedFile
    tracks = _TRACKS
    s_name, s_track, s_uid, s_mixed, s_playable, s_start = _FILE_SETTERS

    def build(entries: Sequence[Any]) -> tuple[RecordedFile, ...]:
        out = []
        for entry in entries:
            get = entry.get
            name = get("filename")
            track = get("trackType")
            f = new(cls)
            s_name(f, get("fileName") if name is None else name)
            s_track(f, None if track is None else tracks.get(track, track))
            s_uid(f, get("uid"))
            s_mixed(f, get("mixedAllUser"))
            s_playable(f, get("isPlayable"))
            s_start(f, get("sliceStartTime"))
            out.append(f)
        return tuple(out)

    return build


_build_plain = _plain_builder()


class _LazyFileList:
    """``ServerResponse.file_list``'s slot, wrapped: a :class:`PendingFiles` found there is built on first read."""

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        value = self._slot.__get__(obj, cls)
        if value.__class__ is PendingFiles:
            value = value.build()
            self._slot.__set__(obj, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:  # only the generated __init__ (the class is frozen)
        self._slot.__set__(obj, value)


_LIST_SLOT = ServerResponse.__dict__["file_list"]
_LIST_SLOT_GET = _LIST_SLOT.__get__
_LIST_SLOT_SET = _LIST_SLOT.__set__
ServerResponse.file_list = _LazyFileList(_LIST_SLOT)  # type: ignore[assignment]  # the slot stays; reads go through the wrapper


NOT_COMPUTED: Any = object()
"""What the converter's fast path puts in ``ServerResponse.files``'s slot (cheaper to test than an unset slot)."""


class _CachedFiles:
    """``ServerResponse.files``'s slot, wrapped: computed on the first read and kept in the slot (what attrs makes
    of a ``cached_property`` on a slotted class, without its ``__getattr__`` round trip on the first read)."""

    __slots__ = ("_slot",)

    def __init__(self, slot: Any) -> None:
        self._slot = slot

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        try:
            value = self._slot.__get__(obj, cls)
        except AttributeError:  # built by attrs' __init__: the slot is unset
            value = NOT_COMPUTED
        if value is NOT_COMPUTED:
            pending = _LIST_SLOT_GET(obj)
            if pending.__class__ is PendingFiles and not obj.file_list_str and not obj.extension_service_state:
                # what _files_of does for an individual-mode array, without the hops through ``file_list``
                built = _build_plain(pending.rows) if pending.plain else pending.build()
                _LIST_SLOT_SET(obj, built)
                value = _unique(built)
            else:
                value = _files_of(obj)
            self._slot.__set__(obj, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:  # unreachable through the frozen __setattr__
        self._slot.__set__(obj, value)


ServerResponse.files = _CachedFiles(ServerResponse.__dict__["files"])  # type: ignore[assignment,method-assign]  # the slot stays; the first read computes it


@attrs.frozen(kw_only=True)
class AcquireResponse:
    """Answer of acquire: the resourceId, valid for five minutes (the 2026 pages also echo cname and uid)."""

    resource_id: str
    cname: str | None = None
    uid: str | None = None


@attrs.frozen(kw_only=True)
class StartResponse:
    """Answer of start: the sid (recording ID) of the new recording."""

    resource_id: str
    sid: str
    cname: str | None = None
    uid: str | None = None


@attrs.frozen(kw_only=True)
class UpdateResponse:
    """Answer of update."""

    resource_id: str | None = None
    sid: str | None = None
    cname: str | None = None
    uid: str | None = None


@attrs.frozen(kw_only=True)
class UpdateLayoutResponse:
    """Answer of updateLayout."""

    resource_id: str | None = None
    sid: str | None = None
    cname: str | None = None
    uid: str | None = None


@attrs.frozen(kw_only=True)
class QueryResponse:
    """Answer of query: the recording's status and files so far. ``sid`` is ``None`` when Agora sent ``""``."""

    resource_id: str | None = None
    sid: str | None = None
    cname: str | None = None
    uid: str | None = None
    server_response: ServerResponse = attrs.field(factory=ServerResponse)

    @property
    def status(self) -> RecordingStatus | int | None:
        """``server_response.status``."""
        return self.server_response.status

    @property
    def files(self) -> tuple[RecordedFile, ...]:
        """``server_response.files``."""
        return self.server_response.files


@attrs.frozen(kw_only=True)
class StopResponse:
    """Answer of stop: upload status and files.

    ``no_recorded_data`` is True when Agora answered 206 code 435: the recording stopped, but nobody sent a stream,
    so there are no files. ``already_stopped`` is True when the recording had already stopped or was stopping
    (code 49, or not found after a stop that Agora may have done); the session sets it, the client never does.
    """

    resource_id: str | None = None
    sid: str | None = None
    cname: str | None = None
    uid: str | None = None
    server_response: ServerResponse = attrs.field(factory=ServerResponse)
    no_recorded_data: bool = False
    already_stopped: bool = False

    @property
    def files(self) -> tuple[RecordedFile, ...]:
        """``server_response.files``."""
        return self.server_response.files

    @property
    def uploading_status(self) -> UploadingStatus | str | None:
        """The upload status, at the top level (individual/mix) or in the ``upload_service`` payload (web)."""
        return self.server_response.effective_uploading_status
