"""The production converter's fast path for query and stop answers: the usual shapes, read without cattrs' layers.

A query answer is read on every poll of every session, so its fixed cost (two generated cattrs functions, a copy
of each object for the lenient fix-ups, one hook call per field, two attrs ``__init__`` calls) and its cost per
file (a function call and six ``dict.get`` per entry) are what the client adds to a raw GET and ``json.loads``.

Each function here reads only what it can read *exactly* as the generic hooks of :mod:`agora_recording._converter`
would (values of their plain JSON types: ``str``, ``int``, ``bool``, ``None``), and hands anything else to the
generic hook unchanged: so the results are the same objects with the same values, and every lenient conversion,
every error and its wire path come from the one generic implementation. ``tests/test_fast_read.py`` checks the
two paths against each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from agora_recording.models import _responses as r
from agora_recording.models._enums import FileListMode, RecordingStatus, UploadingStatus

__all__ = ["plain_files", "query_hook", "server_hook"]

Hook = Callable[[Any, Any], Any]
_ABSENT: Any = object()
_NEW = object.__new__
_STATUS: dict[Any, Any] = {m.value: m for m in RecordingStatus}
_MODES: dict[Any, Any] = {m.value: m for m in FileListMode}
_UPLOADING: dict[Any, Any] = {m.value: m for m in UploadingStatus}


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    """The slot setters of a frozen attrs class whose ``__init__`` only sets ``names`` in order (checked here).

    Setting every slot through them builds the same instance as ``cls(**values)``, without the keyword parsing
    and the per-call set-up of attrs' generated ``__init__``.
    """
    fields = attrs.fields(cls)
    plain = all(f.validator is None and f.converter is None for f in fields)
    if tuple(f.name for f in fields) != names or not plain or hasattr(cls, "__attrs_post_init__"):
        raise RuntimeError(f"{cls.__name__} no longer matches its fast builder")  # pragma: no cover - edit guard
    found = []
    for name in names:
        descriptor = cls.__dict__[name]
        found.append(getattr(descriptor, "_slot", descriptor).__set__)  # the slot under a lazy wrapper
    return tuple(found)


_SERVER_SETTERS = _slot_setters(
    r.ServerResponse,
    (
        "status",
        "file_list_mode",
        "file_list",
        "file_list_str",
        "slice_start_time",
        "uploading_status",
        "extension_service_state",
        "sub_service_status",
    ),
)
_SET_FILES = r.ServerResponse.__dict__["files"]._slot.__set__
_QUERY_SETTERS = _slot_setters(r.QueryResponse, ("resource_id", "sid", "cname", "uid", "server_response"))


def server_hook(generic: Hook, file_list: Hook) -> Hook:
    """A ``ServerResponse`` hook: plain values are read here, anything else by ``generic``."""
    s_status, s_mode, s_list, s_list_str, s_start, s_uploading, s_services, s_sub = _SERVER_SETTERS
    set_files = _SET_FILES

    def structure(data: Any, tp: Any) -> Any:
        if data.__class__ is not dict:
            return generic(data, tp)
        get = data.get
        status = get("status")
        mode = get("fileListMode")
        list_str = get("fileListStr")
        start = get("sliceStartTime")
        uploading = get("uploadingStatus")
        if (
            (status is not None and status.__class__ is not int)
            or (mode is not None and mode.__class__ is not str)
            or (list_str is not None and list_str.__class__ is not str)
            or (start is not None and start.__class__ is not int)
            or (uploading is not None and uploading.__class__ is not str)
            or get("extensionServiceState") is not None
            or "subServiceStatus" in data
        ):
            return generic(data, tp)
        files = file_list(get("fileList"), None)  # the same hook the generic path calls (None when absent)
        out = _NEW(r.ServerResponse)
        s_status(out, _STATUS.get(status, status))
        s_mode(out, _MODES.get(mode, mode))
        s_list(out, files)
        s_list_str(out, list_str)
        s_start(out, start)
        s_uploading(out, _UPLOADING.get(uploading, uploading))
        s_services(out, ())
        s_sub(out, None)
        set_files(out, r.NOT_COMPUTED)
        return out

    return structure


def query_hook(generic: Hook, server: Hook) -> Hook:
    """A ``QueryResponse`` hook: plain values are read here, anything else by ``generic``."""
    s_resource, s_sid, s_cname, s_uid, s_server = _QUERY_SETTERS

    def structure(data: Any, tp: Any) -> Any:
        if data.__class__ is not dict:
            return generic(data, tp)
        get = data.get
        resource_id = get("resourceId")
        sid = get("sid")
        cname = get("cname")
        uid = get("uid")
        if (
            (resource_id is not None and resource_id.__class__ is not str)
            or (sid is not None and sid.__class__ is not str)
            or (cname is not None and cname.__class__ is not str)
            or (uid is not None and uid.__class__ is not str)
        ):
            return generic(data, tp)
        answer = get("serverResponse", _ABSENT)
        out = _NEW(r.QueryResponse)
        s_resource(out, resource_id)
        s_sid(out, None if sid == "" else sid)  # sid "" reads as no sid
        s_cname(out, cname)
        s_uid(out, uid)
        s_server(out, r.ServerResponse() if answer is _ABSENT else server(answer, r.ServerResponse))
        return out

    return structure


def plain_files(entries: list[Any]) -> bool:
    """Whether every entry of a file list is a ``dict`` of plain values, read as they are (no conversion).

    That is: a string name (``filename``, else ``fileName``), and ``trackType``/``uid`` strings, ``mixedAllUser``/
    ``isPlayable`` booleans, ``sliceStartTime`` an integer, each or ``None``. Then
    :class:`~agora_recording.models._responses.PendingFiles` builds the files from the entries themselves; otherwise
    the caller reads every entry through the generic per-entry path, which converts or raises.
    """
    for entry in entries:
        if entry.__class__ is not dict:
            return False
        get = entry.get
        name = get("filename")
        if name is None:
            name = get("fileName")
        track = get("trackType")
        uid = get("uid")
        mixed = get("mixedAllUser")
        playable = get("isPlayable")
        start = get("sliceStartTime")
        if (
            name.__class__ is not str
            or (track is not None and track.__class__ is not str)
            or (uid is not None and uid.__class__ is not str)
            or (mixed is not None and mixed.__class__ is not bool)
            or (playable is not None and playable.__class__ is not bool)
            or (start is not None and start.__class__ is not int)
        ):
            return False
    return True
