"""Run every benchmark and print one report: ``python -m benchmarks [--quick] [--json PATH] [--only SECTION ...]``.

Sections, all measured in the same run so their ratios can be compared (absolute times on a shared machine mean
little):

1. overhead   - ``client.query()`` vs a raw httpx GET + ``json.loads``, in-process and over loopback TCP;
2. conversion - structuring query answers and unstructuring a start body, beside msgspec, pydantic and ``json``;
3. limiter    - :mod:`benchmarks.bench_limiter` (about a minute on the real clock; ``--quick`` shortens it);
4. scale      - 100 to 10,000 concurrent sessions, and efficiency at Agora's 10 requests/s;
5. redis      - :mod:`benchmarks.bench_redis`: one grant through Redis (EVALSHA round trip, CPU) next to TokenBucket,
                and four OS processes sharing one key at 10/s (starts its own redis-server, or skips saying why).
6. supervisor - 1,000 supervised recordings on a virtual clock: memory, CPU per monitoring cycle, limiter share.
7. throughput - requests/s at concurrency 100, the library next to raw httpx, in-process and over loopback TCP;
8. memory     - tracemalloc: a session mid-request and an idle started session, next to the floor (tasks awaiting
                one anyio.Event) measured in the same run;
9. cancel     - TokenBucket with 10,000 and 100,000 waiters (1,000 and 10,000 quick), a random half cancelled.

A summary lists every target and whether it was met. Nothing here is a test assertion: the exit status is 0
whatever the numbers. ``--quick`` is a smoke run (under 20 s); the full run takes a few minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from importlib import metadata
from typing import Any

from benchmarks import (
    bench_conversion,
    bench_limiter,
    bench_limiter_cancel,
    bench_memory,
    bench_overhead,
    bench_redis,
    bench_scale,
    bench_supervisor,
    bench_throughput,
)
from benchmarks._harness import Target, format_table

SECTIONS = ("overhead", "conversion", "limiter", "scale", "redis", "supervisor", "throughput", "memory", "cancel")
TITLES = {
    "overhead": "1. Per-call overhead: client.query() vs raw httpx GET + json.loads",
    "conversion": "2. Conversion: structure / unstructure, us per call",
    "limiter": "3. Rate limiter: TokenBucket vs aiolimiter, real clock",
    "scale": "4. Scale: concurrent sessions, and Agora's 10 requests/s",
    "redis": "5. RedisRateLimiter: one grant through Redis, and four processes sharing one limit",
    "supervisor": "6. Supervisor: 1,000 supervised recordings, memory, CPU per cycle, limiter share",
    "throughput": "7. Throughput at concurrency 100: client.query() vs raw httpx",
    "memory": "8. Memory per session: mid-request and idle, next to the floor",
    "cancel": "9. TokenBucket cancellations: CPU per cancel at 10,000 and 100,000 waiters",
}
IDLE_BURST_TARGET_MS = 10.0  # "at once": far below the 100 ms between grants at 10/s
FAST_PATH_TARGET_NS = 1_000.0  # style guide section 11: a good limiter costs under 1 us when it does not wait


def machine() -> dict[str, Any]:
    """Date, CPU, Python and the versions of the packages that matter."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    versions = {}
    packages = (
        "agora-recording",
        "httpx",
        "httpcore",
        "anyio",
        "attrs",
        "cattrs",
        "msgspec",
        "pydantic",
        "orjson",
        "aiolimiter",
        "redis",
    )
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
    }


def _limiter(quick: bool) -> dict[str, Any]:
    if quick:
        return bench_limiter.run_benchmark(grants=30, tasks=20, iterations=20_000)
    return bench_limiter.run_benchmark()


