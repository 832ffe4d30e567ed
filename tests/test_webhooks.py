"""agora_recording.webhooks without HTTP: signatures, parsing, the dedupe store, the public surface, isolation."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import inspect
import json
import subprocess
import sys
import traceback
from typing import Any

import anyio
import httpx
import pytest

import agora_recording
import agora_recording.webhooks as wh
from agora_recording import AgoraError, InvalidRequestError, RecordedFile, RecordingStatus, TrackType
from agora_recording.models import RtmpPublishStatus
from agora_recording.testing._clock import VirtualClock
from agora_recording.webhooks import (
    EVENT_CLASSES,
    Backuped,
    CloudRecordingError,
    DedupeStore,
    MemoryDedupeStore,
    NotificationEvent,
    RecorderLeave,
    Secrets,
    SessionExit,
    SessionFailover,
    StatusUpdate,
    UnknownEvent,
    Uploaded,
    UploadingProgress,
    WebhookPayloadError,
    WebhookVerificationError,
    parse,
    sample_event,
    sign,
    verify,
)

# A body in NCS's shape and its digests, computed once with Python's hmac and checked with
# `openssl dgst -sha1/-sha256 -hmac ncs-secret-A` (Agora's own published test digests do not reproduce).
BODY = (
    b'{"noticeId":"2000001428:4330:107","productId":3,"eventType":11,"notifyMs":1700000000123,'
    b'"payload":{"cname":"room1","uid":"527841","sid":"38f8e3cfdc474cd56fc1ceba380d7e1a","sequence":4,'
    b'"sendts":1700000000000,"serviceType":0,"details":{"msgName":"session_exit","exitStatus":0}}}'
)
SECRET_A = "ncs-secret-A"
SECRET_B = "ncs-secret-B"
V1_A = "b17d6cf12b46525450cf1d65208f22cdbda85b4f"
V2_A = "686478a2626f22cbf9f5fa6549c24198e438999c49f4e1f4fcfa2e41fc6f2190"
V1_B = "53180c461a2785c40ea60fc872dc91203c75425b"
V2_B = "20b87a92507c8b003225112b7b85427ae61326738dcf9f7069e75418019a5d3b"


def _hex(secret: str, body: bytes, digest: Any) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


# -- signatures -----------------------------------------------------------------------------------------------------


def test_fixed_vectors_match_the_hmac_module() -> None:
    """The fixed constants are what hmac computes (so a wrong constant cannot make the verify tests pass)."""
    assert _hex(SECRET_A, BODY, hashlib.sha1) == V1_A
    assert _hex(SECRET_A, BODY, hashlib.sha256) == V2_A
    assert sign(BODY, SECRET_B) == {"Agora-Signature": V1_B, "Agora-Signature-V2": V2_B}


@pytest.mark.parametrize(
    "headers",
    [
        {"Agora-Signature-V2": V2_A},
        {"Agora-Signature": V1_A},
        {"Agora-Signature": V1_A, "Agora-Signature-V2": V2_A},
        {"agora-signature-v2": V2_A},
        {"AGORA-SIGNATURE": V1_A},
        {"Agora-Signature-V2": V2_A.upper()},
        {"Agora-Signature-V2": f" {V2_A} "},
        [(b"agora-signature-v2", V2_A.encode()), (b"content-type", b"application/json")],
        [("Agora-Signature", V1_A)],
        httpx.Headers({"AGORA-SIGNATURE-V2": V2_A}),
    ],
    ids=[
        "v2",
        "v1",
        "both",
        "v2-lower-name",
        "v1-upper-name",
        "upper-hex",
        "padded",
        "asgi-pairs",
        "str-pairs",
        "httpx-headers",
    ],
)
def test_verify_accepts_a_genuine_signature(headers: Any) -> None:
    """V2, V1 alone, both; names in any case, dict or ASGI byte pairs; hex digits in either case."""
    verify(BODY, headers, SECRET_A)


def test_verify_accepts_bytearray_and_memoryview_bodies() -> None:
    verify(bytearray(BODY), {"Agora-Signature-V2": V2_A}, SECRET_A)
    verify(memoryview(BODY), {"Agora-Signature-V2": V2_A}, SECRET_A)


def test_a_bad_v2_fails_even_when_v1_is_good() -> None:
    """V2 decides whenever it is present: a forger cannot fall back to V1."""
    with pytest.raises(WebhookVerificationError) as info:
        verify(BODY, {"Agora-Signature": V1_A, "Agora-Signature-V2": V2_B}, SECRET_A)
    assert info.value.header == "Agora-Signature-V2"


def test_v1_is_checked_only_without_v2() -> None:
    """A good V2 with a bad V1 verifies (V1 is not looked at); a bad V1 alone fails."""
    verify(BODY, {"Agora-Signature": "0" * 40, "Agora-Signature-V2": V2_A}, SECRET_A)
    with pytest.raises(WebhookVerificationError) as info:
        verify(BODY, {"Agora-Signature": V1_B}, SECRET_A)
    assert info.value.header == "Agora-Signature"


def test_rotation_accepts_any_configured_secret() -> None:
    """Several secrets: a body signed with either verifies; with neither it fails."""
    verify(BODY, {"Agora-Signature-V2": V2_A}, [SECRET_B, SECRET_A])
    verify(BODY, {"Agora-Signature-V2": V2_B}, (SECRET_A, SECRET_B))
    verify(BODY, {"Agora-Signature": V1_B}, Secrets([SECRET_A, SECRET_B]))
    with pytest.raises(WebhookVerificationError, match="any configured secret"):
        verify(BODY, {"Agora-Signature-V2": V2_A}, ["other-1", "other-2"])


def test_wrong_secret_fails() -> None:
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify(BODY, {"Agora-Signature-V2": V2_A}, SECRET_B)


@pytest.mark.parametrize("position", [0, 10, len(BODY) // 2, len(BODY) - 1])
def test_a_tampered_byte_fails(position: int) -> None:
    """Flipping any one bit of the body breaks both signatures."""
    tampered = bytearray(BODY)
    tampered[position] ^= 0x01
    for headers in ({"Agora-Signature-V2": V2_A}, {"Agora-Signature": V1_A}):
        with pytest.raises(WebhookVerificationError):
            verify(bytes(tampered), headers, SECRET_A)


def test_re_serialised_json_fails() -> None:
    """The same JSON written differently (json.dumps' default spacing) is not the signed body."""
    reserialised = json.dumps(json.loads(BODY)).encode()
    assert json.loads(reserialised) == json.loads(BODY)
    assert reserialised != BODY
    with pytest.raises(WebhookVerificationError):
        verify(reserialised, {"Agora-Signature-V2": V2_A}, SECRET_A)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "no Agora-Signature-V2 or Agora-Signature header"),
        ({"Content-Type": "application/json"}, "no Agora-Signature-V2"),
        ({"Agora-Signature-V2": ""}, "does not match"),
        ({"Agora-Signature-V2": "zz" * 32}, "does not match"),
        ({"Agora-Signature-V2": V2_A[:-2]}, "does not match"),
        ({"Agora-Signature-V2": "é" * 64}, "does not match"),
        ([(b"agora-signature-v2", V2_A.encode()), (b"Agora-Signature-V2", V2_A.encode())], "appears 2 times"),
    ],
    ids=["none", "unrelated", "empty", "not-hex", "short", "non-ascii", "twice"],
)
def test_missing_or_malformed_headers_fail(headers: Any, message: str) -> None:
    with pytest.raises(WebhookVerificationError, match=message):
        verify(BODY, headers, SECRET_A)


