"""Throughput at concurrency 100: ``client.query()`` next to a raw ``httpx.AsyncClient`` GET + ``json.loads``.

Both run the same number of requests with 100 workers, in alternating rounds, in-process (the canned transport of
:mod:`benchmarks.bench_overhead`) and over loopback TCP (the fake in a child process). Over TCP the library's
in-flight cap keeps httpcore's pool small, which a raw client with httpx's default pool does not.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from agora_recording import CloudRecordingClient, Unlimited
from agora_recording.testing import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET
from benchmarks._harness import Target, format_table
from benchmarks._payloads import RESOURCE_ID, SID, query_body, scale_request
from benchmarks.bench_overhead import BASE_URL, FILES, CannedTransport, _headers, _query_path, _server_process

__all__ = ["CONCURRENCY", "IN_PROCESS_TARGET", "format_results", "run_benchmark", "targets"]

CONCURRENCY = 100
IN_PROCESS_TARGET = 0.95  # issue 17: at least 0.95x raw httpx's requests/s in-process
LIB, RAW = "client.query()", "raw GET + json.loads"


async def _rate(call: Callable[[], Awaitable[object]], total: int) -> float:
    """Requests per second for ``total`` calls made by :data:`CONCURRENCY` workers."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(CONCURRENCY):
            tg.start_soon(worker)
    return total / (time.perf_counter() - started)


async def _compare(
    client: CloudRecordingClient, raw: httpx.AsyncClient, resource_id: str, sid: str, *, rounds: int, total: int
) -> dict[str, Any]:
    path = _query_path(resource_id, sid, "individual")

    async def library() -> None:
        await client.query(resource_id=resource_id, sid=sid, mode="individual")

    async def by_hand() -> None:
        json.loads((await raw.get(path)).content)

    rates: dict[str, list[float]] = {LIB: [], RAW: []}
    await _rate(library, CONCURRENCY)  # warm-up: connections, caches
    await _rate(by_hand, CONCURRENCY)
    for i in range(rounds):
        order = [(LIB, library), (RAW, by_hand)] if i % 2 == 0 else [(RAW, by_hand), (LIB, library)]
        for name, call in order:
            rates[name].append(await _rate(call, total))
    ratios = [a / b for a, b in zip(rates[LIB], rates[RAW], strict=True)]
    return {
        "req_per_s": {name: statistics.median(r) for name, r in rates.items()},
        "ratio": statistics.median(ratios),
        "rounds": rounds,
        "requests_per_round": total,
    }


async def _in_process(rounds: int, total: int) -> dict[str, Any]:
    transport = CannedTransport(query_body(FILES))
    async with (
        CloudRecordingClient(
            DEFAULT_APP_ID,
            DEFAULT_CUSTOMER_ID,
            DEFAULT_CUSTOMER_SECRET,
            base_url=BASE_URL,
            transport=transport,
            rate_limiter=Unlimited(),
        ) as client,
        httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=_headers()) as raw,
    ):
        return await _compare(client, raw, RESOURCE_ID, SID, rounds=rounds, total=total)


async def _over_tcp(base_url: str, rounds: int, total: int) -> dict[str, Any]:
    async with (
        CloudRecordingClient(
            DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET, base_url=base_url, rate_limiter=Unlimited()
        ) as client,
        httpx.AsyncClient(base_url=base_url, headers=_headers()) as raw,
    ):
        acquired = await client.acquire(cname="bench", uid="527841")
        started = await client.start(
            resource_id=acquired.resource_id,
            mode="individual",
            cname="bench",
            uid="527841",
            client_request=scale_request(),
        )
        result = await _compare(client, raw, started.resource_id, started.sid, rounds=rounds, total=total)
        await client.stop(
            resource_id=started.resource_id, sid=started.sid, mode="individual", cname="bench", uid="527841"
        )
        return result


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Both transports; returns ``{"in_process": ..., "tcp": ...}`` with median requests/s and the ratio."""
    rounds, total = (3, 1_000) if quick else (7, 5_000)
    tcp_rounds, tcp_total = (2, 300) if quick else (5, 2_000)
    results: dict[str, Any] = {"concurrency": CONCURRENCY, "in_process": anyio.run(_in_process, rounds, total)}
    with _server_process() as base_url:
        results["tcp"] = anyio.run(_over_tcp, base_url, tcp_rounds, tcp_total)
    return results


def format_results(results: dict[str, Any]) -> str:
    """Requests per second of each case, and the library / raw ratio."""
    inp, tcp = results["in_process"], results["tcp"]
    rows = [[name, f"{inp['req_per_s'][name]:,.0f}", f"{tcp['req_per_s'][name]:,.0f}"] for name in (LIB, RAW)]
    rows.append(["ratio client / raw", f"{inp['ratio']:.2f}x", f"{tcp['ratio']:.2f}x"])
    title = (
        f"{results['concurrency']} concurrent workers, {FILES}-file query; requests/s, medians of "
        f"{inp['rounds']} x {inp['requests_per_round']} (in-process) and {tcp['rounds']} x "
        f"{tcp['requests_per_round']} (TCP) alternating rounds; the raw client keeps httpx's default pool"
    )
    return format_table(["case", "in-process req/s", "TCP req/s"], rows, title=title)


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 17: in-process >= 0.95x raw; over TCP the in-flight cap keeps its lead (> 1x raw)."""
    inp, tcp = results["in_process"]["ratio"], results["tcp"]["ratio"]
    return [
        Target(
            name=f"throughput in-process, concurrency {CONCURRENCY}",
            goal=f">= {IN_PROCESS_TARGET:.2f}x raw",
            measured=f"{inp:.2f}x",
            met=inp >= IN_PROCESS_TARGET,
            source="issue 17",
        ),
        Target(
            name=f"throughput loopback TCP, concurrency {CONCURRENCY}",
            goal="> 1.00x raw (the cap's lead)",
            measured=f"{tcp:.2f}x",
            met=tcp > 1.0,
            source="issue 17",
        ),
    ]
