"""The headline promise under every way of cancelling: no recording is left running once the client closes.

A seeded, bounded matrix: a few session lifecycles share one client on a virtual clock, the fake answers with random
latencies (before or after acting), a small rate limiter makes them queue, and each run cancels the lifecycles at a
random virtual moment (waiting for a permit, mid-start, recording, mid-stop) by one mechanism. After the client
closes, ``fake.running_recordings() == []`` in every run, and the caller's cancellation propagated unchanged.

asyncio's native mechanisms: ``task.cancel()``, ``asyncio.timeout``, ``asyncio.wait_for``, a failing
``asyncio.TaskGroup`` sibling, ``asyncio.gather`` cancellation, a cancel of the task that owns the client, and
Ctrl-C (SIGINT) under ``asyncio.run``. Then the same on anyio and trio with cancel scopes and failing siblings.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from _support import make_fake, request_for

from agora_recording import CloudRecordingClient, RetryPolicy, SessionState, TokenBucket
from agora_recording.testing._clock import VirtualClock

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

SESSIONS = 4
SEEDS = range(10)


class Run:
    """One run of the matrix: the fake, the client's parts, and what was seen when the cancellation fired."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vc = VirtualClock()
        self.fake = make_fake(self.vc, rate_limit=None)
        for endpoint in ("acquire", "start", "stop"):
            for _ in range(SESSIONS * 2):
                self.fake.inject(
                    endpoint,
                    kind="delay",
                    delay=self.rng.uniform(0.0, 0.04),
                    when="after" if self.rng.random() < 0.7 else "before",  # "after": it acted, the answer is late
                )
        self.limiter = TokenBucket(3, 0.05, margin=0.0, clock=self.vc, sleep=self.vc.sleep)
        self.cancel_at = self.rng.uniform(0.0, 0.15)
        self.holds = [self.rng.uniform(0.0, 0.1) for _ in range(SESSIONS)]
        self.styles = [self.rng.choice(["context", "explicit"]) for _ in range(SESSIONS)]
        self.seen: list[SessionState] = []
        self.fired_after_end = False
        self.sessions: list[Any] = []

    def client(self) -> CloudRecordingClient:
        return CloudRecordingClient(
            self.fake.app_id,
            self.fake.customer_id,
            self.fake.customer_secret,
            base_url=self.fake.base_url,
            transport=self.fake.transport(),
            clock=self.vc,
            sleep=self.vc.sleep,
            rate_limiter=self.limiter,
            retry=RetryPolicy(jitter=0.0),
        )

    async def lifecycle(self, client: CloudRecordingClient, i: int) -> None:
        """``async with`` (stopped on exit), or start/hold/stop by hand (dropped when cancelled)."""
        rec = client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix"))
        self.sessions.append(rec)
        if self.styles[i] == "context":
            async with rec:
                await self.vc.sleep(self.holds[i])
        else:
            await rec.start()
            await self.vc.sleep(self.holds[i])
            await rec.stop()

    async def lifecycles(self, client: CloudRecordingClient) -> None:
        async with anyio.create_task_group() as tg:
            for i in range(SESSIONS):
                tg.start_soon(self.lifecycle, client, i)

    async def at_cancel_time(self, fire: Callable[[], object]) -> None:
        await self.vc.sleep(self.cancel_at)
        self.seen.extend(rec.state for rec in self.sessions)
        self.fired_after_end = len(self.sessions) == SESSIONS and all(
            rec.state is SessionState.STOPPED for rec in self.sessions
        )
        fire()

    def check(self) -> None:
        assert self.fake.running_recordings() == [], self.fake.running_recordings()


def _coverage(runs: list[Run]) -> set[SessionState]:
    return {state for run in runs for state in run.seen}


# -- asyncio, native ------------------------------------------------------------------------------------------------


