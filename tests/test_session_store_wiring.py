"""The client's session store wiring (MemorySessionStore, in-process, on a virtual clock, asyncio and trio).

The typed snapshot, the record written before a start is sent, deletion on stop, hand-off and claim by key, the
lease and the release at a graceful close, the store down (the recording goes on, the write is retried), and
``recover_sessions()`` (stop, orphan, adopt, two recoverers at once).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from _support import client_for, make_fake, request_for

from agora_recording import (
    APITimeoutError,
    InvalidRequestError,
    MemorySessionStore,
    RecoveryOutcome,
    SessionNotFoundError,
    SessionOwnershipError,
    SessionSnapshot,
    SessionState,
    SessionStoreUnavailableError,
    StartOutcomeUnknownError,
)
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

LEASE = 30.0


@pytest.fixture
def vc() -> VirtualClock:
    return VirtualClock(start=1000.0)


class WatchedStore(MemorySessionStore):
    """A memory store that notes each put (state, starts the fake had received) and can be switched off."""

    def __init__(self, fake: FakeAgoraServer, vc: VirtualClock) -> None:
        super().__init__(lease=LEASE, clock=vc)
        self.fake = fake
        self.down = False
        self.puts: list[tuple[str, int]] = []

    def _check(self) -> None:
        if self.down:
            raise SessionStoreUnavailableError("the test switched the store off")

    async def put(self, key: str, data: Mapping[str, Any], **kwargs: Any) -> Any:
        self._check()
        starts = sum(1 for r in self.fake.requests if r.endpoint == "start")
        self.puts.append((str(data["state"]), starts))
        return await super().put(key, data, **kwargs)

    async def delete(self, key: str, **kwargs: Any) -> bool:
        self._check()
        return await super().delete(key, **kwargs)

    async def heartbeat(self, owner: str, **kwargs: Any) -> bool:
        self._check()
        return await super().heartbeat(owner, **kwargs)


async def test_snapshot_is_typed_versioned_round_trips_and_holds_no_secret(vc: VirtualClock) -> None:
    """snapshot() is a frozen SessionSnapshot; its JSON round trip is equal; no token or storage key is in it;
    resume_session takes the typed snapshot and the dict, and refuses a store key with a pointer to claim_session."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        snap = rec.snapshot()
        assert isinstance(snap, SessionSnapshot)
        assert snap.version == 1
        assert snap.state is SessionState.RECORDING
        assert snap.sid == rec.sid
        text = json.dumps(snap.to_json())
        assert SessionSnapshot.from_json(json.loads(text)) == snap
        state = rec.to_state()
        assert state.pop("acquired_at_unix") == pytest.approx(snap.acquired_at_unix, abs=1.0)  # time.time() based
        assert state == {k: v for k, v in snap.to_json().items() if k != "acquired_at_unix"}
        for secret in ("RTC-TOKEN-CANARY", "ACCESS-KEY-CANARY", "SECRET-KEY-CANARY", fake.customer_secret):
            assert secret not in text
        resumed = client.resume_session(snap)
        assert resumed.sid == rec.sid
        assert resumed.key == rec.key
        with pytest.raises(InvalidRequestError, match="claim_session"):
            client.resume_session(rec.key)  # type: ignore[arg-type]  # the wrong type on purpose
        with pytest.raises(InvalidRequestError, match="last_status"):
            SessionSnapshot.from_json({**snap.to_json(), "last_status": "4"})
        await resumed.stop()


async def test_the_record_exists_before_the_start_is_sent_and_is_deleted_on_stop(vc: VirtualClock) -> None:
    """The first put says 'starting' (with the resourceId) while the fake has seen no start; then 'recording';
    stop deletes the record; a graceful close leaves no record and no live lease."""
    fake = make_fake(vc)
    store = WatchedStore(fake, vc)
    async with client_for(fake, vc, session_store=store) as client:
        owner = client.owner_id
        assert owner is not None
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        assert store.puts[:2] == [("starting", 0), ("recording", 1)]
        record = await store.get(rec.key)
        assert record is not None
        assert record.owner == owner
        assert record.data["resource_id"] == rec.resource_id
        assert record.data["sid"] == rec.sid
        await rec.stop()
        assert await store.get(rec.key) is None
    assert await store.records() == []
    assert not await store.is_alive(owner)


