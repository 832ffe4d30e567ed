"""Agora's NCS signatures: verify them over the raw body, and make them for tests.

NCS signs the raw request body with the project's notification secret (Console -> Project -> Notifications):

- ``Agora-Signature-V2``: lower-case hex HMAC-SHA256 of the body;
- ``Agora-Signature``: lower-case hex HMAC-SHA1 of the body (the older header).

:func:`verify` checks V2 whenever the header is present (a bad V2 fails even when V1 would pass) and V1 only
when V2 is absent. Comparison is constant-time. Several secrets can be given for a rotation: a body signed with
any of them verifies. Agora sends no timestamp, so there is no replay window: replays are caught by the
receiver's dedupe store (every ``noticeId`` is handed to the application once).

Secrets never appear in a message, a ``repr`` or a frame local of a raised error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agora_recording._errors import InvalidRequestError
from agora_recording.webhooks._errors import WebhookVerificationError

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_HEADER_V2", "Headers", "Secrets", "sign", "verify"]

SIGNATURE_HEADER = "Agora-Signature"
"""The HMAC-SHA1 header (hex); checked only when :data:`SIGNATURE_HEADER_V2` is absent."""

SIGNATURE_HEADER_V2 = "Agora-Signature-V2"
"""The HMAC-SHA256 header (hex); checked whenever present."""

_V1 = SIGNATURE_HEADER.lower()
_V2 = SIGNATURE_HEADER_V2.lower()

Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""Request headers: any mapping (``dict``, ``httpx.Headers``, Starlette's ``request.headers``) or the ASGI list of
``(name, value)`` byte pairs. Names are matched case-insensitively."""


class Secrets:
    """One or more NCS secrets, held so that no ``repr``, log line or traceback shows them.

    Build it from a ``str`` or a sequence of ``str`` (several during a rotation); :func:`verify` and the receiver
    do this themselves. Raises :class:`~agora_recording.InvalidRequestError` naming ``secret`` (or
    ``secret[i]``) for an empty value or a non-string.
    """

    __slots__ = ("_keys",)

    def __init__(self, secret: str | Sequence[str] | Secrets) -> None:
        keys, problem = _keys_of(secret)
        del secret  # neither this frame nor _keys_of's holds a secret when the error is raised
        if problem is not None:
            raise problem
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        n = len(getattr(self, "_keys", ()))  # also while half-built (a traceback renders it)
        return f"<{n} NCS secret{'s' if n != 1 else ''}>"

    def _matches(self, body: bytes, digest: Any, provided: str) -> bool:
        """True when ``provided`` is the hex HMAC of ``body`` under any key. Returns, so no digest outlives it."""
        candidate = provided.strip().lower().encode("ascii")
        found = False
        for key in self._keys:
            # No short cut: every key is tried, so the time taken does not say which one matched.
            found |= hmac.compare_digest(hmac.new(key, body, digest).hexdigest().encode("ascii"), candidate)
        return found


def _keys_of(secret: object) -> tuple[tuple[bytes, ...], InvalidRequestError | None]:
    """The keys, or the error to raise; it returns rather than raises, so no traceback holds a secret."""
    if isinstance(secret, Secrets):
        return secret._keys, None
    rule = "must be a non-empty string (the NCS secret from Agora Console)"
    if isinstance(secret, str):
        if not secret:
            return (), InvalidRequestError("secret", rule)
        return (secret.encode("utf-8"),), None
    if isinstance(secret, (bytes, bytearray)) or not isinstance(secret, Sequence):
        return (), InvalidRequestError("secret", "must be a str or a sequence of str")
    if len(secret) == 0:
        return (), InvalidRequestError("secret", "must name at least one secret")
    bad = next((i for i, s in enumerate(secret) if not isinstance(s, str) or not s), None)
    if bad is not None:
        return (), InvalidRequestError(f"secret[{bad}]", rule)
    return tuple(s.encode("utf-8") for s in secret), None


def _header_values(headers: Headers) -> dict[str, list[str]]:
    """The two signature headers' values, by lower-case name."""
    items: Iterable[tuple[Any, Any]] = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, list[str]] = {}
    for name, value in items:
        key = (name.decode("latin-1") if isinstance(name, (bytes, bytearray)) else str(name)).lower()
        if key in (_V1, _V2):
            text = value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
            found.setdefault(key, []).append(text)
    return found


def verify(body: bytes, headers: Headers, secret: str | Sequence[str] | Secrets) -> None:
    """Check that ``body`` was signed by NCS with ``secret``; raise :class:`WebhookVerificationError` if not.

    ``body`` must be the raw request bytes, before any JSON parsing (re-serialised JSON does not verify).
    ``headers`` is any mapping or the ASGI list of byte pairs; names are case-insensitive, hex digits may be
    either case. ``Agora-Signature-V2`` (HMAC-SHA256) is checked when present, even if ``Agora-Signature``
    (HMAC-SHA1) would pass; ``Agora-Signature`` is checked only when V2 is absent. ``secret`` is one secret or
    several (a rotation): any of them may have signed the body.

    Raises :class:`~agora_recording.InvalidRequestError` for an empty ``secret`` or a ``str`` body, and
    :class:`WebhookVerificationError` when neither header is present, a header appears twice, or the digest
    does not match.

    Example::

        verify(await request.body(), request.headers, secret=os.environ["AGORA_NCS_SECRET"])
    """
    try:
        secrets = Secrets(secret)
    finally:
        del secret
    if isinstance(body, str):
        raise InvalidRequestError("body", "must be the raw request bytes, not str (re-encoded text may not verify)")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise InvalidRequestError("body", f"must be bytes, got {type(body).__name__}")
    raw = bytes(body)
    values = _header_values(headers)
    if _V2 in values:
        name, digest = SIGNATURE_HEADER_V2, hashlib.sha256
    elif _V1 in values:
        name, digest = SIGNATURE_HEADER, hashlib.sha1
    else:
        raise WebhookVerificationError(f"no {SIGNATURE_HEADER_V2} or {SIGNATURE_HEADER} header")
    provided = values[name.lower()]
    if len(provided) != 1:
        raise WebhookVerificationError(f"{name} appears {len(provided)} times", header=name)
    if not provided[0].isascii() or not secrets._matches(raw, digest, provided[0]):
        raise WebhookVerificationError(
            f"{name} does not match the body for {'any configured secret' if len(secrets) > 1 else 'the secret'}",
            header=name,
        )


def sign(body: bytes, secret: str | Secrets) -> dict[str, str]:
    """The two signature headers NCS would send with ``body`` under ``secret``: for tests and ``send-test`` tools.

    With several secrets in a :class:`Secrets`, the first one signs. Returns ``{"Agora-Signature": <sha1 hex>,
    "Agora-Signature-V2": <sha256 hex>}``; add ``Content-Type: application/json`` when posting.
    """
    try:
        key = Secrets(secret)._keys[0]
    finally:
        del secret
    raw = bytes(body)
    return {
        SIGNATURE_HEADER: hmac.new(key, raw, hashlib.sha1).hexdigest(),
        SIGNATURE_HEADER_V2: hmac.new(key, raw, hashlib.sha256).hexdigest(),
    }
