"""Scale: many concurrent sessions through one client, and efficiency at Agora's real limit of 10 requests/s.

- Unlimited: N concurrent sessions (``async with client.session(...) as rec: await rec.query()``, four requests
  each) against the in-process fake with its limit off and instant recordings; the client uses ``Unlimited()``.
  Wall time, requests per second and CPU per request come from one pass; peak memory (tracemalloc, which slows
  everything down) from a second pass. The fake's own state is inside the peak; what it still holds after the
  run is reported too, so it can be subtracted.
- At 10/s: N sessions through ``TokenBucket(10, 1.0)`` (default margin) against the fake's default strict window,
  in-process, real clock. The span from the first to the last request the fake received is compared with the
  least the limit allows, ``(requests - 10) / 10`` seconds; the fake's 429 count must be 0.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import anyio

from agora_recording import CloudRecordingClient, RateLimiter, TokenBucket, Unlimited
from agora_recording.testing import FakeAgoraServer, FakeTimings
from benchmarks._harness import Target, format_table
from benchmarks._payloads import scale_request

__all__ = ["EFFICIENCY_TARGET", "MEMORY_TARGET_MB", "format_results", "run_benchmark", "targets"]

EFFICIENCY_TARGET = 0.95
MEMORY_TARGET_MB = 50.0  # style guide section 11: 10,000 sessions well under 50 MB
DEADLINE = 900.0  # session start/stop deadlines: generous, so a slow (traced) pass cannot cut starts short
RUN_LIMIT = 600.0  # no single run may take longer than this


def _client(fake: FakeAgoraServer, limiter: RateLimiter) -> CloudRecordingClient:
    return CloudRecordingClient(
        fake.app_id,
        fake.customer_id,
        fake.customer_secret,
        base_url=fake.base_url,
        transport=fake.transport(),
        rate_limiter=limiter,
    )


async def _sessions(client: CloudRecordingClient, n: int) -> int:
    """Run ``n`` sessions at once (acquire, start, query, stop each); return how many failed."""
    failures = 0
    request = scale_request()

    async def one(i: int) -> None:
        nonlocal failures
        try:
            async with client.session(
                cname=f"room{i}",
                uid="527841",
                mode="individual",
                client_request=request,
                start_deadline=DEADLINE,
                stop_deadline=DEADLINE,
            ) as rec:
                await rec.query()
        except Exception:
            failures += 1

    with anyio.fail_after(RUN_LIMIT):
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
    return failures


def _unlimited_fake() -> FakeAgoraServer:
    return FakeAgoraServer(rate_limit=None, timings=FakeTimings(ready_after=0, first_file_after=0), request_log_size=0)


async def _timed(n: int) -> dict[str, Any]:
    fake = _unlimited_fake()
    async with _client(fake, Unlimited()) as client:
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        failures = await _sessions(client, n)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    requests = fake.stats.requests
    return {
        "sessions": n,
        "requests": requests,
        "failures": failures,
        "wall_s": wall,
        "requests_per_s": requests / wall,
        "cpu_per_request_us": cpu / requests * 1e6,
    }


async def _traced(n: int) -> dict[str, Any]:
    fake = _unlimited_fake()
    async with _client(fake, Unlimited()) as client:
        gc.collect()
        tracemalloc.start()
        try:
            failures = await _sessions(client, n)
            _, peak = tracemalloc.get_traced_memory()
            gc.collect()
            retained, _ = tracemalloc.get_traced_memory()  # mostly the fake's records of finished recordings
        finally:
            tracemalloc.stop()
    return {
        "failures": failures,
        "peak_mb": peak / 1e6,
        "peak_per_session_kb": peak / n / 1e3,
        "retained_per_session_kb": retained / n / 1e3,
    }


async def _rate_limited(n: int) -> dict[str, Any]:
    fake = FakeAgoraServer(timings=FakeTimings(ready_after=0, first_file_after=0))  # default: 10 per 1 s, strict
    limiter = TokenBucket(10, 1.0)
    async with _client(fake, limiter) as client:
        gc.collect()  # no pause for the previous runs' garbage inside the timed window
        wall = time.perf_counter()
        failures = await _sessions(client, n)
        wall = time.perf_counter() - wall
    arrivals = [r.at for r in fake.requests]
    requests = fake.stats.requests
    rate = fake.rate_limit or 10
    span = max(arrivals) - min(arrivals)
    least = (requests - rate) / (rate / fake.rate_window)
    return {
        "sessions": n,
        "requests": requests,
        "failures": failures,
        "wall_s": wall,
        "span_s": span,
        "least_s": least,
        "efficiency": least / span if span > 0 else 1.0,
        "ceiling": limiter.per / (limiter.per + limiter.margin),
        "rate_limited": fake.stats.rate_limited,
        "limiter": repr(limiter),
    }


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Run the unlimited sizes (timed, then traced) and the 10/s run; returns their numbers."""
    sizes = (100, 1_000) if quick else (100, 1_000, 10_000)
    traced = (100,) if quick else sizes
    limited = 5 if quick else 25
    unlimited = []
    for n in sizes:
        row = anyio.run(_timed, n)
        if n in traced:
            memory = anyio.run(_traced, n)
            row["failures"] += memory.pop("failures")
            row |= memory
        unlimited.append(row)
    return {"unlimited": unlimited, "rate_limited": anyio.run(_rate_limited, limited)}


