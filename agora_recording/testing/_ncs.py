"""What the fake's NCS sends: the productId 3 envelope, the event table, signatures, delivery-fault records.

The format half of the fake's notifications; :mod:`agora_recording.testing._notify` delivers them (its
docstring lists the events and the delivery rules). Signatures are computed here with :mod:`hmac`, never with
the library's webhooks code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from agora_recording.testing._files import Files
from agora_recording.testing._state import ABNORMAL, Recording, RecordingState

__all__ = [
    "MAX_RETRIES",
    "NOTIFY_FAULT_KINDS",
    "PRODUCT_ID",
    "Notice",
    "NotifyFault",
    "NotifyFaultKind",
    "SentNotification",
    "apply_faults",
    "events_for",
    "make_envelope",
    "make_notify_fault",
    "sign",
]

NotifyFaultKind = Literal["duplicate", "fail", "delay", "reorder", "drop"]
"""What an injected delivery fault does (see :mod:`agora_recording.testing._notify`)."""
NOTIFY_FAULT_KINDS: tuple[str, ...] = ("duplicate", "fail", "delay", "reorder", "drop")
"""Every :data:`NotifyFaultKind`."""
PRODUCT_ID = 3
"""Cloud Recording's NCS productId."""
MAX_RETRIES = 3
"""NCS "stops sending notifications after three retries"."""

_SERVICE_TYPES = {1: 0, 2: 0, 3: 0, 4: 0, 11: 0, 12: 0, 30: 2, 31: 2, 32: 2, 40: 1, 41: 1}
_MSG_NAMES = {
    3: "cloud_recording_status_update",
    4: "cloud_recording_file_infos",
    11: "session_exit",
    12: "session_failover",
    30: "uploader_started",
    31: "uploaded",
    32: "backuped",
    40: "recorder_started",
    41: "recorder_leave",
}


