"""Individual-mode file lists are validated when the answer is read and built into RecordedFile on first access."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from agora_recording import ResponseFormatError
from agora_recording._converter import _detailed_converter, from_wire, to_wire
from agora_recording.models import QueryResponse, RecordedFile, ServerResponse, TrackType
from agora_recording.models._responses import PendingFiles


def _answer(files: list[Any]) -> dict[str, Any]:
    return {
        "resourceId": "r",
        "sid": "s",
        "serverResponse": {"status": 5, "fileListMode": "json", "fileList": files},
    }


FILES = [
    {"filename": "a.m3u8", "trackType": "audio", "uid": "1", "mixedAllUser": False, "isPlayable": True,
     "sliceStartTime": 1700000000000},
    {"fileName": "b.m3u8", "trackType": "video", "uid": 2, "mixedAllUser": "false", "isPlayable": "true",
     "sliceStartTime": "1700000000"},
    {"filename": "c.m3u8", "trackType": "new_kind"},
]  # fmt: skip


def _slot(response: QueryResponse) -> Any:
    slot = type(response.server_response).__dict__["file_list"]._slot
    return slot.__get__(response.server_response, ServerResponse)


def test_the_list_is_pending_until_read_and_then_equals_the_eager_build() -> None:
    lazy = from_wire(QueryResponse, _answer(FILES), endpoint="query")
    eager = _detailed_converter.structure(_answer(FILES), QueryResponse)
    assert isinstance(_slot(lazy), PendingFiles)
    assert not isinstance(_slot(eager), PendingFiles)
    files = lazy.files
    assert isinstance(_slot(lazy), tuple)
    assert files == eager.files == lazy.server_response.file_list
    assert files[0] == RecordedFile(
        filename="a.m3u8",
        track_type=TrackType.AUDIO,
        uid="1",
        mixed_all_user=False,
        is_playable=True,
        slice_start_time=1700000000000,
    )
    assert files[1].filename == "b.m3u8"
    assert files[1].uid == "2"
    assert files[1].is_playable is True
    assert files[1].slice_start_time_ms == 1700000000000
    assert files[2].track_type == "new_kind"
    assert lazy.files is files  # built once


@pytest.mark.parametrize("use", ["eq", "repr", "unstructure", "evolve", "pickle", "copy", "hash_fields"])
def test_every_way_of_reading_the_model_sees_the_files(use: str) -> None:
    eager = _detailed_converter.structure(_answer(FILES), QueryResponse)
    lazy = from_wire(QueryResponse, _answer(FILES), endpoint="query")
    if use == "eq":
        assert lazy == eager
    elif use == "repr":
        assert repr(lazy) == repr(eager)
    elif use == "unstructure":
        assert to_wire(lazy) == to_wire(eager)
    elif use == "evolve":
        assert attrs.evolve(lazy, cname="x").files == eager.files
    elif use == "pickle":
        assert pickle.loads(pickle.dumps(lazy)) == eager
    elif use == "copy":
        assert copy.deepcopy(lazy).files == eager.files
    else:
        assert attrs.astuple(lazy.server_response) == attrs.astuple(eager.server_response)


def test_the_model_stays_frozen() -> None:
    lazy = from_wire(QueryResponse, _answer(FILES), endpoint="query")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        lazy.server_response.file_list = ()  # type: ignore[misc]  # the point of the test


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        ({"trackType": "audio"}, "$.serverResponse.fileList[1].filename"),
        ({"filename": ["x"]}, "$.serverResponse.fileList[1].filename"),
        ("not an object", "$.serverResponse.fileList[1]"),
        ({"filename": "x", "isPlayable": "maybe"}, "$.serverResponse.fileList[1].isPlayable"),
    ],
)
def test_a_bad_entry_still_fails_the_call_with_its_wire_path(entry: Any, path: str) -> None:
    with pytest.raises(ResponseFormatError) as info:
        from_wire(QueryResponse, _answer([FILES[0], entry]), endpoint="query")
    assert path in str(info.value)
