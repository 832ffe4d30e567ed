"""No recording is left running: cancellation at every await point, and every fault the fake can inject."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _support import client_for, make_fake, request_for

from agora_recording import (
    AgoraError,
    RetryPolicy,
    ServerError,
    SessionState,
    StartOutcomeUnknownError,
    UpdateLayoutClientRequest,
)
from agora_recording.testing import FakeAgoraServer
from agora_recording.testing._clock import VirtualClock
from agora_recording.testing._faults import FAULT_KINDS

pytestmark = pytest.mark.anyio

NO_JITTER = RetryPolicy(jitter=0.0)


class CancelAt(httpx.AsyncBaseTransport):
    """Forwards to the fake; at request number ``at`` it cancels ``scope`` before or after the fake answers."""

    def __init__(self, fake: FakeAgoraServer, *, at: int, where: str) -> None:
        self.inner = fake.transport()
        self.at = at
        self.where = where
        self.count = 0
        self.scope: anyio.CancelScope | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        hit = self.count == self.at and self.scope is not None
        if hit and self.where == "before":
            assert self.scope is not None
            self.scope.cancel()
            await anyio.lowlevel.checkpoint()  # cancelled here unless the caller is shielded
        response = await self.inner.handle_async_request(request)
        if hit and self.where == "after":
            assert self.scope is not None
            self.scope.cancel()
            await anyio.lowlevel.checkpoint()  # the answer is lost unless the caller is shielded
        return response


async def lifecycle(client: Any, vc: VirtualClock) -> None:
    """acquire, start, verify (queries with backoff), updateLayout, query, stop."""
    async with client.session(cname="room1", uid="1", mode="mix", client_request=request_for("mix")) as rec:
        await rec.wait_until_recording()
        await rec.update_layout(UpdateLayoutClientRequest(mixed_video_layout=2))
        await vc.sleep(30)
        await rec.query()


async def count_requests(vc: VirtualClock) -> int:
    fake = make_fake(vc)
    async with client_for(fake, vc, retry=NO_JITTER) as client, vc.autojump():
        await lifecycle(client, vc)
    return fake.stats.requests


async def test_cancellation_at_every_request_leaves_nothing_running() -> None:
    """Cancel before and after each request of the lifecycle: no recording is ever left running on the fake."""
    total = await count_requests(VirtualClock())
    assert total >= 6
    for at in range(1, total + 1):
        for where in ("before", "after"):
            vc = VirtualClock()
            fake = make_fake(vc)
            transport = CancelAt(fake, at=at, where=where)
            async with client_for(fake, vc, transport=transport, retry=NO_JITTER) as client, vc.autojump():
                with anyio.CancelScope() as scope:
                    transport.scope = scope
                    await lifecycle(client, vc)
            assert fake.running_recordings() == [], (at, where)
            assert fake.undelivered_sids() == [], (at, where)


@pytest.mark.parametrize("cancel_at", [0.0, 0.5, 2.0, 5.0, 7.5, 12.0, 20.0, 40.0, 60.0])
async def test_cancellation_during_any_wait_leaves_nothing_running(cancel_at: float) -> None:
    """Cancel at a virtual time (inside a backoff, a verification wait or the body): nothing is left running."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject("query", kind="worker_not_found", count=1)
    fake.inject("stop", kind="internal_error", count=1)
    async with client_for(fake, vc, retry=NO_JITTER) as client, vc.autojump():
        with anyio.CancelScope() as scope:

            async def canceller() -> None:
                await vc.sleep(cancel_at)
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(canceller)
                await lifecycle(client, vc)
                tg.cancel_scope.cancel()
    assert fake.running_recordings() == []


def fault_cases() -> list[tuple[str, str, str]]:
    cases = []
    for endpoint in ("acquire", "start", "query", "updateLayout", "stop"):
        for kind in FAULT_KINDS:
            if kind == "status":
                continue
            for when in ("before", "after"):
                if kind == "connect_error" and when == "after":
                    continue
                cases.append((endpoint, kind, when))
    return cases


@pytest.mark.parametrize(("endpoint", "kind", "when"), fault_cases())
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_every_injected_fault_leaves_no_delivered_sid_running(endpoint: str, kind: str, when: str) -> None:
    """Each fault kind on each endpoint, before or after the work: every sid we received ends stopped."""
    vc = VirtualClock()
    fake = make_fake(vc)
    fake.inject(endpoint, kind=kind, when=when, delay=1.0 if kind == "delay" else 0.0)  # type: ignore[arg-type]
    async with client_for(fake, vc, retry=NO_JITTER) as client, vc.autojump():
        error: AgoraError | None = None
        try:
            await lifecycle(client, vc)
        except AgoraError as exc:
            error = exc  # some faults end the lifecycle early (e.g. a start whose sid was lost)
    delivered_running = [r for r in fake.running_recordings() if r.sid_delivered]
    assert delivered_running == []
    if endpoint == "start" and when == "after" and kind != "delay":
        # Agora did the work and the answer was lost or replaced: a recording runs whose sid we never got.
        # The caller always gets an error (never a success without a sid); for the answers that really mean
        # "maybe processed" (lost answers, 5xx, 206/65) the resend's code 7 becomes the distinct error.
        assert fake.stats.recordings_started == 1
        assert error is not None
        maybe_processed = ("timeout", "disconnect", "internal_error", "request_timeout", "proxy_error", "not_completed")
        if kind in maybe_processed:
            assert isinstance(error, StartOutcomeUnknownError), repr(error)
        elif kind == "allocate_failed":
            assert isinstance(error, ServerError), repr(error)
    else:
        assert fake.orphans() == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_random_faults_over_many_sessions_leave_no_delivered_sid_running() -> None:
    """Seeded random faults on every endpoint across 40 sessions: every delivered sid ends stopped."""
    vc = VirtualClock()
    fake = make_fake(vc, seed=7)
    fake.random_faults(
        0.15,
        kinds=["internal_error", "request_timeout", "not_completed", "rate_limited", "timeout", "disconnect"],
        when="after",
    )
    fake.random_faults(0.1, kinds=["proxy_error", "connect_error", "worker_not_found"], when="before")
    outcomes: dict[str, int] = {}
    async with client_for(fake, vc, retry=NO_JITTER) as client, vc.autojump():
        for i in range(40):
            session = client.session(cname=f"room{i}", uid=str(i + 1), mode="mix", client_request=request_for("mix"))
            try:
                async with session as rec:
                    await rec.query()
            except AgoraError as exc:
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            else:
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            assert session.state in (SessionState.STOPPED, SessionState.UNKNOWN, SessionState.FAILED, SessionState.NEW)
    assert fake.stats.faults_fired > 10
    assert outcomes.get("ok", 0) > 20
    assert [r for r in fake.running_recordings() if r.sid_delivered] == []
