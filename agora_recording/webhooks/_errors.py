"""The two errors of the webhooks subpackage, both :class:`~agora_recording.AgoraError` subclasses.

::

    AgoraError
    +-- WebhookVerificationError          the body's signature does not verify: a forgery, or the wrong secret
    +-- WebhookPayloadError(ValueError)   a verified body that is not an NCS notification Agora documents

Neither message shows a secret, a signature header or an expected digest.
"""

from __future__ import annotations

from agora_recording._errors import AgoraError

__all__ = ["WebhookPayloadError", "WebhookVerificationError"]


class WebhookVerificationError(AgoraError):
    """The notification's ``Agora-Signature-V2`` (or, without it, ``Agora-Signature``) does not verify.

    Raised by :func:`~agora_recording.webhooks.verify`; :class:`~agora_recording.webhooks.WebhookReceiver`
    answers 401. ``header`` names the header that was checked (``None`` when neither was present). The message
    says what failed, never the secret, the header's value or the digest that was expected.
    """

    def __init__(self, message: str, *, header: str | None = None) -> None:
        self.header = header
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, header={self.header!r})"


class WebhookPayloadError(AgoraError, ValueError):
    """The body is not a notification: not JSON, not a JSON object, or a field of the wrong type.

    Raised by :func:`~agora_recording.webhooks.parse`; the receiver answers 400. ``field`` is the wire path of the
    offending field (``noticeId``, ``payload.details.errorCode``), or ``None`` when the body as a whole is wrong.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, field={self.field!r})"