async def _native(run: Run, mechanism: str) -> None:
    """One run: the lifecycles inside `async with client`, cancelled natively by ``mechanism``."""
    async with run.vc.autojump():
        if mechanism == "owner task.cancel()":  # the task that holds `async with client` is the one cancelled
            owner = asyncio.ensure_future(_own_client(run))
            await run.at_cancel_time(owner.cancel)
            with pytest.raises(asyncio.CancelledError):
                await owner
            return
        async with run.client() as client:
            # Each lifecycle in a plain asyncio task of its own: an anyio task group around them would turn a
            # native cancellation into a cancel-scope one, which the library's shields handled before.
            if mechanism == "task.cancel()":
                tasks = [asyncio.ensure_future(run.lifecycle(client, i)) for i in range(SESSIONS)]
                await run.at_cancel_time(lambda: [task.cancel() for task in tasks])
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                _propagated(run, outcomes, asyncio.CancelledError)
            elif mechanism == "asyncio.timeout":
                loop = asyncio.get_running_loop()
                timeouts: dict[int, asyncio.Timeout] = {}

                async def timed(i: int) -> None:
                    async with asyncio.timeout(None) as cm:
                        timeouts[i] = cm
                        await run.lifecycle(client, i)

                tasks = [asyncio.ensure_future(timed(i)) for i in range(SESSIONS)]

                def expire() -> None:  # a task not done is still inside its timeout block (it exits as it ends)
                    for i, cm in timeouts.items():
                        if not tasks[i].done():
                            cm.reschedule(loop.time())

                await run.at_cancel_time(expire)
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
                _propagated(run, outcomes, TimeoutError)
            elif mechanism == "asyncio.wait_for":
                # wait_for's own timer runs on the loop's real clock; the virtual clock jumps meanwhile, so the
                # timeout lands at some point of the lifecycles (which point varies; the verdict must not).
                timeout = run.rng.uniform(0.0, 0.01)
                outcomes = await asyncio.gather(
                    *(asyncio.wait_for(run.lifecycle(client, i), timeout) for i in range(SESSIONS)),
                    return_exceptions=True,
                )
                assert all(o is None or isinstance(o, asyncio.TimeoutError) for o in outcomes), outcomes
            elif mechanism == "TaskGroup sibling":

                async def sibling() -> None:
                    await run.at_cancel_time(lambda: None)
                    raise RuntimeError("sibling failed")

                failed: list[ExceptionGroup[Exception]] = []

                async def group() -> None:
                    # In a task of its own: Python 3.11's TaskGroup can leave its parent task "cancelling", which
                    # would confuse the anyio cancel scopes of the test's autojump driver in this task.
                    try:
                        async with asyncio.TaskGroup() as tg:
                            for i in range(SESSIONS):
                                tg.create_task(run.lifecycle(client, i))
                            tg.create_task(sibling())
                    except ExceptionGroup as exc:
                        failed.append(exc)

                await asyncio.ensure_future(group())
                assert len(failed) == 1
                assert failed[0].subgroup(RuntimeError) is not None
            elif mechanism == "gather":
                gathered = asyncio.gather(*(run.lifecycle(client, i) for i in range(SESSIONS)))
                await run.at_cancel_time(gathered.cancel)
                (outcome,) = await asyncio.gather(gathered, return_exceptions=True)
                assert isinstance(outcome, asyncio.CancelledError) or run.fired_after_end
            else:  # pragma: no cover - a typo in the parameter list
                raise AssertionError(mechanism)


async def _own_client(run: Run) -> None:
    async with run.client() as client:
        await asyncio.gather(*(run.lifecycle(client, i) for i in range(SESSIONS)))
        await asyncio.Event().wait()  # done early: wait for the cancellation


def _propagated(run: Run, outcomes: list[object], kind: type[BaseException]) -> None:
    """Each caller saw its cancellation unchanged (or had finished before it fired)."""
    for outcome in outcomes:
        assert outcome is None or isinstance(outcome, kind), outcome
    if not run.fired_after_end:
        assert any(isinstance(outcome, kind) for outcome in outcomes), outcomes


NATIVE = ["task.cancel()", "asyncio.timeout", "asyncio.wait_for", "TaskGroup sibling", "gather", "owner task.cancel()"]
_PY311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout and asyncio.TaskGroup are 3.11+")


@pytest.mark.parametrize(
    "mechanism",
    [pytest.param(m, marks=_PY311) if m in ("asyncio.timeout", "TaskGroup sibling") else m for m in NATIVE],
)
def test_native_asyncio_cancellation_at_random_points_leaves_nothing_running(mechanism: str) -> None:
    """Every native asyncio mechanism, at seeded random points: nothing runs after the client closed."""
    runs = []
    for seed in SEEDS:
        run = Run(seed)
        asyncio.run(_native(run, mechanism))
        run.check()
        runs.append(run)
    if mechanism != "asyncio.wait_for":  # its timeout is on the real clock; the others fire at virtual points
        assert _coverage(runs) & {SessionState.STARTING, SessionState.RECORDING}


def test_the_matrix_cancels_at_every_phase() -> None:
    """The matrix is not vacuous: across its runs the cancellation lands while starting, recording and stopping."""
    runs = []
    for seed in range(24):
        run = Run(seed)
        asyncio.run(_native(run, "task.cancel()"))
        run.check()
        runs.append(run)
    assert {SessionState.STARTING, SessionState.RECORDING, SessionState.STOPPING} <= _coverage(runs)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.run handles SIGINT by cancelling main from 3.11")
