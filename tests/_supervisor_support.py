"""Helpers for the supervisor tests: a supervisor on the fake and one virtual clock, and an event collector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx
from _support import client_for, make_fake

from agora_recording import EventStream, RecordingSupervisor, SupervisorEvent, TokenBucket
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock


class FailoverTransport(httpx.AsyncBaseTransport):
    """The fake, except that queries of chosen sids answer 404 "failed to find worker" until a given time.

    That is what Agora answers while its high availability moves a task (up to 90 s): the task keeps running
    (the fake still has it) but cannot be found. ``lost`` records each 404 served as ``(time, sid)``.
    """

    def __init__(self, fake: FakeAgoraServer, clock: VirtualClock) -> None:
        self._inner = fake.transport()
        self._clock = clock
        self.windows: dict[str, tuple[float, float]] = {}
        self.lost: list[tuple[float, str]] = []

    def fail_over(self, sid: str, seconds: float, *, start: float | None = None) -> None:
        """Queries of ``sid`` answer 404 from ``start`` (default: now) for ``seconds``."""
        begin = self._clock() if start is None else start
        self.windows[sid] = (begin, begin + seconds)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/query"):
            sid = path.split("/sid/")[1].split("/")[0]
            begin, end = self.windows.get(sid, (0.0, 0.0))
            if begin <= self._clock() < end:
                self.lost.append((self._clock(), sid))
                body = {"code": 404, "reason": "failed to find worker"}
                return httpx.Response(404, json=body, headers={"x-request-id": "failover"}, request=request)
        return await self._inner.handle_async_request(request)


class Collector:
    """Collects every event of one stream (until the supervisor exits) into ``events``."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.events: list[SupervisorEvent] = []

    async def run(self) -> None:
        async for event in self.stream:
            self.events.append(event)

    async def settle(self) -> None:
        """Let the collector take every event published so far."""
        while self.stream.pending:
            await anyio.lowlevel.checkpoint()
        for _ in range(5):  # the last one taken is appended after the stream's own checkpoint
            await anyio.lowlevel.checkpoint()

    def kinds(self, cname: str | None = None, role: str | None = None) -> list[str]:
        return [e.kind for e in self.of(cname, role)]

    def of(self, cname: str | None = None, role: str | None = None) -> list[SupervisorEvent]:
        return [e for e in self.events if (cname is None or e.cname == cname) and (role is None or e.role == role)]


@asynccontextmanager
async def supervised(
    vc: VirtualClock,
    fake: FakeAgoraServer | None = None,
    *,
    limited: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> AsyncIterator[tuple[FakeAgoraServer, RecordingSupervisor, Collector]]:
    """A running supervisor on the fake (client limited to 10 requests/s on ``vc``), with an event collector.

    The collector keeps running until the supervisor has exited, so the final "stopped" events are in it.
    """
    fake = fake or make_fake(vc)
    limiter = TokenBucket(10, 1.0, clock=vc, sleep=vc.sleep) if limited else None
    async with (
        vc.autojump(),  # outermost: the client's close may still wait on the virtual clock
        client_for(fake, vc, rate_limiter=limiter, transport=transport) as client,
        anyio.create_task_group() as tg,
        RecordingSupervisor(client, **options) as sup,
    ):
        collector = Collector(sup.events())
        tg.start_soon(collector.run)
        yield fake, sup, collector
