"""Four real OS processes share one RedisRateLimiter against the fake's strict window, over TCP on 127.0.0.1.

The parent serves a ``FakeAgoraServer`` (10 admitted requests in any sliding second, else 429) and starts four
children (``python tests/test_redis_limiter_processes.py ...``), each a ``CloudRecordingClient`` with its own
``RedisRateLimiter.from_url`` on one key, sending a bounded number of ``acquire`` requests from several tasks. Every
child still running when the test ends (timeout, failure) is killed. Also: the redis benchmark's quick run completes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio

PROCESSES = 4
REQUESTS_PER_PROCESS = 40
TASKS_PER_PROCESS = 3
# Agora (and the fake) count arrivals, not grants: a request granted at g arrives at g + d. The grants themselves
# are exact (checked below on the Redis clock); the margin must cover how much d varies. The default 25 ms is for a
# warm connection on a quiet machine; here four interpreters, redis-server and the fake share 2 CPUs with other work,
# and d varied by up to 108 ms (median 8-18 ms) under load 3-5: 3 to 15 of 160 requests got 429 at 25 ms. 100 ms
# still allows 9.09/s, above the 9.0/s (90% of the limit) required here. Three tasks per process (12 callers for
# 10 slots per window keep the limit saturated) also keep each process's back-to-back sends short.
MARGIN = 0.1
CHILD_TIMEOUT = 120.0  # seconds for all four children; they need about 17


def max_in_any_window(times: list[float], per: float) -> int:
    """The most times inside any half-open window ``[t, t + per)``."""
    ordered = sorted(times)
    best = j = 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + per:
            j += 1
        best = max(best, j - i)
    return best


def test_four_processes_share_one_limit_against_the_fakes_strict_window() -> None:
    """4 processes x 40 requests: 0 answers 429, never 11 in a second, and >= 90% of the allowed 10/s."""
    from _redis_server import running_redis  # skips (or fails under AGORA_REQUIRE_REDIS=1) without Redis

    from agora_recording.testing import FakeAgoraServer

    with running_redis() as redis_server:
        fake = FakeAgoraServer()  # rate_limit=10 per sliding 1.0 s window, per account
        reports: list[dict[str, Any]] = []

        script = str(Path(__file__).resolve())
        ready = 0
        go = anyio.Event()

        async def main() -> None:
            async with fake.serve() as base_url:
                args = [sys.executable, script, base_url, redis_server.url]
                args += [fake.app_id, fake.customer_id, fake.customer_secret]
                # Leaving a Process's block while cancelled (timeout, or another child failing) kills it: no child
                # outlives this block.
                with anyio.fail_after(CHILD_TIMEOUT):
                    async with anyio.create_task_group() as tg:
                        for _ in range(PROCESSES):
                            tg.start_soon(run_child, args)

        async def run_child(args: list[str]) -> None:
            nonlocal ready
            async with await anyio.open_process(args) as process:
                assert process.stdin is not None
                assert process.stdout is not None
                assert process.stderr is not None
                out = bytearray()
                err = bytearray()

                async def drain(stream: Any, into: bytearray) -> None:
                    async for chunk in stream:
                        into.extend(chunk)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(drain, process.stderr, err)
                    # A start barrier: every child has imported, connected and warmed up before any sends, so four
                    # interpreters starting up do not starve the first requests of CPU (a grant is a promise about
                    # when a request leaves; a starved process sends it late, and the next window's requests then
                    # arrive too close behind it).
                    async for chunk in process.stdout:
                        out.extend(chunk)
                        if b"ready\n" in out:
                            break
                    del out[: out.index(b"ready\n") + len(b"ready\n")]
                    ready += 1
                    if ready == PROCESSES:
                        go.set()
                    await go.wait()
                    await process.stdin.send(b"go\n")
                    await drain(process.stdout, out)
                code = await process.wait()
            assert code == 0, err.decode(errors="replace")[-3000:]
            reports.append(json.loads(out.decode().strip().splitlines()[-1]))

        anyio.run(main, backend="asyncio")

    requests = [r for r in fake.requests if r.endpoint == "acquire"]
    assert len(requests) == PROCESSES * REQUESTS_PER_PROCESS
    assert fake.stats.rate_limited == 0
    assert all(r.status == 200 for r in requests)
    arrivals = [r.at for r in requests]
    assert max_in_any_window(arrivals, 1.0) <= 10
    # Grant times as every process saw them, on the one Redis clock: never 11 in a second either.
    grants = [t for report in reports for t in report["grants"]]
    assert len(grants) == len(requests)
    assert max_in_any_window(grants, 1.0) <= 10
    # Sustained rate on the fake's clock, over whole windows (arrival i and arrival i + 10m sit at the same place in
    # their windows): at least 90% of the 10/s the fake allows.
    ordered = sorted(arrivals)
    span = 10 * ((len(ordered) - 1) // 10)
    sustained = span / (ordered[span] - ordered[0])
    assert sustained >= 9.0, sustained
    assert all(report["rate_limited"] == 0 for report in reports)


def test_the_redis_benchmark_quick_run_reports_every_figure() -> None:
    """`benchmarks.bench_redis` in quick mode runs to the end and reports each figure (numbers, no verdicts)."""
    import math
    import os

    from _redis_server import require_redis

    require_redis()
    root = Path(__file__).resolve().parent.parent
    code = (
        "import json, sys\n"
        "from benchmarks import bench_redis\n"
        "r = bench_redis.run_benchmark(quick=True)\n"
        "print(bench_redis.format_results(r))\n"
        "print(json.dumps(r))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(results["one_grant"]) == {
        "RedisRateLimiter.acquire (EVALSHA)",
        "redis PING round trip (baseline)",
        "TokenBucket.acquire (in process)",
    }
    for column in results["four_processes"].values():
        assert column["grants"] == 4 * results["config"]["grants_per_process"]
        assert math.isfinite(column["sustained_per_s"])
    assert "max grants in any 1 s window" in proc.stdout


def _child(base_url: str, redis_url: str, app_id: str, customer_id: str, secret: str) -> None:
    """One worker process: REQUESTS_PER_PROCESS acquire requests from TASKS_PER_PROCESS tasks; prints a report."""
    import os

    import anyio.to_thread
    import httpx

    from agora_recording import CloudRecordingClient, RateLimitError
    from agora_recording.redis import RedisRateLimiter

    grants: list[float] = []
    rate_limited = 0

    class Recording:
        """Wraps the limiter to record each grant's time on the Redis server clock."""

        def __init__(self, inner: RedisRateLimiter) -> None:
            self.inner = inner

        async def acquire(self) -> None:
            granted = await self.inner.acquire_timed()
            assert granted is not None
            grants.append(granted)

        def on_rate_limited(self, retry_after: float | None) -> None:
            self.inner.on_rate_limited(retry_after)

    async def main() -> None:
        nonlocal rate_limited
        # Warm-up that the fake does not count (an unknown route is a 404 before its rate limit) and that takes no
        # permit on the shared key: httpx's first-request paths, a Redis connection and the script.
        async with httpx.AsyncClient(base_url=base_url) as http:
            await http.get("/warm-up")
        async with RedisRateLimiter.from_url(redis_url, key=f"warm-up-{os.getpid()}") as warm:
            await warm.acquire()
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)  # the parent's "go"
        limiter = RedisRateLimiter.from_url(redis_url, key=customer_id, margin=MARGIN)
        async with (
            limiter,
            CloudRecordingClient(app_id, customer_id, secret, base_url=base_url, rate_limiter=Recording(limiter)) as c,
        ):
            remaining = REQUESTS_PER_PROCESS

            async def worker(worker_no: int) -> None:
                nonlocal remaining, rate_limited
                while remaining > 0:
                    remaining -= 1
                    try:
                        await c.acquire(cname=f"ch-{worker_no}-{remaining}", uid="1", retries=0)
                    except RateLimitError:
                        rate_limited += 1

            async with anyio.create_task_group() as tg:
                for worker_no in range(TASKS_PER_PROCESS):
                    tg.start_soon(worker, worker_no)
        print(json.dumps({"grants": grants, "rate_limited": rate_limited}))

    anyio.run(main, backend="asyncio")


if __name__ == "__main__":
    _child(*sys.argv[1:6])
