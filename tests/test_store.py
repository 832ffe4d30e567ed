"""The session store contract, run against MemorySessionStore (asyncio and trio) and RedisSessionStore (a real
redis-server): ownership rules, revisions, leases, release and claims, concurrent claimers, the data hooks.

Lease expiry: the memory store runs on a VirtualClock that the test moves; the Redis store gets a 1 ms lease and
the test waits (bounded) until Redis itself has expired it. No verdict depends on wall-clock timing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import pytest

from agora_recording._errors import AgoraError, InvalidRequestError
from agora_recording._store import (
    DEFAULT_LEASE,
    MemorySessionStore,
    SessionConflictError,
    SessionNotFoundError,
    SessionOwnershipError,
    SessionRecord,
    SessionStore,
    SessionStoreDataError,
    json_decode,
    json_encode,
    new_owner_id,
)
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

HANG_GUARD = 30.0
"""Real seconds after which a deadlocked test fails instead of hanging; no passing verdict depends on it."""

A, B, C = "owner-a", "owner-b", "owner-c"
SNAPSHOT = {"version": 1, "cname": "room-1", "uid": "527841", "mode": "mix", "resource_id": "r-1", "sid": None}


class Harness:
    """One store under test plus the backend-specific way to let an owner's lease run out."""

    def __init__(self, store: SessionStore, *, kind: str) -> None:
        self.store = store
        self.kind = kind

    async def lapse(self, owner: str) -> None:
        """Make ``owner`` dead (its lease runs out) without touching any other owner's lease."""
        await self.store.heartbeat(owner, lease=0.001)
        await self._let_time_pass(owner)
        assert not await self.store.is_alive(owner)

    async def _let_time_pass(self, owner: str) -> None:
        raise NotImplementedError


class MemoryHarness(Harness):
    def __init__(self, store: MemorySessionStore, clock: VirtualClock) -> None:
        super().__init__(store, kind="memory")
        self.clock = clock

    async def _let_time_pass(self, owner: str) -> None:
        self.clock.advance(0.002)


class RedisHarness(Harness):
    async def _let_time_pass(self, owner: str) -> None:
        with anyio.fail_after(5):  # Redis expires a 1 ms key within its next expiry cycle
            while await self.store.is_alive(owner):  # noqa: ASYNC110 - polling Redis, nothing local to wait on
                await anyio.sleep(0.002)


KINDS = [
    pytest.param(("memory", "asyncio"), id="memory-asyncio"),
    pytest.param(("memory", "trio"), id="memory-trio"),
    pytest.param(("redis", "asyncio"), id="redis-asyncio"),  # RedisSessionStore on a redis.asyncio client
    pytest.param(("coredis", "asyncio"), id="coredis-asyncio"),  # RedisSessionStore on a coredis client
    pytest.param(("coredis", "trio"), id="coredis-trio"),
]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    return tuple(request.param)  # type: ignore[return-value]


@pytest.fixture
def anyio_backend(kind: tuple[str, str]) -> str:
    """The memory store and a coredis-backed store run on asyncio and trio; one on redis.asyncio on asyncio only."""
    return kind[1]


OpenStore = Callable[..., AbstractAsyncContextManager[Harness]]


@pytest.fixture
def open_store(kind: tuple[str, str], request: pytest.FixtureRequest) -> OpenStore:
    """``async with open_store(encode=..., decode=...) as h``: a fresh, empty store of the parametrized kind."""
    url = None if kind[0] == "memory" else request.getfixturevalue("redis_server").url
    if kind[0] == "coredis":
        pytest.importorskip("coredis", reason="coredis is not installed (pip install 'agora-recording[coredis]')")

    @asynccontextmanager
    async def opener(**options: Any) -> AsyncIterator[Harness]:
        if url is None:
            clock = VirtualClock(start=1000.0)
            yield MemoryHarness(MemorySessionStore(clock=clock, **options), clock)
            return
        from agora_recording.redis import RedisSessionStore

        if kind[0] == "redis":
            async with RedisSessionStore.from_url(url, **options) as store:
                with anyio.fail_after(HANG_GUARD):
                    yield RedisHarness(store, kind="redis")
            return
        import coredis

        async with coredis.Redis.from_url(url, decode_responses=False) as client:
            with anyio.fail_after(HANG_GUARD):
                yield RedisHarness(RedisSessionStore(client, **options), kind="coredis")

    return opener


