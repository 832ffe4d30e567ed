"""Identifiers the fake hands out: request ids, sids, nonces, and signed, self-describing resourceIds.

Every id comes from one RNG seeded by the fake's ``seed``, so a run is reproducible. A resourceId is
``base64url(JSON{appid, cname, uid, issue time, scene, nonce[, startParameter digest]}).signature`` (rule 7 in
:mod:`agora_recording.testing._rules`): the fake can read it back without keeping state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
from typing import Any

from agora_recording.testing._wire import dump, service_error

__all__ = ["Ids"]


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Ids:
    """The fake's id source and resourceId signer (keyed by the seed and the Customer ID)."""

    __slots__ = ("_key", "_rng")

    def __init__(self, seed: int, customer_id: str) -> None:
        self._rng = random.Random(seed)
        self._key = hashlib.sha256(f"agora-recording-fake:{seed}:{customer_id}".encode()).digest()

    def __repr__(self) -> str:
        return "Ids()"

    def request_id(self, serial: int) -> str:
        """A unique ``X-Request-Id`` (random half, serial half)."""
        return f"{self._rng.getrandbits(64):016x}{serial:016x}"

    def sid(self) -> str:
        """A new 32-hex-digit recording id."""
        return f"{self._rng.getrandbits(128):032x}"

    def hex64(self) -> str:
        """16 random hex digits (nonces, notice ids)."""
        return f"{self._rng.getrandbits(64):016x}"

    def encode_rid(
        self, app_id: str, cname: str, uid: str, now: float, scene: int, start_digest: str | None = None
    ) -> str:
        """A signed resourceId for an acquire."""
        info: dict[str, Any] = {"a": app_id, "c": cname, "u": uid, "t": now, "s": scene, "n": self.hex64()}
        if start_digest is not None:
            info["p"] = start_digest
        payload = _b64e(dump(info))
        signature = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()[:18]
        return f"{payload}.{_b64e(signature)}"

    def request_digest(self, client_request: object) -> str:
        """A short digest of a ``clientRequest``'s canonical JSON (sorted keys, no spaces).

        Keyed with the resourceId signing key rather than a bare SHA-256: the startParameter holds storage
        credentials, and the digest travels inside the (readable) resourceId.
        """
        canonical = json.dumps(client_request, sort_keys=True, separators=(",", ":")).encode()
        return _b64e(hmac.new(self._key, b"startParameter:" + canonical, hashlib.sha256).digest()[:12])

    def decode_rid(self, rid: str) -> dict[str, Any]:
        """What a resourceId says about its acquire.

        Raises:
            Reply: 400 code 1001 if it is not one of this fake's resourceIds.
        """
        bad = service_error(400, 1001, "failed to parse resourceId")
        payload, dot, signature = rid.rpartition(".")
        if not dot or not payload.isascii() or not signature.isascii():
            raise bad
        try:
            expected = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()[:18]
            if not hmac.compare_digest(_b64d(signature), expected):
                raise bad
            info = json.loads(_b64d(payload))
        except (binascii.Error, ValueError):
            raise bad from None
        if not isinstance(info, dict):
            raise bad
        return info
