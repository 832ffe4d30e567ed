"""RecordingSupervisor across processes, in one process: a fleet in a MemorySessionStore on one virtual clock.

A "process" is a client + supervisor on the shared store and fake. A crash is simulated by cutting both of its
links at once (its store calls raise SessionStoreUnavailableError, its HTTP requests fail to connect): from then on
it can neither renew its lease nor touch a recording, exactly what the rest of the world sees of a SIGKILLed
process (tests/test_supervisor_processes.py does the real thing). Its recordings keep running on the fake.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from _supervisor_support import Collector, FailoverTransport
from _support import client_for, make_fake, request_for

from agora_recording import (
    ClientRequest,
    CloudRecordingClient,
    HandleState,
    InvalidRequestError,
    MemorySessionStore,
    RecordingSupervisor,
    RecoveryOutcome,
    ResumeOutcome,
    SessionStateError,
    SessionStoreUnavailableError,
    TokenBucket,
)
from agora_recording._supervisor_records import HandleData, UnitData, fleet_prefix
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

MIX = request_for("mix")
LEASE = 30.0


class Link:
    """A process's two links to the world (store and HTTP); ``cut()`` severs both at once (a crash)."""

    def __init__(self, store: MemorySessionStore, inner: httpx.AsyncBaseTransport) -> None:
        self.cut_off = False  # HTTP
        self.store_cut = False
        self.store = _CutStore(store, self)
        self.transport = _CutTransport(inner, self)

    def cut(self, *, http: bool = True) -> None:
        self.cut_off = http
        self.store_cut = True


class _CutTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, link: Link) -> None:
        self._inner = inner
        self._link = link

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._link.cut_off:
            raise httpx.ConnectError("the process is dead", request=request)
        return await self._inner.handle_async_request(request)


class _CutStore:
    """A SessionStore that forwards to the shared one until its process dies."""

    def __init__(self, store: MemorySessionStore, link: Link) -> None:
        self._store = store
        self._link = link

    @property
    def lease(self) -> float:
        return self._store.lease

    def _alive(self) -> MemorySessionStore:
        if self._link.store_cut:
            raise SessionStoreUnavailableError("the process is dead")
        return self._store

    async def put(self, key: str, data: Mapping[str, Any], **kw: Any) -> Any:
        return await self._alive().put(key, data, **kw)

    async def get(self, key: str) -> Any:
        return await self._alive().get(key)

    async def delete(self, key: str, **kw: Any) -> Any:
        return await self._alive().delete(key, **kw)

    async def records(self, **kw: Any) -> Any:
        return await self._alive().records(**kw)

    async def heartbeat(self, owner: str, **kw: Any) -> Any:
        return await self._alive().heartbeat(owner, **kw)

    async def is_alive(self, owner: str) -> Any:
        return await self._alive().is_alive(owner)

    async def release(self, key: str, **kw: Any) -> Any:
        return await self._alive().release(key, **kw)

    async def release_owner(self, owner: str) -> Any:
        return await self._alive().release_owner(owner)

    async def claim(self, key: str, **kw: Any) -> Any:
        return await self._alive().claim(key, **kw)

    async def claim_orphans(self, **kw: Any) -> Any:
        return await self._alive().claim_orphans(**kw)


class World:
    def __init__(self) -> None:
        self.vc = VirtualClock(start=1000.0)
        self.fake = make_fake(self.vc)
        self.store = MemorySessionStore(lease=LEASE, clock=self.vc)

    def running(self) -> list[tuple[str, str, str]]:
        """(cname, uid, sid) of every recording running on the fake, sorted."""
        return sorted((r.cname, r.uid, r.sid) for r in self.fake.running_recordings())

    def starts(self) -> int:
        return len([r for r in self.fake.requests_to("start") if r.status == 200])


@pytest.fixture
def world() -> World:
    return World()


@asynccontextmanager
async def process(
    world: World, *, fleet: str | None = "fleet-1", inner: httpx.AsyncBaseTransport | None = None, **options: Any
) -> AsyncIterator[tuple[RecordingSupervisor, Collector, Link]]:
    link = Link(world.store, inner or world.fake.transport())
    limiter = TokenBucket(10, 1.0, clock=world.vc, sleep=world.vc.sleep)
    async with (
        client_for(world.fake, world.vc, transport=link.transport, rate_limiter=limiter, session_store=link.store) as c,
        anyio.create_task_group() as tg,
        RecordingSupervisor(c, fleet=fleet, query_interval=60.0, **options) as sup,
    ):
        collector = Collector(sup.events())
        tg.start_soon(collector.run)
        yield sup, collector, link