# ------------------------------------------------------------------------------------------ put / get / delete


async def test_put_creates_a_record_at_revision_one_and_get_returns_it(open_store: OpenStore) -> None:
    """A first put creates the record (owner, data, revision 1); get returns an equal snapshot; unknown keys: None."""
    async with open_store() as h:
        created = await h.store.put("s1", SNAPSHOT, owner=A)
        assert (created.key, created.owner, created.revision, dict(created.data)) == ("s1", A, 1, SNAPSHOT)
        got = await h.store.get("s1")
        assert got == created
        assert got is not None
        assert got.updated_at > 1_600_000_000
        assert await h.store.get("nope") is None
        assert isinstance(h.store, SessionStore)


async def test_owner_updates_bump_the_revision_and_others_are_refused(open_store: OpenStore) -> None:
    """The owner's put is an update (revision + 1); another owner's put raises SessionOwnershipError, no change."""
    async with open_store() as h:
        await h.store.put("s1", SNAPSHOT, owner=A)
        updated = await h.store.put("s1", {**SNAPSHOT, "sid": "sid-1"}, owner=A)
        assert updated.revision == 2
        assert updated.data["sid"] == "sid-1"
        with pytest.raises(SessionOwnershipError) as info:
            await h.store.put("s1", {"evil": True}, owner=B)
        assert (info.value.key, info.value.owner, info.value.requested_by) == ("s1", A, B)
        assert isinstance(info.value, AgoraError)
        after = await h.store.get("s1")
        assert after is not None
        assert after.revision == 2
        assert after.data["sid"] == "sid-1"
        assert after.owner == A


async def test_expected_revision_gives_optimistic_concurrency(open_store: OpenStore) -> None:
    """expected_revision=0 means must-not-exist; n must match the current revision; otherwise SessionConflictError."""
    async with open_store() as h:
        with pytest.raises(SessionConflictError) as missing:
            await h.store.put("s1", SNAPSHOT, owner=A, expected_revision=3)
        assert (missing.value.expected, missing.value.actual) == (3, 0)
        assert await h.store.get("s1") is None
        await h.store.put("s1", SNAPSHOT, owner=A, expected_revision=0)
        with pytest.raises(SessionConflictError) as exists:
            await h.store.put("s1", SNAPSHOT, owner=A, expected_revision=0)
        assert (exists.value.expected, exists.value.actual) == (0, 1)
        assert (await h.store.put("s1", {"n": 2}, owner=A, expected_revision=1)).revision == 2
        with pytest.raises(SessionConflictError) as stale:
            await h.store.put("s1", {"n": 3}, owner=A, expected_revision=1)
        assert (stale.value.key, stale.value.expected, stale.value.actual) == ("s1", 1, 2)
        got = await h.store.get("s1")
        assert got is not None
        assert dict(got.data) == {"n": 2}


async def test_records_are_snapshots_the_caller_cannot_change(open_store: OpenStore) -> None:
    """Mutating the dict given to put, or the data of a returned record, never changes what the store holds."""
    async with open_store() as h:
        data: dict[str, Any] = {"nested": {"a": [1, 2]}}
        record = await h.store.put("s1", data, owner=A)
        data["nested"]["a"].append(3)
        record.data["nested"]["a"].append(4)
        got = await h.store.get("s1")
        assert got is not None
        assert got.data == {"nested": {"a": [1, 2]}}
        assert got.data is not (await h.store.get("s1")).data  # type: ignore[union-attr]


async def test_delete_needs_the_owner(open_store: OpenStore) -> None:
    """delete: False when absent, SessionOwnershipError for another owner, True for the owner (then gone)."""
    async with open_store() as h:
        assert await h.store.delete("s1", owner=A) is False
        await h.store.put("s1", SNAPSHOT, owner=A)
        with pytest.raises(SessionOwnershipError):
            await h.store.delete("s1", owner=B)
        assert await h.store.get("s1") is not None
        assert await h.store.delete("s1", owner=A) is True
        assert await h.store.get("s1") is None
        assert await h.store.records() == []
        assert await h.store.records(owner=A) == []
        await h.store.put("s1", SNAPSHOT, owner=B)  # the key is free again for anyone
        assert (await h.store.records(owner=B))[0].revision == 1