def sign(body: bytes, secret: str) -> dict[str, str]:
    """The two NCS signature headers for ``body``: hex HMAC-SHA1 and hex HMAC-SHA256 under ``secret``."""
    key = secret.encode()
    return {
        "Agora-Signature": hmac.new(key, body, hashlib.sha1).hexdigest(),
        "Agora-Signature-V2": hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


@dataclass(frozen=True, slots=True)
class SentNotification:
    """One delivery attempt, for assertions. ``repr()`` does not show the body.

    Example: ``{n.event_type for n in fake.notifications_sent() if n.delivered} >= {40, 30}``.
    """

    notice_id: str
    """The ``noticeId`` (the same on every resend and duplicate)."""
    event_type: int
    """The ``eventType``."""
    sid: str
    """The recording's sid."""
    sequence: int
    """The ``payload.sequence`` (per sid, from 0)."""
    attempt: int
    """0 for the first send, 1-3 for NCS's resends."""
    notify_ms: int
    """The ``notifyMs`` of this attempt (it changes on every resend)."""
    at: float
    """When the attempt was made, on the fake's clock."""
    status: int | None
    """The receiver's HTTP status; ``None`` if no answer came (an injected ``fail``, a refused connection, a
    timeout)."""
    delivered: bool
    """True if the receiver answered 200 with a JSON body."""
    duplicate: bool = False
    """True for the extra send of an injected ``duplicate``."""
    body: bytes = field(default=b"", repr=False, compare=False)
    """The raw signed body."""

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded body (``{noticeId, productId, eventType, notifyMs, payload}``)."""
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


@dataclass(eq=False)
class NotifyFault:
    """One injected delivery fault: the next ``count`` notifications (of ``event_type``, if given) meet it."""

    kind: str
    """The :data:`NotifyFaultKind`."""
    event_type: int | None = None
    """Only notifications of this eventType (``None``: any)."""
    remaining: int = 1
    """How many more notifications it will hit."""
    delay: float = 0.0
    """``"delay"``: seconds on the fake's clock; ``"reorder"``: the longest hold (0: 1 s)."""
    attempts: int = 1
    """``"fail"``: how many attempts of each hit notification fail (4: all, it is never delivered)."""
    fired: int = 0
    """How many notifications it hit."""


class Notice:
    """A notification on its way (internal): its envelope, when it is due, what faults it carries."""

    __slots__ = ("attempt", "due", "duplicate", "envelope", "event_type", "fail_left", "held", "last_ms", "wake")

    def __init__(self, envelope: dict[str, Any], due: float) -> None:
        self.envelope = envelope
        self.event_type: int = envelope["eventType"]
        self.due = due
        self.attempt = 0
        self.fail_left = 0
        self.duplicate = False
        self.held = False
        self.last_ms = -1
        self.wake: anyio.Event | None = None

    def attempted(
        self, now: float, ms: int, body: bytes, status: int | None, ok: bool, *, duplicate: bool
    ) -> SentNotification:
        """The record of one attempt to send this notification."""
        payload = self.envelope["payload"]
        return SentNotification(
            notice_id=self.envelope["noticeId"],
            event_type=self.event_type,
            sid=payload["sid"],
            sequence=payload["sequence"],
            attempt=self.attempt,
            notify_ms=ms,
            at=now,
            status=status,
            delivered=ok,
            duplicate=duplicate,
            body=body,
        )


def make_notify_fault(kind: str, *, event_type: int | None, count: int, delay: float, attempts: int) -> NotifyFault:
    """Validate the arguments of :meth:`FakeNotifier.inject` and build the :class:`NotifyFault`."""
    if kind not in NOTIFY_FAULT_KINDS:
        raise ValueError(f"unknown notification fault {kind!r}; expected one of {', '.join(NOTIFY_FAULT_KINDS)}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if not 1 <= attempts <= MAX_RETRIES + 1:
        raise ValueError(f"attempts must be within 1..{MAX_RETRIES + 1}, got {attempts!r}")
    if not delay >= 0:
        raise ValueError(f"delay must be >= 0, got {delay!r}")
    return NotifyFault(kind=kind, event_type=event_type, remaining=count, delay=float(delay), attempts=attempts)


def apply_faults(faults: list[NotifyFault], item: Notice) -> bool:
    """Apply the matching faults to a new notification (they are used up); False if it is to be dropped."""
    keep = True
    for fault in faults:
        if fault.remaining > 0 and fault.event_type in (None, item.event_type):
            fault.remaining -= 1
            fault.fired += 1
            if fault.kind == "drop":
                keep = False
            elif fault.kind == "duplicate":
                item.duplicate = True
            elif fault.kind == "fail":
                item.fail_left = fault.attempts
            elif fault.kind == "delay":
                item.due += fault.delay
            else:  # reorder
                item.held = True
                item.due += fault.delay or 1.0
    faults[:] = [f for f in faults if f.remaining > 0]
    return keep


def make_envelope(
    rec: Recording, event_type: int, details: dict[str, Any], notice_id: str, sequence: int, send_ms: int
) -> dict[str, Any]:
    """The notification body (``notifyMs`` is set per attempt)."""
    return {
        "noticeId": notice_id,
        "productId": PRODUCT_ID,
        "eventType": event_type,
        "notifyMs": 0,
        "payload": {
            "cname": rec.cname,
            "uid": rec.uid,
            "sid": rec.sid,
            "sequence": sequence,
            "sendts": send_ms,
            "serviceType": _SERVICE_TYPES.get(event_type, 0),
            "details": {"msgName": _MSG_NAMES.get(event_type, ""), **details},
        },
    }


def events_for(
    event: str, rec: Recording, at: float, state: RecordingState, files: Files
) -> list[tuple[int, dict[str, Any]]]:
    """The ``(eventType, details)`` a recording event causes (the event table in the module docstring)."""
    if event == "started":
        return [(40, {"status": 0}), (30, {"status": 0})]
    if event == "uploaded":
        if rec.snapshot:
            return []
        names = [n for n in files.names(rec, at) if n.endswith(".m3u8")]
        return [(4, {"fileList": names[0] if names else ""})]
    if event == "mismatch":
        return [
            (3, {"status": 20 if rec.phase == ABNORMAL else 8, "recordingMode": 0 if rec.mode == "individual" else 1})
        ]
    reason = rec.end_reason
    if reason == "abnormal":
        return [(11, {"exitStatus": 1})]
    events: list[tuple[int, dict[str, Any]]] = [(41, {"leaveCode": 4 if reason == "idle" else 16})]
    if rec.first_file_at is not None:
        backuped = state.channel(rec.cname).uploading_status == "backuped"
        details: dict[str, Any] = {"status": 0}
        if rec.mode != "web" and not rec.snapshot:
            details["fileList"] = files.json_files(rec)
        events.append((32 if backuped else 31, details))
    events.append((11, {"exitStatus": 0}))
    return events
