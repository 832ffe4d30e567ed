"""Agora's Notification Center Service (NCS) for Cloud Recording: verify, parse and receive notifications.

Optional: ``import agora_recording`` never imports this package. The receiver needs no web framework; serving it
alone needs uvicorn (``pip install 'agora-recording[webhooks]'``).

- :func:`verify` checks ``Agora-Signature-V2`` (HMAC-SHA256) or, without it, ``Agora-Signature`` (HMAC-SHA1) over
  the raw body, in constant time, for one secret or several (rotation).
- :func:`parse` reads the body into a frozen :class:`NotificationEvent` subclass per documented eventType
  (:class:`SessionExit`, :class:`Uploaded`, :class:`StatusUpdate`, ...) or :class:`UnknownEvent`.
- :class:`WebhookReceiver` is an ASGI application: POST only, a body limit, verify, parse, dedupe on
  ``noticeId`` (:class:`DedupeStore`, :class:`MemoryDedupeStore`), answer 200 JSON at once, then hand the event to
  ``on_event``, :meth:`~WebhookReceiver.subscribe` handlers and :meth:`~WebhookReceiver.events` streams.
- :func:`sign` and :func:`sample_event` make signed sample notifications for tests and local tools.

Example (standalone)::

    import uvicorn
    from agora_recording.webhooks import SessionExit, WebhookReceiver

    async def on_event(event):
        if isinstance(event, SessionExit):
            print("recording", event.sid, "of", event.cname, "exited", event.exit_status)

    uvicorn.run(WebhookReceiver(secret=os.environ["AGORA_NCS_SECRET"], on_event=on_event), port=8080)
"""

from agora_recording._hub import DEFAULT_STREAM_BUFFER, EventStream
from agora_recording.webhooks._dedupe import (
    DEFAULT_DEDUPE_MAX_ENTRIES,
    DEFAULT_DEDUPE_TTL,
    DedupeStore,
    MemoryDedupeStore,
)
from agora_recording.webhooks._errors import (
    WebhookPayloadError,
    WebhookVerificationError,
)
from agora_recording.webhooks._events import (
    CLOUD_RECORDING_PRODUCT_ID,
    EVENT_CLASSES,
    Backuped,
    CloudRecordingError,
    CloudRecordingWarning,
    DownloadFailed,
    FileInfos,
    NotificationEvent,
    PostponeTranscodeFinalResult,
    RecorderAudioStreamStateChanged,
    RecorderLeave,
    RecorderSliceStart,
    RecorderSnapshotFile,
    RecorderStarted,
    RecorderVideoStreamStateChanged,
    RtmpPublishStatusChanged,
    SessionExit,
    SessionFailover,
    StatusUpdate,
    TranscoderCompleted,
    TranscoderStarted,
    UnknownEvent,
    Uploaded,
    UploaderStarted,
    UploadingProgress,
    VodStarted,
    VodTriggered,
    WebRecorderCapabilityLimit,
    WebRecorderReload,
    WebRecorderStarted,
    WebRecorderStopped,
    parse,
)
from agora_recording.webhooks._receiver import (
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_PENDING,
    ReceiverStats,
    WebhookReceiver,
)
from agora_recording.webhooks._samples import (
    sample_event,
)
from agora_recording.webhooks._signature import (
    SIGNATURE_HEADER,
    SIGNATURE_HEADER_V2,
    Secrets,
    sign,
    verify,
)

__all__ = [
    "CLOUD_RECORDING_PRODUCT_ID",
    "DEFAULT_DEDUPE_MAX_ENTRIES",
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_STREAM_BUFFER",
    "EVENT_CLASSES",
    "SIGNATURE_HEADER",
    "SIGNATURE_HEADER_V2",
    "Backuped",
    "CloudRecordingError",
    "CloudRecordingWarning",
    "DedupeStore",
    "DownloadFailed",
    "EventStream",
    "FileInfos",
    "MemoryDedupeStore",
    "NotificationEvent",
    "PostponeTranscodeFinalResult",
    "ReceiverStats",
    "RecorderAudioStreamStateChanged",
    "RecorderLeave",
    "RecorderSliceStart",
    "RecorderSnapshotFile",
    "RecorderStarted",
    "RecorderVideoStreamStateChanged",
    "RtmpPublishStatusChanged",
    "Secrets",
    "SessionExit",
    "SessionFailover",
    "StatusUpdate",
    "TranscoderCompleted",
    "TranscoderStarted",
    "UnknownEvent",
    "Uploaded",
    "UploaderStarted",
    "UploadingProgress",
    "VodStarted",
    "VodTriggered",
    "WebRecorderCapabilityLimit",
    "WebRecorderReload",
    "WebRecorderStarted",
    "WebRecorderStopped",
    "WebhookPayloadError",
    "WebhookReceiver",
    "WebhookVerificationError",
    "parse",
    "sample_event",
    "sign",
    "verify",
]