async def test_records_lists_all_sorted_or_one_owners(open_store: OpenStore) -> None:
    """records() is every record sorted by key (released ones included); records(owner=) only that owner's."""
    async with open_store() as h:
        for key, owner in [("k3", A), ("k1", B), ("k2", A), ("k4", C)]:
            await h.store.put(key, {"key": key}, owner=owner)
        await h.store.release("k4", owner=C)
        everything = await h.store.records()
        assert [(r.key, r.owner) for r in everything] == [("k1", B), ("k2", A), ("k3", A), ("k4", None)]
        assert [r.data["key"] for r in everything] == ["k1", "k2", "k3", "k4"]
        assert [r.key for r in await h.store.records(owner=A)] == ["k2", "k3"]
        assert await h.store.records(owner=C) == []


# ------------------------------------------------------------------------------------------ leases


async def test_heartbeat_reports_whether_the_lease_was_still_running(open_store: OpenStore) -> None:
    """heartbeat is False for an owner with no running lease, True while it runs, False again after it lapsed."""
    async with open_store() as h:
        assert not await h.store.is_alive(A)
        assert await h.store.heartbeat(A) is False
        assert await h.store.is_alive(A)
        assert await h.store.heartbeat(A) is True
        await h.lapse(A)
        assert await h.store.heartbeat(A) is False
        assert await h.store.is_alive(A)
        assert h.store.lease == DEFAULT_LEASE


async def test_a_write_renews_the_writers_lease(open_store: OpenStore) -> None:
    """put makes its owner alive (so a record is never born orphaned), and a dead owner's write revives it."""
    async with open_store() as h:
        await h.store.put("s1", SNAPSHOT, owner=A)
        assert await h.store.is_alive(A)
        assert await h.store.claim_orphans(owner=B) == []
        await h.lapse(A)
        await h.store.put("s1", SNAPSHOT, owner=A)  # nobody claimed it meanwhile: A carries on
        assert await h.store.is_alive(A)
        assert await h.store.claim_orphans(owner=B) == []


# ------------------------------------------------------------------------------------------ release and claim


async def test_claim_takes_only_released_or_dead_owners_records(open_store: OpenStore) -> None:
    """claim: a live owner's record is refused; a dead owner's is taken (revision + 1); the old owner is locked out."""
    async with open_store() as h:
        await h.store.put("s1", SNAPSHOT, owner=A)
        with pytest.raises(SessionOwnershipError) as info:
            await h.store.claim("s1", owner=B)
        assert info.value.owner == A
        with pytest.raises(SessionNotFoundError) as missing:
            await h.store.claim("nope", owner=B)
        assert missing.value.key == "nope"
        await h.lapse(A)
        taken = await h.store.claim("s1", owner=B)
        assert (taken.owner, taken.revision, dict(taken.data)) == (B, 2, SNAPSHOT)
        assert await h.store.is_alive(B)
        with pytest.raises(SessionOwnershipError):  # A wakes up: its write must not clobber B's session
            await h.store.put("s1", {"stale": True}, owner=A)
        assert [r.key for r in await h.store.records(owner=B)] == ["s1"]
        assert await h.store.records(owner=A) == []
        again = await h.store.claim("s1", owner=B)  # one's own record: idempotent, no new revision
        assert again.revision == 2
        assert again.owner == B


async def test_release_hands_a_record_off_for_a_later_claim(open_store: OpenStore) -> None:
    """release keeps the record with no owner (revision + 1); the ex-owner can no longer write; anyone may claim it,
    even while the ex-owner is alive; orphan recovery leaves it alone."""
    async with open_store() as h:
        await h.store.put("s1", SNAPSHOT, owner=A)
        released = await h.store.release("s1", owner=A)
        assert (released.owner, released.revision, dict(released.data)) == (None, 2, SNAPSHOT)
        assert await h.store.records(owner=A) == []
        with pytest.raises(SessionOwnershipError) as info:
            await h.store.put("s1", SNAPSHOT, owner=A)
        assert info.value.owner is None
        assert "released" in str(info.value)
        with pytest.raises(SessionOwnershipError):
            await h.store.release("s1", owner=A)
        with pytest.raises(SessionNotFoundError):
            await h.store.release("nope", owner=A)
        await h.lapse(A)
        assert await h.store.claim_orphans(owner=C) == []  # released is not orphaned
        taken = await h.store.claim("s1", owner=B)
        assert (taken.owner, taken.revision) == (B, 3)