@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals need the main thread")
@pytest.mark.parametrize("seed", SEEDS)
def test_ctrl_c_under_asyncio_run_leaves_nothing_running(seed: int) -> None:
    """SIGINT during the lifecycles: asyncio.run cancels its main task, the client drains, KeyboardInterrupt."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("asyncio.run installs its SIGINT handler only over the default one")
    run = Run(seed)

    async def main() -> None:
        async with run.vc.autojump(), run.client() as client:
            canceller = asyncio.ensure_future(run.at_cancel_time(lambda: signal.raise_signal(signal.SIGINT)))
            await run.lifecycles(client)
            await canceller
            await asyncio.sleep(1)  # real time: the interrupt arrives at once

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())
    run.check()


@pytest.mark.parametrize("seed", SEEDS)
def test_without_async_with_the_caller_waits_but_nothing_is_left_running(seed: int) -> None:
    """A client used without `async with`: task.cancel() at a random point, then aclose(): nothing runs."""
    run = Run(seed)

    async def main() -> None:
        async with run.vc.autojump():
            client = run.client()
            task = asyncio.ensure_future(run.lifecycles(client))
            await run.at_cancel_time(task.cancel)
            await asyncio.gather(task, return_exceptions=True)
            assert task.cancelled() or run.fired_after_end
            await client.aclose()

    asyncio.run(main())
    run.check()


# -- anyio and trio ---------------------------------------------------------------------------------------------------

SCOPED = ["CancelScope.cancel()", "failing sibling", "task group cancel"]


async def _scoped(run: Run, mechanism: str) -> None:
    async with run.vc.autojump(), run.client() as client:
        if mechanism == "CancelScope.cancel()":
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(run.at_cancel_time, scope.cancel)
                    await run.lifecycles(client)
                    tg.cancel_scope.cancel()
        elif mechanism == "failing sibling":

            async def sibling() -> None:
                await run.at_cancel_time(lambda: None)
                raise RuntimeError("sibling failed")

            failed: BaseExceptionGroup[BaseException] | None = None
            try:
                async with anyio.create_task_group() as tg:
                    for i in range(SESSIONS):
                        tg.start_soon(run.lifecycle, client, i)
                    tg.start_soon(sibling)
            except BaseExceptionGroup as exc:
                failed = exc
            assert failed is not None
            assert failed.subgroup(RuntimeError) is not None
        else:
            async with anyio.create_task_group() as tg:
                for i in range(SESSIONS):
                    tg.start_soon(run.lifecycle, client, i)
                await run.at_cancel_time(tg.cancel_scope.cancel)


@pytest.mark.anyio
@pytest.mark.parametrize("mechanism", SCOPED)
async def test_anyio_and_trio_cancellation_at_random_points_leaves_nothing_running(mechanism: str) -> None:
    """The same matrix with cancel scopes, on asyncio and trio: nothing runs after the client closed."""
    runs = []
    for seed in SEEDS:
        run = Run(seed)
        await _scoped(run, mechanism)
        run.check()
        runs.append(run)
    assert _coverage(runs) & {SessionState.STARTING, SessionState.RECORDING}


@pytest.mark.anyio
async def test_a_cancelled_scope_around_async_with_client_still_drains() -> None:
    """The scope around `async with client` is cancelled while sessions record: the exit drains them shielded."""
    run = Run(0)
    async with run.vc.autojump():
        with anyio.CancelScope() as scope:
            async with run.client() as client:
                for i in range(SESSIONS):
                    await client.session(
                        cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")
                    ).start()
                scope.cancel()
                await run.vc.sleep(1)
        assert scope.cancelled_caught
    run.check()


def test_the_owner_cancelled_again_while_the_client_drains_still_leaves_nothing_running() -> None:
    """A second native cancel of the task in `async with client`, while its close drains: the drain finishes."""
    run = Run(1)

    async def owner(started: asyncio.Event) -> None:
        async with run.client() as client:
            for i in range(SESSIONS):
                await client.session(cname=f"room{i}", uid="1", mode="mix", client_request=request_for("mix")).start()
            run.fake.inject("stop", kind="delay", delay=1.0, count=SESSIONS)
            started.set()
            await asyncio.Event().wait()

    async def main() -> None:
        async with run.vc.autojump():
            started = asyncio.Event()
            task = asyncio.ensure_future(owner(started))
            await started.wait()
            task.cancel()  # the drain starts: four stops, each answered 1 s late
            await run.vc.sleep(0.5)
            task.cancel()  # again, mid-drain
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    run.check()
