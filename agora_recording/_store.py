"""The session store: where a client records its recording sessions so another process can find them.

A :class:`SessionStore` keeps one :class:`SessionRecord` per session key. The session layer writes a JSON snapshot
of each session (``data``) at every state change; this module treats that snapshot as opaque JSON. Two
implementations: :class:`MemorySessionStore` here (one process, and tests) and
:class:`agora_recording.redis.RedisSessionStore` (every process and host that shares a Redis).

Owners and leases
-----------------
Every record has an ``owner``: a string naming the client (process) that drives the session, or ``None`` for a
*released* record (handed off on purpose). Each owner holds a **lease**, renewed with :meth:`~SessionStore.heartbeat`
(every ``lease / 3`` is a good rhythm) and by every write it makes (:meth:`~SessionStore.put` and the claims renew
the writer's lease to at least the store's ``lease``). An owner whose lease has run out is **dead**: its records
are *orphans* (a crashed or hung process). Leases live on the store's clock (Redis: the server's own ``PEXPIRE``
clock, so host clock skew does not matter; memory: an injectable monotonic clock).

Operations (all ``async``; ``owner`` and ``key`` are non-empty strings)
----------------------------------------------------------------------
- ``put(key, data, *, owner, expected_revision=None)``: create the record (``owner`` becomes its owner, revision
  1), or update it when ``owner`` is its owner (revision + 1). Someone else's record, or a released one, raises
  :class:`SessionOwnershipError` (claim it first). ``expected_revision`` adds optimistic concurrency: ``0`` means
  "must not exist yet", ``n`` means "must be at revision n"; otherwise :class:`SessionConflictError`.
- ``get(key)``: the record, or ``None``.
- ``delete(key, *, owner)``: remove the owner's record; ``False`` when there was none; someone else's record
  raises :class:`SessionOwnershipError`.
- ``records(*, owner=None)``: every record (sorted by key), or only ``owner``'s.
- ``heartbeat(owner, *, lease=None)``: set the owner's lease to ``lease`` seconds (default: the store's) from now.
  Returns whether the lease was still running; ``False`` means it had lapsed (or never existed), so some of the
  owner's records may have been claimed by others meanwhile (a write would then raise SessionOwnershipError).
- ``is_alive(owner)``: whether the owner's lease is running.
- ``release(key, *, owner)``: graceful hand-off: the record stays, its owner becomes ``None``, revision + 1; a
  later :meth:`~SessionStore.claim` by key (a ``resume_session`` in another worker) takes it. Orphan recovery does
  not touch released records.
- ``release_owner(owner)``: release all of an owner's records and end its lease (a graceful close); returns them.
- ``claim(key, *, owner, lease=None)``: take a released record or a dead owner's record (revision + 1); claiming
  one's own record only renews the lease. A live owner's record raises :class:`SessionOwnershipError`, a missing
  one :class:`SessionNotFoundError`. Atomic: of two claimers, exactly one wins.
- ``claim_orphans(*, owner, lease=None, limit=None)``: atomically take every record whose owner is dead (at most
  ``limit``), renewing the claimant's lease first; returns the taken records (now owned by ``owner``). Two
  processes recovering at once never both get one record.

Every returned :class:`SessionRecord` is a fresh snapshot: its ``data`` is a new dict, decoded from the store,
that the caller may keep or change without affecting the store. A call that raises changes nothing, with one
exception: when the store becomes unreachable (or the caller is cancelled) after the command reached it, the
outcome is unknown. The claims are idempotent for the claimant, so after an error a caller can ``claim`` again,
or look at ``records(owner=me)`` to find what a lost ``claim_orphans`` reply took.

Secrets
-------
The store only ever sees the ``data`` dict. The session layer leaves the start ``clientRequest`` (it holds the
storage ``accessKey``/``secretKey``) out of its snapshot unless the user opts in with an encryption hook: the
``encode``/``decode`` callables every store takes turn ``data`` into the stored bytes and back (default: plain
JSON, :func:`json_encode`/:func:`json_decode`). With a hook such as ``cryptography``'s Fernet, Redis holds only
ciphertext. ``repr(SessionRecord)`` never shows ``data``.

Errors (all :class:`~agora_recording.AgoraError`)::

    SessionStoreError                 root of the store's errors
    +-- SessionOwnershipError           the record belongs to another owner (or is released): .key .owner
    +-- SessionConflictError            expected_revision did not match: .key .expected .actual
    +-- SessionNotFoundError            no record with that key: .key
    +-- SessionStoreDataError           a stored value could not be decoded (corrupt, foreign, wrong key)
    +-- SessionStoreUnavailableError    the backend (Redis) cannot be reached; the outcome is unknown
    InvalidRequestError(ValueError)   a bad argument (names the field), raised before the store is touched
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import anyio.lowlevel
import attrs

from agora_recording._clock import DEFAULT_CLOCK, Clock
from agora_recording._errors import AgoraError, InvalidRequestError

__all__ = [
    "DEFAULT_LEASE",
    "MAX_KEY_LENGTH",
    "MAX_OWNER_LENGTH",
    "Decoder",
    "Encoder",
    "MemorySessionStore",
    "SessionConflictError",
    "SessionNotFoundError",
    "SessionOwnershipError",
    "SessionRecord",
    "SessionStore",
    "SessionStoreDataError",
    "SessionStoreError",
    "SessionStoreUnavailableError",
    "json_decode",
    "json_encode",
    "new_owner_id",
]

DEFAULT_LEASE = 30.0
"""Seconds an owner stays alive after its last heartbeat or write; heartbeat every ``lease / 3``."""

MAX_KEY_LENGTH = 1024
"""The longest session key a store accepts (characters)."""

MAX_OWNER_LENGTH = 256
"""The longest owner id a store accepts (characters)."""

_MIN_LEASE = 0.001  # Redis leases are whole milliseconds

Encoder = Callable[[Mapping[str, Any]], bytes]
"""Turns a record's ``data`` into the bytes the store keeps (for example JSON, then encrypted)."""