def format_results(results: dict[str, Any]) -> str:
    """Two tables: the unlimited sizes, and the 10/s run."""
    rows = [
        [
            f"{r['sessions']:,}",
            f"{r['requests']:,}",
            f"{r['wall_s']:.2f}",
            f"{r['requests_per_s']:,.0f}",
            f"{r['cpu_per_request_us']:.0f}",
            f"{r['peak_mb']:.1f}" if "peak_mb" in r else "-",
            f"{r['peak_per_session_kb']:.1f}" if "peak_per_session_kb" in r else "-",
            f"{r['retained_per_session_kb']:.1f}" if "retained_per_session_kb" in r else "-",
            str(r["failures"]),
        ]
        for r in results["unlimited"]
    ]
    header = [
        "sessions",
        "requests",
        "wall s",
        "requests/s",
        "CPU us/req",
        "peak MB",
        "peak KB/session",
        "fake keeps KB/session",
        "failed",
    ]
    first = format_table(
        header,
        rows,
        title="concurrent sessions (acquire, start, query, stop) through one client, in-process fake, no limit; "
        "memory: tracemalloc in a separate pass",
    )
    r = results["rate_limited"]
    second = format_table(
        ["sessions", "requests", "first->last request s", "least allowed s", "efficiency", "429s", "failed"],
        [
            [
                str(r["sessions"]),
                str(r["requests"]),
                f"{r['span_s']:.2f}",
                f"{r['least_s']:.2f}",
                f"{r['efficiency']:.4f}",
                str(r["rate_limited"]),
                str(r["failures"]),
            ]
        ],
        title=f"at Agora's 10 requests/s: {r['limiter']} against the fake's strict 10 per 1 s window, real clock",
    )
    ceiling = f"(the limiter spaces windows by per + margin, so efficiency cannot exceed {r['ceiling']:.4f})"
    return f"{first}\n\n{second}\n{ceiling}"


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 7 (10/s efficiency, no 429, no failures) and the style guide's memory figure."""
    r = results["rate_limited"]
    out = [
        Target(
            name="10/s efficiency (least allowed / actual span)",
            goal=f">= {EFFICIENCY_TARGET:.2f}",
            measured=f"{r['efficiency']:.4f}",
            met=r["efficiency"] >= EFFICIENCY_TARGET,
            source="issue 7",
        ),
        Target(
            name="10/s: 429s from the fake",
            goal="0",
            measured=str(r["rate_limited"]),
            met=r["rate_limited"] == 0,
            source="issue 7",
        ),
    ]
    failed = sum(row["failures"] for row in results["unlimited"]) + r["failures"]
    out.append(Target(name="sessions that failed", goal="0", measured=str(failed), met=failed == 0, source="issue 7"))
    biggest = max(results["unlimited"], key=lambda row: row["sessions"] if "peak_mb" in row else -1)
    if biggest["sessions"] >= 10_000 and "peak_mb" in biggest:
        out.append(
            Target(
                name=f"peak memory, {biggest['sessions']:,} sessions (fake included)",
                goal=f"< {MEMORY_TARGET_MB:.0f} MB",
                measured=f"{biggest['peak_mb']:.0f} MB",
                met=biggest["peak_mb"] < MEMORY_TARGET_MB,
                source="style guide 11",
            )
        )
    return out
