"""Memory per session (tracemalloc): idle and started, and mid-request, next to the floor of the same run.

- floor: N tasks awaiting one ``anyio.Event`` (the least a waiting coroutine costs on this event loop);
- idle started session: N sessions acquired and started through the in-process fake, then left alone (an idle
  session holds no task); what stays allocated per session, *including* the fake's record of the recording;
- the fake's record: the same N acquires and starts sent to a fresh fake by a bare httpx client (the same bodies,
  the answers dropped), so what stays allocated is the fake's alone; the idle session *excluding* the fake is the
  difference (both measured with ``get_traced_memory``, as fast at 10,000 as the rest, where snapshots filtered by
  file take minutes);
- mid-request: a query in flight on each of those N sessions (one task each, held in the transport on one shared
  event before the fake sees it, so nothing of the fake is in it; ``max_in_flight=N`` lets every query reach the
  transport); the memory added per session.
"""

from __future__ import annotations

import base64
import gc
import json
import tracemalloc
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from agora_recording import AcquireClientRequest, CloudRecordingClient, RecordingSession, Unlimited
from agora_recording._converter import to_wire
from agora_recording._requester import quote_segment
from agora_recording.testing import FakeAgoraServer, FakeTimings
from benchmarks._harness import Target, format_table
from benchmarks._payloads import scale_request

__all__ = ["FLOOR_FACTOR", "IDLE_TARGET_KB", "format_results", "run_benchmark", "targets"]

FLOOR_FACTOR = 2.0  # issue 17: a session mid-request costs at most 2x the floor
IDLE_TARGET_KB = 1.0  # issue 17: an idle started session, excluding the fake


def _traced() -> int:
    """Bytes traced now (snapshots, which could leave the fake's allocations out, take minutes at this size)."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


class _HoldQueries(httpx.AsyncBaseTransport):
    """Passes requests to the fake; while ``hold`` is set, a query waits on one shared event first."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.hold: anyio.Event | None = None
        self.held = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Hold a query while asked to, then answer as the fake does."""
        if self.hold is not None and request.url.path.endswith("/query"):
            self.held += 1
            await self.hold.wait()
        return await self.inner.handle_async_request(request)


async def _floor(n: int) -> float:
    event = anyio.Event()
    waiting = 0

    async def wait() -> None:
        nonlocal waiting
        waiting += 1
        await event.wait()

    async with anyio.create_task_group() as tg:
        before = _traced()
        for _ in range(n):
            tg.start_soon(wait)
        while waiting < n:
            await anyio.lowlevel.checkpoint()
        during = _traced()
        event.set()
    return (during - before) / n


async def _sessions(n: int) -> dict[str, float]:
    fake = FakeAgoraServer(rate_limit=None, timings=FakeTimings(ready_after=0, first_file_after=0), request_log_size=0)
    transport = _HoldQueries(fake.transport())
    request = scale_request()
    async with CloudRecordingClient(
        fake.app_id,
        fake.customer_id,
        fake.customer_secret,
        base_url=fake.base_url,
        transport=transport,
        rate_limiter=Unlimited(),
        max_in_flight=n,  # every query reaches the transport (the default cap would queue most of them in the gate)
    ) as client:
        # One session first, so that lazily built state (caches, converters, the fake's tables) is not counted.
        warm = client.session(cname="warm", uid="527841", mode="individual", client_request=request)
        await warm.start()
        await warm.query()
        sessions: list[RecordingSession] = []
        before = _traced()

        async def start(i: int) -> None:
            rec = client.session(cname=f"room{i}", uid="527841", mode="individual", client_request=request)
            await rec.start()
            sessions.append(rec)

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(start, i)
        idle = _traced()
        transport.hold = anyio.Event()
        async with anyio.create_task_group() as tg:
            for rec in sessions:
                tg.start_soon(rec.query)
            while transport.held < n:
                await anyio.lowlevel.checkpoint()
            busy = _traced()
            transport.hold.set()
            transport.hold = None
        async with anyio.create_task_group() as tg:
            for rec in [*sessions, warm]:
                tg.start_soon(rec.stop)
    return {"idle_kb": (idle - before) / n / 1e3, "mid_request_kb": (busy - idle) / n / 1e3}


async def _fake_only(n: int) -> float:
    """KB the fake keeps per recording: N acquire + start sent by a bare httpx client (the library's bodies)."""
    fake = FakeAgoraServer(rate_limit=None, timings=FakeTimings(ready_after=0, first_file_after=0), request_log_size=0)
    token = base64.b64encode(f"{fake.customer_id}:{fake.customer_secret}".encode()).decode()
    prefix = f"/v1/apps/{fake.app_id}/cloud_recording"
    start_body = to_wire(scale_request())
    acquire_body = to_wire(AcquireClientRequest())

    def body(cname: str, client_request: dict[str, Any]) -> bytes:
        return _dumps({"cname": cname, "uid": "527841", "clientRequest": client_request})

    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url=fake.base_url,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json;charset=utf-8"},
    ) as raw:

        async def record(cname: str) -> None:
            acquired = await raw.post(f"{prefix}/acquire", content=body(cname, acquire_body))
            resource_id = json.loads(acquired.content)["resourceId"]
            started = await raw.post(
                f"{prefix}/resourceid/{quote_segment(resource_id)}/mode/individual/start",
                content=body(cname, start_body),
            )
            if started.status_code != 200:
                raise RuntimeError(f"the fake refused a start: {started.status_code}")

        await record("warm")
        before = _traced()
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(record, f"room{i}")
        after = _traced()
    return (after - before) / n / 1e3


