"""TokenBucket cancellation: N waiters queued, half of them cancelled in random order, then the rest served.

The limiter runs on a :class:`~agora_recording.testing.VirtualClock` (no real waiting): every waiter first
queues behind a full window; then a random half is cancelled, one cancel scope at a time, and the CPU of those
cancellations is measured per cancellation. A removal in O(n) (``deque.remove``) grows with N; in O(1) it does
not. The survivors are then granted, and their grant order is checked (FIFO among the survivors).
"""

from __future__ import annotations

import random
import time
from typing import Any

import anyio
import anyio.lowlevel

from agora_recording import TokenBucket
from agora_recording.testing import VirtualClock
from benchmarks._harness import Target, format_table

__all__ = ["format_results", "run_benchmark", "targets"]


async def _run(n: int, seed: int) -> dict[str, Any]:
    clock = VirtualClock()
    limiter = TokenBucket(1, 1.0, margin=0, clock=clock, sleep=clock.sleep)
    await limiter.acquire()  # the window is full: everyone below waits
    scopes = [anyio.CancelScope() for _ in range(n)]
    granted: list[int] = []

    async def waiter(i: int) -> None:
        with scopes[i]:
            await limiter.acquire()
            granted.append(i)

    rng = random.Random(seed)
    cancelled = sorted(rng.sample(range(n), n // 2))
    order = cancelled[:]
    rng.shuffle(order)
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(waiter, i)
        while limiter.waiting < n:
            await anyio.lowlevel.checkpoint()
        t0 = time.process_time()
        for i in order:
            scopes[i].cancel()
            await anyio.lowlevel.checkpoint()  # let the cancelled waiter leave the queue
        while limiter.waiting > n - len(order):
            await anyio.lowlevel.checkpoint()
        cancel_cpu = time.process_time() - t0
        survivors = n - len(order)
        while len(granted) < survivors:  # one grant per virtual second
            clock.advance(1.0)
            await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
    gone = set(cancelled)
    kept = [i for i in range(n) if i not in gone]
    return {
        "waiters": n,
        "cancelled": len(order),
        "cancel_cpu_s": cancel_cpu,
        "us_per_cancel": cancel_cpu / len(order) * 1e6,
        "fifo_ok": granted == kept,
    }


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """10,000 waiters (and 100,000 in a full run), half cancelled at random."""
    sizes = (1_000, 10_000) if quick else (10_000, 100_000)
    return {"runs": [anyio.run(_run, n, 17) for n in sizes]}


def format_results(results: dict[str, Any]) -> str:
    """One row per queue size: CPU per cancellation, and whether the survivors were served in order."""
    rows = [
        [f"{r['waiters']:,}", f"{r['cancelled']:,}", f"{r['cancel_cpu_s']:.3f}", f"{r['us_per_cancel']:.1f}",
         "yes" if r["fifo_ok"] else "NO"]
        for r in results["runs"]
    ]  # fmt: skip
    title = "TokenBucket(1, 1.0) on a virtual clock: every waiter queued, a random half cancelled one by one"
    return format_table(["waiters", "cancelled", "CPU s", "us per cancel", "survivors FIFO"], rows, title=title)


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 17: O(1) cancellation: the cost per cancel does not grow with the queue (largest / smallest <= 3x)."""
    small, large = results["runs"][0], results["runs"][-1]
    growth = large["us_per_cancel"] / small["us_per_cancel"]
    return [
        Target(
            name=f"limiter cancel cost, {large['waiters']:,} vs {small['waiters']:,} waiters",
            goal="<= 3x (O(1))",
            measured=f"{growth:.2f}x",
            met=growth <= 3.0,
            source="issue 17",
        ),
        Target(
            name="limiter: survivors served FIFO after cancellations",
            goal="yes",
            measured="yes" if all(r["fifo_ok"] for r in results["runs"]) else "NO",
            met=all(r["fifo_ok"] for r in results["runs"]),
            source="issue 17",
        ),
    ]