Decoder = Callable[[bytes], Mapping[str, Any]]
"""Turns the stored bytes back into ``data``: the inverse of the matching :data:`Encoder`."""


# --------------------------------------------------------------------------------------------------- errors


class SessionStoreError(AgoraError):
    """Root of the session store's errors."""


class SessionOwnershipError(SessionStoreError):
    """The record belongs to another owner, or was released (``owner is None``): claim it first.

    ``key`` is the record's key, ``owner`` its current owner (``None``: released), ``requested_by`` the caller.
    """

    def __init__(self, key: str, *, owner: str | None, requested_by: str) -> None:
        self.key = key
        self.owner = owner
        self.requested_by = requested_by
        held = "is released (claim it first)" if owner is None else f"is owned by {owner!r}"
        super().__init__(f"session record {key!r} {held}, not by {requested_by!r}")


class SessionConflictError(SessionStoreError):
    """``expected_revision`` did not match: the record changed (or appeared, or vanished) since it was read.

    ``actual`` is the record's current revision, ``0`` when there is no record.
    """

    def __init__(self, key: str, *, expected: int, actual: int) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        super().__init__(f"session record {key!r} is at revision {actual}, expected {expected}")


class SessionNotFoundError(SessionStoreError):
    """No record with this key (``key``)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no session record {key!r}")


class SessionStoreDataError(SessionStoreError):
    """A stored value could not be read back: corrupt, written by something else, or the decode hook failed.

    The message names the key and the kind of failure, never the stored bytes.
    """


class SessionStoreUnavailableError(SessionStoreError):
    """The store's backend (Redis) cannot be reached or refused the command for now; retry later.

    Raised by every Redis-backed store of this package (:class:`~agora_recording.redis.RedisSessionStore`,
    :class:`~agora_recording.redis.RedisDedupeStore`). The command may or may not have taken effect.
    """


# --------------------------------------------------------------------------------------------------- records


@attrs.frozen(kw_only=True)
class SessionRecord:
    """One stored session: its key, owner, JSON snapshot and revision.

    - ``key``: the session key.
    - ``owner``: the owner id driving it, or ``None`` when it was released (handed off).
    - ``data``: the session layer's JSON snapshot (a fresh dict per read); hidden from ``repr``.
    - ``revision``: 1 when created, + 1 at every change (write, release, claim by another owner).
    - ``updated_at``: seconds since the Unix epoch of the last change, on the store's clock (Redis: server TIME).
    """

    key: str
    owner: str | None
    data: Mapping[str, Any] = attrs.field(repr=False)
    revision: int
    updated_at: float


@runtime_checkable
class SessionStore(Protocol):
    """What the client needs from a session store; see the module docstring for the exact rules."""

    @property
    def lease(self) -> float:
        """The default lease in seconds (heartbeat and writes)."""
        ...

    async def put(
        self, key: str, data: Mapping[str, Any], *, owner: str, expected_revision: int | None = None
    ) -> SessionRecord:
        """Create or update ``key`` as ``owner``; renews the owner's lease."""
        ...

    async def get(self, key: str) -> SessionRecord | None:
        """The record of ``key``, or ``None``."""
        ...

    async def delete(self, key: str, *, owner: str) -> bool:
        """Remove ``owner``'s record ``key``; ``False`` when there was none."""
        ...

    async def records(self, *, owner: str | None = None) -> list[SessionRecord]:
        """Every record sorted by key, or only ``owner``'s."""
        ...

    async def heartbeat(self, owner: str, *, lease: float | None = None) -> bool:
        """Renew ``owner``'s lease; ``False`` when it had lapsed."""
        ...

    async def is_alive(self, owner: str) -> bool:
        """Whether ``owner``'s lease is running."""
        ...

    async def release(self, key: str, *, owner: str) -> SessionRecord:
        """Hand ``key`` off: the record stays with no owner."""
        ...

    async def release_owner(self, owner: str) -> list[SessionRecord]:
        """Release every record of ``owner`` and end its lease."""
        ...

    async def claim(self, key: str, *, owner: str, lease: float | None = None) -> SessionRecord:
        """Take a released or orphaned record (atomic)."""
        ...

    async def claim_orphans(
        self, *, owner: str, lease: float | None = None, limit: int | None = None
    ) -> list[SessionRecord]:
        """Take every record of every dead owner (atomic)."""
        ...