async def crashed_fleet(world: World, rooms: int, *, fleet: str = "fleet-1", backup: bool = False) -> dict[str, str]:
    """A process supervises ``rooms`` recordings and dies; returns {cname: sid}. Its lease has lapsed after this."""
    async with process(world, fleet=fleet) as (sup, _, link):
        handles = [
            await sup.add(
                cname=f"room{i}",
                uid="1001",
                alternate_uid="1002",
                mode="mix",
                client_request=MIX,
                backup=backup,
                backup_uid="2001" if backup else None,
            )
            for i in range(rooms)
        ]
        for handle in handles:
            await handle.wait_recording()
        await world.vc.sleep(LEASE / 2)  # the registry's lease ticks have written every change
        sids = {h.cname: h.sid for h in handles}
        link.cut()
    await world.vc.sleep(LEASE + 1)
    assert all(sid is not None for sid in sids.values())
    return {k: v for k, v in sids.items() if v is not None}


async def test_resume_after_a_crash_keeps_the_healthy_restarts_the_exited_and_stops_all_on_exit(world: World) -> None:
    """A crashed fleet of 3: resume adopts all 3 without a new start, restarts the one Agora ended (status 20) with
    the alternate uid, and its exit stops everything and leaves no record."""
    async with world.vc.autojump():
        sids = await crashed_fleet(world, 3)
        assert len(world.running()) == 3
        starts = world.starts()
        world.fake.end_recording(sids["room1"], reason="abnormal")
        async with process(world) as (sup, events, _):
            report = await sup.resume(client_request=MIX)
            assert [e.outcome for e in report.entries] == [ResumeOutcome.ADOPTED] * 3
            assert sorted(e.sid for e in report.entries if e.sid is not None) == sorted(sids.values())
            assert {e.previous_owner for e in report.entries} != {None}
            assert set(report.handles) == set(sup.handles)
            await world.vc.sleep(120)
            by_room = {h.cname: h for h in sup.handles}
            assert by_room["room0"].sid == sids["room0"]
            assert by_room["room2"].sid == sids["room2"]
            assert by_room["room1"].uid == "1002"
            assert by_room["room1"].restarts == 1
            assert all(h.state is HandleState.RECORDING for h in sup.handles)
            assert world.starts() == starts + 1  # only the exited one was started again
            running = world.running()
            assert [(c, u) for c, u, _ in running] == [("room0", "1001"), ("room1", "1002"), ("room2", "1001")]
            await events.settle()
            room1 = [e.kind for e in events.of("room1") if e.kind != "files"]
            assert room1 == ["resumed", "exited", "restarted"]
            restarted = next(e for e in events.of("room1") if e.kind == "restarted")
            assert restarted.details["previous_sid"] == sids["room1"]
            assert restarted.uid == "1002"
        assert world.running() == []
        assert await world.store.records() == []
        assert events.kinds().count("stopped") == 3


async def test_a_resumed_recording_in_failover_is_not_restarted(world: World) -> None:
    """404 "failed to find worker" for 60 s right after the resume: re-queried, never restarted."""
    async with world.vc.autojump():
        sids = await crashed_fleet(world, 1)
        failover = FailoverTransport(world.fake, world.vc)
        failover.fail_over(sids["room0"], 60.0)
        async with process(world, inner=failover) as (sup, events, _):
            report = await sup.resume(client_request=MIX)
            (handle,) = report.handles
            await world.vc.sleep(200)
            assert handle.sid == sids["room0"]
            assert handle.restarts == 0
            assert handle.state is HandleState.RECORDING
            assert failover.lost  # it did see the 404s
            await events.settle()
            assert [k for k in events.kinds() if k != "files"] == ["resumed", "failover"]
        assert world.running() == []