async def test_release_owner_releases_everything_and_ends_the_lease(open_store: OpenStore) -> None:
    """A graceful close: every record of the owner is released (sorted), its lease ends, others are untouched."""
    async with open_store() as h:
        for key in ("k2", "k1"):
            await h.store.put(key, {"key": key}, owner=A)
        await h.store.put("k3", {"key": "k3"}, owner=B)
        released = await h.store.release_owner(A)
        assert [(r.key, r.owner, r.revision, r.data["key"]) for r in released] == [
            ("k1", None, 2, "k1"),
            ("k2", None, 2, "k2"),
        ]
        assert not await h.store.is_alive(A)
        assert await h.store.is_alive(B)
        assert [(r.key, r.owner) for r in await h.store.records()] == [("k1", None), ("k2", None), ("k3", B)]
        assert await h.store.claim_orphans(owner=C) == []  # closing gracefully is not crashing
        assert await h.store.release_owner(A) == []


async def test_claim_orphans_takes_exactly_the_dead_owners_records(open_store: OpenStore) -> None:
    """claim_orphans takes the records of dead owners only: not a live owner's, not released ones, not its own;
    a second call finds nothing; the claimant is alive afterwards."""
    async with open_store() as h:
        await h.store.put("dead-1", {"n": 1}, owner=A)
        await h.store.put("dead-2", {"n": 2}, owner=A)
        await h.store.put("live", {"n": 3}, owner=B)
        await h.store.put("handed-off", {"n": 4}, owner=A)
        await h.store.release("handed-off", owner=A)
        await h.store.put("mine", {"n": 5}, owner=C)
        await h.lapse(A)
        await h.lapse(C)  # the claimant's own lapsed lease is renewed first, so its records stay its own
        taken = await h.store.claim_orphans(owner=C)
        assert [(r.key, r.owner, r.revision, r.data["n"]) for r in taken] == [("dead-1", C, 2, 1), ("dead-2", C, 2, 2)]
        assert await h.store.is_alive(C)
        assert await h.store.claim_orphans(owner=C) == []
        assert await h.store.claim_orphans(owner="owner-d") == []
        owners = {r.key: r.owner for r in await h.store.records()}
        assert owners == {"dead-1": C, "dead-2": C, "live": B, "handed-off": None, "mine": C}


async def test_claim_orphans_limit_takes_batches(open_store: OpenStore) -> None:
    """limit caps one call; repeated calls take the rest, each record once."""
    async with open_store() as h:
        for i in range(5):
            await h.store.put(f"k{i}", {"i": i}, owner=A)
        await h.lapse(A)
        batches = []
        for _ in range(10):
            batch = await h.store.claim_orphans(owner=B, limit=2)
            if not batch:
                break
            batches.append(len(batch))
        assert batches == [2, 2, 1]
        assert {r.key for r in await h.store.records(owner=B)} == {f"k{i}" for i in range(5)}


async def test_concurrent_claims_of_one_record_have_exactly_one_winner(open_store: OpenStore) -> None:
    """Eight tasks claim one orphaned record at once: one wins, seven get SessionOwnershipError naming the winner."""
    async with open_store() as h:
        await h.store.put("s1", SNAPSHOT, owner=A)
        await h.lapse(A)
        winners: list[str] = []
        losers: list[str | None] = []

        async def claimer(name: str) -> None:
            try:
                await h.store.claim("s1", owner=name)
            except SessionOwnershipError as exc:
                losers.append(exc.owner)
            else:
                winners.append(name)

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(claimer, f"claimer-{i}")
        assert len(winners) == 1
        assert len(losers) == 7
        assert set(losers) == {winners[0]}
        record = await h.store.get("s1")
        assert record is not None
        assert record.owner == winners[0]
        assert record.revision == 2


async def test_concurrent_claim_orphans_partition_the_orphans(open_store: OpenStore) -> None:
    """Six tasks recover 30 orphans of three dead owners in small batches at once: every record is won exactly once,
    and the store agrees with what each claimer was told."""
    async with open_store() as h:
        expected = set()
        for owner in ("dead-1", "dead-2", "dead-3"):
            for i in range(10):
                await h.store.put(f"{owner}/{i}", {"i": i}, owner=owner)
                expected.add(f"{owner}/{i}")
            await h.lapse(owner)
        await h.store.put("live/0", {}, owner=A)
        won: dict[str, list[str]] = {}

        async def recover(name: str) -> None:
            won[name] = []
            for _ in range(len(expected) + 1):  # bounded: at least one record per non-empty round
                batch = await h.store.claim_orphans(owner=name, limit=2)
                if not batch:
                    return
                won[name].extend(r.key for r in batch)
                assert all(r.owner == name for r in batch)

        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(recover, f"recoverer-{i}")
        every = [key for keys in won.values() for key in keys]
        assert sorted(every) == sorted(expected)  # all taken, none twice
        assert sum(1 for keys in won.values() if keys) >= 2  # the claimers really interleaved
        final = {r.key: r.owner for r in await h.store.records()}
        for name, keys in won.items():
            assert all(final[key] == name for key in keys)
        assert final["live/0"] == A