def _dumps(data: Any) -> bytes:
    """As the client encodes a body (RequestBody)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


async def _measure(n: int) -> dict[str, Any]:
    tracemalloc.start(1)
    try:
        floor = await _floor(n)
        sessions = await _sessions(n)
        fake_kb = await _fake_only(n)
    finally:
        tracemalloc.stop()
    idle_client = sessions["idle_kb"] - fake_kb
    return {"n": n, "floor_kb": floor / 1e3, **sessions, "fake_record_kb": fake_kb, "idle_client_kb": idle_client}


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Floor, idle session and mid-request memory, per task/session, in KB."""
    return anyio.run(_measure, 500 if quick else 10_000)


def format_results(results: dict[str, Any]) -> str:
    """One row per measurement, with the ratio to the floor."""
    floor = results["floor_kb"]
    rows = [
        ["floor: a task awaiting one anyio.Event", f"{floor:.2f}", "1.00x"],
        [
            "a session mid-request (its query's task, frames, httpx request)",
            f"{results['mid_request_kb']:.2f}",
            f"{results['mid_request_kb'] / floor:.2f}x",
        ],
        ["an idle started session (no task), with the fake's record", f"{results['idle_kb']:.2f}", "-"],
    ]
    if "idle_client_kb" in results:
        rows += [
            ["  the fake's record alone (bare httpx acquire + start)", f"{results['fake_record_kb']:.2f}", "-"],
            ["an idle started session, excluding the fake", f"{results['idle_client_kb']:.2f}", "-"],
        ]
    title = f"tracemalloc, {results['n']:,} at once, KB each"
    return format_table(["", "KB each", "ratio to the floor"], rows, title=title)


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 17: mid-request <= 2x the floor; an idle session <= 1 KB."""
    ratio = results["mid_request_kb"] / results["floor_kb"]
    return [
        Target(
            name="memory: a session mid-request / the floor",
            goal=f"<= {FLOOR_FACTOR:.1f}x",
            measured=f"{ratio:.2f}x",
            met=ratio <= FLOOR_FACTOR,
            source="issue 17",
        ),
        Target(
            name="memory: an idle started session, excluding the fake",
            goal=f"<= {IDLE_TARGET_KB:.1f} KB",
            measured=f"{results['idle_client_kb']:.2f} KB",
            met=results["idle_client_kb"] <= IDLE_TARGET_KB,
            source="issue 17",
        ),
    ]
