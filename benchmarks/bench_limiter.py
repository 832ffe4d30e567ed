"""Benchmark the rate limiter on the real clock, next to aiolimiter when it is installed.

Run ``python benchmarks/bench_limiter.py`` (about a minute: 300 grants at 10/s take ~30 s per limiter), or call
:func:`run_benchmark` from a benchmark runner (``benchmarks.bench_limiter.run_benchmark()``) for the numbers.

Measured per limiter, with ``tasks`` concurrent tasks taking ``grants`` permits at ``rate`` per ``per`` seconds:

- max grants in any window of ``per`` seconds (the limit is ``rate``);
- sustained rate: grants after the initial burst divided by the time they took, and as a fraction of the limit;
- idle-burst latency: the time to grant ``rate`` permits to concurrent callers on a fresh limiter;
- FIFO violations: grants that overtook a caller which had called ``acquire`` earlier and was still waiting;
- CPU per grant during the saturated run, and the CPU cost of one uncontended ``acquire`` (the fast path).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio

from agora_recording._limiter import DEFAULT_MARGIN, TokenBucket, Unlimited

try:  # optional: only for the comparison column
    import aiolimiter
except ImportError:  # pragma: no cover - depends on the environment
    aiolimiter = None  # type: ignore[assignment]  # optional dependency: its column is skipped

Acquire = Callable[[], Coroutine[Any, Any, Any]]


def max_in_any_window(times: Sequence[float], per: float) -> int:
    """The most grant times inside any half-open window ``[t, t + per)``."""
    ordered = sorted(times)
    best = j = 0
    for i, start in enumerate(ordered):
        j = max(j, i)
        while j < len(ordered) and ordered[j] < start + per:
            j += 1
        best = max(best, j - i)
    return best


def fifo_violations(grant_order: Sequence[int]) -> int:
    """How many grants went to a caller that arrived after someone who was served later."""
    violations = 0
    later_min = math.inf
    for seq in reversed(grant_order):
        if seq > later_min:
            violations += 1
        later_min = min(later_min, seq)
    return violations


async def _saturate(acquire: Acquire, *, tasks: int, grants: int, rate: float, per: float) -> dict[str, float]:
    times: list[float] = []
    order: list[int] = []
    ticket = 0

    async def worker() -> None:
        nonlocal ticket
        while ticket < grants:
            mine = ticket
            ticket += 1  # the arrival order: no await between taking the ticket and calling acquire
            await acquire()
            times.append(time.monotonic())
            order.append(mine)

    cpu = time.process_time()
    async with anyio.create_task_group() as tg:
        for _ in range(tasks):
            tg.start_soon(worker)
    cpu = time.process_time() - cpu
    n = int(rate)
    sustained = (len(times) - n) / (times[-1] - times[0])
    return {
        "max_in_window": max_in_any_window(times, per),
        "sustained_per_s": sustained,
        "sustained_fraction": sustained / (rate / per),
        "fifo_violations": fifo_violations(order),
        "cpu_per_grant_us": cpu / len(times) * 1e6,
        "elapsed_s": times[-1] - times[0],
    }


async def _idle_burst(acquire: Acquire, *, rate: float) -> float:
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(int(rate)):
            tg.start_soon(acquire)
    return time.perf_counter() - start


async def _fast_path(acquire: Acquire, iterations: int) -> float:
    for _ in range(1000):  # warm up
        await acquire()
    cpu = time.process_time()
    for _ in range(iterations):
        await acquire()
    return (time.process_time() - cpu) / iterations


def _limiters(rate: float, per: float) -> dict[str, Callable[[], Acquire]]:
    """Factories of fresh limiters' ``acquire``, one per column."""
    columns: dict[str, Callable[[], Acquire]] = {
        f"TokenBucket({rate:g}, {per:g}, margin={DEFAULT_MARGIN:g})": lambda: TokenBucket(rate, per).acquire,
    }
    if aiolimiter is not None:
        columns[f"aiolimiter({rate:g}, {per:g})"] = lambda: aiolimiter.AsyncLimiter(rate, per).acquire
    return columns


