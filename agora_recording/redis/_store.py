"""Redis-backed stores: :class:`RedisSessionStore` (sessions shared by every process and host) and
:class:`RedisDedupeStore` (webhook notice ids seen by any of them).

Layout in Redis (``ns`` is the namespace; the ``{ns}`` hash tag puts every key of one namespace in one Redis
Cluster slot, so each Lua script touches a single slot)::

    {ns}:s:<key>        hash   owner ("" when released), data (the encoded bytes), rev, ts (ms, server TIME)
    {ns}:keys           set    every session key
    {ns}:o:<owner>      set    the keys an owner holds
    {ns}:owners         set    the owners that hold at least one record
    {ns}:lease:<owner>  string "1" with a PEXPIRE of the lease: the owner is alive while it exists
    {ns}:notice:<id>    string a webhook notice id seen (SET NX PX), by RedisDedupeStore

Every operation that reads and then writes is one Lua script, so it is atomic: of two claimers exactly one wins,
and two processes running ``claim_orphans`` at once never both get one record. Leases expire on the Redis
server's clock (``PEXPIRE``), and ``updated_at`` comes from ``TIME`` inside the script: skewed host clocks do not
matter. ``claim_orphans`` only visits the owners that hold records, and only the records of the dead ones.

Values: ``data`` goes through the ``encode``/``decode`` hooks (default: JSON). The session layer keeps the
``clientRequest`` (storage keys) out of ``data`` unless the user opts in with an encryption hook; with one, Redis
only ever holds ciphertext.

Redis unreachable (refused, reset, timed out, loading, a read-only replica): :class:`SessionStoreUnavailableError`,
chained to the client library's error. After such an error (or a cancellation) while a command was in flight the
outcome is unknown; see :mod:`agora_recording._store` for how to find out. A coredis client retries timeouts by
default (``retry_policy``): a retried ``claim_orphans`` whose first run did happen loses that reply, so prefer a
policy that retries connection errors only, as ``from_url`` does for redis-py.

Clients and event loops. Both stores take either client library, driven through one small internal protocol
(:class:`_Commands`: a script call, HMGET, SET ... GET, SET NX, EXISTS, DEL):

- redis-py's ``redis.asyncio.Redis`` (what ``from_url`` builds): **asyncio only**. On trio every call raises
  :class:`SessionStoreError` saying so, before anything is sent.
- ``coredis.Redis`` (>= 6.9, anyio-native; extra ``coredis``): asyncio **and trio**. Enter it yourself
  (``async with coredis.Redis.from_url(url, decode_responses=False) as client:``) and pass it to the constructor;
  the store never closes it. coredis is imported only when such a client is passed in.

A store, like its client, belongs to one event loop. A cancelled command does not poison a pooled connection
(redis-py >= 5.0.1 and coredis drop a connection whose reply was not read); the tests cancel mid-command with Redis
paused and check the next replies on the one pooled connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import sniffio

try:
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("agora_recording.redis needs redis-py >= 5.0.1: pip install 'agora-recording[redis]'") from exc

if TYPE_CHECKING:
    import coredis

from agora_recording._errors import InvalidRequestError
from agora_recording._store import (
    DEFAULT_LEASE,
    Decoder,
    Encoder,
    SessionConflictError,
    SessionNotFoundError,
    SessionOwnershipError,
    SessionRecord,
    SessionStoreDataError,
    SessionStoreError,
    SessionStoreUnavailableError,
    check_expected_revision,
    check_key,
    check_lease,
    check_limit,
    check_owner,
    decode_data,
    encode_data,
    json_decode,
    json_encode,
)
from agora_recording.redis import _store_scripts as scripts
from agora_recording.redis._store_commands import (
    _POOL_SIZE,
    _SOCKET_TIMEOUT,
    _check_seconds,
    _client_from_url,
    _commands_for,
    _ms,
    _text,
)

__all__ = [
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_NAMESPACE",
    "RedisDedupeStore",
    "RedisSessionStore",
]

DEFAULT_NAMESPACE = "agora_recording"
"""The default namespace: the hash tag every key of a store carries."""

DEFAULT_DEDUPE_TTL = 24 * 3600.0
"""How long :class:`RedisDedupeStore` remembers a notice id (seconds): Agora's resends come within minutes."""

