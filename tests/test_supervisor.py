"""RecordingSupervisor on the fake with a virtual clock: start, verify, monitor, restart, remove, fail, backup."""

from __future__ import annotations

import itertools
import logging
import math
import types

import anyio
import pytest
from _supervisor_support import supervised
from _support import STORAGE, client_for, make_fake, request_for

from agora_recording import (
    AuthenticationError,
    ClientRequest,
    CloudRecordingClient,
    HandleState,
    InvalidRequestError,
    RecordingConfig,
    RecordingFailedError,
    RecordingStatus,
    RecordingSupervisor,
    ServerError,
    SessionStateError,
    SupervisorWarning,
)
from agora_recording.testing._clock import VirtualClock

pytestmark = pytest.mark.anyio

MIX = request_for("mix")


@pytest.fixture
def vc() -> VirtualClock:
    return VirtualClock(start=1000.0)


def sid_of(path: str) -> str:
    return path.split("/sid/")[1].split("/")[0]


async def test_a_recording_is_started_verified_monitored_and_stopped_on_exit(vc: VirtualClock) -> None:
    """The start is confirmed by query 5 s after the sid; then one query per query_interval; exit stops it."""
    async with supervised(vc, query_interval=60.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert handle.state is HandleState.RECORDING
        assert handle.uid == "1001"
        assert handle.restarts == 0
        assert handle.last_query is not None
        assert handle.last_query.status is RecordingStatus.IN_PROGRESS
        started_at = fake.requests_to("start")[0].at
        assert fake.requests_to("query")[0].at == pytest.approx(started_at + 5.0)
        await vc.sleep(600)
        monitoring = [r.at for r in fake.requests_to("query")[1:]]
        assert len(monitoring) >= 9
        gaps = [b - a for a, b in itertools.pairwise(monitoring)]
        assert all(g == pytest.approx(60.0) for g in gaps)
        assert handle.files == (f"{handle.sid}_room1.m3u8",)
    assert fake.running_recordings() == []
    assert events.kinds() == ["started", "files", "stopped"]
    stopped = events.events[-1]
    assert stopped.sid == handle.sid
    assert stopped.details["files"] == handle.files
    assert handle.state is HandleState.STOPPED


async def test_status_20_restarts_with_the_alternate_uid_and_back(vc: VirtualClock) -> None:
    """Status 20 on a monitoring query: exited, then restarted as the other uid; the next restart switches back."""
    async with supervised(vc, query_interval=30.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        first = handle.sid
        assert first is not None
        fake.end_recording(first, reason="abnormal")
        await vc.sleep(60)
        assert handle.state is HandleState.RECORDING
        assert handle.uid == "1002"
        assert handle.restarts == 1
        second = handle.sid
        assert second is not None
        assert second != first
        fake.end_recording(second, reason="abnormal")
        await vc.sleep(60)
        assert handle.uid == "1001"
        assert handle.restarts == 2
    assert [r.uid for r in fake.recordings()] == ["1001", "1002", "1001"]
    assert fake.running_recordings() == []
    kinds = [k for k in events.kinds() if k != "files"]
    assert kinds == ["started", "exited", "restarted", "exited", "restarted", "stopped"]
    exited = [e for e in events.events if e.kind == "exited"]
    assert [e.reason for e in exited] == ["status_20", "status_20"]
    assert [(e.sid, e.uid) for e in exited] == [(first, "1001"), (second, "1002")]
    restarted = [e for e in events.events if e.kind == "restarted"]
    assert restarted[0].details["previous_sid"] == first
    assert restarted[0].uid == "1002"


async def test_a_404_inside_the_failover_window_is_re_queried_and_not_restarted(vc: VirtualClock) -> None:
    """404 "failed to find worker" for a while, then answers again: re-queried at 5/10/15 s, never restarted."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        verified = vc()
        fake.inject("query", kind="worker_not_found", count=4)
        await vc.sleep(400)
        assert handle.restarts == 0
        assert handle.state is HandleState.RECORDING
    queries = [r for r in fake.requests_to("query") if r.at > verified]
    statuses = [r.status for r in queries]
    assert statuses[:5] == [404, 404, 404, 404, 200]
    gaps = [round(b.at - a.at, 6) for a, b in itertools.pairwise(queries[:5])]
    assert gaps == [5.0, 10.0, 15.0, 15.0]
    assert len(fake.recordings()) == 1
    assert fake.running_recordings() == []
    assert [k for k in events.kinds() if k != "files"] == ["started", "failover", "stopped"]
    failover = next(e for e in events.events if e.kind == "failover")
    assert failover.details["lost_for"] == pytest.approx(45.0)
    assert failover.reason == "not_found"


async def test_a_task_gone_past_the_failover_window_is_restarted(vc: VirtualClock) -> None:
    """A 404 that lasts the whole 90 s window means the task is gone: restart with the alternate uid."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        first = handle.sid
        assert first is not None
        fake.end_recording(first, reason="idle")  # query answers 404 from now on
        await vc.sleep(400)
        assert handle.restarts == 1
        assert handle.uid == "1002"
        assert handle.state is HandleState.RECORDING
    lost = [r for r in fake.requests_to("query") if sid_of(r.path) == first and r.status == 404]
    assert lost[-1].at - lost[0].at == pytest.approx(90.0)
    assert [round(b.at - a.at, 6) for a, b in itertools.pairwise(lost)] == [5, 10, 15, 15, 15, 15, 15]
    exited = next(e for e in events.events if e.kind == "exited")
    assert exited.reason == "not_found"
    assert exited.details["lost_for"] == pytest.approx(90.0)
    assert fake.running_recordings() == []


async def test_a_session_exit_notification_restarts_at_once(vc: VirtualClock) -> None:
    """session_exit with exitStatus 1 restarts at once (no wait for the next query), as the alternate uid."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        first = handle.sid
        assert first is not None
        fake.end_recording(first, reason="abnormal")
        at = vc()
        assert sup.notify("session_exit", sid=first, cname="room1", uid="1001", exit_status=1) is True
        assert sup.notify("session_exit", sid=first, cname="room1", uid="1001", exit_status=1) is False  # duplicate
        await handle.wait_recording()
        assert handle.uid == "1002"
        assert handle.restarts == 1
        assert fake.requests_to("start")[-1].at == pytest.approx(at)
        # a late copy without sid names the old uid of the pair: about the old recording, ignored
        assert sup.notify("session_exit", cname="room1", uid="1001", exit_status=1) is False
        assert handle.restarts == 1
    exited = next(e for e in events.events if e.kind == "exited")
    assert exited.reason == "session_exit"
    assert exited.at == at
    assert exited.details == {"exit_status": 1}
    assert fake.running_recordings() == []


async def test_a_normal_session_exit_queries_at_once_and_a_404_then_means_gone(vc: VirtualClock) -> None:
    """exitStatus 0: query now; the 404 that follows is not waited out (the task said it exited)."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        first = handle.sid
        assert first is not None
        fake.end_recording(first, reason="idle")
        at = vc()
        assert sup.notify_event(
            types.SimpleNamespace(event_type=11, cname="room1", uid="1001", sid=first, details={"exitStatus": 0})
        )
        await vc.sleep(1)
        assert handle.restarts == 1
    exited = next(e for e in events.events if e.kind == "exited")
    assert exited.reason == "exit_reported"
    assert exited.at == at


async def test_a_failover_notification_prevents_a_restart_and_is_reported(vc: VirtualClock) -> None:
    """session_failover (newUid): the 404s that follow are expected; one "failover" event carries the new uid."""
    async with supervised(vc, query_interval=30.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        sid = handle.sid
        assert sup.notify("session_failover", sid=sid, new_uid="777777") is True
        fake.inject("query", kind="worker_not_found", count=5)
        # the old recorder's leave after the failover is not about the current recorder (777777): ignored
        assert sup.notify("recorder_leave", sid=sid, uid="1001", leave_code=2) is False
        await vc.sleep(300)
        assert handle.restarts == 0
        assert handle.sid == sid
    assert [k for k in events.kinds() if k != "files"] == ["started", "failover", "stopped"]
    failover = next(e for e in events.events if e.kind == "failover")
    assert failover.details["new_uid"] == "777777"
    assert failover.reason == "session_failover"


async def test_recorder_leave_codes(vc: VirtualClock) -> None:
    """leaveCode 8 is ignored; another recorder's leave is ignored; leaveCode 4 (idle) means gone: restart."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, _):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        sid = handle.sid
        assert sid is not None
        assert sup.notify("recorder_leave", sid=sid, uid="1001", leave_code=8) is False
        assert sup.notify("recorder_leave", sid=sid, uid="4242", leave_code=4) is False
        assert sup.notify("recorder_leave", sid="0" * 32, uid="1001", leave_code=4) is False  # unknown sid
        assert sup.notify("recorder_leave", cname="room1", uid="1001", leave_code=4) is True  # found by uid
        await handle.wait_recording()
        assert handle.restarts == 1
        assert handle.uid == "1002"
        with pytest.raises(InvalidRequestError, match="kind"):
            sup.notify("bogus", sid=sid)
    # the replaced recording was still running in the fake (the signal was the only news): it was stopped too
    assert fake.running_recordings() == []


async def test_transient_query_errors_do_not_restart(vc: VirtualClock) -> None:
    """5xx answers to monitoring queries are retried 5 s later and kept in last_error; no restart."""
    async with supervised(vc, query_interval=60.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        await handle.wait_recording()
        fake.inject("query", kind="internal_error", count=3)
        await vc.sleep(200)
        assert handle.restarts == 0
        assert isinstance(handle.last_error, ServerError)
    assert "exited" not in events.kinds()


async def test_a_start_that_is_never_verified_is_stopped_and_restarted(vc: VirtualClock) -> None:
    """No status 4/5 within 90 s (404s throughout): verification failed; that recording is stopped; restart."""
    async with supervised(vc, query_interval=120.0) as (fake, sup, events):
        fake.inject("query", kind="worker_not_found", count=9)  # every verification query of the first start
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert handle.restarts == 1
        assert handle.uid == "1002"
        assert isinstance(handle.last_error, RecordingFailedError)
        first = fake.recordings()[0]
        assert first.uid == "1001"
        assert first.end_reason == "stop"
    assert [k for k in events.kinds() if k != "files"] == ["started", "stopped"]
    assert events.events[0].uid == "1002"
    assert fake.running_recordings() == []


async def test_an_unexpected_verification_error_restarts_instead_of_crashing(vc: VirtualClock) -> None:
    """A gateway 404 (no route) while verifying is not ridden out: that start counts as failed; restart."""
    async with supervised(vc) as (fake, sup, events):
        fake.inject("query", status=404, body={"message": "no Route matched with those values"})
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert handle.restarts == 1
        assert handle.uid == "1002"
    assert events.kinds()[0] == "started"
    assert fake.running_recordings() == []


async def test_max_restarts_exhausted_ends_failed_with_the_reason(vc: VirtualClock) -> None:
    """A channel whose recordings keep dying is restarted max_restarts times in a row, then ends FAILED."""
    async with supervised(vc, query_interval=30.0, max_restarts=2, restart_delays=(0.0, 10.0)) as (fake, sup, ev):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        for _ in range(3):
            await handle.wait_recording()
            assert handle.sid is not None
            fake.end_recording(handle.sid, reason="abnormal")
            sup.notify("session_exit", sid=handle.sid, exit_status=1)
        with pytest.raises(RecordingFailedError, match="gave up after 2 restart"):
            await handle.wait_recording()
        assert handle.state is HandleState.FAILED
        assert handle.restarts == 2
        assert handle.failure_reason is not None
        assert "session_exit" in handle.failure_reason
        starts = [r.at for r in fake.requests_to("start")]
        assert starts[2] - starts[1] >= 10.0  # the second restart backed off
    kinds = [k for k in ev.kinds() if k != "files"]
    assert kinds == ["started", "exited", "restarted", "exited", "restarted", "exited", "failed"]
    assert fake.running_recordings() == []


async def test_start_errors_are_retried_then_fail(vc: VirtualClock) -> None:
    """5xx on every start: each attempt is a restart (alternating uids) until max_restarts; then FAILED."""
    async with supervised(vc, max_restarts=2, restart_delays=(1.0,)) as (fake, sup, ev):
        fake.inject("start", kind="internal_error", count=100)
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        with pytest.raises(RecordingFailedError, match="start failed"):
            await handle.wait_recording()
        assert isinstance(handle.last_error, ServerError)
        assert handle.restarts == 2
        assert {r.body["uid"] for r in fake.requests_to("acquire")} == {"1001", "1002"}
    assert ev.kinds() == ["failed"]
    assert fake.running_recordings() == []


async def test_a_refused_start_fails_at_once(vc: VirtualClock) -> None:
    """An authentication refusal will not get better: FAILED without restarts."""
    async with supervised(vc) as (fake, sup, ev):
        fake.inject("acquire", status=401, body={"message": "Invalid authentication credentials"})
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        with pytest.raises(RecordingFailedError, match="refused"):
            await handle.wait_recording()
        assert isinstance(handle.last_error, AuthenticationError)
        assert handle.restarts == 0
        await sup.remove(handle)  # a failed handle is dropped without an event
        assert sup.handles == ()
    assert ev.kinds() == ["failed"]


async def test_remove_stops_one_recording_and_leaves_the_others(vc: VirtualClock) -> None:
    """remove() stops that recording ("stopped" with its files); the others keep running; twice is a no-op."""
    async with supervised(vc) as (fake, sup, ev):
        one = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        two = await sup.add(cname="room2", uid="1001", mode="mix", client_request=MIX)
        await one.wait_recording()
        await two.wait_recording()
        await sup.remove(one)
        await sup.remove(one)
        assert one.state is HandleState.STOPPED
        assert sup.handles == (two,)
        assert [r.cname for r in fake.running_recordings()] == ["room2"]
        await ev.settle()
        stopped = [e for e in ev.events if e.kind == "stopped"]
        assert [(e.cname, e.sid) for e in stopped] == [("room1", one.sid)]
        assert stopped[0].details["files"]
        assert stopped[0].details["already_stopped"] is False
        with pytest.raises(SessionStateError):
            await one.wait_recording()
        # the uid is free again once removed
        again = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        await again.wait_recording()
    assert fake.running_recordings() == []


async def test_remove_during_the_start_leaves_nothing_running(vc: VirtualClock) -> None:
    """Removing a handle whose start or verification is in progress cancels it and stops what started."""
    async with supervised(vc) as (fake, sup, ev):
        early = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        await sup.remove(early)  # before anything was sent
        verifying = await sup.add(cname="room2", uid="1001", mode="mix", client_request=MIX)
        while verifying.sid is None:
            await vc.sleep(0.5)
        await sup.remove(verifying)  # while verifying
        assert fake.running_recordings() == []
        assert "started" not in ev.kinds()


async def test_remove_while_waiting_to_restart_stops_nothing_twice(vc: VirtualClock) -> None:
    """A recording that ended (status 20) gets one confirming stop (answered 49: already stopping), in the
    background; removing its handle before the restart sends no second stop and starts nothing new."""
    async with supervised(vc, query_interval=30.0, restart_delays=(20.0,)) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert handle.sid is not None
        fake.end_recording(handle.sid, reason="abnormal")
        while handle.state is not HandleState.RESTARTING:
            await vc.sleep(1)
        await sup.remove(handle)
        assert handle.state is HandleState.STOPPED
        await vc.sleep(5)
        assert [(r.status, r.code) for r in fake.requests_to("stop")] == [(400, 49)]
        assert len(fake.requests_to("start")) == 1
        assert handle.session is not None
        assert handle.session.state.value == "stopped"
        await events.settle()
    assert [k for k in events.kinds() if k != "files"] == ["started", "exited", "stopped"]
    assert events.events[-1].sid is None


async def test_backup_recording_excludes_the_primary_resource(vc: VirtualClock) -> None:
    """backup=True: a second recording of the channel as backup_uid, acquired with excludeResourceIds."""
    async with supervised(vc) as (fake, sup, ev):
        handle = await sup.add(
            cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX,
            backup=True, backup_uid="2001", backup_alternate_uid="2002",
        )  # fmt: skip
        backup = handle.backup
        assert backup is not None
        assert backup.primary is handle
        assert backup.role == "backup"
        await handle.wait_recording()
        await backup.wait_recording()
        acquires = fake.requests_to("acquire")
        body = next(r.body for r in acquires if r.body["uid"] == "2001")
        assert body["clientRequest"]["excludeResourceIds"] == [handle.resource_id]
        assert sorted(r.uid for r in fake.running_recordings()) == ["1001", "2001"]
        # the backup is restarted on its own uid pair
        assert backup.sid is not None
        fake.end_recording(backup.sid, reason="abnormal")
        sup.notify("session_exit", sid=backup.sid, exit_status=1)
        await backup.wait_recording()
        assert backup.uid == "2002"
        assert handle.restarts == 0
        body = fake.requests_to("acquire")[-1].body
        assert body["uid"] == "2002"
        assert body["clientRequest"]["excludeResourceIds"] == [handle.resource_id]
        await sup.remove(handle)  # stops both
        assert fake.running_recordings() == []
        assert sup.handles == ()
    assert {e.role for e in ev.events} == {"primary", "backup"}
    assert [k for k in ev.kinds(role="backup") if k != "files"] == ["started", "exited", "restarted", "stopped"]


async def test_bad_arguments_are_refused_before_any_request(vc: VirtualClock) -> None:
    """InvalidRequestError names the field; nothing is sent."""
    fake = make_fake(vc)
    async with client_for(fake, vc) as client:
        for options, field in [
            ({"query_interval": 0}, "query_interval"),
            ({"monitor_concurrency": 0}, "monitor_concurrency"),
            ({"max_restarts": -1}, "max_restarts"),
            ({"restart_delays": ()}, "restart_delays"),
            ({"failover_delays": (0.0,)}, "failover_delays"),
            ({"event_buffer": 0}, "event_buffer"),
        ]:
            with pytest.raises(InvalidRequestError, match=field):
                RecordingSupervisor(client, **options)
        sup = RecordingSupervisor(client)
        with pytest.raises(SessionStateError):
            await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        async with vc.autojump(), sup:
            await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
            for kwargs, field in [
                ({"uid": "1001"}, "uid"),
                ({"uid": "1002"}, "uid"),
                ({"uid": "3001", "alternate_uid": "3001"}, "alternate_uid"),
                ({"uid": "3001", "backup": True}, "backup_uid"),
                ({"uid": "3001", "backup": True, "backup_uid": "3001"}, "backup_uid"),
                ({"uid": "3001", "backup_uid": "3002"}, "backup_uid"),
                ({"uid": "0"}, "uid"),
                ({"uid": "3001", "verify": True}, "verify"),
                ({"uid": "3001", "mode": "bogus"}, "mode"),
                ({"uid": "3001", "client_request": None}, "client_request"),
            ]:
                args = {"cname": "room1", "mode": "mix", "client_request": MIX, **kwargs}
                with pytest.raises(InvalidRequestError, match=field):
                    await sup.add(**args)
            assert len(sup.handles) == 1
    with pytest.raises(SessionStateError):
        await sup.__aenter__()
    assert fake.running_recordings() == []


async def test_a_query_interval_not_under_max_idle_time_warns(vc: VirtualClock) -> None:
    """Agora: keep the query interval under maxIdleTime. 120 s against maxIdleTime 60 s warns."""
    short_idle = ClientRequest(
        token="RTC-TOKEN-CANARY",
        recording_config=RecordingConfig(channel_type=1, max_idle_time=60),
        storage_config=STORAGE,
    )
    async with supervised(vc, query_interval=120.0) as (_fake, sup, _):
        with pytest.warns(SupervisorWarning, match="maxIdleTime 60"):
            await sup.add(cname="room1", uid="1001", mode="mix", client_request=short_idle)


async def test_cancelling_the_supervisor_stops_every_recording(vc: VirtualClock) -> None:
    """A cancellation of the block running the supervisor still stops everything (shielded)."""
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        with anyio.CancelScope() as scope:
            async with RecordingSupervisor(client) as sup:
                handles = [
                    await sup.add(cname=f"room{i}", uid="1001", mode="mix", client_request=MIX) for i in range(3)
                ]
                for handle in handles:
                    await handle.wait_recording()
                scope.cancel()
                await vc.sleep(10)
        assert scope.cancelled_caught
    assert fake.running_recordings() == []
    assert [h.state for h in handles] == [HandleState.STOPPED] * 3


async def test_no_secret_in_logs_reprs_or_events(vc: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The canary: the token and storage keys of the clientRequest appear in no log record, repr or event."""
    caplog.set_level(logging.DEBUG, logger="agora_recording")
    async with supervised(vc, query_interval=30.0) as (fake, sup, events):
        handle = await sup.add(cname="room1", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert handle.sid is not None
        fake.end_recording(handle.sid, reason="abnormal")
        await vc.sleep(60)
        shown = [repr(sup), repr(handle), repr(handle.session), repr(events.stream)]
    shown += [repr(e) for e in events.events] + [r.getMessage() for r in caplog.records]
    assert any("agora supervisor event=restarted" in line for line in shown)
    for canary in ("RTC-TOKEN-CANARY", "ACCESS-KEY-CANARY", "SECRET-KEY-CANARY", fake.customer_secret):
        assert not [line for line in shown if canary in line]


@pytest.mark.parametrize("cancel_at", [0.0, 0.5, 3.0, 5.0, 40.0])
async def test_a_cancellation_at_any_moment_leaves_nothing_running(vc: VirtualClock, cancel_at: float) -> None:
    """Cancelled while starting, verifying, monitoring or restarting: every recording is stopped on the way out."""
    fake = make_fake(vc)
    async with vc.autojump(), client_for(fake, vc) as client:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg, RecordingSupervisor(client, query_interval=30.0) as sup:
                handles = [
                    await sup.add(cname=f"room{i}", uid="1001", alternate_uid="1002", mode="mix", client_request=MIX)
                    for i in range(4)
                ]

                async def trouble_then_cancel() -> None:
                    await vc.sleep(min(cancel_at, 20.0))
                    if cancel_at > 20.0:
                        sid = handles[0].sid
                        assert sid is not None
                        fake.end_recording(sid, reason="abnormal")
                        sup.notify("session_exit", sid=sid, exit_status=1)  # a restart is in flight
                        await vc.sleep(cancel_at - 20.0)
                    scope.cancel()

                tg.start_soon(trouble_then_cancel)
                await vc.sleep(math.inf)
        assert scope.cancelled_caught
    assert fake.running_recordings() == []
    assert fake.orphans() == []
    assert all(h.state is HandleState.STOPPED for h in handles)


async def test_an_exception_in_the_body_stops_everything_and_propagates(vc: VirtualClock) -> None:
    """The body's exception comes out as it is (not in an exception group), after every recording was stopped."""
    fake = make_fake(vc)

    async def body(client: CloudRecordingClient) -> None:
        async with RecordingSupervisor(client) as sup:
            handle = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
            await handle.wait_recording()
            raise LookupError("boom")

    async with vc.autojump(), client_for(fake, vc) as client:
        with pytest.raises(LookupError, match="boom"):
            await body(client)
    assert fake.running_recordings() == []
    assert fake.stats.recordings_stopped == 1