@pytest.mark.parametrize(
    ("secret", "field"),
    [("", "secret"), ([], "secret"), ([SECRET_A, ""], "secret[1]"), ([SECRET_A, 7], "secret[1]"), (b"k", "secret")],
)
def test_an_empty_or_invalid_secret_is_an_invalid_request(secret: Any, field: str) -> None:
    """A misconfigured secret is a configuration error naming the field, not a verification failure."""
    with pytest.raises(InvalidRequestError) as info:
        verify(BODY, {"Agora-Signature-V2": V2_A}, secret)
    assert info.value.field == field


def test_a_str_body_is_refused() -> None:
    """The signature covers bytes; decoded text may not re-encode to them, so str is refused with a hint."""
    with pytest.raises(InvalidRequestError, match="raw request bytes") as info:
        verify(BODY.decode(), {"Agora-Signature-V2": V2_A}, SECRET_A)  # type: ignore[arg-type]  # the point
    assert info.value.field == "body"


def test_no_secret_or_digest_in_errors_reprs_or_traceback_locals() -> None:
    """The canary: no secret, no expected digest in str/repr of the error, of Secrets, or in any frame local."""
    canary = "CANARY-NCS-SECRET-123"
    expected = {_hex(canary, BODY, hashlib.sha256), _hex(canary, BODY, hashlib.sha1), canary}
    failures: list[BaseException] = []
    for call in (
        lambda: verify(BODY, {"Agora-Signature-V2": "0" * 64}, canary),
        lambda: verify(BODY, {"Agora-Signature": "0" * 40}, [canary, "other"]),
        lambda: verify(BODY, {}, canary),
        lambda: verify(BODY, {"Agora-Signature-V2": "0" * 64}, [canary, ""]),
    ):
        with pytest.raises((WebhookVerificationError, InvalidRequestError)) as info:
            call()
        failures.append(info.value)
    assert repr(Secrets([canary, "other"])) == "<2 NCS secrets>"
    for exc in failures:
        texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        tb = exc.__traceback__
        library_frames = 0
        while tb is not None:
            if "agora_recording" in tb.tb_frame.f_code.co_filename:  # the library's frames, not this test's
                library_frames += 1
                texts.extend(repr(v) for v in tb.tb_frame.f_locals.values())
            tb = tb.tb_next
        assert library_frames >= 1
        for text in texts:
            for secret_text in expected:
                assert secret_text not in text


