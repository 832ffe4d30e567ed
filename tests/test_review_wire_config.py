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
    "unSubscribeVideoUids": (_request(recording={"unSubscribeVideoUids": "1"}), "unSubscribeVideoUids"),
    "an object for an array": (_request(recording={"subscribeVideoUids": {"1": 1}}), "subscribeVideoUids"),
    "a number for an array": (_request(storage={"fileNamePrefix": 5}), "fileNamePrefix"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_string_where_an_array_belongs_is_refused_not_split_into_characters(case: str) -> None:
    body, field = CASES[case]
    with pytest.raises(InvalidRequestError) as info:
        request_from_wire(ClientRequest, body)
    assert field in info.value.field

    assert "expected an array" in info.value.rule


NUMBERS = {
    "a secret": (_request(storage={"secretKey": 12}), "$.storageConfig.secretKey"),
    "the token": ({**_request(), "token": 7}, "$.token"),
    "a bucket": (_request(storage={"bucket": 3}), "$.storageConfig.bucket"),
    "a uid in a list": (_request(recording={"subscribeAudioUids": [123]}), "$.recordingConfig.subscribeAudioUids[0]"),
}


@pytest.mark.parametrize("case", list(NUMBERS))
def test_a_number_where_a_string_belongs_is_refused_not_converted(case: str) -> None:
    body, path = NUMBERS[case]
    with pytest.raises(InvalidRequestError) as info:
        request_from_wire(ClientRequest, body)
    assert info.value.field == path
    if case in ("a secret", "the token"):  # a secret's value is never shown
        assert "12" not in info.value.rule
        assert "7" not in info.value.rule
        assert "not shown" in info.value.rule
    else:
        assert "expected a string" in info.value.rule


def test_the_types_the_schema_has_still_read() -> None:
    body = _request(
        recording={"subscribeAudioUids": ["123", "456"], "maxIdleTime": 30}, storage={"fileNamePrefix": ["a"]}
    )
    request = request_from_wire(ClientRequest, body)
    assert request.recording_config is not None
    assert request.recording_config.subscribe_audio_uids == ("123", "456")
    assert request.storage_config is not None
    assert request.storage_config.file_name_prefix == ("a",)


def test_responses_stay_lenient() -> None:
    """The response side is unchanged: a number where a string belongs is still read (Agora sends uids as numbers)."""
    from agora_recording._converter import strict_converter
    from agora_recording.models import QueryResponse

    data = {
        "resourceId": "r",
        "sid": "s",
        "serverResponse": {"status": 5, "fileList": [{"fileName": "a.m3u8", "uid": 5}]},
    }
    assert strict_converter.structure(data, QueryResponse).server_response is not None