async def test_hand_off_then_resume_keeps_every_recording_and_its_backup(world: World) -> None:
    """A graceful hand-off (a rolling deploy): nothing stops; the next process resumes at once (no lease to wait)."""
    async with world.vc.autojump():
        async with process(world) as (sup, events, _):
            primary = await sup.add(
                cname="room0", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX, backup=True,
                backup_uid="2001", backup_alternate_uid="2002",
            )  # fmt: skip
            single = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
            for handle in (primary, single):
                await handle.wait_recording()
            assert primary.backup is not None
            await primary.backup.wait_recording()
            handed = await sup.hand_off()
            assert {h.state for h in handed} == {HandleState.HANDED_OFF}
            assert sup.handles == ()
            with pytest.raises(SessionStateError):
                await sup.add(cname="room9", uid="1001", mode="mix", client_request=MIX)
            await events.settle()
            assert events.kinds().count("handed_off") == 3
        before = world.running()
        assert len(before) == 3  # the exit stopped nothing
        assert {r.owner for r in await world.store.records()} == {None}  # all released
        starts = world.starts()
        async with process(world) as (sup, events, _):
            report = await sup.resume(client_request=lambda cname, uid: MIX)
            assert sorted(e.role for e in report.entries) == ["backup", "primary", "primary"]
            assert {e.outcome for e in report.entries} == {ResumeOutcome.ADOPTED}
            room0 = next(h for h in sup.handles if h.cname == "room0" and h.role == "primary")
            assert room0.backup is not None
            assert room0.backup.primary is room0
            assert room0.backup.uids == ("2001", "2002")
            await world.vc.sleep(120)
            assert world.running() == before
            assert world.starts() == starts
        assert world.running() == []
        assert await world.store.records() == []


async def test_two_supervisors_resuming_at_once_split_the_fleet(world: World) -> None:
    """Six handles of a crashed fleet, two resumers at once: each handle taken by exactly one, none started again."""
    async with world.vc.autojump():
        sids = await crashed_fleet(world, 6)
        starts = world.starts()
        reports = []
        async with process(world) as (sup_b, _, _), process(world) as (sup_c, _, _):

            async def resume(sup: RecordingSupervisor) -> None:
                reports.append(await sup.resume(client_request=MIX))

            async with anyio.create_task_group() as tg:
                tg.start_soon(resume, sup_b)
                tg.start_soon(resume, sup_c)
            taken = [e.cname for r in reports for e in r.entries]
            assert sorted(taken) == sorted(sids)  # every one, none twice
            assert all(e.outcome is ResumeOutcome.ADOPTED for r in reports for e in r.entries)
            assert len(sup_b.handles) + len(sup_c.handles) == 6
            await world.vc.sleep(120)
            assert sorted(sid for _, _, sid in world.running()) == sorted(sids.values())
            assert world.starts() == starts
        assert world.running() == []


async def test_another_fleet_and_recover_sessions_leave_a_fleet_alone(world: World) -> None:
    """Fleet "b" takes nothing of crashed fleet "a"; recover_sessions() releases a's records instead of stopping
    them; then a supervisor of fleet "a" resumes both recordings."""
    async with world.vc.autojump():
        sids = await crashed_fleet(world, 2, fleet="a")
        async with process(world, fleet="b") as (sup, _, _):
            report = await sup.resume(client_request=MIX)
            assert report.entries == ()
            assert report.swept == ()
            recovered = await sup._client.recover_sessions()
            assert recovered.sessions
            assert {s.outcome for s in recovered.sessions} == {RecoveryOutcome.SUPERVISED}
            assert recovered.supervised == recovered.sessions
        assert len(world.running()) == 2
        assert {r.owner for r in await world.store.records()} == {None}
        async with process(world, fleet="a") as (sup, _, _):
            report = await sup.resume(client_request=MIX)
            assert sorted(e.sid for e in report.entries if e.sid) == sorted(sids.values())
        assert world.running() == []


async def test_a_resumer_leaves_a_live_supervisors_fleet_alone(world: World) -> None:
    """A resume while the fleet's supervisor is alive takes nothing (held), and two fleets' records never mix."""
    async with world.vc.autojump(), process(world) as (sup_a, _, _):
        handle = await sup_a.add(cname="room0", uid="1001", mode="mix", client_request=MIX)
        await handle.wait_recording()
        async with process(world) as (sup_b, _, _):
            report = await sup_b.resume(client_request=MIX)
            assert report.entries == ()
            assert report.held == 1
        assert handle.state is HandleState.RECORDING
        keys = [r.key for r in await world.store.records()]
        assert all(k.startswith(fleet_prefix("fleet-1")) for k in keys)
        assert len(keys) == 2


