"""A fleet of 50 supervised recordings on the fake: exits restarted with the alternate uid, failovers not."""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
from _supervisor_support import FailoverTransport, supervised
from _support import client_for, make_fake, request_for

from agora_recording import HandleState, RecordingSupervisor
from agora_recording.testing import FakeTimings
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

N = 50
INTERVAL = 120.0
ABNORMAL = range(10)  # status 20 seen by a monitoring query
NOTIFIED = range(10, 18)  # died, and a session_exit (exitStatus 1) notification says so
GONE = range(18, 23)  # exited (idle): 404 past the failover window
FAILOVER = range(23, 33)  # 404 for 60 s, then found again (Agora's high availability)
QUIET = range(33, N)
MIX = request_for("mix")


def sid_of(path: str) -> str:
    return path.split("/sid/")[1].split("/")[0]


async def test_a_fleet_of_50_recordings_is_kept_running_the_way_agora_advises() -> None:
    """Exits restart with the alternate uid, failovers do not; per-channel events in order; nothing left running;
    monitoring stays within one query per recording per interval plus verification and failover re-queries."""
    vc = VirtualClock(start=1000.0)
    fake = make_fake(vc, timings=FakeTimings(abnormal_exit_for=INTERVAL + 10))  # status 20 until queried
    transport = FailoverTransport(fake, vc)
    async with supervised(vc, fake, transport=transport, query_interval=INTERVAL) as (_, sup, events):
        handles = [
            await sup.add(cname=f"room{i:02d}", uid="1001", alternate_uid="1002", mode="mix",
                          client_request=request_for("mix"))
            for i in range(N)
        ]  # fmt: skip
        for handle in handles:
            await handle.wait_recording()
        await vc.sleep(300)
        trouble_at = vc()
        for i in ABNORMAL:
            fake.end_recording(handles[i].sid or "", reason="abnormal")
        for i in NOTIFIED:
            fake.end_recording(handles[i].sid or "", reason="abnormal")
            assert sup.notify("session_exit", sid=handles[i].sid, cname=f"room{i:02d}", uid="1001", exit_status=1)
        for i in GONE:
            fake.end_recording(handles[i].sid or "", reason="idle")
        for i in FAILOVER:  # from just before its next monitoring query, so that the query meets it
            sid = handles[i].sid or ""
            last = max(r.at for r in fake.requests_to("query") if sid_of(r.path) == sid)
            transport.fail_over(sid, 60.0, start=last + INTERVAL - 5.0)
        await vc.sleep(400)
        blip_at = vc()
        fake.inject("query", kind="worker_not_found", count=5)  # transient 404s for whoever queries next
        await vc.sleep(600)
        end = vc()
        assert all(h.state is HandleState.RECORDING for h in handles)
    assert fake.running_recordings() == []
    assert fake.stats.rate_limited == 0

    blipped = {sid_of(r.path) for r in fake.requests_to("query") if r.fault == "worker_not_found"}
    assert 2 <= len(blipped) <= 5  # a re-query 5 s later may meet one of the five again
    by_cname = defaultdict(list)
    for event in events.events:
        if event.kind != "files":
            by_cname[event.cname].append(event)
    for i, handle in enumerate(handles):
        cname = f"room{i:02d}"
        kinds = [e.kind for e in by_cname[cname]]
        recordings = [r for r in fake.recordings() if r.cname == cname]
        extra = ["failover"] if blipped & {r.sid for r in recordings} else []
        if i in FAILOVER or i in QUIET:
            expected = ["started", *(["failover"] if i in FAILOVER else []), *extra, "stopped"]
            assert kinds == expected, (cname, kinds)
            assert handle.restarts == 0
            assert [r.uid for r in recordings] == ["1001"]
        else:
            assert kinds == ["started", "exited", "restarted", *extra, "stopped"], (cname, kinds)
            reason = "status_20" if i in ABNORMAL else "session_exit" if i in NOTIFIED else "not_found"
            exited, restarted = by_cname[cname][1], by_cname[cname][2]
            assert exited.reason == reason
            assert exited.uid == "1001"
            assert exited.sid == recordings[0].sid
            assert restarted.uid == "1002"
            assert restarted.details["previous_sid"] == recordings[0].sid
            assert handle.restarts == 1
            assert [r.uid for r in recordings] == ["1001", "1002"]
            assert exited.at >= trouble_at
            if i in NOTIFIED:
                assert exited.at == trouble_at  # the fast signal: no wait for a query
            if i in ABNORMAL:
                assert exited.at - trouble_at <= INTERVAL  # seen by the next monitoring query
            if i in GONE:
                assert exited.at - trouble_at >= 90.0  # the failover window was waited out
        seqs = [e.seq for e in by_cname[cname]]
        assert seqs == sorted(seqs)
    for event in events.events:
        if event.kind == "failover" and event.reason == "not_found" and event.at < blip_at:
            assert event.details["lost_for"] <= 60.0 + 15.0

    # --- the query rate -------------------------------------------------------------------------------------
    verified: dict[str, float] = {e.sid: e.at for e in events.events if e.kind in ("started", "restarted") and e.sid}
    answers = [(r.at, sid_of(r.path), r.status) for r in fake.requests_to("query")]
    answers += [(at, sid, 404) for at, sid in transport.lost]
    answers.sort()
    per_sid: dict[str, list[tuple[float, int | None]]] = defaultdict(list)
    for at, sid, status in answers:
        per_sid[sid].append((at, status))
    regular: list[float] = []
    verification = requery = 0
    for sid, queries in per_sid.items():
        previous_status: int | None = None
        last_regular: float | None = None
        for at, status in queries:
            if at <= verified[sid]:
                verification += 1
            elif previous_status == 404:
                requery += 1
                last_regular = None  # the cadence restarts after a failover
            else:
                if last_regular is not None:
                    assert at - last_regular >= INTERVAL - 1e-6, (sid, at - last_regular)
                last_regular = at
                regular.append(at)
            previous_status = status
    assert verification == N + len(ABNORMAL) + len(NOTIFIED) + len(GONE)  # one per start: status 5 after 5 s
    restarts_at = sorted(e.at for e in events.events if e.kind == "restarted")
    for start in regular:
        in_window = sum(1 for t in regular if start <= t < start + INTERVAL)
        restarted_near = sum(1 for t in restarts_at if start - INTERVAL <= t < start + INTERVAL)
        assert in_window <= N + restarted_near
    span = end - verified[min(verified, key=verified.__getitem__)]
    assert len(regular) <= N * (span / INTERVAL + 1) + len(restarts_at)
    # spread over time (each recording on its own slot of the interval): 50 per 120 s, never 3 in one second
    busiest = max(sum(1 for t in regular if s <= t < s + 1.0) for s in regular)
    assert busiest <= 2
    total = len(answers)
    assert total == verification + requery + len(regular)