def _fast_path_configs() -> dict[str, Callable[[], Acquire]]:
    """Limiters that never have to wait, to time the uncontended ``acquire`` alone."""
    # 1000 grants per microsecond: the window is always open, but the full check (clock, log[0] + window) runs.
    configs: dict[str, Callable[[], Acquire]] = {
        "TokenBucket(1000, 1e-6, margin=0)": lambda: TokenBucket(1000, 1e-6, margin=0).acquire,
        "Unlimited()": lambda: Unlimited().acquire,
    }
    if aiolimiter is not None:
        configs["aiolimiter(1e9, 1)"] = lambda: aiolimiter.AsyncLimiter(1e9, 1).acquire
    return configs


def run_benchmark(
    *, grants: int = 300, tasks: int = 50, rate: float = 10.0, per: float = 1.0, iterations: int = 200_000
) -> dict[str, Any]:
    """Run every measurement on asyncio (aiolimiter is asyncio-only) and return the results.

    The dict has ``config``, ``limiters`` (column name -> metric -> value) and ``fast_path_ns`` (config name ->
    CPU nanoseconds per uncontended acquire). Takes about ``2 * grants / rate`` seconds.
    """
    results: dict[str, Any] = {
        "config": {"grants": grants, "tasks": tasks, "rate": rate, "per": per, "iterations": iterations},
        "limiters": {},
        "fast_path_ns": {},
        "aiolimiter_installed": aiolimiter is not None,
    }

    async def measure() -> None:
        for name, make in _limiters(rate, per).items():
            metrics = await _saturate(make(), tasks=tasks, grants=grants, rate=rate, per=per)
            metrics["idle_burst_ms"] = await _idle_burst(make(), rate=rate) * 1e3
            results["limiters"][name] = metrics
        for name, make in _fast_path_configs().items():
            results["fast_path_ns"][name] = await _fast_path(make(), iterations) * 1e9

    anyio.run(measure, backend="asyncio")
    return results


def format_results(results: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    config = results["config"]
    limit = config["rate"] / config["per"]
    columns: dict[str, dict[str, float]] = results["limiters"]
    rows: list[tuple[str, Callable[[dict[str, float]], str]]] = [
        (f"max grants in any {config['per']:g} s window (limit {config['rate']:g})", lambda m: f"{m['max_in_window']}"),
        ("sustained grants/s after the burst", lambda m: f"{m['sustained_per_s']:.2f}"),
        (f"  as a fraction of the limit ({limit:g}/s)", lambda m: f"{m['sustained_fraction']:.1%}"),
        (f"idle-burst latency ({config['rate']:g} grants)", lambda m: f"{m['idle_burst_ms']:.3f} ms"),
        ("FIFO violations", lambda m: f"{m['fifo_violations']}"),
        ("CPU per grant (saturated)", lambda m: f"{m['cpu_per_grant_us']:.1f} us"),
        ("saturated run took", lambda m: f"{m['elapsed_s']:.2f} s"),
    ]
    label_width = max(len(label) for label, _ in rows)
    col_width = max([22, *(len(name) for name in columns)])
    lines = [
        f"{config['tasks']} tasks, {config['grants']} grants, real clock, asyncio",
        "",
        f"{'':<{label_width}}  " + "  ".join(f"{name:>{col_width}}" for name in columns),
    ]
    for label, cell in rows:
        lines.append(f"{label:<{label_width}}  " + "  ".join(f"{cell(m):>{col_width}}" for m in columns.values()))
    if not results["aiolimiter_installed"]:
        lines.append("(aiolimiter is not installed: its column is skipped)")
    lines += ["", f"uncontended acquire, CPU per call ({config['iterations']} calls):"]
    for name, ns in results["fast_path_ns"].items():
        lines.append(f"  {name:<36} {ns:8.0f} ns")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--grants", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=200_000)
    args = parser.parse_args(argv)
    print(format_results(run_benchmark(grants=args.grants, tasks=args.tasks, iterations=args.iterations)))


if __name__ == "__main__":
    main()
