"""Review reproductions: secrets in the frame locals of a traceback (what Sentry and
``TracebackException(capture_locals=True)`` record) when a request model refuses its input."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from agora_recording import (
    AliyunVodServiceParam,
    ApiData,
    ClientRequest,
    InvalidRequestError,
    RecordingConfig,
    RecordingFileConfig,
    SnapshotConfig,
    StorageConfig,
    VideoData,
)

SECRET = "CANARY-review-secret-4e1f"


def _from_env() -> str:
    # The caller's frame holds no secret local: it reads the secret where it is used, as services do.
    return os.environ.get("REVIEW_NEVER_SET", SECRET)


CASES: dict[str, Callable[[], Any]] = {
    "storage bucket": lambda: StorageConfig(
        vendor=1, region=0, bucket="", access_key=_from_env(), secret_key=_from_env()
    ),
    "storage secret type": lambda: StorageConfig(vendor=1, region=0, bucket="b", access_key=_from_env(), secret_key=12),
    "decryption mode": lambda: RecordingConfig(channel_type=1, decryption_mode=99, secret=_from_env()),
    # every model that takes a secret, refused by a validator, by __attrs_post_init__, or by a converter's TypeError
    "salt missing": lambda: RecordingConfig(decryption_mode=7, secret=_from_env()),
    "salt with bad uids": lambda: RecordingConfig(subscribe_audio_uids=["x"], secret=_from_env(), salt=_from_env()),
    "sts token, wrong vendor": lambda: StorageConfig(
        vendor=5, region=0, bucket="b", access_key=_from_env(), secret_key=_from_env(), sts_token=_from_env()
    ),
    "token with two file configs": lambda: ClientRequest(
        token=_from_env(), recording_file_config=RecordingFileConfig(), snapshot_config=SnapshotConfig()
    ),
    "vod keys, empty region": lambda: AliyunVodServiceParam(
        access_key=_from_env(), secret_key=_from_env(), region_id="", api_data=ApiData(video_data=VideoData(title="t"))
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_invalid_request_model_keeps_no_secret_in_a_frame_local(case: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        CASES[case]()
    assert SECRET not in str(info.value)
    assert info.value.field  # the error still names the field and the rule
    assert info.value.rule
    captured = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert SECRET not in captured
    frames = traceback.walk_tb(info.value.__traceback__)
    assert all(SECRET not in repr(frame.f_locals) for frame, _ in frames)


def test_a_converter_s_own_error_keeps_no_secret_in_a_frame_local_either() -> None:
    with pytest.raises(TypeError) as info:
        RecordingConfig(subscribe_audio_uids=5, secret=_from_env())  # tuple(5): the converter's TypeError
    captured = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert SECRET not in captured


def test_a_secret_safe_model_still_builds_evolves_and_shows_its_signature() -> None:
    import inspect

    storage = StorageConfig(vendor=1, region=0, bucket="b", access_key="a", secret_key=_from_env())
    assert storage.secret_key == SECRET
    assert SECRET not in repr(storage)
    assert attrs.evolve(storage, bucket="c").bucket == "c"
    assert "secret_key" in inspect.signature(StorageConfig).parameters
    with pytest.raises(InvalidRequestError) as info:
        attrs.evolve(storage, bucket="")
    assert info.value.field == "StorageConfig.bucket (bucket)"