def limiter_targets(results: dict[str, Any]) -> list[Target]:
    """The style guide's limiter rules (sections 5 and 11), checked on the TokenBucket column."""
    m = next(v for k, v in results["limiters"].items() if k.startswith("TokenBucket"))
    rate = results["config"]["rate"]
    fast = next(v for k, v in results["fast_path_ns"].items() if k.startswith("TokenBucket"))
    return [
        Target(
            "limiter: max grants in any 1 s window",
            f"<= {rate:g}",
            str(m["max_in_window"]),
            m["max_in_window"] <= rate,
            "style guide 5",
        ),
        Target("limiter: FIFO violations", "0", str(m["fifo_violations"]), m["fifo_violations"] == 0, "style guide 5"),
        Target(
            "limiter: idle burst granted at once",
            f"< {IDLE_BURST_TARGET_MS:g} ms",
            f"{m['idle_burst_ms']:.2f} ms",
            m["idle_burst_ms"] < IDLE_BURST_TARGET_MS,
            "style guide 5",
        ),
        Target(
            "limiter: uncontended acquire",
            f"< {FAST_PATH_TARGET_NS:g} ns",
            f"{fast:.0f} ns",
            fast < FAST_PATH_TARGET_NS,
            "style guide 11",
        ),
    ]


Run = Callable[[bool], dict[str, Any]]
Format = Callable[[dict[str, Any]], str]
Check = Callable[[dict[str, Any]], list[Target]]
RUNNERS: dict[str, tuple[Run, Format, Check]] = {
    "overhead": (
        lambda q: bench_overhead.run_benchmark(quick=q),
        bench_overhead.format_results,
        bench_overhead.targets,
    ),
    "conversion": (
        lambda q: bench_conversion.run_benchmark(quick=q),
        bench_conversion.format_results,
        bench_conversion.targets,
    ),
    "limiter": (_limiter, bench_limiter.format_results, limiter_targets),
    "scale": (lambda q: bench_scale.run_benchmark(quick=q), bench_scale.format_results, bench_scale.targets),
    "redis": (lambda q: bench_redis.run_benchmark(quick=q), bench_redis.format_results, bench_redis.targets),
    "supervisor": (
        lambda q: bench_supervisor.run_benchmark(quick=q),
        bench_supervisor.format_results,
        bench_supervisor.targets,
    ),
    "throughput": (
        lambda q: bench_throughput.run_benchmark(quick=q),
        bench_throughput.format_results,
        bench_throughput.targets,
    ),
    "memory": (lambda q: bench_memory.run_benchmark(quick=q), bench_memory.format_results, bench_memory.targets),
    "cancel": (
        lambda q: bench_limiter_cancel.run_benchmark(quick=q),
        bench_limiter_cancel.format_results,
        bench_limiter_cancel.targets,
    ),
}


def format_summary(found: Sequence[Target], *, quick: bool) -> str:
    """Every target, its measurement and whether it was met."""
    rows = [[t.name, t.goal, t.measured, {True: "yes", False: "NO", None: "-"}[t.met], t.source] for t in found]
    met = sum(t.met is True for t in found)
    title = "Summary" + (" (quick run: smaller samples, indicative only)" if quick else "")
    table = format_table(["target", "goal", "measured", "met", "source"], rows, title=title)
    return f"{table}\n{met} of {len(found)} targets met"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the chosen sections, print the report and optionally dump it as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (under 20 s)")
    parser.add_argument("--json", metavar="PATH", help="also write every number to PATH as JSON")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION", help=f"run only {SECTIONS}")
    args = parser.parse_args(argv)
    sections = [s for s in SECTIONS if args.only is None or s in args.only]

    info = machine()
    command = " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])])
    print(f"agora-recording benchmarks  {info['date']}  ({'quick' if args.quick else 'full'} run)")
    print(f"command: {command}")
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, {info['python']}, {info['platform']}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()), flush=True)

    started = time.perf_counter()
    results: dict[str, Any] = {}
    found: list[Target] = []
    for section in sections:
        run, fmt, check = RUNNERS[section]
        t0 = time.perf_counter()
        results[section] = run(args.quick)
        took = time.perf_counter() - t0
        print(f"\n== {TITLES[section]} ({took:.1f} s) ==\n{fmt(results[section])}", flush=True)
        found += check(results[section])
    elapsed = time.perf_counter() - started
    print(f"\n{format_summary(found, quick=args.quick)}\ntotal {elapsed:.1f} s")

    if args.json:
        dump = {
            "machine": info,
            "command": command,
            "quick": args.quick,
            "elapsed_s": elapsed,
            "results": results,
            "targets": [asdict(t) for t in found],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(dump, f, indent=2, default=str)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
