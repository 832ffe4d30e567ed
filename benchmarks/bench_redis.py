"""Benchmark RedisRateLimiter against a private redis-server on 127.0.0.1, next to TokenBucket.

Run ``python -m benchmarks --only redis`` (or ``python -m benchmarks.bench_redis``). It starts its own
``redis-server`` (free port, no persistence) and stops it; without ``redis-server`` or redis-py it prints why and
skips. Measured:

1. one grant, uncontended: wall time (the EVALSHA round trip on loopback) and CPU per grant in this process, next
   to a plain ``PING`` round trip and to ``TokenBucket``'s in-process fast path;
2. four OS processes at 10/s sharing one key: max grants in any second (on the Redis clock), the sustained rate as
   a fraction of the limit, CPU per grant in each process; and the same four processes each with their own
   ``TokenBucket`` (what you get without Redis: each process keeps its own 10/s).

Numbers only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread

from agora_recording._limiter import DEFAULT_MARGIN, TokenBucket
from benchmarks._harness import Target

PROCESSES = 4
RATE = 10
TASKS_PER_PROCESS = 5
FRACTION_TARGET = 0.95  # the in-process limiter's target (benchmarks' limiter section): 95% of the limit


def max_in_any_window(times: Sequence[float], per: float) -> int:
    """The most times inside any half-open window ``[t, t + per)``."""
    ordered = sorted(times)
    best = j = 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + per - 1e-9:
            j += 1
        best = max(best, j - i)
    return best


def _missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis.asyncio  # noqa: F401 - only checking that the extra is installed
    except ImportError:
        return "redis-py is not installed (pip install 'agora-recording[redis]')"
    return None


@contextmanager
def _redis_server() -> Iterator[str]:
    """A private redis-server on 127.0.0.1 for the duration of the block; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="agora-bench-redis-")
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    args += ["--dir", workdir, "--loglevel", "warning"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)


async def _one_grant(url: str, iterations: int) -> dict[str, dict[str, float]]:
    """Per-call wall and CPU time of sequential uncontended grants (and of PING and TokenBucket, for scale)."""
    import redis.asyncio

    from agora_recording.redis import RedisRateLimiter

    # 1000 grants per millisecond: the window is always open, but the whole script runs (TIME, trim, book).
    limiter = RedisRateLimiter.from_url(url, key="bench-one", rate=1000, per=0.001, margin=0)
    client = redis.asyncio.Redis.from_url(url)
    bucket = TokenBucket(1000, 1e-6, margin=0)
    out: dict[str, dict[str, float]] = {}
    try:

        async def ping() -> None:
            await client.ping()

        cases = {
            "RedisRateLimiter.acquire (EVALSHA)": limiter.acquire,
            "redis PING round trip (baseline)": ping,
            "TokenBucket.acquire (in process)": bucket.acquire,
        }
        for name, call in cases.items():
            for _ in range(min(200, iterations)):  # warm up: connection, script load
                await call()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(iterations):
                await call()
            out[name] = {
                "wall_us": (time.perf_counter() - wall) / iterations * 1e6,
                "cpu_us": (time.process_time() - cpu) / iterations * 1e6,
            }
    finally:
        await limiter.aclose()
        await client.aclose()
    return out


