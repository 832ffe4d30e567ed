"""Review reproductions: ``--config`` files (``_converter.request_from_wire``, documented strict) and JSON strings
where Agora's schema has arrays."""

from __future__ import annotations

from typing import Any

import pytest

from agora_recording import ClientRequest, InvalidRequestError
from agora_recording._converter import request_from_wire

STORAGE = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "a", "secretKey": "k"}


def _request(recording: dict[str, Any] | None = None, storage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "token": "t",
        "recordingConfig": {"channelType": 1, **(recording or {})},
        "storageConfig": {**STORAGE, **(storage or {})},
    }


CASES = {
    # One uid written as a string: today it subscribes to uids 1, 2 and 3 instead.
    "subscribeAudioUids": (_request(recording={"subscribeAudioUids": "123"}), "subscribeAudioUids"),
    # One directory written as a string: today the files go to a/b/c/.
    "fileNamePrefix": (_request(storage={"fileNamePrefix": "abc"}), "fileNamePrefix"),
}


@pytest.mark.xfail(
    strict=True,
    reason="review: request_from_wire splits a JSON string given for an array into its characters, silently",
)
@pytest.mark.parametrize("case", list(CASES))
def test_a_string_where_an_array_belongs_is_refused_not_split_into_characters(case: str) -> None:
    body, field = CASES[case]
    with pytest.raises(InvalidRequestError) as info:
        request_from_wire(ClientRequest, body)
    assert field in info.value.field
