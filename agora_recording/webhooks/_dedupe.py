"""Dedupe stores: remember which ``noticeId`` values were handed to the application already.

NCS resends a notification that was not answered 200 in time (up to three retries, ``notifyMs`` changes on each),
and may deliver one twice anyway. The receiver asks its :class:`DedupeStore` once per verified notification;
only the first ``seen_before(notice_id)`` answers ``False``. Agora sends no timestamp, so this store is also the
replay protection.

:class:`MemoryDedupeStore` is the in-process default. A store shared by several workers (Redis) implements the
same protocol.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import Protocol, runtime_checkable

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording._errors import InvalidRequestError

__all__ = ["DEFAULT_DEDUPE_MAX_ENTRIES", "DEFAULT_DEDUPE_TTL", "DedupeStore", "MemoryDedupeStore"]

DEFAULT_DEDUPE_TTL = 24 * 3600.0
"""Seconds a ``noticeId`` is remembered (NCS's three resends come within minutes; a day leaves a wide margin)."""

DEFAULT_DEDUPE_MAX_ENTRIES = 100_000
"""At most this many ``noticeId`` values are remembered; past it the oldest are forgotten first."""

_MAX_KEY = 64  # longer ids are stored as their SHA-256 digest, so memory per entry stays bounded


@runtime_checkable
class DedupeStore(Protocol):
    """Where the receiver records the ``noticeId`` values it has seen.

    ``seen_before`` must check and record in one atomic step: of several concurrent calls with one id, exactly
    one answers ``False``. ``forget`` removes an id again: the receiver calls it when it could not accept a
    notification after recording it (it answered 503, so NCS's resend must get through).
    """

    async def seen_before(self, notice_id: str) -> bool:
        """``True`` if ``notice_id`` was recorded (and not yet expired); otherwise record it and return ``False``."""
        ...

    async def forget(self, notice_id: str) -> None:
        """Remove ``notice_id``; no error when it is not there."""
        ...


class MemoryDedupeStore:
    """An in-memory :class:`DedupeStore`: ids expire after ``ttl`` seconds, at most ``max_entries`` are kept.

    Memory is bounded by ``max_entries`` (about 200 bytes each with a UUID-sized id, so about 20 MB when full at
    the default; ids longer than 64 characters are kept as a 32-byte digest). When full, the oldest id is
    forgotten first, so a resend that arrives after ``max_entries`` newer notifications is delivered again (at
    least once, never lost). Time comes from ``clock`` (monotonic seconds;
    inject a virtual clock in tests). Atomic within one event loop: no await between the check and the record.
    Not shared between processes: behind a load balancer, use a shared store.

    Raises :class:`~agora_recording.InvalidRequestError` for a ``ttl`` that is not a positive finite number or
    ``max_entries`` < 1.
    """

    __slots__ = ("_clock", "_expiry", "_max_entries", "_ttl", "evicted")

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_DEDUPE_TTL,
        max_entries: int = DEFAULT_DEDUPE_MAX_ENTRIES,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (math.isfinite(ttl) and ttl > 0):
            raise InvalidRequestError("ttl", "must be a positive finite number of seconds")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InvalidRequestError("max_entries", "must be an integer >= 1")
        self._ttl = float(ttl)
        self._max_entries = max_entries
        self._clock = clock
        # key -> expiry time; insertion order is expiry order because the ttl is the same for every key.
        self._expiry: OrderedDict[str | bytes, float] = OrderedDict()
        self.evicted = 0
        """How many ids were forgotten early because the store was full."""

    def __len__(self) -> int:
        return len(self._expiry)

    def __repr__(self) -> str:
        return f"MemoryDedupeStore(ttl={self._ttl!r}, max_entries={self._max_entries!r}, size={len(self._expiry)})"

    @staticmethod
    def _key(notice_id: str) -> str | bytes:
        if len(notice_id) <= _MAX_KEY:
            return notice_id
        return hashlib.sha256(notice_id.encode("utf-8", "surrogatepass")).digest()

    def _purge(self, now: float) -> None:
        expiry = self._expiry
        while expiry:
            key, when = next(iter(expiry.items()))
            if when > now:
                break
            del expiry[key]

    async def seen_before(self, notice_id: str) -> bool:
        """``True`` if ``notice_id`` was recorded less than ``ttl`` ago; otherwise record it and return ``False``."""
        now = self._clock()
        self._purge(now)
        key = self._key(notice_id)
        if key in self._expiry:
            return True
        self._expiry[key] = now + self._ttl
        while len(self._expiry) > self._max_entries:
            self._expiry.popitem(last=False)
            self.evicted += 1
        return False

    async def forget(self, notice_id: str) -> None:
        """Remove ``notice_id``, so that its next delivery is handed on again."""
        self._expiry.pop(self._key(notice_id), None)