def _run_processes(kind: str, url: str, grants: int) -> dict[str, Any]:
    """Four child processes (``kind``: "redis" or "bucket"), each taking ``grants`` permits from several tasks."""
    args = [sys.executable, "-m", "benchmarks.bench_redis", "--child", kind, "--url", url, "--grants", str(grants)]
    children = [
        subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    reports = []
    try:
        # A start barrier: every child has imported, connected and warmed up before any takes a permit, so the
        # numbers show the limiter, not the staggered start-up of four interpreters on a small machine.
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("benchmark child did not start")
        started = time.perf_counter()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=30 + grants * PROCESSES / RATE * 3)
            if child.returncode != 0:
                raise RuntimeError(f"benchmark child failed: {err[-1000:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        elapsed = time.perf_counter() - started
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=5)
    times = sorted(t for report in reports for t in report["grants"])
    # Whole windows only: with k grants per window (the most seen in one), grant i and grant i + k * m sit at the
    # same place in their windows, so the idle burst and the partial last window do not bias the rate.
    per_window = max_in_any_window(times, 1.0)
    span = per_window * ((len(times) - 1) // per_window)
    sustained = span / (times[span] - times[0]) if span else float("nan")  # nan: fewer than two windows
    return {
        "grants": len(times),
        "max_in_window": per_window,
        "sustained_per_s": sustained,
        "sustained_fraction": sustained / RATE,
        "cpu_per_grant_us": sum(r["cpu_s"] for r in reports) / len(times) * 1e6,
        "elapsed_s": elapsed,
    }


def _child(kind: str, url: str, grants: int) -> None:
    """One benchmark process: ``grants`` permits from TASKS_PER_PROCESS tasks; prints grant times and CPU."""
    times: list[float] = []

    cpu = 0.0

    async def main() -> None:
        nonlocal cpu
        remaining = grants
        if kind == "redis":
            from agora_recording.redis import RedisRateLimiter

            limiter = RedisRateLimiter.from_url(url, key="bench-four", rate=RATE)
            async with RedisRateLimiter.from_url(url, key=f"bench-warm-{id(times)}", rate=1000) as warm:
                await warm.acquire()  # imports, connection, script load

            async def take() -> None:
                granted = await limiter.acquire_timed()
                assert granted is not None
                times.append(granted)

        else:
            bucket = TokenBucket(RATE)

            async def take() -> None:
                await bucket.acquire()
                # Same host: CLOCK_MONOTONIC is shared by the processes, so their times compare.
                times.append(time.monotonic())

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await take()

        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)  # the parent's "go"
        cpu = time.process_time()
        async with anyio.create_task_group() as tg:
            for _ in range(TASKS_PER_PROCESS):
                tg.start_soon(worker)
        cpu = time.process_time() - cpu
        if kind == "redis":
            await limiter.aclose()

    anyio.run(main, backend="asyncio")
    print(json.dumps({"grants": times, "cpu_s": cpu}))


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Run both measurements (or skip with a reason); about 30 s, ``quick`` about 9 s."""
    missing = _missing()
    if missing is not None:
        return {"skipped": missing}
    iterations = 500 if quick else 5000
    per_process = 12 if quick else 50  # > RATE: every column needs a second window
    with _redis_server() as url:
        one = anyio.run(_one_grant, url, iterations, backend="asyncio")
        shared = _run_processes("redis", url, per_process)
    separate = _run_processes("bucket", "", per_process)
    return {
        "config": {"iterations": iterations, "processes": PROCESSES, "grants_per_process": per_process, "rate": RATE},
        "one_grant": one,
        "four_processes": {"RedisRateLimiter (one key)": shared, "TokenBucket per process": separate},
    }


def format_results(results: dict[str, Any]) -> str:
    """The results as plain text."""
    if "skipped" in results:
        return f"skipped: {results['skipped']}"
    config = results["config"]
    lines = [f"one grant, uncontended, loopback ({config['iterations']} sequential calls, asyncio):"]
    for name, m in results["one_grant"].items():
        lines.append(f"  {name:<38} wall {m['wall_us']:8.1f} us   CPU {m['cpu_us']:7.1f} us")
    lines += [
        "",
        f"{config['processes']} OS processes x {config['grants_per_process']} grants, {TASKS_PER_PROCESS} tasks each,"
        f" limit {config['rate']}/s (margin {DEFAULT_MARGIN:g} s):",
    ]
    columns: dict[str, dict[str, float]] = results["four_processes"]
    rows = [
        ("max grants in any 1 s window", lambda m: f"{m['max_in_window']}"),
        ("sustained grants/s (whole windows)", lambda m: f"{m['sustained_per_s']:.2f}"),
        ("  as a fraction of the limit", lambda m: f"{m['sustained_fraction']:.1%}"),
        ("CPU per grant (all processes)", lambda m: f"{m['cpu_per_grant_us']:.0f} us"),
        ("run took (after the start barrier)", lambda m: f"{m['elapsed_s']:.1f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    col = max(len(name) for name in columns)
    lines.append(f"  {'':<{width}}  " + "  ".join(f"{name:>{col}}" for name in columns))
    for label, cell in rows:
        lines.append(f"  {label:<{width}}  " + "  ".join(f"{cell(m):>{col}}" for m in columns.values()))
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 13: one limit across processes (never 11 in a second) at a sustained rate near the limit."""
    if "skipped" in results:
        return [Target("redis limiter", "measured", f"skipped: {results['skipped']}", None, "issue 13")]
    m = results["four_processes"]["RedisRateLimiter (one key)"]
    grant = results["one_grant"]["RedisRateLimiter.acquire (EVALSHA)"]
    return [
        Target(
            "redis limiter, 4 processes: max grants in any 1 s",
            f"<= {RATE}",
            str(m["max_in_window"]),
            m["max_in_window"] <= RATE,
            "issue 13",
        ),
        Target(
            "redis limiter, 4 processes: sustained fraction",
            f">= {FRACTION_TARGET:.0%}",
            f"{m['sustained_fraction']:.1%}",
            m["sustained_fraction"] >= FRACTION_TARGET,
            "issue 13",
        ),
        Target("redis limiter: CPU per uncontended grant", "measured", f"{grant['cpu_us']:.0f} us", None, "issue 13"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point (also the benchmark's child processes, with ``--child``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["redis", "bucket"], help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--grants", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.url, args.grants)
        return
    print(format_results(run_benchmark(quick=args.quick)))


if __name__ == "__main__":
    main()