# -- parsing --------------------------------------------------------------------------------------------------------


def test_parse_reads_the_envelope_and_payload() -> None:
    event = parse(BODY)
    assert isinstance(event, SessionExit)
    assert (event.notice_id, event.product_id, event.event_type, event.notify_ms) == (
        "2000001428:4330:107",
        3,
        11,
        1700000000123,
    )
    assert (event.cname, event.uid, event.sid) == ("room1", "527841", "38f8e3cfdc474cd56fc1ceba380d7e1a")
    assert (event.sequence, event.send_ts, event.service_type, event.msg_name) == (4, 1700000000000, 0, "session_exit")
    assert event.exit_status == 0
    assert not event.abnormal
    assert dict(event.details) == {"msgName": "session_exit", "exitStatus": 0}
    assert event.raw["payload"]["sid"] == event.sid


def test_details_are_read_only_and_events_frozen_and_hashable() -> None:
    event = parse(BODY)
    with pytest.raises(TypeError):
        event.details["exitStatus"] = 1  # type: ignore[index]  # the point: a read-only mapping
    with pytest.raises(AttributeError):
        event.sid = "other"  # type: ignore[misc]  # the point: frozen
    assert event == parse(BODY)
    assert hash(event) == hash(parse(BODY))


# Per documented eventType: the class and the typed fields the sample details must produce.
EXPECTED: dict[int, tuple[type[NotificationEvent], dict[str, Any]]] = {
    1: (CloudRecordingError, {"module": 0, "error_level": 5, "error_code": 50, "error_msg": "sample error"}),
    2: (wh.CloudRecordingWarning, {"module": 1, "warn_code": 32}),
    3: (StatusUpdate, {"status": RecordingStatus.IN_PROGRESS, "recording_mode": 1}),
    4: (wh.FileInfos, {"files": (RecordedFile(filename="sid_cname.m3u8"),)}),
    11: (SessionExit, {"exit_status": 0}),
    12: (SessionFailover, {"new_uid": "3201234"}),
    30: (wh.UploaderStarted, {"status": 0}),
    31: (Uploaded, {"status": 0}),
    32: (Backuped, {"status": 0}),
    33: (UploadingProgress, {"progress": 5000, "percent": 50.0}),
    40: (wh.RecorderStarted, {"status": 0}),
    41: (RecorderLeave, {"leave_code": 16, "idle_timeout": False}),
    42: (
        wh.RecorderSliceStart,
        {"start_utc_ms": 1_700_000_000_000, "stream_uid": "1001", "track_type": TrackType.AUDIO},
    ),
    43: (wh.RecorderAudioStreamStateChanged, {"stream_uid": "1001", "state": 0, "utc_ms": 1_700_000_000_000}),
    44: (wh.RecorderVideoStreamStateChanged, {"stream_uid": "1001", "state": 1}),
    45: (wh.RecorderSnapshotFile, {"file_name": "prefix/sid_cname__uid_s_1_20230101000000000.jpg"}),
    60: (wh.VodStarted, {"video_id": "sample-video-id"}),
    61: (wh.VodTriggered, {}),
    70: (wh.WebRecorderStarted, {"recorder_start_time": 1_700_000_000_000}),
    71: (wh.WebRecorderStopped, {"code": 0, "message": "ok", "abnormal": False}),
    72: (wh.WebRecorderCapabilityLimit, {"limit_type": "resolution"}),
    73: (wh.WebRecorderReload, {"reason": "audio_silence"}),
    80: (wh.TranscoderStarted, {}),
    81: (wh.TranscoderCompleted, {"result": "all_success"}),
    90: (wh.DownloadFailed, {"bucket": "recordings", "file_names": ("a.ts", "b.ts")}),
    100: (
        wh.RtmpPublishStatusChanged,
        {"rtmp_url": "rtmp://example.com/live/key", "status": RtmpPublishStatus.PUBLISHING},
    ),
    1001: (wh.PostponeTranscodeFinalResult, {"result": "total_success", "files": (RecordedFile(filename="a.m3u8"),)}),
}


