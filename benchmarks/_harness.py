"""Measurement and table helpers: interleaved timing with medians, and plain-text tables."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Target", "Timing", "calibrate", "format_table", "interleave_async", "interleave_sync", "paired_ratio"]


@dataclass
class Timing:
    """Per-call samples of one case, one sample per block (seconds per call)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_us(self) -> float:
        """Median wall time per call, in microseconds."""
        return statistics.median(self.wall) * 1e6

    @property
    def cpu_us(self) -> float:
        """Median CPU time (this process) per call, in microseconds."""
        return statistics.median(self.cpu) * 1e6

    def summary(self) -> dict[str, float]:
        """The medians, and the wall spread (25th-75th percentile) for the JSON dump."""
        q1, _, q3 = statistics.quantiles(self.wall, n=4) if len(self.wall) > 1 else (self.wall[0],) * 3
        return {"wall_us": self.wall_us, "cpu_us": self.cpu_us, "wall_p25_us": q1 * 1e6, "wall_p75_us": q3 * 1e6}


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-round ratios ``a[i] / b[i]``: robust to drift that hits both cases of a round alike."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def _order(names: Sequence[str], round_no: int) -> Sequence[str]:
    """ABC, CBA, ABC, ...: every case runs first as often as last."""
    return names if round_no % 2 == 0 else names[::-1]


async def interleave_async(
    cases: Mapping[str, Callable[[], Awaitable[object]]], *, rounds: int, block: int, warmup: int
) -> dict[str, Timing]:
    """Time async cases in alternating blocks of ``block`` calls, ``rounds`` times each, after ``warmup`` calls."""
    names = list(cases)
    for name in names:
        for _ in range(warmup):
            await cases[name]()
    results = {name: Timing() for name in names}
    gc.collect()
    for round_no in range(rounds):
        for name in _order(names, round_no):
            call = cases[name]
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(block):
                await call()
            results[name].wall.append((time.perf_counter() - wall) / block)
            results[name].cpu.append((time.process_time() - cpu) / block)
    return results


def calibrate(call: Callable[[], object], *, target: float = 0.004) -> int:
    """How many calls of ``call`` take about ``target`` seconds (at least 1), after a few warm-up calls."""
    for _ in range(3):
        call()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < target / 4:
        call()
        n += 1
    per_call = (time.perf_counter() - start) / n
    return max(1, int(target / per_call))


def interleave_sync(
    cases: Mapping[str, Callable[[], object]], *, rounds: int, target: float = 0.004
) -> dict[str, Timing]:
    """Time sync cases in alternating blocks of about ``target`` seconds each, ``rounds`` times."""
    names = list(cases)
    blocks = {name: calibrate(cases[name], target=target) for name in names}
    results = {name: Timing() for name in names}
    gc.collect()
    for round_no in range(rounds):
        for name in _order(names, round_no):
            call, n = cases[name], blocks[name]
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                call()
            results[name].wall.append((time.perf_counter() - wall) / n)
            results[name].cpu.append((time.process_time() - cpu) / n)
    return results


@dataclass(frozen=True)
class Target:
    """One goal for the final summary. ``met`` is ``None`` when it was not measured."""

    name: str
    goal: str
    measured: str
    met: bool | None
    source: str


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [f"{row[0]:<{widths[0]}}", *(f"{cell:>{w}}" for cell, w in zip(row[1:], widths[1:], strict=True))]
        return "  ".join(cells).rstrip()

    out = [title] if title else []
    out += [line(header), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out)
