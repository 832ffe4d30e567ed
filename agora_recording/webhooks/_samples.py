"""Sample notifications in the documented shape, for tests and local tools (``webhook send-test``)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from agora_recording._errors import InvalidRequestError
from agora_recording.webhooks._events import CLOUD_RECORDING_PRODUCT_ID, EVENT_CLASSES

__all__ = ["sample_event"]

# serviceType and sample details of every documented eventType (agora-api-notes 7.2 and 3.6).
_FILE = {
    "fileName": "sid_cname__uid_s_1.m3u8",
    "trackType": "audio_and_video",
    "uid": "0",
    "mixedAllUser": True,
    "isPlayable": True,
    "sliceStartTime": 1_700_000_000_000,
}
_SAMPLES: dict[int, tuple[int | None, dict[str, Any]]] = {
    1: (0, {"module": 0, "errorLevel": 5, "errorCode": 50, "stat": 0, "errorMsg": "sample error"}),
    2: (0, {"module": 1, "warnCode": 32}),
    3: (0, {"status": 5, "recordingMode": 1, "fileList": "sid_cname.m3u8"}),
    4: (0, {"fileList": "sid_cname.m3u8"}),
    11: (0, {"exitStatus": 0}),
    12: (0, {"newUid": 3201234}),
    30: (2, {"status": 0}),
    31: (2, {"status": 0, "fileList": [_FILE]}),
    32: (2, {"status": 0, "fileList": [_FILE]}),
    33: (2, {"progress": 5000}),
    40: (1, {"status": 0}),
    41: (1, {"leaveCode": 16}),
    42: (
        1,
        {
            "startUtcMs": 1_700_000_000_000,
            "discontinueUtcMs": 1_700_000_000_000,
            "mixedAllUser": False,
            "streamUid": "1001",
            "trackType": "audio",
        },
    ),
    43: (1, {"streamUid": "1001", "state": 0, "UtcMs": 1_700_000_000_000}),
    44: (1, {"streamUid": "1001", "state": 1, "UtcMs": 1_700_000_000_000}),
    45: (1, {"fileName": "prefix/sid_cname__uid_s_1_20230101000000000.jpg"}),
    60: (4, {"aliVodInfo": {"videoId": "sample-video-id"}}),
    61: (4, {}),
    70: (6, {"recorderStartTime": 1_700_000_000_000}),
    71: (6, {"code": 0, "message": "ok", "details": {}, "fileList": [{"filename": "a.m3u8", "sliceStartTime": 1}]}),
    72: (6, {"limitType": "resolution"}),
    73: (6, {"reason": "audio_silence"}),
    80: (None, {}),
    81: (None, {"result": "all_success", "uids": [{"uid": "1001", "result": "success", "fileList": []}]}),
    90: (8, {"vendor": 1, "region": 0, "bucket": "recordings", "fileName": "a.ts;b.ts"}),
    100: (6, {"rtmpUrl": "rtmp://example.com/live/key", "status": "publishing"}),
    1001: (0, {"result": "total_success", "fileList": [{"fileName": "a.m3u8"}]}),
}


def sample_event(
    event_type: int,
    *,
    cname: str = "sample-channel",
    uid: str = "527841",
    sid: str | None = None,
    notice_id: str | None = None,
    notify_ms: int | None = None,
    sequence: int = 0,
    send_ts: int | None = None,
    details: Mapping[str, Any] | None = None,
    product_id: int = CLOUD_RECORDING_PRODUCT_ID,
) -> bytes:
    """A notification body for ``event_type`` in the shape NCS sends, with plausible ``details``.

    ``details`` entries are added to (and override) the sample details; ``msgName`` is set to the documented name
    for known eventTypes. ``sid`` and ``notice_id`` default to fresh random values, ``notify_ms`` and ``send_ts``
    to the current time. Sign it with :func:`~agora_recording.webhooks.sign` before posting. Raises
    :class:`~agora_recording.InvalidRequestError` for a non-integer ``event_type``.

    Example::

        body = sample_event(11, cname="room1", uid="527841", sid=sid)
        httpx.post(url, content=body, headers={**sign(body, secret), "Content-Type": "application/json"})
    """
    if isinstance(event_type, bool) or not isinstance(event_type, int):
        raise InvalidRequestError("event_type", "must be an integer eventType")
    now_ms = int(time.time() * 1000)
    service_type, sample = _SAMPLES.get(event_type, (None, {}))
    cls = EVENT_CLASSES.get(event_type)
    body_details: dict[str, Any] = {"msgName": cls.MSG_NAME} if cls is not None else {}
    body_details.update(json.loads(json.dumps(sample)))  # a deep copy
    body_details.update(details or {})
    payload: dict[str, Any] = {
        "cname": cname,
        "uid": uid,
        "sid": sid if sid is not None else secrets.token_hex(16),
        "sequence": sequence,
        "sendts": send_ts if send_ts is not None else now_ms,
    }
    if service_type is not None:
        payload["serviceType"] = service_type
    payload["details"] = body_details
    body = {
        "noticeId": notice_id if notice_id is not None else str(uuid.uuid4()),
        "productId": product_id,
        "eventType": event_type,
        "notifyMs": notify_ms if notify_ms is not None else now_ms,
        "payload": payload,
    }
    return json.dumps(body, separators=(",", ":")).encode()