def test_every_documented_event_type_has_a_class() -> None:
    """Table 7.2 and 3.6 of the notes: every eventType, each its own class with its documented msgName."""
    assert sorted(EVENT_CLASSES) == sorted(EXPECTED)
    assert len(set(EVENT_CLASSES.values())) == len(EVENT_CLASSES)
    assert EVENT_CLASSES[11].MSG_NAME == "session_exit"
    assert EVENT_CLASSES[31].MSG_NAME == "uploaded"


@pytest.mark.parametrize("event_type", sorted(EXPECTED))
def test_every_documented_event_type_parses_to_its_class(event_type: int) -> None:
    cls, fields = EXPECTED[event_type]
    body = sample_event(event_type, cname="room9", uid="42", sid="sid-9", notice_id=f"n-{event_type}", sequence=7)
    event = parse(body)
    assert type(event) is cls
    assert event_type == cls.EVENT_TYPE
    assert (event.notice_id, event.event_type, event.cname, event.uid, event.sid, event.sequence) == (
        f"n-{event_type}",
        event_type,
        "room9",
        "42",
        "sid-9",
        7,
    )
    assert event.msg_name == cls.MSG_NAME
    for name, value in fields.items():
        assert getattr(event, name) == value, name


def test_uploaded_files_have_the_query_shape() -> None:
    """fileList entries become the same RecordedFile the query response uses (string booleans read leniently)."""
    entry = {
        "fileName": "a.m3u8",
        "trackType": "audio_and_video",
        "uid": 0,
        "mixedAllUser": "true",
        "isPlayable": True,
        "sliceStartTime": "1700000000000",
    }
    event = parse(sample_event(31, details={"fileList": [entry, {"filename": "b.m3u8"}]}))
    assert isinstance(event, Uploaded)
    assert event.files == (
        RecordedFile(
            filename="a.m3u8",
            track_type=TrackType.AUDIO_AND_VIDEO,
            uid="0",
            mixed_all_user=True,
            is_playable=True,
            slice_start_time=1700000000000,
        ),
        RecordedFile(filename="b.m3u8"),
    )