MAX_NOTICE_ID_LENGTH = 256
_MAX_NAMESPACE_LENGTH = 100


_StoreT = TypeVar("_StoreT", bound="_RedisStoreBase")

# ----------------------------------------------------------------------------------------------- helpers


def _check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise InvalidRequestError("namespace", "must be a non-empty string")
    if "{" in namespace or "}" in namespace:
        raise InvalidRequestError("namespace", "must not contain '{' or '}' (it becomes the key's hash tag)")
    if len(namespace) > _MAX_NAMESPACE_LENGTH:
        raise InvalidRequestError("namespace", f"must be at most {_MAX_NAMESPACE_LENGTH} characters")
    return namespace


class _RedisStoreBase:
    """What both Redis stores share: the namespace, the client, error mapping and the event-loop check."""

    _kind = "RedisStore"

    def __init__(self, client: aioredis.Redis | coredis.Redis[Any], *, namespace: str) -> None:
        self._commands = _commands_for(client)
        self._namespace = _check_namespace(namespace)
        self._prefix = "{" + self._namespace + "}:"
        self._client = client
        self._owns_client = False

    @property
    def namespace(self) -> str:
        """The namespace (the ``{namespace}`` hash tag of every key)."""
        return self._namespace

    @property
    def client(self) -> aioredis.Redis | coredis.Redis[Any]:
        """The underlying client (``redis.asyncio.Redis`` or ``coredis.Redis``)."""
        return self._client

    async def __aenter__(self: _StoreT) -> _StoreT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the Redis client when this store created it (``from_url``); a client passed in stays open."""
        if self._owns_client:
            self._owns_client = False
            await self._commands.aclose()

    def _check_backend(self) -> None:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            return  # let the client library report it
        if library not in self._commands.backends:
            raise SessionStoreError(
                f"{self._kind} with a {self._commands.library} client runs on asyncio only, not on {library}; "
                "on trio pass a coredis client (RedisSessionStore(coredis_client)) or use MemorySessionStore"
            )

    async def _run(self, operation: str, call: Any) -> Any:
        """Await ``call`` (a coroutine of the client) and map the client library's errors onto the store's."""
        try:
            return await call
        except self._commands.unavailable as exc:
            raise SessionStoreUnavailableError(
                f"{self._kind} {operation}: Redis is unavailable ({type(exc).__name__}: {_text(exc)[:200]})"
            ) from exc
        except self._commands.failed as exc:
            raise SessionStoreError(
                f"{self._kind} {operation}: Redis refused the command ({type(exc).__name__}: {_text(exc)[:200]})"
            ) from exc


# ----------------------------------------------------------------------------------------------- sessions


class RedisSessionStore(_RedisStoreBase):
    """A :class:`~agora_recording.SessionStore` in Redis, shared by every process and host using ``namespace``.

    ``RedisSessionStore.from_url("redis://host:6379/0")`` creates (and :meth:`aclose` closes) its own client: a
    ``BlockingConnectionPool`` of ``max_connections`` with ``timeout`` seconds for connects, replies and a free
    connection. ``RedisSessionStore(client)`` uses your ``redis.asyncio.Redis`` or ``coredis.Redis`` (both with
    ``decode_responses=False``), and leaves it open. The rules of every operation are in
    :mod:`agora_recording._store`; Redis specifics in :mod:`agora_recording.redis._store`.

    - ``lease``: the default lease (seconds, :data:`~agora_recording._store.DEFAULT_LEASE`); expiry runs on the
      Redis server's clock.
    - ``encode``/``decode``: the data hooks (default JSON); put encryption here to store the ``clientRequest``.

    On a redis-py client asyncio only (on trio every call raises :class:`SessionStoreError`); on a coredis client
    asyncio and trio. Unreachable Redis: :class:`SessionStoreUnavailableError`.

    Example::

        async with RedisSessionStore.from_url("redis://127.0.0.1:6379/0") as store:
            await store.put("room-1", {"state": "started"}, owner=owner_id)
    """

    _kind = "RedisSessionStore"

    def __init__(
        self,
        client: aioredis.Redis | coredis.Redis[Any],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease: float = DEFAULT_LEASE,
        encode: Encoder = json_encode,
        decode: Decoder = json_decode,
    ) -> None:
        super().__init__(client, namespace=namespace)
        self._lease = check_lease(lease)
        self._encode = encode
        self._decode = decode
        self._scripts: dict[str, Any] = {
            name: self._commands.script(source)
            for name, source in (
                ("put", scripts.PUT),
                ("delete", scripts.DELETE),
                ("release", scripts.RELEASE),
                ("release_owner", scripts.RELEASE_OWNER),
                ("claim", scripts.CLAIM),
                ("claim_orphans", scripts.CLAIM_ORPHANS),
                ("records", scripts.RECORDS),
            )
        }

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        lease: float = DEFAULT_LEASE,
        encode: Encoder = json_encode,
        decode: Decoder = json_decode,
        max_connections: int = _POOL_SIZE,
        timeout: float = _SOCKET_TIMEOUT,
    ) -> RedisSessionStore:
        """A store with its own client for ``url`` (``redis://``, ``rediss://``, ``unix://``); nothing connects yet.

        Raises :class:`~agora_recording.InvalidRequestError` for a bad URL or argument.
        """
        client = _client_from_url(url, max_connections=max_connections, timeout=timeout)
        store = cls(client, namespace=namespace, lease=lease, encode=encode, decode=decode)
        store._owns_client = True
        return store

    def __repr__(self) -> str:
        return f"RedisSessionStore(namespace={self._namespace!r}, lease={self._lease!r})"

    @property
    def lease(self) -> float:
        """The default lease in seconds."""
        return self._lease

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}:{name}"

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        self._check_backend()
        return await self._run(name, self._commands.run(self._scripts[name], list(keys), [self._prefix, *args]))

    def _record(self, key: str, owner: object, revision: object, ts_ms: object, raw: object) -> SessionRecord:
        """A record from the stored fields (bytes, or integers from a script); SessionStoreDataError if malformed."""
        try:
            rev, ts = int(revision), int(ts_ms)  # type: ignore[call-overload]  # checked: TypeError/ValueError
        except (TypeError, ValueError) as exc:
            raise SessionStoreDataError(f"session record {key!r} in Redis is malformed") from exc
        if not isinstance(raw, bytes) or rev < 1:
            raise SessionStoreDataError(f"session record {key!r} in Redis is malformed")
        name = _text(owner) if owner is not None else ""
        return SessionRecord(
            key=key,
            owner=name or None,
            data=decode_data(self._decode, key, raw),
            revision=rev,
            updated_at=ts / 1000.0,
        )

    def _records(self, flat: Sequence[Any], *, owner: str | None, start: int) -> list[SessionRecord]:
        """Records from ``{ts, key, rev, data, ...}`` (claim_orphans, release_owner): all owned by ``owner``."""
        if not flat or not isinstance(flat[0], int):
            raise SessionStoreDataError("Redis answered a malformed list of records")
        ts = flat[0]
        out = [
            self._record(_text(flat[i]), owner, flat[i + 1], ts, flat[i + 2]) for i in range(start, len(flat) - 2, 3)
        ]
        return sorted(out, key=lambda record: record.key)

    def _refused(self, key: str, reply: Sequence[Any], *, owner: str) -> SessionStoreError:
        status = _text(reply[0])
        if status == "owner":
            previous = _text(reply[1])
            return SessionOwnershipError(key, owner=previous or None, requested_by=owner)
        if status == "absent":
            return SessionNotFoundError(key)
        return SessionStoreDataError(f"unexpected reply {status!r} from Redis for {key!r}")

    async def put(
        self, key: str, data: Mapping[str, Any], *, owner: str, expected_revision: int | None = None
    ) -> SessionRecord:
        """Create or update ``key`` as ``owner``; renews the owner's lease to at least :attr:`lease`.

        Raises :class:`SessionOwnershipError`, :class:`SessionConflictError`, :class:`InvalidRequestError`,
        :class:`SessionStoreUnavailableError`.
        """
        check_key(key)
        check_owner(owner)
        expected = check_expected_revision(expected_revision)
        raw = encode_data(self._encode, data)
        fresh = decode_data(self._decode, key, raw)  # the hooks must round-trip before anything is stored
        reply = await self._script(
            "put",
            [self._key("s", key)],
            [key, owner, raw, "" if expected is None else str(expected), _ms(self._lease)],
        )
        status = _text(reply[0])
        if status == "conflict":
            raise SessionConflictError(key, expected=expected or 0, actual=int(reply[1]))
        if status != "ok":
            raise self._refused(key, reply, owner=owner)
        return SessionRecord(
            key=key,
            owner=owner,
            data=fresh,
            revision=int(reply[1]),
            updated_at=int(reply[2]) / 1000.0,
        )

    async def get(self, key: str) -> SessionRecord | None:
        """The record of ``key``, or ``None``."""
        check_key(key)
        self._check_backend()
        owner, revision, ts, raw = await self._run(
            "get", self._commands.hmget(self._key("s", key), ["owner", "rev", "ts", "data"])
        )
        if revision is None:
            return None
        return self._record(key, owner, revision, ts, raw)

    async def delete(self, key: str, *, owner: str) -> bool:
        """Remove ``owner``'s record; ``False`` when absent; :class:`SessionOwnershipError` when not ``owner``'s."""
        check_key(key)
        check_owner(owner)
        reply = await self._script("delete", [self._key("s", key)], [key, owner])
        status = _text(reply[0])
        if status == "absent":
            return False
        if status != "ok":
            raise self._refused(key, reply, owner=owner)
        return True

    async def records(self, *, owner: str | None = None) -> list[SessionRecord]:
        """Every record sorted by key, or only ``owner``'s (``None``: no filter; released records have no owner)."""
        if owner is not None:
            check_owner(owner)
        index = self._prefix + "keys" if owner is None else self._key("o", owner)
        flat = await self._script("records", [index], [owner or ""])
        out = [
            self._record(_text(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4])
            for i in range(0, len(flat) - 4, 5)
        ]
        return sorted(out, key=lambda record: record.key)

    async def heartbeat(self, owner: str, *, lease: float | None = None) -> bool:
        """Set ``owner``'s lease to ``lease`` (default :attr:`lease`) from now; ``False`` when it had lapsed."""
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        self._check_backend()
        previous = await self._run(
            "heartbeat", self._commands.set_get(self._key("lease", owner), b"1", px=_ms(seconds))
        )
        return previous is not None

    async def is_alive(self, owner: str) -> bool:
        """Whether ``owner``'s lease is running (on the Redis server's clock)."""
        check_owner(owner)
        self._check_backend()
        return bool(await self._run("is_alive", self._commands.exists(self._key("lease", owner))))

    async def release(self, key: str, *, owner: str) -> SessionRecord:
        """Hand ``key`` off (owner ``None``); :class:`SessionNotFoundError`, :class:`SessionOwnershipError`."""
        check_key(key)
        check_owner(owner)
        reply = await self._script("release", [self._key("s", key)], [key, owner])
        if _text(reply[0]) != "ok":
            raise self._refused(key, reply, owner=owner)
        return self._record(key, None, reply[1], reply[2], reply[3])

    async def release_owner(self, owner: str) -> list[SessionRecord]:
        """Release every record of ``owner`` (sorted by key) and end its lease."""
        check_owner(owner)
        flat = await self._script("release_owner", [self._key("o", owner)], [owner])
        return self._records(flat, owner=None, start=1)

    async def claim(self, key: str, *, owner: str, lease: float | None = None) -> SessionRecord:
        """Take a released or orphaned record (atomic); renews ``owner``'s lease to at least ``lease``.

        Raises :class:`SessionNotFoundError`, or :class:`SessionOwnershipError` when a live owner holds it.
        """
        check_key(key)
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        reply = await self._script("claim", [self._key("s", key)], [key, owner, _ms(seconds)])
        if _text(reply[0]) != "ok":
            raise self._refused(key, reply, owner=owner)
        return self._record(key, owner, reply[1], reply[2], reply[3])

    async def claim_orphans(
        self, *, owner: str, lease: float | None = None, limit: int | None = None
    ) -> list[SessionRecord]:
        """Take (at most ``limit``) records of dead owners, sorted by key, in one atomic script.

        Renews ``owner``'s lease to at least ``lease`` first, so the claimant never counts as dead itself.
        """
        check_owner(owner)
        seconds = self._lease if lease is None else check_lease(lease)
        most = check_limit(limit)
        flat = await self._script("claim_orphans", [self._prefix + "owners"], [owner, _ms(seconds), most or 0])
        return self._records(flat, owner=owner, start=1)


# ----------------------------------------------------------------------------------------------- webhooks


class RedisDedupeStore(_RedisStoreBase):
    """Remembers webhook notice ids across processes: :meth:`seen_before` is True for a repeat (a ``DedupeStore``).

    Each id is one key ``{namespace}:notice:<id>`` set with ``SET NX PX ttl`` (atomic: of several processes
    receiving the same notice at once, exactly one gets ``False``), expiring after ``ttl`` seconds
    (:data:`DEFAULT_DEDUPE_TTL`, 24 h). ``from_url`` and the constructor (redis-py or coredis client) work as for
    :class:`RedisSessionStore`; unreachable Redis raises :class:`SessionStoreUnavailableError`.
    """

    _kind = "RedisDedupeStore"

    def __init__(
        self,
        client: aioredis.Redis | coredis.Redis[Any],
        *,
        namespace: str = DEFAULT_NAMESPACE,
        ttl: float = DEFAULT_DEDUPE_TTL,
    ) -> None:
        super().__init__(client, namespace=namespace)
        self._ttl = _check_seconds(ttl, "ttl")

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        ttl: float = DEFAULT_DEDUPE_TTL,
        max_connections: int = _POOL_SIZE,
        timeout: float = _SOCKET_TIMEOUT,
    ) -> RedisDedupeStore:
        """A dedupe store with its own client for ``url``; nothing connects yet."""
        client = _client_from_url(url, max_connections=max_connections, timeout=timeout)
        store = cls(client, namespace=namespace, ttl=ttl)
        store._owns_client = True
        return store

    def __repr__(self) -> str:
        return f"RedisDedupeStore(namespace={self._namespace!r}, ttl={self._ttl!r})"

    @property
    def ttl(self) -> float:
        """How long a notice id is remembered (seconds)."""
        return self._ttl

    def _notice_key(self, notice_id: str) -> str:
        if not isinstance(notice_id, str) or not notice_id:
            raise InvalidRequestError("notice_id", "must be a non-empty string")
        if len(notice_id) > MAX_NOTICE_ID_LENGTH:
            raise InvalidRequestError("notice_id", f"must be at most {MAX_NOTICE_ID_LENGTH} characters")
        return f"{self._prefix}notice:{notice_id}"

    async def seen_before(self, notice_id: str) -> bool:
        """Record ``notice_id``; ``True`` when it was already recorded (a repeat to skip), ``False`` the first time."""
        key = self._notice_key(notice_id)
        self._check_backend()
        created = await self._run("seen_before", self._commands.set_nx(key, b"1", px=_ms(self._ttl)))
        return not created

    async def forget(self, notice_id: str) -> None:
        """Drop ``notice_id``, so a resend is handled again (call it when handling the notice failed)."""
        key = self._notice_key(notice_id)
        self._check_backend()
        await self._run("forget", self._commands.delete(key))
