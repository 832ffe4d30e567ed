"""Review reproductions: bad input must be an InvalidRequestError naming the field, before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from agora_recording import ClientRequest, InvalidRequestError, RecordingConfig
from agora_recording.testing._clock import VirtualClock
from tests._support import STORAGE, client_for, make_fake

pytestmark = pytest.mark.anyio


def _storage_as_dict() -> ClientRequest:
    wire = {"vendor": 1, "region": 0, "bucket": "b", "accessKey": "a", "secretKey": "k"}
    return ClientRequest(token="t", recording_config=RecordingConfig(channel_type=1), storage_config=wire)  # type: ignore[arg-type]  # the bad input under test


def _recording_as_str() -> ClientRequest:
    return ClientRequest(token="t", recording_config="mix", storage_config=STORAGE)  # type: ignore[arg-type]  # the bad input under test


def _transcoding_as_dict() -> ClientRequest:
    config = RecordingConfig(channel_type=1, transcoding_config={"width": 640})  # type: ignore[arg-type]  # the bad input under test
    return ClientRequest(token="t", recording_config=config, storage_config=STORAGE)


BUILDERS: dict[str, tuple[Any, str]] = {
    "storage_config as a wire dict": (_storage_as_dict, "storage_config"),
    "recording_config as a string": (_recording_as_str, "recording_config"),
    "transcoding_config as a dict": (_transcoding_as_dict, "transcoding_config"),
}


@pytest.mark.xfail(
    strict=True,
    reason="review: a nested config of the wrong type (dict/str) is a bare AttributeError at start, not named",
)
@pytest.mark.parametrize("case", list(BUILDERS))
async def test_a_nested_config_of_the_wrong_type_is_an_invalid_request_naming_it(case: str) -> None:
    build, field = BUILDERS[case]
    vc = VirtualClock()
    fake = make_fake(vc)
    async with client_for(fake, vc) as client, vc.autojump():
        refused: InvalidRequestError | None = None
        try:
            request = build()  # refusing it here is fine too
        except InvalidRequestError as exc:
            refused = exc
        if refused is None:
            with pytest.raises(InvalidRequestError) as info:
                await client.start(resource_id="r" * 40, mode="mix", cname="room", uid="1", client_request=request)
            refused = info.value
        assert field in refused.field
    assert fake.requests_to("start") == ()