async def test_a_starting_record_names_cname_uid_mode_and_resource_id(vc: VirtualClock) -> None:
    """A start whose answer never comes (a timeout fault) leaves the 'starting' record behind for recovery."""
    fake = make_fake(vc)
    store = WatchedStore(fake, vc)
    fake.inject("start", kind="timeout", when="after", count=10)
    async with vc.autojump(), client_for(fake, vc, session_store=store) as client:
        rec = client.session(cname="room2", uid="7", mode="individual", client_request=request_for("individual"))
        with pytest.raises((APITimeoutError, StartOutcomeUnknownError)):  # the outcome is unknown: the point
            await rec.start()
        assert rec.state is SessionState.UNKNOWN
        record = await store.get(rec.key)
        assert record is not None
        assert record.data["cname"] == "room2"
        assert record.data["uid"] == "7"
        assert record.data["mode"] == "individual"
        assert record.data["resource_id"] == rec.resource_id
        assert record.data["sid"] is None
    # The unknown start is not released at close: it is left to look crashed, so recovery reports it.
    record = await store.get(rec.key)
    assert record is not None
    assert record.owner is not None
    vc.advance(0.01)  # the close ended the lease (1 ms left)
    assert not await store.is_alive(record.owner)


async def test_hand_off_then_claim_by_key_in_another_client_and_stop(vc: VirtualClock) -> None:
    """Worker A starts and hands off (the record is released at once); worker B claims the key and stops it;
    the record is gone; claiming again says not found. A live owner's record cannot be claimed."""
    fake = make_fake(vc)
    store = MemorySessionStore(lease=LEASE, clock=vc)
    async with client_for(fake, vc, session_store=store) as a, client_for(fake, vc, session_store=store) as b:
        kept = a.session(cname="room0", uid="9", mode="mix", client_request=request_for("mix"))
        await kept.start()
        with pytest.raises(SessionOwnershipError):
            await b.claim_session(kept.key)  # A is alive and did not hand it off
        rec = a.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        key = await a.hand_off(rec)
        record = await store.get(key)
        assert record is not None
        assert record.owner is None
        resumed = await b.claim_session(key)
        assert resumed.sid == rec.sid
        assert resumed.state is SessionState.RECORDING
        response = await resumed.stop()
        assert not response.already_stopped
        assert await store.get(key) is None
        with pytest.raises(SessionNotFoundError):
            await b.claim_session(key)
        await kept.stop()
    assert fake.running_recordings() == []


async def test_a_graceful_close_releases_handed_off_and_claimed_sessions(vc: VirtualClock) -> None:
    """to_state() in A, A closes: the record is released (not stopped, not orphaned); B claims it and B's close
    releases it again (it still records); C stops it."""
    fake = make_fake(vc)
    store = MemorySessionStore(lease=LEASE, clock=vc)
    async with client_for(fake, vc, session_store=store) as a:
        rec = a.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        rec.to_state()
        key = rec.key
    record = await store.get(key)
    assert record is not None
    assert record.owner is None
    assert len(fake.running_recordings()) == 1
    async with client_for(fake, vc, session_store=store) as b:
        await b.claim_session(key)
        assert (await b.recover_sessions()).sessions == ()  # released records are not orphans
    record = await store.get(key)
    assert record is not None
    assert record.owner is None
    async with client_for(fake, vc, session_store=store) as c:
        await (await c.claim_session(key)).stop()
    assert fake.running_recordings() == []
    assert await store.records() == []


