"""The production converter's fast path (``_fast_read``) reads every answer exactly as the generic hooks do.

The generic reference is the detailed converter (the same lenient hooks, no fast path). Each case compares the
two results field by field, with the types of the values (an enum member stays an enum member, a kept unknown
value stays a plain value), and the reads a caller does (``files``, ``==``, ``hash``, ``repr``, pickling).
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import attrs
import pytest

from agora_recording import ResponseFormatError
from agora_recording._converter import _detailed_converter, converter, from_wire
from agora_recording.models import QueryResponse, RecordedFile, ServerResponse, StopResponse

FIXTURES = Path(__file__).parent / "fixtures" / "responses"

FILE = {
    "fileName": "a.m3u8",
    "trackType": "audio",
    "uid": "1",
    "mixedAllUser": False,
    "isPlayable": True,
    "sliceStartTime": 1700000000000,
}
SERVER = {"status": 5, "fileListMode": "json", "fileList": [FILE], "sliceStartTime": 1700000000000}
QUERY = {"resourceId": "r", "sid": "s", "serverResponse": SERVER, "cname": "room", "uid": "527841"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return out


_DROP = object()


def _typed(value: Any) -> Any:
    """A model as nested (class, field, value type, value) tuples: equal only if every value has the same type."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            tuple((a.name, _typed(getattr(value, a.name))) for a in attrs.fields(type(value))),
        )
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return (type(value), value)


def _same(data: Any, cls: type) -> None:
    fast = converter.structure(data, cls)
    generic = _detailed_converter.structure(data, cls)
    assert _typed(fast) == _typed(generic)
    assert fast == generic
    try:
        expected_hash: int | None = hash(generic)
    except TypeError:  # a raw mapping inside (subServiceStatus): unhashable on both paths
        expected_hash = None
        with pytest.raises(TypeError):
            hash(fast)
    if expected_hash is not None:
        assert hash(fast) == expected_hash
    assert repr(fast) == repr(generic)
    assert _typed(fast.server_response.files) == _typed(generic.server_response.files)


QUERY_CASES: dict[str, Any] = {
    "plain": QUERY,
    "sid empty": _with(QUERY, sid=""),
    "sid null": _with(QUERY, sid=None),
    "no serverResponse": _with(QUERY, serverResponse=_DROP),
    "no ids": _with(QUERY, resourceId=_DROP, sid=_DROP, cname=_DROP, uid=_DROP),
    "uid as a number": _with(QUERY, uid=527841),
    "extra keys": _with(QUERY, extra={"x": 1}),
    "status unknown": _with(QUERY, serverResponse=_with(SERVER, status=99)),
    "status as a string": _with(QUERY, serverResponse=_with(SERVER, status="5")),
    "status null": _with(QUERY, serverResponse=_with(SERVER, status=None)),
    "mode unknown": _with(QUERY, serverResponse=_with(SERVER, fileListMode="yaml")),
    "file list a string": _with(QUERY, serverResponse=_with(SERVER, fileListMode="string", fileList="a.m3u8;b.m3u8")),
    "file list null": _with(QUERY, serverResponse=_with(SERVER, fileList=None)),
    "file list empty": _with(QUERY, serverResponse=_with(SERVER, fileList=[])),
    "file list str too": _with(QUERY, serverResponse=_with(SERVER, fileListStr="a.m3u8;c.m3u8")),
    "slice start as a float": _with(QUERY, serverResponse=_with(SERVER, sliceStartTime=1619172871.089)),
    "slice start as a bool-looking int": _with(QUERY, serverResponse=_with(SERVER, sliceStartTime=1)),
    "uploading status": _with(QUERY, serverResponse=_with(SERVER, uploadingStatus="uploaded")),
    "uploading status unknown": _with(QUERY, serverResponse=_with(SERVER, uploadingStatus="new")),
    "extension state null": _with(QUERY, serverResponse=_with(SERVER, extensionServiceState=None)),
    "extension state": _with(
        QUERY,
        serverResponse=_with(
            SERVER,
            extensionServiceState=[
                {"serviceName": "web_recorder_service", "payload": {"fileList": [FILE], "onhold": False}}
            ],
        ),
    ),
    "sub service status": _with(QUERY, serverResponse=_with(SERVER, subServiceStatus={"recordingService": "x"})),
    "files: both name keys": _with(QUERY, serverResponse=_with(SERVER, fileList=[_with(FILE, filename="b.m3u8")])),
    "files: lowercase name": _with(
        QUERY, serverResponse=_with(SERVER, fileList=[_with(FILE, fileName=_DROP, filename="b.m3u8")])
    ),
    "files: lenient values": _with(
        QUERY,
        serverResponse=_with(
            SERVER,
            fileList=[FILE, _with(FILE, uid=2, mixedAllUser="false", isPlayable="1", sliceStartTime="1700000000")],
        ),
    ),
    "files: unknown track": _with(QUERY, serverResponse=_with(SERVER, fileList=[_with(FILE, trackType="depth")])),
    "files: nulls and absences": _with(
        QUERY,
        serverResponse=_with(
            SERVER, fileList=[{"fileName": "a"}, _with(FILE, uid=None, trackType=None, isPlayable=None)]
        ),
    ),
    "files: repeated": _with(QUERY, serverResponse=_with(SERVER, fileList=[FILE, FILE, _with(FILE, uid="2")])),
    "files: same name, other track": _with(
        QUERY, serverResponse=_with(SERVER, fileList=[FILE, _with(FILE, trackType="video")])
    ),
    "files: a bool for an int": _with(QUERY, serverResponse=_with(SERVER, fileList=[_with(FILE, sliceStartTime=True)])),
}


