"""Review reproductions: secrets in the frame locals of a traceback (what Sentry and
``TracebackException(capture_locals=True)`` record) when a request model refuses its input."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from agora_recording import InvalidRequestError, RecordingConfig, StorageConfig

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
}


@pytest.mark.xfail(
    strict=True,
    reason="review: attrs' generated __init__ of the request models keeps the secrets as frame locals when it raises",
)
@pytest.mark.parametrize("case", list(CASES))
def test_an_invalid_request_model_keeps_no_secret_in_a_frame_local(case: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        CASES[case]()
    assert SECRET not in str(info.value)
    captured = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
    assert SECRET not in captured
