"""RedisSessionStore and RedisDedupeStore against a real redis-server: what lands in Redis (hash tags, no raw
secrets), Redis going away and coming back, cancellation mid-command (redis-py on asyncio, coredis on asyncio and
trio), the trio refusal of redis-py, and real OS processes racing for orphans or dying with SIGKILL while they hold
records.

Every child process is started by a context manager that kills it in ``finally``; every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from _redis_server import RedisServer, running_redis

try:
    import redis.asyncio as aioredis
    from redis.crc import key_slot
except ImportError:  # the rest of the suite runs without the extra; CI (AGORA_REQUIRE_REDIS=1) must not skip
    if os.environ.get("AGORA_REQUIRE_REDIS") == "1":
        raise
    pytest.skip("redis-py is not installed (pip install 'agora-recording[redis]')", allow_module_level=True)

from agora_recording._errors import InvalidRequestError
from agora_recording._store import (
    SessionOwnershipError,
    SessionStoreDataError,
    SessionStoreError,
    SessionStoreUnavailableError,
    json_decode,
    json_encode,
)
from agora_recording.redis import RedisDedupeStore, RedisSessionStore

pytestmark = pytest.mark.anyio

HANG_GUARD = 60.0
"""Real seconds after which a stuck test fails instead of hanging; no passing verdict depends on it."""

SECRET = "SECRET-KEY-CANARY-7f3a"


@pytest.fixture
def anyio_backend() -> str:
    """RedisSessionStore is asyncio-only (redis.asyncio); the trio refusal has its own test."""
    return "asyncio"


async def raw_client(server: RedisServer) -> aioredis.Redis:
    return aioredis.Redis.from_url(server.url, decode_responses=False)


async def everything_in_redis(client: aioredis.Redis) -> dict[bytes, Any]:
    """Every key and its whole value, read with plain commands (what an operator with redis-cli would see)."""
    dump: dict[bytes, Any] = {}
    for key in await client.keys("*"):
        kind = (await client.type(key)).decode()
        if kind == "hash":
            dump[key] = await client.hgetall(key)
        elif kind == "set":
            dump[key] = await client.smembers(key)
        else:
            dump[key] = await client.get(key)
    return dump


async def wait_dead(store: RedisSessionStore, owner: str, *, within: float = 10.0) -> None:
    with anyio.fail_after(within):
        while await store.is_alive(owner):  # noqa: ASYNC110 - polling Redis, nothing local to wait on
            await anyio.sleep(0.01)


# coredis 6.9 leaves the internal anyio memory streams of a connection that failed or was cancelled unclosed, so the
# garbage collector warns (ResourceWarning); that is coredis's own leak, not the store's. session_store() collects
# garbage when its coredis client closes, so the warnings surface (filtered) in the coredis test, not a later one.
_COREDIS_UNCLOSED_STREAMS = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <function MemoryObject(Send|Receive)Stream.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)
LIBRARIES = [
    pytest.param("redis", "asyncio", id="redis.asyncio"),
    pytest.param("coredis", "asyncio", id="coredis-asyncio", marks=_COREDIS_UNCLOSED_STREAMS),
    pytest.param("coredis", "trio", id="coredis-trio", marks=_COREDIS_UNCLOSED_STREAMS),
]
"""(client library, anyio backend) pairs a RedisSessionStore runs on: redis-py needs asyncio, coredis runs on both."""


@asynccontextmanager
async def session_store(
    server: RedisServer, library: str, *, connections: int = 10, **options: Any
) -> AsyncIterator[RedisSessionStore]:
    """A RedisSessionStore on a redis-py client (from_url, as users build it) or on a coredis client of ours."""
    if library == "redis":
        async with RedisSessionStore.from_url(server.url, max_connections=connections, timeout=2.0, **options) as store:
            yield store
        return
    coredis = pytest.importorskip("coredis", reason="coredis is not installed (pip install 'agora-recording[coredis]')")
    client = coredis.Redis.from_url(
        server.url, decode_responses=False, max_connections=connections, stream_timeout=2.0, connect_timeout=2.0
    )
    try:
        async with client:
            yield RedisSessionStore(client, **options)
    finally:
        gc.collect()


# ------------------------------------------------------------------------------------------ what Redis holds


def xor_encode(data: Mapping[str, Any]) -> bytes:
    """A stand-in for an encryption hook (tests only; use real encryption such as Fernet in production)."""
    return base64.b64encode(bytes(b ^ 0x5A for b in json_encode(data)))


def xor_decode(raw: bytes) -> Mapping[str, Any]:
    return json_decode(bytes(b ^ 0x5A for b in base64.b64decode(raw)))


async def test_a_secret_put_through_the_encode_hook_never_appears_raw_in_redis(redis_server: RedisServer) -> None:
    """With an encryption hook, no key or value in Redis contains the secret (checked with raw HGETALL/GET/SMEMBERS);
    without one, the same check finds it, so the check itself works."""
    client = await raw_client(redis_server)
    try:
        data = {"client_request": {"storage_config": {"secret_key": SECRET}}, "cname": "room-1"}
        async with RedisSessionStore.from_url(redis_server.url, encode=xor_encode, decode=xor_decode) as store:
            await store.put("room-1", data, owner="a")
            await store.release("room-1", owner="a")
            assert (await store.claim("room-1", owner="b")).data == data
        dump = await everything_in_redis(client)
        assert len(dump) >= 4  # record, index, owner set, owners, lease
        assert SECRET.encode() not in repr(dump).encode()
        await client.flushall()
        async with RedisSessionStore.from_url(redis_server.url) as plain:
            await plain.put("room-1", data, owner="a")
        assert SECRET.encode() in repr(await everything_in_redis(client)).encode()
    finally:
        await client.aclose()


async def test_every_key_of_a_namespace_shares_one_cluster_slot(redis_server: RedisServer) -> None:
    """All keys carry the {namespace} hash tag (one Redis Cluster slot per namespace); namespaces do not mix."""
    client = await raw_client(redis_server)
    try:
        async with (
            RedisSessionStore.from_url(redis_server.url, namespace="tenant-1") as one,
            RedisSessionStore.from_url(redis_server.url, namespace="tenant-2") as two,
        ):
            dedupe = RedisDedupeStore(one.client, namespace="tenant-1")
            await one.put("k1", {"n": 1}, owner="a")
            await one.put("k2", {"n": 2}, owner="b")
            await one.release("k2", owner="b")
            await one.heartbeat("c")
            await dedupe.seen_before("notice-1")
            await two.put("k1", {"n": 100}, owner="a")
            assert [(r.key, r.data["n"]) for r in await one.records()] == [("k1", 1), ("k2", 2)]
            assert [(r.key, r.data["n"]) for r in await two.records()] == [("k1", 100)]
        keys = await client.keys("*")
        slots = {key: key_slot(key) for key in keys}
        tenant_1 = {k for k in keys if k.startswith(b"{tenant-1}:")}
        assert len(tenant_1) >= 6
        assert {slots[k] for k in tenant_1} == {key_slot(b"{tenant-1}")}
        assert all(k.startswith((b"{tenant-1}:", b"{tenant-2}:")) for k in keys)
    finally:
        await client.aclose()


async def test_corrupt_or_foreign_values_are_typed_errors(redis_server: RedisServer) -> None:
    """Garbage where a record should be (bad bytes, hostile nesting, a missing field, another type) raises a
    SessionStoreError subclass, never a bare KeyError/ValueError/RecursionError."""
    client = await raw_client(redis_server)
    try:
        async with RedisSessionStore.from_url(redis_server.url, namespace="ns") as store:
            await client.hset("{ns}:s:bad-bytes", mapping={"owner": "a", "rev": 1, "ts": 1, "data": b"\xff\xfe{"})
            await client.hset("{ns}:s:deep", mapping={"owner": "a", "rev": 1, "ts": 1, "data": b"[" * 200_000})
            await client.hset("{ns}:s:array", mapping={"owner": "a", "rev": 1, "ts": 1, "data": b"[1, 2]"})
            await client.hset("{ns}:s:no-data", mapping={"owner": "a", "rev": 1, "ts": 1})
            await client.hset("{ns}:s:bad-rev", mapping={"owner": "a", "rev": "x", "ts": 1, "data": b"{}"})
            for key in ("bad-bytes", "deep", "array", "no-data", "bad-rev"):
                with pytest.raises(SessionStoreDataError):
                    await store.get(key)
            await client.sadd("{ns}:keys", "bad-rev")
            with pytest.raises(SessionStoreDataError):  # a listing never shifts fields from one record to the next
                await store.records()
            await client.set("{ns}:s:a-string", b"not a hash")
            with pytest.raises(SessionStoreError) as info:
                await store.put("a-string", {}, owner="a")
            assert "WRONGTYPE" in str(info.value)
    finally:
        await client.aclose()


# ------------------------------------------------------------------------------------------ Redis down, cancellation


@pytest.mark.parametrize(("library", "anyio_backend"), LIBRARIES)
async def test_redis_restarted_mid_run_gives_typed_errors_then_works_again(library: str) -> None:
    """While Redis is down every operation raises SessionStoreUnavailableError (chained to the client's error); once it
    is back (same address, data lost: no persistence) the same store works again, scripts reloaded by itself."""
    with running_redis() as server:
        async with session_store(server, library) as store:
            dedupe = RedisDedupeStore(store.client)
            with anyio.fail_after(HANG_GUARD):
                await store.put("s1", {"n": 1}, owner="a")
                assert await dedupe.seen_before("n1") is False
                server.stop()
                calls = [
                    store.get("s1"),
                    store.put("s1", {"n": 2}, owner="a"),
                    store.heartbeat("a"),
                    store.claim_orphans(owner="b"),
                    store.records(),
                    dedupe.seen_before("n1"),
                ]
                for call in calls:
                    with pytest.raises(SessionStoreUnavailableError) as info:
                        await call
                    assert info.value.__cause__ is not None
                server.start()
                assert await store.get("s1") is None
                assert (await store.put("s1", {"n": 3}, owner="a")).revision == 1
                assert [r.data["n"] for r in await store.claim_orphans(owner="b")] == []
                assert await dedupe.seen_before("n1") is False


async def test_unreachable_redis_at_start_is_a_typed_error() -> None:
    """A URL where nothing listens: SessionStoreUnavailableError from the first call, not a hang or a bare OSError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        async with RedisSessionStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=2.0) as store:
            with anyio.fail_after(HANG_GUARD), pytest.raises(SessionStoreUnavailableError):
                await store.get("s1")
        async with RedisDedupeStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=2.0) as dedupe:
            with anyio.fail_after(HANG_GUARD), pytest.raises(SessionStoreUnavailableError):
                await dedupe.seen_before("n1")