# --------------------------------------------------------------------------------------------------- helpers


def json_encode(data: Mapping[str, Any]) -> bytes:
    """The default :data:`Encoder`: compact UTF-8 JSON with sorted keys; NaN and infinities are refused."""
    return json.dumps(dict(data), separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False).encode()


def json_decode(raw: bytes) -> Mapping[str, Any]:
    """The default :data:`Decoder`: UTF-8 JSON that must hold an object."""
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def new_owner_id() -> str:
    """A fresh owner id for one client: ``"<host>:<pid>:<random>"`` (readable in logs, unique per call)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def check_key(key: object, field: str = "key") -> str:
    """``key`` when it is a usable session key, else :class:`InvalidRequestError` naming ``field``."""
    if not isinstance(key, str) or not key:
        raise InvalidRequestError(field, "must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequestError(field, f"must be at most {MAX_KEY_LENGTH} characters")
    return key


def check_owner(owner: object) -> str:
    """``owner`` when it is a usable owner id, else :class:`InvalidRequestError`."""
    if not isinstance(owner, str) or not owner:
        raise InvalidRequestError("owner", "must be a non-empty string")
    if len(owner) > MAX_OWNER_LENGTH:
        raise InvalidRequestError("owner", f"must be at most {MAX_OWNER_LENGTH} characters")
    return owner


def check_lease(lease: object, field: str = "lease") -> float:
    """``lease`` in seconds when finite and >= 1 ms, else :class:`InvalidRequestError`."""
    if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not math.isfinite(lease):
        raise InvalidRequestError(field, "must be a finite number of seconds")
    if lease < _MIN_LEASE:
        raise InvalidRequestError(field, f"must be at least {_MIN_LEASE} seconds")
    return float(lease)


def check_limit(limit: object) -> int | None:
    """``limit`` when ``None`` or an int >= 1, else :class:`InvalidRequestError`."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequestError("limit", "must be None or an integer >= 1")
    return limit


def check_expected_revision(expected: object) -> int | None:
    """``expected_revision`` when ``None`` or an int >= 0, else :class:`InvalidRequestError`."""
    if expected is None:
        return None
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 0:
        raise InvalidRequestError("expected_revision", "must be None or an integer >= 0 (0: must not exist)")
    return expected


def encode_data(encode: Encoder, data: object) -> bytes:
    """Run the encode hook on ``data``; :class:`InvalidRequestError` when it is not a mapping or fails."""
    if not isinstance(data, Mapping):
        raise InvalidRequestError("data", "must be a mapping (the session snapshot dict)")
    try:
        raw = encode(data)
    except Exception as exc:
        # The type only: an exception text may quote the data, and the data may hold secrets.
        raise InvalidRequestError(
            "data", f"must be JSON-serialisable (the encode hook raised {type(exc).__name__})"
        ) from exc
    if not isinstance(raw, bytes):
        raise InvalidRequestError("encode", f"must return bytes, returned {type(raw).__name__}")
    return raw