def test_web_mode_uploaded_has_only_a_status() -> None:
    body = json.dumps(
        {
            "noticeId": "w",
            "productId": 3,
            "eventType": 31,
            "notifyMs": 1,
            "payload": {"cname": "c", "uid": "1", "sid": "s", "details": {"msgName": "uploaded", "status": 0}},
        }
    ).encode()
    event = parse(body)
    assert isinstance(event, Uploaded)
    assert (event.status, event.files) == (0, ())


def test_unknown_event_type_is_kept_with_its_raw_body() -> None:
    body = sample_event(13, details={"msgName": "ha_register_success", "brandNew": {"x": [1, 2]}}, notice_id="u13")
    event = parse(body)
    assert type(event) is UnknownEvent
    assert (event.event_type, event.notice_id, event.msg_name) == (13, "u13", "ha_register_success")
    assert event.details["brandNew"] == {"x": [1, 2]}
    assert event.raw == json.loads(body)


def test_other_products_are_unknown_events_with_the_payload_untouched() -> None:
    """An RTC notification (productId 1) has another payload shape: only the envelope is read."""
    body = b'{"eventType":10,"noticeId":"4eb720f0","notifyMs":1560408533119,"payload":{"a":"1","b":2},"productId":1}'
    event = parse(body)
    assert type(event) is UnknownEvent
    assert (event.product_id, event.event_type, event.cname, event.sid) == (1, 10, None, None)
    assert event.raw["payload"] == {"a": "1", "b": 2}


def test_new_detail_fields_pass_through() -> None:
    event = parse(sample_event(11, details={"exitStatus": 1, "newField": "kept"}))
    assert isinstance(event, SessionExit)
    assert event.abnormal
    assert event.details["newField"] == "kept"


@pytest.mark.parametrize(
    ("patch", "field", "expected"),
    [
        ({"sequence": "12"}, "sequence", 12),  # a String in Agora's oldest docs
        ({"uid": 527841}, "uid", "527841"),
        ({"sendts": "1700000000000"}, "send_ts", 1700000000000),
        ({"sendts": 1700000000000.0}, "send_ts", 1700000000000),
        ({"serviceType": "0"}, "service_type", 0),
        ({"sid": ""}, "sid", None),
        ({"sequence": None}, "sequence", None),
    ],
)
def test_tolerant_reading_of_payload_fields(patch: dict[str, Any], field: str, expected: Any) -> None:
    data = json.loads(BODY)
    data["payload"].update(patch)
    assert getattr(parse(json.dumps(data).encode()), field) == expected


def test_tolerant_reading_of_envelope_and_details() -> None:
    data = json.loads(BODY)
    data.update(productId="3", eventType="12", notifyMs="1700000000999", noticeId=12345)
    data["payload"]["details"] = {"msgName": "session_failover", "newUid": 99}
    event = parse(json.dumps(data))
    assert isinstance(event, SessionFailover)
    assert (event.product_id, event.notify_ms, event.notice_id, event.new_uid) == (3, 1700000000999, "12345", "99")


