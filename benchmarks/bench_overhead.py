"""Per-call overhead: ``client.query()`` next to a raw ``httpx.AsyncClient`` GET plus ``json.loads``.

Two transports, each measured with the cases interleaved in blocks (ABC, CBA, ...) and summarised by medians:

- in-process: a minimal httpx transport that answers a canned 20-file query body, so no server cost hides the
  client's own;
- loopback TCP: ``FakeAgoraServer.serve()`` on 127.0.0.1 in a child process (rate limit off), so the CPU per call
  is the client process's alone.

Two raw baselines (issue 17): a GET of the relative path on a client with ``base_url`` (what a user writes by hand;
httpx then parses and joins the URL, a hidden cost) and a GET of the absolute URL (what the library sends). The
case raw GET + ``json.loads`` + ``from_wire`` splits the overhead into structuring and the rest. In-process, the
answer holds 10, 20 and 200 files; over TCP, 20.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from collections.abc import Awaitable, Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import anyio
import anyio.to_thread
import httpx

from agora_recording import CloudRecordingClient, Unlimited
from agora_recording import _json as answer_json
from agora_recording._converter import from_wire
from agora_recording.models import QueryResponse
from agora_recording.testing import DEFAULT_APP_ID, DEFAULT_CUSTOMER_ID, DEFAULT_CUSTOMER_SECRET
from benchmarks._harness import Target, Timing, format_table, interleave_async, paired_ratio
from benchmarks._payloads import RESOURCE_ID, SID, query_body, scale_request

__all__ = ["OVERHEAD_TARGET", "format_results", "run_benchmark", "targets"]

OVERHEAD_TARGET = 1.15  # issue 7, over TCP ("no regression" in issue 17)
RELATIVE_TARGETS = {10: 1.00, 20: 1.00, 200: 1.05}  # issue 17: client / raw GET (relative URL) + json.loads
ABSOLUTE_TARGET = 1.20  # issue 17: client / raw GET (absolute URL) + json.loads
BASE_URL = "https://api.agora.io"
FILES = 20
FILE_COUNTS = (10, 20, 200)
SERVER_LIFETIME = 300.0  # the child server exits on its own after this, whatever the parent does
CLIENT, RAW = "client.query()", "raw GET (relative URL) + json.loads"
CLIENT_ORJSON = "client.query() + orjson (fast extra)"
RAW_ABSOLUTE, RAW_STRUCTURED = "raw GET (absolute URL) + json.loads", "raw GET + json.loads + from_wire"


class CannedTransport(httpx.AsyncBaseTransport):
    """Answers every request with the same 200 JSON body, doing nothing else."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The canned answer."""
        return httpx.Response(200, headers=[("content-type", "application/json")], content=self._body)