# ------------------------------------------------------------------------------------------ data hooks


def xor_encode(data: Mapping[str, Any]) -> bytes:
    """A stand-in for an encryption hook (tests only; use real encryption such as Fernet in production)."""
    raw = json_encode(data)
    return b"x1:" + base64.b64encode(bytes(b ^ 0x5A for b in raw))


def xor_decode(raw: bytes) -> Mapping[str, Any]:
    if not raw.startswith(b"x1:"):
        raise ValueError("not produced by xor_encode")
    return json_decode(bytes(b ^ 0x5A for b in base64.b64decode(raw[3:])))


async def test_encode_decode_hooks_round_trip(open_store: OpenStore) -> None:
    """Data passes through the encode hook on the way in and the decode hook on the way out, on every operation."""
    async with open_store(encode=xor_encode, decode=xor_decode) as h:
        secret = {"client_request": {"storage_config": {"secret_key": "SECRET-KEY-CANARY"}}}
        assert (await h.store.put("s1", secret, owner=A)).data == secret
        assert (await h.store.get("s1")).data == secret  # type: ignore[union-attr]
        assert (await h.store.records())[0].data == secret
        assert (await h.store.release("s1", owner=A)).data == secret
        assert (await h.store.claim("s1", owner=B)).data == secret
        await h.lapse(B)
        assert [r.data for r in await h.store.claim_orphans(owner=C)] == [secret]
        assert [r.data for r in await h.store.release_owner(C)] == [secret]


async def test_a_failing_decode_hook_is_a_typed_error_without_the_data(open_store: OpenStore) -> None:
    """Stored bytes the decode hook rejects raise SessionStoreDataError naming the key, never the bytes; a put whose
    data does not survive the hooks' round trip is refused before anything is stored."""
    broken = False

    def fickle_decode(raw: bytes) -> Mapping[str, Any]:
        if broken:
            raise ValueError(f"wrong key for {raw!r}")
        return json_decode(raw)

    async with open_store(decode=fickle_decode) as h:
        await h.store.put("s1", {"secret": "SECRET-KEY-CANARY"}, owner=A)
        broken = True
        for call in (h.store.get("s1"), h.store.records(), h.store.put("s2", {"secret": "SECRET-KEY-CANARY"}, owner=A)):
            with pytest.raises(SessionStoreDataError) as info:
                await call
            assert "ValueError" in str(info.value)
            assert "CANARY" not in str(info.value)
            assert "'s1'" in str(info.value) or "'s2'" in str(info.value)
        broken = False
        assert [r.key for r in await h.store.records()] == ["s1"]  # the refused put stored nothing


async def test_bad_arguments_are_refused_before_the_store_is_touched(open_store: OpenStore) -> None:
    """Empty or non-string keys and owners, bad leases and limits, and data that is not JSON raise
    InvalidRequestError naming the field; nothing is written."""
    async with open_store() as h:
        cases: list[tuple[str, Any]] = [
            ("key", h.store.put("", SNAPSHOT, owner=A)),
            ("key", h.store.get(42)),  # type: ignore[arg-type]
            ("key", h.store.put("k" * 1025, SNAPSHOT, owner=A)),
            ("owner", h.store.put("s1", SNAPSHOT, owner="")),
            ("owner", h.store.claim("s1", owner=None)),  # type: ignore[arg-type]
            ("data", h.store.put("s1", {"x": object()}, owner=A)),
            ("data", h.store.put("s1", {"x": float("nan")}, owner=A)),
            ("data", h.store.put("s1", ["not", "a", "mapping"], owner=A)),  # type: ignore[arg-type]
            ("lease", h.store.heartbeat(A, lease=0)),
            ("lease", h.store.claim_orphans(owner=A, lease=float("inf"))),
            ("limit", h.store.claim_orphans(owner=A, limit=0)),
            ("expected_revision", h.store.put("s1", SNAPSHOT, owner=A, expected_revision=-1)),
        ]
        for field, call in cases:
            with pytest.raises(InvalidRequestError) as info:
                await call
            assert info.value.field == field
        assert await h.store.records() == []
        assert not await h.store.is_alive(A)