def test_an_unknown_status_value_is_kept() -> None:
    event = parse(sample_event(3, details={"status": 42}))
    assert isinstance(event, StatusUpdate)
    assert event.status == 42
    assert not isinstance(event.status, RecordingStatus)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", None),
        (b"not json", None),
        (b"\xff\xfe\x00garbage", None),
        (b"[1, 2]", None),
        (b'"a string"', None),
        (b"null", None),
        (b"12", None),
        (b'{"noticeId": NaN, "productId": 3, "eventType": 1}', None),
        (b'{"productId": 3, "eventType": 1}', "noticeId"),
        (b'{"noticeId": "", "productId": 3, "eventType": 1}', "noticeId"),
        (b'{"noticeId": ["x"], "productId": 3, "eventType": 1}', "noticeId"),
        (b'{"noticeId": "n", "eventType": 1}', "productId"),
        (b'{"noticeId": "n", "productId": true, "eventType": 1}', "productId"),
        (b'{"noticeId": "n", "productId": 3}', "eventType"),
        (b'{"noticeId": "n", "productId": 3, "eventType": "eleven"}', "eventType"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 1e999}', "eventType"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 11, "notifyMs": {}}', "notifyMs"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 11, "payload": []}', "payload"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 11, "payload": {"details": "x"}}', "payload.details"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 11, "payload": {"cname": {}}}', "payload.cname"),
        (b'{"noticeId": "n", "productId": 3, "eventType": 11, "payload": {"sequence": "x"}}', "payload.sequence"),
        (
            b'{"noticeId": "n", "productId": 3, "eventType": 11, "payload": {"details": {"exitStatus": [1]}}}',
            "payload.details.exitStatus",
        ),
        (
            b'{"noticeId": "n", "productId": 3, "eventType": 31, "payload": {"details": {"fileList": [7]}}}',
            "payload.details.fileList[0]",
        ),
        (
            b'{"noticeId": "n", "productId": 3, "eventType": 31, "payload": {"details": {"fileList": {"a": 1}}}}',
            "payload.details.fileList",
        ),
    ],
)
def test_a_body_that_is_not_a_notification_raises_a_typed_error(body: bytes, field: str | None) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        parse(body)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, AgoraError)
    assert info.value.field == field


@pytest.mark.parametrize("depth", [33, 1000, 200_000])
def test_deep_nesting_is_a_payload_error_not_recursion_error(depth: int) -> None:
    body = b'{"noticeId":"n","productId":3,"eventType":1,"payload":{"details":{"x":' + b"[" * depth + b"]" * depth
    body += b"}}}"
    with pytest.raises(WebhookPayloadError, match="nested"):
        parse(body)


def test_nesting_within_the_limit_is_fine() -> None:
    nested: Any = 1
    for _ in range(25):
        nested = [nested]
    event = parse(sample_event(99, details={"deep": nested}))
    assert isinstance(event, UnknownEvent)


def test_huge_numbers_are_refused_or_read_without_harm() -> None:
    """A thousands-digit integer is refused before int() runs; a float overflow is a typed field error."""
    with pytest.raises(WebhookPayloadError, match="digits"):
        parse(b'{"noticeId":"n","productId":3,"eventType":' + b"9" * 5000 + b"}")
    with pytest.raises(WebhookPayloadError) as info:
        parse(b'{"noticeId":"n","productId":3,"eventType":11,"notifyMs":1e400}')
    assert info.value.field == "notifyMs"
    event = parse(b'{"noticeId":"n","productId":3,"eventType":11,"payload":{"sequence":' + b"9" * 40 + b"}}")
    assert event.sequence == int("9" * 40)


def test_a_long_string_value_is_truncated_in_the_message() -> None:
    body = json.dumps({"noticeId": "n", "productId": 3, "eventType": "x" * 100_000}).encode()
    with pytest.raises(WebhookPayloadError) as info:
        parse(body)
    assert len(str(info.value)) < 200