def pause_redis(server: RedisServer, milliseconds: int) -> None:
    """CLIENT PAUSE ... ALL: from the +OK on, Redis holds every client's commands (unanswered) for that long."""
    words = ["CLIENT", "PAUSE", str(milliseconds), "ALL"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall((f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)).encode())
        assert sock.recv(16) == b"+OK\r\n"


@pytest.mark.parametrize(("library", "anyio_backend"), LIBRARIES)
async def test_a_command_cancelled_mid_flight_does_not_poison_the_pooled_connection(
    redis_server: RedisServer, library: str
) -> None:
    """With one pooled connection, a call cancelled while it waits for its reply (Redis paused) must not leave that
    reply behind for the next caller: later calls get their own, right answers (the 2023 redis-py CVEs)."""
    async with session_store(redis_server, library, connections=1, namespace="cancel") as store:
        with anyio.fail_after(HANG_GUARD):
            for name in ("a", "b"):
                await store.put(name, {"name": name}, owner="o")  # also opens the one pooled connection
            for victim in ("get", "claim"):
                pause_redis(redis_server, 400)
                with anyio.move_on_after(0.1) as scope:
                    if victim == "get":
                        await store.get("a")
                    else:
                        await store.claim("a", owner="o")
                assert scope.cancelled_caught  # it was sent and waiting for Redis' reply: cancelled mid-command
                got_b = await store.get("b")  # answered once the pause is over
                got_a = await store.get("a")
                assert got_b is not None
                assert got_b.data == {"name": "b"}
                assert got_a is not None
                assert got_a.data == {"name": "a"}
                assert await store.heartbeat("o") is True
                assert [r.key for r in await store.records(owner="o")] == ["a", "b"]


