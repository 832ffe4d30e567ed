"""The supervisor's event streams (several consumers, bounded buffers) and the signal table."""

from __future__ import annotations

import types

import anyio
import pytest
from _supervisor_support import Collector, supervised
from _support import request_for

from agora_recording import EventStream, SupervisorEvent
from agora_recording._supervisor_events import EventHub
from agora_recording._supervisor_signals import SIGNALS, Action, decide, signal_from_event
from agora_recording.testing._clock import VirtualClock

MIX = request_for("mix")


@pytest.fixture
def vc() -> VirtualClock:
    return VirtualClock(start=1000.0)


@pytest.mark.anyio
async def test_several_consumers_each_get_every_event_in_order(vc: VirtualClock) -> None:
    """Two more consumers beside the collector: the same events, in the same order (seq increases)."""
    async with anyio.create_task_group() as tg, supervised(vc) as (fake, sup, first):
        second, third = Collector(sup.events()), Collector(sup.events(buffer=10_000))
        tg.start_soon(second.run)
        tg.start_soon(third.run)
        handles = [await sup.add(cname=f"room{i}", uid="1001", mode="mix", client_request=MIX) for i in range(5)]
        for handle in handles:
            await handle.wait_recording()
        assert handles[0].sid is not None
        fake.end_recording(handles[0].sid, reason="abnormal")
        await vc.sleep(200)
    seqs = [e.seq for e in first.events]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))
    assert [e.seq for e in second.events] == seqs == [e.seq for e in third.events]
    assert first.events == second.events
    assert first.stream.dropped == second.stream.dropped == 0
    assert first.kinds().count("stopped") == 5
    assert first.kinds().count("restarted") == 1
    assert first.stream.closed


@pytest.mark.anyio
async def test_a_slow_consumer_loses_the_oldest_events_and_never_blocks_the_fleet(vc: VirtualClock) -> None:
    """A consumer that never reads keeps only its last ``buffer`` events and counts the dropped ones."""
    async with supervised(vc) as (_fake, sup, fast):
        slow = sup.events(buffer=3)
        handles = [await sup.add(cname=f"room{i}", uid="1001", mode="mix", client_request=MIX) for i in range(6)]
        for handle in handles:
            await handle.wait_recording()  # the supervisor is not held up by the slow stream
        await fast.settle()
        published = len(fast.events)
        assert published == 12  # started + files for each
        assert slow.pending == 3
        assert slow.dropped == published - 3
        kept = [await slow.__anext__() for _ in range(3)]
        assert [e.seq for e in kept] == [e.seq for e in fast.events[-3:]]  # the newest were kept
        assert "dropped=9" in repr(slow)


@pytest.mark.anyio
async def test_streams_end_with_the_supervisor_and_aclose_unsubscribes(vc: VirtualClock) -> None:
    """A stream ends after its buffered events once the supervisor exits; aclose() ends it at once."""
    async with supervised(vc) as (_fake, sup, collector):
        closed = sup.events()
        async with closed:
            pass
        assert closed.closed
        with pytest.raises(StopAsyncIteration):
            await closed.__anext__()
        handle = await sup.add(cname="room1", uid="1001", mode="mix", client_request=MIX)
        await handle.wait_recording()
        assert closed.pending == 0  # unsubscribed: got nothing
        late = sup.events()
    assert [e.kind for e in [e async for e in late]] == ["stopped"]  # buffered, then the end
    after = sup.events()
    assert after.closed
    assert [e async for e in after] == []
    assert collector.kinds() == ["started", "files", "stopped"]


@pytest.mark.anyio
async def test_an_unreferenced_stream_unsubscribes_by_itself() -> None:
    """Streams are held weakly by the hub: a dropped consumer costs nothing."""
    import gc

    hub = EventHub()
    stream = hub.subscribe(4)
    assert len(hub._streams) == 1
    del stream
    gc.collect()
    assert len(hub._streams) == 0


def test_events_are_frozen_and_their_details_read_only() -> None:
    """Events are immutable values."""
    event = SupervisorEvent(kind="exited", cname="c", uid="1", sid="s", details={"status": 20})
    with pytest.raises(AttributeError):
        event.kind = "started"  # type: ignore[misc]  # frozen: the point of the test
    with pytest.raises(TypeError):
        event.details["status"] = 5  # type: ignore[index]  # read-only mapping: the point of the test
    assert "status=20" in repr(event)
    assert isinstance(EventHub().subscribe(1), EventStream)


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected"),
    [
        ("session_exit", {"exit_status": 1}, Action("restart", "session_exit")),
        ("session_exit", {"exit_status": 0}, Action("query", "session_exit", exit_reported=True)),
        ("session_exit", {}, Action("query", "session_exit", exit_reported=True)),
        ("recorder_leave", {"leave_code": 8}, Action("ignore")),
        ("recorder_leave", {"leave_code": 2}, Action("query", "recorder_leave")),
        ("recorder_leave", {"leave_code": 2 | 8}, Action("query", "recorder_leave")),
        ("recorder_leave", {"leave_code": 0}, Action("restart", "recorder_leave")),
        ("recorder_leave", {"leave_code": 4}, Action("restart", "recorder_leave")),
        ("recorder_leave", {"leave_code": 16}, Action("restart", "recorder_leave")),
        ("recorder_leave", {"leave_code": 4, "uid": "999"}, Action("ignore")),
        ("session_failover", {}, Action("failover", "session_failover")),
        ("web_recorder_stopped", {"code": 0}, Action("ignore")),
        ("web_recorder_stopped", {"code": 3}, Action("restart", "web_recorder_stopped")),
        ("uploaded", {}, Action("query", "uploaded", exit_reported=True)),
        ("backuped", {}, Action("query", "backuped", exit_reported=True)),
        ("error", {"error_level": 5}, Action("query", "error")),
        ("error", {"error_level": 3}, Action("ignore")),
        ("status_update", {}, Action("query", "status_update")),
        ("file_infos", {}, Action("query", "file_infos")),
    ],
)
def test_the_signal_table(kind: str, kwargs: dict[str, object], expected: Action) -> None:
    """Each notification maps to one action (see the table in _supervisor_signals)."""
    uid = kwargs.pop("uid", None)
    assert decide(kind, uid=uid, recorder_uid="1001", **kwargs) == expected  # type: ignore[arg-type]
    assert kind in SIGNALS


def test_signal_from_event_reads_parsed_notifications() -> None:
    """Anything shaped like agora_recording.webhooks' events (event_type, cname, uid, sid, details) is read."""

    def event(event_type: object, **details: object) -> object:
        return types.SimpleNamespace(event_type=event_type, cname="room", uid=1001, sid="abc", details=details)

    assert signal_from_event(event(11, exitStatus=1)) == {
        "kind": "session_exit", "sid": "abc", "cname": "room", "uid": "1001", "exit_status": 1,
    }  # fmt: skip
    assert signal_from_event(event(41, leaveCode="4"))["leave_code"] == 4  # type: ignore[index]
    assert signal_from_event(event(12, newUid=77))["new_uid"] == "77"  # type: ignore[index]
    assert signal_from_event(event(71, code=2))["code"] == 2  # type: ignore[index]
    assert signal_from_event(event(1, errorLevel=5))["error_level"] == 5  # type: ignore[index]
    assert signal_from_event(event(45)) is None  # recorder_snapshot_file: not a supervision signal
    assert signal_from_event(event("junk")) is None
    assert signal_from_event(types.SimpleNamespace(event_type=11, details="not a mapping"))["sid"] is None  # type: ignore[index]