@pytest.mark.parametrize("case", sorted(QUERY_CASES))
def test_the_fast_path_reads_a_query_answer_as_the_generic_hooks_do(case: str) -> None:
    data = QUERY_CASES[case]
    try:
        expected: Any = _detailed_converter.structure(data, QueryResponse)
    except Exception:
        expected = None
    if expected is None:  # the generic path refuses it: so does from_wire, with its wire path
        with pytest.raises(ResponseFormatError):
            from_wire(QueryResponse, data, endpoint="query")
        return
    _same(data, QueryResponse)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_answer_reads_the_same_on_both_paths(path: Path) -> None:
    data = json.loads(path.read_text())
    endpoint = path.stem.split("__")[0]
    if endpoint == "query":
        _same(data, QueryResponse)
    elif endpoint == "stop":
        _same(data, StopResponse)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (_with(QUERY, resourceId=["r"]), "$.resourceId"),
        (_with(QUERY, serverResponse=None), "$.serverResponse"),
        (_with(QUERY, serverResponse=_with(SERVER, status=4.5)), "$.serverResponse.status"),
        (_with(QUERY, serverResponse=_with(SERVER, fileList=7)), "$.serverResponse.fileList"),
        (_with(QUERY, serverResponse=_with(SERVER, fileList=[FILE, {"uid": "1"}])), "$.serverResponse.fileList[1]"),
        (_with(QUERY, serverResponse=_with(SERVER, fileList=[_with(FILE, isPlayable=2)])), "isPlayable"),
    ],
)
def test_a_bad_answer_still_fails_with_its_wire_path(data: Any, where: str) -> None:
    with pytest.raises(ResponseFormatError) as info:
        from_wire(QueryResponse, data, endpoint="query")
    assert where in str(info.value)


def test_a_fast_built_answer_behaves_as_an_attrs_built_one() -> None:
    fast = from_wire(QueryResponse, QUERY, endpoint="query")
    built = QueryResponse(
        resource_id="r",
        sid="s",
        cname="room",
        uid="527841",
        server_response=ServerResponse(
            status=5,
            file_list_mode="json",
            file_list=(
                RecordedFile(
                    filename="a.m3u8",
                    track_type="audio",
                    uid="1",
                    mixed_all_user=False,
                    is_playable=True,
                    slice_start_time=1700000000000,
                ),
            ),
            slice_start_time=1700000000000,
        ),
    )
    assert fast == built
    assert hash(fast) == hash(built)
    assert pickle.loads(pickle.dumps(fast)) == built
    assert copy.copy(fast).files == built.files == fast.files
    assert attrs.evolve(fast, sid="t").server_response == built.server_response
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.server_response.files = ()  # type: ignore[misc]  # the point of the test
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.sid = "x"  # type: ignore[misc]  # the point of the test


def test_files_is_computed_once_on_either_path() -> None:
    fast = from_wire(QueryResponse, QUERY, endpoint="query")
    generic = _detailed_converter.structure(QUERY, QueryResponse)
    assert fast.files is fast.files
    assert generic.files is generic.files
    assert ServerResponse().files == ()


@pytest.mark.parametrize("case", sorted(QUERY_CASES))
def test_from_wire_calls_the_hook_cattrs_dispatch_would(case: str) -> None:
    """``from_wire(QueryResponse, ...)`` skips cattrs' dispatch: the result or refusal of ``converter.structure``."""
    data = QUERY_CASES[case]
    try:
        expected: Any = converter.structure(copy.deepcopy(data), QueryResponse)
    except Exception:
        with pytest.raises(ResponseFormatError):
            from_wire(QueryResponse, copy.deepcopy(data), endpoint="query")
        return
    assert from_wire(QueryResponse, copy.deepcopy(data), endpoint="query") == expected


@pytest.mark.parametrize("case", sorted(QUERY_CASES))
def test_files_read_first_matches_the_generic_path(case: str) -> None:
    """Reading ``files`` before ``file_list`` (the shortcut that builds a pending list in place) gives the same files,
    and leaves ``file_list`` built as the generic path has it, holding the very objects ``files`` returned."""
    data = QUERY_CASES[case]
    try:
        fast = from_wire(QueryResponse, copy.deepcopy(data), endpoint="query")
    except ResponseFormatError:
        return  # refused: the refusals are compared in the tests above
    generic = _detailed_converter.structure(copy.deepcopy(data), QueryResponse)
    files = fast.files
    assert _typed(files) == _typed(generic.files)
    assert fast.files is files
    file_list = fast.server_response.file_list
    assert _typed(file_list) == _typed(generic.server_response.file_list)
    if isinstance(file_list, tuple):
        assert all(any(f is g for g in file_list) for f in files if f in file_list)
    assert fast == generic
    if case != "sub service status":  # a raw mapping inside: unhashable on both paths
        assert hash(fast) == hash(generic)
    assert pickle.loads(pickle.dumps(fast)) == generic


def test_files_read_first_on_a_list_that_needed_conversion() -> None:
    """A pending list of converted rows (lenient values) takes the same shortcut and builds the same files."""
    data = QUERY_CASES["files: lenient values"]
    fast = from_wire(QueryResponse, copy.deepcopy(data), endpoint="query")
    generic = _detailed_converter.structure(copy.deepcopy(data), QueryResponse)
    assert _typed(fast.files) == _typed(generic.files)
    assert fast.files[1].uid == "2"
    assert fast.files[1].mixed_all_user is False
    assert fast.server_response.file_list == fast.files