def test_on_trio_a_redis_py_store_says_it_is_asyncio_only(redis_server: RedisServer) -> None:
    """RedisSessionStore and RedisDedupeStore on a redis.asyncio client refuse trio with a clear SessionStoreError
    pointing to coredis, before touching Redis."""
    store = RedisSessionStore.from_url(redis_server.url)
    dedupe = RedisDedupeStore.from_url(redis_server.url)

    async def main() -> list[str]:
        messages = []
        for call in (store.get("s1"), store.put("s1", {}, owner="a"), store.heartbeat("a"), dedupe.seen_before("n")):
            with pytest.raises(SessionStoreError) as info:
                await call
            messages.append(str(info.value))
        return messages

    messages = anyio.run(main, backend="trio")
    assert all("asyncio only" in m and "trio" in m and "coredis" in m for m in messages)
    assert not isinstance(SessionStoreError("x"), SessionStoreUnavailableError)


def test_on_trio_a_coredis_store_and_dedupe_work(redis_server: RedisServer) -> None:
    """The same stores on a coredis client run under trio (coredis is anyio-native), against the same data."""
    coredis = pytest.importorskip("coredis", reason="coredis is not installed (pip install 'agora-recording[coredis]')")

    async def main() -> tuple[list[str], list[bool]]:
        async with coredis.Redis.from_url(redis_server.url, decode_responses=False) as client:
            store = RedisSessionStore(client, namespace="trio")
            dedupe = RedisDedupeStore(client, namespace="trio")
            await store.put("s1", {"n": 1}, owner="a")
            await store.release("s1", owner="a")
            claimed = await store.claim("s1", owner="b")
            assert claimed.owner == "b"
            return [r.key for r in await store.records(owner="b")], [
                await dedupe.seen_before("n"),
                await dedupe.seen_before("n"),
            ]

    keys, answers = anyio.run(main, backend="trio")
    assert keys == ["s1"]
    assert answers == [False, True]