def decode_data(decode: Decoder, key: str, raw: bytes) -> dict[str, Any]:
    """Run the decode hook; :class:`SessionStoreDataError` when it fails or returns no mapping."""
    try:
        value = decode(raw)
    except Exception as exc:  # includes RecursionError from hostile nesting
        raise SessionStoreDataError(f"session record {key!r} could not be decoded ({type(exc).__name__})") from exc
    if not isinstance(value, Mapping):
        raise SessionStoreDataError(f"session record {key!r} decoded to {type(value).__name__}, not a mapping")
    return dict(value)


# --------------------------------------------------------------------------------------------------- memory


@attrs.define
class _Entry:
    owner: str | None
    raw: bytes
    revision: int
    updated_at: float


class MemorySessionStore:
    """A :class:`SessionStore` in this process's memory: for a single process, and for tests.

    - ``lease``: the default lease (seconds), :data:`DEFAULT_LEASE`.
    - ``clock``: monotonic seconds for leases (tests pass a ``VirtualClock`` and move it).
    - ``wall_clock``: Unix seconds for ``updated_at``.
    - ``encode``/``decode``: the data hooks (default JSON). Data is stored encoded, so a caller can never
      change a stored record by mutating a dict, and data that would not survive Redis fails here too.

    Every operation takes one checkpoint (it can be cancelled there, before anything changes) and then runs to
    the end without yielding, so each one is atomic on asyncio and trio alike. Not thread-safe: use one store
    from one event loop (thread) at a time; it holds no event-loop state, so successive ``anyio.run`` calls may
    share it.
    """

    def __init__(
        self,
        *,
        lease: float = DEFAULT_LEASE,
        clock: Clock = DEFAULT_CLOCK,
        wall_clock: Callable[[], float] = time.time,
        encode: Encoder = json_encode,
        decode: Decoder = json_decode,
    ) -> None:
        self._lease = check_lease(lease)
        self._clock = clock
        self._wall_clock = wall_clock
        self._encode = encode
        self._decode = decode
        self._entries: dict[str, _Entry] = {}
        self._leases: dict[str, float] = {}  # owner -> deadline on ``clock``

    def __repr__(self) -> str:
        return f"MemorySessionStore(records={len(self._entries)}, lease={self._lease!r})"

    async def __aenter__(self) -> MemorySessionStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to close (present so both stores can be used the same way)."""

    @property
    def lease(self) -> float:
        """The default lease in seconds."""
        return self._lease

    # -- internals (synchronous: an operation never yields between reading and writing)

    def _alive(self, owner: str) -> bool:
        deadline = self._leases.get(owner)
        return deadline is not None and self._clock() < deadline

    def _renew_at_least(self, owner: str, lease: float) -> None:
        deadline = self._clock() + lease
        current = self._leases.get(owner)
        if current is None or current < deadline:
            self._leases[owner] = deadline

    def _record(self, key: str, entry: _Entry) -> SessionRecord:
        return SessionRecord(
            key=key,
            owner=entry.owner,
            data=decode_data(self._decode, key, entry.raw),
            revision=entry.revision,
            updated_at=entry.updated_at,
        )

    def _change(self, entry: _Entry, owner: str | None) -> None:
        entry.owner = owner
        entry.revision += 1
        entry.updated_at = self._wall_clock()

    # -- the protocol

    async def put(
        self, key: str, data: Mapping[str, Any], *, owner: str, expected_revision: int | None = None
    ) -> SessionRecord:
        """Create or update ``key`` as ``owner`` (see the module docstring); renews the owner's lease.

        Raises :class:`SessionOwnershipError`, :class:`SessionConflictError`, :class:`InvalidRequestError`.
        """
        check_key(key)
        check_owner(owner)
        expected = check_expected_revision(expected_revision)
        raw = encode_data(self._encode, data)
        fresh = decode_data(self._decode, key, raw)  # the hooks must round-trip before anything is stored
        await anyio.lowlevel.checkpoint()
        entry = self._entries.get(key)
        if entry is None:
            if expected not in (None, 0):
                raise SessionConflictError(key, expected=expected, actual=0)
            entry = _Entry(owner=owner, raw=raw, revision=1, updated_at=self._wall_clock())
            self._entries[key] = entry
        else:
            if entry.owner != owner:
                raise SessionOwnershipError(key, owner=entry.owner, requested_by=owner)
            if expected is not None and expected != entry.revision:
                raise SessionConflictError(key, expected=expected, actual=entry.revision)
            entry.raw = raw
            self._change(entry, owner)
        self._renew_at_least(owner, self._lease)
        return SessionRecord(key=key, owner=owner, data=fresh, revision=entry.revision, updated_at=entry.updated_at)

    async def get(self, key: str) -> SessionRecord | None:
        """The record of ``key``, or ``None``."""
        check_key(key)
        await anyio.lowlevel.checkpoint()
        entry = self._entries.get(key)
        return None if entry is None else self._record(key, entry)

    async def delete(self, key: str, *, owner: str) -> bool:
        """Remove ``owner``'s record; ``False`` when absent; :class:`SessionOwnershipError` when not ``owner``'s."""
        check_key(key)
        check_owner(owner)
        await anyio.lowlevel.checkpoint()
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry.owner != owner:
            raise SessionOwnershipError(key, owner=entry.owner, requested_by=owner)
        del self._entries[key]
        return True

    async def records(self, *, owner: str | None = None) -> list[SessionRecord]:
        """Every record sorted by key, or only ``owner``'s (``None``: no filter; released records have no owner)."""
        if owner is not None:
            check_owner(owner)
        await anyio.lowlevel.checkpoint()
        return [
            self._record(key, entry)
            for key, entry in sorted(self._entries.items())
            if owner is None or entry.owner == owner
        ]

    async def heartbeat(self, owner: str, *, lease: float | None = None) -> bool:
        """Set ``owner``'s lease to ``lease`` (default: the store's) from now; ``False`` when it had lapsed."""
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        await anyio.lowlevel.checkpoint()
        was_alive = self._alive(owner)
        self._leases[owner] = self._clock() + seconds
        return was_alive

    async def is_alive(self, owner: str) -> bool:
        """Whether ``owner``'s lease is running."""
        check_owner(owner)
        await anyio.lowlevel.checkpoint()
        return self._alive(owner)

    async def release(self, key: str, *, owner: str) -> SessionRecord:
        """Hand ``key`` off (owner ``None``); :class:`SessionNotFoundError`, :class:`SessionOwnershipError`."""
        check_key(key)
        check_owner(owner)
        await anyio.lowlevel.checkpoint()
        entry = self._entries.get(key)
        if entry is None:
            raise SessionNotFoundError(key)
        if entry.owner != owner:
            raise SessionOwnershipError(key, owner=entry.owner, requested_by=owner)
        self._change(entry, None)
        return self._record(key, entry)

    async def release_owner(self, owner: str) -> list[SessionRecord]:
        """Release every record of ``owner`` (sorted by key) and end its lease."""
        check_owner(owner)
        await anyio.lowlevel.checkpoint()
        released: list[SessionRecord] = []
        for key, entry in sorted(self._entries.items()):
            if entry.owner == owner:
                self._change(entry, None)
                released.append(self._record(key, entry))
        self._leases.pop(owner, None)
        return released

    async def claim(self, key: str, *, owner: str, lease: float | None = None) -> SessionRecord:
        """Take a released or orphaned record; see the module docstring.

        Raises :class:`SessionNotFoundError`, or :class:`SessionOwnershipError` when a live owner holds it.
        """
        check_key(key)
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        await anyio.lowlevel.checkpoint()
        entry = self._entries.get(key)
        if entry is None:
            raise SessionNotFoundError(key)
        if entry.owner != owner:
            if entry.owner is not None and self._alive(entry.owner):
                raise SessionOwnershipError(key, owner=entry.owner, requested_by=owner)
            self._change(entry, owner)
        self._renew_at_least(owner, seconds)
        return self._record(key, entry)

    async def claim_orphans(
        self, *, owner: str, lease: float | None = None, limit: int | None = None
    ) -> list[SessionRecord]:
        """Take (at most ``limit``) records of dead owners, sorted by key; renews ``owner``'s lease first."""
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        most = check_limit(limit)
        await anyio.lowlevel.checkpoint()
        self._renew_at_least(owner, seconds)
        dead: dict[str, bool] = {}
        taken: list[SessionRecord] = []
        for key, entry in sorted(self._entries.items()):
            if most is not None and len(taken) >= most:
                break
            previous = entry.owner
            if previous is None or previous == owner:
                continue
            if previous not in dead:
                dead[previous] = not self._alive(previous)
            if dead[previous]:
                self._change(entry, owner)
                taken.append(self._record(key, entry))
        return taken