def _headers() -> dict[str, str]:
    """What a hand-written client would send: the same auth and content headers as the library."""
    import base64

    token = base64.b64encode(f"{DEFAULT_CUSTOMER_ID}:{DEFAULT_CUSTOMER_SECRET}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def _query_path(resource_id: str, sid: str, mode: str) -> str:
    return f"/v1/apps/{DEFAULT_APP_ID}/cloud_recording/resourceid/{resource_id}/sid/{sid}/mode/{mode}/query"


async def _compare(
    client: CloudRecordingClient,
    raw: httpx.AsyncClient,
    *,
    resource_id: str,
    sid: str,
    rounds: int,
    block: int,
) -> dict[str, Timing]:
    path = _query_path(resource_id, sid, "individual")
    absolute = str(raw.base_url).rstrip("/") + path

    async def library() -> None:
        await client.query(resource_id=resource_id, sid=sid, mode="individual")

    async def library_orjson() -> None:
        answer_json.object_or_none = answer_json.object_orjson
        try:
            await client.query(resource_id=resource_id, sid=sid, mode="individual")
        finally:
            answer_json.object_or_none = answer_json.object_stdlib

    async def by_hand() -> None:
        response = await raw.get(path)
        json.loads(response.content)

    async def by_hand_absolute() -> None:
        response = await raw.get(absolute)
        json.loads(response.content)

    async def by_hand_structured() -> None:
        response = await raw.get(path)
        from_wire(QueryResponse, json.loads(response.content), endpoint="query")

    cases: dict[str, Callable[[], Awaitable[object]]] = {
        CLIENT: library,
        RAW: by_hand,
        RAW_ABSOLUTE: by_hand_absolute,
        RAW_STRUCTURED: by_hand_structured,
    }
    if answer_json.ACCELERATOR is not None:  # the optional accelerator, its own row; the others without it
        cases[CLIENT_ORJSON] = library_orjson
    installed = answer_json.object_or_none
    answer_json.object_or_none = answer_json.object_stdlib
    try:
        return await interleave_async(cases, rounds=rounds, block=block, warmup=max(20, block))
    finally:
        answer_json.object_or_none = installed


async def _in_process(rounds: int, block: int, files: int) -> dict[str, Timing]:
    transport = CannedTransport(query_body(files))
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
        return await _compare(client, raw, resource_id=RESOURCE_ID, sid=SID, rounds=rounds, block=block)


def _serve_child(conn: Connection, lifetime: float) -> None:
    """Child process: serve a fake (limit off, 10 users in channel "bench": 20 files) until told to stop."""
    from agora_recording.testing import FakeAgoraServer, FakeTimings

    async def main() -> None:
        fake = FakeAgoraServer(
            rate_limit=None, timings=FakeTimings(ready_after=0, first_file_after=0), request_log_size=0
        )
        fake.set_channel("bench", uids=[str(100_000 + i) for i in range(FILES // 2)])
        async with fake.serve(host="127.0.0.1") as base_url:
            conn.send(base_url)
            with anyio.move_on_after(lifetime), contextlib.suppress(EOFError, OSError):
                await anyio.to_thread.run_sync(conn.recv, abandon_on_cancel=True)

    anyio.run(main)


@contextlib.contextmanager
def _server_process(lifetime: float = SERVER_LIFETIME) -> Iterator[str]:
    """Run :func:`_serve_child` in a spawned process; yield its base URL; stop it (bounded) on exit."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_child, args=(child, lifetime), daemon=True)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("the fake server process did not start within 30 s")
        yield str(parent.recv())
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        parent.close()
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


async def _over_tcp(base_url: str, rounds: int, block: int) -> dict[str, Timing]:
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
        answer = await client.query(resource_id=started.resource_id, sid=started.sid, mode="individual")
        if len(answer.files) != FILES:
            raise RuntimeError(f"the fake answered {len(answer.files)} files, expected {FILES}")
        timings = await _compare(
            client, raw, resource_id=started.resource_id, sid=started.sid, rounds=rounds, block=block
        )
        await client.stop(
            resource_id=started.resource_id, sid=started.sid, mode="individual", cname="bench", uid="527841"
        )
        return timings


def _summarise(timings: dict[str, Timing]) -> dict[str, Any]:
    client, raw, structured = timings[CLIENT], timings[RAW], timings[RAW_STRUCTURED]
    absolute = timings[RAW_ABSOLUTE]
    out = {
        "cases": {name: t.summary() for name, t in timings.items()},
        "ratio_wall": paired_ratio(client.wall, raw.wall),
        "ratio_cpu": paired_ratio(client.cpu, raw.cpu),
        "ratio_wall_vs_absolute": paired_ratio(client.wall, absolute.wall),
        "ratio_cpu_vs_absolute": paired_ratio(client.cpu, absolute.cpu),
        "ratio_wall_vs_structured": paired_ratio(client.wall, structured.wall),
        "ratio_cpu_vs_structured": paired_ratio(client.cpu, structured.cpu),
        "rounds": len(client.wall),
    }
    if CLIENT_ORJSON in timings:
        fast = timings[CLIENT_ORJSON]
        out["ratio_wall_orjson"] = paired_ratio(fast.wall, raw.wall)
        out["ratio_cpu_orjson"] = paired_ratio(fast.cpu, raw.cpu)
        out["ratio_wall_orjson_vs_absolute"] = paired_ratio(fast.wall, absolute.wall)
        out["ratio_cpu_orjson_vs_absolute"] = paired_ratio(fast.cpu, absolute.cpu)
    return out


def run_benchmark(*, quick: bool = False) -> dict[str, Any]:
    """Measure both transports; returns ``{"in_process": ..., "tcp": ...}`` with medians and paired ratios.

    ``in_process`` is the 20-file answer; ``in_process_by_files`` has every count of :data:`FILE_COUNTS`.
    """
    rounds, block = (6, 30) if quick else (60, 100)
    tcp_rounds, tcp_block = (6, 20) if quick else (40, 50)
    results: dict[str, Any] = {"config": {"files": FILES, "rounds": rounds, "block": block}}
    by_files = {str(n): _summarise(anyio.run(_in_process, rounds, block, n)) for n in FILE_COUNTS}
    results["in_process_by_files"] = by_files
    results["in_process"] = by_files[str(FILES)]
    with _server_process() as base_url:
        results["tcp"] = _summarise(anyio.run(_over_tcp, base_url, tcp_rounds, tcp_block))
    results["tcp"]["config"] = {"rounds": tcp_rounds, "block": tcp_block, "server": "child process, 127.0.0.1"}
    return results


def format_results(results: dict[str, Any]) -> str:
    """One table: wall and CPU per call of each case, in-process per file count and over TCP, and the ratios."""
    by_files = results.get("in_process_by_files") or {str(FILES): results["in_process"]}
    tcp = results["tcp"]
    parts = [*by_files.values(), tcp]
    rows = [
        [name, *(f"{part['cases'][name][m]:.1f}" for part in parts for m in ("wall_us", "cpu_us"))]
        for name in tcp["cases"]
    ]
    ratios = (
        ("ratio client / raw (relative URL)", ""),
        ("ratio client / raw (absolute URL)", "_vs_absolute"),
        ("ratio client / raw + from_wire", "_vs_structured"),
    )
    if all("ratio_wall_orjson" in part for part in parts):
        ratios += (
            ("ratio client + orjson / raw (relative URL)", "_orjson"),
            ("ratio client + orjson / raw (absolute URL)", "_orjson_vs_absolute"),
        )
    for label, suffix in ratios:
        rows.append([label, *(f"{part[f'ratio_{m}{suffix}']:.2f}x" for part in parts for m in ("wall", "cpu"))])
    config = results["config"]
    title = (
        f"query, us per call, medians of interleaved blocks (in-process {config['rounds']}x{config['block']} calls "
        f"per file count, TCP {tcp['config']['rounds']}x{tcp['config']['block']}, {config['files']} files); "
        "ratios are medians of per-round pairs.\nCPU is this process only: the TCP fake runs in a child process."
    )
    header = ["case"]
    for n in by_files:
        header += [f"{n} files wall", f"{n} files CPU"]
    header += ["TCP wall", "TCP CPU"]
    return format_table(header, rows, title=title)


def targets(results: dict[str, Any]) -> list[Target]:
    """Issue 17 in-process (against both raw baselines, per file count); issue 7 over TCP (no regression)."""
    out = []
    for n, part in results.get("in_process_by_files", {}).items():
        goal = RELATIVE_TARGETS.get(int(n), OVERHEAD_TARGET)
        for suffix, baseline, limit in (("", "relative", goal), ("_vs_absolute", "absolute", ABSOLUTE_TARGET)):
            ratio = part[f"ratio_wall{suffix}"]
            out.append(
                Target(
                    name=f"query() in-process, {n} files, vs raw ({baseline} URL)",
                    goal=f"<= {limit:.2f}x raw",
                    measured=f"{ratio:.2f}x",
                    met=ratio <= limit,
                    source="issue 17",
                )
            )
        if "ratio_wall_orjson" in part:
            fast, plain = part["ratio_wall_orjson"], part["ratio_wall"]
            out.append(
                Target(
                    name=f"query() + orjson (fast extra), {n} files, vs raw (relative URL)",
                    goal="< query() without it",
                    measured=f"{fast:.2f}x (without: {plain:.2f}x)",
                    met=fast < plain,
                    source="issue 17",
                )
            )
    for key, label in (("tcp", "loopback TCP"),):
        for metric in ("wall", "cpu"):
            ratio = results[key][f"ratio_{metric}"]
            out.append(
                Target(
                    name=f"query overhead {label} ({metric.upper() if metric == 'cpu' else metric})",
                    goal=f"<= {OVERHEAD_TARGET:.2f}x raw",
                    measured=f"{ratio:.2f}x",
                    met=ratio <= OVERHEAD_TARGET,
                    source="issue 7",
                )
            )
    return out