async def test_the_store_down_does_not_lose_the_recording_and_the_write_is_retried(
    vc: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """With the store off, start and stop still work (a WARNING each time); once it is back, the lease tick writes
    the pending record; the stop's delete, failed while down, is retried at close."""
    fake = make_fake(vc)
    store = WatchedStore(fake, vc)
    caplog.set_level(logging.WARNING, logger="agora_recording")
    async with client_for(fake, vc, session_store=store) as client:
        store.down = True
        rec = client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix"))
        await rec.start()
        assert rec.state is SessionState.RECORDING
        assert any("session store put failed" in r.getMessage() for r in caplog.records)
        assert await store.get(rec.key) is None
        store.down = False
        for _ in range(3):  # the lease loop writes pending changes every lease / 3
            vc.advance(LEASE / 3)
            await anyio.lowlevel.checkpoint()
            if await store.get(rec.key) is not None:
                break
        record = await store.get(rec.key)
        assert record is not None
        assert record.data["state"] == "recording"
        store.down = True
        await rec.stop()
        assert rec.state is SessionState.STOPPED
        store.down = False
    assert await store.records() == []
    assert "CANARY" not in caplog.text


async def _dead_owner_records(fake: FakeAgoraServer, vc: VirtualClock, store: MemorySessionStore, n: int) -> None:
    """``n`` recordings started (not stopped), plus one start of unknown outcome, recorded under a dead owner."""
    async with client_for(fake, vc) as starter:
        for i in range(n):
            rec = starter.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix"))
            await rec.start()
            await store.put(rec.key, rec.to_state(), owner="dead-worker")
        lost = starter.session(cname="lost", uid="2", mode="mix", client_request=request_for("mix"))
        await lost.acquire()
        data = {**lost.to_state(), "state": "starting"}
        await store.put(lost.key, data, owner="dead-worker")
    await store.heartbeat("dead-worker", lease=0.001)
    vc.advance(1.0)


async def test_recover_sessions_stops_what_a_dead_owner_left_and_reports_the_orphan(vc: VirtualClock) -> None:
    """Three recordings and one unknown start under a dead owner: three stopped, one orphan, 0 left running,
    no record left; a second recovery finds nothing."""
    fake = make_fake(vc)
    store = MemorySessionStore(lease=LEASE, clock=vc)
    await _dead_owner_records(fake, vc, store, 3)
    async with client_for(fake, vc, session_store=store) as client:
        report = await client.recover_sessions()
        assert len(report.stopped) == 3
        assert len(report.orphans) == 1
        assert report.failed == ()
        assert report.orphans[0].cname == "lost"
        assert report.orphans[0].sid is None
        assert report.to_json()["counts"]["stopped"] == 3
        assert fake.running_recordings() == []
        assert await store.records() == []
        assert (await client.recover_sessions()).sessions == ()


async def test_recover_sessions_adopt_keeps_them_recording_until_the_client_closes(vc: VirtualClock) -> None:
    """adopt=True: the recordings keep running, owned by this client in the store, and its close stops them."""
    fake = make_fake(vc)
    store = MemorySessionStore(lease=LEASE, clock=vc)
    await _dead_owner_records(fake, vc, store, 2)
    async with client_for(fake, vc, session_store=store) as client:
        report = await client.recover_sessions(adopt=True)
        assert len(report.adopted) == 2
        assert len(report.orphans) == 1
        assert len(fake.running_recordings()) == 2
        assert {r.owner for r in await store.records()} == {client.owner_id}
    assert fake.running_recordings() == []
    assert await store.records() == []


async def test_two_clients_recovering_at_once_never_both_act_on_one_session(vc: VirtualClock) -> None:
    """Two recover_sessions() at once: every session is in exactly one report; all stopped."""
    fake = make_fake(vc, rate_limit=None)
    store = MemorySessionStore(lease=LEASE, clock=vc)
    await _dead_owner_records(fake, vc, store, 6)  # 13 requests: the fake is made without its rate limit
    reports: list[Any] = []
    async with client_for(fake, vc, session_store=store) as a, client_for(fake, vc, session_store=store) as b:

        async def recover(client: Any) -> None:
            reports.append(await client.recover_sessions())

        async with anyio.create_task_group() as tg:
            tg.start_soon(recover, a)
            tg.start_soon(recover, b)
    keys = [s.key for r in reports for s in r.sessions]
    assert len(keys) == len(set(keys)) == 7
    outcomes = [s.outcome for r in reports for s in r.sessions]
    assert outcomes.count(RecoveryOutcome.STOPPED) == 6
    assert fake.running_recordings() == []