def test_sample_event_is_signed_and_verifiable() -> None:
    body = sample_event(40, notice_id="fixed", notify_ms=5, send_ts=6, sid="s")
    verify(body, sign(body, "k"), "k")
    data = json.loads(body)
    assert data["noticeId"] == "fixed"
    assert data["notifyMs"] == 5
    assert data["payload"]["sendts"] == 6
    assert data["payload"]["serviceType"] == 1
    assert data["payload"]["details"]["msgName"] == "recorder_started"
    assert json.loads(sample_event(11))["noticeId"] != json.loads(sample_event(11))["noticeId"]
    with pytest.raises(InvalidRequestError):
        sample_event("11")  # type: ignore[arg-type]  # the point


# -- the dedupe store -----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_memory_dedupe_store_records_once_and_expires_on_its_clock() -> None:
    clock = VirtualClock()
    store = MemoryDedupeStore(ttl=60, max_entries=10, clock=clock)
    assert isinstance(store, DedupeStore)
    assert await store.seen_before("a") is False
    assert await store.seen_before("a") is True
    clock.advance(59.9)
    assert await store.seen_before("a") is True
    clock.advance(0.1)
    assert await store.seen_before("a") is False  # expired, so recorded afresh
    assert len(store) == 1
    await store.forget("a")
    assert await store.seen_before("a") is False
    await store.forget("never-seen")


@pytest.mark.anyio
async def test_memory_dedupe_store_is_bounded() -> None:
    """Past max_entries the oldest id is forgotten first; long ids are kept as digests."""
    store = MemoryDedupeStore(ttl=3600, max_entries=3, clock=VirtualClock())
    for key in ("a", "b", "c", "d"):
        assert await store.seen_before(key) is False
    assert len(store) == 3
    assert store.evicted == 1
    assert await store.seen_before("d") is True
    assert await store.seen_before("a") is False  # evicted, delivered again (at least once)
    long_id = "x" * 10_000
    assert await store.seen_before(long_id) is False
    assert await store.seen_before(long_id) is True
    assert all(len(k) <= 64 for k in store._expiry)


@pytest.mark.anyio
async def test_memory_dedupe_store_concurrent_callers_see_one_first() -> None:
    store = MemoryDedupeStore()
    answers: list[bool] = []

    async def ask() -> None:
        answers.append(await store.seen_before("same"))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(ask)
    assert sorted(answers) == [False] + [True] * 19


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"ttl": 0}, "ttl"), ({"ttl": float("inf")}, "ttl"), ({"max_entries": 0}, "max_entries")],
)
def test_memory_dedupe_store_validates_its_limits(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        MemoryDedupeStore(**kwargs)
    assert info.value.field == field


# -- the public surface and isolation -------------------------------------------------------------------------------


def test_webhooks_all_is_sorted_importable_and_documented() -> None:
    module = importlib.import_module("agora_recording.webhooks")
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
    assert len(set(names)) == len(names)
    undocumented = [
        n
        for n in names
        if (inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n)))
        and not (getattr(module, n).__doc__ or "").strip()
    ]
    assert undocumented == []
    assert {"verify", "parse", "sign", "sample_event", "WebhookReceiver", "DedupeStore", "UnknownEvent"} <= set(names)


def test_errors_belong_to_the_library_tree() -> None:
    assert issubclass(WebhookVerificationError, AgoraError)
    assert issubclass(WebhookPayloadError, AgoraError)
    assert issubclass(WebhookPayloadError, ValueError)


def test_import_agora_recording_does_not_import_webhooks_or_servers() -> None:
    """`import agora_recording` (even its testing module) leaves the optional webhooks package and servers alone."""
    code = (
        "import sys, agora_recording, agora_recording.testing\n"
        "bad = [m for m in ('agora_recording.webhooks', 'uvicorn', 'starlette', 'fastapi') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import agora_recording.webhooks\n"
        "bad = [m for m in ('uvicorn', 'starlette', 'fastapi') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "webhooks" not in agora_recording.__all__