async def test_a_supervisor_that_stalled_past_its_lease_neither_restarts_nor_stops_what_another_resumed(
    world: World,
) -> None:
    """A loses the store for longer than its lease (a stall); B resumes the fleet; A comes back. When Agora ends the
    recording, only B restarts it; A gives the handle up ("handed_off", taken_over) and its exit stops nothing."""
    async with world.vc.autojump(), process(world) as (sup_a, events_a, link_a):
        handle = await sup_a.add(cname="room0", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        sid = handle.sid
        assert sid is not None
        link_a.cut(http=False)
        await world.vc.sleep(LEASE + 1)
        async with process(world) as (sup_b, _, _):
            report = await sup_b.resume(client_request=MIX)
            assert [e.sid for e in report.entries] == [sid]
            link_a.store_cut = False  # A is back
            starts = world.starts()
            world.fake.end_recording(sid, reason="abnormal")
            await world.vc.sleep(300)
            assert world.starts() == starts + 1  # B's restart only
            assert handle.state is HandleState.HANDED_OFF
            await events_a.settle()
            assert events_a.of()[-1].kind == "handed_off"
            assert events_a.of()[-1].reason == "taken_over"
            (resumed,) = sup_b.handles
            assert resumed.state is HandleState.RECORDING
            assert resumed.uid == "1002"
            running = world.running()
            assert [(c, u) for c, u, _ in running] == [("room0", "1002")]
        assert world.running() == []


async def test_resume_stops_the_fleet_sessions_no_unit_names(world: World) -> None:
    """A remove() cut short by a crash leaves a session record no unit names: the fleet's resume stops it."""
    async with world.vc.autojump():
        async with client_for(world.fake, world.vc) as other:
            rec = other.session(cname="room0", uid="1001", mode="mix", client_request=MIX)
            await rec.start()
            snap = rec.snapshot().to_json()  # handed off: left running
        key = f"{fleet_prefix('fleet-1')}s/room0/1001/loose"
        await world.store.put(key, snap | {"key": key}, owner="dead-process")
        await world.vc.sleep(LEASE + 1)
        async with process(world) as (sup, _, _):
            report = await sup.resume(client_request=MIX)
            assert report.entries == ()
            assert [(s.key, s.outcome) for s in report.swept] == [(key, RecoveryOutcome.STOPPED)]
            assert world.running() == []
        assert await world.store.records() == []


async def test_a_resumed_fleet_is_queried_promptly_spread_and_without_starving_a_new_start(world: World) -> None:
    """30 adopted recordings: each is queried once at once (4 at a time through the 10/s limiter), then not again
    for 0.9 query_interval; a start asked for during that sweep waits behind at most the 4 workers' queries."""
    async with world.vc.autojump():
        await crashed_fleet(world, 30)
        async with process(world, monitor_concurrency=4) as (sup, _, _):
            queries_before = len(world.fake.requests_to("query"))
            served_at_resume = len(world.fake.requests)
            t0 = world.vc()
            report = await sup.resume(client_request=MIX)
            assert len(report.handles) == 30
            served_before_add = len(world.fake.requests)
            new = await sup.add(cname="fresh", uid="1001", mode="mix", client_request=MIX)
            await new.wait_recording()
            await world.vc.sleep(150)
            log = world.fake.requests
            queries = [r for r in log if r.endpoint == "query"][queries_before:]
            by_sid: dict[str, list[float]] = {}
            for q in queries:
                by_sid.setdefault(q.path.split("/sid/")[1].split("/")[0], []).append(q.at)
            resumed = {h.sid for h in report.handles}
            assert resumed <= set(by_sid)
            prompt = sorted(by_sid[sid][0] for sid in resumed)
            assert prompt[-1] - t0 <= 30 / 10 + 1.5  # the whole sweep at the limiter's pace
            for sid in resumed:  # then each on its own slot, no sooner than 0.9 interval
                times = by_sid[sid]
                assert all(b - a >= 0.9 * 60.0 - 1e-6 for a, b in itertools.pairwise(times))
            # In arrival order: between add() and its acquire, only the queries already waiting for a permit
            # (one per worker) went first, although most of the sweep was still to come.
            after_add = list(log[served_before_add:])
            acquire_at = next(i for i, r in enumerate(after_add) if r.endpoint == "acquire")
            during_resume = log[served_at_resume:served_before_add]
            sweep_left = resumed - {
                r.path.split("/sid/")[1].split("/")[0] for r in during_resume if r.endpoint == "query"
            }
            assert len(sweep_left) > 4
            assert acquire_at <= 4


def _forge_unit(world: World, *, cname: str, uid: str, session_key: str) -> tuple[str, dict[str, Any]]:
    unit = UnitData(
        fleet="fleet-1",
        app_id=world.fake.app_id,
        cname=cname,
        mode="mix",
        primary=HandleData(uids=(uid, "1002"), session_key=session_key, started=True, state="starting"),
    )
    return f"{fleet_prefix('fleet-1')}h/forged", unit.to_json()


def _forge_start(world: World, *, cname: str, uid: str, key: str) -> dict[str, Any]:
    return {
        "version": 1,
        "app_id": world.fake.app_id,
        "mode": "mix",
        "cname": cname,
        "uid": uid,
        "state": "starting",
        "resource_id": "rid-unknown",
        "sid": None,
        "acquired_at_unix": None,
        "last_status": None,
        "key": key,
    }


@pytest.mark.parametrize("runs", [True, False])
async def test_a_start_of_unknown_outcome_is_started_again_with_the_same_uid(world: World, runs: bool) -> None:
    """A process died between sending a start and its answer (record "starting", no sid). Resume starts again as
    the same uid: if Agora refuses (code 53: the unknown start runs) an "orphan" event names it and the handle
    restarts with the alternate uid; if not, the one new recording is all there is."""
    async with world.vc.autojump():
        orphan_sid = None
        if runs:  # the unknown start did start: a recording of room0 as 1001 that nobody has the sid of
            async with client_for(world.fake, world.vc) as other:
                rec = other.session(cname="room0", uid="1001", mode="mix", client_request=MIX)
                await rec.start()
                rec.snapshot()  # handed off: its client's close leaves it running
            orphan_sid = rec.sid
        session_key = f"{fleet_prefix('fleet-1')}s/room0/1001/forged"
        unit_key, unit = _forge_unit(world, cname="room0", uid="1001", session_key=session_key)
        await world.store.put(unit_key, unit, owner="dead-process")
        await world.store.put(
            session_key, _forge_start(world, cname="room0", uid="1001", key=session_key), owner="dead-process"
        )
        await world.vc.sleep(LEASE + 1)
        async with process(world) as (sup, events, _):
            report = await sup.resume(client_request=MIX)
            assert [e.outcome for e in report.entries] == [ResumeOutcome.UNKNOWN_START]
            (handle,) = report.handles
            await handle.wait_recording()
            await events.settle()
            if runs:
                assert handle.uid == "1002"
                orphan = next(e for e in events.events if e.kind == "orphan")
                assert orphan.uid == "1001"
                assert orphan.details["resource_id"] == "rid-unknown"
                assert [(c, u) for c, u, _ in world.running()] == [("room0", "1001"), ("room0", "1002")]
            else:
                assert handle.uid == "1001"
                assert "orphan" not in events.kinds()
                assert [(c, u) for c, u, _ in world.running()] == [("room0", "1001")]
            assert await world.store.get(session_key) is None  # nothing more to do about it
        remaining = [sid for _, _, sid in world.running()]
        assert remaining == ([orphan_sid] if runs else [])  # the orphan cannot be stopped (no sid); all else is


async def test_the_fleet_records_follow_restarts_and_removal_and_hold_no_secret(world: World) -> None:
    """The unit record names the current session (updated on a restart), is deleted by remove(), and neither it
    nor the session records hold the token or the storage keys."""
    async with world.vc.autojump(), process(world) as (sup, _, _):
        handle = await sup.add(cname="room0", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        first = handle.session
        assert first is not None
        assert first.key.startswith(fleet_prefix("fleet-1") + "s/room0/1001/")
        (unit,) = [r for r in await world.store.records() if "/h/" in r.key]
        assert unit.data["primary"]["session_key"] == first.key
        assert handle.sid is not None
        world.fake.end_recording(handle.sid, reason="abnormal")
        await world.vc.sleep(300)
        assert handle.restarts == 1
        assert handle.session is not first
        unit_now = await world.store.get(unit.key)
        assert unit_now is not None
        assert unit_now.data["primary"]["session_key"] == handle.session.key
        assert unit_now.data["primary"]["restarts"] == 1
        raw = b"".join(e.raw for e in world.store._entries.values())
        for secret in ("RTC-TOKEN-CANARY", "ACCESS-KEY-CANARY", "SECRET-KEY-CANARY", world.fake.customer_secret):
            assert secret.encode() not in raw
        await sup.remove(handle)
        assert await world.store.records() == []


async def test_without_a_fleet_nothing_is_kept_for_a_resume(world: World) -> None:
    """fleet=None on a store: the sessions are recorded as plain sessions (recover_sessions stops them)."""
    async with world.vc.autojump(), process(world, fleet=None) as (sup, _, _):
        handle = await sup.add(cname="room0", uid="1001", mode="mix", client_request=MIX)
        await handle.wait_recording()
        keys = [r.key for r in await world.store.records()]
        assert len(keys) == 1
        assert not keys[0].startswith("/supervisor/")
        with pytest.raises(InvalidRequestError) as info:
            await sup.resume(client_request=MIX)
        assert info.value.field == "fleet"


async def test_bad_arguments(world: World) -> None:
    """Each bad argument names its field, before anything is read or sent."""
    async with world.vc.autojump():
        async with client_for(world.fake, world.vc) as plain:
            with pytest.raises(InvalidRequestError) as info:
                RecordingSupervisor(plain, fleet="f")
            assert info.value.field == "session_store"
            async with RecordingSupervisor(plain) as sup:
                for call in (sup.resume(client_request=MIX), sup.hand_off()):
                    with pytest.raises(InvalidRequestError) as info:
                        await call
                    assert info.value.field == "session_store"
        async with client_for(world.fake, world.vc, session_store=world.store) as client:
            for bad in ("", "a/b", "x" * 65, 3, "sp ace"):
                with pytest.raises(InvalidRequestError) as info:
                    RecordingSupervisor(client, fleet=bad)  # type: ignore[arg-type]  # a bad value on purpose
                assert info.value.field == "fleet"
            sup = RecordingSupervisor(client, fleet="f")
            with pytest.raises(SessionStateError):
                await sup.resume(client_request=MIX)
            async with sup:
                with pytest.raises(InvalidRequestError) as info:
                    await sup.resume(client_request=3)  # type: ignore[arg-type]  # a bad value on purpose
                assert info.value.field == "client_request"
                with pytest.raises(InvalidRequestError) as info:
                    await sup.resume(client_request=MIX, acquire_request=MIX)  # type: ignore[arg-type]  # on purpose
                assert info.value.field == "acquire_request"
                with pytest.raises(InvalidRequestError) as info:
                    await sup.resume(client_request=MIX, verify=True)
                assert info.value.field == "verify"
                with pytest.raises(InvalidRequestError) as info:
                    await sup.resume(client_request=MIX, start_deadline=0)
                assert info.value.field == "start_deadline"


async def test_a_request_factory_is_called_per_start_and_its_failure_fails_the_handle(world: World) -> None:
    """client_request=(cname, uid) -> ClientRequest: called with the uid of each restart; a factory that raises
    ends the handle FAILED with a reason that names the exception type, never its text."""
    calls: list[tuple[str, str]] = []

    def factory(cname: str, uid: str) -> ClientRequest:
        calls.append((cname, uid))
        if cname == "room1":
            raise RuntimeError("TOKEN-IN-MESSAGE")
        return MIX

    async with world.vc.autojump():
        sids = await crashed_fleet(world, 2)
        world.fake.end_recording(sids["room0"], reason="abnormal")
        world.fake.end_recording(sids["room1"], reason="abnormal")
        async with process(world) as (sup, _, _):
            await sup.resume(client_request=factory)
            await world.vc.sleep(120)
            by_room = {h.cname: h for h in sup.handles}
            assert by_room["room0"].state is HandleState.RECORDING
            assert ("room0", "1002") in calls
            assert by_room["room1"].state is HandleState.FAILED
            assert "RuntimeError" in (by_room["room1"].failure_reason or "")
            assert "TOKEN-IN-MESSAGE" not in (by_room["room1"].failure_reason or "")
        assert world.running() == []


def test_plain_client_without_a_store_is_unchanged() -> None:
    """A supervisor without fleet= has no store side at all."""
    fake = FakeAgoraServer()
    client = CloudRecordingClient(fake.app_id, fake.customer_id, fake.customer_secret, transport=fake.transport())
    sup = RecordingSupervisor(client)
    assert sup.fleet is None
    assert "fleet=None" in repr(sup)