# ------------------------------------------------------------------------------------------ construction


def test_construction_checks_its_arguments(redis_server: RedisServer) -> None:
    """Bad namespaces (a brace would break the hash tag), URLs, leases, and a decode_responses client are refused
    by name; repr never shows the URL's password."""
    for kwargs, field in [
        ({"namespace": "a{b}"}, "namespace"),
        ({"namespace": ""}, "namespace"),
        ({"lease": 0}, "lease"),
        ({"timeout": -1}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
    ]:
        with pytest.raises(InvalidRequestError) as info:
            RedisSessionStore.from_url(redis_server.url, **kwargs)
        assert info.value.field == field
    with pytest.raises(InvalidRequestError) as bad_url:
        RedisSessionStore.from_url("http://example.invalid/")
    assert bad_url.value.field == "url"
    with pytest.raises(InvalidRequestError) as decoding:
        RedisSessionStore(aioredis.Redis.from_url(redis_server.url, decode_responses=True))
    assert decoding.value.field == "client"
    with pytest.raises(InvalidRequestError) as not_a_client:
        RedisDedupeStore(redis_server.url)  # type: ignore[arg-type]
    assert not_a_client.value.field == "client"
    coredis = pytest.importorskip("coredis", reason="coredis is not installed")
    with pytest.raises(InvalidRequestError) as coredis_decoding:
        RedisSessionStore(coredis.Redis.from_url(redis_server.url, decode_responses=True))
    assert coredis_decoding.value.field == "client"
    with pytest.raises(InvalidRequestError) as ttl:
        RedisDedupeStore.from_url(redis_server.url, ttl=float("nan"))
    assert ttl.value.field == "ttl"
    store = RedisSessionStore.from_url("redis://:hunter2-password@127.0.0.1:1/0", namespace="n", lease=5)
    assert "hunter2" not in repr(store)
    assert repr(store) == "RedisSessionStore(namespace='n', lease=5.0)"
    with pytest.raises(InvalidRequestError) as bad_port:
        RedisSessionStore.from_url("redis://:hunter2-password@127.0.0.1:port/0")
    assert "hunter2" not in str(bad_port.value)


async def test_a_client_passed_in_is_not_closed(redis_server: RedisServer) -> None:
    """The store closes only a client it created (from_url); one you pass in stays usable after the store closes."""
    client = await raw_client(redis_server)
    try:
        async with RedisSessionStore(client) as store:
            await store.put("s1", {}, owner="a")
        assert await client.ping() is True
    finally:
        await client.aclose()


# ------------------------------------------------------------------------------------------ dedupe


async def test_dedupe_reports_repeats_and_expires_ids(redis_server: RedisServer) -> None:
    """seen_before: False the first time, True after; each id independent; the key expires after ttl (on Redis'
    clock); forget makes an id new again; bad ids are refused by name."""
    client = await raw_client(redis_server)
    try:
        store = RedisDedupeStore(client, namespace="hooks", ttl=3600)
        assert await store.seen_before("n1") is False
        assert await store.seen_before("n1") is True
        assert await store.seen_before("n2") is False
        assert 0 < await client.pttl("{hooks}:notice:n1") <= 3_600_000
        await store.forget("n1")
        assert await store.seen_before("n1") is False
        short = RedisDedupeStore(client, namespace="hooks", ttl=0.05)
        assert await short.seen_before("brief") is False
        with anyio.fail_after(10):
            while await short.seen_before("brief"):  # noqa: ASYNC110 - polling Redis; NX never extends the ttl
                await anyio.sleep(0.01)
        for bad in ("", "x" * 257, None):
            with pytest.raises(InvalidRequestError) as info:
                await store.seen_before(bad)  # type: ignore[arg-type]
            assert info.value.field == "notice_id"
    finally:
        await client.aclose()


async def test_dedupe_concurrent_deliveries_have_exactly_one_first(redis_server: RedisServer) -> None:
    """Twenty tasks see the same notice id at once: exactly one is told it is new."""
    async with RedisDedupeStore.from_url(redis_server.url) as store:
        answers: list[bool] = []

        async def deliver() -> None:
            answers.append(await store.seen_before("notice-42"))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(deliver)
        assert sorted(answers) == [False] + [True] * 19


# ------------------------------------------------------------------------------------------ real OS processes

CHILD = r"""
import json, sys, time
import anyio
from agora_recording.redis import RedisSessionStore

async def recover(url, namespace, owner):
    async with RedisSessionStore.from_url(url, namespace=namespace) as store:
        await store.heartbeat(owner)  # connected before the start line
        print("ready", flush=True)
        sys.stdin.readline()
        won = []
        for _ in range(1000):
            batch = await store.claim_orphans(owner=owner, limit=2)
            if not batch:
                break
            won.extend(r.key for r in batch)
        print(json.dumps(won), flush=True)

async def hold(url, namespace, owner, count):
    async with RedisSessionStore.from_url(url, namespace=namespace, lease=2.0) as store:
        for i in range(count):
            await store.put(f"{owner}/{i}", {"i": i}, owner=owner)
        print("ready", flush=True)
        deadline = time.monotonic() + 60  # ends by itself if nobody kills it
        while time.monotonic() < deadline:
            await store.heartbeat(owner)
            await anyio.sleep(0.05)

mode, url, namespace, owner, *rest = sys.argv[1:]
if mode == "recover":
    anyio.run(recover, url, namespace, owner)
else:
    anyio.run(hold, url, namespace, owner, int(rest[0]))
"""


class Child:
    """A child process with line reads that time out (raw pipes, so select() never misses buffered data)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self._buffer = b""

    def read_line(self, timeout: float = 30.0) -> str:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        for _ in range(10_000):  # bounded; each round either reads or waits for at most ``timeout``
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                return line.decode()
            ready, _, _ = select.select([fd], [], [], timeout)
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"child gave no line (exit {self.process.poll()}): {self.stderr()}")
            self._buffer += chunk
        raise AssertionError("child wrote an endless stream")

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def children(*arg_lists: list[str]) -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        for args in arg_lists:
            started.append(Child(*args))
        yield started
    finally:
        for child in started:
            child.close()


async def test_concurrent_recovery_by_four_processes_gives_each_orphan_to_exactly_one(
    redis_server: RedisServer,
) -> None:
    """Four OS processes run claim_orphans (in batches of 2) at the same moment over 60 orphans of three dead owners:
    each record is won by exactly one process, and Redis agrees with what each was told."""
    namespace = "race"
    async with RedisSessionStore.from_url(redis_server.url, namespace=namespace) as store:
        with anyio.fail_after(HANG_GUARD):
            expected = set()
            for dead in ("dead-1", "dead-2", "dead-3"):
                for i in range(20):
                    await store.put(f"{dead}/{i}", {"i": i}, owner=dead)
                    expected.add(f"{dead}/{i}")
                await store.heartbeat(dead, lease=0.001)
            await store.put("live/0", {}, owner="live")
            for dead in ("dead-1", "dead-2", "dead-3"):
                await wait_dead(store, dead)
            owners = [f"recoverer-{i}" for i in range(4)]
            with children(*(["recover", redis_server.url, namespace, o] for o in owners)) as procs:
                for proc in procs:
                    assert await anyio.to_thread.run_sync(proc.read_line) == "ready"
                for proc in procs:
                    proc.send("go\n")
                won = {
                    o: json.loads(await anyio.to_thread.run_sync(p.read_line))
                    for o, p in zip(owners, procs, strict=True)
                }
            every = [key for keys in won.values() for key in keys]
            assert sorted(every) == sorted(expected)  # all recovered, none twice
            final = {r.key: r.owner for r in await store.records()}
            assert all(final[key] == owner for owner, keys in won.items() for key in keys)
            assert final["live/0"] == "live"


async def test_a_worker_killed_with_sigkill_leaves_exactly_its_records_to_recover(redis_server: RedisServer) -> None:
    """A real process holds 5 records and heartbeats (lease 2 s, every 50 ms). While it lives nothing is an orphan;
    after SIGKILL its lease runs out on Redis' clock and another process's claim_orphans gets exactly its 5 records,
    leaving a live owner's record and a released one alone."""
    namespace = "crash"
    async with RedisSessionStore.from_url(redis_server.url, namespace=namespace) as store:
        with anyio.fail_after(HANG_GUARD):
            await store.put("bystander/0", {}, owner="bystander")
            await store.put("handed-off/0", {}, owner="leaver")
            await store.release("handed-off/0", owner="leaver")
            with children(["hold", redis_server.url, namespace, "victim", "5"]) as (victim,):
                assert await anyio.to_thread.run_sync(victim.read_line) == "ready"
                held = await store.records(owner="victim")
                assert [r.key for r in held] == [f"victim/{i}" for i in range(5)]
                assert await store.is_alive("victim")
                assert await store.claim_orphans(owner="rescuer") == []
                os.kill(victim.process.pid, signal.SIGKILL)
                await anyio.to_thread.run_sync(victim.process.wait, 10)
                assert victim.process.returncode == -signal.SIGKILL
            await wait_dead(store, "victim")
            await store.heartbeat("bystander")  # alive all along (30 s lease), renewed for good measure
            taken = await store.claim_orphans(owner="rescuer")
            assert [(r.key, r.owner, r.revision) for r in taken] == [(f"victim/{i}", "rescuer", 2) for i in range(5)]
            assert [r.data["i"] for r in taken] == list(range(5))
            assert await store.claim_orphans(owner="rescuer-2") == []
            final = {r.key: r.owner for r in await store.records()}
            assert final["bystander/0"] == "bystander"
            assert final["handed-off/0"] is None
            with pytest.raises(SessionOwnershipError):  # a zombie victim could not write any more
                await store.put("victim/0", {}, owner="victim")