@pytest.mark.parametrize(("concurrency", "starved"), [(2, False), (60, True)])
async def test_a_burst_of_monitoring_does_not_starve_a_new_start(concurrency: int, starved: bool) -> None:
    """60 recordings all due at once (a storm of notifications asks to query each now), and a new recording is
    added at that moment. With the monitoring budget (2 queries in flight) its acquire reaches Agora behind at most
    those 2 queries; without it (60), behind the whole burst."""
    vc = VirtualClock(start=1000.0)
    fake = make_fake(vc)
    async with supervised(vc, fake, monitor_concurrency=concurrency) as (_, sup, _events):
        handles = [await sup.add(cname=f"room{i:02d}", uid="1001", mode="mix", client_request=MIX) for i in range(60)]
        for handle in handles:
            await handle.wait_recording()
        await vc.sleep(300)
        for handle in handles:
            assert sup.notify("status_update", sid=handle.sid)
        await vc.sleep(0.2)  # the burst is under way (10 requests/s: it takes 6 s)
        logged = len(fake.requests)
        probe = await sup.add(cname="probe", uid="1001", mode="mix", client_request=MIX)
        await probe.wait_recording()
        await vc.sleep(10)
        assert all(h.restarts == 0 for h in handles)
    after_add = fake.requests[logged:]  # in the order Agora received them
    acquire = next(i for i, r in enumerate(after_add) if r.endpoint == "acquire" and r.body["cname"] == "probe")
    ahead = [r for r in after_add[:acquire] if r.endpoint == "query"]
    assert fake.stats.rate_limited == 0
    if starved:
        assert len(ahead) >= 40  # the test can tell: without the budget, the start queues behind the burst
    else:
        assert len(ahead) <= concurrency  # only the ones already holding a place in the limiter's queue


async def test_supervision_over_tcp_with_notifications() -> None:
    """The same behaviour over real TCP (fake.serve() on 127.0.0.1): a notification restarts one recording with
    the alternate uid, a failover does not restart another, and exit stops everything."""
    vc = VirtualClock(start=1000.0)
    fake = make_fake(vc)
    async with fake.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        async with (
            vc.autojump(),
            client_for(fake, vc, base_url=base_url) as client,
            RecordingSupervisor(client, query_interval=30.0) as sup,
        ):
            events = sup.events()
            one = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
            two = await sup.add(cname="room2", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
            await one.wait_recording()
            await two.wait_recording()
            first = one.sid
            assert first is not None
            fake.end_recording(first, reason="abnormal")
            exit_event = types.SimpleNamespace(
                event_type=11,
                cname="room1",
                uid="1001",
                sid=first,
                details={"msgName": "session_exit", "exitStatus": 1},
            )
            assert sup.notify_event(exit_event)
            await one.wait_recording()
            assert one.uid == "1002"
            assert one.restarts == 1
            fake.inject("query", kind="worker_not_found", count=2)
            await vc.sleep(120)
            assert two.restarts == 0
            assert two.state is HandleState.RECORDING
    assert fake.running_recordings() == []
    kinds = [e.kind async for e in events if e.cname == "room1" and e.kind != "files"]
    assert kinds[:3] == ["started", "exited", "restarted"]
    assert kinds[-1] == "stopped"