# ------------------------------------------------------------------------------------------ memory only


@pytest.mark.parametrize("kind", [pytest.param(("memory", "asyncio"), id="memory-asyncio")])
async def test_memory_leases_follow_the_injected_clock() -> None:
    """A memory lease lasts exactly ``lease`` seconds on the injected clock: alive just before, dead at the deadline."""
    clock = VirtualClock()
    store = MemorySessionStore(lease=10.0, clock=clock, wall_clock=lambda: 1234.5)
    record = await store.put("s1", SNAPSHOT, owner=A)
    assert record.updated_at == 1234.5
    clock.advance(9.999)
    assert await store.is_alive(A)
    assert await store.claim_orphans(owner=B) == []
    clock.advance(0.001)
    assert not await store.is_alive(A)
    assert [r.key for r in await store.claim_orphans(owner=B)] == ["s1"]
    await store.heartbeat(B, lease=100.0)
    await store.put("s2", {}, owner=B)  # a write never shortens a longer lease
    clock.advance(50.0)
    assert await store.is_alive(B)


@pytest.mark.parametrize("kind", [pytest.param(("memory", "asyncio"), id="memory-asyncio")])
async def test_memory_operation_cancelled_at_its_checkpoint_changes_nothing() -> None:
    """A call that is cancelled before it runs (its one checkpoint) has no effect: no record, no lease."""
    store = MemorySessionStore(clock=VirtualClock())
    with anyio.CancelScope() as scope:
        scope.cancel()
        await store.put("s1", SNAPSHOT, owner=A)
    assert scope.cancelled_caught
    assert await store.records() == []
    assert not await store.is_alive(A)


def test_session_record_repr_hides_the_data() -> None:
    """repr(SessionRecord) shows key, owner and revision, never the snapshot (it may carry an encrypted request)."""
    record = SessionRecord(key="s1", owner=A, data={"secret_key": "SECRET-KEY-CANARY"}, revision=1, updated_at=0.0)
    assert "CANARY" not in repr(record)
    assert "s1" in repr(record)
    assert "CANARY" not in repr(MemorySessionStore())


def test_new_owner_id_is_unique_and_names_the_process() -> None:
    """Owner ids carry the host and pid (readable in logs) and differ per call."""
    import os

    first, second = new_owner_id(), new_owner_id()
    assert first != second
    assert f":{os.getpid()}:" in first


def test_importing_the_package_never_imports_redis() -> None:
    """``import agora_recording`` (and its session store) never loads redis-py or coredis; ``agora_recording.redis``
    never loads coredis until a coredis client is passed in."""
    code = (
        "import sys\n"
        "import agora_recording, agora_recording._store\n"
        "assert 'redis' not in sys.modules, sorted(m for m in sys.modules if m.startswith('redis'))\n"
        "assert 'coredis' not in sys.modules\n"
        "try:\n"
        "    import agora_recording.redis\n"
        "except ImportError:  # redis-py not installed: nothing more to check\n"
        "    pass\n"
        "assert 'coredis' not in sys.modules  # loaded only when a coredis client is passed in\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_without_redis_py_the_redis_module_says_what_to_install() -> None:
    """With redis-py missing, taking a store from ``agora_recording.redis`` fails with an ImportError naming the extra
    (the package itself still imports, for RedisRateLimiter.from_url to say the same)."""
    code = (
        "import sys\n"
        "sys.modules['redis'] = None  # as if redis-py were not installed\n"
        "try:\n"
        "    from agora_recording.redis import RedisSessionStore\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "agora-recording[redis]" in result.stdout


def test_default_json_hooks_are_strict() -> None:
    """The default decoder accepts only a JSON object; the encoder refuses NaN (it would not round-trip)."""
    assert json_decode(json_encode({"b": 1, "a": [None]})) == {"a": [None], "b": 1}
    assert json_encode({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    with pytest.raises(TypeError):
        json_decode(b"[1, 2]")
    with pytest.raises(ValueError, match="JSON compliant"):
        json_encode({"x": float("nan")})
    assert json.loads(json_encode({"é": "ü"})) == {"é": "ü"}
